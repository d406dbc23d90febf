//! `GET|POST /helseid/connect/userinfo`: the logged-in user's claims for a token with `openid`.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

use super::State;
use super::tokens;
use crate::auth::{self, AuthError, DpopPolicy, Requirements, Scheme};
use crate::errors::oauth::{OAuthError, OAuthErrorCode};

/// `GET|POST /helseid/connect/userinfo` (bearer or DPoP).
pub async fn userinfo(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let now = state.clock.now();
    let required = Requirements {
        audience: None,
        any_scope: &["openid"],
        single_audience: false,
        dpop: DpopPolicy::Allowed,
    };
    let public = state.endpoints.userinfo.clone();
    let used = auth::http::request_scheme(&req);
    let verified = match state.verifier.verify_request(&req, &public, &required, now) {
        Ok(verified) => verified,
        Err(error) => return challenge(&error, used),
    };
    let flows = state.flows(now);
    if verified
        .claim_str("jti")
        .is_some_and(|jti| flows.is_access_revoked(jti, now))
    {
        return challenge(&AuthError::Invalid("it has been revoked".to_owned()), used);
    }
    let Some(user) = verified
        .claim_str("sub")
        .and_then(|sub| flows.known_users.get(sub))
    else {
        return challenge(
            &AuthError::Invalid(
                "it has no logged-in user (sub): userinfo needs a token from a user login"
                    .to_owned(),
            ),
            used,
        );
    };
    let scopes: Vec<String> = auth::scopes(&verified.claims)
        .into_iter()
        .map(str::to_owned)
        .collect();
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(tokens::userinfo_claims(user, &scopes))
}

/// 401 (403 for a missing scope) with the RFC 6750 challenge and an OAuth error body.
fn challenge(error: &AuthError, used: Option<Scheme>) -> HttpResponse {
    let (status, code) = match error {
        AuthError::MissingScope(_) => (StatusCode::FORBIDDEN, OAuthErrorCode::InsufficientScope),
        AuthError::InvalidProof(_) => (StatusCode::UNAUTHORIZED, OAuthErrorCode::InvalidDpopProof),
        _ => (StatusCode::UNAUTHORIZED, OAuthErrorCode::InvalidToken),
    };
    let mut oauth = OAuthError::new(code, error.to_string()).with_status(status);
    oauth.www_authenticate = Some(error.www_authenticate(DpopPolicy::Allowed, used));
    oauth.render()
}
