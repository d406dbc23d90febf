//! Issue 12's defects, each proved through HTTP: the clock cannot be moved out of what every
//! service can write, impossible dates are not national identity numbers, paging cannot wrap,
//! PTS refuses delays past what it can store.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::admin_clock::post_clock;
use crate::helpers::*;
use crate::pts::{Caller, at};
use crate::sfm_medication::{get_medication, patient_param};

const RANGE_RULE: &str = "The clock must stay from 1900-01-01T00:00:00Z to 9000-12-31T23:59:59Z \
                          (every service writes its times with four-digit years)";

/// `{"advance":"P300000Y"}` used to be accepted and then every request panicked in
/// `Clock::now`; a huge number of seconds was silently no move at all.
#[actix_web::test]
async fn the_clock_cannot_leave_the_years_every_service_can_write() {
    let app = spawn_app().await;
    let cases = [
        (
            r#"{"advance": "P300000Y"}"#,
            format!(
                "{RANGE_RULE}: advancing by P300000Y from 2026-03-02T10:00:00Z would take it past \
                 9000"
            ),
        ),
        (
            r#"{"advance": "-P200Y"}"#,
            format!(
                "{RANGE_RULE}: advancing by -P200Y from 2026-03-02T10:00:00Z would take it before \
                 1900"
            ),
        ),
        (
            r#"{"advance": "PT99999999999999999999S"}"#,
            "'PT99999999999999999999S' has a number too large to be read (at most 4294967295 of \
             each unit)"
                .to_owned(),
        ),
        (
            r#"{"set": "9999-12-31T00:00:00Z"}"#,
            format!("{RANGE_RULE}: 9999-12-31T00:00:00Z is out of range"),
        ),
        (
            r#"{"set": "1899-12-31T23:59:59Z"}"#,
            format!("{RANGE_RULE}: 1899-12-31T23:59:59Z is out of range"),
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
    assert_eq!(app.get("/_admin/clock").await.json["offset_seconds"], 0);
    // At the very end of the range every service still answers and writes its times.
    let reply = post_clock(&app, r#"{"set": "9000-12-31T23:00:00Z"}"#).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
    assert_eq!(
        app.get("/helseid/.well-known/openid-configuration")
            .await
            .status,
        StatusCode::OK
    );
    let token = didrik(&app).await;
    let reply = app
        .patient_ticket(Some(&token), r#"{"patientPid": "12050050295"}"#, None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let expires = reply.header("expires").unwrap_or_default();
    assert!(
        expires.contains(" 9000 ") || expires.contains(" 9001 "),
        "{expires}"
    );
    let reply = post_clock(&app, r#"{"advance": "P1D"}"#).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        post_clock(&app, r#"{"reset": true}"#).await.status,
        StatusCode::OK
    );
}

/// A state document cannot move the clock out of range either.
#[actix_web::test]
async fn a_state_document_cannot_move_the_clock_out_of_range() {
    let app = spawn_app().await;
    let mut state = app.get("/_admin/state").await.json;
    state["clock"]["offset_ms"] = json!(200_000_000_000_000_i64);
    let reply = app
        .send_raw(
            "PUT",
            "/_admin/state",
            "application/json",
            &state.to_string(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert_eq!(reply.json["error"], "invalid_state");
    assert!(
        reply.json["message"]
            .as_str()
            .unwrap()
            .starts_with("field `clock.offset_ms`: "),
        "{}",
        reply.text
    );
    assert_eq!(app.get("/_admin/clock").await.json["offset_seconds"], 0);
}

/// Dates that do not exist, with correct control digits, are not identity numbers anywhere.
#[actix_web::test]
async fn impossible_birth_dates_are_not_national_identity_numbers() {
    // 31 Feb 1990, 30 Feb 1990, 29 Feb 1900, 29 Feb 1901, 31 Nov 1990, D-number 31 Feb 1990.
    let impossible = [
        "31029010059",
        "30029010281",
        "29020010027",
        "29020110048",
        "31119010007",
        "71429010025",
    ];
    let app = spawn_app().await;
    for pid in impossible {
        let reply = app
            .post_json(
                "/_admin/helseid/users",
                &json!({"pid": pid, "given_name": "X", "family_name": "Y", "security_level": "4"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{pid}");
        assert_eq!(
            reply.json["message"],
            format!(
                "field `pid`: '{pid}' is not a national identity number: its first six digits are \
                 not a date (of the century its individual number gives)"
            )
        );
    }
    let token = didrik(&app).await;
    let reply = get_medication(
        &app,
        &token,
        patient_param("31029010059", "Umulig", "Dato"),
        &[],
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert_eq!(
        reply.json["issue"][0]["diagnostics"],
        "'31029010059' is not a national identity number: its first six digits are not a date (of \
         the century its individual number gives)"
    );
    let patient = json!({"resourceType": "Patient",
        "identifier": [{"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": "32019010189"}],
        "name": [{"family": "Dag", "given": ["Trettito"]}]});
    let reply = app
        .fhir("POST", "/Patient", Some(&token), Some(&patient))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert_eq!(
        reply.json["issue"][0]["diagnostics"],
        "Patient.identifier[0].value: '32019010189' is not a national identity number: its first \
         six digits are not a date (of the century its individual number gives)"
    );
}

/// `_offset=18446744073709551615&_count=2` gave a `next` link with `_offset=1` (it wrapped).
#[actix_web::test]
async fn paging_does_not_wrap_round() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let reply = app
        .fhir(
            "GET",
            "/Patient?_offset=18446744073709551615&_count=2",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let relations: Vec<&str> = reply.json["link"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["relation"].as_str().unwrap())
        .collect();
    assert!(!relations.contains(&"next"), "{}", reply.text);
    assert_eq!(reply.json["entry"], Value::Null, "{}", reply.text);
}

/// A parent's `delayDays` of 2147483647 stored the sibling with `delayDeliveryUntil: null`.
#[actix_web::test]
async fn pts_refuses_a_delay_past_what_it_can_store() {
    let app = spawn_app().await;
    app.clock.set(at("2024-01-05T08:00:00Z")).unwrap();
    let caller = Caller::pts(&app).await;
    let parent = r#"{"patientSafetyObject": {"person": {"offId": "12345678901"},
        "confidentialObjectId": {"type": "Rekvisisjon", "value": "r-1"}},
        "delayDays": 2147483647, "confidentialityCode": "NORU"}"#;
    let reply = caller.post(&app, "", parent).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let sibling = r#"{"patientSafetyObject": {"person": {"offId": "12345678901"},
        "confidentialObjectId": {"type": "Svarrapport", "value": "s-1"},
        "parentConfidentialObjectId": {"type": "Rekvisisjon", "value": "r-1"}},
        "delayFromTime": "2024-01-04T20:50:20.908216Z"}"#;
    let message = "DelayFromTime 2024-01-04T20:50:20.908216Z plus the parent's DelayDays \
                   2147483647 is past 9999-12-31T23:59:59.9999999Z, the latest DelayDeliveryUntil \
                   PTS can store";
    for path in ["/associate-parent", ""] {
        let body = if path.is_empty() {
            sibling.replace(
                r#""delayFromTime""#,
                r#""confidentialityCode": "NORU", "delayFromTime""#,
            )
        } else {
            sibling.to_owned()
        };
        let reply = caller.post(&app, path, &body).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{path}: {}",
            reply.text
        );
        assert_eq!(
            reply.json["title"],
            "One or more validation errors occurred."
        );
        assert_eq!(
            reply.json["errors"],
            json!({"DelayFromTime": [message]}),
            "{path}"
        );
    }
    let search = caller
        .post(
            &app,
            "/_search",
            concat!(
                r#"{"offId": "12345678901", "#,
                r#""confidentialObjectId": {"type": "Svarrapport", "value": "s-1"}}"#
            ),
        )
        .await;
    assert_eq!(search.json, json!([]), "nothing was stored");
}
