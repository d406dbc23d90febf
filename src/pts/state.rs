//! PTS's state: the access restrictions, and the token verifier it is given at start-up.

use std::sync::{RwLockReadGuard, RwLockWriteGuard};

use super::model::PtsStore;
use crate::auth::http::ApiVerifier;
use crate::clock::Clock;
use crate::store::Shared;

/// Everything PTS's handlers share (`web::Data<pts::State>`).
#[derive(Debug)]
pub struct State {
    /// The one source of "now".
    pub clock: Clock,
    /// Checks the callers' tokens.
    pub verifier: ApiVerifier,
    store: Shared<PtsStore>,
}

impl State {
    /// PTS holding `store`.
    pub fn new(clock: Clock, verifier: ApiVerifier, store: PtsStore) -> Self {
        Self {
            clock,
            verifier,
            store: Shared::new(store),
        }
    }

    /// Read access to the restrictions.
    pub fn store(&self) -> RwLockReadGuard<'_, PtsStore> {
        self.store.read()
    }

    /// Write access to the restrictions.
    pub fn store_mut(&self) -> RwLockWriteGuard<'_, PtsStore> {
        self.store.write()
    }

    /// Replaces the restrictions.
    pub fn replace(&self, store: PtsStore) {
        self.store.replace(store);
    }
}
