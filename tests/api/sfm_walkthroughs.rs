//! The two walkthroughs of the SFM specs, run as printed: creating an organisation (a new SFM
//! instance, its superuser, a practitioner, activation) and getting a patient ticket.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// The Organization payload of the SFM organisation spec, as printed.
fn spec_organization() -> Value {
    json!({
        "resourceType": "Organization",
        "meta": {
            "versionId": "1",
            "lastUpdated": "2024-05-23T15:33:58.7998213+02:00",
            "profile": ["http://ehelse.no/fhir/StructureDefinition/sfm-Organization"]
        },
        "extension": [{
            "extension": [
                {"extension": [
                    {"url": "systemcode", "valueString": "DrWho"},
                    {"url": "systemname", "valueString": "Doctor Who testtool"},
                    {"url": "version", "valueString": "4.1"},
                    {"url": "updatetime", "valueDateTime": "2024-05-23T15:30:17.0349469+02:00"}
                ], "url": "systeminfo"},
                {"extension": [
                    {"url": "servicevendorname", "valueString": "Kolåsen vedlikehald"},
                    {"url": "contactname", "valueString": "Didrik"},
                    {"url": "contactemail", "valueString": "didrik@kolaasen.no"},
                    {"url": "contactphone", "valueString": "98765432"}
                ], "url": "operationsuplierinfo"}
            ],
            "url": "http://ehelse.no/fhir/StructureDefinition/sfm-epjinfo"
        }],
        "identifier": [
            {"use": "official", "system": "urn:oid:2.16.578.1.12.4.1.4.101", "value": "917897468"},
            {"use": "official", "system": "urn:oid:2.16.578.1.12.4.1.2", "value": "81420690"},
            {"use": "official", "system": "urn:oid:2.16.578.1.12.4.1.4.109",
             "value": "a99abfb4-2bea-4e0a-bb03-38e37febbd2c"}
        ],
        "active": false,
        "type": [{"coding": [{"system": "http://ehelse.no/fhir/CodeSystem/sfm-type-of-organization",
                              "code": "3", "display": "Fastlege"}]}],
        "name": "Kolåsbakkane legekontor",
        "telecom": [{"system": "phone", "value": "12345678", "use": "work"}],
        "address": [{"use": "work", "type": "physical", "text": "Testaddress",
                     "line": ["Testveien 1"], "city": "Oslo", "postalCode": "1234"}]
    })
}

#[actix_web::test]
async fn the_organisation_creation_walkthrough_runs_as_printed() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_NEW_TENANT, DIDRIK, None).await;

    // Before the instance exists, nothing but creating it is allowed.
    let reply = app.fhir("GET", "/Person", Some(&token), None).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
    assert_eq!(
        reply.json["issue"][0]["diagnostics"],
        format!(
            "The SFM instance {KOLASBAKKANE} does not exist yet: the only operation allowed is \
             creating it with POST Organization"
        )
    );

    // POST Organization: 201, Location, the stored resource with a server id.
    let reply = app
        .fhir(
            "POST",
            "/Organization",
            Some(&token),
            Some(&spec_organization()),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let org_id = reply.json["id"].as_str().unwrap().to_owned();
    assert_eq!(
        reply.header("location").unwrap(),
        format!("{}/sfm/fhir/Organization/{org_id}/_history/1", app.base)
    );
    assert_eq!(reply.header("etag"), Some("W/\"1\""));
    assert_eq!(
        reply.header("content-type"),
        Some("application/fhir+json; charset=utf-8")
    );
    assert_eq!(reply.json["meta"]["versionId"], "1");
    assert_eq!(
        reply.json["meta"]["lastUpdated"],
        "2026-03-02T10:00:00.000+00:00"
    );
    assert_eq!(
        reply.json["meta"]["profile"],
        json!(["http://ehelse.no/fhir/StructureDefinition/sfm-Organization"])
    );
    assert_eq!(reply.json["name"], "Kolåsbakkane legekontor");
    assert_eq!(reply.json["active"], false);

    // GET Person: the superuser, made behind the scenes, in a searchset Bundle.
    let reply = app.fhir("GET", "/Person", Some(&token), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let bundle = &reply.json;
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "searchset");
    assert_eq!(bundle["total"], 1);
    assert_eq!(
        bundle["link"][0],
        json!({
            "relation": "self",
            "url": format!("{}/sfm/fhir/Person?_count=100&_format=json", app.base)
        })
    );
    let person = bundle["entry"][0]["resource"].clone();
    let person_id = person["id"].as_str().unwrap().to_owned();
    assert_eq!(
        bundle["entry"][0]["fullUrl"],
        format!("{}/sfm/fhir/Person/{person_id}", app.base)
    );
    // As printed: the Person search marks its entry "include".
    assert_eq!(bundle["entry"][0]["search"], json!({"mode": "include"}));
    assert_eq!(
        person["identifier"],
        json!([{"use": "official", "system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": DIDRIK}])
    );
    assert_eq!(person["active"], true);
    assert_eq!(
        person["meta"]["profile"],
        json!(["http://ehelse.no/fhir/StructureDefinition/sfm-Person"])
    );

    // GET Person/{id}, then PUT the spec's update (with this server's id).
    let reply = app
        .fhir("GET", &format!("/Person/{person_id}"), Some(&token), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json, person);
    let update = json!({
        "resourceType": "Person",
        "id": person_id,
        "meta": {"versionId": "1", "lastUpdated": "2024-05-23T15:35:03.7386838+02:00",
                 "profile": ["http://ehelse.no/fhir/StructureDefinition/sfm-Person"]},
        "identifier": [{"use": "official", "system": "urn:oid:2.16.578.1.12.4.1.4.1",
                        "value": DIDRIK}],
        "name": [{
            "extension": [{
                "url": "http://hl7.no/fhir/StructureDefinition/no-basis-middlename",
                "valueString": "D"
            }],
            "family": "Didrikson", "given": ["Didrik"]
        }],
        "gender": "male",
        "birthDate": "1966-05-17",
        "address": [{"use": "work", "type": "physical", "line": ["Testveien 1"], "city": "Oslo",
                     "postalCode": "1234"}],
        "active": true
    });
    let reply = app
        .fhir(
            "PUT",
            &format!("/Person/{person_id}"),
            Some(&token),
            Some(&update),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["meta"]["versionId"], "2");
    assert_eq!(reply.header("etag"), Some("W/\"2\""));
    assert_eq!(reply.json["name"][0]["family"], "Didrikson");

    // POST the spec's Practitioner: 201.
    let practitioner = json!({
        "resourceType": "Practitioner",
        "meta": {"versionId": "1", "lastUpdated": "2024-05-23T15:58:11.8597674+02:00",
                 "profile": ["http://ehelse.no/fhir/StructureDefinition/sfm-Practitioner"]},
        "identifier": [{"use": "official", "system": "urn:oid:2.16.578.1.12.4.1.4.1",
                        "value": DIDRIK}],
        "active": true,
        "name": [{
            "extension": [{
                "url": "http://hl7.no/fhir/StructureDefinition/no-basis-middlename",
                "valueString": "D"
            }],
            "family": "Dirdrikson", "given": ["Didrik"]
        }],
        "address": [{"use": "work", "type": "physical", "line": ["Testveien 1"], "city": "Oslo",
                     "postalCode": "1234"}],
        "gender": "male",
        "birthDate": "1966-05-17"
    });
    let reply = app
        .fhir("POST", "/Practitioner", Some(&token), Some(&practitioner))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.json["resourceType"], "Practitioner");

    // Last step for SFM Basis: active=true.
    let mut organization = app
        .fhir(
            "GET",
            &format!("/Organization/{org_id}"),
            Some(&token),
            None,
        )
        .await
        .json;
    organization["active"] = json!(true);
    let reply = app
        .fhir(
            "PUT",
            &format!("/Organization/{org_id}"),
            Some(&token),
            Some(&organization),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["active"], true);

    // The vendor's multi-tenant client reaches the same instance with the SFM-id as journal-id.
    let details = json!([
        org_detail("urn:oid:1.0.6523", "NO:ORGNR:917897468"),
        {"type": "nhn:sfm:journal-id", "value": {"journal_id": KOLASBAKKANE}}
    ]);
    let multi = app.sfm_token(MULTI_TENANT, DIDRIK, Some(details)).await;
    let reply = app
        .fhir(
            "GET",
            &format!("/Organization/{org_id}"),
            Some(&multi),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["name"], "Kolåsbakkane legekontor");

    // Creating it again is a clear conflict.
    let reply = app
        .fhir(
            "POST",
            "/Organization",
            Some(&token),
            Some(&spec_organization()),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.json["issue"][0]["code"], "duplicate");
    assert_eq!(
        reply.json["issue"][0]["diagnostics"],
        format!("This SFM instance already exists (Organization/{org_id}): update it with PUT")
    );
    // A well-behaved client: the integration advisor finds nothing.
    crate::advice::assert_no_findings(&app).await;
}

#[actix_web::test]
async fn the_patient_ticket_walkthrough_runs_as_printed() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    // The spec's body, with its leading space in the pid.
    let body = "{\n\"patientPid\" :\" 10092939427\"\n}";
    let reply = app
        .patient_ticket(Some(&token), body, Some("application/json"))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let ticket = reply.json["patientTicket"].as_str().unwrap().to_owned();
    assert_eq!(ticket.len(), 36);
    assert!(ticket.chars().all(|c| c.is_ascii_hexdigit() || c == '-'));
    assert_eq!(
        reply.header("expires"),
        Some("Mon, 02 Mar 2026 11:00:00 GMT")
    );

    // Without application/json in Accept: the ticket as text; the same ticket, extended.
    advance(&app, 600);
    let reply = app
        .patient_ticket(Some(&token), body, Some("text/plain"))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(reply.text, ticket);
    assert_eq!(
        reply.header("expires"),
        Some("Mon, 02 Mar 2026 11:10:00 GMT")
    );
    let reply = app.patient_ticket(Some(&token), body, None).await;
    assert_eq!(reply.text, ticket);
    // A well-behaved client: the integration advisor finds nothing.
    crate::advice::assert_no_findings(&app).await;
}

#[actix_web::test]
async fn tenants_are_isolated() {
    let app = spawn_app().await;
    // Sigrid is a user of both instances; the same fødselsnummer is a patient in both.
    let fjordbyen = app.sfm_token(SFM_READY, SIGRID, None).await;
    let details = json!([
        org_detail("urn:oid:1.0.6523", &format!("NO:ORGNR:{SJOKANTEN_ORGNR}")),
        {"type": "nhn:sfm:journal-id", "value": {"journal_id": SJOKANTEN}}
    ]);
    let sjokanten = app.sfm_token(MULTI_TENANT, SIGRID, Some(details)).await;

    // Each sees its own Organization and patient register.
    let reply = app
        .fhir("GET", "/Organization", Some(&fjordbyen), None)
        .await;
    assert_eq!(reply.json["total"], 1);
    assert_eq!(
        reply.json["entry"][0]["resource"]["name"],
        "Fjordbyen legekontor"
    );
    let reply = app
        .fhir("GET", "/Organization", Some(&sjokanten), None)
        .await;
    assert_eq!(
        reply.json["entry"][0]["resource"]["name"],
        "Sjøkanten legesenter"
    );
    let reply = app
        .fhir(
            "GET",
            "/Patient?identifier=10092939427",
            Some(&sjokanten),
            None,
        )
        .await;
    assert_eq!(reply.json["total"], 1);
    assert_eq!(
        reply.json["entry"][0]["resource"]["name"][0]["given"][0],
        "Oskar"
    );

    // An id of one instance is unknown in the other, for reads and updates alike.
    let reply = app
        .fhir("GET", "/Patient/patient-kari", Some(&sjokanten), None)
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(
        reply.json["issue"][0]["diagnostics"],
        "Resource Patient/patient-kari is not known"
    );
    let kari = app
        .fhir("GET", "/Patient/patient-kari", Some(&fjordbyen), None)
        .await
        .json;
    let reply = app
        .fhir(
            "PUT",
            "/Patient/patient-kari",
            Some(&sjokanten),
            Some(&kari),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = app
        .fhir(
            "GET",
            "/Patient?identifier=13116900216",
            Some(&sjokanten),
            None,
        )
        .await;
    assert_eq!(reply.json["total"], 0);

    // Tickets: the same patient and user get different tickets in the two instances, and a
    // patient of one instance only is unknown to the other.
    let body = r#"{"patientPid": "12050050295"}"#;
    let a = app
        .patient_ticket(Some(&fjordbyen), body, Some("application/json"))
        .await;
    let b = app
        .patient_ticket(Some(&sjokanten), body, Some("application/json"))
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(b.status, StatusCode::OK);
    assert_ne!(a.json["patientTicket"], b.json["patientTicket"]);
    let reply = app
        .patient_ticket(Some(&sjokanten), r#"{"patientPid": "13116900216"}"#, None)
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );

    // Didrik is not a user of Sjøkanten.
    let details = json!([
        org_detail("urn:oid:1.0.6523", &format!("NO:ORGNR:{SJOKANTEN_ORGNR}")),
        {"type": "nhn:sfm:journal-id", "value": {"journal_id": SJOKANTEN}}
    ]);
    let stranger = app.sfm_token(MULTI_TENANT, DIDRIK, Some(details)).await;
    let reply = app.fhir("GET", "/Patient", Some(&stranger), None).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(
        reply.json["issue"][0]["diagnostics"],
        format!(
            "The user {DIDRIK} is not registered in this SFM instance: a superuser registers users \
             as Person or Practitioner"
        )
    );
    let _ = FJORDBYEN;
}
