//! SFM's GUI, as an EHR embeds it (NHN: "Integrating with the SFM client" and its sequence
//! diagrams; NHN's SFM.tools micro-EPJ and WebEPJSampleApp): the session service's
//! `Session/create | refresh | end`, the four portals the EHR opens in an iframe
//! (`/sfm/client/…`), and the portals' own server API (`/sfm/server/api/…`: helsesim's, as the
//! real one is not public). The patient portal prescribes through the same code as
//! `$getMedication` and `$sendMedication`.

pub mod actions;
pub mod edit;
pub mod error;
pub mod login;
pub mod model;
pub mod patient;
pub mod portal;
pub mod session;
pub mod view;

use actix_web::web;

use crate::errors::method_not_allowed;

/// The portals under `/sfm/client`.
pub fn configure_client(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/assets/portal.js")
            .route(web::get().to(portal::script))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource("/assets/portal.css")
            .route(web::get().to(portal::style))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource("/{portal}")
            .route(web::get().to(portal::page))
            .default_service(method_not_allowed("GET")),
    );
}

/// The portals' server API under `/sfm/server/api`.
pub fn configure_server(cfg: &mut web::ServiceConfig) {
    let post = |resource: actix_web::Resource| resource.default_service(method_not_allowed("POST"));
    cfg.service(post(
        web::resource("/login").route(web::post().to(login::login)),
    ))
    .service(post(
        web::resource("/patient").route(web::post().to(patient::set_patient)),
    ))
    .service(post(
        web::resource("/prescriptions").route(web::post().to(actions::add)),
    ))
    .service(post(
        web::resource("/prescriptions/{resept_id}/renew").route(web::post().to(actions::renew)),
    ))
    .service(post(
        web::resource("/prescriptions/{resept_id}/stop").route(web::post().to(actions::stop)),
    ))
    .service(post(
        web::resource("/pll").route(web::post().to(actions::pll)),
    ));
}
