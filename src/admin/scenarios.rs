//! `/_admin/scenarios`: the national side moving and failing on demand (see
//! [`crate::scenarios`]). `POST` applies a step (`{"kind": ...}`) or several
//! (`{"steps": [...]}`), `POST /_admin/scenarios/{name}` a preset, `GET` lists the presets, the
//! active failures and what was applied, `DELETE` ends every active failure.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::require_json;
use crate::errors::admin::AdminError;
use crate::scenarios::{Applied, Preset, ScenarioError, Step};
use crate::state::AppState;

/// The body of `POST /_admin/scenarios` with several steps.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Steps {
    /// Applied in order, all or none.
    pub steps: Vec<Step>,
}

/// `GET /_admin/scenarios`.
#[utoipa::path(get, path = "/_admin/scenarios", operation_id = "listScenarios",
    summary = "The presets, the failures active now and the steps applied, newest first",
    responses((status = 200, description = "{presets: [...], active: {...}, applied: [...]}",
        body = Value)))]
pub async fn list(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.scenarios.overview(&state.scenario_targets()))
}

/// `POST /_admin/scenarios`.
#[utoipa::path(post, path = "/_admin/scenarios", operation_id = "applyScenario",
    summary = "Apply one step, or several ({\"steps\": [...]}), checked before any is applied",
    request_body(content = Step, description = "a step, or {\"steps\": [step, ...]}"),
    responses(
        (status = 201, description = "{applied: [{time, step, result}]}"),
        (status = 400, description = "invalid_request: the body or a step is wrong"),
        (status = 404, description = "not_found: a step names something helsesim does not hold")
    ))]
pub async fn apply(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    require_json(&req)?;
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| AdminError::invalid_request(format!("The body is not JSON: {e}")))?;
    let steps = if value.get("steps").is_some() {
        parse::<Steps>(value)?.steps
    } else {
        vec![parse::<Step>(value)?]
    };
    if steps.is_empty() {
        return Err(AdminError::invalid_request(
            "steps is empty: give at least one step",
        ));
    }
    let applied = state
        .scenarios
        .run(&steps, None, &state.scenario_targets())
        .map_err(refusal)?;
    Ok(created(None, applied))
}

/// `POST /_admin/scenarios/{name}`.
#[utoipa::path(post, path = "/_admin/scenarios/{name}", operation_id = "runPreset",
    summary = "Run a preset from fixtures/scenarios/{name}.json",
    params(("name" = String, Path, description = "the preset's file name without .json")),
    responses(
        (status = 201, description = "{preset, applied: [{time, step, result}]}"),
        (status = 404, description = "not_found: no such preset, or a step names something \
                                      helsesim does not hold")
    ))]
pub async fn run_preset(
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let name = path.into_inner();
    let Some(Preset { file, .. }) = state.scenarios.preset(&name) else {
        let known: Vec<String> = state
            .scenarios
            .presets()
            .into_iter()
            .map(|p| p.name)
            .collect();
        return Err(AdminError::not_found(format!(
            "No preset '{name}' (fixtures/scenarios/{name}.json); the presets are: {}",
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        )));
    };
    let applied = state
        .scenarios
        .run(&file.steps, Some(&name), &state.scenario_targets())
        .map_err(refusal)?;
    Ok(created(Some(&name), applied))
}

/// `DELETE /_admin/scenarios`.
#[utoipa::path(delete, path = "/_admin/scenarios", operation_id = "clearScenarios",
    summary = "End every failure the scenarios started (the events stay until a reset)",
    responses((status = 204, description = "ended")))]
pub async fn clear(state: web::Data<AppState>) -> HttpResponse {
    state.scenarios.clear_failures(&state.scenario_targets());
    HttpResponse::NoContent().finish()
}

fn parse<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, AdminError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let at = e.path().to_string();
        let at = if at == "." {
            String::new()
        } else {
            format!(" at `{at}`")
        };
        AdminError::invalid_request(format!(
            "The body is not a scenario step{at}: {}",
            e.inner()
        ))
    })
}

fn refusal(error: ScenarioError) -> AdminError {
    if error.not_found {
        AdminError::not_found(error.message)
    } else {
        AdminError::new(StatusCode::BAD_REQUEST, "invalid_request", error.message)
    }
}

fn created(preset: Option<&str>, applied: Vec<Applied>) -> HttpResponse {
    let mut body = json!({ "applied": applied });
    if let (Some(name), Some(object)) = (preset, body.as_object_mut()) {
        object.insert("preset".to_owned(), json!(name));
    }
    HttpResponse::Created().json(body)
}
