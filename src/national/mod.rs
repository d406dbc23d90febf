//! The national systems behind SFM, simulated per patient: Reseptformidleren (RF: the
//! prescriptions with their status, the PLL — the patient's medication list, message M25.1 — and
//! the dispenses) and what Kjernejournal adds (allergies, whether the patient has a core record).
//! SFM's `$getMedication` reads it, `$sendMedication` writes it, and every message helsesim
//! "sent" (M1, M5, M25.1) is kept per patient.

pub mod events;
pub mod fixture;
pub mod outages;
pub mod render;
pub mod statement;
pub mod store;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use statement::EntryKind;
pub use store::NationalStore;

/// The key of a patient in the national systems: the fødselsnummer or D-nummer, or, for a
/// patient without one, `system|value` of the EHR's own identifier.
pub fn patient_key(national_id: Option<&str>, other: Option<(&str, &str)>) -> Option<String> {
    national_id
        .map(str::to_owned)
        .or_else(|| other.map(|(system, value)| format!("{system}|{value}")))
}

/// A logical reference to the patient a key names, for statements kept outside any bundle
/// (bundles and APIs point `subject` at their own Patient or ticket).
pub fn patient_reference(key: &str) -> Value {
    let (system, value) = match key.split_once('|') {
        Some((system, value)) if !value.contains('|') => (system, value),
        Some(_) => return serde_json::json!({"type": "Patient", "display": key}),
        None if key.as_bytes().first().is_some_and(|b| *b >= b'4') => {
            ("urn:oid:2.16.578.1.12.4.1.4.2", key)
        }
        None => ("urn:oid:2.16.578.1.12.4.1.4.1", key),
    };
    serde_json::json!({"type": "Patient", "identifier": {"system": system, "value": value}})
}

/// One patient's national data.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NationalPatient {
    /// The patient key.
    pub key: String,
    /// What the fixture patient is meant for (not served).
    pub description: Option<String>,
    /// The patient's kjernejournal, if they have one.
    pub kjernejournal: Option<KjRecord>,
    /// Reseptformidleren's prescriptions, oldest first.
    pub prescriptions: Vec<Prescription>,
    /// The latest PLL (M25.1), if the patient has one.
    pub pll: Option<Pll>,
    /// Entries shown beside the PLL but never part of it: vaccines (from the vaccine register)
    /// and nutrition/consumables (NIB/FIB).
    pub other_entries: Vec<Entry>,
    /// Kjernejournal's allergies and intolerances.
    pub allergies: Vec<Allergy>,
    /// The multidose arrangement, for a multidose patient.
    pub multidose: Option<Multidose>,
    /// The messages SFM sent for the patient, oldest first.
    pub messages: Vec<NationalMessage>,
    /// When any of it last changed.
    pub changed: DateTime<Utc>,
}

impl NationalPatient {
    /// A patient the national systems hold nothing for.
    pub fn new(key: &str, now: DateTime<Utc>) -> Self {
        Self {
            key: key.to_owned(),
            description: None,
            kjernejournal: None,
            prescriptions: Vec::new(),
            pll: None,
            other_entries: Vec::new(),
            allergies: Vec::new(),
            multidose: None,
            messages: Vec::new(),
            changed: now,
        }
    }

    /// A prescription by ReseptId.
    pub fn prescription(&self, resept_id: &str) -> Option<&Prescription> {
        self.prescriptions.iter().find(|p| p.id() == resept_id)
    }

    /// A prescription by ReseptId, for changing it.
    pub fn prescription_mut(&mut self, resept_id: &str) -> Option<&mut Prescription> {
        self.prescriptions.iter_mut().find(|p| p.id() == resept_id)
    }

    /// Whether the patient has locked prescriptions that are still active.
    pub fn has_locked_prescriptions(&self) -> bool {
        self.prescriptions
            .iter()
            .any(|p| p.locked && p.status.is_active())
    }
}

/// A statement with its Medication, as the national systems keep it. References to other
/// resources are logical (identifier + display); bundles give them fresh `urn:uuid`s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "EntryData", into = "EntryData")]
pub struct Entry {
    /// The `sfm-MedicationStatement`.
    pub statement: Value,
    /// The `sfm-Medication` it names.
    pub medication: Value,
    /// What it is, for the PLL rules.
    pub kind: EntryKind,
}

/// An [`Entry`] as the state document writes it: its kind is derived again when read.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryData {
    statement: Value,
    medication: Value,
}

impl From<EntryData> for Entry {
    fn from(data: EntryData) -> Self {
        Entry::new(data.statement, data.medication)
    }
}

impl From<Entry> for EntryData {
    fn from(entry: Entry) -> Self {
        EntryData {
            statement: entry.statement,
            medication: entry.medication,
        }
    }
}

impl Entry {
    /// A statement and its medication, classified.
    pub fn new(statement: Value, medication: Value) -> Self {
        let kind = EntryKind::of(&statement, Some(&medication));
        Self {
            statement,
            medication,
            kind,
        }
    }

    /// The PLL entry id.
    pub fn pll_id(&self) -> Option<&str> {
        statement::pll_id(&self.statement)
    }

    /// The ReseptId.
    pub fn resept_id(&self) -> Option<&str> {
        statement::resept_id(&self.statement)
    }

    /// The medication's name.
    pub fn display(&self) -> String {
        statement::display(&self.statement)
    }
}

/// A prescription's status in Reseptformidleren.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RfStatus {
    /// Can be dispensed.
    Ekspederbar,
    /// A pharmacy is dispensing it.
    UnderEkspedering,
    /// Fully dispensed: R "Resept avsluttet" (an M10 with Avsluttet = Ja). Volven 7408 has no
    /// "Ekspedert"; the fixtures keep the name.
    Ekspedert,
    /// Withdrawn (M5).
    Tilbakekalt,
}

impl RfStatus {
    /// Parses the fixture spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "Ekspederbar" => Some(Self::Ekspederbar),
            "UnderEkspedering" => Some(Self::UnderEkspedering),
            "Ekspedert" => Some(Self::Ekspedert),
            "Tilbakekalt" => Some(Self::Tilbakekalt),
            _ => None,
        }
    }

    /// Ekspederbar or UnderEkspedering: the prescriptions every `$sendMedication` must carry.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Ekspederbar | Self::UnderEkspedering)
    }

    /// The Volven 7408 code and display `rfstatus` carries, if RF reports one.
    pub fn code(self) -> Option<(&'static str, &'static str)> {
        match self {
            Self::Ekspederbar => Some(("E", "Ekspederbar")),
            Self::UnderEkspedering => Some(("U", "Under ekspedering")),
            Self::Tilbakekalt => Some(("T", "Tilbakekalt")),
            Self::Ekspedert => Some(("R", "Resept avsluttet")),
        }
    }

    /// The name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ekspederbar => "Ekspederbar",
            Self::UnderEkspedering => "UnderEkspedering",
            Self::Ekspedert => "Ekspedert",
            Self::Tilbakekalt => "Tilbakekalt",
        }
    }
}

/// A prescription in Reseptformidleren.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prescription {
    /// The statement it was sent as, and its medication.
    pub entry: Entry,
    /// Its status.
    pub status: RfStatus,
    /// Locked (låst resept): found only with its reference number or the patient's consent.
    pub locked: bool,
    /// Its reference number, when it has one.
    pub refnum: Option<String>,
    /// The pharmacy dispensing it (UnderEkspedering).
    pub dispenser: Option<String>,
    /// A withdrawal (M5) was sent while a pharmacy was dispensing it; RF has not confirmed it.
    pub recall_pending: bool,
    /// What pharmacies dispensed on it.
    pub dispenses: Vec<Dispense>,
}

impl Prescription {
    /// The ReseptId.
    pub fn id(&self) -> &str {
        self.entry.resept_id().unwrap_or_default()
    }
}

/// A dispense (M10) on a prescription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dispense {
    /// The M10 id.
    pub id: String,
    /// When it was handed over.
    pub at: DateTime<Utc>,
    /// How many packages.
    pub quantity: f64,
    /// The pharmacy.
    pub pharmacy: Party,
}

/// The latest PLL (M25.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pll {
    /// The M25.1 message id.
    pub message_id: String,
    /// When it was made.
    pub date: DateTime<Utc>,
    /// Who made it.
    pub author: Option<Party>,
    /// Its entries (medicinal products only).
    pub entries: Vec<Entry>,
}

/// A health professional or an organisation, named in national data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Party {
    /// The name.
    pub name: String,
    /// The HPR number (a person) or HER-id (an organisation).
    pub id: Option<String>,
}

/// What kjernejournal holds about a patient beyond the allergies (critical information) and
/// the prescriptions it reads from Reseptformidleren.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KjRecord {
    /// The patient has registered their own health information (helseindikator status 3).
    pub own_health_information: bool,
    /// The modules the patient has restricted (sperret): opened only with consent.
    pub blocked_modules: Vec<KjModule>,
    /// HPR numbers of health professionals the patient has blocked: then kjernejournal shares
    /// nothing clinical with anyone.
    pub blocked_professionals: Vec<String>,
    /// The patient's name as kjernejournal shows it (from Folkeregisteret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Folkeregisteret has an address block (adressesperre) on the patient: the portal does not
    /// open the kjernejournal.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub address_protected: bool,
    /// The patient is not active in Folkeregisteret (dead, emigrated, number ceased).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inactive: bool,
}

/// A kjernejournal module a patient can restrict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KjModule {
    /// Critical information (allergies, reactions, ...).
    #[serde(rename = "KRITISKINFO")]
    KritiskInfo,
    /// The medication overview.
    #[serde(rename = "LEGEMIDLER")]
    Legemidler,
}

impl KjModule {
    /// Every module, in helseindikator's order.
    pub const ALL: [KjModule; 2] = [KjModule::KritiskInfo, KjModule::Legemidler];

    /// The name kjernejournal gives it.
    pub fn as_str(self) -> &'static str {
        match self {
            KjModule::KritiskInfo => "KRITISKINFO",
            KjModule::Legemidler => "LEGEMIDLER",
        }
    }

    /// Parses the name.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == value)
    }
}

/// A multidose patient's arrangement: the responsible doctor and the dispensing pharmacy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Multidose {
    /// The doctor responsible for the multidose (HPR number in `id`).
    pub doctor: Party,
    /// The doctor's organisation (HER-id in `id`).
    pub organization: Party,
    /// The dispensing pharmacy (HER-id in `id`).
    pub pharmacy: Party,
    /// The pharmacy's messages about the PLL: queries (M25.2) and dispensing notes (M25.3).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<PharmacyMessage>,
}

/// Which multidose message a pharmacy sent about the PLL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PharmacyMessageKind {
    /// M25.2, "Multidose spørremelding fra apotek": the pharmacy asks the doctor.
    #[serde(rename = "M25.2")]
    Query,
    /// M25.3, "Multidose utleveringsmelding": what the pharmacy dispensed, per prescription.
    #[serde(rename = "M25.3")]
    Dispensing,
}

impl PharmacyMessageKind {
    /// The message type code (`sfm-message-type`).
    pub fn code(self) -> &'static str {
        match self {
            Self::Query => "M25.2",
            Self::Dispensing => "M25.3",
        }
    }

    /// The message type's display, as SFM writes it.
    pub fn display(self) -> &'static str {
        match self {
            Self::Query => "Multidose spørremelding fra apotek",
            Self::Dispensing => "Multidose utleveringsmelding",
        }
    }
}

/// A multidose pharmacy's message about the PLL (M25.2 or M25.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PharmacyMessage {
    /// The message id.
    pub id: String,
    /// M25.2 or M25.3.
    pub kind: PharmacyMessageKind,
    /// When it was sent.
    pub date: DateTime<Utc>,
    /// M25.3: what was dispensed, per prescription.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deliveries: Vec<Delivery>,
}

/// One prescription's multidose delivery in an M25.3.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    /// The prescription (ReseptId).
    pub resept_id: String,
    /// The first dose of the delivery.
    pub first_dose: DateTime<Utc>,
    /// The last dose of the delivery.
    pub last_dose: DateTime<Utc>,
}

/// An allergy or intolerance in the patient's kjernejournal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allergy {
    /// Its logical id.
    pub id: String,
    /// What the patient reacts to.
    pub substance: String,
    /// The substance's ATC code, if a medicinal product.
    pub atc: Option<String>,
    /// `food`, `medication`, `environment` or `biologic`; when absent, `medication` with an ATC
    /// code, else `environment`.
    pub category: Option<String>,
    /// `low`, `high` or `unable-to-assess`.
    pub criticality: String,
    /// The reaction.
    pub reaction: Option<String>,
    /// When it was recorded.
    pub recorded: DateTime<Utc>,
}

impl Allergy {
    /// Its FHIR category: the fixture's, else `medication` with an ATC code, else
    /// `environment`.
    pub fn category(&self) -> &str {
        self.category.as_deref().unwrap_or(if self.atc.is_some() {
            "medication"
        } else {
            "environment"
        })
    }
}

fn instant<S: serde::Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// The kinds of message SFM sends to Reseptformidleren.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MessageKind {
    /// A new prescription.
    #[serde(rename = "M1")]
    M1,
    /// A withdrawal (recall) of a prescription.
    #[serde(rename = "M5")]
    M5,
    /// The patient's medication list (PLL).
    #[serde(rename = "M25.1")]
    M25_1,
}

impl MessageKind {
    /// Its name (`M1`, `M5`, `M25.1`).
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::M1 => "M1",
            MessageKind::M5 => "M5",
            MessageKind::M25_1 => "M25.1",
        }
    }
}

/// A message SFM sent to Reseptformidleren on the patient's behalf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NationalMessage {
    /// The message id.
    pub id: String,
    /// `M1` (prescription), `M5` (withdrawal) or `M25.1` (PLL).
    #[serde(rename = "type")]
    pub kind: MessageKind,
    /// When it was sent.
    #[serde(serialize_with = "instant")]
    pub sent: DateTime<Utc>,
    /// The prescription (M1, M5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resept_id: Option<String>,
    /// The reference number given (M1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refnum: Option<String>,
    /// The recall reason (M5, Volven 7500).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recall_code: Option<String>,
    /// The SFM instance that sent it.
    pub sfm_id: String,
    /// The user who sent it.
    pub sender_pid: String,
}
