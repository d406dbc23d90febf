//! Everything the national systems hold, by patient key.
//!
//! A large `sfm/national.json` (more than [`EAGER_LIMIT`] records) is not built at start-up:
//! each record stays as its fixture text and is built (and validated) the first time a request
//! needs that patient. Building is some 1 ms and 200 KB of passing memory per patient, so
//! 100,000 patients start in a second instead of two minutes. Each record's key and ReseptIds
//! are read at load all the same, so duplicate patients and ReseptIds are refused at start, and
//! a ReseptId finds its patient without a scan.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use serde::de::Error as _;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::NationalPatient;
use super::fixture::{PatientFixture, build_patient};
use crate::errors::FieldError;

/// Up to this many records, a national file is built whole at load (every error at start).
pub const EAGER_LIMIT: usize = 1_000;

/// Everything the national systems hold, by patient key (see [`super::patient_key`]).
#[derive(Debug, Clone, Default)]
pub struct NationalStore {
    patients: BTreeMap<String, Slot>,
    /// ReseptId → the key of the fixture record that holds it (records not built at load).
    fixture_resept_ids: HashMap<String, String>,
    /// The patients changed since load (built, added, moved): only they can hold messages or
    /// ReseptIds the fixture records do not name.
    changed: BTreeSet<String>,
}

/// One patient: built, or a fixture record built on first use.
#[derive(Debug, Clone)]
enum Slot {
    Built(Box<NationalPatient>),
    Lazy(LazyRecord),
}

#[derive(Debug, Clone)]
struct LazyRecord {
    record: FixtureRecord,
    /// `Some(None)`: the record was built and failed (logged once).
    built: OnceLock<Option<Box<NationalPatient>>>,
}

/// One record of a national fixture text.
#[derive(Debug, Clone)]
struct FixtureRecord {
    source: Arc<FixtureSource>,
    /// Its place in the file (from 0).
    index: usize,
    /// Its bytes in the text.
    span: Range<usize>,
}

/// A national fixture text with the time its relative times (`now-10d`) count from.
#[derive(Debug)]
struct FixtureSource {
    text: Arc<str>,
    /// The file, for messages.
    file: String,
    loaded_at: DateTime<Utc>,
}

impl FixtureRecord {
    fn text(&self) -> &str {
        self.source.text.get(self.span.clone()).unwrap_or_default()
    }

    /// The record built, or why it cannot be.
    fn build(&self) -> Result<NationalPatient, FieldError> {
        let fixture = parse_fixture(self.text())?;
        // ReseptIds across records were checked at load.
        build_patient(fixture, &|_| false, self.source.loaded_at)
    }

    /// The record built; a record that fails is logged and the national systems do not know
    /// the patient.
    fn build_or_log(&self) -> Option<Box<NationalPatient>> {
        match self.build() {
            Ok(patient) => Some(Box::new(patient)),
            Err(e) => {
                log::error!(
                    "{}: record #{} cannot be used, the national systems treat the patient as \
                     unknown (run `helsesim check-fixtures` to see every such record): field \
                     `{}`: {}",
                    self.source.file,
                    self.index,
                    e.field,
                    e.message
                );
                None
            }
        }
    }
}

/// Where each record of a JSON array of records lies in `text`.
pub fn record_spans(text: &str) -> Result<Vec<Range<usize>>, serde_json::Error> {
    let records: Vec<&RawValue> = serde_json::from_str(text)?;
    let base = text.as_ptr() as usize;
    Ok(records
        .into_iter()
        .map(|raw| {
            let start = raw.get().as_ptr() as usize - base;
            start..start + raw.get().len()
        })
        .collect())
}

/// The slot's patient, built from its record when it is one (`None`: the record cannot be used).
fn built_mut(slot: &mut Slot) -> Option<&mut NationalPatient> {
    if let Slot::Lazy(lazy) = slot {
        let built = match lazy.built.take() {
            Some(built) => built,
            None => lazy.record.build_or_log(),
        };
        *slot = Slot::Built(built?);
    }
    match slot {
        Slot::Built(patient) => Some(patient),
        Slot::Lazy(_) => None,
    }
}

/// A patient fixture record parsed, an error naming the field path.
fn parse_fixture(text: &str) -> Result<PatientFixture, FieldError> {
    if !text.trim_start().starts_with('{') {
        return Err(FieldError::new("", "a record must be a JSON object"));
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut deserializer).map_err(FieldError::from)
}

/// What load reads of every record: its key and its ReseptIds (other fields are skipped).
#[derive(Deserialize)]
struct RecordHead {
    patient: String,
    #[serde(default)]
    medications: Vec<MedicationHead>,
}

#[derive(Deserialize)]
struct MedicationHead {
    #[serde(default)]
    prescription: Option<PrescriptionHead>,
}

#[derive(Deserialize)]
struct PrescriptionHead {
    id: String,
}

/// A record's key and its ReseptIds with the index of their medication.
struct Head {
    patient: String,
    resept_ids: Vec<(usize, String)>,
}

fn read_head(text: &str) -> Result<Head, serde_json::Error> {
    let head: RecordHead = serde_json::from_str(text)?;
    let resept_ids = head
        .medications
        .into_iter()
        .enumerate()
        .filter_map(|(i, m)| m.prescription.map(|p| (i, p.id)))
        .collect();
    Ok(Head {
        patient: head.patient,
        resept_ids,
    })
}

/// A problem with one record of a national fixture text.
#[derive(Debug)]
pub struct RecordError {
    /// The record's place in the file (from 0).
    pub index: usize,
    /// Its patient key, when it has one.
    pub patient: Option<String>,
    /// What is wrong with which field.
    pub error: FieldError,
}

impl NationalStore {
    /// The records of a national fixture text (a JSON array), keys and ReseptIds checked, each
    /// built on first use; `loaded_at` is the time relative times count from.
    pub fn from_records(
        text: Arc<str>,
        file: &str,
        loaded_at: DateTime<Utc>,
    ) -> Result<Self, RecordError> {
        let spans = record_spans(&text).map_err(|e| RecordError {
            index: 0,
            patient: None,
            error: FieldError::new("", format!("not a JSON array of records: {e}")),
        })?;
        Self::from_spans(text, spans, file, loaded_at)
    }

    /// [`Self::from_records`] with the records' places in the text already found (see
    /// [`record_spans`]).
    pub fn from_spans(
        text: Arc<str>,
        spans: Vec<Range<usize>>,
        file: &str,
        loaded_at: DateTime<Utc>,
    ) -> Result<Self, RecordError> {
        let source = Arc::new(FixtureSource {
            text,
            file: file.to_owned(),
            loaded_at,
        });
        // Each record's key and ReseptIds read on every core, then checked in order.
        let heads = crate::store::parallel::map_on_every_core(&spans, |span| {
            read_head(source.text.get(span.clone()).unwrap_or_default())
        });
        let mut store = Self::default();
        for (index, (span, head)) in spans.into_iter().zip(heads).enumerate() {
            let head = head.map_err(|e| {
                // The whole record read again names the field that is wrong.
                let text = source.text.get(span.clone()).unwrap_or_default();
                RecordError {
                    index,
                    patient: None,
                    error: parse_fixture(text)
                        .err()
                        .unwrap_or_else(|| FieldError::new("", e.to_string())),
                }
            })?;
            let record = FixtureRecord {
                source: source.clone(),
                index,
                span,
            };
            store.add_record(record, head)?;
        }
        Ok(store)
    }

    /// Adds one record: its key and ReseptIds must be new.
    fn add_record(&mut self, record: FixtureRecord, head: Head) -> Result<(), RecordError> {
        let index = record.index;
        let refuse = |field: String, message: &str| RecordError {
            index,
            patient: Some(head.patient.clone()),
            error: FieldError::new(field, message),
        };
        if self.patients.contains_key(&head.patient) {
            return Err(refuse(
                "patient".to_owned(),
                "another record is for this patient",
            ));
        }
        for (i, resept_id) in head.resept_ids {
            if self.fixture_resept_ids.contains_key(&resept_id) {
                return Err(refuse(
                    format!("medications[{i}].prescription.id"),
                    "another patient already has a prescription with this ReseptId",
                ));
            }
            self.fixture_resept_ids
                .insert(resept_id, head.patient.clone());
        }
        let slot = Slot::Lazy(LazyRecord {
            record,
            built: OnceLock::new(),
        });
        self.patients.insert(head.patient.clone(), slot);
        Ok(())
    }

    /// Builds every record not built yet, without keeping it, on every core: the first in the
    /// file that fails.
    pub fn check_records(&self) -> Result<(), RecordError> {
        let mut unbuilt: Vec<(&String, &FixtureRecord)> = self
            .patients
            .iter()
            .filter_map(|(key, slot)| match slot {
                Slot::Lazy(lazy) if lazy.built.get().is_none() => Some((key, &lazy.record)),
                _ => None,
            })
            .collect();
        unbuilt.sort_by_key(|(_, record)| record.index);
        let built = crate::store::parallel::map_on_every_core(&unbuilt, |(key, record)| {
            record.build().err().map(|error| RecordError {
                index: record.index,
                patient: Some((*key).clone()),
                error,
            })
        });
        match built.into_iter().flatten().next() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// How many patients the national systems know.
    pub fn len(&self) -> usize {
        self.patients.len()
    }

    /// Whether the national systems know no patient.
    pub fn is_empty(&self) -> bool {
        self.patients.is_empty()
    }

    /// Whether the national systems know the patient (without building its record).
    pub fn contains(&self, key: &str) -> bool {
        self.patients.contains_key(key)
    }

    /// Every patient key, in order.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.patients.keys()
    }

    /// A patient's national data (its record built on first use).
    pub fn patient(&self, key: &str) -> Option<&NationalPatient> {
        match self.patients.get(key)? {
            Slot::Built(patient) => Some(patient),
            Slot::Lazy(lazy) => lazy
                .built
                .get_or_init(|| lazy.record.build_or_log())
                .as_deref(),
        }
    }

    /// A patient's national data, for changing it: `None` when the systems do not know it.
    pub fn existing_mut(&mut self, key: &str) -> Option<&mut NationalPatient> {
        let patient = built_mut(self.patients.get_mut(key)?)?;
        self.changed.insert(key.to_owned());
        Some(patient)
    }

    /// A patient's national data, created empty when the systems do not know the patient yet
    /// (or its fixture record cannot be used).
    pub fn patient_mut(&mut self, key: &str, now: DateTime<Utc>) -> &mut NationalPatient {
        self.changed.insert(key.to_owned());
        let empty = || Slot::Built(Box::new(NationalPatient::new(key, now)));
        let slot = self.patients.entry(key.to_owned()).or_insert_with(empty);
        if built_mut(slot).is_none() {
            *slot = empty();
        }
        match slot {
            Slot::Built(patient) => patient,
            Slot::Lazy(_) => unreachable!("built or replaced just above"),
        }
    }

    /// Stores a patient under its key; whether it replaced one.
    pub fn insert(&mut self, patient: NationalPatient) -> bool {
        self.changed.insert(patient.key.clone());
        self.patients
            .insert(patient.key.clone(), Slot::Built(Box::new(patient)))
            .is_some()
    }

    /// Takes a patient out (its record built first).
    pub fn remove(&mut self, key: &str) -> Option<NationalPatient> {
        self.existing_mut(key)?;
        self.changed.remove(key);
        match self.patients.remove(key)? {
            Slot::Built(patient) => Some(*patient),
            Slot::Lazy(_) => None,
        }
    }

    /// The patients built so far, by key (a record never used is not built by this).
    pub fn built(&self) -> impl Iterator<Item = (&String, &NationalPatient)> {
        self.patients.iter().filter_map(|(key, slot)| match slot {
            Slot::Built(patient) => Some((key, patient.as_ref())),
            Slot::Lazy(lazy) => lazy
                .built
                .get()
                .and_then(Option::as_deref)
                .map(|p| (key, p)),
        })
    }

    /// A patient's national data if it is built (a record never used is not built by this).
    pub fn built_patient(&self, key: &str) -> Option<&NationalPatient> {
        match self.patients.get(key)? {
            Slot::Built(patient) => Some(patient),
            Slot::Lazy(lazy) => lazy.built.get().and_then(Option::as_deref),
        }
    }

    /// The patients changed since load: the only ones that can hold messages.
    pub fn changed(&self) -> impl Iterator<Item = &NationalPatient> {
        self.changed
            .iter()
            .filter_map(|key| match self.patients.get(key)? {
                Slot::Built(patient) => Some(patient.as_ref()),
                Slot::Lazy(_) => None,
            })
    }

    /// The patient holding a prescription (ReseptIds are unique nationally).
    pub fn prescription_owner(&self, resept_id: &str) -> Option<&NationalPatient> {
        let from_fixture = self
            .fixture_resept_ids
            .get(resept_id)
            .and_then(|key| self.patient(key))
            .filter(|p| p.prescription(resept_id).is_some());
        from_fixture.or_else(|| self.changed().find(|p| p.prescription(resept_id).is_some()))
    }
}

/// The store as a state document writes it: built patients in full, records not built yet as
/// their fixture text with the time they count from.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreData<K: Ord, P, R> {
    patients: BTreeMap<K, P>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fixture_records: Option<RecordsData<R>>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordsData<R> {
    /// The time the records' relative times count from.
    loaded_at: DateTime<Utc>,
    records: Vec<R>,
}

impl Serialize for NationalStore {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut patients: BTreeMap<&String, &NationalPatient> = BTreeMap::new();
        let mut records: Vec<&RawValue> = Vec::new();
        let mut loaded_at = None;
        for (key, slot) in &self.patients {
            match slot {
                Slot::Built(patient) => {
                    patients.insert(key, patient);
                }
                Slot::Lazy(lazy) => match lazy.built.get() {
                    Some(Some(patient)) => {
                        patients.insert(key, patient);
                    }
                    _ => {
                        let raw = serde_json::from_str::<&RawValue>(lazy.record.text())
                            .map_err(serde::ser::Error::custom)?;
                        records.push(raw);
                        loaded_at = Some(lazy.record.source.loaded_at);
                    }
                },
            }
        }
        StoreData {
            patients,
            fixture_records: loaded_at.map(|loaded_at| RecordsData { loaded_at, records }),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for NationalStore {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let data = StoreData::<String, NationalPatient, Box<RawValue>>::deserialize(deserializer)?;
        let mut store = match data.fixture_records {
            Some(records) => {
                let texts: Vec<&str> = records.records.iter().map(|r| r.get()).collect();
                let text = format!("[{}]", texts.join(","));
                Self::from_records(text.into(), "the state document", records.loaded_at).map_err(
                    |e| {
                        D::Error::custom(format!(
                            "fixture_records[{}]: field `{}`: {}",
                            e.index, e.error.field, e.error.message
                        ))
                    },
                )?
            }
            None => Self::default(),
        };
        for (key, patient) in data.patients {
            if store.patients.contains_key(&key) {
                return Err(D::Error::custom(format!(
                    "patient '{key}' is both built and a fixture record"
                )));
            }
            store.changed.insert(key.clone());
            store.patients.insert(key, Slot::Built(Box::new(patient)));
        }
        Ok(store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-02T10:00:00Z")
            .unwrap()
            .to_utc()
    }

    fn prescribed(key: &str, resept_id: &str) -> String {
        serde_json::json!({
            "patient": key,
            "medications": [{
                "medication": {"name": "Zopiklon tab 5 mg"},
                "dssn": "1 tablett ved behov",
                "started": "now-10d",
                "prescription": {"id": resept_id, "status": "Ekspederbar",
                                 "issued": "now-10d", "expires": "now+300d", "packages": 1}
            }]
        })
        .to_string()
    }

    fn store(records: &[String]) -> Result<NationalStore, RecordError> {
        NationalStore::from_records(format!("[{}]", records.join(",")).into(), "n.json", now())
    }

    const RESEPT_A: &str = "0b6b1c1e-1f7a-4c55-9a57-3a1d5f0e8b21";
    const RESEPT_B: &str = "0b6b1c1e-1f7a-4c55-9a57-3a1d5f0e8b22";

    #[test]
    fn records_are_built_on_first_use_with_the_load_time() {
        let store = store(&[
            prescribed("12050050295", RESEPT_A),
            prescribed("10092939427", RESEPT_B),
        ])
        .unwrap();
        assert_eq!(store.len(), 2);
        assert_eq!(store.built().count(), 0);
        let owner = store.prescription_owner(RESEPT_B).unwrap();
        assert_eq!(owner.key, "10092939427");
        assert_eq!(store.built().count(), 1);
        let patient = store.patient("12050050295").unwrap();
        assert_eq!(patient.changed, now());
        assert!(store.patient("13116900216").is_none());
        assert!(store.prescription_owner("no-such-id").is_none());
    }

    #[test]
    fn duplicate_patients_and_resept_ids_are_refused_at_load() {
        let e = store(&[
            prescribed("12050050295", RESEPT_A),
            prescribed("12050050295", RESEPT_B),
        ])
        .unwrap_err();
        assert_eq!((e.index, e.error.field.as_str()), (1, "patient"));
        assert_eq!(e.error.message, "another record is for this patient");
        let e = store(&[
            prescribed("12050050295", RESEPT_A),
            prescribed("10092939427", RESEPT_A),
        ])
        .unwrap_err();
        assert_eq!(e.index, 1);
        assert_eq!(e.error.field, "medications[0].prescription.id");
        let e = store(&[r#"{"description": "no key"}"#.to_owned()]).unwrap_err();
        assert_eq!((e.index, e.patient), (0, None));
        assert_eq!(e.error, FieldError::new("", "missing field `patient`"));
        let e =
            store(&[r#"{"patient": "12050050295", "medications": {}}"#.to_owned()]).unwrap_err();
        assert_eq!(e.error.field, "medications");
        assert!(e.error.message.starts_with("invalid type: map"), "{e:?}");
    }

    #[test]
    fn a_bad_record_is_found_by_the_check_and_unknown_when_used() {
        let bad = r#"{"patient": "10092939427", "kjernejournal": 7}"#.to_owned();
        let mut store = store(&[prescribed("12050050295", RESEPT_A), bad]).unwrap();
        let e = store.check_records().unwrap_err();
        assert_eq!((e.index, e.error.field.as_str()), (1, "kjernejournal"));
        assert_eq!(store.built().count(), 0, "the check keeps nothing");
        assert!(store.patient("10092939427").is_none());
        // Changing it starts from an empty patient.
        let patient = store.patient_mut("10092939427", now());
        assert!(patient.prescriptions.is_empty());
        assert_eq!(store.changed().count(), 1);
    }

    #[test]
    fn changed_patients_and_unbuilt_records_survive_a_round_trip() {
        let mut store = store(&[
            prescribed("12050050295", RESEPT_A),
            prescribed("10092939427", RESEPT_B),
        ])
        .unwrap();
        store.patient_mut("12050050295", now()).description = Some("changed".to_owned());
        let text = serde_json::to_string(&store).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(value["patients"]["12050050295"].is_object());
        assert_eq!(
            value["fixture_records"]["records"][0]["patient"],
            "10092939427"
        );
        let read: NationalStore = serde_json::from_str(&text).unwrap();
        assert_eq!(serde_json::to_string(&read).unwrap(), text);
        assert_eq!(read.len(), 2);
        assert_eq!(read.built().count(), 1);
        assert_eq!(
            read.patient("12050050295").unwrap().description.as_deref(),
            Some("changed")
        );
        assert_eq!(
            read.prescription_owner(RESEPT_B).unwrap().changed,
            now(),
            "relative times count from the first load"
        );
    }

    #[test]
    fn moving_a_patient_keeps_its_prescriptions_findable() {
        let mut store = store(&[prescribed("12050050295", RESEPT_A)]).unwrap();
        let mut patient = store.remove("12050050295").unwrap();
        patient.key = "10092939427".to_owned();
        store.insert(patient);
        assert_eq!(
            store.prescription_owner(RESEPT_A).unwrap().key,
            "10092939427"
        );
        assert!(!store.contains("12050050295"));
    }
}
