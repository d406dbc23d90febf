//! HelseID, the national OpenID Connect token service, at `/helseid`.
//!
//! Discovery, JWKS and the token endpoint (client_credentials with private_key_jwt and DPoP).

pub mod client_auth;
pub mod discovery;
pub mod flow;
pub mod form;
pub mod grants;
pub mod login;
pub mod logout;
pub mod model;
pub mod par;
pub mod request;
pub mod revocation;
pub mod state;
pub mod tenancy;
pub mod token;
pub mod tokens;
pub mod trust_framework;
pub mod userinfo;

use actix_web::web;

pub use state::{HelseIdStore, State};

use crate::errors::{ErrorFormat, error_handlers, method_not_allowed};

/// Largest accepted token-request body.
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// HelseID's public endpoint URLs (Duende IdentityServer paths).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// The issuer: `{public}/helseid`.
    pub issuer: String,
    /// `/.well-known/openid-configuration`.
    pub discovery: String,
    /// `/.well-known/openid-configuration/jwks`.
    pub jwks: String,
    /// `/connect/token`.
    pub token: String,
    /// `/connect/authorize`.
    pub authorize: String,
    /// `/connect/par`.
    pub par: String,
    /// `/connect/userinfo`.
    pub userinfo: String,
    /// `/connect/endsession`.
    pub end_session: String,
    /// `/connect/revocation`.
    pub revocation: String,
    /// `/connect/introspect`.
    pub introspect: String,
    /// helsesim's public base URL: a client's redirect URI that is a path (`/epj/callback`) is
    /// under it.
    pub base: String,
}

impl Endpoints {
    /// The endpoints under the public base URL `base` (no trailing slash).
    pub fn new(base: &str) -> Self {
        let issuer = format!("{base}/helseid");
        let at = |path: &str| format!("{issuer}{path}");
        Self {
            discovery: at("/.well-known/openid-configuration"),
            jwks: at("/.well-known/openid-configuration/jwks"),
            token: at("/connect/token"),
            authorize: at("/connect/authorize"),
            par: at("/connect/par"),
            userinfo: at("/connect/userinfo"),
            end_session: at("/connect/endsession"),
            revocation: at("/connect/revocation"),
            introspect: at("/connect/introspect"),
            issuer,
            base: base.to_owned(),
        }
    }
}

/// Registers HelseID's routes under `/helseid`.
pub fn configure(cfg: &mut web::ServiceConfig, state: web::Data<State>) {
    cfg.service(
        web::scope("/helseid")
            .app_data(state)
            .wrap(error_handlers(ErrorFormat::OAuth))
            .app_data(web::PayloadConfig::new(MAX_FORM_BYTES))
            .service(
                web::resource("/.well-known/openid-configuration")
                    .route(web::get().to(discovery::openid_configuration))
                    .default_service(method_not_allowed("GET")),
            )
            .service(
                web::resource("/.well-known/openid-configuration/jwks")
                    .route(web::get().to(discovery::jwks))
                    .default_service(method_not_allowed("GET")),
            )
            .service(
                web::resource("/connect/par")
                    .route(web::post().to(par::par_endpoint))
                    .default_service(web::to(par::wrong_method)),
            )
            .service(
                web::resource("/connect/authorize")
                    .route(web::get().to(login::authorize))
                    .route(web::post().to(login::authorize))
                    .default_service(method_not_allowed("GET, POST")),
            )
            .service(
                web::resource("/login")
                    .route(web::post().to(login::login))
                    .default_service(method_not_allowed("POST")),
            )
            .service(
                web::resource("/connect/userinfo")
                    .route(web::get().to(userinfo::userinfo))
                    .route(web::post().to(userinfo::userinfo))
                    .default_service(method_not_allowed("GET, POST")),
            )
            .service(
                web::resource("/connect/endsession")
                    .route(web::get().to(logout::end_session))
                    .route(web::post().to(logout::end_session))
                    .default_service(method_not_allowed("GET, POST")),
            )
            .service(
                web::resource("/connect/revocation")
                    .route(web::post().to(revocation::revoke))
                    .default_service(method_not_allowed("POST")),
            )
            .service(
                web::resource("/connect/introspect")
                    .route(web::post().to(revocation::introspect))
                    .default_service(method_not_allowed("POST")),
            )
            .service(
                web::resource("/connect/token")
                    .route(web::post().to(token::token_endpoint))
                    .default_service(web::to(token::wrong_method)),
            )
            .default_service(web::to(not_found)),
    );
}

async fn not_found(req: actix_web::HttpRequest) -> actix_web::HttpResponse {
    crate::errors::oauth::OAuthError::invalid_request(format!(
        "HelseID has no endpoint at {}; see /helseid/.well-known/openid-configuration",
        req.path()
    ))
    .with_status(actix_web::http::StatusCode::NOT_FOUND)
    .render()
}
