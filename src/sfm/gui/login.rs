//! The GUI server API's login (`POST {apiAddress}api/login`): the portal redeems the EHR's
//! one-time code with the plain nonce and names the EHR page's origin; the server checks the
//! code (unknown, expired, already used), the nonce (its SHA-512 must be what `Session/create`
//! got), the origin (the HelseID client's redirect-URI origins, or helsesim's own), and the
//! session's token, then gives the portal its credential.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use aws_lc_rs::digest::{SHA512, digest};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::error::GuiError;
use super::model::{ClientLogin, GuiCode, GuiSession, GuiStore, Portal};
use crate::auth::clients::origin_of;
use crate::sfm::State;
use crate::sfm::model::{DNR_SYSTEM, FNR_SYSTEM, ResourceKind, SfmStore, has_identifier};

/// The body of a GUI API request: a JSON object.
pub fn object(body: &[u8]) -> Result<Map<String, Value>, GuiError> {
    if body.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(GuiError::bad("The body must be a JSON object")),
        Err(e) => Err(GuiError::bad(format!("The body is not valid JSON: {e}"))),
    }
}

/// A required string member.
pub fn text<'a>(body: &'a Map<String, Value>, name: &str, what: &str) -> Result<&'a str, GuiError> {
    match body.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim()),
        _ => Err(GuiError::bad(format!("{name} is missing: {what}"))),
    }
}

/// What a login asks for.
struct LoginRequest {
    code: String,
    nonce: String,
    origin: String,
    portal: Portal,
}

impl LoginRequest {
    fn parse(body: &Map<String, Value>) -> Result<Self, GuiError> {
        let code = text(body, "code", "the one-time code from Session/create")?;
        let nonce = text(
            body,
            "nonce",
            "the plain nonce (base64) whose SHA-512 went to Session/create",
        )?;
        let origin = text(
            body,
            "origin",
            "the origin of the EHR page embedding the portal",
        )?;
        let portal = body
            .get("portal")
            .and_then(Value::as_str)
            .unwrap_or("patient");
        let portal = Portal::parse(portal).ok_or_else(|| {
            GuiError::bad(format!(
                "portal must be patient, health-personnel, enterprise or display, got '{portal}'"
            ))
        })?;
        Ok(Self {
            code: code.to_owned(),
            nonce: nonce.to_owned(),
            origin: origin.to_owned(),
            portal,
        })
    }
}

/// Redeems `code`: single use, within its lifetime. Any attempt uses it up.
fn redeem(gui: &mut GuiStore, code: &str, now: DateTime<Utc>) -> Result<GuiCode, GuiError> {
    let Some(found) = gui.codes.get_mut(code) else {
        return Err(GuiError::bad(
            "The code is unknown: log in with the code of the latest Session/create (an ended \
             session's codes are gone)",
        ));
    };
    if let Some(used) = found.used {
        return Err(GuiError::bad(format!(
            "The code was already used (at {}): a code is single use; create a new one with \
             Session/create",
            used.to_rfc3339()
        )));
    }
    found.used = Some(now);
    if found.expires <= now {
        return Err(GuiError::bad(format!(
            "The code expired at {}: a code lives {} seconds after Session/create",
            found.expires.to_rfc3339(),
            super::model::CODE_LIFETIME.num_seconds()
        )));
    }
    Ok(found.clone())
}

/// Whether the plain `nonce` (base64) hashes to `nonce_hash` (base64 of SHA-512 over the
/// nonce's decoded bytes, as NHN's sample EHR computes it).
pub fn nonce_matches(nonce: &str, nonce_hash: &str) -> Result<bool, GuiError> {
    let raw = STANDARD.decode(nonce).map_err(|_| {
        GuiError::bad(
            "nonce must be the plain nonce in standard base64 (the value whose SHA-512 over its \
             bytes went to Session/create)",
        )
    })?;
    Ok(STANDARD
        .decode(nonce_hash)
        .is_ok_and(|hash| digest(&SHA512, &raw).as_ref() == hash.as_slice()))
}

/// The origins that may embed the GUI for `session`: those of its HelseID client's redirect
/// URIs, and helsesim's own.
fn allowed_origins(state: &State, session: &GuiSession) -> Vec<String> {
    let mut origins: Vec<String> = session
        .client_id
        .as_deref()
        .and_then(|id| state.clients.redirect_uris(id))
        .unwrap_or_default()
        .iter()
        .filter_map(|uri| origin_of(uri))
        .collect();
    origins.extend(origin_of(&state.base_url));
    origins.dedup();
    origins
}

/// Refuses a session whose bound token has expired.
pub fn check_token(session: &GuiSession, now: DateTime<Utc>) -> Result<(), GuiError> {
    match session.token_expires {
        Some(expires) if expires <= now => Err(GuiError::new(
            StatusCode::UNAUTHORIZED,
            format!(
                "The access token bound to the SFM session expired at {}: the EHR must call \
                 Session/refresh with the user's new token",
                expires.to_rfc3339()
            ),
        )),
        _ => Ok(()),
    }
}

/// The checks of a login after its code was redeemed.
fn check_login(
    state: &State,
    session: &GuiSession,
    code: &GuiCode,
    request: &LoginRequest,
    now: DateTime<Utc>,
) -> Result<(), GuiError> {
    if !nonce_matches(&request.nonce, &code.nonce_hash)? {
        return Err(GuiError::bad(
            "The nonce does not match: its SHA-512 is not the hash Session/create got for this \
             code",
        ));
    }
    let allowed = allowed_origins(state, session);
    let origin = origin_of(&request.origin).unwrap_or_else(|| request.origin.clone());
    if !allowed.contains(&origin) {
        return Err(GuiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "The EHR page at {origin} may not embed SFM's GUI for the HelseID client {}: \
                 allowed are the origins of the client's redirect URIs and helsesim's own ({})",
                session.client_id.as_deref().unwrap_or("(none)"),
                allowed.join(", ")
            ),
        ));
    }
    check_token(session, now)
}

/// `POST {apiAddress}api/login`.
pub async fn login(body: web::Bytes, state: web::Data<State>) -> Result<HttpResponse, GuiError> {
    let now = state.clock.now();
    let request = LoginRequest::parse(&object(&body)?)?;
    let mut sfm = state.store_mut();
    let code = redeem(&mut sfm.gui, &request.code, now)?;
    let Some(session) = sfm.gui.sessions.get_mut(&code.session_id) else {
        return Err(ended());
    };
    check_login(&state, session, &code, &request, now)?;
    let token = crate::random::url_token(32);
    session.clients.push(ClientLogin {
        token: token.clone(),
        origin: request.origin.clone(),
        portal: request.portal,
        logged_in: now,
        patient: None,
    });
    let (tenant_id, pid, hpr) = (
        session.tenant_id.clone(),
        session.pid.clone(),
        session.hpr.clone(),
    );
    let (user, organisation) = names(&sfm, &tenant_id, &pid);
    drop(sfm);
    let body = json!({
        "token": token,
        "portal": request.portal,
        "user": {"pid": pid, "name": user, "hpr": hpr},
        "organisation": {"id": tenant_id, "name": organisation},
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body))
}

/// A call whose session has ended.
pub fn ended() -> GuiError {
    GuiError::new(
        StatusCode::UNAUTHORIZED,
        "The SFM session has ended (Session/end) or this portal never logged in: the EHR must \
         create a new session and reload the client",
    )
}

/// The user's and the organisation's names, for the portal's header.
fn names(sfm: &SfmStore, tenant_id: &str, pid: &str) -> (String, String) {
    let tenant = sfm.tenants.get(tenant_id);
    let organisation = tenant
        .and_then(|t| t.organization())
        .and_then(|(_, o)| {
            o.current()
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| tenant_id.to_owned());
    let user = tenant
        .and_then(|t| {
            t.of_kind(ResourceKind::Practitioner)
                .chain(t.of_kind(ResourceKind::Person))
                .find(|(_, r)| has_identifier(&r.current(), &[FNR_SYSTEM, DNR_SYSTEM], pid))
                .and_then(|(_, r)| crate::sfm::session::display_name(&r.current()))
        })
        .unwrap_or_else(|| pid.to_owned());
    (user, organisation)
}

/// The portal a request's `Authorization: Bearer <credential>` names, with its session; the
/// session must be alive and its token fresh.
pub fn logged_in<'a>(
    req: &HttpRequest,
    gui: &'a mut GuiStore,
    now: DateTime<Utc>,
) -> Result<(&'a mut GuiSession, usize), GuiError> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| {
            GuiError::new(
                StatusCode::UNAUTHORIZED,
                "Not logged in: send the credential from api/login as 'Authorization: Bearer \
                 <token>'",
            )
        })?;
    let (session, index) = gui.login_mut(token).ok_or_else(ended)?;
    check_token(session, now)?;
    Ok((session, index))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// NHN's example nonce (SFM.tools' micro-EPJ) and its hash, computed over the decoded bytes.
    #[test]
    fn the_nonce_is_hashed_over_its_decoded_bytes() {
        let nonce = "qkhV08YwfJFk97VB3XP1t6WaZ2OaTMs8Y98HxGJgoHu9VGTrwN6R9te57JeOidhszqgOMpnCv5O6\
                     +X+F/8hWpA==";
        let raw = STANDARD.decode(nonce).unwrap();
        let hash = STANDARD.encode(digest(&SHA512, &raw));
        assert_eq!(nonce_matches(nonce, &hash), Ok(true));
        let over_text = STANDARD.encode(digest(&SHA512, nonce.as_bytes()));
        assert_eq!(nonce_matches(nonce, &over_text), Ok(false));
        assert!(nonce_matches("not base64!", &hash).is_err());
    }
}
