//! `POST /helseid/connect/token`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};

use std::sync::Arc;

use super::State;
use super::client_auth::{self, AuthenticatedClient};
use super::discovery::GRANT_TYPES;
pub use super::form::FormParams;
use super::form::read_form;
pub use super::grants::TokenResponse;
use super::grants::{self, GrantContext};
use super::model::ApiResources;
use crate::auth::dpop::{ProofError, ProofExpectations, ValidProof, validate_proof};
use crate::errors::oauth::{OAuthError, OAuthErrorCode};

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

impl<'a> RequestMeta<'a> {
    /// The `Authorization` and `DPoP` headers of a request to the endpoint at `public_url`.
    pub fn of(req: &'a HttpRequest, public_url: &str) -> Result<Self, OAuthError> {
        Ok(Self {
            authorization: req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok()),
            dpop: single_dpop_header(req)?,
            urls: crate::auth::http::proof_urls(public_url),
        })
    }
}

/// `POST /helseid/connect/token`.
pub async fn token_endpoint(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<State>,
) -> Result<HttpResponse, OAuthError> {
    let params = read_form(&req, &body, "token")?;
    let meta = RequestMeta::of(&req, &state.endpoints.token)?;
    let now = state.clock.now();
    match issue(&state, &params, &meta, now) {
        Ok(response) => {
            let mut builder = HttpResponse::Ok();
            builder
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .insert_header((header::PRAGMA, "no-cache"));
            if meta.dpop.is_some() {
                builder.insert_header(("DPoP-Nonce", state.nonces.issue(now)));
            }
            Ok(builder.json(response))
        }
        Err(error) if error.code == OAuthErrorCode::UseDpopNonce => {
            Err(error.with_dpop_nonce(state.nonces.issue(now)))
        }
        Err(error) => Err(error),
    }
}

/// The `DPoP` header, if any; more than one is an error.
pub fn single_dpop_header(req: &HttpRequest) -> Result<Option<&str>, OAuthError> {
    let mut headers = req.headers().get_all("DPoP");
    let first = headers.next();
    if headers.next().is_some() {
        return Err(OAuthError::invalid_dpop_proof(
            "Send exactly one DPoP header",
        ));
    }
    first
        .map(|value| {
            value
                .to_str()
                .map_err(|_| OAuthError::invalid_dpop_proof("The DPoP header is not valid text"))
        })
        .transpose()
}

/// Any other method than POST: Duende answers `invalid_request`.
pub async fn wrong_method(req: HttpRequest) -> HttpResponse {
    OAuthError::invalid_request(format!(
        "The token endpoint accepts only POST with Content-Type application/x-www-form-urlencoded, \
         not {}",
        req.method()
    ))
    .render()
}

/// Decodes a token-request form body (for callers outside HTTP, such as `helsesim token --local`).
pub fn parse_form(body: &[u8]) -> Result<FormParams, OAuthError> {
    FormParams::parse(body)
}

/// Authenticates the client (private_key_jwt) of a request that takes no DPoP proof, and
/// records its assertion as used.
pub fn authenticate_client(
    state: &State,
    params: &FormParams,
    authorization: Option<&str>,
    now: DateTime<Utc>,
) -> Result<AuthenticatedClient, OAuthError> {
    let client = {
        let store = state.store();
        client_auth::authenticate(
            params,
            authorization,
            &store,
            &state.endpoints,
            &state.assertion_jtis,
            now,
        )?
    };
    record_assertion(state, &client, now)?;
    Ok(client)
}

/// Authenticates the client of a request to `endpoint` (token, PAR) and checks its DPoP proof,
/// if one is sent.
/// The client assertion and proof are recorded as used unless the answer is `use_dpop_nonce`,
/// so that the retry with the nonce may resend the same assertion.
pub fn authenticate(
    state: &State,
    params: &FormParams,
    meta: &RequestMeta<'_>,
    now: DateTime<Utc>,
) -> Result<(AuthenticatedClient, Option<ValidProof>, Arc<ApiResources>), OAuthError> {
    let runtime = state;
    let (client, resources) = {
        let store = state.store();
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
    Ok((client, proof, resources))
}

/// The token endpoint's rules: client authentication, DPoP, then the grant.
pub fn issue(
    state: &State,
    params: &FormParams,
    meta: &RequestMeta<'_>,
    now: DateTime<Utc>,
) -> Result<TokenResponse, OAuthError> {
    let (client, proof, resources) = authenticate(state, params, meta, now)?;
    // Enforced here and not at PAR, where DPoP stays optional (a client may bind its code with
    // `dpop_jkt` instead, RFC 9449 §10.1), as Duende does.
    if proof.is_none() && client.client.entry.require_dpop {
        return Err(OAuthError::invalid_request(
            "This client requires DPoP-bound tokens: send a DPoP proof in the DPoP header",
        ));
    }
    let ctx = GrantContext {
        state,
        client: &client,
        params,
        resources: &resources,
        proof: proof.as_ref(),
        now,
    };
    match params.get("grant_type") {
        Some("client_credentials") => grants::client_credentials(&ctx),
        Some("authorization_code") => grants::authorization_code(&ctx),
        Some("refresh_token") => grants::refresh_token(&ctx),
        Some(grants::TOKEN_EXCHANGE) => grants::token_exchange(&ctx),
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
    state: &State,
    client: &AuthenticatedClient,
    now: DateTime<Utc>,
) -> Result<(), OAuthError> {
    if state
        .assertion_jtis
        .insert(&client.jti, client.remember_until, now)
    {
        Ok(())
    } else {
        Err(client_auth::replayed_assertion())
    }
}

fn check_proof(
    state: &State,
    proof: &str,
    urls: &[String],
    now: DateTime<Utc>,
) -> Result<ValidProof, OAuthError> {
    let expected = ProofExpectations {
        method: "POST",
        urls,
        access_token: None,
        nonces: Some(&state.nonces),
    };
    let proof = validate_proof(proof, &expected, now).map_err(|e| match e {
        ProofError::Invalid(m) => OAuthError::invalid_dpop_proof(m),
        ProofError::UseNonce(m) => OAuthError::new(OAuthErrorCode::UseDpopNonce, m),
    })?;
    if state.proof_jtis.contains(&proof.jti, now) {
        return Err(OAuthError::invalid_dpop_proof(
            "The DPoP proof has been used before: create a new proof (new jti) for every request",
        ));
    }
    Ok(proof)
}
