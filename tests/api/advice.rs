//! The integration advisor (`/_admin/advice`): for every rule, a client that breaks it (the
//! finding: rule, severity, client, evidence, count) and one that does not; the README's flows
//! leave no findings.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::kjernejournal::EPJ;
use crate::kjernejournal_innlogging::KARI;
use crate::sfm_medication::LINE;

const KJ_SCOPE: &str = "nhn:kjernejournal/api";

/// `GET /_admin/advice{query}`: the findings.
pub async fn findings(app: &TestApp, query: &str) -> Vec<Value> {
    let reply = app.get(&format!("/_admin/advice{query}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.json["findings"].as_array().unwrap().clone()
}

/// Asserts that the advisor found nothing.
pub async fn assert_no_findings(app: &TestApp) {
    let found = findings(app, "").await;
    assert!(
        found.is_empty(),
        "{}",
        serde_json::to_string_pretty(&found).unwrap()
    );
}

/// The one finding of `rule`, checked: severity, client, count and the evidence's paths
/// (newest first).
#[track_caller]
fn assert_finding(
    found: &[Value],
    rule: &str,
    severity: &str,
    client: Option<&str>,
    count: u64,
    paths: &[&str],
) -> Value {
    let of_rule: Vec<&Value> = found.iter().filter(|f| f["rule"] == rule).collect();
    assert_eq!(of_rule.len(), 1, "{found:#?}");
    let finding = of_rule[0];
    assert_eq!(finding["severity"], severity, "{finding:#}");
    assert_eq!(finding["client_id"], json!(client), "{finding:#}");
    assert_eq!(finding["count"], count, "{finding:#}");
    let evidence: Vec<&str> = finding["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(evidence, paths, "{finding:#}");
    assert!(
        finding["source"]["url"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    assert!(!finding["fix"].as_str().unwrap().is_empty());
    finding.clone()
}

const TOKEN: &str = "/helseid/connect/token";

#[actix_web::test]
async fn a_new_system_token_per_call_is_found_and_one_near_expiry_is_not() {
    let app = spawn_app().await;
    let first = app.system_token(KJERNEJOURNAL, KJ_SCOPE).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    advance(&app, 400);
    // 200 of 600 seconds left: near enough to expiry.
    let second = app.system_token(KJERNEJOURNAL, KJ_SCOPE).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_no_findings(&app).await;
    advance(&app, 10);
    let third = app.system_token(KJERNEJOURNAL, KJ_SCOPE).await;
    assert_eq!(third.status, StatusCode::OK);
    let found = findings(&app, "").await;
    let finding = assert_finding(
        &found,
        "helseid.token-not-reused",
        "warning",
        Some(KJERNEJOURNAL),
        1,
        &[TOKEN],
    );
    assert_eq!(
        finding["evidence"][0]["detail"],
        "a new token (client_credentials) while the last one for the same use still had 590 of \
         its 600 seconds"
    );
    assert_eq!(finding["first_seen"], "2026-03-02T10:06:50.000Z");
    // The filters.
    assert_eq!(
        findings(&app, &format!("?client={KJERNEJOURNAL}"))
            .await
            .len(),
        1
    );
    assert!(findings(&app, "?client=other").await.is_empty());
    assert_eq!(findings(&app, "?severity=warning").await.len(), 1);
    assert!(findings(&app, "?organisation=1").await.is_empty());
    let bad = app.get("/_admin/advice?severity=error").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json["error"], "invalid_request");
    assert_eq!(
        bad.json["message"],
        "severity must be warning or info, got 'error'"
    );
    // DELETE forgets them.
    assert_eq!(
        app.delete("/_admin/advice").await.status,
        StatusCode::NO_CONTENT
    );
    assert_no_findings(&app).await;
}

#[actix_web::test]
async fn findings_go_with_a_reset_unless_kept_and_travel_in_the_state_document() {
    let app = spawn_app().await;
    app.system_token(KJERNEJOURNAL, KJ_SCOPE).await;
    app.system_token(KJERNEJOURNAL, KJ_SCOPE).await;
    let reply = app.post_json("/_admin/reset?keep=advice", &json!({})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(findings(&app, "").await.len(), 1);
    let document = app.get("/_admin/state").await.json;
    assert_eq!(
        document["advice"]["findings"][0]["rule"],
        "helseid.token-not-reused"
    );
    let reply = app.post_json("/_admin/reset", &json!({})).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_no_findings(&app).await;
    let bad = app.post_json("/_admin/reset?keep=faults", &json!({})).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json["message"], "keep must be advice, got 'faults'");
    // Imported back.
    let reply = app
        .send_raw(
            "PUT",
            "/_admin/state",
            "application/json",
            &document.to_string(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        findings(&app, "").await,
        document["advice"]["findings"].as_array().unwrap().clone()
    );
    // A document without advice (written before the advisor) still imports: no findings.
    let mut old = document.clone();
    old.as_object_mut().unwrap().remove("advice");
    let reply = app
        .send_raw("PUT", "/_admin/state", "application/json", &old.to_string())
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_no_findings(&app).await;
}

#[actix_web::test]
async fn a_kjernejournal_ticket_more_than_once_an_hour_is_found() {
    let app = spawn_app().await;
    let token = app.kj_system_token().await;
    let body = json!({"fnr": "13116900216"});
    let reply = app.helseindikator(Some(&token), Some(EPJ), &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    // An hour later, a new ticket is right (with a new token: the last one expired).
    advance(&app, 3601);
    let token = app.kj_system_token().await;
    app.helseindikator(Some(&token), Some(EPJ), &body).await;
    assert_no_findings(&app).await;
    advance(&app, 120);
    app.helseindikator(Some(&token), Some(EPJ), &body).await;
    let found = findings(&app, "").await;
    let finding = assert_finding(
        &found,
        "kjernejournal.ticket-more-than-hourly",
        "warning",
        Some(KJERNEJOURNAL),
        1,
        &["/kjernejournal/v1/helseindikator"],
    );
    assert_eq!(
        finding["evidence"][0]["detail"],
        "a new ticket for patient 13116900216 2 minutes after the last one (valid an hour)"
    );
}

#[actix_web::test]
async fn x_epj_system_missing_or_without_a_version_is_found() {
    let app = spawn_app().await;
    let token = app.kj_system_token().await;
    let body = json!({"fnr": "13116900216"});
    let reply = app.helseindikator(Some(&token), None, &body).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    let reply = app.ping_kjernejournal(&token).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let found = findings(&app, "").await;
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_finding(
        &found,
        "kjernejournal.epj-system-missing",
        "warning",
        Some(KJERNEJOURNAL),
        1,
        &["/kjernejournal/v1/helseindikator"],
    );
    app.helseindikator(
        Some(&token),
        Some("ACME EHR"),
        &json!({"fnr": "12050050295"}),
    )
    .await;
    let found = findings(&app, "").await;
    let finding = assert_finding(
        &found,
        "kjernejournal.epj-system-unversioned",
        "warning",
        Some(KJERNEJOURNAL),
        1,
        &["/kjernejournal/v1/helseindikator"],
    );
    assert_eq!(
        finding["evidence"][0]["detail"],
        "X-EPJ-System: ACME EHR (no version number)"
    );
}

#[actix_web::test]
async fn a_new_sfm_patient_ticket_per_call_is_found() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let body = json!({"patientPid": "10092939427"}).to_string();
    async fn ticket(app: &TestApp, token: &str, body: &str) {
        let reply = app
            .patient_ticket(Some(token), body, Some("application/json"))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    }
    // Asking again without using it in between (the spec's walkthrough) is no finding.
    ticket(&app, &token, &body).await;
    ticket(&app, &token, &body).await;
    let reply = app.fhir("GET", "/Patient", Some(&token), None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_no_findings(&app).await;
    ticket(&app, &token, &body).await;
    let found = findings(&app, "").await;
    let finding = assert_finding(
        &found,
        "sfm.ticket-per-call",
        "warning",
        Some(SFM_READY),
        1,
        &["/sfm/api/PatientTicket"],
    );
    assert_eq!(
        finding["evidence"][0]["detail"],
        "a new ticket for patient 10092939427 0 seconds after the last one, with 1 SFM call(s) \
         in between"
    );
}

#[actix_web::test]
async fn a_long_client_assertion_is_found_and_a_60_second_one_is_not() {
    let app = spawn_app().await;
    // The usual assertion: iat now, exp 60 seconds later.
    let reply = app.system_token(KJERNEJOURNAL, KJ_SCOPE).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_no_findings(&app).await;
    advance(&app, 400);
    let now = app.now().timestamp();
    let assertion = Assertion::new(&app, KJERNEJOURNAL)
        .claim("iat", json!(now - 30))
        .claim("nbf", json!(now - 30))
        .sign();
    let reply = app
        .client_credentials(KJERNEJOURNAL, KJ_SCOPE, &assertion, &[])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let found = findings(&app, "").await;
    let finding = assert_finding(
        &found,
        "helseid.assertion-lifetime",
        "warning",
        Some(KJERNEJOURNAL),
        1,
        &[TOKEN],
    );
    assert_eq!(
        finding["evidence"][0]["detail"],
        "the client assertion's exp is 90 seconds after its iat"
    );
}

#[actix_web::test]
async fn a_rotated_refresh_token_used_again_is_found() {
    let app = spawn_app().await;
    let (code, pkce) = app
        .login_code(SFM_READY, SFM_LOGIN_SCOPES, DIDRIK, &[])
        .await;
    let login = app
        .exchange_code(SFM_READY, &code, &pkce.verifier, &[], &[])
        .await;
    let refresh = login.json["refresh_token"].as_str().unwrap().to_owned();
    advance(&app, 3000);
    let first = app.refresh(SFM_READY, &refresh, &[], &[]).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_no_findings(&app).await;
    let again = app.refresh(SFM_READY, &refresh, &[], &[]).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    let found = findings(&app, "").await;
    assert_finding(
        &found,
        "helseid.refresh-token-reused",
        "warning",
        Some(SFM_READY),
        1,
        &[TOKEN],
    );
}

#[actix_web::test]
async fn retry_after_ignored_is_found_and_a_wait_is_not() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let rule = json!({"service": "sfm", "path": "/sfm/fhir/**", "status": 503, "times": 2,
                      "headers": {"Retry-After": "30"}});
    let reply = app.post_json("/_admin/faults", &rule).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let reply = app.fhir("GET", "/Patient", Some(&token), None).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    advance(&app, 31);
    let reply = app.fhir("GET", "/Patient", Some(&token), None).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_no_findings(&app).await;
    advance(&app, 5);
    let reply = app.fhir("GET", "/Patient", Some(&token), None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let found = findings(&app, "").await;
    let finding = assert_finding(
        &found,
        "http.retry-after-ignored",
        "warning",
        Some(SFM_READY),
        1,
        &["/sfm/fhir/Patient"],
    );
    assert!(
        finding["evidence"][0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("sent 25 seconds before the Retry-After of request "),
        "{finding:#}"
    );
}

#[actix_web::test]
async fn discovery_fetched_again_and_again_is_found() {
    let app = spawn_app().await;
    let discovery = "/helseid/.well-known/openid-configuration";
    assert_eq!(app.get(discovery).await.status, StatusCode::OK);
    assert_eq!(app.get(discovery).await.status, StatusCode::OK);
    assert_no_findings(&app).await;
    assert_eq!(app.get(discovery).await.status, StatusCode::OK);
    let found = findings(&app, "").await;
    assert_finding(
        &found,
        "helseid.discovery-not-cached",
        "warning",
        None,
        1,
        &[discovery],
    );
}

#[actix_web::test]
async fn a_send_on_a_stale_lookup_and_its_retry_are_found() {
    use crate::sfm_medication::*;
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let patient = patient_param(LINE, "Danser", "Line");
    let reply = get_medication(&app, &token, patient, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let mut body = send_body(&medication_bundle(&reply));
    add_prescription(&mut body, "Losartan Krka tab 50 mg", &[]);
    set_create_pll(&mut body, false);
    advance(&app, 4 * 3600 + 60);
    let token = didrik(&app).await;
    let send = "/sfm/fhir/Patient/$sendMedication";
    let reply = send_medication(&app, &token, &body).await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text
    );
    let found = findings(&app, "").await;
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_finding(
        &found,
        "sfm.send-without-fresh-lookup",
        "warning",
        Some(SFM_READY),
        1,
        &[send],
    );
    // The same send again, without a new lookup.
    let reply = send_medication(&app, &token, &body).await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text
    );
    let found = findings(&app, "").await;
    assert_finding(
        &found,
        "sfm.send-retried-after-422",
        "warning",
        Some(SFM_READY),
        1,
        &[send],
    );
}

#[actix_web::test]
async fn a_token_with_several_audiences_sent_to_kjernejournal_is_found() {
    let app = spawn_app().await;
    let reply = app
        .post_json(
            "/_admin/tokens",
            &json!({"client_id": KJERNEJOURNAL, "audience": "nhn:kjernejournal",
                    "claims": {"aud": ["nhn:kjernejournal", "e-helse:sfm.api"]}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let token = reply.json["access_token"].as_str().unwrap().to_owned();
    app.ping_kjernejournal(&token).await;
    let found = findings(&app, "").await;
    let finding = assert_finding(
        &found,
        "kjernejournal.multi-audience-token",
        "warning",
        Some(KJERNEJOURNAL),
        1,
        &["/kjernejournal/v1/ping"],
    );
    assert_eq!(
        finding["evidence"][0]["detail"],
        "the token's audiences: \"nhn:kjernejournal\", \"e-helse:sfm.api\""
    );
}

#[actix_web::test]
async fn a_pll_without_all_its_entries_is_found_and_a_whole_one_is_not() {
    use crate::sfm_medication::*;
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let line = || patient_param(LINE, "Danser", "Line");
    let reply = get_medication(&app, &token, line(), &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let mut body = send_body(&medication_bundle(&reply));
    set_create_pll(&mut body, true);
    crate::sfm_medication_rules::leave_out(&mut body, "Paracet tab 500 mg");
    let send = "/sfm/fhir/Patient/$sendMedication";
    let reply = send_medication(&app, &token, &body).await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text
    );
    let found = findings(&app, "").await;
    assert_eq!(found.len(), 1, "{found:#?}");
    let finding = assert_finding(
        &found,
        "sfm.pll-incomplete",
        "warning",
        Some(SFM_READY),
        1,
        &[send],
    );
    assert!(
        finding["evidence"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("Paracet tab 500 mg"),
        "{finding:#}"
    );
    // A new lookup, and the whole PLL: sent, and nothing more to advise.
    let reply = get_medication(&app, &token, line(), &[]).await;
    let mut body = send_body(&medication_bundle(&reply));
    set_create_pll(&mut body, true);
    let reply = send_medication(&app, &token, &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(findings(&app, "").await, found);
}

#[actix_web::test]
async fn the_portal_opened_without_helseindikator_is_found_and_after_it_is_not() {
    use crate::kjernejournal_innlogging::{create, didrik};
    let app = spawn_app().await;
    let user = didrik(&app).await;
    // Kari: helseindikator when her record opens, then the portal from its icon.
    let token = app.kj_system_token().await;
    let reply = app
        .helseindikator(Some(&token), Some(EPJ), &json!({"fnr": KARI}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    create(&app, &user, KARI, "AKUTT").await;
    assert_no_findings(&app).await;
    // Line: the portal straight away.
    create(&app, &user, LINE, "AKUTT").await;
    let found = findings(&app, "").await;
    let finding = assert_finding(
        &found,
        "kjernejournal.helseindikator-skipped",
        "info",
        Some(KJERNEJOURNAL),
        1,
        &["/kjernejournal/innlogging/api/session/create"],
    );
    assert_eq!(
        finding["evidence"][0]["detail"],
        format!(
            "the portal opened for patient {LINE} with no helseindikator call for the patient \
             before"
        )
    );
}

/// A HelseID key rotation (publish, then switch) on the control plane.
async fn rotate_keys(app: &TestApp) {
    for phase in ["publish", "switch"] {
        let step = json!({"kind": "helseid_key_rotation", "phase": phase});
        let reply = app.post_json("/_admin/scenarios", &step).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    }
}

#[actix_web::test]
async fn a_key_rotation_without_a_new_jwks_fetch_is_found_and_with_one_is_not() {
    const JWKS: &str = "/helseid/.well-known/openid-configuration/jwks";
    // A client that fetches the JWKS again when a token names a kid it lacks.
    let app = spawn_app().await;
    assert_eq!(app.get(JWKS).await.status, StatusCode::OK);
    app.kj_system_token().await;
    rotate_keys(&app).await;
    advance(&app, 400);
    app.kj_system_token().await;
    assert_eq!(app.get(JWKS).await.status, StatusCode::OK);
    advance(&app, 600);
    assert_no_findings(&app).await;

    // One that keeps its old JWKS: found ten minutes after the first token with the new key.
    let app = spawn_app().await;
    assert_eq!(app.get(JWKS).await.status, StatusCode::OK);
    app.kj_system_token().await;
    rotate_keys(&app).await;
    advance(&app, 400);
    app.kj_system_token().await;
    advance(&app, 599);
    assert_no_findings(&app).await;
    advance(&app, 1);
    let found = findings(&app, "").await;
    let finding = assert_finding(
        &found,
        "helseid.jwks-not-refreshed",
        "warning",
        Some(KJERNEJOURNAL),
        1,
        &[TOKEN],
    );
    assert!(
        finding["evidence"][0]["detail"]
            .as_str()
            .unwrap()
            .ends_with("and the JWKS was not fetched in the 10 minutes after"),
        "{finding:#}"
    );
}

#[actix_web::test]
async fn a_dpop_nonce_ignored_until_refused_is_found_and_a_first_refusal_is_not() {
    let app = spawn_app().await;
    let key = TestKey::ec("P-256");
    // The first proof has no nonce to use: its use_dpop_nonce refusal is the protocol.
    app.dpop_token(PTS, "nhn:pts/api", &key).await;
    assert_no_findings(&app).await;
    // Five minutes later the nonce of the last answer would have done; the client starts over.
    advance(&app, 240);
    app.dpop_token(PTS, "nhn:pts/api", &key).await;
    let found = findings(&app, "").await;
    let finding = assert_finding(
        &found,
        "helseid.dpop-nonce-ignored",
        "info",
        Some(PTS),
        1,
        &[TOKEN],
    );
    assert_eq!(
        finding["evidence"][0]["detail"],
        "a proof without a nonce, refused with use_dpop_nonce 240 seconds after a DPoP token \
         answer whose nonce was still valid"
    );
}

#[actix_web::test]
async fn a_dpop_nonce_refused_after_a_rotation_is_not_found() {
    let app = spawn_app().await;
    let key = TestKey::ec("P-256");
    let scope = "nhn:pts/api";
    let nonce = app.dpop_nonce(PTS, scope, &key).await;
    let with = |nonce: &str| Proof::token(&app, &key).nonce(nonce).sign();
    let assertion = || Assertion::new(&app, PTS).sign();
    let reply = app
        .client_credentials(PTS, scope, &assertion(), &[("DPoP", &with(&nonce))])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let step = json!({"kind": "dpop_nonce_rotation"});
    let rotated = app.post_json("/_admin/scenarios", &step).await;
    assert_eq!(rotated.status, StatusCode::CREATED, "{}", rotated.text);
    // Half the token's life later: the client used the nonce it had, HelseID had rotated it.
    advance(&app, 300);
    let refused = app
        .client_credentials(PTS, scope, &assertion(), &[("DPoP", &with(&nonce))])
        .await;
    assert_eq!(refused.json["error"], "use_dpop_nonce", "{}", refused.text);
    let fresh = refused.header("dpop-nonce").unwrap().to_owned();
    let reply = app
        .client_credentials(PTS, scope, &assertion(), &[("DPoP", &with(&fresh))])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_no_findings(&app).await;
}
