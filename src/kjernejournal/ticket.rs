//! Kjernejournal's ticket: an opaque string that stands for one organisation and one patient
//! (and the consent given when it was issued), valid one hour from issue.
//!
//! helsesim seals the facts with AES-256-GCM under a key made at start-up, so a ticket cannot
//! be read, forged or altered; the sealed bytes travel as URL-encoded standard base64, the way
//! the real tickets look (`ca2gveFcW%2BdZqO2Fx7EG...`).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::consent::Samtykke;

/// How long a ticket is valid: one hour from issue, fixed (not sliding).
pub const TICKET_LIFETIME: TimeDelta = TimeDelta::hours(1);

/// Binds the sealed bytes to this use, so nothing else helsesim seals passes as a ticket.
const AAD: &[u8] = b"helsesim kjernejournal ticket v1";

/// What a ticket stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketFacts {
    /// The organisation number of the system token that asked for it.
    #[serde(rename = "o")]
    pub orgnr: String,
    /// The patient's fødselsnummer or D-nummer.
    #[serde(rename = "p")]
    pub fnr: String,
    /// The consent given at helseindikator, if any.
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub samtykke: Option<Samtykke>,
    /// When it was issued (Unix seconds).
    #[serde(rename = "i")]
    pub issued: i64,
}

impl TicketFacts {
    /// When the ticket stops being valid.
    pub fn expires(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.issued, 0).unwrap_or_default() + TICKET_LIFETIME
    }
}

/// Why a ticket cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    /// Not a ticket helsesim issued, or altered.
    #[error("the ticket is not one kjernejournal issued, or it has been altered")]
    Invalid,
    /// Issued more than an hour ago.
    #[error("the ticket expired at {0}")]
    Expired(DateTime<Utc>),
}

/// How long a ticket key is, in bytes (AES-256).
pub const KEY_LEN: usize = 32;

/// Seals and opens tickets. The key can be replaced (a state document carries it, so tickets
/// survive a restart with `HELSESIM_STATE_FILE`).
pub struct TicketSealer {
    key: std::sync::RwLock<(LessSafeKey, [u8; KEY_LEN])>,
    random: SystemRandom,
}

impl std::fmt::Debug for TicketSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TicketSealer(..)")
    }
}

impl TicketSealer {
    /// A sealer with a fresh random key: tickets of an earlier run are invalid, as they would
    /// be after the hour anyway.
    pub fn generate() -> Result<Self, aws_lc_rs::error::Unspecified> {
        let random = SystemRandom::new();
        let mut key = [0u8; KEY_LEN];
        // rand's CSPRNG: aws-lc's generator takes some 35 ms to start (start-up warms it in
        // the background; see `Application::build`).
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
        Ok(Self {
            key: std::sync::RwLock::new((
                LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key)?),
                key,
            )),
            random,
        })
    }

    /// The key's bytes.
    pub fn key_bytes(&self) -> [u8; KEY_LEN] {
        self.key
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .1
    }

    /// Seals and opens with `key` from now on: tickets sealed under the old key are invalid.
    pub fn replace_key(&self, key: [u8; KEY_LEN]) -> Result<(), aws_lc_rs::error::Unspecified> {
        let sealing = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key)?);
        *self
            .key
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = (sealing, key);
        Ok(())
    }

    /// The ticket for `facts`, URL-encoded.
    pub fn seal(&self, facts: &TicketFacts) -> Result<String, aws_lc_rs::error::Unspecified> {
        let mut nonce = [0u8; NONCE_LEN];
        self.random.fill(&mut nonce)?;
        let mut sealed = serde_json::to_vec(facts).map_err(|_| aws_lc_rs::error::Unspecified)?;
        self.key
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(AAD),
                &mut sealed,
            )?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        Ok(url::form_urlencoded::byte_serialize(STANDARD.encode(bytes).as_bytes()).collect())
    }

    /// The facts of a ticket as the client sends it back: URL-encoded as issued, or decoded.
    pub fn open(&self, ticket: &str) -> Result<TicketFacts, TicketError> {
        let decoded = percent_encoding::percent_decode_str(ticket.trim())
            .decode_utf8()
            .map_err(|_| TicketError::Invalid)?;
        let bytes = STANDARD
            .decode(decoded.as_bytes())
            .map_err(|_| TicketError::Invalid)?;
        if bytes.len() <= NONCE_LEN {
            return Err(TicketError::Invalid);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| TicketError::Invalid)?;
        let mut sealed = sealed.to_vec();
        let key = self
            .key
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let plain = key
            .0
            .open_in_place(nonce, Aad::from(AAD), &mut sealed)
            .map_err(|_| TicketError::Invalid)?;
        serde_json::from_slice(plain).map_err(|_| TicketError::Invalid)
    }

    /// Opens a ticket and checks it is still valid at `now`.
    pub fn open_valid(&self, ticket: &str, now: DateTime<Utc>) -> Result<TicketFacts, TicketError> {
        let facts = self.open(ticket)?;
        let expires = facts.expires();
        if now >= expires {
            return Err(TicketError::Expired(expires));
        }
        Ok(facts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(issued: DateTime<Utc>) -> TicketFacts {
        TicketFacts {
            orgnr: "987654325".to_owned(),
            fnr: "13116900216".to_owned(),
            samtykke: Some(Samtykke::HpMottattSamtykke),
            issued: issued.timestamp(),
        }
    }

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[test]
    fn a_ticket_opens_to_its_facts_url_encoded_or_not() {
        let sealer = TicketSealer::generate().unwrap();
        let ticket = sealer.seal(&facts(t0())).unwrap();
        assert!(
            ticket
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'%'),
            "{ticket}"
        );
        assert_eq!(sealer.open(&ticket).unwrap(), facts(t0()));
        let decoded = percent_encoding::percent_decode_str(&ticket)
            .decode_utf8()
            .unwrap();
        assert_eq!(sealer.open(&decoded).unwrap(), facts(t0()));
        // Each ticket is sealed with its own nonce.
        assert_ne!(sealer.seal(&facts(t0())).unwrap(), ticket);
    }

    #[test]
    fn an_altered_or_foreign_ticket_is_invalid() {
        let sealer = TicketSealer::generate().unwrap();
        let ticket = sealer.seal(&facts(t0())).unwrap();
        let decoded = percent_encoding::percent_decode_str(&ticket)
            .decode_utf8()
            .unwrap()
            .into_owned();
        let mut bytes = STANDARD.decode(&decoded).unwrap();
        let last = bytes.len() - 20;
        bytes[last] ^= 1;
        let altered = STANDARD.encode(&bytes);
        assert_eq!(sealer.open(&altered), Err(TicketError::Invalid));
        let other = TicketSealer::generate().unwrap();
        assert_eq!(other.open(&ticket), Err(TicketError::Invalid));
        for junk in [
            "",
            "abc",
            "%%%",
            "ca2gveFcW%2BdZqO2Fx7EG773Lh0TUvO2gtz45gQCbbUrKpXBJf8yS3ROacFn%2Bq",
        ] {
            assert_eq!(sealer.open(junk), Err(TicketError::Invalid), "{junk}");
        }
    }

    #[test]
    fn a_ticket_is_valid_for_one_hour_from_issue() {
        let sealer = TicketSealer::generate().unwrap();
        let ticket = sealer.seal(&facts(t0())).unwrap();
        let minute = TimeDelta::minutes(1);
        assert!(sealer.open_valid(&ticket, t0() + minute * 59).is_ok());
        assert_eq!(
            sealer.open_valid(&ticket, t0() + minute * 60),
            Err(TicketError::Expired(t0() + TICKET_LIFETIME))
        );
        assert_eq!(
            sealer.open_valid(&ticket, t0() + minute * 61),
            Err(TicketError::Expired(t0() + TICKET_LIFETIME))
        );
    }
}
