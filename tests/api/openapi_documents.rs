//! Every API's OpenAPI document (`GET /_admin/openapi` lists them) describes exactly what the
//! router serves: every documented operation is routed, and every routed operation of a JSON API
//! is documented — the routes read from actix's own resource map (as the robustness walk reads
//! them), each one's methods from its 405 answer's `Allow`.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::admin_openapi::collect_refs;
use crate::helpers::*;

/// Routes that are pages, assets or the demo EHR, not JSON APIs, and why.
const NOT_JSON_APIS: [(&str, &str); 5] = [
    ("/epj", "the demo EHR (a web app of its own)"),
    (
        "/helseid/login",
        "the test IdP's login page posts its form here",
    ),
    (
        "/kjernejournal/hpp-webapp",
        "the Kjernejournal portal's pages",
    ),
    ("/sfm/client", "the SFM GUI's portal pages and assets"),
    ("/", "the dashboard (an HTML page)"),
];

fn is_json_api(route: &str) -> bool {
    !NOT_JSON_APIS.iter().any(|(prefix, _)| {
        route == *prefix || (*prefix != "/" && route.starts_with(&format!("{prefix}/")))
    })
}

/// `(name, server path, document)` of every document the index lists.
async fn documents(app: &TestApp) -> Vec<(String, String, Value)> {
    let index = app.get("/_admin/openapi").await;
    assert_eq!(index.status, StatusCode::OK, "{}", index.text);
    let mut out = Vec::new();
    for entry in index.json["documents"].as_array().unwrap() {
        let url = entry["url"].as_str().unwrap();
        let path = url.strip_prefix(&app.base).unwrap();
        let reply = app.get(path).await;
        assert_eq!(reply.status, StatusCode::OK, "{url}: {}", reply.text);
        let server = entry["server"].as_str().unwrap();
        let server_path = server.strip_prefix(&app.base).unwrap().to_owned();
        out.push((
            entry["name"].as_str().unwrap().to_owned(),
            server_path,
            reply.json,
        ));
    }
    out
}

/// Every `(METHOD, full path)` a document names.
fn operations(server_path: &str, document: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "delete", "patch"] {
            if item.get(method).is_some() {
                out.push((method.to_uppercase(), format!("{server_path}{path}")));
            }
        }
    }
    out
}

#[actix_web::test]
async fn every_api_has_an_openapi_document_with_helsesim_as_its_server() {
    let app = spawn_app().await;
    let documents = documents(&app).await;
    let names: Vec<&str> = documents.iter().map(|(n, ..)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "helseid",
            "sfm-session",
            "sfm-fhir",
            "sfm-client-server",
            "kjernejournal",
            "kjernejournal-innlogging",
            "pts",
            "control-plane"
        ]
    );
    for (name, server_path, document) in &documents {
        assert_eq!(document["openapi"], "3.1.0", "{name}");
        assert!(document["info"]["title"].is_string(), "{name}");
        let server = document["servers"][0]["url"].as_str().unwrap_or_default();
        assert_eq!(server, format!("{}{server_path}", app.base), "{name}");
        let mut ids = BTreeSet::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let id = operation["operationId"].as_str().unwrap_or_default();
                assert!(
                    ids.insert(id.to_owned()),
                    "{name}: {method} {path}: id {id:?}"
                );
                assert!(
                    operation["responses"]
                        .as_object()
                        .is_some_and(|r| !r.is_empty()),
                    "{name}: {method} {path} has no responses"
                );
            }
        }
        let mut refs = Vec::new();
        collect_refs(document, &mut refs);
        for reference in refs {
            let schema = reference.trim_start_matches("#/components/schemas/");
            assert!(
                document["components"]["schemas"].get(schema).is_some(),
                "{name}: {reference} resolves to nothing"
            );
        }
    }
    let unknown = app.get("/_admin/openapi/nothing.json").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json["error"], "not_found");
    assert!(
        unknown.json["message"]
            .as_str()
            .unwrap()
            .contains("helseid.json"),
        "{}",
        unknown.text
    );
}

/// A documented path with each parameter given a value.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| match segment {
            "{fnr}" => "13116900216",
            "{vid}" => "1",
            "{file}" => "helseid.json",
            s if s.starts_with('{') => "x",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[actix_web::test]
async fn every_documented_operation_is_routed() {
    let app = spawn_app().await;
    let mut checked = 0;
    for (name, server_path, document) in documents(&app).await {
        for (method, path) in operations(&server_path, &document) {
            let url = app.url(&concrete(&path));
            let mut request = app
                .http
                .request(Method::from_bytes(method.as_bytes()).unwrap(), url);
            if method == "POST" || method == "PUT" {
                request = request.json(&serde_json::json!({}));
            }
            let reply = Reply::read(request.send().await.unwrap()).await;
            assert_ne!(
                reply.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{name}: {method} {path}"
            );
            assert!(
                !reply.text.contains("has no endpoint") && !reply.text.contains("No service at"),
                "{name}: {method} {path} is not routed: {}",
                reply.text
            );
            checked += 1;
        }
    }
    assert!(checked > 80, "{checked}");
}

/// The methods a route answers: its 405's `Allow`; a resource without one (HelseID's token
/// endpoint answers a wrong method 400 "accepts only POST", as Duende does) is probed.
async fn routed_methods(app: &TestApp, route: &str) -> BTreeSet<String> {
    let trace = Reply::read(
        app.http
            .request(Method::TRACE, app.url(route))
            .send()
            .await
            .unwrap(),
    )
    .await;
    if let Some(allow) = trace.headers.get("allow") {
        return allow
            .to_str()
            .unwrap()
            .split(',')
            .map(|m| m.trim().to_owned())
            .filter(|m| !matches!(m.as_str(), "HEAD" | "OPTIONS"))
            .collect();
    }
    let mut methods = BTreeSet::new();
    for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
        let reply = Reply::read(
            app.http
                .request(
                    Method::from_bytes(method.as_bytes()).unwrap(),
                    app.url(route),
                )
                .send()
                .await
                .unwrap(),
        )
        .await;
        if reply.status != StatusCode::METHOD_NOT_ALLOWED && !reply.text.contains("accepts only") {
            methods.insert(method.to_owned());
        }
    }
    methods
}

/// A routed path (`x` for each parameter) and a documented one name the same resource.
fn same_resource(route: &str, documented: &str) -> bool {
    let route: Vec<&str> = route.split('/').collect();
    let documented: Vec<&str> = documented.split('/').collect();
    route.len() == documented.len()
        && route
            .iter()
            .zip(&documented)
            .all(|(r, d)| r == d || *r == "x" || d.starts_with('{'))
}

#[actix_web::test]
async fn every_routed_operation_of_a_json_api_is_documented() {
    let app = spawn_app().await;
    let mut documented = Vec::new();
    for (_, server_path, document) in documents(&app).await {
        documented.extend(operations(&server_path, &document));
    }
    let routes: BTreeSet<String> = crate::robustness::routes()
        .await
        .into_iter()
        // `/v1/ping/` is `/v1/ping`: kjernejournal's paths answer with and without the slash.
        .map(|r| match r.strip_suffix('/') {
            Some(stripped) if !stripped.is_empty() => stripped.to_owned(),
            _ => r,
        })
        .filter(|r| is_json_api(r))
        .collect();
    assert!(routes.len() > 60, "{routes:?}");
    let mut missing = Vec::new();
    for route in &routes {
        let methods = routed_methods(&app, route).await;
        assert!(!methods.is_empty(), "{route}: no method found");
        for method in methods {
            let found = documented
                .iter()
                .any(|(m, path)| *m == method && same_resource(route, path));
            if !found {
                missing.push(format!("{method} {route}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "routed but not documented: {missing:#?}"
    );
}

/// Each document is valid OpenAPI 3.1, by the official JSON schema (the validator in
/// `tests/kits`, as the integration kits' runners).
#[actix_web::test]
async fn every_document_is_valid_openapi_3_1() {
    let Some(validator) = crate::integration_kits::kit_runner("validate-api") else {
        return;
    };
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    for (name, _, document) in documents(&app).await {
        let file = dir.path().join(format!("{name}.json"));
        std::fs::write(&file, serde_json::to_vec(&document).unwrap()).unwrap();
        let validator = validator.clone();
        let output = actix_web::rt::task::spawn_blocking(move || {
            std::process::Command::new(validator)
                .arg(&file)
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap()
        });
        let output = output.await.unwrap();
        assert!(
            output.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
}
