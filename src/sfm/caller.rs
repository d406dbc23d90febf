//! Who calls SFM: a HelseID token for `e-helse:sfm.api` names the tenant (`sfm-id` for
//! single-tenant clients, `nhn:sfm:journal-id` for multi-tenant ones) and the user (`pid`).

use actix_web::HttpRequest;
use chrono::{DateTime, Utc};

use crate::auth::claims::{CLIENT_TENANCY, JOURNAL_ID, PID, SFM_AUDIENCE, SFM_ID};
use crate::auth::{self, AuthError, DpopPolicy, Requirements, Scheme};
use crate::sfm::State;

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
    /// The HelseID client the token was issued to (`client_id`).
    pub client_id: Option<String>,
    /// When the token expires (`exp`).
    pub expires: Option<DateTime<Utc>>,
}

/// Why a caller was refused before reaching a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No valid token.
    Token(AuthError),
    /// A valid token that names no tenant or no user.
    Incomplete(String),
    /// A valid token SFM does not accept for this instance: a multi-tenant client of a supplier
    /// SFM does not know, or an organisation that is not the instance's (403).
    Forbidden(String),
}

impl Refusal {
    /// The message.
    pub fn message(&self) -> String {
        match self {
            Refusal::Token(e) => e.to_string(),
            Refusal::Incomplete(m) | Refusal::Forbidden(m) => m.clone(),
        }
    }

    /// Whether the refusal is about the token (401) rather than what it may reach (403).
    pub fn is_forbidden(&self) -> bool {
        matches!(self, Refusal::Forbidden(_))
    }

    /// The `WWW-Authenticate` challenge to a request that used `used`.
    pub fn challenge(&self, used: Option<Scheme>) -> String {
        match self {
            Refusal::Token(e) => e.www_authenticate(DpopPolicy::Allowed, used),
            Refusal::Incomplete(m) | Refusal::Forbidden(m) => {
                auth::challenge(used.unwrap_or(Scheme::Bearer), Some("invalid_token"), m)
            }
        }
    }
}

/// Authenticates an SFM request (bearer or DPoP token).
pub fn authenticate(
    req: &HttpRequest,
    state: &State,
    now: DateTime<Utc>,
) -> Result<Caller, Refusal> {
    let required = Requirements {
        audience: Some(SFM_AUDIENCE),
        any_scope: &[SFM_SCOPE],
        single_audience: false,
        dpop: DpopPolicy::Allowed,
    };
    let token = state
        .verifier
        .verify_api_request(req, &required, now)
        .map_err(Refusal::Token)?;
    let multi_tenant = token.claim_str(CLIENT_TENANCY) == Some("multi-tenant");
    let tenant_id = if multi_tenant {
        token.claim_str(JOURNAL_ID).ok_or_else(|| {
            Refusal::Incomplete(format!(
                "The token names no SFM instance: a multi-tenant client names it with {JOURNAL_ID} \
                 (in the client assertion's assertion_details, or in the login's \
                 authorization_details)"
            ))
        })?
    } else {
        token.claim_str(SFM_ID).ok_or_else(|| {
            Refusal::Incomplete(format!(
                "The token names no SFM instance: a single-tenant client's token carries {SFM_ID} \
                 (set sfm_id on the HelseID client)"
            ))
        })?
    };
    let pid = token.claim_str(PID).ok_or_else(|| {
        Refusal::Incomplete(format!(
            "SFM needs a user token: the token has no {PID} (log the user in, with the scope \
             helseid://scopes/identity/pid)"
        ))
    })?;
    let orgnr_parent = token.claim_str(crate::auth::claims::ORGNR_PARENT);
    let orgnr_child = token.claim_str(crate::auth::claims::ORGNR_CHILD);
    if multi_tenant {
        check_multi_tenant(
            state,
            tenant_id,
            token.claim_str(crate::auth::claims::ORGNR_SUPPLIER),
            orgnr_child.or(orgnr_parent),
        )?;
    }
    Ok(Caller {
        tenant_id: tenant_id.to_owned(),
        pid: pid.to_owned(),
        orgnr_parent: token
            .claim_str(crate::auth::claims::ORGNR_PARENT)
            .map(str::to_owned),
        orgnr_child: token
            .claim_str(crate::auth::claims::ORGNR_CHILD)
            .map(str::to_owned),
        hpr: token
            .claim_str(crate::auth::claims::HPR_NUMBER)
            .map(str::to_owned),
        client_id: token.claim_str("client_id").map(str::to_owned),
        expires: token
            .claims
            .get("exp")
            .and_then(serde_json::Value::as_i64)
            .and_then(|exp| DateTime::from_timestamp(exp, 0)),
    })
}

/// A multi-tenant token reaches an instance only when its supplier is registered with SFM and
/// its organisation (`orgnr_child`, else `orgnr_parent`, as when the instance was created) is
/// the instance's: the journal-id alone must not open another customer's journal.
fn check_multi_tenant(
    state: &State,
    tenant_id: &str,
    supplier: Option<&str>,
    orgnr: Option<&str>,
) -> Result<(), Refusal> {
    use crate::sfm::model::{ENH_SYSTEM, identifier_value};
    let sfm = state.store();
    if let Some(suppliers) = &sfm.suppliers
        && !supplier.is_some_and(|s| suppliers.iter().any(|known| known.orgnr == s))
    {
        return Err(Refusal::Forbidden(format!(
            "The multi-tenant client's supplier {} (orgnr_supplier) is not registered with SFM: \
             SFM accepts multi-tenant clients only from registered suppliers (NHN registers them; \
             helsesim's are in fixtures/sfm/suppliers.json)",
            supplier.unwrap_or("(none)")
        )));
    }
    let owner = sfm
        .tenants
        .get(tenant_id)
        .and_then(|tenant| tenant.organization())
        .and_then(|(_, org)| identifier_value(&org.current(), ENH_SYSTEM).map(str::to_owned));
    match (owner, orgnr) {
        (Some(owner), Some(orgnr)) if owner == orgnr => Ok(()),
        (Some(owner), orgnr) => Err(Refusal::Forbidden(format!(
            "The SFM instance {tenant_id} (journal-id) belongs to the organisation {owner}, but \
             the token is for {} (orgnr_child, else orgnr_parent): a multi-tenant client reaches \
             only the journals of the organisation it acts for",
            orgnr.unwrap_or("no organisation")
        ))),
        // An instance not created yet: POST Organization checks the organisation.
        (None, _) => Ok(()),
    }
}
