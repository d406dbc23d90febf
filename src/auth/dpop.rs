//! DPoP (RFC 9449) proofs and server nonces, shared by HelseID's token endpoint and the APIs.

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use super::CLOCK_SKEW;
use crate::jose::{PublicJwk, SigningAlg, UnverifiedJws, sha256_b64url};

/// How long a proof is accepted after its `iat`.
pub const PROOF_MAX_AGE: TimeDelta = TimeDelta::seconds(60);
/// How long a server nonce stays valid.
pub const NONCE_LIFETIME: TimeDelta = TimeDelta::minutes(5);

/// Issues and checks stateless nonces: the issue time and a MAC over it, so no nonce is stored.
/// [`NonceIssuer::rotate`] makes every nonce issued so far stale.
pub struct NonceIssuer {
    key: std::sync::RwLock<hmac::Key>,
}

impl std::fmt::Debug for NonceIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NonceIssuer")
    }
}

impl Default for NonceIssuer {
    fn default() -> Self {
        Self::new()
    }
}

impl NonceIssuer {
    /// A nonce issuer with a fresh random key (nonces do not survive a restart).
    pub fn new() -> Self {
        Self {
            key: std::sync::RwLock::new(Self::fresh_key()),
        }
    }

    fn fresh_key() -> hmac::Key {
        let mut secret = [0u8; 32];
        // rand's CSPRNG (seeded by the OS), as every other secret here: aws-lc's own generator
        // costs some 35 ms to start, which start-up would otherwise wait for.
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut secret);
        hmac::Key::new(hmac::HMAC_SHA256, &secret)
    }

    /// A new key: every nonce issued before is stale (the next request with one is told
    /// `use_dpop_nonce` and given a new nonce).
    pub fn rotate(&self) {
        *self
            .key
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Self::fresh_key();
    }

    fn key(&self) -> hmac::Key {
        self.key
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// A nonce valid for [`NONCE_LIFETIME`] from `now`.
    pub fn issue(&self, now: DateTime<Utc>) -> String {
        let issued = now.timestamp().to_be_bytes();
        let tag = hmac::sign(&self.key(), &issued);
        let mut raw = issued.to_vec();
        raw.extend_from_slice(&tag.as_ref()[..16]);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Whether `nonce` was issued by this server and is still valid at `now`.
    pub fn is_valid(&self, nonce: &str, now: DateTime<Utc>) -> bool {
        let Ok(raw) = URL_SAFE_NO_PAD.decode(nonce) else {
            return false;
        };
        if raw.len() != 24 {
            return false;
        }
        let (issued, tag) = raw.split_at(8);
        let expected = hmac::sign(&self.key(), issued);
        // Constant-time comparison of the truncated tag.
        if aws_lc_rs::constant_time::verify_slices_are_equal(&expected.as_ref()[..16], tag).is_err()
        {
            return false;
        }
        let Ok(issued) = <[u8; 8]>::try_from(issued) else {
            return false;
        };
        let Some(issued) = DateTime::from_timestamp(i64::from_be_bytes(issued), 0) else {
            return false;
        };
        issued <= crate::clock::after(now, CLOCK_SKEW) && now - issued <= NONCE_LIFETIME
    }
}

/// What the request a proof accompanies looks like.
#[derive(Debug)]
pub struct ProofExpectations<'a> {
    /// The HTTP method (`htm`).
    pub method: &'a str,
    /// Acceptable `htu` values: the public URL and the URL as the client reached it.
    pub urls: &'a [String],
    /// At an API: the access token the proof must hash into `ath`.
    pub access_token: Option<&'a str>,
    /// When set, the proof must carry a current nonce from this issuer.
    pub nonces: Option<&'a NonceIssuer>,
}

/// A proof that passed every check but the replay check (the caller owns the replay cache).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidProof {
    /// RFC 7638 thumbprint of the proof key.
    pub jkt: String,
    /// The proof's `jti`.
    pub jti: String,
    /// Until when the `jti` must be remembered.
    pub remember_until: DateTime<Utc>,
}

/// Why a proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// Malformed, badly signed or not matching the request.
    #[error("{0}")]
    Invalid(String),
    /// The proof has no nonce, or a stale or unknown one: retry with the `DPoP-Nonce` value.
    #[error("{0}")]
    UseNonce(String),
}

fn invalid(message: impl Into<String>) -> ProofError {
    ProofError::Invalid(message.into())
}

/// Validates a DPoP proof: `typ` `dpop+jwt`, an asymmetric `alg`, a public `jwk` that verifies
/// the signature, `jti`, `htm`, `htu`, a fresh `iat`, and where expected `ath` and `nonce`.
pub fn validate_proof(
    proof: &str,
    expected: &ProofExpectations<'_>,
    now: DateTime<Utc>,
) -> Result<ValidProof, ProofError> {
    let jws = UnverifiedJws::parse(proof)
        .map_err(|e| invalid(format!("The DPoP proof is not a valid JWT: {e}")))?;
    let jwk = proof_key(&jws)?;
    let jti = proof_jti(&jws)?;
    check_request(&jws, expected)?;
    let iat = proof_time(&jws, now)?;
    if let Some(token) = expected.access_token {
        check_access_token_hash(&jws, token)?;
    }
    if let Some(nonces) = expected.nonces {
        check_nonce(&jws, nonces, now)?;
    }
    Ok(ValidProof {
        jkt: jwk.thumbprint().to_owned(),
        jti: format!("{}:{jti}", jwk.thumbprint()),
        remember_until: crate::clock::after(iat, PROOF_MAX_AGE + CLOCK_SKEW * 2),
    })
}

/// The proof's public key (its header's `jwk`), which must verify its signature under its
/// (asymmetric) `alg`; `typ` must be `dpop+jwt`.
fn proof_key(jws: &UnverifiedJws<'_>) -> Result<PublicJwk, ProofError> {
    if jws.header_str("typ") != Some("dpop+jwt") {
        return Err(invalid("The DPoP proof header must have typ 'dpop+jwt'"));
    }
    let alg_name = jws.header_str("alg").unwrap_or_default();
    let alg = SigningAlg::parse(alg_name).ok_or_else(|| {
        invalid(format!(
            "The DPoP proof must be signed with an asymmetric algorithm ({}); got '{alg_name}'",
            SigningAlg::names().join(", ")
        ))
    })?;
    let jwk_value = jws
        .header
        .get("jwk")
        .ok_or_else(|| invalid("The DPoP proof header must contain the public key as 'jwk'"))?;
    let jwk = PublicJwk::parse(jwk_value)
        .map_err(|e| invalid(format!("The DPoP proof's jwk is not usable: {e}")))?;
    if !jwk.supports(alg) {
        return Err(invalid(format!(
            "The DPoP proof's jwk cannot verify {alg_name} signatures"
        )));
    }
    if !jws.verify_with(&jwk, alg) {
        return Err(invalid(
            "The DPoP proof's signature does not verify with its jwk",
        ));
    }
    Ok(jwk)
}

/// The proof's `jti`: present and at most [`super::MAX_JTI_BYTES`] long.
fn proof_jti<'j>(jws: &'j UnverifiedJws<'_>) -> Result<&'j str, ProofError> {
    let jti = jws
        .claim_str("jti")
        .filter(|j| !j.is_empty())
        .ok_or_else(|| invalid("The DPoP proof must have a 'jti'"))?;
    if jti.len() > super::MAX_JTI_BYTES {
        return Err(invalid(format!(
            "The DPoP proof's jti is {} bytes long: at most {} are accepted (a GUID is plenty)",
            jti.len(),
            super::MAX_JTI_BYTES
        )));
    }
    Ok(jti)
}

/// The proof is for this request: its `htm` and `htu` match the method and URL.
fn check_request(
    jws: &UnverifiedJws<'_>,
    expected: &ProofExpectations<'_>,
) -> Result<(), ProofError> {
    let htm = jws.claim_str("htm").unwrap_or_default();
    if htm != expected.method {
        return Err(invalid(format!(
            "The DPoP proof's htm '{htm}' does not match the request method {}",
            expected.method
        )));
    }
    let htu = jws.claim_str("htu").unwrap_or_default();
    if !expected.urls.iter().any(|url| same_url(htu, url)) {
        return Err(invalid(format!(
            "The DPoP proof's htu '{htu}' does not match the request URL {} (helsesim's public \
             URL, HELSESIM_PUBLIC_URL)",
            expected
                .urls
                .first()
                .map(String::as_str)
                .unwrap_or_default()
        )));
    }
    Ok(())
}

/// The proof's `iat`: not in the future, at most [`PROOF_MAX_AGE`] ago (each with
/// [`CLOCK_SKEW`]).
fn proof_time(jws: &UnverifiedJws<'_>, now: DateTime<Utc>) -> Result<DateTime<Utc>, ProofError> {
    let iat = jws
        .claim_seconds("iat")
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .ok_or_else(|| invalid("The DPoP proof must have 'iat' (seconds since the epoch)"))?;
    if iat > crate::clock::after(now, CLOCK_SKEW) {
        return Err(invalid("The DPoP proof's iat is in the future"));
    }
    if now - iat > PROOF_MAX_AGE + CLOCK_SKEW {
        return Err(invalid(format!(
            "The DPoP proof is too old: iat must be within {} seconds; create a new proof for \
             every request",
            PROOF_MAX_AGE.num_seconds()
        )));
    }
    Ok(iat)
}

/// At an API: the proof's `ath` is the hash of the access token it accompanies.
fn check_access_token_hash(jws: &UnverifiedJws<'_>, token: &str) -> Result<(), ProofError> {
    match jws.claim_str("ath") {
        None => Err(invalid(
            "The DPoP proof must have 'ath', the hash of the access token",
        )),
        Some(ath) if ath != sha256_b64url(token) => Err(invalid(
            "The DPoP proof's ath does not match the access token",
        )),
        Some(_) => Ok(()),
    }
}

/// The proof carries a current nonce of `nonces`; else the client is to retry with a new one.
fn check_nonce(
    jws: &UnverifiedJws<'_>,
    nonces: &NonceIssuer,
    now: DateTime<Utc>,
) -> Result<(), ProofError> {
    match jws.claims.get("nonce").and_then(Value::as_str) {
        None => Err(ProofError::UseNonce(
            "The DPoP proof must contain a nonce: retry with the value of the DPoP-Nonce \
             response header"
                .to_owned(),
        )),
        Some(nonce) if !nonces.is_valid(nonce, now) => Err(ProofError::UseNonce(
            "The DPoP proof's nonce is unknown or expired: retry with the value of the \
             DPoP-Nonce response header"
                .to_owned(),
        )),
        Some(_) => Ok(()),
    }
}

/// URL equality for `htu`: scheme, host, port and path; query and fragment ignored.
fn same_url(a: &str, b: &str) -> bool {
    match (url::Url::parse(a), url::Url::parse(b)) {
        (Ok(a), Ok(b)) => {
            a.scheme() == b.scheme()
                && a.host_str() == b.host_str()
                && a.port_or_known_default() == b.port_or_known_default()
                && a.path() == b.path()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn nonces_expire_and_cannot_be_forged() {
        let issuer = NonceIssuer::new();
        let nonce = issuer.issue(t(0));
        assert!(issuer.is_valid(&nonce, t(0)));
        assert!(issuer.is_valid(&nonce, t(300)));
        assert!(!issuer.is_valid(&nonce, t(301)));
        assert!(!NonceIssuer::new().is_valid(&nonce, t(0)), "another key");
        issuer.rotate();
        assert!(!issuer.is_valid(&nonce, t(0)), "rotated");
        assert!(issuer.is_valid(&issuer.issue(t(0)), t(0)));
        assert!(!issuer.is_valid("bm9wZQ", t(0)));
        assert!(!issuer.is_valid("", t(0)));
    }

    /// A compact JWS with these claims (its signature is not looked at).
    fn token(claims: &Value) -> String {
        let b64 = |text: String| URL_SAFE_NO_PAD.encode(text);
        format!(
            "{}.{}.c2ln",
            b64(r#"{"typ":"dpop+jwt","alg":"ES256"}"#.to_owned()),
            b64(claims.to_string())
        )
    }

    #[test]
    fn a_proof_is_fresh_for_a_minute_with_ten_seconds_of_skew() {
        let age = |iat: i64, now: i64| {
            let token = token(&serde_json::json!({ "iat": t(iat).timestamp() }));
            proof_time(&UnverifiedJws::parse(&token).unwrap(), t(now))
        };
        assert_eq!(age(0, 70), Ok(t(0)));
        assert_eq!(age(10, 0), Ok(t(10)));
        assert_eq!(
            age(11, 0),
            Err(invalid("The DPoP proof's iat is in the future"))
        );
        assert!(matches!(age(0, 71), Err(ProofError::Invalid(m)) if m.contains("too old")));
    }

    #[test]
    fn ath_and_nonce_are_checked_with_their_own_errors() {
        let issuer = NonceIssuer::new();
        let nonce = issuer.issue(t(0));
        let ath = sha256_b64url("the-token");
        let proof = token(&serde_json::json!({ "ath": ath, "nonce": nonce }));
        let jws = UnverifiedJws::parse(&proof).unwrap();
        assert_eq!(check_access_token_hash(&jws, "the-token"), Ok(()));
        assert_eq!(
            check_access_token_hash(&jws, "another-token"),
            Err(invalid(
                "The DPoP proof's ath does not match the access token"
            ))
        );
        assert_eq!(check_nonce(&jws, &issuer, t(0)), Ok(()));
        assert!(matches!(
            check_nonce(&jws, &NonceIssuer::new(), t(0)),
            Err(ProofError::UseNonce(_))
        ));
        let bare = token(&serde_json::json!({}));
        let bare = UnverifiedJws::parse(&bare).unwrap();
        assert!(matches!(
            check_access_token_hash(&bare, "the-token"),
            Err(ProofError::Invalid(_))
        ));
        assert!(matches!(
            check_nonce(&bare, &issuer, t(0)),
            Err(ProofError::UseNonce(m)) if m.starts_with("The DPoP proof must contain a nonce")
        ));
    }

    #[test]
    fn htu_comparison_ignores_query_and_default_port() {
        assert!(same_url("http://localhost:80/t?x=1", "http://localhost/t"));
        assert!(same_url("HTTP://LOCALHOST/t", "http://localhost/t"));
        assert!(!same_url("https://localhost/t", "http://localhost/t"));
        assert!(!same_url("http://localhost/t/", "http://localhost/t"));
        assert!(!same_url("/t", "/t"));
    }
}
