//! `GET|POST /helseid/connect/endsession` (OpenID Connect RP-initiated logout).

use actix_web::cookie::Cookie;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value};

use super::State;
use super::form::{FormParams, browser_params};
use super::login::SESSION_COOKIE;
use crate::ui;

/// What a checked logout request asks for.
#[derive(Debug, PartialEq, Eq)]
struct Logout {
    /// The registered post-logout redirect URI to send the browser back to, if any.
    redirect: Option<String>,
    /// The client's `state`, echoed on that redirect.
    state: Option<String>,
    /// The session to end: the id token's `sid`, else the session cookie's.
    sid: Option<String>,
}

/// Ends the browser session: `id_token_hint` names the client (and session), an optional
/// `post_logout_redirect_uri` registered for that client gets the browser back, with `state`.
pub async fn end_session(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<State>,
) -> HttpResponse {
    let logout = match read_logout(&req, &body, &state) {
        Ok(logout) => logout,
        Err(message) => {
            return ui::error_page(StatusCode::BAD_REQUEST, "invalid_request", &message);
        }
    };
    if let Some(sid) = &logout.sid {
        state.flows(state.clock.now()).sessions.remove(sid);
    }
    logged_out(&logout)
}

/// The logout request: its parameters, its `id_token_hint` (signed by this HelseID), checked.
fn read_logout(req: &HttpRequest, body: &[u8], state: &State) -> Result<Logout, String> {
    let params = browser_params(req, body).map_err(|error| error.description)?;
    let hint = match params.get("id_token_hint") {
        Some(token) => Some(state.tokens.verify_signed(token).map_err(|error| {
            format!("id_token_hint is not an id token from this HelseID: {error}")
        })?),
        None => None,
    };
    let cookie_sid = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
    decide_logout(&params, hint.as_deref(), cookie_sid, |client_id, uri| {
        state.store().clients.get(client_id).is_some_and(|c| {
            c.entry
                .post_logout_redirect_uris
                .iter()
                .any(|u| super::model::is_registered_uri(u, uri, &state.endpoints.base))
        })
    })
}

/// Decides a logout: the client (the id token's audience, which a `client_id` must match), the
/// post-logout redirect URI (`registered` for that client) and the session to end.
fn decide_logout(
    params: &FormParams,
    hint: Option<&Map<String, Value>>,
    cookie_sid: Option<String>,
    registered: impl Fn(&str, &str) -> bool,
) -> Result<Logout, String> {
    let hint_claim = |name: &str| {
        hint.and_then(|claims| claims.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let client_id = match (hint_claim("aud"), params.get("client_id")) {
        (Some(from_hint), Some(param)) if from_hint != param => {
            return Err(format!(
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
                return Err(
                    "post_logout_redirect_uri needs id_token_hint (or client_id) to know the \
                     client"
                        .to_owned(),
                );
            };
            if !registered(client_id, uri) {
                return Err(format!(
                    "post_logout_redirect_uri '{uri}' is not registered for client '{client_id}'"
                ));
            }
            Some(uri.to_owned())
        }
    };
    Ok(Logout {
        redirect,
        state: params.get("state").map(str::to_owned),
        sid: hint_claim("sid").or(cookie_sid),
    })
}

/// The answer: back to the post-logout redirect URI (with `state`), else the logged-out page;
/// the session cookie cleared either way.
fn logged_out(logout: &Logout) -> HttpResponse {
    let mut response = match logout.redirect.as_deref().map(url::Url::parse) {
        Some(Ok(mut url)) => {
            if let Some(client_state) = &logout.state {
                url.query_pairs_mut().append_pair("state", client_state);
            }
            HttpResponse::Found()
                .insert_header((header::LOCATION, url.as_str()))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish()
        }
        Some(Err(_)) | None => ui::logged_out(),
    };
    let mut expired = Cookie::build(SESSION_COOKIE, "").path("/helseid").finish();
    expired.make_removal();
    if let Err(e) = response.add_cookie(&expired) {
        log::warn!("could not clear the session cookie: {e}");
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decide(form: &str, hint: Option<Value>, cookie: Option<&str>) -> Result<Logout, String> {
        let params = FormParams::parse(form.as_bytes()).unwrap();
        let hint = hint.and_then(|h| h.as_object().cloned());
        decide_logout(
            &params,
            hint.as_ref(),
            cookie.map(str::to_owned),
            |client, uri| client == "ehr" && uri == "https://ehr.example/out",
        )
    }

    #[test]
    fn the_id_token_names_the_client_and_the_session() {
        let hint = json!({"aud": "ehr", "sid": "from-token"});
        let logout = decide(
            "post_logout_redirect_uri=https://ehr.example/out&state=s",
            Some(hint.clone()),
            Some("from-cookie"),
        )
        .unwrap();
        assert_eq!(
            logout,
            Logout {
                redirect: Some("https://ehr.example/out".to_owned()),
                state: Some("s".to_owned()),
                sid: Some("from-token".to_owned()),
            }
        );
        assert_eq!(
            decide("client_id=other", Some(hint), None).unwrap_err(),
            "client_id 'other' is not the audience of the id_token_hint ('ehr')"
        );
    }

    #[test]
    fn a_redirect_needs_a_known_client_that_registered_it() {
        assert_eq!(
            decide(
                "post_logout_redirect_uri=https://ehr.example/out",
                None,
                None
            )
            .unwrap_err(),
            "post_logout_redirect_uri needs id_token_hint (or client_id) to know the client"
        );
        assert_eq!(
            decide(
                "client_id=ehr&post_logout_redirect_uri=https://x.example/",
                None,
                None
            )
            .unwrap_err(),
            "post_logout_redirect_uri 'https://x.example/' is not registered for client 'ehr'"
        );
        let logout = decide("client_id=ehr", None, Some("from-cookie")).unwrap();
        assert_eq!(logout.redirect, None);
        assert_eq!(logout.sid.as_deref(), Some("from-cookie"));
    }
}
