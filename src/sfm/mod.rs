//! SFM (Sentral forskrivningsmodul) at `/sfm`: the session service (`/sfm/api`: patient tickets,
//! GUI sessions), the GUI's portals (`/sfm/client`) and their server API (`/sfm/server`), and the
//! FHIR R4 API (`/sfm/fhir`). Every call is confined to the tenant the caller's token names.

pub mod caller;
pub mod datadeling;
pub mod fhir;
pub mod gui;
pub mod medication;
pub mod model;
pub mod resources;
pub mod session;
pub mod state;
pub mod tickets;

use actix_web::{HttpRequest, HttpResponse, web};
pub use state::State;

use crate::errors::fhir::FhirError;
use crate::errors::problem::Problem;
use crate::errors::{ErrorFormat, error_handlers, method_not_allowed};

/// Largest accepted session-service body.
const MAX_SESSION_BODY: usize = 16 * 1024;

/// Registers SFM's routes under `/sfm`.
pub fn configure(cfg: &mut web::ServiceConfig, state: web::Data<State>) {
    cfg.service(
        web::scope("/sfm")
            .app_data(state)
            .service(
                web::scope("/fhir")
                    .wrap(error_handlers(ErrorFormat::Fhir))
                    .configure(fhir::configure)
                    .default_service(web::to(fhir_not_found)),
            )
            .service(
                web::scope("/api")
                    .wrap(error_handlers(ErrorFormat::Problem))
                    .app_data(web::PayloadConfig::new(MAX_SESSION_BODY))
                    .service(
                        web::resource("/PatientTicket")
                            .route(web::post().to(session::patient_ticket))
                            .default_service(method_not_allowed("POST")),
                    )
                    .service(
                        web::resource("/Session/create")
                            .route(web::post().to(gui::session::create))
                            .default_service(method_not_allowed("POST")),
                    )
                    .service(
                        web::resource("/Session/refresh")
                            .route(web::post().to(gui::session::refresh))
                            .default_service(method_not_allowed("POST")),
                    )
                    .service(
                        web::resource("/Session/end")
                            .route(web::post().to(gui::session::end))
                            .default_service(method_not_allowed("POST")),
                    )
                    .default_service(web::to(api_not_found)),
            )
            .service(
                web::scope("/client")
                    .wrap(error_handlers(ErrorFormat::Problem))
                    .configure(gui::configure_client)
                    .default_service(web::to(gui_not_found)),
            )
            .service(
                web::scope("/server/api")
                    .wrap(error_handlers(ErrorFormat::Problem))
                    .app_data(web::PayloadConfig::new(MAX_SESSION_BODY))
                    .configure(gui::configure_server)
                    .default_service(web::to(gui_not_found)),
            )
            .wrap(error_handlers(ErrorFormat::Fhir))
            .default_service(web::to(fhir_not_found)),
    );
}

async fn fhir_not_found(req: HttpRequest) -> HttpResponse {
    FhirError::new(
        actix_web::http::StatusCode::NOT_FOUND,
        "not-found",
        format!("SFM has no endpoint at {}", req.path()),
    )
    .render()
}

async fn api_not_found(req: HttpRequest) -> HttpResponse {
    Problem::new(
        actix_web::http::StatusCode::NOT_FOUND,
        format!("SFM's session service has no endpoint at {}", req.path()),
    )
    .render()
}

async fn gui_not_found(req: HttpRequest) -> HttpResponse {
    Problem::new(
        actix_web::http::StatusCode::NOT_FOUND,
        format!("SFM's GUI has no endpoint at {}", req.path()),
    )
    .render()
}
