//! The control plane at `/_admin`: drive the simulator from tests and demos without a restart.

mod clients;
pub mod clock;
mod faults;
mod national;
mod requests;
mod reset;
mod tokens;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::errors::admin::AdminError;
use crate::errors::{ErrorFormat, error_handlers, method_not_allowed};

/// Largest accepted control-plane body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Registers the control plane under `/_admin`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/_admin")
            .wrap(error_handlers(ErrorFormat::Admin))
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
                web::resource("/reset")
                    .route(web::post().to(reset::reset))
                    .default_service(method_not_allowed("POST")),
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
                web::resource("/sfm/messages")
                    .route(web::get().to(national::messages))
                    .default_service(method_not_allowed("GET")),
            )
            .default_service(web::to(not_found)),
    );
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
