//! Validated Norwegian identifiers: parsed once at the edge, unable to hold a bad value.

use std::fmt;

/// A Norwegian organisation number (Enhetsregisteret): nine digits.
///
/// The MOD11 check digit is reported by [`OrgNr::has_valid_check_digit`] but not enforced: some
/// official test organisation numbers fail it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrgNr(String);

/// Why an organisation number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an organisation number: it must be nine digits, no spaces or letters")]
pub struct OrgNrError(pub String);

impl OrgNr {
    /// Parses exactly nine ASCII digits.
    pub fn parse(value: &str) -> Result<Self, OrgNrError> {
        if value.len() == 9 && value.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(value.to_owned()))
        } else {
            Err(OrgNrError(value.to_owned()))
        }
    }

    /// Whether the ninth digit is the MOD11 check digit of the first eight.
    pub fn has_valid_check_digit(&self) -> bool {
        const WEIGHTS: [u32; 8] = [3, 2, 7, 6, 5, 4, 3, 2];
        let digits: Vec<u32> = self.0.bytes().map(|b| u32::from(b - b'0')).collect();
        let sum: u32 = digits.iter().zip(WEIGHTS).map(|(d, w)| d * w).sum();
        match 11 - sum % 11 {
            11 => digits[8] == 0,
            10 => false,
            check => digits[8] == check,
        }
    }

    /// The nine digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrgNr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether a national identity number is a birth number or a D-number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NationalIdKind {
    /// Fødselsnummer.
    Fnr,
    /// D-nummer (first digit + 4).
    Dnr,
}

/// A Norwegian national identity number (fødselsnummer or D-nummer) with valid control digits
/// and date; synthetic test numbers (month + 40, + 65 or + 80) are accepted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NationalId(String);

/// Why a national identity number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NationalIdError {
    /// Not eleven digits.
    #[error("'{0}' is not a national identity number: it must be eleven digits")]
    Format(String),
    /// The date part is not a date (after the D-number and synthetic adjustments).
    #[error("'{0}' is not a national identity number: its first six digits are not a date")]
    Date(String),
    /// The control digits do not match.
    #[error("'{0}' is not a national identity number: the control digits do not match")]
    Control(String),
}

impl NationalId {
    /// Parses and checks an eleven-digit fødselsnummer or D-nummer.
    pub fn parse(value: &str) -> Result<Self, NationalIdError> {
        if value.len() != 11 || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NationalIdError::Format(value.to_owned()));
        }
        let d: Vec<u32> = value.bytes().map(|b| u32::from(b - b'0')).collect();
        let mut day = d[0] * 10 + d[1];
        if day > 40 {
            day -= 40;
        }
        let mut month = d[2] * 10 + d[3];
        for offset in [80, 65, 40] {
            if month > offset {
                month -= offset;
                break;
            }
        }
        if !(1..=31).contains(&day) || !(1..=12).contains(&month) {
            return Err(NationalIdError::Date(value.to_owned()));
        }
        let check = |digits: &[u32], weights: &[u32]| match 11
            - digits.iter().zip(weights).map(|(a, b)| a * b).sum::<u32>() % 11
        {
            11 => Some(0),
            10 => None,
            k => Some(k),
        };
        let k1 = check(&d[..9], &[3, 7, 6, 1, 8, 9, 4, 5, 2]);
        let k2 = check(&d[..10], &[5, 4, 3, 2, 7, 6, 5, 4, 3, 2]);
        if k1 != Some(d[9]) || k2 != Some(d[10]) {
            return Err(NationalIdError::Control(value.to_owned()));
        }
        Ok(Self(value.to_owned()))
    }

    /// Fnr or Dnr.
    pub fn kind(&self) -> NationalIdKind {
        if self.0.as_bytes()[0] >= b'4' {
            NationalIdKind::Dnr
        } else {
            NationalIdKind::Fnr
        }
    }

    /// The eleven digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nine_digits_parse() {
        assert_eq!(OrgNr::parse("917897468").unwrap().as_str(), "917897468");
        for bad in ["91789746", "9178974680", "91789746a", " 917897468", ""] {
            assert!(OrgNr::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn national_ids() {
        // Public test identities, a synthetic (Tenor, month + 80) number and a D-number.
        for good in [
            "17056600574",
            "12050050295",
            "13116900216",
            "02887810071",
            "41836510095",
        ] {
            assert!(NationalId::parse(good).is_ok(), "{good}");
        }
        assert_eq!(
            NationalId::parse("41836510095").unwrap().kind(),
            NationalIdKind::Dnr
        );
        assert_eq!(
            NationalId::parse("17056600574").unwrap().kind(),
            NationalIdKind::Fnr
        );
        assert!(matches!(
            NationalId::parse("12345678901"),
            Err(NationalIdError::Date(_))
        ));
        assert!(matches!(
            NationalId::parse("17056600575"),
            Err(NationalIdError::Control(_))
        ));
        assert!(matches!(
            NationalId::parse("32056600574"),
            Err(NationalIdError::Date(_))
        ));
        assert!(matches!(
            NationalId::parse("1705660057"),
            Err(NationalIdError::Format(_))
        ));
        assert!(matches!(
            NationalId::parse("1705660057a"),
            Err(NationalIdError::Format(_))
        ));
    }

    #[test]
    fn check_digit() {
        // Real organisation numbers: NHN, the spec's legekontor and supplier.
        for good in ["994598759", "917897468", "983044778"] {
            assert!(
                OrgNr::parse(good).unwrap().has_valid_check_digit(),
                "{good}"
            );
        }
        assert!(!OrgNr::parse("994598758").unwrap().has_valid_check_digit());
    }
}
