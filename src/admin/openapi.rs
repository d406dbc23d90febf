//! `GET /_admin/openapi.json`: the control plane described as OpenAPI 3.1, for tools and for
//! generating a test client. Generated (utoipa) from the handlers' `#[utoipa::path]`
//! attributes and the request types themselves, so it cannot drift from what they accept.

mod fhir;
pub mod services;

use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{RefOr, schema::Schema};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use super::{
    advice, clients, clock, faults, fixtures, national, requests, reset, scenarios, state, tokens,
};
use crate::service::{Service, names_schema};

/// The control plane's API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "helsesim control plane",
        description = "Drive helsesim from tests and demos. Errors are {\"error\", \"message\"}. \
            With HELSESIM_ADMIN_TOKEN set, send Authorization: Bearer <token>."
    ),
    paths(
        reset::reset, state::export, state::import, clock::get, clock::post, tokens::mint,
        requests::list, requests::clear, faults::list, faults::add, faults::clear, faults::remove,
        scenarios::list, scenarios::apply, scenarios::run_preset, scenarios::clear,
        advice::list, advice::clear,
        clients::list, clients::upsert, clients::get, clients::delete, fixtures::list_users,
        fixtures::upsert_user, fixtures::delete_user, fixtures::upsert_tenant,
        fixtures::upsert_patient, national::messages, super::dashboard::overview::get, get,
        services::index, services::get, crate::health::healthz
    ),
    components(schemas(JournalService, national::MessageType, scenarios::Steps)),
    modifiers(&AdminToken),
    security((), ("adminToken" = []))
)]
pub struct ControlPlaneApi;

/// The optional bearer token of `HELSESIM_ADMIN_TOKEN`.
struct AdminToken;

impl Modify for AdminToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "adminToken",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The journal's service filter: a service's name, or `none` for paths no service owns.
pub struct JournalService;

impl PartialSchema for JournalService {
    fn schema() -> RefOr<Schema> {
        let mut names = Service::names().to_vec();
        names.push("none");
        names_schema(&names)
    }
}

impl ToSchema for JournalService {}

/// The document, helsesim's public URL `base_url` its server.
pub fn document(base_url: &str) -> utoipa::openapi::OpenApi {
    let mut document = ControlPlaneApi::openapi();
    document.servers = Some(vec![utoipa::openapi::Server::new(base_url)]);
    document
}

/// `GET /_admin/openapi.json`.
#[utoipa::path(
    get,
    path = "/_admin/openapi.json",
    operation_id = "getOpenApi",
    summary = "This document",
    responses((status = 200, description = "OpenAPI 3.1"))
)]
pub async fn get(state: actix_web::web::Data<crate::state::AppState>) -> HttpResponse {
    let mut document = serde_json::to_value(document(&state.base_url)).unwrap_or_default();
    open_all_of(&mut document);
    HttpResponse::Ok().json(document)
}

/// serde's `flatten` becomes an `allOf` holding the flattened type's schema; when that type
/// refuses unknown fields (`additionalProperties: false`), the member would refuse the outer
/// type's own fields too, and no answer could match (a stored fault rule is its request plus
/// `id` and `hits`). Inside an `allOf`, such a member is inlined without the restriction.
fn open_all_of(document: &mut serde_json::Value) {
    let Some(schemas) = document
        .pointer("/components/schemas")
        .and_then(serde_json::Value::as_object)
        .cloned()
    else {
        return;
    };
    let Some(targets) = document
        .pointer_mut("/components/schemas")
        .and_then(serde_json::Value::as_object_mut)
    else {
        return;
    };
    for schema in targets.values_mut() {
        let Some(members) = schema
            .get_mut("allOf")
            .and_then(serde_json::Value::as_array_mut)
        else {
            continue;
        };
        for member in members {
            let closed = member
                .get("$ref")
                .and_then(serde_json::Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
                .and_then(|name| schemas.get(name))
                .filter(|s| s["additionalProperties"] == false);
            if let Some(mut open) = closed.cloned() {
                if let Some(map) = open.as_object_mut() {
                    map.remove("additionalProperties");
                }
                *member = open;
            }
        }
    }
}
