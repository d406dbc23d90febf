//! `fixtures/sfm/national.json`: the national systems' data per patient, in a compact form that
//! helsesim turns into the FHIR resources SFM returns. Dates may be absolute (`2026-01-10`,
//! `2026-01-10T10:00:00Z`) or relative to the moment the fixtures load (`now`, `now-120d`,
//! `now+1y`), so the fixture patients stay current: a statement discontinued `now-120d` is always
//! "more than 3 months ago".

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::statement::{
    self, DISCONTINUATION, ITEM_GROUP_SYSTEM, RECALL_CODE_SYSTEM, REG_INFO, RESEPTAMENDMENT,
};
use super::{
    Allergy, Delivery, Dispense, Entry, EntryKind, KjModule, KjRecord, Multidose, NationalPatient,
    Party, PharmacyMessage, PharmacyMessageKind, Pll, Prescription, RfStatus,
};
use crate::errors::FieldError;
use crate::ids::NationalId;

/// Where SFM's profiles live.
const PROFILE_BASE: &str = "http://ehelse.no/fhir/StructureDefinition/";
/// `Identifier.system` of an HPR number.
const HPR_SYSTEM: &str = "urn:oid:2.16.578.1.12.4.1.4.4";
/// `Identifier.system` of a HER-id.
const HER_SYSTEM: &str = "urn:oid:2.16.578.1.12.4.1.2";
/// `sfm-medicationstatement-registration-status`: how far a registration has come.
const REGISTRATION_STATUS_SYSTEM: &str =
    "http://ehelse.no/fhir/CodeSystem/sfm-medicationstatement-registration-status";
/// `sfm-performer-roles`: who did what with a statement.
const PERFORMER_ROLES_SYSTEM: &str = "http://ehelse.no/fhir/CodeSystem/sfm-performer-roles";
/// Volven 7491, the prescription type (E Eresept, U Uten resept).
const TYPE_RESEPT_SYSTEM: &str = "urn:oid:2.16.578.1.12.4.1.1.7491";
/// Volven 7494, why a statement was discontinued.
const DISCONTINUATION_REASON_SYSTEM: &str = "urn:oid:2.16.578.1.12.4.1.1.7494";
/// Volven 9101, how a medication is used.
const USE_SYSTEM: &str = "urn:oid:2.16.578.1.12.4.1.1.9101";

/// One patient in `fixtures/sfm/national.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatientFixture {
    /// The fødselsnummer or D-nummer; for a patient without one, `system|value` of the EHR's
    /// identifier (as the tenant's Patient carries it).
    pub patient: String,
    /// What the patient is for (not served).
    #[serde(default)]
    pub description: Option<String>,
    /// The patient's kjernejournal: `true` (a plain one), `false`/absent (none), or an object
    /// with its details.
    #[serde(default, deserialize_with = "kjernejournal_fixture")]
    pub kjernejournal: Option<KjFixture>,
    /// The latest PLL (M25.1); entries with a `pll_id` belong to it.
    #[serde(default)]
    pub pll: Option<PllFixture>,
    /// The statements: PLL entries, prescriptions, vaccines, NIB/FIB.
    #[serde(default)]
    pub medications: Vec<EntryFixture>,
    /// Kjernejournal's allergies.
    #[serde(default)]
    pub allergies: Vec<AllergyFixture>,
    /// The multidose arrangement of a multidose patient.
    #[serde(default)]
    pub multidose: Option<MultidoseFixture>,
}

/// A patient's kjernejournal details.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KjFixture {
    /// The patient has registered their own health information.
    #[serde(default)]
    pub own_health_information: bool,
    /// Restricted modules: `KRITISKINFO`, `LEGEMIDLER`.
    #[serde(default)]
    pub blocked_modules: Vec<String>,
    /// HPR numbers of health professionals the patient has blocked.
    #[serde(default)]
    pub blocked_professionals: Vec<String>,
    /// The patient's name (Folkeregisteret's), shown by the kjernejournal portal.
    #[serde(default)]
    pub name: Option<String>,
    /// Folkeregisteret has an address block (adressesperre) on the patient.
    #[serde(default)]
    pub address_protected: bool,
    /// The patient is not active in Folkeregisteret.
    #[serde(default)]
    pub inactive: bool,
}

/// `kjernejournal`: a boolean or a [`KjFixture`] object.
fn kjernejournal_fixture<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<KjFixture>, D::Error> {
    use serde::de::Error as _;
    match Value::deserialize(deserializer)? {
        Value::Bool(has) => Ok(has.then(KjFixture::default)),
        Value::Null => Ok(None),
        object @ Value::Object(_) => serde_json::from_value(object)
            .map(Some)
            .map_err(D::Error::custom),
        other => Err(D::Error::custom(format!(
            "expected true, false or an object with own_health_information, blocked_modules, \
             blocked_professionals, name, address_protected, inactive; got {other}"
        ))),
    }
}

fn build_kjernejournal(fixture: KjFixture) -> Result<KjRecord, FieldError> {
    let mut blocked_modules = Vec::new();
    for (i, name) in fixture.blocked_modules.iter().enumerate() {
        let module = KjModule::parse(name).ok_or_else(|| {
            FieldError::new(
                format!("kjernejournal.blocked_modules[{i}]"),
                format!("'{name}' is not a kjernejournal module: KRITISKINFO or LEGEMIDLER"),
            )
        })?;
        blocked_modules.push(module);
    }
    for (i, hpr) in fixture.blocked_professionals.iter().enumerate() {
        if hpr.is_empty() || !hpr.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::new(
                format!("kjernejournal.blocked_professionals[{i}]"),
                format!("'{hpr}' is not an HPR number (digits only)"),
            ));
        }
    }
    if fixture.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return Err(FieldError::new(
            "kjernejournal.name",
            "the name must not be empty (leave it out instead)",
        ));
    }
    Ok(KjRecord {
        own_health_information: fixture.own_health_information,
        blocked_modules,
        blocked_professionals: fixture.blocked_professionals,
        name: fixture.name,
        address_protected: fixture.address_protected,
        inactive: fixture.inactive,
    })
}

/// The latest PLL.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PllFixture {
    /// The M25.1 message id (a GUID; generated when absent).
    #[serde(default)]
    pub id: Option<String>,
    /// When it was made.
    pub date: String,
    /// Who made it.
    #[serde(default)]
    pub author: Option<PartyFixture>,
}

/// A person (`hpr`) or an organisation (`her`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartyFixture {
    /// The name.
    pub name: String,
    /// A person's HPR number.
    #[serde(default)]
    pub hpr: Option<String>,
    /// An organisation's HER-id.
    #[serde(default)]
    pub her: Option<String>,
}

/// A medicinal product (or vaccine, or NIB/FIB item).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MedicationFixture {
    /// FEST's name-form-strength ("Atorvastatin tab 20 mg").
    pub name: String,
    /// The FEST id.
    #[serde(default)]
    pub fest_id: Option<String>,
    /// The ATC code.
    #[serde(default)]
    pub atc: Option<String>,
    /// The ATC code's name.
    #[serde(default)]
    pub atc_name: Option<String>,
    /// The pharmaceutical form ("Tablett").
    #[serde(default)]
    pub form: Option<String>,
    /// Reseptgruppe (A, B, C, F); C when absent.
    #[serde(default)]
    pub prescription_group: Option<String>,
}

/// One statement.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryFixture {
    /// The product.
    pub medication: MedicationFixture,
    /// The dosage text (DSSN).
    pub dssn: String,
    /// Fast, Behov or Kur; Fast when absent.
    #[serde(default, rename = "use")]
    pub use_kind: Option<UseKind>,
    /// What it is used for.
    #[serde(default)]
    pub application_area: Option<String>,
    /// When use started.
    pub started: String,
    /// The PLL entry id (a GUID): the entry is in the patient's PLL.
    #[serde(default)]
    pub pll_id: Option<String>,
    /// `active`, `stopped`, `entered-in-error`, `on-hold`, `completed`, `intended`; `stopped`
    /// when `discontinued` is given, else `active`.
    #[serde(default)]
    pub status: Option<StatementStatus>,
    /// When and why it was discontinued.
    #[serde(default)]
    pub discontinued: Option<DiscontinuedFixture>,
    /// `medication` (default), `vaccine` or `nib` (NIB/FIB).
    #[serde(default)]
    pub kind: Option<StatementKind>,
    /// Who registered it.
    #[serde(default)]
    pub prescriber: Option<PartyFixture>,
    /// The prescription in Reseptformidleren, if any.
    #[serde(default)]
    pub prescription: Option<PrescriptionFixture>,
}

/// A discontinuation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscontinuedFixture {
    /// When.
    pub at: String,
    /// Volven 7494 code (A Avsluttet behandling, X Annen årsak, ...); X when absent.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A prescription.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrescriptionFixture {
    /// The ReseptId (a GUID).
    pub id: String,
    /// Ekspederbar, UnderEkspedering, Ekspedert or Tilbakekalt.
    #[serde(deserialize_with = "rf_status")]
    pub status: RfStatus,
    /// When it was issued.
    pub issued: String,
    /// When it expires.
    pub expires: String,
    /// Reiterations.
    #[serde(default)]
    pub reit: u32,
    /// Number of packages (package prescriptions).
    #[serde(default)]
    pub packages: Option<f64>,
    /// Amount (non-package prescriptions).
    #[serde(default)]
    pub amount: Option<AmountFixture>,
    /// Locked (låst resept).
    #[serde(default)]
    pub locked: bool,
    /// Its reference number.
    #[serde(default)]
    pub refnum: Option<String>,
    /// The dispensing pharmacy (UnderEkspedering).
    #[serde(default)]
    pub dispenser: Option<String>,
    /// Dispenses on it.
    #[serde(default)]
    pub dispenses: Vec<DispenseFixture>,
    /// Volven 7500 recall code of a Tilbakekalt prescription (2 Seponering when absent).
    #[serde(default)]
    pub recall_code: Option<String>,
}

/// An amount.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmountFixture {
    /// How much.
    pub value: f64,
    /// Of what ("stk", "ml").
    pub unit: String,
}

/// A dispense.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispenseFixture {
    /// When it was handed over.
    pub at: String,
    /// Packages.
    pub quantity: f64,
    /// The pharmacy.
    pub pharmacy: PartyFixture,
}

/// An allergy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllergyFixture {
    /// Its id (generated when absent).
    #[serde(default)]
    pub id: Option<String>,
    /// What the patient reacts to.
    pub substance: String,
    /// The ATC code of a medicinal substance.
    #[serde(default)]
    pub atc: Option<String>,
    /// `food`, `medication`, `environment` or `biologic` (default: `medication` with an ATC
    /// code, else `environment`).
    #[serde(default)]
    pub category: Option<AllergyCategory>,
    /// `low`, `high` or `unable-to-assess`.
    pub criticality: Criticality,
    /// The reaction.
    #[serde(default)]
    pub reaction: Option<String>,
    /// When it was recorded.
    pub recorded: String,
}

/// A multidose arrangement.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultidoseFixture {
    /// The responsible doctor (with `hpr`).
    pub doctor: PartyFixture,
    /// The doctor's organisation (with `her`).
    pub organization: PartyFixture,
    /// The dispensing pharmacy (with `her`).
    pub pharmacy: PartyFixture,
    /// The pharmacy's messages about the PLL: `M25.2` queries and `M25.3` dispensing notes.
    #[serde(default)]
    pub messages: Vec<PharmacyMessageFixture>,
}

/// A multidose pharmacy's message (M25.2 or M25.3).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PharmacyMessageFixture {
    /// `M25.2` (the pharmacy's query) or `M25.3` (its dispensing note).
    #[serde(rename = "type")]
    pub kind: PharmacyMessageKind,
    /// The message id (default: a new GUID).
    #[serde(default)]
    pub id: Option<String>,
    /// When it was sent.
    pub date: String,
    /// M25.3: what was dispensed, per prescription (at least one); none in an M25.2.
    #[serde(default)]
    pub deliveries: Vec<DeliveryFixture>,
}

/// One prescription's delivery in an M25.3.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryFixture {
    /// The prescription (a ReseptId of this patient).
    pub resept_id: String,
    /// The first dose.
    pub first_dose: String,
    /// The last dose.
    pub last_dose: String,
}

/// `status` of a prescription: one of Reseptformidleren's statuses, spelt as
/// [`RfStatus::name`].
fn rf_status<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<RfStatus, D::Error> {
    use serde::de::Error as _;
    let text = String::deserialize(deserializer)?;
    RfStatus::parse(&text).ok_or_else(|| {
        D::Error::custom(format!(
            "'{text}' is not Ekspederbar, UnderEkspedering, Ekspedert or Tilbakekalt"
        ))
    })
}

/// A statement's FHIR `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum StatementStatus {
    /// `active`.
    Active,
    /// `stopped`.
    Stopped,
    /// `entered-in-error`.
    EnteredInError,
    /// `on-hold`.
    OnHold,
    /// `completed`.
    Completed,
    /// `intended`.
    Intended,
}

impl StatementStatus {
    const ALL: [Self; 6] = [
        Self::Active,
        Self::Stopped,
        Self::EnteredInError,
        Self::OnHold,
        Self::Completed,
        Self::Intended,
    ];

    /// The FHIR code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Stopped => "stopped",
            Self::EnteredInError => "entered-in-error",
            Self::OnHold => "on-hold",
            Self::Completed => "completed",
            Self::Intended => "intended",
        }
    }
}

impl TryFrom<String> for StatementStatus {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| format!("'{text}' is not a MedicationStatement status"))
    }
}

/// What a statement fixture is: a medicinal product, a vaccine, or NIB/FIB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum StatementKind {
    /// `medication`.
    #[default]
    Medication,
    /// `vaccine`: needs an ATC code J07...
    Vaccine,
    /// `nib`: nutrition or consumables (NIB/FIB).
    Nib,
}

impl StatementKind {
    /// The Volven 7402 item group and its display.
    fn item_group(self) -> (&'static str, &'static str) {
        match self {
            Self::Medication | Self::Vaccine => ("L", "Legemiddel"),
            Self::Nib => ("A", "Annet"),
        }
    }
}

impl TryFrom<String> for StatementKind {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        match text.as_str() {
            "medication" => Ok(Self::Medication),
            "vaccine" => Ok(Self::Vaccine),
            "nib" => Ok(Self::Nib),
            other => Err(format!("'{other}' is not medication, vaccine or nib")),
        }
    }
}

/// How a medication is used (Volven 9101).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum UseKind {
    /// Regular use.
    #[default]
    Fast,
    /// When needed.
    Behov,
    /// A course.
    Kur,
}

impl UseKind {
    /// The Volven 9101 code and display.
    fn code(self) -> (&'static str, &'static str) {
        match self {
            Self::Fast => ("1", "Fast"),
            Self::Behov => ("2", "Behov"),
            Self::Kur => ("3", "Kur"),
        }
    }
}

impl TryFrom<String> for UseKind {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        match text.as_str() {
            "Fast" => Ok(Self::Fast),
            "Behov" => Ok(Self::Behov),
            "Kur" => Ok(Self::Kur),
            other => Err(format!("'{other}' is not Fast, Behov or Kur")),
        }
    }
}

/// An allergy's FHIR `criticality`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum Criticality {
    /// `low`.
    Low,
    /// `high`.
    High,
    /// `unable-to-assess`.
    UnableToAssess,
}

impl Criticality {
    /// The FHIR code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::High => "high",
            Self::UnableToAssess => "unable-to-assess",
        }
    }
}

impl TryFrom<String> for Criticality {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        [Self::Low, Self::High, Self::UnableToAssess]
            .into_iter()
            .find(|c| c.as_str() == text)
            .ok_or_else(|| format!("'{text}' is not low, high or unable-to-assess"))
    }
}

/// An allergy's FHIR `category`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum AllergyCategory {
    /// `food`.
    Food,
    /// `medication`.
    Medication,
    /// `environment`.
    Environment,
    /// `biologic`.
    Biologic,
}

impl AllergyCategory {
    /// The FHIR code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Food => "food",
            Self::Medication => "medication",
            Self::Environment => "environment",
            Self::Biologic => "biologic",
        }
    }
}

impl TryFrom<String> for AllergyCategory {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        [
            Self::Food,
            Self::Medication,
            Self::Environment,
            Self::Biologic,
        ]
        .into_iter()
        .find(|c| c.as_str() == text)
        .ok_or_else(|| format!("'{text}' is not food, medication, environment or biologic"))
    }
}

/// A time in a fixture: absolute, or `now`, `now-120d`, `now+2h`, `now-1y` (units m h d w y; a
/// year is 365 days) relative to `now`.
pub fn parse_when(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let Some(rest) = text.strip_prefix("now") else {
        return statement::parse_fhir_time(text).ok_or_else(|| {
            format!("'{text}' is not a date, a dateTime with zone, or now[+-]N(m|h|d|w|y)")
        });
    };
    if rest.is_empty() {
        return Ok(now);
    }
    let bad = || format!("'{text}' is not of the form now[+-]N(m|h|d|w|y), e.g. now-120d");
    let (sign, amount) = match rest.split_at_checked(1) {
        Some(("+", amount)) => (1, amount),
        Some(("-", amount)) => (-1, amount),
        _ => return Err(bad()),
    };
    let (number, unit) = amount
        .split_at_checked(amount.len().saturating_sub(1))
        .ok_or_else(bad)?;
    let n: i64 = number.parse().map_err(|_| bad())?;
    let delta = match unit {
        "m" => TimeDelta::try_minutes(n),
        "h" => TimeDelta::try_hours(n),
        "d" => TimeDelta::try_days(n),
        "w" => TimeDelta::try_weeks(n),
        "y" => n.checked_mul(365).and_then(TimeDelta::try_days),
        _ => None,
    }
    .ok_or_else(bad)?;
    now.checked_add_signed(delta * sign).ok_or_else(bad)
}

/// A FHIR `dateTime`.
pub fn date_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A FHIR `date`.
pub fn date(at: DateTime<Utc>) -> String {
    at.date_naive().format("%Y-%m-%d").to_string()
}

fn when(field: &str, text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, FieldError> {
    parse_when(text, now).map_err(|e| FieldError::new(field, e))
}

fn guid(field: &str, value: &str) -> Result<(), FieldError> {
    uuid::Uuid::parse_str(value)
        .map(|_| ())
        .map_err(|_| FieldError::new(field, format!("'{value}' is not a GUID")))
}

fn party(fixture: &PartyFixture) -> Party {
    Party {
        name: fixture.name.clone(),
        id: fixture.hpr.clone().or_else(|| fixture.her.clone()),
    }
}

/// A logical reference to a practitioner by HPR number.
pub fn practitioner_reference(party: &Party) -> Value {
    let mut reference = json!({
        "type": format!("{PROFILE_BASE}sfm-Practitioner"),
        "display": match &party.id {
            Some(hpr) => format!("{}, HPR: {hpr}", party.name),
            None => party.name.clone(),
        },
    });
    if let Some(hpr) = &party.id {
        reference["identifier"] = json!({"system": HPR_SYSTEM, "value": hpr});
    }
    reference
}

/// A logical reference to an organisation by HER-id.
pub fn organization_reference(party: &Party) -> Value {
    let mut reference = json!({
        "type": format!("{PROFILE_BASE}sfm-Organization"),
        "display": match &party.id {
            Some(her) => format!("{}, HER: {her}", party.name),
            None => party.name.clone(),
        },
    });
    if let Some(her) = &party.id {
        reference["identifier"] = json!({"system": HER_SYSTEM, "value": her});
    }
    reference
}

fn coding(system: &str, code: &str, display: &str) -> Value {
    json!({"coding": [{"system": system, "code": code, "display": display}]})
}

fn build_medication(fixture: &MedicationFixture, id: &str) -> Value {
    let mut codings = Vec::new();
    if let Some(fest_id) = &fixture.fest_id {
        codings.push(json!({
            "system": "http://ehelse.no/fhir/CodeSystem/FEST",
            "code": fest_id,
            "display": fixture.name
        }));
    }
    if let Some(atc) = &fixture.atc {
        let mut c = json!({"system": statement::ATC_SYSTEM, "code": atc});
        if let Some(name) = &fixture.atc_name {
            c["display"] = json!(name);
        }
        codings.push(c);
    }
    let group = fixture.prescription_group.as_deref().unwrap_or("C");
    let mut medication = json!({
        "resourceType": "Medication",
        "id": id,
        "meta": {"profile": [format!("{PROFILE_BASE}sfm-Medication")]},
        "extension": [
            {
                "url": "http://hl7.no/fhir/StructureDefinition/no-basis-prescriptiongroup",
                "extension": [{
                    "url": "prescriptiongroup",
                    "valueCodeableConcept": coding(
                        "urn:oid:2.16.578.1.12.4.1.1.7421",
                        group,
                        &format!("Reseptgruppe {group}")
                    )
                }]
            },
            {"url": format!("{PROFILE_BASE}sfm-medicationdetails"), "extension": [
                {
                    "url": "registreringstype",
                    "valueCodeableConcept": coding(
                        "http://ehelse.no/fhir/CodeSystem/sfm-festregistrationtype",
                        "3",
                        "Legemiddelpakning"
                    )
                },
                {
                    "url": "packinginfoprescription",
                    "extension": [{"url": "name", "valueString": fixture.name}]
                }
            ]}
        ],
        "code": {"text": fixture.name},
        "status": "active",
    });
    if !codings.is_empty() {
        medication["code"]["coding"] = Value::Array(codings);
    }
    if let Some(form) = &fixture.form {
        medication["form"] = json!({"text": form});
    }
    medication
}

/// How much a prescription gives: a number of packages, or an amount.
#[derive(Debug, Clone, Copy)]
enum Quantity<'a> {
    /// `packages`.
    Packages(f64),
    /// `amount`.
    Amount(&'a AmountFixture),
}

/// A prescription fixture, checked, its times resolved.
#[derive(Debug)]
struct CheckedPrescription<'a> {
    fixture: &'a PrescriptionFixture,
    issued: DateTime<Utc>,
    expires: DateTime<Utc>,
    quantity: Quantity<'a>,
    /// When each of its dispenses was handed over, in the fixture's order.
    dispensed: Vec<DateTime<Utc>>,
}

/// A statement fixture, checked, its times resolved and its defaults applied.
#[derive(Debug)]
struct CheckedEntry<'a> {
    fixture: &'a EntryFixture,
    started: DateTime<Utc>,
    discontinued: Option<(DateTime<Utc>, &'a DiscontinuedFixture)>,
    status: StatementStatus,
    kind: StatementKind,
    use_kind: UseKind,
    prescription: Option<CheckedPrescription<'a>>,
}

/// Checks a statement fixture (under `field`) and resolves its times; the first problem is
/// reported, in this order: `started`, `discontinued.at`, a vaccine's ATC code, `pll_id`, the
/// prescription, and that the statement is a PLL entry, a prescription or both.
fn check_entry<'a>(
    fixture: &'a EntryFixture,
    field: &str,
    now: DateTime<Utc>,
) -> Result<CheckedEntry<'a>, FieldError> {
    let started = when(&format!("{field}.started"), &fixture.started, now)?;
    let discontinued = fixture
        .discontinued
        .as_ref()
        .map(|d| when(&format!("{field}.discontinued.at"), &d.at, now).map(|at| (at, d)))
        .transpose()?;
    let status = match (fixture.status, &discontinued) {
        (Some(status), _) => status,
        (None, Some(_)) => StatementStatus::Stopped,
        (None, None) => StatementStatus::Active,
    };
    let kind = fixture.kind.unwrap_or_default();
    let atc = fixture.medication.atc.as_deref();
    if kind == StatementKind::Vaccine && !atc.is_some_and(|a| a.starts_with("J07")) {
        return Err(FieldError::new(
            format!("{field}.medication.atc"),
            "a vaccine needs its ATC code (J07...)",
        ));
    }
    if let Some(pll_id) = &fixture.pll_id {
        guid(&format!("{field}.pll_id"), pll_id)?;
    }
    let prescription = fixture
        .prescription
        .as_ref()
        .map(|p| check_prescription(p, &format!("{field}.prescription"), now))
        .transpose()?;
    if fixture.pll_id.is_none() && prescription.is_none() {
        return Err(FieldError::new(
            field,
            "a statement needs a pll_id (a PLL entry), a prescription, or both",
        ));
    }
    Ok(CheckedEntry {
        fixture,
        started,
        discontinued,
        status,
        kind,
        use_kind: fixture.use_kind.unwrap_or_default(),
        prescription,
    })
}

/// Checks a prescription fixture (under `field`): its ReseptId, its times, packages or amount,
/// and its dispenses' times.
fn check_prescription<'a>(
    fixture: &'a PrescriptionFixture,
    field: &str,
    now: DateTime<Utc>,
) -> Result<CheckedPrescription<'a>, FieldError> {
    guid(&format!("{field}.id"), &fixture.id)?;
    let issued = when(&format!("{field}.issued"), &fixture.issued, now)?;
    let expires = when(&format!("{field}.expires"), &fixture.expires, now)?;
    let quantity = match (fixture.packages, &fixture.amount) {
        (Some(n), None) => Quantity::Packages(n),
        (None, Some(amount)) => Quantity::Amount(amount),
        _ => {
            return Err(FieldError::new(
                field,
                "a prescription has either packages or amount",
            ));
        }
    };
    let dispensed = fixture
        .dispenses
        .iter()
        .enumerate()
        .map(|(i, d)| when(&format!("{field}.dispenses[{i}].at"), &d.at, now))
        .collect::<Result<_, _>>()?;
    Ok(CheckedPrescription {
        fixture,
        issued,
        expires,
        quantity,
        dispensed,
    })
}

impl CheckedPrescription<'_> {
    /// Reseptformidleren's prescription, sent as `entry`.
    fn build(self, entry: Entry) -> Prescription {
        let dispenses = self
            .fixture
            .dispenses
            .iter()
            .zip(self.dispensed)
            .map(|(d, at)| Dispense {
                id: uuid::Uuid::new_v4().to_string(),
                at,
                quantity: d.quantity,
                pharmacy: party(&d.pharmacy),
            })
            .collect();
        Prescription {
            entry,
            status: self.fixture.status,
            locked: self.fixture.locked,
            refnum: self.fixture.refnum.clone(),
            dispenser: self.fixture.dispenser.clone(),
            recall_pending: false,
            dispenses,
        }
    }
}

/// An amendment part naming the prescription type.
fn type_resept(code: &str, display: &str) -> Value {
    json!({
        "url": "typeresept",
        "valueCodeableConcept": coding(TYPE_RESEPT_SYSTEM, code, display)
    })
}

/// The parts of the statement's `sfm-reseptamendment`: its prescription's, or, without one,
/// those of a statement `Uten resept`.
fn amendment(entry: &CheckedEntry<'_>) -> Vec<Value> {
    let (group, group_name) = entry.kind.item_group();
    let item_group = json!({
        "url": "itemgroup",
        "valueCodeableConcept": coding(ITEM_GROUP_SYSTEM, group, group_name)
    });
    let dosing = json!({
        "url": "ereseptdosing",
        "extension": [{"url": "starttime", "valueDate": date(entry.started)}]
    });
    let dssn = json!({"url": "dssn", "valueString": entry.fixture.dssn});
    let Some(p) = &entry.prescription else {
        return vec![
            dssn,
            json!({"url": "reit", "valueString": "0"}),
            item_group,
            dosing,
            json!({"url": "lastchanged", "valueDateTime": date_time(entry.started)}),
            type_resept("U", "Uten resept"),
        ];
    };
    let quantity = match p.quantity {
        Quantity::Packages(n) => json!({"url": "numberofpackages", "valueDecimal": n}),
        Quantity::Amount(a) => {
            json!({"url": "amount", "valueQuantity": {"value": a.value, "unit": a.unit}})
        }
    };
    let mut parts = vec![
        json!({"url": "reseptdate", "valueDate": date(p.issued)}),
        json!({"url": "expirationdate", "valueDate": date(p.expires)}),
        dssn,
        quantity,
        json!({"url": "reit", "valueString": p.fixture.reit.to_string()}),
        item_group,
        dosing,
    ];
    if p.fixture.status == RfStatus::Tilbakekalt {
        let code = p.fixture.recall_code.as_deref().unwrap_or("2");
        parts.push(json!({"url": "recallinfo", "extension": [{
            "url": "recallcode",
            "valueCodeableConcept": coding(RECALL_CODE_SYSTEM, code, recall_name(code))
        }]}));
    }
    parts.push(json!({"url": "lastchanged", "valueDateTime": date_time(p.issued)}));
    parts.push(type_resept("E", "Eresept"));
    parts
}

/// An `sfm-regInfo`: an approved registration in `role` at `at`, by the prescriber if known.
fn reg_info(prescriber: Option<&Party>, role: &str, role_name: &str, at: DateTime<Utc>) -> Value {
    let mut parts = vec![
        json!({
            "url": "status",
            "valueCodeableConcept": coding(REGISTRATION_STATUS_SYSTEM, "3", "Godkjent")
        }),
        json!({
            "url": "type",
            "valueCodeableConcept": coding(PERFORMER_ROLES_SYSTEM, role, role_name)
        }),
    ];
    if let Some(p) = prescriber {
        parts.push(json!({"url": "provider", "valueReference": practitioner_reference(p)}));
    }
    parts.push(json!({"url": "timestamp", "valueDateTime": date_time(at)}));
    json!({"url": REG_INFO, "extension": parts})
}

/// The statement's extensions: the amendment, who discontinued and who prescribed it, when
/// and why it was discontinued, and that generic substitution is accepted.
fn statement_extensions(entry: &CheckedEntry<'_>) -> Vec<Value> {
    let prescriber = entry.fixture.prescriber.as_ref().map(party);
    let mut extensions = vec![json!({"url": RESEPTAMENDMENT, "extension": amendment(entry)})];
    if let Some((at, _)) = &entry.discontinued {
        extensions.push(reg_info(prescriber.as_ref(), "3", "Seponert av", *at));
    }
    extensions.push(reg_info(
        prescriber.as_ref(),
        "1",
        "Forskrevet av",
        entry.started,
    ));
    if let Some((at, d)) = &entry.discontinued {
        let reason = d.reason.as_deref().unwrap_or("X");
        let reason_name = discontinuation_name(reason);
        extensions.push(json!({"url": DISCONTINUATION, "extension": [
            {"url": "timedate", "valueDateTime": date_time(*at)},
            {
                "url": "reason",
                "valueCodeableConcept": coding(DISCONTINUATION_REASON_SYSTEM, reason, reason_name)
            }
        ]}));
    }
    extensions.push(json!({
        "url": format!("{PROFILE_BASE}sfm-generic-substitution"),
        "extension": [{"url": "genericSubstitutionAccepted", "valueBoolean": true}]
    }));
    extensions
}

/// The statement's identifiers: its PLL entry id, then its ReseptId.
fn identifiers(fixture: &EntryFixture) -> Vec<Value> {
    let pll = fixture.pll_id.iter().map(|id| (statement::PLL_ID_TYPE, id));
    let resept = fixture
        .prescription
        .iter()
        .map(|p| (statement::RESEPT_ID_TYPE, &p.id));
    pll.chain(resept)
        .map(|(type_text, value)| {
            json!({"use": "usual", "type": {"text": type_text}, "value": value})
        })
        .collect()
}

/// The statement's one dosage: its use, its application area, and the DSSN.
fn dosage(entry: &CheckedEntry<'_>) -> Value {
    let (use_code, use_name) = entry.use_kind.code();
    let mut extensions = vec![json!({
        "url": format!("{PROFILE_BASE}sfm-use"),
        "valueCodeableConcept": coding(USE_SYSTEM, use_code, use_name)
    })];
    if let Some(area) = &entry.fixture.application_area {
        extensions.push(json!({
            "url": format!("{PROFILE_BASE}sfm-application-area"),
            "extension": [{"url": "text", "valueString": area}]
        }));
    }
    json!({"extension": extensions, "sequence": 1, "text": entry.fixture.dssn})
}

/// The `sfm-MedicationStatement` of a checked statement fixture, with id `id`, naming its
/// Medication `medication_id`.
fn build_statement(
    entry: &CheckedEntry<'_>,
    id: &str,
    medication_id: &str,
    subject: &Value,
) -> Value {
    json!({
        "resourceType": "MedicationStatement",
        "id": id,
        "meta": {"profile": [format!("{PROFILE_BASE}sfm-MedicationStatement")]},
        "extension": statement_extensions(entry),
        "identifier": identifiers(entry.fixture),
        "status": entry.status.as_str(),
        "subject": subject,
        "medicationReference": {
            "reference": format!("Medication/{medication_id}"),
            "type": format!("{PROFILE_BASE}sfm-Medication"),
            "display": entry.fixture.medication.name,
        },
        "dosage": [dosage(entry)],
    })
}

/// Checks a statement fixture (under `field`) and builds it: the statement with its Medication
/// and, when it has one, its prescription in Reseptformidleren.
fn build_entry(
    fixture: &EntryFixture,
    subject: &Value,
    field: &str,
    now: DateTime<Utc>,
) -> Result<(Entry, Option<Prescription>), FieldError> {
    let checked = check_entry(fixture, field, now)?;
    let id = fixture
        .pll_id
        .clone()
        .or_else(|| fixture.prescription.as_ref().map(|p| p.id.clone()))
        .unwrap_or_default();
    let medication_id = format!("med-{id}");
    let statement = build_statement(&checked, &id, &medication_id, subject);
    let entry = Entry::new(
        statement,
        build_medication(&fixture.medication, &medication_id),
    );
    let prescription = checked.prescription.map(|p| p.build(entry.clone()));
    Ok((entry, prescription))
}

/// The display of a Volven 7500 recall code.
pub fn recall_name(code: &str) -> &'static str {
    match code {
        "1" => "Fornying",
        "2" => "Seponering",
        "3" => "Fornying med endring",
        _ => "Annet",
    }
}

/// The display of a Volven 7494 discontinuation reason.
fn discontinuation_name(code: &str) -> &'static str {
    match code {
        "A" => "Avsluttet behandling",
        _ => "Annen årsak",
    }
}

/// Checks a patient key: a valid fødselsnummer or D-nummer, or `system|value` of a patient
/// without one.
fn check_patient_key(key: &str) -> Result<(), FieldError> {
    if key.bytes().all(|b| b.is_ascii_digit()) {
        NationalId::parse(key).map_err(|e| FieldError::new("patient", e.to_string()))?;
    } else if !key.contains('|') {
        return Err(FieldError::new(
            "patient",
            format!(
                "'{key}' is neither a fødselsnummer/D-nummer nor system|value of a patient \
                 without one"
            ),
        ));
    }
    Ok(())
}

/// Builds the patient's statements into `patient` — prescriptions to Reseptformidleren,
/// vaccines and NIB/FIB beside the PLL — each valid FHIR, with a PLL id no other statement
/// has and a ReseptId no other prescription has (nor one `resept_id_taken` names); returns the
/// PLL's entries.
fn add_medications(
    patient: &mut NationalPatient,
    medications: &[EntryFixture],
    resept_id_taken: &dyn Fn(&str) -> bool,
    now: DateTime<Utc>,
) -> Result<Vec<Entry>, FieldError> {
    let mut pll_entries = Vec::new();
    for (i, entry_fixture) in medications.iter().enumerate() {
        let field = format!("medications[{i}]");
        let subject = super::patient_reference(&patient.key);
        let (entry, prescription) = build_entry(entry_fixture, &subject, &field, now)?;
        if let Err(problems) = crate::fhir_r4::check_type(&entry.statement, "MedicationStatement")
            .and_then(|()| crate::fhir_r4::check_type(&entry.medication, "Medication"))
        {
            return Err(FieldError::new(field, problems.join("; ")));
        }
        if let Some(pll_id) = entry.pll_id() {
            let used = pll_entries
                .iter()
                .chain(&patient.other_entries)
                .any(|e: &Entry| e.pll_id() == Some(pll_id));
            if used {
                return Err(FieldError::new(
                    format!("{field}.pll_id"),
                    format!("another statement has the PLL id {pll_id}"),
                ));
            }
        }
        if let Some(p) = prescription {
            let id = p.id().to_owned();
            if patient.prescription(&id).is_some() || resept_id_taken(&id) {
                return Err(FieldError::new(
                    format!("{field}.prescription.id"),
                    format!("another prescription has the ReseptId {id}"),
                ));
            }
            patient.prescriptions.push(p);
        }
        match (entry.kind, entry.pll_id().is_some()) {
            (EntryKind::Medication, true) => pll_entries.push(entry),
            (EntryKind::Medication, false) => {}
            (_, _) => patient.other_entries.push(entry),
        }
    }
    Ok(pll_entries)
}

/// The patient's PLL, holding `entries`: the fixture's `pll`, required when an entry has a
/// `pll_id`.
fn build_pll(
    pll: Option<PllFixture>,
    entries: Vec<Entry>,
    now: DateTime<Utc>,
) -> Result<Option<Pll>, FieldError> {
    match (pll, entries.is_empty()) {
        (Some(pll), _) => {
            if let Some(id) = &pll.id {
                guid("pll.id", id)?;
            }
            Ok(Some(Pll {
                message_id: pll.id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                date: when("pll.date", &pll.date, now)?,
                author: pll.author.as_ref().map(party),
                entries,
            }))
        }
        (None, true) => Ok(None),
        (None, false) => Err(FieldError::new(
            "pll",
            "statements with a pll_id need the patient's pll (its date and author)",
        )),
    }
}

/// An allergy (under `field`): its id, when given, must be a FHIR id.
fn build_allergy(
    fixture: &AllergyFixture,
    field: &str,
    now: DateTime<Utc>,
) -> Result<Allergy, FieldError> {
    let id = match &fixture.id {
        Some(id) if crate::fhir_r4::is_fhir_id(id) => id.clone(),
        Some(id) => {
            return Err(FieldError::new(
                format!("{field}.id"),
                format!("'{id}' is not a FHIR id"),
            ));
        }
        None => uuid::Uuid::new_v4().to_string(),
    };
    Ok(Allergy {
        id,
        substance: fixture.substance.clone(),
        atc: fixture.atc.clone(),
        category: fixture.category.map(|c| c.as_str().to_owned()),
        criticality: fixture.criticality.as_str().to_owned(),
        reaction: fixture.reaction.clone(),
        recorded: when(&format!("{field}.recorded"), &fixture.recorded, now)?,
    })
}

/// Whether a pharmacy message's deliveries fit its kind: an M25.2 (a query) has none, an M25.3
/// (a dispensing note) at least one; the problem otherwise.
fn check_deliveries(kind: PharmacyMessageKind, deliveries: usize) -> Result<(), &'static str> {
    match (kind, deliveries) {
        (PharmacyMessageKind::Query, 1..) => {
            Err("an M25.2 (the pharmacy's query) has no deliveries: only an M25.3 does")
        }
        (PharmacyMessageKind::Dispensing, 0) => {
            Err("an M25.3 (the pharmacy's dispensing note) needs at least one delivery")
        }
        _ => Ok(()),
    }
}

/// A delivery (under `field`) of one of `patient`'s prescriptions.
fn build_delivery(
    fixture: &DeliveryFixture,
    field: &str,
    patient: &NationalPatient,
    now: DateTime<Utc>,
) -> Result<Delivery, FieldError> {
    if patient.prescription(&fixture.resept_id).is_none() {
        return Err(FieldError::new(
            format!("{field}.resept_id"),
            format!(
                "'{}' is not a prescription of this patient",
                fixture.resept_id
            ),
        ));
    }
    Ok(Delivery {
        resept_id: fixture.resept_id.clone(),
        first_dose: when(&format!("{field}.first_dose"), &fixture.first_dose, now)?,
        last_dose: when(&format!("{field}.last_dose"), &fixture.last_dose, now)?,
    })
}

/// A multidose pharmacy's message (under `field`) about `patient`'s PLL.
fn build_pharmacy_message(
    fixture: &PharmacyMessageFixture,
    field: &str,
    patient: &NationalPatient,
    now: DateTime<Utc>,
) -> Result<PharmacyMessage, FieldError> {
    check_deliveries(fixture.kind, fixture.deliveries.len())
        .map_err(|problem| FieldError::new(format!("{field}.deliveries"), problem))?;
    let deliveries = fixture
        .deliveries
        .iter()
        .enumerate()
        .map(|(j, d)| build_delivery(d, &format!("{field}.deliveries[{j}]"), patient, now))
        .collect::<Result<_, _>>()?;
    Ok(PharmacyMessage {
        id: fixture
            .id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        kind: fixture.kind,
        date: when(&format!("{field}.date"), &fixture.date, now)?,
        deliveries,
    })
}

/// `patient`'s multidose arrangement: the doctor needs an HPR number, the pharmacy's messages
/// name the patient's prescriptions.
fn build_multidose(
    fixture: &MultidoseFixture,
    patient: &NationalPatient,
    now: DateTime<Utc>,
) -> Result<Multidose, FieldError> {
    if fixture.doctor.hpr.is_none() {
        return Err(FieldError::new(
            "multidose.doctor.hpr",
            "the multidose doctor needs an HPR number",
        ));
    }
    let messages = fixture
        .messages
        .iter()
        .enumerate()
        .map(|(i, m)| build_pharmacy_message(m, &format!("multidose.messages[{i}]"), patient, now))
        .collect::<Result<_, _>>()?;
    Ok(Multidose {
        doctor: party(&fixture.doctor),
        organization: party(&fixture.organization),
        pharmacy: party(&fixture.pharmacy),
        messages,
    })
}

/// Builds one fixture patient; `resept_id_taken` tells whether another patient holds a
/// ReseptId, which this one must not reuse. The first problem is reported: the patient key,
/// the kjernejournal, the statements, the PLL, the allergies, the multidose arrangement.
pub fn build_patient(
    fixture: PatientFixture,
    resept_id_taken: &dyn Fn(&str) -> bool,
    now: DateTime<Utc>,
) -> Result<NationalPatient, FieldError> {
    check_patient_key(&fixture.patient)?;
    let mut patient = NationalPatient::new(&fixture.patient, now);
    patient.description = fixture.description;
    patient.kjernejournal = fixture.kjernejournal.map(build_kjernejournal).transpose()?;
    let pll_entries = add_medications(&mut patient, &fixture.medications, resept_id_taken, now)?;
    patient.pll = build_pll(fixture.pll, pll_entries, now)?;
    patient.allergies = fixture
        .allergies
        .iter()
        .enumerate()
        .map(|(i, a)| build_allergy(a, &format!("allergies[{i}]"), now))
        .collect::<Result<_, _>>()?;
    patient.multidose = fixture
        .multidose
        .as_ref()
        .map(|m| build_multidose(m, &patient, now))
        .transpose()?;
    Ok(patient)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-02T10:00:00Z")
            .unwrap()
            .to_utc()
    }

    #[test]
    fn relative_and_absolute_times() {
        let t = |s: &str| parse_when(s, now()).map(date_time);
        assert_eq!(t("now"), Ok("2026-03-02T10:00:00Z".to_owned()));
        assert_eq!(t("now-120d"), Ok("2025-11-02T10:00:00Z".to_owned()));
        assert_eq!(t("now+2h"), Ok("2026-03-02T12:00:00Z".to_owned()));
        assert_eq!(t("now-1y"), Ok("2025-03-02T10:00:00Z".to_owned()));
        assert_eq!(t("now+1w"), Ok("2026-03-09T10:00:00Z".to_owned()));
        assert_eq!(t("2026-01-10"), Ok("2026-01-10T00:00:00Z".to_owned()));
        assert_eq!(
            t("2026-01-10T10:00:00+01:00"),
            Ok("2026-01-10T09:00:00Z".to_owned())
        );
        for bad in [
            "now-",
            "now-5",
            "now*5d",
            "now-5x",
            "yesterday",
            "2026-13-01",
        ] {
            assert!(t(bad).is_err(), "{bad}");
        }
    }

    /// A statement fixture with a PLL id and `extra` fields.
    fn entry_fixture(extra: Value) -> Value {
        let mut entry = json!({
            "medication": {"name": "Atorvastatin tab 20 mg"},
            "dssn": "1 tablett om kvelden",
            "started": "now-10d",
            "pll_id": "0b6b1c1e-1f7a-4c55-9a57-3a1d5f0e8b22"
        });
        for (key, value) in extra.as_object().unwrap() {
            entry[key] = value.clone();
        }
        entry
    }

    fn parse(record: &Value) -> Result<PatientFixture, FieldError> {
        crate::fixtures::parse_record(record.to_string().as_bytes())
    }

    #[test]
    fn unknown_words_name_the_field_and_the_allowed_ones() {
        let prescription = json!({
            "id": "0b6b1c1e-1f7a-4c55-9a57-3a1d5f0e8b21", "status": "Gyldig",
            "issued": "now-20d", "expires": "now+300d", "packages": 1
        });
        let cases = [
            (
                json!({"medications": [entry_fixture(json!({"prescription": prescription}))]}),
                "medications[0].prescription.status",
                "'Gyldig' is not Ekspederbar, UnderEkspedering, Ekspedert or Tilbakekalt",
            ),
            (
                json!({"medications": [entry_fixture(json!({"use": "Ofte"}))]}),
                "medications[0].use",
                "'Ofte' is not Fast, Behov or Kur",
            ),
            (
                json!({"medications": [entry_fixture(json!({"kind": "pille"}))]}),
                "medications[0].kind",
                "'pille' is not medication, vaccine or nib",
            ),
            (
                json!({"medications": [entry_fixture(json!({"status": "paused"}))]}),
                "medications[0].status",
                "'paused' is not a MedicationStatement status",
            ),
            (
                json!({"allergies": [
                    {"substance": "Lateks", "criticality": "medium", "recorded": "now"}
                ]}),
                "allergies[0].criticality",
                "'medium' is not low, high or unable-to-assess",
            ),
            (
                json!({"allergies": [
                    {"substance": "Lateks", "criticality": "low", "category": "plant",
                     "recorded": "now"}
                ]}),
                "allergies[0].category",
                "'plant' is not food, medication, environment or biologic",
            ),
        ];
        for (mut record, field, message) in cases {
            record["patient"] = json!("10086148248");
            assert_eq!(parse(&record).unwrap_err(), FieldError::new(field, message));
        }
    }

    #[test]
    fn a_checked_statement_has_its_defaults_and_its_first_problem() {
        let check = |extra: Value| {
            let fixture: EntryFixture = serde_json::from_value(entry_fixture(extra)).unwrap();
            check_entry(&fixture, "medications[0]", now()).map(|c| (c.status, c.kind, c.use_kind))
        };
        assert_eq!(
            check(json!({})),
            Ok((
                StatementStatus::Active,
                StatementKind::Medication,
                UseKind::Fast
            ))
        );
        assert_eq!(
            check(json!({"discontinued": {"at": "now-1d"}, "use": "Kur"})),
            Ok((
                StatementStatus::Stopped,
                StatementKind::Medication,
                UseKind::Kur
            ))
        );
        assert_eq!(
            check(json!({"kind": "vaccine", "pll_id": "not a guid"})),
            Err(FieldError::new(
                "medications[0].medication.atc",
                "a vaccine needs its ATC code (J07...)"
            ))
        );
        assert_eq!(
            check(json!({"pll_id": null})),
            Err(FieldError::new(
                "medications[0]",
                "a statement needs a pll_id (a PLL entry), a prescription, or both"
            ))
        );
    }

    #[test]
    fn an_m25_2_has_no_deliveries_and_an_m25_3_has_some() {
        assert_eq!(check_deliveries(PharmacyMessageKind::Query, 0), Ok(()));
        assert!(check_deliveries(PharmacyMessageKind::Query, 1).is_err());
        assert_eq!(check_deliveries(PharmacyMessageKind::Dispensing, 2), Ok(()));
        assert!(check_deliveries(PharmacyMessageKind::Dispensing, 0).is_err());
    }
}
