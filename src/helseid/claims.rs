//! The claims of HelseID access tokens, named as the real tokens name them (see the decoded
//! tokens in the SFM organisation spec).

use serde::{Deserialize, Serialize};

/// `helseid://claims/client/claims/orgnr_parent`.
pub const ORGNR_PARENT: &str = "helseid://claims/client/claims/orgnr_parent";
/// `helseid://claims/client/claims/orgnr_child`.
pub const ORGNR_CHILD: &str = "helseid://claims/client/claims/orgnr_child";
/// `helseid://claims/client/claims/orgnr_supplier`.
pub const ORGNR_SUPPLIER: &str = "helseid://claims/client/claims/orgnr_supplier";
/// `helseid://claims/client/amr`.
pub const CLIENT_AMR: &str = "helseid://claims/client/amr";
/// `helseid://claims/client/client_tenancy`.
pub const CLIENT_TENANCY: &str = "helseid://claims/client/client_tenancy";
/// `e-helse:sfm.api/client/claims/sfm-id`.
pub const SFM_ID: &str = "e-helse:sfm.api/client/claims/sfm-id";
/// `nhn:sfm:journal-id`.
pub const JOURNAL_ID: &str = "nhn:sfm:journal-id";
/// The SFM API's audience.
pub const SFM_AUDIENCE: &str = "e-helse:sfm.api";

/// The `cnf` claim of a DPoP-bound token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// RFC 7638 thumbprint of the client's DPoP key.
    pub jkt: String,
}

/// The claims of a system (client_credentials) access token; no user claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemTokenClaims {
    /// Issuer.
    pub iss: String,
    /// Not before (= iat).
    pub nbf: i64,
    /// Issued at.
    pub iat: i64,
    /// Expiry.
    pub exp: i64,
    /// The one audience (API resource name).
    pub aud: String,
    /// Granted scopes.
    pub scope: Vec<String>,
    /// The client.
    pub client_id: String,
    /// How the client authenticated: `private_key_jwt`.
    pub client_amr: String,
    /// The legal entity.
    #[serde(
        rename = "helseid://claims/client/claims/orgnr_parent",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub orgnr_parent: Option<String>,
    /// The sub-unit.
    #[serde(
        rename = "helseid://claims/client/claims/orgnr_child",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub orgnr_child: Option<String>,
    /// The supplier of a multi-tenant client.
    #[serde(
        rename = "helseid://claims/client/claims/orgnr_supplier",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub orgnr_supplier: Option<String>,
    /// The key type the client authenticated with: `rsa_private_key` or `ec_private_key`.
    #[serde(rename = "helseid://claims/client/amr")]
    pub client_key_amr: String,
    /// `single-tenant` or `multi-tenant`.
    #[serde(rename = "helseid://claims/client/client_tenancy")]
    pub client_tenancy: String,
    /// The client's SFM id (tokens for SFM only).
    #[serde(
        rename = "e-helse:sfm.api/client/claims/sfm-id",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub sfm_id: Option<String>,
    /// The SFM journal named by a multi-tenant client.
    #[serde(
        rename = "nhn:sfm:journal-id",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub journal_id: Option<String>,
    /// Token id.
    pub jti: String,
    /// DPoP binding.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cnf: Option<Confirmation>,
}
