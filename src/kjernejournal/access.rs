//! The checks every data API makes before it shares anything, once the user's token is checked
//! ([`super::caller::KjUserCaller`]): the ticket (a ticket kjernejournal issued, within its hour,
//! to the user's organisation, for the patient the request names), the patient's blocks, and a
//! consent.

use chrono::{DateTime, Utc};

use super::caller::UserCaller;
use super::consent::Samtykke;
use super::fault::Fault;
use super::ticket::{TicketError, TicketFacts};
use crate::ids::NationalId;
use crate::kjernejournal::State;
use crate::national::{KjModule, NationalPatient};

/// What a data API call may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// The health professional.
    pub user: UserCaller,
    /// The ticket's facts (organisation, patient, consent at issue).
    pub ticket: TicketFacts,
    /// The consent that applies: the request's, else the ticket's.
    pub consent: Samtykke,
}

/// What a data API call brings.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The ticket, as sent.
    pub ticket: Option<&'a str>,
    /// Where the API expects the ticket (for messages).
    pub ticket_from: &'static str,
    /// The patient the request itself names, if it names one.
    pub patient: Option<&'a str>,
    /// A consent the request gives (overriding the ticket's).
    pub consent: Option<Samtykke>,
    /// How the API takes a consent (for messages).
    pub consent_from: &'static str,
}

/// Parses an optional consent value sent in a header or query parameter named `name`.
pub fn consent_value(
    value: Option<&str>,
    name: &str,
    allowed: &[Samtykke],
) -> Result<Option<Samtykke>, Fault> {
    let Some(value) = value else {
        return Ok(None);
    };
    match Samtykke::parse(value.trim()) {
        Some(s) if allowed.contains(&s) => Ok(Some(s)),
        _ => Err(Fault::InvalidRequest(format!(
            "{name} must be one of {}, got '{value}'",
            allowed
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Checks, for the authenticated `user`, the ticket, the patient's blocks and the consent.
pub fn open(
    user: UserCaller,
    state: &State,
    now: DateTime<Utc>,
    request: &Request<'_>,
) -> Result<Access, Fault> {
    let ticket = request
        .ticket
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            Fault::InvalidRequest(format!(
                "No ticket: send the ticket helseindikator returned in {}",
                request.ticket_from
            ))
        })?;
    let facts = state.tickets.open_valid(ticket, now).map_err(|e| match e {
        TicketError::Invalid => Fault::InvalidTicket,
        TicketError::Expired(at) => Fault::TicketExpired(at),
    })?;
    if facts.orgnr != user.orgnr {
        return Err(Fault::TicketOtherOrganisation {
            ticket: facts.orgnr,
            token: user.orgnr,
        });
    }
    if let Some(named) = request.patient {
        NationalId::parse(named).map_err(|e| Fault::InvalidFnr(e.to_string()))?;
        if named != facts.fnr {
            return Err(Fault::TicketOtherPatient);
        }
    }
    let blocked = state
        .national()
        .patient(&facts.fnr)
        .and_then(|p| p.kjernejournal.as_ref())
        .is_some_and(|k| !k.blocked_professionals.is_empty());
    if blocked {
        return Err(Fault::BlockedProfessional);
    }
    let consent = request
        .consent
        .or(facts.samtykke)
        .ok_or(Fault::NoConsent(request.consent_from))?;
    Ok(Access {
        user,
        ticket: facts,
        consent,
    })
}

/// Whether the patient restricted `module`.
pub fn is_blocked(patient: Option<&NationalPatient>, module: KjModule) -> bool {
    patient
        .and_then(|p| p.kjernejournal.as_ref())
        .is_some_and(|k| k.blocked_modules.contains(&module))
}
