//! `/_admin/clock`: one clock for every service, moved by the control plane.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

pub(crate) async fn post_clock(app: &TestApp, body: &str) -> Reply {
    app.send_raw("POST", "/_admin/clock", "application/json", body)
        .await
}

#[actix_web::test]
async fn the_clock_is_shown_advanced_set_and_reset() {
    let app = spawn_app().await;
    let reply = app.get("/_admin/clock").await;
    assert_eq!(
        reply.json,
        json!({"now": "2026-03-02T10:00:00.000Z", "offset_seconds": 0})
    );
    let reply = post_clock(&app, r#"{"advance": "PT4H1M"}"#).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.json,
        json!({"now": "2026-03-02T14:01:00.000Z", "offset_seconds": 14460})
    );
    let reply = post_clock(&app, r#"{"advance": "-PT1M"}"#).await;
    assert_eq!(reply.json["now"], "2026-03-02T14:00:00.000Z");
    let reply = post_clock(&app, r#"{"set": "2024-01-05T08:00:00+01:00"}"#).await;
    assert_eq!(reply.json["now"], "2024-01-05T07:00:00.000Z");
    // Every service follows: a token issued now expires in the moved time.
    let token = app
        .system_token(KJERNEJOURNAL, "nhn:kjernejournal/api")
        .await;
    let (_, claims) = decode_jwt(token.json["access_token"].as_str().unwrap());
    assert_eq!(claims["iat"], json!(1_704_438_000));
    let reply = post_clock(&app, r#"{"reset": true}"#).await;
    assert_eq!(
        reply.json,
        json!({"now": "2026-03-02T10:00:00.000Z", "offset_seconds": 0})
    );
}

#[actix_web::test]
async fn bad_clock_changes_are_refused() {
    let app = spawn_app().await;
    let cases = [
        (
            r#"{"advance": "4 hours"}"#,
            "'4 hours' is not an ISO 8601 duration such as PT4H1M, P2D or -PT30M",
        ),
        (
            r#"{"set": "tomorrow"}"#,
            "set must be an RFC 3339 time such as 2026-01-01T10:00:00Z, got 'tomorrow'",
        ),
        (
            r#"{"reset": false}"#,
            "Unknown clock change reset: false; send {\"advance\": \"PT4H1M\"}, {\"set\": \
             \"2026-01-01T10:00:00Z\"} or {\"reset\": true}",
        ),
        (
            r#"{"advance": "PT1H", "reset": true}"#,
            "Send exactly one of {\"advance\": \"PT4H1M\"}, {\"set\": \"2026-01-01T10:00:00Z\"} or \
             {\"reset\": true}",
        ),
        (
            r#"{"advance": "PT1H""#,
            "The body is not valid JSON: EOF while parsing an object at line 1 column 18",
        ),
    ];
    for (body, message) in cases {
        let reply = post_clock(&app, body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            reply.json,
            json!({"error": "invalid_request", "message": message}),
            "{body}"
        );
    }
    let reply = app.get("/_admin/clock").await;
    assert_eq!(
        reply.json["offset_seconds"],
        Value::from(0),
        "nothing moved"
    );
}

/// After the clock moves, a token fetched before expires with it, and the refusal says so:
/// helsesim's clock and how far it was moved.
#[actix_web::test]
async fn an_expired_token_names_the_moved_clock() {
    let app = spawn_app().await;
    let token = app
        .system_token(KJERNEJOURNAL, "nhn:kjernejournal/api")
        .await;
    let token = token.json["access_token"].as_str().unwrap().to_owned();
    let reply = post_clock(&app, r#"{"advance": "P1DT2H"}"#).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let reply = app.ping_kjernejournal(&token).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);
    assert_eq!(
        reply.json["utviklermelding"],
        "The HelseID access token was refused: The access token expired at \
         2026-03-02T10:10:00+00:00 (helsesim's clock: 2026-03-03T12:00:00+00:00, moved +1 d 2 h \
         from this machine's clock: tokens fetched before the clock moved expire with it, fetch \
         new ones)"
    );
}
