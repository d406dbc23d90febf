//! SFM `$getMedication` / `$sendMedication`: the whole prescribing loop and its rules.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// Line Danser, the plain patient.
pub const LINE: &str = "12050050295";

/// A `patient` parameter for $getMedication: name, address, fødselsnummer.
pub fn patient_param(fnr: &str, family: &str, given: &str) -> Value {
    json!({
        "resourceType": "Patient",
        "identifier": [{"use": "official", "system": "urn:oid:2.16.578.1.12.4.1.4.1",
                        "value": fnr}],
        "name": [{"family": family, "given": [given]}],
        "address": [{"use": "home", "line": ["Fjordveien 12"], "postalCode": "0150",
                     "city": "Oslo"}]
    })
}

/// `POST /Patient/$getMedication` with `patient` and extra parameters.
pub async fn get_medication(app: &TestApp, token: &str, patient: Value, extra: &[Value]) -> Reply {
    let mut parameter = vec![json!({"name": "patient", "resource": patient})];
    parameter.extend_from_slice(extra);
    app.fhir(
        "POST",
        "/Patient/$getMedication",
        Some(token),
        Some(&json!({"resourceType": "Parameters", "parameter": parameter})),
    )
    .await
}

/// The medication Bundle of a $getMedication answer.
pub fn medication_bundle(reply: &Reply) -> Value {
    reply.json["parameter"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "medication")
        .unwrap()["resource"]
        .clone()
}

/// A named output parameter.
pub fn output<'a>(parameters: &'a Value, name: &str) -> Option<&'a Value> {
    parameters["parameter"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
}

/// The Composition identifier of a medication bundle.
pub fn composition_id(bundle: &Value) -> String {
    bundle["entry"][0]["resource"]["identifier"]["value"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The bundle as an EHR sends it back: relatesTo (in the spec's printed form) names the lookup.
pub fn send_body(bundle: &Value) -> Value {
    let mut bundle = bundle.clone();
    let id = composition_id(&bundle);
    bundle["entry"][0]["resource"]["relatesTo"] =
        json!({"code": "replaces", "targetIdentifier": {"value": id}});
    json!({"resourceType": "Parameters", "parameter": [{"name": "medication", "resource": bundle}]})
}

/// Sets createPLL in the bundle's sfm-PLL-info.
pub fn set_create_pll(body: &mut Value, create: bool) {
    let entries = body["parameter"][0]["resource"]["entry"]
        .as_array_mut()
        .unwrap();
    for entry in entries {
        if entry["resource"]["resourceType"] == "Basic" {
            let info = entry["resource"]["extension"][0]["extension"]
                .as_array_mut()
                .unwrap();
            info.retain(|e| e["url"] != "createPLL");
            info.push(json!({"url": "createPLL", "valueBoolean": create}));
        }
    }
}

/// Adds a new prescription (createresept) with its Medication; returns its ReseptId.
pub fn add_prescription(body: &mut Value, name: &str, extra_amendment: &[Value]) -> String {
    let resept_id = uuid::Uuid::new_v4().to_string();
    let medication_urn = format!("urn:uuid:{}", uuid::Uuid::new_v4());
    let bundle = &mut body["parameter"][0]["resource"];
    let subject = bundle["entry"][0]["resource"]["subject"].clone();
    let mut amendment = vec![
        json!({"url": "createresept", "valueBoolean": true}),
        json!({"url": "reseptdate", "valueDate": "2026-03-02"}),
        json!({"url": "expirationdate", "valueDate": "2027-03-01"}),
        json!({"url": "dssn", "valueString": "1 tablett daglig"}),
        json!({"url": "numberofpackages", "valueDecimal": 1}),
        json!({"url": "reit", "valueString": "0"}),
        json!({
            "url": "itemgroup",
            "valueCodeableConcept": {"coding": [{"system": "urn:oid:2.16.578.1.12.4.1.1.7402",
                                                 "code": "L", "display": "Legemiddel"}]}
        }),
    ];
    amendment.extend_from_slice(extra_amendment);
    let statement = json!({
        "resourceType": "MedicationStatement",
        "meta": {"profile": ["http://ehelse.no/fhir/StructureDefinition/sfm-MedicationStatement"]},
        "extension": [{"url": "http://ehelse.no/fhir/StructureDefinition/sfm-reseptamendment",
                       "extension": amendment}],
        "identifier": [{"use": "usual", "type": {"text": "ReseptId"}, "value": resept_id}],
        "status": "active",
        "medicationReference": {"reference": medication_urn, "display": name},
        "subject": subject,
        "dosage": [{"sequence": 1, "text": "1 tablett daglig"}]
    });
    let medication = json!({
        "resourceType": "Medication",
        "code": {"text": name},
        "status": "active"
    });
    let entries = bundle["entry"].as_array_mut().unwrap();
    entries.push(
        json!({"fullUrl": format!("urn:uuid:{}", uuid::Uuid::new_v4()), "resource": statement}),
    );
    entries.push(json!({"fullUrl": medication_urn, "resource": medication}));
    resept_id
}

/// `POST /Patient/$sendMedication`.
pub async fn send_medication(app: &TestApp, token: &str, body: &Value) -> Reply {
    app.fhir("POST", "/Patient/$sendMedication", Some(token), Some(body))
        .await
}

/// The statements of a medication bundle, by their identifiers.
pub fn statements(bundle: &Value) -> Vec<Value> {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"].clone())
        .filter(|r| r["resourceType"] == "MedicationStatement")
        .collect()
}

/// A statement's identifier of a type.
pub fn identifier(statement: &Value, type_text: &str) -> Option<String> {
    statement["identifier"]
        .as_array()?
        .iter()
        .find(|i| i["type"]["text"] == type_text)
        .and_then(|i| i["value"].as_str())
        .map(str::to_owned)
}

#[actix_web::test]
async fn the_whole_prescribing_loop() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    // The EHR opens the patient: a patient ticket from the session service.
    let reply = app
        .patient_ticket(
            Some(&token),
            &json!({"patientPid": LINE}).to_string(),
            Some("application/json"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let ticket = reply.json["patientTicket"].as_str().unwrap().to_owned();
    let reply = get_medication(
        &app,
        &token,
        patient_param(LINE, "Danser", "Line"),
        &[json!({"name": "SamtykkeKjernejournal", "valueCode": "HPMOTTATTSAMTYKKE"})],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let bundle = medication_bundle(&reply);
    let before = statements(&bundle);
    assert_eq!(
        before.len(),
        9,
        "{}",
        serde_json::to_string_pretty(&bundle).unwrap()
    );

    // Edit: a new prescription, withdraw the Zopiklon, send a PLL.
    let mut body = send_body(&bundle);
    let zopiklon = before
        .iter()
        .find(|s| s["medicationReference"]["display"] == "Zopiclone Mylan tab 5 mg")
        .unwrap();
    let zopiklon_id = identifier(zopiklon, "ReseptId").unwrap();
    let entries = body["parameter"][0]["resource"]["entry"]
        .as_array_mut()
        .unwrap();
    for entry in entries.iter_mut() {
        if identifier(&entry["resource"], "ReseptId").as_deref() == Some(zopiklon_id.as_str()) {
            entry["resource"]["status"] = json!("stopped");
            let amendment = entry["resource"]["extension"][0]["extension"]
                .as_array_mut()
                .unwrap();
            amendment.push(json!({"url": "recallinfo", "extension": [
                {"url": "recallcode",
                 "valueCodeableConcept": {"coding": [{"system": "urn:oid:2.16.578.1.12.4.1.1.7500",
                                                      "code": "2", "display": "Seponering"}]}}
            ]}));
        }
    }
    let new_id = add_prescription(&mut body, "Losartan Krka tab 50 mg", &[]);
    set_create_pll(&mut body, true);
    let reply = send_medication(&app, &token, &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        output(&reply.json, "prescriptionCount").unwrap()["valueInteger"],
        1
    );
    assert_eq!(
        output(&reply.json, "recallCount").unwrap()["valueInteger"],
        1
    );
    assert!(output(&reply.json, "PllResult").is_some(), "{}", reply.text);

    // The next lookup shows it.
    let reply = get_medication(&app, &token, patient_param(LINE, "Danser", "Line"), &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let after = statements(&medication_bundle(&reply));
    assert!(
        after
            .iter()
            .any(|s| identifier(s, "ReseptId").as_deref() == Some(new_id.as_str())),
        "{}",
        reply.text
    );
    // The withdrawn Zopiclone (outside the PLL) is gone.
    assert!(
        !after
            .iter()
            .any(|s| identifier(s, "ReseptId").as_deref() == Some(zopiklon_id.as_str())),
        "{}",
        reply.text
    );
    // Datadeling shows the same medication by the patient ticket.
    let reply = app
        .fhir(
            "GET",
            &format!("/MedicationStatement?patientTicket={ticket}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let shared: Vec<String> = reply.json["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| identifier(&e["resource"], "ReseptId"))
        .collect();
    assert!(shared.contains(&new_id), "{}", reply.text);
    assert!(!shared.contains(&zopiklon_id), "{}", reply.text);
    // A well-behaved client: the integration advisor finds nothing.
    crate::advice::assert_no_findings(&app).await;
}

/// The real `$getMedication` answer from SFM's test environment, as shipped in examples/.
fn real_get_medication() -> Value {
    let path = manifest_dir().join("examples/sfm/getMedication-response.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Per resource type, every element name and every extension URL (at any depth) it uses.
fn vocabulary(
    bundle: &Value,
) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    fn walk(value: &Value, into: &mut std::collections::BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    if key == "resource" {
                        continue; // a contained resource is counted under its own type
                    }
                    into.insert(key.clone());
                    walk(inner, into);
                }
                if let Some(url) = map.get("url").and_then(Value::as_str)
                    && map
                        .keys()
                        .any(|k| k == "extension" || k.starts_with("value"))
                {
                    into.insert(format!("extension {url}"));
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, into)),
            _ => {}
        }
    }
    let mut out = std::collections::BTreeMap::<String, std::collections::BTreeSet<String>>::new();
    for entry in bundle["entry"].as_array().unwrap() {
        let resource = &entry["resource"];
        let kind = resource["resourceType"].as_str().unwrap().to_owned();
        walk(resource, out.entry(kind).or_default());
    }
    out
}

#[actix_web::test]
async fn get_medication_is_shaped_like_the_real_answer() {
    let real = real_get_medication();
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let reply = get_medication(
        &app,
        &token,
        patient_param(LINE, "Danser", "Line"),
        &[json!({"name": "SamtykkeKjernejournal", "valueCode": "HPMOTTATTSAMTYKKE"})],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let names = |parameters: &Value| -> Vec<String> {
        parameters["parameter"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(&reply.json),
        names(&real),
        "the output parameters, in order"
    );
    for name in names(&real).iter().skip(1) {
        let value_type = |p: &Value| {
            let p = output(p, name).unwrap().as_object().unwrap();
            p.keys().find(|k| k.starts_with("value")).cloned()
        };
        assert_eq!(value_type(&reply.json), value_type(&real), "{name}");
    }

    let ours = medication_bundle(&reply);
    let theirs = &real["parameter"][0]["resource"];
    assert_eq!(ours["type"], "document");
    assert_eq!(ours["meta"]["profile"], theirs["meta"]["profile"]);
    let composition = &ours["entry"][0]["resource"];
    let real_composition = &theirs["entry"][0]["resource"];
    for key in ["meta", "status", "type", "title", "confidentiality"] {
        assert_eq!(composition[key], real_composition[key], "Composition.{key}");
    }
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        keys(composition),
        keys(real_composition),
        "Composition elements, in order"
    );
    assert_eq!(composition["identifier"]["use"], "official");
    assert_ne!(
        composition["identifier"]["value"], real_composition["identifier"]["value"],
        "a fresh identifier"
    );
    let typed = |refs: &Value| -> Vec<Value> {
        refs.as_array()
            .unwrap()
            .iter()
            .map(|r| r["type"].clone())
            .collect()
    };
    assert_eq!(
        typed(&composition["author"]),
        typed(&real_composition["author"])
    );
    assert_eq!(
        composition["subject"]["type"],
        real_composition["subject"]["type"]
    );
    let sections = |c: &Value| -> Vec<(Value, Value)> {
        c["section"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["title"].clone(), s["code"].clone()))
            .collect()
    };
    assert_eq!(
        sections(composition),
        sections(real_composition),
        "sections, in order"
    );

    // Nothing helsesim writes is unknown to the real answer: no element, no extension, no
    // resource type of our own invention.
    let real_words = vocabulary(theirs);
    let mut invented = Vec::new();
    for (kind, words) in vocabulary(&ours) {
        if kind == "AllergyIntolerance" {
            // The real patient had no allergies (sectionAllergies is empty); the IG fills that
            // section with AllergyIntolerance.
            continue;
        }
        let Some(known) = real_words.get(&kind) else {
            invented.push(format!("resource type {kind}"));
            continue;
        };
        invented.extend(words.difference(known).map(|w| format!("{kind}: {w}")));
    }
    assert_eq!(invented, Vec::<String>::new());
}

/// The multidose patient's answer beside the real one (a multidose patient too): the Bundle's
/// elements (`total`, `meta.source`, no identifier), the Composition's `date` (a date), the
/// sections' narratives, the entry order (the authors and the patient first, each Medication
/// before its statement, dispenses after it), and the pharmacy's M25.2 and M25.3 after the
/// M25.1, the M25.3 with its deliveries.
#[actix_web::test]
async fn a_multidose_answer_is_shaped_like_the_real_one() {
    let real = real_get_medication();
    let theirs = &real["parameter"][0]["resource"];
    let app = spawn_app().await;
    let token = didrik_at_nordby(&app).await;
    let reply = get_medication(
        &app,
        &token,
        patient_param("10092939427", "Nordmann", "Ola"),
        &[json!({"name": "SamtykkeKjernejournal", "valueCode": "HPMOTTATTSAMTYKKE"})],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let ours = medication_bundle(&reply);
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&ours), keys(theirs), "Bundle elements, in order");
    assert_eq!(keys(&ours["meta"]), keys(&theirs["meta"]), "Bundle.meta");
    let entries = ours["entry"].as_array().unwrap();
    assert_eq!(ours["total"], entries.len());
    assert_eq!(theirs["total"], theirs["entry"].as_array().unwrap().len());

    let composition = &entries[0]["resource"];
    let real_composition = &theirs["entry"][0]["resource"];
    assert_eq!(real_composition["date"], "2024-01-25");
    assert_eq!(
        composition["date"],
        app.now().format("%Y-%m-%d").to_string(),
        "a date, not an instant"
    );
    let texts = |c: &Value| -> Vec<Value> {
        c["section"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["text"].clone())
            .collect()
    };
    assert_eq!(
        texts(composition),
        texts(real_composition),
        "the narratives"
    );

    // The order.
    let types = |bundle: &Value| -> Vec<String> {
        bundle["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["resource"]["resourceType"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(types(&ours)[..4], types(theirs)[..4]);
    let index_of = |url: &Value| entries.iter().position(|e| e["fullUrl"] == *url).unwrap();
    for (i, entry) in entries.iter().enumerate() {
        let resource = &entry["resource"];
        match resource["resourceType"].as_str().unwrap() {
            "MedicationStatement" => assert_eq!(
                index_of(&resource["medicationReference"]["reference"]),
                i - 1,
                "each Medication right before its statement"
            ),
            "MedicationDispense" => assert!(
                index_of(&resource["authorizingPrescription"][0]["reference"]) < i,
                "each dispense after its statement"
            ),
            _ => {}
        }
    }

    // The PLL information: M25.1, then the pharmacy's M25.2 and M25.3, as in the real answer.
    let pll_section = |c: &Value| -> Vec<Value> {
        c["section"][1]["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["display"].clone())
            .collect()
    };
    assert_eq!(pll_section(composition), pll_section(real_composition));
    let basics: Vec<&Value> = entries
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] == "Basic")
        .collect();
    let codes: Vec<&Value> = basics.iter().map(|b| &b["code"]["coding"][0]).collect();
    assert_eq!(
        codes,
        [
            &json!({
                "system": "http://ehelse.no/fhir/CodeSystem/sfm-message-type", "code": "M25.1",
                "display": "PLL"
            }),
            &json!({
                "system": "http://ehelse.no/fhir/CodeSystem/sfm-message-type", "code": "M25.2",
                "display": "Multidose spørremelding fra apotek"
            }),
            &json!({
                "system": "http://ehelse.no/fhir/CodeSystem/sfm-message-type", "code": "M25.3",
                "display": "Multidose utleveringsmelding"
            }),
        ]
    );
    for basic in &basics[1..] {
        assert!(basic.get("subject").is_none(), "{basic}");
        assert_eq!(
            basic["author"]["display"], "Apotek 1 Multidose, HER: 8100033",
            "the pharmacy's role"
        );
        index_of(&basic["author"]["reference"]);
    }
    let delivery = basics[2]["extension"][0]["extension"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["url"] == "deliveryinformation")
        .expect("an M25.3 has deliveries");
    let parts: Vec<&Value> = delivery["extension"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["url"])
        .collect();
    assert_eq!(
        parts,
        [
            "prescriptionId",
            "datefirstdose",
            "datelastdose",
            "deliverydoc",
            "refM10"
        ]
    );
    let statement = &entries[index_of(&delivery["extension"][0]["valueReference"]["reference"])];
    assert_eq!(
        statement["resource"]["medicationReference"]["display"],
        "Levaxin tab 50 mikrog"
    );
    let dispense = &entries[index_of(&delivery["extension"][3]["valueReference"]["reference"])];
    assert_eq!(dispense["resource"]["resourceType"], "MedicationDispense");
    assert_eq!(
        delivery["extension"][4]["valueString"],
        dispense["resource"]["id"]
    );

    // Nothing of our own invention in the multidose parts either.
    let real_words = vocabulary(theirs);
    let mut invented = Vec::new();
    for (kind, words) in vocabulary(&ours) {
        let known = real_words.get(&kind).cloned().unwrap_or_default();
        invented.extend(words.difference(&known).map(|w| format!("{kind}: {w}")));
    }
    assert_eq!(invented, Vec::<String>::new());
}
