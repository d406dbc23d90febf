//! HelseID's signing keys as they rotate: the key that signs, a new key published before it
//! signs, and the keys it replaced (still published, so their tokens verify) until they are
//! retired. Rotation happens on demand (a phase at a time, or planned phases at times of
//! helsesim's clock) or on a schedule, both run lazily when a token is signed or the JWKS read.
//!
//! Readers take a read lock only to clone an `Arc` of the current set; planned phases are found
//! due by one atomic load. Keys made by rotation live in memory only.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use crate::jose::{JwkError, PublicJwk, SignError, TokenSigner};

/// One phase of a rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Publish a new key in the JWKS (it does not sign yet).
    Publish,
    /// Sign with the published new key (published first when there is none).
    Switch,
    /// Remove the keys that no longer sign from the JWKS.
    Retire,
}

/// The published keys at one moment.
#[derive(Debug)]
pub struct KeySet {
    signer: Arc<TokenSigner>,
    next: Option<Arc<TokenSigner>>,
    previous: Vec<Arc<TokenSigner>>,
    extra: Vec<PublicJwk>,
    extra_jwks: Vec<Value>,
    verification: Vec<PublicJwk>,
    jwks: Value,
}

impl KeySet {
    fn build(
        signer: Arc<TokenSigner>,
        next: Option<Arc<TokenSigner>>,
        previous: Vec<Arc<TokenSigner>>,
        extra: Vec<PublicJwk>,
        extra_jwks: Vec<Value>,
    ) -> Self {
        let signers = std::iter::once(&signer)
            .chain(next.iter())
            .chain(previous.iter());
        let mut published: Vec<Value> = signers.clone().map(|s| s.public_jwk().clone()).collect();
        published.extend(extra_jwks.iter().cloned());
        // Parsed from the published JWK, so each key has its `kid`.
        let mut verification: Vec<PublicJwk> = signers
            .filter_map(|s| PublicJwk::parse(s.public_jwk()).ok())
            .collect();
        verification.extend(extra.iter().cloned());
        Self {
            jwks: json!({ "keys": published }),
            signer,
            next,
            previous,
            extra,
            extra_jwks,
            verification,
        }
    }

    /// The key that signs.
    pub fn signer(&self) -> &TokenSigner {
        &self.signer
    }

    /// The JWKS document: the signing key first, then a new key not signing yet, then the keys
    /// it replaced and any extra keys of the certs directory.
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }

    /// Every published key, for verification.
    pub fn verification_keys(&self) -> &[PublicJwk] {
        &self.verification
    }

    /// The keys' ids: `{signing, next, previous}`.
    pub fn describe(&self) -> Value {
        json!({
            "signing": self.signer.kid(),
            "next": self.next.as_ref().map(|s| s.kid()),
            "previous": self.previous.iter().map(|s| s.kid()).collect::<Vec<_>>(),
        })
    }

    fn with(&self, phase: Phase) -> Result<Self, SignError> {
        let extra = self.extra.clone();
        let extra_jwks = self.extra_jwks.clone();
        Ok(match phase {
            Phase::Publish => {
                let next = match &self.next {
                    Some(next) => next.clone(),
                    None => Arc::new(TokenSigner::generate()?),
                };
                let previous = self.previous.clone();
                Self::build(self.signer.clone(), Some(next), previous, extra, extra_jwks)
            }
            Phase::Switch => {
                let signer = match &self.next {
                    Some(next) => next.clone(),
                    None => Arc::new(TokenSigner::generate()?),
                };
                let mut previous = self.previous.clone();
                previous.push(self.signer.clone());
                Self::build(signer, None, previous, extra, extra_jwks)
            }
            Phase::Retire => {
                let next = self.next.clone();
                Self::build(self.signer.clone(), next, Vec::new(), extra, extra_jwks)
            }
        })
    }
}

/// Phases planned at times, and the schedule.
#[derive(Debug, Default)]
struct Plan {
    phases: Vec<(DateTime<Utc>, Phase)>,
    /// Every so long, from the next time: retire, switch to a new key.
    every: Option<(TimeDelta, DateTime<Utc>)>,
}

impl Plan {
    fn due(&self) -> i64 {
        self.phases
            .iter()
            .map(|(at, _)| *at)
            .chain(self.every.map(|(_, at)| at))
            .map(|at| at.timestamp())
            .min()
            .unwrap_or(i64::MAX)
    }
}

/// HelseID's signing keys (see the module documentation).
#[derive(Debug)]
pub struct SigningKeys {
    set: RwLock<Arc<KeySet>>,
    plan: Mutex<Plan>,
    /// When the next planned phase is due (seconds since the epoch; `i64::MAX`: none).
    due: AtomicI64,
}

impl SigningKeys {
    /// `signer` signing, `extra` published beside it (never retired).
    pub fn new(signer: TokenSigner, extra: Vec<Value>) -> Result<Self, JwkError> {
        let parsed = extra
            .iter()
            .map(PublicJwk::parse)
            .collect::<Result<Vec<_>, _>>()?;
        let set = KeySet::build(Arc::new(signer), None, Vec::new(), parsed, extra);
        Ok(Self {
            set: RwLock::new(Arc::new(set)),
            plan: Mutex::default(),
            due: AtomicI64::new(i64::MAX),
        })
    }

    /// The keys at `now`, after any planned phase now due.
    pub fn current(&self, now: DateTime<Utc>) -> Arc<KeySet> {
        if now.timestamp() >= self.due.load(Ordering::Acquire) {
            self.run_due(now);
        }
        self.snapshot()
    }

    /// The keys as they are (no planned phase run): what the APIs verify against.
    pub fn snapshot(&self) -> Arc<KeySet> {
        self.set
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Runs `phase` now; the keys after it.
    pub fn apply(&self, phase: Phase) -> Result<Arc<KeySet>, SignError> {
        let mut set = self.set.write().unwrap_or_else(PoisonError::into_inner);
        let next = Arc::new(set.with(phase)?);
        *set = next.clone();
        Ok(next)
    }

    /// Plans `phases` at their times (run when due).
    pub fn plan(&self, phases: &[(DateTime<Utc>, Phase)]) {
        let mut plan = self.lock_plan();
        plan.phases.extend_from_slice(phases);
        plan.phases.sort_by_key(|(at, _)| *at);
        self.due.store(plan.due(), Ordering::Release);
    }

    /// Rotates every `every` from `now` on: each time the replaced keys are retired and a new
    /// key signs (the one it replaces stays published until the next rotation).
    pub fn schedule(&self, every: TimeDelta, now: DateTime<Utc>) {
        let mut plan = self.lock_plan();
        plan.every = Some((every, crate::clock::after(now, every)));
        self.due.store(plan.due(), Ordering::Release);
    }

    /// Ends the planned phases and the schedule (the keys stay as they are).
    pub fn stop(&self) {
        let mut plan = self.lock_plan();
        *plan = Plan::default();
        self.due.store(i64::MAX, Ordering::Release);
    }

    /// The planned phases and the schedule, for the control plane.
    pub fn planned(&self) -> Value {
        let plan = self.lock_plan();
        let phases: Vec<Value> = plan
            .phases
            .iter()
            .map(|(at, phase)| json!({"at": at.to_rfc3339(), "phase": format!("{phase:?}")}))
            .collect();
        json!({
            "phases": phases,
            "every_seconds": plan.every.map(|(every, _)| every.num_seconds()),
            "next_rotation": plan.every.map(|(_, at)| at.to_rfc3339()),
        })
    }

    fn run_due(&self, now: DateTime<Utc>) {
        let mut plan = self.lock_plan();
        let due: Vec<Phase> = plan
            .phases
            .iter()
            .filter(|(at, _)| *at <= now)
            .map(|(_, phase)| *phase)
            .collect();
        plan.phases.retain(|(at, _)| *at > now);
        let mut phases = due;
        if let Some((every, at)) = plan.every
            && at <= now
        {
            phases.extend([Phase::Retire, Phase::Switch]);
            let mut next = at;
            while next <= now && every > TimeDelta::zero() {
                next = crate::clock::after(next, every);
            }
            plan.every = Some((every, next));
        }
        for phase in phases {
            // A key that cannot be made leaves the keys as they are (tried again next time).
            if self.apply(phase).is_err() {
                log::warn!("HelseID key rotation: cannot make a new signing key");
            }
        }
        self.due.store(plan.due(), Ordering::Release);
    }

    fn lock_plan(&self) -> std::sync::MutexGuard<'_, Plan> {
        self.plan.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    fn kids(set: &KeySet) -> Vec<String> {
        set.jwks()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn publish_switch_retire_move_the_keys_through_the_jwks() {
        let keys = SigningKeys::new(TokenSigner::generate().unwrap(), Vec::new()).unwrap();
        let old = keys.snapshot().signer().kid().to_owned();
        let published = keys.apply(Phase::Publish).unwrap();
        let new = published.describe()["next"].as_str().unwrap().to_owned();
        assert_eq!(kids(&published), [old.clone(), new.clone()]);
        assert_eq!(published.signer().kid(), old);
        let switched = keys.apply(Phase::Switch).unwrap();
        assert_eq!(switched.signer().kid(), new);
        assert_eq!(kids(&switched), [new.clone(), old]);
        let retired = keys.apply(Phase::Retire).unwrap();
        assert_eq!(kids(&retired), [new]);
        assert_eq!(retired.verification_keys().len(), 1);
    }

    #[test]
    fn planned_phases_and_the_schedule_run_when_due_only() {
        let keys = SigningKeys::new(TokenSigner::generate().unwrap(), Vec::new()).unwrap();
        let first = keys.snapshot().signer().kid().to_owned();
        keys.plan(&[(t(10), Phase::Switch), (t(20), Phase::Retire)]);
        assert_eq!(keys.current(t(9)).signer().kid(), first);
        let switched = keys.current(t(10));
        assert_ne!(switched.signer().kid(), first);
        assert_eq!(switched.verification_keys().len(), 2);
        assert_eq!(keys.current(t(20)).verification_keys().len(), 1);
        keys.schedule(TimeDelta::seconds(60), t(20));
        let before = keys.current(t(79)).signer().kid().to_owned();
        let after = keys.current(t(80));
        assert_ne!(after.signer().kid(), before);
        assert_eq!(kids(&after), [after.signer().kid().to_owned(), before]);
        keys.stop();
        assert_eq!(keys.current(t(1000)).signer().kid(), after.signer().kid());
    }
}
