//! SFM's GUI as an EHR embeds it: the session service's `Session/create | refresh | end`, the
//! portals at `metadata`'s URLs, and the portals' server API (login with code and nonce, the
//! EHR page's origin, setPatient by ticket, prescribing through `$sendMedication`'s rules).
//! The browser side (postMessage) is in `sfm_gui_browser.rs`.

use aws_lc_rs::digest::{SHA512, digest};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::sfm_medication::{LINE, get_medication, medication_bundle, patient_param, statements};

/// The origin of the fixture clients' redirect URI (`http://localhost:8089/callback`).
pub const EHR_ORIGIN: &str = "http://localhost:8089";

/// A fresh plain nonce (64 random bytes, base64) as the EHR posts it in `login`, and
/// base64(SHA-512(its bytes)) as it sends it to `Session/create`.
pub fn nonce() -> (String, String) {
    let raw: Vec<u8> = (0..64).map(|_| rand::random::<u8>()).collect();
    (
        STANDARD.encode(&raw),
        STANDARD.encode(digest(&SHA512, &raw)),
    )
}

/// A POST to the session service with a JSON body.
async fn session_api(app: &TestApp, path: &str, token: Option<&str>, body: &str) -> Reply {
    let mut request = app
        .http
        .post(app.url(&format!("/sfm/api/Session/{path}")))
        .header("Content-Type", "application/json")
        .body(body.to_owned());
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    Reply::read(request.send().await.unwrap()).await
}

/// `Session/create` with the nonce hash.
pub async fn create(app: &TestApp, token: &str, hash: &str) -> Reply {
    session_api(
        app,
        "create",
        Some(token),
        &json!({ "nonce": hash }).to_string(),
    )
    .await
}

/// A POST to the GUI's server API with the portal's credential.
pub async fn gui(app: &TestApp, path: &str, credential: Option<&str>, body: &Value) -> Reply {
    let mut request = app
        .http
        .post(app.url(&format!("/sfm/server/api/{path}")))
        .json(body);
    if let Some(credential) = credential {
        request = request.header("Authorization", format!("Bearer {credential}"));
    }
    Reply::read(request.send().await.unwrap()).await
}

/// A login at the server API.
async fn login(app: &TestApp, code: &str, nonce: &str, origin: &str) -> Reply {
    let body = json!({"code": code, "nonce": nonce, "origin": origin, "portal": "patient"});
    gui(app, "login", None, &body).await
}

/// Asserts a problem of the GUI API: status, message, and a trace id ("Feil ID").
#[track_caller]
fn assert_gui_error(reply: &Reply, status: StatusCode, detail: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(reply.json["detail"], detail, "{}", reply.text);
    assert_eq!(reply.json["status"], status.as_u16());
    let trace = reply.json["traceId"].as_str().unwrap_or_default();
    assert_eq!(trace.len(), 32, "{}", reply.text);
    assert!(
        trace
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
}

/// Asserts a session-service problem (status and detail).
#[track_caller]
fn assert_problem(reply: &Reply, status: StatusCode, detail: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(reply.json["detail"], detail, "{}", reply.text);
    assert!(reply.json.get("traceId").is_none());
}

/// A session for `token` and a portal logged in to it from `origin`: the credential.
pub async fn logged_in(app: &TestApp, token: &str, origin: &str) -> String {
    let (plain, hash) = nonce();
    let reply = create(app, token, &hash).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let code = reply.json["code"].as_str().unwrap();
    let reply = login(app, code, &plain, origin).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.json["token"].as_str().unwrap().to_owned()
}

/// The user's ticket for a patient.
pub async fn ticket(app: &TestApp, token: &str, pid: &str) -> String {
    let body = json!({ "patientPid": pid }).to_string();
    let reply = app
        .patient_ticket(Some(token), &body, Some("application/json"))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.json["patientTicket"].as_str().unwrap().to_owned()
}

/// setPatient at the server API.
async fn set_patient(app: &TestApp, credential: &str, body: Value) -> Reply {
    gui(app, "patient", Some(credential), &body).await
}

/// The row of the view's medication list named `name`.
fn row<'a>(view: &'a Value, name: &str) -> &'a Value {
    view["medication"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {view}"))
}

// ---------------------------------------------------------------------------------------------
// The session service.

#[actix_web::test]
async fn session_create_answers_id_code_api_address_and_the_four_portals() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let (_, hash) = nonce();
    let reply = create(&app, &token, &hash).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let id = reply.json["id"].as_str().unwrap().to_owned();
    let code = reply.json["code"].as_str().unwrap().to_owned();
    for value in [&id, &code] {
        assert_eq!(value.len(), 88, "{value}");
        assert_eq!(STANDARD.decode(value).unwrap().len(), 64);
    }
    assert_ne!(id, code);
    let client = |p: &str| format!("{}/sfm/client/{p}", app.base);
    assert_eq!(
        reply.json,
        json!({
            "id": id,
            "code": code,
            "apiAddress": format!("{}/sfm/server/", app.base),
            "metadata": {
                "patientportal": client("patient"),
                "enterpriseportal": client("enterprise"),
                "healthcareportal": client("health-personnel"),
                "displayportal": client("display"),
            }
        })
    );
    // Each portal opens as it is, with no query parameters, and may be framed.
    for (key, portal) in reply.json["metadata"].as_object().unwrap() {
        let page = app
            .get(&portal.as_str().unwrap().replace(&app.base, ""))
            .await;
        assert_eq!(page.status, StatusCode::OK, "{key}: {}", page.text);
        assert_eq!(
            page.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(page.header("x-frame-options"), None, "{key}");
        let segment = portal.as_str().unwrap().rsplit('/').next().unwrap();
        assert!(
            page.text.contains(&format!("data-portal=\"{segment}\"")),
            "{}",
            page.text
        );
        assert!(page.text.contains("Velkommen til SFM"), "{}", page.text);
    }
    let script = app.get("/sfm/client/assets/portal.js").await;
    assert_eq!(script.status, StatusCode::OK);
    assert!(script.text.contains("clientLoaded"));
    let reply = app.get("/sfm/client/pasient").await;
    assert_problem(
        &reply,
        StatusCode::NOT_FOUND,
        "SFM has no portal 'pasient': the portals are patient, health-personnel, enterprise and \
         display",
    );

    // One session per user and organisation: a second create (another machine) is the same
    // session with a new code; another user has their own.
    let (_, hash) = nonce();
    let again = create(&app, &token, &hash).await;
    assert_eq!(again.json["id"], id.as_str());
    assert_ne!(again.json["code"], code.as_str());
    let sigrid = app.sfm_token(SFM_READY, SIGRID, None).await;
    let hers = create(&app, &sigrid, &hash).await;
    assert_eq!(hers.status, StatusCode::OK, "{}", hers.text);
    assert_ne!(hers.json["id"], id.as_str());
    let at_sjokanten = create(&app, &sigrid_at_sjokanten(&app).await, &hash).await;
    assert_ne!(at_sjokanten.json["id"], hers.json["id"]);
}

#[actix_web::test]
async fn session_create_refuses_bad_nonces_and_callers() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let missing = "nonce is missing: send base64(SHA-512(the raw bytes of a random nonce))";
    let malformed = "nonce must be base64(SHA-512(the raw bytes of a random nonce)): 64 bytes in \
                     standard base64";
    let (plain, hash) = nonce();
    let sha256 = STANDARD.encode(digest(&aws_lc_rs::digest::SHA256, b"raw"));
    let url_safe =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(STANDARD.decode(&hash).unwrap());
    let cases: Vec<(Value, &str)> = vec![
        (json!({}), missing),
        (json!({"Nonce": hash}), missing),
        (json!({"nonce": 42}), missing),
        (json!({"nonce": "not base64!"}), malformed),
        (json!({"nonce": sha256}), malformed),
        (json!({"nonce": url_safe}), malformed),
        (json!({"nonce": ""}), malformed),
        // The plain nonce (64 bytes too, but here 88 characters of it) is not its hash: it
        // decodes to 64 bytes, so SFM cannot tell; only the login finds the mismatch.
    ];
    for (body, detail) in &cases {
        let reply = session_api(&app, "create", Some(&token), &body.to_string()).await;
        assert_problem(&reply, StatusCode::BAD_REQUEST, detail);
    }
    let reply = session_api(&app, "create", Some(&token), "[]").await;
    assert_problem(
        &reply,
        StatusCode::BAD_REQUEST,
        "The body must be a JSON object",
    );
    let reply = session_api(&app, "create", None, &json!({"nonce": hash}).to_string()).await;
    assert_problem(
        &reply,
        StatusCode::UNAUTHORIZED,
        "No access token: send 'Authorization: Bearer <token>' (or 'DPoP <token>' with a DPoP \
         proof)",
    );
    let reply = Reply::read(
        app.http
            .post(app.url("/sfm/api/Session/create"))
            .header("Authorization", format!("Bearer {token}"))
            .header("Content-Type", "text/plain")
            .body(json!({"nonce": hash}).to_string())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_problem(
        &reply,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Content-Type must be application/json, got 'text/plain'",
    );
    // A user SFM does not know in the instance.
    let henrik = app.sfm_token(SFM_READY, "15837813732", None).await;
    let reply = create(&app, &henrik, &hash).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);
    let _ = plain;
}

#[actix_web::test]
async fn refresh_binds_the_new_token_and_end_ends_the_session_everywhere() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let no_session = "There is no SFM session for this user in this organisation to refresh: \
                      create one with /api/Session/create (an ended session cannot be refreshed)";
    let reply = session_api(&app, "refresh", Some(&token), "").await;
    assert_problem(&reply, StatusCode::NOT_FOUND, no_session);

    let credential = logged_in(&app, &token, EHR_ORIGIN).await;
    let line = ticket(&app, &token, LINE).await;
    let reply = set_patient(&app, &credential, json!({"ticket": line})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);

    // The session's token expires (access tokens live 600 s): the GUI stops working ...
    advance(&app, 600);
    let reply = set_patient(&app, &credential, json!({"ticket": line})).await;
    assert_gui_error(
        &reply,
        StatusCode::UNAUTHORIZED,
        "The access token bound to the SFM session expired at 2026-03-02T10:10:00+00:00: the EHR \
         must call Session/refresh with the user's new token",
    );
    // ... until the EHR refreshes with the new token (empty body).
    let fresh = didrik(&app).await;
    let reply = session_api(&app, "refresh", Some(&fresh), "").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);
    assert_eq!(reply.text, "");
    let reply = set_patient(&app, &credential, json!({"ticket": line})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);

    // A code not yet used, then the end: every machine's portal and code stop working.
    let (plain, hash) = nonce();
    let code = create(&app, &fresh, &hash).await.json["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = session_api(&app, "end", Some(&fresh), "").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);
    let ended = "The SFM session has ended (Session/end) or this portal never logged in: the EHR \
                 must create a new session and reload the client";
    let reply = set_patient(&app, &credential, json!({"ticket": line})).await;
    assert_gui_error(&reply, StatusCode::UNAUTHORIZED, ended);
    let reply = gui(&app, "pll", Some(&credential), &json!({})).await;
    assert_gui_error(&reply, StatusCode::UNAUTHORIZED, ended);
    let reply = login(&app, &code, &plain, EHR_ORIGIN).await;
    assert_gui_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "The code is unknown: log in with the code of the latest Session/create (an ended \
         session's codes are gone)",
    );
    let reply = session_api(&app, "refresh", Some(&fresh), "").await;
    assert_problem(&reply, StatusCode::NOT_FOUND, no_session);
    // Ending again is harmless; a new session works again.
    let reply = session_api(&app, "end", Some(&fresh), "").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let credential = logged_in(&app, &fresh, EHR_ORIGIN).await;
    let reply = set_patient(&app, &credential, json!({"ticket": line})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

// ---------------------------------------------------------------------------------------------
// The server API: login.

#[actix_web::test]
async fn login_refuses_missing_unknown_expired_and_reused_codes_and_wrong_nonces() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let (plain, hash) = nonce();
    let code = create(&app, &token, &hash).await.json["code"]
        .as_str()
        .unwrap()
        .to_owned();
    for (body, detail) in [
        (
            json!({"nonce": plain, "origin": EHR_ORIGIN}),
            "code is missing: the one-time code from Session/create",
        ),
        (
            json!({"code": code, "origin": EHR_ORIGIN}),
            "nonce is missing: the plain nonce (base64) whose SHA-512 went to Session/create",
        ),
        (
            json!({"code": code, "nonce": plain}),
            "origin is missing: the origin of the EHR page embedding the portal",
        ),
        (
            json!({"code": code, "nonce": plain, "origin": EHR_ORIGIN, "portal": "x"}),
            "portal must be patient, health-personnel, enterprise or display, got 'x'",
        ),
    ] {
        let reply = gui(&app, "login", None, &body).await;
        assert_gui_error(&reply, StatusCode::BAD_REQUEST, detail);
    }
    let reply = login(&app, "bm90LWEtY29kZQ==", &plain, EHR_ORIGIN).await;
    assert_gui_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "The code is unknown: log in with the code of the latest Session/create (an ended \
         session's codes are gone)",
    );

    // A wrong nonce: here SHA-512 over the nonce's text rather than its bytes.
    let (other, _) = nonce();
    let reply = login(&app, &code, &other, EHR_ORIGIN).await;
    assert_gui_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "The nonce does not match: its SHA-512 is not the hash Session/create got for this code",
    );
    // The attempt used the code up.
    let reply = login(&app, &code, &plain, EHR_ORIGIN).await;
    assert_gui_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "The code was already used (at 2026-03-02T10:00:00+00:00): a code is single use; create \
         a new one with Session/create",
    );

    // Hashing the nonce's text, not its bytes, does not match.
    let (plain, _) = nonce();
    let text_hash = STANDARD.encode(digest(&SHA512, plain.as_bytes()));
    let code = create(&app, &token, &text_hash).await.json["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = login(&app, &code, &plain, EHR_ORIGIN).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    // A nonce that is not base64.
    let (_, hash) = nonce();
    let code = create(&app, &token, &hash).await.json["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = login(&app, &code, "plain text!", EHR_ORIGIN).await;
    assert_gui_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "nonce must be the plain nonce in standard base64 (the value whose SHA-512 over its \
         bytes went to Session/create)",
    );

    // A code lives 60 seconds.
    let (plain, hash) = nonce();
    let code = create(&app, &token, &hash).await.json["code"]
        .as_str()
        .unwrap()
        .to_owned();
    advance(&app, 60);
    let reply = login(&app, &code, &plain, EHR_ORIGIN).await;
    assert_gui_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "The code expired at 2026-03-02T10:01:00+00:00: a code lives 60 seconds after \
         Session/create",
    );
    // A fresh one, redeemed in time, logs in once.
    let (plain, hash) = nonce();
    let code = create(&app, &token, &hash).await.json["code"]
        .as_str()
        .unwrap()
        .to_owned();
    advance(&app, 59);
    let reply = login(&app, &code, &plain, EHR_ORIGIN).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let credential = reply.json["token"].as_str().unwrap();
    assert!(credential.len() >= 43, "{credential}");
    assert_eq!(
        reply.json,
        json!({
            "token": credential,
            "portal": "patient",
            "user": {"pid": DIDRIK, "name": "Didrik Didrikson", "hpr": "431001110"},
            "organisation": {"id": FJORDBYEN, "name": "Fjordbyen legekontor"},
        })
    );
    let reply = login(&app, &code, &plain, EHR_ORIGIN).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert!(
        reply.json["detail"]
            .as_str()
            .unwrap()
            .starts_with("The code was already used"),
        "{}",
        reply.text
    );
}

#[actix_web::test]
async fn login_accepts_only_the_clients_redirect_origins_and_helsesims_own() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let login_from = |origin: &'static str| {
        let app = &app;
        let token = token.clone();
        async move {
            let (plain, hash) = nonce();
            let code = create(app, &token, &hash).await.json["code"]
                .as_str()
                .unwrap()
                .to_owned();
            login(app, &code, &plain, origin).await
        }
    };
    let refused = |origin: &str| {
        format!(
            "The EHR page at {origin} may not embed SFM's GUI for the HelseID client \
             {SFM_READY}: allowed are the origins of the client's redirect URIs and helsesim's \
             own (http://localhost:8089, {})",
            app.base
        )
    };
    for origin in [
        "https://evil.example",
        "http://127.0.0.1:8089",
        "http://localhost:8090",
        "https://localhost:8089",
    ] {
        let reply = login_from(origin).await;
        assert_gui_error(&reply, StatusCode::FORBIDDEN, &refused(origin));
    }
    assert_eq!(login_from(EHR_ORIGIN).await.status, StatusCode::OK);
    let own: &'static str = Box::leak(app.base.clone().into_boxed_str());
    assert_eq!(login_from(own).await.status, StatusCode::OK);

    // A client registered with another redirect URI makes that origin the allowed one.
    let mut entry = app
        .get(&format!("/_admin/helseid/clients/{SFM_READY}"))
        .await
        .json;
    entry["redirect_uris"]
        .as_array_mut()
        .unwrap()
        .push(json!("https://ehr.example:8443/signin-oidc"));
    let reply = app.register_client(&entry).await;
    assert!(reply.status.is_success(), "{}", reply.text);
    let token = didrik(&app).await;
    let (plain, hash) = nonce();
    let code = create(&app, &token, &hash).await.json["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = login(&app, &code, &plain, "https://ehr.example:8443").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

// ---------------------------------------------------------------------------------------------
// The server API: setPatient.

#[actix_web::test]
async fn set_patient_opens_the_tickets_patient_and_switches_on_a_new_ticket() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let credential = logged_in(&app, &token, EHR_ORIGIN).await;
    let line = ticket(&app, &token, LINE).await;
    // Booleans as true or "true", extra members ignored.
    let body = json!({"ticket": line, "showAllergies": "true", "onBehalfOf": "",
                      "showLib": true, "encounterIdentifier": "e-1"});
    let reply = set_patient(&app, &credential, body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let view = &reply.json;
    assert_eq!(
        view["patient"],
        json!({"name": "Line Danser", "pid": LINE, "birthDate": view["patient"]["birthDate"],
               "gender": view["patient"]["gender"]})
    );
    assert_eq!(view["showAllergies"], true);
    assert!(view["allergies"].is_array(), "{view}");
    let zopiclone = row(view, "Zopiclone Mylan tab 5 mg");
    assert_eq!(zopiclone["canStop"], true, "{view}");
    assert_eq!(zopiclone["rfStatus"]["code"], "E", "{view}");
    // The EHR's $getMedication and the portal look at the same lookup history: the portal's
    // lookup is the user's latest.
    let ehr = get_medication(&app, &token, patient_param(LINE, "Danser", "Line"), &[]).await;
    assert_eq!(
        statements(&medication_bundle(&ehr)).len(),
        view["medication"].as_array().unwrap().len()
    );

    // Without allergies; then another patient in the same portal.
    let reply = set_patient(
        &app,
        &credential,
        json!({"ticket": line, "showAllergies": false}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(reply.json.get("allergies").is_none(), "{}", reply.text);
    let other = ticket(&app, &token, "10092939427").await;
    let reply = set_patient(&app, &credential, json!({"ticket": other})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["patient"]["pid"], "10092939427");
    let reply = set_patient(
        &app,
        &credential,
        json!({"ticket": line, "showAllergies": 1}),
    )
    .await;
    assert_gui_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "showAllergies must be true or false (or \"true\"/\"false\"), got 1",
    );
    let reply = set_patient(&app, &credential, json!({"showAllergies": true})).await;
    assert_gui_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "ticket is missing: the SFM patient ticket (POST /api/PatientTicket)",
    );
    let reply = set_patient(&app, "not-a-credential", json!({"ticket": line})).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);
    let reply = gui(&app, "patient", None, &json!({"ticket": line})).await;
    assert_gui_error(
        &reply,
        StatusCode::UNAUTHORIZED,
        "Not logged in: send the credential from api/login as 'Authorization: Bearer <token>'",
    );
}

#[actix_web::test]
async fn set_patient_refuses_tickets_of_other_users_organisations_and_expired_ones() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let credential = logged_in(&app, &token, EHR_ORIGIN).await;

    let sigrid = app.sfm_token(SFM_READY, SIGRID, None).await;
    let hers = ticket(&app, &sigrid, LINE).await;
    let reply = set_patient(&app, &credential, json!({"ticket": hers})).await;
    assert_gui_error(
        &reply,
        StatusCode::FORBIDDEN,
        "The patient ticket was issued to another user: a ticket is never shared between users; \
         the EHR gets this user's own with POST /api/PatientTicket and the user's token",
    );
    let at_sjokanten = ticket(&app, &sigrid_at_sjokanten(&app).await, LINE).await;
    let reply = set_patient(&app, &credential, json!({"ticket": at_sjokanten})).await;
    assert_gui_error(
        &reply,
        StatusCode::FORBIDDEN,
        "The patient ticket belongs to another organisation's SFM instance: a ticket works only \
         in the instance that issued it",
    );
    let reply = set_patient(
        &app,
        &credential,
        json!({"ticket": "00000000-0000-0000-0000-000000000000"}),
    )
    .await;
    assert_gui_error(
        &reply,
        StatusCode::NOT_FOUND,
        "The patient ticket is unknown (or expired long ago): the EHR gets one with POST \
         /api/PatientTicket",
    );

    // A ticket lives 60 minutes after its last use; the session is kept fresh meanwhile.
    let line = ticket(&app, &token, LINE).await;
    advance(&app, 3600);
    let fresh = didrik(&app).await;
    let reply = session_api(&app, "refresh", Some(&fresh), "").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let reply = set_patient(&app, &credential, json!({"ticket": line})).await;
    assert_gui_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "The patient ticket expired at 2026-03-02T11:00:00+00:00: the EHR gets a new one with \
         POST /api/PatientTicket",
    );

    // The health-personnel portal opens without a patient, and takes none.
    let (plain, hash) = nonce();
    let code = create(&app, &fresh, &hash).await.json["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = json!({"code": code, "nonce": plain, "origin": EHR_ORIGIN,
                      "portal": "health-personnel"});
    let reply = gui(&app, "login", None, &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let staff = reply.json["token"].as_str().unwrap();
    let line = ticket(&app, &fresh, LINE).await;
    let reply = set_patient(&app, staff, json!({"ticket": line})).await;
    assert_gui_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "setPatient works only in the patient and display portals",
    );
}

// ---------------------------------------------------------------------------------------------
// The server API: prescribing.

#[actix_web::test]
async fn a_prescription_from_the_portal_is_seen_by_get_medication_and_datadeling() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let credential = logged_in(&app, &token, EHR_ORIGIN).await;
    let line = ticket(&app, &token, LINE).await;
    let reply = gui(
        &app,
        "prescriptions",
        Some(&credential),
        &json!({"name": "X", "dosage": "y"}),
    )
    .await;
    assert_gui_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "No patient is open: the EHR opens one with the setPatient message",
    );
    let reply = set_patient(&app, &credential, json!({"ticket": line})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);

    let body = json!({"name": "Simulol tab 25 mg", "dosage": "1 tablett ved behov"});
    let reply = gui(&app, "prescriptions", Some(&credential), &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let result = &reply.json["result"];
    assert_eq!(result["prescriptionCount"], 1, "{}", reply.text);
    assert_eq!(result["recallCount"], 0);
    assert_eq!(
        result["message"],
        "Resepten på Simulol tab 25 mg er sendt til Reseptformidleren (M1)."
    );
    let paracet = row(&reply.json, "Simulol tab 25 mg");
    assert_eq!(paracet["rfStatus"]["code"], "E", "{}", reply.text);
    assert_eq!(paracet["dosage"], "1 tablett ved behov");
    let new_id = paracet["reseptId"].as_str().unwrap().to_owned();
    assert_eq!(result["operations"][0]["reseptId"], new_id.as_str());

    // The EHR's next $getMedication shows it, and so does Datadeling by ticket.
    let ehr = get_medication(&app, &token, patient_param(LINE, "Danser", "Line"), &[]).await;
    let names: Vec<Value> = statements(&medication_bundle(&ehr))
        .iter()
        .map(|s| s["medicationReference"]["display"].clone())
        .collect();
    assert!(names.contains(&json!("Simulol tab 25 mg")), "{}", ehr.text);
    let reply = app
        .fhir(
            "GET",
            &format!("/List?patientTicket={line}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(reply.text.contains(&new_id), "{}", reply.text);
    assert!(reply.text.contains("Simulol tab 25 mg"), "{}", reply.text);
}

#[actix_web::test]
async fn the_portal_renews_stops_and_sends_the_pll_through_the_same_rules() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let credential = logged_in(&app, &token, EHR_ORIGIN).await;
    let line = ticket(&app, &token, LINE).await;
    let view = set_patient(&app, &credential, json!({"ticket": line}))
        .await
        .json;
    let zopiclone = row(&view, "Zopiclone Mylan tab 5 mg")["reseptId"]
        .as_str()
        .unwrap()
        .to_owned();

    // Stop (M5).
    let reply = gui(
        &app,
        &format!("prescriptions/{zopiclone}/stop"),
        Some(&credential),
        &json!({}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["result"]["recallCount"], 1, "{}", reply.text);
    assert_eq!(reply.json["result"]["prescriptionCount"], 0);
    assert!(
        !reply.json["medication"].to_string().contains(&zopiclone),
        "the withdrawn prescription outside the PLL is gone: {}",
        reply.text
    );
    // Stopping it again: it is no longer in the list.
    let reply = gui(
        &app,
        &format!("prescriptions/{zopiclone}/stop"),
        Some(&credential),
        &json!({}),
    )
    .await;
    assert_gui_error(
        &reply,
        StatusCode::NOT_FOUND,
        &format!("The patient's medication list has no prescription with ReseptId {zopiclone}"),
    );

    // Renew one that can be (M1 + M5): a new ReseptId on the same row.
    let view = reply_view(&app, &credential, &line).await;
    let renewable = view["medication"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["canRenew"] == true)
        .unwrap()
        .clone();
    let old = renewable["reseptId"].as_str().unwrap();
    let reply = gui(
        &app,
        &format!("prescriptions/{old}/renew"),
        Some(&credential),
        &json!({}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.json["result"]["prescriptionCount"], 1,
        "{}",
        reply.text
    );
    assert_eq!(reply.json["result"]["recallCount"], 1, "{}", reply.text);
    // The PLL still holds the old prescription (withdrawn); the renewal is a new one.
    let name = renewable["name"].as_str().unwrap();
    let rows_named = |view: &Value| -> Vec<Value> {
        view["medication"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["name"] == name)
            .cloned()
            .collect()
    };
    let rows = rows_named(&reply.json);
    let renewed = rows.iter().find(|r| r["reseptId"] != old).unwrap().clone();
    assert_eq!(renewed["rfStatus"]["code"], "E", "{}", reply.text);
    assert_eq!(rows.len(), 2, "{}", reply.text);
    assert!(
        rows.iter()
            .any(|r| r["reseptId"] == old && r["rfStatus"]["code"] == "T")
    );

    // The PLL (M25.1): the entry once, as the renewal.
    let reply = gui(&app, "pll", Some(&credential), &json!({})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let pll_id = reply.json["result"]["pllMessageId"].as_str().unwrap();
    assert_eq!(reply.json["pll"]["messageId"], pll_id, "{}", reply.text);
    let rows = rows_named(&reply.json);
    assert_eq!(rows.len(), 1, "{}", reply.text);
    assert_eq!(rows[0]["reseptId"], renewed["reseptId"]);
    assert_eq!(rows[0]["inPll"], true);

    // The 4-hour rule applies to the portal's lookup as to $getMedication's.
    advance(&app, 4 * 3600 + 1);
    let fresh = didrik(&app).await;
    assert_eq!(
        session_api(&app, "refresh", Some(&fresh), "").await.status,
        StatusCode::NO_CONTENT
    );
    let body = json!({"name": "Simulol tab 25 mg", "dosage": "1 tablett ved behov"});
    let reply = gui(&app, "prescriptions", Some(&credential), &body).await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text
    );
    assert!(
        reply.json["detail"]
            .as_str()
            .unwrap()
            .starts_with("Rule 1 (lookup threshold)"),
        "{}",
        reply.text
    );
    assert_eq!(reply.json["traceId"].as_str().unwrap().len(), 32);
    // The portal looked the patient up again: the next send goes.
    let reply = gui(&app, "prescriptions", Some(&credential), &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

/// The portal's view after re-sending setPatient.
async fn reply_view(app: &TestApp, credential: &str, ticket: &str) -> Value {
    let reply = set_patient(app, credential, json!({"ticket": ticket})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.json
}

#[actix_web::test]
async fn the_portals_lookup_supersedes_the_ehrs_and_display_portals_do_not_prescribe() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    // The EHR looks up, then the portal opens the patient (a newer lookup for the same user).
    let ehr = get_medication(&app, &token, patient_param(LINE, "Danser", "Line"), &[]).await;
    let credential = logged_in(&app, &token, EHR_ORIGIN).await;
    let line = ticket(&app, &token, LINE).await;
    reply_view(&app, &credential, &line).await;
    let mut body = crate::sfm_medication::send_body(&medication_bundle(&ehr));
    crate::sfm_medication::set_create_pll(&mut body, false);
    let reply = crate::sfm_medication::send_medication(&app, &token, &body).await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text
    );
    assert!(reply.text.contains("Rule 2"), "{}", reply.text);

    // The display portal shows the LIB for setPatient, but prescribes nothing.
    let (plain, hash) = nonce();
    let code = create(&app, &token, &hash).await.json["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = json!({"code": code, "nonce": plain, "origin": EHR_ORIGIN, "portal": "display"});
    let display = gui(&app, "login", None, &body).await.json["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let view = reply_view(&app, &display, &line).await;
    assert!(!view["medication"].as_array().unwrap().is_empty());
    let reply = gui(&app, "pll", Some(&display), &json!({})).await;
    assert_gui_error(
        &reply,
        StatusCode::FORBIDDEN,
        "Only the patient portal prescribes: this portal shows the medication",
    );
}
