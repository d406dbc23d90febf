//! The HelseID key steps: a signing-key rotation (a phase at a time, or all three with
//! intervals), a rotation schedule, and DPoP nonces going stale.

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Effect, ScenarioError, Targets};
use crate::keys::rotation::Phase;

/// What a `helseid_key_rotation` step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RotationPhase {
    /// Publish a new key in the JWKS (it does not sign yet).
    Publish,
    /// Sign with the new key (published first if there is none); the old one stays published.
    Switch,
    /// Remove the keys that no longer sign from the JWKS: their tokens fail verification.
    Retire,
    /// All three: publish now, switch after `switch_after_seconds`, retire
    /// `retire_after_seconds` after the switch.
    All,
}

/// `helseid_key_rotation`.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyRotation {
    /// The phase.
    pub phase: RotationPhase,
    /// With `all`: seconds (helsesim's clock) from publishing to switching (0 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_after_seconds: Option<u32>,
    /// With `all`: seconds from switching to retiring (0 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retire_after_seconds: Option<u32>,
}

fn rotation_failed(e: impl std::fmt::Display) -> ScenarioError {
    ScenarioError::invalid(format!("cannot make a new signing key: {e}"))
}

impl KeyRotation {
    /// Checks the step.
    pub fn check(&self) -> Result<(), ScenarioError> {
        let intervals = self.switch_after_seconds.is_some() || self.retire_after_seconds.is_some();
        if intervals && self.phase != RotationPhase::All {
            return Err(ScenarioError::invalid(
                "switch_after_seconds and retire_after_seconds go with phase \"all\" only",
            ));
        }
        Ok(())
    }

    /// Runs the phase (or plans the phases).
    pub fn apply(&self, targets: &Targets<'_>) -> Result<Effect, ScenarioError> {
        let keys = &targets.helseid.keys.signing;
        // Run anything planned that is due first, so phases happen in order.
        keys.current(targets.now);
        let phase = match self.phase {
            RotationPhase::Publish => Phase::Publish,
            RotationPhase::Switch => Phase::Switch,
            RotationPhase::Retire => Phase::Retire,
            RotationPhase::All => return self.all(targets),
        };
        let set = keys.apply(phase).map_err(rotation_failed)?;
        Ok(Effect {
            result: json!({ "keys": set.describe() }),
            fault_ids: Vec::new(),
        })
    }

    fn all(&self, targets: &Targets<'_>) -> Result<Effect, ScenarioError> {
        let keys = &targets.helseid.keys.signing;
        let switch_after = TimeDelta::seconds(self.switch_after_seconds.unwrap_or(0).into());
        let retire_after = TimeDelta::seconds(self.retire_after_seconds.unwrap_or(0).into());
        let switch_at = crate::clock::after(targets.now, switch_after);
        let retire_at = crate::clock::after(switch_at, retire_after);
        keys.apply(Phase::Publish).map_err(rotation_failed)?;
        keys.plan(&[(switch_at, Phase::Switch), (retire_at, Phase::Retire)]);
        let set = keys.current(targets.now);
        Ok(Effect {
            result: json!({ "keys": set.describe(), "planned": keys.planned() }),
            fault_ids: Vec::new(),
        })
    }
}

/// `helseid_key_schedule`: a rotation every `every_seconds` of helsesim's clock (the keys the
/// last rotation replaced are retired, a new key signs, the one it replaces stays published
/// until the next rotation). `DELETE /_admin/scenarios` ends it.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeySchedule {
    /// The interval.
    #[schema(minimum = 1)]
    pub every_seconds: u32,
}

impl KeySchedule {
    /// Checks the step.
    pub fn check(&self) -> Result<(), ScenarioError> {
        if self.every_seconds == 0 {
            return Err(ScenarioError::invalid("every_seconds must be at least 1"));
        }
        Ok(())
    }

    /// Starts the schedule.
    pub fn apply(&self, targets: &Targets<'_>) -> Result<Effect, ScenarioError> {
        let keys = &targets.helseid.keys.signing;
        keys.schedule(TimeDelta::seconds(self.every_seconds.into()), targets.now);
        Ok(Effect {
            result: json!({ "keys": keys.current(targets.now).describe(),
                            "planned": keys.planned() }),
            fault_ids: Vec::new(),
        })
    }
}

/// `dpop_nonce_rotation`: every DPoP nonce HelseID issued so far is stale.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NonceRotation {}

impl NonceRotation {
    /// Rotates the nonces.
    pub fn apply(&self, targets: &Targets<'_>) -> Result<Effect, ScenarioError> {
        targets.helseid.nonces.rotate();
        Ok(Effect {
            result: json!({ "rotated": true }),
            fault_ids: Vec::new(),
        })
    }
}

/// Ends the planned phases and the schedule (the keys stay as they are: rotation is not rolled
/// back, as a real one would not be).
pub fn clear(targets: &Targets<'_>) {
    targets.helseid.keys.signing.stop();
}

/// HelseID's keys and what is planned for them, for `GET /_admin/scenarios`.
pub fn overview(targets: &Targets<'_>) -> serde_json::Value {
    let keys = &targets.helseid.keys.signing;
    json!({ "keys": keys.current(targets.now).describe(), "planned": keys.planned() })
}
