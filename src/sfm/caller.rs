//! Who calls SFM: a HelseID token for `e-helse:sfm.api` names the tenant (`sfm-id` for
//! single-tenant clients, `nhn:sfm:journal-id` for multi-tenant ones) and the user (`pid`).

use actix_web::HttpRequest;
use chrono::{DateTime, Utc};

use crate::auth::http::verify_api_request;
use crate::auth::{AuthError, DpopPolicy, Requirements};
use crate::helseid::claims::{CLIENT_TENANCY, JOURNAL_ID, PID, SFM_AUDIENCE, SFM_ID};
use crate::state::AppState;

/// The scope every SFM call needs.
pub const SFM_SCOPE: &str = "e-helse:sfm.api/sfm.api";

/// An authenticated SFM caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The tenant the token names.
    pub tenant_id: String,
    /// The user's national identity number.
    pub pid: String,
    /// `orgnr_parent`.
    pub orgnr_parent: Option<String>,
    /// `orgnr_child`.
    pub orgnr_child: Option<String>,
    /// The user's HPR number (authorised health professionals).
    pub hpr: Option<String>,
}

/// Why a caller was refused before reaching a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No valid token.
    Token(AuthError),
    /// A valid token that names no tenant or no user.
    Incomplete(String),
}

impl Refusal {
    /// The message.
    pub fn message(&self) -> String {
        match self {
            Refusal::Token(e) => e.to_string(),
            Refusal::Incomplete(m) => m.clone(),
        }
    }

    /// The `WWW-Authenticate` challenge.
    pub fn challenge(&self) -> String {
        match self {
            Refusal::Token(e) => e.www_authenticate(DpopPolicy::Allowed),
            Refusal::Incomplete(m) => format!(
                "Bearer error=\"invalid_token\", error_description=\"{}\"",
                m.replace('"', "'")
            ),
        }
    }
}

/// Authenticates an SFM request (bearer or DPoP token).
pub fn authenticate(
    req: &HttpRequest,
    state: &AppState,
    now: DateTime<Utc>,
) -> Result<Caller, Refusal> {
    let required = Requirements {
        audience: Some(SFM_AUDIENCE),
        any_scope: &[SFM_SCOPE],
        single_audience: false,
        dpop: DpopPolicy::Allowed,
    };
    let token = verify_api_request(req, state, &required, now).map_err(Refusal::Token)?;
    let multi_tenant = token.claim_str(CLIENT_TENANCY) == Some("multi-tenant");
    let tenant_id = if multi_tenant {
        token.claim_str(JOURNAL_ID).ok_or_else(|| {
            Refusal::Incomplete(format!(
                "The token names no SFM instance: a multi-tenant client names it with {JOURNAL_ID} (in the client assertion's assertion_details, or in the login's authorization_details)"
            ))
        })?
    } else {
        token.claim_str(SFM_ID).ok_or_else(|| {
            Refusal::Incomplete(format!(
                "The token names no SFM instance: a single-tenant client's token carries {SFM_ID} (set sfm_id on the HelseID client)"
            ))
        })?
    };
    let pid = token.claim_str(PID).ok_or_else(|| {
        Refusal::Incomplete(format!(
            "SFM needs a user token: the token has no {PID} (log the user in, with the scope helseid://scopes/identity/pid)"
        ))
    })?;
    Ok(Caller {
        tenant_id: tenant_id.to_owned(),
        pid: pid.to_owned(),
        orgnr_parent: token
            .claim_str(crate::helseid::claims::ORGNR_PARENT)
            .map(str::to_owned),
        orgnr_child: token
            .claim_str(crate::helseid::claims::ORGNR_CHILD)
            .map(str::to_owned),
        hpr: token
            .claim_str(crate::helseid::claims::HPR_NUMBER)
            .map(str::to_owned),
    })
}
