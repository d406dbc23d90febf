//! The token endpoint's grants: `client_credentials`, `authorization_code`, `refresh_token` and
//! token exchange. Each is a function of the authenticated request and `now`.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::State;
use super::client_auth::AuthenticatedClient;
use super::flow::{AuthorizationCode, FlowState, Grant, Redemption, RefreshLookup};
use super::form::FormParams;
use super::model::{ApiResources, IDENTITY_SCOPES};
use super::tenancy::{self, Organisation};
use super::tokens::{self, AccessTokenSpec, Login, Signed};
use super::trust_framework::{self, Attest};
use crate::auth::dpop::ValidProof;
use crate::errors::oauth::{OAuthError, OAuthErrorCode};
use crate::jose::sha256_b64url;
use crate::random;

/// The token type URN of an access token (RFC 8693).
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// The token-exchange grant type.
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// A successful token response.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    /// The signed access token.
    pub access_token: String,
    /// `Bearer` or `DPoP`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The id token (logins with `openid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// The refresh token (logins with `offline_access`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Seconds until the refresh token expires (HelseID's extension).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rt_expires_in: Option<i64>,
    /// The access token's scopes, space-separated.
    pub scope: String,
    /// Token exchange: what was issued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<&'static str>,
}

/// Everything a grant works with.
#[derive(Debug)]
pub struct GrantContext<'a> {
    /// Shared state.
    pub state: &'a State,
    /// The authenticated client.
    pub client: &'a AuthenticatedClient,
    /// The form.
    pub params: &'a FormParams,
    /// The API resources.
    pub resources: &'a ApiResources,
    /// The request's valid DPoP proof.
    pub proof: Option<&'a ValidProof>,
    /// Now.
    pub now: DateTime<Utc>,
}

impl GrantContext<'_> {
    fn jkt(&self) -> Option<&str> {
        self.proof.map(|p| p.jkt.as_str())
    }

    fn issuer(&self) -> &str {
        &self.state.endpoints.issuer
    }

    /// The organisation: from this request's client assertion when it names one (HelseID's
    /// recommended pattern), else from the login's request (`stored`), else the client's own.
    fn organisation(
        &self,
        stored: Option<&Map<String, Value>>,
    ) -> Result<Organisation, OAuthError> {
        let assertion = &self.client.assertion;
        let names_one = (assertion.contains_key("assertion_details")
            || assertion.contains_key("authorization_details"))
            && tenancy::names_organisation(assertion);
        match (names_one, stored) {
            (false, Some(stored)) => tenancy::resolve(&self.client.client, stored),
            _ => tenancy::resolve(&self.client.client, assertion),
        }
    }

    /// The trust-framework attest: of the login (`stored`) or of this request's client
    /// assertion, not both.
    fn attest(&self, stored: Option<&Map<String, Value>>) -> Result<Option<Attest>, OAuthError> {
        trust_framework::of_token_request(stored, &self.client.assertion)
    }

    /// The claims of an access token for this client (bound to this request's proof key).
    fn access_claims(
        &self,
        audiences: &[String],
        scopes: &[String],
        grounds: Grounds<'_>,
        login: Option<Login<'_>>,
    ) -> Map<String, Value> {
        let spec = AccessTokenSpec {
            issuer: self.issuer(),
            client: &self.client.client,
            key_amr: self.client.key_amr,
            audiences,
            scopes,
            org: grounds.org,
            attest: grounds.attest,
            jkt: self.jkt(),
        };
        tokens::access_token_claims(&spec, login, self.now)
    }

    fn sign_access(
        &self,
        audiences: &[String],
        scopes: &[String],
        grounds: Grounds<'_>,
        login: Option<Login<'_>>,
    ) -> Result<Signed, OAuthError> {
        let claims = self.access_claims(audiences, scopes, grounds, login);
        tokens::sign(
            self.state.keys.signing.current(self.now).signer(),
            "at+jwt",
            &claims,
        )
    }

    fn response(&self, access: Signed, scopes: &[String]) -> TokenResponse {
        TokenResponse {
            access_token: access.token,
            token_type: if self.proof.is_some() {
                "DPoP"
            } else {
                "Bearer"
            },
            expires_in: access.expires.timestamp() - self.now.timestamp(),
            id_token: None,
            refresh_token: None,
            rt_expires_in: None,
            scope: scopes.join(" "),
            issued_token_type: None,
        }
    }
}

/// What an access token is issued on: the organisation and the trust-framework attest.
#[derive(Debug, Clone, Copy)]
struct Grounds<'a> {
    org: &'a Organisation,
    attest: Option<&'a Attest>,
}

/// `client_credentials`: one audience, scopes the client is allowed, its organisation.
pub fn client_credentials(ctx: &GrantContext<'_>) -> Result<TokenResponse, OAuthError> {
    let client = &ctx.client.client;
    let scopes = requested_scopes(ctx.params)?;
    let audience = audience_of(
        "client_credentials (machine-to-machine)",
        &scopes,
        client.id(),
        ctx.resources,
        |s| client.allows_scope(s),
    )?;
    check_single_resource(ctx.params, &audience)?;
    let org = ctx.organisation(None)?;
    let attest = ctx.attest(None)?;
    let grounds = Grounds {
        org: &org,
        attest: attest.as_ref(),
    };
    let access = ctx.sign_access(std::slice::from_ref(&audience), &scopes, grounds, None)?;
    Ok(ctx.response(access, &scopes))
}

/// `authorization_code`: single use, PKCE, redirect URI, DPoP binding; tokens for the login.
pub fn authorization_code(ctx: &GrantContext<'_>) -> Result<TokenResponse, OAuthError> {
    let code_value = ctx
        .params
        .get("code")
        .ok_or_else(|| OAuthError::invalid_request("code is missing"))?;
    let code = redeem_code(ctx, code_value)?;
    let request = &code.request;
    let audiences = select_audiences(
        ctx.params,
        &request.resources,
        &request.scopes,
        ctx.resources,
    )?;
    let org = ctx.organisation(request.details.as_ref())?;
    let attest = ctx.attest(request.details.as_ref())?;
    let grounds = Grounds {
        org: &org,
        attest: attest.as_ref(),
    };
    let login = Login {
        user: &code.user,
        auth_time: code.auth_time,
        sid: &code.sid,
    };
    let mut response = login_tokens(
        ctx,
        login,
        &request.scopes,
        &audiences,
        grounds,
        request.nonce.as_deref(),
    )?;
    let access_jti = response.1.clone();
    if request.scopes.iter().any(|s| s == "offline_access") {
        let lifetime = TimeDelta::seconds(i64::from(ctx.client.client.refresh_token_lifetime()));
        let grant = Grant {
            client_id: ctx.client.client.id().to_owned(),
            sid: code.sid.clone(),
            user: code.user.clone(),
            auth_time: code.auth_time,
            scopes: request.scopes.clone(),
            resources: request.resources.clone(),
            details: request.details.clone(),
            dpop_jkt: ctx.jkt().map(str::to_owned),
            expires: crate::clock::after(ctx.now, lifetime),
            current_token: random::url_token(32),
            revoked: false,
            access_tokens: vec![access_jti.clone()],
        };
        response.0.refresh_token = Some(grant.current_token.clone());
        response.0.rt_expires_in = Some(lifetime.num_seconds());
        let family = random::hex_id();
        let mut flows = ctx.state.flows(ctx.now);
        flows
            .refresh_tokens
            .insert(grant.current_token.clone(), family.clone());
        flows.grants.insert(family.clone(), grant);
        record_redemption(&mut flows, code_value, Some(family), access_jti);
    } else {
        let mut flows = ctx.state.flows(ctx.now);
        record_redemption(&mut flows, code_value, None, access_jti);
    }
    Ok(response.0)
}

/// Takes a code for redemption: every check, and marks it used (a failed attempt uses it too).
fn redeem_code(ctx: &GrantContext<'_>, code_value: &str) -> Result<AuthorizationCode, OAuthError> {
    let mut flows = ctx.state.flows(ctx.now);
    let Some(code) = flows.codes.get_mut(code_value) else {
        return Err(invalid_grant(
            "The authorization code is unknown or has expired",
        ));
    };
    if code.request.client_id != ctx.client.client.id() {
        return Err(invalid_grant(
            "The authorization code was issued to another client",
        ));
    }
    if let Some(redemption) = code.redeemed.clone() {
        let issued = redemption.family.is_some() || redemption.access_jti.is_some();
        if let Some(family) = &redemption.family {
            flows.revoke_family(family);
        }
        if let Some((jti, until)) = redemption.access_jti {
            flows.revoked_access.insert(jti, until);
        }
        return Err(invalid_grant(if issued {
            "The authorization code has already been used: the tokens issued with it are now \
             revoked"
        } else {
            "The authorization code has already been used (a failed exchange uses it too): start a \
             new login"
        }));
    }
    if code.expires <= ctx.now {
        return Err(invalid_grant(
            "The authorization code has expired: codes are valid for 60 seconds",
        ));
    }
    code.redeemed = Some(Redemption::default());
    let code = code.clone();
    drop(flows);

    let request = &code.request;
    match ctx.params.get("redirect_uri") {
        Some(uri) if uri == request.redirect_uri => {}
        Some(uri) => {
            return Err(invalid_grant(format!(
                "redirect_uri '{uri}' is not the one of the authorization request ('{}')",
                request.redirect_uri
            )));
        }
        None => {
            return Err(invalid_grant(format!(
                "redirect_uri is missing: send the one of the authorization request ('{}')",
                request.redirect_uri
            )));
        }
    }
    let verifier = ctx
        .params
        .get("code_verifier")
        .ok_or_else(|| invalid_grant("code_verifier is missing: PKCE is required"))?;
    if !is_pkce_value(verifier) {
        return Err(invalid_grant(
            "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~",
        ));
    }
    if sha256_b64url(verifier) != request.code_challenge {
        return Err(invalid_grant(
            "code_verifier does not match the code_challenge (S256) of the authorization request",
        ));
    }
    check_code_binding(ctx, request.dpop_jkt.as_deref())?;
    Ok(code)
}

/// A code bound to a DPoP key (a proof or `dpop_jkt` at PAR) needs a proof made with that key;
/// Duende answers a proof of another key with `invalid_dpop_proof`.
fn check_code_binding(ctx: &GrantContext<'_>, bound: Option<&str>) -> Result<(), OAuthError> {
    let Some(bound) = bound else {
        return Ok(());
    };
    match ctx.jkt() {
        Some(jkt) if jkt == bound => Ok(()),
        Some(_) => Err(OAuthError::invalid_dpop_proof(
            "The DPoP proof is made with another key than the one the authorization code is bound \
             to",
        )),
        None => Err(OAuthError::new(
            OAuthErrorCode::InvalidGrant,
            "The authorization code is bound to a DPoP key: send a DPoP proof made with that key",
        )),
    }
}

fn record_redemption(
    flows: &mut FlowState,
    code_value: &str,
    family: Option<String>,
    access: (String, DateTime<Utc>),
) {
    let reused_meanwhile = match flows.codes.get_mut(code_value) {
        Some(code) => {
            let redemption = code.redeemed.get_or_insert_with(Redemption::default);
            let reused = redemption.family.is_some() || redemption.access_jti.is_some();
            redemption.family = family.clone();
            redemption.access_jti = Some(access.clone());
            reused
        }
        None => false,
    };
    if reused_meanwhile {
        if let Some(family) = family {
            flows.revoke_family(&family);
        }
        flows.revoked_access.insert(access.0, access.1);
    }
}

/// `refresh_token`: rotation; a rotated token used again revokes the whole family. Everything
/// that can refuse the request is checked before the token rotates, so a refused request leaves
/// the client's refresh token usable.
pub fn refresh_token(ctx: &GrantContext<'_>) -> Result<TokenResponse, OAuthError> {
    let token = ctx
        .params
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is missing"))?;
    let (family, grant) = presented_grant(ctx, token)?;
    // Every HelseID client authenticates (private_key_jwt), and a confidential client's refresh
    // token is not bound to a DPoP key (RFC 9449 §5, as Duende): the new access token is bound
    // to the key of this request's proof, if any.
    let scopes = narrowed_scopes(ctx.params.get("scope"), &grant.scopes)?;
    let audiences = select_audiences(ctx.params, &grant.resources, &scopes, ctx.resources)?;
    let org = ctx.organisation(grant.details.as_ref())?;
    let attest = ctx.attest(grant.details.as_ref())?;
    let grounds = Grounds {
        org: &org,
        attest: attest.as_ref(),
    };

    let new_token = random::url_token(32);
    rotate_refresh_token(&mut ctx.state.flows(ctx.now), &family, token, &new_token)?;
    let login = Login {
        user: &grant.user,
        auth_time: grant.auth_time,
        sid: &grant.sid,
    };
    let (mut response, (jti, expires)) =
        login_tokens(ctx, login, &scopes, &audiences, grounds, None)?;
    record_family_access(
        &mut ctx.state.flows(ctx.now),
        &family,
        jti,
        expires,
        ctx.now,
    );
    response.refresh_token = Some(new_token);
    response.rt_expires_in = Some(grant.expires.timestamp() - ctx.now.timestamp());
    Ok(response)
}

fn invalid_grant(message: impl Into<String>) -> OAuthError {
    OAuthError::new(OAuthErrorCode::InvalidGrant, message)
}

/// The answer to a refresh token that is no longer the family's current one.
fn refresh_token_reused() -> OAuthError {
    invalid_grant(
        "The refresh token has already been used (refresh tokens rotate): every refresh token of \
         this login is now revoked",
    )
}

/// The family and grant of a presented refresh token, after every check that can refuse it; an
/// older (rotated) token of the family revokes the family.
fn presented_grant(ctx: &GrantContext<'_>, token: &str) -> Result<(String, Grant), OAuthError> {
    let (family, grant) = {
        let mut flows = ctx.state.flows(ctx.now);
        let (family, rotated) = match flows.lookup_refresh(token) {
            RefreshLookup::Unknown => {
                return Err(invalid_grant("The refresh token is unknown or has expired"));
            }
            RefreshLookup::Rotated(family) => (family, true),
            RefreshLookup::Current(family) => (family, false),
        };
        let Some(grant) = flows.grants.get(&family) else {
            return Err(invalid_grant("The refresh token is unknown or has expired"));
        };
        if grant.client_id != ctx.client.client.id() {
            return Err(invalid_grant(
                "The refresh token was issued to another client",
            ));
        }
        if rotated {
            flows.revoke_family(&family);
            return Err(refresh_token_reused());
        }
        (family, grant.clone())
    };
    if grant.revoked {
        return Err(invalid_grant("The refresh token has been revoked"));
    }
    if grant.expires <= ctx.now {
        return Err(invalid_grant("The refresh token has expired"));
    }
    Ok((family, grant))
}

/// A refresh's scopes: the granted ones, or the requested ones when every one of them was
/// granted (a refresh can narrow the scopes, never widen them).
fn narrowed_scopes(requested: Option<&str>, granted: &[String]) -> Result<Vec<String>, OAuthError> {
    let Some(requested) = requested else {
        return Ok(granted.to_vec());
    };
    let requested: Vec<String> = distinct(requested.split_whitespace());
    if let Some(extra) = requested.iter().find(|s| !granted.contains(s)) {
        return Err(OAuthError::invalid_scope(format!(
            "The scope '{extra}' was not granted at login: a refresh can only narrow the scopes"
        )));
    }
    Ok(requested)
}

/// Moves the family on to its `next` refresh token: only the request holding the current token
/// gets the next one; any other (a replay racing this one) revokes the family.
fn rotate_refresh_token(
    flows: &mut FlowState,
    family: &str,
    presented: &str,
    next: &str,
) -> Result<(), OAuthError> {
    let Some(current) = flows.grants.get_mut(family) else {
        return Err(invalid_grant("The refresh token is unknown or has expired"));
    };
    if current.current_token != presented || current.revoked {
        flows.revoke_family(family);
        return Err(refresh_token_reused());
    }
    current.current_token = next.to_owned();
    flows
        .refresh_tokens
        .insert(next.to_owned(), family.to_owned());
    Ok(())
}

/// Records an access token issued with a family, so that revoking the family revokes it too.
fn record_family_access(
    flows: &mut FlowState,
    family: &str,
    jti: String,
    expires: DateTime<Utc>,
    now: DateTime<Utc>,
) {
    match flows.grants.get_mut(family) {
        Some(grant) if !grant.revoked => grant.record_access(jti, expires, now),
        // Revoked while this token was signed: the token is born revoked.
        _ => {
            flows.revoked_access.insert(jti, expires);
        }
    }
}

/// The user claims a token exchange carries over from the subject token.
const EXCHANGED_USER_CLAIMS: [&str; 11] = [
    "sub",
    "auth_time",
    "idp",
    "amr",
    "sid",
    crate::auth::claims::PID,
    crate::auth::claims::PID_PSEUDONYM,
    crate::auth::claims::SECURITY_LEVEL,
    crate::auth::claims::ASSURANCE_LEVEL,
    crate::auth::claims::HPR_NUMBER,
    "oldsub",
];

/// Token exchange (RFC 8693): a token for another API on behalf of the subject token's user,
/// with `act` naming the client that acts.
pub fn token_exchange(ctx: &GrantContext<'_>) -> Result<TokenResponse, OAuthError> {
    let params = ctx.params;
    let subject_token = exchange_subject_token(params)?;
    let subject = verified_subject(ctx, subject_token)?;
    let client = &ctx.client.client;
    let api_scopes = requested_scopes(params)?;
    let audience = audience_of(
        "token exchange (the subject token's identity scopes carry over)",
        &api_scopes,
        client.id(),
        ctx.resources,
        |s| client.allows_scope(s),
    )?;
    check_single_resource(params, &audience)?;
    check_exchange_audience(params, &audience)?;
    let scopes = exchanged_scopes(&subject, api_scopes);
    let org = ctx.organisation(None)?;
    let grounds = Grounds {
        org: &org,
        attest: None,
    };
    let claims = ctx.access_claims(std::slice::from_ref(&audience), &scopes, grounds, None);
    let claims = on_behalf_of(claims, &subject, client.id());
    let access = tokens::sign(
        ctx.state.keys.signing.current(ctx.now).signer(),
        "at+jwt",
        &claims,
    )?;
    let mut response = ctx.response(access, &scopes);
    response.issued_token_type = Some(ACCESS_TOKEN_TYPE);
    Ok(response)
}

/// The `subject_token` of a token-exchange request, after the checks of its token-type
/// parameters (an access token in, an access token out, no actor token).
fn exchange_subject_token(params: &FormParams) -> Result<&str, OAuthError> {
    let subject_token = params
        .get("subject_token")
        .ok_or_else(|| OAuthError::invalid_request("subject_token is missing"))?;
    match params.get("subject_token_type") {
        Some(ACCESS_TOKEN_TYPE) => {}
        Some(other) => {
            return Err(OAuthError::invalid_request(format!(
                "subject_token_type must be {ACCESS_TOKEN_TYPE}, got '{other}'"
            )));
        }
        None => return Err(OAuthError::invalid_request("subject_token_type is missing")),
    }
    if params.get("actor_token").is_some() {
        return Err(OAuthError::invalid_request("actor_token is not supported"));
    }
    if let Some(requested) = params.get("requested_token_type")
        && requested != ACCESS_TOKEN_TYPE
    {
        return Err(OAuthError::invalid_request(format!(
            "requested_token_type must be {ACCESS_TOKEN_TYPE}, got '{requested}'"
        )));
    }
    Ok(subject_token)
}

/// The claims of a subject token this HelseID issued, unexpired and not revoked.
fn verified_subject(
    ctx: &GrantContext<'_>,
    subject_token: &str,
) -> Result<Map<String, Value>, OAuthError> {
    let subject = ctx
        .state
        .tokens
        .verify_any(subject_token, ctx.now)
        .map_err(|e| invalid_grant(format!("The subject_token is not valid: {e}")))?;
    let revoked = subject
        .get("jti")
        .and_then(Value::as_str)
        .is_some_and(|jti| ctx.state.flows(ctx.now).is_access_revoked(jti, ctx.now));
    if revoked {
        return Err(invalid_grant("The subject_token has been revoked"));
    }
    Ok(std::sync::Arc::unwrap_or_clone(subject))
}

/// An `audience` parameter must name the audience of the requested scopes.
fn check_exchange_audience(params: &FormParams, audience: &str) -> Result<(), OAuthError> {
    match params.get("audience") {
        Some(requested) if requested != audience => Err(OAuthError::new(
            OAuthErrorCode::InvalidTarget,
            format!(
                "The audience '{requested}' does not match the audience '{audience}' of the \
                 requested scopes"
            ),
        )),
        _ => Ok(()),
    }
}

/// An exchanged token's scopes: the subject token's identity scopes but `offline_access`, then
/// the requested API scopes.
fn exchanged_scopes(subject: &Map<String, Value>, api_scopes: Vec<String>) -> Vec<String> {
    let subject_scopes: Vec<&str> = match subject.get("scope") {
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let mut scopes: Vec<String> = subject_scopes
        .iter()
        .filter(|s| IDENTITY_SCOPES.contains(s) && **s != "offline_access")
        .map(|s| (*s).to_owned())
        .collect();
    scopes.extend(api_scopes);
    scopes
}

/// An exchanged token's claims: the subject token's user claims, and `act` naming the acting
/// client (nesting the subject token's own `act`, if any).
fn on_behalf_of(
    mut claims: Map<String, Value>,
    subject: &Map<String, Value>,
    client_id: &str,
) -> Map<String, Value> {
    for name in EXCHANGED_USER_CLAIMS {
        if let Some(value) = subject.get(name) {
            claims.insert(name.to_owned(), value.clone());
        }
    }
    let mut act = json!({ "client_id": client_id });
    if let Some(previous) = subject.get("act") {
        act["act"] = previous.clone();
    }
    claims.insert("act".to_owned(), act);
    claims
}

/// The access token (and id token with `openid`) of a login; also returns the access `jti`.
fn login_tokens(
    ctx: &GrantContext<'_>,
    login: Login<'_>,
    granted: &[String],
    audiences: &[String],
    grounds: Grounds<'_>,
    nonce: Option<&str>,
) -> Result<(TokenResponse, (String, DateTime<Utc>)), OAuthError> {
    let scopes = token_scopes(granted, audiences, ctx.resources);
    let access = ctx.sign_access(audiences, &scopes, grounds, Some(login))?;
    let access_jti = (access.jti.clone(), access.expires);
    let id_token = if granted.iter().any(|s| s == "openid") {
        let claims = tokens::id_token_claims(
            ctx.issuer(),
            ctx.client.client.id(),
            login,
            granted,
            nonce,
            &access.token,
            ctx.now,
        );
        Some(
            tokens::sign(
                ctx.state.keys.signing.current(ctx.now).signer(),
                "JWT",
                &claims,
            )?
            .token,
        )
    } else {
        None
    };
    let mut response = ctx.response(access, &scopes);
    response.id_token = id_token;
    Ok((response, access_jti))
}

/// The access token's scopes: the identity scopes and the API scopes of its audiences.
fn token_scopes(granted: &[String], audiences: &[String], resources: &ApiResources) -> Vec<String> {
    granted
        .iter()
        .filter(|s| {
            tokens::is_identity_scope(s)
                || resources
                    .resource_of(s)
                    .is_some_and(|r| audiences.contains(&r.name))
        })
        .cloned()
        .collect()
}

/// The audience(s) of a login's access token. With `resource`s authorized at login, the token
/// request names one of them (or gets them all, as a multi-audience token); without, it may name
/// the API of one of the granted scopes, or gets every API of the granted scopes.
fn select_audiences(
    params: &FormParams,
    authorized: &[String],
    scopes: &[String],
    resources: &ApiResources,
) -> Result<Vec<String>, OAuthError> {
    let invalid_target = |m: String| OAuthError::new(OAuthErrorCode::InvalidTarget, m);
    let requested = params.all("resource");
    if requested.len() > 1 {
        return Err(invalid_target(
            "Name at most one resource per token request: HelseID issues one access token per API"
                .to_owned(),
        ));
    }
    let candidates: Vec<String> = if authorized.is_empty() {
        scopes
            .iter()
            .filter_map(|s| resources.resource_of(s))
            .map(|r| r.name.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    } else {
        authorized.to_vec()
    };
    match requested.first() {
        None => Ok(candidates),
        Some(resource) if candidates.iter().any(|c| c == resource) => {
            Ok(vec![(*resource).to_owned()])
        }
        Some(resource) => Err(invalid_target(format!(
            "The resource '{resource}' was not authorized at login (authorized: {})",
            if candidates.is_empty() {
                "none".to_owned()
            } else {
                candidates.join(", ")
            }
        ))),
    }
}

fn check_single_resource(params: &FormParams, audience: &str) -> Result<(), OAuthError> {
    match params.all("resource").as_slice() {
        [] => Ok(()),
        [resource] if *resource == audience => Ok(()),
        [resource] => Err(OAuthError::new(
            OAuthErrorCode::InvalidTarget,
            format!(
                "The resource '{resource}' does not match the audience '{audience}' of the \
                 requested scopes"
            ),
        )),
        _ => Err(OAuthError::new(
            OAuthErrorCode::InvalidTarget,
            "A client_credentials request names at most one resource: HelseID issues tokens with \
             one audience",
        )),
    }
}

/// The `scope` parameter split into distinct scopes, in request order.
fn requested_scopes(params: &FormParams) -> Result<Vec<String>, OAuthError> {
    let scopes = distinct(params.get("scope").unwrap_or_default().split_whitespace());
    if scopes.is_empty() {
        return Err(OAuthError::invalid_scope(
            "No scope requested: ask for the API scope the token is for, e.g. \
             scope=e-helse:sfm.api/sfm.api",
        ));
    }
    Ok(scopes)
}

fn distinct<'a>(items: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in items {
        if !out.iter().any(|s| s == item) {
            out.push(item.to_owned());
        }
    }
    out
}

/// Checks every scope (known, not an identity scope, allowed) and that all share one audience.
pub fn audience_of(
    grant: &str,
    scopes: &[String],
    client_id: &str,
    resources: &ApiResources,
    allowed: impl Fn(&str) -> bool,
) -> Result<String, OAuthError> {
    let mut audiences: Vec<&str> = Vec::new();
    for scope in scopes {
        if IDENTITY_SCOPES.contains(&scope.as_str()) {
            return Err(OAuthError::invalid_scope(format!(
                "The identity scope '{scope}' cannot be requested with {grant}: ask only for API \
                 scopes"
            )));
        }
        let resource = resources
            .resource_of(scope)
            .ok_or_else(|| OAuthError::invalid_scope(format!("Unknown scope '{scope}'")))?;
        if !allowed(scope) {
            return Err(OAuthError::invalid_scope(format!(
                "The client '{client_id}' is not allowed the scope '{scope}'"
            )));
        }
        if !audiences.contains(&resource.name.as_str()) {
            audiences.push(&resource.name);
        }
    }
    match audiences.as_slice() {
        [one] => Ok((*one).to_owned()),
        many => Err(OAuthError::invalid_scope(format!(
            "The requested scopes belong to several APIs ({}): HelseID issues tokens with a single \
             audience, so ask for one token per API",
            many.join(", ")
        ))),
    }
}

/// PKCE values: 43 to 128 characters of the unreserved set (RFC 7636).
pub fn is_pkce_value(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn a_refresh_narrows_the_scopes_but_never_widens_them() {
        let granted = strings(&["openid", "offline_access", "e-helse:sfm.api/sfm.api"]);
        assert_eq!(narrowed_scopes(None, &granted).unwrap(), granted);
        assert_eq!(
            narrowed_scopes(Some("e-helse:sfm.api/sfm.api openid openid"), &granted).unwrap(),
            strings(&["e-helse:sfm.api/sfm.api", "openid"])
        );
        let err = narrowed_scopes(Some("openid profile"), &granted).unwrap_err();
        assert_eq!(err.code, OAuthErrorCode::InvalidScope);
        assert_eq!(
            err.description,
            "The scope 'profile' was not granted at login: a refresh can only narrow the scopes"
        );
    }

    #[test]
    fn token_exchange_parameters_are_checked_in_order() {
        let check = |form: &str| {
            exchange_subject_token(&FormParams::parse(form.as_bytes()).unwrap())
                .map(str::to_owned)
                .map_err(|e| e.description)
        };
        assert_eq!(
            check("subject_token_type=x").unwrap_err(),
            "subject_token is missing"
        );
        assert_eq!(
            check("subject_token=t&subject_token_type=x&actor_token=a").unwrap_err(),
            format!("subject_token_type must be {ACCESS_TOKEN_TYPE}, got 'x'")
        );
        let typed = format!("subject_token=t&subject_token_type={ACCESS_TOKEN_TYPE}");
        assert_eq!(
            check(&format!("{typed}&actor_token=a")).unwrap_err(),
            "actor_token is not supported"
        );
        assert_eq!(
            check(&format!("{typed}&requested_token_type=id")).unwrap_err(),
            format!("requested_token_type must be {ACCESS_TOKEN_TYPE}, got 'id'")
        );
        assert_eq!(check(&typed).unwrap(), "t");
    }

    #[test]
    fn an_exchanged_token_keeps_identity_scopes_but_offline_access() {
        let subject = object(json!({
            "scope": ["openid", "offline_access", "e-helse:a/a", "profile"],
        }));
        assert_eq!(
            exchanged_scopes(&subject, strings(&["e-helse:b/b"])),
            strings(&["openid", "profile", "e-helse:b/b"])
        );
        assert_eq!(
            exchanged_scopes(&Map::new(), strings(&["e-helse:b/b"])),
            strings(&["e-helse:b/b"])
        );
    }

    #[test]
    fn an_exchanged_token_names_the_acting_client_over_earlier_actors() {
        let mut subject = object(json!({
            "sub": "user",
            "client_id": "first",
            "scope": ["openid"],
            "act": {"client_id": "first"},
        }));
        subject.insert(crate::auth::claims::PID.to_owned(), json!("17056600574"));
        let claims = object(json!({"client_id": "second", "sub": "none"}));
        let claims = on_behalf_of(claims, &subject, "second");
        assert_eq!(
            claims["client_id"], "second",
            "the acting client's own claim stays"
        );
        assert_eq!(claims["sub"], "user");
        assert_eq!(claims[crate::auth::claims::PID], "17056600574");
        assert!(!claims.contains_key("scope"), "not a user claim");
        assert_eq!(
            claims["act"],
            json!({"client_id": "second", "act": {"client_id": "first"}})
        );
    }
}
