use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
use serde::Serialize;
use serde_json::{Value, json};

use super::{PublicJwk, b64url};

/// Why the signing key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The PEM/PKCS#8 could not be read as an RSA private key.
    #[error("not an RSA private key in PKCS#8 PEM: {0}")]
    BadKey(String),
    /// Serialising or signing failed.
    #[error("signing failed: {0}")]
    Signing(String),
}

/// helsesim's RS256 token signer. The key is parsed once at start-up: signing is the hottest
/// path, and re-parsing an RSA key per token (as `jsonwebtoken::encode` does) makes it 2.4x
/// slower (measured: `cargo bench --bench tokens`).
pub struct TokenSigner {
    kid: String,
    key_pair: RsaKeyPair,
    rng: SystemRandom,
    public_jwk: Value,
    verifier: PublicJwk,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("kid", &self.kid)
            .finish()
    }
}

impl TokenSigner {
    /// Loads an RSA private key from PKCS#8 PEM; the `kid` is the key's RFC 7638 thumbprint,
    /// so it is stable across restarts.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, SignError> {
        let der = pem_to_der(pem).map_err(SignError::BadKey)?;
        let key_pair =
            RsaKeyPair::from_pkcs8(&der).map_err(|e| SignError::BadKey(e.to_string()))?;
        let public = key_pair.public_key();
        let n = b64url(public.modulus().big_endian_without_leading_zero());
        let e = b64url(public.exponent().big_endian_without_leading_zero());
        let verifier = PublicJwk::parse(&json!({"kty": "RSA", "n": n, "e": e}))
            .map_err(|e| SignError::BadKey(e.to_string()))?;
        let kid = verifier.thumbprint().to_owned();
        let public_jwk = json!({
            "kty": "RSA",
            "use": "sig",
            "kid": kid,
            "alg": "RS256",
            "n": n,
            "e": e,
        });
        Ok(Self {
            kid,
            key_pair,
            rng: SystemRandom::new(),
            public_jwk,
            verifier,
        })
    }

    /// A new RSA-2048 key (key rotation, deliberately untrusted test tokens).
    pub fn generate() -> Result<Self, SignError> {
        let key =
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
                .map_err(|e| SignError::BadKey(e.to_string()))?;
        Self::from_pkcs8_pem(&key.serialize_pem())
    }

    /// The key id put in every token header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWKS entry.
    pub fn public_jwk(&self) -> &Value {
        &self.public_jwk
    }

    /// The public key, to verify what this signer signed.
    pub fn verifier(&self) -> &PublicJwk {
        &self.verifier
    }

    /// Signs `claims` as a compact RS256 JWS with header `{alg, kid, typ}`.
    pub fn sign(&self, typ: &str, claims: &impl Serialize) -> Result<String, SignError> {
        let header = json!({"alg": "RS256", "kid": self.kid, "typ": typ});
        let header = serde_json::to_vec(&header).map_err(|e| SignError::Signing(e.to_string()))?;
        let claims = serde_json::to_vec(claims).map_err(|e| SignError::Signing(e.to_string()))?;
        let mut token = b64url(header);
        token.push('.');
        token.push_str(&b64url(claims));
        let mut signature = vec![0u8; self.key_pair.public_modulus_len()];
        self.key_pair
            .sign(
                &RSA_PKCS1_SHA256,
                &self.rng,
                token.as_bytes(),
                &mut signature,
            )
            .map_err(|e| SignError::Signing(e.to_string()))?;
        token.push('.');
        token.push_str(&b64url(signature));
        Ok(token)
    }
}

/// Decodes the first `PRIVATE KEY` (PKCS#8) block of a PEM document.
fn pem_to_der(pem: &str) -> Result<Vec<u8>, String> {
    use rustls::pki_types::PrivatePkcs8KeyDer;
    use rustls::pki_types::pem::PemObject as _;
    PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes())
        .map(|der| der.secret_pkcs8_der().to_vec())
        .map_err(|e| format!("no PKCS#8 `PRIVATE KEY` block ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::{SigningAlg, UnverifiedJws};

    #[test]
    fn signed_tokens_verify_with_the_published_key() {
        let key =
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
                .unwrap();
        let signer = TokenSigner::from_pkcs8_pem(&key.serialize_pem()).unwrap();
        let token = signer.sign("at+jwt", &json!({"iss": "me"})).unwrap();
        let jws = UnverifiedJws::parse(&token).unwrap();
        assert_eq!(jws.header_str("kid"), Some(signer.kid()));
        assert_eq!(jws.header_str("typ"), Some("at+jwt"));
        let published = PublicJwk::parse(signer.public_jwk()).unwrap();
        assert!(jws.verify_with(&published, SigningAlg::RS256));
        assert!(!jws.verify_with(&published, SigningAlg::PS256));
    }

    #[test]
    fn non_pkcs8_input_is_refused() {
        let err = TokenSigner::from_pkcs8_pem("-----BEGIN RSA PRIVATE KEY-----").unwrap_err();
        assert!(err.to_string().contains("PKCS#8"));
    }
}
