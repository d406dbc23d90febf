//! Concurrency: many clients writing the same thing at the same moment, against an app with
//! four workers (real parallelism on the server side). Exactly one write wins where only one
//! may, the others are refused the way the API documents, and nothing is lost or doubled.

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::pts::{ADD_REKVISISJON, Caller};

const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";
const FNR: &str = "urn:oid:2.16.578.1.12.4.1.4.1";
/// Nora Nyfødt's fødselsnummer (valid check digits, born 2026-02-28).
const NORA: &str = "28022600178";

/// An app with four workers.
async fn parallel_app() -> TestApp {
    spawn_app_with(|s| s.workers = Some(4)).await
}

/// Asserts an OperationOutcome with exactly one error issue.
#[track_caller]
fn assert_outcome(reply: &Reply, status: StatusCode, code: &str, diagnostics: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(reply.header("content-type"), Some(FHIR_JSON));
    assert_eq!(
        reply.json,
        json!({
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}]
        }),
    );
}

/// `PUT /sfm/fhir{path}` with `If-Match`.
async fn put_if_match(app: &TestApp, token: &str, path: &str, etag: &str, body: &Value) -> Reply {
    Reply::read(
        app.http
            .put(app.url(&format!("/sfm/fhir{path}")))
            .header("Authorization", format!("Bearer {token}"))
            .header("Content-Type", "application/fhir+json")
            .header("If-Match", etag)
            .body(serde_json::to_vec(body).unwrap())
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// How many replies had each status, for failure messages.
fn statuses(replies: &[Reply]) -> std::collections::BTreeMap<u16, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for reply in replies {
        *counts.entry(reply.status.as_u16()).or_default() += 1;
    }
    counts
}

/// 200 clients update Line at once, each with `If-Match: W/"1"` and its own family name:
/// exactly one wins (200, version 2), the other 199 get 412 naming version 2, and the history
/// is dense: version 1 as it was, version 2 the winner's body, no version 3. No lost update.
#[actix_web::test]
async fn concurrent_conditional_updates_make_exactly_one_version() {
    let app = parallel_app().await;
    let token = didrik(&app).await;
    let line = app
        .fhir("GET", "/Patient/patient-line", Some(&token), None)
        .await;
    assert_eq!(line.header("etag"), Some("W/\"1\""));
    let line = line.json;
    let bodies: Vec<Value> = (0..200)
        .map(|i| {
            let mut body = line.clone();
            body["name"][0]["family"] = json!(format!("Skriver{i}"));
            body
        })
        .collect();
    let replies = join_all(
        bodies
            .iter()
            .map(|body| put_if_match(&app, &token, "/Patient/patient-line", "W/\"1\"", body)),
    )
    .await;

    let winners: Vec<usize> = (0..replies.len())
        .filter(|&i| replies[i].status == StatusCode::OK)
        .collect();
    assert_eq!(winners.len(), 1, "{:?}", statuses(&replies));
    let winner = winners[0];
    for (_, reply) in replies.iter().enumerate().filter(|(i, _)| *i != winner) {
        assert_outcome(
            reply,
            StatusCode::PRECONDITION_FAILED,
            "conflict",
            "If-Match names version 1, but Patient/patient-line is at version 2",
        );
    }
    let won = &replies[winner];
    assert_eq!(won.header("etag"), Some("W/\"2\""));
    assert_eq!(won.json["meta"]["versionId"], "2");
    assert_eq!(
        won.json["name"][0]["family"],
        format!("Skriver{winner}").as_str()
    );

    // The history: 1 (unchanged), 2 (the winner's), nothing after.
    let v1 = app
        .fhir(
            "GET",
            "/Patient/patient-line/_history/1",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(v1.status, StatusCode::OK, "{}", v1.text);
    assert_eq!(v1.json, line);
    let v2 = app
        .fhir(
            "GET",
            "/Patient/patient-line/_history/2",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(v2.status, StatusCode::OK, "{}", v2.text);
    assert_eq!(v2.json, won.json);
    let v3 = app
        .fhir(
            "GET",
            "/Patient/patient-line/_history/3",
            Some(&token),
            None,
        )
        .await;
    assert_outcome(
        &v3,
        StatusCode::NOT_FOUND,
        "not-found",
        "Version 3 of Patient/patient-line is not known",
    );
    let current = app
        .fhir("GET", "/Patient/patient-line", Some(&token), None)
        .await;
    assert_eq!(current.header("etag"), Some("W/\"2\""));
    assert_eq!(current.json, won.json);
}

/// 100 clients create a Patient with the same fødselsnummer at once: exactly one is created
/// (201), the other 99 get 409 `duplicate` naming the Patient that won, and a search by the
/// identifier finds that one Patient only.
#[actix_web::test]
async fn concurrent_creates_of_one_identifier_make_exactly_one_patient() {
    let app = parallel_app().await;
    let token = didrik(&app).await;
    let nora = json!({
        "resourceType": "Patient",
        "identifier": [{"use": "official", "system": FNR, "value": NORA}],
        "name": [{"family": "Nyfødt", "given": ["Nora"]}]
    });
    let replies =
        join_all((0..100).map(|_| app.fhir("POST", "/Patient", Some(&token), Some(&nora)))).await;

    let created: Vec<&Reply> = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .collect();
    assert_eq!(created.len(), 1, "{:?}", statuses(&replies));
    let id = created[0].json["id"].as_str().unwrap().to_owned();
    let duplicate = format!("Patient {id} already has the identifier {FNR}|{NORA}");
    for reply in replies.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert_outcome(reply, StatusCode::CONFLICT, "duplicate", &duplicate);
    }

    let reply = app
        .fhir(
            "GET",
            &format!("/Patient?identifier={FNR}%7C{NORA}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["total"], 1, "{}", reply.text);
    assert_eq!(reply.json["entry"][0]["resource"]["id"], id.as_str());
}

/// 100 writes of one PTS restriction at once (the spec's add with 14 days, and updates of the
/// same object to 30 days): every write answers 200 with the same id, and a search finds
/// exactly one stored restriction, holding one of the written delays.
#[actix_web::test]
async fn concurrent_pts_writes_of_one_object_store_one_restriction() {
    let app = parallel_app().await;
    let pts = Caller::pts(&app).await;
    let update = ADD_REKVISISJON.replace("\"delayDays\": 14", "\"delayDays\": 30");
    assert_ne!(update, ADD_REKVISISJON);
    let replies = join_all((0..100).map(|i| {
        let body = if i % 2 == 0 {
            ADD_REKVISISJON
        } else {
            update.as_str()
        };
        pts.post(&app, "", body)
    }))
    .await;

    assert!(
        replies.iter().all(|r| r.status == StatusCode::OK),
        "{:?}",
        statuses(&replies)
    );
    let id = replies[0].json["id"].as_str().unwrap().to_owned();
    for reply in &replies {
        assert_eq!(reply.json["id"], id.as_str(), "{}", reply.text);
        assert_eq!(reply.json["organizationNumber"], "922222223");
    }

    let reply = pts
        .post(
            &app,
            "/_search",
            r#"{"offId": "12345678901", "applicableOnly": false}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let found = reply.json.as_array().unwrap();
    assert_eq!(found.len(), 1, "{}", reply.text);
    assert_eq!(found[0]["id"], id.as_str());
    assert!(
        [json!(14), json!(30)].contains(&found[0]["delayDays"]),
        "{}",
        reply.text
    );
}
