//! `POST /_admin/tokens`: mint an access token without a login or a client assertion, modelled
//! on NHN's Test Token Service — for API-side tests. The claims are the ones HelseID's grants
//! put in (the client's organisation and tenancy, the user's identity claims), changed by
//! `claims`, and on request deliberately broken.
//!
//! Body: `client_id` (a client's id or name), `audience` (an API resource), optional `scope`
//! (default: the client's scopes of that audience), `user` (a fixture user's pid),
//! `organization` (`{parent, child}`), `journal_id`, `dpop_jkt`, `expires_in` (seconds),
//! `claims` (merged; `null` removes one) and `broken`: `wrong_signing_key`, `wrong_issuer`,
//! `wrong_audience`, `expired`, `not_yet_valid`.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::TimeDelta;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::require_json;
use crate::errors::admin::AdminError;
use crate::helseid::model::IDENTITY_SCOPES;
use crate::helseid::tenancy::Organisation;
use crate::helseid::tokens::{AccessTokenSpec, Login, access_token_claims};
use crate::jose::TokenSigner;
use crate::state::AppState;

/// The ways a minted token can be broken on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokenToken {
    /// Signed by a key helsesim's JWKS does not have.
    WrongSigningKey,
    /// Issued by the real HelseID, not helsesim.
    WrongIssuer,
    /// For an audience no API has.
    WrongAudience,
    /// Expired an hour ago.
    Expired,
    /// Valid only from an hour on.
    NotYetValid,
}

impl BrokenToken {
    /// Every way, in the order the control plane documents them.
    pub const ALL: [BrokenToken; 5] = [
        BrokenToken::WrongSigningKey,
        BrokenToken::WrongIssuer,
        BrokenToken::WrongAudience,
        BrokenToken::Expired,
        BrokenToken::NotYetValid,
    ];

    /// The name a request gives (`wrong_signing_key`, …).
    pub fn name(self) -> &'static str {
        match self {
            BrokenToken::WrongSigningKey => "wrong_signing_key",
            BrokenToken::WrongIssuer => "wrong_issuer",
            BrokenToken::WrongAudience => "wrong_audience",
            BrokenToken::Expired => "expired",
            BrokenToken::NotYetValid => "not_yet_valid",
        }
    }

    /// Every name.
    pub fn names() -> [&'static str; 5] {
        Self::ALL.map(BrokenToken::name)
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.name() == name)
    }
}

/// A way in the control plane's OpenAPI document: one of [`BrokenToken::names`].
impl utoipa::PartialSchema for BrokenToken {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::service::names_schema(&BrokenToken::names())
    }
}

impl utoipa::ToSchema for BrokenToken {}

/// What a minted token is made of.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MintRequest {
    client_id: String,
    audience: String,
    #[serde(default)]
    scope: Option<ScopeList>,
    /// A fixture user's pid.
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    organization: Option<OrganizationRequest>,
    #[serde(default)]
    journal_id: Option<String>,
    #[serde(default)]
    dpop_jkt: Option<String>,
    #[serde(default)]
    expires_in: Option<u32>,
    #[serde(default)]
    #[schema(value_type = Object)]
    claims: Map<String, Value>,
    #[serde(default)]
    #[schema(value_type = Option<BrokenToken>)]
    broken: Option<String>,
}

/// One scope, or several (a space-separated text or a list).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
enum ScopeList {
    Text(String),
    List(Vec<String>),
}

/// The organisation the token is for.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct OrganizationRequest {
    #[serde(default)]
    parent: Option<String>,
    #[serde(default)]
    child: Option<String>,
}

fn invalid(message: impl Into<String>) -> AdminError {
    AdminError::invalid_request(message)
}

/// `POST /_admin/tokens`.
#[utoipa::path(post, path = "/_admin/tokens", operation_id = "mintToken",
    summary = "Mint a test access token, good or deliberately broken",
    request_body = MintRequest,
    responses(
        (status = 200, description = "{access_token, token_type, expires_in, claims}"),
        (status = 400, description = "invalid_request")))]
pub async fn mint(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    require_json(&req)?;
    let request: MintRequest = serde_json::from_slice(&body)
        .map_err(|e| invalid(format!("The body is not a token request: {e}")))?;
    let broken = match request.broken.as_deref() {
        None => None,
        Some(name) => Some(BrokenToken::parse(name).ok_or_else(|| {
            invalid(format!(
                "broken must be one of {}, got '{name}'",
                BrokenToken::names().join(", ")
            ))
        })?),
    };
    let now = state.clock.now();
    let helseid = state.helseid.store();
    let client = helseid
        .clients
        .values()
        .find(|c| {
            c.id() == request.client_id || c.entry.name.as_deref() == Some(&request.client_id)
        })
        .cloned()
        .ok_or_else(|| invalid(format!("No client '{}'", request.client_id)))?;
    let resource = helseid
        .resources
        .by_name(&request.audience)
        .ok_or_else(|| {
            invalid(format!(
                "No API resource '{}': the audiences are {}",
                request.audience,
                helseid
                    .resources
                    .entries()
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
    let user = match &request.user {
        Some(pid) => Some(
            helseid
                .user(pid)
                .cloned()
                .ok_or_else(|| invalid(format!("No fixture user with pid '{pid}'")))?,
        ),
        None => None,
    };
    let mut scopes: Vec<String> = match &request.scope {
        Some(ScopeList::Text(text)) => text.split_whitespace().map(str::to_owned).collect(),
        Some(ScopeList::List(list)) => list.clone(),
        None => client
            .entry
            .scopes
            .iter()
            .filter(|s| resource.scopes.contains(s))
            .cloned()
            .collect(),
    };
    if user.is_some() && request.scope.is_none() {
        scopes.extend(
            client
                .entry
                .scopes
                .iter()
                .filter(|s| IDENTITY_SCOPES.contains(&s.as_str()))
                .cloned(),
        );
    }
    let org = Organisation {
        parent: request
            .organization
            .as_ref()
            .and_then(|o| o.parent.clone())
            .or_else(|| client.entry.orgnr_parent.clone()),
        child: request
            .organization
            .as_ref()
            .and_then(|o| o.child.clone())
            .or_else(|| client.entry.orgnr_child.clone()),
        supplier: client.entry.orgnr_supplier.clone(),
        journal_id: request.journal_id.clone(),
    };
    let audiences = [match broken {
        Some(BrokenToken::WrongAudience) => "helsesim:wrong-audience".to_owned(),
        _ => resource.name.clone(),
    }];
    let key_amr = if client.entry.jwks.keys.iter().any(|k| k["kty"] == "EC") {
        "ec_private_key"
    } else {
        "rsa_private_key"
    };
    let spec = AccessTokenSpec {
        issuer: &state.helseid.endpoints.issuer,
        client: &client,
        key_amr,
        audiences: &audiences,
        scopes: &scopes,
        org: &org,
        jkt: request.dpop_jkt.as_deref(),
    };
    let sid = crate::random::hex_id();
    let login = user.as_deref().map(|user| Login {
        user,
        auth_time: now,
        sid: &sid,
    });
    let mut claims = access_token_claims(&spec, login, now);
    drop(helseid);
    let lifetime = TimeDelta::seconds(i64::from(
        request
            .expires_in
            .unwrap_or_else(|| client.access_token_lifetime()),
    ));
    let (iat, exp) = match broken {
        Some(BrokenToken::Expired) => (
            now - lifetime - TimeDelta::hours(1),
            now - TimeDelta::hours(1),
        ),
        Some(BrokenToken::NotYetValid) => (
            crate::clock::after(now, TimeDelta::hours(1)),
            crate::clock::after(now, TimeDelta::hours(1) + lifetime),
        ),
        _ => (now, crate::clock::after(now, lifetime)),
    };
    claims.insert("iat".into(), json!(iat.timestamp()));
    claims.insert("nbf".into(), json!(iat.timestamp()));
    claims.insert("exp".into(), json!(exp.timestamp()));
    if broken == Some(BrokenToken::WrongIssuer) {
        claims.insert("iss".into(), json!("https://helseid-sts.test.nhn.no"));
    }
    for (name, value) in &request.claims {
        if value.is_null() {
            claims.remove(name);
        } else {
            claims.insert(name.clone(), value.clone());
        }
    }
    let token = match broken {
        Some(BrokenToken::WrongSigningKey) => untrusted_signer(&state)?.sign("at+jwt", &claims),
        _ => state.keys.signer.sign("at+jwt", &claims),
    }
    .map_err(|e| {
        AdminError::new(
            actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            e.to_string(),
        )
    })?;
    Ok(HttpResponse::Ok().json(json!({
        "access_token": token,
        "token_type": if claims.contains_key("cnf") { "DPoP" } else { "Bearer" },
        "expires_in": (exp - now).num_seconds(),
        "claims": claims,
    })))
}

/// A signing key helsesim's JWKS does not publish, made once on first use.
fn untrusted_signer(state: &AppState) -> Result<&TokenSigner, AdminError> {
    if let Some(signer) = state.untrusted_signer.get() {
        return Ok(signer);
    }
    let server_error = |message: String| {
        AdminError::new(
            actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            message,
        )
    };
    let key = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        .map_err(|e| server_error(e.to_string()))?;
    let signer = TokenSigner::from_pkcs8_pem(&key.serialize_pem())
        .map_err(|e| server_error(e.to_string()))?;
    Ok(state.untrusted_signer.get_or_init(|| signer))
}
