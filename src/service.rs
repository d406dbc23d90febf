//! The simulated services as one closed set: the name the journal, the fault rules, the access
//! log and the control plane's filters use, the path prefix and the name people read.

/// A simulated service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// HelseID (`/helseid`).
    HelseId,
    /// SFM: the session service and the FHIR API (`/sfm`).
    Sfm,
    /// Kjernejournal (`/kjernejournal`).
    Kjernejournal,
    /// PTS (`/pts`).
    Pts,
}

impl Service {
    /// Every service, in the order helsesim lists them.
    pub const ALL: [Service; 4] = [
        Service::HelseId,
        Service::Sfm,
        Service::Kjernejournal,
        Service::Pts,
    ];

    /// Its name in the journal, fault rules and filters (`helseid`, `sfm`, `kjernejournal`,
    /// `pts`), also the first segment of its paths.
    pub fn name(self) -> &'static str {
        match self {
            Service::HelseId => "helseid",
            Service::Sfm => "sfm",
            Service::Kjernejournal => "kjernejournal",
            Service::Pts => "pts",
        }
    }

    /// Its name as people read it.
    pub fn display_name(self) -> &'static str {
        match self {
            Service::HelseId => "HelseID",
            Service::Sfm => "SFM",
            Service::Kjernejournal => "Kjernejournal",
            Service::Pts => "PTS",
        }
    }

    /// The service of a name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The service a path belongs to.
    pub fn of_path(path: &str) -> Option<Self> {
        let first = path.trim_start_matches('/').split('/').next()?;
        Self::parse(first)
    }

    /// Every name, for messages and documents ("helseid, sfm, kjernejournal or pts").
    pub fn names() -> [&'static str; 4] {
        Self::ALL.map(Service::name)
    }

    /// The names as a list for a message: "helseid, sfm, kjernejournal or pts" (`last` joins
    /// the final one).
    pub fn names_listed(last: &str) -> String {
        let names = Self::names();
        format!(
            "{} {last} {}",
            names[..names.len() - 1].join(", "),
            names[names.len() - 1]
        )
    }
}

/// An OpenAPI schema of a closed set of names: a string that is one of `names`.
pub fn names_schema(names: &[&str]) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(names.iter().copied()))
        .into()
}

/// A service's name in the control plane's OpenAPI document: one of [`Service::names`].
impl utoipa::PartialSchema for Service {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        names_schema(&Service::names())
    }
}

impl utoipa::ToSchema for Service {}

/// What the access log and the journal call a path's owner: a service's name, `admin` (the
/// control plane), `health` or `none`.
pub fn label_of(path: &str) -> &'static str {
    if let Some(service) = Service::of_path(path) {
        return service.name();
    }
    match path.trim_start_matches('/').split('/').next() {
        Some("_admin") => "admin",
        Some("healthz") => "health",
        _ => "none",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_names_and_labels() {
        assert_eq!(Service::of_path("/sfm/fhir/Patient"), Some(Service::Sfm));
        assert_eq!(Service::of_path("/sfmx"), None);
        assert_eq!(label_of("/kjernejournal/v1/ping"), "kjernejournal");
        assert_eq!(label_of("/_admin/clock"), "admin");
        assert_eq!(label_of("/healthz"), "health");
        assert_eq!(label_of("/favicon.ico"), "none");
        assert_eq!(
            Service::names_listed("or"),
            "helseid, sfm, kjernejournal or pts"
        );
        for service in Service::ALL {
            assert_eq!(Service::parse(service.name()), Some(service));
        }
    }
}
