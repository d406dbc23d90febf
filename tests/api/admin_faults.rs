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
        json!({"path": "/sfm/fhir/**", "method": "get", "status": 503, "body": {"error": "maintenance"}, "times": 2}),
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
            "path '/sfm/[' is not a glob: error parsing glob '/sfm/[': unclosed character class; missing ']'",
        ),
        (
            json!({"path": "/sfm/**", "status": 42}),
            "status must be an HTTP status (100 to 999), got 42",
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
