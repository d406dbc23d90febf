//! The control plane switched off or behind a token, and CORS for browser-based clients.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn the_control_plane_can_be_switched_off() {
    let app = spawn_app_with(|s| s.admin = false).await;
    let reply = app.get("/_admin/clock").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(
        reply.json,
        json!({
            "error": "not_found",
            "message": "The control plane is switched off (HELSESIM_ADMIN=off)"
        })
    );
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
}

#[actix_web::test]
async fn the_control_plane_can_demand_a_token() {
    let app = spawn_app_with(|s| s.admin_token = Some("s3cret".to_owned())).await;
    for authorization in [None, Some("Bearer wrong"), Some("s3cret")] {
        let mut request = app.http.get(app.url("/_admin/clock"));
        if let Some(value) = authorization {
            request = request.header("Authorization", value);
        }
        let reply = Reply::read(request.send().await.unwrap()).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{authorization:?}");
        assert_eq!(
            reply.json,
            json!({
                "error": "unauthorized",
                "message": "The control plane needs 'Authorization: Bearer <HELSESIM_ADMIN_TOKEN>'"
            })
        );
        assert_eq!(
            reply.header("www-authenticate"),
            Some("Bearer realm=\"helsesim-admin\"")
        );
    }
    let reply = Reply::read(
        app.http
            .get(app.url("/_admin/clock"))
            .header("Authorization", "Bearer s3cret")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    // The services are not affected.
    assert_eq!(app.get("/sfm/fhir/metadata").await.status, StatusCode::OK);
}

#[actix_web::test]
async fn cors_preflights_are_answered() {
    let app = spawn_app().await;
    let reply = Reply::read(
        app.http
            .request(reqwest::Method::OPTIONS, app.url("/helseid/connect/token"))
            .header("Origin", "http://epj.example:3000")
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "dpop, content-type")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("http://epj.example:3000")
    );
    assert!(
        reply
            .header("access-control-allow-methods")
            .is_some_and(|m| m.contains("POST")),
        "{:?}",
        reply.headers
    );
    // A simple request from a page gets the header too.
    let reply = Reply::read(
        app.http
            .get(app.url("/sfm/fhir/metadata"))
            .header("Origin", "http://epj.example:3000")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("http://epj.example:3000")
    );

    // With a list, other origins get no CORS headers.
    let strict = spawn_app_with(|s| {
        s.cors_origins =
            helsesim::config::CorsOrigins::List(vec!["https://epj.example".to_owned()]);
    })
    .await;
    let reply = Reply::read(
        strict
            .http
            .get(strict.url("/sfm/fhir/metadata"))
            .header("Origin", "https://evil.example")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.header("access-control-allow-origin"), None);
    let reply = Reply::read(
        strict
            .http
            .get(strict.url("/sfm/fhir/metadata"))
            .header("Origin", "https://epj.example")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("https://epj.example")
    );
}
