//! The steps a scenario is made of, as `POST /_admin/scenarios` and preset files take them:
//! JSON objects told apart by `kind`.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Effect, ScenarioError, Targets};
use crate::faults::FaultRequest;

/// One step of a scenario.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    /// Any HTTP-level fault rule (as `POST /_admin/faults` takes it), removed again when the
    /// scenarios are cleared.
    HttpFault(FaultRequest),
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
        }
    }
}
