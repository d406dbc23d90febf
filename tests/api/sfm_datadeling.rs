//! SFM Datadeling (README "Datadeling: the patient by ticket"): MedicationStatement, List,
//! Medication, AllergyIntolerance, Condition, Observation and Task, which name the patient by
//! patient ticket, never by fødselsnummer.
//!
//! - Tickets: unknown, expired, another user's and another instance's are a 400
//!   OperationOutcome on every search and create, never data, and nothing is stored.
//! - Condition and Observation create (the required elements, INR as a numeric valueQuantity),
//!   read and search.
//! - The task list: stored tasks with every filter, and the tasks SFM derives from the national
//!   systems (code 8 for a multidose doctor's patients, code 10 for listed patients).
//! - The medication from the national systems: statements, the medication List, Medications,
//!   Kjernejournal's allergies; locked prescriptions never.
//! - What is not served (vread, Task create/delete) and tenant isolation.
//!
//! Fixtures: fixtures/sfm/tenants.json (Fjordbyen's Condition for Line, INR Observation for
//! Kari and three Tasks) and fixtures/sfm/national.json (the patients' medication and
//! allergies). Every app starts at T0 = 2026-03-02T10:00:00Z, when the fixtures are stamped.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::sfm_medication::{
    get_medication, medication_bundle, patient_param, send_body, send_medication, set_create_pll,
};

// ---------------------------------------------------------------------------------------------
// Fixtures.

const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

/// Patients by fødselsnummer (fixtures/sfm/national.json).
const LINE: &str = "12050050295";
const OLA: &str = "10092939427";
const KARI: &str = "13116900216";
const PER: &str = "14019800513";
const RAYMOND: &str = "10086148248";

/// Didrik's and Sigrid's HPR numbers.
const DIDRIK_HPR: &str = "431001110";
const SIGRID_HPR: &str = "565501872";

/// T0 as the server writes instants (`meta.lastUpdated`), and one minute later.
const AT_T0: &str = "2026-03-02T10:00:00.000+00:00";
const AT_T1: &str = "2026-03-02T10:01:00.000+00:00";
/// T0 + 60 s as a Unix time (derived task ids end with it).
const T1_UNIX: i64 = 1_772_445_660;

/// Line's statements (ids: PLL id, else ReseptId) with their status.
const LINE_STATEMENTS: [(&str, &str); 9] = [
    ("533db406-2b27-437a-a126-dbcbf615c0cd", "active"), // Atorvastatin, Ekspederbar
    ("3eab91ff-a3a6-457c-aeb7-4ea366201916", "active"), // Metformin, UnderEkspedering
    ("21c65ddd-ade9-40ae-b89e-741fab1e92ab", "active"), // Paracet, Ekspedert
    ("e038c312-53e9-4047-be7b-bdeb05d987e0", "stopped"), // Amoxicillin, 20 days ago
    ("bac3f17f-978a-495c-9197-1819bbf9a3ac", "stopped"), // Ibux, 4 months ago
    ("f3662f46-d91e-433d-96ca-7696a45c98cc", "entered-in-error"), // Omeprazol
    ("9a01745d-f009-4d7f-b6c5-6c3a1b8e8cfd", "active"), // Influvac (vaccine)
    ("bc527059-b893-477d-a59b-be9827fba297", "active"), // Nutridrink (NIB)
    ("d24c4d6c-a347-472f-ad73-6b3ade882ccc", "active"), // Zopiclone, outside the PLL
];
const ATORVASTATIN: &str = "533db406-2b27-437a-a126-dbcbf615c0cd";
const ZOPICLONE: &str = "d24c4d6c-a347-472f-ad73-6b3ade882ccc";
/// Per's normal prescription, and his locked one (Sobril) that Datadeling never shows.
const PER_CETIRIZIN: &str = "7420599c-bc29-47c0-88d5-41052be7bb52";
const PER_SOBRIL: &str = "1207b93a-a24c-4904-8cb0-0d8cb4019b7b";
/// Kari's statement.
const KARI_MAREVAN: &str = "62cab8c8-e0e6-42e8-bfdb-5991ba6b2cc9";

/// Fjordbyen's stored Datadeling resources.
const LINE_CONDITION: &str = "Condition/condition-line-diabetes";
const KARI_INR: &str = "Observation/observation-kari-inr";
const TASK_DRAFT: &str = "Task/task-draft-line";
const TASK_QUESTION: &str = "Task/task-question-ola";
const TASK_FEST: &str = "Task/task-fest-alert";

const TASK_TYPES: &str = "http://ehelse.no/fhir/CodeSystem/sfm-task-types";
const DIAGNOSIS_ID: &str = "http://helsesim.example/epj/diagnose-id";
const ICPC2: &str = "urn:oid:2.16.578.1.12.4.1.1.7170";
const LOINC: &str = "http://loinc.org";

/// A ticket this server never issued.
const NEVER_ISSUED: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";

const INR_NOT_NUMERIC: &str = "An INR Observation carries its result as valueQuantity with a \
                               numeric value (e.g. {\"value\": 2.5, \"unit\": \"INR\"})";

// ---------------------------------------------------------------------------------------------
// Tokens and tickets.

/// Sigrid at Fjordbyen (the sfm-ready client).
async fn sigrid(app: &TestApp) -> String {
    app.sfm_token(SFM_READY, SIGRID, None).await
}

/// A valid ticket of `pid` for the patient `fnr` in the caller's instance.
pub async fn ticket(app: &TestApp, token: &str, fnr: &str) -> String {
    let reply = app
        .patient_ticket(
            Some(token),
            &json!({"patientPid": fnr}).to_string(),
            Some("application/json"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.json["patientTicket"].as_str().unwrap().to_owned()
}

/// How Datadeling names a patient: the ticket as a logical reference.
fn by_ticket(ticket: &str) -> Value {
    json!({"type": "Patient", "identifier": {"value": ticket}})
}

/// `GET /sfm/fhir{path}`.
async fn get(app: &TestApp, token: &str, path: &str) -> Reply {
    app.fhir("GET", path, Some(token), None).await
}

/// `POST /sfm/fhir/{type}` of a resource.
async fn create(app: &TestApp, token: &str, resource: &Value) -> Reply {
    let path = format!("/{}", resource["resourceType"].as_str().unwrap());
    app.fhir("POST", &path, Some(token), Some(resource)).await
}

/// A $getMedication and a $sendMedication with a new PLL (M25.1): the patient changes in
/// Reseptformidleren now.
async fn change_in_rf(app: &TestApp, token: &str, fnr: &str, family: &str, given: &str) {
    let reply = get_medication(app, token, patient_param(fnr, family, given), &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let mut body = send_body(&medication_bundle(&reply));
    set_create_pll(&mut body, true);
    let reply = send_medication(app, token, &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

// ---------------------------------------------------------------------------------------------
// Resources.

/// A complete new Condition for the patient of `ticket` (hypertension, provisional).
fn condition(ticket: &str) -> Value {
    json!({
        "resourceType": "Condition",
        "identifier": [{"system": DIAGNOSIS_ID, "value": "D-2002"}],
        "clinicalStatus": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"
        }]},
        "verificationStatus": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
            "code": "provisional"
        }]},
        "code": {"coding": [{"system": ICPC2, "code": "K86",
                             "display": "Hypertensjon ukomplisert"}]},
        "subject": {"identifier": {"value": ticket}},
        "recordedDate": "2026-03-02"
    })
}

/// A complete INR Observation for the patient of `ticket`.
fn inr(ticket: &str, value: f64) -> Value {
    json!({
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "34714-6", "display": "INR"}]},
        "subject": {"identifier": {"value": ticket}},
        "effectiveDateTime": "2026-03-02T09:30:00+01:00",
        "valueQuantity": {"value": value, "unit": "INR"}
    })
}

/// A non-INR Observation (blood pressure as text) for the patient of `ticket`.
fn blood_pressure(ticket: &str) -> Value {
    json!({
        "resourceType": "Observation",
        "status": "preliminary",
        "code": {"coding": [{"system": LOINC, "code": "85354-9",
                             "display": "Blood pressure panel"}]},
        "subject": {"identifier": {"value": ticket}},
        "valueString": "135/85 mmHg"
    })
}

/// `resource` without `element`.
fn without(resource: &Value, element: &str) -> Value {
    let mut resource = resource.clone();
    resource.as_object_mut().unwrap().remove(element);
    resource
}

/// A resource as the server stores and serves a create: its id, version 1 at `at`, the patient
/// by the caller's ticket.
fn as_stored(sent: &Value, id: &str, at: &str, ticket: &str) -> Value {
    let mut stored = sent.clone();
    stored["id"] = json!(id);
    stored["meta"] = json!({"versionId": "1", "lastUpdated": at});
    stored["subject"] = by_ticket(ticket);
    stored
}

// ---------------------------------------------------------------------------------------------
// Assertions.

fn issue(code: &str, diagnostics: &str) -> Value {
    json!({"severity": "error", "code": code, "diagnostics": diagnostics})
}

fn issue_at(code: &str, diagnostics: &str, expression: &str) -> Value {
    let mut issue = issue(code, diagnostics);
    issue["expression"] = json!([expression]);
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

/// 405 with `Allow` and the Datadeling message.
#[track_caller]
fn assert_not_allowed(reply: &Reply, allow: &str, diagnostics: &str) {
    assert_outcome(
        reply,
        StatusCode::METHOD_NOT_ALLOWED,
        &[issue("not-supported", diagnostics)],
    );
    assert_eq!(reply.header("allow"), Some(allow), "{}", reply.text);
}

fn bad_ticket(ticket: &str) -> String {
    format!(
        "The patient ticket '{ticket}' is unknown or expired in this SFM instance (tickets are per \
         user, patient and instance, and live 60 minutes after their last use): get one with POST \
         /sfm/api/PatientTicket"
    )
}

fn ticket_required(type_name: &str) -> String {
    format!(
        "{type_name} search needs patientTicket: SFM Datadeling names patients by ticket only (get \
         one with POST /sfm/api/PatientTicket)"
    )
}

fn not_known(reference: &str) -> String {
    format!("Resource {reference} is not known")
}

/// The resources of a searchset with their search modes.
pub fn found(bundle: &Value) -> Vec<(String, String)> {
    bundle["entry"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| {
                    (
                        format!(
                            "{}/{}",
                            e["resource"]["resourceType"].as_str().unwrap(),
                            e["resource"]["id"].as_str().unwrap()
                        ),
                        e["search"]["mode"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A 200 searchset whose matches are exactly `expected` (any order), `total` counting them.
#[track_caller]
fn assert_found(reply: &Reply, expected: &[&str]) {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["resourceType"], "Bundle", "{}", reply.text);
    assert_eq!(reply.json["type"], "searchset", "{}", reply.text);
    let mut matched: Vec<String> = found(&reply.json)
        .into_iter()
        .map(|(reference, mode)| {
            assert_eq!(mode, "match", "{}", reply.text);
            reference
        })
        .collect();
    matched.sort();
    let mut expected: Vec<String> = expected.iter().map(|e| (*e).to_owned()).collect();
    expected.sort();
    assert_eq!(matched, expected, "{}", reply.text);
    assert_eq!(reply.json["total"], expected.len(), "{}", reply.text);
}

/// The one resource of a searchset that must hold exactly one.
#[track_caller]
fn only_resource(reply: &Reply) -> Value {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["total"], 1, "{}", reply.text);
    reply.json["entry"][0]["resource"].clone()
}

/// Every search that takes a patient ticket, and Condition/Observation create with it as
/// subject: each a 400 with the ticket message, never data.
async fn assert_ticket_refused(app: &TestApp, token: &str, ticket: &str) {
    let message = bad_ticket(ticket);
    for type_name in [
        "MedicationStatement",
        "List",
        "Condition",
        "Observation",
        "Task",
        "AllergyIntolerance",
    ] {
        let reply = get(app, token, &format!("/{type_name}?patientTicket={ticket}")).await;
        assert_outcome(
            &reply,
            StatusCode::BAD_REQUEST,
            &[issue("invalid", &message)],
        );
    }
    for resource in [condition(ticket), inr(ticket, 2.4)] {
        let type_name = resource["resourceType"].as_str().unwrap();
        let reply = create(app, token, &resource).await;
        assert_outcome(
            &reply,
            StatusCode::BAD_REQUEST,
            &[issue_at(
                "invalid",
                &message,
                &format!("{type_name}.subject.identifier.value"),
            )],
        );
    }
}

/// The Conditions and Observations of the patient of `ticket`.
async fn clinical(app: &TestApp, token: &str, ticket: &str) -> (Vec<String>, Vec<String>) {
    let mut out = Vec::new();
    for type_name in ["Condition", "Observation"] {
        let reply = get(app, token, &format!("/{type_name}?patientTicket={ticket}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let mut ids: Vec<String> = found(&reply.json).into_iter().map(|(r, _)| r).collect();
        ids.sort();
        out.push(ids);
    }
    let observations = out.pop().unwrap();
    (out.pop().unwrap(), observations)
}

// ---------------------------------------------------------------------------------------------
// Tickets.

#[actix_web::test]
async fn an_unknown_ticket_is_refused_everywhere() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    assert_ticket_refused(&app, &token, NEVER_ISSUED).await;
    // A fødselsnummer is no ticket either.
    assert_ticket_refused(&app, &token, LINE).await;
    let line = ticket(&app, &token, LINE).await;
    assert_eq!(
        clinical(&app, &token, &line).await,
        (vec![LINE_CONDITION.to_owned()], vec![])
    );
}

#[actix_web::test]
async fn an_expired_ticket_is_refused_and_nothing_is_created() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let kari = ticket(&app, &token, KARI).await;
    // Unused for 60 minutes: expired (a new access token too: they live 10 minutes).
    advance(&app, 60 * 60);
    let token = didrik(&app).await;
    assert_ticket_refused(&app, &token, &kari).await;
    // A new ticket for Kari: a new value, and her data as before.
    let fresh = ticket(&app, &token, KARI).await;
    assert_ne!(fresh, kari);
    assert_eq!(
        clinical(&app, &token, &fresh).await,
        (vec![], vec![KARI_INR.to_owned()])
    );
}

#[actix_web::test]
async fn a_ticket_lives_60_minutes_after_its_last_use_in_a_search() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    // Raymond has no Conditions: the searches find nothing.
    let raymond = ticket(&app, &token, RAYMOND).await;
    advance(&app, 50 * 60);
    let token = didrik(&app).await;
    assert_found(
        &get(&app, &token, &format!("/Condition?patientTicket={raymond}")).await,
        &[],
    );
    // 100 minutes after it was issued, 50 after its last use.
    advance(&app, 50 * 60);
    let token = didrik(&app).await;
    assert_found(
        &get(&app, &token, &format!("/Condition?patientTicket={raymond}")).await,
        &[],
    );
}

#[actix_web::test]
async fn another_users_ticket_is_refused() {
    let app = spawn_app().await;
    let didrik = didrik(&app).await;
    let sigrid = sigrid(&app).await;
    let sigrids = ticket(&app, &sigrid, LINE).await;
    assert_ticket_refused(&app, &didrik, &sigrids).await;
    // Nothing was created for Line, as either user sees her.
    let didriks = ticket(&app, &didrik, LINE).await;
    for (token, ticket) in [(&didrik, &didriks), (&sigrid, &sigrids)] {
        assert_eq!(
            clinical(&app, token, ticket).await,
            (vec![LINE_CONDITION.to_owned()], vec![])
        );
    }
}

#[actix_web::test]
async fn another_instances_ticket_is_refused_even_for_the_same_user() {
    let app = spawn_app().await;
    let at_fjordbyen = sigrid(&app).await;
    let at_sjokanten = sigrid_at_sjokanten(&app).await;
    // Line is a patient of both instances; Sigrid a user of both.
    let fjordbyen_ticket = ticket(&app, &at_fjordbyen, LINE).await;
    assert_ticket_refused(&app, &at_sjokanten, &fjordbyen_ticket).await;
    // Nothing was created in either instance.
    let sjokanten_ticket = ticket(&app, &at_sjokanten, LINE).await;
    assert_eq!(
        clinical(&app, &at_sjokanten, &sjokanten_ticket).await,
        (vec![], vec![])
    );
    assert_eq!(
        clinical(&app, &at_fjordbyen, &fjordbyen_ticket).await,
        (vec![LINE_CONDITION.to_owned()], vec![])
    );
    // And the other way round.
    assert_ticket_refused(&app, &at_fjordbyen, &sjokanten_ticket).await;
}

#[actix_web::test]
async fn searches_without_a_ticket_are_refused_where_one_is_required() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    for (path, type_name) in [
        ("/MedicationStatement", "MedicationStatement"),
        ("/MedicationStatement?status=active", "MedicationStatement"),
        ("/List", "List"),
        ("/List?_query=administration", "List"),
        ("/Condition", "Condition"),
        ("/Condition?code=T90", "Condition"),
        ("/Observation", "Observation"),
        ("/Observation?status=final", "Observation"),
        ("/AllergyIntolerance", "AllergyIntolerance"),
    ] {
        let reply = get(&app, &token, path).await;
        assert_outcome(
            &reply,
            StatusCode::BAD_REQUEST,
            &[issue("required", &ticket_required(type_name))],
        );
    }
    // The task list needs none: it is the user's.
    assert_found(
        &get(&app, &token, "/Task").await,
        &[TASK_DRAFT, TASK_QUESTION, TASK_FEST],
    );
}

#[actix_web::test]
async fn reading_by_id_and_the_task_list_issue_the_caller_their_own_ticket() {
    let app = spawn_app().await;
    let didrik = didrik(&app).await;
    let sigrid = sigrid(&app).await;
    let didriks = ticket(&app, &didrik, LINE).await;
    // Sigrid has no ticket for Line yet: the read gives her one, PatientTicket re-uses it.
    let reply = get(&app, &sigrid, "/Condition/condition-line-diabetes").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let sigrids = reply.json["subject"]["identifier"]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(reply.json["subject"], by_ticket(&sigrids));
    assert_ne!(sigrids, didriks);
    assert_eq!(ticket(&app, &sigrid, LINE).await, sigrids);
    // The task list names Line and Ola by each caller's own ticket.
    let reply = get(&app, &sigrid, "/Task?_id=task-draft-line").await;
    assert_eq!(only_resource(&reply)["for"], by_ticket(&sigrids));
    let reply = get(&app, &didrik, "/Task?_id=task-draft-line").await;
    assert_eq!(only_resource(&reply)["for"], by_ticket(&didriks));
    let reply = get(&app, &didrik, "/Task/task-question-ola").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.json["for"],
        by_ticket(&ticket(&app, &didrik, OLA).await)
    );
    assert!(!reply.text.contains(OLA), "{}", reply.text);
}

// ---------------------------------------------------------------------------------------------
// Condition.

/// The issue of a Condition without `element`.
fn condition_needs(element: &str) -> Value {
    let why = match element {
        "code" => "what it is (a coding or a text)",
        "identifier" => "the EHR's id for it, so later sends can name it",
        "verificationStatus" => {
            "confirmed, provisional, ... \
             (http://terminology.hl7.org/CodeSystem/condition-ver-status)"
        }
        _ => "the patient's ticket, as {\"identifier\": {\"value\": \"<patient ticket>\"}}",
    };
    issue_at(
        "required",
        &format!("A Condition needs {element}: {why}"),
        &format!("Condition.{element}"),
    )
}

#[actix_web::test]
async fn a_condition_reports_every_missing_element_at_once_and_stores_nothing() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let line = ticket(&app, &token, LINE).await;
    let complete = condition(&line);
    // Each missing element is its own issue.
    for element in ["code", "identifier", "verificationStatus"] {
        let reply = create(&app, &token, &without(&complete, element)).await;
        assert_outcome(&reply, StatusCode::BAD_REQUEST, &[condition_needs(element)]);
    }
    // All missing: all reported in one OperationOutcome.
    let bare = json!({"resourceType": "Condition", "subject": {"identifier": {"value": line}}});
    let reply = create(&app, &token, &bare).await;
    assert_outcome(
        &reply,
        StatusCode::BAD_REQUEST,
        &[
            condition_needs("code"),
            condition_needs("identifier"),
            condition_needs("verificationStatus"),
        ],
    );
    // … together with a bad ticket.
    let bare =
        json!({"resourceType": "Condition", "subject": {"identifier": {"value": NEVER_ISSUED}}});
    let reply = create(&app, &token, &bare).await;
    assert_outcome(
        &reply,
        StatusCode::BAD_REQUEST,
        &[
            condition_needs("code"),
            condition_needs("identifier"),
            condition_needs("verificationStatus"),
            issue_at(
                "invalid",
                &bad_ticket(NEVER_ISSUED),
                "Condition.subject.identifier.value",
            ),
        ],
    );
    // An empty identifier list is no FHIR JSON (no empty arrays): a structure error.
    let mut empty = complete.clone();
    empty["identifier"] = json!([]);
    let reply = create(&app, &token, &empty).await;
    assert_outcome(
        &reply,
        StatusCode::BAD_REQUEST,
        &[issue(
            "structure",
            "not a valid FHIR R4 Condition: Condition.identifier is an empty array: leave the \
             element out instead",
        )],
    );
    assert_eq!(
        clinical(&app, &token, &line).await,
        (vec![LINE_CONDITION.to_owned()], vec![])
    );
}

#[actix_web::test]
async fn a_condition_without_subject_gets_every_issue_at_once() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let line = ticket(&app, &token, LINE).await;
    let reply = create(&app, &token, &without(&condition(&line), "subject")).await;
    assert_outcome(
        &reply,
        StatusCode::BAD_REQUEST,
        &[condition_needs("subject")],
    );
    let reply = create(&app, &token, &json!({"resourceType": "Condition"})).await;
    assert_outcome(
        &reply,
        StatusCode::BAD_REQUEST,
        &[
            condition_needs("code"),
            condition_needs("identifier"),
            condition_needs("verificationStatus"),
            condition_needs("subject"),
        ],
    );
}

#[actix_web::test]
async fn a_condition_names_its_patient_by_ticket_never_by_fnr_or_patient_id() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let line = ticket(&app, &token, LINE).await;
    let mut by_fnr = condition(&line);
    by_fnr["subject"] =
        json!({"identifier": {"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": LINE}});
    let reply = create(&app, &token, &by_fnr).await;
    assert_outcome(
        &reply,
        StatusCode::BAD_REQUEST,
        &[issue_at(
            "invalid",
            &bad_ticket(LINE),
            "Condition.subject.identifier.value",
        )],
    );
    let mut by_id = condition(&line);
    by_id["subject"] = json!({"reference": "Patient/patient-line"});
    let reply = create(&app, &token, &by_id).await;
    assert_outcome(
        &reply,
        StatusCode::BAD_REQUEST,
        &[issue_at(
            "invalid",
            "Condition.subject must name the patient by ticket, as {\"identifier\": {\"value\": \
             \"<patient ticket>\"}}: SFM Datadeling never takes a fødselsnummer or a Patient id",
            "Condition.subject",
        )],
    );
    assert_eq!(
        clinical(&app, &token, &line).await,
        (vec![LINE_CONDITION.to_owned()], vec![])
    );
}

#[actix_web::test]
async fn a_created_condition_is_read_by_id_and_found_by_every_parameter() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let line = ticket(&app, &token, LINE).await;
    advance(&app, 60);
    let mut sent = condition(&line);
    sent["id"] = json!("chosen-by-the-ehr");
    let reply = create(&app, &token, &sent).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let id = reply.json["id"].as_str().unwrap().to_owned();
    assert_ne!(id, "chosen-by-the-ehr", "the server assigns the id");
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    assert_eq!(reply.json, as_stored(&sent, &id, AT_T1, &line));
    assert_eq!(
        reply.header("location"),
        Some(format!("{}/sfm/fhir/Condition/{id}/_history/1", app.base).as_str())
    );
    assert_eq!(reply.header("etag"), Some("W/\"1\""));
    assert_eq!(reply.header("content-type"), Some(FHIR_JSON));
    let created = reply.json;

    let read = get(&app, &token, &format!("/Condition/{id}")).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    assert_eq!(read.json, created);

    let new = format!("Condition/{id}");
    let both = [new.as_str(), LINE_CONDITION];
    for (query, expected) in [
        ("", &both[..]),
        (
            "&identifier=http://helsesim.example/epj/diagnose-id|D-2002",
            &both[..1],
        ),
        ("&identifier=D-1001", &both[1..]),
        ("&identifier=|D-2002", &[]),
        ("&identifier=D-2002,D-1001", &both[..]),
        ("&code=urn:oid:2.16.578.1.12.4.1.1.7170|K86", &both[..1]),
        ("&code=T90", &both[1..]),
        ("&code=http://snomed.info/sct|T90", &[]),
        ("&verification-status=provisional", &both[..1]),
        ("&verification-status=confirmed", &both[1..]),
        ("&clinical-status=active", &both[..]),
        ("&clinical-status=resolved", &[]),
        ("&_lastUpdated=gt2026-03-02T10:00:00Z", &both[..1]),
        ("&_lastUpdated=le2026-03-02T10:00:00Z", &both[1..]),
        ("&_lastUpdated=ge2026-03-02T10:00:00Z", &both[..]),
        ("&_lastUpdated=eq2026-03-02T10:01:00Z", &both[..1]),
        ("&code=K86&verification-status=confirmed", &[]),
        (&format!("&_id={id}"), &both[..1]),
    ] {
        let path = format!("/Condition?patientTicket={line}{query}");
        let reply = get(&app, &token, &path).await;
        assert_found(&reply, expected);
    }
    // By _id, no ticket is needed.
    let reply = get(&app, &token, &format!("/Condition?_id={id}")).await;
    assert_eq!(only_resource(&reply), created);
    // Kari has none of Line's Conditions.
    let kari = ticket(&app, &token, KARI).await;
    assert_found(
        &get(&app, &token, &format!("/Condition?patientTicket={kari}")).await,
        &[],
    );
}

#[actix_web::test]
async fn condition_create_and_read_carry_etag_and_last_modified() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let line = ticket(&app, &token, LINE).await;
    let reply = create(&app, &token, &condition(&line)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.header("etag"), Some("W/\"1\""));
    assert_eq!(
        reply.header("last-modified"),
        Some("Mon, 02 Mar 2026 10:00:00 GMT")
    );
    let id = reply.json["id"].as_str().unwrap();
    let read = get(&app, &token, &format!("/Condition/{id}")).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    assert_eq!(read.header("etag"), Some("W/\"1\""));
    assert_eq!(
        read.header("last-modified"),
        Some("Mon, 02 Mar 2026 10:00:00 GMT")
    );
}

// ---------------------------------------------------------------------------------------------
// Observation.

#[actix_web::test]
async fn an_observation_gets_every_missing_element_at_once_with_its_article() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let kari = ticket(&app, &token, KARI).await;
    let reply = create(&app, &token, &json!({"resourceType": "Observation"})).await;
    assert_outcome(
        &reply,
        StatusCode::BAD_REQUEST,
        &[
            issue_at(
                "required",
                "An Observation needs code: what it is (a coding or a text)",
                "Observation.code",
            ),
            issue_at(
                "required",
                "An Observation needs status: registered, preliminary, final, amended, ... \
                 (http://hl7.org/fhir/observation-status)",
                "Observation.status",
            ),
            issue_at(
                "required",
                "An Observation needs subject: the patient's ticket, as {\"identifier\": \
                 {\"value\": \"<patient ticket>\"}}",
                "Observation.subject",
            ),
        ],
    );
    // A wrong type is still the strict parse's, on its own.
    let mut wrong = blood_pressure(&kari);
    wrong["code"] = json!("85354-9");
    let reply = create(&app, &token, &without(&wrong, "subject")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert_eq!(reply.json["issue"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        reply.json["issue"][0]["code"], "structure",
        "{}",
        reply.text
    );
    assert_eq!(
        clinical(&app, &token, &kari).await,
        (vec![], vec![KARI_INR.to_owned()])
    );
}

#[actix_web::test]
async fn an_inr_needs_a_numeric_value_quantity() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let kari = ticket(&app, &token, KARI).await;
    let valid = inr(&kari, 2.4);
    // No value at all (a preliminary result is no exception).
    let mut no_value = without(&valid, "valueQuantity");
    no_value["status"] = json!("preliminary");
    // A quantity without its number.
    let mut unit_only = valid.clone();
    unit_only["valueQuantity"] = json!({"unit": "INR"});
    // The number as text.
    let mut as_text = without(&valid, "valueQuantity");
    as_text["valueString"] = json!("2,4");
    // The README's other INR codes: a coded value, a quantity without number.
    let mut coded = without(&valid, "valueQuantity");
    coded["code"]["coding"][0]["code"] = json!("6301-6");
    coded["valueCodeableConcept"] = json!({"text": "i terapeutisk område"});
    let mut other_code = unit_only.clone();
    other_code["code"]["coding"][0]["code"] = json!("46418-0");
    for refused in [no_value, unit_only, as_text, coded, other_code] {
        let reply = create(&app, &token, &refused).await;
        assert_outcome(
            &reply,
            StatusCode::BAD_REQUEST,
            &[issue_at(
                "invalid",
                INR_NOT_NUMERIC,
                "Observation.valueQuantity",
            )],
        );
    }
    assert_eq!(
        clinical(&app, &token, &kari).await,
        (vec![], vec![KARI_INR.to_owned()])
    );
}

#[actix_web::test]
async fn observations_are_created_read_and_searched() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let kari = ticket(&app, &token, KARI).await;
    advance(&app, 60);
    let sent_inr = inr(&kari, 3.1);
    let reply = create(&app, &token, &sent_inr).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let inr_id = reply.json["id"].as_str().unwrap().to_owned();
    assert_eq!(reply.json, as_stored(&sent_inr, &inr_id, AT_T1, &kari));
    assert_eq!(
        reply.header("location"),
        Some(format!("{}/sfm/fhir/Observation/{inr_id}/_history/1", app.base).as_str())
    );
    // Not an INR: any value[x] will do.
    let sent_bp = blood_pressure(&kari);
    let reply = create(&app, &token, &sent_bp).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let bp_id = reply.json["id"].as_str().unwrap().to_owned();
    assert_eq!(reply.json, as_stored(&sent_bp, &bp_id, AT_T1, &kari));

    let read = get(&app, &token, &format!("/Observation/{inr_id}")).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    assert_eq!(read.json, as_stored(&sent_inr, &inr_id, AT_T1, &kari));
    let read = get(&app, &token, "/Observation/observation-kari-inr").await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    assert_eq!(read.json["valueQuantity"]["value"], 2.6);
    assert_eq!(read.json["subject"], by_ticket(&kari));

    let new_inr = format!("Observation/{inr_id}");
    let new_bp = format!("Observation/{bp_id}");
    for (query, expected) in [
        ("", vec![KARI_INR, &new_inr, &new_bp]),
        ("&code=http://loinc.org|34714-6", vec![KARI_INR, &new_inr]),
        ("&code=85354-9", vec![&new_bp]),
        ("&code=85354-9,34714-6", vec![KARI_INR, &new_inr, &new_bp]),
        ("&status=final", vec![KARI_INR, &new_inr]),
        ("&status=preliminary", vec![&new_bp]),
        ("&status=amended", vec![]),
        (
            "&_lastUpdated=gt2026-03-02T10:00:00Z",
            vec![&new_inr, &new_bp],
        ),
        ("&_lastUpdated=lt2026-03-02T10:01:00Z", vec![KARI_INR]),
        (
            "&code=34714-6&_lastUpdated=ge2026-03-02T10:01:00Z",
            vec![&new_inr],
        ),
    ] {
        let path = format!("/Observation?patientTicket={kari}{query}");
        assert_found(&get(&app, &token, &path).await, &expected);
    }
    // Line has no Observations.
    let line = ticket(&app, &token, LINE).await;
    assert_found(
        &get(&app, &token, &format!("/Observation?patientTicket={line}")).await,
        &[],
    );
    let reply = get(&app, &token, "/Observation/nope").await;
    assert_outcome(
        &reply,
        StatusCode::NOT_FOUND,
        &[issue("not-found", &not_known("Observation/nope"))],
    );
}

#[actix_web::test]
async fn a_quantity_whose_value_is_a_string_is_not_fhir() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let kari = ticket(&app, &token, KARI).await;
    let mut weight = blood_pressure(&kari);
    weight["code"]["coding"][0] =
        json!({"system": LOINC, "code": "29463-7", "display": "Body weight"});
    weight.as_object_mut().unwrap().remove("valueString");
    weight["valueQuantity"] = json!({"value": "72,5", "unit": "kg"});
    let reply = create(&app, &token, &weight).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert_eq!(
        reply.json["issue"][0]["code"], "structure",
        "{}",
        reply.text
    );
    assert_eq!(
        clinical(&app, &token, &kari).await,
        (vec![], vec![KARI_INR.to_owned()])
    );
}

// ---------------------------------------------------------------------------------------------
// Task: stored tasks.

#[actix_web::test]
async fn the_task_list_filters_by_type_code_owner_patient_and_id() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let line = ticket(&app, &token, LINE).await;
    let ola = ticket(&app, &token, OLA).await;
    let all = [TASK_DRAFT, TASK_QUESTION, TASK_FEST];
    for (query, expected) in [
        ("type=None".to_owned(), &all[..]),
        ("type=NonPatient".to_owned(), &[TASK_FEST][..]),
        ("type=nonpatient".to_owned(), &[TASK_FEST]),
        ("type=NONPATIENT".to_owned(), &[TASK_FEST]),
        ("code=3".to_owned(), &[TASK_DRAFT]),
        ("code=3,6".to_owned(), &[TASK_DRAFT, TASK_QUESTION]),
        ("code=4".to_owned(), &[]),
        ("codeNot=11".to_owned(), &[TASK_DRAFT, TASK_QUESTION]),
        ("codeNot=3,11".to_owned(), &[TASK_QUESTION]),
        ("codeNot=3&codeNot=6".to_owned(), &[TASK_FEST]),
        ("code=3,6&codeNot=6".to_owned(), &[TASK_DRAFT]),
        (format!("owner={DIDRIK_HPR}"), &[TASK_DRAFT]),
        ("owner=8140133".to_owned(), &[TASK_QUESTION]),
        (format!("owner={SIGRID_HPR}"), &[]),
        (format!("patientTicket={line}"), &[TASK_DRAFT]),
        (format!("PatientTicket={ola}"), &[TASK_QUESTION]),
        (format!("patientTicket={ola}&code=3"), &[]),
        ("_id=task-fest-alert".to_owned(), &[TASK_FEST]),
        (
            "_id=task-fest-alert,task-draft-line".to_owned(),
            &[TASK_FEST, TASK_DRAFT],
        ),
        ("_id=nope".to_owned(), &[]),
        ("type=NonPatient&code=3".to_owned(), &[]),
    ] {
        let reply = get(&app, &token, &format!("/Task?{query}")).await;
        assert_found(&reply, expected);
    }
    // A read: the stored task as it is, its patient by ticket.
    let reply = get(&app, &token, "/Task/task-draft-line").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["for"], by_ticket(&line));
    assert_eq!(reply.json["code"]["coding"][0]["display"], "Godkjenn kladd");
    assert_eq!(reply.json["meta"]["lastUpdated"], AT_T0);
    let reply = get(&app, &token, "/Task/nope").await;
    assert_outcome(
        &reply,
        StatusCode::NOT_FOUND,
        &[issue("not-found", &not_known("Task/nope"))],
    );
}

#[actix_web::test]
async fn the_task_list_filters_by_last_updated_with_every_prefix() {
    let app = spawn_app().await;
    // The fixture's tasks were stored at T0; an hour later they still are.
    advance(&app, 60 * 60);
    let token = didrik(&app).await;
    let all = [TASK_DRAFT, TASK_QUESTION, TASK_FEST];
    for (criterion, expected) in [
        ("gt2026-03-02T10:00:00Z", &[][..]),
        ("gt2026-03-02T09:59:59Z", &all[..]),
        ("ge2026-03-02T10:00:00Z", &all[..]),
        ("ge2026-03-02T10:00:01Z", &[]),
        ("lt2026-03-02T10:00:00Z", &[]),
        ("lt2026-03-02T10:00:01Z", &all[..]),
        ("le2026-03-02T10:00:00Z", &all[..]),
        ("le2026-03-02T09:59:59Z", &[]),
        ("eq2026-03-02T10:00:00Z", &all[..]),
        ("eq2026-03-02T10:00:01Z", &[]),
        ("2026-03-02T10:00:00Z", &all[..]),
        // The same instant in another zone (`+` encoded).
        ("ge2026-03-02T11:00:00%2B01:00", &all[..]),
        ("gt2026-03-02T11:00:00%2B01:00", &[]),
    ] {
        let reply = get(&app, &token, &format!("/Task?_lastUpdated={criterion}")).await;
        assert_found(&reply, expected);
    }
    // Repeated = and: a window around T0.
    let reply = get(
        &app,
        &token,
        "/Task?_lastUpdated=gt2026-03-02T09:00:00Z&_lastUpdated=lt2026-03-02T11:00:00Z&codeNot=11",
    )
    .await;
    assert_found(&reply, &[TASK_DRAFT, TASK_QUESTION]);
}

#[actix_web::test]
async fn a_last_updated_date_covers_the_whole_day() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let all = [TASK_DRAFT, TASK_QUESTION, TASK_FEST];
    for (criterion, expected) in [
        ("eq2026-03-02", &all[..]),
        ("2026-03-02", &all[..]),
        ("gt2026-03-02", &[][..]),
        ("le2026-03-01", &[]),
        ("lt2026-03-03", &all[..]),
    ] {
        let reply = get(&app, &token, &format!("/Task?_lastUpdated={criterion}")).await;
        assert_found(&reply, expected);
    }
}

#[actix_web::test]
async fn patient_nin_limits_the_task_list_to_those_patients() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    assert_found(
        &get(&app, &token, &format!("/Task?PatientNiN={OLA}")).await,
        &[TASK_QUESTION],
    );
    assert_found(
        &get(&app, &token, &format!("/Task?PatientNiN={OLA},{LINE}")).await,
        &[TASK_QUESTION, TASK_DRAFT],
    );
}

#[actix_web::test]
async fn task_search_refuses_unknown_parameters_and_bad_values() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let task_params = "type, patientTicket, PatientTicket, code, codeNot, owner, _lastUpdated, \
                       PatientNiN, _id, and _count, _offset, _summary, _format";
    for (query, issues) in [
        (
            "kode=3",
            vec![issue(
                "not-supported",
                &format!("Unknown search parameter 'kode' for Task; supported: {task_params}"),
            )],
        ),
        (
            "patient=Patient/patient-line",
            vec![issue(
                "not-supported",
                &format!("Unknown search parameter 'patient' for Task; supported: {task_params}"),
            )],
        ),
        (
            "type=md",
            vec![issue(
                "code-invalid",
                "type must be None, MD, KJ or NonPatient, got 'md'",
            )],
        ),
        (
            "code=godkjenn&codeNot=x",
            vec![
                issue(
                    "invalid",
                    "Task codes are numbers (sfm-task-types), got 'godkjenn'",
                ),
                issue(
                    "invalid",
                    "Task codes are numbers (sfm-task-types), got 'x'",
                ),
            ],
        ),
        (
            "_lastUpdated=gtyesterday",
            vec![issue(
                "invalid",
                "_lastUpdated must be [gt|ge|lt|le|eq]<dateTime>, e.g. gt2026-03-01T00:00:00Z, got \
                 'gtyesterday'",
            )],
        ),
        (
            "code=10",
            vec![issue(
                "required",
                "Task?code=10 looks for changes in Reseptformidleren for the patients listed in \
                 PatientNiN (comma-separated fødselsnummer/D-nummer)",
            )],
        ),
    ] {
        let reply = get(&app, &token, &format!("/Task?{query}")).await;
        assert_outcome(&reply, StatusCode::BAD_REQUEST, &issues);
    }
    // The other types refuse FHIR's usual patient parameters too: they take a ticket.
    let reply = get(&app, &token, &format!("/Condition?patient={LINE}")).await;
    assert_outcome(
        &reply,
        StatusCode::BAD_REQUEST,
        &[issue(
            "not-supported",
            "Unknown search parameter 'patient' for Condition; supported: patientTicket, _id, \
             identifier, code, verification-status, clinical-status, _lastUpdated, and _count, \
             _offset, _summary, _format",
        )],
    );
    let reply = get(
        &app,
        &token,
        &format!("/MedicationStatement?subject={LINE}"),
    )
    .await;
    assert_outcome(
        &reply,
        StatusCode::BAD_REQUEST,
        &[issue(
            "not-supported",
            "Unknown search parameter 'subject' for MedicationStatement; supported: patientTicket, \
             _id, status, and _count, _offset, _summary, _format",
        )],
    );
}

#[actix_web::test]
async fn tasks_are_not_created_changed_or_deleted() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let task = json!({"resourceType": "Task", "status": "requested", "intent": "order"});
    let read_only = |method: &str, path: &str| {
        format!(
            "{method} is not supported on /sfm/fhir{path} (allowed: GET, HEAD); SFM Datadeling's \
             Task is read-only"
        )
    };
    let reply = app.fhir("POST", "/Task", Some(&token), Some(&task)).await;
    assert_not_allowed(&reply, "GET, HEAD", &read_only("POST", "/Task"));
    let reply = app
        .fhir("DELETE", "/Task/task-fest-alert", Some(&token), None)
        .await;
    assert_not_allowed(
        &reply,
        "GET, HEAD",
        &read_only("DELETE", "/Task/task-fest-alert"),
    );
    let mut fest = get(&app, &token, "/Task/task-fest-alert").await.json;
    fest["status"] = json!("completed");
    let reply = app
        .fhir("PUT", "/Task/task-fest-alert", Some(&token), Some(&fest))
        .await;
    assert_not_allowed(
        &reply,
        "GET, HEAD",
        &read_only("PUT", "/Task/task-fest-alert"),
    );
    // Conditions are created, not deleted.
    let reply = app
        .fhir(
            "DELETE",
            "/Condition/condition-line-diabetes",
            Some(&token),
            None,
        )
        .await;
    assert_not_allowed(
        &reply,
        "GET, HEAD",
        "DELETE is not supported on /sfm/fhir/Condition/condition-line-diabetes (allowed: GET, \
         HEAD); SFM Datadeling's Condition is read-only",
    );
    // Nothing changed.
    let reply = get(&app, &token, "/Task/task-fest-alert").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["status"], "requested");
    assert_found(
        &get(&app, &token, "/Task").await,
        &[TASK_DRAFT, TASK_QUESTION, TASK_FEST],
    );
    let line = ticket(&app, &token, LINE).await;
    assert_eq!(
        clinical(&app, &token, &line).await,
        (vec![LINE_CONDITION.to_owned()], vec![])
    );
}

// ---------------------------------------------------------------------------------------------
// Task: derived from the national systems.

/// A task SFM derives: `code` for the patient of `ticket`, changed at T0 + 60 s.
fn derived_task(code: &str, patient_id: &str, ticket: &str) -> Value {
    let id = format!("task-{code}-{patient_id}-{T1_UNIX}");
    let (display, description) = match code {
        "8" => (
            "Endring på multidosepasient",
            format!(
                "The multidose patient's prescriptions or PLL changed in Reseptformidleren \
                 ({AT_T1})"
            ),
        ),
        _ => (
            "Endring på pasient",
            format!("The patient's prescriptions or PLL changed in Reseptformidleren ({AT_T1})"),
        ),
    };
    let mut task = json!({
        "resourceType": "Task",
        "id": id,
        "meta": {
            "profile": ["http://ehelse.no/fhir/StructureDefinition/sfm-Task"],
            "lastUpdated": AT_T1,
        },
        "identifier": [{"value": id}],
        "status": "requested",
        "intent": "order",
        "code": {"coding": [{"system": TASK_TYPES, "code": code, "display": display}]},
        "description": description,
        "for": by_ticket(ticket),
        "authoredOn": AT_T1,
    });
    if code == "8" {
        task["owner"] = json!({
            "type": "http://ehelse.no/fhir/StructureDefinition/sfm-Practitioner",
            "display": format!("Didrik D Didrikson, HPR: {DIDRIK_HPR}"),
            "identifier": {"system": "urn:oid:2.16.578.1.12.4.1.4.4", "value": DIDRIK_HPR},
        });
    }
    task
}

#[actix_web::test]
async fn a_multidose_doctor_gets_a_code_8_task_when_a_patient_changes() {
    let app = spawn_app().await;
    let token = didrik_at_nordby(&app).await;
    // Nothing has changed in Reseptformidleren yet: no task.
    assert_found(&get(&app, &token, "/Task?code=8").await, &[]);
    assert_found(&get(&app, &token, "/Task?type=MD").await, &[]);

    advance(&app, 60);
    change_in_rf(&app, &token, OLA, "Nordmann", "Ola").await;
    let ola = ticket(&app, &token, OLA).await;
    let task = derived_task("8", "patient-ola", &ola);
    let reply = get(&app, &token, "/Task?code=8").await;
    assert_eq!(only_resource(&reply), task);
    let id = format!("Task/{}", task["id"].as_str().unwrap());
    for (query, expected) in [
        ("type=MD".to_owned(), &[id.as_str()][..]),
        (format!("code=8&owner={DIDRIK_HPR}"), &[&id]),
        // Sigrid is not Ola's multidose doctor.
        (format!("code=8&owner={SIGRID_HPR}"), &[]),
        (format!("code=8&patientTicket={ola}"), &[&id]),
        ("code=8&codeNot=8".to_owned(), &[]),
        (
            "code=8&_lastUpdated=gt2026-03-02T10:00:00Z".to_owned(),
            &[&id],
        ),
        (
            "code=8&_lastUpdated=ge2026-03-02T10:00:59Z".to_owned(),
            &[&id],
        ),
        ("code=8&_lastUpdated=gt2026-03-02T10:01:00Z".to_owned(), &[]),
        (
            "code=8&_lastUpdated=le2026-03-02T10:01:00Z".to_owned(),
            &[&id],
        ),
        ("code=8&_lastUpdated=lt2026-03-02T10:01:00Z".to_owned(), &[]),
        (
            "code=8&_lastUpdated=eq2026-03-02T10:01:00Z".to_owned(),
            &[&id],
        ),
        // Without code 8 or type MD, Reseptformidleren is not asked.
        (String::new(), &[]),
        ("type=None".to_owned(), &[]),
    ] {
        let reply = get(&app, &token, &format!("/Task?{query}")).await;
        assert_found(&reply, expected);
    }
    // The task's ticket is the caller's: it opens Ola's medication.
    let reply = get(
        &app,
        &token,
        &format!("/MedicationStatement?patientTicket={ola}"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["total"], 3, "{}", reply.text);
}

#[actix_web::test]
async fn code_10_tasks_list_the_named_patients_that_changed() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let nins = format!("PatientNiN={LINE},{KARI}");
    assert_found(
        &get(&app, &token, &format!("/Task?code=10&{nins}")).await,
        &[],
    );

    advance(&app, 60);
    change_in_rf(&app, &token, LINE, "Danser", "Line").await;
    let line = ticket(&app, &token, LINE).await;
    let kari = ticket(&app, &token, KARI).await;
    let task = derived_task("10", "patient-line", &line);
    let reply = get(&app, &token, &format!("/Task?code=10&{nins}")).await;
    assert_eq!(only_resource(&reply), task);
    let id = format!("Task/{}", task["id"].as_str().unwrap());
    for (query, expected) in [
        (format!("code=10&PatientNiN={LINE}"), &[id.as_str()][..]),
        (
            format!("code=10&PatientNiN={LINE}&PatientNiN={KARI}"),
            &[&id],
        ),
        (format!("code=10&PatientNiN={KARI}"), &[]),
        (format!("code=3,10&PatientNiN={LINE}"), &[&id, TASK_DRAFT]),
        (format!("code=10&{nins}&patientTicket={line}"), &[&id]),
        (format!("code=10&{nins}&patientTicket={kari}"), &[]),
        (
            format!("code=10&{nins}&_lastUpdated=ge2026-03-02T10:00:59Z"),
            &[&id],
        ),
        (
            format!("code=10&{nins}&_lastUpdated=gt2026-03-02T10:01:00Z"),
            &[],
        ),
        (format!("code=10&{nins}&codeNot=10"), &[]),
        // Line's change is no multidose change, and the plain list asks nobody.
        ("code=8".to_owned(), &[]),
        (String::new(), &[TASK_DRAFT, TASK_QUESTION, TASK_FEST]),
    ] {
        let reply = get(&app, &token, &format!("/Task?{query}")).await;
        assert_found(&reply, expected);
    }
    // Only the instance's own patients: Sjøkanten's Line is another record, her Sjøkanten task
    // names her by Sigrid's Sjøkanten ticket.
    let sjokanten = sigrid_at_sjokanten(&app).await;
    let sjokanten_line = ticket(&app, &sjokanten, LINE).await;
    let reply = get(
        &app,
        &sjokanten,
        &format!("/Task?code=10&PatientNiN={LINE}"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        found(&reply.json),
        [(id.clone(), "match".to_owned())],
        "{}",
        reply.text
    );
    assert_eq!(
        reply.json["entry"][0]["resource"]["for"],
        by_ticket(&sjokanten_line)
    );
}

#[actix_web::test]
async fn a_derived_task_is_read_at_its_full_url() {
    let app = spawn_app().await;
    let token = didrik_at_nordby(&app).await;
    advance(&app, 60);
    change_in_rf(&app, &token, OLA, "Nordmann", "Ola").await;
    let reply = get(&app, &token, "/Task?code=8").await;
    let task = only_resource(&reply);
    let full_url = reply.json["entry"][0]["fullUrl"].as_str().unwrap();
    let path = full_url
        .strip_prefix(&format!("{}/sfm/fhir", app.base))
        .unwrap();
    let read = get(&app, &token, path).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    assert_eq!(read.json, task);
}

#[actix_web::test]
async fn last_updated_ge_finds_a_change_at_that_very_instant() {
    let app = spawn_app().await;
    let token = didrik_at_nordby(&app).await;
    advance(&app, 60);
    change_in_rf(&app, &token, OLA, "Nordmann", "Ola").await;
    let ola = ticket(&app, &token, OLA).await;
    let reply = get(
        &app,
        &token,
        "/Task?code=8&_lastUpdated=ge2026-03-02T10:01:00Z",
    )
    .await;
    assert_eq!(
        only_resource(&reply),
        derived_task("8", "patient-ola", &ola)
    );
    let reply = get(
        &app,
        &token,
        &format!("/Task?code=10&PatientNiN={OLA}&_lastUpdated=ge2026-03-02T10:01:00Z"),
    )
    .await;
    assert_eq!(
        only_resource(&reply),
        derived_task("10", "patient-ola", &ola)
    );
}

#[actix_web::test]
async fn a_task_code_may_name_its_system() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    assert_found(
        &get(&app, &token, &format!("/Task?code={TASK_TYPES}|11")).await,
        &[TASK_FEST],
    );
    assert_found(
        &get(&app, &token, &format!("/Task?code={TASK_TYPES}|3,6")).await,
        &[TASK_DRAFT, TASK_QUESTION],
    );
    assert_found(
        &get(&app, &token, "/Task?code=http://example.org/other|11").await,
        &[],
    );
    // `|11` is code 11 without a system (FHIR token search): SFM's task codes have one.
    assert_found(&get(&app, &token, "/Task?code=|11").await, &[]);
    // codeNot takes the same tokens.
    assert_found(
        &get(&app, &token, &format!("/Task?codeNot={TASK_TYPES}|11")).await,
        &[TASK_DRAFT, TASK_QUESTION],
    );
    assert_found(
        &get(&app, &token, "/Task?codeNot=http://example.org/other|11").await,
        &[TASK_DRAFT, TASK_QUESTION, TASK_FEST],
    );
    // A code 10 by its system needs PatientNiN as well.
    let reply = get(&app, &token, &format!("/Task?code={TASK_TYPES}|10")).await;
    assert_outcome(
        &reply,
        StatusCode::BAD_REQUEST,
        &[issue(
            "required",
            "Task?code=10 looks for changes in Reseptformidleren for the patients listed in \
             PatientNiN (comma-separated fødselsnummer/D-nummer)",
        )],
    );
}

#[actix_web::test]
async fn a_derived_task_is_found_by_its_code_with_system() {
    let app = spawn_app().await;
    let token = didrik_at_nordby(&app).await;
    advance(&app, 60);
    change_in_rf(&app, &token, OLA, "Nordmann", "Ola").await;
    let ola = ticket(&app, &token, OLA).await;
    let reply = get(&app, &token, &format!("/Task?code={TASK_TYPES}|8")).await;
    assert_eq!(
        only_resource(&reply),
        derived_task("8", "patient-ola", &ola)
    );
    let reply = get(
        &app,
        &token,
        &format!("/Task?code={TASK_TYPES}|10&PatientNiN={OLA}"),
    )
    .await;
    assert_eq!(
        only_resource(&reply),
        derived_task("10", "patient-ola", &ola)
    );
    assert_found(
        &get(&app, &token, "/Task?code=http://example.org/other|8").await,
        &[],
    );
    // Read at its id, with Last-Modified (the change), no version.
    let id = derived_task("10", "patient-ola", &ola)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let read = get(&app, &token, &format!("/Task/{id}")).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    assert_eq!(read.json, derived_task("10", "patient-ola", &ola));
    assert_eq!(
        read.header("last-modified"),
        Some("Mon, 02 Mar 2026 10:01:00 GMT")
    );
    // A change that is not (or no longer) the patient's last is no task.
    let reply = get(&app, &token, "/Task/task-10-patient-ola-1772445600").await;
    assert_outcome(
        &reply,
        StatusCode::NOT_FOUND,
        &[issue(
            "not-found",
            &not_known("Task/task-10-patient-ola-1772445600"),
        )],
    );
}

// ---------------------------------------------------------------------------------------------
// MedicationStatement, List, Medication, AllergyIntolerance.

#[actix_web::test]
async fn medication_statements_are_found_by_ticket_status_and_id() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let line = ticket(&app, &token, LINE).await;
    let with_status = |statuses: &[&str]| -> Vec<String> {
        LINE_STATEMENTS
            .iter()
            .filter(|(_, s)| statuses.is_empty() || statuses.contains(s))
            .map(|(id, _)| format!("MedicationStatement/{id}"))
            .collect()
    };
    for (query, statuses) in [
        ("", &[][..]),
        ("&status=active", &["active"][..]),
        ("&status=stopped", &["stopped"]),
        ("&status=entered-in-error", &["entered-in-error"]),
        (
            "&status=stopped,entered-in-error",
            &["stopped", "entered-in-error"],
        ),
    ] {
        let expected = with_status(statuses);
        let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
        let path = format!("/MedicationStatement?patientTicket={line}{query}");
        let reply = get(&app, &token, &path).await;
        assert_found(&reply, &expected);
        for entry in reply.json["entry"].as_array().into_iter().flatten() {
            assert_eq!(entry["resource"]["subject"], by_ticket(&line));
        }
        assert!(
            !reply.text.contains(LINE),
            "no fødselsnummer: {}",
            reply.text
        );
    }
    let reply = get(
        &app,
        &token,
        &format!("/MedicationStatement?patientTicket={line}&status=on-hold"),
    )
    .await;
    assert_found(&reply, &[]);

    // Read by id, and _id without a ticket: the same statement, naming Line by ticket.
    let read = get(&app, &token, &format!("/MedicationStatement/{ZOPICLONE}")).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    assert_eq!(read.json["id"], ZOPICLONE);
    assert_eq!(read.json["status"], "active");
    assert_eq!(read.json["subject"], by_ticket(&line));
    assert_eq!(
        read.json["medicationReference"]["reference"],
        format!("Medication/med-{ZOPICLONE}")
    );
    assert_eq!(
        read.json["medicationReference"]["display"],
        "Zopiclone Mylan tab 5 mg"
    );
    let reply = get(
        &app,
        &token,
        &format!("/MedicationStatement?_id={ZOPICLONE}"),
    )
    .await;
    assert_eq!(only_resource(&reply), read.json);
    let reply = get(
        &app,
        &token,
        &format!("/MedicationStatement?_id={ZOPICLONE},{KARI_MAREVAN}"),
    )
    .await;
    assert_found(
        &reply,
        &[
            &format!("MedicationStatement/{ZOPICLONE}"),
            &format!("MedicationStatement/{KARI_MAREVAN}"),
        ],
    );
    let reply = get(&app, &token, "/MedicationStatement/nope").await;
    assert_outcome(
        &reply,
        StatusCode::NOT_FOUND,
        &[issue("not-found", &not_known("MedicationStatement/nope"))],
    );
}

#[actix_web::test]
async fn a_locked_prescription_never_appears() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let per = ticket(&app, &token, PER).await;
    let cetirizin = format!("MedicationStatement/{PER_CETIRIZIN}");
    for path in [
        format!("/MedicationStatement?patientTicket={per}"),
        format!("/MedicationStatement?patientTicket={per}&status=active"),
    ] {
        let reply = get(&app, &token, &path).await;
        assert_found(&reply, &[&cetirizin]);
        assert!(!reply.text.contains("Sobril"), "{}", reply.text);
    }
    let reply = get(
        &app,
        &token,
        &format!("/MedicationStatement?_id={PER_SOBRIL}"),
    )
    .await;
    assert_found(&reply, &[]);
    let reply = get(&app, &token, &format!("/MedicationStatement/{PER_SOBRIL}")).await;
    assert_outcome(
        &reply,
        StatusCode::NOT_FOUND,
        &[issue(
            "not-found",
            &not_known(&format!("MedicationStatement/{PER_SOBRIL}")),
        )],
    );
    let reply = get(&app, &token, &format!("/List?patientTicket={per}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        found(&reply.json),
        [
            (
                "List/medication-list-patient-per".to_owned(),
                "match".to_owned()
            ),
            (cetirizin.clone(), "include".to_owned()),
            (
                format!("Medication/med-{PER_CETIRIZIN}"),
                "include".to_owned()
            ),
        ]
    );
    assert!(!reply.text.contains("Sobril"), "{}", reply.text);
    assert!(!reply.text.contains(PER_SOBRIL), "{}", reply.text);
}

#[actix_web::test]
async fn the_medication_list_includes_its_statements_and_medications() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let line = ticket(&app, &token, LINE).await;
    let mut expected = vec![(
        "List/medication-list-patient-line".to_owned(),
        "match".to_owned(),
    )];
    for (id, _) in LINE_STATEMENTS {
        expected.push((format!("MedicationStatement/{id}"), "include".to_owned()));
        expected.push((format!("Medication/med-{id}"), "include".to_owned()));
    }
    for query in ["", "&summary=false", "&_summary=false"] {
        let reply = get(&app, &token, &format!("/List?patientTicket={line}{query}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        assert_eq!(
            reply.json["total"], 1,
            "only the List matches: {}",
            reply.text
        );
        assert_eq!(found(&reply.json), expected);
    }
    let reply = get(&app, &token, &format!("/List?patientTicket={line}")).await;
    let list = &reply.json["entry"][0]["resource"];
    assert_eq!(list["subject"], by_ticket(&line));
    assert_eq!(list["status"], "current");
    assert_eq!(list["mode"], "working");
    assert_eq!(list["code"]["coding"][0]["code"], "10160-0");
    let items: Vec<&str> = list["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["item"]["reference"].as_str().unwrap())
        .collect();
    let statements: Vec<String> = LINE_STATEMENTS
        .iter()
        .map(|(id, _)| format!("MedicationStatement/{id}"))
        .collect();
    assert_eq!(items, statements);
    // Every included statement names Line by ticket and its included Medication.
    for entry in reply.json["entry"].as_array().unwrap() {
        let resource = &entry["resource"];
        if resource["resourceType"] == "MedicationStatement" {
            assert_eq!(resource["subject"], by_ticket(&line));
            let medication = format!("Medication/med-{}", resource["id"].as_str().unwrap());
            assert_eq!(resource["medicationReference"]["reference"], medication);
        }
    }
    assert!(
        !reply.text.contains(LINE),
        "no fødselsnummer: {}",
        reply.text
    );

    // Raymond has nothing: an empty list, "nil known", no includes.
    let raymond = ticket(&app, &token, RAYMOND).await;
    let reply = get(&app, &token, &format!("/List?patientTicket={raymond}")).await;
    let list = only_resource(&reply);
    assert_eq!(found(&reply.json).len(), 1);
    assert_eq!(list["emptyReason"]["coding"][0]["code"], "nilknown");
    assert!(list.get("entry").is_none(), "{list}");

    // The administration list is not simulated.
    let reply = get(
        &app,
        &token,
        &format!("/List?patientTicket={line}&_query=administration"),
    )
    .await;
    assert_outcome(
        &reply,
        StatusCode::BAD_REQUEST,
        &[issue(
            "not-supported",
            "List?_query=administration is not simulated: helsesim serves the medication list \
             (List?patientTicket=...) only",
        )],
    );
}

#[actix_web::test]
async fn allergies_come_from_kjernejournal_by_ticket() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let line = ticket(&app, &token, LINE).await;
    let reply = get(
        &app,
        &token,
        &format!("/AllergyIntolerance?patientTicket={line}"),
    )
    .await;
    assert_eq!(
        only_resource(&reply),
        json!({
            "resourceType": "AllergyIntolerance",
            "id": "allergy-line-penicillin",
            "clinicalStatus": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                "code": "active", "display": "Active"
            }]},
            "verificationStatus": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
                "code": "confirmed", "display": "Confirmed"
            }]},
            "category": ["medication"],
            "criticality": "high",
            "code": {
                "text": "Penicilliner",
                "coding": [{"system": "http://www.whocc.no/atc", "code": "J01C",
                            "display": "Penicilliner"}]
            },
            "patient": by_ticket(&line),
            "recordedDate": "2023-03-03T10:00:00Z",
            "reaction": [{"manifestation": [{"text": "Elveblest og pustebesvær"}]}]
        })
    );
    assert!(!reply.text.contains(LINE), "{}", reply.text);

    let kari = ticket(&app, &token, KARI).await;
    let reply = get(
        &app,
        &token,
        &format!("/AllergyIntolerance?patientTicket={kari}"),
    )
    .await;
    assert_found(
        &reply,
        &[
            "AllergyIntolerance/allergy-kari-jod",
            "AllergyIntolerance/allergy-kari-peanuts",
        ],
    );
    for entry in reply.json["entry"].as_array().unwrap() {
        assert_eq!(entry["resource"]["criticality"], "high");
        assert_eq!(entry["resource"]["patient"], by_ticket(&kari));
    }
    let read = get(&app, &token, "/AllergyIntolerance/allergy-kari-peanuts").await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    assert_eq!(read.json["code"]["text"], "Peanøtter");
    assert_eq!(read.json["patient"], by_ticket(&kari));
    let reply = get(&app, &token, "/AllergyIntolerance?_id=allergy-kari-peanuts").await;
    assert_eq!(only_resource(&reply), read.json);
    let reply = get(
        &app,
        &token,
        &format!("/AllergyIntolerance?patientTicket={line}&_id=allergy-kari-peanuts"),
    )
    .await;
    assert_found(&reply, &[]);

    // Raymond has none.
    let raymond = ticket(&app, &token, RAYMOND).await;
    assert_found(
        &get(
            &app,
            &token,
            &format!("/AllergyIntolerance?patientTicket={raymond}"),
        )
        .await,
        &[],
    );
    let reply = get(&app, &token, "/AllergyIntolerance/nope").await;
    assert_outcome(
        &reply,
        StatusCode::NOT_FOUND,
        &[issue("not-found", &not_known("AllergyIntolerance/nope"))],
    );
}

#[actix_web::test]
async fn a_food_allergy_is_in_category_food() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    for (id, category) in [
        ("allergy-kari-peanuts", "food"),
        ("allergy-kari-jod", "medication"),
        ("allergy-line-penicillin", "medication"),
    ] {
        let read = get(&app, &token, &format!("/AllergyIntolerance/{id}")).await;
        assert_eq!(read.status, StatusCode::OK, "{}", read.text);
        assert_eq!(read.json["category"], json!([category]), "{id}");
    }
}

#[actix_web::test]
async fn medications_are_read_and_searched_by_id() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let atorvastatin = format!("med-{ATORVASTATIN}");
    let reply = get(&app, &token, &format!("/Medication/{atorvastatin}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["id"], atorvastatin.as_str());
    assert_eq!(reply.json["code"]["text"], "Atorvastatin Sandoz tab 20 mg");
    assert_eq!(
        reply.json["code"]["coding"],
        json!([
            {"system": "http://ehelse.no/fhir/CodeSystem/FEST", "code": "ID_A1B2C3D4-0001",
             "display": "Atorvastatin Sandoz tab 20 mg"},
            {"system": "http://www.whocc.no/atc", "code": "C10AA05", "display": "Atorvastatin"}
        ])
    );
    assert_eq!(reply.json["status"], "active");
    assert_eq!(reply.json["form"], json!({"text": "Tablett"}));
    let read = reply.json;

    let reply = get(&app, &token, &format!("/Medication?_id={atorvastatin}")).await;
    assert_eq!(only_resource(&reply), read);
    let zopiclone = format!("Medication/med-{ZOPICLONE}");
    let reply = get(
        &app,
        &token,
        &format!("/Medication?_id={atorvastatin},med-{ZOPICLONE}"),
    )
    .await;
    assert_found(&reply, &[&format!("Medication/{atorvastatin}"), &zopiclone]);
    assert_found(&get(&app, &token, "/Medication?_id=nope").await, &[]);
    let reply = get(&app, &token, "/Medication/nope").await;
    assert_outcome(
        &reply,
        StatusCode::NOT_FOUND,
        &[issue("not-found", &not_known("Medication/nope"))],
    );
    let reply = get(&app, &token, "/Medication?code=C10AA05").await;
    assert_outcome(
        &reply,
        StatusCode::BAD_REQUEST,
        &[issue(
            "not-supported",
            "Unknown search parameter 'code' for Medication; supported: _id, and _count, _offset, \
             _summary, _format",
        )],
    );
}

#[actix_web::test]
async fn the_medication_of_a_locked_prescription_is_not_served() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let sobril = format!("med-{PER_SOBRIL}");
    let reply = get(&app, &token, &format!("/Medication/{sobril}")).await;
    assert_outcome(
        &reply,
        StatusCode::NOT_FOUND,
        &[issue(
            "not-found",
            &not_known(&format!("Medication/{sobril}")),
        )],
    );
    let reply = get(&app, &token, "/Medication").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(!reply.text.contains("Sobril"), "{}", reply.text);
    assert!(!reply.text.contains(PER_SOBRIL), "{}", reply.text);
}

// ---------------------------------------------------------------------------------------------
// What is not served, and tenant isolation.

#[actix_web::test]
async fn datadeling_resources_have_no_version_history() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    let line = ticket(&app, &token, LINE).await;
    let reply = create(&app, &token, &condition(&line)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let created = format!("Condition/{}", reply.json["id"].as_str().unwrap());
    for reference in [
        created.as_str(),
        LINE_CONDITION,
        KARI_INR,
        TASK_FEST,
        &format!("MedicationStatement/{ATORVASTATIN}"),
        &format!("Medication/med-{ATORVASTATIN}"),
        "AllergyIntolerance/allergy-line-penicillin",
    ] {
        let type_name = reference.split('/').next().unwrap();
        // The resource is there …
        let reply = get(&app, &token, &format!("/{reference}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{reference}: {}", reply.text);
        // … but not its versions.
        let reply = get(&app, &token, &format!("/{reference}/_history/1")).await;
        assert_not_allowed(
            &reply,
            "GET, HEAD",
            &format!(
                "SFM Datadeling's {type_name} has no version history here: read it with GET \
                 {type_name}/[id], search it with GET {type_name}?..."
            ),
        );
    }
}

#[actix_web::test]
async fn the_medication_list_is_searched_not_read_by_id() {
    let app = spawn_app().await;
    let token = didrik(&app).await;
    for path in [
        "/List/medication-list-patient-line",
        "/List/medication-list-patient-line/_history/1",
    ] {
        let reply = get(&app, &token, path).await;
        assert_not_allowed(
            &reply,
            "GET, HEAD",
            "SFM Datadeling's List is not read by id: search it with GET \
             List?patientTicket=[patient ticket]",
        );
    }
}

#[actix_web::test]
async fn datadeling_stays_in_its_instance() {
    let app = spawn_app().await;
    let didrik = didrik(&app).await;
    let sigrid = sigrid_at_sjokanten(&app).await;
    let line = ticket(&app, &didrik, LINE).await;
    let reply = create(&app, &didrik, &condition(&line)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let id = reply.json["id"].as_str().unwrap().to_owned();

    // Sjøkanten (where Line is another record) knows neither that Condition nor the fixture's.
    for reference in [format!("Condition/{id}"), LINE_CONDITION.to_owned()] {
        let reply = get(&app, &sigrid, &format!("/{reference}")).await;
        assert_outcome(
            &reply,
            StatusCode::NOT_FOUND,
            &[issue("not-found", &not_known(&reference))],
        );
    }
    assert_found(
        &get(&app, &sigrid, &format!("/Condition?_id={id}")).await,
        &[],
    );
    let sjokanten_line = ticket(&app, &sigrid, LINE).await;
    assert_eq!(
        clinical(&app, &sigrid, &sjokanten_line).await,
        (vec![], vec![])
    );
    // Nor Fjordbyen's Observation and Tasks.
    let reply = get(&app, &sigrid, "/Observation/observation-kari-inr").await;
    assert_outcome(
        &reply,
        StatusCode::NOT_FOUND,
        &[issue("not-found", &not_known(KARI_INR))],
    );
    assert_found(&get(&app, &sigrid, "/Task").await, &[]);
    // Kari is no patient of Sjøkanten: her national data is not read through it.
    for reference in [
        format!("MedicationStatement/{KARI_MAREVAN}"),
        "AllergyIntolerance/allergy-kari-jod".to_owned(),
    ] {
        let reply = get(&app, &sigrid, &format!("/{reference}")).await;
        assert_outcome(
            &reply,
            StatusCode::NOT_FOUND,
            &[issue("not-found", &not_known(&reference))],
        );
    }
    // Line's national data is shared: Sjøkanten sees it by its own ticket.
    let reply = get(
        &app,
        &sigrid,
        &format!("/AllergyIntolerance?patientTicket={sjokanten_line}"),
    )
    .await;
    assert_eq!(only_resource(&reply)["patient"], by_ticket(&sjokanten_line));
    // Fjordbyen still has both Conditions.
    let (conditions, _) = clinical(&app, &didrik, &line).await;
    let mut expected = vec![format!("Condition/{id}"), LINE_CONDITION.to_owned()];
    expected.sort();
    assert_eq!(conditions, expected);
}

// ---------------------------------------------------------------------------------------------
// First tests: the List, creates by ticket, the task filters.

#[actix_web::test]
async fn the_medication_list_names_the_patient_by_ticket() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let line = ticket(&app, &token, "12050050295").await;
    let reply = app
        .fhir(
            "GET",
            &format!("/List?patientTicket={line}&summary=false"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let list = &reply.json["entry"][0]["resource"];
    assert_eq!(list["resourceType"], "List");
    assert_eq!(
        list["subject"],
        json!({"type": "Patient", "identifier": {"value": line}})
    );
    assert_eq!(list["entry"].as_array().unwrap().len(), 9);
    assert!(
        !reply.text.contains("12050050295"),
        "never the fødselsnummer: {}",
        reply.text
    );
    let statement = reply.json["entry"][1]["resource"].clone();
    assert_eq!(statement["resourceType"], "MedicationStatement");
    assert_eq!(statement["subject"]["identifier"]["value"], line);
    let id = statement["id"].as_str().unwrap();
    let read = app
        .fhir(
            "GET",
            &format!("/MedicationStatement/{id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    assert_eq!(read.json["subject"]["identifier"]["value"], line);
}

#[actix_web::test]
async fn conditions_and_observations_are_created_by_ticket() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let kari = ticket(&app, &token, "13116900216").await;
    let inr = json!({
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "34714-6", "display": "INR"}]},
        "subject": {"identifier": {"value": kari}},
        "valueQuantity": {"value": 3.1, "unit": "INR"}
    });
    let reply = app
        .fhir("POST", "/Observation", Some(&token), Some(&inr))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.json["subject"]["identifier"]["value"], kari);
    let reply = app
        .fhir(
            "GET",
            &format!("/Observation?patientTicket={kari}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["total"], 2, "{}", reply.text);

    let mut text_value = inr.clone();
    text_value["valueString"] = json!("3,1");
    text_value.as_object_mut().unwrap().remove("valueQuantity");
    let reply = app
        .fhir("POST", "/Observation", Some(&token), Some(&text_value))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);

    let reply = app
        .fhir(
            "GET",
            "/Condition?patientTicket=not-a-ticket",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert!(
        reply.json["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("unknown or expired")
    );
}

#[actix_web::test]
async fn tasks_list_and_filter() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let reply = app.fhir("GET", "/Task", Some(&token), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["total"], 3);
    let reply = app
        .fhir("GET", "/Task?type=NonPatient", Some(&token), None)
        .await;
    assert_eq!(
        found(&reply.json),
        [("Task/task-fest-alert".to_owned(), "match".to_owned())]
    );
    let reply = app
        .fhir("GET", "/Task?codeNot=3,11", Some(&token), None)
        .await;
    assert_eq!(
        found(&reply.json),
        [("Task/task-question-ola".to_owned(), "match".to_owned())]
    );
}
