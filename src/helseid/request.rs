//! Authorization requests: the parameters of PAR (and of `/connect/authorize` for clients that
//! do not use PAR), request objects (RFC 9101) and `authorization_details`, validated into an
//! [`AuthorizationRequest`].

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::Endpoints;
use super::client_auth::verify_client_signature;
use super::flow::{AuthorizationRequest, ResponseMode, TestLogin};
use super::form::FormParams;
use super::grants::is_pkce_value;
use super::model::{ApiResources, Client};
use super::tokens::IDP;
use super::{tenancy, trust_framework};
use crate::auth::CLOCK_SKEW;
use crate::errors::oauth::{OAuthError, OAuthErrorCode};
use crate::jose::{SigningAlg, UnverifiedJws};

/// A refused authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// Not safe to send to the redirect URI (unknown client, bad redirect URI): an error page
    /// at `/connect/authorize`, a JSON error at PAR.
    Page(OAuthError),
    /// Sent back to the validated redirect URI.
    Redirect(Box<Redirect>),
}

/// An error to send back to the client's redirect URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// The error.
    pub error: OAuthError,
    /// Where to.
    pub redirect_uri: String,
    /// The client's state, echoed.
    pub state: Option<String>,
    /// How.
    pub response_mode: ResponseMode,
}

impl RequestError {
    /// An error for the client's redirect URI.
    pub fn redirect(
        error: OAuthError,
        redirect_uri: &str,
        state: Option<String>,
        response_mode: ResponseMode,
    ) -> Self {
        Self::Redirect(Box::new(Redirect {
            error,
            redirect_uri: redirect_uri.to_owned(),
            state,
            response_mode,
        }))
    }
}

impl RequestError {
    /// The OAuth error, wherever it would have gone.
    pub fn into_oauth(self) -> OAuthError {
        match self {
            RequestError::Page(error) => error,
            RequestError::Redirect(redirect) => redirect.error,
        }
    }
}

fn request_object_error(message: impl Into<String>) -> OAuthError {
    OAuthError::new(OAuthErrorCode::InvalidRequestObject, message)
}

/// Applies a signed request object (`request`) and `authorization_details` to `params`: the
/// request object's claims take precedence; returns the organisation details, if any.
pub fn apply_request_object(
    params: &mut FormParams,
    client: &Client,
    endpoints: &Endpoints,
    now: DateTime<Utc>,
) -> Result<Option<Map<String, Value>>, OAuthError> {
    let details = form_details(params)?;
    let Some(token) = params.remove("request") else {
        return Ok(details);
    };
    let token = token.first().map(String::as_str).unwrap_or_default();
    let claims = verified_request_object(token, client, endpoints, now)?;
    let object_details = apply_claims(params, &claims, client)?;
    Ok(object_details.or(details))
}

/// Organisation details as the authorization details claim of a request.
fn details_of(value: Value) -> Map<String, Value> {
    Map::from_iter([("authorization_details".to_owned(), value)])
}

/// The form's `authorization_details` (JSON), taken out of `params`.
fn form_details(params: &mut FormParams) -> Result<Option<Map<String, Value>>, OAuthError> {
    let Some(values) = params.remove("authorization_details") else {
        return Ok(None);
    };
    let text = values.first().map(String::as_str).unwrap_or_default();
    let value: Value = serde_json::from_str(text).map_err(|e| {
        OAuthError::invalid_request(format!("authorization_details is not valid JSON: {e}"))
    })?;
    Ok(Some(details_of(value)))
}

/// The claims of a request object signed by `client` for this HelseID and not expired.
fn verified_request_object(
    token: &str,
    client: &Client,
    endpoints: &Endpoints,
    now: DateTime<Utc>,
) -> Result<Map<String, Value>, OAuthError> {
    let jws = UnverifiedJws::parse(token)
        .map_err(|e| request_object_error(format!("The request object is not a valid JWT: {e}")))?;
    let alg_name = jws.header_str("alg").unwrap_or_default();
    let alg = SigningAlg::parse(alg_name).ok_or_else(|| {
        request_object_error(format!(
            "The request object must be signed with the client's private key using an \
             asymmetric algorithm; got alg '{alg_name}'"
        ))
    })?;
    verify_client_signature(&jws, alg, client, "request object").map_err(request_object_error)?;
    if jws.claim_str("iss") != Some(client.id()) {
        return Err(request_object_error(format!(
            "The request object's iss must be the client_id '{}'",
            client.id()
        )));
    }
    let aud_ok = match jws.claims.get("aud") {
        Some(Value::String(aud)) => [&endpoints.issuer, &endpoints.par].contains(&aud),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .any(|a| a == endpoints.issuer || a == endpoints.par),
        _ => false,
    };
    if !aud_ok {
        return Err(request_object_error(format!(
            "The request object's aud must be the issuer {}",
            endpoints.issuer
        )));
    }
    if let Some(exp) = jws.claim_seconds("exp")
        && exp + CLOCK_SKEW.num_seconds() < now.timestamp()
    {
        return Err(request_object_error("The request object has expired"));
    }
    Ok(jws.claims)
}

/// Sets the request object's claims as parameters (over the form's); returns its organisation
/// details, if it has any.
fn apply_claims(
    params: &mut FormParams,
    claims: &Map<String, Value>,
    client: &Client,
) -> Result<Option<Map<String, Value>>, OAuthError> {
    let mut details = None;
    for (name, value) in claims {
        match (name.as_str(), value) {
            ("iss" | "aud" | "exp" | "iat" | "nbf" | "jti", _) => {}
            ("request" | "request_uri", _) => {
                return Err(request_object_error(format!(
                    "A request object must not contain '{name}'"
                )));
            }
            ("client_id", Value::String(id)) if id != client.id() => {
                return Err(request_object_error(
                    "The request object's client_id is not the client's",
                ));
            }
            ("authorization_details" | "assertion_details", value) => {
                details = Some(details_of(value.clone()));
            }
            (_, Value::String(text)) => params.set(name, vec![text.clone()]),
            (_, Value::Array(items)) => params.set(
                name,
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
            ),
            (_, Value::Number(number)) => params.set(name, vec![number.to_string()]),
            _ => {}
        }
    }
    Ok(details)
}

/// Validates the parameters of an authorization request for `client`; `proof_jkt` is the key of
/// a DPoP proof sent to PAR.
pub fn validate(
    params: &FormParams,
    client: &Client,
    resources: &ApiResources,
    details: Option<Map<String, Value>>,
    proof_jkt: Option<&str>,
    base: &str,
) -> Result<AuthorizationRequest, RequestError> {
    let redirect_uri = registered_redirect_uri(params, client, base).map_err(RequestError::Page)?;
    let state = params.get("state").map(str::to_owned);
    let (response_mode, mode_error) = response_mode(params);
    let back = |error: OAuthError| {
        RequestError::redirect(error, redirect_uri, state.clone(), response_mode)
    };
    if let Some(message) = mode_error {
        return Err(back(OAuthError::invalid_request(message)));
    }
    check_response_type(params).map_err(back)?;
    let scopes = login_scopes(params, client, resources).map_err(back)?;
    let code_challenge = code_challenge(params).map_err(back)?;
    let authorized = authorized_resources(params, &scopes, resources).map_err(back)?;
    let prompt = prompt(params).map_err(back)?;
    check_acr_values(params).map_err(back)?;
    let dpop_jkt = dpop_jkt(params.get("dpop_jkt"), proof_jkt).map_err(back)?;
    let test_login = test_login(params).map_err(back)?;
    if let Some(details) = &details {
        tenancy::resolve(client, details).map_err(back)?;
        trust_framework::find(details).map_err(back)?;
    }
    Ok(AuthorizationRequest {
        client_id: client.id().to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        scopes,
        resources: authorized,
        state,
        nonce: params.get("nonce").map(str::to_owned),
        code_challenge: code_challenge.to_owned(),
        prompt,
        login_hint: params.get("login_hint").map(str::to_owned),
        test_login,
        response_mode,
        dpop_jkt,
        details,
    })
}

/// The request's `redirect_uri`, one registered for the client (exactly).
fn registered_redirect_uri<'p>(
    params: &'p FormParams,
    client: &Client,
    base: &str,
) -> Result<&'p str, OAuthError> {
    let redirect_uri = params
        .get("redirect_uri")
        .ok_or_else(|| OAuthError::invalid_request("redirect_uri is missing"))?;
    if !client.allows_redirect_uri(redirect_uri, base) {
        return Err(OAuthError::invalid_request(format!(
            "redirect_uri '{redirect_uri}' is not registered for client '{}' (it must match a \
             registered one exactly{})",
            client.id(),
            if client.entry.redirect_uris.is_empty() {
                ": the client has none".to_owned()
            } else {
                format!(": {}", client.entry.redirect_uris.join(", "))
            }
        )));
    }
    Ok(redirect_uri)
}

/// The response mode, and the error for an unsupported one (answered with `query`).
fn response_mode(params: &FormParams) -> (ResponseMode, Option<String>) {
    match params.get("response_mode") {
        None | Some("query") => (ResponseMode::Query, None),
        Some("form_post") => (ResponseMode::FormPost, None),
        Some("fragment") => (ResponseMode::Fragment, None),
        Some(other) => (
            ResponseMode::Query,
            Some(format!(
                "response_mode '{other}' is not supported: use query, fragment or form_post"
            )),
        ),
    }
}

/// `response_type=code`, the only flow HelseID has.
fn check_response_type(params: &FormParams) -> Result<(), OAuthError> {
    match params.get("response_type") {
        Some("code") => Ok(()),
        Some(other) => Err(OAuthError::new(
            OAuthErrorCode::UnsupportedResponseType,
            format!(
                "response_type '{other}' is not allowed: HelseID supports only response_type=code \
                 (no implicit or hybrid flow)"
            ),
        )),
        None => Err(OAuthError::new(
            OAuthErrorCode::UnsupportedResponseType,
            "response_type is missing: it must be code",
        )),
    }
}

/// The requested scopes, distinct and in request order: `openid` among them, each known and
/// allowed to the client.
fn login_scopes(
    params: &FormParams,
    client: &Client,
    resources: &ApiResources,
) -> Result<Vec<String>, OAuthError> {
    let mut scopes: Vec<String> = Vec::new();
    for scope in params.get("scope").unwrap_or_default().split_whitespace() {
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    if !scopes.iter().any(|s| s == "openid") {
        return Err(OAuthError::invalid_scope(
            "A user login needs the scope openid (with profile, the identity scopes, the API \
             scopes and offline_access as needed)",
        ));
    }
    for scope in &scopes {
        if !resources.is_known_scope(scope) {
            return Err(OAuthError::invalid_scope(format!(
                "Unknown scope '{scope}'"
            )));
        }
        if !client.allows_scope(scope) {
            return Err(OAuthError::invalid_scope(format!(
                "The client '{}' is not allowed the scope '{scope}'",
                client.id()
            )));
        }
    }
    Ok(scopes)
}

/// The PKCE `code_challenge`: required, S256, of the right form.
fn code_challenge(params: &FormParams) -> Result<&str, OAuthError> {
    let code_challenge = params.get("code_challenge").ok_or_else(|| {
        OAuthError::invalid_request(
            "PKCE is required: send code_challenge and code_challenge_method=S256",
        )
    })?;
    match params.get("code_challenge_method") {
        Some("S256") => {}
        Some("plain") | None => {
            return Err(OAuthError::invalid_request(
                "code_challenge_method must be S256: the plain method is not allowed",
            ));
        }
        Some(other) => {
            return Err(OAuthError::invalid_request(format!(
                "code_challenge_method '{other}' is not supported: use S256"
            )));
        }
    }
    if !is_pkce_value(code_challenge) {
        return Err(OAuthError::invalid_request(
            "code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (the base64url \
             SHA-256 of the code_verifier is 43)",
        ));
    }
    Ok(code_challenge)
}

/// The `resource`s (RFC 8707) authorized, distinct: each a known API with a requested scope.
fn authorized_resources(
    params: &FormParams,
    scopes: &[String],
    resources: &ApiResources,
) -> Result<Vec<String>, OAuthError> {
    let mut authorized = Vec::new();
    for resource in params.all("resource") {
        let Some(entry) = resources.by_name(resource) else {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidTarget,
                format!("Unknown resource '{resource}'"),
            ));
        };
        if !scopes.iter().any(|s| entry.scopes.contains(s)) {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidTarget,
                format!("No requested scope belongs to the resource '{resource}'"),
            ));
        }
        if !authorized.iter().any(|r| r == resource) {
            authorized.push(resource.to_owned());
        }
    }
    Ok(authorized)
}

/// `prompt` as helsesim acts on it: `none`, `login` (also for `consent` and `select_account`)
/// or absent.
fn prompt(params: &FormParams) -> Result<Option<String>, OAuthError> {
    let mut prompt = None;
    let values: Vec<&str> = params
        .get("prompt")
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    for value in &values {
        match *value {
            "none" if values.len() > 1 => {
                return Err(OAuthError::invalid_request(
                    "prompt=none cannot be combined with other prompt values",
                ));
            }
            "none" => prompt = Some("none".to_owned()),
            "login" | "consent" | "select_account" => prompt = Some("login".to_owned()),
            other => {
                return Err(OAuthError::invalid_request(format!(
                    "prompt '{other}' is not supported: use none, login, consent or \
                     select_account"
                )));
            }
        }
    }
    Ok(prompt)
}

/// `acr_values` may name only the test IdP (`idp:testidp-oidc`).
fn check_acr_values(params: &FormParams) -> Result<(), OAuthError> {
    for value in params
        .get("acr_values")
        .unwrap_or_default()
        .split_whitespace()
    {
        if let Some(idp) = value.strip_prefix("idp:")
            && idp != IDP
        {
            return Err(OAuthError::invalid_request(format!(
                "acr_values names the identity provider '{idp}': helsesim has only the test IdP \
                 ({IDP})"
            )));
        }
    }
    Ok(())
}

/// The test IdP's parameters (NHN's sample EHRs send `acr_values=idp:testidp-oidc`,
/// `test_pid` and `test_security_level`): the person to log in without the page.
fn test_login(params: &FormParams) -> Result<Option<TestLogin>, OAuthError> {
    let level = params.get("test_security_level");
    let Some(pid) = params.get("test_pid") else {
        return match level {
            Some(_) => Err(OAuthError::invalid_request(
                "test_security_level without test_pid: the test IdP needs the person too",
            )),
            None => Ok(None),
        };
    };
    crate::ids::NationalId::parse(pid).map_err(|e| {
        OAuthError::invalid_request(format!("test_pid must be a fødselsnummer or D-nummer: {e}"))
    })?;
    let security_level = level.unwrap_or("4");
    if !matches!(security_level, "3" | "4") {
        return Err(OAuthError::invalid_request(format!(
            "test_security_level must be 3 or 4, got '{security_level}'"
        )));
    }
    Ok(Some(TestLogin {
        pid: pid.to_owned(),
        security_level: security_level.to_owned(),
    }))
}

/// The DPoP key the code is bound to: the PAR proof's, else the `dpop_jkt` parameter, which
/// must match the proof's when both are sent.
fn dpop_jkt(param: Option<&str>, proof: Option<&str>) -> Result<Option<String>, OAuthError> {
    match (param, proof) {
        (Some(param), Some(proof)) if param != proof => Err(OAuthError::invalid_request(
            "dpop_jkt does not match the key of the DPoP proof",
        )),
        (param, proof) => Ok(proof.or(param).map(str::to_owned)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(text: &str) -> FormParams {
        FormParams::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn unsupported_response_modes_are_answered_with_query() {
        assert_eq!(response_mode(&form("")), (ResponseMode::Query, None));
        assert_eq!(
            response_mode(&form("response_mode=fragment")),
            (ResponseMode::Fragment, None)
        );
        let (mode, error) = response_mode(&form("response_mode=web_message"));
        assert_eq!(mode, ResponseMode::Query);
        assert_eq!(
            error.as_deref(),
            Some("response_mode 'web_message' is not supported: use query, fragment or form_post")
        );
    }

    #[test]
    fn prompt_values_map_to_none_or_login() {
        assert_eq!(prompt(&form("")).unwrap(), None);
        assert_eq!(
            prompt(&form("prompt=none")).unwrap().as_deref(),
            Some("none")
        );
        assert_eq!(
            prompt(&form("prompt=consent+select_account"))
                .unwrap()
                .as_deref(),
            Some("login")
        );
        assert_eq!(
            prompt(&form("prompt=login+none")).unwrap_err().description,
            "prompt=none cannot be combined with other prompt values"
        );
        assert_eq!(
            prompt(&form("prompt=create")).unwrap_err().description,
            "prompt 'create' is not supported: use none, login, consent or select_account"
        );
    }

    #[test]
    fn pkce_needs_s256_and_a_well_formed_challenge() {
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert_eq!(
            code_challenge(&form(&format!("code_challenge={challenge}")))
                .unwrap_err()
                .description,
            "code_challenge_method must be S256: the plain method is not allowed"
        );
        let text = format!("code_challenge={challenge}&code_challenge_method=S256");
        assert_eq!(code_challenge(&form(&text)).unwrap(), challenge);
        let short = form("code_challenge=abc&code_challenge_method=S256");
        assert!(
            code_challenge(&short)
                .unwrap_err()
                .description
                .starts_with("code_challenge must be 43 to 128 characters")
        );
    }

    #[test]
    fn the_proof_key_binds_the_code_and_dpop_jkt_must_agree() {
        assert_eq!(dpop_jkt(None, None).unwrap(), None);
        assert_eq!(dpop_jkt(Some("a"), None).unwrap().as_deref(), Some("a"));
        assert_eq!(dpop_jkt(None, Some("b")).unwrap().as_deref(), Some("b"));
        assert_eq!(
            dpop_jkt(Some("b"), Some("b")).unwrap().as_deref(),
            Some("b")
        );
        assert_eq!(
            dpop_jkt(Some("a"), Some("b")).unwrap_err().description,
            "dpop_jkt does not match the key of the DPoP proof"
        );
    }

    #[test]
    fn acr_values_may_name_only_the_test_idp() {
        assert!(check_acr_values(&form("acr_values=idp:testidp-oidc+Level4")).is_ok());
        assert!(check_acr_values(&form("acr_values=idp:bankid")).is_err());
    }
}
