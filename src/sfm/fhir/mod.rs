//! SFM's FHIR R4 API at `/sfm/fhir`: real FHIR REST behaviour (content types, server ids,
//! versions, ETags, `If-Match`, searchset Bundles, OperationOutcomes) over the caller's tenant.

pub mod bootstrap;
pub mod capability;
pub mod extract;
pub mod rest;
pub mod search;
pub mod validate;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HttpDate};
use actix_web::{HttpMessage as _, HttpRequest, HttpResponse, web};
use chrono::DateTime;
use serde_json::Value;

use super::caller::Caller;
use super::model::{ResourceKind, Tenant};
use crate::errors::fhir::{FHIR_JSON, FhirError};
use crate::errors::mark_formatted;
use crate::sfm::State;
pub use extract::{FhirBody, FromFhirBody, Kind, SfmCaller};
use rest::Stored;

/// Largest accepted FHIR request body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Registers the FHIR routes (inside the `/sfm/fhir` scope).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
        .service(
            web::resource("/metadata")
                .route(web::get().to(capability::metadata))
                .route(web::head().to(capability::metadata))
                .default_service(not_supported("GET, HEAD")),
        )
        .configure(crate::sfm::datadeling::configure)
        .service(
            web::resource("/Patient/$getMedication")
                .route(web::post().to(crate::sfm::medication::get::get_medication))
                .default_service(not_supported("POST")),
        )
        .service(
            web::resource("/Patient/$sendMedication")
                .route(web::post().to(crate::sfm::medication::send::send_medication))
                .default_service(not_supported("POST")),
        )
        .service(
            web::resource("/{type}")
                .route(web::get().to(search_type))
                .route(web::head().to(search_type))
                .route(web::post().to(create))
                .default_service(not_supported("GET, HEAD, POST")),
        )
        .service(
            web::resource("/{type}/{id}")
                .route(web::get().to(read))
                .route(web::head().to(read))
                .route(web::put().to(update))
                .default_service(not_supported("GET, HEAD, PUT")),
        )
        .service(
            web::resource("/{type}/{id}/_history/{vid}")
                .route(web::get().to(vread))
                .route(web::head().to(vread))
                .default_service(not_supported("GET, HEAD")),
        );
}

fn not_supported(allow: &'static str) -> actix_web::Route {
    web::to(move |req: HttpRequest| async move {
        let mut response = FhirError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "not-supported",
            format!(
                "{} is not supported on {} (allowed: {allow})",
                req.method(),
                req.path()
            ),
        )
        .render();
        response
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static(allow));
        response
    })
}

/// The FHIR base URL under the public URL.
pub fn fhir_base(state: &State) -> String {
    format!("{}/sfm/fhir", state.base_url)
}

fn kind_of(name: &str) -> Result<ResourceKind, FhirError> {
    use crate::sfm::datadeling::DataType;
    ResourceKind::parse(name).ok_or_else(|| {
        if let Some(data) = DataType::ALL.into_iter().find(|d| d.as_str() == name) {
            let message = if data.readable() {
                format!(
                    "SFM Datadeling's {name} has no version history here: read it with GET \
                     {name}/[id], search it with GET {name}?..."
                )
            } else {
                format!(
                    "SFM Datadeling's {name} is not read by id: search it with GET \
                     {name}?{}=[patient ticket]",
                    crate::sfm::datadeling::PATIENT_TICKET
                )
            };
            let mut error =
                FhirError::new(StatusCode::METHOD_NOT_ALLOWED, "not-supported", message);
            error.allow = Some("GET, HEAD");
            return error;
        }
        let supported: Vec<&str> = ResourceKind::ALL
            .map(ResourceKind::as_str)
            .into_iter()
            .chain(DataType::ALL.map(DataType::as_str))
            .collect();
        FhirError::new(
            StatusCode::NOT_FOUND,
            "not-supported",
            format!(
                "Resource type '{name}' is not supported here (supported: {})",
                supported.join(", ")
            ),
        )
    })
}

/// Only JSON: `_format` and `Accept` must allow it.
pub(crate) fn check_format(req: &HttpRequest) -> Result<(), FhirError> {
    let acceptable = |media: &str| {
        let media = media
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        matches!(
            media.as_str(),
            "json" | "application/json" | "application/fhir+json" | "*/*" | "application/*" | ""
        )
    };
    let format = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "_format")
        .map(|(_, v)| v.into_owned());
    let accept_ok = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|accept| accept.split(',').any(acceptable));
    if format.as_deref().is_some_and(|f| !acceptable(f)) || !accept_ok {
        return Err(FhirError::new(
            StatusCode::NOT_ACCEPTABLE,
            "not-supported",
            "This server speaks FHIR JSON only (application/fhir+json or _format=json)",
        ));
    }
    Ok(())
}

/// The body of a create or update: `application/fhir+json` (or `application/json`) JSON.
pub(crate) fn body_resource(req: &HttpRequest, body: &[u8]) -> Result<Value, FhirError> {
    let content_type = req.content_type().to_ascii_lowercase();
    if content_type != "application/fhir+json" && content_type != "application/json" {
        return Err(FhirError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not-supported",
            format!(
                "Content-Type must be application/fhir+json, got '{}'",
                req.content_type()
            ),
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        FhirError::new(
            StatusCode::BAD_REQUEST,
            "structure",
            format!("The body is not valid JSON: {e}"),
        )
    })
}

/// The caller's tenant, if the caller is one of its users.
pub(crate) fn tenant_for<'a>(
    tenants: &'a std::collections::HashMap<String, Tenant>,
    caller: &Caller,
) -> Result<&'a Tenant, FhirError> {
    let tenant = tenants
        .get(&caller.tenant_id)
        .ok_or_else(|| unknown_tenant(caller))?;
    if !tenant.has_user(&caller.pid) {
        return Err(FhirError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "The user {} is not registered in this SFM instance: a superuser registers users \
                 as Person or Practitioner",
                caller.pid
            ),
        ));
    }
    Ok(tenant)
}

/// The caller's tenant, writable, if the caller is one of its users (see [`tenant_for`]).
pub(crate) fn tenant_mut_for<'a>(
    tenants: &'a mut std::collections::HashMap<String, Tenant>,
    caller: &Caller,
) -> Result<&'a mut Tenant, FhirError> {
    tenant_for(tenants, caller)?;
    tenants
        .get_mut(&caller.tenant_id)
        .ok_or_else(|| unknown_tenant(caller))
}

pub(crate) fn unknown_tenant(caller: &Caller) -> FhirError {
    FhirError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        format!(
            "The SFM instance {} does not exist yet: the only operation allowed is creating it \
             with POST Organization",
            caller.tenant_id
        ),
    )
}

/// A resource response: FHIR JSON, `ETag`, `Last-Modified`, and `Location` for writes.
fn resource_response(
    state: &State,
    req: &HttpRequest,
    status: StatusCode,
    kind: ResourceKind,
    stored: &Stored,
    location: bool,
) -> HttpResponse {
    resource_reply(
        state,
        req,
        status,
        kind.as_str(),
        &stored.id,
        Some(&stored.version.to_string()),
        &stored.resource,
        location,
    )
}

/// A resource response of any type: FHIR JSON; `ETag` `W/"<version>"` when the resource has a
/// version; `Last-Modified` from `meta.lastUpdated` when it has one; `Location`
/// (`[type]/[id]/_history/[version]`) for writes; no body with `Prefer: return=minimal`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn resource_reply(
    state: &State,
    req: &HttpRequest,
    status: StatusCode,
    type_name: &str,
    id: &str,
    version: Option<&str>,
    resource: &Value,
    location: bool,
) -> HttpResponse {
    let last_updated = resource
        .pointer("/meta/lastUpdated")
        .and_then(Value::as_str);
    let reply = Reply {
        status,
        type_name,
        id,
        version,
        last_updated,
        location,
    };
    reply.send(state, req, || {
        serde_json::to_string(resource).unwrap_or_default()
    })
}

/// A read's answer: the stored text as it is (it was written compact from a JSON value, so it
/// is what serialising it again would give), without parsing it into a tree and back.
fn stored_text_reply(
    state: &State,
    req: &HttpRequest,
    kind: ResourceKind,
    stored: rest::StoredText,
) -> HttpResponse {
    let version = stored.version.to_string();
    let meta: MetaOnly = serde_json::from_str(&stored.text).unwrap_or_default();
    let last_updated = meta.meta.and_then(|m| m.last_updated);
    let reply = Reply {
        status: StatusCode::OK,
        type_name: kind.as_str(),
        id: &stored.id,
        version: Some(&version),
        last_updated: last_updated.as_deref(),
        location: false,
    };
    reply.send(state, req, move || stored.text)
}

/// A stored resource's `meta.lastUpdated`, read without the rest of the resource.
#[derive(Default, serde::Deserialize)]
struct MetaOnly {
    #[serde(default)]
    meta: Option<MetaTimes>,
}

#[derive(serde::Deserialize)]
struct MetaTimes {
    #[serde(rename = "lastUpdated", default)]
    last_updated: Option<String>,
}

/// The head of a resource response.
struct Reply<'a> {
    status: StatusCode,
    type_name: &'a str,
    id: &'a str,
    version: Option<&'a str>,
    last_updated: Option<&'a str>,
    location: bool,
}

impl Reply<'_> {
    /// The response, its body made by `body` unless the client asked for `return=minimal`.
    fn send(
        &self,
        state: &State,
        req: &HttpRequest,
        body: impl FnOnce() -> String,
    ) -> HttpResponse {
        let mut builder = HttpResponse::build(self.status);
        builder.content_type(FHIR_JSON);
        if let Some(version) = self.version {
            builder.insert_header((header::ETAG, format!("W/\"{version}\"")));
        }
        if let Some(last_modified) = self
            .last_updated
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        {
            let date = HttpDate::from(std::time::SystemTime::from(last_modified.to_utc()));
            builder.insert_header((header::LAST_MODIFIED, date.to_string()));
        }
        if self.location
            && let Some(version) = self.version
        {
            builder.insert_header((
                header::LOCATION,
                format!(
                    "{}/{}/{}/_history/{version}",
                    fhir_base(state),
                    self.type_name,
                    self.id
                ),
            ));
        }
        let minimal = req
            .headers()
            .get("Prefer")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.replace(' ', "").contains("return=minimal"));
        if minimal {
            builder.finish()
        } else {
            builder.body(body())
        }
    }
}

async fn search_type(
    req: HttpRequest,
    Kind(kind): Kind,
    SfmCaller { caller, now }: SfmCaller,
    state: web::Data<State>,
) -> Result<HttpResponse, FhirError> {
    let search = search::parse(kind, req.query_string())?;
    let sfm = state.store();
    let tenant = tenant_for(&sfm.tenants, &caller)?;
    let bundle = rest::search(tenant, kind, &search, &fhir_base(&state), now);
    Ok(mark_formatted(
        HttpResponse::Ok()
            .content_type(FHIR_JSON)
            .body(serde_json::to_string(&bundle).unwrap_or_default()),
    ))
}

async fn create(
    req: HttpRequest,
    request: FhirBody<(Kind, SfmCaller)>,
    state: web::Data<State>,
) -> Result<HttpResponse, FhirError> {
    let FhirBody {
        head: (Kind(kind), SfmCaller { caller, now }),
        body: resource,
    } = request;
    let mut sfm = state.store_mut();
    let stored =
        if kind == ResourceKind::Organization && !sfm.tenants.contains_key(&caller.tenant_id) {
            bootstrap::create_tenant(&mut sfm, &caller, resource, now)?
        } else {
            let tenant = tenant_mut_for(&mut sfm.tenants, &caller)?;
            rest::create(tenant, kind, resource, &caller.pid, now)?
        };
    drop(sfm);
    Ok(resource_response(
        &state,
        &req,
        StatusCode::CREATED,
        kind,
        &stored,
        true,
    ))
}

async fn read(
    req: HttpRequest,
    Kind(kind): Kind,
    path: web::Path<(String, String)>,
    SfmCaller { caller, .. }: SfmCaller,
    state: web::Data<State>,
) -> Result<HttpResponse, FhirError> {
    let (_, id) = path.into_inner();
    let sfm = state.store();
    let stored = rest::read(tenant_for(&sfm.tenants, &caller)?, kind, &id)?;
    drop(sfm);
    Ok(stored_text_reply(&state, &req, kind, stored))
}

async fn vread(
    req: HttpRequest,
    Kind(kind): Kind,
    path: web::Path<(String, String, String)>,
    SfmCaller { caller, .. }: SfmCaller,
    state: web::Data<State>,
) -> Result<HttpResponse, FhirError> {
    let (_, id, vid) = path.into_inner();
    let sfm = state.store();
    let stored = rest::vread(tenant_for(&sfm.tenants, &caller)?, kind, &id, &vid)?;
    drop(sfm);
    Ok(stored_text_reply(&state, &req, kind, stored))
}

async fn update(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    request: FhirBody<(Kind, SfmCaller)>,
    state: web::Data<State>,
) -> Result<HttpResponse, FhirError> {
    let (_, id) = path.into_inner();
    let FhirBody {
        head: (Kind(kind), SfmCaller { caller, now }),
        body: resource,
    } = request;
    let if_match = req
        .headers()
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut sfm = state.store_mut();
    let tenant = tenant_mut_for(&mut sfm.tenants, &caller)?;
    let stored = rest::update(tenant, kind, &id, resource, if_match.as_deref(), now)?;
    drop(sfm);
    Ok(resource_response(
        &state,
        &req,
        StatusCode::OK,
        kind,
        &stored,
        true,
    ))
}
