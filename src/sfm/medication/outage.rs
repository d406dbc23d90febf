//! The national systems failing inside SFM's operations (scenario steps, see
//! [`crate::national::outages`]): which of `$getMedication`'s lookups got no answer, what the
//! answer then shows, and the result codes of messages `$sendMedication` did not send.

use serde_json::{Value, json};

use super::RESULT_CODE_SYSTEM;
use crate::national::NationalStore;
use crate::national::outages::{FailureAnswer, FailurePoint, Outages};
use crate::national::render::ViewEntry;

/// The national systems as a lookup or send meets them: their data and their active failures.
#[derive(Debug, Clone, Copy)]
pub struct NationalSystems<'a> {
    /// The data.
    pub store: &'a NationalStore,
    /// The active failures.
    pub outages: &'a Outages,
}

/// Which lookups of one `$getMedication` failed, and how.
#[derive(Debug, Clone, Default)]
pub struct LookupFailures {
    /// Reseptformidleren's prescription lookup (`RFM96Feilkode`).
    pub rf_prescriptions: Option<FailureAnswer>,
    /// Reseptformidleren's PLL lookup (`RFM912Feilkode`).
    pub rf_pll: Option<FailureAnswer>,
    /// Kjernejournal's lookup (`KJFeilkode`).
    pub kj: Option<FailureAnswer>,
}

impl LookupFailures {
    /// Whether any Reseptformidleren lookup failed (the lookup then does not count as the fresh
    /// one `$sendMedication` needs).
    pub fn rf_failed(&self) -> bool {
        self.rf_prescriptions.is_some() || self.rf_pll.is_some()
    }
}

/// Asks the active failures, lookup by lookup, for the patient `key`.
pub struct Striker<'a> {
    /// The failures.
    pub outages: &'a Outages,
    /// The patient key.
    pub key: &'a str,
    /// Now.
    pub now: chrono::DateTime<chrono::Utc>,
}

impl Striker<'_> {
    /// The failure a lookup at `point` meets (counted as a call it failed).
    pub fn strike(&self, point: FailurePoint) -> Option<FailureAnswer> {
        self.outages.strike(point, Some(self.key), self.now)
    }
}

/// The statements a lookup shows when Reseptformidleren's lookups failed: without the PLL, the
/// PLL's entries go, and their active prescriptions show as prescriptions; without the
/// prescription list, the prescriptions go and the entries show without RF's status.
pub fn reduce_view<'a>(view: Vec<ViewEntry<'a>>, failures: &LookupFailures) -> Vec<ViewEntry<'a>> {
    let mut view = view;
    if failures.rf_pll.is_some() {
        view = view
            .into_iter()
            .filter_map(|v| match (v.in_pll, v.prescription) {
                (false, _) => Some(v),
                (true, Some(p)) if p.status.is_active() => Some(ViewEntry {
                    entry: &p.entry,
                    prescription: Some(p),
                    in_pll: false,
                }),
                (true, _) => None,
            })
            .collect();
    }
    if failures.rf_prescriptions.is_some() {
        let from_rf = |v: &ViewEntry<'_>| {
            !v.in_pll
                && v.prescription
                    .is_some_and(|p| std::ptr::eq(&p.entry, v.entry))
        };
        view = view
            .into_iter()
            .filter(|v| !from_rf(v))
            .map(|v| ViewEntry {
                prescription: None,
                ..v
            })
            .collect();
    }
    view
}

/// A result code of `$sendMedication` (a Coding).
pub fn result_code(failure: Option<&FailureAnswer>) -> Value {
    match failure {
        None => super::result_ok(),
        Some(f) => json!({"system": RESULT_CODE_SYSTEM, "code": f.code, "display": f.display}),
    }
}
