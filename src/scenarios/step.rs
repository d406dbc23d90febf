//! The steps a scenario is made of, as `POST /_admin/scenarios` and preset files take them:
//! JSON objects told apart by `kind`.

use serde::{Deserialize, Serialize};

use super::events::{
    BlockProfessional, CancelDispense, CompleteDispense, CriticalInfo, DispenseNow, Event,
    NewNationalId, PatientDies, RenewPrescription, RestrictModule, StartDispense, UpdatePll,
    WithdrawPrescription,
};
use super::{Effect, ScenarioError, Targets, failures, keys};
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
    // Failures and HelseID keys
    /// Reseptformidleren answers an error to `$getMedication`'s lookup(s).
    RfUnavailable(failures::RfUnavailable),
    /// Kjernejournal does not answer `$getMedication`'s lookup.
    KjLookupFailure(failures::KjLookupFailure),
    /// A kind of message of `$sendMedication` is not sent.
    SendFailure(failures::SendFailure),
    /// Kjernejournal's own APIs answer 503 (or 500).
    KjernejournalUnavailable(failures::KjernejournalUnavailable),
    /// SFM answers 503 with `Retry-After`.
    SfmUnavailable(failures::SfmUnavailable),
    /// HelseID answers slowly.
    HelseidSlow(failures::HelseidSlow),
    /// HelseID's token endpoint answers an OAuth error.
    HelseidRefusing(failures::HelseidRefusing),
    /// A phase of a HelseID signing-key rotation, or all three.
    HelseidKeyRotation(keys::KeyRotation),
    /// HelseID rotates its signing key every N seconds.
    HelseidKeySchedule(keys::KeySchedule),
    /// HelseID's DPoP nonces go stale.
    DpopNonceRotation(keys::NonceRotation),
}

impl Step {
    /// Checks the step against the current state, changing nothing.
    pub fn check(&self, targets: &Targets<'_>) -> Result<(), ScenarioError> {
        match self {
            // Failures and keys depend on no state.
            Step::HttpFault(_)
            | Step::RfUnavailable(_)
            | Step::KjLookupFailure(_)
            | Step::SendFailure(_)
            | Step::KjernejournalUnavailable(_)
            | Step::SfmUnavailable(_)
            | Step::HelseidSlow(_)
            | Step::HelseidRefusing(_)
            | Step::HelseidKeyRotation(_)
            | Step::HelseidKeySchedule(_)
            | Step::DpopNonceRotation(_) => self.check_alone(),
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
            // Failures and HelseID keys
            Step::RfUnavailable(s) => s.check(),
            Step::KjLookupFailure(s) => s.check(),
            Step::SendFailure(s) => s.check(),
            Step::KjernejournalUnavailable(s) => s.check(),
            Step::SfmUnavailable(s) => s.check(),
            Step::HelseidSlow(s) => s.check(),
            Step::HelseidRefusing(s) => s.check(),
            Step::HelseidKeyRotation(s) => s.check(),
            Step::HelseidKeySchedule(s) => s.check(),
            Step::DpopNonceRotation(_) => Ok(()),
        }
    }

    /// Applies the step.
    pub fn apply(&self, targets: &Targets<'_>) -> Result<Effect, ScenarioError> {
        match self {
            Step::HttpFault(rule) => failures::http_fault(targets, rule.clone()),
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
            // Failures and HelseID keys
            Step::RfUnavailable(s) => s.apply(targets),
            Step::KjLookupFailure(s) => s.apply(targets),
            Step::SendFailure(s) => s.apply(targets),
            Step::KjernejournalUnavailable(s) => s.apply(targets),
            Step::SfmUnavailable(s) => s.apply(targets),
            Step::HelseidSlow(s) => s.apply(targets),
            Step::HelseidRefusing(s) => s.apply(targets),
            Step::HelseidKeyRotation(s) => s.apply(targets),
            Step::HelseidKeySchedule(s) => s.apply(targets),
            Step::DpopNonceRotation(s) => s.apply(targets),
        }
    }
}
