//! OAuth 2.0 / OpenID Connect errors as HelseID (Duende IdentityServer) returns them:
//! `{"error": ..., "error_description": ...}` with `Cache-Control: no-store`.

use std::fmt;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use super::mark_formatted;

/// The error codes HelseID uses (RFC 6749, RFC 8707, RFC 9449).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OAuthErrorCode {
    /// Malformed request: wrong method or content type, missing or repeated parameter.
    InvalidRequest,
    /// Client authentication failed.
    InvalidClient,
    /// Bad authorization code, refresh token or other grant.
    InvalidGrant,
    /// The client may not use this grant type.
    UnauthorizedClient,
    /// The grant type is missing or unknown.
    UnsupportedGrantType,
    /// The response type is missing or unknown.
    UnsupportedResponseType,
    /// A requested scope is unknown, not allowed, or of another audience.
    InvalidScope,
    /// The `resource` parameter names an unknown API or one the scopes do not belong to.
    InvalidTarget,
    /// The DPoP proof must carry the server's nonce (sent in the `DPoP-Nonce` header).
    UseDpopNonce,
    /// The request object (RFC 9101) is invalid.
    InvalidRequestObject,
    /// The `request_uri` is unknown, expired or used.
    InvalidRequestUri,
    /// `prompt=none` and nobody is logged in.
    LoginRequired,
    /// The user cancelled the login.
    AccessDenied,
    /// A resource request's access token is invalid (RFC 6750).
    InvalidToken,
    /// The access token lacks a scope (RFC 6750).
    InsufficientScope,
    /// The token type cannot be revoked (RFC 7009).
    UnsupportedTokenType,
    /// The DPoP proof is malformed or fails a check.
    InvalidDpopProof,
    /// The server failed (never the caller's fault).
    ServerError,
}

impl OAuthErrorCode {
    /// The wire name of the code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::UseDpopNonce => "use_dpop_nonce",
            Self::InvalidRequestObject => "invalid_request_object",
            Self::InvalidRequestUri => "invalid_request_uri",
            Self::LoginRequired => "login_required",
            Self::AccessDenied => "access_denied",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::ServerError => "server_error",
        }
    }
}

impl fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth error response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct OAuthError {
    /// The `error` code.
    pub code: OAuthErrorCode,
    /// The `error_description`: says what was wrong and how to fix it.
    pub description: String,
    /// HTTP status; Duende answers every token-endpoint error with 400.
    pub status: StatusCode,
    /// A fresh nonce for the `DPoP-Nonce` header.
    pub dpop_nonce: Option<String>,
    /// A `WWW-Authenticate` challenge (401 answers).
    pub www_authenticate: Option<String>,
}

#[derive(Serialize)]
struct OAuthErrorBody<'a> {
    error: OAuthErrorCode,
    error_description: &'a str,
}

impl OAuthError {
    /// An error with status 400.
    pub fn new(code: OAuthErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            status: StatusCode::BAD_REQUEST,
            dpop_nonce: None,
            www_authenticate: None,
        }
    }

    /// `invalid_request`.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidRequest, description)
    }

    /// `invalid_client`.
    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidClient, description)
    }

    /// `invalid_scope`.
    pub fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidScope, description)
    }

    /// `invalid_dpop_proof`.
    pub fn invalid_dpop_proof(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidDpopProof, description)
    }

    /// The same error with another HTTP status.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// The same error carrying a `DPoP-Nonce` header.
    pub fn with_dpop_nonce(mut self, nonce: String) -> Self {
        self.dpop_nonce = Some(nonce);
        self
    }

    /// A generic error for a framework-level failure (unknown path, oversized body...).
    pub fn from_status(status: StatusCode, message: &str) -> Self {
        let code = if status.is_server_error() {
            OAuthErrorCode::ServerError
        } else {
            OAuthErrorCode::InvalidRequest
        };
        Self::new(code, message).with_status(status)
    }

    /// The HTTP response.
    pub fn render(&self) -> HttpResponse {
        let mut builder = HttpResponse::build(self.status);
        builder
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"));
        if let Some(nonce) = &self.dpop_nonce {
            builder.insert_header(("DPoP-Nonce", nonce.as_str()));
        }
        if let Some(challenge) = &self.www_authenticate {
            builder.insert_header((header::WWW_AUTHENTICATE, challenge.as_str()));
        }
        mark_formatted(builder.json(OAuthErrorBody {
            error: self.code,
            error_description: &self.description,
        }))
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        self.render()
    }
}
