//! SFM's session service (`/sfm/api`): patient tickets (authentication, bodies, lookups,
//! content negotiation, sliding lifetime). GUI sessions: `sfm_gui.rs`.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

/// Henrik Helsesekretær: a HelseID user who is no user of any SFM instance.
const HENRIK: &str = "15837813732";
/// Dina Dnummer: a Fjordbyen user by her D-nummer.
const DINA: &str = "41836510095";
const SFM_SCOPE: &str = "e-helse:sfm.api/sfm.api";
const LINE: &str = r#"{"patientPid": "12050050295"}"#;

/// Asserts an RFC 9457 problem as ASP.NET Core writes it.
#[track_caller]
fn assert_problem(reply: &Reply, status: StatusCode, detail: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json"),
        "{}",
        reply.text
    );
    let section = match status.as_u16() {
        400 => "15.5.1",
        401 => "15.5.2",
        404 => "15.5.5",
        405 => "15.5.6",
        413 => "15.5.14",
        415 => "15.5.16",
        other => panic!("no section for {other}"),
    };
    assert_eq!(
        reply.json,
        json!({
            "type": format!("https://tools.ietf.org/html/rfc9110#section-{section}"),
            "title": status.canonical_reason().unwrap(),
            "status": status.as_u16(),
            "detail": detail,
        }),
        "{}",
        reply.text
    );
}

/// A POST to the session service with a raw body and an explicit Content-Type.
async fn post_api(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: &str,
) -> Reply {
    let mut request = app
        .http
        .post(app.url(&format!("/sfm/api{path}")))
        .header("Content-Type", content_type)
        .body(body.to_owned());
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    Reply::read(request.send().await.unwrap()).await
}

/// A ticket as JSON, asserting 200, the Expires header and the GUID-like form.
#[track_caller]
fn assert_ticket(reply: &Reply, expires: &str) -> String {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("expires"), Some(expires));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let ticket = reply.json["patientTicket"].as_str().unwrap().to_owned();
    assert_eq!(reply.json, json!({ "patientTicket": ticket }));
    let parts: Vec<usize> = ticket.split('-').map(str::len).collect();
    assert_eq!(parts, [8, 4, 4, 4, 12], "{ticket}");
    assert!(ticket.chars().all(|c| c.is_ascii_hexdigit() || c == '-'));
    ticket
}

// ---------------------------------------------------------------------------------------------
// PatientTicket: who may ask.

#[actix_web::test]
async fn a_patient_ticket_needs_a_valid_sfm_user_token() {
    let app = spawn_app().await;

    let reply = app.patient_ticket(None, LINE, None).await;
    assert_problem(
        &reply,
        StatusCode::UNAUTHORIZED,
        "No access token: send 'Authorization: Bearer <token>' (or 'DPoP <token>' with a DPoP \
         proof)",
    );
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Bearer realm=\"helsesim\"")
    );

    let reply = app.patient_ticket(Some("garbage"), LINE, None).await;
    let detail = "The access token is not valid: not a compact JWS (expected three base64url parts \
                  separated by dots)";
    assert_problem(&reply, StatusCode::UNAUTHORIZED, detail);
    assert_eq!(
        reply.header("www-authenticate"),
        Some(&*format!(
            "Bearer error=\"invalid_token\", error_description=\"{detail}\""
        ))
    );

    // A kjernejournal token is for another API.
    let reply = app
        .system_token(KJERNEJOURNAL, "nhn:kjernejournal/api")
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let kj = reply.json["access_token"].as_str().unwrap().to_owned();
    let reply = app.patient_ticket(Some(&kj), LINE, None).await;
    assert_problem(
        &reply,
        StatusCode::UNAUTHORIZED,
        "The access token's audience [\"nhn:kjernejournal\"] does not include e-helse:sfm.api",
    );
    assert_eq!(
        reply.header("www-authenticate"),
        Some(
            "Bearer error=\"invalid_token\", error_description=\"The access token's audience \
             ['nhn:kjernejournal'] does not include e-helse:sfm.api\""
        )
    );

    // A system token of an SFM client names the instance but no user.
    let reply = app.system_token(SFM_READY, SFM_SCOPE).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let system = reply.json["access_token"].as_str().unwrap().to_owned();
    let reply = app.patient_ticket(Some(&system), LINE, None).await;
    let detail = "SFM needs a user token: the token has no helseid://claims/identity/pid (log the \
                  user in, with the scope helseid://scopes/identity/pid)";
    assert_problem(&reply, StatusCode::UNAUTHORIZED, detail);
    assert_eq!(
        reply.header("www-authenticate"),
        Some(&*format!(
            "Bearer error=\"invalid_token\", error_description=\"{detail}\""
        ))
    );
}

#[actix_web::test]
async fn an_unknown_instance_or_user_is_unauthorized() {
    let app = spawn_app().await;

    // The sfm-new-tenant client's Kolåsbakkane does not exist yet.
    let token = app.sfm_token(SFM_NEW_TENANT, DIDRIK, None).await;
    let reply = app.patient_ticket(Some(&token), LINE, None).await;
    assert_problem(
        &reply,
        StatusCode::UNAUTHORIZED,
        &format!(
            "SFM does not recognise the instance {KOLASBAKKANE}: create it first with POST \
             /sfm/fhir/Organization"
        ),
    );
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Bearer error=\"invalid_token\"")
    );

    // Henrik logs in through Fjordbyen's client but is no user of Fjordbyen.
    let token = app.sfm_token(SFM_READY, HENRIK, None).await;
    let reply = app.patient_ticket(Some(&token), LINE, None).await;
    assert_problem(
        &reply,
        StatusCode::UNAUTHORIZED,
        &format!(
            "SFM does not recognise the user {HENRIK} in this instance: a superuser registers \
             users as Person or Practitioner"
        ),
    );
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Bearer error=\"invalid_token\"")
    );
}

// ---------------------------------------------------------------------------------------------
// PatientTicket: the request.

#[actix_web::test]
async fn malformed_patient_ticket_requests_are_refused() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let token = Some(token.as_str());

    let reply = app.patient_ticket(token, r#"{"patientPid": "#, None).await;
    assert_problem(
        &reply,
        StatusCode::BAD_REQUEST,
        "The body is not valid JSON: EOF while parsing a value at line 1 column 15",
    );
    let reply = app.patient_ticket(token, r#"["12050050295"]"#, None).await;
    assert_problem(
        &reply,
        StatusCode::BAD_REQUEST,
        "The body must be a JSON object",
    );
    for body in [
        r#"{}"#,
        r#"{"patientpid": "12050050295"}"#,
        r#"{"patientPid": ""}"#,
        r#"{"patientPid": "   "}"#,
    ] {
        let reply = app.patient_ticket(token, body, None).await;
        assert_problem(&reply, StatusCode::BAD_REQUEST, "patientPid is missing");
    }
    for body in [
        r#"{"patientPid": 12050050295}"#,
        r#"{"patientPid": null}"#,
        r#"{"patientPid": ["12050050295"]}"#,
    ] {
        let reply = app.patient_ticket(token, body, None).await;
        assert_problem(
            &reply,
            StatusCode::BAD_REQUEST,
            "patientPid must be a string (fødselsnummer, D-nummer or the EHR's id)",
        );
    }

    let reply = post_api(&app, "/PatientTicket", token, "text/plain", LINE).await;
    assert_problem(
        &reply,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Content-Type must be application/json, got 'text/plain'",
    );
    // A charset parameter is fine.
    let reply = post_api(
        &app,
        "/PatientTicket",
        token,
        "application/json; charset=utf-8",
        LINE,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

#[actix_web::test]
async fn a_body_over_16_kib_is_too_large() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let body = |len: usize| {
        let frame = r#"{"patientPid": "12050050295", "padding": ""}"#;
        let body = format!(
            r#"{{"patientPid": "12050050295", "padding": "{}"}}"#,
            "x".repeat(len - frame.len())
        );
        assert_eq!(body.len(), len);
        body
    };
    // Exactly 16 KiB is accepted, one byte more is not.
    let reply = app
        .patient_ticket(Some(&token), &body(16 * 1024), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let reply = app
        .patient_ticket(Some(&token), &body(16 * 1024 + 1), None)
        .await;
    assert_problem(
        &reply,
        StatusCode::PAYLOAD_TOO_LARGE,
        "The request body is too large (payload reached size limit)",
    );
}

#[actix_web::test]
async fn patients_are_found_by_fnr_dnr_or_the_ehrs_id() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let token = Some(token.as_str());
    let json = Some("application/json");

    let reply = app
        .patient_ticket(token, r#"{"patientPid": "99999999999"}"#, json)
        .await;
    assert_problem(
        &reply,
        StatusCode::NOT_FOUND,
        "No patient with the identity 99999999999 in this SFM instance (searched by \
         fødselsnummer, D-nummer, then the EHR's id)",
    );

    let expires = "Mon, 02 Mar 2026 11:00:00 GMT";
    let fnr = assert_ticket(&app.patient_ticket(token, LINE, json).await, expires);
    let dnr = assert_ticket(
        &app.patient_ticket(token, r#"{"patientPid": "42038540003"}"#, json)
            .await,
        expires,
    );
    let epj = assert_ticket(
        &app.patient_ticket(token, r#"{"patientPid": "EPJ-4711"}"#, json)
            .await,
        expires,
    );
    assert!(fnr != dnr && dnr != epj && fnr != epj);
    // The same patient again is the same ticket.
    let again = assert_ticket(
        &app.patient_ticket(token, r#"{"patientPid": "42038540003"}"#, json)
            .await,
        expires,
    );
    assert_eq!(again, dnr);
    // An id is matched exactly: the EHR's id is not a prefix or case-insensitive match.
    let reply = app
        .patient_ticket(token, r#"{"patientPid": "epj-4711"}"#, json)
        .await;
    assert_problem(
        &reply,
        StatusCode::NOT_FOUND,
        "No patient with the identity epj-4711 in this SFM instance (searched by fødselsnummer, \
         D-nummer, then the EHR's id)",
    );
}

#[actix_web::test]
async fn only_post_is_allowed_on_the_session_service() {
    let app = spawn_app().await;
    for method in ["GET", "PUT", "DELETE"] {
        for path in [
            "/PatientTicket",
            "/Session/create",
            "/Session/refresh",
            "/Session/end",
        ] {
            let reply = Reply::read(
                app.http
                    .request(method.parse().unwrap(), app.url(&format!("/sfm/api{path}")))
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_problem(
                &reply,
                StatusCode::METHOD_NOT_ALLOWED,
                &format!("Method {method} is not allowed here"),
            );
            assert_eq!(reply.header("allow"), Some("POST"), "{method} {path}");
        }
    }
    // An unknown endpoint is a problem too.
    let reply = app.get("/sfm/api/Tickets").await;
    assert_problem(
        &reply,
        StatusCode::NOT_FOUND,
        "SFM's session service has no endpoint at /sfm/api/Tickets",
    );
}

#[actix_web::test]
async fn json_when_accept_lists_application_json_text_otherwise() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let token = Some(token.as_str());
    let expires = "Mon, 02 Mar 2026 11:00:00 GMT";

    let ticket = assert_ticket(
        &app.patient_ticket(token, LINE, Some("text/plain, application/json;q=0.9"))
            .await,
        expires,
    );
    for accept in [
        "application/json",
        "APPLICATION/JSON",
        "*/*;q=0.1,application/json",
    ] {
        let reply = app.patient_ticket(token, LINE, Some(accept)).await;
        assert!(
            reply
                .header("content-type")
                .unwrap()
                .starts_with("application/json"),
            "{accept}"
        );
        assert_eq!(assert_ticket(&reply, expires), ticket, "{accept}");
    }
    for accept in [
        Some("text/plain"),
        Some("*/*"),
        Some("application/json-patch+json"),
        Some("application/problem+json"),
        None,
    ] {
        let reply = app.patient_ticket(token, LINE, accept).await;
        assert_eq!(reply.status, StatusCode::OK, "{accept:?}");
        assert_eq!(
            reply.header("content-type"),
            Some("text/plain; charset=utf-8"),
            "{accept:?}"
        );
        assert_eq!(reply.header("expires"), Some(expires));
        assert_eq!(reply.text, ticket, "{accept:?}");
    }
}

#[actix_web::test]
async fn a_ticket_slides_while_valid_and_is_replaced_after_60_minutes() {
    let app = spawn_app().await;
    let json = Some("application/json");
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let first = assert_ticket(
        &app.patient_ticket(Some(&token), LINE, json).await,
        "Mon, 02 Mar 2026 11:00:00 GMT",
    );

    // 30 minutes on (a new access token: they live 10 minutes): the same ticket, extended.
    advance(&app, 30 * 60);
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let reply = app.patient_ticket(Some(&token), LINE, json).await;
    assert_eq!(
        assert_ticket(&reply, "Mon, 02 Mar 2026 11:30:00 GMT"),
        first
    );

    // One second before it runs out, it slides again.
    advance(&app, 60 * 60 - 1);
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let reply = app.patient_ticket(Some(&token), LINE, json).await;
    assert_eq!(
        assert_ticket(&reply, "Mon, 02 Mar 2026 12:29:59 GMT"),
        first
    );

    // Exactly 60 minutes after the last issue it has expired: a new ticket.
    advance(&app, 60 * 60);
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let reply = app.patient_ticket(Some(&token), LINE, json).await;
    let second = assert_ticket(&reply, "Mon, 02 Mar 2026 13:29:59 GMT");
    assert_ne!(second, first);
    // And the new one slides in turn.
    advance(&app, 5);
    let reply = app.patient_ticket(Some(&token), LINE, json).await;
    assert_eq!(
        assert_ticket(&reply, "Mon, 02 Mar 2026 13:30:04 GMT"),
        second
    );
}

#[actix_web::test]
async fn each_user_gets_their_own_ticket_for_a_patient() {
    let app = spawn_app().await;
    let json = Some("application/json");
    let expires = "Mon, 02 Mar 2026 11:00:00 GMT";
    let didrik = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let sigrid = app.sfm_token(SFM_READY, SIGRID, None).await;
    let a = assert_ticket(
        &app.patient_ticket(Some(&didrik), LINE, json).await,
        expires,
    );
    let b = assert_ticket(
        &app.patient_ticket(Some(&sigrid), LINE, json).await,
        expires,
    );
    assert_ne!(a, b);
    // Dina, a user by her D-nummer, gets a third.
    let dina = app.sfm_token(SFM_READY, DINA, None).await;
    let c = assert_ticket(&app.patient_ticket(Some(&dina), LINE, json).await, expires);
    assert!(c != a && c != b);
    // Each keeps their own.
    let reply = app.patient_ticket(Some(&didrik), LINE, json).await;
    assert_eq!(assert_ticket(&reply, expires), a);
    let reply = app.patient_ticket(Some(&sigrid), LINE, json).await;
    assert_eq!(assert_ticket(&reply, expires), b);
}

#[actix_web::test]

async fn json_refused_with_q_zero_gets_text() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let reply = app
        .patient_ticket(Some(&token), LINE, Some("text/plain, application/json;q=0"))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
}
