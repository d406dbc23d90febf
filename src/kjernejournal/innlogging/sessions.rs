//! Kjernejournal Innlogging's sessions: what `session/create` records, the single-use `code` the
//! portal redeems with the EHR's code verifier, and the portal session (a cookie) that follows.
//!
//! Lifetimes (not published; helsesim's choice, see README): the code lasts [`CODE_LIFETIME`]
//! and is spent by its first redemption attempt, right or wrong; the session lasts as long as
//! the access token it was created or last refreshed with (NHN's sample refreshes at 0.8 × the
//! token's lifetime with a freshly refreshed token), until `session/end` or the portal's
//! logout.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, TimeDelta, Utc};

use super::fault::InnloggingFault;
use crate::kjernejournal::consent::Samtykke;
use crate::national::KjModule;

/// How long a code can be redeemed.
pub const CODE_LIFETIME: TimeDelta = TimeDelta::minutes(2);
/// How long an ended or expired session is remembered (to say so rather than "unknown").
const REMEMBER: TimeDelta = TimeDelta::hours(1);
/// The most sessions held at once.
const MAX_SESSIONS: usize = 10_000;

/// Why the practitioner opens the patient's kjernejournal (`claims.access_basis.code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessBasis {
    /// The patient consents.
    Samtykke,
    /// Emergency.
    Akutt,
    /// No consent needed (specialist health service, the patient's own GP).
    Unntak,
}

impl AccessBasis {
    /// Parses the code as sent.
    pub fn parse(code: &str) -> Option<Self> {
        match code {
            "SAMTYKKE" => Some(Self::Samtykke),
            "AKUTT" => Some(Self::Akutt),
            "UNNTAK" => Some(Self::Unntak),
            _ => None,
        }
    }

    /// The code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Samtykke => "SAMTYKKE",
            Self::Akutt => "AKUTT",
            Self::Unntak => "UNNTAK",
        }
    }

    /// The kjernejournal consent value the basis stands for: SAMTYKKE → HPMOTTATTSAMTYKKE,
    /// AKUTT → HPAKUTT, UNNTAK → HPUNNTAK.
    pub fn samtykke(self) -> Samtykke {
        match self {
            Self::Samtykke => Samtykke::HpMottattSamtykke,
            Self::Akutt => Samtykke::HpAkutt,
            Self::Unntak => Samtykke::HpUnntak,
        }
    }
}

/// What `session/create` records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionFacts {
    /// The user's national identity number.
    pub pid: String,
    /// The user's HPR number, if the token had one.
    pub hpr: Option<String>,
    /// The organisation the token names, if any.
    pub orgnr: Option<String>,
    /// The user's name, from the attest (HelseID adds it), if given.
    pub user_name: Option<String>,
    /// The point of care, from the attest, if given.
    pub point_of_care: Option<String>,
    /// The attest's purpose of use, if given.
    pub purpose_of_use: Option<String>,
    /// The patient.
    pub patient: String,
    /// The practitioner's HPR authorisation code.
    pub authorization: String,
    /// The access basis.
    pub access_basis: AccessBasis,
}

/// The portal session of a redeemed code.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PortalState {
    cookie: String,
    csrf: String,
    opened: Vec<(KjModule, Samtykke)>,
}

/// One session.
#[derive(Debug, Clone)]
struct Session {
    facts: SessionFacts,
    expires: DateTime<Utc>,
    ended: Option<DateTime<Utc>>,
    challenge: String,
    code_expires: DateTime<Utc>,
    code_spent: bool,
    portal: Option<PortalState>,
}

impl Session {
    /// Whether the session is over at `now`, and since when.
    fn over(&self, now: DateTime<Utc>) -> Option<Over> {
        match self.ended {
            Some(at) => Some(Over::Ended(at)),
            None if now >= self.expires => Some(Over::Expired(self.expires)),
            None => None,
        }
    }

    fn forgettable(&self, now: DateTime<Utc>) -> bool {
        self.ended.unwrap_or(self.expires) + REMEMBER <= now
    }
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Over {
    /// By `session/end` or the portal's logout, at.
    Ended(DateTime<Utc>),
    /// By time, at.
    Expired(DateTime<Utc>),
}

/// Why a code was not redeemed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedeemError {
    /// No code, or no session has it.
    UnknownCode,
    /// The code was redeemed (or tried) before.
    Spent,
    /// The code's time is over.
    CodeExpired(DateTime<Utc>),
    /// The verifier is missing or does not match the challenge.
    WrongVerifier,
    /// The session is over.
    SessionOver(Over),
}

/// What the portal may show: the session's facts and what the user opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalView {
    /// The session's facts.
    pub facts: SessionFacts,
    /// The token a form must carry (against cross-site requests).
    pub csrf: String,
    /// Restricted modules the user opened, with the basis given.
    pub opened: Vec<(KjModule, Samtykke)>,
    /// When the session expires.
    pub expires: DateTime<Utc>,
}

/// Why the portal has no session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gone {
    /// No (known) portal cookie.
    NoSession,
    /// The session is over.
    Over(Over),
}

/// Who may refresh or end a session: the user and organisation that created it.
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    /// The user's pid.
    pub pid: &'a str,
    /// The token's organisation.
    pub orgnr: Option<&'a str>,
}

#[derive(Debug, Default)]
struct Inner {
    sessions: HashMap<String, Session>,
    codes: HashMap<String, String>,
    cookies: HashMap<String, String>,
}

impl Inner {
    fn prune(&mut self, now: DateTime<Utc>) {
        self.sessions.retain(|_, s| !s.forgettable(now));
        let sessions = &self.sessions;
        self.codes.retain(|_, id| sessions.contains_key(id));
        self.cookies.retain(|_, id| sessions.contains_key(id));
    }

    fn owned(
        &mut self,
        id: &str,
        owner: Owner<'_>,
        now: DateTime<Utc>,
    ) -> Result<&mut Session, InnloggingFault> {
        let session = self
            .sessions
            .get_mut(id)
            .ok_or(InnloggingFault::UnknownSession)?;
        if session.facts.pid != owner.pid || session.facts.orgnr.as_deref() != owner.orgnr {
            return Err(InnloggingFault::OtherUsersSession);
        }
        match session.over(now) {
            Some(Over::Ended(at)) => Err(InnloggingFault::SessionEnded(at)),
            Some(Over::Expired(at)) => Err(InnloggingFault::SessionExpired(at)),
            None => Ok(session),
        }
    }

    fn by_cookie(&mut self, cookie: &str) -> Option<&mut Session> {
        let id = self.cookies.get(cookie)?;
        self.sessions.get_mut(id)
    }
}

/// The sessions (in memory; a restart ends them).
#[derive(Debug, Default)]
pub struct Sessions {
    inner: Mutex<Inner>,
}

/// A created session: its id and the code that opens the portal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// `sessionId`.
    pub session_id: String,
    /// `code`.
    pub code: String,
}

/// Whether `verifier` is an RFC 7636 code verifier whose S256 challenge is `challenge`.
pub fn verifier_matches(verifier: &str, challenge: &str) -> bool {
    let shaped = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    shaped && crate::jose::sha256_b64url(verifier) == challenge
}

impl Sessions {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a session valid until `expires`, with a code for `challenge`.
    pub fn create(
        &self,
        facts: SessionFacts,
        challenge: &str,
        expires: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Created, InnloggingFault> {
        let mut inner = self.lock();
        inner.prune(now);
        if inner.sessions.len() >= MAX_SESSIONS {
            return Err(InnloggingFault::Full);
        }
        let created = Created {
            session_id: crate::random::url_token(24),
            code: crate::random::url_token(32),
        };
        inner.sessions.insert(
            created.session_id.clone(),
            Session {
                facts,
                expires,
                ended: None,
                challenge: challenge.to_owned(),
                code_expires: crate::clock::after(now, CODE_LIFETIME),
                code_spent: false,
                portal: None,
            },
        );
        inner
            .codes
            .insert(created.code.clone(), created.session_id.clone());
        Ok(created)
    }

    /// Extends the session to `expires` (the new token's expiry); returns the new expiry.
    pub fn refresh(
        &self,
        id: &str,
        owner: Owner<'_>,
        expires: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, InnloggingFault> {
        let mut inner = self.lock();
        let session = inner.owned(id, owner, now)?;
        session.expires = session.expires.max(expires);
        Ok(session.expires)
    }

    /// Ends the session (and its portal session).
    pub fn end(
        &self,
        id: &str,
        owner: Owner<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), InnloggingFault> {
        let mut inner = self.lock();
        inner.owned(id, owner, now)?.ended = Some(now);
        Ok(())
    }

    /// Redeems a code with the EHR's verifier: a new portal session, whose cookie is returned.
    pub fn redeem(
        &self,
        code: &str,
        verifier: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(String, SessionFacts), RedeemError> {
        let mut inner = self.lock();
        let id = inner
            .codes
            .get(code)
            .cloned()
            .ok_or(RedeemError::UnknownCode)?;
        let session = inner
            .sessions
            .get_mut(&id)
            .ok_or(RedeemError::UnknownCode)?;
        if std::mem::replace(&mut session.code_spent, true) {
            return Err(RedeemError::Spent);
        }
        if now >= session.code_expires {
            return Err(RedeemError::CodeExpired(session.code_expires));
        }
        if let Some(over) = session.over(now) {
            return Err(RedeemError::SessionOver(over));
        }
        if !verifier.is_some_and(|v| verifier_matches(v, &session.challenge)) {
            return Err(RedeemError::WrongVerifier);
        }
        let portal = PortalState {
            cookie: crate::random::url_token(32),
            csrf: crate::random::url_token(16),
            opened: Vec::new(),
        };
        let cookie = portal.cookie.clone();
        let facts = session.facts.clone();
        if let Some(old) = session.portal.replace(portal) {
            inner.cookies.remove(&old.cookie);
        }
        inner.cookies.insert(cookie.clone(), id);
        Ok((cookie, facts))
    }

    /// The portal session of a cookie.
    pub fn portal(&self, cookie: Option<&str>, now: DateTime<Utc>) -> Result<PortalView, Gone> {
        let mut inner = self.lock();
        let session = cookie
            .and_then(|c| inner.by_cookie(c))
            .ok_or(Gone::NoSession)?;
        if let Some(over) = session.over(now) {
            return Err(Gone::Over(over));
        }
        let portal = session.portal.as_ref().ok_or(Gone::NoSession)?;
        Ok(PortalView {
            facts: session.facts.clone(),
            csrf: portal.csrf.clone(),
            opened: portal.opened.clone(),
            expires: session.expires,
        })
    }

    /// Records that the user opened a restricted module with `basis`; `false` when the form's
    /// token is not the session's.
    pub fn open_module(
        &self,
        cookie: Option<&str>,
        csrf: &str,
        module: KjModule,
        basis: Samtykke,
        now: DateTime<Utc>,
    ) -> Result<bool, Gone> {
        let mut inner = self.lock();
        let session = cookie
            .and_then(|c| inner.by_cookie(c))
            .ok_or(Gone::NoSession)?;
        if let Some(over) = session.over(now) {
            return Err(Gone::Over(over));
        }
        let portal = session.portal.as_mut().ok_or(Gone::NoSession)?;
        if portal.csrf != csrf {
            return Ok(false);
        }
        portal.opened.retain(|(m, _)| *m != module);
        portal.opened.push((module, basis));
        Ok(true)
    }

    /// The portal's logout: ends the session of the cookie; whether there was one.
    pub fn logout(&self, cookie: Option<&str>, now: DateTime<Utc>) -> bool {
        let mut inner = self.lock();
        match cookie.and_then(|c| inner.by_cookie(c)) {
            Some(session) if session.ended.is_none() => {
                session.ended = Some(now);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn facts() -> SessionFacts {
        SessionFacts {
            pid: "17056600574".to_owned(),
            hpr: Some("431001110".to_owned()),
            orgnr: Some("987654325".to_owned()),
            user_name: None,
            point_of_care: None,
            purpose_of_use: None,
            patient: "13116900216".to_owned(),
            authorization: "LE".to_owned(),
            access_basis: AccessBasis::Samtykke,
        }
    }

    const VERIFIER: &str = "a-verifier-of-the-ehr-that-is-long-enough-1234";

    fn owner() -> Owner<'static> {
        Owner {
            pid: "17056600574",
            orgnr: Some("987654325"),
        }
    }

    #[test]
    fn a_code_is_redeemed_once_with_its_verifier() {
        let sessions = Sessions::default();
        let challenge = crate::jose::sha256_b64url(VERIFIER);
        let expires = t0() + TimeDelta::minutes(10);
        let created = sessions.create(facts(), &challenge, expires, t0()).unwrap();
        assert_eq!(
            sessions.redeem("nope", Some(VERIFIER), t0()),
            Err(RedeemError::UnknownCode)
        );
        let (cookie, got) = sessions
            .redeem(&created.code, Some(VERIFIER), t0())
            .unwrap();
        assert_eq!(got, facts());
        assert_eq!(
            sessions.redeem(&created.code, Some(VERIFIER), t0()),
            Err(RedeemError::Spent)
        );
        let view = sessions.portal(Some(&cookie), t0()).unwrap();
        assert_eq!(view.expires, expires);
        assert_eq!(sessions.portal(Some("other"), t0()), Err(Gone::NoSession));
        assert_eq!(
            sessions.portal(Some(&cookie), expires),
            Err(Gone::Over(Over::Expired(expires)))
        );
    }

    #[test]
    fn a_wrong_verifier_or_a_late_code_spends_the_code() {
        let sessions = Sessions::default();
        let challenge = crate::jose::sha256_b64url(VERIFIER);
        let expires = t0() + TimeDelta::minutes(10);
        let created = sessions.create(facts(), &challenge, expires, t0()).unwrap();
        let other = format!("{VERIFIER}x");
        assert_eq!(
            sessions.redeem(&created.code, Some(&other), t0()),
            Err(RedeemError::WrongVerifier)
        );
        assert_eq!(
            sessions.redeem(&created.code, Some(VERIFIER), t0()),
            Err(RedeemError::Spent)
        );
        let late = sessions.create(facts(), &challenge, expires, t0()).unwrap();
        let at = t0() + CODE_LIFETIME;
        assert_eq!(
            sessions.redeem(&late.code, Some(VERIFIER), at),
            Err(RedeemError::CodeExpired(at))
        );
    }

    #[test]
    fn refresh_and_end_take_the_owner_and_an_open_session() {
        let sessions = Sessions::default();
        let expires = t0() + TimeDelta::minutes(10);
        let created = sessions.create(facts(), "c", expires, t0()).unwrap();
        let id = created.session_id.as_str();
        let later = expires + TimeDelta::minutes(10);
        assert_eq!(sessions.refresh(id, owner(), later, t0()), Ok(later));
        assert_eq!(
            sessions.refresh(id, owner(), expires, t0()),
            Ok(later),
            "an older token does not shorten the session"
        );
        let stranger = Owner {
            pid: "02887810071",
            orgnr: Some("987654325"),
        };
        assert_eq!(
            sessions.end(id, stranger, t0()),
            Err(InnloggingFault::OtherUsersSession)
        );
        assert_eq!(
            sessions.end("nope", owner(), t0()),
            Err(InnloggingFault::UnknownSession)
        );
        assert_eq!(sessions.end(id, owner(), t0()), Ok(()));
        assert_eq!(
            sessions.refresh(id, owner(), later, t0()),
            Err(InnloggingFault::SessionEnded(t0()))
        );
        assert_eq!(
            sessions.redeem(&created.code, Some(VERIFIER), t0()),
            Err(RedeemError::SessionOver(Over::Ended(t0())))
        );
        // Remembered for an hour after it is over, then unknown.
        let much_later = t0() + REMEMBER + TimeDelta::seconds(1);
        sessions
            .create(facts(), "c", much_later, much_later)
            .unwrap();
        assert_eq!(
            sessions.end(id, owner(), much_later),
            Err(InnloggingFault::UnknownSession)
        );
    }

    #[test]
    fn opening_a_module_needs_the_forms_token() {
        let sessions = Sessions::default();
        let challenge = crate::jose::sha256_b64url(VERIFIER);
        let expires = t0() + TimeDelta::minutes(10);
        let created = sessions.create(facts(), &challenge, expires, t0()).unwrap();
        let (cookie, _) = sessions
            .redeem(&created.code, Some(VERIFIER), t0())
            .unwrap();
        let csrf = sessions.portal(Some(&cookie), t0()).unwrap().csrf;
        let module = KjModule::Legemidler;
        let akutt = Samtykke::HpAkutt;
        assert_eq!(
            sessions.open_module(Some(&cookie), "forged", module, akutt, t0()),
            Ok(false)
        );
        assert_eq!(
            sessions.open_module(Some(&cookie), &csrf, module, akutt, t0()),
            Ok(true)
        );
        assert_eq!(
            sessions.portal(Some(&cookie), t0()).unwrap().opened,
            [(module, akutt)]
        );
        assert!(sessions.logout(Some(&cookie), t0()));
        assert!(!sessions.logout(Some(&cookie), t0()));
        assert_eq!(
            sessions.portal(Some(&cookie), t0()),
            Err(Gone::Over(Over::Ended(t0())))
        );
    }

    #[test]
    fn verifiers_follow_rfc_7636() {
        let challenge = crate::jose::sha256_b64url(VERIFIER);
        assert!(verifier_matches(VERIFIER, &challenge));
        assert!(!verifier_matches(
            "short",
            &crate::jose::sha256_b64url("short")
        ));
        let spaced = "a verifier with spaces that is long enough for the rule";
        assert!(!verifier_matches(
            spaced,
            &crate::jose::sha256_b64url(spaced)
        ));
    }
}
