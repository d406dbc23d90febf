//! National-side events as scenario steps: a pharmacy dispenses, another doctor withdraws or
//! renews a prescription, the multidose doctor updates the PLL, kjernejournal gets critical
//! information, the patient blocks a professional, restricts a module, dies or gets a new
//! fødselsnummer. The rules are [`crate::national::events`]'; a step here is their JSON and
//! applies one to a copy of the patient, stored only when the rule allows it.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Effect, ScenarioError, Targets};
use crate::ids::NationalId;
use crate::national::events::{self, Outcome, RECALL_CODES, Refusal};
use crate::national::{Allergy, Dispense as M10, KjModule, NationalPatient, Party};

fn refused(refusal: Refusal) -> ScenarioError {
    match refusal {
        Refusal::NotFound(message) => ScenarioError::not_found(message),
        Refusal::Invalid(message) => ScenarioError::invalid(message),
    }
}

fn unknown_patient(key: &str) -> ScenarioError {
    ScenarioError::not_found(format!(
        "The national systems hold no patient '{key}' (see fixtures/sfm/national.json)"
    ))
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `days` days before `now` (now when out of range).
fn days_before(now: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    TimeDelta::try_days(i64::from(days))
        .and_then(|d| now.checked_sub_signed(d))
        .unwrap_or(now)
}

/// An event on one patient's national data.
pub trait PatientEvent {
    /// The patient key (fødselsnummer, D-nummer or `system|value`).
    fn patient(&self) -> &str;

    /// What can be checked without any state.
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }

    /// The rule: changes the patient, or refuses.
    fn change(&self, patient: &mut NationalPatient, now: DateTime<Utc>) -> Outcome;
}

/// A step's check and application.
pub trait Event {
    /// Checks what can be checked without any state.
    fn check_alone(&self) -> Result<(), ScenarioError>;
    /// Checks the step against the current state, changing nothing.
    fn check(&self, targets: &Targets<'_>) -> Result<(), ScenarioError>;
    /// Applies it: all or nothing.
    fn apply(&self, targets: &Targets<'_>) -> Result<Effect, ScenarioError>;
}

impl<T: PatientEvent> Event for T {
    fn check_alone(&self) -> Result<(), ScenarioError> {
        self.validate().map_err(ScenarioError::invalid)
    }

    fn check(&self, targets: &Targets<'_>) -> Result<(), ScenarioError> {
        self.check_alone()?;
        let store = targets.national.read();
        let mut copy = store
            .patient(self.patient())
            .ok_or_else(|| unknown_patient(self.patient()))?
            .clone();
        self.change(&mut copy, targets.now)
            .map(drop)
            .map_err(refused)
    }

    fn apply(&self, targets: &Targets<'_>) -> Result<Effect, ScenarioError> {
        self.check_alone()?;
        let mut store = targets.national.write();
        let stored = store
            .existing_mut(self.patient())
            .ok_or_else(|| unknown_patient(self.patient()))?;
        let mut copy = stored.clone();
        let result = self.change(&mut copy, targets.now).map_err(refused)?;
        *stored = copy;
        Ok(effect(self.patient(), result))
    }
}

fn effect(patient: &str, result: Value) -> Effect {
    let mut out = json!({"patient": patient});
    if let (Some(out), Value::Object(fields)) = (out.as_object_mut(), result) {
        out.extend(fields);
    }
    Effect {
        result: out,
        fault_ids: Vec::new(),
    }
}

/// A pharmacy: its name (`nameDispenser`) and HER-id.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Pharmacy {
    /// The pharmacy's name, e.g. "Apotek 1 Storgata".
    pub name: String,
    /// Its HER-id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub her: Option<String>,
}

impl Pharmacy {
    fn party(&self) -> Party {
        Party {
            name: self.name.clone(),
            id: self.her.clone(),
        }
    }
}

fn not_blank(field: &str, value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err(format!("{field} must not be empty"));
    }
    Ok(())
}

/// `start_dispense`: a pharmacy starts dispensing a prescription (E → U).
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartDispense {
    /// The patient key.
    pub patient: String,
    /// The prescription's ReseptId.
    pub resept_id: String,
    /// The pharmacy.
    pub pharmacy: Pharmacy,
}

impl PatientEvent for StartDispense {
    fn patient(&self) -> &str {
        &self.patient
    }

    fn validate(&self) -> Result<(), String> {
        not_blank("pharmacy.name", &self.pharmacy.name)
    }

    fn change(&self, patient: &mut NationalPatient, now: DateTime<Utc>) -> Outcome {
        events::start_dispense(patient, &self.resept_id, &self.pharmacy.name, now)
    }
}

/// `complete_dispense`: the pharmacy dispensing a prescription hands it over (M10).
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteDispense {
    /// The patient key.
    pub patient: String,
    /// The prescription's ReseptId.
    pub resept_id: String,
    /// The pharmacy (the one dispensing it).
    pub pharmacy: Pharmacy,
    /// How many packages were handed over.
    pub packages: f64,
    /// The prescription is used up (Avsluttet = Ja: R Resept avsluttet); else E again.
    #[serde(default)]
    pub concluded: bool,
    /// The M10 id (a new GUID when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub m10_id: Option<String>,
    /// Handed over this many days ago (0, today, when absent).
    #[serde(default)]
    pub days_ago: u32,
}

impl CompleteDispense {
    fn m10(&self, now: DateTime<Utc>) -> M10 {
        M10 {
            id: self.m10_id.clone().unwrap_or_else(new_id),
            at: days_before(now, self.days_ago),
            quantity: self.packages,
            pharmacy: self.pharmacy.party(),
        }
    }

    fn check_fields(&self) -> Result<(), String> {
        not_blank("pharmacy.name", &self.pharmacy.name)?;
        if !(self.packages > 0.0 && self.packages.is_finite()) {
            return Err(format!(
                "packages must be a positive number, got {}",
                self.packages
            ));
        }
        if let Some(id) = &self.m10_id {
            not_blank("m10_id", id)?;
        }
        Ok(())
    }
}

impl PatientEvent for CompleteDispense {
    fn patient(&self) -> &str {
        &self.patient
    }

    fn validate(&self) -> Result<(), String> {
        self.check_fields()
    }

    fn change(&self, patient: &mut NationalPatient, now: DateTime<Utc>) -> Outcome {
        events::complete_dispense(patient, &self.resept_id, self.m10(now), self.concluded, now)
    }
}

/// `dispense`: a pharmacy starts and completes a dispense in one go (what presets use).
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct DispenseNow(pub CompleteDispense);

impl PatientEvent for DispenseNow {
    fn patient(&self) -> &str {
        &self.0.patient
    }

    fn validate(&self) -> Result<(), String> {
        self.0.check_fields()
    }

    fn change(&self, patient: &mut NationalPatient, now: DateTime<Utc>) -> Outcome {
        let d = &self.0;
        events::dispense(patient, &d.resept_id, d.m10(now), d.concluded, now)
    }
}

/// `cancel_dispense`: the pharmacy cancels its dispense (U → E, nothing recorded).
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelDispense {
    /// The patient key.
    pub patient: String,
    /// The prescription's ReseptId.
    pub resept_id: String,
    /// The pharmacy; when given, it must be the one dispensing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pharmacy: Option<Pharmacy>,
}

impl PatientEvent for CancelDispense {
    fn patient(&self) -> &str {
        &self.patient
    }

    fn change(&self, patient: &mut NationalPatient, now: DateTime<Utc>) -> Outcome {
        let pharmacy = self.pharmacy.as_ref().map(|p| p.name.as_str());
        events::cancel_dispense(patient, &self.resept_id, pharmacy, now)
    }
}

fn seponering() -> String {
    "2".to_owned()
}

/// `withdraw_prescription`: another doctor withdraws a prescription (M5).
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawPrescription {
    /// The patient key.
    pub patient: String,
    /// The prescription's ReseptId.
    pub resept_id: String,
    /// Volven 7500: 1 Fornying, 2 Seponering (the default), 3 Fornying med endring, 4 Annet.
    #[serde(default = "seponering")]
    pub recall_code: String,
}

impl PatientEvent for WithdrawPrescription {
    fn patient(&self) -> &str {
        &self.patient
    }

    fn validate(&self) -> Result<(), String> {
        if RECALL_CODES.contains(&self.recall_code.as_str()) {
            return Ok(());
        }
        Err(format!(
            "recall_code '{}' is not a Volven 7500 code: 1, 2, 3 or 4",
            self.recall_code
        ))
    }

    fn change(&self, patient: &mut NationalPatient, now: DateTime<Utc>) -> Outcome {
        events::withdraw(patient, &self.resept_id, &self.recall_code, now)
    }
}

/// `renew_prescription`: another doctor renews a prescription (old T Fornying, new E).
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenewPrescription {
    /// The patient key.
    pub patient: String,
    /// The prescription's ReseptId.
    pub resept_id: String,
    /// The new prescription's ReseptId (a new GUID when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_resept_id: Option<String>,
}

impl PatientEvent for RenewPrescription {
    fn patient(&self) -> &str {
        &self.patient
    }

    fn validate(&self) -> Result<(), String> {
        match &self.new_resept_id {
            Some(id) if uuid::Uuid::parse_str(id).is_err() => {
                Err(format!("new_resept_id '{id}' is not a GUID"))
            }
            _ => Ok(()),
        }
    }

    fn change(&self, patient: &mut NationalPatient, now: DateTime<Utc>) -> Outcome {
        let id = self.new_resept_id.clone().unwrap_or_else(new_id);
        if patient.prescription(&id).is_some() {
            return Err(Refusal::Invalid(format!(
                "ReseptId {id} is taken: give another new_resept_id"
            )));
        }
        events::renew(patient, &self.resept_id, &id, now)
    }
}

/// A health professional: name and HPR number.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Professional {
    /// The name.
    pub name: String,
    /// The HPR number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hpr: Option<String>,
}

/// `update_pll`: the multidose doctor (or another) sends a new PLL (M25.1).
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePll {
    /// The patient key.
    pub patient: String,
    /// Entries left out of the new PLL, by PLL id or ReseptId.
    #[serde(default)]
    pub remove: Vec<String>,
    /// Who made it (the multidose doctor, else the PLL's author, when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<Professional>,
}

impl PatientEvent for UpdatePll {
    fn patient(&self) -> &str {
        &self.patient
    }

    fn change(&self, patient: &mut NationalPatient, now: DateTime<Utc>) -> Outcome {
        let author = self.author.as_ref().map(|a| Party {
            name: a.name.clone(),
            id: a.hpr.clone(),
        });
        events::update_pll(patient, &self.remove, author, &new_id(), now)
    }
}

fn high() -> String {
    "high".to_owned()
}

/// `critical_info`: kjernejournal gets critical information (an allergy or intolerance), added,
/// or changed when `id` names one the patient has.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CriticalInfo {
    /// The patient key.
    pub patient: String,
    /// The allergy's id: an existing one is changed; a new GUID when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// What the patient reacts to.
    pub substance: String,
    /// The substance's ATC code, if a medicinal product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub atc: Option<String>,
    /// `food`, `medication`, `environment` or `biologic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// `low`, `high` (the default) or `unable-to-assess`.
    #[serde(default = "high")]
    pub criticality: String,
    /// The reaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reaction: Option<String>,
}

impl PatientEvent for CriticalInfo {
    fn patient(&self) -> &str {
        &self.patient
    }

    fn validate(&self) -> Result<(), String> {
        not_blank("substance", &self.substance)?;
        if !["low", "high", "unable-to-assess"].contains(&self.criticality.as_str()) {
            return Err(format!(
                "criticality '{}' is not low, high or unable-to-assess",
                self.criticality
            ));
        }
        match self.category.as_deref() {
            None | Some("food" | "medication" | "environment" | "biologic") => Ok(()),
            Some(other) => Err(format!(
                "category '{other}' is not food, medication, environment or biologic"
            )),
        }
    }

    fn change(&self, patient: &mut NationalPatient, now: DateTime<Utc>) -> Outcome {
        let allergy = Allergy {
            id: self.id.clone().unwrap_or_else(new_id),
            substance: self.substance.clone(),
            atc: self.atc.clone(),
            category: self.category.clone(),
            criticality: self.criticality.clone(),
            reaction: self.reaction.clone(),
            recorded: now,
        };
        events::critical_info(patient, allergy, now)
    }
}

/// `block_professional`: the patient blocks a health professional in kjernejournal.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockProfessional {
    /// The patient key.
    pub patient: String,
    /// The professional's HPR number.
    pub hpr: String,
}

impl PatientEvent for BlockProfessional {
    fn patient(&self) -> &str {
        &self.patient
    }

    fn validate(&self) -> Result<(), String> {
        let digits = self.hpr.bytes().all(|b| b.is_ascii_digit());
        if digits && (1..=9).contains(&self.hpr.len()) {
            return Ok(());
        }
        Err(format!(
            "hpr '{}' is not an HPR number (1–9 digits)",
            self.hpr
        ))
    }

    fn change(&self, patient: &mut NationalPatient, now: DateTime<Utc>) -> Outcome {
        events::block_professional(patient, &self.hpr, now)
    }
}

/// `restrict_module`: the patient restricts (sperrer) a kjernejournal module.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestrictModule {
    /// The patient key.
    pub patient: String,
    /// `KRITISKINFO` or `LEGEMIDLER`.
    pub module: String,
}

impl RestrictModule {
    fn module(&self) -> Result<KjModule, String> {
        KjModule::parse(&self.module).ok_or_else(|| {
            format!(
                "module '{}' is not a kjernejournal module: KRITISKINFO or LEGEMIDLER",
                self.module
            )
        })
    }
}

impl PatientEvent for RestrictModule {
    fn patient(&self) -> &str {
        &self.patient
    }

    fn validate(&self) -> Result<(), String> {
        self.module().map(drop)
    }

    fn change(&self, patient: &mut NationalPatient, now: DateTime<Utc>) -> Outcome {
        let module = self.module().map_err(Refusal::Invalid)?;
        events::restrict_module(patient, module, now)
    }
}

/// `patient_dies`: Folkeregisteret registers the patient's death.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatientDies {
    /// The patient key.
    pub patient: String,
    /// Died this many days ago (0, today, when absent).
    #[serde(default)]
    pub days_ago: u32,
}

impl PatientEvent for PatientDies {
    fn patient(&self) -> &str {
        &self.patient
    }

    fn change(&self, patient: &mut NationalPatient, now: DateTime<Utc>) -> Outcome {
        events::dies(patient, days_before(now, self.days_ago), now)
    }
}

/// `new_national_id`: the patient gets a new fødselsnummer; the national data moves to it.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNationalId {
    /// The patient's current key.
    pub patient: String,
    /// The new fødselsnummer or D-nummer.
    pub new_patient: String,
}

impl Event for NewNationalId {
    fn check_alone(&self) -> Result<(), ScenarioError> {
        NationalId::parse(&self.new_patient).map(drop).map_err(|e| {
            ScenarioError::invalid(format!(
                "new_patient '{}' is not a fødselsnummer or D-nummer: {e}",
                self.new_patient
            ))
        })
    }

    fn check(&self, targets: &Targets<'_>) -> Result<(), ScenarioError> {
        self.check_alone()?;
        let mut copy = targets.national.read().clone();
        events::new_national_id(&mut copy, &self.patient, &self.new_patient, targets.now)
            .map(drop)
            .map_err(refused)
    }

    fn apply(&self, targets: &Targets<'_>) -> Result<Effect, ScenarioError> {
        self.check_alone()?;
        let mut store = targets.national.write();
        let result =
            events::new_national_id(&mut store, &self.patient, &self.new_patient, targets.now)
                .map_err(refused)?;
        Ok(effect(&self.new_patient, result))
    }
}
