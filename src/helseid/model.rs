//! HelseID's configuration data: API resources (audiences and scopes) and clients, in the
//! user-facing fixture format, validated into the forms the token endpoint uses.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::errors::FieldError;
use crate::ids::OrgNr;
use crate::jose::PublicJwk;

/// The identity scopes HelseID knows (user login only; refused for client_credentials).
pub const IDENTITY_SCOPES: [&str; 9] = [
    "openid",
    "profile",
    "offline_access",
    "helseid://scopes/identity/pid",
    "helseid://scopes/identity/pid_pseudonym",
    "helseid://scopes/identity/assurance_level",
    "helseid://scopes/identity/security_level",
    "helseid://scopes/identity/network",
    "helseid://scopes/hpr/hpr_number",
];

/// Default access-token lifetime in seconds (the spec's single-tenant token: exp - iat = 600).
pub const DEFAULT_ACCESS_TOKEN_LIFETIME: u32 = 600;
/// Default refresh-token lifetime in seconds, absolute from login.
pub const DEFAULT_REFRESH_TOKEN_LIFETIME: u32 = 28_800;

/// One API resource as written in `fixtures/helseid/api-resources.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceEntry {
    /// The audience, e.g. `e-helse:sfm.api`.
    pub name: String,
    /// A human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The scopes of this API, e.g. `e-helse:sfm.api/sfm.api`.
    pub scopes: Vec<String>,
    /// The secret the API authenticates with at `/connect/introspect` (HTTP Basic, name:secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_secret: Option<String>,
}

/// The API resources, indexed by scope.
#[derive(Debug, Clone, Default)]
pub struct ApiResources {
    entries: Vec<ResourceEntry>,
    audience_by_scope: HashMap<String, usize>,
}

impl ApiResources {
    /// Validates the entries: unique names, every scope in exactly one resource.
    pub fn build(entries: Vec<ResourceEntry>) -> Result<Self, (usize, FieldError)> {
        let mut audience_by_scope = HashMap::new();
        let mut names = HashSet::new();
        for (index, entry) in entries.iter().enumerate() {
            if entry.name.trim().is_empty() || entry.name.contains(char::is_whitespace) {
                return Err((
                    index,
                    FieldError::new("name", "must be a non-empty name without spaces"),
                ));
            }
            if !names.insert(entry.name.clone()) {
                return Err((
                    index,
                    FieldError::new("name", "another API resource has this name"),
                ));
            }
            if entry.scopes.is_empty() {
                return Err((
                    index,
                    FieldError::new("scopes", "an API resource needs at least one scope"),
                ));
            }
            for (i, scope) in entry.scopes.iter().enumerate() {
                let field = format!("scopes[{i}]");
                if scope.is_empty() || scope.contains(char::is_whitespace) {
                    return Err((
                        index,
                        FieldError::new(field, "a scope is one word without spaces"),
                    ));
                }
                if IDENTITY_SCOPES.contains(&scope.as_str()) {
                    return Err((
                        index,
                        FieldError::new(
                            field,
                            format!("'{scope}' is an identity scope, not an API scope"),
                        ),
                    ));
                }
                if audience_by_scope.insert(scope.clone(), index).is_some() {
                    return Err((
                        index,
                        FieldError::new(
                            field,
                            format!("the scope '{scope}' is already in another API resource"),
                        ),
                    ));
                }
            }
        }
        Ok(Self {
            entries,
            audience_by_scope,
        })
    }

    /// The API resource a scope belongs to.
    pub fn resource_of(&self, scope: &str) -> Option<&ResourceEntry> {
        self.audience_by_scope.get(scope).map(|&i| &self.entries[i])
    }

    /// The resource with this audience name.
    pub fn by_name(&self, name: &str) -> Option<&ResourceEntry> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// Every resource, in fixture order.
    pub fn entries(&self) -> &[ResourceEntry] {
        &self.entries
    }

    /// Whether `scope` is an identity scope or belongs to an API resource.
    pub fn is_known_scope(&self, scope: &str) -> bool {
        IDENTITY_SCOPES.contains(&scope) || self.audience_by_scope.contains_key(scope)
    }
}

/// Single- or multi-tenant, as in HelseID's self-service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tenancy {
    /// The client belongs to one organisation (`orgnr_parent` in the client).
    SingleTenant,
    /// A supplier's client acting for many organisations, named per request.
    MultiTenant,
}

impl Tenancy {
    /// The value of the `client_tenancy` claim.
    pub fn as_str(self) -> &'static str {
        match self {
            Tenancy::SingleTenant => "single-tenant",
            Tenancy::MultiTenant => "multi-tenant",
        }
    }
}

/// A JWK Set as registered for a client (RFC 7517); members other than `keys` are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JwkSet {
    /// The client's public keys.
    pub keys: Vec<Value>,
}

/// One client as written in `fixtures/helseid/clients.json` and `POST /_admin/helseid/clients`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientEntry {
    /// The client id (HelseID's are GUIDs).
    pub client_id: String,
    /// A human-readable name; `helsesim token --client` accepts it too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The client's public keys for private_key_jwt.
    pub jwks: JwkSet,
    /// `single-tenant` or `multi-tenant`.
    pub tenancy: Tenancy,
    /// The legal entity (single-tenant clients).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orgnr_parent: Option<String>,
    /// The sub-unit, if the client is registered for one (single-tenant clients).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orgnr_child: Option<String>,
    /// The supplier (multi-tenant clients).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orgnr_supplier: Option<String>,
    /// The organisations that delegated access to the supplier (multi-tenant clients): HelseID
    /// issues tokens only for them (Altinn delegations in production, set up in HelseID
    /// Selvbetjening in the test environment). Absent: any organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegated_by: Option<Vec<String>>,
    /// The client's SFM id (single-tenant SFM clients pick their SFM tenant with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sfm_id: Option<String>,
    /// The scopes the client may get (identity and API scopes).
    pub scopes: Vec<String>,
    /// Tokens must be DPoP-bound.
    #[serde(default)]
    pub require_dpop: bool,
    /// Registered redirect URIs (exact match).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirect_uris: Vec<String>,
    /// Registered post-logout redirect URIs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_logout_redirect_uris: Vec<String>,
    /// Authorization requests must go through PAR.
    #[serde(default)]
    pub require_par: bool,
    /// Access-token lifetime in seconds (default 600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_lifetime: Option<u32>,
    /// Refresh-token lifetime in seconds, absolute from login (default 28800, eight hours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_lifetime: Option<u32>,
}

/// A validated client: its entry plus its keys parsed once.
#[derive(Debug, Clone)]
pub struct Client {
    /// The entry as configured.
    pub entry: ClientEntry,
    /// The parsed public keys, in `jwks.keys` order.
    pub keys: Vec<PublicJwk>,
}

impl Client {
    /// Validates an entry against the known API resources.
    pub fn validate(entry: ClientEntry, resources: &ApiResources) -> Result<Self, FieldError> {
        if entry.client_id.trim().is_empty() || entry.client_id.contains(char::is_whitespace) {
            return Err(FieldError::new(
                "client_id",
                "must be non-empty, without spaces",
            ));
        }
        let keys = parse_keys(&entry.jwks)?;
        check_organisation_numbers(&entry)?;
        check_tenancy(&entry)?;
        if let Some(sfm_id) = &entry.sfm_id {
            uuid::Uuid::parse_str(sfm_id)
                .map_err(|_| FieldError::new("sfm_id", format!("'{sfm_id}' is not a GUID")))?;
        }
        check_scopes(&entry.scopes, resources)?;
        check_redirect_uris(&entry)?;
        check_lifetimes(&entry)?;
        Ok(Self { entry, keys })
    }

    /// The client id.
    pub fn id(&self) -> &str {
        &self.entry.client_id
    }

    /// Access-token lifetime in seconds.
    pub fn access_token_lifetime(&self) -> u32 {
        self.entry
            .access_token_lifetime
            .unwrap_or(DEFAULT_ACCESS_TOKEN_LIFETIME)
    }

    /// Refresh-token lifetime in seconds.
    pub fn refresh_token_lifetime(&self) -> u32 {
        self.entry
            .refresh_token_lifetime
            .unwrap_or(DEFAULT_REFRESH_TOKEN_LIFETIME)
    }

    /// Whether `uri` is one of the client's redirect URIs (`base`: helsesim's public URL, for
    /// registered paths).
    pub fn allows_redirect_uri(&self, uri: &str, base: &str) -> bool {
        self.entry
            .redirect_uris
            .iter()
            .any(|registered| is_registered_uri(registered, uri, base))
    }

    /// Whether the client may get `scope`.
    pub fn allows_scope(&self, scope: &str) -> bool {
        self.entry.scopes.iter().any(|s| s == scope)
    }

    /// Non-fatal remarks (organisation numbers failing their check digit).
    pub fn warnings(&self) -> Vec<String> {
        [
            ("orgnr_parent", &self.entry.orgnr_parent),
            ("orgnr_child", &self.entry.orgnr_child),
            ("orgnr_supplier", &self.entry.orgnr_supplier),
        ]
        .into_iter()
        .filter_map(|(field, value)| {
            let orgnr = OrgNr::parse(value.as_deref()?).ok()?;
            (!orgnr.has_valid_check_digit()).then(|| {
                format!(
                    "{field} {orgnr} fails the MOD11 check digit (accepted: some official test \
                     numbers do)"
                )
            })
        })
        .collect()
    }
}

/// The client's public keys, parsed: at least one, each with a distinct `kid`.
fn parse_keys(jwks: &JwkSet) -> Result<Vec<PublicJwk>, FieldError> {
    if jwks.keys.is_empty() {
        return Err(FieldError::new(
            "jwks.keys",
            "a client needs at least one public key (private_key_jwt is the only client \
             authentication)",
        ));
    }
    let mut keys = Vec::with_capacity(jwks.keys.len());
    let mut kids = HashSet::new();
    for (i, value) in jwks.keys.iter().enumerate() {
        let key = PublicJwk::parse(value)
            .map_err(|e| FieldError::new(format!("jwks.keys[{i}]"), e.to_string()))?;
        if let Some(kid) = key.kid()
            && !kids.insert(kid.to_owned())
        {
            return Err(FieldError::new(
                format!("jwks.keys[{i}].kid"),
                format!("another key has kid '{kid}'"),
            ));
        }
        keys.push(key);
    }
    Ok(keys)
}

/// Every organisation number of the entry has the form of one (nine digits).
fn check_organisation_numbers(entry: &ClientEntry) -> Result<(), FieldError> {
    for (field, value) in [
        ("orgnr_parent", &entry.orgnr_parent),
        ("orgnr_child", &entry.orgnr_child),
        ("orgnr_supplier", &entry.orgnr_supplier),
    ] {
        if let Some(value) = value {
            OrgNr::parse(value).map_err(|e| FieldError::new(field, e.to_string()))?;
        }
    }
    for (i, orgnr) in entry.delegated_by.iter().flatten().enumerate() {
        OrgNr::parse(orgnr)
            .map_err(|e| FieldError::new(format!("delegated_by[{i}]"), e.to_string()))?;
    }
    Ok(())
}

/// The organisation fields the tenancy needs, and none of the other tenancy's.
fn check_tenancy(entry: &ClientEntry) -> Result<(), FieldError> {
    match entry.tenancy {
        Tenancy::SingleTenant => {
            if entry.delegated_by.is_some() {
                return Err(FieldError::new(
                    "delegated_by",
                    "only a multi-tenant client acts for organisations that delegated access to \
                     its supplier",
                ));
            }
            if entry.orgnr_parent.is_none() {
                return Err(FieldError::new(
                    "orgnr_parent",
                    "a single-tenant client needs its organisation number",
                ));
            }
            if entry.orgnr_supplier.is_some() {
                return Err(FieldError::new(
                    "orgnr_supplier",
                    "only multi-tenant clients have a supplier",
                ));
            }
        }
        Tenancy::MultiTenant => {
            if entry.orgnr_supplier.is_none() {
                return Err(FieldError::new(
                    "orgnr_supplier",
                    "a multi-tenant client needs the supplier's organisation number",
                ));
            }
            for (field, value) in [
                ("orgnr_parent", &entry.orgnr_parent),
                ("orgnr_child", &entry.orgnr_child),
            ] {
                if value.is_some() {
                    return Err(FieldError::new(
                        field,
                        "a multi-tenant client names the organisation in each token request \
                         (assertion_details), not in its configuration",
                    ));
                }
            }
        }
    }
    Ok(())
}

/// At least one scope, each an identity scope or an API resource's.
fn check_scopes(scopes: &[String], resources: &ApiResources) -> Result<(), FieldError> {
    if scopes.is_empty() {
        return Err(FieldError::new(
            "scopes",
            "a client needs at least one scope",
        ));
    }
    for (i, scope) in scopes.iter().enumerate() {
        if !resources.is_known_scope(scope) {
            return Err(FieldError::new(
                format!("scopes[{i}]"),
                format!(
                    "unknown scope '{scope}': not an identity scope and not in any API resource"
                ),
            ));
        }
    }
    Ok(())
}

/// Whether `uri` is the `registered` redirect URI: the same text, or, for a registered path
/// (`/epj/callback`), that path under helsesim's public base URL `base`.
pub fn is_registered_uri(registered: &str, uri: &str, base: &str) -> bool {
    if registered.starts_with('/') {
        uri.strip_prefix(base) == Some(registered)
    } else {
        registered == uri
    }
}

/// Redirect and post-logout redirect URIs are absolute URLs without a fragment, or paths under
/// helsesim's own public URL (`/epj/callback`, for an EHR helsesim serves itself).
fn check_redirect_uris(entry: &ClientEntry) -> Result<(), FieldError> {
    for (field, uris) in [
        ("redirect_uris", &entry.redirect_uris),
        (
            "post_logout_redirect_uris",
            &entry.post_logout_redirect_uris,
        ),
    ] {
        for (i, uri) in uris.iter().enumerate() {
            let absolute = match uri.strip_prefix('/') {
                Some(path) if !path.starts_with('/') => format!("http://helsesim.invalid/{path}"),
                _ => uri.clone(),
            };
            let parsed = url::Url::parse(&absolute).map_err(|e| {
                FieldError::new(
                    format!("{field}[{i}]"),
                    format!("'{uri}' is not an absolute URL: {e}"),
                )
            })?;
            if parsed.fragment().is_some() {
                return Err(FieldError::new(
                    format!("{field}[{i}]"),
                    "a redirect URI must not have a fragment",
                ));
            }
        }
    }
    Ok(())
}

/// Token lifetimes within what HelseID's self-service allows.
fn check_lifetimes(entry: &ClientEntry) -> Result<(), FieldError> {
    if let Some(lifetime) = entry.refresh_token_lifetime
        && !(60..=31_536_000).contains(&lifetime)
    {
        return Err(FieldError::new(
            "refresh_token_lifetime",
            "must be between 60 seconds and a year",
        ));
    }
    if let Some(lifetime) = entry.access_token_lifetime
        && !(60..=86_400).contains(&lifetime)
    {
        return Err(FieldError::new(
            "access_token_lifetime",
            "must be between 60 and 86400 seconds",
        ));
    }
    Ok(())
}

/// One test user as written in `fixtures/helseid/users.json` (shown on the login page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserEntry {
    /// Fødselsnummer or D-nummer.
    pub pid: String,
    /// Given name.
    pub given_name: String,
    /// Middle name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    /// Family name.
    pub family_name: String,
    /// HPR number (health personnel register); absent for users who are not health personnel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hpr_number: Option<String>,
    /// `4` (high) or `3` (substantial).
    #[serde(default = "default_security_level")]
    pub security_level: String,
    /// A note shown on the login page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

fn default_security_level() -> String {
    "4".to_owned()
}

/// A validated user (written as its entry, validated again when read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "UserEntry", into = "UserEntry")]
pub struct User {
    /// The entry as configured.
    pub entry: UserEntry,
    /// Whether the pid is a fødselsnummer or a D-nummer.
    pub pid_kind: crate::ids::NationalIdKind,
}

impl TryFrom<UserEntry> for User {
    type Error = FieldError;

    fn try_from(entry: UserEntry) -> Result<Self, FieldError> {
        User::validate(entry)
    }
}

impl From<User> for UserEntry {
    fn from(user: User) -> Self {
        user.entry
    }
}

#[cfg(test)]
impl User {
    /// A level-4 test user "Test Testesen" without an HPR number, for unit tests.
    pub fn testesen(pid: &str) -> Self {
        Self::validate(UserEntry {
            pid: pid.to_owned(),
            given_name: "Test".to_owned(),
            middle_name: None,
            family_name: "Testesen".to_owned(),
            hpr_number: None,
            security_level: "4".to_owned(),
            description: None,
        })
        .unwrap_or_else(|e| panic!("a valid test user: {e:?}"))
    }
}

impl User {
    /// Validates an entry: a national identity number with valid control digits, an HPR number of
    /// digits, security level 3 or 4, non-empty names.
    pub fn validate(entry: UserEntry) -> Result<Self, FieldError> {
        let pid_kind = crate::ids::NationalId::parse(&entry.pid)
            .map_err(|e| FieldError::new("pid", e.to_string()))?
            .kind();
        if let Some(hpr) = &entry.hpr_number
            && (hpr.is_empty() || hpr.len() > 9 || !hpr.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(FieldError::new(
                "hpr_number",
                format!("'{hpr}' is not an HPR number: one to nine digits"),
            ));
        }
        if !matches!(entry.security_level.as_str(), "3" | "4") {
            return Err(FieldError::new(
                "security_level",
                format!("'{}' is not a security level: 3 or 4", entry.security_level),
            ));
        }
        for (field, value) in [
            ("given_name", &entry.given_name),
            ("family_name", &entry.family_name),
        ] {
            if value.trim().is_empty() {
                return Err(FieldError::new(field, "must not be empty"));
            }
        }
        Ok(Self { entry, pid_kind })
    }

    /// The national identity number.
    pub fn pid(&self) -> &str {
        &self.entry.pid
    }

    /// The full name: given, middle, family.
    pub fn name(&self) -> String {
        [
            Some(&self.entry.given_name),
            self.entry.middle_name.as_ref(),
            Some(&self.entry.family_name),
        ]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ")
    }

    /// The eIDAS assurance level matching the security level.
    pub fn assurance_level(&self) -> &'static str {
        if self.entry.security_level == "4" {
            "high"
        } else {
            "substantial"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(tenancy: Tenancy) -> ClientEntry {
        ClientEntry {
            client_id: "c".to_owned(),
            name: None,
            jwks: JwkSet { keys: Vec::new() },
            tenancy,
            orgnr_parent: None,
            orgnr_child: None,
            orgnr_supplier: None,
            delegated_by: None,
            sfm_id: None,
            scopes: vec!["openid".to_owned()],
            require_dpop: false,
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            require_par: false,
            access_token_lifetime: None,
            refresh_token_lifetime: None,
        }
    }

    fn field_of(result: Result<(), FieldError>) -> Option<String> {
        result.err().map(|e| e.field)
    }

    #[test]
    fn each_tenancy_has_its_own_organisation_fields() {
        let mut single = entry(Tenancy::SingleTenant);
        assert_eq!(
            field_of(check_tenancy(&single)).as_deref(),
            Some("orgnr_parent")
        );
        single.orgnr_parent = Some("917897468".to_owned());
        assert_eq!(field_of(check_tenancy(&single)), None);
        single.orgnr_supplier = Some("917897468".to_owned());
        assert_eq!(
            field_of(check_tenancy(&single)).as_deref(),
            Some("orgnr_supplier")
        );
        single.delegated_by = Some(Vec::new());
        assert_eq!(
            field_of(check_tenancy(&single)).as_deref(),
            Some("delegated_by"),
            "delegations are checked first"
        );

        let mut multi = entry(Tenancy::MultiTenant);
        assert_eq!(
            field_of(check_tenancy(&multi)).as_deref(),
            Some("orgnr_supplier")
        );
        multi.orgnr_supplier = Some("917897468".to_owned());
        multi.delegated_by = Some(vec!["994598759".to_owned()]);
        assert_eq!(field_of(check_tenancy(&multi)), None);
        multi.orgnr_child = Some("994598759".to_owned());
        assert_eq!(
            field_of(check_tenancy(&multi)).as_deref(),
            Some("orgnr_child")
        );
    }

    #[test]
    fn redirect_uris_are_absolute_or_paths_and_without_fragment() {
        let mut client = entry(Tenancy::SingleTenant);
        client.redirect_uris = vec!["https://ehr.example/cb".to_owned()];
        client.post_logout_redirect_uris = vec!["/out".to_owned()];
        assert_eq!(field_of(check_redirect_uris(&client)), None);
        client.post_logout_redirect_uris = vec!["out".to_owned()];
        assert_eq!(
            field_of(check_redirect_uris(&client)).as_deref(),
            Some("post_logout_redirect_uris[0]")
        );
        client.post_logout_redirect_uris = vec!["//other.example/out".to_owned()];
        assert_eq!(
            field_of(check_redirect_uris(&client)).as_deref(),
            Some("post_logout_redirect_uris[0]")
        );
        client.post_logout_redirect_uris.clear();
        client
            .redirect_uris
            .push("https://ehr.example/cb#x".to_owned());
        let err = check_redirect_uris(&client).unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.message.as_str()),
            (
                "redirect_uris[1]",
                "a redirect URI must not have a fragment"
            )
        );
    }

    #[test]
    fn a_registered_path_is_under_helsesims_own_url_only() {
        let base = "http://localhost:8080";
        assert!(is_registered_uri(
            "/epj/callback",
            "http://localhost:8080/epj/callback",
            base
        ));
        assert!(!is_registered_uri("/epj/callback", "/epj/callback", base));
        assert!(!is_registered_uri(
            "/epj/callback",
            "http://evil.example/epj/callback",
            base
        ));
        assert!(is_registered_uri(
            "https://ehr.example/cb",
            "https://ehr.example/cb",
            base
        ));
    }

    #[test]
    fn a_client_without_keys_is_refused_before_anything_else_is_checked() {
        let mut client = entry(Tenancy::MultiTenant);
        client.scopes.clear();
        let err = Client::validate(client, &ApiResources::default()).unwrap_err();
        assert_eq!(err.field, "jwks.keys");
    }
}
