//! The store primitives every service builds its state from: a part of the state behind its
//! own lock ([`Shared`]), a replay cache for one-time identifiers, sorted serialisation.
//!
//! Locks are `std::sync` locks held only inside synchronous rule code, never across `.await`.

pub mod parallel;
mod replay;
pub mod sorted;

use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

pub use replay::ReplayCache;

/// One part of a service's state behind its own lock. A lock poisoned by a panicking request is
/// taken over: rule code decides before it writes, so a panic leaves nothing half-written.
#[derive(Debug, Default)]
pub struct Shared<T>(RwLock<T>);

impl<T> Shared<T> {
    /// `value` behind a lock.
    pub fn new(value: T) -> Self {
        Self(RwLock::new(value))
    }

    /// Read access.
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Write access.
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces the whole part (requests in flight finish against the old or the new value).
    pub fn replace(&self, value: T) {
        *self.write() = value;
    }
}
