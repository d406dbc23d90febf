//! What SFM remembers of each `$getMedication`, per tenant, user and patient: the composition
//! identifier `$sendMedication` must name, when Reseptformidleren was asked, what every later
//! send must carry (every statement the lookup returned, plus what earlier sends added), and
//! whether a send on it was refused.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::national::RfStatus;

/// How long a lookup in Reseptformidleren is good for.
pub const LOOKUP_THRESHOLD: TimeDelta = TimeDelta::hours(4);

/// How long a superseded composition identifier is remembered (to say "superseded", not
/// "unknown").
const REMEMBER_SUPERSEDED: TimeDelta = TimeDelta::hours(24);

/// What a requirement names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Required {
    /// A prescription, by ReseptId.
    Prescription,
    /// A PLL entry, by PLL id.
    PllEntry,
    /// Another statement of the lookup (neither a prescription nor a PLL entry), by PLL id.
    Statement,
}

/// Something every later `$sendMedication` must carry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    /// A prescription or a PLL entry.
    pub what: Required,
    /// Its ReseptId or PLL id.
    pub id: String,
    /// The medication's name.
    pub display: String,
    /// The prescription's status at the lookup.
    pub rf_status: Option<RfStatus>,
    /// When the statement was discontinued.
    pub discontinued_at: Option<DateTime<Utc>>,
    /// The send that added it (`None`: the lookup returned it).
    pub added_by_send: Option<DateTime<Utc>>,
}

/// One `$getMedication`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lookup {
    /// The Composition identifier it returned.
    pub composition_id: String,
    /// When it was made.
    pub at: DateTime<Utc>,
    /// When Reseptformidleren was asked (`None`: it was not).
    pub rf_at: Option<DateTime<Utc>>,
    /// The patient key.
    pub patient_key: String,
    /// Whether the patient has a fødselsnummer or D-nummer.
    pub national_id: bool,
    /// What later sends must carry.
    pub requirements: Vec<Requirement>,
    /// When sends based on it succeeded.
    pub sends: Vec<DateTime<Utc>>,
    /// When a send based on it was refused: SFM then requires a new `$getMedication`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused_send: Option<DateTime<Utc>>,
}

/// A lookup that a newer one replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Superseded {
    /// The user.
    pub user_pid: String,
    /// The patient key.
    pub patient_key: String,
    /// The newer lookup's composition identifier.
    pub by: String,
    /// When the newer lookup was made.
    pub at: DateTime<Utc>,
}

/// A tenant's lookups.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(from = "LookupBookData", into = "LookupBookData")]
pub struct LookupBook {
    latest: HashMap<(String, String), Lookup>,
    superseded: HashMap<String, Superseded>,
}

/// A [`LookupBook`] as the state document writes it: lists in a stable order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LookupBookData {
    latest: Vec<LatestLookup>,
    superseded: Vec<SupersededId>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LatestLookup {
    user_pid: String,
    lookup: Lookup,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SupersededId {
    composition_id: String,
    #[serde(flatten)]
    superseded: Superseded,
}

impl From<LookupBookData> for LookupBook {
    fn from(data: LookupBookData) -> Self {
        Self {
            latest: data
                .latest
                .into_iter()
                .map(|l| ((l.user_pid, l.lookup.patient_key.clone()), l.lookup))
                .collect(),
            superseded: data
                .superseded
                .into_iter()
                .map(|s| (s.composition_id, s.superseded))
                .collect(),
        }
    }
}

impl From<LookupBook> for LookupBookData {
    fn from(book: LookupBook) -> Self {
        let mut latest: Vec<LatestLookup> = book
            .latest
            .into_iter()
            .map(|((user_pid, _), lookup)| LatestLookup { user_pid, lookup })
            .collect();
        latest.sort_by(|a, b| {
            (&a.user_pid, &a.lookup.patient_key).cmp(&(&b.user_pid, &b.lookup.patient_key))
        });
        let mut superseded: Vec<SupersededId> = book
            .superseded
            .into_iter()
            .map(|(composition_id, superseded)| SupersededId {
                composition_id,
                superseded,
            })
            .collect();
        superseded.sort_by(|a, b| a.composition_id.cmp(&b.composition_id));
        Self { latest, superseded }
    }
}

impl LookupBook {
    /// Records `lookup` as the latest of `user_pid` for its patient.
    pub fn record(&mut self, user_pid: &str, lookup: Lookup) {
        let now = lookup.at;
        self.superseded
            .retain(|_, s| now - s.at < REMEMBER_SUPERSEDED);
        let key = (user_pid.to_owned(), lookup.patient_key.clone());
        let by = lookup.composition_id.clone();
        if let Some(old) = self.latest.insert(key, lookup) {
            self.superseded.insert(
                old.composition_id,
                Superseded {
                    user_pid: user_pid.to_owned(),
                    patient_key: old.patient_key,
                    by,
                    at: now,
                },
            );
        }
    }

    /// The latest lookup of `user_pid` for a patient.
    pub fn latest(&self, user_pid: &str, patient_key: &str) -> Option<&Lookup> {
        self.latest
            .get(&(user_pid.to_owned(), patient_key.to_owned()))
    }

    /// The latest lookup, for recording a send.
    pub fn latest_mut(&mut self, user_pid: &str, patient_key: &str) -> Option<&mut Lookup> {
        self.latest
            .get_mut(&(user_pid.to_owned(), patient_key.to_owned()))
    }

    /// A composition identifier a newer lookup replaced.
    pub fn superseded(&self, composition_id: &str) -> Option<&Superseded> {
        self.superseded.get(composition_id)
    }

    /// Whose latest lookup returned `composition_id` (user pid, patient key).
    pub fn owner_of(&self, composition_id: &str) -> Option<(&str, &str)> {
        self.latest
            .iter()
            .find(|(_, l)| l.composition_id == composition_id)
            .map(|((user, patient), _)| (user.as_str(), patient.as_str()))
    }
}
