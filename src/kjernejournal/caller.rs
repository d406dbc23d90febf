//! Who calls kjernejournal: a HelseID token for `nhn:kjernejournal` (a system token at
//! helseindikator and ping, the user's token at the data APIs), the organisation it names, and
//! the EHR system in `X-EPJ-System`. Handlers take the caller as an extractor,
//! [`KjSystemCaller`] or [`KjUserCaller`], which refuses the call in kjernejournal's format.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, ResponseError, web};
use chrono::{DateTime, Utc};

use super::fault::Fault;
use crate::auth::claims::{HPR_NUMBER, ORGNR_CHILD, ORGNR_PARENT, PID, SECURITY_LEVEL};
use crate::auth::{DpopPolicy, Requirements, VerifiedToken};
use crate::errors::kjernejournal::KjError;
use crate::kjernejournal::State;

/// Kjernejournal's audience.
pub const KJ_AUDIENCE: &str = "nhn:kjernejournal";
/// The API scope.
pub const KJ_SCOPE: &str = "nhn:kjernejournal/api";
/// The legacy scope system tokens may still carry.
pub const KJ_LEGACY_SCOPE: &str = "https://ehelse.no/nhn:kjernejournal/kj_api";

/// An organisation calling with a system token (helseindikator, ping).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemCaller {
    /// The organisation number the token names (child, else parent).
    pub orgnr: String,
    /// The organisation's name in kjernejournal.
    pub organisation: String,
}

/// A health professional calling a data API with their own token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCaller {
    /// The user's national identity number.
    pub pid: String,
    /// The user's HPR number.
    pub hpr: String,
    /// The organisation number the token names (child, else parent).
    pub orgnr: String,
}

/// `X-EPJ-System`: required on every call.
pub fn epj_system(req: &HttpRequest) -> Result<String, Fault> {
    let Some(value) = req.headers().get("X-EPJ-System") else {
        return Err(Fault::MissingEpjSystem);
    };
    let text = value.to_str().map_err(|_| {
        Fault::InvalidRequest(
            "The X-EPJ-System header must be ASCII text (HTTP headers carry no other characters \
             reliably): write 'o' for 'ø', e.g. 'X-EPJ-System: ACME EHR system versjon 42.01'"
                .to_owned(),
        )
    })?;
    Some(text.trim())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .ok_or(Fault::MissingEpjSystem)
}

fn verify(
    req: &HttpRequest,
    state: &State,
    now: DateTime<Utc>,
    required: &Requirements<'_>,
) -> Result<VerifiedToken, Fault> {
    state
        .verifier
        .verify_api_request(req, required, now)
        .map_err(|e| Fault::Token(e.to_string()))
}

/// The organisation a token names, checked against kjernejournal's register.
fn organisation(token: &VerifiedToken, state: &State) -> Result<(String, String), Fault> {
    let orgnr = token
        .claim_str(ORGNR_CHILD)
        .or_else(|| token.claim_str(ORGNR_PARENT))
        .ok_or_else(|| {
            Fault::Token(format!(
                "it names no organisation ({ORGNR_PARENT} / {ORGNR_CHILD}): kjernejournal \
                 authorises the organisation from the token"
            ))
        })?;
    let store = state.store();
    match store.organisations.get(orgnr) {
        None => Err(Fault::UnknownOrganisation(orgnr.to_owned())),
        Some(o) if !o.access => Err(Fault::NoAccess(orgnr.to_owned())),
        Some(o) => Ok((orgnr.to_owned(), o.name.clone())),
    }
}

/// Authenticates helseindikator and ping: a token for kjernejournal (system or user) whose
/// organisation has access, and `X-EPJ-System`.
pub fn system(req: &HttpRequest, state: &State, now: DateTime<Utc>) -> Result<SystemCaller, Fault> {
    let token = verify(
        req,
        state,
        now,
        &Requirements {
            audience: Some(KJ_AUDIENCE),
            any_scope: &[KJ_SCOPE, KJ_LEGACY_SCOPE],
            // "KJ APIs require access tokens with the API Resource as the only audience" (spec).
            single_audience: true,
            dpop: DpopPolicy::Allowed,
        },
    )?;
    epj_system(req)?;
    let (orgnr, organisation) = organisation(&token, state)?;
    Ok(SystemCaller {
        orgnr,
        organisation,
    })
}

/// Authenticates a data API call: the user's token with kjernejournal as its only audience,
/// scope `nhn:kjernejournal/api`, pid, security level 4 and an HPR number; and `X-EPJ-System`.
pub fn user(req: &HttpRequest, state: &State, now: DateTime<Utc>) -> Result<UserCaller, Fault> {
    let token = verify(
        req,
        state,
        now,
        &Requirements {
            audience: Some(KJ_AUDIENCE),
            any_scope: &[KJ_SCOPE],
            single_audience: true,
            dpop: DpopPolicy::Allowed,
        },
    )?;
    epj_system(req)?;
    let pid = token.claim_str(PID).ok_or_else(|| {
        Fault::WrongTokenKind(format!(
            "The data APIs need the user's access token (with {PID}), not a system token: log the \
             user in (authorization code) and ask for a token with resource nhn:kjernejournal"
        ))
    })?;
    let level = token
        .claims
        .get(SECURITY_LEVEL)
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
        .unwrap_or_else(|| "(none)".to_owned());
    if level != "4" {
        return Err(Fault::SecurityLevel(level));
    }
    let hpr = token
        .claim_str(HPR_NUMBER)
        .ok_or(Fault::UserNotRegistered)?;
    let (orgnr, _) = organisation(&token, state)?;
    Ok(UserCaller {
        pid: pid.to_owned(),
        hpr: hpr.to_owned(),
        orgnr,
    })
}

/// The future of a caller extractor.
type Extraction<T, E> = Pin<Box<dyn Future<Output = Result<T, E>>>>;

/// Runs `authenticate` with kjernejournal's state and the clock's "now" when first polled —
/// that is, only once the handler's arguments before the caller were extracted without error,
/// as the handlers check them before the token. A failure is kjernejournal's error (the state
/// is always registered: its absence is a server fault).
fn authenticate_with_state<T: 'static>(
    req: &HttpRequest,
    authenticate: fn(&HttpRequest, &State, DateTime<Utc>) -> Result<T, Fault>,
) -> Extraction<T, KjError> {
    let req = req.clone();
    Box::pin(async move {
        let state = req
            .app_data::<web::Data<State>>()
            .ok_or_else(|| super::internal("Kjernejournal's state is not registered"))?;
        Ok(authenticate(&req, state, state.clock.now())?)
    })
}

/// Extractor: the organisation calling helseindikator or ping, authenticated by [`system`]; a
/// refusal is kjernejournal's JSON error. Helseindikator takes it as `BodyThen<KjSystemCaller>`:
/// the token is checked once the body is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KjSystemCaller(pub SystemCaller);

impl FromRequest for KjSystemCaller {
    type Error = KjError;
    type Future = Extraction<Self, KjError>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let caller = authenticate_with_state(req, system);
        Box::pin(async move { caller.await.map(Self) })
    }
}

/// Extractor: the health professional calling a data API, authenticated by [`user`]. A refusal
/// is rendered as `E`: kjernejournal's JSON error ([`KjError`], the default) or, at the FHIR
/// API, an OperationOutcome ([`super::fhir::FhirFault`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KjUserCaller<E = KjError> {
    /// The user.
    pub user: UserCaller,
    rendering: PhantomData<fn() -> E>,
}

impl<E> FromRequest for KjUserCaller<E>
where
    E: From<KjError> + ResponseError + 'static,
{
    type Error = E;
    type Future = Extraction<Self, E>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let user = authenticate_with_state(req, user);
        Box::pin(async move {
            let user = user.await.map_err(E::from)?;
            Ok(Self {
                user,
                rendering: PhantomData,
            })
        })
    }
}
