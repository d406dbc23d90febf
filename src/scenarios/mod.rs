//! Scenarios: the national side moving and failing on demand. A scenario is a list of
//! [`Step`]s — an event on the national side (a pharmacy dispenses, another doctor withdraws a
//! prescription, kjernejournal gets new critical information), a failure (Reseptformidleren
//! down inside `$getMedication`, SFM answering 503) or a HelseID key rotation — applied through
//! `POST /_admin/scenarios`, or named presets from `fixtures/scenarios/*.json`
//! (`POST /_admin/scenarios/{name}`).
//!
//! Every step is checked before any is applied, so a preset with a bad step changes nothing.

pub mod events;
mod failures;
mod keys;
mod presets;
mod step;

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Value, json};

pub use presets::{Preset, PresetFile, parse_preset};
pub use step::Step;

use crate::clock::Clock;
use crate::faults::Faults;
use crate::national::NationalStore;
use crate::national::outages::Outages;
use crate::store::Shared;
use crate::{helseid, kjernejournal, sfm};

/// How many applied steps `GET /_admin/scenarios` remembers.
const KEPT_APPLIED: usize = 200;

/// What a step may change: every service's state, the national systems, the fault rules.
#[derive(Debug, Clone, Copy)]
pub struct Targets<'a> {
    /// Now, on helsesim's clock.
    pub now: DateTime<Utc>,
    /// The clock (for steps that last a while).
    pub clock: &'a Clock,
    /// The national systems behind SFM and kjernejournal.
    pub national: &'a Shared<NationalStore>,
    /// The national systems' active failures.
    pub outages: &'a Outages,
    /// The HTTP-level fault rules.
    pub faults: &'a Faults,
    /// HelseID.
    pub helseid: &'a helseid::State,
    /// SFM.
    pub sfm: &'a sfm::State,
    /// Kjernejournal.
    pub kjernejournal: &'a kjernejournal::State,
}

/// Why a step cannot be applied: the message names the step and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ScenarioError {
    /// What is wrong.
    pub message: String,
    /// Whether the step names something that does not exist (a patient, a prescription):
    /// `404` rather than `400`.
    pub not_found: bool,
}

impl ScenarioError {
    /// A step that is wrong in itself.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            not_found: false,
        }
    }

    /// A step naming something helsesim does not hold.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            not_found: true,
        }
    }

    fn at_step(self, index: usize, count: usize) -> Self {
        if count == 1 {
            return self;
        }
        Self {
            message: format!("step {}: {}", index + 1, self.message),
            ..self
        }
    }
}

/// One applied step, as `GET /_admin/scenarios` lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Applied {
    /// When (helsesim's clock).
    pub time: String,
    /// The preset it came from, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    /// The step.
    pub step: Step,
    /// What it did (ids of what it made, the new status, ...).
    pub result: Value,
}

/// The presets and what the scenarios did (also the fault rules they added, so clearing the
/// scenarios removes them).
#[derive(Debug, Default)]
pub struct Scenarios {
    presets: Mutex<Vec<Preset>>,
    log: Mutex<Log>,
}

#[derive(Debug, Default)]
struct Log {
    applied: VecDeque<Applied>,
    fault_ids: Vec<String>,
}

impl Scenarios {
    /// The scenarios with `presets`.
    pub fn new(presets: Vec<Preset>) -> Self {
        Self {
            presets: Mutex::new(presets),
            log: Mutex::default(),
        }
    }

    /// The presets.
    pub fn presets(&self) -> Vec<Preset> {
        self.presets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A preset by name.
    pub fn preset(&self, name: &str) -> Option<Preset> {
        self.presets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|p| p.name == name)
            .cloned()
    }

    /// Checks every step, then applies them in order; what each did.
    pub fn run(
        &self,
        steps: &[Step],
        preset: Option<&str>,
        targets: &Targets<'_>,
    ) -> Result<Vec<Applied>, ScenarioError> {
        for (index, step) in steps.iter().enumerate() {
            step.check(targets)
                .map_err(|e| e.at_step(index, steps.len()))?;
        }
        let mut applied = Vec::with_capacity(steps.len());
        for (index, step) in steps.iter().enumerate() {
            let effect = step
                .apply(targets)
                .map_err(|e| e.at_step(index, steps.len()))?;
            let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
            log.fault_ids.extend(effect.fault_ids);
            let entry = Applied {
                time: targets.now.to_rfc3339_opts(SecondsFormat::Secs, true),
                preset: preset.map(str::to_owned),
                step: step.clone(),
                result: effect.result,
            };
            if log.applied.len() == KEPT_APPLIED {
                log.applied.pop_front();
            }
            log.applied.push_back(entry.clone());
            applied.push(entry);
        }
        Ok(applied)
    }

    /// What the scenarios did, newest first, and the failures still active.
    pub fn overview(&self, targets: &Targets<'_>) -> Value {
        let log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        let faults: Vec<_> = targets
            .faults
            .list()
            .into_iter()
            .filter(|f| log.fault_ids.contains(&f.id))
            .collect();
        json!({
            "presets": self.presets(),
            "active": {
                "faults": faults,
                "failures": targets.outages.active(targets.now),
                "helseid_keys": keys::overview(targets),
            },
            "applied": log.applied.iter().rev().collect::<Vec<_>>(),
        })
    }

    /// Ends every failure the scenarios started (the events stay: they changed the national
    /// systems, as `POST /_admin/reset` undoes).
    pub fn clear_failures(&self, targets: &Targets<'_>) {
        let ids = std::mem::take(
            &mut self
                .log
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .fault_ids,
        );
        for id in ids {
            targets.faults.remove(&id);
        }
        failures::clear(targets);
        keys::clear(targets);
    }

    /// Back to nothing applied, with the presets of the fixtures (reset).
    pub fn reset(&self, presets: Vec<Preset>, targets: &Targets<'_>) {
        self.clear_failures(targets);
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .applied
            .clear();
        *self.presets.lock().unwrap_or_else(PoisonError::into_inner) = presets;
    }
}

/// What applying a step did.
#[derive(Debug, Default)]
pub struct Effect {
    /// The answer's description of it.
    pub result: Value,
    /// Fault rules it added (removed when the scenarios are cleared).
    pub fault_ids: Vec<String>,
}
