//! The session service's GUI sessions (`/sfm/api/Session/create | refresh | end`), as NHN's
//! "Integrating with the SFM client" and its sequence diagrams describe them: the EHR creates a
//! session with the user's token and the SHA-512 of a nonce, gets a one-time code and the
//! portals' addresses, keeps the session's token fresh and ends it at logout.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::model::{CODE_LIFETIME, GuiCode, GuiSession, Portal};
use crate::errors::problem::Problem;
use crate::sfm::State;
use crate::sfm::session::{caller_in_tenant, json_body, problem, require_json};

/// The nonce `Session/create` takes: base64 of a SHA-512 hash (64 bytes), standard alphabet.
fn nonce_hash(body: &Map<String, Value>) -> Result<String, Problem> {
    let nonce = body.get("nonce").and_then(Value::as_str).ok_or_else(|| {
        problem(
            StatusCode::BAD_REQUEST,
            "nonce is missing: send base64(SHA-512(the raw bytes of a random nonce))",
        )
    })?;
    match STANDARD.decode(nonce) {
        Ok(bytes) if bytes.len() == 64 => Ok(nonce.to_owned()),
        _ => Err(problem(
            StatusCode::BAD_REQUEST,
            "nonce must be base64(SHA-512(the raw bytes of a random nonce)): 64 bytes in standard \
             base64",
        )),
    }
}

/// Where the GUI's server API and portals are.
pub fn addresses(state: &State) -> (String, Map<String, Value>) {
    let metadata = Portal::ALL
        .into_iter()
        .map(|p| {
            (
                p.metadata_key().to_owned(),
                json!(format!("{}/sfm/client/{}", state.base_url, p.segment())),
            )
        })
        .collect();
    (format!("{}/sfm/server/", state.base_url), metadata)
}

/// `POST /sfm/api/Session/create`: the user's session in the organisation (a new one, or the
/// one the user already has, bound to this token) and a new one-time code for the nonce.
pub async fn create(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<State>,
) -> Result<HttpResponse, Problem> {
    let now = state.clock.now();
    let caller = caller_in_tenant(&req, &state, now)?;
    require_json(&req)?;
    let nonce_hash = nonce_hash(&json_body(&body)?)?;
    let code = crate::random::base64_token(64);
    let mut sfm = state.store_mut();
    let gui = &mut sfm.gui;
    gui.sweep(now);
    let id = match gui.session_of(&caller.tenant_id, &caller.pid) {
        Some(session) => {
            session.bind(&caller);
            session.id.clone()
        }
        None => {
            let mut session = GuiSession {
                id: crate::random::base64_token(64),
                tenant_id: caller.tenant_id.clone(),
                pid: caller.pid.clone(),
                hpr: None,
                orgnr_parent: None,
                orgnr_child: None,
                client_id: None,
                token_expires: None,
                created: now,
                clients: Vec::new(),
            };
            session.bind(&caller);
            let id = session.id.clone();
            gui.sessions.insert(id.clone(), session);
            id
        }
    };
    gui.codes.insert(
        code.clone(),
        GuiCode {
            session_id: id.clone(),
            nonce_hash,
            expires: crate::clock::after(now, CODE_LIFETIME),
            used: None,
        },
    );
    drop(sfm);
    let (api_address, metadata) = addresses(&state);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "id": id,
            "code": code,
            "apiAddress": api_address,
            "metadata": metadata,
        })))
}

/// `POST /sfm/api/Session/refresh` (empty body): binds the presented token — the user's new
/// one — to the user's session, so the GUI keeps working past the old token's expiry.
pub async fn refresh(req: HttpRequest, state: web::Data<State>) -> Result<HttpResponse, Problem> {
    let now = state.clock.now();
    let caller = caller_in_tenant(&req, &state, now)?;
    let mut sfm = state.store_mut();
    let Some(session) = sfm.gui.session_of(&caller.tenant_id, &caller.pid) else {
        return Err(problem(
            StatusCode::NOT_FOUND,
            "There is no SFM session for this user in this organisation to refresh: create one \
             with /api/Session/create (an ended session cannot be refreshed)",
        ));
    };
    session.bind(&caller);
    Ok(HttpResponse::NoContent()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

/// `POST /sfm/api/Session/end`: ends the user's session in the organisation, on every machine:
/// its codes and every logged-in portal stop working (the EHR must create a new session and
/// reload the client).
pub async fn end(req: HttpRequest, state: web::Data<State>) -> Result<HttpResponse, Problem> {
    let now = state.clock.now();
    let caller = caller_in_tenant(&req, &state, now)?;
    state.store_mut().gui.end(&caller.tenant_id, &caller.pid);
    Ok(HttpResponse::NoContent().finish())
}
