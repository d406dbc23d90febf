//! What an API may know of a HelseID client beyond its tokens: the redirect URIs registered for
//! it. SFM's GUI uses them to tell which web pages may embed it (the origins of the client's
//! redirect URIs). A narrow handle, given to a service at start-up, so that no service reads
//! another's state.

/// The registered HelseID clients, as APIs may see them.
pub trait ClientDirectory: std::fmt::Debug + Send + Sync {
    /// The redirect URIs registered for `client_id` (`None`: no such client).
    fn redirect_uris(&self, client_id: &str) -> Option<Vec<String>>;
}

/// The origin (`scheme://host[:port]`) of a URL, as a browser writes it (`None` for a URL
/// without one, such as `urn:` or `file:`).
pub fn origin_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    match parsed.origin() {
        origin @ url::Origin::Tuple(..) => Some(origin.ascii_serialization()),
        url::Origin::Opaque(_) => None,
    }
}

/// No clients at all (tests of a service alone).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoClients;

impl ClientDirectory for NoClients {
    fn redirect_uris(&self, _client_id: &str) -> Option<Vec<String>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_written_as_browsers_write_them() {
        assert_eq!(
            origin_of("http://localhost:8089/callback").as_deref(),
            Some("http://localhost:8089")
        );
        assert_eq!(
            origin_of("https://EHR.example:443/a?b#c").as_deref(),
            Some("https://ehr.example")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:80/").as_deref(),
            Some("http://127.0.0.1")
        );
        assert_eq!(origin_of("urn:x"), None);
        assert_eq!(origin_of("not a url"), None);
    }
}
