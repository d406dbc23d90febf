//! `/_admin/requests`: the journal of recent requests, secrets redacted.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn journal(app: &TestApp, query: &str) -> Vec<Value> {
    let reply = app.get(&format!("/_admin/requests{query}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.json["requests"].as_array().unwrap().clone()
}

#[actix_web::test]
async fn requests_are_journaled_newest_first_with_secrets_redacted() {
    let app = spawn_app_with(|s| s.kj_extra_field = false).await;
    let token = app
        .system_token(KJERNEJOURNAL, "nhn:kjernejournal/api")
        .await;
    assert_eq!(token.status, StatusCode::OK);
    advance(&app, 1);
    let reply = Reply::read(
        app.http
            .post(app.url("/kjernejournal/v1/helseindikator?debug=1"))
            .header("Content-Type", "application/json")
            .body(r#"{"fnr": "13116900216"}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    app.get("/healthz").await;
    app.get("/_admin/clock").await;

    let all = journal(&app, "").await;
    assert_eq!(all.len(), 2, "not the control plane or /healthz: {all:?}");
    let kj = &all[0];
    assert_eq!(kj["service"], "kjernejournal");
    assert_eq!(kj["method"], "POST");
    assert_eq!(kj["path"], "/kjernejournal/v1/helseindikator?debug=1");
    assert_eq!(kj["status"], 401);
    assert_eq!(kj["time"], "2026-03-02T10:00:01.000Z");
    assert_eq!(kj["request_body"], r#"{"fnr":"13116900216"}"#);
    assert!(
        kj["response_body"]
            .as_str()
            .unwrap()
            .contains("\"feilkode\":\"KJF-000123\""),
        "{kj}"
    );
    assert!(kj["latency_ms"].as_f64().unwrap() >= 0.0);
    let token_call = &all[1];
    assert_eq!(token_call["service"], "helseid");
    assert_eq!(token_call["path"], "/helseid/connect/token");
    assert_eq!(token_call["status"], 200);
    let request = token_call["request_body"].as_str().unwrap();
    assert!(
        request.contains("client_assertion=%5Bredacted%5D"),
        "{request}"
    );
    assert!(
        request.contains("grant_type=client_credentials"),
        "{request}"
    );
    assert!(!request.contains("eyJ"), "{request}");
    let response: Value =
        serde_json::from_str(token_call["response_body"].as_str().unwrap()).unwrap();
    assert_eq!(response["access_token"], "[redacted]");
    assert_eq!(response["token_type"], "Bearer");
    assert!(all[0]["id"].as_u64().unwrap() > all[1]["id"].as_u64().unwrap());

    // Filters.
    assert_eq!(journal(&app, "?service=helseid").await.len(), 1);
    assert_eq!(journal(&app, "?status=4xx").await.len(), 1);
    assert_eq!(journal(&app, "?status=200").await.len(), 1);
    assert_eq!(
        journal(&app, "?limit=1").await[0]["service"],
        "kjernejournal"
    );
    for (query, message) in [
        (
            "?service=x",
            "service must be helseid, sfm, kjernejournal, pts or none, got 'x'",
        ),
        (
            "?status=4x",
            "status must be a code such as 401 or a class such as 4xx, got '4x'",
        ),
        ("?limit=many", "limit must be a number, got 'many'"),
        (
            "?colour=red",
            "Unknown parameter 'colour': this endpoint takes service, status and limit",
        ),
    ] {
        let reply = app.get(&format!("/_admin/requests{query}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            reply.json,
            json!({"error": "invalid_request", "message": message})
        );
    }
    // Cleared.
    let reply = app.delete("/_admin/requests").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert!(journal(&app, "").await.is_empty());
}

#[actix_web::test]
async fn a_journal_of_size_0_keeps_nothing() {
    let app = spawn_app_with(|s| s.journal_size = 0).await;
    app.get("/sfm/nothing").await;
    assert!(journal(&app, "").await.is_empty());
}

/// Tickets and PAR handles let their holder act for a user: the journal shows none of them
/// (issue 12: SFM patient tickets, kjernejournal tickets and request_uri were shown).
#[actix_web::test]
async fn tickets_and_request_uris_are_redacted() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let body = r#"{"patientPid": "12050050295"}"#;
    let json_ticket = app
        .patient_ticket(Some(&token), body, Some("application/json"))
        .await;
    let ticket = json_ticket.json["patientTicket"]
        .as_str()
        .unwrap()
        .to_owned();
    let text_ticket = app.patient_ticket(Some(&token), body, None).await;
    assert_eq!(text_ticket.status, StatusCode::OK);
    let search = app
        .fhir(
            "GET",
            &format!("/MedicationStatement?patientTicket={ticket}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(search.status, StatusCode::OK, "{}", search.text);

    let kj = app
        .system_token(KJERNEJOURNAL, "nhn:kjernejournal/api")
        .await;
    let indicator = Reply::read(
        app.http
            .post(app.url("/kjernejournal/v1/helseindikator"))
            .header(
                "Authorization",
                format!("Bearer {}", kj.json["access_token"].as_str().unwrap()),
            )
            .header("X-EPJ-System", "tests")
            .json(&json!({"fnr": "13116900216"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let kj_ticket = indicator.json["ticket"].as_str().unwrap().to_owned();

    let pkce = Pkce::new();
    let par = app
        .par(
            SFM_READY,
            &TestApp::login_form(&pkce, SFM_LOGIN_SCOPES, &[]),
            &[],
        )
        .await;
    let request_uri = par.json["request_uri"].as_str().unwrap().to_owned();
    app.authorize(
        &[("client_id", SFM_READY), ("request_uri", &request_uri)],
        None,
    )
    .await;

    let all = journal(&app, "").await;
    let text = serde_json::to_string(&all).unwrap();
    for secret in [&ticket, &kj_ticket, &request_uri] {
        assert!(!text.contains(secret.as_str()), "{secret} in {text}");
        let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        assert!(!text.contains(&encoded), "{encoded} in {text}");
    }
    let by_path = |prefix: &str| {
        all.iter()
            .filter(|e| e["path"].as_str().unwrap().starts_with(prefix))
            .cloned()
            .collect::<Vec<Value>>()
    };
    let tickets = by_path("/sfm/api/PatientTicket");
    assert_eq!(tickets.len(), 2);
    assert_eq!(tickets[0]["response_body"], "[redacted]");
    assert_eq!(
        tickets[1]["response_body"],
        r#"{"patientTicket":"[redacted]"}"#
    );
    assert_eq!(
        by_path("/sfm/fhir/MedicationStatement")[0]["path"],
        "/sfm/fhir/MedicationStatement?patientTicket=%5Bredacted%5D"
    );
    assert!(
        by_path("/helseid/connect/authorize")[0]["path"]
            .as_str()
            .unwrap()
            .contains("request_uri=%5Bredacted%5D")
    );
}

/// The two things an EHR developer looks for first: what the token said (decoded, never the
/// token itself) and, for a refusal, why.
#[actix_web::test]
async fn the_journal_decodes_the_token_and_names_the_reason_of_a_refusal() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    // SFM's token at kjernejournal: refused for its audience.
    let reply = app.ping_kjernejournal(&token).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);
    let entries = journal(&app, "?limit=1").await;
    let entry = &entries[0];
    assert_eq!(
        entry["reason"],
        "The HelseID access token was refused: The access token's audience [\"e-helse:sfm.api\"] \
         does not include nhn:kjernejournal"
    );
    let (header, claims) = decode_jwt(&token);
    assert_eq!(
        entry["token"],
        json!({
            "scheme": "Bearer",
            "client_id": SFM_READY,
            "orgnr_parent": claims["helseid://claims/client/claims/orgnr_parent"],
            "pid": DIDRIK,
            "hpr_number": "431001110",
            "aud": "e-helse:sfm.api",
            "scope": claims["scope"],
            "exp": claims["exp"],
            "iat": claims["iat"],
            "jti": claims["jti"],
            "bound_to": null,
            "kid": header["kid"],
        })
    );
    assert!(
        !entry.to_string().contains(&token),
        "the token itself is never kept"
    );
    // A successful call has its token, and no reason.
    let reply = app.fhir("GET", "/Patient", Some(&token), None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let entry = &journal(&app, "?limit=1").await[0];
    assert_eq!(entry["token"]["pid"], DIDRIK);
    assert!(entry.get("reason").is_none(), "{entry}");
}
