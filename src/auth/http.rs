//! Verifying the access token of an HTTP request: its `Authorization` and `DPoP` headers, its
//! method, and the URL a DPoP proof must name (the endpoint's public URL).

use std::sync::Arc;

use actix_web::HttpRequest;
use actix_web::http::header;
use chrono::{DateTime, Utc};

use super::{AuthError, RequestParts, Requirements, TokenVerifier, VerifiedToken};
use crate::clock::Clock;

/// What an API needs to check a request's token: HelseID's verifier (shared by every API, so a
/// DPoP proof is used once across them), the clock its errors name, and the public base URL
/// its endpoints' DPoP proofs must name. Built once at start-up and handed to each service.
#[derive(Debug, Clone)]
pub struct ApiVerifier {
    tokens: Arc<TokenVerifier>,
    clock: Clock,
    base_url: String,
}

impl ApiVerifier {
    /// A verifier for the APIs under `base_url` (no trailing slash).
    pub fn new(tokens: Arc<TokenVerifier>, clock: Clock, base_url: String) -> Self {
        Self {
            tokens,
            clock,
            base_url,
        }
    }

    /// Checks the request's token against `required`; `public` is the endpoint's public URL.
    pub fn verify_request(
        &self,
        req: &HttpRequest,
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
        self.tokens
            .verify(&parts, required, now)
            .map_err(|e| e.with_clock(now, self.clock.offset()))
    }

    /// [`Self::verify_request`] for an API endpoint under helsesim's public base URL.
    pub fn verify_api_request(
        &self,
        req: &HttpRequest,
        required: &Requirements<'_>,
        now: DateTime<Utc>,
    ) -> Result<VerifiedToken, AuthError> {
        let public = format!("{}{}", self.base_url, req.path());
        self.verify_request(req, &public, required, now)
    }
}

/// The scheme of the request's `Authorization` header, for the challenge of a refusal.
pub fn request_scheme(req: &HttpRequest) -> Option<super::Scheme> {
    super::Scheme::of(
        req.headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    )
}

/// The URLs a DPoP proof's `htu` may name: the endpoint's public URL only. The URL as the client
/// reached it (its `Host` or `X-Forwarded-Host`) is not trusted: a proof made for another host
/// must not pass.
pub fn proof_urls(public: &str) -> Vec<String> {
    vec![public.to_owned()]
}
