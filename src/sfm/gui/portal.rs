//! The four portals at `/sfm/client/{patient | health-personnel | enterprise | display}`, opened
//! by the EHR as an iframe with no query parameters, and their script and stylesheet (embedded,
//! no CDN). Everything else happens by `postMessage` and the server API.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::{DOCTYPE, html};

use super::model::Portal;
use crate::errors::problem::Problem;

const SCRIPT: &str = include_str!("assets/portal.js");
const STYLE: &str = include_str!("assets/portal.css");

/// The portal's title.
fn title(portal: Portal) -> &'static str {
    match portal {
        Portal::Patient => "Pasientportal",
        Portal::HealthPersonnel => "Helsepersonellportal",
        Portal::Enterprise => "Virksomhetsportal",
        Portal::Display => "Displayportal",
    }
}

/// `GET /sfm/client/{portal}`.
pub async fn page(path: web::Path<String>) -> Result<HttpResponse, Problem> {
    let portal = Portal::parse(&path).ok_or_else(|| {
        Problem::new(
            StatusCode::NOT_FOUND,
            format!(
                "SFM has no portal '{path}': the portals are patient, health-personnel, \
                 enterprise and display"
            ),
        )
    })?;
    let body = html! {
        (DOCTYPE)
        html lang="no" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "SFM – " (title(portal)) " – helsesim" }
                link rel="stylesheet" href="assets/portal.css";
            }
            body data-portal=(portal.segment()) {
                header.sfm {
                    span.logo { "SFM" }
                    span.portal { (title(portal)) }
                    span.who id="who" {}
                    span.sim { "helsesim" }
                }
                main {
                    section id="welcome" {
                        h1 { "Velkommen til SFM" }
                        p id="state" { "Venter på innlogging fra journalsystemet …" }
                    }
                    section id="error" hidden role="alert" {}
                    section id="notice" hidden role="status" {}
                    section id="content" {}
                }
                script src="assets/portal.js" {}
            }
        }
    };
    Ok(crate::errors::mark_formatted(
        HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header(("Cache-Control", "no-store"))
            .body(body.into_string()),
    ))
}

/// `GET /sfm/client/assets/portal.js`.
pub async fn script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// `GET /sfm/client/assets/portal.css`.
pub async fn style() -> HttpResponse {
    asset("text/css; charset=utf-8", STYLE)
}

fn asset(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", "no-cache"))
        .body(body)
}
