//! `POST /helseid/connect/token`.

use actix_web::http::header;
use actix_web::{HttpMessage as _, HttpRequest, HttpResponse, web};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use super::claims::{Confirmation, SFM_AUDIENCE, SystemTokenClaims};
use super::client_auth::{self, AuthenticatedClient};
use super::discovery::GRANT_TYPES;
pub use super::form::FormParams;
use super::model::{ApiResources, IDENTITY_SCOPES};
use super::tenancy;
use crate::auth::dpop::{ProofError, ProofExpectations, ValidProof, validate_proof};
use crate::errors::oauth::{OAuthError, OAuthErrorCode};
use crate::random;
use crate::state::AppState;

/// A successful token response.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    /// The signed access token.
    pub access_token: String,
    /// `Bearer` or `DPoP`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Granted scopes, space-separated.
    pub scope: String,
}

/// What the token endpoint needs from the HTTP request besides the form.
#[derive(Debug)]
pub struct RequestMeta<'a> {
    /// The `Authorization` header.
    pub authorization: Option<&'a str>,
    /// The `DPoP` header.
    pub dpop: Option<&'a str>,
    /// Acceptable `htu` values for a DPoP proof.
    pub urls: Vec<String>,
}

/// `POST /helseid/connect/token`.
pub async fn token_endpoint(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    if !req
        .content_type()
        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    {
        return Err(OAuthError::invalid_request(format!(
            "The token endpoint takes a form: Content-Type must be application/x-www-form-urlencoded, got '{}'",
            req.content_type()
        )));
    }
    let params = FormParams::parse(&body)?;
    let dpop_headers: Vec<_> = req.headers().get_all("DPoP").collect();
    if dpop_headers.len() > 1 {
        return Err(OAuthError::invalid_dpop_proof(
            "Send exactly one DPoP header",
        ));
    }
    let dpop =
        match dpop_headers.first() {
            Some(value) => Some(value.to_str().map_err(|_| {
                OAuthError::invalid_dpop_proof("The DPoP header is not valid text")
            })?),
            None => None,
        };
    let meta = RequestMeta {
        authorization: req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
        dpop,
        urls: request_urls(&req, &state.helseid.endpoints.token),
    };
    let now = state.clock.now();
    match issue(&state, &params, &meta, now) {
        Ok(response) => {
            let mut builder = HttpResponse::Ok();
            builder
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .insert_header((header::PRAGMA, "no-cache"));
            if meta.dpop.is_some() {
                builder.insert_header(("DPoP-Nonce", state.helseid.nonces.issue(now)));
            }
            Ok(builder.json(response))
        }
        Err(error) if error.code == OAuthErrorCode::UseDpopNonce => {
            Err(error.with_dpop_nonce(state.helseid.nonces.issue(now)))
        }
        Err(error) => Err(error),
    }
}

/// Any other method than POST: Duende answers `invalid_request`.
pub async fn wrong_method(req: HttpRequest) -> HttpResponse {
    OAuthError::invalid_request(format!(
        "The token endpoint accepts only POST with Content-Type application/x-www-form-urlencoded, not {}",
        req.method()
    ))
    .render()
}

/// Decodes a token-request form body (for callers outside HTTP, such as `helsesim token --local`).
pub fn parse_form(body: &[u8]) -> Result<FormParams, OAuthError> {
    FormParams::parse(body)
}

/// The public URL of the endpoint, and the URL as the client reached it (for DPoP `htu`).
pub fn request_urls(req: &HttpRequest, public: &str) -> Vec<String> {
    let info = req.connection_info();
    let reached = format!("{}://{}{}", info.scheme(), info.host(), req.path());
    if reached == public {
        vec![public.to_owned()]
    } else {
        vec![public.to_owned(), reached]
    }
}

/// The token endpoint's rules: client authentication, DPoP, then the grant.
pub fn issue(
    state: &AppState,
    params: &FormParams,
    meta: &RequestMeta<'_>,
    now: DateTime<Utc>,
) -> Result<TokenResponse, OAuthError> {
    let runtime = &state.helseid;
    let (client, resources) = {
        let store = state.store.helseid();
        let client = client_auth::authenticate(
            params,
            meta.authorization,
            &store,
            &runtime.endpoints,
            &runtime.assertion_jtis,
            now,
        )?;
        (client, store.resources.clone())
    };

    let proof = match meta.dpop {
        Some(proof) => match check_proof(state, proof, &meta.urls, now) {
            Ok(proof) => Some(proof),
            // The retry after use_dpop_nonce may resend the same client assertion.
            Err(error) if error.code == OAuthErrorCode::UseDpopNonce => return Err(error),
            Err(error) => {
                record_assertion(state, &client, now)?;
                return Err(error);
            }
        },
        None => None,
    };
    record_assertion(state, &client, now)?;
    if let Some(proof) = &proof
        && !runtime
            .proof_jtis
            .insert(&proof.jti, proof.remember_until, now)
    {
        return Err(OAuthError::invalid_dpop_proof(
            "The DPoP proof has been used before: create a new proof (new jti) for every request",
        ));
    }
    if proof.is_none() && client.client.entry.require_dpop {
        return Err(OAuthError::invalid_request(
            "This client requires DPoP-bound tokens: send a DPoP proof in the DPoP header",
        ));
    }

    match params.get("grant_type") {
        Some("client_credentials") => {
            let claims = client_credentials(
                state,
                &client,
                params,
                &resources,
                proof.map(|p| p.jkt),
                now,
            )?;
            let token = state.keys.signer.sign("at+jwt", &claims).map_err(|e| {
                OAuthError::new(OAuthErrorCode::ServerError, e.to_string())
                    .with_status(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR)
            })?;
            Ok(TokenResponse {
                access_token: token,
                token_type: if claims.cnf.is_some() {
                    "DPoP"
                } else {
                    "Bearer"
                },
                expires_in: claims.exp - claims.iat,
                scope: claims.scope.join(" "),
            })
        }
        Some(other) if GRANT_TYPES.contains(&other) => Err(OAuthError::new(
            OAuthErrorCode::UnsupportedGrantType,
            format!("helsesim does not support the grant type '{other}' yet"),
        )),
        Some(other) => Err(OAuthError::new(
            OAuthErrorCode::UnsupportedGrantType,
            format!(
                "Unknown grant_type '{other}'; HelseID supports {}",
                GRANT_TYPES.join(", ")
            ),
        )),
        None => Err(OAuthError::new(
            OAuthErrorCode::UnsupportedGrantType,
            "grant_type is missing",
        )),
    }
}

fn record_assertion(
    state: &AppState,
    client: &AuthenticatedClient,
    now: DateTime<Utc>,
) -> Result<(), OAuthError> {
    if state
        .helseid
        .assertion_jtis
        .insert(&client.jti, client.remember_until, now)
    {
        Ok(())
    } else {
        Err(client_auth::replayed_assertion())
    }
}

fn check_proof(
    state: &AppState,
    proof: &str,
    urls: &[String],
    now: DateTime<Utc>,
) -> Result<ValidProof, OAuthError> {
    let expected = ProofExpectations {
        method: "POST",
        urls,
        access_token: None,
        nonces: Some(&state.helseid.nonces),
    };
    let proof = validate_proof(proof, &expected, now).map_err(|e| match e {
        ProofError::Invalid(m) => OAuthError::invalid_dpop_proof(m),
        ProofError::UseNonce(m) => OAuthError::new(OAuthErrorCode::UseDpopNonce, m),
    })?;
    if state.helseid.proof_jtis.contains(&proof.jti, now) {
        return Err(OAuthError::invalid_dpop_proof(
            "The DPoP proof has been used before: create a new proof (new jti) for every request",
        ));
    }
    Ok(proof)
}

/// The client_credentials grant: one audience, scopes the client is allowed, its organisation.
fn client_credentials(
    state: &AppState,
    authenticated: &AuthenticatedClient,
    params: &FormParams,
    resources: &ApiResources,
    jkt: Option<String>,
    now: DateTime<Utc>,
) -> Result<SystemTokenClaims, OAuthError> {
    let client = &authenticated.client;
    let scopes = requested_scopes(params)?;
    let audience = audience_of(&scopes, client.id(), resources, |s| client.allows_scope(s))?;
    let resource_params = params.all("resource");
    match resource_params.as_slice() {
        [] => {}
        [resource] if *resource == audience => {}
        [resource] => {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidTarget,
                format!(
                    "The resource '{resource}' does not match the audience '{audience}' of the requested scopes"
                ),
            ));
        }
        _ => {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidTarget,
                "A client_credentials request names at most one resource: HelseID issues tokens with one audience",
            ));
        }
    }
    let org = tenancy::resolve(client, &authenticated.assertion)?;
    let lifetime = TimeDelta::seconds(i64::from(client.access_token_lifetime()));
    let sfm_id = (audience == SFM_AUDIENCE)
        .then(|| client.entry.sfm_id.clone())
        .flatten();
    Ok(SystemTokenClaims {
        iss: state.helseid.endpoints.issuer.clone(),
        nbf: now.timestamp(),
        iat: now.timestamp(),
        exp: (now + lifetime).timestamp(),
        aud: audience,
        scope: scopes,
        client_id: client.id().to_owned(),
        client_amr: "private_key_jwt".to_owned(),
        orgnr_parent: org.parent,
        orgnr_child: org.child,
        orgnr_supplier: org.supplier,
        client_key_amr: authenticated.key_amr.to_owned(),
        client_tenancy: client.entry.tenancy.as_str().to_owned(),
        sfm_id,
        journal_id: org.journal_id,
        jti: random::hex_id(),
        cnf: jkt.map(|jkt| Confirmation { jkt }),
    })
}

/// The `scope` parameter split into distinct scopes, in request order.
fn requested_scopes(params: &FormParams) -> Result<Vec<String>, OAuthError> {
    let mut scopes: Vec<String> = Vec::new();
    for scope in params.get("scope").unwrap_or_default().split_whitespace() {
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    if scopes.is_empty() {
        return Err(OAuthError::invalid_scope(
            "No scope requested: ask for the API scope the token is for, e.g. scope=e-helse:sfm.api/sfm.api",
        ));
    }
    Ok(scopes)
}

/// Checks every scope (known, not an identity scope, allowed) and that all share one audience.
pub fn audience_of(
    scopes: &[String],
    client_id: &str,
    resources: &ApiResources,
    allowed: impl Fn(&str) -> bool,
) -> Result<String, OAuthError> {
    let mut audiences: Vec<&str> = Vec::new();
    for scope in scopes {
        if IDENTITY_SCOPES.contains(&scope.as_str()) {
            return Err(OAuthError::invalid_scope(format!(
                "The identity scope '{scope}' cannot be requested with client_credentials (machine-to-machine): ask only for API scopes"
            )));
        }
        let resource = resources
            .resource_of(scope)
            .ok_or_else(|| OAuthError::invalid_scope(format!("Unknown scope '{scope}'")))?;
        if !allowed(scope) {
            return Err(OAuthError::invalid_scope(format!(
                "The client '{client_id}' is not allowed the scope '{scope}'"
            )));
        }
        if !audiences.contains(&resource.name.as_str()) {
            audiences.push(&resource.name);
        }
    }
    match audiences.as_slice() {
        [one] => Ok((*one).to_owned()),
        many => Err(OAuthError::invalid_scope(format!(
            "The requested scopes belong to several APIs ({}): HelseID issues tokens with a single audience, so ask for one token per API",
            many.join(", ")
        ))),
    }
}
