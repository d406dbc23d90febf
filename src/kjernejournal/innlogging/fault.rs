//! How Kjernejournal Innlogging refuses a call. Its error bodies are not publicly documented:
//! helsesim answers in kjernejournal's own format `{status, utviklermelding, brukermelding,
//! feilkode}`, with kjernejournal's codes where one fits (KJF-000123 invalid HelseID token,
//! KJF-000018 invalid request, KJF-000011 invalid ticket, KJF-000015 expired ticket) and
//! helsesim's `KJF-9000xx` otherwise. A refused token also gets a `DPoP` challenge in
//! `WWW-Authenticate` (RFC 9449).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use chrono::{DateTime, SecondsFormat, Utc};

use crate::errors::kjernejournal::KjError;

/// A refusal of Kjernejournal Innlogging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InnloggingFault {
    /// The token is missing, sent as Bearer, invalid, or lacks the audience or a scope; the
    /// text says which. `challenge` is the `WWW-Authenticate` value.
    Token {
        /// What is wrong.
        reason: String,
        /// `WWW-Authenticate`.
        challenge: String,
    },
    /// A system token (no pid) where the user's token is needed.
    NotAUser,
    /// The user logged in below security level 4.
    SecurityLevel(String),
    /// No or an incomplete trust-framework attest.
    Attest(String),
    /// A header or the body is malformed; the text says how.
    InvalidRequest(String),
    /// The helseindikator ticket sent along does not fit.
    Ticket(String),
    /// The helseindikator ticket's hour is over.
    TicketExpired(DateTime<Utc>),
    /// No session has this id.
    UnknownSession,
    /// The session was ended.
    SessionEnded(DateTime<Utc>),
    /// The session expired.
    SessionExpired(DateTime<Utc>),
    /// The session belongs to another user or organisation.
    OtherUsersSession,
    /// Too many open sessions.
    Full,
}

/// The user message of a refused login.
const LOGIN_FAILED: &str = "Pålogging mot kjernejournal feilet. Logg inn på nytt.";
/// The user message of a malformed request.
const INVALID_REQUEST: &str = "Journalsystemet sendte en ugyldig forespørsel til kjernejournal.";
/// The user message of a session that is gone.
const SESSION_GONE: &str =
    "Økten i kjernejournal er avsluttet. Åpne kjernejournal på nytt fra journalsystemet.";

impl InnloggingFault {
    /// The error body.
    pub fn error(&self) -> KjError {
        let (status, code, user) = self.classify();
        KjError {
            status,
            utviklermelding: self.developer_message(),
            brukermelding: user.to_owned(),
            feilkode: code.to_owned(),
        }
    }

    /// Status, `KJF-` code and user message.
    fn classify(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::Token { .. } | Self::NotAUser => {
                (StatusCode::UNAUTHORIZED, "KJF-000123", LOGIN_FAILED)
            }
            Self::SecurityLevel(_) => (
                StatusCode::FORBIDDEN,
                "KJF-900004",
                "Du må logge inn med høyt sikkerhetsnivå (BankID, Buypass eller Commfides) for å \
                 bruke kjernejournal.",
            ),
            Self::Attest(_) => (
                StatusCode::FORBIDDEN,
                "KJF-900010",
                "Journalsystemet sendte ikke tillitsrammeverkets attest. Kjernejournal kan ikke \
                 åpnes.",
            ),
            Self::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "KJF-000018", INVALID_REQUEST),
            Self::Ticket(_) => (
                StatusCode::FORBIDDEN,
                "KJF-000011",
                "Åpne pasienten på nytt i journalsystemet for å hente ny tilgang til \
                 kjernejournal.",
            ),
            Self::TicketExpired(_) => (
                StatusCode::FORBIDDEN,
                "KJF-000015",
                "Åpne pasienten på nytt i journalsystemet for å hente ny tilgang til \
                 kjernejournal.",
            ),
            Self::UnknownSession => (StatusCode::NOT_FOUND, "KJF-900011", SESSION_GONE),
            Self::SessionEnded(_) | Self::SessionExpired(_) => {
                (StatusCode::CONFLICT, "KJF-900012", SESSION_GONE)
            }
            Self::OtherUsersSession => (StatusCode::FORBIDDEN, "KJF-900013", SESSION_GONE),
            Self::Full => (
                StatusCode::SERVICE_UNAVAILABLE,
                "KJF-900014",
                "Kjernejournal er midlertidig utilgjengelig. Prøv igjen senere.",
            ),
        }
    }

    fn developer_message(&self) -> String {
        let at = |t: &DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
        match self {
            Self::Token { reason, .. } => format!("The HelseID access token was refused: {reason}"),
            Self::NotAUser => "Kjernejournal Innlogging needs the user's access token (with \
                helseid://claims/identity/pid), not a system token: log the user in \
                (authorization code) and ask for a token with resource nhn:kjernejournal"
                .to_owned(),
            Self::SecurityLevel(level) => format!(
                "The user logged in at security level {level}: Kjernejournal Innlogging accepts \
                 only security level 4 (helseid://claims/identity/security_level = 4)"
            ),
            Self::Attest(reason) | Self::InvalidRequest(reason) | Self::Ticket(reason) => {
                reason.clone()
            }
            Self::TicketExpired(t) => format!(
                "The helseindikator ticket sent along expired at {}: call helseindikator again, \
                 or leave the ticket out",
                at(t)
            ),
            Self::UnknownSession => "No Kjernejournal Innlogging session has this sessionId: \
                send the sessionId session/create answered"
                .to_owned(),
            Self::SessionEnded(t) => format!(
                "The session was ended at {}: create a new one with session/create",
                at(t)
            ),
            Self::SessionExpired(t) => format!(
                "The session expired at {} (it lasts as long as the access token it was created \
                 or last refreshed with): create a new one with session/create",
                at(t)
            ),
            Self::OtherUsersSession => "The session was created by another user or for another \
                organisation than this access token's: only its own user may refresh or end it"
                .to_owned(),
            Self::Full => "helsesim holds too many open Kjernejournal Innlogging sessions: end \
                sessions with session/end, or wait until they expire"
                .to_owned(),
        }
    }
}

impl std::fmt::Display for InnloggingFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.developer_message())
    }
}

impl ResponseError for InnloggingFault {
    fn status_code(&self) -> StatusCode {
        self.classify().0
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = self.error().render();
        if let Self::Token { challenge, .. } = self
            && let Ok(value) = header::HeaderValue::from_str(challenge)
        {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}
