//! Kjernejournal: helseindikator and ping with the organisation's system token, the ticket, the
//! data APIs with the user's token, the error format and the random extra field.

use reqwest::StatusCode;
use reqwest::header::HeaderValue;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::helpers::*;

const KJ_LOGIN_SCOPES: &str = "openid profile offline_access helseid://scopes/identity/pid \
                               helseid://scopes/identity/security_level \
                               helseid://scopes/identity/assurance_level \
                               helseid://scopes/hpr/hpr_number nhn:kjernejournal/api";
pub(crate) const EPJ: &str = "helsesim tests versjon 1.0";

/// Patients of fixtures/sfm/national.json, by what they are for.
const KARI_STATUS_4: &str = "13116900216";
const PER_STATUS_3: &str = "14019800513";
const OLA_STATUS_2: &str = "10092939427";
const DMITRI_NO_KJ: &str = "42038540003";
const RAYMOND_UNKNOWN: &str = "10086148248";
const BENTE_BLOCKED: &str = "21878540058";
const SIRI_SPERRET: &str = "03859243036";
pub(crate) const LINE: &str = "12050050295";

/// The users.
const LARS_LEVEL_3: &str = "21817810044";
const HENRIK_NO_HPR: &str = "15837813732";

/// The fields of every kjernejournal error.
const ERROR_FIELDS: [&str; 4] = ["status", "utviklermelding", "brukermelding", "feilkode"];
/// The fields helseindikator answers.
const INDICATOR_FIELDS: [&str; 9] = [
    "eksistererBlokkertHelsepersonell",
    "harLasteResepter",
    "harLegemidler",
    "returTekst",
    "sistEndretKritiskInfo",
    "sistEndretKritiskInfoDato",
    "sperringDetaljer",
    "status",
    "ticket",
];

/// The body without the random extra field, after checking there is exactly one.
#[track_caller]
fn without_extra(body: &Value, known: &[&str]) -> Value {
    let object = body.as_object().expect("a JSON object");
    let extra: Vec<&String> = object
        .keys()
        .filter(|k| !known.contains(&k.as_str()))
        .collect();
    assert_eq!(extra.len(), 1, "exactly one extra field: {body}");
    let kept: Map<String, Value> = object
        .iter()
        .filter(|(k, _)| known.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Value::Object(kept)
}

/// Asserts a kjernejournal error: status, both messages, code, the caching headers.
#[track_caller]
pub(crate) fn assert_kj_error(
    reply: &Reply,
    status: u16,
    feilkode: &str,
    utvikler: &str,
    bruker: &str,
) {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.text);
    assert_eq!(
        without_extra(&reply.json, &ERROR_FIELDS),
        json!({
            "status": status, "utviklermelding": utvikler, "brukermelding": bruker,
            "feilkode": feilkode
        }),
    );
    assert_eq!(
        reply.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(
        reply.header("cache-control"),
        Some("no-cache, must-revalidate, private, s-maxage=0")
    );
    assert_eq!(reply.header("pragma"), Some("no-cache"));
    assert!(
        reply
            .header("x-event-id")
            .is_some_and(|id| id.starts_with("Id-")),
        "{:?}",
        reply.headers
    );
}

/// Asserts an error of the FHIR API: an OperationOutcome with the code and the messages.
#[track_caller]
pub(crate) fn assert_fhir_error(
    reply: &Reply,
    status: u16,
    feilkode: &str,
    utvikler: &str,
    bruker: &str,
) {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.text);
    assert_eq!(
        reply.json["resourceType"], "OperationOutcome",
        "{}",
        reply.text
    );
    assert_eq!(
        reply.json["issue"][0]["diagnostics"], feilkode,
        "{}",
        reply.text
    );
    assert_eq!(
        reply.json["issue"][1]["diagnostics"], utvikler,
        "{}",
        reply.text
    );
    assert_eq!(
        reply.json["issue"][1]["details"]["text"], bruker,
        "{}",
        reply.text
    );
    assert_eq!(
        reply.header("content-type"),
        Some("application/fhir+json; charset=utf-8")
    );
    assert_valid_fhir(&reply.json);
}

impl TestApp {
    /// A system token of the kjernejournal client (Fjellheim legesenter, 987654325).
    pub(crate) async fn kj_system_token(&self) -> String {
        let reply = self
            .system_token(KJERNEJOURNAL, "nhn:kjernejournal/api")
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.json["access_token"].as_str().unwrap().to_owned()
    }

    /// A system token of the multi-tenant client for an organisation (`NO:ORGNR:...`).
    async fn kj_multi_tenant_token(&self, org: &str) -> String {
        let assertion = Assertion::new(self, MULTI_TENANT)
            .multi_tenant_org(org)
            .sign();
        let reply = self
            .client_credentials(MULTI_TENANT, "nhn:kjernejournal/api", &assertion, &[])
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.json["access_token"].as_str().unwrap().to_owned()
    }

    /// A user's kjernejournal token (kjernejournal the only audience).
    pub(crate) async fn kj_user_token(
        &self,
        client_id: &str,
        pid: &str,
        details: Option<Value>,
    ) -> String {
        self.user_token(client_id, KJ_LOGIN_SCOPES, pid, details)
            .await
    }

    /// `POST /kjernejournal/v1/helseindikator` with a JSON body.
    pub(crate) async fn helseindikator(
        &self,
        token: Option<&str>,
        epj: Option<&str>,
        body: &Value,
    ) -> Reply {
        self.helseindikator_raw(token, epj, "application/json", &body.to_string())
            .await
    }

    async fn helseindikator_raw(
        &self,
        token: Option<&str>,
        epj: Option<&str>,
        content_type: &str,
        body: &str,
    ) -> Reply {
        let mut request = self
            .http
            .post(self.url("/kjernejournal/v1/helseindikator"))
            .header("Content-Type", content_type)
            .body(body.to_owned());
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        if let Some(epj) = epj {
            request = request.header("X-EPJ-System", epj);
        }
        Reply::read(request.send().await.unwrap()).await
    }

    /// `GET /kjernejournal/v1/ping` with a token and, optionally, `X-EPJ-System`.
    async fn kj_ping(&self, token: &str, epj: Option<&str>) -> Reply {
        self.kj_ping_via("/kjernejournal/v1/ping", token, epj).await
    }

    /// `GET` ping at `path` with the test EHR's `X-EPJ-System`.
    async fn kj_ping_at(&self, path: &str, token: &str) -> Reply {
        self.kj_ping_via(path, token, Some(EPJ)).await
    }

    async fn kj_ping_via(&self, path: &str, token: &str, epj: Option<&str>) -> Reply {
        let mut request = self
            .http
            .get(self.url(path))
            .header("Authorization", format!("Bearer {token}"));
        if let Some(epj) = epj {
            request = request.header("X-EPJ-System", epj);
        }
        Reply::read(request.send().await.unwrap()).await
    }

    /// A ticket for the patient, issued to the kjernejournal client's organisation.
    pub(crate) async fn kj_ticket(&self, fnr: &str, samtykke: Option<&str>) -> String {
        let token = self.kj_system_token().await;
        let mut body = json!({"fnr": fnr});
        if let Some(s) = samtykke {
            body["samtykke"] = json!(s);
        }
        let reply = self.helseindikator(Some(&token), Some(EPJ), &body).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.json["ticket"].as_str().unwrap().to_owned()
    }

    /// `GET /kjernejournal/v1/fhir/Patient{/fnr}/$everything`.
    async fn everything(
        &self,
        user: Option<&str>,
        ticket: Option<&str>,
        patient: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let path = match patient {
            Some(fnr) => format!("/kjernejournal/v1/fhir/Patient/{fnr}/$everything"),
            None => "/kjernejournal/v1/fhir/Patient/$everything".to_owned(),
        };
        let mut request = self
            .http
            .get(self.url(&path))
            .header("X-EPJ-System", EPJ)
            .header("Accept", "application/fhir+json");
        if let Some(user) = user {
            request = request.header("Authorization", format!("Bearer {user}"));
        }
        if let Some(ticket) = ticket {
            request = request.header("X-kj-ticket", ticket);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Reply::read(request.send().await.unwrap()).await
    }

    /// `GET /kjernejournal/v1/legemidler` with query parameters.
    pub(crate) async fn legemidler(&self, user: &str, query: &[(&str, &str)]) -> Reply {
        let request = self
            .http
            .get(self.url("/kjernejournal/v1/legemidler"))
            .query(query)
            .header("X-EPJ-System", EPJ)
            .header("Authorization", format!("Bearer {user}"));
        Reply::read(request.send().await.unwrap()).await
    }
}

/// Helseindikator's answer for a patient, without the ticket and the extra field.
async fn indicator_of(app: &TestApp, token: &str, fnr: &str) -> (Value, Option<String>) {
    let reply = app
        .helseindikator(Some(token), Some(EPJ), &json!({"fnr": fnr}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(
        reply.header("cache-control"),
        Some("no-cache, must-revalidate, private, s-maxage=0")
    );
    assert_eq!(reply.header("pragma"), Some("no-cache"));
    assert!(reply.header("x-event-id").is_some());
    let mut body = without_extra(&reply.json, &INDICATOR_FIELDS);
    let ticket = body
        .as_object_mut()
        .unwrap()
        .remove("ticket")
        .map(|t| t.as_str().unwrap().to_owned());
    (body, ticket)
}

fn restrictions(kritisk: bool, legemidler: bool) -> Value {
    json!([
        {"erSperret": kritisk, "modul": "KRITISKINFO"},
        {"erSperret": legemidler, "modul": "LEGEMIDLER"}
    ])
}

#[actix_web::test]
async fn every_status_from_0_to_4() {
    let app = spawn_app().await;
    let token = app.kj_system_token().await;
    let nothing = |status: u8, text: &str| {
        json!({
            "eksistererBlokkertHelsepersonell": false, "harLasteResepter": false,
            "harLegemidler": false,
            "returTekst": text, "sistEndretKritiskInfo": [], "sperringDetaljer": [],
            "status": status
        })
    };
    // 0: the control digits decide.
    // 31 Feb and 29 Feb 1900 have valid control digits, but are no dates (issue 12).
    for fnr in [
        "13116900217",
        "1311690021",
        "1311690021x",
        "32116900216",
        "31029010059",
        "29020010027",
    ] {
        let (body, ticket) = indicator_of(&app, &token, fnr).await;
        assert_eq!(body, nothing(0, "Ugyldig fødselsnummer"), "{fnr}");
        assert_eq!(ticket, None);
    }
    // 1: nobody knows him, or no kjernejournal.
    for fnr in [RAYMOND_UNKNOWN, DMITRI_NO_KJ] {
        let (body, ticket) = indicator_of(&app, &token, fnr).await;
        assert_eq!(
            body,
            nothing(1, "Pasienten har ikke kjernejournal"),
            "{fnr}"
        );
        assert_eq!(ticket, None);
    }
    // 2: a kjernejournal; a multidose patient has medications.
    let (body, ticket) = indicator_of(&app, &token, OLA_STATUS_2).await;
    assert_eq!(
        body,
        json!({
            "eksistererBlokkertHelsepersonell": false, "harLasteResepter": false,
            "harLegemidler": true,
            "returTekst": "Pasienten har kjernejournal", "sistEndretKritiskInfo": [],
            "sperringDetaljer": restrictions(false, false), "status": 2
        })
    );
    assert!(ticket.is_some());
    // 3: his own health information; a locked prescription; the medication module restricted.
    let (body, ticket) = indicator_of(&app, &token, PER_STATUS_3).await;
    assert_eq!(
        body,
        json!({
            "eksistererBlokkertHelsepersonell": false, "harLasteResepter": true,
            "harLegemidler": true,
            "returTekst": "Pasienten har registrert egne helseopplysninger i kjernejournal",
            "sistEndretKritiskInfo": [], "sperringDetaljer": restrictions(false, true), "status": 3
        })
    );
    assert!(ticket.is_some());
    // 4: critical information, dated by its latest change (the fixture's now-6y: 6 × 365 days).
    let (body, ticket) = indicator_of(&app, &token, KARI_STATUS_4).await;
    let latest = "2020-03-03T10:00:00.000Z";
    assert_eq!(
        body,
        json!({
            "eksistererBlokkertHelsepersonell": false, "harLasteResepter": false,
            "harLegemidler": true,
            "returTekst": "OBS: Kritisk informasjon i kjernejournal",
            "sistEndretKritiskInfo": [{"kategori": "OVER_REAK", "sistEndret": latest}],
            "sistEndretKritiskInfoDato": latest,
            "sperringDetaljer": restrictions(false, false), "status": 4
        })
    );
    // The ticket is opaque, URL-encoded base64, and no two are alike.
    let ticket = ticket.unwrap();
    assert!(
        ticket
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'%'),
        "{ticket}"
    );
    assert!(ticket.len() > 40, "{ticket}");
    let (_, again) = indicator_of(&app, &token, KARI_STATUS_4).await;
    assert_ne!(again.unwrap(), ticket);
}

#[actix_web::test]
async fn a_patient_who_blocked_a_professional_is_flagged() {
    let app = spawn_app().await;
    let token = app.kj_system_token().await;
    let (body, ticket) = indicator_of(&app, &token, BENTE_BLOCKED).await;
    assert_eq!(body["eksistererBlokkertHelsepersonell"], true);
    assert_eq!(body["status"], 4);
    assert!(ticket.is_some());
    let (body, _) = indicator_of(&app, &token, SIRI_SPERRET).await;
    assert_eq!(body["sperringDetaljer"], restrictions(true, false));
    assert_eq!(body["eksistererBlokkertHelsepersonell"], false);
}

#[actix_web::test]
async fn legemiddel_fra_dato_limits_har_legemidler() {
    let app = spawn_app().await;
    let token = app.kj_system_token().await;
    let ask = |fnr: &'static str, from: &'static str| {
        let app = &app;
        let token = token.clone();
        async move {
            let reply = app
                .helseindikator(
                    Some(&token),
                    Some(EPJ),
                    &json!({"fnr": fnr, "legemiddelFraDato": from}),
                )
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
            reply.json["harLegemidler"].clone()
        }
    };
    // Kari's Marevan was prescribed 10 days before the clock's now (2026-03-02).
    assert_eq!(ask(KARI_STATUS_4, "2026-02-20").await, true);
    assert_eq!(ask(KARI_STATUS_4, "2026-02-21").await, false);
    // A multidose patient has medications whatever the date.
    assert_eq!(ask(OLA_STATUS_2, "2030-01-01").await, true);
}

#[actix_web::test]
async fn helseindikator_requests_are_validated() {
    let app = spawn_app().await;
    let token = app.kj_system_token().await;
    let bruker = "Journalsystemet sendte en ugyldig forespørsel til kjernejournal.";
    let cases = [
        (
            json!({}),
            "fnr is required: the patient's fødselsnummer or D-nummer",
        ),
        (
            json!({"fnr": ""}),
            "fnr is required: the patient's fødselsnummer or D-nummer",
        ),
        (
            json!({"fnr": 13116900216_u64}),
            "fnr must be a string of eleven digits, got 13116900216",
        ),
        (
            json!({"fnr": KARI_STATUS_4, "samtykke": "JA"}),
            "samtykke must be one of HPMOTTATTSAMTYKKE, HPAKUTT, HPUNNTAK, got 'JA'",
        ),
        (
            json!({"fnr": KARI_STATUS_4, "legemiddelFraDato": "11.06.2021"}),
            "legemiddelFraDato must be a date such as 2021-06-11, got '11.06.2021'",
        ),
        (
            json!({"samtykke": "hpakutt", "legemiddelFraDato": 2021}),
            "fnr is required: the patient's fødselsnummer or D-nummer; legemiddelFraDato must be \
             a date string such as \"2021-06-11\", got 2021; samtykke must be one of \
             HPMOTTATTSAMTYKKE, HPAKUTT, HPUNNTAK, got 'hpakutt'",
        ),
        (
            json!(["13116900216"]),
            "The body must be a JSON object such as {\"fnr\": \"13116900216\"}",
        ),
    ];
    for (body, message) in cases {
        let reply = app.helseindikator(Some(&token), Some(EPJ), &body).await;
        assert_kj_error(&reply, 400, "KJF-000018", message, bruker);
    }
    let reply = app
        .helseindikator_raw(Some(&token), Some(EPJ), "application/json", "{\"fnr\": ")
        .await;
    assert_kj_error(
        &reply,
        400,
        "KJF-000018",
        "The body is not valid JSON: EOF while parsing a value at line 1 column 8",
        bruker,
    );
    let reply = app
        .helseindikator_raw(Some(&token), Some(EPJ), "text/plain", "fnr=13116900216")
        .await;
    assert_kj_error(
        &reply,
        400,
        "KJF-000018",
        "The body must be JSON with 'Content-Type: application/json' (got 'text/plain')",
        bruker,
    );
    // Unknown request fields are ignored, as a lenient JSON reader does.
    let reply = app
        .helseindikator(
            Some(&token),
            Some(EPJ),
            &json!({"fnr": KARI_STATUS_4, "ukjent": true}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

#[actix_web::test]
async fn framework_errors_come_in_kjernejournals_format() {
    let app = spawn_app().await;
    let token = app.kj_system_token().await;
    let generic = "Det oppstod en feil i kommunikasjonen med kjernejournal";
    let big = format!("{{\"fnr\": \"{}\"}}", "1".repeat(20_000));
    let reply = app
        .helseindikator_raw(Some(&token), Some(EPJ), "application/json", &big)
        .await;
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        reply.text
    );
    assert_eq!(reply.json["feilkode"], "KJF-000000");
    assert_eq!(reply.json["status"], 413);
    assert_eq!(reply.json["brukermelding"], generic);

    let reply = app.get("/kjernejournal/v1/helseindikator").await;
    assert_kj_error(
        &reply,
        405,
        "KJF-000000",
        "Method GET is not allowed here",
        generic,
    );
    assert_eq!(reply.header("allow"), Some("POST"));
    let reply = Reply::read(
        app.http
            .post(app.url("/kjernejournal/v1/ping"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.header("allow"), Some("GET"));
}

#[actix_web::test]
async fn system_calls_need_a_token_the_header_and_an_organisation_with_access() {
    let app = spawn_app().await;
    let body = json!({"fnr": KARI_STATUS_4});
    let login = "Pålogging mot kjernejournal feilet. Logg inn på nytt.";

    let reply = app.helseindikator(None, Some(EPJ), &body).await;
    assert_kj_error(
        &reply,
        401,
        "KJF-000123",
        "The HelseID access token was refused: No access token: send 'Authorization: Bearer \
         <token>' (or 'DPoP <token>' with a DPoP proof)",
        login,
    );
    let reply = app.helseindikator(Some("abc"), Some(EPJ), &body).await;
    assert_kj_error(
        &reply,
        401,
        "KJF-000123",
        "The HelseID access token was refused: The access token is not valid: not a compact JWS \
         (expected three base64url parts separated by dots)",
        login,
    );
    // A token for another API.
    let sfm = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let reply = app.helseindikator(Some(&sfm), Some(EPJ), &body).await;
    assert_kj_error(
        &reply,
        401,
        "KJF-000123",
        "The HelseID access token was refused: The access token's audience [\"e-helse:sfm.api\"] \
         does not include nhn:kjernejournal",
        login,
    );
    // An expired token.
    let token = app.kj_system_token().await;
    advance(&app, 3600 + 11);
    let reply = app.helseindikator(Some(&token), Some(EPJ), &body).await;
    assert_eq!(reply.json["feilkode"], "KJF-000123", "{}", reply.text);
    assert!(
        reply.json["utviklermelding"]
            .as_str()
            .unwrap()
            .starts_with("The HelseID access token was refused: The access token expired at "),
        "{}",
        reply.text
    );

    // No X-EPJ-System, on both endpoints.
    let token = app.kj_system_token().await;
    let missing = "The X-EPJ-System header is required on every call: name the EHR system and its \
                   version, e.g. 'X-EPJ-System: ACME EHR system versjon 42.01'";
    let incomplete = "Journalsystemet sendte en ufullstendig forespørsel til kjernejournal.";
    let reply = app.helseindikator(Some(&token), None, &body).await;
    assert_kj_error(&reply, 400, "KJF-900003", missing, incomplete);
    let reply = app.helseindikator(Some(&token), Some("  "), &body).await;
    assert_kj_error(&reply, 400, "KJF-900003", missing, incomplete);
    let reply = app.kj_ping(&token, None).await;
    assert_kj_error(&reply, 400, "KJF-900003", missing, incomplete);
    // A header that is there but not ASCII is not "missing" (issue 12): say what is wrong.
    let response = app
        .http
        .get(app.url("/kjernejournal/v1/ping"))
        .header("Authorization", format!("Bearer {token}"))
        .header(
            "X-EPJ-System",
            HeaderValue::from_bytes("Fjordjournal 2.0 – Bodø".as_bytes()).unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_kj_error(
        &Reply::read(response).await,
        400,
        "KJF-000018",
        "The X-EPJ-System header must be ASCII text (HTTP headers carry no other characters \
         reliably): write 'o' for 'ø', e.g. 'X-EPJ-System: ACME EHR system versjon 42.01'",
        "Journalsystemet sendte en ugyldig forespørsel til kjernejournal.",
    );

    // An organisation kjernejournal knows but has not granted access: the spec's error.
    let kolasbakkane = app.kj_multi_tenant_token("NO:ORGNR:917897468").await;
    let reply = app
        .helseindikator(Some(&kolasbakkane), Some(EPJ), &body)
        .await;
    assert_kj_error(
        &reply,
        403,
        "KJF-000227",
        "The organisation 917897468 has not been granted access to kjernejournal (access: false in \
         fixtures/kjernejournal/organisations.json)",
        "Virksomheten har ikke tilgang til kjernejournal",
    );
    // An organisation kjernejournal does not know.
    let unknown = app.kj_multi_tenant_token("NO:ORGNR:912345602").await;
    let reply = app.helseindikator(Some(&unknown), Some(EPJ), &body).await;
    assert_kj_error(
        &reply,
        403,
        "KJF-000013",
        "Unknown organisation: kjernejournal knows no organisation 912345602 (the token's \
         orgnr_child, else orgnr_parent). helsesim's organisations are in \
         fixtures/kjernejournal/organisations.json",
        "Virksomheten er ukjent for kjernejournal.",
    );
    // A customer's sub-unit (orgnr_child) with access.
    let sjokanten = app
        .kj_multi_tenant_token("NO:ORGNR:917897468:928765431")
        .await;
    let reply = app.helseindikator(Some(&sjokanten), Some(EPJ), &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

#[actix_web::test]
async fn ping_answers_the_time_for_a_test_connection_button() {
    let app = spawn_app().await;
    let token = app.kj_system_token().await;
    let reply = app.kj_ping(&token, Some(EPJ)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    // The spec's output table: "Pong | Body | Timestamp".
    assert_eq!(
        without_extra(&reply.json, &["Pong"]),
        json!({"Pong": "2026-03-02T10:00:00.000Z"})
    );
    assert!(reply.header("x-event-id").is_some());
    // The same authentication errors as helseindikator, as detailed.
    let kolasbakkane = app.kj_multi_tenant_token("NO:ORGNR:917897468").await;
    let reply = app.kj_ping(&kolasbakkane, Some(EPJ)).await;
    assert_kj_error(
        &reply,
        403,
        "KJF-000227",
        "The organisation 917897468 has not been granted access to kjernejournal (access: false in \
         fixtures/kjernejournal/organisations.json)",
        "Virksomheten har ikke tilgang til kjernejournal",
    );
}

/// Helseindikator's answer as a client with a strict model reads it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[expect(dead_code, reason = "the fields are there to be parsed")]
struct StrictIndicator {
    eksisterer_blokkert_helsepersonell: bool,
    har_laste_resepter: bool,
    har_legemidler: bool,
    retur_tekst: String,
    sist_endret_kritisk_info: Vec<Value>,
    sist_endret_kritisk_info_dato: Option<String>,
    sperring_detaljer: Vec<Value>,
    status: u8,
    ticket: Option<String>,
}

/// A kjernejournal error as a client with a strict model reads it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "the fields are there to be parsed")]
struct StrictError {
    status: u16,
    utviklermelding: String,
    brukermelding: String,
    feilkode: String,
}

#[actix_web::test]
async fn a_strict_client_breaks_on_the_extra_field_unless_it_is_switched_off() {
    let app = spawn_app().await;
    let token = app.kj_system_token().await;
    let mut names = std::collections::BTreeSet::new();
    for _ in 0..5 {
        let reply = app
            .helseindikator(Some(&token), Some(EPJ), &json!({"fnr": KARI_STATUS_4}))
            .await;
        let error = serde_json::from_str::<StrictIndicator>(&reply.text).unwrap_err();
        assert!(error.to_string().starts_with("unknown field"), "{error}");
        let extra = reply
            .json
            .as_object()
            .unwrap()
            .keys()
            .find(|k| !INDICATOR_FIELDS.contains(&k.as_str()))
            .unwrap()
            .clone();
        names.insert(extra);
    }
    assert!(names.len() > 1, "random names: {names:?}");
    // Errors too.
    let reply = app
        .helseindikator(Some(&token), None, &json!({"fnr": KARI_STATUS_4}))
        .await;
    assert!(serde_json::from_str::<StrictError>(&reply.text).is_err());

    // HELSESIM_KJ_EXTRA_FIELD=off: the same strict client reads every answer.
    let quiet = spawn_app_with(|s| s.kj_extra_field = false).await;
    let token = quiet.kj_system_token().await;
    for fnr in [KARI_STATUS_4, RAYMOND_UNKNOWN, "123"] {
        let reply = quiet
            .helseindikator(Some(&token), Some(EPJ), &json!({"fnr": fnr}))
            .await;
        serde_json::from_str::<StrictIndicator>(&reply.text).unwrap();
    }
    let reply = quiet
        .helseindikator(Some(&token), None, &json!({"fnr": KARI_STATUS_4}))
        .await;
    serde_json::from_str::<StrictError>(&reply.text).unwrap();
}

#[actix_web::test]
async fn critical_information_is_read_with_the_ticket_as_fhir() {
    let app = spawn_app().await;
    let ticket = app
        .kj_ticket(KARI_STATUS_4, Some("HPMOTTATTSAMTYKKE"))
        .await;
    let user = app.kj_user_token(KJERNEJOURNAL, DIDRIK, None).await;
    let reply = app.everything(Some(&user), Some(&ticket), None, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.header("content-type"),
        Some("application/fhir+json; charset=utf-8")
    );
    assert!(reply.header("x-event-id").is_some());
    // README's walkthrough so far (one system token, helseindikator, the user's token,
    // $everything): the integration advisor finds nothing.
    crate::advice::assert_no_findings(&app).await;
    assert_valid_fhir(&reply.json);
    assert_eq!(reply.json["resourceType"], "Bundle");
    assert_eq!(reply.json["type"], "searchset");
    assert_eq!(reply.json["total"], 2);
    let allergy = &reply.json["entry"][0]["resource"];
    assert_eq!(
        allergy["meta"]["profile"],
        json!(["http://nhn.no/kj/fhir/StructureDefinition/KjAllergyIntolerance"])
    );
    assert_eq!(allergy["resourceType"], "AllergyIntolerance");
    assert_eq!(allergy["criticality"], "high");
    assert_eq!(
        allergy["patient"],
        json!({
            "type": "Patient",
            "identifier": {"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": KARI_STATUS_4}
        })
    );
    assert_eq!(
        reply.json["entry"][0]["fullUrl"],
        format!(
            "{}/kjernejournal/v1/fhir/AllergyIntolerance/allergy-kari-jod",
            app.base
        )
    );
    // The instance-level form names the same patient; the decoded ticket works too.
    let decoded = percent_decode(&ticket);
    let reply = app
        .everything(Some(&user), Some(&decoded), Some(KARI_STATUS_4), &[])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    // A patient without critical information: an empty Bundle.
    let ticket = app.kj_ticket(OLA_STATUS_2, Some("HPAKUTT")).await;
    let reply = app.everything(Some(&user), Some(&ticket), None, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["total"], 0);
    assert!(reply.json.get("entry").is_none());
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("t={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .unwrap()
        .1
        .into_owned()
}

#[actix_web::test]
async fn a_ticket_lasts_one_hour_from_issue_for_its_patient_and_organisation() {
    let app = spawn_app().await;
    let ticket = app
        .kj_ticket(KARI_STATUS_4, Some("HPMOTTATTSAMTYKKE"))
        .await;
    let user = app.kj_user_token(KJERNEJOURNAL, DIDRIK, None).await;
    let reopen =
        "Åpne pasienten på nytt i journalsystemet for å hente ny tilgang til kjernejournal.";

    // Reusable within the hour: at 59 minutes it still works (use does not extend it). User
    // tokens live 10 minutes, so the user logs in again along the way.
    let reply = app.everything(Some(&user), Some(&ticket), None, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    advance(&app, 30 * 60);
    let user = app.kj_user_token(KJERNEJOURNAL, DIDRIK, None).await;
    let reply = app.everything(Some(&user), Some(&ticket), None, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    advance(&app, 29 * 60);
    let user = app.kj_user_token(KJERNEJOURNAL, DIDRIK, None).await;
    let reply = app.everything(Some(&user), Some(&ticket), None, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    // At 61 minutes it has expired.
    advance(&app, 2 * 60);
    let reply = app.everything(Some(&user), Some(&ticket), None, &[]).await;
    assert_fhir_error(
        &reply,
        403,
        "KJF-000015",
        "The provided ticket expired at 2026-03-02T11:00:00Z: a ticket is valid one hour from \
         issue (fixed, not extended by use). Call helseindikator again for a new one",
        reopen,
    );

    // Tampered: one character changed.
    let ticket = app
        .kj_ticket(KARI_STATUS_4, Some("HPMOTTATTSAMTYKKE"))
        .await;
    let mut tampered = ticket.clone().into_bytes();
    let i = tampered.len() / 2;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let invalid = "The provided ticket is invalid: it is not one kjernejournal issued, or it has \
                   been altered. Send the ticket exactly as helseindikator returned it \
                   (URL-encoded or decoded)";
    let reply = app
        .everything(Some(&user), Some(&tampered), None, &[])
        .await;
    assert_fhir_error(&reply, 403, "KJF-000011", invalid, reopen);
    // The spec's example ticket was never issued by this helsesim.
    let reply = app
        .everything(
            Some(&user),
            Some("ca2gveFcW%2BdZqO2Fx7EG773Lh0TUvO2gtz45gQCbbUrKpXBJf8yS3ROacFn%2Bq"),
            None,
            &[],
        )
        .await;
    assert_fhir_error(&reply, 403, "KJF-000011", invalid, reopen);

    // Another patient: the ticket is Kari's.
    let reply = app
        .everything(Some(&user), Some(&ticket), Some(LINE), &[])
        .await;
    assert_fhir_error(
        &reply,
        403,
        "KJF-900001",
        "The ticket was issued for another patient than the one this request names: a ticket is \
         valid for the patient of its helseindikator call only",
        "Tilgangen gjelder en annen pasient. Åpne pasienten på nytt i journalsystemet.",
    );
    let reply = app
        .everything(Some(&user), Some(&ticket), Some("13116900217"), &[])
        .await;
    assert_fhir_error(
        &reply,
        400,
        "KJF-000016",
        "National identification number not valid: '13116900217' is not a national identity \
         number: the control digits do not match",
        "Fødselsnummeret er ikke gyldig.",
    );

    // Another organisation: the ticket is Fjellheim's, the user works at Sjøkanten.
    let details = json!([org_detail(
        "urn:oid:1.0.6523",
        "NO:ORGNR:917897468:928765431"
    )]);
    let sjokanten_user = app.kj_user_token(MULTI_TENANT, DIDRIK, Some(details)).await;
    let reply = app
        .everything(Some(&sjokanten_user), Some(&ticket), None, &[])
        .await;
    assert_fhir_error(
        &reply,
        403,
        "KJF-900002",
        "The ticket was issued to organisation 987654325, but the user token is for organisation \
         928765431: a ticket is valid for the organisation whose system token asked for it only",
        reopen,
    );

    // No ticket at all.
    let reply = app.everything(Some(&user), None, None, &[]).await;
    assert_fhir_error(
        &reply,
        400,
        "KJF-000018",
        "No ticket: send the ticket helseindikator returned in the X-kj-ticket header",
        "Journalsystemet sendte en ugyldig forespørsel til kjernejournal.",
    );
}

#[actix_web::test]
async fn the_data_apis_take_only_a_level_4_health_professionals_own_token() {
    let app = spawn_app().await;
    let ticket = app
        .kj_ticket(KARI_STATUS_4, Some("HPMOTTATTSAMTYKKE"))
        .await;
    let login = "Pålogging mot kjernejournal feilet. Logg inn på nytt.";
    // A system token.
    let system = app.kj_system_token().await;
    let reply = app
        .everything(Some(&system), Some(&ticket), None, &[])
        .await;
    assert_fhir_error(
        &reply,
        401,
        "KJF-000123",
        "The data APIs need the user's access token (with helseid://claims/identity/pid), not a \
         system token: log the user in (authorization code) and ask for a token with resource \
         nhn:kjernejournal",
        login,
    );
    // A user token with two audiences.
    let (code, pkce) = app
        .login_code(
            MULTI_TENANT,
            LOGIN_SCOPES,
            DIDRIK,
            &[(
                "authorization_details",
                &json!([org_detail(
                    "urn:oid:1.0.6523",
                    "NO:ORGNR:917897468:928765431"
                )])
                .to_string(),
            )],
        )
        .await;
    let reply = app
        .exchange_code(MULTI_TENANT, &code, &pkce.verifier, &[], &[])
        .await;
    let both = reply.json["access_token"].as_str().unwrap().to_owned();
    let several = "The HelseID access token was refused: The access token has several audiences \
                   [\"e-helse:sfm.api\", \"nhn:kjernejournal\"]: this API requires a token whose \
                   only audience is nhn:kjernejournal";
    let reply = app.everything(Some(&both), Some(&ticket), None, &[]).await;
    assert_fhir_error(&reply, 401, "KJF-000123", several, login);
    // "KJ APIs require access tokens with the API Resource as the only audience": at every API,
    // helseindikator and ping too.
    let reply = app
        .helseindikator(Some(&both), Some(EPJ), &json!({"fnr": KARI_STATUS_4}))
        .await;
    assert_kj_error(&reply, 401, "KJF-000123", several, login);
    let reply = app.kj_ping_at("/kjernejournal/v1/ping", &both).await;
    assert_kj_error(&reply, 401, "KJF-000123", several, login);
    // Security level 3.
    let lars = app.kj_user_token(KJERNEJOURNAL, LARS_LEVEL_3, None).await;
    let reply = app.everything(Some(&lars), Some(&ticket), None, &[]).await;
    assert_fhir_error(
        &reply,
        403,
        "KJF-900004",
        "The user logged in at security level 3: kjernejournal accepts only security level 4 \
         (helseid://claims/identity/security_level = 4)",
        "Du må logge inn med høyt sikkerhetsnivå (BankID, Buypass eller Commfides) for å bruke \
         kjernejournal.",
    );
    // No HPR number.
    let henrik = app.kj_user_token(KJERNEJOURNAL, HENRIK_NO_HPR, None).await;
    let reply = app
        .everything(Some(&henrik), Some(&ticket), None, &[])
        .await;
    assert_fhir_error(
        &reply,
        403,
        "KJF-000014",
        "The user is not registered in kjernejournal: the token carries no HPR number \
         (helseid://claims/hpr/hpr_number), and kjernejournal serves authorised health \
         professionals only",
        "Du er ikke registrert som bruker av kjernejournal.",
    );
    // No X-EPJ-System.
    let user = app.kj_user_token(KJERNEJOURNAL, DIDRIK, None).await;
    let reply = Reply::read(
        app.http
            .get(app.url("/kjernejournal/v1/fhir/Patient/$everything"))
            .header("Authorization", format!("Bearer {user}"))
            .header("X-kj-ticket", &ticket)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_fhir_error(
        &reply,
        400,
        "KJF-900003",
        "The X-EPJ-System header is required on every call: name the EHR system and its version, \
         e.g. 'X-EPJ-System: ACME EHR system versjon 42.01'",
        "Journalsystemet sendte en ufullstendig forespørsel til kjernejournal.",
    );
    // Unknown paths and other methods under the FHIR API answer as the FHIR API does.
    let reply = app.get("/kjernejournal/v1/fhir/AllergyIntolerance").await;
    assert_fhir_error(
        &reply,
        404,
        "KJF-000000",
        "Kjernejournal's FHIR API has no endpoint at /kjernejournal/v1/fhir/AllergyIntolerance: \
         only GET Patient/$everything is supported",
        "Det oppstod en feil i kommunikasjonen med kjernejournal",
    );
}

#[actix_web::test]
async fn consent_and_restricted_modules() {
    let app = spawn_app().await;
    let user = app.kj_user_token(KJERNEJOURNAL, DIDRIK, None).await;
    // A ticket without consent: nothing, unless the request gives one.
    let ticket = app.kj_ticket(KARI_STATUS_4, None).await;
    let reply = app.everything(Some(&user), Some(&ticket), None, &[]).await;
    assert_fhir_error(
        &reply,
        403,
        "KJF-900005",
        "No consent (samtykke): the ticket carries none (helseindikator was called without \
         samtykke) and the request gives none (header KJ-SAMTYKKE-BRUK). Use HPMOTTATTSAMTYKKE, \
         HPAKUTT or HPUNNTAK",
        "Pasientens samtykke (eller akuttgrunnlag) må registreres før kjernejournal kan åpnes.",
    );
    let reply = app
        .everything(
            Some(&user),
            Some(&ticket),
            None,
            &[("KJ-SAMTYKKE-BRUK", "HPUNNTAK")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let reply = app
        .everything(
            Some(&user),
            Some(&ticket),
            None,
            &[("KJ-SAMTYKKE-BRUK", "JA")],
        )
        .await;
    assert_fhir_error(
        &reply,
        400,
        "KJF-000018",
        "KJ-SAMTYKKE-BRUK must be one of HPMOTTATTSAMTYKKE, HPAKUTT, HPUNNTAK, got 'JA'",
        "Journalsystemet sendte en ugyldig forespørsel til kjernejournal.",
    );

    // Siri restricted her critical information: it opens with KJ-SAMTYKKE-SPERRET-KRITISKINFO.
    let ticket = app.kj_ticket(SIRI_SPERRET, Some("HPMOTTATTSAMTYKKE")).await;
    let reply = app.everything(Some(&user), Some(&ticket), None, &[]).await;
    assert_fhir_error(
        &reply,
        403,
        "KJF-900006",
        "The patient has restricted (sperret) the module KRITISKINFO: it opens only with the \
         patient's consent or in an emergency (send KJ-SAMTYKKE-SPERRET-KRITISKINFO: \
         HPMOTTATTSAMTYKKE, HPAKUTT or HPUNNTAK)",
        "Pasienten har sperret denne delen av kjernejournal. Den kan bare åpnes med pasientens \
         samtykke eller i en akuttsituasjon.",
    );
    // KJ's "HTTP Header" page lists HPUNNTAK (no consent needed: the patient's GP, a
    // specialist) for this header too.
    for value in ["HPMOTTATTSAMTYKKE", "HPAKUTT", "HPUNNTAK"] {
        let reply = app
            .everything(
                Some(&user),
                Some(&ticket),
                None,
                &[("KJ-SAMTYKKE-SPERRET-KRITISKINFO", value)],
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{value}: {}", reply.text);
        assert_eq!(reply.json["total"], 1);
    }
    let reply = app
        .everything(
            Some(&user),
            Some(&ticket),
            None,
            &[("KJ-SAMTYKKE-SPERRET-KRITISKINFO", "JA")],
        )
        .await;
    assert_fhir_error(
        &reply,
        400,
        "KJF-000018",
        "KJ-SAMTYKKE-SPERRET-KRITISKINFO must be one of HPMOTTATTSAMTYKKE, HPAKUTT, HPUNNTAK, got \
         'JA'",
        "Journalsystemet sendte en ugyldig forespørsel til kjernejournal.",
    );
    // The header must not be used when the module is not restricted.
    let ticket = app
        .kj_ticket(KARI_STATUS_4, Some("HPMOTTATTSAMTYKKE"))
        .await;
    let reply = app
        .everything(
            Some(&user),
            Some(&ticket),
            None,
            &[("KJ-SAMTYKKE-SPERRET-KRITISKINFO", "HPAKUTT")],
        )
        .await;
    assert_fhir_error(
        &reply,
        400,
        "KJF-900007",
        "KJ-SAMTYKKE-SPERRET-KRITISKINFO was sent, but the patient has not restricted the module \
         KRITISKINFO: it must not be used then (see sperringDetaljer in helseindikator's answer)",
        "Journalsystemet sendte en ugyldig forespørsel til kjernejournal.",
    );

    // Bente blocked a health professional: nothing clinical, whatever the consent.
    let ticket = app
        .kj_ticket(BENTE_BLOCKED, Some("HPMOTTATTSAMTYKKE"))
        .await;
    let blocked = "The patient has blocked at least one health professional \
                   (eksistererBlokkertHelsepersonell): kjernejournal then shares no clinical \
                   information through its APIs";
    let bruker = "Pasienten har sperret tilgang for helsepersonell. Kjernejournal kan ikke vises i \
                  journalsystemet; bruk kjernejournal-portalen.";
    let reply = app.everything(Some(&user), Some(&ticket), None, &[]).await;
    assert_fhir_error(&reply, 403, "KJF-000180", blocked, bruker);
    let reply = app
        .legemidler(
            &user,
            &[
                ("ticket", &ticket),
                ("fra", "2020-01-01T00:00:00Z"),
                ("utvidet-oppslag", "true"),
            ],
        )
        .await;
    assert_kj_error(&reply, 403, "KJF-000180", blocked, bruker);
}

#[actix_web::test]
async fn the_medication_overview() {
    let app = spawn_app().await;
    let user = app.kj_user_token(KJERNEJOURNAL, DIDRIK, None).await;
    let ticket = app.kj_ticket(LINE, Some("HPMOTTATTSAMTYKKE")).await;
    let known = [
        "hentetTidspunkt",
        "fra",
        "resepter",
        "legemiddelliste",
        "multidose",
        "skjulteLasteResepter",
    ];
    let names = |body: &Value| -> Vec<(String, String)> {
        body["resepter"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["legemiddel"].as_str().unwrap().to_owned(),
                    r["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    // The extended lookup: every prescription of the last three years.
    let reply = app
        .legemidler(
            &user,
            &[
                ("ticket", &ticket),
                ("fra", "2015-11-29T13:37:19.003Z"),
                ("utvidet-oppslag", "true"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let body = without_extra(&reply.json, &known);
    assert_eq!(body["hentetTidspunkt"], "2026-03-02T10:00:00.000Z");
    assert_eq!(body["fra"], "2023-03-03");
    assert_eq!(
        names(&body),
        [
            ("Atorvastatin Sandoz tab 20 mg", "Ekspederbar"),
            ("Metformin Teva tab 500 mg", "UnderEkspedering"),
            ("Paracet tab 500 mg", "Ekspedert"),
            ("Amoxicillin Actavis kaps 500 mg", "Tilbakekalt"),
            ("Zopiclone Mylan tab 5 mg", "Ekspederbar"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    assert_eq!(
        body["resepter"][0]["utleveringer"][0]["apotek"],
        "Apotek 1 Fjordbyen"
    );
    assert_eq!(
        body["legemiddelliste"]["legemidler"][0]["legemiddel"],
        "Atorvastatin Sandoz tab 20 mg"
    );
    assert_eq!(body["multidose"], Value::Null);
    assert_eq!(body["skjulteLasteResepter"], false);
    // Without the extended lookup: the active ones, since fra.
    let reply = app
        .legemidler(
            &user,
            &[
                ("ticket", &ticket),
                ("fra", "2026-01-01"),
                ("utvidet-oppslag", "false"),
            ],
        )
        .await;
    assert_eq!(
        names(&reply.json),
        [
            ("Atorvastatin Sandoz tab 20 mg", "Ekspederbar"),
            ("Metformin Teva tab 500 mg", "UnderEkspedering"),
            ("Zopiclone Mylan tab 5 mg", "Ekspederbar"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    // The query is validated, every problem at once.
    let reply = app
        .legemidler(&user, &[("ticket", &ticket), ("utvidet-oppslag", "ja")])
        .await;
    assert_kj_error(
        &reply,
        400,
        "KJF-000018",
        "fra is required: the earliest time to include, e.g. 2015-11-29T13:37:19.003Z; \
         utvidet-oppslag must be true or false, got 'ja'",
        "Journalsystemet sendte en ugyldig forespørsel til kjernejournal.",
    );

    // Per restricted his medication module and has a locked prescription.
    let ticket = app.kj_ticket(PER_STATUS_3, Some("HPMOTTATTSAMTYKKE")).await;
    let base = [
        ("ticket", ticket.as_str()),
        ("fra", "2026-01-01"),
        ("utvidet-oppslag", "true"),
    ];
    let reply = app.legemidler(&user, &base).await;
    assert_kj_error(
        &reply,
        403,
        "KJF-900006",
        "The patient has restricted (sperret) the module LEGEMIDLER: it opens only with the \
         patient's consent or in an emergency (send samtykke-sperret-legemidler: HPMOTTATTSAMTYKKE \
         or HPAKUTT)",
        "Pasienten har sperret denne delen av kjernejournal. Den kan bare åpnes med pasientens \
         samtykke eller i en akuttsituasjon.",
    );
    let mut opened = base.to_vec();
    opened.push(("samtykke-sperret-legemidler", "HPAKUTT"));
    let reply = app.legemidler(&user, &opened).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        names(&reply.json),
        [(
            "Cetirizin Mylan tab 10 mg".to_owned(),
            "Ekspederbar".to_owned()
        )]
    );
    assert_eq!(reply.json["skjulteLasteResepter"], true);
    opened.push(("samtykke-laste-resepter", "HPMOTTATTSAMTYKKE"));
    let reply = app.legemidler(&user, &opened).await;
    assert_eq!(
        reply.json["resepter"].as_array().unwrap().len(),
        2,
        "{}",
        reply.text
    );
    assert_eq!(reply.json["resepter"][0]["legemiddel"], "Sobril tab 10 mg");
    assert_eq!(reply.json["resepter"][0]["last"], true);
    assert_eq!(reply.json["skjulteLasteResepter"], false);
    // samtykke-laste-resepter takes only HPMOTTATTSAMTYKKE or HPAKUTT.
    opened.pop();
    opened.push(("samtykke-laste-resepter", "HPUNNTAK"));
    let reply = app.legemidler(&user, &opened).await;
    assert_kj_error(
        &reply,
        400,
        "KJF-000018",
        "samtykke-laste-resepter must be one of HPMOTTATTSAMTYKKE, HPAKUTT, got 'HPUNNTAK'",
        "Journalsystemet sendte en ugyldig forespørsel til kjernejournal.",
    );
    // The multidose patient.
    let ticket = app.kj_ticket(OLA_STATUS_2, None).await;
    let reply = app
        .legemidler(
            &user,
            &[
                ("ticket", &ticket),
                ("fra", "2026-01-01"),
                ("utvidet-oppslag", "false"),
                ("samtykke-bruk-api", "HPMOTTATTSAMTYKKE"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.json["multidose"],
        json!({"lege": "Didrik D Didrikson", "apotek": "Apotek 1 Multidose"})
    );
}

/// The spec prints `POST /v1/helseindikator/` (trailing slash): every documented path answers
/// with and without it, as the real (Spring) service does (issue 13).
#[actix_web::test]
async fn documented_paths_answer_with_and_without_a_trailing_slash() {
    let app = spawn_app().await;
    let token = app.kj_system_token().await;
    for path in [
        "/kjernejournal/v1/helseindikator/",
        "/kjernejournal/v1/helseindikator",
        "/kjernejournal/v1/helseindikator/status/",
    ] {
        let reply = Reply::read(
            app.http
                .post(app.url(path))
                .header("Authorization", format!("Bearer {token}"))
                .header("X-EPJ-System", EPJ)
                .header("Content-Type", "application/json;charset=UTF-8")
                .body(r#"{"fnr":"13116900216"}"#)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text);
        assert_eq!(reply.json["status"], 4, "{path}");
    }
    for path in ["/kjernejournal/v1/ping/", "/kjernejournal/v1/ping"] {
        let reply = app.kj_ping_at(path, &token).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text);
    }
}
