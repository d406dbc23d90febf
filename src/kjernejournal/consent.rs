//! `samtykke`: the basis a health professional gives for opening a patient's kjernejournal.

use serde::{Deserialize, Serialize};

/// The consent values kjernejournal accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Samtykke {
    /// The patient has consented.
    #[serde(rename = "HPMOTTATTSAMTYKKE")]
    HpMottattSamtykke,
    /// Emergency: the patient cannot consent and help is urgent.
    #[serde(rename = "HPAKUTT")]
    HpAkutt,
    /// Another exception the law allows.
    #[serde(rename = "HPUNNTAK")]
    HpUnntak,
}

impl Samtykke {
    /// Every value, as written.
    pub const ALL: [&'static str; 3] = ["HPMOTTATTSAMTYKKE", "HPAKUTT", "HPUNNTAK"];

    /// Parses the written value (exact, as the API documents it).
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "HPMOTTATTSAMTYKKE" => Some(Self::HpMottattSamtykke),
            "HPAKUTT" => Some(Self::HpAkutt),
            "HPUNNTAK" => Some(Self::HpUnntak),
            _ => None,
        }
    }

    /// The written value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HpMottattSamtykke => "HPMOTTATTSAMTYKKE",
            Self::HpAkutt => "HPAKUTT",
            Self::HpUnntak => "HPUNNTAK",
        }
    }
}
