//! Every way a kjernejournal call fails, with its HTTP status, `KJF-` code, a developer message
//! that says what to fix and a user message fit to show a clinician.
//!
//! The codes kjernejournal documents are used as documented (000011 invalid ticket, 000013
//! unknown organisation, 000014 user not registered, 000015 ticket expired, 000016 invalid
//! national identity number, 000018 invalid request, 000123 invalid HelseID token, 000180 the
//! patient has blocked a health professional, 000227 organisation without access). Situations
//! the public documentation gives no code for use helsesim's own `KJF-9000xx` codes, so nobody
//! mistakes them for real ones.

use actix_web::http::StatusCode;
use chrono::{DateTime, SecondsFormat, Utc};

use crate::errors::kjernejournal::KjError;
use crate::national::KjModule;

/// A kjernejournal failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// No usable HelseID token (missing, malformed, bad signature, expired, wrong audience or
    /// scope): the reason says which.
    Token(String),
    /// The token is a system token where a user token is needed, or the reverse.
    WrongTokenKind(String),
    /// The user's security level is not 4.
    SecurityLevel(String),
    /// The user has no HPR number: not a health professional kjernejournal knows.
    UserNotRegistered,
    /// No `X-EPJ-System` header.
    MissingEpjSystem,
    /// The request is malformed: the message says how.
    InvalidRequest(String),
    /// The organisation number of the token is unknown to kjernejournal.
    UnknownOrganisation(String),
    /// The organisation is known but not granted kjernejournal.
    NoAccess(String),
    /// The ticket is not one kjernejournal issued, or altered.
    InvalidTicket,
    /// The ticket's hour is over.
    TicketExpired(DateTime<Utc>),
    /// The ticket names another patient than the request.
    TicketOtherPatient,
    /// The ticket was issued to another organisation than the user token's.
    TicketOtherOrganisation {
        /// The ticket's organisation.
        ticket: String,
        /// The token's organisation.
        token: String,
    },
    /// The national identity number fails its checks.
    InvalidFnr(String),
    /// Neither the ticket nor the request carries a consent (samtykke).
    NoConsent(&'static str),
    /// The patient restricted the module and the request lacks the consent that opens it.
    BlockedModule(KjModule, &'static str),
    /// A consent for a restricted module was sent though the module is not restricted.
    ModuleNotBlocked(KjModule, &'static str),
    /// The patient has blocked a health professional: nothing clinical is shared.
    BlockedProfessional,
}

/// The user message of the faults that are cured by opening the patient again.
const REOPEN: &str =
    "Åpne pasienten på nytt i journalsystemet for å hente ny tilgang til kjernejournal.";
/// The user message of a refused login.
const LOGIN_FAILED: &str = "Pålogging mot kjernejournal feilet. Logg inn på nytt.";
/// The user message of a request the EHR should not have sent.
const INVALID_REQUEST: &str = "Journalsystemet sendte en ugyldig forespørsel til kjernejournal.";

impl Fault {
    /// The error response body.
    pub fn error(&self) -> KjError {
        KjError {
            status: self.status(),
            utviklermelding: self.developer_message(),
            brukermelding: self.user_message().to_owned(),
            feilkode: self.code().to_owned(),
        }
    }

    /// The HTTP status.
    fn status(&self) -> StatusCode {
        match self {
            Fault::Token(_) | Fault::WrongTokenKind(_) => StatusCode::UNAUTHORIZED,
            Fault::MissingEpjSystem
            | Fault::InvalidRequest(_)
            | Fault::InvalidFnr(_)
            | Fault::ModuleNotBlocked(..) => StatusCode::BAD_REQUEST,
            Fault::SecurityLevel(_)
            | Fault::UserNotRegistered
            | Fault::UnknownOrganisation(_)
            | Fault::NoAccess(_)
            | Fault::InvalidTicket
            | Fault::TicketExpired(_)
            | Fault::TicketOtherPatient
            | Fault::TicketOtherOrganisation { .. }
            | Fault::NoConsent(_)
            | Fault::BlockedModule(..)
            | Fault::BlockedProfessional => StatusCode::FORBIDDEN,
        }
    }

    /// The `KJF-` code: kjernejournal's where it documents one, else helsesim's `KJF-9000xx`.
    fn code(&self) -> &'static str {
        match self {
            Fault::Token(_) | Fault::WrongTokenKind(_) => "KJF-000123",
            Fault::SecurityLevel(_) => "KJF-900004",
            Fault::UserNotRegistered => "KJF-000014",
            Fault::MissingEpjSystem => "KJF-900003",
            Fault::InvalidRequest(_) => "KJF-000018",
            Fault::UnknownOrganisation(_) => "KJF-000013",
            Fault::NoAccess(_) => "KJF-000227",
            Fault::InvalidTicket => "KJF-000011",
            Fault::TicketExpired(_) => "KJF-000015",
            Fault::TicketOtherPatient => "KJF-900001",
            Fault::TicketOtherOrganisation { .. } => "KJF-900002",
            Fault::InvalidFnr(_) => "KJF-000016",
            Fault::NoConsent(_) => "KJF-900005",
            Fault::BlockedModule(..) => "KJF-900006",
            Fault::ModuleNotBlocked(..) => "KJF-900007",
            Fault::BlockedProfessional => "KJF-000180",
        }
    }

    /// The message for the client's developer: what happened and what to fix.
    fn developer_message(&self) -> String {
        match self {
            Fault::Token(reason) => format!("The HelseID access token was refused: {reason}"),
            Fault::WrongTokenKind(message) | Fault::InvalidRequest(message) => message.clone(),
            Fault::SecurityLevel(level) => format!(
                "The user logged in at security level {level}: kjernejournal accepts only \
                 security level 4 (helseid://claims/identity/security_level = 4)"
            ),
            Fault::UserNotRegistered => "The user is not registered in kjernejournal: the token \
                carries no HPR number (helseid://claims/hpr/hpr_number), and kjernejournal \
                serves authorised health professionals only"
                .to_owned(),
            Fault::MissingEpjSystem => "The X-EPJ-System header is required on every call: name \
                the EHR system and its version, e.g. 'X-EPJ-System: ACME EHR system versjon 42.01'"
                .to_owned(),
            Fault::UnknownOrganisation(orgnr) => format!(
                "Unknown organisation: kjernejournal knows no organisation {orgnr} (the token's \
                 orgnr_child, else orgnr_parent). helsesim's organisations are in \
                 fixtures/kjernejournal/organisations.json"
            ),
            Fault::NoAccess(orgnr) => format!(
                "The organisation {orgnr} has not been granted access to kjernejournal \
                 (access: false in fixtures/kjernejournal/organisations.json)"
            ),
            Fault::InvalidTicket => "The provided ticket is invalid: it is not one kjernejournal \
                issued, or it has been altered. Send the ticket exactly as helseindikator \
                returned it (URL-encoded or decoded)"
                .to_owned(),
            Fault::TicketExpired(at) => format!(
                "The provided ticket expired at {}: a ticket is valid one hour from issue \
                 (fixed, not extended by use). Call helseindikator again for a new one",
                at.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
            Fault::TicketOtherPatient => "The ticket was issued for another patient than the one \
                this request names: a ticket is valid for the patient of its helseindikator call \
                only"
                .to_owned(),
            Fault::TicketOtherOrganisation { ticket, token } => format!(
                "The ticket was issued to organisation {ticket}, but the user token is for \
                 organisation {token}: a ticket is valid for the organisation whose system \
                 token asked for it only"
            ),
            Fault::InvalidFnr(reason) => {
                format!("National identification number not valid: {reason}")
            }
            Fault::NoConsent(how) => format!(
                "No consent (samtykke): the ticket carries none (helseindikator was called \
                 without samtykke) and the request gives none ({how}). Use HPMOTTATTSAMTYKKE, \
                 HPAKUTT or HPUNNTAK"
            ),
            Fault::BlockedModule(module, how) => format!(
                "The patient has restricted (sperret) the module {}: it opens only with the \
                 patient's consent or in an emergency ({how})",
                module.as_str()
            ),
            Fault::ModuleNotBlocked(module, how) => format!(
                "{how} was sent, but the patient has not restricted the module {}: it must not \
                 be used then (see sperringDetaljer in helseindikator's answer)",
                module.as_str()
            ),
            Fault::BlockedProfessional => "The patient has blocked at least one health \
                professional (eksistererBlokkertHelsepersonell): kjernejournal then shares no \
                clinical information through its APIs"
                .to_owned(),
        }
    }

    /// The message fit to show a clinician.
    fn user_message(&self) -> &'static str {
        match self {
            Fault::Token(_) | Fault::WrongTokenKind(_) => LOGIN_FAILED,
            Fault::SecurityLevel(_) => {
                "Du må logge inn med høyt sikkerhetsnivå (BankID, Buypass eller Commfides) for \
                 å bruke kjernejournal."
            }
            Fault::UserNotRegistered => "Du er ikke registrert som bruker av kjernejournal.",
            Fault::MissingEpjSystem => {
                "Journalsystemet sendte en ufullstendig forespørsel til kjernejournal."
            }
            Fault::InvalidRequest(_) | Fault::ModuleNotBlocked(..) => INVALID_REQUEST,
            Fault::UnknownOrganisation(_) => "Virksomheten er ukjent for kjernejournal.",
            Fault::NoAccess(_) => "Virksomheten har ikke tilgang til kjernejournal",
            Fault::InvalidTicket
            | Fault::TicketExpired(_)
            | Fault::TicketOtherOrganisation { .. } => REOPEN,
            Fault::TicketOtherPatient => {
                "Tilgangen gjelder en annen pasient. Åpne pasienten på nytt i journalsystemet."
            }
            Fault::InvalidFnr(_) => "Fødselsnummeret er ikke gyldig.",
            Fault::NoConsent(_) => {
                "Pasientens samtykke (eller akuttgrunnlag) må registreres før kjernejournal kan \
                 åpnes."
            }
            Fault::BlockedModule(..) => {
                "Pasienten har sperret denne delen av kjernejournal. Den kan bare åpnes med \
                 pasientens samtykke eller i en akuttsituasjon."
            }
            Fault::BlockedProfessional => {
                "Pasienten har sperret tilgang for helsepersonell. Kjernejournal kan ikke vises \
                 i journalsystemet; bruk kjernejournal-portalen."
            }
        }
    }
}

impl From<Fault> for KjError {
    fn from(fault: Fault) -> Self {
        fault.error()
    }
}
