//! Domain failures: the national systems failing inside SFM's operations and at kjernejournal's
//! own APIs, on demand (scenario steps). SFM consults them in `$getMedication` (Reseptformidleren
//! or kjernejournal not answering a lookup) and `$sendMedication` (a message not sent),
//! kjernejournal at its APIs. Each failure lasts a number of calls (`times`), a time
//! (`for_seconds`, helsesim's clock) or until cleared, optionally for one patient only.

use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// Where a failure strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailurePoint {
    /// Reseptformidleren's prescription lookup (M9.5 → M9.6) in `$getMedication`:
    /// `RFM96Feilkode`.
    RfPrescriptions,
    /// Reseptformidleren's PLL lookup (M9.11 → M9.12) in `$getMedication`: `RFM912Feilkode`.
    RfPll,
    /// Kjernejournal's lookup in `$getMedication`: `KJFeilkode`.
    KjLookup,
    /// New prescriptions (M1) in `$sendMedication`.
    M1,
    /// Withdrawals (M5) in `$sendMedication`.
    M5,
    /// The PLL (M25.1) in `$sendMedication`.
    Pll,
    /// Kjernejournal's own APIs (helseindikator, ping, Innlogging, the data APIs).
    KjApi,
}

/// What a failure answers: the code of the `sfm-kj-rf-error-code` system (or kjernejournal's
/// `feilkode`), its display and a text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FailureAnswer {
    /// The code.
    pub code: String,
    /// Its display.
    pub display: String,
    /// The text (`text` of the CodeableConcept, kjernejournal's `utviklermelding`).
    pub text: String,
    /// The HTTP status (kjernejournal's APIs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

/// A failure to start.
#[derive(Debug, Clone)]
pub struct FailureSpec {
    /// Where.
    pub point: FailurePoint,
    /// What it answers.
    pub answer: FailureAnswer,
    /// Only for this patient (the national key: fødselsnummer or D-nummer).
    pub patient: Option<String>,
    /// For this many calls, then it is spent.
    pub times: Option<u32>,
    /// For this long (helsesim's clock), then it is spent.
    pub for_seconds: Option<u64>,
}

/// An active failure, as `GET /_admin/scenarios` lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ActiveFailure {
    /// Its id.
    pub id: String,
    /// Where it strikes.
    pub point: FailurePoint,
    /// What it answers.
    #[serde(flatten)]
    pub answer: FailureAnswer,
    /// Only for this patient.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    /// How many more calls it fails (`null`: no limit).
    pub remaining: Option<u32>,
    /// How many calls it failed.
    pub hits: u64,
    /// When it ends (with `for_seconds`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub until: Option<DateTime<Utc>>,
}

impl ActiveFailure {
    fn live(&self, now: DateTime<Utc>) -> bool {
        self.remaining != Some(0) && self.until.is_none_or(|until| now < until)
    }
}

/// The active failures.
#[derive(Debug, Default)]
pub struct Outages {
    failures: Mutex<Vec<ActiveFailure>>,
}

impl Outages {
    /// Starts a failure at `now`.
    pub fn add(&self, spec: FailureSpec, now: DateTime<Utc>) -> ActiveFailure {
        let until = spec.for_seconds.map(|s| {
            let seconds = i64::try_from(s).unwrap_or(i64::MAX);
            crate::clock::after(
                now,
                TimeDelta::try_seconds(seconds).unwrap_or(TimeDelta::MAX),
            )
        });
        let failure = ActiveFailure {
            id: uuid::Uuid::new_v4().to_string(),
            point: spec.point,
            answer: spec.answer,
            patient: spec.patient,
            remaining: spec.times,
            hits: 0,
            until,
        };
        self.lock().push(failure.clone());
        failure
    }

    /// The failure a call at `point` for `patient` meets at `now`, if any (the oldest live one);
    /// it is counted as a call it failed.
    pub fn strike(
        &self,
        point: FailurePoint,
        patient: Option<&str>,
        now: DateTime<Utc>,
    ) -> Option<FailureAnswer> {
        let mut failures = self.lock();
        let failure = failures.iter_mut().find(|f| {
            f.point == point
                && f.live(now)
                && f.patient
                    .as_deref()
                    .is_none_or(|p| patient.is_some_and(|q| q == p))
        })?;
        failure.hits += 1;
        if let Some(remaining) = &mut failure.remaining {
            *remaining -= 1;
        }
        Some(failure.answer.clone())
    }

    /// The failures still active at `now`, oldest first (spent ones are forgotten).
    pub fn active(&self, now: DateTime<Utc>) -> Vec<ActiveFailure> {
        let mut failures = self.lock();
        failures.retain(|f| f.live(now));
        failures.clone()
    }

    /// Ends every failure.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<ActiveFailure>> {
        self.failures.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
    }

    fn spec(patient: Option<&str>, times: Option<u32>, for_seconds: Option<u64>) -> FailureSpec {
        FailureSpec {
            point: FailurePoint::RfPll,
            answer: FailureAnswer {
                code: "900".to_owned(),
                display: "d".to_owned(),
                text: "t".to_owned(),
                status: None,
            },
            patient: patient.map(str::to_owned),
            times,
            for_seconds,
        }
    }

    #[test]
    fn a_failure_strikes_its_point_and_patient_only() {
        let outages = Outages::default();
        outages.add(spec(Some("1"), None, None), t(0));
        assert!(
            outages
                .strike(FailurePoint::RfPll, Some("1"), t(0))
                .is_some()
        );
        assert!(
            outages
                .strike(FailurePoint::RfPll, Some("2"), t(0))
                .is_none()
        );
        assert!(outages.strike(FailurePoint::RfPll, None, t(0)).is_none());
        assert!(outages.strike(FailurePoint::M1, Some("1"), t(0)).is_none());
    }

    #[test]
    fn a_failure_ends_after_times_or_for_seconds_or_clear() {
        let outages = Outages::default();
        outages.add(spec(None, Some(2), None), t(0));
        assert!(outages.strike(FailurePoint::RfPll, None, t(0)).is_some());
        assert!(outages.strike(FailurePoint::RfPll, None, t(0)).is_some());
        assert!(outages.strike(FailurePoint::RfPll, None, t(0)).is_none());
        assert!(outages.active(t(0)).is_empty());
        outages.add(spec(None, None, Some(60)), t(0));
        assert!(outages.strike(FailurePoint::RfPll, None, t(59)).is_some());
        assert!(outages.strike(FailurePoint::RfPll, None, t(60)).is_none());
        outages.add(spec(None, None, None), t(0));
        outages.clear();
        assert!(outages.strike(FailurePoint::RfPll, None, t(0)).is_none());
    }
}
