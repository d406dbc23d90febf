//! The claims of HelseID access tokens, named as the real tokens name them (see the decoded
//! tokens in the SFM organisation spec).

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

/// `helseid://claims/identity/pid`: the user's national identity number.
pub const PID: &str = "helseid://claims/identity/pid";
/// `helseid://claims/identity/pid_pseudonym`.
pub const PID_PSEUDONYM: &str = "helseid://claims/identity/pid_pseudonym";
/// `helseid://claims/identity/security_level`.
pub const SECURITY_LEVEL: &str = "helseid://claims/identity/security_level";
/// `helseid://claims/identity/assurance_level`.
pub const ASSURANCE_LEVEL: &str = "helseid://claims/identity/assurance_level";
/// `helseid://claims/hpr/hpr_number`.
pub const HPR_NUMBER: &str = "helseid://claims/hpr/hpr_number";
/// The trust-framework attest (tillitsrammeverk) in an access token, and its detail type.
pub const TRUST_FRAMEWORK: &str = "nhn:tillitsrammeverk:parameters";
