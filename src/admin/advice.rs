//! `/_admin/advice`: the integration advisor. `GET ?client=&organisation=&severity=` lists the
//! findings (warnings first, then the most recently seen; `severity=warning` only warnings,
//! `info` both); `DELETE` forgets them.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::advice::{Finding, Severity};
use crate::errors::admin::AdminError;
use crate::state::AppState;

/// The filters of `GET /_admin/advice`.
#[derive(Debug, Default)]
struct Filter {
    client: Option<String>,
    organisation: Option<String>,
    severity: Option<Severity>,
}

impl Filter {
    fn parse(query: &str) -> Result<Self, AdminError> {
        let mut filter = Self::default();
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match name.as_ref() {
                "client" => filter.client = Some(value.into_owned()),
                "organisation" => filter.organisation = Some(value.into_owned()),
                "severity" => {
                    filter.severity = Some(Severity::parse(&value).ok_or_else(|| {
                        AdminError::invalid_request(format!(
                            "severity must be warning or info, got '{value}'"
                        ))
                    })?);
                }
                other => {
                    return Err(AdminError::invalid_request(format!(
                        "Unknown parameter '{other}': this endpoint takes client, organisation \
                         and severity"
                    )));
                }
            }
        }
        Ok(filter)
    }

    fn keeps(&self, finding: &Finding) -> bool {
        self.client
            .as_ref()
            .is_none_or(|c| finding.client_id.as_ref() == Some(c))
            && self
                .organisation
                .as_ref()
                .is_none_or(|o| finding.organisation.as_ref() == Some(o))
            && self.severity.is_none_or(|s| finding.severity >= s)
    }
}

/// `GET /_admin/advice`.
#[utoipa::path(get, path = "/_admin/advice", operation_id = "listAdvice",
    summary = "The integration advisor's findings: what the EHR did that the services' \
        documentation forbids or discourages, per rule and client, with the rule's source, the \
        newest requests that show it, and the fix",
    params(
        ("client" = Option<String>, Query, description = "only this HelseID client's"),
        ("organisation" = Option<String>, Query, description = "only this organisation's \
            (organisation number)"),
        ("severity" = Option<String>, Query, description = "warning: only warnings; info: \
            warnings and infos (the default)", example = "warning")),
    responses(
        (status = 200, description = "{findings: [...]}", body = AdviceList),
        (status = 400, description = "invalid_request")))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let filter = Filter::parse(req.query_string())?;
    let findings: Vec<Finding> = state
        .advice
        .findings(&state.journal, state.clock.now())
        .into_iter()
        .filter(|f| filter.keeps(f))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "findings": findings })))
}

/// The answer of `GET /_admin/advice`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AdviceList {
    /// The findings: warnings first, then the most recently seen.
    pub findings: Vec<Finding>,
}

/// `DELETE /_admin/advice`.
#[utoipa::path(delete, path = "/_admin/advice", operation_id = "clearAdvice",
    summary = "Forget every finding (the requests journaled so far are not digested again)",
    responses((status = 204, description = "forgotten")))]
pub async fn clear(state: web::Data<AppState>) -> HttpResponse {
    state.advice.clear(&state.journal);
    HttpResponse::NoContent().finish()
}
