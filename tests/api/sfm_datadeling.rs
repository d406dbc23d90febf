//! SFM Datadeling: resources that name the patient by ticket.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

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
