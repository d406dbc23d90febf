//! National-side events as scenario steps (README "Scenarios" → "National-side events"): each
//! step shown where an EHR reads it ($getMedication, Datadeling, helseindikator, the portal),
//! and each refused with nothing changed.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::kjernejournal::EPJ;
use crate::sfm_medication::{get_medication, medication_bundle, patient_param, statements};

const LINE: &str = "12050050295";
const OLA: &str = "10092939427";
const PER: &str = "14019800513";
const DMITRI: &str = "42038540003";
const SIRI: &str = "03859243036";
/// Line's Ekspederbar prescription outside her PLL (Zopiclone), never dispensed.
const ZOPICLONE: &str = "d24c4d6c-a347-472f-ad73-6b3ade882ccc";
/// Line's Atorvastatin: Ekspederbar, in her PLL, dispensed once.
const ATORVASTATIN: &str = "a45bf849-2d0f-482f-b491-5a28a1f142c8";
/// Line's withdrawn prescription.
const WITHDRAWN: &str = "a27fc030-4857-4010-9e5e-ef64affd6892";
/// Line's prescription under dispensing at Vitusapotek Sjøkanten.
const UNDER_DISPENSING: &str = "c10d37e1-ca8c-4f8f-a317-ec0c249d341c";
const RF_STATUS: &str = "urn:oid:2.16.578.1.12.4.1.1.7408";
const RECALL_CODES: &str = "urn:oid:2.16.578.1.12.4.1.1.7500";
const DELIVERY_SUMMARY: &str = "http://ehelse.no/fhir/StructureDefinition/sfm-deliverysummary";

/// Applies one step; its answer.
async fn apply(app: &TestApp, step: Value) -> Reply {
    app.post_json("/_admin/scenarios", &step).await
}

/// Applies one step that must succeed: its `result`.
async fn applied(app: &TestApp, step: Value) -> Value {
    let reply = apply(app, step).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.json["applied"][0]["result"].clone()
}

/// The national systems' data, as the state document has it.
async fn national(app: &TestApp) -> Value {
    let reply = app.get("/_admin/state").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.json["national"].clone()
}

/// A step that must be refused with `status`, `error` and `message`, changing nothing.
async fn assert_refused(app: &TestApp, step: Value, status: StatusCode, message: &str) {
    let before = national(app).await;
    let reply = apply(app, step).await;
    assert_eq!(reply.status, status, "{}", reply.text);
    let error = if status == StatusCode::NOT_FOUND {
        "not_found"
    } else {
        "invalid_request"
    };
    assert_eq!(
        reply.json,
        json!({"error": error, "message": message}),
        "{}",
        reply.text
    );
    assert_eq!(
        national(app).await,
        before,
        "a refused step changed nothing"
    );
}

/// Line's statements in a fresh $getMedication by Didrik.
async fn line_statements(app: &TestApp) -> (Value, Vec<Value>) {
    let token = didrik(app).await;
    let reply = get_medication(app, &token, patient_param(LINE, "Danser", "Line"), &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let bundle = medication_bundle(&reply);
    let statements = statements(&bundle);
    (bundle, statements)
}

fn with_resept_id<'a>(statements: &'a [Value], id: &str) -> Option<&'a Value> {
    statements.iter().find(|s| {
        s["identifier"]
            .as_array()
            .is_some_and(|ids| ids.iter().any(|i| i["value"] == id))
    })
}

fn amendment_part<'a>(statement: &'a Value, url: &str) -> Option<&'a Value> {
    statement["extension"].as_array()?.iter().find(|e| {
        e["url"]
            .as_str()
            .is_some_and(|u| u.ends_with("sfm-reseptamendment"))
    })?["extension"]
        .as_array()?
        .iter()
        .find(|p| p["url"] == url)
}

fn rfstatus(statement: &Value) -> Value {
    amendment_part(statement, "rfstatus").unwrap()["extension"].clone()
}

fn status_part(code: &str, display: &str) -> Value {
    json!({"url": "status", "valueCodeableConcept": {"coding": [
        {"system": RF_STATUS, "code": code, "display": display}
    ]}})
}

fn delivery_summary(statement: &Value) -> Option<Value> {
    statement["extension"]
        .as_array()?
        .iter()
        .find(|e| e["url"] == DELIVERY_SUMMARY)
        .cloned()
}

fn dispenses_of(bundle: &Value, id: &str) -> Vec<Value> {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] == "MedicationDispense")
        .filter(|r| {
            r["extension"][0]["extension"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["url"] == "prescriptionid" && p["valueString"] == id)
        })
        .cloned()
        .collect()
}

fn pharmacy() -> Value {
    json!({"name": "Apotek 1 Storgata", "her": "80000991"})
}

#[actix_web::test]
async fn a_pharmacy_starts_and_completes_a_dispense_and_the_lookup_shows_it() {
    let app = spawn_app().await;
    let result = applied(
        &app,
        json!({"kind": "start_dispense", "patient": LINE, "resept_id": ZOPICLONE,
               "pharmacy": pharmacy()}),
    )
    .await;
    assert_eq!(
        result,
        json!({"patient": LINE, "resept_id": ZOPICLONE, "nameDispenser": "Apotek 1 Storgata",
               "status": {"code": "U", "display": "Under ekspedering"}})
    );
    let (_, statements) = line_statements(&app).await;
    let zopiclone = with_resept_id(&statements, ZOPICLONE).unwrap();
    assert_eq!(
        rfstatus(zopiclone),
        json!([{"url": "nameDispenser", "valueString": "Apotek 1 Storgata"},
               status_part("U", "Under ekspedering")])
    );

    let result = applied(
        &app,
        json!({"kind": "complete_dispense", "patient": LINE, "resept_id": ZOPICLONE,
               "pharmacy": pharmacy(), "packages": 1, "m10_id": "m10-zop-1"}),
    )
    .await;
    assert_eq!(result["status"]["code"], "E");
    assert_eq!(result["m10_id"], "m10-zop-1");
    let (bundle, statements) = line_statements(&app).await;
    let zopiclone = with_resept_id(&statements, ZOPICLONE).unwrap();
    assert_eq!(
        rfstatus(zopiclone),
        json!([status_part("E", "Ekspederbar")])
    );
    let today = app.now().format("%Y-%m-%d").to_string();
    let summary = delivery_summary(zopiclone).unwrap();
    let parts = summary["extension"].as_array().unwrap();
    assert!(parts.contains(&json!({"url": "antallpkntotalt", "valueDecimal": 1.0})));
    assert!(parts.contains(&json!({"url": "antallpknsiste", "valueDecimal": 1.0})));
    let last = parts.iter().find(|p| p["url"] == "sistutlevert").unwrap();
    assert!(last["valueDateTime"].as_str().unwrap().starts_with(&today));
    let dispenses = dispenses_of(&bundle, ZOPICLONE);
    assert_eq!(dispenses.len(), 1);
    let d = &dispenses[0];
    assert_eq!(d["id"], "m10-zop-1");
    assert_eq!(d["identifier"][0]["value"], "m10-zop-1");
    assert_eq!(d["quantity"], json!({"value": 1.0}));
    assert_eq!(d["whenHandedOver"], today);
    assert_eq!(
        d["performer"][0]["actor"]["display"],
        "Apotek 1 Storgata, HER: 80000991"
    );
    assert_eq!(
        d["extension"][0]["extension"][1],
        json!({"url": "concluded", "valueBoolean": false})
    );
}

#[actix_web::test]
async fn dispensing_steps_are_refused_when_the_status_does_not_allow_them() {
    let app = spawn_app().await;
    assert_refused(
        &app,
        json!({"kind": "start_dispense", "patient": "10086148248", "resept_id": ZOPICLONE,
               "pharmacy": pharmacy()}),
        StatusCode::NOT_FOUND,
        "The national systems hold no patient '10086148248' (see fixtures/sfm/national.json)",
    )
    .await;
    assert_refused(
        &app,
        json!({"kind": "dispense", "patient": LINE, "resept_id": WITHDRAWN,
               "pharmacy": pharmacy(), "packages": 1}),
        StatusCode::BAD_REQUEST,
        &format!(
            "The prescription {WITHDRAWN} is T Tilbakekalt: only an E Ekspederbar prescription \
             can start being dispensed"
        ),
    )
    .await;
    assert_refused(
        &app,
        json!({"kind": "complete_dispense", "patient": LINE, "resept_id": UNDER_DISPENSING,
               "pharmacy": pharmacy(), "packages": 1}),
        StatusCode::BAD_REQUEST,
        &format!(
            "The prescription {UNDER_DISPENSING} is U Under ekspedering by Vitusapotek \
             Sjøkanten: only the pharmacy dispensing it (status U) can complete a dispense (M10)"
        ),
    )
    .await;
    assert_refused(
        &app,
        json!({"kind": "cancel_dispense", "patient": LINE, "resept_id": ZOPICLONE}),
        StatusCode::BAD_REQUEST,
        &format!(
            "The prescription {ZOPICLONE} is E Ekspederbar: only the pharmacy dispensing it \
             (status U) can cancel its dispense"
        ),
    )
    .await;
    assert_refused(
        &app,
        json!({"kind": "dispense", "patient": LINE, "resept_id": "0000",
               "pharmacy": pharmacy(), "packages": 0}),
        StatusCode::BAD_REQUEST,
        "packages must be a positive number, got 0",
    )
    .await;
}

#[actix_web::test]
async fn a_cancelled_dispense_leaves_the_prescription_ekspederbar_and_records_nothing() {
    let app = spawn_app().await;
    let result = applied(
        &app,
        json!({"kind": "cancel_dispense", "patient": LINE, "resept_id": UNDER_DISPENSING,
               "pharmacy": {"name": "Vitusapotek Sjøkanten"}}),
    )
    .await;
    assert_eq!(result["status"]["code"], "E");
    let (bundle, statements) = line_statements(&app).await;
    let s = with_resept_id(&statements, UNDER_DISPENSING).unwrap();
    assert_eq!(rfstatus(s), json!([status_part("E", "Ekspederbar")]));
    assert!(dispenses_of(&bundle, UNDER_DISPENSING).is_empty());
    assert!(delivery_summary(s).is_none());
}

#[actix_web::test]
async fn a_concluded_dispense_ends_the_prescription_in_the_lookup_and_datadeling() {
    let app = spawn_app().await;
    let result = applied(
        &app,
        json!({"kind": "dispense", "patient": LINE, "resept_id": ATORVASTATIN,
               "pharmacy": pharmacy(), "packages": 2, "concluded": true, "days_ago": 1}),
    )
    .await;
    assert_eq!(
        result["status"],
        json!({"code": "R", "display": "Resept avsluttet"})
    );
    let (bundle, statements) = line_statements(&app).await;
    let s = with_resept_id(&statements, ATORVASTATIN).unwrap();
    assert_eq!(rfstatus(s), json!([status_part("R", "Resept avsluttet")]));
    let summary = delivery_summary(s).unwrap();
    let parts = summary["extension"].as_array().unwrap();
    assert!(parts.contains(&json!({"url": "antallpknsiste", "valueDecimal": 2.0})));
    let dispenses = dispenses_of(&bundle, ATORVASTATIN);
    assert_eq!(dispenses.len(), 2, "the fixture's dispense and the new one");
    let yesterday = (app.now() - chrono::TimeDelta::days(1)).format("%Y-%m-%d");
    assert!(
        dispenses
            .iter()
            .any(|d| d["whenHandedOver"] == yesterday.to_string())
    );

    // Datadeling reads the same.
    let token = didrik(&app).await;
    let ticket = crate::sfm_datadeling::ticket(&app, &token, LINE).await;
    let reply = app
        .fhir(
            "GET",
            &format!("/MedicationStatement?patientTicket={ticket}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let read: Vec<Value> = reply.json["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"].clone())
        .collect();
    let s = with_resept_id(&read, ATORVASTATIN).unwrap();
    assert_eq!(rfstatus(s), json!([status_part("R", "Resept avsluttet")]));
}

#[actix_web::test]
async fn another_doctor_withdraws_a_prescription() {
    let app = spawn_app().await;
    let result = applied(
        &app,
        json!({"kind": "withdraw_prescription", "patient": LINE, "resept_id": ZOPICLONE}),
    )
    .await;
    assert_eq!(
        result,
        json!({"patient": LINE, "resept_id": ZOPICLONE,
               "status": {"code": "T", "display": "Tilbakekalt"},
               "recall_code": {"code": "2", "display": "Seponering"}})
    );
    let (_, statements) = line_statements(&app).await;
    // Withdrawn and outside the PLL: RF no longer reports it.
    assert!(with_resept_id(&statements, ZOPICLONE).is_none());

    // A withdrawal while a pharmacy dispenses it stays pending: U with the recall reason.
    applied(
        &app,
        json!({"kind": "withdraw_prescription", "patient": LINE,
               "resept_id": UNDER_DISPENSING, "recall_code": "4"}),
    )
    .await;
    let (_, statements) = line_statements(&app).await;
    let s = with_resept_id(&statements, UNDER_DISPENSING).unwrap();
    assert_eq!(
        rfstatus(s),
        json!([{"url": "nameDispenser", "valueString": "Vitusapotek Sjøkanten"},
               {"url": "recallStatus", "valueBoolean": false},
               status_part("U", "Under ekspedering")])
    );
    assert_eq!(
        amendment_part(s, "recallinfo").unwrap()["extension"][0]["valueCodeableConcept"],
        json!({"coding": [{"system": RECALL_CODES, "code": "4", "display": "Annet"}]})
    );
}

#[actix_web::test]
async fn withdrawals_and_renewals_are_refused_when_they_do_not_fit() {
    let app = spawn_app().await;
    assert_refused(
        &app,
        json!({"kind": "withdraw_prescription", "patient": LINE, "resept_id": WITHDRAWN}),
        StatusCode::BAD_REQUEST,
        &format!(
            "The prescription {WITHDRAWN} is T Tilbakekalt: only an E or U prescription can be \
             withdrawn"
        ),
    )
    .await;
    assert_refused(
        &app,
        json!({"kind": "withdraw_prescription", "patient": LINE, "resept_id": ZOPICLONE,
               "recall_code": "9"}),
        StatusCode::BAD_REQUEST,
        "recall_code '9' is not a Volven 7500 code: 1, 2, 3 or 4",
    )
    .await;
    assert_refused(
        &app,
        json!({"kind": "renew_prescription", "patient": LINE, "resept_id": "nope"}),
        StatusCode::NOT_FOUND,
        &format!(
            "Reseptformidleren holds no prescription with ReseptId 'nope' for patient '{LINE}'"
        ),
    )
    .await;
    assert_refused(
        &app,
        json!({"kind": "renew_prescription", "patient": LINE, "resept_id": UNDER_DISPENSING}),
        StatusCode::BAD_REQUEST,
        &format!(
            "The prescription {UNDER_DISPENSING} is U Under ekspedering by Vitusapotek \
             Sjøkanten: only an E Ekspederbar prescription can be renewed"
        ),
    )
    .await;
}

#[actix_web::test]
async fn another_doctor_renews_a_prescription_with_a_new_resept_id() {
    let app = spawn_app().await;
    let new_id = "5f0c3d2e-1111-4a2b-9c3d-0123456789ab";
    let result = applied(
        &app,
        json!({"kind": "renew_prescription", "patient": LINE, "resept_id": ZOPICLONE,
               "new_resept_id": new_id}),
    )
    .await;
    assert_eq!(result["status"]["code"], "T");
    assert_eq!(result["recall_code"]["display"], "Fornying");
    assert_eq!(result["new_resept_id"], new_id);
    let (_, statements) = line_statements(&app).await;
    assert!(with_resept_id(&statements, ZOPICLONE).is_none());
    let renewed = with_resept_id(&statements, new_id).unwrap();
    assert_eq!(rfstatus(renewed), json!([status_part("E", "Ekspederbar")]));
    let today = app.now().format("%Y-%m-%d").to_string();
    assert_eq!(
        amendment_part(renewed, "reseptdate").unwrap()["valueDate"],
        today
    );
    assert!(amendment_part(renewed, "recallinfo").is_none());
}

#[actix_web::test]
async fn the_multidose_doctor_sends_a_new_pll() {
    let app = spawn_app().await;
    let result = applied(
        &app,
        json!({"kind": "update_pll", "patient": OLA,
               "remove": ["2eead438-ad09-4abb-ae74-72bb1327ec23"]}),
    )
    .await;
    let message_id = result["pll"]["message_id"].as_str().unwrap().to_owned();
    assert_eq!(result["pll"]["entries"], 2);
    let token = didrik(&app).await;
    let reply = get_medication(&app, &token, patient_param(OLA, "Nordmann", "Ola"), &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let bundle = medication_bundle(&reply);
    let info = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|r| r["resourceType"] == "Basic" && r["code"]["coding"][0]["code"] == "M25.1")
        .unwrap();
    assert_eq!(info["id"], message_id);
    let date = &info["extension"][0]["extension"][0];
    assert_eq!(date["url"], "PLLdate");
    assert!(
        date["valueDateTime"]
            .as_str()
            .unwrap()
            .starts_with(&app.now().format("%Y-%m-%d").to_string())
    );
    // Left out of the PLL, its prescription is still active in RF, so the lookup still
    // shows it (as RF's prescription outside the PLL).
    assert!(
        statements(&bundle)
            .iter()
            .any(|s| s["identifier"].to_string().contains("dc84e627"))
    );

    assert_refused(
        &app,
        json!({"kind": "update_pll", "patient": PER}),
        StatusCode::BAD_REQUEST,
        &format!("Patient '{PER}' has no PLL to update"),
    )
    .await;
    assert_refused(
        &app,
        json!({"kind": "update_pll", "patient": OLA, "remove": ["unknown"]}),
        StatusCode::NOT_FOUND,
        &format!("Patient '{OLA}''s PLL has no entry with PLL id or ReseptId 'unknown'"),
    )
    .await;
}

/// Helseindikator's answer for `fnr`.
async fn indicator(app: &TestApp, fnr: &str) -> Value {
    let token = app.kj_system_token().await;
    let reply = app
        .helseindikator(Some(&token), Some(EPJ), &json!({"fnr": fnr}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.json
}

#[actix_web::test]
async fn new_critical_information_flips_helseindikator_to_4_dated_now() {
    let app = spawn_app().await;
    assert_eq!(indicator(&app, OLA).await["status"], 2);
    let now = app
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let result = applied(
        &app,
        json!({"kind": "critical_info", "patient": OLA, "id": "allergy-ola-peanut",
               "substance": "Peanøtter", "category": "food", "reaction": "Anafylaksi"}),
    )
    .await;
    assert_eq!(
        result,
        json!({"patient": OLA, "allergy_id": "allergy-ola-peanut", "change": "added",
               "sistEndretKritiskInfoDato": now})
    );
    let answer = indicator(&app, OLA).await;
    assert_eq!(answer["status"], 4);
    assert_eq!(answer["sistEndretKritiskInfoDato"], now);

    // Changed later: the date moves on.
    app.post_json("/_admin/clock", &json!({"advance": "PT1H"}))
        .await;
    let later = app
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let result = applied(
        &app,
        json!({"kind": "critical_info", "patient": OLA, "id": "allergy-ola-peanut",
               "substance": "Peanøtter", "category": "food", "criticality": "low"}),
    )
    .await;
    assert_eq!(result["change"], "changed");
    assert_eq!(
        indicator(&app, OLA).await["sistEndretKritiskInfoDato"],
        later
    );

    assert_refused(
        &app,
        json!({"kind": "critical_info", "patient": DMITRI, "substance": "Penicillin"}),
        StatusCode::BAD_REQUEST,
        &format!(
            "Patient '{DMITRI}' has no kjernejournal: critical information needs one (give the \
             patient `kjernejournal` in the fixtures)"
        ),
    )
    .await;
}

#[actix_web::test]
async fn the_patient_blocks_a_professional_and_restricts_a_module() {
    let app = spawn_app().await;
    let result = applied(
        &app,
        json!({"kind": "block_professional", "patient": OLA, "hpr": "565501872"}),
    )
    .await;
    assert_eq!(result["blocked_professionals"], json!(["565501872"]));
    let result = applied(
        &app,
        json!({"kind": "restrict_module", "patient": OLA, "module": "LEGEMIDLER"}),
    )
    .await;
    assert_eq!(result["restricted_modules"], json!(["LEGEMIDLER"]));
    let answer = indicator(&app, OLA).await;
    assert_eq!(answer["eksistererBlokkertHelsepersonell"], true);
    assert_eq!(
        answer["sperringDetaljer"],
        json!([{"erSperret": false, "modul": "KRITISKINFO"},
               {"erSperret": true, "modul": "LEGEMIDLER"}])
    );

    assert_refused(
        &app,
        json!({"kind": "block_professional", "patient": OLA, "hpr": "HPR-1"}),
        StatusCode::BAD_REQUEST,
        "hpr 'HPR-1' is not an HPR number (1–9 digits)",
    )
    .await;
    assert_refused(
        &app,
        json!({"kind": "restrict_module", "patient": SIRI, "module": "KRITISKINFO"}),
        StatusCode::BAD_REQUEST,
        "The patient has already restricted KRITISKINFO",
    )
    .await;
}

#[actix_web::test]
async fn a_dead_patient_is_not_active_in_kjernejournal() {
    let app = spawn_app().await;
    let result = applied(
        &app,
        json!({"kind": "patient_dies", "patient": OLA, "days_ago": 2}),
    )
    .await;
    let died = (app.now() - chrono::TimeDelta::days(2)).format("%Y-%m-%d");
    assert_eq!(
        result,
        json!({"patient": OLA, "deceased": died.to_string(), "active": false})
    );
    let user = crate::kjernejournal_innlogging::didrik(&app).await;
    let page = crate::kjernejournal_portal::try_open(&app, &user, OLA).await;
    assert_eq!(page.status.as_u16(), 403);
    assert!(page.text.contains("Feilkode: KJF-000017"), "{}", page.text);

    assert_refused(
        &app,
        json!({"kind": "patient_dies", "patient": OLA}),
        StatusCode::BAD_REQUEST,
        &format!("Patient '{OLA}' is already not active in Folkeregisteret"),
    )
    .await;
}

#[actix_web::test]
async fn a_new_fodselsnummer_moves_the_national_data() {
    let app = spawn_app().await;
    let new = "15027510091";
    let result = applied(
        &app,
        json!({"kind": "new_national_id", "patient": OLA, "new_patient": new}),
    )
    .await;
    assert_eq!(result, json!({"patient": new, "old": OLA, "new": new}));
    assert_eq!(indicator(&app, OLA).await["status"], 1);
    assert_eq!(indicator(&app, new).await["status"], 2);

    assert_refused(
        &app,
        json!({"kind": "new_national_id", "patient": new, "new_patient": LINE}),
        StatusCode::BAD_REQUEST,
        &format!("The national systems already hold a patient '{LINE}': choose an unused number"),
    )
    .await;
    assert_refused(
        &app,
        json!({"kind": "new_national_id", "patient": OLA, "new_patient": "01018010018"}),
        StatusCode::NOT_FOUND,
        &format!("The national systems hold no patient '{OLA}'"),
    )
    .await;
}

#[actix_web::test]
async fn the_event_presets_tell_their_stories() {
    let app = spawn_app().await;
    let reply = app
        .post_json("/_admin/scenarios/patient-dispensed-yesterday", &json!({}))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let (_, statements) = line_statements(&app).await;
    let s = with_resept_id(&statements, ZOPICLONE).unwrap();
    let summary = delivery_summary(s).unwrap();
    let yesterday = (app.now() - chrono::TimeDelta::days(1)).format("%Y-%m-%d");
    assert!(
        summary.to_string().contains(&yesterday.to_string()),
        "{summary}"
    );

    let reply = app
        .post_json(
            "/_admin/scenarios/prescription-withdrawn-elsewhere",
            &json!({}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.json["applied"][0]["result"]["status"]["code"], "T");
    let (_, statements) = line_statements(&app).await;
    assert!(
        with_resept_id(&statements, ATORVASTATIN)
            .is_some_and(|s| { rfstatus(s).to_string().contains("\"T\"") })
    );

    let reply = app
        .post_json("/_admin/scenarios/new-critical-info", &json!({}))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(indicator(&app, OLA).await["status"], 4);

    // GET /_admin/scenarios lists what each did, newest first.
    let reply = app.get("/_admin/scenarios").await;
    let applied = reply.json["applied"].as_array().unwrap();
    assert_eq!(applied[0]["preset"], "new-critical-info");
    assert_eq!(applied[0]["result"]["change"], "added");
    assert_eq!(applied[1]["preset"], "prescription-withdrawn-elsewhere");
    assert_eq!(applied[1]["result"]["resept_id"], ATORVASTATIN);
}
