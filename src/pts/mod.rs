//! PTS, NHN's patient-safety access-restriction API, at `/pts`: add, update and remove a
//! restriction on a confidential object (`POST /access-restrictions/patient-safety`), associate
//! a sibling with its parent and inherit its delay (`…/associate-parent`), and search
//! (`…/_search`). Callers use a DPoP-bound HelseID token for `nhn:pts` naming their
//! organisation (`orgnr_parent`); each organisation sees only its own restrictions. Errors are
//! ASP.NET Core problem details, validation messages under `errors`.

pub mod input;
pub mod model;
pub mod rules;
pub mod state;

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::auth::claims::ORGNR_PARENT;
use crate::auth::{DpopPolicy, Requirements};
use crate::errors::problem::Problem;
use crate::errors::{ErrorFormat, error_handlers, method_not_allowed};
use crate::limits::BodyThen;
use model::Restriction;
use rules::{Errors, Parent};
pub use state::State;

/// PTS's audience.
pub const PTS_AUDIENCE: &str = "nhn:pts";
/// PTS's scope.
pub const PTS_SCOPE: &str = "nhn:pts/api";
/// Largest accepted body.
const MAX_BODY: usize = 16 * 1024;

/// Registers PTS's routes under `/pts`.
pub fn configure(cfg: &mut web::ServiceConfig, state: web::Data<State>) {
    cfg.service(
        web::scope("/pts")
            .app_data(state)
            .app_data(web::PayloadConfig::new(MAX_BODY))
            .service(
                web::resource("/access-restrictions/patient-safety")
                    .route(web::post().to(upsert))
                    .default_service(method_not_allowed("POST")),
            )
            .service(
                web::resource("/access-restrictions/patient-safety/associate-parent")
                    .route(web::post().to(associate_parent))
                    .default_service(method_not_allowed("POST")),
            )
            .service(
                web::resource("/access-restrictions/patient-safety/_search")
                    .route(web::post().to(search))
                    .default_service(method_not_allowed("POST")),
            )
            .wrap(error_handlers(ErrorFormat::Problem))
            .default_service(web::to(not_found)),
    );
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    Problem::from_status(
        StatusCode::NOT_FOUND,
        &format!("PTS has no endpoint at {}", req.path()),
    )
    .render()
}

/// The organisation calling: a DPoP-bound token for `nhn:pts` with `orgnr_parent`.
fn organisation(req: &HttpRequest, state: &State, now: DateTime<Utc>) -> Result<String, Problem> {
    let required = Requirements {
        audience: Some(PTS_AUDIENCE),
        any_scope: &[PTS_SCOPE],
        single_audience: true,
        dpop: DpopPolicy::Required,
    };
    let token = state
        .verifier
        .verify_api_request(req, &required, now)
        .map_err(|e| {
            let mut problem = Problem::new(StatusCode::UNAUTHORIZED, e.to_string());
            problem.www_authenticate = Some(
                e.www_authenticate(DpopPolicy::Required, crate::auth::http::request_scheme(req)),
            );
            problem
        })?;
    token
        .claim_str(ORGNR_PARENT)
        .map(str::to_owned)
        .ok_or_else(|| {
            Problem::new(
                StatusCode::FORBIDDEN,
                format!(
                    "The token names no organisation ({ORGNR_PARENT}): PTS records which \
                     organisation sets each restriction"
                ),
            )
        })
}

/// Extractor: the organisation calling, authenticated by `organisation`; a refusal is a
/// problem (with `WWW-Authenticate` when the token is refused). The handlers take it as
/// `BodyThen<PtsOrganisation>`: the token is checked once the body is in, as PTS reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PtsOrganisation(pub String);

impl FromRequest for PtsOrganisation {
    type Error = Problem;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Problem>>>>;

    /// Authenticates when first polled: only once the arguments before it are extracted.
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match req.app_data::<web::Data<State>>() {
                Some(state) => organisation(&req, state, state.clock.now()).map(Self),
                None => Err(Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "PTS's state is not registered",
                )),
            }
        })
    }
}

/// The body as JSON, or the problem ASP.NET Core answers.
fn json_body(req: &HttpRequest, body: &[u8]) -> Result<Value, Problem> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !(content_type.starts_with("application/json") || content_type.contains("+json")) {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "The body must be JSON ('Content-Type: application/json'), got '{content_type}'"
            ),
        ));
    }
    input::parse(body).map_err(Problem::validation)
}

fn ok(value: &Value) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json; charset=utf-8")
        .body(value.to_string())
}

fn invalid(errors: Errors) -> Problem {
    Problem::validation(errors)
}

/// `POST /access-restrictions/patient-safety`: add, update, or (code `N`) remove.
async fn upsert(
    req: HttpRequest,
    BodyThen {
        body,
        then: organisation,
    }: BodyThen<PtsOrganisation>,
    state: web::Data<State>,
) -> Result<HttpResponse, Problem> {
    let now = state.clock.now();
    let request = input::Upsert::read(&json_body(&req, &body)?).map_err(invalid)?;
    let object = &request.object;
    let mut store = state.store_mut();
    let parent = match &object.parent {
        None => Parent::NotNamed,
        Some(parent) => Parent::Named {
            delay_days: store
                .find(&object.off_id, parent)
                .and_then(|p| p.delay_days),
        },
    };
    let decision =
        rules::decide_upsert(&request.code, &request.delay, parent, now).map_err(invalid)?;
    let restriction = Restriction {
        code: request.code.clone(),
        delay_delivery_until: request.delay.until,
        delay_days: request.delay.days,
        delay_from_time: request.delay.from,
        ..Restriction::new(&organisation.0, object, now)
    };
    Ok(ok(&store.apply_upsert(restriction, decision).view()))
}

/// `POST /access-restrictions/patient-safety/associate-parent`: the sibling inherits the parent's
/// restriction, its delay counted from its own `delayFromTime` (default: now).
async fn associate_parent(
    req: HttpRequest,
    BodyThen {
        body,
        then: organisation,
    }: BodyThen<PtsOrganisation>,
    state: web::Data<State>,
) -> Result<HttpResponse, Problem> {
    let now = state.clock.now();
    let request = input::Associate::read(&json_body(&req, &body)?).map_err(invalid)?;
    let object = &request.object;
    let from = request.from.unwrap_or(now);
    let mut store = state.store_mut();
    let parent = object
        .parent
        .as_ref()
        .and_then(|p| store.find(&object.off_id, p))
        .cloned();
    let mut sibling = Restriction {
        delay_from_time: request.from,
        ..Restriction::new(&organisation.0, object, now)
    };
    let Some(parent) = parent else {
        // The parent is not restricted: the sibling is not either.
        return Ok(ok(&sibling.view()));
    };
    sibling.code = parent.code.clone();
    sibling.delay_delivery_until = match parent.delay_days {
        Some(days) => Some(rules::sibling_delay(from, days, "DelayFromTime").map_err(invalid)?),
        None => parent.delay_delivery_until,
    };
    sibling.delay_from_time = Some(from);
    let stored = store.upsert(sibling);
    Ok(ok(&stored.view()))
}

/// `POST /access-restrictions/patient-safety/_search`: "all connected patient safety access
/// restrictions for a specified offid", whichever organisation set them; optionally for one
/// object or one parent's siblings, optionally only those still in force.
async fn search(
    req: HttpRequest,
    BodyThen { body, .. }: BodyThen<PtsOrganisation>,
    state: web::Data<State>,
) -> Result<HttpResponse, Problem> {
    let now = state.clock.now();
    let request = input::Search::read(&json_body(&req, &body)?).map_err(invalid)?;
    let store = state.store();
    let found: Vec<Value> = store
        .restrictions
        .iter()
        .filter(|r| r.off_id == request.off_id)
        .filter(|r| request.object.as_ref().is_none_or(|o| &r.object == o))
        .filter(|r| {
            request
                .parent
                .as_ref()
                .is_none_or(|p| r.parent.as_ref() == Some(p))
        })
        .filter(|r| {
            !request.applicable_only || r.delay_delivery_until.is_none_or(|until| until > now)
        })
        .map(Restriction::view)
        .collect();
    Ok(ok(&Value::Array(found)))
}
