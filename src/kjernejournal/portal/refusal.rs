//! Why the portal shows no kjernejournal, with the codes kjernejournal's "Feilkoder" page
//! documents for the portal (`AUT_…` from its login, `KJF-…` from its backend) and a message
//! in Norwegian, as the portal shows it. Situations without a documented code show none.

use actix_web::http::StatusCode;

use crate::kjernejournal::innlogging::sessions::{Gone, Over, RedeemError};

/// A refusal page of the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `hentpasient.html` without `code` (AUT_105: no ticket).
    MissingCode,
    /// A code no session has, or a wrong verifier (KJF-000011: invalid ticket).
    InvalidCode,
    /// A code redeemed before (KJF-000011).
    SpentCode,
    /// A code redeemed too late, or its session expired (AUT_002: ticket expired).
    ExpiredCode,
    /// The token had no HPR number (AUT_108: not in HPR).
    NotInHpr,
    /// The token named no organisation (AUT_104: no organisation affiliation).
    NoOrganisation,
    /// Kjernejournal does not know the organisation (KJF-000013).
    UnknownOrganisation,
    /// The organisation has no access to kjernejournal (KJF-000022).
    OrganisationWithoutAccess,
    /// The patient has no kjernejournal.
    NoKjernejournal,
    /// The patient is not active in Folkeregisteret (KJF-000017).
    PatientNotActive,
    /// Folkeregisteret has an address block on the patient.
    AddressProtected,
    /// The patient blocked this health professional.
    BlockedProfessional,
    /// No portal session (no or an unknown cookie).
    NotLoggedIn,
    /// The session was ended (session/end or logout).
    SessionEnded,
    /// The session expired.
    SessionExpired,
    /// A form the portal did not make.
    BadForm,
    /// No such page.
    NotFound,
}

impl Refusal {
    /// The refusal of a failed redemption.
    pub fn of_redeem(error: RedeemError) -> Self {
        match error {
            RedeemError::UnknownCode | RedeemError::WrongVerifier => Self::InvalidCode,
            RedeemError::Spent => Self::SpentCode,
            RedeemError::CodeExpired(_) | RedeemError::SessionOver(Over::Expired(_)) => {
                Self::ExpiredCode
            }
            RedeemError::SessionOver(Over::Ended(_)) => Self::SessionEnded,
        }
    }

    /// The refusal of a page without a live session.
    pub fn of_gone(gone: Gone) -> Self {
        match gone {
            Gone::NoSession => Self::NotLoggedIn,
            Gone::Over(Over::Ended(_)) => Self::SessionEnded,
            Gone::Over(Over::Expired(_)) => Self::SessionExpired,
        }
    }

    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            Self::MissingCode | Self::InvalidCode | Self::SpentCode | Self::BadForm => {
                StatusCode::BAD_REQUEST
            }
            Self::NoKjernejournal | Self::NotFound => StatusCode::NOT_FOUND,
            _ => StatusCode::FORBIDDEN,
        }
    }

    /// The documented code, if there is one.
    pub fn code(self) -> Option<&'static str> {
        match self {
            Self::MissingCode => Some("AUT_105"),
            Self::InvalidCode | Self::SpentCode => Some("KJF-000011"),
            Self::ExpiredCode => Some("AUT_002"),
            Self::NotInHpr => Some("AUT_108"),
            Self::NoOrganisation => Some("AUT_104"),
            Self::UnknownOrganisation => Some("KJF-000013"),
            Self::OrganisationWithoutAccess => Some("KJF-000022"),
            Self::PatientNotActive => Some("KJF-000017"),
            _ => None,
        }
    }

    /// The page's heading.
    pub fn title(self) -> &'static str {
        match self {
            Self::SessionEnded => "Du er logget ut av kjernejournal",
            Self::SessionExpired => "Økten er utløpt",
            Self::NotLoggedIn => "Du er ikke logget inn i kjernejournal",
            Self::NoKjernejournal => "Pasienten har ikke kjernejournal",
            Self::NotFound => "Siden finnes ikke",
            Self::BlockedProfessional | Self::AddressProtected | Self::PatientNotActive => {
                "Kjernejournal kan ikke vises"
            }
            _ => "Kjernejournal kan ikke åpnes",
        }
    }

    /// The message.
    pub fn message(self) -> &'static str {
        match self {
            Self::MissingCode => {
                "Det mangler en billett for å åpne kjernejournal. Åpne kjernejournal fra \
                 pasientens journal i journalsystemet."
            }
            Self::InvalidCode => {
                "Billetten er ugyldig. Åpne kjernejournal på nytt fra journalsystemet."
            }
            Self::SpentCode => {
                "Billetten er allerede brukt. Åpne kjernejournal på nytt fra journalsystemet."
            }
            Self::ExpiredCode => {
                "Billetten er utløpt. Åpne kjernejournal på nytt fra journalsystemet."
            }
            Self::NotInHpr => {
                "Du er ikke registrert i Helsepersonellregisteret (HPR) og har derfor ikke \
                 tilgang til kjernejournal."
            }
            Self::NoOrganisation => {
                "Du er ikke tilknyttet en virksomhet som har tilgang til kjernejournal."
            }
            Self::UnknownOrganisation => "Virksomheten er ukjent for kjernejournal.",
            Self::OrganisationWithoutAccess => "Virksomheten har ikke tilgang til kjernejournal.",
            Self::NoKjernejournal => {
                "Det finnes ingen kjernejournal for denne pasienten. Pasienten kan ha reservert \
                 seg mot å ha kjernejournal."
            }
            Self::PatientNotActive => {
                "Pasienten er ikke aktiv i Folkeregisteret. Kjernejournal kan ikke vises."
            }
            Self::AddressProtected => {
                "Pasienten har adressesperre i Folkeregisteret. Kjernejournal kan ikke vises."
            }
            Self::BlockedProfessional => {
                "Pasienten har sperret deg som helsepersonell fra tilgang til sin kjernejournal. \
                 Sperringen gjelder også i akuttsituasjoner."
            }
            Self::NotLoggedIn => "Åpne kjernejournal fra pasientens journal i journalsystemet.",
            Self::SessionEnded => {
                "Økten er avsluttet. Åpne kjernejournal på nytt fra journalsystemet for å se \
                 pasientens kjernejournal."
            }
            Self::SessionExpired => {
                "Økten er utløpt. Åpne kjernejournal på nytt fra journalsystemet."
            }
            Self::BadForm => "Skjemaet er ugyldig. Last siden på nytt og prøv igjen.",
            Self::NotFound => "Kjernejournal har ingen side med denne adressen.",
        }
    }
}
