//! SFM's FHIR R4 API (`/sfm/fhir`): the CapabilityStatement, read/vread/create/update with
//! versions and ETags, validation, content negotiation, search and paging, the tenant bootstrap's
//! refusals, and DPoP-bound tokens.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";
const FNR: &str = "urn:oid:2.16.578.1.12.4.1.4.1";
const DNR: &str = "urn:oid:2.16.578.1.12.4.1.4.2";
const SFM_ID: &str = "urn:oid:2.16.578.1.12.4.1.4.109";
const ENH: &str = "urn:oid:2.16.578.1.12.4.1.4.101";
const HER: &str = "urn:oid:2.16.578.1.12.4.1.2";
const HENRIK: &str = "15837813732";
/// The fixed clock as SFM writes `meta.lastUpdated`.
const T0_INSTANT: &str = "2026-03-02T10:00:00.000+00:00";
const T0_HTTP: &str = "Mon, 02 Mar 2026 10:00:00 GMT";
/// The seven Patients of Fjordbyen.
const FJORDBYEN_PATIENTS: [&str; 7] = [
    "patient-dnr",
    "patient-epj",
    "patient-kari",
    "patient-line",
    "patient-ola",
    "patient-per",
    "patient-raymond",
];

/// A request to `{base}{path}` with raw headers and body; FHIR answers are parsed strictly.
async fn send(
    app: &TestApp,
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Reply {
    let mut request = app
        .http
        .request(method.parse().unwrap(), format!("{base}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.body(body.to_vec());
    }
    let reply = Reply::read(request.send().await.unwrap()).await;
    if reply.json.get("resourceType").is_some() {
        assert_valid_fhir(&reply.json);
    }
    reply
}

/// A request to `/sfm/fhir{path}` with a bearer token, extra headers and an optional raw body.
async fn fhir_with(
    app: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Reply {
    let authorization = format!("Bearer {token}");
    let mut all = vec![("Authorization", authorization.as_str())];
    all.extend_from_slice(headers);
    send(app, &app.url("/sfm/fhir"), method, path, &all, body).await
}

/// A FHIR JSON body as bytes.
fn bytes(resource: &Value) -> Vec<u8> {
    serde_json::to_vec(resource).unwrap()
}

const AS_FHIR: (&str, &str) = ("Content-Type", "application/fhir+json");

/// Asserts an OperationOutcome: status, FHIR JSON, and exactly these `(code, diagnostics)` issues.
#[track_caller]
fn assert_outcome(reply: &Reply, status: StatusCode, issues: &[(&str, &str)]) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(
        reply.header("content-type"),
        Some(FHIR_JSON),
        "{}",
        reply.text
    );
    let expected: Vec<Value> = issues
        .iter()
        .map(|(code, diagnostics)| {
            json!({"severity": "error", "code": code, "diagnostics": diagnostics})
        })
        .collect();
    assert_eq!(
        reply.json,
        json!({"resourceType": "OperationOutcome", "issue": expected}),
        "{}",
        reply.text
    );
}

/// The sorted logical ids of a searchset's entries.
#[track_caller]
fn ids(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["resourceType"], "Bundle");
    assert_eq!(reply.json["type"], "searchset");
    let mut ids: Vec<String> = reply.json["entry"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|e| e["resource"]["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

/// The URL of a Bundle link.
fn link(bundle: &Value, relation: &str) -> Option<String> {
    bundle["link"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["relation"] == relation)
        .map(|l| l["url"].as_str().unwrap().to_owned())
}

fn relations(bundle: &Value) -> Vec<String> {
    bundle["link"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["relation"].as_str().unwrap().to_owned())
        .collect()
}

/// A new Patient (not in the fixtures).
fn new_patient(fnr: &str) -> Value {
    json!({
        "resourceType": "Patient",
        "meta": {"profile": ["http://ehelse.no/fhir/StructureDefinition/sfm-Patient"]},
        "identifier": [{"use": "official", "system": FNR, "value": fnr}],
        "active": true,
        "name": [{"family": "Nyfødt", "given": ["Nora"]}],
        "gender": "female",
        "birthDate": "2026-02-28"
    })
}

fn sha256_b64url(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        text.as_bytes(),
    ))
}

// ---------------------------------------------------------------------------------------------
// CapabilityStatement.

#[actix_web::test]
async fn metadata_is_a_capability_statement_without_a_token() {
    let app = spawn_app().await;
    let reply = app.fhir("GET", "/metadata", None, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("content-type"), Some(FHIR_JSON));
    let cs = &reply.json;
    assert_eq!(cs["resourceType"], "CapabilityStatement");
    assert_eq!(cs["fhirVersion"], "4.0.1");
    assert_eq!(cs["status"], "active");
    assert_eq!(cs["kind"], "instance");
    assert_eq!(cs["date"], T0_INSTANT);
    assert_eq!(cs["format"], json!(["application/fhir+json", "json"]));
    assert_eq!(
        cs["implementation"]["url"],
        format!("{}/sfm/fhir", app.base)
    );
    let rest = &cs["rest"][0];
    assert_eq!(rest["mode"], "server");
    assert_eq!(rest["security"]["service"][0]["coding"][0]["code"], "OAuth");
    assert!(
        rest["security"]["description"]
            .as_str()
            .unwrap()
            .contains(&format!("{}/helseid", app.base))
    );
    let search_params = json!([
        {"name": "_id", "type": "token"},
        {"name": "identifier", "type": "token"},
        {"name": "name", "type": "string"},
        {"name": "active", "type": "token"}
    ]);
    let resources = rest["resource"].as_array().unwrap();
    let summary: Vec<(String, Vec<String>)> = resources
        .iter()
        .map(|r| {
            (
                r["type"].as_str().unwrap().to_owned(),
                r["interaction"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["code"].as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect();
    let full = ["read", "vread", "search-type", "create", "update"].map(String::from);
    let read_search = vec!["read".to_owned(), "search-type".to_owned()];
    let read_search_create = vec![
        "read".to_owned(),
        "search-type".to_owned(),
        "create".to_owned(),
    ];
    assert_eq!(
        summary,
        vec![
            ("Organization".to_owned(), full.to_vec()),
            (
                "Person".to_owned(),
                ["read", "vread", "search-type", "update"]
                    .map(String::from)
                    .to_vec()
            ),
            ("Practitioner".to_owned(), full.to_vec()),
            ("Patient".to_owned(), full.to_vec()),
            ("MedicationStatement".to_owned(), read_search.clone()),
            ("Medication".to_owned(), read_search.clone()),
            ("List".to_owned(), vec!["search-type".to_owned()]),
            ("AllergyIntolerance".to_owned(), read_search.clone()),
            ("Condition".to_owned(), read_search_create.clone()),
            ("Observation".to_owned(), read_search_create),
            ("Task".to_owned(), read_search),
        ]
    );
    let patient = resources.iter().find(|r| r["type"] == "Patient").unwrap();
    assert_eq!(
        patient["operation"],
        json!([
            {"name": "getMedication",
             "definition": "http://nhn.no/sfm/fhir/OperationDefinition/SFM-getMedication"},
            {"name": "sendMedication",
             "definition": "http://nhn.no/sfm/fhir/OperationDefinition/SFM-sendMedication"}
        ])
    );
    let task = resources.iter().find(|r| r["type"] == "Task").unwrap();
    assert!(
        task["searchParam"]
            .as_array()
            .unwrap()
            .contains(&json!({"name": "patientTicket", "type": "string"})),
        "{task}"
    );
    for resource in &resources[..4] {
        let kind = resource["type"].as_str().unwrap();
        assert_eq!(resource["searchParam"], search_params, "{kind}");
        assert_eq!(
            resource["profile"],
            format!("http://ehelse.no/fhir/StructureDefinition/sfm-{kind}")
        );
        assert_eq!(resource["versioning"], "versioned");
        assert_eq!(resource["updateCreate"], false);
    }
    // Only GET.
    let reply = app.fhir("POST", "/metadata", None, Some(&json!({}))).await;
    assert_outcome(
        &reply,
        StatusCode::METHOD_NOT_ALLOWED,
        &[(
            "not-supported",
            "POST is not supported on /sfm/fhir/metadata (allowed: GET, HEAD)",
        )],
    );
    assert_eq!(reply.header("allow"), Some("GET, HEAD"));
}

// ---------------------------------------------------------------------------------------------
// Authentication.

#[actix_web::test]
async fn the_fhir_api_needs_an_sfm_user_token() {
    let app = spawn_app().await;
    let reply = app.fhir("GET", "/Patient", None, None).await;
    assert_outcome(
        &reply,
        StatusCode::UNAUTHORIZED,
        &[(
            "login",
            "No access token: send 'Authorization: Bearer <token>' (or 'DPoP <token>' with a DPoP \
             proof)",
        )],
    );
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Bearer realm=\"helsesim\"")
    );

    // A multi-tenant token that names no journal.
    let details = json!([org_detail(
        "urn:oid:1.0.6523",
        &format!("NO:ORGNR:{SJOKANTEN_ORGNR}")
    )]);
    let token = app.sfm_token(MULTI_TENANT, SIGRID, Some(details)).await;
    let (_, claims) = decode_jwt(&token);
    assert!(claims.get("nhn:sfm:journal-id").is_none(), "{claims}");
    let message = "The token names no SFM instance: a multi-tenant client names it with \
                   nhn:sfm:journal-id (in the client assertion's assertion_details, or in the \
                   login's authorization_details)";
    let reply = app.fhir("GET", "/Patient", Some(&token), None).await;
    assert_outcome(&reply, StatusCode::UNAUTHORIZED, &[("login", message)]);
    assert_eq!(
        reply.header("www-authenticate"),
        Some(&*format!(
            "Bearer error=\"invalid_token\", error_description=\"{message}\""
        ))
    );
    // Not even the bootstrap is open to it.
    let reply = app
        .fhir(
            "POST",
            "/Organization",
            Some(&token),
            Some(&json!({"resourceType": "Organization"})),
        )
        .await;
    assert_outcome(&reply, StatusCode::UNAUTHORIZED, &[("login", message)]);

    // A HelseID user who is no user of the instance.
    let token = app.sfm_token(SFM_READY, HENRIK, None).await;
    let reply = app
        .fhir("GET", "/Patient/patient-line", Some(&token), None)
        .await;
    assert_outcome(
        &reply,
        StatusCode::FORBIDDEN,
        &[(
            "forbidden",
            &format!(
                "The user {HENRIK} is not registered in this SFM instance: a superuser registers \
                 users as Person or Practitioner"
            ),
        )],
    );
}

// ---------------------------------------------------------------------------------------------
// read, vread, create.

#[actix_web::test]
async fn read_and_vread_carry_versions() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;

    let reply = app
        .fhir("GET", "/Patient/patient-line", Some(&token), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("content-type"), Some(FHIR_JSON));
    assert_eq!(reply.header("etag"), Some("W/\"1\""));
    assert_eq!(reply.header("last-modified"), Some(T0_HTTP));
    assert_eq!(reply.header("location"), None);
    let line = reply.json.clone();
    assert_eq!(line["resourceType"], "Patient");
    assert_eq!(line["id"], "patient-line");
    assert_eq!(
        line["meta"],
        json!({
            "profile": ["http://ehelse.no/fhir/StructureDefinition/sfm-Patient"],
            "versionId": "1",
            "lastUpdated": T0_INSTANT
        })
    );
    assert_eq!(
        line["name"],
        json!([{"family": "Danser", "given": ["Line"]}])
    );
    let keys: Vec<&String> = line.as_object().unwrap().keys().take(3).collect();
    assert_eq!(keys, ["resourceType", "id", "meta"]);

    let reply = app
        .fhir(
            "GET",
            "/Patient/patient-line/_history/1",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("etag"), Some("W/\"1\""));
    assert_eq!(reply.header("last-modified"), Some(T0_HTTP));
    assert_eq!(reply.json, line);

    for (vid, message) in [
        ("2", "Version 2 of Patient/patient-line is not known"),
        ("0", "Version 0 of Patient/patient-line is not known"),
        ("abc", "Version 'abc' of Patient/patient-line is not known"),
    ] {
        let reply = app
            .fhir(
                "GET",
                &format!("/Patient/patient-line/_history/{vid}"),
                Some(&token),
                None,
            )
            .await;
        assert_outcome(&reply, StatusCode::NOT_FOUND, &[("not-found", message)]);
    }
    let reply = app
        .fhir("GET", "/Patient/patient-nobody", Some(&token), None)
        .await;
    assert_outcome(
        &reply,
        StatusCode::NOT_FOUND,
        &[("not-found", "Resource Patient/patient-nobody is not known")],
    );
    let reply = app
        .fhir(
            "GET",
            "/Patient/patient-nobody/_history/1",
            Some(&token),
            None,
        )
        .await;
    assert_outcome(
        &reply,
        StatusCode::NOT_FOUND,
        &[("not-found", "Resource Patient/patient-nobody is not known")],
    );
    // Ids are per type: a Practitioner id is no Patient.
    let reply = app
        .fhir("GET", "/Patient/practitioner-sigrid", Some(&token), None)
        .await;
    assert_outcome(
        &reply,
        StatusCode::NOT_FOUND,
        &[(
            "not-found",
            "Resource Patient/practitioner-sigrid is not known",
        )],
    );
    // Every type reads.
    for path in [
        "/Organization/org-fjordbyen",
        "/Person/person-didrik",
        "/Practitioner/practitioner-dina",
    ] {
        let reply = app.fhir("GET", path, Some(&token), None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text);
        assert_eq!(
            format!(
                "/{}/{}",
                reply.json["resourceType"].as_str().unwrap(),
                reply.json["id"].as_str().unwrap()
            ),
            path
        );
    }
}

#[actix_web::test]
async fn create_assigns_the_id_and_version_1() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let mut patient = new_patient("28022600178");
    patient["id"] = json!("client-chosen-id");
    patient["meta"]["versionId"] = json!("7");
    patient["meta"]["lastUpdated"] = json!("2020-01-01T00:00:00Z");

    let reply = app
        .fhir("POST", "/Patient", Some(&token), Some(&patient))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let id = reply.json["id"].as_str().unwrap().to_owned();
    let guid = uuid::Uuid::parse_str(&id).expect("a GUID");
    assert_eq!(guid.hyphenated().to_string(), id);
    assert_ne!(id, "client-chosen-id");
    assert_eq!(
        reply.header("location"),
        Some(&*format!("{}/sfm/fhir/Patient/{id}/_history/1", app.base))
    );
    assert_eq!(reply.header("etag"), Some("W/\"1\""));
    assert_eq!(reply.header("last-modified"), Some(T0_HTTP));
    assert_eq!(reply.header("content-type"), Some(FHIR_JSON));
    assert_eq!(
        reply.json["meta"],
        json!({
            "profile": ["http://ehelse.no/fhir/StructureDefinition/sfm-Patient"],
            "versionId": "1",
            "lastUpdated": T0_INSTANT
        })
    );
    let mut expected = patient.clone();
    expected["id"] = json!(id);
    expected["meta"] = reply.json["meta"].clone();
    assert_eq!(reply.json, expected);
    let created = reply.json.clone();

    // It reads back, and the client's id names nothing.
    let reply = app
        .fhir("GET", &format!("/Patient/{id}"), Some(&token), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json, created);
    let reply = app
        .fhir("GET", "/Patient/client-chosen-id", Some(&token), None)
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);

    // Prefer: return=minimal: the headers without the body.
    let reply = fhir_with(
        &app,
        "POST",
        "/Patient",
        &token,
        &[AS_FHIR, ("Prefer", "return=minimal")],
        Some(&bytes(&new_patient("01010150155"))),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.text, "");
    assert_eq!(reply.header("etag"), Some("W/\"1\""));
    let location = reply.header("location").unwrap();
    let prefix = format!("{}/sfm/fhir/Patient/", app.base);
    let minimal_id = location
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix("/_history/1"))
        .unwrap();
    let reply = app
        .fhir("GET", &format!("/Patient/{minimal_id}"), Some(&token), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json["identifier"][0]["value"], "01010150155");

    // application/json is accepted as a request type too.
    let reply = fhir_with(
        &app,
        "POST",
        "/Practitioner",
        &token,
        &[("Content-Type", "application/json")],
        Some(&bytes(&json!({
            "resourceType": "Practitioner",
            "identifier": [{"system": FNR, "value": HENRIK}],
            "name": [{"family": "Helsesekretær", "given": ["Henrik"]}]
        }))),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.json["resourceType"], "Practitioner");
    // Henrik is now a user of the instance.
    let henrik = app.sfm_token(SFM_READY, HENRIK, None).await;
    let reply = app.fhir("GET", "/Patient", Some(&henrik), None).await;
    assert_eq!(reply.json["total"], 9, "{}", reply.text);
}

#[actix_web::test]
async fn creates_that_conflict_or_are_not_supported() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;

    // Another Patient with Line's fødselsnummer.
    let reply = app
        .fhir(
            "POST",
            "/Patient",
            Some(&token),
            Some(&new_patient("12050050295")),
        )
        .await;
    assert_outcome(
        &reply,
        StatusCode::CONFLICT,
        &[(
            "duplicate",
            "Patient patient-line already has the identifier \
             urn:oid:2.16.578.1.12.4.1.4.1|12050050295",
        )],
    );
    // Another Practitioner with Dina's D-nummer.
    let dina = json!({
        "resourceType": "Practitioner",
        "identifier": [{"system": DNR, "value": "41836510095"}]
    });
    let reply = app
        .fhir("POST", "/Practitioner", Some(&token), Some(&dina))
        .await;
    assert_outcome(
        &reply,
        StatusCode::CONFLICT,
        &[(
            "duplicate",
            "Practitioner practitioner-dina already has the identifier \
             urn:oid:2.16.578.1.12.4.1.4.2|41836510095",
        )],
    );
    // A Patient may share a Practitioner's number (the same person in two roles).
    let reply = app
        .fhir("POST", "/Patient", Some(&token), Some(&new_patient(SIGRID)))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);

    // Another Person with Didrik's fødselsnummer.
    let person = json!({
        "resourceType": "Person",
        "identifier": [{"system": FNR, "value": DIDRIK}]
    });
    let reply = app
        .fhir("POST", "/Person", Some(&token), Some(&person))
        .await;
    assert_outcome(
        &reply,
        StatusCode::CONFLICT,
        &[(
            "duplicate",
            &format!("Person person-didrik already has the identifier {FNR}|{DIDRIK}"),
        )],
    );

    let organization = app
        .fhir("GET", "/Organization/org-fjordbyen", Some(&token), None)
        .await
        .json;
    let reply = app
        .fhir("POST", "/Organization", Some(&token), Some(&organization))
        .await;
    assert_outcome(
        &reply,
        StatusCode::CONFLICT,
        &[(
            "duplicate",
            "This SFM instance already exists (Organization/org-fjordbyen): update it with PUT",
        )],
    );
    let reply = app.fhir("GET", "/Organization", Some(&token), None).await;
    assert_eq!(ids(&reply), ["org-fjordbyen"]);
}

// ---------------------------------------------------------------------------------------------
// update.

#[actix_web::test]
async fn update_checks_the_id_and_type_and_never_creates() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let line = app
        .fhir("GET", "/Patient/patient-line", Some(&token), None)
        .await
        .json;

    let mut no_id = line.clone();
    no_id.as_object_mut().unwrap().remove("id");
    let reply = app
        .fhir("PUT", "/Patient/patient-line", Some(&token), Some(&no_id))
        .await;
    assert_outcome(
        &reply,
        StatusCode::BAD_REQUEST,
        &[(
            "invalid",
            "An update needs the resource's id in the body ('patient-line', as in the URL)",
        )],
    );

    let mut other_id = line.clone();
    other_id["id"] = json!("patient-ola");
    let reply = app
        .fhir(
            "PUT",
            "/Patient/patient-line",
            Some(&token),
            Some(&other_id),
        )
        .await;
    assert_outcome(
        &reply,
        StatusCode::BAD_REQUEST,
        &[(
            "invalid",
            "The resource's id 'patient-ola' does not match the id in the URL ('patient-line')",
        )],
    );

    let mut practitioner = line.clone();
    practitioner["resourceType"] = json!("Practitioner");
    let reply = app
        .fhir(
            "PUT",
            "/Patient/patient-line",
            Some(&token),
            Some(&practitioner),
        )
        .await;
    assert_outcome(
        &reply,
        StatusCode::BAD_REQUEST,
        &[(
            "structure",
            "resourceType 'Practitioner' does not match the URL, which is for Patient",
        )],
    );

    let mut unknown = line.clone();
    unknown["id"] = json!("patient-nobody");
    let reply = app
        .fhir(
            "PUT",
            "/Patient/patient-nobody",
            Some(&token),
            Some(&unknown),
        )
        .await;
    assert_outcome(
        &reply,
        StatusCode::NOT_FOUND,
        &[(
            "not-found",
            "Resource Patient/patient-nobody is not known (this server does not create resources \
             with PUT)",
        )],
    );
    let reply = app
        .fhir("GET", "/Patient/patient-nobody", Some(&token), None)
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);

    // Taking another Patient's fødselsnummer is a conflict.
    let mut taken = line.clone();
    taken["identifier"][0]["value"] = json!("10092939427");
    let reply = app
        .fhir("PUT", "/Patient/patient-line", Some(&token), Some(&taken))
        .await;
    assert_outcome(
        &reply,
        StatusCode::CONFLICT,
        &[(
            "duplicate",
            "Patient patient-ola already has the identifier \
             urn:oid:2.16.578.1.12.4.1.4.1|10092939427",
        )],
    );

    // Nothing of this changed Line.
    let reply = app
        .fhir("GET", "/Patient/patient-line", Some(&token), None)
        .await;
    assert_eq!(reply.header("etag"), Some("W/\"1\""));
    assert_eq!(reply.json, line);
}

#[actix_web::test]
async fn update_makes_versions_and_honours_if_match() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let line = app
        .fhir("GET", "/Patient/patient-line", Some(&token), None)
        .await
        .json;

    advance(&app, 60);
    let mut married = line.clone();
    married["name"][0]["family"] = json!("Danser-Øvrebø");
    let reply = fhir_with(
        &app,
        "PUT",
        "/Patient/patient-line",
        &token,
        &[AS_FHIR, ("If-Match", "W/\"1\"")],
        Some(&bytes(&married)),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("etag"), Some("W/\"2\""));
    assert_eq!(
        reply.header("last-modified"),
        Some("Mon, 02 Mar 2026 10:01:00 GMT")
    );
    assert_eq!(
        reply.header("location"),
        Some(&*format!(
            "{}/sfm/fhir/Patient/patient-line/_history/2",
            app.base
        ))
    );
    assert_eq!(reply.json["meta"]["versionId"], "2");
    assert_eq!(
        reply.json["meta"]["lastUpdated"],
        "2026-03-02T10:01:00.000+00:00"
    );
    assert_eq!(reply.json["name"][0]["family"], "Danser-Øvrebø");
    let version_2 = reply.json.clone();

    // The same If-Match again is stale.
    let mut again = married.clone();
    again["name"][0]["family"] = json!("Danser");
    let reply = fhir_with(
        &app,
        "PUT",
        "/Patient/patient-line",
        &token,
        &[AS_FHIR, ("If-Match", "W/\"1\"")],
        Some(&bytes(&again)),
    )
    .await;
    assert_outcome(
        &reply,
        StatusCode::PRECONDITION_FAILED,
        &[(
            "conflict",
            "If-Match names version 1, but Patient/patient-line is at version 2",
        )],
    );
    // A strong ETag form names the version just as well.
    let reply = fhir_with(
        &app,
        "PUT",
        "/Patient/patient-line",
        &token,
        &[AS_FHIR, ("If-Match", "\"3\"")],
        Some(&bytes(&again)),
    )
    .await;
    assert_outcome(
        &reply,
        StatusCode::PRECONDITION_FAILED,
        &[(
            "conflict",
            "If-Match names version 3, but Patient/patient-line is at version 2",
        )],
    );

    // The current version is 2; version 1 is still there as it was.
    let reply = app
        .fhir("GET", "/Patient/patient-line", Some(&token), None)
        .await;
    assert_eq!(reply.header("etag"), Some("W/\"2\""));
    assert_eq!(reply.json, version_2);
    let reply = app
        .fhir(
            "GET",
            "/Patient/patient-line/_history/1",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("etag"), Some("W/\"1\""));
    assert_eq!(reply.header("last-modified"), Some(T0_HTTP));
    assert_eq!(reply.json, line);
    let reply = app
        .fhir(
            "GET",
            "/Patient/patient-line/_history/2",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(reply.json, version_2);

    // Without If-Match, an update is unconditional.
    let reply = app
        .fhir("PUT", "/Patient/patient-line", Some(&token), Some(&again))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["meta"]["versionId"], "3");
    assert_eq!(reply.json["name"][0]["family"], "Danser");
    // And the search sees the current version only.
    let reply = app
        .fhir("GET", "/Patient?name=danser-", Some(&token), None)
        .await;
    assert_eq!(reply.json["total"], 0);
}

#[actix_web::test]
async fn the_organization_keeps_its_sfm_id_and_may_be_deactivated() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let org = app
        .fhir("GET", "/Organization/org-fjordbyen", Some(&token), None)
        .await
        .json;
    assert_eq!(org["active"], true);

    let mut moved = org.clone();
    moved["identifier"][2]["value"] = json!(KOLASBAKKANE);
    let reply = app
        .fhir(
            "PUT",
            "/Organization/org-fjordbyen",
            Some(&token),
            Some(&moved),
        )
        .await;
    assert_outcome(
        &reply,
        StatusCode::BAD_REQUEST,
        &[(
            "business-rule",
            &format!(
                "The Organization's SFM-id identifier (urn:oid:2.16.578.1.12.4.1.4.109) must stay \
                 {FJORDBYEN}"
            ),
        )],
    );
    let mut dropped = org.clone();
    dropped["identifier"]
        .as_array_mut()
        .unwrap()
        .retain(|i| i["system"] != SFM_ID);
    let reply = app
        .fhir(
            "PUT",
            "/Organization/org-fjordbyen",
            Some(&token),
            Some(&dropped),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert_eq!(reply.json["issue"][0]["code"], "business-rule");

    let mut inactive = org.clone();
    inactive["active"] = json!(false);
    let reply = app
        .fhir(
            "PUT",
            "/Organization/org-fjordbyen",
            Some(&token),
            Some(&inactive),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["active"], false);
    assert_eq!(reply.json["meta"]["versionId"], "2");
    let reply = app
        .fhir("GET", "/Organization?active=false", Some(&token), None)
        .await;
    assert_eq!(ids(&reply), ["org-fjordbyen"]);
    // The instance stays usable while inactive.
    let reply = app.fhir("GET", "/Patient", Some(&token), None).await;
    assert_eq!(reply.json["total"], 7);

    let mut active = reply_json_of(&app, &token, "/Organization/org-fjordbyen").await;
    active["active"] = json!(true);
    let reply = app
        .fhir(
            "PUT",
            "/Organization/org-fjordbyen",
            Some(&token),
            Some(&active),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["active"], true);
    assert_eq!(reply.json["meta"]["versionId"], "3");
    let reply = app
        .fhir("GET", "/Organization?active=true", Some(&token), None)
        .await;
    assert_eq!(ids(&reply), ["org-fjordbyen"]);
    let reply = app
        .fhir("GET", "/Organization?active=false", Some(&token), None)
        .await;
    assert_eq!(reply.json["total"], 0);
}

async fn reply_json_of(app: &TestApp, token: &str, path: &str) -> Value {
    let reply = app.fhir("GET", path, Some(token), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.json
}

// ---------------------------------------------------------------------------------------------
// Validation and content negotiation.

#[actix_web::test]
async fn invalid_fhir_bodies_are_refused() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;

    let misspelt = json!({"resourceType": "Patient", "birthdate": "1990-01-01"});
    let reply = app
        .fhir("POST", "/Patient", Some(&token), Some(&misspelt))
        .await;
    assert_outcome(
        &reply,
        StatusCode::BAD_REQUEST,
        &[(
            "structure",
            "not a valid FHIR R4 Patient: unknown field `birthdate`, expected one of `id`, `meta`, \
             `implicitRules`, `language`, `text`, `contained`, `extension`, `modifierExtension`, \
             `identifier`, `active`, `name`, `telecom`, `gender`, `birthDate`, `deceasedBoolean`, \
             `deceasedDateTime`, `address`, `maritalStatus`, `multipleBirthBoolean`, \
             `multipleBirthInteger`, `photo`, `contact`, `communication`, `generalPractitioner`, \
             `managingOrganization`, `link`",
        )],
    );
    let wrong_type = json!({"resourceType": "Patient", "active": "yes"});
    let reply = app
        .fhir("POST", "/Patient", Some(&token), Some(&wrong_type))
        .await;
    assert_outcome(
        &reply,
        StatusCode::BAD_REQUEST,
        &[(
            "structure",
            "not a valid FHIR R4 Patient: invalid type: string \"yes\", expected a boolean",
        )],
    );
    // An update is validated the same way.
    let mut line = reply_json_of(&app, &token, "/Patient/patient-line").await;
    line["birthDate"] = json!(19000512);
    let reply = app
        .fhir("PUT", "/Patient/patient-line", Some(&token), Some(&line))
        .await;
    assert_outcome(
        &reply,
        StatusCode::BAD_REQUEST,
        &[(
            "structure",
            "not a valid FHIR R4 Patient: invalid type: integer `19000512`, expected a string",
        )],
    );
    // Type and id problems are reported together.
    let reply = app
        .fhir(
            "POST",
            "/Patient",
            Some(&token),
            Some(&json!({"resourceType": "Person", "id": "not an id"})),
        )
        .await;
    assert_outcome(
        &reply,
        StatusCode::BAD_REQUEST,
        &[
            (
                "structure",
                "resourceType 'Person' does not match the URL, which is for Patient",
            ),
            (
                "structure",
                "id \"not an id\" is not a FHIR id (1-64 of A-Z a-z 0-9 - .)",
            ),
        ],
    );
    let reply = app
        .fhir(
            "POST",
            "/Patient",
            Some(&token),
            Some(&json!({"active": true})),
        )
        .await;
    assert_outcome(
        &reply,
        StatusCode::BAD_REQUEST,
        &[("structure", "the resource has no resourceType")],
    );

    let reply = fhir_with(
        &app,
        "POST",
        "/Patient",
        &token,
        &[AS_FHIR],
        Some(br#"{"resourceType": "Patient","#),
    )
    .await;
    assert_outcome(
        &reply,
        StatusCode::BAD_REQUEST,
        &[(
            "structure",
            "The body is not valid JSON: EOF while parsing a value at line 1 column 27",
        )],
    );
    let reply = fhir_with(
        &app,
        "POST",
        "/Patient",
        &token,
        &[AS_FHIR],
        Some(br#"[{"resourceType": "Patient"}]"#),
    )
    .await;
    assert_outcome(
        &reply,
        StatusCode::BAD_REQUEST,
        &[(
            "structure",
            "the body must be a JSON object (a FHIR resource)",
        )],
    );

    let reply = fhir_with(
        &app,
        "POST",
        "/Patient",
        &token,
        &[("Content-Type", "text/plain")],
        Some(&bytes(&new_patient("28022600178"))),
    )
    .await;
    assert_outcome(
        &reply,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        &[(
            "not-supported",
            "Content-Type must be application/fhir+json, got 'text/plain'",
        )],
    );
    let reply = fhir_with(
        &app,
        "PUT",
        "/Patient/patient-line",
        &token,
        &[("Content-Type", "application/fhir+xml")],
        Some(b"<Patient xmlns=\"http://hl7.org/fhir\"/>"),
    )
    .await;
    assert_outcome(
        &reply,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        &[(
            "not-supported",
            "Content-Type must be application/fhir+json, got 'application/fhir+xml'",
        )],
    );
    // Nothing was created.
    let reply = app.fhir("GET", "/Patient", Some(&token), None).await;
    assert_eq!(reply.json["total"], 7);
}

#[actix_web::test]
async fn only_fhir_json_is_spoken() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let refusal = [(
        "not-supported",
        "This server speaks FHIR JSON only (application/fhir+json or _format=json)",
    )];
    for path in [
        "/Patient/patient-line?_format=xml",
        "/Patient/patient-line?_format=application/fhir%2Bxml",
        "/Patient?_format=xml",
        "/Patient/patient-line/_history/1?_format=xml",
    ] {
        let reply = fhir_with(&app, "GET", path, &token, &[], None).await;
        assert_outcome(&reply, StatusCode::NOT_ACCEPTABLE, &refusal);
    }
    for accept in ["application/fhir+xml", "application/xml", "text/html"] {
        let reply = fhir_with(
            &app,
            "GET",
            "/Patient/patient-line",
            &token,
            &[("Accept", accept)],
            None,
        )
        .await;
        assert_outcome(&reply, StatusCode::NOT_ACCEPTABLE, &refusal);
    }
    // A create asking for XML is refused before anything is stored.
    let reply = fhir_with(
        &app,
        "POST",
        "/Patient?_format=xml",
        &token,
        &[AS_FHIR],
        Some(&bytes(&new_patient("28022600178"))),
    )
    .await;
    assert_outcome(&reply, StatusCode::NOT_ACCEPTABLE, &refusal);
    let reply = app.fhir("GET", "/Patient", Some(&token), None).await;
    assert_eq!(reply.json["total"], 7);

    for (path, accept) in [
        ("/Patient/patient-line?_format=json", None),
        (
            "/Patient/patient-line?_format=application/fhir%2Bjson",
            None,
        ),
        ("/Patient/patient-line", Some("application/fhir+json")),
        ("/Patient/patient-line", Some("application/json")),
        (
            "/Patient/patient-line",
            Some("application/fhir+xml, application/fhir+json;q=0.5"),
        ),
        ("/Patient/patient-line", Some("text/html, */*;q=0.8")),
    ] {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
        let reply = fhir_with(&app, "GET", path, &token, &headers, None).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{path} {accept:?}: {}",
            reply.text
        );
        assert_eq!(reply.header("content-type"), Some(FHIR_JSON));
        assert_eq!(reply.json["id"], "patient-line");
    }
}

#[actix_web::test]
async fn unsupported_methods_and_types() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    for method in ["DELETE", "PATCH"] {
        let reply = fhir_with(&app, method, "/Patient/patient-line", &token, &[], None).await;
        assert_outcome(
            &reply,
            StatusCode::METHOD_NOT_ALLOWED,
            &[(
                "not-supported",
                &format!(
                    "{method} is not supported on /sfm/fhir/Patient/patient-line (allowed: GET, \
                     HEAD, PUT)"
                ),
            )],
        );
        assert_eq!(reply.header("allow"), Some("GET, HEAD, PUT"));
    }
    let reply = fhir_with(&app, "DELETE", "/Patient", &token, &[], None).await;
    assert_outcome(
        &reply,
        StatusCode::METHOD_NOT_ALLOWED,
        &[(
            "not-supported",
            "DELETE is not supported on /sfm/fhir/Patient (allowed: GET, HEAD, POST)",
        )],
    );
    assert_eq!(reply.header("allow"), Some("GET, HEAD, POST"));
    let reply = fhir_with(
        &app,
        "PUT",
        "/Patient/patient-line/_history/1",
        &token,
        &[],
        None,
    )
    .await;
    assert_outcome(
        &reply,
        StatusCode::METHOD_NOT_ALLOWED,
        &[(
            "not-supported",
            "PUT is not supported on /sfm/fhir/Patient/patient-line/_history/1 (allowed: GET, \
             HEAD)",
        )],
    );
    assert_eq!(reply.header("allow"), Some("GET, HEAD"));
    // Line is still there.
    let reply = app
        .fhir("GET", "/Patient/patient-line", Some(&token), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK);

    let unsupported = "Resource type 'Encounter' is not supported here (supported: Organization, \
                       Person, Practitioner, Patient, MedicationStatement, Medication, List, \
                       AllergyIntolerance, Condition, Observation, Task)";
    for (method, path) in [
        ("GET", "/Encounter"),
        ("GET", "/Encounter/1"),
        ("POST", "/Encounter"),
        ("GET", "/Encounter/1/_history/1"),
    ] {
        let body = (method == "POST").then(|| bytes(&json!({"resourceType": "Encounter"})));
        let reply = fhir_with(&app, method, path, &token, &[AS_FHIR], body.as_deref()).await;
        assert_outcome(
            &reply,
            StatusCode::NOT_FOUND,
            &[("not-supported", unsupported)],
        );
    }
    // Resource types are case-sensitive.
    let reply = fhir_with(&app, "GET", "/patient", &token, &[], None).await;
    assert_outcome(
        &reply,
        StatusCode::NOT_FOUND,
        &[(
            "not-supported",
            "Resource type 'patient' is not supported here (supported: Organization, Person, \
             Practitioner, Patient, MedicationStatement, Medication, List, AllergyIntolerance, \
             Condition, Observation, Task)",
        )],
    );
    // Beyond the FHIR routes.
    let reply = fhir_with(
        &app,
        "GET",
        "/Patient/patient-line/_history",
        &token,
        &[],
        None,
    )
    .await;
    assert_outcome(
        &reply,
        StatusCode::NOT_FOUND,
        &[(
            "not-found",
            "SFM has no endpoint at /sfm/fhir/Patient/patient-line/_history",
        )],
    );
}

// ---------------------------------------------------------------------------------------------
// Search.

#[actix_web::test]
async fn search_by_identifier_in_its_four_token_forms() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    // A Patient whose identifier has no system.
    let local = json!({
        "resourceType": "Patient",
        "identifier": [{"value": "LOKAL-1"}],
        "name": [{"family": "Systemløs"}]
    });
    let reply = app
        .fhir("POST", "/Patient", Some(&token), Some(&local))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let local_id = reply.json["id"].as_str().unwrap().to_owned();

    let cases: Vec<(&str, Vec<&str>)> = vec![
        // system|value
        (
            "identifier=urn:oid:2.16.578.1.12.4.1.4.1%7C12050050295",
            vec!["patient-line"],
        ),
        (
            "identifier=urn:oid:2.16.578.1.12.4.1.4.2%7C12050050295",
            vec![],
        ),
        // value (any system)
        ("identifier=12050050295", vec!["patient-line"]),
        ("identifier=EPJ-4711", vec!["patient-epj"]),
        ("identifier=LOKAL-1", vec![local_id.as_str()]),
        // |value (no system)
        ("identifier=%7CLOKAL-1", vec![local_id.as_str()]),
        ("identifier=%7C12050050295", vec![]),
        // system| (any value)
        (
            "identifier=urn:oid:2.16.578.1.12.4.1.4.2%7C",
            vec!["patient-dnr"],
        ),
        (
            "identifier=urn:oid:2.16.578.1.12.4.1.4.1%7C",
            vec![
                "patient-kari",
                "patient-line",
                "patient-ola",
                "patient-per",
                "patient-raymond",
            ],
        ),
        (
            "identifier=http://helsesim.example/epj/pasient-id%7C",
            vec!["patient-epj"],
        ),
        // An unencoded | works as well.
        (
            "identifier=urn:oid:2.16.578.1.12.4.1.4.1|10092939427",
            vec!["patient-ola"],
        ),
        // Values match exactly.
        ("identifier=1205005029", vec![]),
    ];
    for (query, expected) in cases {
        let reply = app
            .fhir("GET", &format!("/Patient?{query}"), Some(&token), None)
            .await;
        let mut expected: Vec<String> = expected.into_iter().map(String::from).collect();
        expected.sort();
        assert_eq!(ids(&reply), expected, "{query}");
        assert_eq!(reply.json["total"], expected.len(), "{query}");
    }
    // Practitioners by HPR number.
    let reply = app
        .fhir(
            "GET",
            "/Practitioner?identifier=urn:oid:2.16.578.1.12.4.1.4.4%7C565501872",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(ids(&reply), ["practitioner-sigrid"]);
}

#[actix_web::test]
async fn search_by_name_active_and_id_with_or_and_and() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let orjan = json!({
        "resourceType": "Patient",
        "identifier": [{"system": FNR, "value": "28022600178"}],
        "active": false,
        "name": [{"family": "Åsmundsen", "given": ["Ørjan", "Ærlend"]}]
    });
    let reply = app
        .fhir("POST", "/Patient", Some(&token), Some(&orjan))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let orjan_id = reply.json["id"].as_str().unwrap().to_owned();

    let cases: Vec<(&str, Vec<&str>)> = vec![
        // Prefix of any name part, case-insensitive, Norwegian letters too.
        ("name=dan", vec!["patient-line"]),
        ("name=DANSER", vec!["patient-line"]),
        ("name=line", vec!["patient-line"]),
        ("name=ine", vec![]),
        ("name=d", vec!["patient-dnr", "patient-line"]),
        ("name=%C3%A5smund", vec![orjan_id.as_str()]),
        ("name=%C3%85SMUNDSEN", vec![orjan_id.as_str()]),
        ("name=%C3%B8rj", vec![orjan_id.as_str()]),
        ("name=%C3%86RL", vec![orjan_id.as_str()]),
        ("name=Åsm", vec![orjan_id.as_str()]),
        // :exact: the whole part, case and all.
        ("name:exact=%C3%85smundsen", vec![orjan_id.as_str()]),
        ("name:exact=%C3%A5smundsen", vec![]),
        ("name:exact=%C3%85smund", vec![]),
        ("name:exact=Line", vec!["patient-line"]),
        // active
        ("active=false", vec![orjan_id.as_str()]),
        ("active=true", FJORDBYEN_PATIENTS.to_vec()),
        // _id
        ("_id=patient-ola", vec!["patient-ola"]),
        ("_id=patient-o", vec![]),
        // A comma is OR.
        (
            "identifier=12050050295,10092939427",
            vec!["patient-line", "patient-ola"],
        ),
        (
            "_id=patient-ola,patient-per,nobody",
            vec!["patient-ola", "patient-per"],
        ),
        ("name=line,ola", vec!["patient-line", "patient-ola"]),
        // Repeating a parameter, or combining parameters, is AND.
        ("name=line&name=danser", vec!["patient-line"]),
        ("name=line&name=ola", vec![]),
        ("name=d&active=true", vec!["patient-dnr", "patient-line"]),
        ("name=%C3%B8rjan&active=true", vec![]),
        (
            "identifier=12050050295,10092939427&name=ola",
            vec!["patient-ola"],
        ),
        // No parameters: all.
        ("", {
            let mut all = FJORDBYEN_PATIENTS.to_vec();
            all.push(orjan_id.as_str());
            all
        }),
    ];
    for (query, expected) in cases {
        let reply = app
            .fhir("GET", &format!("/Patient?{query}"), Some(&token), None)
            .await;
        let mut expected: Vec<String> = expected.into_iter().map(String::from).collect();
        expected.sort();
        assert_eq!(ids(&reply), expected, "{query}");
        assert_eq!(reply.json["total"], expected.len(), "{query}");
    }

    // Other types: Practitioners by name, the Organization by a word of its name.
    let reply = app
        .fhir("GET", "/Practitioner?name=LAVNIV%C3%85", Some(&token), None)
        .await;
    assert_eq!(ids(&reply), ["practitioner-lars"]);
    let reply = app
        .fhir("GET", "/Person?name=didrik", Some(&token), None)
        .await;
    assert_eq!(ids(&reply), ["person-didrik"]);
    let reply = app
        .fhir("GET", "/Organization?name=fjordbyen", Some(&token), None)
        .await;
    assert_eq!(ids(&reply), ["org-fjordbyen"]);
    let reply = app
        .fhir("GET", "/Organization?name=legekontor", Some(&token), None)
        .await;
    assert_eq!(ids(&reply), ["org-fjordbyen"]);
    let reply = app
        .fhir(
            "GET",
            "/Organization?name=sj%C3%B8kanten",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(reply.json["total"], 0);

    // Each entry: fullUrl, the resource, search mode match.
    let reply = app
        .fhir("GET", "/Patient?_id=patient-ola", Some(&token), None)
        .await;
    let ola = reply_json_of(&app, &token, "/Patient/patient-ola").await;
    assert_eq!(
        reply.json["entry"],
        json!([{
            "fullUrl": format!("{}/sfm/fhir/Patient/patient-ola", app.base),
            "resource": ola,
            "search": {"mode": "match"}
        }])
    );
    assert_eq!(reply.json["meta"]["lastUpdated"], T0_INSTANT);
    uuid::Uuid::parse_str(reply.json["id"].as_str().unwrap()).unwrap();
}

#[actix_web::test]
async fn search_problems_are_all_reported() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let reply = app
        .fhir(
            "GET",
            "/Patient?birthdate=1990&name:contains=x&_count=x&_summary=text&active=yes&_offset=-1&\
             identifier:text=a",
            Some(&token),
            None,
        )
        .await;
    assert_outcome(
        &reply,
        StatusCode::BAD_REQUEST,
        &[
            (
                "not-supported",
                "Unknown search parameter 'birthdate' for Patient; supported: _id, identifier, \
                 name, active, and _count, _offset, _summary, _format",
            ),
            (
                "not-supported",
                "The modifier ':contains' is not supported on 'name'",
            ),
            ("invalid", "_count must be a whole number, got 'x'"),
            (
                "not-supported",
                "_summary=text is not supported (count and false are)",
            ),
            ("invalid", "active must be true or false, got 'yes'"),
            ("invalid", "_offset must be a whole number, got '-1'"),
            (
                "not-supported",
                "The modifier ':text' is not supported on 'identifier'",
            ),
        ],
    );
    let reply = app
        .fhir("GET", "/Organization?family=x", Some(&token), None)
        .await;
    assert_outcome(
        &reply,
        StatusCode::BAD_REQUEST,
        &[(
            "not-supported",
            "Unknown search parameter 'family' for Organization; supported: _id, identifier, name, \
             active, and _count, _offset, _summary, _format",
        )],
    );
    let reply = app
        .fhir("GET", "/Patient?_summary=true", Some(&token), None)
        .await;
    assert_outcome(
        &reply,
        StatusCode::BAD_REQUEST,
        &[(
            "not-supported",
            "_summary=true is not supported (count and false are)",
        )],
    );
    // Search needs a token, after the format is settled.
    let reply = app.fhir("GET", "/Patient?birthdate=1990", None, None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn search_pages_with_count_and_offset() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let base = format!("{}/sfm/fhir", app.base);

    let reply = app
        .fhir("GET", "/Patient?_count=2", Some(&token), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["total"], 7);
    assert_eq!(reply.json["entry"].as_array().unwrap().len(), 2);
    assert_eq!(relations(&reply.json), ["self", "next"]);
    assert_eq!(
        link(&reply.json, "self").unwrap(),
        format!("{base}/Patient?_count=2&_format=json")
    );
    let next = link(&reply.json, "next").unwrap();
    assert_eq!(
        next,
        format!("{base}/Patient?_count=2&_offset=2&_format=json")
    );
    let mut seen = ids(&reply);

    // Following next: self, next and previous.
    let reply = app
        .fhir("GET", next.strip_prefix(&base).unwrap(), Some(&token), None)
        .await;
    assert_eq!(reply.json["total"], 7);
    assert_eq!(relations(&reply.json), ["self", "next", "previous"]);
    assert_eq!(link(&reply.json, "self").unwrap(), next);
    assert_eq!(
        link(&reply.json, "previous").unwrap(),
        format!("{base}/Patient?_count=2&_format=json")
    );
    let next = link(&reply.json, "next").unwrap();
    assert_eq!(
        next,
        format!("{base}/Patient?_count=2&_offset=4&_format=json")
    );
    seen.extend(ids(&reply));

    let reply = app
        .fhir("GET", next.strip_prefix(&base).unwrap(), Some(&token), None)
        .await;
    let next = link(&reply.json, "next").unwrap();
    assert_eq!(
        link(&reply.json, "previous").unwrap(),
        format!("{base}/Patient?_count=2&_offset=2&_format=json")
    );
    seen.extend(ids(&reply));

    // The last page: one entry, no next.
    let reply = app
        .fhir("GET", next.strip_prefix(&base).unwrap(), Some(&token), None)
        .await;
    assert_eq!(relations(&reply.json), ["self", "previous"]);
    assert_eq!(reply.json["entry"].as_array().unwrap().len(), 1);
    seen.extend(ids(&reply));
    seen.sort();
    assert_eq!(seen, FJORDBYEN_PATIENTS);

    // Criteria are kept in the links.
    let reply = app
        .fhir("GET", "/Patient?name=d&_count=1", Some(&token), None)
        .await;
    assert_eq!(reply.json["total"], 2);
    assert_eq!(
        link(&reply.json, "self").unwrap(),
        format!("{base}/Patient?name=d&_count=1&_format=json")
    );
    assert_eq!(
        link(&reply.json, "next").unwrap(),
        format!("{base}/Patient?name=d&_count=1&_offset=1&_format=json")
    );

    // Past the end: no entries, a way back.
    let reply = app
        .fhir("GET", "/Patient?_count=2&_offset=10", Some(&token), None)
        .await;
    assert_eq!(reply.json["total"], 7);
    assert!(reply.json.get("entry").is_none(), "{}", reply.text);
    assert_eq!(relations(&reply.json), ["self", "previous"]);

    // _count is capped at 100.
    let reply = app
        .fhir("GET", "/Patient?_count=1000", Some(&token), None)
        .await;
    assert_eq!(
        link(&reply.json, "self").unwrap(),
        format!("{base}/Patient?_count=100&_format=json")
    );
    assert_eq!(ids(&reply), FJORDBYEN_PATIENTS);

    // _summary=count: the total only.
    let reply = app
        .fhir("GET", "/Patient?_summary=count", Some(&token), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["total"], 7);
    assert!(reply.json.get("entry").is_none(), "{}", reply.text);
    assert_eq!(relations(&reply.json), ["self"]);
    let reply = app
        .fhir(
            "GET",
            "/Patient?_summary=count&_count=2&name=d",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(reply.json["total"], 2);
    assert!(reply.json.get("entry").is_none(), "{}", reply.text);
    assert_eq!(relations(&reply.json), ["self"]);
    // _summary=false is the normal search.
    let reply = app
        .fhir(
            "GET",
            "/Patient?_summary=false&_count=3",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(reply.json["entry"].as_array().unwrap().len(), 3);
}

#[actix_web::test]

async fn count_zero_does_not_page_forever() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let reply = app
        .fhir("GET", "/Patient?_count=0", Some(&token), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["total"], 7);
    assert!(reply.json.get("entry").is_none(), "{}", reply.text);
    assert_eq!(relations(&reply.json), ["self"], "{}", reply.text);
}

#[actix_web::test]

async fn string_search_ignores_accents() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let reply = app
        .fhir("GET", "/Practitioner?name=lavniva", Some(&token), None)
        .await;
    assert_eq!(ids(&reply), ["practitioner-lars"]);
}

#[actix_web::test]
async fn links_and_full_urls_use_the_public_url() {
    let app = spawn_app_with(|s| {
        s.public_url = Some(helsesim::config::parse_public_url("https://sfm.example").unwrap());
    })
    .await;
    assert_eq!(app.base, "https://sfm.example");
    // Requests reach the app directly; tokens name the public issuer.
    let direct = format!("http://127.0.0.1:{}", app.port);
    let token = login_via(&app, &direct, SFM_READY, DIDRIK).await;
    let (_, claims) = decode_jwt(&token);
    assert_eq!(claims["iss"], "https://sfm.example/helseid");
    let auth = format!("Bearer {token}");
    let auth = [("Authorization", auth.as_str())];

    let reply = send(
        &app,
        &direct,
        "GET",
        "/sfm/fhir/Patient?_count=2",
        &auth,
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        link(&reply.json, "self").unwrap(),
        "https://sfm.example/sfm/fhir/Patient?_count=2&_format=json"
    );
    assert_eq!(
        link(&reply.json, "next").unwrap(),
        "https://sfm.example/sfm/fhir/Patient?_count=2&_offset=2&_format=json"
    );
    for entry in reply.json["entry"].as_array().unwrap() {
        assert_eq!(
            entry["fullUrl"],
            format!(
                "https://sfm.example/sfm/fhir/Patient/{}",
                entry["resource"]["id"].as_str().unwrap()
            )
        );
    }

    let mut headers = auth.to_vec();
    headers.push(AS_FHIR);
    let reply = send(
        &app,
        &direct,
        "POST",
        "/sfm/fhir/Patient",
        &headers,
        Some(&bytes(&new_patient("28022600178"))),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(
        reply.header("location"),
        Some(&*format!(
            "https://sfm.example/sfm/fhir/Patient/{}/_history/1",
            reply.json["id"].as_str().unwrap()
        ))
    );

    let reply = send(&app, &direct, "GET", "/sfm/fhir/metadata", &[], None).await;
    assert_eq!(
        reply.json["implementation"]["url"],
        "https://sfm.example/sfm/fhir"
    );

    // The session service's portal and API addresses too.
    let nonce = base64::engine::general_purpose::STANDARD
        .encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA512, b"n"));
    let body = json!({"nonce": nonce}).to_string();
    let mut headers = auth.to_vec();
    headers.push(("Content-Type", "application/json"));
    let reply = send(
        &app,
        &direct,
        "POST",
        "/sfm/api/Session/create",
        &headers,
        Some(body.as_bytes()),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.json["metadata"]["patientportal"],
        "https://sfm.example/sfm/client/patient"
    );
    assert_eq!(reply.json["apiAddress"], "https://sfm.example/sfm/server/");
}

/// A user login (PAR, authorize, code exchange) sent to `direct` while the app's public URL (and
/// so the audience of client assertions) is `app.base`.
async fn login_via(app: &TestApp, direct: &str, client_id: &str, pid: &str) -> String {
    let post_form = |path: &str, form: Vec<(&str, &str)>| {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        app.http
            .post(format!("{direct}{path}"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let pkce = Pkce::new();
    let assertion = Assertion::new(app, client_id).sign();
    let mut form = TestApp::login_form(&pkce, SFM_LOGIN_SCOPES, &[("login_hint", pid)]);
    form.extend([
        ("client_id", client_id),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion.as_str()),
    ]);
    let reply = Reply::read(post_form("/helseid/connect/par", form).await.unwrap()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let request_uri = reply.json["request_uri"].as_str().unwrap().to_owned();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("client_id", client_id), ("request_uri", &request_uri)])
        .finish();
    let reply = Reply::read(
        app.http
            .get(format!("{direct}/helseid/connect/authorize?{query}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let code = reply.redirect_params(REDIRECT_URI)["code"].clone();
    let assertion = Assertion::new(app, client_id).sign();
    let form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", pkce.verifier.as_str()),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion.as_str()),
    ];
    let reply = Reply::read(post_form("/helseid/connect/token", form).await.unwrap()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.json["access_token"].as_str().unwrap().to_owned()
}

// ---------------------------------------------------------------------------------------------
// Creating an instance: the refusals (the success is the organisation walkthrough).

/// A Kolåsbakkane Organization with the given identifiers.
fn organization(identifiers: Value) -> Value {
    json!({
        "resourceType": "Organization",
        "meta": {"profile": ["http://ehelse.no/fhir/StructureDefinition/sfm-Organization"]},
        "identifier": identifiers,
        "active": false,
        "name": "Kolåsbakkane legekontor"
    })
}

#[actix_web::test]
async fn creating_an_instance_checks_every_identifier_at_once() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_NEW_TENANT, DIDRIK, None).await;
    let not_yet = format!(
        "The SFM instance {KOLASBAKKANE} does not exist yet: the only operation allowed is \
         creating it with POST Organization"
    );

    // Before the instance exists, a Practitioner cannot be created.
    let practitioner = json!({
        "resourceType": "Practitioner",
        "identifier": [{"system": FNR, "value": DIDRIK}]
    });
    let reply = app
        .fhir("POST", "/Practitioner", Some(&token), Some(&practitioner))
        .await;
    assert_outcome(&reply, StatusCode::FORBIDDEN, &[("forbidden", &not_yet)]);
    let reply = app
        .fhir("GET", "/Organization/anything", Some(&token), None)
        .await;
    assert_outcome(&reply, StatusCode::FORBIDDEN, &[("forbidden", &not_yet)]);

    // Wrong SFM-id, wrong organisation number, no HER-id: one answer with all three.
    let wrong = organization(json!([
        {"use": "official", "system": ENH, "value": "923456783"},
        {"use": "official", "system": SFM_ID, "value": FJORDBYEN}
    ]));
    let reply = app
        .fhir("POST", "/Organization", Some(&token), Some(&wrong))
        .await;
    assert_outcome(
        &reply,
        StatusCode::BAD_REQUEST,
        &[
            (
                "business-rule",
                &format!(
                    "The Organization's SFM-id identifier (urn:oid:2.16.578.1.12.4.1.4.109) is \
                     {FJORDBYEN}, but the token names the SFM instance {KOLASBAKKANE}"
                ),
            ),
            (
                "business-rule",
                "The Organization's organisation number (urn:oid:2.16.578.1.12.4.1.4.101) is \
                 923456783, but the token's is 917897468 (orgnr_child, else orgnr_parent)",
            ),
            (
                "business-rule",
                "The Organization needs its HER-id identifier (urn:oid:2.16.578.1.12.4.1.2): SFM \
                 reports the instance to e-resept by it",
            ),
        ],
    );

    // No identifiers at all.
    let mut bare = organization(json!([]));
    bare.as_object_mut().unwrap().remove("identifier");
    let reply = app
        .fhir("POST", "/Organization", Some(&token), Some(&bare))
        .await;
    assert_outcome(
        &reply,
        StatusCode::BAD_REQUEST,
        &[
            (
                "business-rule",
                &format!(
                    "The Organization needs its SFM-id identifier \
                     (urn:oid:2.16.578.1.12.4.1.4.109) with the token's sfm-id or journal-id \
                     ({KOLASBAKKANE})"
                ),
            ),
            (
                "business-rule",
                "The Organization needs its organisation number identifier \
                 (urn:oid:2.16.578.1.12.4.1.4.101): the token's is 917897468",
            ),
            (
                "business-rule",
                "The Organization needs its HER-id identifier (urn:oid:2.16.578.1.12.4.1.2): SFM \
                 reports the instance to e-resept by it",
            ),
        ],
    );

    // Structure comes first.
    let mut misspelt = organization(json!([{"system": SFM_ID, "value": KOLASBAKKANE}]));
    let name = misspelt.as_object_mut().unwrap().remove("name").unwrap();
    misspelt["nmae"] = name;
    let reply = app
        .fhir("POST", "/Organization", Some(&token), Some(&misspelt))
        .await;
    assert_outcome(
        &reply,
        StatusCode::BAD_REQUEST,
        &[(
            "structure",
            "not a valid FHIR R4 Organization: unknown field `nmae`, expected one of `id`, `meta`, \
             `implicitRules`, `language`, `text`, `contained`, `extension`, `modifierExtension`, \
             `identifier`, `active`, `type`, `name`, `alias`, `telecom`, `address`, `partOf`, \
             `contact`, `endpoint`",
        )],
    );

    // None of this created the instance.
    let reply = app.fhir("GET", "/Person", Some(&token), None).await;
    assert_outcome(&reply, StatusCode::FORBIDDEN, &[("forbidden", &not_yet)]);

    // With the right identifiers it is created, with the client's id ignored.
    let mut right = organization(json!([
        {"use": "official", "system": ENH, "value": "917897468"},
        {"use": "official", "system": HER, "value": "81420690"},
        {"use": "official", "system": SFM_ID, "value": KOLASBAKKANE}
    ]));
    right["id"] = json!("kolasbakkane");
    let reply = app
        .fhir("POST", "/Organization", Some(&token), Some(&right))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_ne!(reply.json["id"], "kolasbakkane");
    // Now the Practitioner may be created.
    let reply = app
        .fhir("POST", "/Practitioner", Some(&token), Some(&practitioner))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
}

// ---------------------------------------------------------------------------------------------
// DPoP.

/// A DPoP proof for a request to SFM's FHIR API with `token`.
fn api_proof(app: &TestApp, key: &TestKey, method: &str, path: &str, token: &str) -> String {
    Proof::new(app, key, method, &app.url(&format!("/sfm/fhir{path}")))
        .claim("ath", json!(sha256_b64url(token)))
        .sign()
}

#[actix_web::test]
async fn a_dpop_bound_token_needs_its_scheme_and_a_proof() {
    let app = spawn_app().await;
    let key = TestKey::ec("P-256");
    let (code, pkce) = app
        .login_code(SFM_READY, SFM_LOGIN_SCOPES, DIDRIK, &[])
        .await;
    let nonce = app
        .dpop_nonce(SFM_READY, "e-helse:sfm.api/sfm.api", &key)
        .await;
    let proof = Proof::token(&app, &key).nonce(&nonce).sign();
    let reply = app
        .exchange_code(SFM_READY, &code, &pkce.verifier, &[], &[("DPoP", &proof)])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["token_type"], "DPoP");
    let token = reply.json["access_token"].as_str().unwrap().to_owned();
    assert_eq!(decode_jwt(&token).1["cnf"]["jkt"], key.thumbprint());
    let dpop = format!("DPoP {token}");

    // With the DPoP scheme and a proof for this request: served.
    let proof = api_proof(&app, &key, "GET", "/Patient", &token);
    let reply = send(
        &app,
        &app.url("/sfm/fhir"),
        "GET",
        "/Patient",
        &[("Authorization", &dpop), ("DPoP", &proof)],
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["total"], 7);
    // A search: htu is the URL without its query.
    let proof = api_proof(&app, &key, "GET", "/Patient", &token);
    let reply = send(
        &app,
        &app.url("/sfm/fhir"),
        "GET",
        "/Patient?name=line",
        &[("Authorization", &dpop), ("DPoP", &proof)],
        None,
    )
    .await;
    assert_eq!(ids(&reply), ["patient-line"]);
    // A write.
    let proof = api_proof(&app, &key, "POST", "/Patient", &token);
    let reply = send(
        &app,
        &app.url("/sfm/fhir"),
        "POST",
        "/Patient",
        &[("Authorization", &dpop), ("DPoP", &proof), AS_FHIR],
        Some(&bytes(&new_patient("28022600178"))),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);

    let refused = |reply: &Reply, message: &str, error: &str, scheme: &str| {
        assert_outcome(reply, StatusCode::UNAUTHORIZED, &[("login", message)]);
        // RFC 9449 §7.1: every DPoP challenge names the proof algorithms.
        let algs = if scheme == "DPoP" {
            ", algs=\"RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512\""
        } else {
            ""
        };
        assert_eq!(
            reply.header("www-authenticate"),
            Some(&*format!(
                "{scheme} error=\"{error}\", error_description=\"{}\"{algs}",
                message.replace('"', "'")
            ))
        );
    };

    // As a bearer token: refused.
    let reply = app.fhir("GET", "/Patient", Some(&token), None).await;
    refused(
        &reply,
        "The token is DPoP-bound: send it as 'Authorization: DPoP <token>' together with a DPoP \
         proof, not as a bearer token",
        "invalid_token",
        "DPoP",
    );
    // Without a proof.
    let reply = send(
        &app,
        &app.url("/sfm/fhir"),
        "GET",
        "/Patient",
        &[("Authorization", &dpop)],
        None,
    )
    .await;
    refused(
        &reply,
        "A DPoP-bound token needs a DPoP proof in the DPoP header",
        "invalid_dpop_proof",
        "DPoP",
    );
    // A proof for another URL.
    let proof = api_proof(&app, &key, "GET", "/Practitioner", &token);
    let reply = send(
        &app,
        &app.url("/sfm/fhir"),
        "GET",
        "/Patient",
        &[("Authorization", &dpop), ("DPoP", &proof)],
        None,
    )
    .await;
    refused(
        &reply,
        &format!(
            "The DPoP proof's htu '{}' does not match the request URL {} (helsesim's public URL, \
             HELSESIM_PUBLIC_URL)",
            app.url("/sfm/fhir/Practitioner"),
            app.url("/sfm/fhir/Patient")
        ),
        "invalid_dpop_proof",
        "DPoP",
    );
    // A proof with the query in htu is fine (the query is ignored) ...
    let proof = Proof::new(&app, &key, "GET", &app.url("/sfm/fhir/Patient?name=line"))
        .claim("ath", json!(sha256_b64url(&token)))
        .sign();
    let reply = send(
        &app,
        &app.url("/sfm/fhir"),
        "GET",
        "/Patient?name=line",
        &[("Authorization", &dpop), ("DPoP", &proof)],
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    // ... but the same proof twice is a replay.
    let reply = send(
        &app,
        &app.url("/sfm/fhir"),
        "GET",
        "/Patient?name=line",
        &[("Authorization", &dpop), ("DPoP", &proof)],
        None,
    )
    .await;
    refused(
        &reply,
        "The DPoP proof has been used before: create a new proof (new jti) for every request",
        "invalid_dpop_proof",
        "DPoP",
    );
    // A proof without ath.
    let proof = Proof::new(&app, &key, "GET", &app.url("/sfm/fhir/Patient")).sign();
    let reply = send(
        &app,
        &app.url("/sfm/fhir"),
        "GET",
        "/Patient",
        &[("Authorization", &dpop), ("DPoP", &proof)],
        None,
    )
    .await;
    refused(
        &reply,
        "The DPoP proof must have 'ath', the hash of the access token",
        "invalid_dpop_proof",
        "DPoP",
    );
    // A proof for another method.
    let proof = api_proof(&app, &key, "POST", "/Patient", &token);
    let reply = send(
        &app,
        &app.url("/sfm/fhir"),
        "GET",
        "/Patient",
        &[("Authorization", &dpop), ("DPoP", &proof)],
        None,
    )
    .await;
    refused(
        &reply,
        "The DPoP proof's htm 'POST' does not match the request method GET",
        "invalid_dpop_proof",
        "DPoP",
    );
    // The session service takes the DPoP token the same way.
    let proof = Proof::new(&app, &key, "POST", &app.url("/sfm/api/PatientTicket"))
        .claim("ath", json!(sha256_b64url(&token)))
        .sign();
    let reply = send(
        &app,
        &app.url("/sfm/api"),
        "POST",
        "/PatientTicket",
        &[
            ("Authorization", &dpop),
            ("DPoP", &proof),
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
        ],
        Some(br#"{"patientPid": "12050050295"}"#),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(reply.json["patientTicket"].is_string());
}

// ---------------------------------------------------------------------------------------------
// Known deviations.

#[actix_web::test]

async fn metadata_refuses_xml_like_every_other_endpoint() {
    let app = spawn_app().await;
    let reply = app.fhir("GET", "/metadata?_format=xml", None, None).await;
    assert_outcome(
        &reply,
        StatusCode::NOT_ACCEPTABLE,
        &[(
            "not-supported",
            "This server speaks FHIR JSON only (application/fhir+json or _format=json)",
        )],
    );
}

/// "To allow other users into this instance of SFM, the superuser may now use HelseID to create
/// other superusers, and Practitioners" (sfm-create-organization): a superuser (a Person) creates
/// a Person (201, and that user is a superuser in turn); a user who is only a Practitioner may
/// create neither (403).
#[actix_web::test]
async fn only_a_superuser_creates_superusers_and_practitioners() {
    let app = spawn_app().await;
    let didrik = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let person = json!({
        "resourceType": "Person", "identifier": [{"system": FNR, "value": HENRIK}], "active": true
    });
    let reply = app
        .fhir("POST", "/Person", Some(&didrik), Some(&person))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.json["resourceType"], "Person");
    assert_eq!(reply.json["meta"]["versionId"], "1");
    assert!(
        reply
            .header("location")
            .is_some_and(|l| l.contains("/sfm/fhir/Person/")),
        "{:?}",
        reply.headers
    );
    assert_valid_fhir(&reply.json);

    // Henrik, now a superuser, creates a Practitioner.
    let henrik = app.sfm_token(SFM_READY, HENRIK, None).await;
    let practitioner = json!({
        "resourceType": "Practitioner",
        "identifier": [{"system": FNR, "value": "13116900216"}],
        "name": [{"family": "Lege", "given": ["Lise"]}]
    });
    let reply = app
        .fhir("POST", "/Practitioner", Some(&henrik), Some(&practitioner))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);

    // Sigrid is a Practitioner of this instance, not a superuser.
    let sigrid = app.sfm_token(SFM_READY, SIGRID, None).await;
    for (path, resource) in [
        (
            "/Person",
            json!({
                "resourceType": "Person", "identifier": [{"system": FNR, "value": "01018010018"}]
            }),
        ),
        (
            "/Practitioner",
            json!({
                "resourceType": "Practitioner",
                "identifier": [{"system": FNR, "value": "01018010018"}]
            }),
        ),
    ] {
        let reply = app.fhir("POST", path, Some(&sigrid), Some(&resource)).await;
        assert_outcome(
            &reply,
            StatusCode::FORBIDDEN,
            &[(
                "forbidden",
                &format!(
                    "Only a superuser (a Person of this SFM instance) may create {}: the user \
                     {SIGRID} is not one",
                    &path[1..]
                ),
            )],
        );
    }
    // She still creates Patients.
    let reply = app
        .fhir(
            "POST",
            "/Patient",
            Some(&sigrid),
            Some(&new_patient("01018010018")),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
}

#[actix_web::test]

async fn if_match_star_matches_any_current_version() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let line = reply_json_of(&app, &token, "/Patient/patient-line").await;
    let reply = fhir_with(
        &app,
        "PUT",
        "/Patient/patient-line",
        &token,
        &[AS_FHIR, ("If-Match", "*")],
        Some(&bytes(&line)),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("etag"), Some("W/\"2\""));
}

#[actix_web::test]

async fn the_self_link_of_a_count_search_keeps_summary_count() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let reply = app
        .fhir("GET", "/Patient?_summary=count", Some(&token), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let self_link = link(&reply.json, "self").unwrap();
    assert!(self_link.contains("_summary=count"), "{self_link}");
}

#[actix_web::test]
async fn head_answers_like_get_without_a_body() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let reply = fhir_with(&app, "HEAD", "/Patient/patient-line", &token, &[], None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("etag"), Some("W/\"1\""));
    assert_eq!(reply.text, "");
}
