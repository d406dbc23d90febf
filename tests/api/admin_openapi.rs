//! `/_admin/openapi.json` describes exactly the control plane helsesim serves.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn every_documented_operation_exists() {
    let app = spawn_app().await;
    let reply = app.get("/_admin/openapi.json").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["openapi"], "3.1.0");
    let paths = reply.json["paths"].as_object().unwrap();
    let mut operations = Vec::new();
    let mut operation_ids = std::collections::BTreeSet::new();
    for (path, item) in paths {
        for method in ["get", "post", "put", "delete"] {
            if let Some(operation) = item.get(method) {
                operations.push((method.to_uppercase(), path.clone()));
                let id = operation["operationId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                assert!(
                    operation_ids.insert(id.clone()),
                    "{method} {path}: operationId {id:?}"
                );
            }
        }
    }
    assert_eq!(
        operations.len(),
        33,
        "every route of src/admin/mod.rs: {operations:?}"
    );
    for (method, path) in &operations {
        let concrete = path
            .replace("{id}", "x")
            .replace("{client_id}", "x")
            .replace("{pid}", "x")
            .replace("{name}", "x");
        let mut request = app.http.request(
            Method::from_bytes(method.as_bytes()).unwrap(),
            app.url(&concrete),
        );
        if method == "POST" || method == "PUT" {
            request = request.json(&json!({}));
        }
        let reply = Reply::read(request.send().await.unwrap()).await;
        assert_ne!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert!(
            !reply.text.contains("has no endpoint"),
            "{method} {path}: {}",
            reply.text
        );
    }
}

/// The request bodies are the types the handlers read (utoipa), closed sets included.
#[actix_web::test]
async fn request_schemas_come_from_the_request_types() {
    let app = spawn_app().await;
    let reply = app.get("/_admin/openapi.json").await;
    let schemas = &reply.json["components"]["schemas"];
    let fault = &schemas["FaultRequest"];
    assert_eq!(fault["required"], json!(["path"]), "{fault}");
    let service = &fault["properties"]["service"];
    assert!(
        service.to_string().contains("#/components/schemas/Service"),
        "{service}"
    );
    assert_eq!(
        schemas["Service"]["enum"],
        json!(["helseid", "sfm", "kjernejournal", "pts"])
    );
    assert_eq!(fault["properties"]["status"]["maximum"], 599, "{fault}");
    let broken = &schemas["MintRequest"]["properties"]["broken"];
    assert!(
        broken
            .to_string()
            .contains("#/components/schemas/BrokenToken"),
        "{broken}"
    );
    let broken = &schemas["BrokenToken"]["enum"];
    for name in [
        "wrong_signing_key",
        "wrong_issuer",
        "wrong_audience",
        "expired",
        "not_yet_valid",
    ] {
        assert!(broken.to_string().contains(name), "{broken}");
    }
    let clock = schemas["ClockChange"].to_string();
    for member in ["advance", "set", "reset"] {
        assert!(clock.contains(member), "{clock}");
    }
    let journal = &reply.json["paths"]["/_admin/requests"]["get"]["parameters"][0];
    assert_eq!(journal["name"], "service");
    assert_eq!(
        schemas["JournalService"]["enum"],
        json!(["helseid", "sfm", "kjernejournal", "pts", "none"])
    );
    assert_eq!(schemas["MessageType"]["enum"], json!(["M1", "M5", "M25.1"]));
    assert_eq!(
        reply.json["components"]["securitySchemes"]["adminToken"]["scheme"],
        "bearer"
    );
    // Every reference resolves.
    let mut refs = Vec::new();
    collect_refs(&reply.json, &mut refs);
    assert!(refs.len() > 5, "{refs:?}");
    for reference in refs {
        let name = reference.trim_start_matches("#/components/schemas/");
        assert!(
            schemas.get(name).is_some(),
            "{reference} resolves to nothing"
        );
    }
}

/// Every `$ref` in a document.
pub(crate) fn collect_refs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                match (key.as_str(), item.as_str()) {
                    ("$ref", Some(reference)) => out.push(reference.to_owned()),
                    _ => collect_refs(item, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| collect_refs(i, out)),
        _ => {}
    }
}
