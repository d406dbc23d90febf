//! The steps a scenario is made of, as `POST /_admin/scenarios` and preset files take them:
//! JSON objects told apart by `kind`.

use serde::{Deserialize, Serialize};

use super::{Effect, ScenarioError, Targets, failures, keys};
use crate::faults::FaultRequest;

/// One step of a scenario.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    /// Any HTTP-level fault rule (as `POST /_admin/faults` takes it), removed again when the
    /// scenarios are cleared.
    HttpFault(FaultRequest),
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
    pub fn check(&self, _targets: &Targets<'_>) -> Result<(), ScenarioError> {
        self.check_alone()
    }

    /// Checks what can be checked without any state (preset files at load).
    pub fn check_alone(&self) -> Result<(), ScenarioError> {
        match self {
            Step::HttpFault(rule) => rule.validate().map(drop).map_err(ScenarioError::invalid),
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
