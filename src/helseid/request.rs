//! Authorization requests: the parameters of PAR (and of `/connect/authorize` for clients that
//! do not use PAR), request objects (RFC 9101) and `authorization_details`, validated into an
//! [`AuthorizationRequest`].

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::Endpoints;
use super::client_auth::verify_client_signature;
use super::flow::{AuthorizationRequest, ResponseMode};
use super::form::FormParams;
use super::grants::is_pkce_value;
use super::model::{ApiResources, Client};
use super::tenancy;
use crate::auth::CLOCK_SKEW;
use crate::errors::oauth::{OAuthError, OAuthErrorCode};
use crate::jose::{SigningAlg, UnverifiedJws};

/// The only identity provider helsesim has.
pub const TEST_IDP: &str = "testidp-oidc";

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
    let mut details = match params.remove("authorization_details") {
        Some(values) => {
            let text = values.first().map(String::as_str).unwrap_or_default();
            let value: Value = serde_json::from_str(text).map_err(|e| {
                OAuthError::invalid_request(format!("authorization_details is not valid JSON: {e}"))
            })?;
            Some(Map::from_iter([(
                "authorization_details".to_owned(),
                value,
            )]))
        }
        None => None,
    };
    let Some(token) = params.remove("request") else {
        return Ok(details);
    };
    let token = token.first().map(String::as_str).unwrap_or_default();
    let jws = UnverifiedJws::parse(token)
        .map_err(|e| request_object_error(format!("The request object is not a valid JWT: {e}")))?;
    let alg_name = jws.header_str("alg").unwrap_or_default();
    let alg = SigningAlg::parse(alg_name).ok_or_else(|| {
        request_object_error(format!(
            "The request object must be signed with the client's private key using an asymmetric algorithm; got alg '{alg_name}'"
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
    for (name, value) in &jws.claims {
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
                details = Some(Map::from_iter([(
                    "authorization_details".to_owned(),
                    value.clone(),
                )]));
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
) -> Result<AuthorizationRequest, RequestError> {
    let page = |m: String| RequestError::Page(OAuthError::invalid_request(m));
    let redirect_uri = params
        .get("redirect_uri")
        .ok_or_else(|| page("redirect_uri is missing".to_owned()))?;
    if !client.entry.redirect_uris.iter().any(|u| u == redirect_uri) {
        return Err(page(format!(
            "redirect_uri '{redirect_uri}' is not registered for client '{}' (it must match a registered one exactly{})",
            client.id(),
            if client.entry.redirect_uris.is_empty() {
                ": the client has none".to_owned()
            } else {
                format!(": {}", client.entry.redirect_uris.join(", "))
            }
        )));
    }
    let state = params.get("state").map(str::to_owned);
    let (response_mode, mode_error) = match params.get("response_mode") {
        None | Some("query") => (ResponseMode::Query, None),
        Some("form_post") => (ResponseMode::FormPost, None),
        Some("fragment") => (ResponseMode::Fragment, None),
        Some(other) => (
            ResponseMode::Query,
            Some(format!(
                "response_mode '{other}' is not supported: use query, fragment or form_post"
            )),
        ),
    };
    let back = |error: OAuthError| {
        RequestError::redirect(error, redirect_uri, state.clone(), response_mode)
    };
    if let Some(message) = mode_error {
        return Err(back(OAuthError::invalid_request(message)));
    }
    match params.get("response_type") {
        Some("code") => {}
        Some(other) => {
            return Err(back(OAuthError::new(
                OAuthErrorCode::UnsupportedResponseType,
                format!(
                    "response_type '{other}' is not allowed: HelseID supports only response_type=code (no implicit or hybrid flow)"
                ),
            )));
        }
        None => {
            return Err(back(OAuthError::new(
                OAuthErrorCode::UnsupportedResponseType,
                "response_type is missing: it must be code",
            )));
        }
    }

    let mut scopes: Vec<String> = Vec::new();
    for scope in params.get("scope").unwrap_or_default().split_whitespace() {
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    if !scopes.iter().any(|s| s == "openid") {
        return Err(back(OAuthError::invalid_scope(
            "A user login needs the scope openid (with profile, the identity scopes, the API scopes and offline_access as needed)",
        )));
    }
    for scope in &scopes {
        if !resources.is_known_scope(scope) {
            return Err(back(OAuthError::invalid_scope(format!(
                "Unknown scope '{scope}'"
            ))));
        }
        if !client.allows_scope(scope) {
            return Err(back(OAuthError::invalid_scope(format!(
                "The client '{}' is not allowed the scope '{scope}'",
                client.id()
            ))));
        }
    }

    let code_challenge = params.get("code_challenge").ok_or_else(|| {
        back(OAuthError::invalid_request(
            "PKCE is required: send code_challenge and code_challenge_method=S256",
        ))
    })?;
    match params.get("code_challenge_method") {
        Some("S256") => {}
        Some("plain") | None => {
            return Err(back(OAuthError::invalid_request(
                "code_challenge_method must be S256: the plain method is not allowed",
            )));
        }
        Some(other) => {
            return Err(back(OAuthError::invalid_request(format!(
                "code_challenge_method '{other}' is not supported: use S256"
            ))));
        }
    }
    if !is_pkce_value(code_challenge) {
        return Err(back(OAuthError::invalid_request(
            "code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (the base64url SHA-256 of the code_verifier is 43)",
        )));
    }

    let mut authorized = Vec::new();
    for resource in params.all("resource") {
        let Some(entry) = resources.by_name(resource) else {
            return Err(back(OAuthError::new(
                OAuthErrorCode::InvalidTarget,
                format!("Unknown resource '{resource}'"),
            )));
        };
        if !scopes.iter().any(|s| entry.scopes.contains(s)) {
            return Err(back(OAuthError::new(
                OAuthErrorCode::InvalidTarget,
                format!("No requested scope belongs to the resource '{resource}'"),
            )));
        }
        if !authorized.iter().any(|r| r == resource) {
            authorized.push(resource.to_owned());
        }
    }

    let mut prompt = None;
    let values: Vec<&str> = params
        .get("prompt")
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    for value in &values {
        match *value {
            "none" if values.len() > 1 => {
                return Err(back(OAuthError::invalid_request(
                    "prompt=none cannot be combined with other prompt values",
                )));
            }
            "none" => prompt = Some("none".to_owned()),
            "login" | "consent" | "select_account" => prompt = Some("login".to_owned()),
            other => {
                return Err(back(OAuthError::invalid_request(format!(
                    "prompt '{other}' is not supported: use none, login, consent or select_account"
                ))));
            }
        }
    }
    for value in params
        .get("acr_values")
        .unwrap_or_default()
        .split_whitespace()
    {
        if let Some(idp) = value.strip_prefix("idp:")
            && idp != TEST_IDP
        {
            return Err(back(OAuthError::invalid_request(format!(
                "acr_values names the identity provider '{idp}': helsesim has only the test IdP ({TEST_IDP})"
            ))));
        }
    }
    let dpop_jkt = match (params.get("dpop_jkt"), proof_jkt) {
        (Some(param), Some(proof)) if param != proof => {
            return Err(back(OAuthError::invalid_request(
                "dpop_jkt does not match the key of the DPoP proof",
            )));
        }
        (param, proof) => proof.or(param).map(str::to_owned),
    };
    if let Some(details) = &details {
        tenancy::resolve(client, details).map_err(&back)?;
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
        response_mode,
        dpop_jkt,
        details,
    })
}
