//! Unknown paths, wrong methods and bad bodies answer in each service's own error format.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn unknown_paths_answer_in_each_services_format() {
    let app = spawn_app().await;

    let reply = app.get("/helseid/connect/nothing").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    reply.assert_oauth_body(
        "invalid_request",
        "HelseID has no endpoint at /helseid/connect/nothing; see \
         /helseid/.well-known/openid-configuration",
    );

    let reply = app.get("/sfm/nothing").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(
        reply.header("content-type"),
        Some("application/fhir+json; charset=utf-8")
    );
    assert_eq!(
        reply.json,
        json!({"resourceType": "OperationOutcome", "issue": [{
            "severity": "error", "code": "not-found",
            "diagnostics": "SFM has no endpoint at /sfm/nothing"
        }]})
    );
    let reply = app.get("/sfm/fhir/Nothing").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(
        reply.json["issue"][0]["diagnostics"],
        "Resource type 'Nothing' is not supported here (supported: Organization, Person, \
         Practitioner, Patient, MedicationStatement, Medication, List, AllergyIntolerance, \
         Condition, Observation, Task)"
    );
    let reply = app.get("/sfm/api/nothing").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(reply.json["title"], "Not Found");
    assert_eq!(
        reply.json["type"],
        "https://tools.ietf.org/html/rfc9110#section-15.5.5"
    );
    assert_eq!(
        reply.json["detail"],
        "SFM's session service has no endpoint at /sfm/api/nothing"
    );

    let reply = app.get("/kjernejournal/v1/nothing").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.json["status"], 404);
    assert_eq!(
        reply.json["utviklermelding"],
        "Kjernejournal has no endpoint at /kjernejournal/v1/nothing: helsesim simulates POST \
         /kjernejournal/v1/helseindikator, GET /kjernejournal/v1/ping, GET \
         /kjernejournal/v1/legemidler, GET /kjernejournal/v1/fhir/Patient/$everything, \
         Kjernejournal Innlogging's POST /kjernejournal/innlogging/api/session/create \
         (refresh, end; GET ping) and the portal at /kjernejournal/hpp-webapp/hentpasient.html"
    );
    assert_eq!(reply.json["feilkode"], "KJF-000000");
    assert!(
        reply
            .header("x-event-id")
            .is_some_and(|id| id.starts_with("Id-"))
    );
    assert!(
        reply.json["brukermelding"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert!(reply.json["feilkode"].as_str().unwrap().starts_with("KJF-"));
    assert_eq!(reply.header("pragma"), Some("no-cache"));

    let reply = app.get("/pts/nothing").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(reply.json["status"], 404);
    assert_eq!(reply.json["title"], "Not Found");
    assert_eq!(reply.json["detail"], "PTS has no endpoint at /pts/nothing");

    let reply = app.get("/_admin/nothing").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(
        reply.json,
        json!({
            "error": "not_found", "message": "The control plane has no endpoint at /_admin/nothing"
        })
    );

    let reply = app.get("/nothing").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.json["error"], "not_found");
    assert_eq!(
        reply.json["message"],
        "No service at /nothing; helsesim serves /helseid, /sfm, /kjernejournal, /pts, /_admin, \
         /healthz and the demo EHR at /epj/"
    );
}

#[actix_web::test]
async fn wrong_methods_answer_in_the_services_format() {
    let app = spawn_app().await;
    let reply = Reply::read(app.http.post(app.url("/healthz")).send().await.unwrap()).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        reply.json,
        json!({"error": "method_not_allowed", "message": "Method POST is not allowed here"})
    );
    assert_eq!(reply.header("allow"), Some("GET"));

    let reply = Reply::read(
        app.http
            .post(app.url("/helseid/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    reply.assert_oauth_body("invalid_request", "Method POST is not allowed here");
    assert_eq!(reply.header("allow"), Some("GET"));
}

#[actix_web::test]
async fn health_answers_ok() {
    let app = spawn_app().await;
    let reply = app.get("/healthz").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json["status"], "ok");
    assert_eq!(reply.json["time"], "2026-03-02T10:00:00+00:00");
}

#[actix_web::test]
async fn https_listener_serves_with_the_local_ca() {
    let app = spawn_app_with(|s| s.tls_port = Some(0)).await;
    let port = app.https_port.expect("https listener");
    let reply = Reply::read(
        app.http
            .get(format!("https://localhost:{port}/healthz"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json["status"], "ok");
}
