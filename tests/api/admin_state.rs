//! `GET /_admin/state` and `PUT /_admin/state`: the whole state as one versioned document,
//! exported from one helsesim and imported into another; an invalid document changes nothing.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::pts::{ADD_REKVISISJON, Caller as PtsCaller};
use crate::sfm_medication::{
    LINE, add_prescription, get_medication, medication_bundle, patient_param, send_body,
    send_medication, set_create_pll,
};

impl TestApp {
    /// `GET /_admin/state`, checked to be a state document.
    pub async fn export_state(&self) -> Value {
        let reply = self.get("/_admin/state").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        assert_eq!(reply.json["format"], "helsesim-state");
        assert_eq!(reply.json["version"], 1);
        reply.json
    }

    /// `PUT /_admin/state` with a raw body.
    pub async fn import_state(&self, body: &str) -> Reply {
        self.send_raw("PUT", "/_admin/state", "application/json", body)
            .await
    }
}

/// A state document without its time of writing (which differs between two exports).
pub fn unstamped(mut document: Value) -> Value {
    document.as_object_mut().unwrap().remove("exported_at");
    document
}

#[actix_web::test]
async fn a_state_document_carries_everything_to_another_helsesim() {
    let a = spawn_app().await;
    // SFM: a new patient, a ticket, a prescription sent (national state and an M1 message).
    let didrik_a = didrik(&a).await;
    a.create_nora(&didrik_a).await;
    let sfm_ticket = crate::sfm_datadeling::ticket(&a, &didrik_a, LINE).await;
    let reply = get_medication(&a, &didrik_a, patient_param(LINE, "Danser", "Line"), &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let mut body = send_body(&medication_bundle(&reply));
    let resept_id = add_prescription(&mut body, "Losartan Krka tab 50 mg", &[]);
    set_create_pll(&mut body, false);
    let reply = send_medication(&a, &didrik_a, &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    // HelseID: a refresh token; a user added at run time.
    let (code, pkce) = a.login_code(SFM_READY, SFM_LOGIN_SCOPES, DIDRIK, &[]).await;
    let reply = a
        .exchange_code(SFM_READY, &code, &pkce.verifier, &[], &[])
        .await;
    let refresh_token = reply.json["refresh_token"].as_str().unwrap().to_owned();
    let user = json!({
        "pid": "15838510075", "given_name": "Tora", "family_name": "Typet", "hpr_number": "123456"
    });
    let reply = a.post_json("/_admin/helseid/users", &user).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    // Kjernejournal: a ticket. PTS: a restriction. The clock: moved.
    let kj_ticket = a.kj_ticket(LINE, Some("HPMOTTATTSAMTYKKE")).await;
    let pts = PtsCaller::pts(&a).await;
    let reply = pts.post(&a, "", ADD_REKVISISJON).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    advance(&a, 90);

    let exported = a.export_state().await;
    assert_eq!(exported["clock"], json!({"offset_ms": 90_000}));
    assert_eq!(exported["pts"]["restrictions"].as_array().unwrap().len(), 1);
    assert!(
        exported["helseid"]["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["pid"] == "15838510075")
    );
    assert!(exported["kjernejournal"]["ticket_key"].is_string());
    assert!(exported["national"]["patients"][LINE]["messages"].is_array());

    // Another helsesim takes it whole.
    let b = spawn_app().await;
    let reply = b.import_state(&exported.to_string()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["imported"], true);
    assert_eq!(reply.json["pts_restrictions"], 1);
    assert_eq!(reply.json["clock"]["offset_seconds"], 90);
    assert_eq!(unstamped(b.export_state().await), unstamped(exported));

    // ...and everything works there: the clock, the runtime user, the SFM patient and ticket,
    // the prescription and its message, the refresh token, the kjernejournal ticket, PTS.
    assert_eq!(b.get("/_admin/clock").await.json["offset_seconds"], 90);
    let users = b.get("/_admin/helseid/users").await;
    assert!(
        users
            .json
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["pid"] == "15838510075")
    );
    let didrik_b = didrik(&b).await;
    let reply = b
        .fhir(
            "GET",
            "/Patient?identifier=28022600178",
            Some(&didrik_b),
            None,
        )
        .await;
    assert_eq!(reply.json["total"], 1, "{}", reply.text);
    let reply = b
        .fhir(
            "GET",
            &format!("/MedicationStatement?patientTicket={sfm_ticket}"),
            Some(&didrik_b),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(reply.text.contains(&resept_id), "{}", reply.text);
    let reply = b
        .get(&format!("/_admin/sfm/messages?patient={LINE}&type=M1"))
        .await;
    assert_eq!(
        reply.json["messages"].as_array().unwrap().len(),
        1,
        "{}",
        reply.text
    );
    assert_eq!(reply.json["messages"][0]["resept_id"], resept_id.as_str());
    let reply = b.refresh(SFM_READY, &refresh_token, &[], &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let kj_user = b.kj_user_token(KJERNEJOURNAL, DIDRIK, None).await;
    let reply = b
        .legemidler(
            &kj_user,
            &[
                ("ticket", &kj_ticket),
                ("fra", "2020-01-01T00:00:00Z"),
                ("utvidet-oppslag", "false"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let pts_b = PtsCaller::pts(&b).await;
    let reply = pts_b
        .post(&b, "/_search", &json!({"offId": "12345678901"}).to_string())
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json.as_array().unwrap().len(), 1, "{}", reply.text);
}

#[actix_web::test]
async fn a_pretty_hand_edited_document_is_stored_as_helsesim_writes_it() {
    let app = spawn_app().await;
    let didrik = didrik(&app).await;
    let id = "patient-line";
    // Pretty-printed, as an editor or `jq` writes it, with an escaped letter in a name.
    let document = serde_json::to_string_pretty(&app.export_state().await)
        .unwrap()
        .replace("\"Danser\"", "\"D\\u00e5nser\"");
    assert!(
        document.contains("D\\u00e5nser"),
        "the fixture has Line Danser"
    );
    let reply = app.import_state(&document).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);

    // A read answers the stored text itself: compact, the escape written as the letter.
    let reply = app
        .fhir("GET", &format!("/Patient/{id}"), Some(&didrik), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.text, serde_json::to_string(&reply.json).unwrap());
    assert!(reply.text.contains("\"Dånser\""), "{}", reply.text);
    assert_eq!(reply.header("etag"), Some("W/\"1\""));
    // Last-Modified is meta.lastUpdated, read from the stored text alone.
    let last_updated = reply.json["meta"]["lastUpdated"].as_str().unwrap();
    let expected = chrono::DateTime::parse_from_rfc3339(last_updated)
        .unwrap()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    assert_eq!(reply.header("last-modified"), Some(expected.as_str()));
    let reply = app
        .fhir(
            "GET",
            &format!("/Patient/{id}/_history/1"),
            Some(&didrik),
            None,
        )
        .await;
    assert_eq!(reply.text, serde_json::to_string(&reply.json).unwrap());
}

#[actix_web::test]
async fn an_export_is_stable_and_a_reimport_changes_nothing() {
    let app = spawn_app().await;
    let first = app.export_state().await;
    let again = app.export_state().await;
    assert_eq!(
        serde_json::to_string(&unstamped(first.clone())).unwrap(),
        serde_json::to_string(&unstamped(again)).unwrap(),
        "two exports of the same state are the same text"
    );
    let reply = app.import_state(&first.to_string()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(unstamped(app.export_state().await), unstamped(first));
}

#[actix_web::test]
async fn an_invalid_document_is_refused_naming_the_field_and_changes_nothing() {
    let app = spawn_app().await;
    let good = app.export_state().await;
    let tenant = FJORDBYEN;
    let orgnr_of = |d: &Value| d["sfm"]["tenants"][tenant]["resources"]["Organization"].clone();
    let first_org_id = orgnr_of(&good)
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    let changed = |change: &dyn Fn(&mut Value)| {
        let mut document = good.clone();
        change(&mut document);
        document.to_string()
    };
    let cases: Vec<(String, &str)> = vec![
        (
            "{\"format\":".to_owned(),
            "not valid JSON: EOF while parsing a value at line 1 column 10",
        ),
        (
            "[]".to_owned(),
            "a state document is a JSON object (GET /_admin/state writes one)",
        ),
        (
            changed(&|d| d["format"] = json!("wiremock")),
            "field `format`: must be \"helsesim-state\" (is this a state document from GET \
             /_admin/state?)",
        ),
        (
            changed(&|d| d["version"] = json!(2)),
            "field `version`: this helsesim reads version 1, the document has 2",
        ),
        (
            changed(&|d| d["surprise"] = json!(true)),
            "field `surprise`: unknown field `surprise`, expected one of `format`, `version`, \
             `exported_at`, `clock`, `helseid`, `sfm`, `national`, `kjernejournal`, `pts`, \
             `advice`",
        ),
        (
            changed(&|d| {
                d.as_object_mut().unwrap().remove("pts");
            }),
            "missing field `pts`",
        ),
        (
            changed(&|d| d["helseid"]["users"][0]["pid"] = json!("12345678901")),
            "field `helseid.users[0].pid`: '12345678901' is not a national identity number: its \
             first six digits are not a date (of the century its individual number gives)",
        ),
        (
            changed(&|d| {
                let users = d["helseid"]["users"].as_array_mut().unwrap();
                let copy = users[0].clone();
                users.push(copy);
            }),
            "field `helseid.users[5].pid`: another user has this pid",
        ),
        (
            changed(&|d| d["helseid"]["clients"][0]["jwks"]["keys"] = json!([])),
            "field `helseid.clients[0].jwks.keys`: a client needs at least one public key \
             (private_key_jwt is the only client authentication)",
        ),
        (
            changed(&|d| {
                d["sfm"]["tenants"][tenant]["resources"]["Organization"][&first_org_id][0]["meta"]
                    ["versionId"] = json!("7")
            }),
            "",
        ),
        (
            changed(&|d| d["sfm"]["tenants"][tenant]["tickets"] = json!([{"value": "x"}])),
            "",
        ),
        (
            changed(&|d| d["kjernejournal"]["ticket_key"] = json!("c2hvcnQ")),
            "field `kjernejournal.ticket_key`: must be 32 bytes in base64url without padding",
        ),
        (changed(&|d| d["clock"]["offset_ms"] = json!("soon")), ""),
    ];
    for (body, message) in cases {
        let reply = app.import_state(&body).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body:.200}: {}",
            reply.text
        );
        assert_eq!(reply.json["error"], "invalid_state", "{}", reply.text);
        let got = reply.json["message"].as_str().unwrap();
        if message.is_empty() {
            assert!(got.starts_with("field `"), "names a field: {got}");
        } else {
            assert_eq!(got, message);
        }
    }
    assert_eq!(
        unstamped(app.export_state().await),
        unstamped(good),
        "nothing changed"
    );
}

#[actix_web::test]
async fn state_needs_json_and_get_or_put() {
    let app = spawn_app().await;
    let reply = Reply::read(
        app.http
            .put(app.url("/_admin/state"))
            .header("Content-Type", "text/plain")
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        reply.json,
        json!({
            "error": "unsupported_media_type",
            "message": "Content-Type must be application/json, got 'text/plain'"
        })
    );
    let reply = Reply::read(
        app.http
            .post(app.url("/_admin/state"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.header("allow"), Some("GET, PUT"));
    assert_eq!(reply.json["error"], "method_not_allowed");
}
