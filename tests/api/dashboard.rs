//! The dashboard at `/` over plain HTTP: an HTML shell with every section, part of the control
//! plane (switched off with it; with a token it carries no data and its APIs need the token),
//! never journaled or faulted. (In Chromium: `dashboard_browser.rs`.)

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

const HEADINGS: [&str; 9] = [
    "Services",
    "Live requests",
    "Configuration",
    "SFM messages",
    "Fault rules",
    "Patients",
    "Clients",
    "Test users",
    "SFM instances",
];

#[actix_web::test]
async fn the_dashboard_is_an_html_page_with_every_section() {
    let app = spawn_app().await;
    let reply = app.get("/").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.header("x-frame-options"), Some("DENY"));
    let policy = reply.header("content-security-policy").unwrap();
    assert!(
        policy.starts_with("default-src 'none'; script-src 'sha256-"),
        "{policy}"
    );
    assert!(policy.contains("connect-src 'self'"), "{policy}");
    let html = &reply.text;
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains("<title>helsesim · dashboard</title>"));
    for heading in HEADINGS {
        assert!(
            html.contains(&format!(">{heading}</h2>")),
            "no heading {heading}"
        );
    }
    for button in ["+1 h", "+4 h", "+1 day", "Reset state"] {
        assert!(html.contains(&format!(">{button}</button>")), "{button}");
    }
    // Embedded: no stylesheet, script or font from elsewhere.
    assert!(!html.contains("<script src"), "inline script only");
    assert!(
        !html.contains("<link rel=\"stylesheet\""),
        "inline style only"
    );
    assert!(!html.contains("https://"), "nothing from the internet");

    // The dashboard is the control plane's: never journaled.
    let journal = app.get("/_admin/requests").await;
    assert_eq!(journal.json, json!({"requests": []}));
}

#[actix_web::test]
async fn other_methods_on_the_dashboard_are_405_and_other_paths_404() {
    let app = spawn_app().await;
    for method in [
        reqwest::Method::POST,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let reply = Reply::read(
            app.http
                .request(method.clone(), app.url("/"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(reply.header("allow"), Some("GET"));
        assert_eq!(reply.json["error"], "method_not_allowed", "{}", reply.text);
        assert!(
            reply
                .header("content-type")
                .is_some_and(|t| t.starts_with("application/json")),
            "{:?}",
            reply.headers
        );
    }
    let reply = app.get("/dashboard").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.json["error"], "not_found");
    assert!(
        reply.json["message"]
            .as_str()
            .unwrap()
            .starts_with("No service at /dashboard"),
        "{}",
        reply.text
    );
}

#[actix_web::test]
async fn with_the_control_plane_off_the_dashboard_is_not_there() {
    let app = spawn_app_with(|s| s.admin = false).await;
    let switched_off = json!({
        "error": "not_found", "message": "The control plane is switched off (HELSESIM_ADMIN=off)"
    });
    for path in ["/", "/_admin/overview"] {
        let reply = app.get(path).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(reply.json, switched_off, "{path}");
    }
}

#[actix_web::test]
async fn with_an_admin_token_the_dashboard_is_a_shell_and_its_data_needs_the_token() {
    let open = spawn_app().await;
    let locked = spawn_app_with(|s| s.admin_token = Some("s3cret-dashboard".to_owned())).await;
    let shell = locked.get("/").await;
    assert_eq!(shell.status, StatusCode::OK, "{}", shell.text);
    // The same static page either way (but for asking for the token): nothing of the state.
    assert_eq!(
        shell.text,
        open.get("/").await.text.replace(
            r#"<body data-admin-token="none">"#,
            r#"<body data-admin-token="required">"#
        )
    );
    for secret in [
        "s3cret-dashboard",
        DIDRIK,
        "Didrikson",
        "sfm-ready",
        SFM_READY,
        "Kari Kritisk",
        "13116900216",
        locked.base.as_str(),
    ] {
        assert!(!shell.text.contains(secret), "the shell shows {secret}");
    }
    // The page asks for the token.
    assert!(shell.text.contains("id=\"unlock-form\""));

    let reply = locked.get("/_admin/overview").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.json["error"], "unauthorized");
    let reply = Reply::read(
        locked
            .http
            .get(locked.url("/_admin/overview"))
            .header("Authorization", "Bearer s3cret-dashboard")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["settings"]["admin_token"], true);
}

#[actix_web::test]
async fn fault_rules_never_reach_the_dashboard() {
    let app = spawn_app().await;
    let rule = app
        .post_json("/_admin/faults", &json!({"path": "/**", "status": 503}))
        .await;
    assert_eq!(rule.status, StatusCode::CREATED, "{}", rule.text);
    assert_eq!(app.get("/").await.status, StatusCode::OK);
    assert_eq!(
        app.get("/helseid/.well-known/openid-configuration")
            .await
            .status,
        StatusCode::SERVICE_UNAVAILABLE
    );
}
