//! Verifying the access token of an HTTP request: its `Authorization` and `DPoP` headers, its
//! method, and the URL a DPoP proof must name (the endpoint's public URL).

use actix_web::HttpRequest;
use actix_web::http::header;
use chrono::{DateTime, Utc};

use super::{AuthError, RequestParts, Requirements, VerifiedToken};
use crate::helseid::token::proof_urls;
use crate::state::AppState;

/// Checks the request's token against `required`; `public` is the endpoint's public URL.
pub fn verify_request(
    req: &HttpRequest,
    state: &AppState,
    public: &str,
    required: &Requirements<'_>,
    now: DateTime<Utc>,
) -> Result<VerifiedToken, AuthError> {
    let urls = proof_urls(public);
    // RFC 9449 §4.3: exactly one DPoP header; a header that is not ASCII text is no proof.
    let mut proofs = req.headers().get_all("DPoP");
    let dpop = proofs.next();
    if proofs.next().is_some() {
        return Err(AuthError::InvalidProof(
            "Send exactly one DPoP header (RFC 9449 section 4.3): this request has several"
                .to_owned(),
        ));
    }
    let dpop = dpop
        .map(|v| {
            v.to_str().map_err(|_| {
                AuthError::InvalidProof("The DPoP header is not ASCII text".to_owned())
            })
        })
        .transpose()?;
    let parts = RequestParts {
        authorization: req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
        dpop,
        method: req.method().as_str(),
        urls: &urls,
    };
    state
        .tokens
        .verify(&parts, required, now)
        .map_err(|e| e.with_clock(now, state.clock.offset()))
}

/// [`verify_request`] for an API endpoint under helsesim's public base URL.
pub fn verify_api_request(
    req: &HttpRequest,
    state: &AppState,
    required: &Requirements<'_>,
    now: DateTime<Utc>,
) -> Result<VerifiedToken, AuthError> {
    let public = format!("{}{}", state.base_url, req.path());
    verify_request(req, state, &public, required, now)
}

/// The scheme of the request's `Authorization` header, for the challenge of a refusal.
pub fn request_scheme(req: &HttpRequest) -> Option<super::Scheme> {
    super::Scheme::of(
        req.headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    )
}
