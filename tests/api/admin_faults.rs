//! `/_admin/faults`: injected errors, delays and dropped connections.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn add_fault(app: &TestApp, rule: Value) -> Reply {
    Reply::read(
        app.http
            .post(app.url("/_admin/faults"))
            .json(&rule)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[actix_web::test]
async fn a_fault_answers_its_status_for_its_paths_and_times() {
    let app = spawn_app().await;
    let reply = add_fault(
        &app,
        json!({
            "path": "/sfm/fhir/**", "method": "get", "status": 503,
            "body": {"error": "maintenance"}, "times": 2
        }),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let id = reply.json["id"].as_str().unwrap().to_owned();
    assert_eq!(reply.json["remaining"], 2);

    for _ in 0..2 {
        let reply = app.get("/sfm/fhir/metadata").await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(reply.json, json!({"error": "maintenance"}));
        assert_eq!(reply.header("x-helsesim-fault"), Some("injected"));
    }
    // Spent after two; other paths and methods were never faulted.
    assert_eq!(app.get("/sfm/fhir/metadata").await.status, StatusCode::OK);
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
    let reply = app.get("/_admin/faults").await;
    assert_eq!(reply.json["faults"][0]["id"], id.as_str());
    assert_eq!(reply.json["faults"][0]["hits"], 2);
    assert_eq!(reply.json["faults"][0]["remaining"], 0);
    // The journal shows what was faulted.
    let reply = app.get("/_admin/requests?status=503").await;
    assert_eq!(reply.json["requests"].as_array().unwrap().len(), 2);

    let reply = app.delete(&format!("/_admin/faults/{id}")).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let reply = app.delete(&format!("/_admin/faults/{id}")).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.json["message"], format!("No fault rule '{id}'"));
}

#[actix_web::test]
async fn delays_and_dropped_connections() {
    let app = spawn_app().await;
    add_fault(
        &app,
        json!({"service": "kjernejournal", "path": "/kjernejournal/v1/ping", "delay_ms": 300}),
    )
    .await;
    let started = std::time::Instant::now();
    let reply = app.get("/kjernejournal/v1/ping").await;
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "then the service answers"
    );
    // A client with a shorter timeout times out.
    let quick = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(100))
        .build()
        .unwrap();
    let error = quick
        .get(app.url("/kjernejournal/v1/ping"))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error}");

    add_fault(&app, json!({"path": "/pts/**", "drop_connection": true})).await;
    let result = match app.http.get(app.url("/pts/anything")).send().await {
        Ok(response) => response.bytes().await.map(|_| ()),
        Err(e) => Err(e),
    };
    assert!(result.is_err(), "the connection is dropped: {result:?}");

    // Clearing removes every rule.
    let reply = app.delete("/_admin/faults").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/pts/anything").await.status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn bad_fault_rules_are_refused() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"path": "sfm"}),
            "path must start with '/', got 'sfm'",
        ),
        (
            json!({"path": "/sfm/**"}),
            "A fault needs status, delay_ms or drop_connection",
        ),
        (
            json!({"path": "/sfm/[", "status": 500}),
            "path '/sfm/[' is not a glob: error parsing glob '/sfm/[': unclosed character class; \
             missing ']'",
        ),
        (
            json!({"path": "/sfm/**", "status": 42}),
            "status must be a final HTTP status from 200 to 599, got 42 (a 1xx is no answer: 100 \
             leaves the client waiting, 101 switches protocols)",
        ),
        (
            json!({"path": "/sfm/**", "status": 100}),
            "status must be a final HTTP status from 200 to 599, got 100 (a 1xx is no answer: 100 \
             leaves the client waiting, 101 switches protocols)",
        ),
        (
            json!({"path": "/sfm/**", "status": 101}),
            "status must be a final HTTP status from 200 to 599, got 101 (a 1xx is no answer: 100 \
             leaves the client waiting, 101 switches protocols)",
        ),
        (
            json!({"path": "/sfm/**", "status": 204, "body": {"a": 1}}),
            "a 204 answer has no body: leave body out",
        ),
        (
            json!({"path": "/sfm/**", "status": 304, "body": "x"}),
            "a 304 answer has no body: leave body out",
        ),
        (
            json!({"path": "/sfm/**", "drop_connection": true, "status": 500}),
            "drop_connection cannot come with status or body",
        ),
        (
            json!({"path": "/sfm/**", "status": 500, "probability": 2}),
            "probability must be from 0 to 1",
        ),
        (
            json!({"path": "/sfm/**", "status": 500, "times": 0}),
            "times must be at least 1",
        ),
        (
            json!({"path": "/sfm/**", "service": "x", "status": 500}),
            "service must be helseid, sfm, kjernejournal or pts, got 'x'",
        ),
    ];
    for (rule, message) in cases {
        let reply = add_fault(&app, rule.clone()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{rule}");
        assert_eq!(
            reply.json,
            json!({"error": "invalid_request", "message": message}),
            "{rule}"
        );
    }
    let reply = app.get("/_admin/faults").await;
    assert_eq!(reply.json, json!({"faults": []}));
}

/// `*` is one path segment, `**` any depth (issue 12: `/sfm/fhir/Patient/*` matched
/// `…/Patient/x/_history/1` and `$getMedication`).
#[actix_web::test]
async fn a_star_is_one_segment_and_two_stars_any_depth() {
    let app = spawn_app().await;
    add_fault(
        &app,
        json!({"path": "/sfm/fhir/Patient/*", "method": "GET", "status": 503}),
    )
    .await;
    assert_eq!(
        app.get("/sfm/fhir/Patient/x").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    for deeper in [
        "/sfm/fhir/Patient/x/_history/1",
        "/sfm/fhir/Patient/x/y",
        "/sfm/fhir/Patient",
    ] {
        let reply = app.get(deeper).await;
        assert_ne!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{deeper}");
        assert_eq!(reply.header("x-helsesim-fault"), None, "{deeper}");
    }
    app.delete("/_admin/faults").await;
    add_fault(
        &app,
        json!({"path": "/sfm/fhir/**", "method": "GET", "status": 503}),
    )
    .await;
    for any in [
        "/sfm/fhir/Patient/x/_history/1",
        "/sfm/fhir/Patient",
        "/sfm/fhir/metadata",
    ] {
        assert_eq!(
            app.get(any).await.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{any}"
        );
    }
}

/// A faulted answer is still a CORS answer (a browser-based EHR sees the injected status, not a
/// network error), preflights are never faulted, and kjernejournal's faulted answers carry
/// `X-EVENT-ID` like every other answer of kjernejournal.
#[actix_web::test]
async fn faulted_answers_keep_cors_and_the_event_id() {
    let app = spawn_app().await;
    add_fault(&app, json!({"path": "/**", "status": 503})).await;
    let origin = "http://localhost:3000";
    let response = app
        .http
        .get(app.url("/sfm/fhir/metadata"))
        .header("Origin", origin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        response
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap()),
        Some(origin)
    );
    let preflight = app
        .http
        .request(
            reqwest::Method::OPTIONS,
            app.url("/pts/access-restrictions/patient-safety"),
        )
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization, dpop, content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::OK);
    assert!(preflight.headers().get("x-helsesim-fault").is_none());
    assert_eq!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap()),
        Some(origin)
    );
    let reply = app.get("/kjernejournal/v1/ping").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    let event_id = reply.header("x-event-id").unwrap_or_default();
    assert!(
        event_id.starts_with("Id-") && event_id.len() == 28,
        "{event_id:?}"
    );
}
