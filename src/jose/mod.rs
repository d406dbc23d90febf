//! JOSE building blocks shared by HelseID and the APIs: compact JWS parsing, signature
//! verification against public JWKs (RS/PS/ES 256/384/512), RFC 7638 thumbprints, and the
//! token signer that holds helsesim's signing key parsed once.

mod jwk;
mod jws;
mod private;
mod signer;

pub use jwk::{JwkError, PublicJwk};
pub use jws::{JwsError, SigningAlg, UnverifiedJws};
pub use private::{PrivateKey, PrivateKeyError};
pub use signer::{SignError, TokenSigner};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// base64url without padding, as JOSE uses it.
pub fn b64url(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of `data`, base64url-encoded (DPoP `ath`, PKCE S256, `at_hash` building block).
pub fn sha256_b64url(data: impl AsRef<[u8]>) -> String {
    b64url(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        data.as_ref(),
    ))
}
