//! Token attacks as a matrix: every API helsesim simulates × every way to forge, misuse or
//! replay a HelseID access token or its DPoP proof. Each case must be refused with the right
//! status, in that service's own error format, with a message that says what is wrong.
//!
//! Two tables drive it: [`APIS`] (how to call each API with a token, which audience it wants,
//! how it reports a refusal) and [`attacks`] (how to spoil a valid token or proof, and the
//! refusal expected). A row added to either is tried against every row of the other. Every
//! case starts from a token minted through the control plane (`POST /_admin/tokens`) that the
//! API accepts (the matrix proves that first for each API), then spoils one thing.

use std::panic::{AssertUnwindSafe, catch_unwind};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use helsesim::jose::sha256_b64url;
use jsonwebtoken::{Algorithm, EncodingKey};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::kjernejournal::{EPJ, LINE, assert_fhir_error, assert_kj_error};

// ---------------------------------------------------------------------------------------------
// The APIs.

/// Whether an API takes DPoP-bound tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dpop {
    /// The token is not presented in `Authorization` (introspection: it is in the body), so
    /// there is no proof to attack.
    Never,
    /// Bearer tokens, and DPoP-bound tokens with their proofs.
    Allowed,
    /// DPoP-bound tokens only (PTS): every case presents a DPoP-bound token with a proof.
    Required,
}

/// How a service reports a refused token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// SFM's FHIR API: an OperationOutcome with one `login` issue, and a challenge.
    Fhir,
    /// RFC 9457 problem details as ASP.NET Core writes them (SFM's session API, PTS).
    Problem,
    /// Kjernejournal's JSON error (`KJF-000123`), with its random extra field.
    Kj,
    /// Kjernejournal's FHIR API: an OperationOutcome with the `KJF-` code and both messages.
    KjFhir,
    /// An RFC 6750 error body and challenge (HelseID's userinfo).
    OAuth,
    /// RFC 7662: 200 `{"active": false}` and nothing else, whatever is wrong.
    Introspection,
}

/// One API: how to call it and how it answers.
struct Api {
    name: &'static str,
    method: &'static str,
    /// The path: the URL a proof's `htu` must name.
    path: &'static str,
    /// Appended to the path when calling.
    query: &'static str,
    body: Option<&'static str>,
    headers: &'static [(&'static str, &'static str)],
    /// Sends a kjernejournal ticket in `X-kj-ticket`.
    ticket: bool,
    /// The audience the API requires (`None`: any, as at userinfo).
    audience: Option<&'static str>,
    /// The scopes it requires, as its message names them (`None`: it checks none).
    scope: Option<&'static str>,
    /// `POST /_admin/tokens` body of a token this API accepts.
    token: fn() -> Value,
    /// `POST /_admin/tokens` body of a valid token of another API.
    other: fn() -> Value,
    /// How this API refuses the other API's token.
    other_refusal: fn(&Ctx<'_>) -> Refusal,
    dpop: Dpop,
    format: Format,
    /// The status of a valid call.
    ok: StatusCode,
    /// The status of a token without the scope the API needs.
    scope_status: StatusCode,
}

fn sfm_user_token() -> Value {
    json!({"client_id": SFM_READY, "audience": "e-helse:sfm.api", "user": DIDRIK})
}

fn kj_user_token() -> Value {
    json!({"client_id": KJERNEJOURNAL, "audience": "nhn:kjernejournal", "user": DIDRIK})
}

fn kj_system_token() -> Value {
    json!({"client_id": KJERNEJOURNAL, "audience": "nhn:kjernejournal"})
}

fn pts_token() -> Value {
    json!({"client_id": PTS, "audience": "nhn:pts"})
}

/// A token for the audience `found` at an API that wants another one.
fn audience_refusal(ctx: &Ctx<'_>, found: &str) -> Refusal {
    Refusal::token(format!(
        "The access token's audience [\"{found}\"] does not include {}",
        ctx.audience()
    ))
}

const SFM_FHIR: Api = Api {
    name: "SFM FHIR",
    method: "GET",
    path: "/sfm/fhir/Patient",
    query: "",
    body: None,
    headers: &[("Accept", "application/fhir+json")],
    ticket: false,
    audience: Some("e-helse:sfm.api"),
    scope: Some("e-helse:sfm.api/sfm.api"),
    token: sfm_user_token,
    other: kj_user_token,
    other_refusal: |ctx| audience_refusal(ctx, "nhn:kjernejournal"),
    dpop: Dpop::Allowed,
    format: Format::Fhir,
    ok: StatusCode::OK,
    scope_status: StatusCode::UNAUTHORIZED,
};

const SFM_SESSION: Api = Api {
    name: "SFM session",
    method: "POST",
    path: "/sfm/api/PatientTicket",
    query: "",
    body: Some(r#"{"patientPid": "12050050295"}"#),
    headers: &[("Content-Type", "application/json")],
    format: Format::Problem,
    ..SFM_FHIR
};

const KJ_SYSTEM: Api = Api {
    name: "kjernejournal helseindikator",
    method: "POST",
    path: "/kjernejournal/v1/helseindikator",
    query: "",
    body: Some(r#"{"fnr": "13116900216"}"#),
    headers: &[("Content-Type", "application/json"), ("X-EPJ-System", EPJ)],
    ticket: false,
    audience: Some("nhn:kjernejournal"),
    scope: Some("nhn:kjernejournal/api or https://ehelse.no/nhn:kjernejournal/kj_api"),
    token: kj_system_token,
    other: sfm_user_token,
    other_refusal: |ctx| audience_refusal(ctx, "e-helse:sfm.api"),
    dpop: Dpop::Allowed,
    format: Format::Kj,
    ok: StatusCode::OK,
    scope_status: StatusCode::UNAUTHORIZED,
};

const KJ_LEGEMIDLER: Api = Api {
    name: "kjernejournal legemidler",
    method: "GET",
    path: "/kjernejournal/v1/legemidler",
    query: "?fra=2020-01-01T00:00:00Z&utvidet-oppslag=false",
    body: None,
    headers: &[("X-EPJ-System", EPJ)],
    ticket: true,
    scope: Some("nhn:kjernejournal/api"),
    token: kj_user_token,
    ..KJ_SYSTEM
};

const KJ_EVERYTHING: Api = Api {
    name: "kjernejournal FHIR $everything",
    path: "/kjernejournal/v1/fhir/Patient/$everything",
    query: "",
    headers: &[("X-EPJ-System", EPJ), ("Accept", "application/fhir+json")],
    format: Format::KjFhir,
    ..KJ_LEGEMIDLER
};

const PTS_SEARCH: Api = Api {
    name: "PTS",
    method: "POST",
    path: "/pts/access-restrictions/patient-safety/_search",
    query: "",
    body: Some(r#"{"offId": "12345678901"}"#),
    headers: &[("Content-Type", "application/json")],
    ticket: false,
    audience: Some("nhn:pts"),
    scope: Some("nhn:pts/api"),
    token: pts_token,
    other: kj_system_token,
    other_refusal: |ctx| audience_refusal(ctx, "nhn:kjernejournal"),
    // Every case presents a DPoP-bound token with a valid proof unless the attack is on those.
    dpop: Dpop::Required,
    format: Format::Problem,
    ok: StatusCode::OK,
    scope_status: StatusCode::UNAUTHORIZED,
};

const USERINFO: Api = Api {
    name: "HelseID userinfo",
    method: "GET",
    path: "/helseid/connect/userinfo",
    query: "",
    body: None,
    headers: &[],
    ticket: false,
    // Userinfo takes a token of any audience with `openid` (as HelseID does): the "wrong aud"
    // attack does not apply here.
    audience: None,
    scope: Some("openid"),
    token: sfm_user_token,
    // Another API's token (a PTS system token) lacks `openid`: 403, as RFC 6750 says.
    other: pts_token,
    other_refusal: |_| Refusal {
        kind: Kind::Scope,
        message: "The access token lacks the scope openid".to_owned(),
    },
    dpop: Dpop::Allowed,
    format: Format::OAuth,
    ok: StatusCode::OK,
    scope_status: StatusCode::FORBIDDEN,
};

/// Introspection as SFM (HTTP Basic with SFM's introspection secret).
const INTROSPECTION: Api = Api {
    name: "HelseID introspection",
    method: "POST",
    path: "/helseid/connect/introspect",
    query: "",
    body: None,
    headers: &[],
    ticket: false,
    audience: Some("e-helse:sfm.api"),
    // Introspection leaves scopes to the API: "no scope of the API" does not apply here.
    scope: None,
    token: sfm_user_token,
    other: kj_user_token,
    // Introspection names no reason; the refusal is `{"active": false}`.
    other_refusal: |ctx| audience_refusal(ctx, "nhn:kjernejournal"),
    // The token comes in the body, without a proof: the DPoP attacks do not apply here (a
    // DPoP-bound token is introspected like any other, as `token_type` DPoP).
    dpop: Dpop::Never,
    format: Format::Introspection,
    ok: StatusCode::OK,
    scope_status: StatusCode::OK,
};

/// Every API of the matrix.
const APIS: [&Api; 8] = [
    &SFM_FHIR,
    &SFM_SESSION,
    &KJ_SYSTEM,
    &KJ_LEGEMIDLER,
    &KJ_EVERYTHING,
    &PTS_SEARCH,
    &USERINFO,
    &INTROSPECTION,
];

// ---------------------------------------------------------------------------------------------
// The attacks.

/// Which part of the verification an attack aims at, and so where it applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// The token itself: every API.
    Token,
    /// The token's audience: the APIs that check one (userinfo takes any audience).
    Audience,
    /// The token's scope: the APIs that check one (introspection leaves that to the API).
    Scope,
    /// A DPoP-bound token and its proof: the APIs that take DPoP-bound tokens (not
    /// introspection, where the token comes in the body without a proof).
    Dpop,
}

/// How the minted token is re-signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resign {
    /// As minted.
    Keep,
    /// Unsigned: `alg` `none`, empty signature.
    AlgNone,
    /// HS256 with the JWKS key's modulus `n` (base64url, as published) as the HMAC secret.
    Hs256Modulus,
    /// HS256 with helsesim's public key as PEM as the HMAC secret.
    Hs256Pem,
}

/// Who signs the DPoP proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProofKey {
    /// The key the token is bound to.
    Bound,
    /// A fresh key of the attacker's.
    Other,
    /// No proof is sent.
    Missing,
}

/// The refusal expected, by the kind of [`helsesim::auth::AuthError`] it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The token is not valid (`invalid_token`).
    Token,
    /// The token lacks the API's scope (`insufficient_scope`).
    Scope,
    /// A DPoP-bound token sent as a bearer token (`invalid_token`, DPoP challenge).
    DpopRequired,
    /// The proof is missing, invalid or not for this token (`invalid_dpop_proof`).
    Proof,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Refusal {
    kind: Kind,
    message: String,
}

impl Refusal {
    fn token(message: impl Into<String>) -> Self {
        Self {
            kind: Kind::Token,
            message: message.into(),
        }
    }

    fn proof(message: impl Into<String>) -> Self {
        Self {
            kind: Kind::Proof,
            message: message.into(),
        }
    }
}

/// One attack: a valid token and proof, with one thing spoilt.
#[derive(Clone, Copy)]
struct Attack {
    name: &'static str,
    target: Target,
    /// The token of another API instead of this API's.
    other_api: bool,
    /// `broken` of the mint request.
    broken: Option<&'static str>,
    /// `scope` of the mint request (default: the client's scopes of the audience).
    scope: Option<&'static str>,
    /// `claims` of the mint request, given the clock's now.
    claims: fn(i64) -> Value,
    resign: Resign,
    /// A DPoP-bound token sent as `Authorization: Bearer` without a proof.
    as_bearer: bool,
    proof_key: ProofKey,
    /// Spoils the (otherwise valid) proof.
    proof: fn(Proof, &Ctx<'_>) -> Proof,
    /// Extra request headers.
    headers: fn(&Ctx<'_>) -> Vec<(&'static str, String)>,
    /// Sends a second, valid proof in another DPoP header.
    two_proofs: bool,
    /// Sends the request twice: the first passes, the second is refused.
    replay: bool,
    expect: fn(&Ctx<'_>) -> Refusal,
}

/// A token attack: everything valid unless the row says otherwise.
const TOKEN: Attack = Attack {
    name: "",
    target: Target::Token,
    other_api: false,
    broken: None,
    scope: None,
    claims: |_| json!({}),
    resign: Resign::Keep,
    as_bearer: false,
    proof_key: ProofKey::Bound,
    proof: |proof, _| proof,
    headers: |_| Vec::new(),
    two_proofs: false,
    replay: false,
    expect: |_| panic!("the row must say what it expects"),
};

/// A DPoP attack (the token is DPoP-bound).
const DPOP: Attack = Attack {
    target: Target::Dpop,
    ..TOKEN
};

const NOT_RS256: &str = "The access token is not valid: it must be signed with RS256 by HelseID";

/// A host the attacker controls, named in a proof's `htu` and sent as `Host`.
const FORGED_HOST: &str = "attacker.example";

/// Every attack, each tried at every API.
fn attacks() -> Vec<Attack> {
    [
        signature_attacks(),
        claim_attacks(),
        dpop_binding_attacks(),
        dpop_proof_attacks(),
    ]
    .concat()
}

/// Tokens signed wrongly: no signature, a symmetric key, a key helsesim does not publish.
fn signature_attacks() -> Vec<Attack> {
    vec![
        Attack {
            name: "alg none",
            resign: Resign::AlgNone,
            expect: |_| {
                Refusal::token(
                    "The access token is not valid: it is not signed (alg 'none' with an empty \
                     signature): only JWTs signed with an asymmetric key are accepted",
                )
            },
            ..TOKEN
        },
        Attack {
            name: "HS256 keyed with the JWKS modulus",
            resign: Resign::Hs256Modulus,
            expect: |_| Refusal::token(NOT_RS256),
            ..TOKEN
        },
        Attack {
            name: "HS256 keyed with the public key PEM",
            resign: Resign::Hs256Pem,
            expect: |_| Refusal::token(NOT_RS256),
            ..TOKEN
        },
        Attack {
            name: "wrong signing key",
            broken: Some("wrong_signing_key"),
            expect: |_| {
                Refusal::token(
                    "The access token is not valid: the signature does not verify with any key in \
                     helsesim's JWKS",
                )
            },
            ..TOKEN
        },
    ]
}

/// Tokens whose claims are wrong: issuer, audience, times, scope, another API.
fn claim_attacks() -> Vec<Attack> {
    vec![
        Attack {
            name: "wrong iss",
            broken: Some("wrong_issuer"),
            expect: |ctx| {
                Refusal::token(format!(
                    "The access token's issuer 'https://helseid-sts.test.nhn.no' is not {}",
                    ctx.app.issuer()
                ))
            },
            ..TOKEN
        },
        Attack {
            name: "wrong aud",
            target: Target::Audience,
            broken: Some("wrong_audience"),
            expect: |ctx| audience_refusal(ctx, "helsesim:wrong-audience"),
            ..TOKEN
        },
        Attack {
            name: "expired",
            broken: Some("expired"),
            expect: |_| {
                Refusal::token(
                    "The access token expired at 2026-03-02T09:00:00+00:00 (helsesim's clock: \
                     2026-03-02T10:00:00+00:00)",
                )
            },
            ..TOKEN
        },
        Attack {
            name: "nbf in the future",
            broken: Some("not_yet_valid"),
            expect: |_| {
                Refusal::token("The access token is not valid before 2026-03-02T11:00:00+00:00")
            },
            ..TOKEN
        },
        Attack {
            name: "iat a minute in the future",
            claims: |now| json!({"iat": now + 60}),
            expect: |_| {
                Refusal::token(
                    "The access token was issued in the future (2026-03-02T10:01:00+00:00): check \
                     the token issuer's clock",
                )
            },
            ..TOKEN
        },
        Attack {
            name: "exp beyond any date",
            claims: |_| json!({"exp": 1.5e20}),
            expect: |_| {
                Refusal::token(
                    "The access token is not valid: its exp must be a date in seconds since the \
                     epoch, got 1.5e+20",
                )
            },
            ..TOKEN
        },
        Attack {
            name: "no scope of the API",
            target: Target::Scope,
            scope: Some("helsesim:another-api/scope"),
            expect: |ctx| Refusal {
                kind: Kind::Scope,
                message: format!(
                    "The access token lacks the scope {}",
                    ctx.api.scope.unwrap_or_default()
                ),
            },
            ..TOKEN
        },
        Attack {
            name: "a valid token of another API",
            other_api: true,
            expect: |ctx| (ctx.api.other_refusal)(ctx),
            ..TOKEN
        },
    ]
}

/// DPoP-bound tokens without a proof that binds them.
fn dpop_binding_attacks() -> Vec<Attack> {
    vec![
        Attack {
            name: "DPoP-bound token sent as Bearer",
            as_bearer: true,
            expect: |_| Refusal {
                kind: Kind::DpopRequired,
                message: "The token is DPoP-bound: send it as 'Authorization: DPoP <token>' \
                          together with a DPoP proof, not as a bearer token"
                    .to_owned(),
            },
            ..DPOP
        },
        Attack {
            name: "no proof",
            proof_key: ProofKey::Missing,
            expect: |_| Refusal::proof("A DPoP-bound token needs a DPoP proof in the DPoP header"),
            ..DPOP
        },
        Attack {
            name: "replayed proof",
            replay: true,
            expect: |_| {
                Refusal::proof(
                    "The DPoP proof has been used before: create a new proof (new jti) for every \
                     request",
                )
            },
            ..DPOP
        },
        Attack {
            name: "proof two minutes old",
            proof: |proof, ctx| proof.claim("iat", json!(ctx.now() - 120)),
            expect: |_| {
                Refusal::proof(
                    "The DPoP proof is too old: iat must be within 60 seconds; create a new proof \
                     for every request",
                )
            },
            ..DPOP
        },
        Attack {
            name: "proof for another htu",
            proof: |proof, ctx| proof.claim("htu", json!(ctx.app.token_endpoint())),
            expect: |ctx| {
                Refusal::proof(format!(
                    "The DPoP proof's htu '{}' does not match the request URL {} (helsesim's \
                     public URL, HELSESIM_PUBLIC_URL)",
                    ctx.app.token_endpoint(),
                    ctx.url()
                ))
            },
            ..DPOP
        },
        Attack {
            name: "proof for another htm",
            proof: |proof, _| proof.claim("htm", json!("DELETE")),
            expect: |ctx| {
                Refusal::proof(format!(
                    "The DPoP proof's htm 'DELETE' does not match the request method {}",
                    ctx.api.method
                ))
            },
            ..DPOP
        },
    ]
}

/// DPoP proofs that are wrong in one way each.
fn dpop_proof_attacks() -> Vec<Attack> {
    vec![
        Attack {
            name: "proof without ath",
            proof: |mut proof, _| {
                proof.claims.as_object_mut().unwrap().remove("ath");
                proof
            },
            expect: |_| {
                Refusal::proof("The DPoP proof must have 'ath', the hash of the access token")
            },
            ..DPOP
        },
        Attack {
            name: "proof for another token (ath)",
            proof: |proof, _| proof.claim("ath", json!(sha256_b64url("another access token"))),
            expect: |_| Refusal::proof("The DPoP proof's ath does not match the access token"),
            ..DPOP
        },
        Attack {
            name: "proof signed by another key than cnf.jkt",
            proof_key: ProofKey::Other,
            expect: |_| {
                Refusal::proof(
                    "The DPoP proof is signed with another key than the one the token is bound to \
                     (cnf.jkt)",
                )
            },
            ..DPOP
        },
        Attack {
            name: "two DPoP headers",
            two_proofs: true,
            expect: |_| {
                Refusal::proof(
                    "Send exactly one DPoP header (RFC 9449 section 4.3): this request has several",
                )
            },
            ..DPOP
        },
        Attack {
            name: "proof for another host, sent with that Host and X-Forwarded-Host",
            proof: |proof, ctx| proof.claim("htu", json!(ctx.forged_url())),
            headers: |_| {
                vec![
                    ("Host", FORGED_HOST.to_owned()),
                    ("X-Forwarded-Host", FORGED_HOST.to_owned()),
                    ("X-Forwarded-Proto", "http".to_owned()),
                ]
            },
            expect: |ctx| {
                Refusal::proof(format!(
                    "The DPoP proof's htu '{}' does not match the request URL {} (helsesim's \
                     public URL, HELSESIM_PUBLIC_URL)",
                    ctx.forged_url(),
                    ctx.url()
                ))
            },
            ..DPOP
        },
        Attack {
            name: "proof jti of 257 bytes",
            proof: |proof, _| proof.claim("jti", json!("j".repeat(257))),
            expect: |_| {
                Refusal::proof(
                    "The DPoP proof's jti is 257 bytes long: at most 256 are accepted (a GUID is \
                     plenty)",
                )
            },
            ..DPOP
        },
    ]
}

// ---------------------------------------------------------------------------------------------
// The runner.

/// What a case needs besides its rows.
struct Ctx<'a> {
    app: &'a TestApp,
    api: &'a Api,
    /// A kjernejournal ticket for Line (with consent), issued to Fjellheim legesenter.
    ticket: String,
    /// The published signing key's modulus and its public key as PEM: HMAC secrets an
    /// attacker has.
    modulus: String,
    pem: String,
}

impl Ctx<'_> {
    /// The API's public URL (what `htu` must name).
    fn url(&self) -> String {
        self.app.url(self.api.path)
    }

    /// The API's URL on the attacker's host.
    fn forged_url(&self) -> String {
        format!("http://{FORGED_HOST}{}", self.api.path)
    }

    fn audience(&self) -> &'static str {
        self.api.audience.unwrap_or_default()
    }

    fn now(&self) -> i64 {
        self.app.now().timestamp()
    }

    fn applies(&self, attack: &Attack) -> bool {
        match attack.target {
            Target::Token => true,
            Target::Audience => self.api.audience.is_some(),
            Target::Scope => self.api.scope.is_some(),
            Target::Dpop => self.api.dpop != Dpop::Never,
        }
    }

    /// Whether the attack's token is DPoP-bound.
    fn bound(&self, attack: &Attack) -> bool {
        attack.target == Target::Dpop || self.api.dpop == Dpop::Required
    }
}

/// Mints a token through the control plane.
async fn mint(app: &TestApp, body: &Value) -> String {
    let reply = app.post_json("/_admin/tokens", body).await;
    assert_eq!(reply.status, StatusCode::OK, "{body}: {}", reply.text);
    reply.json["access_token"].as_str().unwrap().to_owned()
}

/// `header.claims` signed with HS256 under `secret`.
fn hmac_signed(header: &Value, claims: &Value, secret: &[u8]) -> String {
    let mut header = header.clone();
    header["alg"] = json!("HS256");
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap()),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap())
    );
    let key = EncodingKey::from_secret(secret);
    let signature = jsonwebtoken::crypto::sign(input.as_bytes(), &key, Algorithm::HS256).unwrap();
    format!("{input}.{signature}")
}

fn resign(ctx: &Ctx<'_>, how: Resign, token: String) -> String {
    let (header, claims) = decode_jwt(&token);
    match how {
        Resign::Keep => token,
        Resign::AlgNone => unsigned(&claims),
        Resign::Hs256Modulus => hmac_signed(&header, &claims, ctx.modulus.as_bytes()),
        Resign::Hs256Pem => hmac_signed(&header, &claims, ctx.pem.as_bytes()),
    }
}

/// A valid proof for a call of the API with `token`.
fn valid_proof(ctx: &Ctx<'_>, key: &TestKey, token: &str) -> Proof {
    Proof::new(ctx.app, key, ctx.api.method, &ctx.url()).claim("ath", json!(sha256_b64url(token)))
}

/// Calls the API with `token` (as `scheme` in `Authorization`, or in the body at
/// introspection), the DPoP `proofs`, and extra `headers`.
async fn call(
    ctx: &Ctx<'_>,
    token: &str,
    scheme: &str,
    proofs: &[String],
    headers: &[(&'static str, String)],
) -> Reply {
    let api = ctx.api;
    let url = format!("{}{}", ctx.url(), api.query);
    let mut request = ctx.app.http.request(api.method.parse().unwrap(), url);
    for (name, value) in api.headers {
        request = request.header(*name, *value);
    }
    if api.ticket {
        request = request.header("X-kj-ticket", &ctx.ticket);
    }
    if api.format == Format::Introspection {
        let basic = STANDARD.encode("e-helse%3Asfm.api:sfm-introspection-secret");
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .finish();
        request = request
            .header("Authorization", format!("Basic {basic}"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form);
    } else {
        request = request.header("Authorization", format!("{scheme} {token}"));
        if let Some(body) = api.body {
            request = request.body(body);
        }
    }
    for proof in proofs {
        request = request.header("DPoP", proof);
    }
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    Reply::read(request.send().await.unwrap()).await
}

/// Calls the API with a valid token (DPoP-bound with a valid proof when `bound`).
async fn call_validly(ctx: &Ctx<'_>, bound: bool) -> Reply {
    let key = TestKey::ec("P-256");
    let mut body = (ctx.api.token)();
    if bound {
        body["dpop_jkt"] = json!(key.thumbprint());
    }
    let token = mint(ctx.app, &body).await;
    if bound {
        let proof = valid_proof(ctx, &key, &token).sign();
        call(ctx, &token, "DPoP", &[proof], &[]).await
    } else {
        call(ctx, &token, "Bearer", &[], &[]).await
    }
}

/// Runs one attack against the API; the reply and the `Authorization` scheme used.
async fn attack(ctx: &Ctx<'_>, attack: &Attack) -> (Reply, &'static str) {
    let key = TestKey::ec("P-256");
    let bound = ctx.bound(attack);
    let mut body = if attack.other_api {
        (ctx.api.other)()
    } else {
        (ctx.api.token)()
    };
    if bound {
        body["dpop_jkt"] = json!(key.thumbprint());
    }
    if let Some(broken) = attack.broken {
        body["broken"] = json!(broken);
    }
    if let Some(scope) = attack.scope {
        body["scope"] = json!(scope);
    }
    let claims = (attack.claims)(ctx.now());
    if claims != json!({}) {
        body["claims"] = claims;
    }
    let token = resign(ctx, attack.resign, mint(ctx.app, &body).await);
    let scheme = if bound && !attack.as_bearer {
        "DPoP"
    } else {
        "Bearer"
    };
    let mut proofs = Vec::new();
    if scheme == "DPoP" {
        let signer = match attack.proof_key {
            ProofKey::Bound => Some(key.clone()),
            ProofKey::Other => Some(TestKey::ec("P-256")),
            ProofKey::Missing => None,
        };
        if let Some(signer) = signer {
            let proof = valid_proof(ctx, &signer, &token);
            proofs.push((attack.proof)(proof, ctx).sign());
        }
        if attack.two_proofs {
            proofs.push(valid_proof(ctx, &key, &token).sign());
        }
    }
    let headers = (attack.headers)(ctx);
    if attack.replay {
        let first = call(ctx, &token, scheme, &proofs, &headers).await;
        assert_eq!(
            first.status, ctx.api.ok,
            "{} / {}: the proof's first use passes: {}",
            ctx.api.name, attack.name, first.text
        );
    }
    (call(ctx, &token, scheme, &proofs, &headers).await, scheme)
}

/// The user message of every refused kjernejournal token.
const KJ_BRUKER: &str = "Pålogging mot kjernejournal feilet. Logg inn på nytt.";

/// The RFC 6750 / RFC 9449 error code of a refusal.
fn oauth_code(kind: Kind) -> &'static str {
    match kind {
        Kind::Token | Kind::DpopRequired => "invalid_token",
        Kind::Scope => "insufficient_scope",
        Kind::Proof => "invalid_dpop_proof",
    }
}

/// The `WWW-Authenticate` challenge of a refusal.
/// RFC 9449 §7.1–7.2: a DPoP challenge where the API requires DPoP, the request used the DPoP
/// scheme or the refusal is about DPoP, and every DPoP challenge names the algorithms.
fn challenge(api: &Api, expected: &Refusal, used: &str) -> String {
    let dpop = api.dpop == Dpop::Required
        || used == "DPoP"
        || matches!(expected.kind, Kind::Proof | Kind::DpopRequired);
    let scheme = if dpop { "DPoP" } else { "Bearer" };
    let mut value = format!(
        "{scheme} error=\"{}\", error_description=\"{}\"",
        oauth_code(expected.kind),
        expected.message.replace('"', "'")
    );
    if dpop {
        value.push_str(", algs=\"RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512\"");
    }
    value
}

/// Asserts the API refused the call as `expected`, in its own format.
#[track_caller]
fn assert_refused(api: &Api, reply: &Reply, expected: &Refusal, used: &str) {
    let status = if expected.kind == Kind::Scope {
        api.scope_status
    } else {
        StatusCode::UNAUTHORIZED
    };
    let message = expected.message.as_str();
    match api.format {
        Format::Fhir => {
            assert_eq!(reply.status, status, "{}", reply.text);
            assert_eq!(
                reply.header("content-type"),
                Some("application/fhir+json; charset=utf-8")
            );
            assert_eq!(
                reply.json,
                json!({
                    "resourceType": "OperationOutcome",
                    "issue": [{"severity": "error", "code": "login", "diagnostics": message}]
                })
            );
            assert_valid_fhir(&reply.json);
        }
        Format::Problem => {
            assert_eq!(reply.status, status, "{}", reply.text);
            assert_eq!(
                reply.header("content-type"),
                Some("application/problem+json")
            );
            assert_eq!(
                reply.json,
                json!({
                    "type": "https://tools.ietf.org/html/rfc9110#section-15.5.2",
                    "title": "Unauthorized",
                    "status": 401,
                    "detail": message
                })
            );
        }
        Format::Kj => assert_kj_error(
            reply,
            status.as_u16(),
            "KJF-000123",
            &format!("The HelseID access token was refused: {message}"),
            KJ_BRUKER,
        ),
        Format::KjFhir => assert_fhir_error(
            reply,
            status.as_u16(),
            "KJF-000123",
            &format!("The HelseID access token was refused: {message}"),
            KJ_BRUKER,
        ),
        Format::OAuth => {
            assert_eq!(reply.status, status, "{}", reply.text);
            reply.assert_oauth_body(oauth_code(expected.kind), message);
        }
        Format::Introspection => {
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
            assert_eq!(reply.json, json!({"active": false}));
            assert_eq!(reply.header("cache-control"), Some("no-store"));
        }
    }
    if matches!(api.format, Format::Fhir | Format::Problem | Format::OAuth) {
        assert_eq!(
            reply.header("www-authenticate"),
            Some(challenge(api, expected, used).as_str())
        );
    }
}

/// The message of a caught assertion failure.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

/// The HMAC secrets an attacker finds in helsesim's published key.
async fn public_key_secrets(app: &TestApp) -> (String, String) {
    let jwks = app
        .get("/helseid/.well-known/openid-configuration/jwks")
        .await;
    let modulus = jwks.json["keys"][0]["n"].as_str().unwrap().to_owned();
    let signing_key =
        std::fs::read_to_string(shared_certs_dir().join("token-signing.key")).unwrap();
    let pem = rcgen::KeyPair::from_pem(&signing_key)
        .unwrap()
        .public_key_pem();
    (modulus, pem)
}

/// Every API refuses every attack that applies to it, each with the right status, in the
/// service's own error format, with the message that names what is wrong; introspection
/// answers `{"active": false}` and never `active: true`. Before its attacks, each API is shown
/// to accept the unspoilt token (bearer, and DPoP-bound with a proof where it takes those), so
/// each refusal is the attack's doing.
#[actix_web::test]
async fn every_api_refuses_every_token_attack() {
    let app = spawn_app().await;
    // Userinfo answers for users who logged in; the kjernejournal data APIs need a ticket.
    didrik(&app).await;
    let ticket = app.kj_ticket(LINE, Some("HPMOTTATTSAMTYKKE")).await;
    let (modulus, pem) = public_key_secrets(&app).await;
    let attacks = attacks();
    let mut cases = 0;
    let mut tried = vec![0; attacks.len()];
    let mut failures = Vec::new();
    for api in APIS {
        let ctx = Ctx {
            app: &app,
            api,
            ticket: ticket.clone(),
            modulus: modulus.clone(),
            pem: pem.clone(),
        };
        let bindings: &[bool] = match api.dpop {
            Dpop::Never => &[false],
            Dpop::Allowed => &[false, true],
            Dpop::Required => &[true],
        };
        for &bound in bindings {
            let reply = call_validly(&ctx, bound).await;
            assert_eq!(
                reply.status, api.ok,
                "{} accepts a valid token (DPoP-bound: {bound}): {}",
                api.name, reply.text
            );
            if api.format == Format::Introspection {
                assert_eq!(reply.json["active"], true, "{}", reply.text);
            }
        }
        for (i, row) in attacks.iter().enumerate().filter(|(_, a)| ctx.applies(a)) {
            let (reply, used) = attack(&ctx, row).await;
            let expected = (row.expect)(&ctx);
            cases += 1;
            tried[i] += 1;
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| {
                assert_refused(api, &reply, &expected, used)
            })) {
                failures.push(format!(
                    "{} / {}: {}",
                    api.name,
                    row.name,
                    panic_message(payload.as_ref())
                ));
            }
        }
    }
    for (row, tried) in attacks.iter().zip(tried) {
        assert!(tried > 0, "{} applies to no API", row.name);
    }
    println!(
        "{cases} cases: {} APIs × {} attacks",
        APIS.len(),
        attacks.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {cases} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The limits are where the messages say: a token issued 10 s ahead (the clock skew) and a
/// proof `jti` of exactly 256 bytes are accepted, at the API that demands DPoP.
#[actix_web::test]
async fn the_limits_themselves_pass() {
    let app = spawn_app().await;
    let ctx = Ctx {
        app: &app,
        api: &PTS_SEARCH,
        ticket: String::new(),
        modulus: String::new(),
        pem: String::new(),
    };
    let key = TestKey::ec("P-256");
    let mut body = pts_token();
    body["dpop_jkt"] = json!(key.thumbprint());
    body["claims"] = json!({"iat": ctx.now() + 10});
    let token = mint(&app, &body).await;
    let proof = valid_proof(&ctx, &key, &token)
        .claim("jti", json!("j".repeat(256)))
        .sign();
    let reply = call(&ctx, &token, "DPoP", &[proof], &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json, json!([]));
}
