//! `GET|POST /helseid/connect/endsession` (OpenID Connect RP-initiated logout).

use actix_web::cookie::Cookie;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::State;
use super::form::browser_params;
use super::login::SESSION_COOKIE;
use crate::ui;

/// Ends the browser session: `id_token_hint` names the client (and session), an optional
/// `post_logout_redirect_uri` registered for that client gets the browser back, with `state`.
pub async fn end_session(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<State>,
) -> HttpResponse {
    let bad =
        |message: String| ui::error_page(StatusCode::BAD_REQUEST, "invalid_request", &message);
    let params = match browser_params(&req, &body) {
        Ok(params) => params,
        Err(error) => return bad(error.description),
    };
    let now = state.clock.now();
    let hint = match params.get("id_token_hint") {
        Some(token) => match state.tokens.verify_signed(token) {
            Ok(claims) => Some(claims),
            Err(error) => {
                return bad(format!(
                    "id_token_hint is not an id token from this HelseID: {error}"
                ));
            }
        },
        None => None,
    };
    let hint_client = hint
        .as_ref()
        .and_then(|claims| claims.get("aud"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let client_id = match (hint_client, params.get("client_id")) {
        (Some(from_hint), Some(param)) if from_hint != param => {
            return bad(format!(
                "client_id '{param}' is not the audience of the id_token_hint ('{from_hint}')"
            ));
        }
        (Some(from_hint), _) => Some(from_hint),
        (None, param) => param.map(str::to_owned),
    };
    let redirect = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            let Some(client_id) = &client_id else {
                return bad(
                    "post_logout_redirect_uri needs id_token_hint (or client_id) to know the client".to_owned(),
                );
            };
            let registered = state
                .store()
                .clients
                .get(client_id)
                .is_some_and(|c| c.entry.post_logout_redirect_uris.iter().any(|u| u == uri));
            if !registered {
                return bad(format!(
                    "post_logout_redirect_uri '{uri}' is not registered for client '{client_id}'"
                ));
            }
            Some(uri.to_owned())
        }
    };

    let sid = hint
        .as_ref()
        .and_then(|claims| claims.get("sid"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned()));
    if let Some(sid) = sid {
        state.flows(now).sessions.remove(&sid);
    }

    let mut response = match redirect {
        Some(uri) => match url::Url::parse(&uri) {
            Ok(mut url) => {
                if let Some(client_state) = params.get("state") {
                    url.query_pairs_mut().append_pair("state", client_state);
                }
                HttpResponse::Found()
                    .insert_header((header::LOCATION, url.as_str()))
                    .insert_header((header::CACHE_CONTROL, "no-store"))
                    .finish()
            }
            Err(_) => ui::logged_out(),
        },
        None => ui::logged_out(),
    };
    let mut expired = Cookie::build(SESSION_COOKIE, "").path("/helseid").finish();
    expired.make_removal();
    if let Err(e) = response.add_cookie(&expired) {
        log::warn!("could not clear the session cookie: {e}");
    }
    response
}
