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
    /// The date part is not a date (after the D-number and synthetic adjustments, in the
    /// century the individual number gives).
    #[error(
        "'{0}' is not a national identity number: its first six digits are not a date (of the \
         century its individual number gives)"
    )]
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
        if birth_date(&d).is_none() {
            return Err(NationalIdError::Date(value.to_owned()));
        }
        if with_control_digits(&value[..9]).as_deref() != Some(value) {
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

/// The eleven digits of the national identity number whose first nine are `nine` (ASCII
/// digits): the two mod-11 control digits appended; `None` when one of them would be 10 (no
/// number has those nine digits).
pub fn with_control_digits(nine: &str) -> Option<String> {
    let weighted = |digits: &[u32], weights: &[u32]| match 11
        - digits.iter().zip(weights).map(|(a, b)| a * b).sum::<u32>() % 11
    {
        11 => Some(0),
        10 => None,
        k => Some(k),
    };
    let mut d: Vec<u32> = nine
        .bytes()
        .map(|b| u32::from(b.wrapping_sub(b'0')))
        .collect();
    let k1 = weighted(&d, &[3, 7, 6, 1, 8, 9, 4, 5, 2])?;
    d.push(k1);
    let k2 = weighted(&d, &[5, 4, 3, 2, 7, 6, 5, 4, 3, 2])?;
    Some(format!("{nine}{k1}{k2}"))
}

/// The birth date an identity number's digits give: the day (D-number: + 40), the month
/// (synthetic test persons: + 40 NAV, + 65 NHN, + 80 Skatteetaten/Tenor), the two-digit year,
/// and the century from the individual number (digits 7-9), as Skatteetaten assigns them:
/// 000-499 1900-1999; 500-749 with year 54-99 1854-1899; 500-999 with year 00-39 2000-2039;
/// 900-999 with year 40-99 1940-1999. Other combinations are not assigned.
pub fn birth_date(digits: &[u32]) -> Option<chrono::NaiveDate> {
    let [d1, d2, m1, m2, y1, y2, i1, i2, i3, ..] = *digits else {
        return None;
    };
    let day = match d1 * 10 + d2 {
        day @ 41..=71 => day - 40,
        day => day,
    };
    let month = match m1 * 10 + m2 {
        month @ 1..=12 => month,
        month @ 41..=52 => month - 40,
        month @ 66..=77 => month - 65,
        month @ 81..=92 => month - 80,
        _ => return None,
    };
    let year = y1 * 10 + y2;
    let century = match (i1 * 100 + i2 * 10 + i3, year) {
        (0..=499, _) => 1900,
        (500..=749, 54..=99) => 1800,
        (500..=999, 0..=39) => 2000,
        (900..=999, 40..=99) => 1900,
        _ => return None,
    };
    let year = i32::try_from(century + year).ok()?;
    chrono::NaiveDate::from_ymd_opt(year, month, day)
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

    /// The first individual number from `from` that gives valid control digits.
    fn valid_with(date_part: &str, from: u32) -> String {
        (from..from + 100)
            .find_map(|i| with_control_digits(&format!("{date_part}{i:03}")))
            .unwrap()
    }

    #[test]
    fn impossible_dates_are_refused_even_with_valid_control_digits() {
        // Issue 12: 31 Feb, 30 Feb, 29 Feb 1900/1901, 31 Nov, day 32 passed before.
        for date_part in [
            "310290", "300290", "290200", "290201", "311190", "320190", "000190",
        ] {
            let id = valid_with(date_part, 100);
            assert!(
                matches!(NationalId::parse(&id), Err(NationalIdError::Date(_))),
                "{id}"
            );
        }
        // 29 Feb 2000 (individual number 500-999 with year 00-39) is a date; 29 Feb 1900 is not.
        assert!(NationalId::parse(&valid_with("290200", 500)).is_ok());
        assert!(NationalId::parse(&valid_with("290200", 100)).is_err());
        // The same for D-numbers (day + 40) and synthetic persons (month + 40, + 65, + 80).
        for date_part in ["710290", "314290", "316790", "318290", "704290"] {
            assert!(
                NationalId::parse(&valid_with(date_part, 100)).is_err(),
                "{date_part}"
            );
        }
        for date_part in ["710190", "314190", "316690", "318190", "694390"] {
            assert!(
                NationalId::parse(&valid_with(date_part, 100)).is_ok(),
                "{date_part}"
            );
        }
        // Individual numbers 750-899 with year 40-99 are not assigned to any century.
        assert!(NationalId::parse(&valid_with("010190", 750)).is_err());
        assert!(NationalId::parse(&valid_with("010120", 750)).is_ok());
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
