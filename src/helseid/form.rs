//! The token endpoint's `application/x-www-form-urlencoded` body.

use std::collections::HashMap;

use actix_web::http::Method;
use actix_web::{HttpMessage as _, HttpRequest};

use crate::errors::oauth::OAuthError;

/// The form of a POST to a back-channel endpoint (token, PAR, revocation, introspection),
/// refusing any other content type.
pub fn read_form(req: &HttpRequest, body: &[u8], endpoint: &str) -> Result<FormParams, OAuthError> {
    if !req
        .content_type()
        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    {
        return Err(OAuthError::invalid_request(format!(
            "The {endpoint} endpoint takes a form: Content-Type must be \
             application/x-www-form-urlencoded, got '{}'",
            req.content_type()
        )));
    }
    FormParams::parse(body)
}

/// The parameters of a browser request: the query of a GET, the form of a POST.
pub fn browser_params(req: &HttpRequest, body: &[u8]) -> Result<FormParams, OAuthError> {
    if req.method() == Method::POST {
        FormParams::parse(body)
    } else {
        FormParams::parse(req.query_string().as_bytes())
    }
}

/// Parameters that may legitimately repeat (RFC 8707 `resource`).
const REPEATABLE: [&str; 1] = ["resource"];

/// Decoded form parameters; empty values count as absent (RFC 6749 section 3.1).
#[derive(Debug, Default)]
pub struct FormParams {
    values: HashMap<String, Vec<String>>,
}

impl FormParams {
    /// Decodes a urlencoded body; refuses a parameter sent twice (RFC 6749 section 3.2).
    pub fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        let mut values: HashMap<String, Vec<String>> = HashMap::new();
        for (name, value) in url::form_urlencoded::parse(body) {
            if value.is_empty() {
                continue;
            }
            let entry = values.entry(name.into_owned()).or_default();
            entry.push(value.into_owned());
        }
        if let Some((name, _)) = values
            .iter()
            .find(|(name, v)| v.len() > 1 && !REPEATABLE.contains(&name.as_str()))
        {
            return Err(OAuthError::invalid_request(format!(
                "The parameter '{name}' is included more than once"
            )));
        }
        Ok(Self { values })
    }

    /// Replaces a parameter's values (request-object claims take precedence over the form).
    pub fn set(&mut self, name: &str, values: Vec<String>) {
        self.values.insert(name.to_owned(), values);
    }

    /// Removes a parameter.
    pub fn remove(&mut self, name: &str) -> Option<Vec<String>> {
        self.values.remove(name)
    }

    /// A single-valued parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    /// Every value of a repeatable parameter.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.values
            .get(name)
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_skips_empty_values() {
        let p =
            FormParams::parse(b"grant_type=client_credentials&scope=a+b%2Fc&client_id=").unwrap();
        assert_eq!(p.get("grant_type"), Some("client_credentials"));
        assert_eq!(p.get("scope"), Some("a b/c"));
        assert_eq!(p.get("client_id"), None);
    }

    #[test]
    fn duplicates_are_refused_except_resource() {
        let err = FormParams::parse(b"scope=a&scope=b").unwrap_err();
        assert_eq!(
            err.description,
            "The parameter 'scope' is included more than once"
        );
        let p = FormParams::parse(b"resource=a&resource=b").unwrap();
        assert_eq!(p.all("resource"), vec!["a", "b"]);
    }
}
