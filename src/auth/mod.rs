//! Verification of HelseID access tokens at the simulated APIs: signature against helsesim's
//! keys, issuer, audience, expiry, scope and DPoP binding. Each service maps [`AuthError`] to
//! its own error format.

pub mod claims;
pub mod clients;
pub mod dpop;
pub mod http;
mod verified;

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value};

use crate::jose::{SigningAlg, UnverifiedJws};
use crate::keys::SigningKeys;
use crate::store::ReplayCache;
use dpop::{ProofError, ProofExpectations, validate_proof};

/// The longest `jti` (client assertion, DPoP proof) accepted: the replay caches keep every
/// `jti` for a minute or two, and must not be filled with huge ones.
pub const MAX_JTI_BYTES: usize = 256;

/// Leeway for clock differences in every time comparison.
pub const CLOCK_SKEW: TimeDelta = TimeDelta::seconds(10);

/// Whether an API demands DPoP-bound tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DpopPolicy {
    /// Bearer and DPoP tokens are both accepted (a DPoP-bound token still needs its proof).
    Allowed,
    /// Only DPoP-bound tokens used with `Authorization: DPoP` and a proof.
    Required,
}

/// What an API requires of a token.
#[derive(Debug, Clone, Copy)]
pub struct Requirements<'a> {
    /// The audience the token must have (`None`: any, as at userinfo).
    pub audience: Option<&'a str>,
    /// The token must have at least one of these scopes.
    pub any_scope: &'a [&'a str],
    /// Whether the API's audience must be the token's only audience.
    pub single_audience: bool,
    /// DPoP policy.
    pub dpop: DpopPolicy,
}

/// The request facts verification needs.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// The `Authorization` header.
    pub authorization: Option<&'a str>,
    /// The `DPoP` header.
    pub dpop: Option<&'a str>,
    /// The HTTP method.
    pub method: &'a str,
    /// Acceptable `htu` values for a proof.
    pub urls: &'a [String],
}

/// A token that passed every check.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    /// All claims (shared with the remembered token: a call does not copy them).
    pub claims: Arc<Map<String, Value>>,
    /// The DPoP key thumbprint, for DPoP-bound tokens.
    pub jkt: Option<String>,
}

impl VerifiedToken {
    /// A string claim.
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }
}

/// Why a token was refused; `www_authenticate` gives the RFC 6750 / RFC 9449 challenge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error(
        "No access token: send 'Authorization: Bearer <token>' (or 'DPoP <token>' with a DPoP \
         proof)"
    )]
    Missing,
    /// Not `Bearer` or `DPoP`.
    #[error("The Authorization header must use the Bearer or DPoP scheme")]
    BadScheme,
    /// Not a JWT, unknown key, bad signature.
    #[error("The access token is not valid: {0}")]
    Invalid(String),
    /// Wrong issuer.
    #[error("The access token's issuer '{found}' is not {expected}")]
    WrongIssuer {
        /// What the token says.
        found: String,
        /// The issuer helsesim expects.
        expected: String,
    },
    /// Wrong or extra audience.
    #[error("{0}")]
    WrongAudience(String),
    /// Expired.
    #[error("The access token expired at {0}")]
    Expired(String),
    /// Not yet valid.
    #[error("The access token is not valid before {0}")]
    NotYetValid(String),
    /// Issued in the future (beyond the clock skew).
    #[error("The access token was issued in the future ({0}): check the token issuer's clock")]
    IssuedInFuture(String),
    /// Missing scope.
    #[error("The access token lacks the scope {0}")]
    MissingScope(String),
    /// DPoP is required but the token is a bearer token or sent as one.
    #[error("{0}")]
    DpopRequired(String),
    /// The DPoP proof is missing, invalid or does not match the token.
    #[error("{0}")]
    InvalidProof(String),
}

impl AuthError {
    /// The `WWW-Authenticate` challenge for this error, to a request that used `used` (RFC 9449
    /// §7.1–7.2): a `DPoP` challenge where the API requires DPoP, where the request used the DPoP
    /// scheme and where the refusal is about DPoP itself; a `Bearer` one (RFC 6750) otherwise.
    pub fn www_authenticate(&self, dpop: DpopPolicy, used: Option<Scheme>) -> String {
        let code = match self {
            AuthError::Missing | AuthError::BadScheme => None,
            AuthError::MissingScope(_) => Some("insufficient_scope"),
            AuthError::InvalidProof(_) => Some("invalid_dpop_proof"),
            _ => Some("invalid_token"),
        };
        let scheme = match (dpop, used, self) {
            (DpopPolicy::Required, _, _)
            | (_, Some(Scheme::Dpop), _)
            | (_, _, AuthError::InvalidProof(_) | AuthError::DpopRequired(_)) => Scheme::Dpop,
            _ => Scheme::Bearer,
        };
        challenge(scheme, code, &self.to_string())
    }
}

impl AuthError {
    /// An expiry that also names helsesim's clock, and how far `/_admin/clock` moved it from
    /// this machine's: a token fetched before the clock moved then explains itself.
    pub fn with_clock(self, now: DateTime<Utc>, offset: TimeDelta) -> Self {
        match self {
            AuthError::Expired(at) => AuthError::Expired(format!(
                "{at} (helsesim's clock: {}{})",
                now.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
                if offset.is_zero() {
                    String::new()
                } else {
                    format!(
                        ", moved {} from this machine's clock: tokens fetched before the clock \
                         moved expire with it, fetch new ones",
                        describe_offset(offset)
                    )
                }
            )),
            other => other,
        }
    }
}

/// An offset in words: "+366 d 2 h", "-5 min".
pub fn describe_offset(offset: TimeDelta) -> String {
    let sign = if offset < TimeDelta::zero() { '-' } else { '+' };
    let total = offset.num_seconds().unsigned_abs();
    let parts: Vec<String> = [
        (total / 86_400, "d"),
        (total % 86_400 / 3600, "h"),
        (total % 3600 / 60, "min"),
        (total % 60, "s"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, unit)| format!("{n} {unit}"))
    .collect();
    if parts.is_empty() {
        format!("{sign}0 s")
    } else {
        format!("{sign}{}", parts.join(" "))
    }
}

/// The scheme of an `Authorization` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `Bearer` (RFC 6750).
    Bearer,
    /// `DPoP` (RFC 9449).
    Dpop,
}

impl Scheme {
    /// The scheme of an `Authorization` header value; `None` when absent or another scheme.
    pub fn of(authorization: Option<&str>) -> Option<Scheme> {
        let scheme = authorization?.split(' ').next()?;
        if scheme.eq_ignore_ascii_case("DPoP") {
            Some(Scheme::Dpop)
        } else if scheme.eq_ignore_ascii_case("Bearer") {
            Some(Scheme::Bearer)
        } else {
            None
        }
    }
}

/// A `WWW-Authenticate` challenge: with an error `code` and its description, or a bare
/// `realm` challenge. Every DPoP challenge names the proof algorithms accepted (`algs`,
/// RFC 9449 §7.1).
pub fn challenge(scheme: Scheme, code: Option<&str>, description: &str) -> String {
    let description = description.replace(['"', '\\'], "'");
    let mut value = match (scheme, code) {
        (Scheme::Bearer, Some(code)) => {
            format!("Bearer error=\"{code}\", error_description=\"{description}\"")
        }
        (Scheme::Bearer, None) => "Bearer realm=\"helsesim\"".to_owned(),
        (Scheme::Dpop, Some(code)) => {
            format!("DPoP error=\"{code}\", error_description=\"{description}\"")
        }
        (Scheme::Dpop, None) => "DPoP realm=\"helsesim\"".to_owned(),
    };
    if scheme == Scheme::Dpop {
        value.push_str(&format!(", algs=\"{}\"", SigningAlg::names().join(" ")));
    }
    value
}

/// Verifies tokens issued by helsesim's HelseID.
#[derive(Debug)]
pub struct TokenVerifier {
    issuer: String,
    keys: Arc<SigningKeys>,
    proof_jtis: ReplayCache,
    verified: verified::VerifiedTokens,
}

impl TokenVerifier {
    /// A verifier for tokens of `issuer` signed by one of the published `keys` (as they rotate).
    pub fn new(issuer: String, keys: Arc<SigningKeys>) -> Self {
        Self {
            issuer,
            keys,
            proof_jtis: ReplayCache::default(),
            verified: verified::VerifiedTokens::default(),
        }
    }

    /// Checks the token (and proof) of a request against `required`.
    pub fn verify(
        &self,
        request: &RequestParts<'_>,
        required: &Requirements<'_>,
        now: DateTime<Utc>,
    ) -> Result<VerifiedToken, AuthError> {
        let authorization = request.authorization.ok_or(AuthError::Missing)?;
        let (scheme, token) = authorization
            .split_once(' ')
            .map(|(s, t)| (s, t.trim()))
            .ok_or(AuthError::BadScheme)?;
        let dpop_scheme = if scheme.eq_ignore_ascii_case("DPoP") {
            true
        } else if scheme.eq_ignore_ascii_case("Bearer") {
            false
        } else {
            return Err(AuthError::BadScheme);
        };
        let claims = self.verify_token(token, required, now)?;
        let jkt = claims
            .get("cnf")
            .and_then(|c| c.get("jkt"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        match (&jkt, dpop_scheme) {
            (None, true) => {
                return Err(AuthError::InvalidProof(
                    "The token is a bearer token (no cnf.jkt): send it as 'Authorization: Bearer'"
                        .to_owned(),
                ));
            }
            (None, false) if required.dpop == DpopPolicy::Required => {
                return Err(AuthError::DpopRequired(
                    "This API requires a DPoP-bound access token: request the token with a DPoP \
                     proof and send it as 'Authorization: DPoP <token>' with a DPoP header"
                        .to_owned(),
                ));
            }
            (Some(_), false) => {
                return Err(AuthError::DpopRequired(
                    "The token is DPoP-bound: send it as 'Authorization: DPoP <token>' together \
                     with a DPoP proof, not as a bearer token"
                        .to_owned(),
                ));
            }
            _ => {}
        }
        if let Some(jkt) = &jkt {
            let proof = request.dpop.ok_or_else(|| {
                AuthError::InvalidProof(
                    "A DPoP-bound token needs a DPoP proof in the DPoP header".to_owned(),
                )
            })?;
            let expected = ProofExpectations {
                method: request.method,
                urls: request.urls,
                access_token: Some(token),
                nonces: None,
            };
            let valid = validate_proof(proof, &expected, now).map_err(|e| match e {
                ProofError::Invalid(m) | ProofError::UseNonce(m) => AuthError::InvalidProof(m),
            })?;
            if &valid.jkt != jkt {
                return Err(AuthError::InvalidProof(
                    "The DPoP proof is signed with another key than the one the token is bound to \
                     (cnf.jkt)"
                        .to_owned(),
                ));
            }
            if !self
                .proof_jtis
                .insert(&valid.jti, valid.remember_until, now)
            {
                return Err(AuthError::InvalidProof(
                    "The DPoP proof has been used before: create a new proof (new jti) for every \
                     request"
                        .to_owned(),
                ));
            }
        }
        Ok(VerifiedToken { claims, jkt })
    }

    /// Checks an access token issued by helsesim: `typ` `at+jwt` (an id token is not an access
    /// token), signature, issuer, expiry and not-before (no audience or scope); returns its claims.
    pub fn verify_any(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Arc<Map<String, Value>>, AuthError> {
        let (typ, claims) = self.verify_jws(token)?;
        if !typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("at+jwt"))
        {
            return Err(AuthError::Invalid(format!(
                "it is not an access token (typ '{}', an access token has at+jwt)",
                typ.unwrap_or_default()
            )));
        }
        let skew = CLOCK_SKEW.num_seconds();
        let exp = numeric_date(&claims, "exp")?
            .ok_or_else(|| AuthError::Invalid("it has no exp".to_owned()))?;
        if now.timestamp() > exp.saturating_add(skew) {
            return Err(AuthError::Expired(timestamp(exp)));
        }
        if let Some(nbf) = numeric_date(&claims, "nbf")?
            && nbf > now.timestamp().saturating_add(skew)
        {
            return Err(AuthError::NotYetValid(timestamp(nbf)));
        }
        if let Some(iat) = numeric_date(&claims, "iat")?
            && iat > now.timestamp().saturating_add(skew)
        {
            return Err(AuthError::IssuedInFuture(timestamp(iat)));
        }
        Ok(claims)
    }

    /// Checks only that helsesim's HelseID signed the token (signature and issuer), whatever its
    /// type and times: for id token hints at logout and tokens being revoked.
    pub fn verify_signed(&self, token: &str) -> Result<Arc<Map<String, Value>>, AuthError> {
        self.verify_jws(token).map(|(_, claims)| claims)
    }

    /// Signature and issuer; returns the header's `typ` and the claims. A token that verified
    /// before under the current keys is not checked again (see [`verified`]).
    fn verify_jws(&self, token: &str) -> Result<verified::Verified, AuthError> {
        let keys = self.keys.snapshot();
        if let Some(known) = self.verified.get(token, &keys) {
            return Ok(known);
        }
        let jws = UnverifiedJws::parse(token).map_err(|e| AuthError::Invalid(e.to_string()))?;
        if jws.header_str("alg") != Some("RS256") {
            return Err(AuthError::Invalid(
                "it must be signed with RS256 by HelseID".to_owned(),
            ));
        }
        let kid = jws.header_str("kid");
        let verified = keys
            .verification_keys()
            .iter()
            .filter(|k| kid.is_none_or(|kid| k.kid() == Some(kid)))
            .any(|k| jws.verify_with(k, SigningAlg::RS256));
        if !verified {
            return Err(AuthError::Invalid(
                "the signature does not verify with any key in helsesim's JWKS".to_owned(),
            ));
        }
        let iss = jws.claim_str("iss").unwrap_or_default();
        if iss != self.issuer {
            return Err(AuthError::WrongIssuer {
                found: iss.to_owned(),
                expected: self.issuer.clone(),
            });
        }
        let typ = jws.header_str("typ").map(str::to_owned);
        let result = (typ, Arc::new(jws.claims));
        self.verified.insert(token, &keys, result.clone());
        Ok(result)
    }

    fn verify_token(
        &self,
        token: &str,
        required: &Requirements<'_>,
        now: DateTime<Utc>,
    ) -> Result<Arc<Map<String, Value>>, AuthError> {
        let claims = self.verify_any(token, now)?;
        if let Some(audience) = required.audience {
            let audiences = audiences(&claims);
            if !audiences.contains(&audience) {
                return Err(AuthError::WrongAudience(format!(
                    "The access token's audience {audiences:?} does not include {audience}"
                )));
            }
            if required.single_audience && audiences.len() > 1 {
                return Err(AuthError::WrongAudience(format!(
                    "The access token has several audiences {audiences:?}: this API requires a \
                     token whose only audience is {audience}"
                )));
            }
        }
        let scopes = scopes(&claims);
        if !required.any_scope.iter().any(|s| scopes.contains(s)) {
            return Err(AuthError::MissingScope(required.any_scope.join(" or ")));
        }
        Ok(claims)
    }
}

/// A JWT NumericDate claim (RFC 7519 §2: seconds since the epoch) as whole seconds; `None` when
/// absent; an error naming the claim when it is not a number of seconds a date can have.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, AuthError> {
    let Some(value) = claims.get(name) else {
        return Ok(None);
    };
    let seconds = match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite())
                .map(|f| f.floor() as i64)
        }),
        _ => None,
    };
    match seconds {
        Some(s) if DateTime::from_timestamp(s, 0).is_some() => Ok(Some(s)),
        _ => Err(AuthError::Invalid(format!(
            "its {name} must be a date in seconds since the epoch, got {value}"
        ))),
    }
}

/// A token's audiences (`aud` as a string or an array).
pub fn audiences(claims: &Map<String, Value>) -> Vec<&str> {
    match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// A token's scopes (`scope` as an array or a space-separated string).
pub fn scopes(claims: &Map<String, Value>) -> Vec<&str> {
    match claims.get("scope") {
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(s)) => s.split_whitespace().collect(),
        _ => Vec::new(),
    }
}

fn timestamp(seconds: i64) -> String {
    DateTime::from_timestamp(seconds, 0)
        .map(|t| t.to_rfc3339())
        .unwrap_or_else(|| seconds.to_string())
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::jwk::Jwk;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use serde_json::json;

    use super::*;
    use crate::jose::{TokenSigner, sha256_b64url};

    const ISSUER: &str = "http://localhost:8080/helseid";
    const URL: &str = "http://localhost:8080/pts/access-restrictions/patient-safety";

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn signer() -> TokenSigner {
        let key =
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
                .unwrap();
        TokenSigner::from_pkcs8_pem(&key.serialize_pem()).unwrap()
    }

    fn verifier(signer: &TokenSigner) -> TokenVerifier {
        let jwk = signer.public_jwk().clone();
        let keys = SigningKeys::new(TokenSigner::generate().unwrap(), vec![jwk]).unwrap();
        TokenVerifier::new(ISSUER.to_owned(), Arc::new(keys))
    }

    fn claims(extra: Value) -> Value {
        let mut claims = json!({
            "iss": ISSUER,
            "aud": "nhn:pts",
            "scope": ["nhn:pts/api"],
            "iat": now().timestamp(),
            "nbf": now().timestamp(),
            "exp": now().timestamp() + 600,
            "client_id": "c",
        });
        for (k, v) in extra.as_object().unwrap() {
            claims[k] = v.clone();
        }
        claims
    }

    const PTS: Requirements<'static> = Requirements {
        audience: Some("nhn:pts"),
        any_scope: &["nhn:pts/api"],
        single_audience: true,
        dpop: DpopPolicy::Allowed,
    };

    fn check(
        verifier: &TokenVerifier,
        authorization: &str,
        dpop: Option<&str>,
        required: &Requirements<'_>,
    ) -> Result<VerifiedToken, AuthError> {
        let urls = [URL.to_owned()];
        let request = RequestParts {
            authorization: Some(authorization),
            dpop,
            method: "POST",
            urls: &urls,
        };
        verifier.verify(&request, required, now())
    }

    struct DpopKey {
        key: EncodingKey,
        jwk: Jwk,
    }

    fn dpop_key() -> DpopKey {
        let pair = rcgen::KeyPair::generate().unwrap();
        let key = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap();
        let jwk = Jwk::from_encoding_key(&key, Algorithm::ES256).unwrap();
        DpopKey { key, jwk }
    }

    fn proof(key: &DpopKey, token: &str, jti: &str) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("dpop+jwt".to_owned());
        header.jwk = Some(key.jwk.clone());
        let claims = json!({
            "jti": jti,
            "htm": "POST",
            "htu": URL,
            "iat": now().timestamp(),
            "ath": sha256_b64url(token)
        });
        jsonwebtoken::encode(&header, &claims, &key.key).unwrap()
    }

    fn thumbprint(key: &DpopKey) -> String {
        key.jwk
            .thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
            .unwrap()
    }

    #[test]
    fn a_remembered_token_still_expires_and_fails_once_its_key_is_retired() {
        let signer = signer();
        let token = signer.sign("at+jwt", &claims(json!({}))).unwrap();
        let bearer = format!("Bearer {token}");
        let verifier = verifier(&signer);
        for _ in 0..2 {
            check(&verifier, &bearer, None, &PTS).unwrap();
        }
        // Times and audience are checked on every request, from the remembered claims.
        let urls = [URL.to_owned()];
        let request = RequestParts {
            authorization: Some(&bearer),
            dpop: None,
            method: "POST",
            urls: &urls,
        };
        let later = now() + TimeDelta::seconds(3600);
        assert!(matches!(
            verifier.verify(&request, &PTS, later),
            Err(AuthError::Expired(_))
        ));
        let sfm = Requirements {
            audience: Some("e-helse:sfm.api"),
            ..PTS
        };
        assert!(matches!(
            check(&verifier, &bearer, None, &sfm),
            Err(AuthError::WrongAudience(_))
        ));
        // A token of helsesim's own signing key, remembered, fails once that key is retired.
        use crate::keys::rotation::Phase;
        let own = verifier
            .keys
            .snapshot()
            .signer()
            .sign("at+jwt", &claims(json!({})));
        let own = format!("Bearer {}", own.unwrap());
        check(&verifier, &own, None, &PTS).unwrap();
        verifier.keys.apply(Phase::Switch).unwrap();
        check(&verifier, &own, None, &PTS).unwrap();
        verifier.keys.apply(Phase::Retire).unwrap();
        assert!(matches!(
            check(&verifier, &own, None, &PTS),
            Err(AuthError::Invalid(m)) if m.contains("does not verify")
        ));
    }

    #[test]
    fn a_valid_bearer_token_passes() {
        let signer = signer();
        let token = signer.sign("at+jwt", &claims(json!({}))).unwrap();
        let verified = check(&verifier(&signer), &format!("Bearer {token}"), None, &PTS).unwrap();
        assert_eq!(verified.claim_str("client_id"), Some("c"));
        assert_eq!(verified.jkt, None);
        // The scheme is case-insensitive.
        assert!(check(&verifier(&signer), &format!("bearer {token}"), None, &PTS).is_ok());
    }

    #[test]
    fn every_token_rule_has_its_error() {
        let signer = signer();
        let v = verifier(&signer);
        let sign =
            |extra: Value| format!("Bearer {}", signer.sign("at+jwt", &claims(extra)).unwrap());
        let t = now().timestamp();
        let other = signer_token_from_other_key();
        let cases: Vec<(String, AuthError)> = vec![
            ("Basic abc".to_owned(), AuthError::BadScheme),
            ("Bearer".to_owned(), AuthError::BadScheme),
            (
                "Bearer abc".to_owned(),
                AuthError::Invalid(
                    "not a compact JWS (expected three base64url parts separated by dots)"
                        .to_owned(),
                ),
            ),
            (
                format!("Bearer {other}"),
                AuthError::Invalid(
                    "the signature does not verify with any key in helsesim's JWKS".to_owned(),
                ),
            ),
            (
                sign(json!({"iss": "https://helseid-sts.test.nhn.no"})),
                AuthError::WrongIssuer {
                    found: "https://helseid-sts.test.nhn.no".to_owned(),
                    expected: ISSUER.to_owned(),
                },
            ),
            (
                sign(json!({"aud": "e-helse:sfm.api"})),
                AuthError::WrongAudience(
                    "The access token's audience [\"e-helse:sfm.api\"] does not include nhn:pts"
                        .to_owned(),
                ),
            ),
            (
                sign(json!({"aud": ["nhn:pts", "nhn:kjernejournal"]})),
                AuthError::WrongAudience(
                    "The access token has several audiences [\"nhn:pts\", \"nhn:kjernejournal\"]: \
                     this API requires a token whose only audience is nhn:pts"
                        .to_owned(),
                ),
            ),
            (
                sign(json!({"exp": t - 11})),
                AuthError::Expired("2027-01-15T07:59:49+00:00".to_owned()),
            ),
            (
                sign(json!({"nbf": t + 11})),
                AuthError::NotYetValid("2027-01-15T08:00:11+00:00".to_owned()),
            ),
            (
                sign(json!({"scope": ["nhn:pts/other"]})),
                AuthError::MissingScope("nhn:pts/api".to_owned()),
            ),
        ];
        for (authorization, expected) in cases {
            assert_eq!(
                check(&v, &authorization, None, &PTS).unwrap_err(),
                expected,
                "{authorization}"
            );
        }
        assert_eq!(check_missing(&v).unwrap_err(), AuthError::Missing);
        // Clock skew: 10 seconds either way is tolerated.
        assert!(check(&v, &sign(json!({"exp": t - 10, "nbf": t + 10})), None, &PTS).is_ok());
        // A space-separated scope string is read too.
        assert!(
            check(
                &v,
                &sign(json!({"scope": "openid nhn:pts/api"})),
                None,
                &PTS
            )
            .is_ok()
        );
    }

    fn check_missing(v: &TokenVerifier) -> Result<VerifiedToken, AuthError> {
        let urls = [URL.to_owned()];
        let request = RequestParts {
            authorization: None,
            dpop: None,
            method: "POST",
            urls: &urls,
        };
        v.verify(&request, &PTS, now())
    }

    fn signer_token_from_other_key() -> String {
        signer().sign("at+jwt", &claims(json!({}))).unwrap()
    }

    #[test]
    fn dpop_bound_tokens_need_the_dpop_scheme_and_a_matching_proof() {
        let signer = signer();
        let v = verifier(&signer);
        let key = dpop_key();
        let token = signer
            .sign("at+jwt", &claims(json!({"cnf": {"jkt": thumbprint(&key)}})))
            .unwrap();
        let dpop = format!("DPoP {token}");

        let verified = check(&v, &dpop, Some(&proof(&key, &token, "1")), &PTS).unwrap();
        assert_eq!(verified.jkt, Some(thumbprint(&key)));

        // The same proof again is a replay.
        let err = check(&v, &dpop, Some(&proof(&key, &token, "1")), &PTS).unwrap_err();
        assert_eq!(
            err,
            AuthError::InvalidProof(
                "The DPoP proof has been used before: create a new proof (new jti) for every \
                 request"
                    .to_owned()
            )
        );
        // Sent as a bearer token.
        let err = check(&v, &format!("Bearer {token}"), None, &PTS).unwrap_err();
        assert!(
            matches!(
                err,
                AuthError::DpopRequired(ref m) if m.starts_with("The token is DPoP-bound")
            ),
            "{err:?}"
        );
        // Without a proof.
        let err = check(&v, &dpop, None, &PTS).unwrap_err();
        assert_eq!(
            err,
            AuthError::InvalidProof(
                "A DPoP-bound token needs a DPoP proof in the DPoP header".to_owned()
            )
        );
        // A proof by another key.
        let err = check(&v, &dpop, Some(&proof(&dpop_key(), &token, "2")), &PTS).unwrap_err();
        assert_eq!(
            err,
            AuthError::InvalidProof(
                "The DPoP proof is signed with another key than the one the token is bound to \
                 (cnf.jkt)"
                    .to_owned()
            )
        );
        // A proof for another token (ath).
        let err = check(&v, &dpop, Some(&proof(&key, "another-token", "3")), &PTS).unwrap_err();
        assert_eq!(
            err,
            AuthError::InvalidProof(
                "The DPoP proof's ath does not match the access token".to_owned()
            )
        );
    }

    #[test]
    fn an_api_requiring_dpop_refuses_bearer_tokens() {
        let signer = signer();
        let v = verifier(&signer);
        let required = Requirements {
            dpop: DpopPolicy::Required,
            ..PTS
        };
        let token = signer.sign("at+jwt", &claims(json!({}))).unwrap();
        let err = check(&v, &format!("Bearer {token}"), None, &required).unwrap_err();
        assert!(
            matches!(err, AuthError::DpopRequired(ref m) if m.starts_with("This API requires a \
                DPoP-bound access token")),
            "{err:?}"
        );
        assert_eq!(
            err.www_authenticate(DpopPolicy::Required, Some(Scheme::Bearer)),
            format!("DPoP error=\"invalid_token\", error_description=\"{err}\", algs=\"{ALGS}\"")
        );
        let err = check(&v, &format!("DPoP {token}"), None, &required).unwrap_err();
        assert_eq!(
            err,
            AuthError::InvalidProof(
                "The token is a bearer token (no cnf.jkt): send it as 'Authorization: Bearer'"
                    .to_owned()
            )
        );
    }

    const ALGS: &str = "RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512";

    #[test]
    fn challenges_follow_rfc_6750() {
        assert_eq!(
            AuthError::Missing.www_authenticate(DpopPolicy::Allowed, None),
            "Bearer realm=\"helsesim\""
        );
        assert_eq!(
            AuthError::MissingScope("x".to_owned())
                .www_authenticate(DpopPolicy::Allowed, Some(Scheme::Bearer)),
            "Bearer error=\"insufficient_scope\", error_description=\"The access token lacks the \
             scope x\""
        );
    }

    /// RFC 9449 §7.1: a request made with the DPoP scheme gets a DPoP challenge, and every DPoP
    /// challenge names the algorithms.
    #[test]
    fn dpop_requests_get_dpop_challenges_with_algs() {
        let expired = AuthError::Expired("2024-05-23T13:29:25Z".to_owned());
        assert_eq!(
            expired.www_authenticate(DpopPolicy::Allowed, Some(Scheme::Dpop)),
            format!(
                "DPoP error=\"invalid_token\", error_description=\"{expired}\", algs=\"{ALGS}\""
            )
        );
        assert_eq!(
            expired.www_authenticate(DpopPolicy::Allowed, Some(Scheme::Bearer)),
            format!("Bearer error=\"invalid_token\", error_description=\"{expired}\"")
        );
        assert_eq!(
            AuthError::Missing.www_authenticate(DpopPolicy::Required, None),
            format!("DPoP realm=\"helsesim\", algs=\"{ALGS}\"")
        );
        assert_eq!(Scheme::of(Some("dpop abc")), Some(Scheme::Dpop));
        assert_eq!(Scheme::of(Some("Basic abc")), None);
        assert_eq!(
            challenge(Scheme::Bearer, Some("invalid_token"), "a \"quoted\\ text"),
            "Bearer error=\"invalid_token\", error_description=\"a 'quoted' text\""
        );
    }

    #[test]
    fn an_expiry_names_helsesims_clock_and_its_offset() {
        let now = DateTime::parse_from_rfc3339("2027-03-02T10:00:00Z")
            .map(|t| t.to_utc())
            .unwrap_or_default();
        let expired = AuthError::Expired("2026-03-02T10:10:00+00:00".to_owned());
        assert_eq!(
            expired
                .clone()
                .with_clock(now, TimeDelta::zero())
                .to_string(),
            "The access token expired at 2026-03-02T10:10:00+00:00 (helsesim's clock: \
             2027-03-02T10:00:00+00:00)"
        );
        assert_eq!(
            expired
                .with_clock(now, TimeDelta::days(365) + TimeDelta::minutes(3))
                .to_string(),
            "The access token expired at 2026-03-02T10:10:00+00:00 (helsesim's clock: \
             2027-03-02T10:00:00+00:00, moved +365 d 3 min from this machine's clock: tokens \
             fetched before the clock moved expire with it, fetch new ones)"
        );
        assert_eq!(describe_offset(TimeDelta::seconds(-300)), "-5 min");
        assert_eq!(describe_offset(TimeDelta::zero()), "+0 s");
    }
}
