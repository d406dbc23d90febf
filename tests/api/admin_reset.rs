//! `POST /_admin/reset`: every service back to the fixtures without a restart.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn reset_forgets_everything_made_since_start_but_not_the_clock() {
    let app = spawn_app().await;
    // A client added at run time.
    let mut entry: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures_dir().join("helseid/clients.json")).unwrap(),
    )
    .unwrap();
    let mut client = entry.as_array_mut().unwrap().remove(1);
    client["client_id"] = json!("added-at-run-time");
    client["name"] = json!("added");
    assert_eq!(
        app.register_client(&client).await.status,
        StatusCode::CREATED
    );
    // A patient created in an SFM instance.
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    app.create_nora(&token).await;
    let search = "/Patient?identifier=28022600178";
    let reply = app.fhir("GET", search, Some(&token), None).await;
    assert_eq!(reply.json["total"], 1);
    advance(&app, 60);

    let reply = Reply::read(
        app.http
            .post(app.url("/_admin/reset"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["reset"], true);
    assert!(reply.json["took_ms"].is_u64());

    let reply = app.get("/_admin/helseid/clients/added-at-run-time").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = app
        .get(&format!("/_admin/helseid/clients/{SFM_READY}"))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "the fixture client is back");
    // Logins are forgotten too: a new one, and the patient is gone.
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let reply = app.fhir("GET", search, Some(&token), None).await;
    assert_eq!(reply.json["total"], 0, "{}", reply.text);
    // The clock is not reset.
    let reply = app.get("/_admin/clock").await;
    assert_eq!(reply.json["offset_seconds"], 60);
    // Only POST.
    let reply = app.get("/_admin/reset").await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.header("allow"), Some("POST"));
}
