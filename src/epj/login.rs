//! The clinician's HelseID login as a web EHR's backend does it: PAR with PKCE, the trust
//! framework's attest and both APIs as resources; the test IdP's page; the code exchanged for
//! an SFM token, then the refresh token for a DPoP-bound Kjernejournal token; and the logout
//! (SFM's and Kjernejournal's sessions ended, then HelseID's `endsession`).

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::national::{CallError, National};
use super::session::{self, Clinician, Login, PendingLogin};
use super::{Demo, LOGIN_SCOPES};
use crate::commands::token::ephemeral_dpop_key;
use crate::jose::UnverifiedJws;
use crate::random;

fn redirect(to: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, to.to_owned()))
        .finish()
}

/// `GET /epj/login`: pushes the authorization request and sends the browser to HelseID.
pub async fn login(req: HttpRequest, demo: web::Data<Demo>) -> HttpResponse {
    let national = match demo.national() {
        Ok(national) => national,
        Err(reason) => return super::error_page(StatusCode::SERVICE_UNAVAILABLE, reason),
    };
    let id = demo
        .sessions
        .id_of(&req)
        .unwrap_or_else(|| demo.sessions.create());
    let pending = PendingLogin {
        state: random::url_token(16),
        verifier: random::url_token(48),
    };
    match push(national, &pending).await {
        Ok(request_uri) => {
            if let Some(session) = demo.sessions.lock().get_mut(&id) {
                session.pending = Some(pending);
            }
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("client_id", national.client.id())
                .append_pair("request_uri", &request_uri)
                .finish();
            let mut response = redirect(&format!("{}?{query}", national.endpoints.authorize));
            let _ = response.add_cookie(&session::cookie(&id));
            response
        }
        Err(e) => super::error_page(StatusCode::BAD_GATEWAY, &e.to_string()),
    }
}

/// The PAR request; its `request_uri`.
async fn push(national: &National, pending: &PendingLogin) -> Result<String, CallError> {
    let challenge = crate::jose::sha256_b64url(&pending.verifier);
    let redirect_uri = format!("{}/epj/callback", national.base);
    let attest = Value::Array(vec![national.attest()]).to_string();
    let pushed = national
        .helseid_form(
            &national.endpoints.par,
            &[
                ("response_type", "code"),
                ("redirect_uri", &redirect_uri),
                ("scope", LOGIN_SCOPES),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("state", &pending.state),
                ("nonce", &random::url_token(16)),
                ("resource", "e-helse:sfm.api"),
                ("resource", "nhn:kjernejournal"),
                ("authorization_details", &attest),
            ],
            None,
        )
        .await?;
    pushed["request_uri"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| CallError(format!("PAR answered without request_uri: {pushed}")))
}

/// `GET /epj/callback?code=…&state=…`: the tokens, then back to the EHR's page.
pub async fn callback(req: HttpRequest, demo: web::Data<Demo>) -> HttpResponse {
    let national = match demo.national() {
        Ok(national) => national,
        Err(reason) => return super::error_page(StatusCode::SERVICE_UNAVAILABLE, reason),
    };
    let params: HashMap<String, String> =
        url::form_urlencoded::parse(req.query_string().as_bytes())
            .into_owned()
            .collect();
    if let Some(error) = params.get("error") {
        let description = params.get("error_description").cloned().unwrap_or_default();
        return super::error_page(
            StatusCode::BAD_REQUEST,
            &format!("HelseID answered {error}: {description}"),
        );
    }
    let Some(id) = demo.sessions.id_of(&req) else {
        return super::error_page(
            StatusCode::BAD_REQUEST,
            "The login was not started here: start again from /epj/",
        );
    };
    let pending = demo
        .sessions
        .lock()
        .get_mut(&id)
        .and_then(|s| s.pending.take());
    let (Some(pending), Some(code)) = (pending, params.get("code")) else {
        return super::error_page(
            StatusCode::BAD_REQUEST,
            "No login in progress, or no code: start again from /epj/",
        );
    };
    if params.get("state") != Some(&pending.state) {
        return super::error_page(
            StatusCode::BAD_REQUEST,
            "The state does not match the login's: start again",
        );
    }
    match tokens(national, code, &pending.verifier).await {
        Ok(login) => {
            if let Some(session) = demo.sessions.lock().get_mut(&id) {
                session.login = Some(login);
            }
            redirect("/epj/")
        }
        Err(e) => super::error_page(StatusCode::BAD_GATEWAY, &e.to_string()),
    }
}

/// The code for an SFM token; the refresh token for a DPoP-bound Kjernejournal token.
async fn tokens(national: &National, code: &str, verifier: &str) -> Result<Login, CallError> {
    let redirect_uri = format!("{}/epj/callback", national.base);
    let token_endpoint = national.endpoints.token.clone();
    let sfm = national
        .helseid_form(
            &token_endpoint,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &redirect_uri),
                ("code_verifier", verifier),
                ("resource", "e-helse:sfm.api"),
            ],
            None,
        )
        .await?;
    let dpop = ephemeral_dpop_key().map_err(|e| CallError(e.to_string()))?;
    let tokens = super::keepalive::with_kjernejournal(national, &sfm, &dpop).await?;
    let id_token = sfm["id_token"].as_str().map(str::to_owned);
    Ok(Login {
        clinician: clinician(id_token.as_deref().unwrap_or_default()),
        sfm_token: tokens.sfm,
        kj_token: tokens.kj,
        refresh_token: tokens.refresh_token,
        id_token,
        dpop,
        kj_sessions: HashMap::new(),
        expires: tokens.expires,
        renewing: false,
    })
}

/// The clinician an id token names (helsesim's own, just received over its back channel).
fn clinician(id_token: &str) -> Clinician {
    let claims = UnverifiedJws::parse(id_token)
        .map(|jws| jws.claims)
        .unwrap_or_default();
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
    Clinician {
        name: text("name").unwrap_or_default(),
        pid: text(crate::auth::claims::PID).unwrap_or_default(),
        hpr_number: text(crate::auth::claims::HPR_NUMBER),
    }
}

/// `POST /epj/logout`: SFM's session and every Kjernejournal session end, then HelseID's.
pub async fn logout(req: HttpRequest, demo: web::Data<Demo>) -> HttpResponse {
    let login = demo
        .sessions
        .id_of(&req)
        .and_then(|id| demo.sessions.lock().remove(&id))
        .and_then(|s| s.login);
    let (Ok(national), Some(login)) = (demo.national(), login) else {
        return redirect("/epj/");
    };
    end_national_sessions(national, &login).await;
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if let Some(id_token) = &login.id_token {
        query.append_pair("id_token_hint", id_token);
    }
    query.append_pair(
        "post_logout_redirect_uri",
        &format!("{}/epj/", national.base),
    );
    redirect(&format!(
        "{}?{}",
        national.endpoints.end_session,
        query.finish()
    ))
}

/// Ends the clinician's SFM session and Kjernejournal sessions (failures are not the
/// clinician's concern at logout).
async fn end_national_sessions(national: &National, login: &Login) {
    let sfm_end = format!("{}/sfm/api/Session/end", national.base);
    let _ = national
        .post_json(&sfm_end, &login.sfm_token, &serde_json::json!({}), &[])
        .await;
    for session_id in login.kj_sessions.values() {
        let _ = super::api::kj_session_end(national, login, session_id).await;
    }
}
