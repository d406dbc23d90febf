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

impl Fault {
    /// The error response body.
    pub fn error(&self) -> KjError {
        let (status, code, developer, user) = self.parts();
        KjError {
            status,
            utviklermelding: developer,
            brukermelding: user.to_owned(),
            feilkode: code.to_owned(),
        }
    }

    fn parts(&self) -> (StatusCode, &'static str, String, &'static str) {
        const REOPEN: &str =
            "Åpne pasienten på nytt i journalsystemet for å hente ny tilgang til kjernejournal.";
        match self {
            Fault::Token(reason) => (
                StatusCode::UNAUTHORIZED,
                "KJF-000123",
                format!("The HelseID access token was refused: {reason}"),
                "Pålogging mot kjernejournal feilet. Logg inn på nytt.",
            ),
            Fault::WrongTokenKind(message) => (
                StatusCode::UNAUTHORIZED,
                "KJF-000123",
                message.clone(),
                "Pålogging mot kjernejournal feilet. Logg inn på nytt.",
            ),
            Fault::SecurityLevel(level) => (
                StatusCode::FORBIDDEN,
                "KJF-900004",
                format!(
                    "The user logged in at security level {level}: kjernejournal accepts only security level 4 (helseid://claims/identity/security_level = 4)"
                ),
                "Du må logge inn med høyt sikkerhetsnivå (BankID, Buypass eller Commfides) for å bruke kjernejournal.",
            ),
            Fault::UserNotRegistered => (
                StatusCode::FORBIDDEN,
                "KJF-000014",
                "The user is not registered in kjernejournal: the token carries no HPR number (helseid://claims/hpr/hpr_number), and kjernejournal serves authorised health professionals only".to_owned(),
                "Du er ikke registrert som bruker av kjernejournal.",
            ),
            Fault::MissingEpjSystem => (
                StatusCode::BAD_REQUEST,
                "KJF-900003",
                "The X-EPJ-System header is required on every call: name the EHR system and its version, e.g. 'X-EPJ-System: ACME EHR system versjon 42.01'".to_owned(),
                "Journalsystemet sendte en ufullstendig forespørsel til kjernejournal.",
            ),
            Fault::InvalidRequest(message) => (
                StatusCode::BAD_REQUEST,
                "KJF-000018",
                message.clone(),
                "Journalsystemet sendte en ugyldig forespørsel til kjernejournal.",
            ),
            Fault::UnknownOrganisation(orgnr) => (
                StatusCode::FORBIDDEN,
                "KJF-000013",
                format!(
                    "Unknown organisation: kjernejournal knows no organisation {orgnr} (the token's orgnr_child, else orgnr_parent). helsesim's organisations are in fixtures/kjernejournal/organisations.json"
                ),
                "Virksomheten er ukjent for kjernejournal.",
            ),
            Fault::NoAccess(orgnr) => (
                StatusCode::FORBIDDEN,
                "KJF-000227",
                format!(
                    "The organisation {orgnr} has not been granted access to kjernejournal (access: false in fixtures/kjernejournal/organisations.json)"
                ),
                "Virksomheten har ikke tilgang til kjernejournal",
            ),
            Fault::InvalidTicket => (
                StatusCode::FORBIDDEN,
                "KJF-000011",
                "The provided ticket is invalid: it is not one kjernejournal issued, or it has been altered. Send the ticket exactly as helseindikator returned it (URL-encoded or decoded)".to_owned(),
                REOPEN,
            ),
            Fault::TicketExpired(at) => (
                StatusCode::FORBIDDEN,
                "KJF-000015",
                format!(
                    "The provided ticket expired at {}: a ticket is valid one hour from issue (fixed, not extended by use). Call helseindikator again for a new one",
                    at.to_rfc3339_opts(SecondsFormat::Secs, true)
                ),
                REOPEN,
            ),
            Fault::TicketOtherPatient => (
                StatusCode::FORBIDDEN,
                "KJF-900001",
                "The ticket was issued for another patient than the one this request names: a ticket is valid for the patient of its helseindikator call only".to_owned(),
                "Tilgangen gjelder en annen pasient. Åpne pasienten på nytt i journalsystemet.",
            ),
            Fault::TicketOtherOrganisation { ticket, token } => (
                StatusCode::FORBIDDEN,
                "KJF-900002",
                format!(
                    "The ticket was issued to organisation {ticket}, but the user token is for organisation {token}: a ticket is valid for the organisation whose system token asked for it only"
                ),
                REOPEN,
            ),
            Fault::InvalidFnr(reason) => (
                StatusCode::BAD_REQUEST,
                "KJF-000016",
                format!("National identification number not valid: {reason}"),
                "Fødselsnummeret er ikke gyldig.",
            ),
            Fault::NoConsent(how) => (
                StatusCode::FORBIDDEN,
                "KJF-900005",
                format!(
                    "No consent (samtykke): the ticket carries none (helseindikator was called without samtykke) and the request gives none ({how}). Use HPMOTTATTSAMTYKKE, HPAKUTT or HPUNNTAK"
                ),
                "Pasientens samtykke (eller akuttgrunnlag) må registreres før kjernejournal kan åpnes.",
            ),
            Fault::BlockedModule(module, how) => (
                StatusCode::FORBIDDEN,
                "KJF-900006",
                format!(
                    "The patient has restricted (sperret) the module {}: it opens only with the patient's consent or in an emergency ({how})",
                    module.as_str()
                ),
                "Pasienten har sperret denne delen av kjernejournal. Den kan bare åpnes med pasientens samtykke eller i en akuttsituasjon.",
            ),
            Fault::ModuleNotBlocked(module, how) => (
                StatusCode::BAD_REQUEST,
                "KJF-900007",
                format!(
                    "{how} was sent, but the patient has not restricted the module {}: it must not be used then (see sperringDetaljer in helseindikator's answer)",
                    module.as_str()
                ),
                "Journalsystemet sendte en ugyldig forespørsel til kjernejournal.",
            ),
            Fault::BlockedProfessional => (
                StatusCode::FORBIDDEN,
                "KJF-000180",
                "The patient has blocked at least one health professional (eksistererBlokkertHelsepersonell): kjernejournal then shares no clinical information through its APIs".to_owned(),
                "Pasienten har sperret tilgang for helsepersonell. Kjernejournal kan ikke vises i journalsystemet; bruk kjernejournal-portalen.",
            ),
        }
    }
}

impl From<Fault> for KjError {
    fn from(fault: Fault) -> Self {
        fault.error()
    }
}
