//! The demo EHR at `/epj/` over HTTP: its page, its login through HelseID (PAR, the test IdP's
//! page, the callback), and its backend API's answers and refusals.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// The demo EHR's session cookie (`name=value`) of a response.
fn epj_cookie(reply: &Reply) -> Option<String> {
    reply
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("helsesim.epj="))
        .map(|c| c.split(';').next().unwrap_or_default().to_owned())
}

async fn get_with(app: &TestApp, url: &str, cookie: &str) -> Reply {
    let request = app.http.get(url).header("Cookie", cookie);
    Reply::read(request.send().await.unwrap()).await
}

async fn post_with(app: &TestApp, path: &str, cookie: &str, body: &Value) -> Reply {
    let request = app
        .http
        .post(app.url(path))
        .header("Cookie", cookie)
        .json(body);
    Reply::read(request.send().await.unwrap()).await
}

/// Logs `pid` in through the demo EHR as a browser would: its session cookie.
async fn log_in(app: &TestApp, pid: &str) -> String {
    let start = app.get("/epj/login").await;
    assert_eq!(start.status, StatusCode::FOUND, "{}", start.text);
    let cookie = epj_cookie(&start).expect("a session cookie");
    let authorize = start.header("location").unwrap().to_owned();
    assert!(
        authorize.starts_with(&app.url("/helseid/connect/authorize?client_id=")),
        "{authorize}"
    );
    let page = app.http.get(&authorize).send().await.unwrap();
    let page = Reply::read(page).await;
    let transaction = page
        .text
        .split("name=\"transaction\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the login page's transaction")
        .to_owned();
    let login = app
        .http
        .post(app.url("/helseid/login"))
        .form(&[
            ("transaction", transaction.as_str()),
            ("pid", pid),
            ("action", "login"),
        ])
        .send()
        .await
        .unwrap();
    let callback = Reply::read(login).await;
    let back = callback
        .header("location")
        .expect("back to the EHR")
        .to_owned();
    assert!(back.starts_with(&app.url("/epj/callback?code=")), "{back}");
    let done = get_with(app, &back, &cookie).await;
    assert_eq!(done.status, StatusCode::FOUND, "{}", done.text);
    assert_eq!(done.header("location"), Some("/epj/"));
    cookie
}

#[actix_web::test]
async fn the_page_is_served_and_the_backend_wants_a_login() {
    let app = spawn_app().await;
    let page = app.get("/epj/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text.contains("<script src=\"/epj/app.js\""),
        "{}",
        page.text
    );
    assert_eq!(app.get("/epj/app.js").await.status, StatusCode::OK);
    let session = app.get("/epj/api/session").await;
    assert_eq!(session.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        session.json,
        json!({"error": "not_logged_in", "message": "Log in first: /epj/login"})
    );
}

#[actix_web::test]
async fn a_login_gives_the_clinician_the_patient_list_and_the_kjernejournal_icon() {
    let app = spawn_app().await;
    let cookie = log_in(&app, DIDRIK).await;
    let session = get_with(&app, &app.url("/epj/api/session"), &cookie).await;
    assert_eq!(session.status, StatusCode::OK, "{}", session.text);
    assert_eq!(
        session.json["clinician"],
        json!({"name": "Didrik D Didrikson", "pid": DIDRIK, "hpr_number": "431001110"})
    );
    assert_eq!(session.json["organisation"], "923456783");
    let patients = session.json["patients"].as_array().unwrap();
    assert!(
        patients
            .iter()
            .any(|p| p["pid"] == "13116900216" && p["name"] == "Kari Kritisk"),
        "{patients:?}"
    );

    let indicator = post_with(
        &app,
        "/epj/api/patients/13116900216/indicator",
        &cookie,
        &json!({"samtykke": "HPMOTTATTSAMTYKKE"}),
    )
    .await;
    assert_eq!(indicator.status, StatusCode::OK, "{}", indicator.text);
    assert_eq!(indicator.json["status"], 4);
    assert_eq!(
        indicator.json["returTekst"],
        "OBS: Kritisk informasjon i kjernejournal"
    );

    let medication = get_with(
        &app,
        &app.url("/epj/api/patients/12050050295/medication"),
        &cookie,
    )
    .await;
    assert_eq!(medication.status, StatusCode::OK, "{}", medication.text);
    assert!(
        medication.json["medication"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "Metformin Teva tab 500 mg" && m["status"] == "active"),
        "{}",
        medication.text
    );
    // A well-behaved client: the integration advisor finds nothing.
    crate::advice::assert_no_findings(&app).await;
}

#[actix_web::test]
async fn the_backend_refuses_a_bad_patient_id_and_a_foreign_session() {
    let app = spawn_app().await;
    let cookie = log_in(&app, DIDRIK).await;
    let bad = post_with(&app, "/epj/api/patients/123/indicator", &cookie, &json!({})).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad.json,
        json!({
            "error": "invalid_request",
            "message": "'123' is not a national identity number: it must be eleven digits"
        })
    );
    let stranger = post_with(
        &app,
        "/epj/api/patients/13116900216/indicator",
        "helsesim.epj=made-up",
        &json!({}),
    )
    .await;
    assert_eq!(stranger.status, StatusCode::UNAUTHORIZED);
    assert_eq!(stranger.json["error"], "not_logged_in");
}

#[actix_web::test]
async fn a_callback_without_a_login_in_progress_is_refused_with_a_page() {
    let app = spawn_app().await;
    let reply = app.get("/epj/callback?code=x&state=y").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply
            .text
            .contains("The login was not started here: start again from /epj/"),
        "{}",
        reply.text
    );
}

/// The requests of the journal on `path` (method, status).
async fn journaled(app: &TestApp, path: &str) -> Vec<(String, u64)> {
    let reply = app.get("/_admin/requests").await;
    reply.json["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"] == path)
        .map(|r| {
            (
                r["method"].as_str().unwrap().to_owned(),
                r["status"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn the_keepalive_renews_the_tokens_and_hands_them_to_sfm_and_kjernejournal() {
    let app = spawn_app().await;
    let cookie = log_in(&app, DIDRIK).await;
    let opened = post_with(
        &app,
        "/epj/api/patients/12050050295/sfm",
        &cookie,
        &json!({}),
    )
    .await;
    assert_eq!(opened.status, StatusCode::OK, "{}", opened.text);
    // As the demo page does: helseindikator when the patient opens, the portal from its icon.
    let icon = post_with(
        &app,
        "/epj/api/patients/13116900216/indicator",
        &cookie,
        &json!({}),
    )
    .await;
    assert_eq!(icon.status, StatusCode::OK, "{}", icon.text);
    let portal = post_with(
        &app,
        "/epj/api/patients/13116900216/kjernejournal",
        &cookie,
        &json!({"access_basis": "SAMTYKKE"}),
    )
    .await;
    assert_eq!(portal.status, StatusCode::OK, "{}", portal.text);

    // The tokens live 10 minutes: with more than 5 left nothing happens.
    let early = post_with(&app, "/epj/api/keepalive", &cookie, &json!({})).await;
    assert_eq!(early.status, StatusCode::NO_CONTENT, "{}", early.text);
    assert!(journaled(&app, "/sfm/api/Session/refresh").await.is_empty());

    advance(&app, 6 * 60);
    let due = post_with(&app, "/epj/api/keepalive", &cookie, &json!({})).await;
    assert_eq!(due.status, StatusCode::NO_CONTENT, "{}", due.text);
    assert_eq!(
        journaled(&app, "/sfm/api/Session/refresh").await,
        [("POST".to_owned(), 204)]
    );
    assert_eq!(
        journaled(&app, "/kjernejournal/innlogging/api/session/refresh").await,
        [("POST".to_owned(), 200)]
    );

    // Past the first tokens' expiry the clinician still works (the renewed ones live on).
    advance(&app, 6 * 60);
    let session = get_with(&app, &app.url("/epj/api/session"), &cookie).await;
    assert_eq!(session.status, StatusCode::OK, "{}", session.text);
    // A well-behaved client: the integration advisor finds nothing.
    crate::advice::assert_no_findings(&app).await;
}
