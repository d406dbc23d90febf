//! private_key_jwt client authentication (RFC 7523), the only kind HelseID accepts.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value};

use super::Endpoints;
use super::HelseIdStore;
use super::form::FormParams;
use super::model::Client;
use crate::auth::CLOCK_SKEW;
use crate::errors::oauth::OAuthError;
use crate::jose::{SigningAlg, UnverifiedJws};
use crate::store::ReplayCache;

/// The only accepted `client_assertion_type`.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// How far ahead an assertion's `exp` may be.
pub const MAX_ASSERTION_LIFETIME: TimeDelta = TimeDelta::seconds(60);

/// A client whose assertion passed every check except the final replay bookkeeping.
#[derive(Debug, Clone)]
pub struct AuthenticatedClient {
    /// The client.
    pub client: Arc<Client>,
    /// `rsa_private_key` or `ec_private_key`: the kind of key that signed the assertion.
    pub key_amr: &'static str,
    /// The assertion's claims (organisation details live here).
    pub assertion: Map<String, Value>,
    /// The assertion's `jti`, to record once the request is accepted.
    pub jti: String,
    /// Until when the `jti` must be remembered.
    pub remember_until: DateTime<Utc>,
}

/// Authenticates the client of a token request by its `client_assertion`.
pub fn authenticate(
    params: &FormParams,
    authorization: Option<&str>,
    store: &HelseIdStore,
    endpoints: &Endpoints,
    used_jtis: &ReplayCache,
    now: DateTime<Utc>,
) -> Result<AuthenticatedClient, OAuthError> {
    check_no_client_secret(params, authorization)?;
    check_assertion_type(params)?;
    let token = params.get("client_assertion").ok_or_else(|| {
        OAuthError::invalid_client(
            "client_assertion is missing: sign a JWT with the client's private key \
             (private_key_jwt)",
        )
    })?;
    let jws = UnverifiedJws::parse(token).map_err(|e| {
        OAuthError::invalid_client(format!("The client_assertion is not a valid JWT: {e}"))
    })?;
    let alg = assertion_alg(&jws)?;
    let iss = assertion_issuer(&jws, params)?;
    let client = store
        .clients
        .get(iss)
        .cloned()
        .ok_or_else(|| OAuthError::invalid_client(format!("Unknown client '{iss}'")))?;

    let key = verify_client_signature(&jws, alg, &client, "client_assertion")
        .map_err(OAuthError::invalid_client)?;

    check_audience(&jws, endpoints)?;
    let exp = assertion_expiry(&jws, now)?;
    let jti = assertion_jti(&jws, iss)?;
    if used_jtis.contains(&jti, now) {
        return Err(replayed_assertion());
    }
    let key_amr = key.amr();
    Ok(AuthenticatedClient {
        client,
        key_amr,
        jti,
        remember_until: crate::clock::after(exp, CLOCK_SKEW),
        assertion: jws.claims,
    })
}

/// Client secrets, in an `Authorization: Basic` header or the form, are refused.
fn check_no_client_secret(
    params: &FormParams,
    authorization: Option<&str>,
) -> Result<(), OAuthError> {
    if authorization.is_some_and(|a| a.trim_start().to_ascii_lowercase().starts_with("basic")) {
        return Err(OAuthError::invalid_client(
            "HelseID accepts only private_key_jwt client authentication: client secrets \
             (client_secret_basic) are refused; send client_assertion and client_assertion_type \
             instead of an Authorization: Basic header",
        ));
    }
    if params.get("client_secret").is_some() {
        return Err(OAuthError::invalid_client(
            "HelseID accepts only private_key_jwt client authentication: client secrets \
             (client_secret_post) are refused; send client_assertion and client_assertion_type",
        ));
    }
    Ok(())
}

/// `client_assertion_type` is the JWT bearer type.
fn check_assertion_type(params: &FormParams) -> Result<(), OAuthError> {
    match params.get("client_assertion_type") {
        Some(ASSERTION_TYPE) => Ok(()),
        Some(other) => Err(OAuthError::invalid_client(format!(
            "client_assertion_type must be {ASSERTION_TYPE}, got '{other}'"
        ))),
        None => Err(OAuthError::invalid_client(format!(
            "Client authentication is missing: send client_assertion (a JWT signed with the \
             client's private key) and client_assertion_type={ASSERTION_TYPE}"
        ))),
    }
}

/// The assertion's (asymmetric) signing algorithm, after the check of its `typ`.
fn assertion_alg(jws: &UnverifiedJws<'_>) -> Result<SigningAlg, OAuthError> {
    let alg_name = jws.header_str("alg").unwrap_or_default();
    let alg = SigningAlg::parse(alg_name).ok_or_else(|| {
        OAuthError::invalid_client(format!(
            "The client_assertion must be signed with the client's private key using an \
             asymmetric algorithm ({}); got alg '{alg_name}'",
            SigningAlg::names().join(", ")
        ))
    })?;
    if let Some(typ) = jws.header_str("typ")
        && !typ.eq_ignore_ascii_case("client-authentication+jwt")
        && !typ.eq_ignore_ascii_case("JWT")
    {
        return Err(OAuthError::invalid_client(format!(
            "The client_assertion's typ must be 'client-authentication+jwt' (or 'JWT'), got \
             '{typ}'"
        )));
    }
    Ok(alg)
}

/// The client the assertion is from: its `iss`, which `sub` and any `client_id` must equal.
fn assertion_issuer<'j>(
    jws: &'j UnverifiedJws<'_>,
    params: &FormParams,
) -> Result<&'j str, OAuthError> {
    let iss = jws
        .claim_str("iss")
        .filter(|i| !i.is_empty())
        .ok_or_else(|| {
            OAuthError::invalid_client(
                "The client_assertion must have iss and sub set to the client_id",
            )
        })?;
    if let Some(client_id) = params.get("client_id")
        && client_id != iss
    {
        return Err(OAuthError::invalid_client(format!(
            "client_id '{client_id}' does not match the client_assertion's iss '{iss}'"
        )));
    }
    let sub = jws.claim_str("sub").unwrap_or_default();
    if sub != iss {
        return Err(OAuthError::invalid_client(format!(
            "The client_assertion's sub '{sub}' must equal its iss '{iss}' (the client_id)"
        )));
    }
    Ok(iss)
}

/// The assertion's `exp`: not passed, at most [`MAX_ASSERTION_LIFETIME`] ahead, and no `nbf` or
/// `iat` in the future (each with [`CLOCK_SKEW`]).
fn assertion_expiry(
    jws: &UnverifiedJws<'_>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, OAuthError> {
    let exp = jws
        .claim_seconds("exp")
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .ok_or_else(|| {
            OAuthError::invalid_client(
                "The client_assertion must have exp (seconds since the epoch)",
            )
        })?;
    if crate::clock::after(exp, CLOCK_SKEW) < now {
        return Err(OAuthError::invalid_client(format!(
            "The client_assertion expired at {}: create a new assertion for every request",
            exp.to_rfc3339()
        )));
    }
    if exp - now > MAX_ASSERTION_LIFETIME + CLOCK_SKEW {
        return Err(OAuthError::invalid_client(format!(
            "The client_assertion's exp is {} seconds ahead: HelseID accepts at most {} seconds",
            (exp - now).num_seconds(),
            MAX_ASSERTION_LIFETIME.num_seconds()
        )));
    }
    for claim in ["nbf", "iat"] {
        if let Some(at) = jws.claim_seconds(claim)
            && at > crate::clock::after(now, CLOCK_SKEW).timestamp()
        {
            return Err(OAuthError::invalid_client(format!(
                "The client_assertion's {claim} is in the future: check the client's clock"
            )));
        }
    }
    Ok(exp)
}

/// The replay-cache key of the assertion: its issuer and its (present, bounded) `jti`.
fn assertion_jti(jws: &UnverifiedJws<'_>, iss: &str) -> Result<String, OAuthError> {
    let jti = jws
        .claim_str("jti")
        .filter(|j| !j.is_empty())
        .ok_or_else(|| {
            OAuthError::invalid_client("The client_assertion must have a jti (a unique id)")
        })?;
    if jti.len() > crate::auth::MAX_JTI_BYTES {
        return Err(OAuthError::invalid_client(format!(
            "The client_assertion's jti is {} bytes long: at most {} are accepted (a GUID is \
             plenty)",
            jti.len(),
            crate::auth::MAX_JTI_BYTES
        )));
    }
    Ok(format!("{iss}:{jti}"))
}

/// Verifies that `jws` (a client assertion or request object, named `what` in messages) is
/// signed with `alg` by one of `client`'s registered keys (the one named by `kid`, if any).
pub fn verify_client_signature<'c>(
    jws: &UnverifiedJws<'_>,
    alg: SigningAlg,
    client: &'c Client,
    what: &str,
) -> Result<&'c crate::jose::PublicJwk, String> {
    let id = client.id();
    let kid = jws.header_str("kid");
    let candidates: Vec<_> = client
        .keys
        .iter()
        .filter(|k| kid.is_none_or(|kid| k.kid() == Some(kid)))
        .collect();
    if candidates.is_empty() {
        return Err(format!(
            "The {what}'s kid '{}' is not among the keys registered for client '{id}'",
            kid.unwrap_or_default()
        ));
    }
    if !candidates.iter().any(|k| k.supports(alg)) {
        return Err(format!(
            "No key registered for client '{id}' can verify a {} signature",
            alg.as_str()
        ));
    }
    candidates
        .into_iter()
        .find(|k| jws.verify_with(k, alg))
        .ok_or_else(|| {
            format!(
                "The {what}'s signature does not verify with the key(s) registered for client \
                 '{id}'"
            )
        })
}

/// The error for an assertion whose `jti` was seen before.
pub fn replayed_assertion() -> OAuthError {
    OAuthError::invalid_client(
        "The client_assertion's jti has been used before: create a new assertion (new jti) for \
         every request",
    )
}

fn check_audience(jws: &UnverifiedJws<'_>, endpoints: &Endpoints) -> Result<(), OAuthError> {
    // Duende accepts the issuer, the token endpoint and the PAR endpoint as the assertion's
    // audience (RFC 9126 section 2: a PAR endpoint MUST accept its own URL).
    let accepted = [
        endpoints.issuer.as_str(),
        endpoints.token.as_str(),
        endpoints.par.as_str(),
    ];
    let matches = |a: &str| accepted.contains(&a.trim_end_matches('/'));
    let ok = match jws.claims.get("aud") {
        Some(Value::String(aud)) => matches(aud),
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(matches),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(OAuthError::invalid_client(format!(
            "The client_assertion's aud must be the issuer {} (or the token endpoint {}, or the \
             PAR endpoint {}); got {}",
            endpoints.issuer,
            endpoints.token,
            endpoints.par,
            jws.claims
                .get("aud")
                .map(Value::to_string)
                .unwrap_or_else(|| "none".to_owned())
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::b64url;

    /// An (unsigned for the purpose) compact JWS with these claims.
    fn token(claims: Value) -> String {
        format!(
            "{}.{}.c2ln",
            b64url(r#"{"alg":"ES256"}"#),
            b64url(claims.to_string())
        )
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    fn expiry(claims: Value, now: i64) -> Result<DateTime<Utc>, String> {
        let token = token(claims);
        let jws = UnverifiedJws::parse(&token).unwrap();
        assertion_expiry(&jws, at(now)).map_err(|e| e.description)
    }

    #[test]
    fn an_assertion_lives_at_most_a_minute_with_ten_seconds_of_skew() {
        let exp = at(0).timestamp();
        assert_eq!(expiry(serde_json::json!({"exp": exp}), -70), Ok(at(0)));
        assert_eq!(expiry(serde_json::json!({"exp": exp}), 10), Ok(at(0)));
        assert!(
            expiry(serde_json::json!({"exp": exp}), 11)
                .unwrap_err()
                .contains("expired")
        );
        assert_eq!(
            expiry(serde_json::json!({"exp": exp}), -71).unwrap_err(),
            "The client_assertion's exp is 71 seconds ahead: HelseID accepts at most 60 seconds"
        );
        assert_eq!(
            expiry(serde_json::json!({"exp": exp, "iat": exp - 20}), -31).unwrap_err(),
            "The client_assertion's iat is in the future: check the client's clock"
        );
        assert!(
            expiry(serde_json::json!({}), 0)
                .unwrap_err()
                .contains("must have exp")
        );
    }

    #[test]
    fn the_replay_key_is_the_issuer_and_a_bounded_jti() {
        let key = |claims: Value| {
            let token = token(claims);
            let jws = UnverifiedJws::parse(&token).unwrap();
            assertion_jti(&jws, "client").map_err(|e| e.description)
        };
        assert_eq!(
            key(serde_json::json!({"jti": "j-1"})),
            Ok("client:j-1".to_owned())
        );
        assert!(key(serde_json::json!({"jti": ""})).is_err());
        let long = "x".repeat(crate::auth::MAX_JTI_BYTES + 1);
        assert!(
            key(serde_json::json!({ "jti": long }))
                .unwrap_err()
                .contains("257 bytes")
        );
    }

    #[test]
    fn client_secrets_are_refused_in_either_place() {
        let form = FormParams::parse(b"client_secret=s").unwrap();
        let none = FormParams::default();
        assert!(check_no_client_secret(&none, None).is_ok());
        assert!(check_no_client_secret(&none, Some("Bearer x")).is_ok());
        let basic = check_no_client_secret(&none, Some(" basic Yzpz")).unwrap_err();
        assert!(basic.description.contains("(client_secret_basic)"));
        let post = check_no_client_secret(&form, None).unwrap_err();
        assert!(post.description.contains("(client_secret_post)"));
    }
}
