//! The control plane at `/_admin`: drive the simulator from tests and demos without a restart.

mod clients;
pub mod clock;
pub mod dashboard;
mod faults;
mod fixtures;
mod national;
mod openapi;
mod requests;
mod reset;
mod state;
mod tokens;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::errors::admin::AdminError;
use crate::errors::{ErrorFormat, error_handlers, method_not_allowed};

/// Largest accepted control-plane body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Registers the control plane under `/_admin`, and its dashboard at `/`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(dashboard::configure).service(
        web::scope("/_admin")
            .wrap(error_handlers(ErrorFormat::Admin))
            .wrap(actix_web::middleware::from_fn(guard))
            .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
            .service(
                web::resource("/helseid/clients")
                    .route(web::get().to(clients::list))
                    .route(web::post().to(clients::upsert))
                    .default_service(method_not_allowed("GET, POST")),
            )
            .service(
                web::resource("/helseid/clients/{client_id}")
                    .route(web::get().to(clients::get))
                    .route(web::delete().to(clients::delete))
                    .default_service(method_not_allowed("GET, DELETE")),
            )
            .service(
                web::resource("/openapi.json")
                    .route(web::get().to(openapi::get))
                    .default_service(method_not_allowed("GET")),
            )
            .service(
                web::resource("/overview")
                    .route(web::get().to(dashboard::overview::get))
                    .default_service(method_not_allowed("GET")),
            )
            .service(
                web::resource("/reset")
                    .route(web::post().to(reset::reset))
                    .default_service(method_not_allowed("POST")),
            )
            .service(
                web::resource("/state")
                    .app_data(web::PayloadConfig::new(state::MAX_STATE_BYTES))
                    .route(web::get().to(state::export))
                    .route(web::put().to(state::import))
                    .default_service(method_not_allowed("GET, PUT")),
            )
            .service(
                web::resource("/faults")
                    .route(web::get().to(faults::list))
                    .route(web::post().to(faults::add))
                    .route(web::delete().to(faults::clear))
                    .default_service(method_not_allowed("GET, POST, DELETE")),
            )
            .service(
                web::resource("/faults/{id}")
                    .route(web::delete().to(faults::remove))
                    .default_service(method_not_allowed("DELETE")),
            )
            .service(
                web::resource("/requests")
                    .route(web::get().to(requests::list))
                    .route(web::delete().to(requests::clear))
                    .default_service(method_not_allowed("GET, DELETE")),
            )
            .service(
                web::resource("/tokens")
                    .route(web::post().to(tokens::mint))
                    .default_service(method_not_allowed("POST")),
            )
            .service(
                web::resource("/clock")
                    .route(web::get().to(clock::get))
                    .route(web::post().to(clock::post))
                    .default_service(method_not_allowed("GET, POST")),
            )
            .service(
                web::resource("/helseid/users")
                    .route(web::get().to(fixtures::list_users))
                    .route(web::post().to(fixtures::upsert_user))
                    .default_service(method_not_allowed("GET, POST")),
            )
            .service(
                web::resource("/helseid/users/{pid}")
                    .route(web::delete().to(fixtures::delete_user))
                    .default_service(method_not_allowed("DELETE")),
            )
            .service(
                web::resource("/sfm/tenants")
                    .route(web::post().to(fixtures::upsert_tenant))
                    .default_service(method_not_allowed("POST")),
            )
            .service(
                web::resource("/sfm/national")
                    .route(web::post().to(fixtures::upsert_patient))
                    .default_service(method_not_allowed("POST")),
            )
            .service(
                web::resource("/sfm/messages")
                    .route(web::get().to(national::messages))
                    .default_service(method_not_allowed("GET")),
            )
            .default_service(web::to(not_found)),
    );
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
