//! The services' OpenAPI documents, one per base URL of README's table: `GET /_admin/openapi`
//! lists them, `GET /_admin/openapi/{name}.json` serves one with helsesim's own URL as its first
//! server (the real test host is the second). HelseID, Kjernejournal and its Innlogging, PTS,
//! SFM's session service and its GUI's server API are written by hand (the `.json` files beside
//! this one), and the tests check them against the router both ways; SFM's FHIR API is
//! generated from its CapabilityStatement (`fhir.rs`).

use std::sync::LazyLock;

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::fhir;
use crate::errors::admin::AdminError;
use crate::service::Service;
use crate::state::AppState;

/// One document: where it is served and which API it describes.
struct Document {
    /// `{name}.json` under `/_admin/openapi/`.
    name: &'static str,
    title: &'static str,
    service: Service,
    /// The API's base path under helsesim's public URL.
    base_path: &'static str,
    /// The hand-written document, or `None` for the generated FHIR one.
    text: Option<&'static str>,
}

const DOCUMENTS: [Document; 7] = [
    Document {
        name: "helseid",
        title: "HelseID",
        service: Service::HelseId,
        base_path: "/helseid",
        text: Some(include_str!("helseid.json")),
    },
    Document {
        name: "sfm-session",
        title: "SFM session service",
        service: Service::Sfm,
        base_path: "/sfm",
        text: Some(include_str!("sfm-session.json")),
    },
    Document {
        name: "sfm-fhir",
        title: "SFM FHIR API",
        service: Service::Sfm,
        base_path: "/sfm/fhir",
        text: None,
    },
    Document {
        name: "sfm-client-server",
        title: "SFM client's server API",
        service: Service::Sfm,
        base_path: "/sfm/server",
        text: Some(include_str!("sfm-client-server.json")),
    },
    Document {
        name: "kjernejournal",
        title: "Kjernejournal API",
        service: Service::Kjernejournal,
        base_path: "/kjernejournal",
        text: Some(include_str!("kjernejournal.json")),
    },
    Document {
        name: "kjernejournal-innlogging",
        title: "Kjernejournal Innlogging",
        service: Service::Kjernejournal,
        base_path: "/kjernejournal/innlogging",
        text: Some(include_str!("kjernejournal-innlogging.json")),
    },
    Document {
        name: "pts",
        title: "PTS",
        service: Service::Pts,
        base_path: "/pts",
        text: Some(include_str!("pts.json")),
    },
];

/// The hand-written documents, parsed once (in `DOCUMENTS`' order; `Null` for the generated).
static PARSED: LazyLock<Vec<Value>> = LazyLock::new(|| {
    DOCUMENTS
        .iter()
        .map(|d| {
            d.text
                .and_then(|text| serde_json::from_str(text).ok())
                .unwrap_or(Value::Null)
        })
        .collect()
});

fn url_of(base_url: &str, name: &str) -> String {
    format!("{base_url}/_admin/openapi/{name}.json")
}

/// The documents of one service, `(title, url)`, for the dashboard's cards.
pub fn of_service(service: Service, base_url: &str) -> Vec<(&'static str, String)> {
    DOCUMENTS
        .iter()
        .filter(|d| d.service == service)
        .map(|d| (d.title, url_of(base_url, d.name)))
        .collect()
}

/// The document `name` as served by helsesim at `base_url`.
fn document(state: &AppState, name: &str) -> Option<Value> {
    let index = DOCUMENTS.iter().position(|d| d.name == name)?;
    let described = &DOCUMENTS[index];
    let server = format!("{}{}", state.base_url, described.base_path);
    let mut document = match described.text {
        Some(_) => PARSED.get(index).filter(|v| v.is_object())?.clone(),
        None => fhir::document(&crate::sfm::fhir::capability::statement(
            &server,
            &state.sfm.issuer,
            &crate::sfm::model::fhir_instant(state.clock.now()),
        )),
    };
    if let Some(first) = document["servers"]
        .as_array_mut()
        .and_then(|servers| servers.first_mut())
    {
        first["url"] = json!(server);
    }
    Some(document)
}

/// `GET /_admin/openapi`.
#[utoipa::path(
    get,
    path = "/_admin/openapi",
    operation_id = "listOpenApiDocuments",
    summary = "The OpenAPI documents of every API helsesim serves",
    description = "One per base URL (HelseID, SFM's session service, FHIR API and its GUI's \
        server API, Kjernejournal, Kjernejournal Innlogging, PTS), and the control plane's.",
    responses((status = 200, description = "`{documents: [{name, title, service, url, server}]}`"))
)]
pub async fn index(state: web::Data<AppState>) -> HttpResponse {
    let base = &state.base_url;
    let mut documents: Vec<Value> = DOCUMENTS
        .iter()
        .map(|d| {
            json!({
                "name": d.name,
                "title": d.title,
                "service": d.service.name(),
                "url": url_of(base, d.name),
                "server": format!("{base}{}", d.base_path),
            })
        })
        .collect();
    documents.push(json!({
        "name": "control-plane",
        "title": "helsesim control plane",
        "service": null,
        "url": format!("{base}/_admin/openapi.json"),
        "server": base,
    }));
    HttpResponse::Ok().json(json!({"documents": documents}))
}

/// `GET /_admin/openapi/{name}.json`.
#[utoipa::path(
    get,
    path = "/_admin/openapi/{file}",
    operation_id = "getOpenApiDocument",
    summary = "One API's OpenAPI 3.1 document",
    params(("file" = String, Path, description = "`{name}.json`, a name from the list")),
    responses(
        (status = 200, description = "OpenAPI 3.1, helsesim's URL its first server"),
        (status = 404, description = "no such document")
    )
)]
pub async fn get(
    state: web::Data<AppState>,
    file: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let name = file.strip_suffix(".json").unwrap_or_default();
    document(&state, name)
        .map(|document| HttpResponse::Ok().json(document))
        .ok_or_else(|| {
            let names: Vec<String> = DOCUMENTS
                .iter()
                .map(|d| format!("{}.json", d.name))
                .collect();
            AdminError::not_found(format!(
                "No OpenAPI document {file}: helsesim has {} (and /_admin/openapi.json, the \
                 control plane's)",
                names.join(", ")
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hand_written_document_is_openapi_3_1_with_two_servers() {
        for (document, parsed) in DOCUMENTS.iter().zip(PARSED.iter()) {
            if document.text.is_none() {
                continue;
            }
            assert_eq!(parsed["openapi"], "3.1.0", "{}", document.name);
            let servers = parsed["servers"].as_array().map(Vec::len);
            assert_eq!(servers, Some(2), "{}", document.name);
            assert!(parsed["paths"].as_object().is_some_and(|p| !p.is_empty()));
        }
    }
}
