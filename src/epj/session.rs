//! The demo EHR's server-side sessions: the browser holds only an HttpOnly cookie; the tokens,
//! the DPoP key and the national sessions stay here, as HelseID and SFM require of a web EHR.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};
use chrono::{DateTime, Utc};

use crate::commands::token::DpopKey;
use crate::random;

/// The session cookie.
pub const COOKIE: &str = "helsesim.epj";

/// A login on its way through HelseID.
#[derive(Debug, Clone)]
pub struct PendingLogin {
    /// The `state` sent.
    pub state: String,
    /// The PKCE verifier.
    pub verifier: String,
}

/// The logged-in clinician.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Clinician {
    /// Full name.
    pub name: String,
    /// Fødselsnummer.
    pub pid: String,
    /// HPR number.
    pub hpr_number: Option<String>,
}

/// What the backend keeps of a logged-in clinician.
pub struct Login {
    /// Who.
    pub clinician: Clinician,
    /// The SFM access token (Bearer).
    pub sfm_token: String,
    /// The Kjernejournal access token, DPoP-bound to `dpop`.
    pub kj_token: String,
    /// The current refresh token.
    pub refresh_token: Option<String>,
    /// The id token, for logging out of HelseID.
    pub id_token: Option<String>,
    /// The session's DPoP key.
    pub dpop: DpopKey,
    /// Kjernejournal Innlogging's session per patient.
    pub kj_sessions: HashMap<String, String>,
    /// When the first of the access tokens expires.
    pub expires: DateTime<Utc>,
    /// A renewal is under way (the refresh token rotates: one renewal at a time).
    pub renewing: bool,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("clinician", &self.clinician)
            .finish_non_exhaustive()
    }
}

/// A browser's session.
#[derive(Debug, Default)]
pub struct Session {
    /// A login in progress.
    pub pending: Option<PendingLogin>,
    /// The clinician, once logged in.
    pub login: Option<Login>,
}

/// Every browser's session, by cookie value.
#[derive(Debug, Default)]
pub struct Sessions(Mutex<HashMap<String, Session>>);

impl Sessions {
    /// Every session.
    pub fn lock(&self) -> MutexGuard<'_, HashMap<String, Session>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The request's session id, if it has a known one.
    pub fn id_of(&self, req: &HttpRequest) -> Option<String> {
        let id = req.cookie(COOKIE)?.value().to_owned();
        self.lock().contains_key(&id).then_some(id)
    }

    /// A new session; its id.
    pub fn create(&self) -> String {
        let id = random::url_token(32);
        self.lock().insert(id.clone(), Session::default());
        id
    }
}

/// The cookie carrying session `id`.
pub fn cookie(id: &str) -> Cookie<'static> {
    Cookie::build(COOKIE, id.to_owned())
        .path("/epj")
        .http_only(true)
        .same_site(SameSite::Lax)
        .finish()
}
