//! Who calls Kjernejournal Innlogging, as its "autentiseringsflyt" page requires: the user's
//! DPoP-bound HelseID token (`Authorization: DPoP <token>` and a `DPoP` proof) with audience
//! `nhn:kjernejournal`, both scopes `nhn:kjernejournal/innlogging` and
//! `nhn:kjernejournal/tillitsrammeverk`, security level 4 and the trust-framework attest; the
//! EHR system in `X-SOURCE-SYSTEM` and, optionally, a correlation id in `X-EVENT-ID`.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use chrono::{DateTime, Utc};

use super::attest::{self, Attest};
use super::fault::InnloggingFault;
use crate::auth::claims::{HPR_NUMBER, ORGNR_CHILD, ORGNR_PARENT, PID, SECURITY_LEVEL};
use crate::auth::{AuthError, DpopPolicy, Requirements, Scheme, VerifiedToken, challenge};
use crate::kjernejournal::State;
use crate::kjernejournal::caller::KJ_AUDIENCE;

/// The scope that lets a client call Innlogging.
pub const INNLOGGING_SCOPE: &str = "nhn:kjernejournal/innlogging";
/// The scope that lets HelseID put the attest in the token.
pub const TRUST_FRAMEWORK_SCOPE: &str = "nhn:kjernejournal/tillitsrammeverk";

/// The header naming the EHR system.
pub const SOURCE_SYSTEM: &str = "X-SOURCE-SYSTEM";
/// The optional correlation header.
pub const EVENT_ID: &str = "X-EVENT-ID";

/// An authenticated Innlogging caller.
#[derive(Debug, Clone, PartialEq)]
pub struct InnloggingUser {
    /// The user's national identity number.
    pub pid: String,
    /// The user's HPR number, if the token has one.
    pub hpr: Option<String>,
    /// The organisation the token names (child, else parent), if any.
    pub orgnr: Option<String>,
    /// When the token expires.
    pub expires: DateTime<Utc>,
    /// The trust-framework attest.
    pub attest: Attest,
    /// `X-SOURCE-SYSTEM`.
    pub source_system: String,
    /// `X-EVENT-ID`, when sent.
    pub event_id: Option<String>,
}

/// `X-SOURCE-SYSTEM`: required; 3–512 characters, only letters, digits, space and `.,()-`.
pub fn source_system(value: Option<&[u8]>) -> Result<String, String> {
    let example = "e.g. 'X-SOURCE-SYSTEM: ACME EPJ 42.01 (build 7)'";
    let Some(bytes) = value else {
        return Err(format!(
            "The {SOURCE_SYSTEM} header is required: the EHR system's name and version, {example}"
        ));
    };
    let text = std::str::from_utf8(bytes)
        .map_err(|_| format!("The {SOURCE_SYSTEM} header is not UTF-8 text"))?;
    let length = text.chars().count();
    if !(3..=512).contains(&length) {
        return Err(format!(
            "The {SOURCE_SYSTEM} header must be 3 to 512 characters long, got {length}: {example}"
        ));
    }
    if let Some(bad) = text
        .chars()
        .find(|c| !(c.is_alphanumeric() || " .,()-".contains(*c)))
    {
        return Err(format!(
            "The {SOURCE_SYSTEM} header may hold only letters, digits, space and . , ( ) -, \
             not '{bad}': {example}"
        ));
    }
    Ok(text.to_owned())
}

/// `X-EVENT-ID`: optional; when sent, 1–128 ASCII letters, digits and hyphens.
pub fn event_id(value: Option<&[u8]>) -> Result<Option<String>, String> {
    let Some(bytes) = value else {
        return Ok(None);
    };
    let valid = !bytes.is_empty()
        && bytes.len() <= 128
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-');
    if valid {
        Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
    } else {
        Err(format!(
            "The {EVENT_ID} header, when sent, must be 1 to 128 letters (a-z, A-Z), digits and \
             hyphens, e.g. a UUID; got {} bytes",
            bytes.len()
        ))
    }
}

/// The token refused, with the DPoP challenge.
fn token_fault(error: &AuthError, used: Option<Scheme>) -> InnloggingFault {
    InnloggingFault::Token {
        reason: error.to_string(),
        challenge: error.www_authenticate(DpopPolicy::Required, used),
    }
}

/// Checks the `Authorization` scheme and the token (signature, audience, the Innlogging scope,
/// the DPoP binding and proof), then the trust-framework scope.
fn verify(
    req: &HttpRequest,
    state: &State,
    now: DateTime<Utc>,
) -> Result<VerifiedToken, InnloggingFault> {
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let used = Scheme::of(authorization);
    let refuse = |reason: &str, code: Option<&str>| InnloggingFault::Token {
        reason: reason.to_owned(),
        challenge: challenge(Scheme::Dpop, code, reason),
    };
    if authorization.is_none() {
        return Err(refuse(
            "No access token: send the user's DPoP-bound token as 'Authorization: DPoP <token>' \
             with a DPoP proof in the DPoP header",
            None,
        ));
    }
    if used == Some(Scheme::Bearer) {
        return Err(refuse(
            "Kjernejournal Innlogging accepts only DPoP-bound tokens: send 'Authorization: DPoP \
             <token>' with a DPoP proof in the DPoP header (the Bearer scheme is refused)",
            Some("invalid_token"),
        ));
    }
    let required = Requirements {
        audience: Some(KJ_AUDIENCE),
        any_scope: &[INNLOGGING_SCOPE],
        single_audience: true,
        dpop: DpopPolicy::Required,
    };
    let token = state
        .verifier
        .verify_api_request(req, &required, now)
        .map_err(|e| token_fault(&e, used))?;
    if !crate::auth::scopes(&token.claims).contains(&TRUST_FRAMEWORK_SCOPE) {
        return Err(token_fault(
            &AuthError::MissingScope(format!(
                "{TRUST_FRAMEWORK_SCOPE} (Kjernejournal Innlogging requires both \
                 {INNLOGGING_SCOPE} and {TRUST_FRAMEWORK_SCOPE})"
            )),
            used,
        ));
    }
    Ok(token)
}

/// Authenticates an Innlogging call: the token, the user in it, the attest, the headers.
pub fn authenticate(
    req: &HttpRequest,
    state: &State,
    now: DateTime<Utc>,
) -> Result<InnloggingUser, InnloggingFault> {
    let token = verify(req, state, now)?;
    let pid = token
        .claim_str(PID)
        .ok_or(InnloggingFault::NotAUser)?
        .to_owned();
    let level = token
        .claims
        .get(SECURITY_LEVEL)
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
        .unwrap_or_else(|| "(none)".to_owned());
    if level != "4" {
        return Err(InnloggingFault::SecurityLevel(level));
    }
    let attest = attest::check(&token.claims).map_err(InnloggingFault::Attest)?;
    let header = |name: &str| req.headers().get(name).map(|v| v.as_bytes());
    let source_system =
        source_system(header(SOURCE_SYSTEM)).map_err(InnloggingFault::InvalidRequest)?;
    let event_id = event_id(header(EVENT_ID)).map_err(InnloggingFault::InvalidRequest)?;
    let expires = token
        .claims
        .get("exp")
        .and_then(serde_json::Value::as_i64)
        .and_then(|exp| DateTime::from_timestamp(exp, 0))
        .unwrap_or(now);
    Ok(InnloggingUser {
        pid,
        hpr: token.claim_str(HPR_NUMBER).map(str::to_owned),
        orgnr: token
            .claim_str(ORGNR_CHILD)
            .or_else(|| token.claim_str(ORGNR_PARENT))
            .map(str::to_owned),
        expires,
        attest,
        source_system,
        event_id,
    })
}

/// Extractor: the authenticated Innlogging caller ([`authenticate`]); a refusal is
/// kjernejournal's JSON error with a `DPoP` challenge when the token is refused.
#[derive(Debug, Clone, PartialEq)]
pub struct InnloggingCaller(pub InnloggingUser);

impl FromRequest for InnloggingCaller {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req.app_data::<web::Data<State>>().ok_or_else(|| {
                actix_web::Error::from(crate::kjernejournal::internal(
                    "Kjernejournal's state is not registered",
                ))
            })?;
            authenticate(&req, state, state.clock.now())
                .map(Self)
                .map_err(actix_web::Error::from)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_source_system_header_follows_the_documented_rule() {
        assert_eq!(
            source_system(Some(b"ACME EPJ 42.01 (build 7), test-miljo")),
            Ok("ACME EPJ 42.01 (build 7), test-miljo".to_owned())
        );
        assert_eq!(
            source_system(Some("Fjellheim EPJ 1.0 – æøå".as_bytes())),
            Err(
                "The X-SOURCE-SYSTEM header may hold only letters, digits, space and . , ( ) -, \
                 not '–': e.g. 'X-SOURCE-SYSTEM: ACME EPJ 42.01 (build 7)'"
                    .to_owned()
            )
        );
        assert!(source_system(Some("Fjellheim EPJ æøå".as_bytes())).is_ok());
        assert!(
            source_system(None)
                .unwrap_err()
                .starts_with("The X-SOURCE-SYSTEM header is required")
        );
        assert_eq!(
            source_system(Some(b"EP")),
            Err(
                "The X-SOURCE-SYSTEM header must be 3 to 512 characters long, got 2: e.g. \
                 'X-SOURCE-SYSTEM: ACME EPJ 42.01 (build 7)'"
                    .to_owned()
            )
        );
        assert!(source_system(Some("a".repeat(512).as_bytes())).is_ok());
        assert!(source_system(Some("a".repeat(513).as_bytes())).is_err());
        assert!(source_system(Some(b"EPJ/1.0")).is_err());
    }

    #[test]
    fn the_event_id_header_is_optional_and_short() {
        assert_eq!(event_id(None), Ok(None));
        assert_eq!(
            event_id(Some(b"9f1c-AB12")),
            Ok(Some("9f1c-AB12".to_owned()))
        );
        assert!(event_id(Some("a".repeat(128).as_bytes())).is_ok());
        for bad in [
            &b""[..],
            &b"id_1"[..],
            &b"id 1"[..],
            "a".repeat(129).as_bytes(),
        ] {
            assert!(event_id(Some(bad)).is_err(), "{bad:?}");
        }
    }
}
