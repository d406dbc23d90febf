//! Scenario failures: Reseptformidleren and kjernejournal failing inside `$getMedication`,
//! messages of `$sendMedication` not sent, kjernejournal and HelseID unavailable, HelseID's
//! signing-key rotation and DPoP nonce rotation.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::sfm_medication::{
    LINE, add_prescription, get_medication, identifier, medication_bundle, output, patient_param,
    send_body, send_medication, set_create_pll, statements,
};

const JWKS: &str = "/helseid/.well-known/openid-configuration/jwks";
const KJ_CONSENT: &str = "HPMOTTATTSAMTYKKE";
/// A patient the national systems hold nothing for (a valid fødselsnummer).
const OTHER: &str = "02887810071";

async fn step(app: &TestApp, body: Value) -> Reply {
    let reply = app.post_json("/_admin/scenarios", &body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply
}

async fn look_up(app: &TestApp, token: &str, fnr: &str) -> Reply {
    let consent = json!({"name": "SamtykkeKjernejournal", "valueCode": KJ_CONSENT});
    let reply = get_medication(app, token, patient_param(fnr, "Danser", "Line"), &[consent]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply
}

/// A lookup code: (code, display, text).
fn code_of(reply: &Reply, name: &str) -> (String, String, String) {
    let concept = &output(&reply.json, name).unwrap()["valueCodeableConcept"];
    let coding = &concept["coding"][0];
    assert_eq!(
        coding["system"],
        "http://ehelse.no/fhir/CodeSystem/sfm-kj-rf-error-code"
    );
    (
        coding["code"].as_str().unwrap().to_owned(),
        coding["display"].as_str().unwrap().to_owned(),
        concept["text"].as_str().unwrap_or_default().to_owned(),
    )
}

/// The text after `TraceID: <hex>. Error: `.
fn error_text(text: &str) -> &str {
    assert!(text.starts_with("TraceID: "), "{text}");
    text.split_once(". Error: ").unwrap().1
}

const RF_GUESS: &str = "Reseptformidleren did not answer the lookup (helsesim: code 9001 is a \
                        guess, no public source lists it)";

#[actix_web::test]
async fn rf_unavailable_fails_both_rf_lookups_once_and_kjernejournal_still_answers() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    step(&app, json!({"kind": "rf_unavailable", "times": 1})).await;

    let reply = look_up(&app, &token, LINE).await;
    for name in ["RFM96Feilkode", "RFM912Feilkode"] {
        let (code, display, text) = code_of(&reply, name);
        assert_eq!(
            (code.as_str(), display.as_str()),
            ("9001", "Reseptformidleren svarer ikke")
        );
        assert_eq!(error_text(&text), RF_GUESS);
    }
    assert!(
        output(&reply.json, "RFHentetTidspunkt").is_none(),
        "{}",
        reply.text
    );
    assert!(
        output(&reply.json, "KJHentetTidspunkt").is_some(),
        "{}",
        reply.text
    );
    assert_eq!(code_of(&reply, "KJFeilkode").0, "0");
    assert_eq!(
        output(&reply.json, "RFHarLaste").unwrap()["valueBoolean"],
        false
    );
    let bundle = medication_bundle(&reply);
    // Nothing from Reseptformidleren: only vaccines and NIB, which are no prescriptions.
    let shown = statements(&bundle);
    assert_eq!(shown.len(), 2, "{}", reply.text);
    assert!(shown.iter().all(|s| identifier(s, "ReseptId").is_none()));

    // The failed lookup is no fresh lookup for $sendMedication.
    let mut body = send_body(&bundle);
    add_prescription(&mut body, "Losartan Krka tab 50 mg", &[]);
    let sent = send_medication(&app, &token, &body).await;
    assert_eq!(
        sent.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        sent.text
    );
    assert!(
        sent.text.contains(
            "got no answer from Reseptformidleren (RFM96Feilkode or RFM912Feilkode not 0): call \
             $getMedication again"
        ),
        "{}",
        sent.text
    );

    // Spent after one call: RF answers again.
    let reply = look_up(&app, &token, LINE).await;
    assert_eq!(code_of(&reply, "RFM96Feilkode").0, "0");
    assert_eq!(code_of(&reply, "RFM912Feilkode").0, "0");
    assert!(output(&reply.json, "RFHentetTidspunkt").is_some());
    assert_eq!(statements(&medication_bundle(&reply)).len(), 9);
}

#[actix_web::test]
async fn a_pll_lookup_failure_for_one_patient_takes_its_code_and_text_and_spares_others() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let failure = json!({"kind": "rf_unavailable", "lookup": "pll", "code": "7",
                         "text": "M9.12 timed out", "patient": LINE});
    let reply = step(&app, failure).await;
    assert_eq!(
        reply.json["applied"][0]["result"]["failures"][0]["point"],
        "rf_pll"
    );

    let other = look_up(&app, &token, OTHER).await;
    assert_eq!(code_of(&other, "RFM912Feilkode").0, "0");
    assert!(output(&other.json, "RFHentetTidspunkt").is_some());

    let reply = look_up(&app, &token, LINE).await;
    let (code, display, text) = code_of(&reply, "RFM912Feilkode");
    assert_eq!(code, "7");
    assert_eq!(display, "Reseptformidleren svarer ikke");
    assert_eq!(error_text(&text), "M9.12 timed out");
    assert_eq!(code_of(&reply, "RFM96Feilkode").0, "0");
    assert!(output(&reply.json, "RFHentetTidspunkt").is_none());
    // Without the PLL only RF's prescriptions show, and no PLL information.
    let bundle = medication_bundle(&reply);
    let shown = statements(&bundle);
    assert!(!shown.is_empty() && shown.len() < 9, "{}", reply.text);
}

#[actix_web::test]
async fn a_kj_lookup_failure_lasts_its_seconds_and_ends_with_delete() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    step(
        &app,
        json!({"kind": "kj_lookup_failure", "for_seconds": 60}),
    )
    .await;
    let reply = look_up(&app, &token, LINE).await;
    let (code, display, text) = code_of(&reply, "KJFeilkode");
    assert_eq!(
        (code.as_str(), display.as_str()),
        ("9002", "Kjernejournal svarer ikke")
    );
    assert_eq!(
        error_text(&text),
        "Kjernejournal did not answer the lookup (helsesim: code 9002 is a guess, no public \
         source lists it)"
    );
    assert!(output(&reply.json, "KJHentetTidspunkt").is_none());
    assert!(output(&reply.json, "RFHentetTidspunkt").is_some());
    assert_eq!(code_of(&reply, "RFM96Feilkode").0, "0");
    assert_eq!(
        output(&reply.json, "KJHarLegemidler").unwrap()["valueBoolean"],
        false
    );
    let listed = app.get("/_admin/scenarios").await;
    let failures = listed.json["active"]["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{}", listed.text);
    assert_eq!(failures[0]["point"], "kj_lookup");
    assert_eq!(failures[0]["hits"], 1);

    advance(&app, 60);
    assert_eq!(
        code_of(&look_up(&app, &token, LINE).await, "KJFeilkode").0,
        "0"
    );
    let listed = app.get("/_admin/scenarios").await;
    assert_eq!(listed.json["active"]["failures"], json!([]));

    step(&app, json!({"kind": "kj_lookup_failure"})).await;
    assert_eq!(
        code_of(&look_up(&app, &token, LINE).await, "KJFeilkode").0,
        "9002"
    );
    assert_eq!(
        app.delete("/_admin/scenarios").await.status,
        StatusCode::NO_CONTENT
    );
    let reply = look_up(&app, &token, LINE).await;
    assert_eq!(code_of(&reply, "KJFeilkode").0, "0");
    assert!(output(&reply.json, "KJHentetTidspunkt").is_some());
}

fn part<'a>(parameter: &'a Value, name: &str) -> &'a Value {
    parameter["part"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap()
}

#[actix_web::test]
async fn messages_not_sent_answer_their_result_code_and_change_nothing() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    step(
        &app,
        json!({"steps": [
            {"kind": "send_failure", "message": "m1", "times": 1},
            {"kind": "send_failure", "message": "pll", "code": "12", "display": "PLL avvist",
             "times": 1}
        ]}),
    )
    .await;
    let bundle = medication_bundle(&look_up(&app, &token, LINE).await);
    let mut body = send_body(&bundle);
    let new_id = add_prescription(&mut body, "Losartan Krka tab 50 mg", &[]);
    set_create_pll(&mut body, true);
    let reply = send_medication(&app, &token, &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        output(&reply.json, "prescriptionCount").unwrap()["valueInteger"],
        0
    );
    let operation = output(&reply.json, "prescriptionOperationResult").unwrap();
    assert_eq!(part(operation, "reseptID")["valueString"], new_id.as_str());
    assert_eq!(
        part(operation, "resultCode")["valueCoding"],
        json!({"system": "http://ehelse.no/fhir/CodeSystem/sfm-kj-rf-error-code", "code": "9003",
               "display": "Meldingen ble ikke sendt til Reseptformidleren"})
    );
    let pll = output(&reply.json, "PllResult").unwrap();
    assert_eq!(part(pll, "resultCode")["valueCoding"]["code"], "12");
    assert_eq!(
        part(pll, "resultCode")["valueCoding"]["display"],
        "PLL avvist"
    );

    // Nothing of it reached the national systems; the next send goes through.
    let bundle = medication_bundle(&look_up(&app, &token, LINE).await);
    let ids: Vec<String> = statements(&bundle)
        .iter()
        .filter_map(|s| identifier(s, "ReseptId"))
        .collect();
    assert!(!ids.contains(&new_id), "{ids:?}");
    assert_eq!(statements(&bundle).len(), 9);
    let mut body = send_body(&bundle);
    let new_id = add_prescription(&mut body, "Losartan Krka tab 50 mg", &[]);
    set_create_pll(&mut body, true);
    let reply = send_medication(&app, &token, &body).await;
    assert_eq!(
        output(&reply.json, "prescriptionCount").unwrap()["valueInteger"],
        1
    );
    let operation = output(&reply.json, "prescriptionOperationResult").unwrap();
    assert_eq!(part(operation, "resultCode")["valueCoding"]["code"], "0");
    assert_eq!(part(operation, "reseptID")["valueString"], new_id.as_str());
    let pll = output(&reply.json, "PllResult").unwrap();
    assert_eq!(part(pll, "resultCode")["valueCoding"]["code"], "0");
}

#[actix_web::test]
async fn a_withdrawal_not_sent_leaves_the_prescription_active() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    step(
        &app,
        json!({"kind": "send_failure", "message": "m5", "patient": LINE}),
    )
    .await;
    let bundle = medication_bundle(&look_up(&app, &token, LINE).await);
    let mut body = send_body(&bundle);
    let mut withdrawn = None;
    for entry in body["parameter"][0]["resource"]["entry"]
        .as_array_mut()
        .unwrap()
    {
        let r = &mut entry["resource"];
        if r["medicationReference"]["display"] == "Zopiclone Mylan tab 5 mg" {
            withdrawn = identifier(r, "ReseptId");
            r["status"] = json!("stopped");
            r["extension"][0]["extension"].as_array_mut().unwrap().push(json!(
                {"url": "recallinfo", "extension": [{"url": "recallcode",
                 "valueCodeableConcept": {"coding": [{"system": "urn:oid:2.16.578.1.12.4.1.1.7500",
                                                      "code": "2", "display": "Seponering"}]}}]}
            ));
        }
    }
    let withdrawn = withdrawn.unwrap();
    set_create_pll(&mut body, false);
    let reply = send_medication(&app, &token, &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        output(&reply.json, "recallCount").unwrap()["valueInteger"],
        0
    );
    let operation = output(&reply.json, "prescriptionOperationResult").unwrap();
    assert_eq!(
        part(operation, "reseptID")["valueString"],
        withdrawn.as_str()
    );
    assert_eq!(part(operation, "resultCode")["valueCoding"]["code"], "9003");
    let bundle = medication_bundle(&look_up(&app, &token, LINE).await);
    assert!(
        statements(&bundle)
            .iter()
            .any(|s| identifier(s, "ReseptId").as_deref() == Some(withdrawn.as_str())),
        "the prescription is still active"
    );
}

#[actix_web::test]
async fn kjernejournal_unavailable_answers_its_error_format_with_an_event_id() {
    let app = spawn_app().await;
    let token = app
        .system_token(KJERNEJOURNAL, "nhn:kjernejournal/api")
        .await
        .json["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    step(
        &app,
        json!({"kind": "kjernejournal_unavailable", "times": 1}),
    )
    .await;
    let reply = app.ping_kjernejournal(&token).await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.text
    );
    assert!(reply.header("x-event-id").is_some());
    assert_eq!(reply.json["status"], 503);
    assert_eq!(reply.json["feilkode"], "KJS-900001");
    assert_eq!(
        reply.json["brukermelding"],
        "Kjernejournal er ikke tilgjengelig nå. Prøv igjen senere."
    );
    assert_eq!(
        reply.json["utviklermelding"],
        "Kjernejournal is unavailable (helsesim scenario; the KJS- code and the status are \
         guesses: kjernejournal publishes neither for this case)"
    );
    assert_eq!(app.ping_kjernejournal(&token).await.status, StatusCode::OK);

    let failing = json!({"kind": "kjernejournal_unavailable", "status": 500,
                         "feilkode": "KJS-000001", "utviklermelding": "down"});
    step(&app, failing).await;
    let reply = app.ping_kjernejournal(&token).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        (&reply.json["feilkode"], &reply.json["utviklermelding"]),
        (&json!("KJS-000001"), &json!("down"))
    );
    app.delete("/_admin/scenarios").await;
    assert_eq!(app.ping_kjernejournal(&token).await.status, StatusCode::OK);
}

#[actix_web::test]
async fn helseid_refusing_answers_oauth_errors_and_slow_waits() {
    let app = spawn_app().await;
    step(&app, json!({"kind": "helseid_refusing", "times": 1})).await;
    let reply = app
        .system_token(KJERNEJOURNAL, "nhn:kjernejournal/api")
        .await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.json["error"], "temporarily_unavailable");
    assert_eq!(
        reply.json["error_description"],
        "HelseID cannot issue tokens now (helsesim scenario): try again later"
    );
    let reply = app
        .system_token(KJERNEJOURNAL, "nhn:kjernejournal/api")
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);

    step(
        &app,
        json!({"kind": "helseid_refusing", "error": "server_error", "times": 1}),
    )
    .await;
    let reply = app
        .system_token(KJERNEJOURNAL, "nhn:kjernejournal/api")
        .await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.json["error"], "server_error");

    step(
        &app,
        json!({"kind": "helseid_slow", "delay_ms": 300, "times": 1}),
    )
    .await;
    let started = std::time::Instant::now();
    assert_eq!(app.get(JWKS).await.status, StatusCode::OK);
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    let started = std::time::Instant::now();
    app.get(JWKS).await;
    assert!(started.elapsed() < std::time::Duration::from_millis(300));
}

fn kids(jwks: &Reply) -> Vec<String> {
    jwks.json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

fn kid_of(token: &str) -> String {
    decode_jwt(token).0["kid"].as_str().unwrap().to_owned()
}

async fn kj_token(app: &TestApp) -> String {
    let reply = app
        .system_token(KJERNEJOURNAL, "nhn:kjernejournal/api")
        .await;
    reply.json["access_token"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn a_key_rotation_publishes_switches_and_retires_and_old_tokens_then_fail() {
    let app = spawn_app().await;
    let before = kids(&app.get(JWKS).await);
    let old_kj = kj_token(&app).await;
    let old_sfm = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let old_kid = kid_of(&old_kj);
    assert_eq!(before[0], old_kid);

    let reply = step(
        &app,
        json!({"kind": "helseid_key_rotation", "phase": "publish"}),
    )
    .await;
    let new_kid = reply.json["applied"][0]["result"]["keys"]["next"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        kids(&app.get(JWKS).await),
        [old_kid.clone(), new_kid.clone()]
    );
    assert_eq!(
        kid_of(&kj_token(&app).await),
        old_kid,
        "published, not signing yet"
    );

    step(
        &app,
        json!({"kind": "helseid_key_rotation", "phase": "switch"}),
    )
    .await;
    assert_eq!(
        kids(&app.get(JWKS).await),
        [new_kid.clone(), old_kid.clone()]
    );
    let new_kj = kj_token(&app).await;
    assert_eq!(kid_of(&new_kj), new_kid);
    assert_eq!(app.ping_kjernejournal(&new_kj).await.status, StatusCode::OK);
    assert_eq!(app.ping_kjernejournal(&old_kj).await.status, StatusCode::OK);
    let new_sfm = app.sfm_token(SFM_READY, DIDRIK, None).await;
    assert_eq!(look_up(&app, &new_sfm, LINE).await.status, StatusCode::OK);

    step(
        &app,
        json!({"kind": "helseid_key_rotation", "phase": "retire"}),
    )
    .await;
    assert_eq!(kids(&app.get(JWKS).await), std::slice::from_ref(&new_kid));
    assert_eq!(app.ping_kjernejournal(&new_kj).await.status, StatusCode::OK);
    let refused = app.ping_kjernejournal(&old_kj).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.json["feilkode"], "KJF-000123");
    assert!(
        refused.json["utviklermelding"]
            .as_str()
            .unwrap()
            .contains("the signature does not verify with any key in helsesim's JWKS"),
        "{}",
        refused.text
    );
    let consent = json!({"name": "SamtykkeKjernejournal", "valueCode": KJ_CONSENT});
    let refused = get_medication(&app, &old_sfm, patient_param(LINE, "D", "L"), &[consent]).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.json["issue"][0]["code"], "login");
    assert!(
        refused.text.contains("does not verify with any key"),
        "{}",
        refused.text
    );

    // Reset does not roll the keys back.
    app.post_json("/_admin/reset", &json!({})).await;
    assert_eq!(kids(&app.get(JWKS).await), [new_kid]);
}

#[actix_web::test]
async fn planned_and_scheduled_rotations_happen_on_helsesims_clock() {
    let app = spawn_app().await;
    let first = kids(&app.get(JWKS).await)[0].clone();
    let all = json!({"kind": "helseid_key_rotation", "phase": "all",
                     "switch_after_seconds": 60, "retire_after_seconds": 120});
    step(&app, all).await;
    let published = kids(&app.get(JWKS).await);
    assert_eq!(published.len(), 2);
    assert_eq!(kid_of(&kj_token(&app).await), first);
    advance(&app, 60);
    let second = kid_of(&kj_token(&app).await);
    assert_eq!(second, published[1]);
    assert_eq!(kids(&app.get(JWKS).await), [second.clone(), first.clone()]);
    advance(&app, 119);
    assert_eq!(kids(&app.get(JWKS).await).len(), 2);
    advance(&app, 1);
    assert_eq!(kids(&app.get(JWKS).await), std::slice::from_ref(&second));

    step(
        &app,
        json!({"kind": "helseid_key_schedule", "every_seconds": 3600}),
    )
    .await;
    let listed = app.get("/_admin/scenarios").await;
    assert_eq!(
        listed.json["active"]["helseid_keys"]["planned"]["every_seconds"],
        3600
    );
    advance(&app, 3599);
    assert_eq!(kid_of(&kj_token(&app).await), second);
    advance(&app, 1);
    let third = kid_of(&kj_token(&app).await);
    assert_ne!(third, second);
    assert_eq!(kids(&app.get(JWKS).await), [third.clone(), second.clone()]);
    app.delete("/_admin/scenarios").await;
    advance(&app, 3600);
    assert_eq!(kid_of(&kj_token(&app).await), third, "the schedule ended");
}

#[actix_web::test]
async fn openidconnect_rereads_the_jwks_after_a_rotation() {
    use openidconnect::core::{CoreJsonWebKeySet, CoreJwsSigningAlgorithm};
    use openidconnect::{JsonWebKey as _, JsonWebKeyId};
    let app = spawn_app().await;
    step(
        &app,
        json!({"kind": "helseid_key_rotation", "phase": "switch"}),
    )
    .await;
    let set: CoreJsonWebKeySet = serde_json::from_str(&app.get(JWKS).await.text).unwrap();
    let token = kj_token(&app).await;
    let kid = JsonWebKeyId::new(kid_of(&token));
    let key = set
        .keys()
        .iter()
        .find(|k| k.key_id() == Some(&kid))
        .unwrap();
    let (signed, signature) = token.rsplit_once('.').unwrap();
    use base64::Engine as _;
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature)
        .unwrap();
    key.verify_signature(
        &CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        signed.as_bytes(),
        &signature,
    )
    .unwrap();
}

#[actix_web::test]
async fn a_dpop_nonce_rotation_makes_the_old_nonce_stale() {
    let app = spawn_app().await;
    let key = TestKey::ec("P-256");
    let scope = "nhn:pts/api";
    let nonce = app.dpop_nonce(PTS, scope, &key).await;
    step(&app, json!({"kind": "dpop_nonce_rotation"})).await;
    let assertion = Assertion::new(&app, PTS).sign();
    let proof = Proof::token(&app, &key).nonce(&nonce).sign();
    let reply = app
        .client_credentials(PTS, scope, &assertion, &[("DPoP", &proof)])
        .await;
    reply.assert_oauth_error(
        "use_dpop_nonce",
        "The DPoP proof's nonce is unknown or expired: retry with the value of the DPoP-Nonce \
         response header",
    );
    let fresh = reply.header("dpop-nonce").unwrap().to_owned();
    assert_ne!(fresh, nonce);
    let proof = Proof::token(&app, &key).nonce(&fresh).sign();
    let reply = app
        .client_credentials(PTS, scope, &assertion, &[("DPoP", &proof)])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

#[actix_web::test]
async fn bad_failure_steps_are_refused() {
    let app = spawn_app().await;
    for (body, message) in [
        (
            json!({"kind": "rf_unavailable", "code": "0"}),
            "code must name an error: not empty and not 0 (OK)",
        ),
        (
            json!({"kind": "send_failure", "message": "m1", "times": 0}),
            "times must be at least 1",
        ),
        (
            json!({"kind": "kjernejournal_unavailable", "status": 404}),
            "status must be 503 (unavailable) or 500 (failing), got 404",
        ),
        (
            json!({"kind": "helseid_refusing", "error": "invalid_client"}),
            "error must be temporarily_unavailable or server_error, got 'invalid_client'",
        ),
        (
            json!({"kind": "helseid_key_rotation", "phase": "switch", "switch_after_seconds": 5}),
            "switch_after_seconds and retire_after_seconds go with phase \"all\" only",
        ),
        (
            json!({"kind": "helseid_key_schedule", "every_seconds": 0}),
            "every_seconds must be at least 1",
        ),
    ] {
        let reply = app.post_json("/_admin/scenarios", &body).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            reply.text
        );
        assert_eq!(reply.json["error"], "invalid_request");
        assert_eq!(reply.json["message"], message, "{body}");
    }
    let listed = app.get("/_admin/scenarios").await;
    assert_eq!(listed.json["active"]["failures"], json!([]));
}

#[actix_web::test]
async fn the_failure_presets_load_and_run() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let listed = app.get("/_admin/scenarios").await;
    let names: Vec<&str> = listed.json["presets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for name in [
        "rf-down-during-prescribing",
        "kjernejournal-down",
        "helseid-key-rotation",
        "helseid-refusing",
    ] {
        assert!(names.contains(&name), "{names:?}");
        let reply = app
            .post_json(&format!("/_admin/scenarios/{name}"), &json!({}))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{name}: {}", reply.text);
    }
    let reply = look_up(&app, &token, LINE).await;
    assert_ne!(code_of(&reply, "RFM96Feilkode").0, "0");
    assert_ne!(code_of(&reply, "KJFeilkode").0, "0");
}
