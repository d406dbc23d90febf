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
    for (path, item) in paths {
        for method in ["get", "post", "put", "delete"] {
            if item.get(method).is_some() {
                operations.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    assert_eq!(
        operations.len(),
        24,
        "every route of src/admin/mod.rs: {operations:?}"
    );
    for (method, path) in &operations {
        let concrete = path
            .replace("{id}", "x")
            .replace("{client_id}", "x")
            .replace("{pid}", "x");
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
