//! The steps a scenario is made of, as `POST /_admin/scenarios` and preset files take them:
//! JSON objects told apart by `kind`.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::events::{
    BlockProfessional, CancelDispense, CompleteDispense, CriticalInfo, DispenseNow, Event,
    NewNationalId, PatientDies, RenewPrescription, RestrictModule, StartDispense, UpdatePll,
    WithdrawPrescription,
};
use super::{Effect, ScenarioError, Targets};
use crate::faults::FaultRequest;

/// One step of a scenario.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    /// Any HTTP-level fault rule (as `POST /_admin/faults` takes it), removed again when the
    /// scenarios are cleared.
    HttpFault(FaultRequest),
    // National-side events
    /// A pharmacy starts dispensing a prescription (E → U).
    StartDispense(StartDispense),
    /// The pharmacy hands it over (M10): E again, or R when `concluded`.
    CompleteDispense(CompleteDispense),
    /// The pharmacy cancels its dispense (U → E).
    CancelDispense(CancelDispense),
    /// A pharmacy starts and completes a dispense.
    Dispense(DispenseNow),
    /// Another doctor withdraws a prescription (M5).
    WithdrawPrescription(WithdrawPrescription),
    /// Another doctor renews a prescription.
    RenewPrescription(RenewPrescription),
    /// A new PLL (M25.1) from the multidose doctor or another.
    UpdatePll(UpdatePll),
    /// New or changed critical information in kjernejournal.
    CriticalInfo(CriticalInfo),
    /// The patient blocks a health professional.
    BlockProfessional(BlockProfessional),
    /// The patient restricts a kjernejournal module.
    RestrictModule(RestrictModule),
    /// The patient dies.
    PatientDies(PatientDies),
    /// The patient gets a new fødselsnummer.
    NewNationalId(NewNationalId),
}

impl Step {
    /// Checks the step against the current state, changing nothing.
    pub fn check(&self, targets: &Targets<'_>) -> Result<(), ScenarioError> {
        match self {
            Step::HttpFault(_) => self.check_alone(),
            // National-side events
            Step::StartDispense(s) => s.check(targets),
            Step::CompleteDispense(s) => s.check(targets),
            Step::CancelDispense(s) => s.check(targets),
            Step::Dispense(s) => s.check(targets),
            Step::WithdrawPrescription(s) => s.check(targets),
            Step::RenewPrescription(s) => s.check(targets),
            Step::UpdatePll(s) => s.check(targets),
            Step::CriticalInfo(s) => s.check(targets),
            Step::BlockProfessional(s) => s.check(targets),
            Step::RestrictModule(s) => s.check(targets),
            Step::PatientDies(s) => s.check(targets),
            Step::NewNationalId(s) => s.check(targets),
        }
    }

    /// Checks what can be checked without any state (preset files at load).
    pub fn check_alone(&self) -> Result<(), ScenarioError> {
        match self {
            Step::HttpFault(rule) => rule.validate().map(drop).map_err(ScenarioError::invalid),
            // National-side events
            Step::StartDispense(s) => s.check_alone(),
            Step::CompleteDispense(s) => s.check_alone(),
            Step::CancelDispense(s) => s.check_alone(),
            Step::Dispense(s) => s.check_alone(),
            Step::WithdrawPrescription(s) => s.check_alone(),
            Step::RenewPrescription(s) => s.check_alone(),
            Step::UpdatePll(s) => s.check_alone(),
            Step::CriticalInfo(s) => s.check_alone(),
            Step::BlockProfessional(s) => s.check_alone(),
            Step::RestrictModule(s) => s.check_alone(),
            Step::PatientDies(s) => s.check_alone(),
            Step::NewNationalId(s) => s.check_alone(),
        }
    }

    /// Applies the step.
    pub fn apply(&self, targets: &Targets<'_>) -> Result<Effect, ScenarioError> {
        match self {
            Step::HttpFault(rule) => {
                let stored = targets
                    .faults
                    .add(rule.clone())
                    .map_err(ScenarioError::invalid)?;
                Ok(Effect {
                    result: json!({ "fault": stored }),
                    fault_ids: vec![stored.id],
                })
            }
            // National-side events
            Step::StartDispense(s) => s.apply(targets),
            Step::CompleteDispense(s) => s.apply(targets),
            Step::CancelDispense(s) => s.apply(targets),
            Step::Dispense(s) => s.apply(targets),
            Step::WithdrawPrescription(s) => s.apply(targets),
            Step::RenewPrescription(s) => s.apply(targets),
            Step::UpdatePll(s) => s.apply(targets),
            Step::CriticalInfo(s) => s.apply(targets),
            Step::BlockProfessional(s) => s.apply(targets),
            Step::RestrictModule(s) => s.apply(targets),
            Step::PatientDies(s) => s.apply(targets),
            Step::NewNationalId(s) => s.apply(targets),
        }
    }
}
