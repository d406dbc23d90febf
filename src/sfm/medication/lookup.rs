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
    /// When Reseptformidleren answered (`None`: it was not asked, or did not answer).
    pub rf_at: Option<DateTime<Utc>>,
    /// Reseptformidleren was asked but a lookup failed (scenario steps).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rf_failed: bool,
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

/// What a successful send added that later sends must carry: its new prescriptions and the new
/// PLL's new entries, each as (id, display).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendAdded {
    /// New prescriptions: (ReseptId, display).
    pub prescriptions: Vec<(String, String)>,
    /// Entries of the new PLL the previous one did not have: (PLL id, display).
    pub pll_entries: Vec<(String, String)>,
}

impl Lookup {
    /// Records a send based on this lookup, made `at`: later sends must carry what it added
    /// (a PLL entry the lookup already requires only once).
    pub fn record_send(&mut self, at: DateTime<Utc>, added: &SendAdded) {
        self.sends.push(at);
        for (id, display) in &added.prescriptions {
            self.requirements.push(Requirement {
                what: Required::Prescription,
                id: id.clone(),
                display: display.clone(),
                rf_status: Some(RfStatus::Ekspederbar),
                discontinued_at: None,
                added_by_send: Some(at),
            });
        }
        for (id, display) in &added.pll_entries {
            let known = self
                .requirements
                .iter()
                .any(|r| r.what == Required::PllEntry && &r.id == id);
            if !known {
                self.requirements.push(Requirement {
                    what: Required::PllEntry,
                    id: id.clone(),
                    display: display.clone(),
                    rf_status: None,
                    discontinued_at: None,
                    added_by_send: Some(at),
                });
            }
        }
    }
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
        // Swept when the map doubles, not on every lookup: a sweep is a pass over every
        // identifier of the last 24 hours, thousands under load. `superseded` checks the age.
        let size = self.superseded.len();
        if size >= 1024 && size.is_power_of_two() {
            self.superseded
                .retain(|_, s| now - s.at < REMEMBER_SUPERSEDED);
        }
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

    /// Records a send on `user_pid`'s latest lookup for a patient (none: nothing to record).
    pub fn record_send(
        &mut self,
        user_pid: &str,
        patient_key: &str,
        at: DateTime<Utc>,
        added: &SendAdded,
    ) {
        if let Some(lookup) = self.latest_mut(user_pid, patient_key) {
            lookup.record_send(at, added);
        }
    }

    /// Records a refused send on `user_pid`'s latest lookup for a patient: SFM then requires a
    /// new `$getMedication` ("if … SFM respond with operationOutcome (error) the EPJ need to send
    /// a new getMedication", SFM Basis guide).
    pub fn record_refused_send(&mut self, user_pid: &str, patient_key: &str, at: DateTime<Utc>) {
        if let Some(lookup) = self.latest_mut(user_pid, patient_key) {
            lookup.refused_send = Some(at);
        }
    }

    /// A composition identifier a newer lookup replaced (within the last 24 hours at `now`).
    pub fn superseded(&self, composition_id: &str, now: DateTime<Utc>) -> Option<&Superseded> {
        self.superseded
            .get(composition_id)
            .filter(|s| now - s.at < REMEMBER_SUPERSEDED)
    }

    /// Whose latest lookup returned `composition_id` (user pid, patient key).
    pub fn owner_of(&self, composition_id: &str) -> Option<(&str, &str)> {
        self.latest
            .iter()
            .find(|(_, l)| l.composition_id == composition_id)
            .map(|((user, patient), _)| (user.as_str(), patient.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::sfm::medication::tests::t0;

    fn requirement(what: Required, id: &str) -> Requirement {
        Requirement {
            what,
            id: id.to_owned(),
            display: id.to_owned(),
            rf_status: None,
            discontinued_at: None,
            added_by_send: None,
        }
    }

    fn lookup() -> Lookup {
        Lookup {
            composition_id: "comp-1".to_owned(),
            at: t0(),
            rf_at: Some(t0()),
            rf_failed: false,
            patient_key: "12050050295".to_owned(),
            national_id: true,
            requirements: vec![requirement(Required::PllEntry, "p-1")],
            sends: Vec::new(),
            refused_send: None,
        }
    }

    #[test]
    fn superseded_identifiers_are_told_for_a_day_and_swept_in_batches() {
        let mut book = LookupBook::default();
        let at = |minutes: i64| t0() + TimeDelta::minutes(minutes);
        for i in 0..3000 {
            let mut next = lookup();
            next.composition_id = format!("comp-{i}");
            next.at = at(i);
            book.record("user", next);
        }
        // The latest is not superseded; the one before it is, by it.
        assert!(book.superseded("comp-2999", at(3000)).is_none());
        let before = book.superseded("comp-2998", at(3000)).unwrap();
        assert_eq!(before.by, "comp-2999");
        // A day later it is forgotten, swept or not.
        assert!(book.superseded("comp-0", at(3000)).is_none());
        assert!(book.superseded("comp-2998", at(2999 + 24 * 60)).is_none());
        // Sweeps keep only the last day's (1,440 lookups at one a minute), with a margin for
        // those added since the last sweep.
        assert!(book.superseded.len() < 2048, "{}", book.superseded.len());
    }

    #[test]
    fn a_send_adds_its_prescriptions_and_only_new_pll_entries() {
        let mut lookup = lookup();
        let at = t0() + TimeDelta::minutes(5);
        let added = SendAdded {
            prescriptions: vec![("r-new".to_owned(), "Atorvastatin".to_owned())],
            pll_entries: vec![
                ("p-1".to_owned(), "Metformin".to_owned()),
                ("p-2".to_owned(), "Ibux".to_owned()),
            ],
        };
        lookup.record_send(at, &added);
        assert_eq!(lookup.sends, vec![at]);
        let added: Vec<_> = lookup
            .requirements
            .iter()
            .map(|r| (r.what, r.id.as_str(), r.rf_status, r.added_by_send))
            .collect();
        assert_eq!(
            added,
            vec![
                (Required::PllEntry, "p-1", None, None),
                (
                    Required::Prescription,
                    "r-new",
                    Some(RfStatus::Ekspederbar),
                    Some(at)
                ),
                (Required::PllEntry, "p-2", None, Some(at)),
            ]
        );
    }

    #[test]
    fn sends_are_recorded_on_the_users_latest_lookup_only() {
        let mut book = LookupBook::default();
        book.record("user-1", lookup());
        let at = t0() + TimeDelta::minutes(5);
        book.record_refused_send("user-2", "12050050295", at);
        book.record_send("user-1", "other-patient", at, &SendAdded::default());
        let latest = book.latest("user-1", "12050050295").unwrap();
        assert_eq!((latest.refused_send, latest.sends.len()), (None, 0));
        book.record_refused_send("user-1", "12050050295", at);
        book.record_send("user-1", "12050050295", at, &SendAdded::default());
        let latest = book.latest("user-1", "12050050295").unwrap();
        assert_eq!(
            (latest.refused_send, latest.sends.clone()),
            (Some(at), vec![at])
        );
    }
}
