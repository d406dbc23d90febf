use aws_lc_rs::signature::{
    ECDSA_P521_SHA512_FIXED, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents,
    UnparsedPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};

use super::SigningAlg;

/// Members that only a private (or symmetric) JWK has.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Why a JWK was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwkError {
    /// Not a JSON object or not a JWK.
    #[error("not a valid JWK: {0}")]
    Malformed(String),
    /// Carries private key material.
    #[error("the JWK contains the private member `{0}`; only public keys may be given")]
    PrivateMember(&'static str),
    /// A key type or curve helsesim does not verify.
    #[error("unsupported key: {0} (supported: RSA, EC P-256, P-384, P-521)")]
    Unsupported(String),
}

/// A public key (RSA or EC) from a JWK, ready to verify signatures: parsed once.
#[derive(Clone)]
pub struct PublicJwk {
    jwk: Jwk,
    kind: KeyKind,
    thumbprint: String,
}

#[derive(Clone)]
enum KeyKind {
    /// With the key parsed once for RS256 (helsesim's own tokens, most client assertions):
    /// aws-lc would otherwise build the RSA key anew for every signature it checks.
    Rsa(DecodingKey, Option<ParsedPublicKey>),
    Ec(EllipticCurve, DecodingKey),
    /// P-521: jsonwebtoken has no ES512, so aws-lc-rs verifies it (uncompressed point).
    P521(Vec<u8>),
}

impl std::fmt::Debug for PublicJwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicJwk")
            .field("kid", &self.kid())
            .field("thumbprint", &self.thumbprint)
            .finish()
    }
}

impl PublicJwk {
    /// Parses a public JWK; refuses private members, symmetric keys and unsupported curves.
    pub fn parse(value: &Value) -> Result<Self, JwkError> {
        let object = value
            .as_object()
            .ok_or_else(|| JwkError::Malformed("expected a JSON object".to_owned()))?;
        refuse_private_members(object)?;
        let jwk: Jwk = serde_json::from_value(value.clone())
            .map_err(|e| JwkError::Malformed(e.to_string()))?;
        let kind = match &jwk.algorithm {
            AlgorithmParameters::RSA(rsa) => {
                let key = DecodingKey::from_rsa_components(&rsa.n, &rsa.e)
                    .map_err(|e| JwkError::Malformed(format!("bad RSA n/e: {e}")))?;
                KeyKind::Rsa(key, parse_rs256(&rsa.n, &rsa.e))
            }
            AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
                EllipticCurve::P256 | EllipticCurve::P384 => {
                    check_coordinates(&ec.x, &ec.y, coordinate_len(&ec.curve))?;
                    let key = DecodingKey::from_ec_components(&ec.x, &ec.y)
                        .map_err(|e| JwkError::Malformed(format!("bad EC x/y: {e}")))?;
                    KeyKind::Ec(ec.curve.clone(), key)
                }
                EllipticCurve::P521 => {
                    let (x, y) = check_coordinates(&ec.x, &ec.y, 66)?;
                    let mut point = Vec::with_capacity(133);
                    point.push(0x04);
                    point.extend_from_slice(&x);
                    point.extend_from_slice(&y);
                    KeyKind::P521(point)
                }
                ref other => return Err(JwkError::Unsupported(format!("EC curve {other:?}"))),
            },
            AlgorithmParameters::OctetKey(_) => {
                return Err(JwkError::Unsupported("symmetric key (kty oct)".to_owned()));
            }
            AlgorithmParameters::OctetKeyPair(_) => {
                return Err(JwkError::Unsupported("kty OKP".to_owned()));
            }
            _ => return Err(JwkError::Unsupported("unknown kty".to_owned())),
        };
        let thumbprint = jwk
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|e| JwkError::Malformed(format!("cannot compute thumbprint: {e}")))?;
        Ok(Self {
            jwk,
            kind,
            thumbprint,
        })
    }

    /// The key id, if the JWK has one.
    pub fn kid(&self) -> Option<&str> {
        self.jwk.common.key_id.as_deref()
    }

    /// The RFC 7638 SHA-256 thumbprint (base64url): DPoP's `jkt`.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// `rsa_private_key` or `ec_private_key`: what HelseID's `helseid://claims/client/amr` says.
    pub fn amr(&self) -> &'static str {
        match self.kind {
            KeyKind::Rsa(..) => "rsa_private_key",
            KeyKind::Ec(..) | KeyKind::P521(_) => "ec_private_key",
        }
    }

    /// Whether this key can verify signatures made with `alg` (family and curve match).
    pub fn supports(&self, alg: SigningAlg) -> bool {
        match (&self.kind, alg) {
            (KeyKind::Rsa(..), alg) => alg.is_rsa(),
            (KeyKind::Ec(EllipticCurve::P256, _), SigningAlg::ES256) => true,
            (KeyKind::Ec(EllipticCurve::P384, _), SigningAlg::ES384) => true,
            (KeyKind::P521(_), SigningAlg::ES512) => true,
            _ => false,
        }
    }

    /// Verifies `signature` (base64url) over `message`.
    pub fn verify(&self, alg: SigningAlg, message: &[u8], signature: &str) -> bool {
        if !self.supports(alg) {
            return false;
        }
        match &self.kind {
            KeyKind::Rsa(_, Some(parsed)) if alg == SigningAlg::RS256 => {
                let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
                    return false;
                };
                parsed.verify_sig(message, &signature).is_ok()
            }
            KeyKind::Rsa(key, _) | KeyKind::Ec(_, key) => {
                let Some(alg) = jsonwebtoken_alg(alg) else {
                    return false;
                };
                jsonwebtoken::crypto::verify(signature, message, key, alg).unwrap_or(false)
            }
            KeyKind::P521(point) => {
                let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
                    return false;
                };
                UnparsedPublicKey::new(&ECDSA_P521_SHA512_FIXED, point)
                    .verify(message, &signature)
                    .is_ok()
            }
        }
    }
}

/// The RSA key of a JWK's `n` and `e` (base64url), parsed for RS256; `None` when they do not
/// decode (then jsonwebtoken's own check refuses every signature).
fn parse_rs256(n: &str, e: &str) -> Option<ParsedPublicKey> {
    let (n, e) = (
        URL_SAFE_NO_PAD.decode(n).ok()?,
        URL_SAFE_NO_PAD.decode(e).ok()?,
    );
    RsaPublicKeyComponents { n: &n, e: &e }
        .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
        .ok()
}

fn jsonwebtoken_alg(alg: SigningAlg) -> Option<Algorithm> {
    Some(match alg {
        SigningAlg::RS256 => Algorithm::RS256,
        SigningAlg::RS384 => Algorithm::RS384,
        SigningAlg::RS512 => Algorithm::RS512,
        SigningAlg::PS256 => Algorithm::PS256,
        SigningAlg::PS384 => Algorithm::PS384,
        SigningAlg::PS512 => Algorithm::PS512,
        SigningAlg::ES256 => Algorithm::ES256,
        SigningAlg::ES384 => Algorithm::ES384,
        SigningAlg::ES512 => return None,
    })
}

fn refuse_private_members(object: &Map<String, Value>) -> Result<(), JwkError> {
    match PRIVATE_MEMBERS.iter().find(|m| object.contains_key(**m)) {
        Some(member) => Err(JwkError::PrivateMember(member)),
        None => Ok(()),
    }
}

fn coordinate_len(curve: &EllipticCurve) -> usize {
    match curve {
        EllipticCurve::P384 => 48,
        EllipticCurve::P521 => 66,
        _ => 32,
    }
}

fn check_coordinates(x: &str, y: &str, len: usize) -> Result<(Vec<u8>, Vec<u8>), JwkError> {
    let decode = |name: &str, v: &str| {
        let bytes = URL_SAFE_NO_PAD
            .decode(v)
            .map_err(|_| JwkError::Malformed(format!("`{name}` is not base64url")))?;
        if bytes.len() == len {
            Ok(bytes)
        } else {
            Err(JwkError::Malformed(format!(
                "`{name}` must be {len} bytes for this curve, got {}",
                bytes.len()
            )))
        }
    };
    Ok((decode("x", x)?, decode("y", y)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn private_members_are_refused() {
        let err = PublicJwk::parse(&json!({"kty":"EC","crv":"P-256","x":"a","y":"b","d":"c"}))
            .unwrap_err();
        assert_eq!(err, JwkError::PrivateMember("d"));
    }

    #[test]
    fn symmetric_keys_are_refused() {
        let err = PublicJwk::parse(&json!({"kty":"oct","k":"c2VjcmV0"})).unwrap_err();
        assert_eq!(err, JwkError::PrivateMember("k"));
    }

    #[test]
    fn rfc7638_thumbprint_example() {
        // The RSA key of RFC 7638 section 3.1 and its published thumbprint.
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1\
                  L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4\
                  QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbO\
                  pbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csF\
                  Cur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        let key = PublicJwk::parse(&jwk).unwrap();
        assert_eq!(
            key.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        assert_eq!(key.kid(), Some("2011-04-29"));
        assert!(key.supports(SigningAlg::PS512));
        assert!(!key.supports(SigningAlg::ES256));
    }

    #[test]
    fn wrong_coordinate_length_is_refused() {
        let err =
            PublicJwk::parse(&json!({"kty":"EC","crv":"P-521","x":"AAAA","y":"AAAA"})).unwrap_err();
        assert!(matches!(err, JwkError::Malformed(m) if m.contains("66 bytes")));
    }
}
