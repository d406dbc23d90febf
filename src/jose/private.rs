//! Private keys the CLI signs client assertions with: the user's own (a PKCS#8 PEM, a private
//! JWK, or the JSON file HelseID Selvbetjening downloads, RSA or EC) or one `helsesim keygen`
//! makes.

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPairComponents, PublicKeyComponents};
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, EcdsaSigningAlgorithm, KeyPair as _, RsaEncoding, RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::{PublicJwk, SigningAlg, b64url};

/// Why a private key could not be read or used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PrivateKeyError(String);

fn error(message: impl Into<String>) -> PrivateKeyError {
    PrivateKeyError(message.into())
}

/// An elliptic curve of the JOSE algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
    P521,
}

impl Curve {
    const ALL: [Curve; 3] = [Curve::P256, Curve::P384, Curve::P521];

    fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
        }
    }

    fn alg(self) -> SigningAlg {
        match self {
            Curve::P256 => SigningAlg::ES256,
            Curve::P384 => SigningAlg::ES384,
            Curve::P521 => SigningAlg::ES512,
        }
    }

    fn signing(self) -> &'static EcdsaSigningAlgorithm {
        match self {
            Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
            Curve::P521 => &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
        }
    }
}

/// A private signing key, parsed once.
pub struct PrivateKey(Inner);

enum Inner {
    /// An RSA key (RS256/384/512, PS256/384/512).
    Rsa(RsaKeyPair),
    /// An EC key on one curve (ES256, ES384 or ES512).
    Ec(EcdsaKeyPair, Curve),
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Inner::Rsa(_) => f.write_str("PrivateKey(RSA)"),
            Inner::Ec(_, curve) => write!(f, "PrivateKey(EC {})", curve.name()),
        }
    }
}

impl PrivateKey {
    /// Reads a key file: a PKCS#8 PEM, a private JWK, or a HelseID Selvbetjening client file
    /// (its `privateJwk`, a JSON string, URL-encoded or not).
    pub fn from_file_text(text: &str) -> Result<Self, PrivateKeyError> {
        let trimmed = text.trim_start();
        if !trimmed.starts_with('{') {
            return Self::from_pem(text);
        }
        let value: Value = serde_json::from_str(text)
            .map_err(|e| error(format!("not JSON (a JWK or a Selvbetjening file): {e}")))?;
        match value.get("privateJwk") {
            Some(Value::String(inner)) => {
                let decoded = percent_encoding::percent_decode_str(inner).decode_utf8_lossy();
                let jwk: Value = serde_json::from_str(&decoded)
                    .map_err(|e| error(format!("privateJwk is not a JWK: {e}")))?;
                Self::from_jwk(&jwk)
            }
            Some(jwk @ Value::Object(_)) => Self::from_jwk(jwk),
            Some(_) => Err(error(
                "privateJwk must be a JWK (an object or a JSON string)",
            )),
            None => Self::from_jwk(&value),
        }
    }

    /// An RSA or EC key from a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pem(pem: &str) -> Result<Self, PrivateKeyError> {
        use rustls::pki_types::PrivatePkcs8KeyDer;
        use rustls::pki_types::pem::PemObject as _;
        let der = PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| {
            error(format!(
                "not a PKCS#8 private key in PEM (-----BEGIN PRIVATE KEY-----): {e}"
            ))
        })?;
        let der = der.secret_pkcs8_der();
        if let Ok(pair) = RsaKeyPair::from_pkcs8(der) {
            return Ok(PrivateKey(Inner::Rsa(pair)));
        }
        for curve in Curve::ALL {
            if let Ok(pair) = EcdsaKeyPair::from_pkcs8(curve.signing(), der) {
                return Ok(PrivateKey(Inner::Ec(pair, curve)));
            }
        }
        Err(error(
            "a PKCS#8 key, but neither RSA nor EC on P-256, P-384 or P-521",
        ))
    }

    /// An RSA or EC key from a private JWK (RFC 7518 §6).
    pub fn from_jwk(jwk: &Value) -> Result<Self, PrivateKeyError> {
        let member = |name: &str| -> Result<Vec<u8>, PrivateKeyError> {
            let text = jwk
                .get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| error(format!("the private JWK has no '{name}'")))?;
            URL_SAFE_NO_PAD
                .decode(text.trim_end_matches('='))
                .map_err(|e| error(format!("the JWK's '{name}' is not base64url: {e}")))
        };
        match jwk.get("kty").and_then(Value::as_str) {
            Some("RSA") => {
                let n = member("n")?;
                let e = member("e")?;
                let strip = |v: Vec<u8>| -> Vec<u8> {
                    let start = v.iter().position(|b| *b != 0).unwrap_or(v.len());
                    v[start..].to_vec()
                };
                let components = KeyPairComponents {
                    public_key: PublicKeyComponents {
                        n: strip(n),
                        e: strip(e),
                    },
                    d: member("d")?,
                    p: member("p")?,
                    q: member("q")?,
                    dP: member("dp")?,
                    dQ: member("dq")?,
                    qInv: member("qi")?,
                };
                RsaKeyPair::from_components(&components)
                    .map(|pair| PrivateKey(Inner::Rsa(pair)))
                    .map_err(|e| error(format!("the RSA JWK is not a valid private key: {e}")))
            }
            Some("EC") => {
                let crv = jwk.get("crv").and_then(Value::as_str).unwrap_or_default();
                let curve = Curve::ALL
                    .into_iter()
                    .find(|c| c.name() == crv)
                    .ok_or_else(|| {
                        error(format!(
                            "the EC JWK's crv '{crv}' is not P-256, P-384 or P-521"
                        ))
                    })?;
                let mut public = vec![0x04];
                public.extend(member("x")?);
                public.extend(member("y")?);
                EcdsaKeyPair::from_private_key_and_public_key(
                    curve.signing(),
                    &member("d")?,
                    &public,
                )
                .map(|pair| PrivateKey(Inner::Ec(pair, curve)))
                .map_err(|e| error(format!("the EC JWK is not a valid private key: {e}")))
            }
            Some(other) => Err(error(format!(
                "a JWK of kty '{other}': helsesim signs with RSA or EC keys"
            ))),
            None => Err(error("a JWK needs kty (RSA or EC)")),
        }
    }

    /// The algorithm used when nothing names one: RS256, or the curve's ES algorithm.
    pub fn default_alg(&self) -> SigningAlg {
        match &self.0 {
            Inner::Rsa(_) => SigningAlg::RS256,
            Inner::Ec(_, curve) => curve.alg(),
        }
    }

    /// Whether the key can sign with `alg`.
    pub fn supports(&self, alg: SigningAlg) -> bool {
        match &self.0 {
            Inner::Rsa(_) => alg.is_rsa(),
            Inner::Ec(_, curve) => curve.alg() == alg,
        }
    }

    /// The public key as a JWK (`kty` and the key's members only).
    pub fn public_jwk(&self) -> Value {
        match &self.0 {
            Inner::Rsa(pair) => {
                let public = pair.public_key();
                json!({
                    "kty": "RSA",
                    "n": b64url(public.modulus().big_endian_without_leading_zero()),
                    "e": b64url(public.exponent().big_endian_without_leading_zero()),
                })
            }
            Inner::Ec(pair, curve) => {
                // An uncompressed point: 0x04, then x and y of equal length.
                let point = pair.public_key().as_ref();
                let coordinates = point.get(1..).unwrap_or_default();
                let (x, y) = coordinates.split_at(coordinates.len() / 2);
                json!({"kty": "EC", "crv": curve.name(), "x": b64url(x), "y": b64url(y)})
            }
        }
    }

    /// The public key's RFC 7638 thumbprint.
    pub fn thumbprint(&self) -> Result<String, PrivateKeyError> {
        PublicJwk::parse(&self.public_jwk())
            .map(|jwk| jwk.thumbprint().to_owned())
            .map_err(|e| error(e.to_string()))
    }

    /// The key as PKCS#8 DER.
    pub fn pkcs8_der(&self) -> Result<Vec<u8>, PrivateKeyError> {
        match &self.0 {
            Inner::Rsa(pair) => pair
                .as_der()
                .map(|der| der.as_ref().to_vec())
                .map_err(|e| error(e.to_string())),
            Inner::Ec(pair, _) => pair
                .to_pkcs8v1()
                .map(|der| der.as_ref().to_vec())
                .map_err(|e| error(e.to_string())),
        }
    }

    /// Signs a compact JWS of `header` (its `alg` set here) and `claims` with `alg`.
    pub fn sign_jws(
        &self,
        alg: SigningAlg,
        mut header: Map<String, Value>,
        claims: &Value,
    ) -> Result<String, PrivateKeyError> {
        if !self.supports(alg) {
            return Err(error(format!(
                "this key cannot sign {}: use {}",
                alg.as_str(),
                self.default_alg().as_str()
            )));
        }
        header.insert("alg".to_owned(), json!(alg.as_str()));
        let header = serde_json::to_vec(&header).map_err(|e| error(e.to_string()))?;
        let claims = serde_json::to_vec(claims).map_err(|e| error(e.to_string()))?;
        let mut token = b64url(header);
        token.push('.');
        token.push_str(&b64url(claims));
        let rng = SystemRandom::new();
        let signature = match &self.0 {
            Inner::Rsa(pair) => {
                let padding: &'static dyn RsaEncoding = match alg {
                    SigningAlg::RS384 => &signature::RSA_PKCS1_SHA384,
                    SigningAlg::RS512 => &signature::RSA_PKCS1_SHA512,
                    SigningAlg::PS256 => &signature::RSA_PSS_SHA256,
                    SigningAlg::PS384 => &signature::RSA_PSS_SHA384,
                    SigningAlg::PS512 => &signature::RSA_PSS_SHA512,
                    _ => &signature::RSA_PKCS1_SHA256,
                };
                let mut signature = vec![0u8; pair.public_modulus_len()];
                pair.sign(padding, &rng, token.as_bytes(), &mut signature)
                    .map_err(|e| error(format!("RSA signing failed: {e}")))?;
                signature
            }
            Inner::Ec(pair, _) => pair
                .sign(&rng, token.as_bytes())
                .map(|s| s.as_ref().to_vec())
                .map_err(|e| error(format!("ECDSA signing failed: {e}")))?,
        };
        token.push('.');
        token.push_str(&b64url(signature));
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::UnverifiedJws;
    use aws_lc_rs::encoding::AsBigEndian as _;

    fn generated(alg: &'static rcgen::SignatureAlgorithm) -> String {
        let pair = if *alg == rcgen::PKCS_RSA_SHA256 {
            rcgen::KeyPair::generate_rsa_for(alg, rcgen::RsaKeySize::_2048)
        } else {
            rcgen::KeyPair::generate_for(alg)
        };
        pair.map(|p| p.serialize_pem()).unwrap_or_default()
    }

    fn verifies(key: &PrivateKey, alg: SigningAlg) -> bool {
        let mut header = Map::new();
        header.insert("typ".into(), json!("JWT"));
        let token = key
            .sign_jws(alg, header, &json!({"sub": "x"}))
            .unwrap_or_default();
        let public = PublicJwk::parse(&key.public_jwk());
        match (UnverifiedJws::parse(&token), public) {
            (Ok(jws), Ok(public)) => jws.verify_with(&public, alg),
            _ => false,
        }
    }

    #[test]
    fn pem_keys_of_each_kind_sign_what_their_public_jwk_verifies() {
        let rsa = PrivateKey::from_pem(&generated(&rcgen::PKCS_RSA_SHA256));
        let rsa = rsa.as_ref().map_err(ToString::to_string);
        assert!(
            rsa.as_ref()
                .is_ok_and(|k| k.default_alg() == SigningAlg::RS256),
            "{rsa:?}"
        );
        if let Ok(rsa) = rsa {
            for alg in [SigningAlg::RS256, SigningAlg::PS256, SigningAlg::RS512] {
                assert!(verifies(rsa, alg), "{alg:?}");
            }
            assert!(!rsa.supports(SigningAlg::ES256));
        }
        for (alg, expected) in [
            (&rcgen::PKCS_ECDSA_P256_SHA256, SigningAlg::ES256),
            (&rcgen::PKCS_ECDSA_P384_SHA384, SigningAlg::ES384),
        ] {
            let key = PrivateKey::from_pem(&generated(alg));
            assert!(key.as_ref().is_ok_and(|k| k.default_alg() == expected));
            assert!(key.as_ref().is_ok_and(|k| verifies(k, expected)));
        }
        assert!(PrivateKey::from_pem("not a key").is_err());
    }

    #[test]
    fn an_ec_jwk_and_a_selvbetjening_file_give_the_same_key() {
        let pem = generated(&rcgen::PKCS_ECDSA_P256_SHA256);
        let Ok(key) = PrivateKey::from_pem(&pem) else {
            panic!("a generated key");
        };
        // The PEM key's d, for its private JWK.
        let Ok(PrivateKey(Inner::Ec(pair, _))) = PrivateKey::from_pem(&pem) else {
            panic!("an EC key");
        };
        let d = pair
            .private_key()
            .as_be_bytes()
            .map(|b| b.as_ref().to_vec())
            .unwrap_or_default();
        let mut jwk = key.public_jwk();
        jwk["d"] = json!(b64url(&d));
        let from_jwk = PrivateKey::from_jwk(&jwk);
        assert!(
            from_jwk
                .as_ref()
                .is_ok_and(|k| k.thumbprint().ok() == key.thumbprint().ok())
        );
        let file = json!({
            "clientName": "EPJ",
            "clientId": "d1d2",
            "privateJwk": percent_encoding::utf8_percent_encode(
                &jwk.to_string(),
                percent_encoding::NON_ALPHANUMERIC
            )
            .to_string(),
        });
        let from_file = PrivateKey::from_file_text(&file.to_string());
        assert!(
            from_file
                .as_ref()
                .is_ok_and(|k| k.thumbprint().ok() == key.thumbprint().ok())
        );
        assert!(from_file.is_ok_and(|k| verifies(&k, SigningAlg::ES256)));
        let bad = PrivateKey::from_jwk(&json!({"kty": "oct", "k": "AA"}));
        assert_eq!(
            bad.map(|_| ()).map_err(|e| e.to_string()),
            Err("a JWK of kty 'oct': helsesim signs with RSA or EC keys".to_owned())
        );
    }
}
