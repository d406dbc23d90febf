//! The state of user logins: pushed authorization requests, login transactions, authorization
//! codes, browser sessions, refresh-token families and revoked access tokens. Everything expires
//! by the clock and is swept as new entries arrive, so memory is bounded by what is alive.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::model::User;

/// How long a `request_uri` from PAR may be used.
pub const PAR_LIFETIME: TimeDelta = TimeDelta::seconds(60);
/// How long the login page may take.
pub const LOGIN_LIFETIME: TimeDelta = TimeDelta::minutes(10);
/// How long an authorization code is valid.
pub const CODE_LIFETIME: TimeDelta = TimeDelta::seconds(60);
/// How long a browser session lasts.
pub const SESSION_LIFETIME: TimeDelta = TimeDelta::hours(8);
/// Prefix of PAR request URIs (RFC 9126).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// How the authorization response is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    /// Query parameters on a 302 redirect.
    Query,
    /// An auto-submitting HTML form (`form_post`).
    FormPost,
    /// Parameters in the fragment of a 302 redirect (`fragment`, for browser-based clients).
    Fragment,
}

/// A validated authorization request (from PAR, or from the authorize query for non-PAR clients).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationRequest {
    /// The client.
    pub client_id: String,
    /// The registered redirect URI it asked for.
    pub redirect_uri: String,
    /// Requested scopes (identity and API).
    pub scopes: Vec<String>,
    /// API resources (audiences) authorized with `resource`.
    pub resources: Vec<String>,
    /// Echoed in the redirect.
    pub state: Option<String>,
    /// Echoed in the id token.
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: String,
    /// `none` or `login`.
    pub prompt: Option<String>,
    /// The pid of the user to log in without the page (when auto-login is on).
    pub login_hint: Option<String>,
    /// The test IdP's own parameters (`test_pid`, `test_security_level`): log this person in
    /// without the page, as HelseID's test IdP does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_login: Option<TestLogin>,
    /// How to answer.
    pub response_mode: ResponseMode,
    /// The DPoP key the code is bound to (a PAR proof or `dpop_jkt`).
    pub dpop_jkt: Option<String>,
    /// Organisation details (`authorization_details`) from a request object or the request.
    pub details: Option<Map<String, Value>>,
}

/// Who the test IdP logs in when the request names them (`test_pid`, `test_security_level`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestLogin {
    /// The person's fødselsnummer or D-nummer.
    pub pid: String,
    /// `3` or `4` (4 when the request names none).
    pub security_level: String,
}

/// A user as logged in: a fixture user or one typed on the login page.
pub type LoggedInUser = User;

/// A login in progress on the login page.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginTransaction {
    /// The request being answered.
    pub request: AuthorizationRequest,
    /// Until when the page may be submitted.
    pub expires: DateTime<Utc>,
}

/// A browser session (the `sid`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Session {
    /// Who is logged in.
    pub user: LoggedInUser,
    /// When they logged in.
    pub auth_time: DateTime<Utc>,
    /// Until when the session is valid.
    pub expires: DateTime<Utc>,
}

/// An authorization code and what it grants.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationCode {
    /// The request it answers.
    pub request: AuthorizationRequest,
    /// Who logged in.
    pub user: LoggedInUser,
    /// When.
    pub auth_time: DateTime<Utc>,
    /// The session (sid) it belongs to.
    pub sid: String,
    /// Until when it may be exchanged.
    pub expires: DateTime<Utc>,
    /// After its first use: what that use issued (revoked if the code is used again).
    pub redeemed: Option<Redemption>,
}

/// What a redeemed code issued.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redemption {
    /// The refresh-token family issued.
    pub family: Option<String>,
    /// The access token issued.
    pub access_jti: Option<(String, DateTime<Utc>)>,
}

/// The grant behind a family of refresh tokens (one login, rotated on every use).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// The client.
    pub client_id: String,
    /// The session (sid).
    pub sid: String,
    /// The user.
    pub user: LoggedInUser,
    /// When the user logged in.
    pub auth_time: DateTime<Utc>,
    /// Scopes granted at login.
    pub scopes: Vec<String>,
    /// Resources authorized at login.
    pub resources: Vec<String>,
    /// Organisation details from the login.
    pub details: Option<Map<String, Value>>,
    /// The DPoP key of the login's first tokens. Recorded only: HelseID's clients are
    /// confidential, so a refresh may use another key (RFC 9449 §5).
    pub dpop_jkt: Option<String>,
    /// Absolute expiry of every refresh token of the family.
    pub expires: DateTime<Utc>,
    /// The one refresh token of the family that may be used now.
    pub current_token: String,
    /// Revoked (reuse detected, logout, revocation): no token of the family works.
    pub revoked: bool,
    /// The access tokens issued with the family (`jti`, expiry), unexpired ones only: revoking
    /// the family revokes them too (RFC 7009 §2.1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_tokens: Vec<(String, DateTime<Utc>)>,
}

impl Grant {
    /// Records an access token issued with the family, forgetting the expired ones.
    pub fn record_access(&mut self, jti: String, expires: DateTime<Utc>, now: DateTime<Utc>) {
        self.access_tokens.retain(|(_, until)| *until > now);
        self.access_tokens.push((jti, expires));
    }
}

/// What became of a refresh token presented at the token endpoint.
#[derive(Debug, Clone)]
pub enum RefreshLookup {
    /// The family's current token.
    Current(String),
    /// An older token of a family: a replay after rotation.
    Rotated(String),
    /// Unknown.
    Unknown,
}

/// All login state.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowState {
    /// Pushed requests by request URI.
    #[serde(serialize_with = "crate::store::sorted::map")]
    pub pushed: HashMap<String, (AuthorizationRequest, DateTime<Utc>)>,
    /// Login pages in progress by transaction id.
    #[serde(serialize_with = "crate::store::sorted::map")]
    pub logins: HashMap<String, LoginTransaction>,
    /// Codes.
    #[serde(serialize_with = "crate::store::sorted::map")]
    pub codes: HashMap<String, AuthorizationCode>,
    /// Browser sessions by sid.
    #[serde(serialize_with = "crate::store::sorted::map")]
    pub sessions: HashMap<String, Session>,
    /// Refresh-token families by family id.
    #[serde(serialize_with = "crate::store::sorted::map")]
    pub grants: HashMap<String, Grant>,
    /// Every refresh token ever issued (current and rotated) to its family.
    #[serde(serialize_with = "crate::store::sorted::map")]
    pub refresh_tokens: HashMap<String, String>,
    /// Revoked access tokens (jti) until their expiry.
    #[serde(serialize_with = "crate::store::sorted::map")]
    pub revoked_access: HashMap<String, DateTime<Utc>>,
    /// Everyone who has logged in, by `sub` (for userinfo, which outlives sessions).
    #[serde(serialize_with = "crate::store::sorted::map")]
    pub known_users: HashMap<String, LoggedInUser>,
    /// When expired entries were last swept.
    #[serde(skip)]
    last_sweep: Option<DateTime<Utc>>,
}

impl FlowState {
    /// Drops everything that has expired at `now` (at most every ten seconds of clock time;
    /// lookups check expiry themselves, so sweeping only bounds memory).
    pub fn sweep(&mut self, now: DateTime<Utc>) {
        if self
            .last_sweep
            .is_some_and(|last| last <= now && now - last < TimeDelta::seconds(10))
        {
            return;
        }
        self.last_sweep = Some(now);
        self.pushed.retain(|_, (_, expires)| *expires > now);
        self.logins.retain(|_, t| t.expires > now);
        // Used codes are kept a while longer so that a late replay still revokes.
        self.codes
            .retain(|_, c| crate::clock::after(c.expires, TimeDelta::minutes(10)) > now);
        self.sessions.retain(|_, s| s.expires > now);
        // Expired grants are kept an hour longer so that their tokens get "has expired".
        let dead: Vec<String> = self
            .grants
            .iter()
            .filter(|(_, g)| crate::clock::after(g.expires, TimeDelta::hours(1)) <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for family in &dead {
            self.grants.remove(family);
        }
        self.refresh_tokens
            .retain(|_, family| self.grants.contains_key(family));
        self.revoked_access.retain(|_, until| *until > now);
    }

    /// Finds the family of a refresh token.
    pub fn lookup_refresh(&self, token: &str) -> RefreshLookup {
        match self.refresh_tokens.get(token) {
            Some(family) => match self.grants.get(family) {
                Some(grant) if grant.current_token == token => {
                    RefreshLookup::Current(family.clone())
                }
                Some(_) => RefreshLookup::Rotated(family.clone()),
                None => RefreshLookup::Unknown,
            },
            None => RefreshLookup::Unknown,
        }
    }

    /// Revokes every refresh token of a family and the access tokens issued with it.
    pub fn revoke_family(&mut self, family: &str) {
        if let Some(grant) = self.grants.get_mut(family) {
            grant.revoked = true;
            for (jti, until) in grant.access_tokens.drain(..) {
                self.revoked_access.insert(jti, until);
            }
        }
    }

    /// Whether an access token's `jti` has been revoked.
    pub fn is_access_revoked(&self, jti: &str, now: DateTime<Utc>) -> bool {
        self.revoked_access
            .get(jti)
            .is_some_and(|until| *until > now)
    }
}
