//! Runtime fixtures: test users, SFM instances and national patients added without a restart.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn indicator(app: &TestApp, token: &str) -> Reply {
    Reply::read(
        app.http
            .post(app.url("/kjernejournal/v1/helseindikator"))
            .header("Authorization", format!("Bearer {token}"))
            .header("X-EPJ-System", "tests")
            .json(&json!({"fnr": "10086148248"}))
            .send()
            .await
            .unwrap(),
    )
    .await
}

const KJ_SCOPES: &str = "openid helseid://scopes/identity/pid \
                         helseid://scopes/identity/security_level helseid://scopes/hpr/hpr_number \
                         nhn:kjernejournal/api";

#[actix_web::test]
async fn a_test_user_added_at_run_time_logs_in() {
    let app = spawn_app().await;
    let nina = json!({"pid": "13116900216", "given_name": "Nina", "family_name": "Ny",
                      "hpr_number": "112233", "security_level": "4"});
    let reply = app.post_json("/_admin/helseid/users", &nina).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let reply = app.post_json("/_admin/helseid/users", &nina).await;
    assert_eq!(reply.status, StatusCode::OK, "replaced");
    let users = app.get("/_admin/helseid/users").await;
    assert_eq!(
        users.json.as_array().unwrap().last().unwrap()["pid"],
        "13116900216"
    );

    let (code, pkce) = app
        .login_code(KJERNEJOURNAL, KJ_SCOPES, "13116900216", &[])
        .await;
    let reply = app
        .exchange_code(KJERNEJOURNAL, &code, &pkce.verifier, &[], &[])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let (_, claims) = decode_jwt(reply.json["access_token"].as_str().unwrap());
    assert_eq!(claims["helseid://claims/hpr/hpr_number"], "112233");

    let reply = app
        .post_json(
            "/_admin/helseid/users",
            &json!({
                "pid": "13116900217", "given_name": "X", "family_name": "Y", "security_level": "4"
            }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.json["error"], "invalid_user_entry");
    assert!(
        reply.json["message"]
            .as_str()
            .unwrap()
            .starts_with("field `pid`: "),
        "{}",
        reply.text
    );
    let reply = app.delete("/_admin/helseid/users/13116900216").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let users = app.get("/_admin/helseid/users").await;
    assert!(!users.text.contains("13116900216"));
}

#[actix_web::test]
async fn a_national_patient_added_at_run_time_is_seen_by_kjernejournal() {
    let app = spawn_app().await;
    let token = app
        .system_token(KJERNEJOURNAL, "nhn:kjernejournal/api")
        .await;
    let token = token.json["access_token"].as_str().unwrap().to_owned();
    assert_eq!(indicator(&app, &token).await.json["status"], 1);
    let patient = json!({
        "patient": "10086148248",
        "kjernejournal": {"own_health_information": true},
        "allergies": [{"substance": "Lateks", "criticality": "high", "recorded": "now-1d"}]
    });
    let reply = app.post_json("/_admin/sfm/national", &patient).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(indicator(&app, &token).await.json["status"], 4);
    assert_eq!(
        app.post_json("/_admin/sfm/national", &patient).await.status,
        StatusCode::OK
    );

    let reply = app
        .post_json(
            "/_admin/sfm/national",
            &json!({"patient": "10086148248", "kjernejournal": {"blocked_modules": ["ALT"]}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.json,
        json!({
            "error": "invalid_patient_entry",
            "message": "field `kjernejournal.blocked_modules[0]`: 'ALT' is not a kjernejournal \
                        module: KRITISKINFO or LEGEMIDLER"
        })
    );
}

#[actix_web::test]
async fn an_sfm_instance_is_added_or_replaced_at_run_time() {
    let app = spawn_app().await;
    let tenants: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures_dir().join("sfm/tenants.json")).unwrap(),
    )
    .unwrap();
    let fjordbyen = &tenants[0];
    let reply = app.post_json("/_admin/sfm/tenants", fjordbyen).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json, json!({"sfm_id": FJORDBYEN}));
    let mut copy = fjordbyen.clone();
    copy["sfm_id"] = json!("not-a-guid");
    let reply = app.post_json("/_admin/sfm/tenants", &copy).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.json,
        json!({
            "error": "invalid_tenant_entry", "message": "field `sfm_id`: 'not-a-guid' is not a GUID"
        })
    );
}

/// A multidose pharmacy's messages (M25.2, M25.3) in a national patient: an M25.2 has no
/// deliveries, an M25.3 has at least one, each naming a prescription of the patient.
#[actix_web::test]
async fn multidose_pharmacy_messages_are_checked() {
    let app = spawn_app().await;
    let entry = |messages: Value| {
        json!({
            "patient": "10086148248",
            "multidose": {
                "doctor": {"name": "Didrik D Didrikson", "hpr": "431001110"},
                "organization": {"name": "Nordby multidoselege", "her": "8140355"},
                "pharmacy": {"name": "Apotek 1 Multidose", "her": "8100033"},
                "messages": messages
            },
            "medications": [{
                "medication": {"name": "Levaxin tab 50 mikrog"},
                "dssn": "1 tablett om morgenen",
                "started": "now-100d",
                "prescription": {"id": "0b6b1c1e-1f7a-4c55-9a57-3a1d5f0e8b21",
                                 "status": "Ekspederbar", "issued": "now-20d",
                                 "expires": "now+300d", "packages": 1}
            }]
        })
    };
    let delivery = json!({
        "resept_id": "0b6b1c1e-1f7a-4c55-9a57-3a1d5f0e8b21", "first_dose": "now-5d",
        "last_dose": "now+9d"
    });
    let cases = [
        (
            json!([{"type": "M25.2", "date": "now-3d", "deliveries": [delivery]}]),
            "field `multidose.messages[0].deliveries`: an M25.2 (the pharmacy's query) has no \
             deliveries: only an M25.3 does",
        ),
        (
            json!([{"type": "M25.3", "date": "now-3d"}]),
            "field `multidose.messages[0].deliveries`: an M25.3 (the pharmacy's dispensing note) \
             needs at least one delivery",
        ),
        (
            json!([
                {"type": "M25.3", "date": "now-3d",
                 "deliveries": [{"resept_id": "other", "first_dose": "now-5d",
                                 "last_dose": "now+9d"}]}
            ]),
            "field `multidose.messages[0].deliveries[0].resept_id`: 'other' is not a prescription \
             of this patient",
        ),
    ];
    for (messages, message) in cases {
        let reply = app
            .post_json("/_admin/sfm/national", &entry(messages))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
        assert_eq!(
            reply.json,
            json!({"error": "invalid_patient_entry", "message": message})
        );
    }
    let reply = app
        .post_json(
            "/_admin/sfm/national",
            &entry(json!([
                {"type": "M25.2", "date": "now-3d"},
                {"type": "M25.3", "date": "now-2d", "deliveries": [delivery]}
            ])),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
}
