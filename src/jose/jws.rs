use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::PublicJwk;

/// The asymmetric JWS algorithms helsesim accepts from clients (assertions and DPoP proofs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// ECDSA P-384 with SHA-384.
    ES384,
    /// ECDSA P-521 with SHA-512.
    ES512,
}

impl SigningAlg {
    /// Every supported algorithm, in the order discovery lists them.
    pub const ALL: [SigningAlg; 9] = [
        SigningAlg::RS256,
        SigningAlg::RS384,
        SigningAlg::RS512,
        SigningAlg::PS256,
        SigningAlg::PS384,
        SigningAlg::PS512,
        SigningAlg::ES256,
        SigningAlg::ES384,
        SigningAlg::ES512,
    ];

    /// Parses a JOSE `alg` value; `None` for symmetric, `none` or unknown algorithms.
    pub fn parse(alg: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == alg)
    }

    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::RS256 => "RS256",
            SigningAlg::RS384 => "RS384",
            SigningAlg::RS512 => "RS512",
            SigningAlg::PS256 => "PS256",
            SigningAlg::PS384 => "PS384",
            SigningAlg::PS512 => "PS512",
            SigningAlg::ES256 => "ES256",
            SigningAlg::ES384 => "ES384",
            SigningAlg::ES512 => "ES512",
        }
    }

    /// All algorithm names, for discovery documents.
    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|a| a.as_str()).collect()
    }

    /// Whether the algorithm is an RSA one (RS*/PS*).
    pub fn is_rsa(self) -> bool {
        !matches!(
            self,
            SigningAlg::ES256 | SigningAlg::ES384 | SigningAlg::ES512
        )
    }
}

/// Why a compact JWS could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    /// Not three dot-separated parts.
    #[error("not a compact JWS (expected three base64url parts separated by dots)")]
    NotCompact,
    /// An unsecured JWS (`alg` `none`, or any JWS with an empty signature).
    #[error(
        "it is not signed (alg '{0}' with an empty signature): only JWTs signed with an asymmetric \
         key are accepted"
    )]
    Unsigned(String),
    /// A part is not base64url.
    #[error("the {0} is not base64url-encoded")]
    Base64(&'static str),
    /// The header or payload is not a JSON object.
    #[error("the {0} is not a JSON object")]
    NotJsonObject(&'static str),
}

/// A compact JWS whose header and claims have been decoded but whose signature is unchecked.
#[derive(Debug, Clone)]
pub struct UnverifiedJws<'a> {
    /// The JOSE header.
    pub header: Map<String, Value>,
    /// The payload's claims.
    pub claims: Map<String, Value>,
    signing_input: &'a str,
    signature: &'a str,
}

impl<'a> UnverifiedJws<'a> {
    /// Splits and decodes `token`; does not verify anything.
    pub fn parse(token: &'a str) -> Result<Self, JwsError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwsError::NotCompact);
        };
        if header.is_empty() || payload.is_empty() {
            return Err(JwsError::NotCompact);
        }
        let header = decode_object(header, "header")?;
        if signature.is_empty() {
            let alg = header
                .get("alg")
                .and_then(Value::as_str)
                .unwrap_or_default();
            return Err(JwsError::Unsigned(alg.to_owned()));
        }
        let claims = decode_object(payload, "payload")?;
        let signing_input_len = token.len() - signature.len() - 1;
        Ok(Self {
            header,
            claims,
            signing_input: &token[..signing_input_len],
            signature,
        })
    }

    /// A header member as a string.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }

    /// A claim as a string.
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// A claim as whole seconds (JSON number, integral or not).
    pub fn claim_seconds(&self, name: &str) -> Option<i64> {
        let value = self.claims.get(name)?;
        value
            .as_i64()
            .or_else(|| value.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
    }

    /// Whether the signature is valid for `key` under `alg`.
    pub fn verify_with(&self, key: &PublicJwk, alg: SigningAlg) -> bool {
        key.verify(alg, self.signing_input.as_bytes(), self.signature)
    }
}

fn decode_object(part: &str, what: &'static str) -> Result<Map<String, Value>, JwsError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwsError::Base64(what))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(JwsError::NotJsonObject(what)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_asymmetric_algorithms_parse() {
        assert_eq!(SigningAlg::parse("ES512"), Some(SigningAlg::ES512));
        assert_eq!(SigningAlg::parse("PS384"), Some(SigningAlg::PS384));
        for bad in ["none", "HS256", "EdDSA", "rs256", ""] {
            assert_eq!(SigningAlg::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn parse_rejects_malformed_tokens() {
        assert_eq!(
            UnverifiedJws::parse("a.b").unwrap_err(),
            JwsError::NotCompact
        );
        assert_eq!(
            UnverifiedJws::parse("a.b.c.d").unwrap_err(),
            JwsError::NotCompact
        );
        assert_eq!(
            UnverifiedJws::parse("..").unwrap_err(),
            JwsError::NotCompact
        );
        // {"alg":"none"} . {} . (empty): an unsecured JWT says so.
        assert_eq!(
            UnverifiedJws::parse("eyJhbGciOiJub25lIn0.e30.")
                .unwrap_err()
                .to_string(),
            "it is not signed (alg 'none' with an empty signature): only JWTs signed with an \
             asymmetric key are accepted"
        );
        assert_eq!(
            UnverifiedJws::parse("!!.e30.c2ln").unwrap_err(),
            JwsError::Base64("header")
        );
        // "W10" is `[]`: valid JSON, not an object.
        assert_eq!(
            UnverifiedJws::parse("e30.W10.c2ln").unwrap_err(),
            JwsError::NotJsonObject("payload")
        );
    }

    #[test]
    fn parse_reads_header_and_claims() {
        // {"alg":"RS256"} . {"iss":"x","exp":1.5}
        let jws =
            UnverifiedJws::parse("eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4IiwiZXhwIjoxLjV9.c2ln").unwrap();
        assert_eq!(jws.header_str("alg"), Some("RS256"));
        assert_eq!(jws.claim_str("iss"), Some("x"));
        assert_eq!(jws.claim_seconds("exp"), Some(1));
        assert_eq!(jws.claim_seconds("nbf"), None);
    }
}
