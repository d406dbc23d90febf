//! The demo EHR at `/epj/`: a small web EHR (`examples/epj-web/`, plain HTML and JS) and, since
//! a web EHR keeps its tokens server-side, its backend, played by helsesim — the clinician's
//! whole flow against helsesim's own services, over HTTP, as the HelseID client `epj-web-demo`
//! of the fixtures. A real EHR does the backend's part in its own backend.

pub mod api;
pub mod keepalive;
pub mod login;
pub mod national;
pub mod session;

use std::sync::{Arc, Mutex, PoisonError};

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};

use crate::clock::Clock;
use crate::errors::{ErrorFormat, error_handlers, method_not_allowed};
use crate::helseid::model::Client;
use national::National;
use session::Sessions;

/// The HelseID client the demo EHR logs in as (`fixtures/helseid/clients.json`).
pub const CLIENT_NAME: &str = "epj-web-demo";

/// The scopes of the clinician's login: SFM, Kjernejournal (API, Innlogging, the trust
/// framework) and the identity.
pub const LOGIN_SCOPES: &str = "openid profile offline_access helseid://scopes/identity/pid \
                                helseid://scopes/identity/security_level \
                                helseid://scopes/hpr/hpr_number e-helse:sfm.api/sfm.api \
                                nhn:kjernejournal/api nhn:kjernejournal/innlogging \
                                nhn:kjernejournal/tillitsrammeverk";

const INDEX: &str = include_str!("../../examples/epj-web/index.html");
const SCRIPT: &str = include_str!("../../examples/epj-web/app.js");
const STYLE: &str = include_str!("../../examples/epj-web/style.css");

/// The demo EHR's backend state.
#[derive(Debug)]
pub struct Demo {
    national: Option<National>,
    /// Why the demo cannot log in (no `epj-web-demo` client or no key for it).
    pub unavailable: Option<String>,
    /// The browsers' sessions.
    pub sessions: Sessions,
    system_token: Mutex<Option<(String, DateTime<Utc>)>>,
}

impl Demo {
    /// The demo for helsesim at `base` (public) and `loopback` (its HTTP listener), logging in
    /// as `client` with the key in `fixtures_dir/helseid/client-keys`.
    pub fn new(
        clock: Clock,
        base: &str,
        loopback: &str,
        client: Option<Arc<Client>>,
        fixtures_dir: &std::path::Path,
    ) -> Self {
        let national = client
            .ok_or_else(|| {
                format!(
                    "the fixtures have no HelseID client named {CLIENT_NAME}: the demo EHR needs it"
                )
            })
            .and_then(|client| {
                let path = crate::commands::token::client_key_path(fixtures_dir, client.id());
                let key = crate::commands::token::load_key(&path, &client)
                    .map_err(|e| format!("the demo EHR's key: {e}"))?;
                National::new(clock, base.to_owned(), loopback.to_owned(), client, key)
                    .map_err(|e| e.0)
            });
        let (national, unavailable) = match national {
            Ok(national) => (Some(national), None),
            Err(reason) => (None, Some(reason)),
        };
        Self {
            national,
            unavailable,
            sessions: Sessions::default(),
            system_token: Mutex::new(None),
        }
    }

    /// The connection to the national services, or why there is none.
    pub fn national(&self) -> Result<&National, &str> {
        self.national
            .as_ref()
            .ok_or_else(|| self.unavailable.as_deref().unwrap_or_default())
    }

    fn cached_system_token(&self) -> Option<(String, DateTime<Utc>)> {
        self.system_token
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn cache_system_token(&self, token: String, until: DateTime<Utc>) {
        *self
            .system_token
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some((token, until));
    }
}

/// A plain error page of the demo EHR.
pub fn error_page(status: StatusCode, message: &str) -> HttpResponse {
    let body = maud::html! {
        (maud::DOCTYPE)
        html lang="no" {
            head { meta charset="utf-8"; title { "Demo-EPJ – feil" } }
            body {
                h1 { "Demo-EPJ" }
                p { (message) }
                p { a href="/epj/" { "Tilbake til journalen" } }
            }
        }
    };
    crate::errors::mark_formatted(
        HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(body.into_string()),
    )
}

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

/// Registers the demo EHR under `/epj`.
pub fn configure(cfg: &mut web::ServiceConfig, demo: web::Data<Demo>) {
    let get = |path: &str, content_type: &'static str, body: &'static str| {
        web::resource(path.to_owned())
            .route(web::get().to(move || async move { asset(content_type, body) }))
            .default_service(method_not_allowed("GET"))
    };
    cfg.service(
        web::scope("/epj")
            .app_data(demo)
            .service(web::resource("").route(web::get().to(|| async {
                HttpResponse::Found()
                    .insert_header((header::LOCATION, "/epj/"))
                    .finish()
            })))
            .service(get("/", "text/html; charset=utf-8", INDEX))
            .service(get("/app.js", "text/javascript; charset=utf-8", SCRIPT))
            .service(get("/style.css", "text/css; charset=utf-8", STYLE))
            .service(web::resource("/login").route(web::get().to(login::login)))
            .service(web::resource("/callback").route(web::get().to(login::callback)))
            .service(web::resource("/logout").route(web::post().to(login::logout)))
            .service(
                web::scope("/api")
                    .wrap(error_handlers(ErrorFormat::Admin))
                    .service(web::resource("/session").route(web::get().to(api::session)))
                    .service(web::resource("/keepalive").route(web::post().to(api::keepalive)))
                    .service(
                        web::resource("/patients/{pid}/indicator")
                            .route(web::post().to(api::indicator)),
                    )
                    .service(
                        web::resource("/patients/{pid}/kjernejournal")
                            .route(web::post().to(api::kjernejournal)),
                    )
                    .service(web::resource("/patients/{pid}/sfm").route(web::post().to(api::sfm)))
                    .service(
                        web::resource("/patients/{pid}/medication")
                            .route(web::get().to(api::medication)),
                    ),
            ),
    );
}
