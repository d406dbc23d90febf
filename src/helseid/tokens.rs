//! Building HelseID's tokens: the claims every access token has (issuer, times, audience,
//! scopes, client and organisation), the user claims of a login, id tokens and userinfo — named
//! and shaped as in the real tokens of the SFM organisation spec.

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value, json};

use super::model::{Client, IDENTITY_SCOPES, User};
use super::tenancy::Organisation;
use super::trust_framework::{self, Attest};
use crate::auth::claims::{
    ASSURANCE_LEVEL, CLIENT_AMR, CLIENT_TENANCY, HPR_NUMBER, JOURNAL_ID, ORGNR_CHILD, ORGNR_PARENT,
    ORGNR_SUPPLIER, PID, PID_PSEUDONYM, SECURITY_LEVEL, SFM_AUDIENCE, SFM_ID, TRUST_FRAMEWORK,
};
use crate::errors::oauth::{OAuthError, OAuthErrorCode};
use crate::jose::{TokenSigner, b64url};
use crate::random;

/// The identity provider of every login: HelseID's test IdP.
pub const IDP: &str = "testidp-oidc";
/// How long an id token is valid.
pub const ID_TOKEN_LIFETIME: TimeDelta = TimeDelta::seconds(300);

/// A signed token and what the server remembers of it.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The compact JWS.
    pub token: String,
    /// Its `jti` (access tokens).
    pub jti: String,
    /// Its expiry.
    pub expires: DateTime<Utc>,
}

/// What an access token is for: everything but the user.
#[derive(Debug)]
pub struct AccessTokenSpec<'a> {
    /// The issuer.
    pub issuer: &'a str,
    /// The client.
    pub client: &'a Client,
    /// `rsa_private_key` or `ec_private_key`.
    pub key_amr: &'a str,
    /// The token's audiences (API resource names); none for a token with identity scopes only.
    pub audiences: &'a [String],
    /// The token's scopes.
    pub scopes: &'a [String],
    /// The organisation claims.
    pub org: &'a Organisation,
    /// The trust-framework attest, carried when the scopes include a `…/tillitsrammeverk` one.
    pub attest: Option<&'a Attest>,
    /// The DPoP key thumbprint the token is bound to.
    pub jkt: Option<&'a str>,
}

/// The logged-in user behind a token.
#[derive(Debug, Clone, Copy)]
pub struct Login<'a> {
    /// Who.
    pub user: &'a User,
    /// When they logged in.
    pub auth_time: DateTime<Utc>,
    /// The session.
    pub sid: &'a str,
}

/// The claims of an access token; user claims when `login` is given.
pub fn access_token_claims(
    spec: &AccessTokenSpec<'_>,
    login: Option<Login<'_>>,
    now: DateTime<Utc>,
) -> Map<String, Value> {
    let lifetime = TimeDelta::seconds(i64::from(spec.client.access_token_lifetime()));
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(spec.issuer));
    claims.insert("nbf".into(), json!(now.timestamp()));
    claims.insert("iat".into(), json!(now.timestamp()));
    claims.insert(
        "exp".into(),
        json!(crate::clock::after(now, lifetime).timestamp()),
    );
    match spec.audiences {
        [] => {}
        [one] => {
            claims.insert("aud".into(), json!(one));
        }
        many => {
            claims.insert("aud".into(), json!(many));
        }
    }
    claims.insert("scope".into(), json!(spec.scopes));
    if login.is_some() {
        claims.insert("amr".into(), json!(["pwd"]));
    }
    claims.insert("client_id".into(), json!(spec.client.id()));
    claims.insert("client_amr".into(), json!("private_key_jwt"));
    insert_opt(&mut claims, ORGNR_PARENT, spec.org.parent.as_deref());
    insert_opt(&mut claims, ORGNR_CHILD, spec.org.child.as_deref());
    insert_opt(&mut claims, ORGNR_SUPPLIER, spec.org.supplier.as_deref());
    if let Some(login) = login {
        claims.insert("sub".into(), json!(subject(login.user.pid())));
        claims.insert("auth_time".into(), json!(login.auth_time.timestamp()));
        claims.insert("idp".into(), json!(IDP));
        claims.extend(identity_claims(login.user, spec.scopes, false));
        claims.insert(
            "oldsub".into(),
            json!(pseudonym("oldsub", login.user.pid(), spec.client.id())),
        );
    }
    claims.insert(CLIENT_AMR.into(), json!(spec.key_amr));
    if spec.audiences.iter().any(|a| a == SFM_AUDIENCE) {
        insert_opt(&mut claims, SFM_ID, spec.client.entry.sfm_id.as_deref());
    }
    insert_opt(&mut claims, JOURNAL_ID, spec.org.journal_id.as_deref());
    if let Some(attest) = spec.attest
        && trust_framework::carried_by(spec.scopes)
    {
        claims.insert(
            TRUST_FRAMEWORK.into(),
            attest.enriched(login.map(|l| l.user)),
        );
    }
    claims.insert(
        CLIENT_TENANCY.into(),
        json!(spec.client.entry.tenancy.as_str()),
    );
    if let Some(login) = login {
        claims.insert("sid".into(), json!(login.sid));
    }
    claims.insert("jti".into(), json!(random::hex_id()));
    if let Some(jkt) = spec.jkt {
        claims.insert("cnf".into(), json!({ "jkt": jkt }));
    }
    claims
}

/// The claims of an id token (audience: the client).
pub fn id_token_claims(
    issuer: &str,
    client_id: &str,
    login: Login<'_>,
    scopes: &[String],
    nonce: Option<&str>,
    access_token: &str,
    now: DateTime<Utc>,
) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(issuer));
    claims.insert("nbf".into(), json!(now.timestamp()));
    claims.insert("iat".into(), json!(now.timestamp()));
    claims.insert(
        "exp".into(),
        json!(crate::clock::after(now, ID_TOKEN_LIFETIME).timestamp()),
    );
    claims.insert("aud".into(), json!(client_id));
    claims.insert("amr".into(), json!(["pwd"]));
    if let Some(nonce) = nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    claims.insert("at_hash".into(), json!(at_hash(access_token)));
    claims.insert("sid".into(), json!(login.sid));
    claims.insert("sub".into(), json!(subject(login.user.pid())));
    claims.insert("auth_time".into(), json!(login.auth_time.timestamp()));
    claims.insert("idp".into(), json!(IDP));
    claims.extend(identity_claims(login.user, scopes, true));
    claims
}

/// The user's claims for the identity scopes in `scopes`; the name claims (`profile`) only for
/// id tokens and userinfo (`with_profile`).
pub fn identity_claims(user: &User, scopes: &[String], with_profile: bool) -> Map<String, Value> {
    let has = |scope: &str| scopes.iter().any(|s| s == scope);
    let mut claims = Map::new();
    if with_profile && has("profile") {
        claims.insert("name".into(), json!(user.name()));
        claims.insert("given_name".into(), json!(user.entry.given_name));
        insert_opt(
            &mut claims,
            "middle_name",
            user.entry.middle_name.as_deref(),
        );
        claims.insert("family_name".into(), json!(user.entry.family_name));
    }
    if has("helseid://scopes/identity/pid") {
        claims.insert(PID.into(), json!(user.pid()));
    }
    if has("helseid://scopes/identity/pid_pseudonym") {
        claims.insert(
            PID_PSEUDONYM.into(),
            json!(pseudonym("pid", user.pid(), "")),
        );
    }
    if has("helseid://scopes/identity/security_level") {
        claims.insert(SECURITY_LEVEL.into(), json!(user.entry.security_level));
    }
    if has("helseid://scopes/identity/assurance_level") {
        claims.insert(ASSURANCE_LEVEL.into(), json!(user.assurance_level()));
    }
    if has("helseid://scopes/hpr/hpr_number") {
        insert_opt(&mut claims, HPR_NUMBER, user.entry.hpr_number.as_deref());
    }
    claims
}

/// The userinfo response for a user and the scopes of the access token presented.
pub fn userinfo_claims(user: &User, scopes: &[String]) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(subject(user.pid())));
    claims.extend(identity_claims(user, scopes, true));
    claims
}

/// `sub`: a stable pseudonym of the pid. As in the spec's two real tokens, the same person has
/// the same `sub` with every client; `oldsub` differs per client.
pub fn subject(pid: &str) -> String {
    pseudonym("sub", pid, "")
}

fn pseudonym(kind: &str, pid: &str, client_id: &str) -> String {
    let input = format!("helsesim:{kind}:{pid}:{client_id}");
    STANDARD.encode(digest(&SHA256, input.as_bytes()))
}

/// `at_hash`: the left half of the SHA-256 of the access token, base64url.
pub fn at_hash(access_token: &str) -> String {
    let hash = digest(&SHA256, access_token.as_bytes());
    b64url(&hash.as_ref()[..16])
}

/// Whether a scope is an identity scope (kept in every token of a login, whatever the API).
pub fn is_identity_scope(scope: &str) -> bool {
    IDENTITY_SCOPES.contains(&scope)
}

/// Signs claims; a failure is the server's, never the caller's.
pub fn sign(
    signer: &TokenSigner,
    typ: &str,
    claims: &Map<String, Value>,
) -> Result<Signed, OAuthError> {
    let token = signer.sign(typ, claims).map_err(|e| {
        OAuthError::new(OAuthErrorCode::ServerError, e.to_string())
            .with_status(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR)
    })?;
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let expires = claims
        .get("exp")
        .and_then(Value::as_i64)
        .and_then(|exp| DateTime::from_timestamp(exp, 0))
        .unwrap_or_default();
    Ok(Signed {
        token,
        jti,
        expires,
    })
}

fn insert_opt(claims: &mut Map<String, Value>, name: &str, value: Option<&str>) {
    if let Some(value) = value {
        claims.insert(name.to_owned(), json!(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_is_the_left_half_of_sha256() {
        // Computed independently: base64url(sha256(token)[:16]) with Python's hashlib.
        assert_eq!(
            at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNiUxm9yqS1g4NktYfa4"),
            "7G-fJLvHe02oGrf9TqqATg"
        );
    }

    #[test]
    fn sub_is_stable_per_pid_and_oldsub_per_client() {
        assert_eq!(subject("17056600574"), subject("17056600574"));
        assert_ne!(subject("17056600574"), subject("02887810071"));
        assert_eq!(
            subject("17056600574").len(),
            44,
            "base64 of 32 bytes, like the real sub"
        );
        assert_ne!(
            pseudonym("oldsub", "17056600574", "a"),
            pseudonym("oldsub", "17056600574", "b")
        );
    }
}
