//! Verification of HelseID access tokens at the simulated APIs: signature against helsesim's
//! keys, issuer, audience, expiry, scope and DPoP binding. Each service maps [`AuthError`] to
//! its own error format.

pub mod dpop;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value};

use crate::jose::{PublicJwk, SigningAlg, UnverifiedJws};
use crate::store::ReplayCache;
use dpop::{ProofError, ProofExpectations, validate_proof};

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
    /// The audience the token must have.
    pub audience: &'a str,
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
    /// All claims.
    pub claims: Map<String, Value>,
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
        "No access token: send 'Authorization: Bearer <token>' (or 'DPoP <token>' with a DPoP proof)"
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
    /// The `WWW-Authenticate` challenge for this error.
    pub fn www_authenticate(&self, dpop: DpopPolicy) -> String {
        let (code, description) = match self {
            AuthError::Missing | AuthError::BadScheme => (None, self.to_string()),
            AuthError::MissingScope(_) => (Some("insufficient_scope"), self.to_string()),
            AuthError::InvalidProof(_) => (Some("invalid_dpop_proof"), self.to_string()),
            _ => (Some("invalid_token"), self.to_string()),
        };
        let scheme = match (dpop, self) {
            (DpopPolicy::Required, _) | (_, AuthError::InvalidProof(_)) => "DPoP",
            _ => "Bearer",
        };
        let description = description.replace('"', "'");
        match code {
            Some(code) => format!("{scheme} error=\"{code}\", error_description=\"{description}\""),
            None => format!("{scheme} realm=\"helsesim\""),
        }
    }
}

/// Verifies tokens issued by helsesim's HelseID.
#[derive(Debug)]
pub struct TokenVerifier {
    issuer: String,
    keys: Vec<PublicJwk>,
    proof_jtis: ReplayCache,
}

impl TokenVerifier {
    /// A verifier for tokens of `issuer` signed by one of `keys`.
    pub fn new(issuer: String, keys: Vec<PublicJwk>) -> Self {
        Self {
            issuer,
            keys,
            proof_jtis: ReplayCache::default(),
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
                    "This API requires a DPoP-bound access token: request the token with a DPoP proof and send it as 'Authorization: DPoP <token>' with a DPoP header".to_owned(),
                ));
            }
            (Some(_), false) => {
                return Err(AuthError::DpopRequired(
                    "The token is DPoP-bound: send it as 'Authorization: DPoP <token>' together with a DPoP proof, not as a bearer token".to_owned(),
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
                    "The DPoP proof is signed with another key than the one the token is bound to (cnf.jkt)".to_owned(),
                ));
            }
            if !self
                .proof_jtis
                .insert(&valid.jti, valid.remember_until, now)
            {
                return Err(AuthError::InvalidProof(
                    "The DPoP proof has been used before: create a new proof (new jti) for every request".to_owned(),
                ));
            }
        }
        Ok(VerifiedToken { claims, jkt })
    }

    fn verify_token(
        &self,
        token: &str,
        required: &Requirements<'_>,
        now: DateTime<Utc>,
    ) -> Result<Map<String, Value>, AuthError> {
        let jws = UnverifiedJws::parse(token).map_err(|e| AuthError::Invalid(e.to_string()))?;
        if jws.header_str("alg") != Some("RS256") {
            return Err(AuthError::Invalid(
                "it must be signed with RS256 by HelseID".to_owned(),
            ));
        }
        let kid = jws.header_str("kid");
        let verified = self
            .keys
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
        let audiences: Vec<&str> = match jws.claims.get("aud") {
            Some(Value::String(a)) => vec![a.as_str()],
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !audiences.contains(&required.audience) {
            return Err(AuthError::WrongAudience(format!(
                "The access token's audience {audiences:?} does not include {}",
                required.audience
            )));
        }
        if required.single_audience && audiences.len() > 1 {
            return Err(AuthError::WrongAudience(format!(
                "The access token has several audiences {audiences:?}: this API requires a token whose only audience is {}",
                required.audience
            )));
        }
        let exp = jws
            .claim_seconds("exp")
            .ok_or_else(|| AuthError::Invalid("it has no exp".to_owned()))?;
        if now.timestamp() > exp + CLOCK_SKEW.num_seconds() {
            return Err(AuthError::Expired(timestamp(exp)));
        }
        if let Some(nbf) = jws.claim_seconds("nbf")
            && nbf > now.timestamp() + CLOCK_SKEW.num_seconds()
        {
            return Err(AuthError::NotYetValid(timestamp(nbf)));
        }
        let scopes: Vec<&str> = match jws.claims.get("scope") {
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
            Some(Value::String(s)) => s.split_whitespace().collect(),
            _ => Vec::new(),
        };
        if !required.any_scope.iter().any(|s| scopes.contains(s)) {
            return Err(AuthError::MissingScope(required.any_scope.join(" or ")));
        }
        Ok(jws.claims)
    }
}

fn timestamp(seconds: i64) -> String {
    DateTime::from_timestamp(seconds, 0)
        .map(|t| t.to_rfc3339())
        .unwrap_or_else(|| seconds.to_string())
}
