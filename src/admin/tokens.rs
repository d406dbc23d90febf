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
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::require_json;
use crate::errors::admin::AdminError;
use crate::helseid::HelseIdStore;
use crate::helseid::model::{Client, IDENTITY_SCOPES, ResourceEntry, User};
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
        (status = 200, description = "the token and what it says", body = MintAnswer),
        (status = 400, description = "invalid_request")))]
pub async fn mint(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    require_json(&req)?;
    let request: MintRequest = serde_json::from_slice(&body)
        .map_err(|e| invalid(format!("The body is not a token request: {e}")))?;
    let broken = broken_way(request.broken.as_deref())?;
    let now = state.clock.now();
    let minted = {
        let helseid = state.helseid.store();
        let named = Named::find(&helseid, &request)?;
        let issuer = &state.helseid.endpoints.issuer;
        decide(
            &request,
            &named,
            broken,
            issuer,
            &crate::random::hex_id(),
            now,
        )
    };
    let token = sign(&state, &minted)?;
    Ok(HttpResponse::Ok().json(MintAnswer {
        access_token: token,
        token_type: if minted.claims.contains_key("cnf") {
            "DPoP"
        } else {
            "Bearer"
        },
        expires_in: minted.expires_in,
        claims: minted.claims,
    }))
}

/// A minted token, as `POST /_admin/tokens` answers it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MintAnswer {
    /// The signed access token.
    access_token: String,
    /// `DPoP` when bound to a key (`dpop_jkt`), else `Bearer`.
    token_type: &'static str,
    /// Seconds until it expires.
    expires_in: i64,
    /// What it says, decoded.
    #[schema(value_type = Object)]
    claims: Map<String, Value>,
}

/// The way a request asks the token to be broken, if any.
fn broken_way(name: Option<&str>) -> Result<Option<BrokenToken>, AdminError> {
    name.map(|name| {
        BrokenToken::parse(name).ok_or_else(|| {
            invalid(format!(
                "broken must be one of {}, got '{name}'",
                BrokenToken::names().join(", ")
            ))
        })
    })
    .transpose()
}

/// What a mint request names in HelseID's store.
#[derive(Debug, Clone, Copy)]
struct Named<'s> {
    /// The client, by id or name.
    client: &'s Client,
    /// The API resource the token is for.
    resource: &'s ResourceEntry,
    /// The fixture user logged in, if any.
    user: Option<&'s User>,
}

impl<'s> Named<'s> {
    /// Looks up the client, the audience's API resource and the user a request names.
    fn find(store: &'s HelseIdStore, request: &MintRequest) -> Result<Self, AdminError> {
        let client = store
            .clients
            .values()
            .find(|c| {
                c.id() == request.client_id || c.entry.name.as_deref() == Some(&request.client_id)
            })
            .ok_or_else(|| invalid(format!("No client '{}'", request.client_id)))?;
        let resource = store.resources.by_name(&request.audience).ok_or_else(|| {
            invalid(format!(
                "No API resource '{}': the audiences are {}",
                request.audience,
                store
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
                store
                    .user(pid)
                    .ok_or_else(|| invalid(format!("No fixture user with pid '{pid}'")))?,
            ),
            None => None,
        };
        Ok(Self {
            client,
            resource,
            user: user.map(|user| &**user),
        })
    }
}

/// Which key signs a minted token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signer {
    /// helsesim's HelseID key, published in its JWKS.
    Helsesim,
    /// A key helsesim's JWKS does not have ([`BrokenToken::WrongSigningKey`]).
    Untrusted,
}

/// A token to mint, decided: its claims and the key that signs it. The header is the same for
/// every minted token: `typ` `at+jwt` with the signing key's `alg` and `kid`.
#[derive(Debug)]
struct Minted {
    claims: Map<String, Value>,
    signer: Signer,
    /// Seconds from now to `exp` (negative for an expired token).
    expires_in: i64,
}

/// Decides the token: the claims HelseID's grants would give the client (and the user) for the
/// resource, changed by `broken` and then by the request's `claims`. `sid` is the session a
/// user's token names.
fn decide(
    request: &MintRequest,
    named: &Named<'_>,
    broken: Option<BrokenToken>,
    issuer: &str,
    sid: &str,
    now: DateTime<Utc>,
) -> Minted {
    let Named {
        client,
        resource,
        user,
    } = *named;
    let scopes = minted_scopes(request.scope.as_ref(), client, resource, user.is_some());
    let org = minted_organisation(request, client);
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
        issuer,
        client,
        key_amr,
        audiences: &audiences,
        scopes: &scopes,
        org: &org,
        attest: None,
        jkt: request.dpop_jkt.as_deref(),
    };
    let login = user.map(|user| Login {
        user,
        auth_time: now,
        sid,
    });
    let mut claims = access_token_claims(&spec, login, now);
    let lifetime = TimeDelta::seconds(i64::from(
        request
            .expires_in
            .unwrap_or_else(|| client.access_token_lifetime()),
    ));
    let (iat, exp) = validity(broken, now, lifetime);
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
    Minted {
        claims,
        signer: match broken {
            Some(BrokenToken::WrongSigningKey) => Signer::Untrusted,
            _ => Signer::Helsesim,
        },
        expires_in: (exp - now).num_seconds(),
    }
}

/// The scopes asked for, else the client's scopes of the resource (and its identity scopes
/// when a user logs in).
fn minted_scopes(
    requested: Option<&ScopeList>,
    client: &Client,
    resource: &ResourceEntry,
    with_user: bool,
) -> Vec<String> {
    let mut scopes: Vec<String> = match requested {
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
    if with_user && requested.is_none() {
        scopes.extend(
            client
                .entry
                .scopes
                .iter()
                .filter(|s| IDENTITY_SCOPES.contains(&s.as_str()))
                .cloned(),
        );
    }
    scopes
}

/// The organisation the request names, else the client's own.
fn minted_organisation(request: &MintRequest, client: &Client) -> Organisation {
    let named = request.organization.as_ref();
    Organisation {
        parent: named
            .and_then(|o| o.parent.clone())
            .or_else(|| client.entry.orgnr_parent.clone()),
        child: named
            .and_then(|o| o.child.clone())
            .or_else(|| client.entry.orgnr_child.clone()),
        supplier: client.entry.orgnr_supplier.clone(),
        journal_id: request.journal_id.clone(),
    }
}

/// The token's `iat` and `exp`: from now, or an hour in the past or future when broken so.
fn validity(
    broken: Option<BrokenToken>,
    now: DateTime<Utc>,
    lifetime: TimeDelta,
) -> (DateTime<Utc>, DateTime<Utc>) {
    match broken {
        Some(BrokenToken::Expired) => (
            now - lifetime - TimeDelta::hours(1),
            now - TimeDelta::hours(1),
        ),
        Some(BrokenToken::NotYetValid) => (
            crate::clock::after(now, TimeDelta::hours(1)),
            crate::clock::after(now, TimeDelta::hours(1) + lifetime),
        ),
        _ => (now, crate::clock::after(now, lifetime)),
    }
}

/// Signs the decided claims with the decided key.
fn sign(state: &AppState, minted: &Minted) -> Result<String, AdminError> {
    match minted.signer {
        Signer::Untrusted => untrusted_signer(state)?.sign("at+jwt", &minted.claims),
        Signer::Helsesim => state
            .keys
            .signing
            .current(state.clock.now())
            .signer()
            .sign("at+jwt", &minted.claims),
    }
    .map_err(|e| {
        AdminError::new(
            actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            e.to_string(),
        )
    })
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
    let signer = TokenSigner::generate().map_err(|e| server_error(e.to_string()))?;
    Ok(state.untrusted_signer.get_or_init(|| signer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::helseid::model::{ClientEntry, JwkSet, Tenancy};

    const ISSUER: &str = "https://sim.example/helseid";

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn client() -> Client {
        Client {
            entry: ClientEntry {
                client_id: "ehr".to_owned(),
                name: Some("EHR".to_owned()),
                jwks: JwkSet {
                    keys: vec![json!({"kty": "EC"})],
                },
                tenancy: Tenancy::SingleTenant,
                orgnr_parent: Some("917897468".to_owned()),
                orgnr_child: None,
                orgnr_supplier: None,
                delegated_by: None,
                sfm_id: None,
                scopes: strings(&[
                    "openid",
                    "e-helse:sfm.api/sfm.api",
                    "helseid://scopes/identity/pid",
                    "nhn:kjernejournal/api",
                ]),
                require_dpop: false,
                redirect_uris: Vec::new(),
                post_logout_redirect_uris: Vec::new(),
                require_par: false,
                access_token_lifetime: Some(600),
                refresh_token_lifetime: None,
            },
            keys: Vec::new(),
        }
    }

    fn resource() -> ResourceEntry {
        ResourceEntry {
            name: "e-helse:sfm.api".to_owned(),
            display_name: None,
            scopes: strings(&["e-helse:sfm.api/sfm.api"]),
            introspection_secret: None,
        }
    }

    fn user() -> User {
        User::testesen("17056600574")
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    fn minted(body: Value, with_user: bool, broken: Option<BrokenToken>) -> Minted {
        let (client, resource, user) = (client(), resource(), user());
        let named = Named {
            client: &client,
            resource: &resource,
            user: with_user.then_some(&user),
        };
        let request: MintRequest = serde_json::from_value(body).unwrap();
        decide(&request, &named, broken, ISSUER, "sid-1", at(0))
    }

    fn base() -> Value {
        json!({"client_id": "EHR", "audience": "e-helse:sfm.api"})
    }

    #[test]
    fn a_token_has_the_client_s_scopes_of_the_audience_and_a_user_s_identity_scopes() {
        let plain = minted(base(), false, None);
        assert_eq!(plain.signer, Signer::Helsesim);
        assert_eq!(plain.expires_in, 600);
        assert_eq!(plain.claims["iss"], ISSUER);
        assert_eq!(plain.claims["aud"], "e-helse:sfm.api");
        assert_eq!(plain.claims["scope"], json!(["e-helse:sfm.api/sfm.api"]));
        assert_eq!(plain.claims["exp"], json!(at(600).timestamp()));
        assert!(!plain.claims.contains_key("sid"));

        let login = minted(base(), true, None);
        assert_eq!(
            login.claims["scope"],
            json!([
                "e-helse:sfm.api/sfm.api",
                "openid",
                "helseid://scopes/identity/pid"
            ])
        );
        assert_eq!(login.claims["sid"], "sid-1");
        assert_eq!(login.claims[crate::auth::claims::PID], "17056600574");

        let mut asked = base();
        asked["scope"] = json!("nhn:kjernejournal/api");
        asked["expires_in"] = json!(60);
        let asked = minted(asked, true, None);
        assert_eq!(asked.claims["scope"], json!(["nhn:kjernejournal/api"]));
        assert_eq!(asked.expires_in, 60);
    }

    #[test]
    fn each_broken_way_breaks_one_thing() {
        let expired = minted(base(), false, Some(BrokenToken::Expired));
        assert_eq!(expired.expires_in, -3600);
        assert_eq!(expired.claims["iat"], json!(at(-4200).timestamp()));
        assert_eq!(expired.claims["exp"], json!(at(-3600).timestamp()));

        let early = minted(base(), false, Some(BrokenToken::NotYetValid));
        assert_eq!(early.expires_in, 4200);
        assert_eq!(early.claims["nbf"], json!(at(3600).timestamp()));

        let issuer = minted(base(), false, Some(BrokenToken::WrongIssuer));
        assert_eq!(issuer.claims["iss"], "https://helseid-sts.test.nhn.no");
        assert_eq!(issuer.signer, Signer::Helsesim);

        let audience = minted(base(), false, Some(BrokenToken::WrongAudience));
        assert_eq!(audience.claims["aud"], "helsesim:wrong-audience");

        let key = minted(base(), false, Some(BrokenToken::WrongSigningKey));
        assert_eq!(key.signer, Signer::Untrusted);
        assert_eq!(key.claims["iss"], ISSUER);
        assert_eq!(key.expires_in, 600);
    }

    #[test]
    fn the_request_s_claims_are_applied_last() {
        let mut body = base();
        body["claims"] = json!({"iss": "https://other.example", "scope": null, "extra": 1});
        body["dpop_jkt"] = json!("thumbprint");
        let token = minted(body, false, Some(BrokenToken::WrongIssuer));
        assert_eq!(token.claims["iss"], "https://other.example");
        assert!(!token.claims.contains_key("scope"));
        assert_eq!(token.claims["extra"], 1);
        assert_eq!(token.claims["cnf"], json!({"jkt": "thumbprint"}));
    }

    #[test]
    fn an_unknown_broken_way_lists_the_known_ones() {
        assert_eq!(broken_way(None), Ok(None));
        assert_eq!(broken_way(Some("expired")), Ok(Some(BrokenToken::Expired)));
        assert_eq!(
            broken_way(Some("unsigned")).unwrap_err().message,
            "broken must be one of wrong_signing_key, wrong_issuer, wrong_audience, expired, \
             not_yet_valid, got 'unsigned'"
        );
    }
}
