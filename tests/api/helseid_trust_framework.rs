//! HelseID's trust-framework attest (`nhn:tillitsrammeverk:parameters`): sent at PAR it is in
//! every access token of the login, sent in the client assertion only in that token, never both
//! (utviklerportal.nhn.no "Profil for tillitsrammeverk"); validated field by field; enriched in
//! the token as the information model (NorskHelsenett/Tillitsrammeverk) describes.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// The kjernejournal client's login scopes for Kjernejournal Innlogging.
const INNLOGGING_SCOPES: &str = "openid profile offline_access helseid://scopes/identity/pid \
                                 helseid://scopes/identity/security_level \
                                 helseid://scopes/hpr/hpr_number nhn:kjernejournal/innlogging \
                                 nhn:kjernejournal/tillitsrammeverk";

/// The attest NHN's helseid-workshops sample sends (reduced objects, as a client sends them).
fn attest() -> Value {
    json!({
        "type": "nhn:tillitsrammeverk:parameters",
        "practitioner": {
            "authorization": {"code": "LE", "system": "urn:oid:2.16.578.1.12.4.1.1.9060"},
            "legal_entity": {"id": "987654325", "system": "urn:oid:2.16.578.1.12.4.1.4.101"},
            "point_of_care": {"id": "987654325", "system": "urn:oid:2.16.578.1.12.4.1.4.101"}
        },
        "care_relationship": {
            "purpose_of_use": {"code": "TREAT", "system": "urn:oid:2.16.840.1.113883.1.11.20448"},
            "healthcare_service": {"code": "S03", "system": "urn:oid:2.16.578.1.12.4.1.1.8655"},
            "decision_ref": {"id": "30F4AB40-DBC2-41A7-8AC4-181AD3FDC25B", "user_selected": true}
        },
        "patients": [{}]
    })
}

/// The attest as HelseID puts it in Didrik's access token.
fn enriched() -> Value {
    json!({
        "practitioner": {
            "authorization": {
                "code": "LE", "system": "urn:oid:2.16.578.1.12.4.1.1.9060", "text": "Lege",
                "assigner": "https://www.helsedirektoratet.no/"
            },
            "legal_entity": {
                "id": "987654325", "system": "urn:oid:2.16.578.1.12.4.1.4.101",
                "authority": "https://www.brreg.no"
            },
            "point_of_care": {
                "id": "987654325", "system": "urn:oid:2.16.578.1.12.4.1.4.101",
                "authority": "https://www.brreg.no"
            },
            "identifier": {
                "id": DIDRIK, "name": "Didrik D Didrikson",
                "system": "urn:oid:2.16.578.1.12.4.1.4.1",
                "authority": "https://www.skatteetaten.no"
            },
            "hpr_nr": {
                "id": "431001110", "system": "urn:oid:2.16.578.1.12.4.1.4.4",
                "authority": "https://www.helsedirektoratet.no/"
            }
        },
        "care_relationship": {
            "purpose_of_use": {
                "code": "TREAT", "system": "urn:oid:2.16.840.1.113883.1.11.20448",
                "text": "Behandling", "assigner": "http://www.hl7.org/"
            },
            "healthcare_service": {
                "code": "S03", "system": "urn:oid:2.16.578.1.12.4.1.1.8655",
                "assigner": "https://www.helsedirektoratet.no/"
            },
            "decision_ref": {"id": "30F4AB40-DBC2-41A7-8AC4-181AD3FDC25B", "user_selected": true}
        },
        "patients": [{}]
    })
}

fn access_claims(reply: &Reply) -> Value {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    decode_jwt(reply.json["access_token"].as_str().unwrap()).1
}

/// A login of Didrik with the kjernejournal client; `details` go to PAR.
async fn login(app: &TestApp, scopes: &str, details: Option<&Value>) -> (String, Pkce) {
    let details = details.map(Value::to_string);
    let extra: Vec<(&str, &str)> = details
        .iter()
        .map(|d| ("authorization_details", d.as_str()))
        .collect();
    app.login_code(KJERNEJOURNAL, scopes, DIDRIK, &extra).await
}

/// Exchanges `code` with a client assertion carrying `details` under `claim`.
async fn exchange_with_details(
    app: &TestApp,
    code: &str,
    pkce: &Pkce,
    claim: &str,
    details: Value,
) -> Reply {
    let assertion = Assertion::new(app, KJERNEJOURNAL)
        .claim(claim, details)
        .sign();
    app.token_request(
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &pkce.verifier),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &assertion),
        ],
        &[],
    )
    .await
}

#[actix_web::test]
async fn an_attest_sent_at_par_is_in_every_access_token_of_the_login() {
    let app = spawn_app().await;
    let (code, pkce) = login(&app, INNLOGGING_SCOPES, Some(&json!([attest()]))).await;
    let reply = app
        .exchange_code(KJERNEJOURNAL, &code, &pkce.verifier, &[], &[])
        .await;
    let claims = access_claims(&reply);
    assert_eq!(claims["aud"], "nhn:kjernejournal");
    assert_eq!(claims["nhn:tillitsrammeverk:parameters"], enriched());

    let refresh_token = reply.json["refresh_token"].as_str().unwrap();
    let refreshed = app.refresh(KJERNEJOURNAL, refresh_token, &[], &[]).await;
    assert_eq!(
        access_claims(&refreshed)["nhn:tillitsrammeverk:parameters"],
        enriched(),
        "the refresh token carries the login's attest"
    );
}

#[actix_web::test]
async fn an_attest_in_the_client_assertion_is_only_in_that_token() {
    let app = spawn_app().await;
    // NHN's HelseID.Library sends assertion_details (an array); NHN's kjernejournal sample sends
    // authorization_details (one object): both are read.
    for (claim, details) in [
        ("assertion_details", json!([attest()])),
        ("authorization_details", attest()),
    ] {
        let (code, pkce) = login(&app, INNLOGGING_SCOPES, None).await;
        let reply = exchange_with_details(&app, &code, &pkce, claim, details).await;
        assert_eq!(
            access_claims(&reply)["nhn:tillitsrammeverk:parameters"],
            enriched(),
            "{claim}"
        );
        let refresh_token = reply.json["refresh_token"].as_str().unwrap();
        let refreshed = app.refresh(KJERNEJOURNAL, refresh_token, &[], &[]).await;
        assert!(
            access_claims(&refreshed)
                .get("nhn:tillitsrammeverk:parameters")
                .is_none(),
            "a refresh without an attest in its assertion has none ({claim})"
        );
    }
}

#[actix_web::test]
async fn an_attest_both_at_par_and_in_the_client_assertion_is_refused() {
    let app = spawn_app().await;
    let (code, pkce) = login(&app, INNLOGGING_SCOPES, Some(&json!([attest()]))).await;
    let reply =
        exchange_with_details(&app, &code, &pkce, "assertion_details", json!([attest()])).await;
    reply.assert_oauth_error(
        "access_denied",
        "HID-DOUBLE-STRUCTURE: the nhn:tillitsrammeverk:parameters attest was sent both in the \
         authorization request and in the client assertion: send it in one of them",
    );
}

#[actix_web::test]
async fn only_a_token_with_the_tillitsrammeverk_scope_carries_the_attest() {
    let app = spawn_app().await;
    let scopes = INNLOGGING_SCOPES.replace(" nhn:kjernejournal/tillitsrammeverk", "");
    let (code, pkce) = login(&app, &scopes, Some(&json!([attest()]))).await;
    let reply = app
        .exchange_code(KJERNEJOURNAL, &code, &pkce.verifier, &[], &[])
        .await;
    let claims = access_claims(&reply);
    assert!(
        claims["scope"]
            .as_array()
            .unwrap()
            .contains(&json!("nhn:kjernejournal/innlogging")),
        "{claims}"
    );
    assert!(claims.get("nhn:tillitsrammeverk:parameters").is_none());
}

/// PARs a login with `detail` as its only authorization detail.
async fn par_with(app: &TestApp, detail: &Value) -> Reply {
    let pkce = Pkce::new();
    let details = json!([detail]).to_string();
    let form = TestApp::login_form(
        &pkce,
        INNLOGGING_SCOPES,
        &[("authorization_details", &details)],
    );
    app.par(KJERNEJOURNAL, &form, &[]).await
}

#[actix_web::test]
async fn each_missing_or_invalid_field_of_the_attest_is_refused_at_par() {
    let app = spawn_app().await;
    let prefix =
        "HID-1007: the nhn:tillitsrammeverk:parameters authorization detail is not valid: ";
    let cases: Vec<(&str, Value, &str)> = vec![
        ("/practitioner", Value::Null, "practitioner is missing"),
        (
            "/practitioner/legal_entity",
            Value::Null,
            "practitioner.legal_entity is missing: {\"id\": <organisation number>, \"system\": \
             \"urn:oid:2.16.578.1.12.4.1.4.101\"}",
        ),
        (
            "/practitioner/point_of_care/id",
            json!("98765432"),
            "practitioner.point_of_care.id '98765432' is not an organisation number (nine digits)",
        ),
        (
            "/practitioner/authorization/code",
            json!("XX"),
            "practitioner.authorization.code 'XX' is not one of AA, AU, BI, ET, FA1, FA2, FO, FT, \
             HE, HF, HP, JO, KE, KI, LE, MT, OA, OI, OP, PM, PS, RA, SP, TH, TL, TP, VP",
        ),
        (
            "/care_relationship/purpose_of_use/code",
            json!("SHOP"),
            "care_relationship.purpose_of_use.code 'SHOP' is not one of TREAT, ETREAT, COC, BTG",
        ),
        (
            "/care_relationship/decision_ref",
            Value::Null,
            "care_relationship.decision_ref is missing: {\"id\": <the EHR's reference to its \
             access decision>, \"user_selected\": true|false}",
        ),
        (
            "/care_relationship/healthcare_service/system",
            json!("urn:oid:1.2.3"),
            "care_relationship.healthcare_service.system must be a Volven code system \
             (urn:oid:2.16.578.1.12.4.1.1.…), got 'urn:oid:1.2.3'",
        ),
        (
            "/patients",
            json!({}),
            "patients must be an array (it may be empty)",
        ),
        (
            "/practitioner",
            json!("Didrik"),
            "practitioner must be an object",
        ),
    ];
    for (pointer, value, expected) in cases {
        let mut detail = attest();
        let (parent, field) = pointer.rsplit_once('/').unwrap();
        let parent = if parent.is_empty() {
            &mut detail
        } else {
            detail.pointer_mut(parent).unwrap()
        };
        let parent = parent.as_object_mut().unwrap();
        if value.is_null() {
            parent.remove(field);
        } else {
            parent.insert(field.to_owned(), value);
        }
        let reply = par_with(&app, &detail).await;
        reply.assert_oauth_error("invalid_request", &format!("{prefix}{expected}"));
    }
}

#[actix_web::test]
async fn an_unknown_authorization_detail_type_is_refused() {
    let app = spawn_app().await;
    let mut detail = attest();
    detail["type"] = json!("nhn:tillitsrammeverk:parameter");
    let reply = par_with(&app, &detail).await;
    reply.assert_oauth_error(
        "invalid_request",
        "HID-1007: unknown authorization detail type 'nhn:tillitsrammeverk:parameter': HelseID \
         knows helseid_authorization, nhn:sfm:journal-id and nhn:tillitsrammeverk:parameters",
    );
}

#[actix_web::test]
async fn care_relation_is_accepted_for_care_relationship() {
    let app = spawn_app().await;
    let mut detail = attest();
    let relation = detail
        .as_object_mut()
        .unwrap()
        .remove("care_relationship")
        .unwrap();
    detail["care_relation"] = relation;
    let (code, pkce) = login(&app, INNLOGGING_SCOPES, Some(&json!([detail]))).await;
    let reply = app
        .exchange_code(KJERNEJOURNAL, &code, &pkce.verifier, &[], &[])
        .await;
    assert_eq!(
        access_claims(&reply)["nhn:tillitsrammeverk:parameters"],
        enriched()
    );
}
