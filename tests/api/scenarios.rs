//! `/_admin/scenarios`: steps applied on demand, presets from `fixtures/scenarios/`, clearing.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn the_sfm_unavailable_preset_answers_503_with_retry_after_for_two_minutes() {
    let app = spawn_app().await;
    let reply = app.get("/_admin/scenarios").await;
    assert_eq!(reply.status, StatusCode::OK);
    let presets = reply.json["presets"].as_array().unwrap();
    assert!(
        presets.iter().any(|p| p["name"] == "sfm-unavailable"),
        "{}",
        reply.text
    );

    let reply = app
        .post_json("/_admin/scenarios/sfm-unavailable", &json!({}))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.json["preset"], "sfm-unavailable");
    assert_eq!(reply.json["applied"][0]["step"]["kind"], "http_fault");

    let reply = app.get("/sfm/fhir/metadata").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.header("retry-after"), Some("30"));
    assert_eq!(reply.json["resourceType"], "OperationOutcome");
    assert_eq!(
        app.get("/helseid/.well-known/openid-configuration")
            .await
            .status,
        StatusCode::OK
    );
    let reply = app.get("/_admin/scenarios").await;
    assert_eq!(reply.json["active"]["faults"].as_array().unwrap().len(), 1);

    // Two minutes later on helsesim's clock, SFM answers again.
    app.post_json("/_admin/clock", &json!({"advance": "PT121S"}))
        .await;
    assert_eq!(app.get("/sfm/fhir/metadata").await.status, StatusCode::OK);
}

#[actix_web::test]
async fn clearing_ends_the_failures_scenarios_started_and_only_those() {
    let app = spawn_app().await;
    let own = app
        .post_json("/_admin/faults", &json!({"path": "/pts/**", "status": 500}))
        .await;
    assert_eq!(own.status, StatusCode::CREATED);
    let reply = app
        .post_json(
            "/_admin/scenarios",
            &json!({"steps": [{"kind": "http_fault", "path": "/sfm/**", "status": 503}]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(
        app.get("/sfm/fhir/metadata").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );

    let reply = app.delete("/_admin/scenarios").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/sfm/fhir/metadata").await.status, StatusCode::OK);
    let faults = app.get("/_admin/faults").await;
    assert_eq!(faults.json["faults"].as_array().unwrap().len(), 1);
    assert_eq!(faults.json["faults"][0]["id"], own.json["id"]);
    // What was applied stays listed.
    let reply = app.get("/_admin/scenarios").await;
    assert_eq!(reply.json["applied"][0]["step"]["path"], "/sfm/**");
    assert_eq!(reply.json["active"]["faults"], json!([]));
}

#[actix_web::test]
async fn bad_steps_and_unknown_presets_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    for (body, message) in [
        (
            json!({"kind": "volcano"}),
            "The body is not a scenario step at `kind`: unknown variant `volcano`, expected",
        ),
        (
            json!({"steps": [
                {"kind": "http_fault", "path": "/sfm/**", "status": 503},
                {"kind": "http_fault", "path": "sfm", "status": 503}
            ]}),
            "step 2: path must start with '/', got 'sfm'",
        ),
        (
            json!({"steps": []}),
            "steps is empty: give at least one step",
        ),
        (
            json!({"kind": "http_fault", "path": "/sfm/**", "delay_ms": 5, "headers": {"A": "1"}}),
            "headers need a status",
        ),
    ] {
        let reply = app.post_json("/_admin/scenarios", &body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply.json["error"], "invalid_request");
        let text = reply.json["message"].as_str().unwrap();
        assert!(text.starts_with(message), "{body}: {text}");
    }
    // The first step of the refused pair was not applied.
    assert_eq!(app.get("/sfm/fhir/metadata").await.status, StatusCode::OK);
    assert_eq!(app.get("/_admin/faults").await.json["faults"], json!([]));

    let reply = app.post_json("/_admin/scenarios/nope", &json!({})).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(
        reply.json["message"]
            .as_str()
            .unwrap()
            .starts_with("No preset 'nope' (fixtures/scenarios/nope.json); the presets are: "),
        "{}",
        reply.text
    );
}
