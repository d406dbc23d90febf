//! The control plane at `/_admin`: drive the simulator from tests and demos without a restart.

mod advice;
mod clients;
pub mod clock;
pub mod dashboard;
mod faults;
mod fixtures;
mod national;
pub mod openapi;
mod requests;
mod reset;
mod scenarios;
mod state;
mod tokens;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::errors::admin::AdminError;
use crate::errors::{ErrorFormat, endpoint, error_handlers};

/// Largest accepted control-plane body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Registers the control plane under `/_admin`, and its dashboard at `/`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(dashboard::configure).service(
        web::scope("/_admin")
            .wrap(error_handlers(ErrorFormat::Admin))
            .wrap(actix_web::middleware::from_fn(guard))
            .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
            .configure(simulation_routes)
            .configure(observation_routes)
            .configure(seed_routes)
            .default_service(web::to(not_found)),
    );
}

/// The simulation as a whole: reset, the state document, the clock, test tokens.
fn simulation_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(endpoint("/reset", [("POST", web::post().to(reset::reset))]))
        .service(
            endpoint(
                "/state",
                [
                    ("GET", web::get().to(state::export)),
                    ("PUT", web::put().to(state::import)),
                ],
            )
            .app_data(web::PayloadConfig::new(state::MAX_STATE_BYTES)),
        )
        .service(endpoint(
            "/clock",
            [
                ("GET", web::get().to(clock::get)),
                ("POST", web::post().to(clock::post)),
            ],
        ))
        .service(endpoint(
            "/tokens",
            [("POST", web::post().to(tokens::mint))],
        ));
}

/// What helsesim saw and does to requests: the journal, fault rules, the overview and this API.
fn observation_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(endpoint(
        "/requests",
        [
            ("GET", web::get().to(requests::list)),
            ("DELETE", web::delete().to(requests::clear)),
        ],
    ))
    .service(endpoint(
        "/faults",
        [
            ("GET", web::get().to(faults::list)),
            ("POST", web::post().to(faults::add)),
            ("DELETE", web::delete().to(faults::clear)),
        ],
    ))
    .service(endpoint(
        "/faults/{id}",
        [("DELETE", web::delete().to(faults::remove))],
    ))
    .service(endpoint(
        "/scenarios",
        [
            ("GET", web::get().to(scenarios::list)),
            ("POST", web::post().to(scenarios::apply)),
            ("DELETE", web::delete().to(scenarios::clear)),
        ],
    ))
    .service(endpoint(
        "/scenarios/{name}",
        [("POST", web::post().to(scenarios::run_preset))],
    ))
    .service(endpoint(
        "/advice",
        [
            ("GET", web::get().to(advice::list)),
            ("DELETE", web::delete().to(advice::clear)),
        ],
    ))
    .service(endpoint(
        "/overview",
        [("GET", web::get().to(dashboard::overview::get))],
    ))
    .service(endpoint(
        "/openapi.json",
        [("GET", web::get().to(openapi::get))],
    ))
    .service(endpoint(
        "/openapi",
        [("GET", web::get().to(openapi::services::index))],
    ))
    .service(endpoint(
        "/openapi/{file}",
        [("GET", web::get().to(openapi::services::get))],
    ))
    .service(endpoint(
        "/sfm/messages",
        [("GET", web::get().to(national::messages))],
    ));
}

/// The seed data, changed at run time: HelseID's clients and users, SFM's instances, the
/// national systems' patients.
fn seed_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(endpoint(
        "/helseid/clients",
        [
            ("GET", web::get().to(clients::list)),
            ("POST", web::post().to(clients::upsert)),
        ],
    ))
    .service(endpoint(
        "/helseid/clients/{client_id}",
        [
            ("GET", web::get().to(clients::get)),
            ("DELETE", web::delete().to(clients::delete)),
        ],
    ))
    .service(endpoint(
        "/helseid/users",
        [
            ("GET", web::get().to(fixtures::list_users)),
            ("POST", web::post().to(fixtures::upsert_user)),
        ],
    ))
    .service(endpoint(
        "/helseid/users/{pid}",
        [("DELETE", web::delete().to(fixtures::delete_user))],
    ))
    .service(endpoint(
        "/sfm/tenants",
        [("POST", web::post().to(fixtures::upsert_tenant))],
    ))
    .service(endpoint(
        "/sfm/national",
        [("POST", web::post().to(fixtures::upsert_patient))],
    ));
}

/// Middleware: the control plane answers only when switched on, and only to the bearer of
/// `HELSESIM_ADMIN_TOKEN` when one is set.
async fn guard(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<crate::state::AppState>>().cloned() else {
        return next.call(req).await.map(|r| r.map_into_boxed_body());
    };
    if !state.admin {
        return Ok(req.into_response(switched_off().render()));
    }
    if let Some(expected) = &state.admin_token {
        let given = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        let matches = aws_lc_rs::constant_time::verify_slices_are_equal(
            given.as_bytes(),
            expected.as_bytes(),
        )
        .is_ok();
        if !matches {
            let mut response = AdminError::new(
                actix_web::http::StatusCode::UNAUTHORIZED,
                "unauthorized",
                "The control plane needs 'Authorization: Bearer <HELSESIM_ADMIN_TOKEN>'",
            )
            .render();
            response.headers_mut().insert(
                actix_web::http::header::WWW_AUTHENTICATE,
                actix_web::http::header::HeaderValue::from_static(
                    "Bearer realm=\"helsesim-admin\"",
                ),
            );
            return Ok(req.into_response(response));
        }
    }
    next.call(req).await.map(|r| r.map_into_boxed_body())
}

/// The answer of the control plane (and its dashboard) when `HELSESIM_ADMIN=off`.
fn switched_off() -> AdminError {
    AdminError::not_found("The control plane is switched off (HELSESIM_ADMIN=off)")
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    AdminError::not_found(format!(
        "The control plane has no endpoint at {}",
        req.path()
    ))
    .render()
}

/// Refuses a body that is not JSON.
pub(crate) fn require_json(req: &HttpRequest) -> Result<(), AdminError> {
    use actix_web::HttpMessage as _;
    if req.content_type().eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(AdminError::new(
            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "Content-Type must be application/json, got '{}'",
                req.content_type()
            ),
        ))
    }
}
