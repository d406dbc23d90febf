//! `/.well-known/openid-configuration` and its JWKS.

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::Endpoints;
use super::State;
use super::model::{ApiResources, IDENTITY_SCOPES};
use crate::jose::SigningAlg;

/// The grant types HelseID supports.
pub const GRANT_TYPES: [&str; 4] = [
    "authorization_code",
    "client_credentials",
    "refresh_token",
    "urn:ietf:params:oauth:grant-type:token-exchange",
];

const CLAIMS: [&str; 27] = [
    "sub",
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "sid",
    "idp",
    "amr",
    "auth_time",
    "client_id",
    "client_amr",
    "cnf",
    "helseid://claims/identity/pid",
    "helseid://claims/identity/pid_pseudonym",
    "helseid://claims/identity/assurance_level",
    "helseid://claims/identity/security_level",
    "helseid://claims/identity/network",
    "helseid://claims/hpr/hpr_number",
    crate::auth::claims::CLIENT_AMR,
    crate::auth::claims::CLIENT_TENANCY,
    crate::auth::claims::ORGNR_PARENT,
    crate::auth::claims::ORGNR_CHILD,
    crate::auth::claims::ORGNR_SUPPLIER,
    crate::auth::claims::SFM_ID,
    crate::auth::claims::JOURNAL_ID,
    "scope",
    "jti",
];

/// Builds the discovery document (once, at start-up).
pub fn document(endpoints: &Endpoints, resources: &ApiResources) -> Value {
    let mut scopes: Vec<&str> = IDENTITY_SCOPES.to_vec();
    for resource in resources.entries() {
        scopes.extend(resource.scopes.iter().map(String::as_str));
    }
    let algs = SigningAlg::names();
    json!({
        "issuer": endpoints.issuer,
        "jwks_uri": endpoints.jwks,
        "authorization_endpoint": endpoints.authorize,
        "token_endpoint": endpoints.token,
        "userinfo_endpoint": endpoints.userinfo,
        "end_session_endpoint": endpoints.end_session,
        "revocation_endpoint": endpoints.revocation,
        "introspection_endpoint": endpoints.introspect,
        "pushed_authorization_request_endpoint": endpoints.par,
        "require_pushed_authorization_requests": false,
        "scopes_supported": scopes,
        "claims_supported": CLAIMS,
        "grant_types_supported": GRANT_TYPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["form_post", "query", "fragment"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "revocation_endpoint_auth_methods_supported": ["private_key_jwt"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
        "frontchannel_logout_supported": false,
        "backchannel_logout_supported": false,
        "token_endpoint_auth_signing_alg_values_supported": algs,
        "id_token_signing_alg_values_supported": ["RS256"],
        "subject_types_supported": ["public"],
        "code_challenge_methods_supported": ["S256"],
        "request_parameter_supported": true,
        "request_object_signing_alg_values_supported": algs,
        "prompt_values_supported": ["none", "login"],
        "authorization_response_iss_parameter_supported": true,
        "dpop_signing_alg_values_supported": algs,
    })
}

/// `GET /helseid/.well-known/openid-configuration`.
pub async fn openid_configuration(state: web::Data<State>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json; charset=UTF-8")
        .body(state.discovery_json.clone())
}

/// `GET /helseid/.well-known/openid-configuration/jwks`.
pub async fn jwks(state: web::Data<State>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json; charset=UTF-8")
        .json(state.keys.signing.current(state.clock.now()).jwks())
}
