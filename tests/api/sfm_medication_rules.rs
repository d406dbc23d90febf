//! SFM `$sendMedication`'s validation rules (the spec's "Bundle validation"), its structural
//! refusals and its effects on the national systems, and `$getMedication`'s inputs. Every
//! failing case is paired with a passing one that differs only in the rule's condition.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::sfm_medication::*;

// ---------------------------------------------------------------------------------------------
// Fixtures (fixtures/sfm/national.json, fixtures/sfm/tenants.json).

const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";
/// The code system of the rule codes in `issue.details`.
const RULE_SYSTEM: &str = "urn:helsesim:sfm:send-medication-rule";
/// T0 as the rules write instants.
const AT_T0: &str = "2026-03-02T10:00:00+00:00";
/// Where a send's entries are (rules 3, 4, 5 point there).
const ENTRIES: &str = "Parameters.parameter[0].resource.entry";
/// Where the Composition's relatesTo is (rule 2).
const RELATES_TO: &str = "Parameters.parameter[0].resource.entry[0].resource.relatesTo";

/// Line's PLL entry with an Ekspederbar prescription.
const ATORVASTATIN: &str = "Atorvastatin Sandoz tab 20 mg";
const ATORVASTATIN_RESEPT: &str = "a45bf849-2d0f-482f-b491-5a28a1f142c8";
const ATORVASTATIN_PLL: &str = "533db406-2b27-437a-a126-dbcbf615c0cd";
/// Line's PLL entry with an UnderEkspedering prescription.
const METFORMIN: &str = "Metformin Teva tab 500 mg";
const METFORMIN_RESEPT: &str = "c10d37e1-ca8c-4f8f-a317-ec0c249d341c";
const METFORMIN_PLL: &str = "3eab91ff-a3a6-457c-aeb7-4ea366201916";
/// Line's PLL entry with an Ekspedert prescription.
const PARACET: &str = "Paracet tab 500 mg";
const PARACET_RESEPT: &str = "86ed4ae8-a70f-4cf2-a678-8de6088e1493";
const PARACET_PLL: &str = "21c65ddd-ade9-40ae-b89e-741fab1e92ab";
/// Line's PLL entry discontinued 20 days ago, its prescription Tilbakekalt.
const AMOXICILLIN: &str = "Amoxicillin Actavis kaps 500 mg";
const AMOXICILLIN_PLL: &str = "e038c312-53e9-4047-be7b-bdeb05d987e0";
/// Line's PLL entry discontinued 120 days ago.
const IBUX: &str = "Ibux tab 400 mg";
/// Line's entered-in-error PLL entry.
const OMEPRAZOL: &str = "Omeprazol Krka kaps 20 mg";
/// Line's vaccine.
const INFLUVAC: &str = "Influvac Tetra inj, susp";
/// Line's NIB/FIB product.
const NUTRIDRINK: &str = "Nutridrink Compact mikst";
/// Line's Ekspederbar prescription outside the PLL.
const ZOPICLONE: &str = "Zopiclone Mylan tab 5 mg";
const ZOPICLONE_RESEPT: &str = "d24c4d6c-a347-472f-ad73-6b3ade882ccc";

/// Ola Nordmann, the multidose patient.
const OLA: &str = "10092939427";
/// Per Pasient, with a locked prescription.
const PER: &str = "14019800513";
const SOBRIL: &str = "Sobril tab 10 mg";
const SOBRIL_REFNUM: &str = "LP3K8W2ZD";
const PER_CETIRIZIN: &str = "Cetirizin Mylan tab 10 mg";
/// The patient without fødselsnummer or D-nummer: the EHR's id, and his prescription's refnum.
const EPJ_SYSTEM: &str = "http://helsesim.example/epj/pasient-id";
const EPJ_ID: &str = "EPJ-4711";
const EPJ_REFNUM: &str = "KX7N4R2PQ";
const EPJ_CETIRIZIN: &str = "Cetirizin Mylan tab 10 mg";
/// Henrik Helsesekretær: a HelseID user without an HPR number.
const HENRIK: &str = "15837813732";

const NEW_DRUG: &str = "Losartan Krka tab 50 mg";

// ---------------------------------------------------------------------------------------------
// Tokens and lookups.

fn line() -> Value {
    patient_param(LINE, "Danser", "Line")
}

fn ola() -> Value {
    patient_param(OLA, "Nordmann", "Ola")
}

fn per() -> Value {
    patient_param(PER, "Pasient", "Per")
}

/// The patient without fødselsnummer or D-nummer, as Fjordbyen's patient-epj.
fn epj_patient() -> Value {
    json!({
        "resourceType": "Patient",
        "identifier": [{"system": EPJ_SYSTEM, "value": EPJ_ID}],
        "name": [{"family": "Utenlandsk", "given": ["Ukjent"]}],
        "gender": "unknown",
        "birthDate": "1990-01-01",
        "address": [{"use": "home", "line": ["Ukjentveien 1"], "postalCode": "0150",
                     "city": "Oslo"}]
    })
}

fn param_code(name: &str, code: &str) -> Value {
    json!({"name": name, "valueCode": code})
}

fn param_string(name: &str, value: &str) -> Value {
    json!({"name": name, "valueString": value})
}

/// A $getMedication that must succeed: its Parameters.
async fn lookup_params(app: &TestApp, token: &str, patient: Value, extra: &[Value]) -> Value {
    let reply = get_medication(app, token, patient, extra).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("content-type"), Some(FHIR_JSON));
    reply.json
}

/// A $getMedication that must succeed: its medication Bundle.
async fn lookup(app: &TestApp, token: &str, patient: Value, extra: &[Value]) -> Value {
    let params = lookup_params(app, token, patient, extra).await;
    params["parameter"][0]["resource"].clone()
}

/// Line's lookup sent back unchanged, with createPLL set (her bundle has a PLL-info).
fn send_back(bundle: &Value, create_pll: bool) -> Value {
    let mut body = send_body(bundle);
    set_create_pll(&mut body, create_pll);
    body
}

// ---------------------------------------------------------------------------------------------
// Editing a send body.

fn entries(body: &Value) -> &Vec<Value> {
    body["parameter"][0]["resource"]["entry"]
        .as_array()
        .unwrap()
}

fn entries_mut(body: &mut Value) -> &mut Vec<Value> {
    body["parameter"][0]["resource"]["entry"]
        .as_array_mut()
        .unwrap()
}

fn is_statement_of(entry: &Value, name: &str) -> bool {
    entry["resource"]["resourceType"] == "MedicationStatement"
        && entry["resource"]["medicationReference"]["display"] == name
}

/// The index in `Bundle.entry` of the statement of `name`.
fn entry_index(body: &Value, name: &str) -> usize {
    entries(body)
        .iter()
        .position(|e| is_statement_of(e, name))
        .unwrap_or_else(|| panic!("no statement {name}"))
}

/// The statement of `name`.
fn statement_mut<'a>(body: &'a mut Value, name: &str) -> &'a mut Value {
    let index = entry_index(body, name);
    &mut entries_mut(body)[index]["resource"]
}

/// Leaves the statement of `name` out of the document: with its Medication, its dispenses and
/// the Composition's references to them, so the document stays whole.
pub(crate) fn leave_out(body: &mut Value, name: &str) {
    let index = entry_index(body, name);
    let entry = &entries(body)[index];
    let statement_url = entry["fullUrl"].as_str().unwrap().to_owned();
    let mut gone = vec![
        statement_url.clone(),
        entry["resource"]["medicationReference"]["reference"]
            .as_str()
            .unwrap()
            .to_owned(),
    ];
    gone.extend(
        entries(body)
            .iter()
            .filter(|e| {
                e["resource"]["resourceType"] == "MedicationDispense"
                    && e["resource"]["authorizingPrescription"][0]["reference"] == *statement_url
            })
            .map(|e| e["fullUrl"].as_str().unwrap().to_owned()),
    );
    let named = |v: &Value, key: &str| gone.iter().any(|g| v[key] == **g);
    entries_mut(body).retain(|e| !named(e, "fullUrl"));
    // A multidose pharmacy's M25.3 names the statement and its dispense: its delivery goes too.
    for entry in entries_mut(body).iter_mut() {
        if entry["resource"]["resourceType"] != "Basic" {
            continue;
        }
        if let Some(parts) = entry["resource"]["extension"][0]["extension"].as_array_mut() {
            parts.retain(|p| {
                p["url"] != "deliveryinformation"
                    || !p["extension"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|d| named(&d["valueReference"], "reference"))
            });
        }
    }
    let sections = entries_mut(body)[0]["resource"]["section"]
        .as_array_mut()
        .unwrap();
    for section in sections {
        let object = section.as_object_mut().unwrap();
        if let Some(list) = object.get_mut("entry").and_then(Value::as_array_mut) {
            list.retain(|r| !named(r, "reference"));
            if list.is_empty() {
                object.remove("entry");
            }
        }
    }
}

/// The `sfm-reseptamendment` parts of a statement.
fn amendment_mut(statement: &mut Value) -> &mut Vec<Value> {
    statement["extension"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|e| e["url"] == "http://ehelse.no/fhir/StructureDefinition/sfm-reseptamendment")
        .unwrap()["extension"]
        .as_array_mut()
        .unwrap()
}

/// A part of a statement's `sfm-reseptamendment`.
fn amendment_part<'a>(statement: &'a Value, url: &str) -> Option<&'a Value> {
    statement["extension"]
        .as_array()?
        .iter()
        .find(|e| e["url"] == "http://ehelse.no/fhir/StructureDefinition/sfm-reseptamendment")?[
        "extension"]
        .as_array()?
        .iter()
        .find(|p| p["url"] == url)
}

/// The `rfstatus` code (Volven 7408) of a statement.
fn rf_status(statement: &Value) -> Option<&str> {
    amendment_part(statement, "rfstatus")?["extension"]
        .as_array()?
        .iter()
        .find(|p| p["url"] == "status")?["valueCodeableConcept"]["coding"][0]["code"]
        .as_str()
}

/// Asks SFM to withdraw the statement's prescription (recallcode 2, Seponering); `recall_id`
/// names another prescription than the statement's own.
fn withdraw(body: &mut Value, name: &str, recall_id: Option<&str>) {
    let mut info = vec![
        json!({"url": "recallcode", "valueCodeableConcept": {"coding": [
            {"system": "urn:oid:2.16.578.1.12.4.1.1.7500", "code": "2", "display": "Seponering"}
        ]}}),
    ];
    if let Some(id) = recall_id {
        info.push(json!({"url": "recallId", "valueString": id}));
    }
    amendment_mut(statement_mut(body, name)).push(json!({"url": "recallinfo", "extension": info}));
}

/// Adds a new PLL entry (no prescription) with its Medication; returns its PLL id.
fn add_pll_entry(body: &mut Value, name: &str) -> String {
    add_prescription(body, name, &[]);
    let pll_id = uuid::Uuid::new_v4().to_string();
    set_identifiers(
        body,
        name,
        json!([{"use": "usual", "type": {"text": "PLL"}, "value": pll_id}]),
    );
    amendment_mut(statement_mut(body, name)).retain(|p| p["url"] != "createresept");
    pll_id
}

/// Sets the statement's identifiers.
fn set_identifiers(body: &mut Value, name: &str, identifiers: Value) {
    let statement = statement_mut(body, name).as_object_mut().unwrap();
    if identifiers.as_array().is_some_and(Vec::is_empty) {
        statement.remove("identifier");
    } else {
        statement.insert("identifier".to_owned(), identifiers);
    }
}

fn resept_identifier(id: &str) -> Value {
    json!({"use": "usual", "type": {"text": "ReseptId"}, "value": id})
}

fn set_relates_to(body: &mut Value, relates_to: Option<Value>) {
    let composition = body["parameter"][0]["resource"]["entry"][0]["resource"]
        .as_object_mut()
        .unwrap();
    match relates_to {
        Some(r) => composition.insert("relatesTo".to_owned(), r),
        None => composition.remove("relatesTo"),
    };
}

/// The statement of `name` in a bundle, if there.
fn find_statement<'a>(bundle: &'a Value, name: &str) -> Option<&'a Value> {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| is_statement_of(e, name))
        .map(|e| &e["resource"])
}

fn names(bundle: &Value) -> Vec<String> {
    statements(bundle)
        .iter()
        .map(|s| {
            s["medicationReference"]["display"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// The statements of a bundle without the parts that are fresh in every lookup (the
/// `urn:uuid` references to the bundle's Patient and Medications).
fn comparable_statements(bundle: &Value) -> Vec<Value> {
    statements(bundle)
        .into_iter()
        .map(|mut s| {
            s.as_object_mut().unwrap().remove("subject");
            s["medicationReference"]
                .as_object_mut()
                .unwrap()
                .remove("reference");
            s
        })
        .collect()
}

/// The bundle's sfm-PLL-info.
fn pll_info(bundle: &Value) -> Option<&Value> {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|r| r["resourceType"] == "Basic")
}

fn section<'a>(bundle: &'a Value, code: &str) -> &'a Value {
    bundle["entry"][0]["resource"]["section"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"]["coding"][0]["code"] == code)
        .unwrap()
}

/// The messages SFM sent for a patient (optionally of one type), from the control plane.
async fn messages(app: &TestApp, patient: &str, kind: Option<&str>) -> Vec<Value> {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("patient", patient)
        .extend_pairs(kind.map(|k| ("type", k)))
        .finish();
    let reply = app.get(&format!("/_admin/sfm/messages?{query}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.json["messages"].as_array().unwrap().clone()
}

/// A raw POST to `/sfm/fhir{path}`.
async fn post_raw(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: Vec<u8>,
) -> Reply {
    let mut request = app
        .http
        .post(app.url(&format!("/sfm/fhir{path}")))
        .header("Content-Type", content_type)
        .body(body);
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    Reply::read(request.send().await.unwrap()).await
}

// ---------------------------------------------------------------------------------------------
// Assertions.

fn rule_title(rule: &str) -> &'static str {
    match rule {
        "lookup-threshold" => "Rule 1 (lookup threshold)",
        "composition-identifier" => "Rule 2 (composition identifier)",
        "pll-complete" => "Rule 3 (all PLL entries)",
        "active-prescriptions" => "Rule 4 (active prescriptions)",
        "previous-send" => "Rule 5 (previous send)",
        "multidose-new-lookup" => "Rule 6 (multidose doctor)",
        "all-statements" => "Rule 7 (every statement referenced)",
        "head-of-chain" => "Rule 8 (every head of chain)",
        "pll-statements" => "Rule 9 (every PLL statement)",
        "new-lookup-after-error" => "Rule 10 (new lookup after an error)",
        other => panic!("unknown rule {other}"),
    }
}

/// A rule violation as SFM reports it: `diagnostics` is the text after "Rule N (...): ".
fn violation(rule: &str, diagnostics: &str, expression: Option<&str>) -> Value {
    let title = rule_title(rule);
    let mut issue = json!({
        "severity": "error",
        "code": "business-rule",
        "details": {"coding": [{"system": RULE_SYSTEM, "code": rule, "display": title}]},
        "diagnostics": format!("{title}: {diagnostics}"),
    });
    if let Some(expression) = expression {
        issue["expression"] = json!([expression]);
    }
    issue
}

/// A problem without rule details.
fn problem(code: &str, diagnostics: &str, expression: Option<&str>) -> Value {
    let mut issue = json!({"severity": "error", "code": code, "diagnostics": diagnostics});
    if let Some(expression) = expression {
        issue["expression"] = json!([expression]);
    }
    issue
}

/// The reply is exactly an OperationOutcome with these issues.
#[track_caller]
fn assert_outcome(reply: &Reply, status: StatusCode, issues: &[Value]) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(
        reply.header("content-type"),
        Some(FHIR_JSON),
        "{}",
        reply.text
    );
    assert_eq!(
        reply.json,
        json!({"resourceType": "OperationOutcome", "issue": issues}),
        "{}",
        reply.text
    );
}

/// 422 with exactly these rule violations.
#[track_caller]
fn assert_violations(reply: &Reply, issues: &[Value]) {
    assert_outcome(reply, StatusCode::UNPROCESSABLE_ENTITY, issues);
}

/// 400 with exactly these problems.
#[track_caller]
fn assert_bad_request(reply: &Reply, issues: &[Value]) {
    assert_outcome(reply, StatusCode::BAD_REQUEST, issues);
}

/// A successful send: the result Parameters, with its counts.
#[track_caller]
fn assert_sent(reply: &Reply, prescriptions: i64, recalls: i64) {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("content-type"), Some(FHIR_JSON));
    assert_eq!(reply.json["resourceType"], "Parameters", "{}", reply.text);
    assert_eq!(
        output(&reply.json, "prescriptionCount").unwrap()["valueInteger"],
        prescriptions,
        "{}",
        reply.text
    );
    assert_eq!(
        output(&reply.json, "recallCount").unwrap()["valueInteger"],
        recalls,
        "{}",
        reply.text
    );
}

/// The issue of a missing PLL entry (rule 3).
fn pll_missing(name: &str, pll_id: &str) -> Value {
    violation(
        "pll-complete",
        &format!(
            "the PLL entry '{name}' (PLL id {pll_id}) from $getMedication is missing: a new PLL \
             (createPLL true) must carry every PLL entry except those discontinued more than 3 \
             months ago and those entered-in-error"
        ),
        Some(ENTRIES),
    )
}

/// The issue of a PLL entry missing from a send without a new PLL (rule 9, the SFM Basis guide's
/// "Populating $sendMedication").
fn pll_statement_missing(name: &str, pll_id: &str) -> Value {
    violation(
        "pll-statements",
        &format!(
            "the PLL entry '{name}' (PLL id {pll_id}) from $getMedication is missing, though no \
             new PLL is sent: \"any sfm-MedicationStatement identified as part of PLL shall be \
             returned\" (SFM Basis guide, Populating $sendMedication)"
        ),
        Some(ENTRIES),
    )
}

/// The issue of another statement of the lookup missing from a send (rule 7, the SFM Basis
/// guide's `$sendMedication` page).
fn statement_missing(name: &str, pll_id: &str) -> Value {
    violation(
        "all-statements",
        &format!(
            "the statement '{name}' (PLL id {pll_id}) from $getMedication is missing: \"All \
             medicationStatements represented in getMedication/latest sendMedication must be \
             referred within sendMedication, either as medicationStatement or within recall-info\" \
             (SFM Basis guide, $sendMedication)"
        ),
        Some(ENTRIES),
    )
}

/// After a refused send, SFM requires a new `$getMedication` ("if … SFM respond with
/// operationOutcome (error) the EPJ need to send a new getMedication", SFM Basis guide): makes
/// one for `patient` and points `body` at it.
async fn relookup(app: &TestApp, token: &str, patient: Value, extra: &[Value], body: &mut Value) {
    let bundle = lookup(app, token, patient, extra).await;
    set_relates_to(
        body,
        Some(json!({"code": "replaces", "targetIdentifier": {"value": composition_id(&bundle)}})),
    );
}

/// The issue of a missing active prescription (rule 4).
fn prescription_missing(status: &str, name: &str, resept_id: &str) -> Value {
    violation(
        "active-prescriptions",
        &format!(
            "the {status} prescription '{name}' (ReseptId {resept_id}) from $getMedication is \
             missing: every Ekspederbar and UnderEkspedering prescription must be sent back, as a \
             MedicationStatement (with recallinfo to withdraw it)"
        ),
        Some(ENTRIES),
    )
}

/// The issue of a lookup older than 4 hours (rule 1).
fn too_old(at: &str, age: &str) -> Value {
    violation(
        "lookup-threshold",
        &format!(
            "the latest lookup in Reseptformidleren was at {at}, {age} ago; $sendMedication needs \
             one at most 4 hours old: call $getMedication again"
        ),
        None,
    )
}

fn no_lookup() -> Value {
    violation(
        "lookup-threshold",
        "there is no $getMedication by this user for this patient: call $getMedication (with a \
         lookup in Reseptformidleren) first",
        None,
    )
}

// ---------------------------------------------------------------------------------------------
// Rule 1: the lookup threshold.

#[actix_web::test]
async fn rule_1_a_send_3h59_after_the_lookup_passes() {
    let app = spawn_app().await;
    let bundle = lookup(&app, &didrik(&app).await, line(), &[]).await;
    advance(&app, 3 * 3600 + 59 * 60);
    let token = didrik(&app).await;
    let reply = send_medication(&app, &token, &send_back(&bundle, false)).await;
    assert_sent(&reply, 0, 0);
}

#[actix_web::test]
async fn rule_1_exactly_4_hours_passes() {
    let app = spawn_app().await;
    let bundle = lookup(&app, &didrik(&app).await, line(), &[]).await;
    advance(&app, 4 * 3600);
    let token = didrik(&app).await;
    let reply = send_medication(&app, &token, &send_back(&bundle, false)).await;
    assert_sent(&reply, 0, 0);
}

#[actix_web::test]
async fn rule_1_a_send_4h01_after_the_lookup_fails() {
    let app = spawn_app().await;
    let bundle = lookup(&app, &didrik(&app).await, line(), &[]).await;
    advance(&app, 4 * 3600 + 60);
    let token = didrik(&app).await;
    let reply = send_medication(&app, &token, &send_back(&bundle, false)).await;
    assert_violations(&reply, &[too_old(AT_T0, "4 hours 1 minute")]);
    assert!(
        reply.text.contains("4 hours 1 minute ago"),
        "{}",
        reply.text
    );

    // A new lookup makes the same edit go through.
    let bundle = lookup(&app, &token, line(), &[]).await;
    let reply = send_medication(&app, &token, &send_back(&bundle, false)).await;
    assert_sent(&reply, 0, 0);
}

#[actix_web::test]
async fn rule_1_sends_in_between_do_not_extend_the_lookup() {
    let app = spawn_app().await;
    let bundle = lookup(&app, &didrik(&app).await, line(), &[]).await;
    advance(&app, 3 * 3600);
    let token = didrik(&app).await;
    assert_sent(
        &send_medication(&app, &token, &send_back(&bundle, false)).await,
        0,
        0,
    );
    advance(&app, 3600 + 60);
    let token = didrik(&app).await;
    let reply = send_medication(&app, &token, &send_back(&bundle, false)).await;
    assert_violations(&reply, &[too_old(AT_T0, "4 hours 1 minute")]);
}

#[actix_web::test]
async fn every_violation_is_reported_at_once() {
    let app = spawn_app().await;
    let bundle = lookup(&app, &didrik(&app).await, line(), &[]).await;
    advance(&app, 4 * 3600 + 60);
    let token = didrik(&app).await;
    let id = composition_id(&bundle);
    let mut body = send_back(&bundle, true);
    set_relates_to(
        &mut body,
        Some(json!({"code": "transforms", "targetIdentifier": {"value": id}})),
    );
    leave_out(&mut body, PARACET);
    leave_out(&mut body, ZOPICLONE);
    let reply = send_medication(&app, &token, &body).await;
    assert_violations(
        &reply,
        &[
            too_old(AT_T0, "4 hours 1 minute"),
            violation(
                "composition-identifier",
                "relatesTo.code must be 'replaces', not 'transforms'",
                Some(&format!("{RELATES_TO}[0].code")),
            ),
            pll_missing(PARACET, PARACET_PLL),
            prescription_missing("Ekspederbar", ZOPICLONE, ZOPICLONE_RESEPT),
        ],
    );
}

#[actix_web::test]
async fn without_any_lookup_rules_1_and_2_fail_together() {
    // The document comes from a lookup in another helsesim: this one has none.
    let elsewhere = spawn_app().await;
    let bundle = lookup(&elsewhere, &didrik(&elsewhere).await, line(), &[]).await;
    let body = send_back(&bundle, false);
    let id = composition_id(&bundle);

    let app = spawn_app().await;
    let token = didrik(&app).await;
    let reply = send_medication(&app, &token, &body).await;
    assert_violations(
        &reply,
        &[
            no_lookup(),
            violation(
                "composition-identifier",
                &format!(
                    "'{id}' is not the composition identifier of any $getMedication by this user \
                     for this patient"
                ),
                Some(&format!("{RELATES_TO}[0].targetIdentifier.value")),
            ),
        ],
    );
    assert_eq!(messages(&app, LINE, None).await, Vec::<Value>::new());

    // Where the lookup was made, the same document passes.
    let token = didrik(&elsewhere).await;
    let reply = send_medication(&elsewhere, &token, &body).await;
    assert_sent(&reply, 0, 0);
}

// ---------------------------------------------------------------------------------------------
// Rule 2: relatesTo names the latest $getMedication.

#[actix_web::test]
async fn rule_2_relates_to_in_the_specs_printed_form_and_as_an_r4_list_pass() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let bundle = lookup(&app, &token, line(), &[]).await;
    let id = composition_id(&bundle);

    // As the spec prints it: one object.
    let mut body = send_back(&bundle, false);
    set_relates_to(
        &mut body,
        Some(json!({"code": "replaces", "targetIdentifier": {"value": id}})),
    );
    assert_sent(&send_medication(&app, &token, &body).await, 0, 0);

    // As R4 has it: a list.
    set_relates_to(
        &mut body,
        Some(json!([{"code": "replaces", "targetIdentifier": {"value": id}}])),
    );
    assert_sent(&send_medication(&app, &token, &body).await, 0, 0);
}

#[actix_web::test]
async fn rule_2_missing_relates_to_fails() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let bundle = lookup(&app, &token, line(), &[]).await;
    let mut body = send_back(&bundle, false);
    set_relates_to(&mut body, None);
    let reply = send_medication(&app, &token, &body).await;
    assert_violations(
        &reply,
        &[violation(
            "composition-identifier",
            "the Composition has no relatesTo: add {\"code\": \"replaces\", \"targetIdentifier\": \
             {\"value\": <the $getMedication Composition's identifier.value>}}",
            Some(RELATES_TO),
        )],
    );
    // With it, the same document passes (on a new lookup: the refusal asks for one).
    let mut body = send_back(&bundle, false);
    relookup(&app, &token, line(), &[], &mut body).await;
    assert_sent(&send_medication(&app, &token, &body).await, 0, 0);
}

#[actix_web::test]
async fn rule_2_a_code_other_than_replaces_fails() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let bundle = lookup(&app, &token, line(), &[]).await;
    let id = composition_id(&bundle);
    let mut body = send_back(&bundle, false);
    set_relates_to(
        &mut body,
        Some(json!({"code": "transforms", "targetIdentifier": {"value": id}})),
    );
    let reply = send_medication(&app, &token, &body).await;
    assert_violations(
        &reply,
        &[violation(
            "composition-identifier",
            "relatesTo.code must be 'replaces', not 'transforms'",
            Some(&format!("{RELATES_TO}[0].code")),
        )],
    );
    // 'replaces', on a new lookup (the refusal asks for one), passes.
    relookup(&app, &token, line(), &[], &mut body).await;
    assert_sent(&send_medication(&app, &token, &body).await, 0, 0);
}

#[actix_web::test]
async fn rule_2_an_unknown_identifier_fails() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let bundle = lookup(&app, &token, line(), &[]).await;
    let id = composition_id(&bundle);
    let unknown = uuid::Uuid::new_v4().to_string();
    let mut body = send_back(&bundle, false);
    set_relates_to(
        &mut body,
        Some(json!({"code": "replaces", "targetIdentifier": {"value": unknown}})),
    );
    let reply = send_medication(&app, &token, &body).await;
    assert_violations(
        &reply,
        &[violation(
            "composition-identifier",
            &format!(
                "'{unknown}' is not the composition identifier of any $getMedication by this user \
                 for this patient (the latest is {id})"
            ),
            Some(&format!("{RELATES_TO}[0].targetIdentifier.value")),
        )],
    );
    // The refusal asks for a new lookup; the same document naming it passes.
    relookup(&app, &token, line(), &[], &mut body).await;
    assert_sent(&send_medication(&app, &token, &body).await, 0, 0);
}

#[actix_web::test]
async fn rule_2_a_superseded_identifier_fails() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let first = lookup(&app, &token, line(), &[]).await;
    advance(&app, 60);
    let second = lookup(&app, &token, line(), &[]).await;
    let (old, new) = (composition_id(&first), composition_id(&second));

    let mut body = send_back(&first, false);
    let reply = send_medication(&app, &token, &body).await;
    assert_violations(
        &reply,
        &[violation(
            "composition-identifier",
            &format!(
                "'{old}' names a $getMedication that the newer one of 2026-03-02T10:01:00+00:00 \
                 (composition {new}) superseded: target the latest $getMedication"
            ),
            Some(&format!("{RELATES_TO}[0].targetIdentifier.value")),
        )],
    );
    // The refusal marked the newer lookup too (a refused send asks for a new $getMedication).
    set_relates_to(
        &mut body,
        Some(json!({"code": "replaces", "targetIdentifier": {"value": new}})),
    );
    let reply = send_medication(&app, &token, &body).await;
    assert_eq!(
        reply.json["issue"][0]["details"]["coding"][0]["code"], "new-lookup-after-error",
        "{}",
        reply.text
    );
    // The same document, naming a new lookup, passes.
    relookup(&app, &token, line(), &[], &mut body).await;
    assert_sent(&send_medication(&app, &token, &body).await, 0, 0);
}

#[actix_web::test]
async fn rule_2_another_users_lookup_fails() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let own = lookup(&app, &token, line(), &[]).await;
    let sigrid = app.sfm_token(SFM_READY, SIGRID, None).await;
    let hers = lookup(&app, &sigrid, line(), &[]).await;
    let theirs = composition_id(&hers);

    let reply = send_medication(&app, &token, &send_back(&hers, false)).await;
    assert_violations(
        &reply,
        &[violation(
            "composition-identifier",
            &format!(
                "'{theirs}' is the composition identifier of another user's or another patient's \
                 $getMedication: target your latest $getMedication for this patient"
            ),
            Some(&format!("{RELATES_TO}[0].targetIdentifier.value")),
        )],
    );
    // Didrik's refusal asks him for a new lookup; Sigrid's lookup is untouched.
    let mut body = send_back(&own, false);
    relookup(&app, &token, line(), &[], &mut body).await;
    assert_sent(&send_medication(&app, &token, &body).await, 0, 0);
    assert_sent(
        &send_medication(&app, &sigrid, &send_back(&hers, false)).await,
        0,
        0,
    );
}

#[actix_web::test]
async fn rule_2_another_patients_lookup_fails() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let lines = lookup(&app, &token, line(), &[]).await;
    let pers = composition_id(&lookup(&app, &token, per(), &[]).await);
    let mut body = send_back(&lines, false);
    set_relates_to(
        &mut body,
        Some(json!({"code": "replaces", "targetIdentifier": {"value": pers}})),
    );
    let reply = send_medication(&app, &token, &body).await;
    assert_violations(
        &reply,
        &[violation(
            "composition-identifier",
            &format!(
                "'{pers}' is the composition identifier of another user's or another patient's \
                 $getMedication: target your latest $getMedication for this patient"
            ),
            Some(&format!("{RELATES_TO}[0].targetIdentifier.value")),
        )],
    );
    let mut body = send_back(&lines, false);
    relookup(&app, &token, line(), &[], &mut body).await;
    assert_sent(&send_medication(&app, &token, &body).await, 0, 0);
}

// ---------------------------------------------------------------------------------------------
// Rule 3: a PLL carries every PLL entry.

#[actix_web::test]
async fn rule_3_a_missing_pll_entry_fails_with_a_pll_and_rule_9_without() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let bundle = lookup(&app, &token, line(), &[]).await;
    for (name, pll_id) in [(PARACET, PARACET_PLL), (AMOXICILLIN, AMOXICILLIN_PLL)] {
        let mut body = send_back(&bundle, true);
        relookup(&app, &token, line(), &[], &mut body).await;
        leave_out(&mut body, name);
        let reply = send_medication(&app, &token, &body).await;
        assert_violations(&reply, &[pll_missing(name, pll_id)]);

        // Without a new PLL the spec's rule 3 does not apply, but the SFM Basis guide's does:
        // "any sfm-MedicationStatement identified as part of PLL shall be returned".
        set_create_pll(&mut body, false);
        relookup(&app, &token, line(), &[], &mut body).await;
        let reply = send_medication(&app, &token, &body).await;
        assert_violations(&reply, &[pll_statement_missing(name, pll_id)]);
    }
    let mut body = send_back(&bundle, false);
    relookup(&app, &token, line(), &[], &mut body).await;
    assert_sent(&send_medication(&app, &token, &body).await, 0, 0);
    // Nor did the refused PLLs reach Reseptformidleren.
    assert_eq!(messages(&app, LINE, None).await, Vec::<Value>::new());
}

#[actix_web::test]
async fn rule_3_a_complete_pll_passes() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let bundle = lookup(&app, &token, line(), &[]).await;
    let reply = send_medication(&app, &token, &send_back(&bundle, true)).await;
    assert_sent(&reply, 0, 0);
    assert!(output(&reply.json, "PllResult").is_some(), "{}", reply.text);
}

#[actix_web::test]
async fn rule_3_old_discontinued_and_entered_in_error_entries_may_be_left_out() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let bundle = lookup(&app, &token, line(), &[]).await;
    // The control: a normal entry left out fails.
    let mut body = send_back(&bundle, true);
    leave_out(&mut body, PARACET);
    assert_violations(
        &send_medication(&app, &token, &body).await,
        &[pll_missing(PARACET, PARACET_PLL)],
    );
    // Discontinued 120 days ago (Amoxicillin, 20 days ago, is required: see above) and
    // entered-in-error: each may be left out of a PLL, and of a send.
    for name in [IBUX, OMEPRAZOL] {
        let mut body = send_back(&bundle, true);
        relookup(&app, &token, line(), &[], &mut body).await;
        leave_out(&mut body, name);
        let reply = send_medication(&app, &token, &body).await;
        assert_sent(&reply, 0, 0);
        assert!(output(&reply.json, "PllResult").is_some(), "{name}");
    }
    // A vaccine and a NIB product are not PLL entries (rule 3 does not ask for them), but the
    // SFM Basis guide asks for every statement of the lookup (rule 7).
    for (name, pll_id) in [
        (INFLUVAC, "9a01745d-f009-4d7f-b6c5-6c3a1b8e8cfd"),
        (NUTRIDRINK, "bc527059-b893-477d-a59b-be9827fba297"),
    ] {
        let mut body = send_back(&bundle, true);
        relookup(&app, &token, line(), &[], &mut body).await;
        leave_out(&mut body, name);
        let reply = send_medication(&app, &token, &body).await;
        assert_violations(&reply, &[statement_missing(name, pll_id)]);
    }
    // The exempt two at once.
    let mut body = send_back(&bundle, true);
    relookup(&app, &token, line(), &[], &mut body).await;
    for name in [IBUX, OMEPRAZOL] {
        leave_out(&mut body, name);
    }
    assert_sent(&send_medication(&app, &token, &body).await, 0, 0);
}

// ---------------------------------------------------------------------------------------------
// Rule 4: every active prescription is carried.

#[actix_web::test]
async fn rule_4_a_missing_ekspederbar_prescription_fails_with_or_without_a_pll() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let bundle = lookup(&app, &token, line(), &[]).await;
    for create_pll in [false, true] {
        let mut body = send_back(&bundle, create_pll);
        relookup(&app, &token, line(), &[], &mut body).await;
        leave_out(&mut body, ZOPICLONE);
        let reply = send_medication(&app, &token, &body).await;
        assert_violations(
            &reply,
            &[prescription_missing(
                "Ekspederbar",
                ZOPICLONE,
                ZOPICLONE_RESEPT,
            )],
        );
    }
    for create_pll in [false, true] {
        let mut body = send_back(&bundle, create_pll);
        relookup(&app, &token, line(), &[], &mut body).await;
        assert_sent(&send_medication(&app, &token, &body).await, 0, 0);
    }
}

#[actix_web::test]
async fn rule_4_a_missing_under_ekspedering_prescription_fails_with_or_without_a_pll() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let bundle = lookup(&app, &token, line(), &[]).await;
    let missing = prescription_missing("UnderEkspedering", METFORMIN, METFORMIN_RESEPT);

    // Metformin is a PLL entry too: missed twice, as an active prescription and as a PLL
    // statement (rule 9 without a new PLL, rule 3 with one).
    let mut body = send_back(&bundle, false);
    leave_out(&mut body, METFORMIN);
    let reply = send_medication(&app, &token, &body).await;
    assert_violations(
        &reply,
        &[
            missing.clone(),
            pll_statement_missing(METFORMIN, METFORMIN_PLL),
        ],
    );
    set_create_pll(&mut body, true);
    relookup(&app, &token, line(), &[], &mut body).await;
    let reply = send_medication(&app, &token, &body).await;
    assert_violations(&reply, &[missing, pll_missing(METFORMIN, METFORMIN_PLL)]);

    for create_pll in [false, true] {
        let mut body = send_back(&bundle, create_pll);
        relookup(&app, &token, line(), &[], &mut body).await;
        assert_sent(&send_medication(&app, &token, &body).await, 0, 0);
    }
}

#[actix_web::test]
async fn rule_4_dispensed_and_withdrawn_prescriptions_need_not_be_carried() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let bundle = lookup(&app, &token, line(), &[]).await;

    // Left out altogether: rule 4 does not ask for them, but they are PLL statements, which
    // the SFM Basis guide asks for (rule 9); the Ekspederbar Zopiclone left out fails rule 4.
    let mut body = send_back(&bundle, false);
    leave_out(&mut body, PARACET);
    leave_out(&mut body, AMOXICILLIN);
    leave_out(&mut body, ZOPICLONE);
    assert_violations(
        &send_medication(&app, &token, &body).await,
        &[
            pll_statement_missing(PARACET, PARACET_PLL),
            pll_statement_missing(AMOXICILLIN, AMOXICILLIN_PLL),
            prescription_missing("Ekspederbar", ZOPICLONE, ZOPICLONE_RESEPT),
        ],
    );

    // Kept as PLL entries of a PLL, without their ReseptIds (and the Tilbakekalt one without
    // its recallinfo, which would name its ReseptId): their PLL ids reference them.
    let mut body = send_back(&bundle, true);
    relookup(&app, &token, line(), &[], &mut body).await;
    set_identifiers(
        &mut body,
        PARACET,
        json!([{"use": "usual", "type": {"text": "PLL"}, "value": PARACET_PLL}]),
    );
    set_identifiers(
        &mut body,
        AMOXICILLIN,
        json!([{"use": "usual", "type": {"text": "PLL"}, "value": AMOXICILLIN_PLL}]),
    );
    amendment_mut(statement_mut(&mut body, AMOXICILLIN)).retain(|p| p["url"] != "recallinfo");
    let reply = send_medication(&app, &token, &body).await;
    assert_sent(&reply, 0, 0);
    assert!(output(&reply.json, "PllResult").is_some(), "{}", reply.text);
}

// ---------------------------------------------------------------------------------------------
// Rule 5: later sends keep what earlier ones added.

#[actix_web::test]
async fn rule_5_a_second_send_must_keep_the_first_sends_prescription() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let bundle = lookup(&app, &token, line(), &[]).await;

    let mut first = send_back(&bundle, false);
    let new_id = add_prescription(&mut first, NEW_DRUG, &[]);
    assert_sent(&send_medication(&app, &token, &first).await, 1, 0);

    advance(&app, 60);
    let token = didrik(&app).await;
    let second = send_back(&bundle, false);
    let reply = send_medication(&app, &token, &second).await;
    assert_violations(
        &reply,
        &[violation(
            "previous-send",
            &format!(
                "the prescription '{NEW_DRUG}' (ReseptId {new_id}) that the $sendMedication of \
                 {AT_T0} sent is missing: later sends on the same $getMedication must keep what \
                 earlier ones added"
            ),
            Some(ENTRIES),
        )],
    );

    // With the first send's statement (no longer asking to create it), the second passes.
    let mut second = second;
    let statement_index = entry_index(&first, NEW_DRUG);
    let mut statement = entries(&first)[statement_index].clone();
    amendment_mut(&mut statement["resource"]).retain(|p| p["url"] != "createresept");
    let medication = entries(&first)[statement_index + 1].clone();
    entries_mut(&mut second).extend([statement, medication]);
    relookup(&app, &token, line(), &[], &mut second).await;
    assert_sent(&send_medication(&app, &token, &second).await, 0, 0);
    assert_eq!(messages(&app, LINE, Some("M1")).await.len(), 1);
}

#[actix_web::test]
async fn rule_5_a_second_pll_must_keep_the_first_pll_s_new_entry() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let bundle = lookup(&app, &token, line(), &[]).await;

    let mut first = send_back(&bundle, true);
    let pll_id = add_pll_entry(&mut first, NEW_DRUG);
    let reply = send_medication(&app, &token, &first).await;
    assert_sent(&reply, 0, 0);
    assert!(output(&reply.json, "PllResult").is_some(), "{}", reply.text);

    advance(&app, 60);
    let token = didrik(&app).await;
    let mut second = send_back(&bundle, true);
    let reply = send_medication(&app, &token, &second).await;
    assert_violations(
        &reply,
        &[violation(
            "previous-send",
            &format!(
                "the PLL entry '{NEW_DRUG}' (PLL id {pll_id}) that the $sendMedication of {AT_T0} \
                 sent is missing: later sends on the same $getMedication must keep what earlier \
                 ones added"
            ),
            Some(ENTRIES),
        )],
    );
    let index = entry_index(&first, NEW_DRUG);
    entries_mut(&mut second).extend(entries(&first)[index..index + 2].iter().cloned());
    relookup(&app, &token, line(), &[], &mut second).await;
    assert_sent(&send_medication(&app, &token, &second).await, 0, 0);
}

#[actix_web::test]
async fn a_refused_send_adds_nothing_later_sends_must_carry() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let bundle = lookup(&app, &token, line(), &[]).await;
    let mut refused = send_back(&bundle, false);
    add_prescription(&mut refused, NEW_DRUG, &[]);
    leave_out(&mut refused, ZOPICLONE);
    assert_violations(
        &send_medication(&app, &token, &refused).await,
        &[prescription_missing(
            "Ekspederbar",
            ZOPICLONE,
            ZOPICLONE_RESEPT,
        )],
    );
    // The next send on the same lookup is refused: "if … SFM respond with operationOutcome
    // (error) the EPJ need to send a new getMedication" (SFM Basis guide, $sendMedication).
    let mut body = send_back(&bundle, false);
    assert_violations(
        &send_medication(&app, &token, &body).await,
        &[violation(
            "new-lookup-after-error",
            &format!(
                "a $sendMedication based on the $getMedication of {AT_T0} was refused at {AT_T0}, \
                 and \"if EPJ do not receive response from SFM or SFM respond with \
                 operationOutcome (error) the EPJ need to send a new getMedication\" (SFM Basis \
                 guide, $sendMedication): call $getMedication again"
            ),
            None,
        )],
    );
    // On a new lookup it passes, and is not asked for the refused prescription.
    relookup(&app, &token, line(), &[], &mut body).await;
    assert_sent(&send_medication(&app, &token, &body).await, 0, 0);
}

// ---------------------------------------------------------------------------------------------
// Rule 6: the multidose doctor, and the patient without national id.

#[actix_web::test]
async fn rule_6_a_multidose_doctor_needs_a_new_lookup_between_sends() {
    let app = spawn_app().await;
    let token = didrik_at_nordby(&app).await;
    let bundle = lookup(&app, &token, ola(), &[]).await;
    advance(&app, 60);
    let reply = send_medication(&app, &token, &send_back(&bundle, false)).await;
    assert_sent(&reply, 0, 0);

    advance(&app, 60);
    let reply = send_medication(&app, &token, &send_back(&bundle, false)).await;
    assert_violations(
        &reply,
        &[violation(
            "multidose-new-lookup",
            &format!(
                "this organisation is a multidose doctor's, and a $sendMedication based on the \
                 $getMedication of {AT_T0} was already made (at 2026-03-02T10:01:00+00:00): call \
                 $getMedication again before each send"
            ),
            None,
        )],
    );

    // A new lookup in between: the second send goes through.
    let bundle = lookup(&app, &token, ola(), &[]).await;
    let reply = send_medication(&app, &token, &send_back(&bundle, false)).await;
    assert_sent(&reply, 0, 0);
}

#[actix_web::test]
async fn rule_6_a_refused_send_is_no_send_for_the_multidose_doctor() {
    let app = spawn_app().await;
    let token = didrik_at_nordby(&app).await;
    let bundle = lookup(&app, &token, ola(), &[]).await;
    let mut refused = send_back(&bundle, false);
    leave_out(&mut refused, "Levaxin tab 50 mikrog");
    assert_violations(
        &send_medication(&app, &token, &refused).await,
        &[
            prescription_missing(
                "Ekspederbar",
                "Levaxin tab 50 mikrog",
                "4a22df27-b6c5-4cef-8ad4-e4518438f485",
            ),
            pll_statement_missing(
                "Levaxin tab 50 mikrog",
                "699b801b-baf9-4667-b054-f639efc21a1b",
            ),
        ],
    );
    // The retry on the same lookup needs a new lookup (rule 10), but the refused send did not
    // count as a send: rule 6 does not speak.
    let mut body = send_back(&bundle, false);
    let reply = send_medication(&app, &token, &body).await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text
    );
    let rules: Vec<&Value> = reply.json["issue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["details"]["coding"][0]["code"])
        .collect();
    assert_eq!(rules, [&json!("new-lookup-after-error")], "{}", reply.text);
    relookup(&app, &token, ola(), &[], &mut body).await;
    assert_sent(&send_medication(&app, &token, &body).await, 0, 0);
}

#[actix_web::test]
async fn rule_6_a_second_send_on_the_same_lookup_is_fine_outside_a_multidose_doctor() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let bundle = lookup(&app, &token, ola(), &[]).await;
    for _ in 0..2 {
        advance(&app, 60);
        let reply = send_medication(&app, &token, &send_back(&bundle, false)).await;
        assert_sent(&reply, 0, 0);
    }
}

#[actix_web::test]
async fn rule_6_no_threshold_for_a_patient_without_national_id() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let refnum = param_string("Referansenummer", EPJ_REFNUM);
    let epj = lookup(&app, &token, epj_patient(), &[refnum]).await;
    assert_eq!(names(&epj), [EPJ_CETIRIZIN]);
    let lines = lookup(&app, &token, line(), &[]).await;

    advance(&app, 5 * 3600);
    let token = didrik(&app).await;
    let reply = send_medication(&app, &token, &send_body(&epj)).await;
    assert_sent(&reply, 0, 0);
    let reply = send_medication(&app, &token, &send_back(&lines, false)).await;
    assert_violations(&reply, &[too_old(AT_T0, "5 hours")]);
}

// ---------------------------------------------------------------------------------------------
// Nothing changes on failure; what a successful send does.

/// Line's document with a new prescription, Atorvastatin withdrawn and a PLL.
fn busy_send(bundle: &Value) -> (Value, String) {
    let mut body = send_back(bundle, true);
    withdraw(&mut body, ATORVASTATIN, None);
    let new_id = add_prescription(&mut body, NEW_DRUG, &[]);
    (body, new_id)
}

#[actix_web::test]
async fn a_refused_send_changes_nothing() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let before = lookup(&app, &token, line(), &[]).await;
    let (mut body, _) = busy_send(&before);
    leave_out(&mut body, ZOPICLONE);
    let reply = send_medication(&app, &token, &body).await;
    assert_violations(
        &reply,
        &[prescription_missing(
            "Ekspederbar",
            ZOPICLONE,
            ZOPICLONE_RESEPT,
        )],
    );

    let after = lookup(&app, &token, line(), &[]).await;
    assert_eq!(
        comparable_statements(&after),
        comparable_statements(&before)
    );
    assert_eq!(
        pll_info(&after).unwrap()["id"],
        pll_info(&before).unwrap()["id"]
    );
    assert_eq!(messages(&app, LINE, None).await, Vec::<Value>::new());

    // The control: the same send with Zopiclone changes the next lookup and sends messages.
    let (body, new_id) = busy_send(&after);
    let reply = send_medication(&app, &token, &body).await;
    assert_sent(&reply, 1, 1);
    let changed = lookup(&app, &token, line(), &[]).await;
    assert_ne!(
        comparable_statements(&changed),
        comparable_statements(&before)
    );
    assert!(find_statement(&changed, NEW_DRUG).is_some());
    let kinds: Vec<(Value, Value)> = messages(&app, LINE, None)
        .await
        .iter()
        .map(|m| (m["type"].clone(), m["resept_id"].clone()))
        .collect();
    assert_eq!(
        kinds,
        [
            (json!("M5"), json!(ATORVASTATIN_RESEPT)),
            (json!("M1"), json!(new_id)),
            (json!("M25.1"), Value::Null),
        ]
    );
}

#[actix_web::test]
async fn a_new_prescription_is_ekspederbar_in_the_next_lookup() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let bundle = lookup(&app, &token, line(), &[]).await;
    assert!(find_statement(&bundle, NEW_DRUG).is_none());
    let mut body = send_back(&bundle, false);
    let new_id = add_prescription(&mut body, NEW_DRUG, &[]);
    let reply = send_medication(&app, &token, &body).await;
    assert_sent(&reply, 1, 0);
    assert_eq!(
        output(&reply.json, "prescriptionOperationResult").unwrap()["part"],
        json!([
            {"name": "reseptID", "valueString": new_id},
            {"name": "resultCode",
             "valueCoding": {"system": "http://ehelse.no/fhir/CodeSystem/sfm-kj-rf-error-code",
                             "code": "0", "display": "OK"}}
        ]),
        "no refnum asked for, none given: {}",
        reply.text
    );

    let next = lookup(&app, &token, line(), &[]).await;
    let statement = find_statement(&next, NEW_DRUG).unwrap();
    assert_eq!(identifier(statement, "ReseptId"), Some(new_id.clone()));
    assert_eq!(rf_status(statement), Some("E"));
    assert_eq!(amendment_part(statement, "refnum"), None);
    assert_eq!(amendment_part(statement, "createresept"), None);

    let m1 = messages(&app, LINE, Some("M1")).await;
    assert_eq!(m1.len(), 1, "{m1:?}");
    assert_eq!(m1[0]["resept_id"], json!(new_id));
    assert_eq!(m1[0]["patient"], LINE);
    assert_eq!(m1[0]["sfm_id"], FJORDBYEN);
    assert_eq!(m1[0]["sender_pid"], DIDRIK);
    assert_eq!(m1[0]["sent"], "2026-03-02T10:00:00.000Z");
    assert!(m1[0].get("refnum").is_none(), "{m1:?}");
    // The new prescription is now one every later send must carry (rule 4).
    let mut body = send_back(&next, false);
    leave_out(&mut body, NEW_DRUG);
    assert_violations(
        &send_medication(&app, &token, &body).await,
        &[prescription_missing("Ekspederbar", NEW_DRUG, &new_id)],
    );
}

#[actix_web::test]
async fn a_new_prescription_for_a_patient_without_national_id_gets_a_refnum() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let known = param_string("Referansenummer", EPJ_REFNUM);
    let bundle = lookup(&app, &token, epj_patient(), std::slice::from_ref(&known)).await;
    let mut body = send_back(&bundle, false);
    let new_id = add_prescription(&mut body, NEW_DRUG, &[]);
    let reply = send_medication(&app, &token, &body).await;
    assert_sent(&reply, 1, 0);
    let parts = &output(&reply.json, "prescriptionOperationResult").unwrap()["part"];
    assert_eq!(parts[0], json!({"name": "reseptID", "valueString": new_id}));
    assert_eq!(parts[1]["name"], "refnum", "{}", reply.text);
    let refnum = parts[1]["valueString"].as_str().unwrap().to_owned();

    // Reseptformidleren finds it by that reference number, and only by it.
    let found = lookup(
        &app,
        &token,
        epj_patient(),
        &[param_string("Referansenummer", &refnum)],
    )
    .await;
    assert_eq!(names(&found), [NEW_DRUG]);
    let old = lookup(&app, &token, epj_patient(), &[known]).await;
    assert_eq!(names(&old), [EPJ_CETIRIZIN]);
    let none = lookup(&app, &token, epj_patient(), &[]).await;
    assert_eq!(names(&none), Vec::<String>::new());
    let key = format!("{EPJ_SYSTEM}|{EPJ_ID}");
    let m1 = messages(&app, &key, Some("M1")).await;
    assert_eq!(m1.len(), 1, "{m1:?}");
    assert_eq!(m1[0]["refnum"], json!(refnum));
}

#[actix_web::test]
async fn one_resept_id_for_two_new_prescriptions_is_refused() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let bundle = lookup(&app, &token, line(), &[]).await;
    let mut body = send_back(&bundle, false);
    let first = add_prescription(&mut body, NEW_DRUG, &[]);
    add_prescription(&mut body, "Enalapril tab 10 mg", &[]);
    let index = entry_index(&body, "Enalapril tab 10 mg");
    set_identifiers(
        &mut body,
        "Enalapril tab 10 mg",
        json!([resept_identifier(&first)]),
    );
    let reply = send_medication(&app, &token, &body).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    let issues = reply.json["issue"].as_array().unwrap();
    assert_eq!(issues.len(), 1, "{}", reply.text);
    assert_eq!(issues[0]["code"], "duplicate", "{}", reply.text);
    assert!(
        issues[0]["diagnostics"].as_str().unwrap().contains(&first),
        "{}",
        reply.text
    );
    assert_eq!(
        issues[0]["expression"],
        json!([format!(
            "Parameters.parameter[0].resource.entry[{index}].resource.identifier"
        )]),
        "{}",
        reply.text
    );
    assert_eq!(messages(&app, LINE, None).await, Vec::<Value>::new());

    // The control: two GUIDs, two prescriptions (on a new lookup: the refusal asks for one).
    set_identifiers(
        &mut body,
        "Enalapril tab 10 mg",
        json!([resept_identifier(&uuid::Uuid::new_v4().to_string())]),
    );
    relookup(&app, &token, line(), &[], &mut body).await;
    assert_sent(&send_medication(&app, &token, &body).await, 2, 0);
}

#[actix_web::test]
async fn refnum_0_asks_for_a_reference_number() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let bundle = lookup(&app, &token, line(), &[]).await;
    let mut body = send_back(&bundle, false);
    let new_id = add_prescription(
        &mut body,
        NEW_DRUG,
        &[json!({"url": "refnum", "valueString": "0"})],
    );
    let reply = send_medication(&app, &token, &body).await;
    assert_sent(&reply, 1, 0);
    let parts = output(&reply.json, "prescriptionOperationResult").unwrap()["part"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(parts[0], json!({"name": "reseptID", "valueString": new_id}));
    assert_eq!(parts[1]["name"], "refnum", "{}", reply.text);
    let refnum = parts[1]["valueString"].as_str().unwrap().to_owned();
    assert_eq!(refnum.len(), 9, "{refnum}");
    assert!(
        refnum
            .chars()
            .all(|c| "ABCDEFGHJKLMNPQRSTUVWXYZ23456789".contains(c)),
        "{refnum}"
    );

    let next = lookup(&app, &token, line(), &[]).await;
    let statement = find_statement(&next, NEW_DRUG).unwrap();
    assert_eq!(
        amendment_part(statement, "refnum"),
        Some(&json!({"url": "refnum", "valueString": refnum}))
    );
    let m1 = messages(&app, LINE, Some("M1")).await;
    assert_eq!(m1[0]["refnum"], json!(refnum));
}

#[actix_web::test]
async fn withdrawing_an_ekspederbar_prescription_takes_it_out_of_the_active_set() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let bundle = lookup(&app, &token, line(), &[]).await;
    let mut body = send_back(&bundle, false);
    withdraw(&mut body, ZOPICLONE, None);
    let reply = send_medication(&app, &token, &body).await;
    assert_sent(&reply, 0, 1);
    assert_eq!(
        output(&reply.json, "prescriptionOperationResult").unwrap()["part"][0],
        json!({"name": "reseptID", "valueString": ZOPICLONE_RESEPT})
    );

    // Tilbakekalt and outside the PLL: the next lookup no longer shows it, and no send needs it.
    let next = lookup(&app, &token, line(), &[]).await;
    assert!(
        find_statement(&next, ZOPICLONE).is_none(),
        "{:?}",
        names(&next)
    );
    let mut body = send_back(&next, false);
    assert_sent(&send_medication(&app, &token, &body).await, 0, 0);
    // While the Ekspederbar Atorvastatin (a PLL entry too) is still needed.
    leave_out(&mut body, ATORVASTATIN);
    assert_violations(
        &send_medication(&app, &token, &body).await,
        &[
            prescription_missing("Ekspederbar", ATORVASTATIN, ATORVASTATIN_RESEPT),
            pll_statement_missing(ATORVASTATIN, ATORVASTATIN_PLL),
        ],
    );

    let m5 = messages(&app, LINE, Some("M5")).await;
    assert_eq!(m5.len(), 1, "{m5:?}");
    assert_eq!(m5[0]["resept_id"], ZOPICLONE_RESEPT);
    assert_eq!(m5[0]["recall_code"], "2");
}

#[actix_web::test]
async fn withdrawing_a_pll_entrys_prescription_shows_it_tilbakekalt() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let bundle = lookup(&app, &token, line(), &[]).await;
    assert_eq!(
        rf_status(find_statement(&bundle, ATORVASTATIN).unwrap()),
        Some("E")
    );
    let mut body = send_back(&bundle, false);
    withdraw(&mut body, ATORVASTATIN, None);
    assert_sent(&send_medication(&app, &token, &body).await, 0, 1);

    let next = lookup(&app, &token, line(), &[]).await;
    assert_eq!(
        rf_status(find_statement(&next, ATORVASTATIN).unwrap()),
        Some("T")
    );
    // No longer an active prescription (rule 4 is silent), but still a PLL statement the
    // SFM Basis guide asks for (rule 9).
    let mut body = send_back(&next, false);
    leave_out(&mut body, ATORVASTATIN);
    assert_violations(
        &send_medication(&app, &token, &body).await,
        &[pll_statement_missing(ATORVASTATIN, ATORVASTATIN_PLL)],
    );
}

#[actix_web::test]
async fn withdrawing_a_prescription_under_dispensing_keeps_it_active() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let bundle = lookup(&app, &token, line(), &[]).await;
    let before = find_statement(&bundle, METFORMIN).unwrap();
    assert_eq!(rf_status(before), Some("U"));
    assert_eq!(
        amendment_part(before, "rfstatus").unwrap()["extension"][0],
        json!({"url": "nameDispenser", "valueString": "Vitusapotek Sjøkanten"})
    );
    let mut body = send_back(&bundle, false);
    withdraw(&mut body, METFORMIN, None);
    let reply = send_medication(&app, &token, &body).await;
    assert_sent(&reply, 0, 1);

    let next = lookup(&app, &token, line(), &[]).await;
    let statement = find_statement(&next, METFORMIN).unwrap();
    assert_eq!(
        amendment_part(statement, "rfstatus").unwrap()["extension"],
        json!([
            {"url": "nameDispenser", "valueString": "Vitusapotek Sjøkanten"},
            {"url": "recallStatus", "valueBoolean": false},
            {"url": "status",
             "valueCodeableConcept": {"coding": [{"system": "urn:oid:2.16.578.1.12.4.1.1.7408",
                                                  "code": "U", "display": "Under ekspedering"}]}}
        ])
    );
    // Still active: every send must carry it.
    let mut body = send_back(&next, false);
    leave_out(&mut body, METFORMIN);
    assert_violations(
        &send_medication(&app, &token, &body).await,
        &[
            prescription_missing("UnderEkspedering", METFORMIN, METFORMIN_RESEPT),
            pll_statement_missing(METFORMIN, METFORMIN_PLL),
        ],
    );
    let m5 = messages(&app, LINE, Some("M5")).await;
    assert_eq!(m5.len(), 1, "{m5:?}");
    assert_eq!(m5[0]["resept_id"], METFORMIN_RESEPT);
}

#[actix_web::test]
async fn create_pll_sends_an_m25_1() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let bundle = lookup(&app, &token, line(), &[]).await;

    // Without createPLL: no PLL result, no M25.1.
    let reply = send_medication(&app, &token, &send_back(&bundle, false)).await;
    assert_sent(&reply, 0, 0);
    assert!(output(&reply.json, "PllResult").is_none(), "{}", reply.text);
    assert_eq!(
        messages(&app, LINE, Some("M25.1")).await,
        Vec::<Value>::new()
    );

    let reply = send_medication(&app, &token, &send_back(&bundle, true)).await;
    assert_sent(&reply, 0, 0);
    let result = output(&reply.json, "PllResult").unwrap()["part"].clone();
    let message_id = result[0]["valueString"].as_str().unwrap().to_owned();
    assert_eq!(
        result,
        json!([
            {"name": "PllmessageID", "valueString": message_id},
            {"name": "resultCode",
             "valueCoding": {"system": "http://ehelse.no/fhir/CodeSystem/sfm-kj-rf-error-code",
                             "code": "0", "display": "OK"}}
        ])
    );
    uuid::Uuid::parse_str(&message_id).unwrap();

    let m25 = messages(&app, LINE, Some("M25.1")).await;
    assert_eq!(m25.len(), 1, "{m25:?}");
    assert_eq!(m25[0]["id"], json!(message_id));
    assert_eq!(m25[0]["sender_pid"], DIDRIK);
    assert!(m25[0].get("resept_id").is_none(), "{m25:?}");
    // The next lookup reads the new PLL.
    let next = lookup(&app, &token, line(), &[]).await;
    assert_eq!(pll_info(&next).unwrap()["id"], json!(message_id));
}

// ---------------------------------------------------------------------------------------------
// Structural refusals.

#[actix_web::test]
async fn the_body_must_be_a_parameters_with_a_medication_document() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let bundle = lookup(&app, &token, line(), &[]).await;
    let good = send_back(&bundle, false);

    // The bundle itself, not in Parameters.
    let reply = send_medication(&app, &token, &good["parameter"][0]["resource"]).await;
    assert_bad_request(
        &reply,
        &[problem(
            "structure",
            "expected a Parameters, got resourceType 'Bundle'",
            None,
        )],
    );

    // A misspelt element deep inside: the strict R4 parse refuses it.
    let mut body = good.clone();
    let statement = statement_mut(&mut body, PARACET).as_object_mut().unwrap();
    let status = statement.remove("status").unwrap();
    statement.insert("stauts".to_owned(), status);
    let reply = send_medication(&app, &token, &body).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    let issues = reply.json["issue"].as_array().unwrap();
    assert_eq!(issues.len(), 1, "{}", reply.text);
    assert_eq!(issues[0]["code"], "structure");
    assert!(
        issues[0]["diagnostics"]
            .as_str()
            .unwrap()
            .starts_with("not a valid FHIR R4 Parameters: unknown field `stauts`, expected one of"),
        "{}",
        reply.text
    );

    // No medication parameter.
    let reply = send_medication(&app, &token, &json!({"resourceType": "Parameters"})).await;
    let required = problem(
        "required",
        "$sendMedication needs the parameter medication: the sfm-MedicationBundle from \
         $getMedication, edited",
        Some("Parameters.parameter[0].resource"),
    );
    assert_bad_request(&reply, std::slice::from_ref(&required));
    let mut body = good.clone();
    body["parameter"][0]["name"] = json!("medisin");
    let reply = send_medication(&app, &token, &body).await;
    assert_bad_request(
        &reply,
        &[
            problem(
                "not-supported",
                "Unknown parameter 'medisin' for $sendMedication; it takes medication (the edited \
                 sfm-MedicationBundle)",
                Some("Parameters.parameter[0]"),
            ),
            required,
        ],
    );

    // Not a document.
    let mut body = good.clone();
    body["parameter"][0]["resource"]["type"] = json!("collection");
    let reply = send_medication(&app, &token, &body).await;
    assert_bad_request(
        &reply,
        &[problem(
            "invalid",
            "The medication Bundle must be of type 'document'",
            Some("Parameters.parameter[0].resource.type"),
        )],
    );

    // The Composition not first.
    let mut body = good.clone();
    entries_mut(&mut body).swap(0, 1);
    let reply = send_medication(&app, &token, &body).await;
    assert_bad_request(
        &reply,
        &[problem(
            "required",
            "The first entry of the document must be its Composition",
            Some("Parameters.parameter[0].resource.entry[0]"),
        )],
    );

    // The control: the unbroken document passes.
    assert_sent(&send_medication(&app, &token, &good).await, 0, 0);
}

#[actix_web::test]
async fn statements_must_say_what_they_are_and_references_resolve() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let bundle = lookup(&app, &token, line(), &[]).await;
    let good = send_back(&bundle, false);

    // A urn:uuid reference that names no entry.
    let dangling = format!("urn:uuid:{}", uuid::Uuid::new_v4());
    let mut body = good.clone();
    let index = entry_index(&body, IBUX);
    statement_mut(&mut body, IBUX)["informationSource"] = json!({"reference": dangling});
    let reply = send_medication(&app, &token, &body).await;
    assert_bad_request(
        &reply,
        &[problem(
            "invalid",
            &format!("The reference {dangling} does not resolve to an entry of the document"),
            Some(&format!(
                "Parameters.parameter[0].resource.entry[{index}].resource.informationSource.\
                 reference"
            )),
        )],
    );

    // A statement with neither a PLL id nor a ReseptId.
    let mut body = good.clone();
    set_identifiers(&mut body, IBUX, json!([]));
    let reply = send_medication(&app, &token, &body).await;
    assert_bad_request(
        &reply,
        &[problem(
            "required",
            "The MedicationStatement 'Ibux tab 400 mg' needs an identifier with type.text 'PLL' or \
             'ReseptId'",
            Some(&format!(
                "Parameters.parameter[0].resource.entry[{index}].resource.identifier"
            )),
        )],
    );

    // A PLL-info without createPLL.
    let mut body = send_body(&bundle);
    let basic = entries(&body)
        .iter()
        .position(|e| e["resource"]["resourceType"] == "Basic")
        .unwrap();
    let reply = send_medication(&app, &token, &body).await;
    assert_bad_request(
        &reply,
        &[problem(
            "required",
            "createPLL is mandatory in the sfm-PLL-info's sfm-pllInformation extension \
             (valueBoolean): true to send a new PLL, false not to",
            Some(&format!(
                "Parameters.parameter[0].resource.entry[{basic}].resource.extension"
            )),
        )],
    );
    set_create_pll(&mut body, false);
    assert_sent(&send_medication(&app, &token, &body).await, 0, 0);
    assert_sent(&send_medication(&app, &token, &good).await, 0, 0);
}

#[actix_web::test]
async fn a_new_prescription_needs_a_new_guid_as_resept_id() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let bundle = lookup(&app, &token, line(), &[]).await;
    let mut good = send_back(&bundle, false);
    let new_id = add_prescription(&mut good, NEW_DRUG, &[]);
    let index = entry_index(&good, NEW_DRUG);
    let at = format!("Parameters.parameter[0].resource.entry[{index}].resource.identifier");

    // No ReseptId at all.
    let mut body = good.clone();
    set_identifiers(&mut body, NEW_DRUG, json!([]));
    let reply = send_medication(&app, &token, &body).await;
    assert_bad_request(
        &reply,
        &[
            problem(
                "required",
                &format!(
                    "The MedicationStatement '{NEW_DRUG}' needs an identifier with type.text 'PLL' \
                     or 'ReseptId'"
                ),
                Some(&at),
            ),
            problem(
                "required",
                &format!(
                    "The new prescription '{NEW_DRUG}' (createresept) needs an identifier with \
                     type.text 'ReseptId': a new GUID"
                ),
                Some(&at),
            ),
        ],
    );
    // Only a PLL id.
    let mut body = good.clone();
    let pll_id = uuid::Uuid::new_v4().to_string();
    set_identifiers(
        &mut body,
        NEW_DRUG,
        json!([{"use": "usual", "type": {"text": "PLL"}, "value": pll_id}]),
    );
    let reply = send_medication(&app, &token, &body).await;
    assert_bad_request(
        &reply,
        &[problem(
            "required",
            &format!(
                "The new prescription '{NEW_DRUG}' (createresept) needs an identifier with \
                 type.text 'ReseptId': a new GUID"
            ),
            Some(&at),
        )],
    );
    // Not a GUID.
    let mut body = good.clone();
    set_identifiers(&mut body, NEW_DRUG, json!([resept_identifier("resept-1")]));
    let reply = send_medication(&app, &token, &body).await;
    assert_bad_request(
        &reply,
        &[problem(
            "invalid",
            &format!(
                "The new prescription '{NEW_DRUG}' has ReseptId 'resept-1', which is not a GUID: \
                 the EHR makes a new GUID for each prescription"
            ),
            Some(&at),
        )],
    );
    // A ReseptId Reseptformidleren already holds (Atorvastatin's).
    let mut body = good.clone();
    set_identifiers(
        &mut body,
        NEW_DRUG,
        json!([resept_identifier(ATORVASTATIN_RESEPT)]),
    );
    let reply = send_medication(&app, &token, &body).await;
    assert_bad_request(
        &reply,
        &[problem(
            "duplicate",
            &format!(
                "The new prescription '{NEW_DRUG}' has ReseptId {ATORVASTATIN_RESEPT}, which \
                 Reseptformidleren already holds: a new prescription needs a new GUID"
            ),
            Some(&at),
        )],
    );
    assert_eq!(messages(&app, LINE, None).await, Vec::<Value>::new());

    // The control: a fresh GUID passes (on a new lookup: the refusal asks for one).
    let mut good = good;
    relookup(&app, &token, line(), &[], &mut good).await;
    let reply = send_medication(&app, &token, &good).await;
    assert_sent(&reply, 1, 0);
    let m1 = messages(&app, LINE, Some("M1")).await;
    assert_eq!(m1.len(), 1);
    assert_eq!(m1[0]["resept_id"], json!(new_id));
}

#[actix_web::test]
async fn withdrawals_must_name_a_prescription_that_can_be_withdrawn() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let bundle = lookup(&app, &token, line(), &[]).await;
    let good = send_back(&bundle, false);

    // recallId naming a prescription RF does not hold.
    let unknown = uuid::Uuid::new_v4().to_string();
    let mut body = good.clone();
    withdraw(&mut body, ATORVASTATIN, Some(&unknown));
    let index = entry_index(&body, ATORVASTATIN);
    let reply = send_medication(&app, &token, &body).await;
    assert_bad_request(
        &reply,
        &[problem(
            "not-found",
            &format!(
                "The withdrawal (recallinfo) of '{ATORVASTATIN}' names ReseptId {unknown}, which \
                 Reseptformidleren does not hold for this patient"
            ),
            Some(&format!(
                "Parameters.parameter[0].resource.entry[{index}].resource.extension"
            )),
        )],
    );

    // The fully dispensed Paracet.
    let mut body = good.clone();
    relookup(&app, &token, line(), &[], &mut body).await;
    withdraw(&mut body, PARACET, None);
    let index = entry_index(&body, PARACET);
    let reply = send_medication(&app, &token, &body).await;
    assert_bad_request(
        &reply,
        &[problem(
            "business-rule",
            &format!(
                "The prescription '{PARACET}' (ReseptId {PARACET_RESEPT}) is fully dispensed \
                 (Ekspedert) and cannot be withdrawn"
            ),
            Some(&format!(
                "Parameters.parameter[0].resource.entry[{index}].resource.extension"
            )),
        )],
    );
    assert_eq!(messages(&app, LINE, None).await, Vec::<Value>::new());

    // The control: recallId naming the Ekspederbar Atorvastatin itself passes.
    let mut body = good.clone();
    relookup(&app, &token, line(), &[], &mut body).await;
    withdraw(&mut body, ATORVASTATIN, Some(ATORVASTATIN_RESEPT));
    assert_sent(&send_medication(&app, &token, &body).await, 0, 1);
}

#[actix_web::test]
async fn transport_problems_are_refused_before_the_rules() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let bundle = lookup(&app, &token, line(), &[]).await;
    let good = serde_json::to_vec(&send_back(&bundle, false)).unwrap();
    let path = "/Patient/$sendMedication";

    let reply = post_raw(&app, path, Some(&token), "text/plain", good.clone()).await;
    assert_outcome(
        &reply,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        &[problem(
            "not-supported",
            "Content-Type must be application/fhir+json, got 'text/plain'",
            None,
        )],
    );

    let reply = post_raw(
        &app,
        path,
        Some(&token),
        "application/fhir+json",
        br#"{"resourceType": "Parameters","#.to_vec(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert_eq!(reply.json["issue"].as_array().unwrap().len(), 1);
    assert_eq!(reply.json["issue"][0]["code"], "structure");
    assert!(
        reply.json["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .starts_with("The body is not valid JSON: "),
        "{}",
        reply.text
    );

    let reply = post_raw(&app, path, None, "application/fhir+json", good.clone()).await;
    assert_outcome(
        &reply,
        StatusCode::UNAUTHORIZED,
        &[problem(
            "login",
            "No access token: send 'Authorization: Bearer <token>' (or 'DPoP <token>' with a DPoP \
             proof)",
            None,
        )],
    );

    // The control: the same bytes as application/fhir+json, with the token, pass.
    let reply = post_raw(&app, path, Some(&token), "application/fhir+json", good).await;
    assert_sent(&reply, 0, 0);
}

#[actix_web::test]
async fn medication_operations_need_an_hpr_number() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let bundle = lookup(&app, &token, line(), &[]).await;
    let body = send_back(&bundle, false);

    // Henrik is no user of Fjordbyen in the fixtures.
    let henrik = app.sfm_token(SFM_READY, HENRIK, None).await;
    let reply = send_medication(&app, &henrik, &body).await;
    assert_outcome(
        &reply,
        StatusCode::FORBIDDEN,
        &[problem(
            "forbidden",
            &format!(
                "The user {HENRIK} is not registered in this SFM instance: a superuser registers \
                 users as Person or Practitioner"
            ),
            None,
        )],
    );
    // Registered as a Practitioner, he still has no HPR number.
    let reply = app
        .fhir(
            "POST",
            "/Practitioner",
            Some(&token),
            Some(&json!({
                "resourceType": "Practitioner",
                "identifier": [{"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": HENRIK}],
                "name": [{"family": "Helsesekretær", "given": ["Henrik"]}]
            })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let henrik = app.sfm_token(SFM_READY, HENRIK, None).await;
    let (_, claims) = decode_jwt(&henrik);
    assert!(claims.get("helseid://claims/hpr/hpr_number").is_none());
    for operation in ["$getMedication", "$sendMedication"] {
        let reply = if operation == "$getMedication" {
            get_medication(&app, &henrik, line(), &[]).await
        } else {
            send_medication(&app, &henrik, &body).await
        };
        assert_outcome(
            &reply,
            StatusCode::FORBIDDEN,
            &[problem(
                "forbidden",
                &format!(
                    "{operation} needs an authorised health professional: the user {HENRIK} has no \
                     HPR number in the token (claim helseid://claims/hpr/hpr_number; scope \
                     helseid://scopes/hpr/hpr_number)"
                ),
                None,
            )],
        );
    }
    assert_eq!(messages(&app, LINE, None).await, Vec::<Value>::new());

    // The control: Didrik, with his HPR number, sends the same document.
    assert_sent(&send_medication(&app, &token, &body).await, 0, 0);
}

// ---------------------------------------------------------------------------------------------
// $getMedication.

#[actix_web::test]
async fn get_medication_names_every_problem_of_its_input() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let patient_at = "Parameters.parameter.where(name='patient').resource";

    let reply = app
        .fhir(
            "POST",
            "/Patient/$getMedication",
            Some(&token),
            Some(&json!({"resourceType": "Parameters"})),
        )
        .await;
    assert_bad_request(
        &reply,
        &[problem(
            "required",
            "$getMedication needs the parameter patient (a Patient with name, address and \
             identifier, or birthDate and gender)",
            Some("Parameters.parameter"),
        )],
    );

    let mut patient = line();
    patient.as_object_mut().unwrap().remove("address");
    let reply = get_medication(&app, &token, patient, &[]).await;
    assert_bad_request(
        &reply,
        &[problem(
            "required",
            "The patient needs an address",
            Some(&format!("{patient_at}.address")),
        )],
    );

    let mut patient = line();
    patient.as_object_mut().unwrap().remove("name");
    let reply = get_medication(&app, &token, patient, &[]).await;
    assert_bad_request(
        &reply,
        &[problem(
            "required",
            "The patient needs a name",
            Some(&format!("{patient_at}.name")),
        )],
    );

    let reply = get_medication(
        &app,
        &token,
        patient_param("12050050296", "Danser", "Line"),
        &[],
    )
    .await;
    assert_bad_request(
        &reply,
        &[problem(
            "invalid",
            "'12050050296' is not a national identity number: the control digits do not match",
            Some(&format!("{patient_at}.identifier")),
        )],
    );

    let reply = get_medication(&app, &token, line(), &[param_string("Pasient", "x")]).await;
    assert_bad_request(
        &reply,
        &[problem(
            "not-supported",
            "Unknown parameter 'Pasient' for $getMedication; it takes patient, Referansenummer, \
             historyTimestamp, SamtykkeKjernejournal, SamtykkeSperretLegemidler, \
             SamtykkeLasteResepter, IncludeOriginal",
            Some("Parameters.parameter[1]"),
        )],
    );

    let reply = get_medication(
        &app,
        &token,
        line(),
        &[param_code("SamtykkeKjernejournal", "JA")],
    )
    .await;
    assert_bad_request(
        &reply,
        &[problem(
            "code-invalid",
            "SamtykkeKjernejournal must be one of HPAKUTT, HPMOTTATTSAMTYKKE, HPUNNTAK, got 'JA'",
            Some("Parameters.parameter[1].valueCode"),
        )],
    );

    // All at once.
    let mut patient = patient_param("12050050296", "Danser", "Line");
    patient.as_object_mut().unwrap().remove("address");
    patient.as_object_mut().unwrap().remove("name");
    let reply = get_medication(
        &app,
        &token,
        patient,
        &[param_code("SamtykkeKjernejournal", "JA")],
    )
    .await;
    assert_bad_request(
        &reply,
        &[
            problem(
                "code-invalid",
                "SamtykkeKjernejournal must be one of HPAKUTT, HPMOTTATTSAMTYKKE, HPUNNTAK, got \
                 'JA'",
                Some("Parameters.parameter[1].valueCode"),
            ),
            problem(
                "required",
                "The patient needs an address",
                Some(&format!("{patient_at}.address")),
            ),
            problem(
                "required",
                "The patient needs a name",
                Some(&format!("{patient_at}.name")),
            ),
            problem(
                "invalid",
                "'12050050296' is not a national identity number: the control digits do not match",
                Some(&format!("{patient_at}.identifier")),
            ),
        ],
    );

    // The control: the whole patient, a known parameter with a known code.
    let params = lookup_params(
        &app,
        &token,
        line(),
        &[param_code("SamtykkeKjernejournal", "HPAKUTT")],
    )
    .await;
    assert_eq!(params["resourceType"], "Parameters");
}

#[actix_web::test]
async fn kjernejournal_is_read_only_with_consent() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let consent = param_code("SamtykkeKjernejournal", "HPMOTTATTSAMTYKKE");

    let with = lookup_params(&app, &token, line(), std::slice::from_ref(&consent)).await;
    assert_eq!(
        output(&with, "KJHentetTidspunkt"),
        Some(
            &json!({"name": "KJHentetTidspunkt", "valueDateTime": "2026-03-02T10:00:00.000+00:00"})
        )
    );
    assert_eq!(
        output(&with, "KJFeilkode").unwrap()["valueCodeableConcept"],
        json!({
            "coding": [{"system": "http://ehelse.no/fhir/CodeSystem/sfm-kj-rf-error-code",
                        "code": "0", "display": "OK"}]
        })
    );
    assert_eq!(
        output(&with, "KJHarLegemidler").unwrap()["valueBoolean"],
        true
    );
    let bundle = &with["parameter"][0]["resource"];
    let allergies = section(bundle, "sectionAllergies");
    assert_eq!(
        allergies["entry"][0]["display"], "Penicilliner",
        "{allergies}"
    );
    assert_eq!(allergies["entry"].as_array().unwrap().len(), 1);
    assert!(allergies.get("emptyReason").is_none());
    let allergy = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["fullUrl"] == allergies["entry"][0]["reference"])
        .unwrap();
    assert_eq!(allergy["resource"]["resourceType"], "AllergyIntolerance");
    assert_eq!(allergy["resource"]["id"], "allergy-line-penicillin");

    let without = lookup_params(&app, &token, line(), &[]).await;
    assert_eq!(output(&without, "KJHentetTidspunkt"), None);
    assert_eq!(output(&without, "KJFeilkode"), None);
    assert_eq!(
        output(&without, "KJHarLegemidler").unwrap()["valueBoolean"],
        false
    );
    assert!(output(&without, "RFHentetTidspunkt").is_some());
    let allergies = section(&without["parameter"][0]["resource"], "sectionAllergies");
    assert!(allergies.get("entry").is_none(), "{allergies}");
    assert_eq!(
        allergies["emptyReason"]["coding"][0]["code"], "unavailable",
        "{allergies}"
    );
    // Every instance in the fixtures has access to Kjernejournal (kjernejournal_access defaults
    // to true), so KJFeilkode 5 cannot be provoked over HTTP.
}

#[actix_web::test]
async fn a_locked_prescription_shows_only_with_its_refnum_or_consent() {
    let app = spawn_app().await;
    let token = didrik(&app).await;

    let plain = lookup_params(&app, &token, per(), &[]).await;
    assert_eq!(names(&plain["parameter"][0]["resource"]), [PER_CETIRIZIN]);
    assert_eq!(output(&plain, "RFHarLaste").unwrap()["valueBoolean"], true);

    let wrong = param_string("Referansenummer", "AAAAAAAAA");
    let wrong = lookup_params(&app, &token, per(), &[wrong]).await;
    assert_eq!(names(&wrong["parameter"][0]["resource"]), [PER_CETIRIZIN]);

    for extra in [
        param_string("Referansenummer", SOBRIL_REFNUM),
        param_code("SamtykkeLasteResepter", "HPMOTTATTSAMTYKKE"),
    ] {
        let params = lookup_params(&app, &token, per(), std::slice::from_ref(&extra)).await;
        let bundle = &params["parameter"][0]["resource"];
        assert_eq!(names(bundle), [SOBRIL, PER_CETIRIZIN], "{extra}");
        assert_eq!(output(&params, "RFHarLaste").unwrap()["valueBoolean"], true);
        let sobril = find_statement(bundle, SOBRIL).unwrap();
        assert_eq!(
            amendment_part(sobril, "lockedresept"),
            Some(&json!({"url": "lockedresept", "valueBoolean": true}))
        );
        assert_eq!(
            amendment_part(sobril, "refnum"),
            Some(&json!({"url": "refnum", "valueString": SOBRIL_REFNUM}))
        );
    }
}

#[actix_web::test]
async fn every_lookup_has_a_fresh_composition_identifier() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let first = composition_id(&lookup(&app, &token, line(), &[]).await);
    let second = composition_id(&lookup(&app, &token, line(), &[]).await);
    assert_ne!(first, second);
    for id in [&first, &second] {
        uuid::Uuid::parse_str(id).unwrap_or_else(|_| panic!("{id} is not a UUID"));
    }
}

#[actix_web::test]
async fn a_lookup_in_one_instance_is_no_lookup_in_another() {
    let app = spawn_app().await;
    let fjordbyen = app.sfm_token(SFM_READY, SIGRID, None).await;
    let sjokanten = sigrid_at_sjokanten(&app).await;
    let from_fjordbyen = lookup(&app, &fjordbyen, line(), &[]).await;
    let id = composition_id(&from_fjordbyen);

    // Sjøkanten has no lookup of Sigrid's for Line.
    let body = send_back(&from_fjordbyen, false);
    let reply = send_medication(&app, &sjokanten, &body).await;
    assert_violations(
        &reply,
        &[
            no_lookup(),
            violation(
                "composition-identifier",
                &format!(
                    "'{id}' is not the composition identifier of any $getMedication by this user \
                     for this patient"
                ),
                Some(&format!("{RELATES_TO}[0].targetIdentifier.value")),
            ),
        ],
    );
    // With one, Fjordbyen's composition identifier still names nothing there.
    let from_sjokanten = lookup(&app, &sjokanten, line(), &[]).await;
    let theirs = composition_id(&from_sjokanten);
    let reply = send_medication(&app, &sjokanten, &body).await;
    assert_violations(
        &reply,
        &[violation(
            "composition-identifier",
            &format!(
                "'{id}' is not the composition identifier of any $getMedication by this user for \
                 this patient (the latest is {theirs})"
            ),
            Some(&format!("{RELATES_TO}[0].targetIdentifier.value")),
        )],
    );
    // Each instance takes its own (Sjøkanten's after a new lookup: its refusal asks for one).
    let mut own = send_back(&from_sjokanten, false);
    relookup(&app, &sjokanten, line(), &[], &mut own).await;
    assert_sent(&send_medication(&app, &sjokanten, &own).await, 0, 0);
    assert_sent(&send_medication(&app, &fjordbyen, &body).await, 0, 0);
}
