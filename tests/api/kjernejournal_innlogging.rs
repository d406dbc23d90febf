//! Kjernejournal Innlogging: `session/create | refresh | end` and `ping` with the user's
//! DPoP-bound token, the trust-framework attest and the documented headers; every refusal.

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::kjernejournal::assert_kj_error;

/// Innlogging's session endpoints.
pub(crate) const SESSION: &str = "/kjernejournal/innlogging/api/session";
/// The test EHR's `X-SOURCE-SYSTEM`.
pub(crate) const SOURCE_SYSTEM: &str = "helsesim tests 1.0 (CI)";
/// The scopes an EHR asks for to use Innlogging.
pub(crate) const INNLOGGING_SCOPES: [&str; 5] = [
    "nhn:kjernejournal/innlogging",
    "nhn:kjernejournal/tillitsrammeverk",
    "helseid://scopes/identity/pid",
    "helseid://scopes/identity/security_level",
    "helseid://scopes/hpr/hpr_number",
];
pub(crate) const ATTEST_CLAIM: &str = "nhn:tillitsrammeverk:parameters";
pub(crate) const KARI: &str = "13116900216";
pub(crate) const LARS_LEVEL_3: &str = "21817810044";
pub(crate) const HENRIK_NO_HPR: &str = "15837813732";

const LOGIN_FAILED: &str = "Pålogging mot kjernejournal feilet. Logg inn på nytt.";
const INVALID_REQUEST: &str = "Journalsystemet sendte en ugyldig forespørsel til kjernejournal.";
const SESSION_GONE: &str =
    "Økten i kjernejournal er avsluttet. Åpne kjernejournal på nytt fra journalsystemet.";

/// The attest as HelseID puts it in the access token (enriched with names).
pub(crate) fn attest() -> Value {
    json!({
        "practitioner": {
            "authorization": {"code": "LE", "system": "urn:oid:2.16.578.1.12.4.1.1.9060",
                              "text": "Lege"},
            "legal_entity": {"id": "987654325", "system": "urn:oid:2.16.578.1.12.4.1.4.101",
                             "name": "Fjellheim legesenter"},
            "point_of_care": {"id": "987654325", "system": "urn:oid:2.16.578.1.12.4.1.4.101",
                              "name": "Fjellheim legesenter"},
            "identifier": {"id": "17056600574", "system": "urn:oid:2.16.578.1.12.4.1.4.1",
                           "name": "Didrik D Didrikson"}
        },
        "care_relationship": {
            "purpose_of_use": {"code": "TREAT",
                               "system": "urn:oid:2.16.840.1.113883.1.11.20448",
                               "text": "Behandling"},
            "decision_ref": {"id": "epj-beslutning-1", "user_selected": true}
        },
        "patients": [{}]
    })
}

/// A user with a DPoP-bound token and its key.
pub(crate) struct User {
    pub token: String,
    pub key: TestKey,
}

/// Mints a kjernejournal user token for `pid` bound to a fresh key; `changes` replace fields of
/// the mint request (and `claims` are merged into the attest's).
pub(crate) async fn mint_user(app: &TestApp, pid: &str, changes: Value) -> User {
    let key = TestKey::ec("P-256");
    mint_user_with_key(app, pid, changes, key).await
}

pub(crate) async fn mint_user_with_key(
    app: &TestApp,
    pid: &str,
    changes: Value,
    key: TestKey,
) -> User {
    let mut body = json!({
        "client_id": KJERNEJOURNAL,
        "audience": "nhn:kjernejournal",
        "scope": INNLOGGING_SCOPES,
        "user": pid,
        "dpop_jkt": key.thumbprint(),
        "claims": {ATTEST_CLAIM: attest()},
    });
    for (name, value) in changes.as_object().unwrap() {
        if name == "claims" {
            for (claim, v) in value.as_object().unwrap() {
                body["claims"][claim] = v.clone();
            }
        } else if value.is_null() {
            body.as_object_mut().unwrap().remove(name);
        } else {
            body[name] = value.clone();
        }
    }
    let reply = app.post_json("/_admin/tokens", &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    User {
        token: reply.json["access_token"].as_str().unwrap().to_owned(),
        key,
    }
}

/// Didrik (lege, HPR 431001110) at Fjellheim legesenter.
pub(crate) async fn didrik(app: &TestApp) -> User {
    mint_user(app, DIDRIK, json!({})).await
}

/// How a call departs from a correct one.
#[derive(Default, Clone, Copy)]
pub(crate) struct Tweak<'a> {
    /// `Authorization` scheme (default `DPoP`); `Some("")` leaves the header out.
    pub scheme: Option<&'a str>,
    /// Leave the `DPoP` proof out.
    pub no_proof: bool,
    /// `X-SOURCE-SYSTEM` (default [`SOURCE_SYSTEM`]); `Some(None)` leaves it out.
    pub source_system: Option<Option<&'a str>>,
    /// `X-EVENT-ID`.
    pub event_id: Option<&'a str>,
    /// `Content-Type` (default `application/json`).
    pub content_type: Option<&'a str>,
}

fn ath(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, token.as_bytes()))
}

/// Calls `session/{op}` (`ping` with GET, the others POST with `body`).
pub(crate) async fn call(
    app: &TestApp,
    op: &str,
    user: &User,
    body: &Value,
    tweak: Tweak<'_>,
) -> Reply {
    let path = format!("{SESSION}/{op}");
    let method = if op == "ping" { "GET" } else { "POST" };
    let mut request = app.http.request(method.parse().unwrap(), app.url(&path));
    match tweak.scheme.unwrap_or("DPoP") {
        "" => {}
        scheme => request = request.header("Authorization", format!("{scheme} {}", user.token)),
    }
    if !tweak.no_proof {
        let proof = Proof::new(app, &user.key, method, &app.url(&path))
            .claim("ath", json!(ath(&user.token)))
            .sign();
        request = request.header("DPoP", proof);
    }
    if let Some(source) = tweak.source_system.unwrap_or(Some(SOURCE_SYSTEM)) {
        request = request.header("X-SOURCE-SYSTEM", source);
    }
    if let Some(id) = tweak.event_id {
        request = request.header("X-EVENT-ID", id);
    }
    if method == "POST" {
        request = request
            .header(
                "Content-Type",
                tweak.content_type.unwrap_or("application/json"),
            )
            .body(body.to_string());
    }
    Reply::read(request.send().await.unwrap()).await
}

/// The create body NHN's kjernejournal-innlogging-klient sends.
pub(crate) fn create_body(patient: &str, access_basis: &str, challenge: &str) -> Value {
    json!({
        "ehr_code_challenge": challenge,
        "claims": {
            "patient_identifier": {"id": patient, "system": "urn:oid:2.16.578.1.12.4.1.4.1",
                                   "authority": "https://www.skatteetaten.no"},
            "practitioner_authorization": {"code": "LE",
                                           "system": "urn:oid:2.16.578.1.12.4.1.1.9060",
                                           "assigner": "https://www.helsedirektoratet.no/"},
            "access_basis": {"code": access_basis, "system": "SYSTEM_GRUNNLAG",
                             "assigner": "https://nhn.no"}
        }
    })
}

/// A created session: the PKCE pair, the code and the session id.
pub(crate) struct Opened {
    pub pkce: Pkce,
    pub code: String,
    pub session_id: String,
}

/// Creates a session for the patient with the access basis.
pub(crate) async fn create(app: &TestApp, user: &User, patient: &str, basis: &str) -> Opened {
    let pkce = Pkce::new();
    let reply = call(
        app,
        "create",
        user,
        &create_body(patient, basis, &pkce.challenge),
        Tweak::default(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    Opened {
        code: reply.json["code"].as_str().unwrap().to_owned(),
        session_id: reply.json["sessionId"].as_str().unwrap().to_owned(),
        pkce,
    }
}

fn session_body(id: &str) -> Value {
    json!({"sessionId": id})
}

#[actix_web::test]
async fn create_refresh_end_and_ping() {
    let app = spawn_app().await;
    let user = didrik(&app).await;
    let pkce = Pkce::new();
    let body = create_body(KARI, "SAMTYKKE", &pkce.challenge);
    let tweak = Tweak {
        event_id: Some("9b7c6a1e-4f5d-4e21-a0b3-2c1d0e9f8a77"),
        ..Tweak::default()
    };
    let reply = call(&app, "create", &user, &body, tweak).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let code = reply.json["code"].as_str().unwrap();
    let id = reply.json["sessionId"].as_str().unwrap().to_owned();
    assert!(code.len() >= 43 && id.len() >= 32, "{}", reply.text);
    assert_eq!(
        reply.header("x-event-id"),
        Some("9b7c6a1e-4f5d-4e21-a0b3-2c1d0e9f8a77"),
        "the caller's event id comes back"
    );
    assert_eq!(
        reply.json.as_object().unwrap().len(),
        3,
        "code, sessionId, the extra field"
    );

    // The sample refreshes with a freshly refreshed token (same key): the session lives on.
    advance(&app, 240);
    let fresh = mint_user_with_key(&app, DIDRIK, json!({}), user.key.clone()).await;
    let refreshed = call(
        &app,
        "refresh",
        &fresh,
        &session_body(&id),
        Tweak::default(),
    )
    .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text);
    let (_, claims) = decode_jwt(&fresh.token);
    let exp = chrono::DateTime::from_timestamp(claims["exp"].as_i64().unwrap(), 0).unwrap();
    assert_eq!(
        refreshed.json["expires"],
        exp.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    assert_eq!(refreshed.json["sessionId"], id.as_str());

    let ping = call(&app, "ping", &fresh, &Value::Null, Tweak::default()).await;
    assert_eq!(ping.status, StatusCode::OK, "{}", ping.text);
    assert!(ping.json["Pong"].as_str().is_some(), "{}", ping.text);

    let ended = call(&app, "end", &fresh, &session_body(&id), Tweak::default()).await;
    assert_eq!(ended.status, StatusCode::OK, "{}", ended.text);
    let again = call(&app, "end", &fresh, &session_body(&id), Tweak::default()).await;
    let at = app.now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_kj_error(
        &again,
        409,
        "KJF-900012",
        &format!("The session was ended at {at}: create a new one with session/create"),
        SESSION_GONE,
    );
    let late = call(
        &app,
        "refresh",
        &fresh,
        &session_body(&id),
        Tweak::default(),
    )
    .await;
    assert_eq!(late.status.as_u16(), 409, "{}", late.text);
    assert_eq!(late.json["feilkode"], "KJF-900012");
}

#[actix_web::test]
async fn sessions_are_found_by_id_and_belong_to_their_user() {
    let app = spawn_app().await;
    let user = didrik(&app).await;
    let opened = create(&app, &user, KARI, "AKUTT").await;
    let unknown = call(
        &app,
        "refresh",
        &user,
        &session_body("nope"),
        Tweak::default(),
    )
    .await;
    assert_kj_error(
        &unknown,
        404,
        "KJF-900011",
        "No Kjernejournal Innlogging session has this sessionId: send the sessionId \
         session/create answered",
        SESSION_GONE,
    );
    let sigrid = mint_user(&app, SIGRID, json!({})).await;
    let other = call(
        &app,
        "end",
        &sigrid,
        &session_body(&opened.session_id),
        Tweak::default(),
    )
    .await;
    assert_kj_error(
        &other,
        403,
        "KJF-900013",
        "The session was created by another user or for another organisation than this \
         access token's: only its own user may refresh or end it",
        SESSION_GONE,
    );
    for body in [json!({}), json!({"sessionId": 7})] {
        let reply = call(&app, "end", &user, &body, Tweak::default()).await;
        assert_eq!(reply.status.as_u16(), 400, "{}", reply.text);
        assert_eq!(reply.json["feilkode"], "KJF-000018");
    }

    // The session lasts as long as the token it was created with.
    let (_, claims) = decode_jwt(&user.token);
    let exp = claims["exp"].as_i64().unwrap();
    advance(&app, exp - app.now().timestamp());
    let fresh = mint_user_with_key(&app, DIDRIK, json!({}), user.key.clone()).await;
    let expired = call(
        &app,
        "refresh",
        &fresh,
        &session_body(&opened.session_id),
        Tweak::default(),
    )
    .await;
    let at = chrono::DateTime::from_timestamp(exp, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_kj_error(
        &expired,
        409,
        "KJF-900012",
        &format!(
            "The session expired at {at} (it lasts as long as the access token it was created \
             or last refreshed with): create a new one with session/create"
        ),
        SESSION_GONE,
    );
}

/// Asserts a refused token: 401 KJF-000123 with the reason and a DPoP challenge.
#[track_caller]
fn assert_token_refused(reply: &Reply, reason: &str) {
    assert_kj_error(
        reply,
        401,
        "KJF-000123",
        &format!("The HelseID access token was refused: {reason}"),
        LOGIN_FAILED,
    );
    let challenge = reply.header("www-authenticate").unwrap_or_default();
    assert!(challenge.starts_with("DPoP "), "{challenge}");
}

#[actix_web::test]
async fn only_a_dpop_bound_user_token_for_innlogging_is_accepted() {
    let app = spawn_app().await;
    let user = didrik(&app).await;
    let body = create_body(KARI, "SAMTYKKE", &Pkce::new().challenge);
    let cases: [(Tweak<'_>, &str); 3] = [
        (
            Tweak {
                scheme: Some(""),
                ..Tweak::default()
            },
            "No access token: send the user's DPoP-bound token as 'Authorization: DPoP <token>' \
             with a DPoP proof in the DPoP header",
        ),
        (
            Tweak {
                scheme: Some("Bearer"),
                ..Tweak::default()
            },
            "Kjernejournal Innlogging accepts only DPoP-bound tokens: send 'Authorization: DPoP \
             <token>' with a DPoP proof in the DPoP header (the Bearer scheme is refused)",
        ),
        (
            Tweak {
                no_proof: true,
                ..Tweak::default()
            },
            "A DPoP-bound token needs a DPoP proof in the DPoP header",
        ),
    ];
    for (tweak, reason) in cases {
        assert_token_refused(&call(&app, "create", &user, &body, tweak).await, reason);
    }
    let unbound = mint_user(&app, DIDRIK, json!({"dpop_jkt": null})).await;
    assert_token_refused(
        &call(&app, "create", &unbound, &body, Tweak::default()).await,
        "The token is a bearer token (no cnf.jkt): send it as 'Authorization: Bearer'",
    );
    let wrong_aud = mint_user(&app, DIDRIK, json!({"broken": "wrong_audience"})).await;
    assert_token_refused(
        &call(&app, "create", &wrong_aud, &body, Tweak::default()).await,
        "The access token's audience [\"helsesim:wrong-audience\"] does not include \
         nhn:kjernejournal",
    );
    let api_only = mint_user(&app, DIDRIK, json!({"scope": ["nhn:kjernejournal/api"]})).await;
    assert_token_refused(
        &call(&app, "create", &api_only, &body, Tweak::default()).await,
        "The access token lacks the scope nhn:kjernejournal/innlogging",
    );
    let no_trust = mint_user(
        &app,
        DIDRIK,
        json!({"scope": ["nhn:kjernejournal/innlogging", "helseid://scopes/identity/pid",
                         "helseid://scopes/identity/security_level"]}),
    )
    .await;
    assert_token_refused(
        &call(&app, "create", &no_trust, &body, Tweak::default()).await,
        "The access token lacks the scope nhn:kjernejournal/tillitsrammeverk (Kjernejournal \
         Innlogging requires both nhn:kjernejournal/innlogging and \
         nhn:kjernejournal/tillitsrammeverk)",
    );
    let system = mint_user(&app, DIDRIK, json!({"user": null})).await;
    assert_kj_error(
        &call(&app, "create", &system, &body, Tweak::default()).await,
        401,
        "KJF-000123",
        "Kjernejournal Innlogging needs the user's access token (with \
         helseid://claims/identity/pid), not a system token: log the user in (authorization \
         code) and ask for a token with resource nhn:kjernejournal",
        LOGIN_FAILED,
    );
}

#[actix_web::test]
async fn security_level_4_and_the_attest_are_required() {
    let app = spawn_app().await;
    let body = create_body(KARI, "SAMTYKKE", &Pkce::new().challenge);
    let lars = mint_user(&app, LARS_LEVEL_3, json!({})).await;
    assert_kj_error(
        &call(&app, "create", &lars, &body, Tweak::default()).await,
        403,
        "KJF-900004",
        "The user logged in at security level 3: Kjernejournal Innlogging accepts only security \
         level 4 (helseid://claims/identity/security_level = 4)",
        "Du må logge inn med høyt sikkerhetsnivå (BankID, Buypass eller Commfides) for å bruke \
         kjernejournal.",
    );
    let attest_hint = "log the user in with the trust-framework attest (authorization_details \
                       of type nhn:tillitsrammeverk:parameters at PAR, or in the client \
                       assertion at the token request) and the scope \
                       nhn:kjernejournal/tillitsrammeverk";
    let user_message = "Journalsystemet sendte ikke tillitsrammeverkets attest. Kjernejournal \
                        kan ikke åpnes.";
    let without = mint_user(&app, DIDRIK, json!({"claims": {ATTEST_CLAIM: null}})).await;
    assert_kj_error(
        &call(&app, "create", &without, &body, Tweak::default()).await,
        403,
        "KJF-900010",
        &format!(
            "The access token has no trust-framework attest (claim \
             nhn:tillitsrammeverk:parameters): {attest_hint}"
        ),
        user_message,
    );
    let mut partial = attest();
    partial.as_object_mut().unwrap().remove("practitioner");
    let incomplete = mint_user(&app, DIDRIK, json!({"claims": {ATTEST_CLAIM: partial}})).await;
    assert_kj_error(
        &call(&app, "create", &incomplete, &body, Tweak::default()).await,
        403,
        "KJF-900010",
        &format!(
            "The trust-framework attest (claim nhn:tillitsrammeverk:parameters) lacks \
             practitioner (an object): {attest_hint}"
        ),
        user_message,
    );
}

#[actix_web::test]
async fn the_source_system_and_event_id_headers_are_checked() {
    let app = spawn_app().await;
    let user = didrik(&app).await;
    let body = create_body(KARI, "SAMTYKKE", &Pkce::new().challenge);
    let example = "e.g. 'X-SOURCE-SYSTEM: ACME EPJ 42.01 (build 7)'";
    let cases = [
        (
            Tweak {
                source_system: Some(None),
                ..Tweak::default()
            },
            format!(
                "The X-SOURCE-SYSTEM header is required: the EHR system's name and version, \
                 {example}"
            ),
        ),
        (
            Tweak {
                source_system: Some(Some("EP")),
                ..Tweak::default()
            },
            format!(
                "The X-SOURCE-SYSTEM header must be 3 to 512 characters long, got 2: {example}"
            ),
        ),
        (
            Tweak {
                source_system: Some(Some("ACME/EPJ 1.0")),
                ..Tweak::default()
            },
            format!(
                "The X-SOURCE-SYSTEM header may hold only letters, digits, space and . , ( ) -, \
                 not '/': {example}"
            ),
        ),
        (
            Tweak {
                event_id: Some("id_with_underscore"),
                ..Tweak::default()
            },
            "The X-EVENT-ID header, when sent, must be 1 to 128 letters (a-z, A-Z), digits and \
             hyphens, e.g. a UUID; got 18 bytes"
                .to_owned(),
        ),
    ];
    for (tweak, message) in cases {
        let reply = call(&app, "create", &user, &body, tweak).await;
        assert_kj_error(&reply, 400, "KJF-000018", &message, INVALID_REQUEST);
    }
    let long = "a".repeat(129);
    let tweak = Tweak {
        event_id: Some(&long),
        ..Tweak::default()
    };
    let reply = call(&app, "ping", &user, &Value::Null, tweak).await;
    assert_eq!(reply.status.as_u16(), 400, "{}", reply.text);
}

#[actix_web::test]
async fn create_bodies_are_checked_field_by_field() {
    let app = spawn_app().await;
    let user = didrik(&app).await;
    let text = Tweak {
        content_type: Some("text/plain"),
        ..Tweak::default()
    };
    let body = create_body(KARI, "SAMTYKKE", &Pkce::new().challenge);
    assert_kj_error(
        &call(&app, "create", &user, &body, text).await,
        400,
        "KJF-000018",
        "The body must be JSON with 'Content-Type: application/json' (got 'text/plain')",
        INVALID_REQUEST,
    );
    let mut bad = create_body("13116900217", "HPAKUTT", "not-a-challenge");
    bad["claims"]["patient_identifier"]["authority"] = json!("https://www.nav.no");
    bad["claims"]["practitioner_authorization"]["code"] = json!("lege");
    assert_kj_error(
        &call(&app, "create", &user, &bad, Tweak::default()).await,
        400,
        "KJF-000018",
        "ehr_code_challenge must be the S256 challenge of the EHR's code verifier: base64url \
         without padding of SHA-256(ehr_code_verifier), 43 characters; got 15 characters; \
         claims.patient_identifier.authority must be \"https://www.skatteetaten.no\", got \
         \"https://www.nav.no\"; claims.patient_identifier.id: '13116900217' is not a national \
         identity number: the control digits do not match; claims.practitioner_authorization.\
         code must be an HPR authorisation code of Volven 9060 (e.g. LE lege, SP sykepleier), \
         got \"lege\"; claims.access_basis.code must be SAMTYKKE, AKUTT or UNNTAK, got \
         \"HPAKUTT\"",
        INVALID_REQUEST,
    );
    let mut no_claims = create_body(KARI, "SAMTYKKE", &Pkce::new().challenge);
    no_claims["claims"] = json!("SAMTYKKE");
    let reply = call(&app, "create", &user, &no_claims, Tweak::default()).await;
    assert_eq!(reply.status.as_u16(), 400, "{}", reply.text);
    assert!(
        reply.json["utviklermelding"].as_str().unwrap().starts_with(
            "claims must be an object {patient_identifier, practitioner_authorization, \
                 access_basis}, got \"SAMTYKKE\""
        ),
        "{}",
        reply.text
    );
}

#[actix_web::test]
async fn a_helseindikator_ticket_sent_along_must_fit() {
    let app = spawn_app().await;
    let user = didrik(&app).await;
    let ticket = app.kj_ticket(KARI, None).await;
    let mut body = create_body(KARI, "SAMTYKKE", &Pkce::new().challenge);
    body["ticket"] = json!(ticket);
    let reply = call(&app, "create", &user, &body, Tweak::default()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);

    let reopen = "Åpne pasienten på nytt i journalsystemet for å hente ny tilgang til \
                  kjernejournal.";
    let mut other = create_body(
        crate::kjernejournal::LINE,
        "SAMTYKKE",
        &Pkce::new().challenge,
    );
    other["ticket"] = json!(ticket);
    assert_kj_error(
        &call(&app, "create", &user, &other, Tweak::default()).await,
        403,
        "KJF-000011",
        "The ticket was issued for another patient than claims.patient_identifier.id",
        reopen,
    );
    body["ticket"] = json!("ca2gveFcW%2BdZqO2Fx7EG");
    assert_kj_error(
        &call(&app, "create", &user, &body, Tweak::default()).await,
        403,
        "KJF-000011",
        "The ticket is not one kjernejournal's helseindikator issued, or it has been altered: \
         send it as helseindikator returned it, or leave it out",
        reopen,
    );
    advance(&app, 3600);
    body["ticket"] = json!(ticket);
    let fresh = didrik(&app).await;
    let expired = call(&app, "create", &fresh, &body, Tweak::default()).await;
    assert_eq!(expired.status.as_u16(), 403, "{}", expired.text);
    assert_eq!(expired.json["feilkode"], "KJF-000015");
}
