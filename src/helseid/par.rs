//! `POST /helseid/connect/par` (RFC 9126): pushed authorization requests.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde_json::json;

use super::State;
use super::flow::{PAR_LIFETIME, REQUEST_URI_PREFIX};
use super::form::{FormParams, read_form};
use super::request;
use super::token::{self, RequestMeta};
use crate::errors::oauth::{OAuthError, OAuthErrorCode};
use crate::random;

/// `POST /helseid/connect/par`: answers 201 `{request_uri, expires_in}`.
pub async fn par_endpoint(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<State>,
) -> Result<HttpResponse, OAuthError> {
    let params = read_form(&req, &body, "PAR")?;
    let meta = RequestMeta::of(&req, &state.endpoints.par)?;
    let now = state.clock.now();
    match push(&state, params, &meta, now) {
        Ok(request_uri) => {
            let mut builder = HttpResponse::build(StatusCode::CREATED);
            builder
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .insert_header((header::PRAGMA, "no-cache"));
            if meta.dpop.is_some() {
                builder.insert_header(("DPoP-Nonce", state.nonces.issue(now)));
            }
            Ok(builder.json(json!({
                "request_uri": request_uri,
                "expires_in": PAR_LIFETIME.num_seconds(),
            })))
        }
        Err(error) if error.code == OAuthErrorCode::UseDpopNonce => {
            Err(error.with_dpop_nonce(state.nonces.issue(now)))
        }
        Err(error) => Err(error),
    }
}

/// Any other method than POST.
pub async fn wrong_method(req: HttpRequest) -> HttpResponse {
    let mut response = OAuthError::invalid_request(format!(
        "The PAR endpoint accepts only POST with Content-Type application/x-www-form-urlencoded, \
         not {}",
        req.method()
    ))
    .with_status(StatusCode::METHOD_NOT_ALLOWED)
    .render();
    // RFC 9110 §15.5.6: a 405 names the methods the resource has.
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

/// The PAR rules: client authentication (and DPoP), the request validated as a whole, stored
/// under a single-use request URI.
pub fn push(
    state: &State,
    mut params: FormParams,
    meta: &RequestMeta<'_>,
    now: DateTime<Utc>,
) -> Result<String, OAuthError> {
    if params.get("request_uri").is_some() {
        return Err(OAuthError::invalid_request(
            "request_uri must not be sent to the PAR endpoint: PAR is what makes one",
        ));
    }
    let (client, proof, resources) = token::authenticate(state, &params, meta, now)?;
    let details =
        request::apply_request_object(&mut params, &client.client, &state.endpoints, now)?;
    let request = request::validate(
        &params,
        &client.client,
        &resources,
        details,
        proof.as_ref().map(|p| p.jkt.as_str()),
        &state.endpoints.base,
    )
    .map_err(request::RequestError::into_oauth)?;
    let request_uri = format!("{REQUEST_URI_PREFIX}{}", random::url_token(32));
    state.flows(now).pushed.insert(
        request_uri.clone(),
        (request, crate::clock::after(now, PAR_LIFETIME)),
    );
    Ok(request_uri)
}
