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
