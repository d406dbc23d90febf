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
    NationalStore, Party, PharmacyMessage, PharmacyMessageKind, Pll, Prescription, RfStatus,
};
use crate::errors::FieldError;
use crate::ids::NationalId;

/// Where SFM's profiles live.
const PROFILE_BASE: &str = "http://ehelse.no/fhir/StructureDefinition/";
/// `Identifier.system` of an HPR number.
const HPR_SYSTEM: &str = "urn:oid:2.16.578.1.12.4.1.4.4";
/// `Identifier.system` of a HER-id.
const HER_SYSTEM: &str = "urn:oid:2.16.578.1.12.4.1.2";

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
            "expected true, false or an object with own_health_information, blocked_modules, blocked_professionals; got {other}"
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
    Ok(KjRecord {
        own_health_information: fixture.own_health_information,
        blocked_modules,
        blocked_professionals: fixture.blocked_professionals,
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
    pub use_kind: Option<String>,
    /// What it is used for.
    #[serde(default)]
    pub application_area: Option<String>,
    /// When use started.
    pub started: String,
    /// The PLL entry id (a GUID): the entry is in the patient's PLL.
    #[serde(default)]
    pub pll_id: Option<String>,
    /// `active`, `stopped`, `entered-in-error`, `on-hold`, `completed`; `stopped` when
    /// `discontinued` is given, else `active`.
    #[serde(default)]
    pub status: Option<String>,
    /// When and why it was discontinued.
    #[serde(default)]
    pub discontinued: Option<DiscontinuedFixture>,
    /// `medication` (default), `vaccine` or `nib` (NIB/FIB).
    #[serde(default)]
    pub kind: Option<String>,
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
    pub status: String,
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
    pub category: Option<String>,
    /// `low`, `high` or `unable-to-assess`.
    pub criticality: String,
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
        codings.push(json!({"system": "http://ehelse.no/fhir/CodeSystem/FEST", "code": fest_id, "display": fixture.name}));
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
            {"url": "http://hl7.no/fhir/StructureDefinition/no-basis-prescriptiongroup", "extension": [
                {"url": "prescriptiongroup", "valueCodeableConcept": coding("urn:oid:2.16.578.1.12.4.1.1.7421", group, &format!("Reseptgruppe {group}"))}
            ]},
            {"url": format!("{PROFILE_BASE}sfm-medicationdetails"), "extension": [
                {"url": "registreringstype", "valueCodeableConcept": coding("http://ehelse.no/fhir/CodeSystem/sfm-festregistrationtype", "3", "Legemiddelpakning")},
                {"url": "packinginfoprescription", "extension": [{"url": "name", "valueString": fixture.name}]}
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

fn use_code(kind: Option<&str>) -> Result<(&'static str, &'static str), String> {
    match kind.unwrap_or("Fast") {
        "Fast" => Ok(("1", "Fast")),
        "Behov" => Ok(("2", "Behov")),
        "Kur" => Ok(("3", "Kur")),
        other => Err(format!("'{other}' is not Fast, Behov or Kur")),
    }
}

fn build_entry(
    fixture: &EntryFixture,
    subject: &Value,
    field: &str,
    now: DateTime<Utc>,
) -> Result<(Entry, Option<Prescription>), FieldError> {
    let started = when(&format!("{field}.started"), &fixture.started, now)?;
    let discontinued = fixture
        .discontinued
        .as_ref()
        .map(|d| when(&format!("{field}.discontinued.at"), &d.at, now).map(|at| (at, d)))
        .transpose()?;
    let status = match (&fixture.status, &discontinued) {
        (Some(status), _) => status.clone(),
        (None, Some(_)) => "stopped".to_owned(),
        (None, None) => "active".to_owned(),
    };
    if !matches!(
        status.as_str(),
        "active" | "stopped" | "entered-in-error" | "on-hold" | "completed" | "intended"
    ) {
        return Err(FieldError::new(
            format!("{field}.status"),
            format!("'{status}' is not a MedicationStatement status"),
        ));
    }
    let kind = fixture.kind.as_deref().unwrap_or("medication");
    let (item_group, item_group_name) = match kind {
        "medication" | "vaccine" => ("L", "Legemiddel"),
        "nib" => ("A", "Annet"),
        other => {
            return Err(FieldError::new(
                format!("{field}.kind"),
                format!("'{other}' is not medication, vaccine or nib"),
            ));
        }
    };
    if kind == "vaccine"
        && !fixture
            .medication
            .atc
            .as_deref()
            .is_some_and(|a| a.starts_with("J07"))
    {
        return Err(FieldError::new(
            format!("{field}.medication.atc"),
            "a vaccine needs its ATC code (J07...)",
        ));
    }
    let (use_code, use_name) = use_code(fixture.use_kind.as_deref())
        .map_err(|e| FieldError::new(format!("{field}.use"), e))?;
    let prescriber = fixture.prescriber.as_ref().map(party);

    let mut identifiers = Vec::new();
    if let Some(pll_id) = &fixture.pll_id {
        guid(&format!("{field}.pll_id"), pll_id)?;
        identifiers.push(
            json!({"use": "usual", "type": {"text": statement::PLL_ID_TYPE}, "value": pll_id}),
        );
    }
    let mut amendment = vec![];
    let mut prescription = None;
    if let Some(p) = &fixture.prescription {
        let pfield = format!("{field}.prescription");
        guid(&format!("{pfield}.id"), &p.id)?;
        identifiers.push(
            json!({"use": "usual", "type": {"text": statement::RESEPT_ID_TYPE}, "value": p.id}),
        );
        let rf_status = RfStatus::parse(&p.status).ok_or_else(|| {
            FieldError::new(
                format!("{pfield}.status"),
                format!(
                    "'{}' is not Ekspederbar, UnderEkspedering, Ekspedert or Tilbakekalt",
                    p.status
                ),
            )
        })?;
        let issued = when(&format!("{pfield}.issued"), &p.issued, now)?;
        let expires = when(&format!("{pfield}.expires"), &p.expires, now)?;
        amendment.push(json!({"url": "reseptdate", "valueDate": date(issued)}));
        amendment.push(json!({"url": "expirationdate", "valueDate": date(expires)}));
        amendment.push(json!({"url": "dssn", "valueString": fixture.dssn}));
        match (p.packages, &p.amount) {
            (Some(n), None) => {
                amendment.push(json!({"url": "numberofpackages", "valueDecimal": n}));
            }
            (None, Some(a)) => {
                amendment.push(
                    json!({"url": "amount", "valueQuantity": {"value": a.value, "unit": a.unit}}),
                );
            }
            _ => {
                return Err(FieldError::new(
                    pfield,
                    "a prescription has either packages or amount",
                ));
            }
        }
        amendment.push(json!({"url": "reit", "valueString": p.reit.to_string()}));
        amendment.push(json!({"url": "itemgroup", "valueCodeableConcept": coding(ITEM_GROUP_SYSTEM, item_group, item_group_name)}));
        amendment.push(json!({"url": "ereseptdosing", "extension": [{"url": "starttime", "valueDate": date(started)}]}));
        if rf_status == RfStatus::Tilbakekalt {
            let code = p.recall_code.as_deref().unwrap_or("2");
            amendment.push(json!({"url": "recallinfo", "extension": [
                {"url": "recallcode", "valueCodeableConcept": coding(RECALL_CODE_SYSTEM, code, recall_name(code))}
            ]}));
        }
        amendment.push(json!({"url": "lastchanged", "valueDateTime": date_time(issued)}));
        amendment.push(json!({"url": "typeresept", "valueCodeableConcept": coding("urn:oid:2.16.578.1.12.4.1.1.7491", "E", "Eresept")}));
        let mut dispenses = Vec::new();
        for (i, d) in p.dispenses.iter().enumerate() {
            dispenses.push(Dispense {
                id: uuid::Uuid::new_v4().to_string(),
                at: when(&format!("{pfield}.dispenses[{i}].at"), &d.at, now)?,
                quantity: d.quantity,
                pharmacy: party(&d.pharmacy),
            });
        }
        prescription = Some((rf_status, p, dispenses));
    } else {
        amendment.push(json!({"url": "dssn", "valueString": fixture.dssn}));
        amendment.push(json!({"url": "reit", "valueString": "0"}));
        amendment.push(json!({"url": "itemgroup", "valueCodeableConcept": coding(ITEM_GROUP_SYSTEM, item_group, item_group_name)}));
        amendment.push(json!({"url": "ereseptdosing", "extension": [{"url": "starttime", "valueDate": date(started)}]}));
        amendment.push(json!({"url": "lastchanged", "valueDateTime": date_time(started)}));
        amendment.push(json!({"url": "typeresept", "valueCodeableConcept": coding("urn:oid:2.16.578.1.12.4.1.1.7491", "U", "Uten resept")}));
    }
    if identifiers.is_empty() {
        return Err(FieldError::new(
            field,
            "a statement needs a pll_id (a PLL entry), a prescription, or both",
        ));
    }
    let id = fixture
        .pll_id
        .clone()
        .or_else(|| fixture.prescription.as_ref().map(|p| p.id.clone()))
        .unwrap_or_default();

    let reg_info = |role: &str, role_name: &str, at: DateTime<Utc>| {
        let mut parts = vec![
            json!({"url": "status", "valueCodeableConcept": coding("http://ehelse.no/fhir/CodeSystem/sfm-medicationstatement-registration-status", "3", "Godkjent")}),
            json!({"url": "type", "valueCodeableConcept": coding("http://ehelse.no/fhir/CodeSystem/sfm-performer-roles", role, role_name)}),
        ];
        if let Some(p) = &prescriber {
            parts.push(json!({"url": "provider", "valueReference": practitioner_reference(p)}));
        }
        parts.push(json!({"url": "timestamp", "valueDateTime": date_time(at)}));
        json!({"url": REG_INFO, "extension": parts})
    };
    let mut extensions = vec![json!({"url": RESEPTAMENDMENT, "extension": amendment})];
    if let Some((at, _)) = &discontinued {
        extensions.push(reg_info("3", "Seponert av", *at));
    }
    extensions.push(reg_info("1", "Forskrevet av", started));
    if let Some((at, d)) = &discontinued {
        let reason = d.reason.as_deref().unwrap_or("X");
        extensions.push(json!({"url": DISCONTINUATION, "extension": [
            {"url": "timedate", "valueDateTime": date_time(*at)},
            {"url": "reason", "valueCodeableConcept": coding("urn:oid:2.16.578.1.12.4.1.1.7494", reason, discontinuation_name(reason))}
        ]}));
    }
    extensions.push(json!({"url": format!("{PROFILE_BASE}sfm-generic-substitution"), "extension": [{"url": "genericSubstitutionAccepted", "valueBoolean": true}]}));

    let mut dosage = json!({
        "extension": [{"url": format!("{PROFILE_BASE}sfm-use"), "valueCodeableConcept": coding("urn:oid:2.16.578.1.12.4.1.1.9101", use_code, use_name)}],
        "sequence": 1,
        "text": fixture.dssn,
    });
    if let Some(area) = &fixture.application_area
        && let Some(e) = dosage["extension"].as_array_mut()
    {
        e.push(json!({"url": format!("{PROFILE_BASE}sfm-application-area"), "extension": [{"url": "text", "valueString": area}]}));
    }
    let medication_id = format!("med-{id}");
    let statement = json!({
        "resourceType": "MedicationStatement",
        "id": id,
        "meta": {"profile": [format!("{PROFILE_BASE}sfm-MedicationStatement")]},
        "extension": extensions,
        "identifier": identifiers,
        "status": status,
        "subject": subject,
        "medicationReference": {
            "reference": format!("Medication/{medication_id}"),
            "type": format!("{PROFILE_BASE}sfm-Medication"),
            "display": fixture.medication.name,
        },
        "dosage": [dosage],
    });
    let medication = build_medication(&fixture.medication, &medication_id);
    let entry = Entry::new(statement, medication);
    let prescription = prescription.map(|(status, p, dispenses)| Prescription {
        entry: entry.clone(),
        status,
        locked: p.locked,
        refnum: p.refnum.clone(),
        dispenser: p.dispenser.clone(),
        recall_pending: false,
        dispenses,
    });
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

fn discontinuation_name(code: &str) -> &'static str {
    match code {
        "A" => "Avsluttet behandling",
        _ => "Annen årsak",
    }
}

/// Builds one fixture patient; `known` holds the ReseptIds other patients already use.
pub fn build_patient(
    fixture: PatientFixture,
    store: &NationalStore,
    now: DateTime<Utc>,
) -> Result<NationalPatient, FieldError> {
    if fixture.patient.bytes().all(|b| b.is_ascii_digit()) {
        NationalId::parse(&fixture.patient)
            .map_err(|e| FieldError::new("patient", e.to_string()))?;
    } else if !fixture.patient.contains('|') {
        return Err(FieldError::new(
            "patient",
            format!(
                "'{}' is neither a fødselsnummer/D-nummer nor system|value of a patient without one",
                fixture.patient
            ),
        ));
    }
    let mut patient = NationalPatient::new(&fixture.patient, now);
    patient.description = fixture.description;
    patient.kjernejournal = fixture.kjernejournal.map(build_kjernejournal).transpose()?;
    let mut pll_entries = Vec::new();
    for (i, entry_fixture) in fixture.medications.iter().enumerate() {
        let field = format!("medications[{i}]");
        let subject = super::patient_reference(&fixture.patient);
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
            if patient.prescription(&id).is_some() || store.prescription_owner(&id).is_some() {
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
    match (fixture.pll, pll_entries.is_empty()) {
        (Some(pll), _) => {
            if let Some(id) = &pll.id {
                guid("pll.id", id)?;
            }
            patient.pll = Some(Pll {
                message_id: pll.id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                date: when("pll.date", &pll.date, now)?,
                author: pll.author.as_ref().map(party),
                entries: pll_entries,
            });
        }
        (None, true) => {}
        (None, false) => {
            return Err(FieldError::new(
                "pll",
                "statements with a pll_id need the patient's pll (its date and author)",
            ));
        }
    }
    for (i, a) in fixture.allergies.iter().enumerate() {
        let field = format!("allergies[{i}]");
        if !matches!(a.criticality.as_str(), "low" | "high" | "unable-to-assess") {
            return Err(FieldError::new(
                format!("{field}.criticality"),
                format!("'{}' is not low, high or unable-to-assess", a.criticality),
            ));
        }
        if let Some(category) = &a.category
            && !matches!(
                category.as_str(),
                "food" | "medication" | "environment" | "biologic"
            )
        {
            return Err(FieldError::new(
                format!("{field}.category"),
                format!("'{category}' is not food, medication, environment or biologic"),
            ));
        }
        patient.allergies.push(Allergy {
            id: match &a.id {
                Some(id) if crate::fhir_r4::is_fhir_id(id) => id.clone(),
                Some(id) => {
                    return Err(FieldError::new(
                        format!("{field}.id"),
                        format!("'{id}' is not a FHIR id"),
                    ));
                }
                None => uuid::Uuid::new_v4().to_string(),
            },
            substance: a.substance.clone(),
            atc: a.atc.clone(),
            category: a.category.clone(),
            criticality: a.criticality.clone(),
            reaction: a.reaction.clone(),
            recorded: when(&format!("{field}.recorded"), &a.recorded, now)?,
        });
    }
    if let Some(m) = fixture.multidose {
        if m.doctor.hpr.is_none() {
            return Err(FieldError::new(
                "multidose.doctor.hpr",
                "the multidose doctor needs an HPR number",
            ));
        }
        let mut messages = Vec::with_capacity(m.messages.len());
        for (i, message) in m.messages.iter().enumerate() {
            let field = format!("multidose.messages[{i}]");
            match (message.kind, message.deliveries.is_empty()) {
                (PharmacyMessageKind::Query, false) => {
                    return Err(FieldError::new(
                        format!("{field}.deliveries"),
                        "an M25.2 (the pharmacy's query) has no deliveries: only an M25.3 does",
                    ));
                }
                (PharmacyMessageKind::Dispensing, true) => {
                    return Err(FieldError::new(
                        format!("{field}.deliveries"),
                        "an M25.3 (the pharmacy's dispensing note) needs at least one delivery",
                    ));
                }
                _ => {}
            }
            let mut deliveries = Vec::with_capacity(message.deliveries.len());
            for (j, d) in message.deliveries.iter().enumerate() {
                let field = format!("{field}.deliveries[{j}]");
                if patient.prescription(&d.resept_id).is_none() {
                    return Err(FieldError::new(
                        format!("{field}.resept_id"),
                        format!("'{}' is not a prescription of this patient", d.resept_id),
                    ));
                }
                deliveries.push(Delivery {
                    resept_id: d.resept_id.clone(),
                    first_dose: when(&format!("{field}.first_dose"), &d.first_dose, now)?,
                    last_dose: when(&format!("{field}.last_dose"), &d.last_dose, now)?,
                });
            }
            messages.push(PharmacyMessage {
                id: message
                    .id
                    .clone()
                    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                kind: message.kind,
                date: when(&format!("{field}.date"), &message.date, now)?,
                deliveries,
            });
        }
        patient.multidose = Some(Multidose {
            doctor: party(&m.doctor),
            organization: party(&m.organization),
            pharmacy: party(&m.pharmacy),
            messages,
        });
    }
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
}
