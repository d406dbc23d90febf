//! Multi-tenant isolation (issue 12): a multi-tenant client acts only for organisations that
//! delegated access to its supplier (HelseID), SFM accepts it only from a registered supplier
//! and only for the journal of the organisation it acts for. Sources: HelseID's multi-tenancy
//! pages ("HelseID will verify that there exists a delegation from the submitted organization
//! number to the organization number of the Supplier") and SFM's "HelseID for SFM" guide
//! ("orgnr_supplier ... MUST correspond to a preregistered supplier in SFM"; "the Orgnr from the
//! token MUST match an organization that is written to SFM (in the correct Journal)").

use jsonwebtoken::Algorithm;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const HID_1001: &str = "HID-1001: The supplied parent organization number 999999999 is not in the \
                        whitelist for the client. The whitelist must be updated before the \
                        organization number is accepted (the organisation has not delegated access \
                        to the supplier 994598759: add it to the client's delegated_by)";

/// HelseID refuses a multi-tenant client acting for an organisation that has not delegated
/// access to its supplier, at the token endpoint and at PAR alike.
#[actix_web::test]
async fn helseid_issues_tokens_only_for_organisations_that_delegated_access() {
    let app = spawn_app().await;
    let assertion = Assertion::new(&app, MULTI_TENANT)
        .multi_tenant_org("NO:ORGNR:999999999")
        .sign();
    let reply = app
        .client_credentials(MULTI_TENANT, "nhn:kjernejournal/api", &assertion, &[])
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    reply.assert_oauth_error("invalid_request", HID_1001);
    // The PTS organisation's restrictions are not reachable through another client either.
    let assertion = Assertion::new(&app, MULTI_TENANT)
        .multi_tenant_org("NO:ORGNR:922222223")
        .sign();
    let reply = app
        .client_credentials(MULTI_TENANT, "nhn:pts/api", &assertion, &[])
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert!(
        reply.json["error_description"]
            .as_str()
            .unwrap()
            .starts_with("HID-1001: The supplied parent organization number 922222223 "),
        "{}",
        reply.text
    );
    // A delegating organisation (with any child) is fine.
    let assertion = Assertion::new(&app, MULTI_TENANT)
        .multi_tenant_org("NO:ORGNR:917897468:928765431")
        .sign();
    let reply = app
        .client_credentials(MULTI_TENANT, "nhn:kjernejournal/api", &assertion, &[])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    // At PAR, with the organisation in authorization_details.
    let pkce = Pkce::new();
    let details = json!([org_detail("urn:oid:1.0.6523", "NO:ORGNR:999999999")]).to_string();
    let form = TestApp::login_form(
        &pkce,
        SFM_LOGIN_SCOPES,
        &[("authorization_details", details.as_str())],
    );
    let reply = app.par(MULTI_TENANT, &form, &[]).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    reply.assert_oauth_error("invalid_request", HID_1001);
}

/// The journal-id alone does not open another customer's journal: SFM answers 403, naming the
/// organisation the journal belongs to, in FHIR and in the session service.
#[actix_web::test]
async fn sfm_refuses_a_journal_of_another_organisation() {
    let app = spawn_app().await;
    // Kolåsbakkane (917897468, delegating) naming Sjøkanten's journal.
    let token = app
        .sfm_token_in_journal(SIGRID, "917897468", SJOKANTEN)
        .await;
    let message = format!(
        "The SFM instance {SJOKANTEN} (journal-id) belongs to the organisation {SJOKANTEN_ORGNR}, \
         but the token is for 917897468 (orgnr_child, else orgnr_parent): a multi-tenant client \
         reaches only the journals of the organisation it acts for"
    );
    let reply = app.fhir("GET", "/Patient", Some(&token), None).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
    assert_eq!(
        reply.json,
        json!({"resourceType": "OperationOutcome", "issue": [
            {"severity": "error", "code": "forbidden", "diagnostics": message}]})
    );
    let reply = app
        .patient_ticket(Some(&token), r#"{"patientPid": "12050050295"}"#, None)
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
    assert_eq!(reply.json["detail"], message.as_str(), "{}", reply.text);
    // Sjøkanten's own token reads its journal.
    let own = sigrid_at_sjokanten(&app).await;
    let reply = app.fhir("GET", "/Patient", Some(&own), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

/// SFM accepts multi-tenant clients only from suppliers registered with it.
#[actix_web::test]
async fn sfm_refuses_a_multi_tenant_client_of_an_unknown_supplier() {
    let app = spawn_app().await;
    let key = TestKey::rsa(Algorithm::RS256);
    let client = json!({
        "client_id": "other-supplier-epj",
        "jwks": {"keys": [key.public_jwk_with_kid("k1")]},
        "tenancy": "multi-tenant",
        "orgnr_supplier": "983044778",
        "scopes": ["e-helse:sfm.api/sfm.api", "openid", "profile", "offline_access",
                   "helseid://scopes/identity/pid", "helseid://scopes/identity/security_level",
                   "helseid://scopes/identity/assurance_level", "helseid://scopes/hpr/hpr_number"],
        "redirect_uris": [REDIRECT_URI],
    });
    let reply = app.register_client(&client).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let minted = app
        .post_json(
            "/_admin/tokens",
            &json!({"client_id": "other-supplier-epj", "audience": "e-helse:sfm.api",
                    "user": SIGRID, "organization": {"parent": SJOKANTEN_ORGNR},
                    "journal_id": SJOKANTEN}),
        )
        .await;
    assert_eq!(minted.status, StatusCode::OK, "{}", minted.text);
    let token = minted.json["access_token"].as_str().unwrap();
    let reply = app.fhir("GET", "/Patient", Some(token), None).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
    assert_eq!(
        reply.json["issue"][0]["diagnostics"],
        Value::from(
            "The multi-tenant client's supplier 983044778 (orgnr_supplier) is not registered with \
             SFM: SFM accepts multi-tenant clients only from registered suppliers (NHN registers \
             them; helsesim's are in fixtures/sfm/suppliers.json)"
        )
    );
}
