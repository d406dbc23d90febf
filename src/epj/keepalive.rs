//! Keeping the clinician's national sessions alive, as NHN's WebEPJSampleApp does: the page
//! pings the backend every four minutes; when the access tokens have less than five minutes
//! left, the backend refreshes them (the rotating refresh token, once per API) and hands the new
//! ones to SFM (`Session/refresh`, SFM requirement 2.4.5: SFM always has a live token) and to
//! Kjernejournal Innlogging (`session/refresh`).

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use super::national::{CallError, National};
use crate::commands::token::DpopKey;

/// Tokens are renewed when they have less than this left.
pub const RENEW_BEFORE: TimeDelta = TimeDelta::minutes(5);

/// The clinician's API tokens from one refresh token.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// SFM's (Bearer).
    pub sfm: String,
    /// Kjernejournal's (DPoP-bound).
    pub kj: String,
    /// The refresh token after both rotations.
    pub refresh_token: Option<String>,
    /// When the first of them expires.
    pub expires: DateTime<Utc>,
}

fn text(value: &Value, name: &str) -> Option<String> {
    value[name].as_str().map(str::to_owned)
}

fn expiry(national: &National, answers: &[&Value]) -> DateTime<Utc> {
    let seconds = answers
        .iter()
        .filter_map(|a| a["expires_in"].as_i64())
        .min()
        .unwrap_or(0);
    crate::clock::after(national.now(), TimeDelta::seconds(seconds))
}

/// A refresh-token request for `resource`, with a DPoP proof of `dpop` when given.
async fn refresh(
    national: &National,
    refresh_token: &str,
    resource: &str,
    dpop: Option<&DpopKey>,
) -> Result<Value, CallError> {
    let token = national.endpoints.token.clone();
    national
        .helseid_form(
            &token,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("resource", resource),
            ],
            dpop,
        )
        .await
}

/// Kjernejournal's token from `sfm`, the answer that gave SFM's token (its refresh token).
pub async fn with_kjernejournal(
    national: &National,
    sfm: &Value,
    dpop: &DpopKey,
) -> Result<Tokens, CallError> {
    let refresh_token = text(sfm, "refresh_token")
        .ok_or_else(|| CallError("the token response has no refresh token".into()))?;
    let kj = refresh(national, &refresh_token, "nhn:kjernejournal", Some(dpop)).await?;
    Ok(Tokens {
        sfm: text(sfm, "access_token").unwrap_or_default(),
        kj: text(&kj, "access_token").unwrap_or_default(),
        refresh_token: text(&kj, "refresh_token"),
        expires: expiry(national, &[sfm, &kj]),
    })
}

/// New tokens for both APIs from `refresh_token`.
pub async fn renew(
    national: &National,
    refresh_token: &str,
    dpop: &DpopKey,
) -> Result<Tokens, CallError> {
    let sfm = refresh(national, refresh_token, "e-helse:sfm.api", None).await?;
    with_kjernejournal(national, &sfm, dpop).await
}

/// Hands the new tokens to SFM's session and to each Kjernejournal Innlogging session. SFM
/// answers 404 when the clinician has not opened its client yet: nothing to hand over then.
pub async fn hand_over(
    national: &National,
    tokens: &Tokens,
    dpop: &DpopKey,
    kj_sessions: &[String],
) -> Result<(), CallError> {
    let url = format!("{}/sfm/api/Session/refresh", national.base);
    let answer = national
        .post_json(&url, &tokens.sfm, &json!({}), &[])
        .await?;
    if answer.status.as_u16() != 404 {
        answer.ok("SFM Session/refresh")?;
    }
    for session_id in kj_sessions {
        let body = json!({"sessionId": session_id});
        super::api::innlogging_call(national, &tokens.kj, dpop, "refresh", &body)
            .await?
            .ok("Kjernejournal Innlogging session/refresh")?;
    }
    Ok(())
}
