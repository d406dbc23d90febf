//! `POST /helseid/connect/revocation` (RFC 7009) and `POST /helseid/connect/introspect`
//! (RFC 7662).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::State;
use super::flow::RefreshLookup;
use super::form::read_form;
use super::token::authenticate_client;
use crate::auth;
use crate::errors::oauth::{OAuthError, OAuthErrorCode};

/// `POST /helseid/connect/revocation`: revokes a refresh token (its whole family) or an access
/// token of the authenticated client. Unknown tokens and other clients' tokens are answered 200
/// too (RFC 7009), and left alone.
pub async fn revoke(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<State>,
) -> Result<HttpResponse, OAuthError> {
    let params = read_form(&req, &body, "revocation")?;
    let now = state.clock.now();
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let client = authenticate_client(&state, &params, authorization, now)?;
    let token = params
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    match params.get("token_type_hint") {
        None | Some("refresh_token" | "access_token") => {}
        Some(other) => {
            return Err(OAuthError::new(
                OAuthErrorCode::UnsupportedTokenType,
                format!(
                    "token_type_hint '{other}' is not supported: use refresh_token or access_token"
                ),
            ));
        }
    }
    let mut flows = state.flows(now);
    match flows.lookup_refresh(token) {
        RefreshLookup::Current(family) | RefreshLookup::Rotated(family) => {
            if flows
                .grants
                .get(&family)
                .is_some_and(|g| g.client_id == client.client.id())
            {
                flows.revoke_family(&family);
            }
        }
        RefreshLookup::Unknown => {
            if let Ok(claims) = state.tokens.verify_signed(token)
                && claims.get("client_id").and_then(Value::as_str) == Some(client.client.id())
                && let (Some(jti), Some(exp)) = (
                    claims.get("jti").and_then(Value::as_str),
                    claims.get("exp").and_then(Value::as_i64),
                )
                && let Some(until) = chrono::DateTime::from_timestamp(exp, 0)
            {
                flows.revoked_access.insert(jti.to_owned(), until);
            }
        }
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

/// `POST /helseid/connect/introspect`: an API resource (HTTP Basic with its name and
/// introspection secret) asks whether an access token for it is active.
pub async fn introspect(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<State>,
) -> Result<HttpResponse, OAuthError> {
    let params = read_form(&req, &body, "introspection")?;
    let now = state.clock.now();
    let resource = authenticate_resource(&state, &req)?;
    let token = params
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    let inactive = || {
        HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(json!({"active": false}))
    };
    let Ok(claims) = state.tokens.verify_any(token, now) else {
        return Ok(inactive());
    };
    let mut claims = std::sync::Arc::unwrap_or_clone(claims);
    let revoked = claims
        .get("jti")
        .and_then(Value::as_str)
        .is_some_and(|jti| state.flows(now).is_access_revoked(jti, now));
    if revoked || !auth::audiences(&claims).contains(&resource.as_str()) {
        return Ok(inactive());
    }
    let scope = auth::scopes(&claims).join(" ");
    let token_type = if claims.contains_key("cnf") {
        "DPoP"
    } else {
        "Bearer"
    };
    claims.insert("scope".to_owned(), json!(scope));
    let mut body = Map::new();
    body.insert("active".to_owned(), json!(true));
    body.insert("token_type".to_owned(), json!(token_type));
    body.extend(claims);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body))
}

/// The API resource named by HTTP Basic `name:secret` (each form-urlencoded, RFC 6749 2.3.1).
fn authenticate_resource(state: &State, req: &HttpRequest) -> Result<String, OAuthError> {
    let unauthorized = |message: &str| {
        let mut error = OAuthError::invalid_client(message).with_status(StatusCode::UNAUTHORIZED);
        error.www_authenticate = Some("Basic realm=\"helsesim\"".to_owned());
        error
    };
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(encoded) = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))
    else {
        return Err(unauthorized(
            "The introspection endpoint is for API resources: authenticate with HTTP Basic \
             <resource name>:<introspection secret>",
        ));
    };
    let decoded = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| unauthorized("The Basic credentials are not base64 of name:secret"))?;
    let (name, secret) = decoded
        .split_once(':')
        .ok_or_else(|| unauthorized("The Basic credentials are not base64 of name:secret"))?;
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let (name, secret) = (decode(name), decode(secret));
    let store = state.store();
    match store.resources.by_name(&name) {
        Some(resource)
            if resource.introspection_secret.as_deref().is_some_and(|s| {
                aws_lc_rs::constant_time::verify_slices_are_equal(s.as_bytes(), secret.as_bytes())
                    .is_ok()
            }) =>
        {
            Ok(name)
        }
        _ => Err(unauthorized(
            "Unknown API resource or wrong introspection secret",
        )),
    }
}
