//! The dashboard at `/`: a page for demos and for finding one's way — the services with their
//! base URLs and configuration snippets, clients with a `helsesim token` command each, test
//! users, patients, the live request journal with SFM's messages, the clock, reset and fault
//! rules. It is part of the control plane: switched off with it (`HELSESIM_ADMIN=off`), and
//! with `HELSESIM_ADMIN_TOKEN` the page (a static shell) asks for the token and sends it with
//! every API call.

pub mod overview;
pub mod page;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use crate::errors::method_not_allowed;
use crate::state::AppState;

/// Registers `GET /`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/")
            .route(web::get().to(dashboard))
            .default_service(method_not_allowed("GET")),
    );
}

/// `GET /`: the page, unless the control plane is switched off (then the control plane's 404).
pub async fn dashboard(state: web::Data<AppState>) -> HttpResponse {
    if !state.admin {
        return super::switched_off().render();
    }
    let mut response =
        crate::ui::html_response(StatusCode::OK, page::shell(state.admin_token.is_some()));
    if let Ok(policy) =
        actix_web::http::header::HeaderValue::from_str(&page::CONTENT_SECURITY_POLICY)
    {
        response
            .headers_mut()
            .insert(actix_web::http::header::CONTENT_SECURITY_POLICY, policy);
    }
    response.headers_mut().insert(
        actix_web::http::header::REFERRER_POLICY,
        actix_web::http::header::HeaderValue::from_static("no-referrer"),
    );
    response
}
