//! The in-memory state, one part per service, seeded from the fixtures.
//!
//! Locks are `std::sync` locks held only inside synchronous rule code, never across `.await`.

mod replay;

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::fixtures::Fixtures;
use crate::helseid::model::{ApiResources, Client};

pub use replay::ReplayCache;

/// HelseID's part: the API resources and the registered clients.
#[derive(Debug, Clone, Default)]
pub struct HelseIdStore {
    /// API resources (audiences, scopes).
    pub resources: Arc<ApiResources>,
    /// Clients by client id.
    pub clients: BTreeMap<String, Arc<Client>>,
}

/// All of helsesim's state.
#[derive(Debug, Default)]
pub struct Store {
    helseid: RwLock<HelseIdStore>,
}

impl Store {
    /// A store holding the fixtures.
    pub fn from_fixtures(fixtures: &Fixtures) -> Self {
        let clients = fixtures
            .clients
            .iter()
            .map(|c| (c.id().to_owned(), Arc::new(c.clone())))
            .collect();
        Self {
            helseid: RwLock::new(HelseIdStore {
                resources: Arc::new(fixtures.resources.clone()),
                clients,
            }),
        }
    }

    /// Read access to HelseID's state.
    pub fn helseid(&self) -> RwLockReadGuard<'_, HelseIdStore> {
        self.helseid.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Write access to HelseID's state.
    pub fn helseid_mut(&self) -> RwLockWriteGuard<'_, HelseIdStore> {
        self.helseid.write().unwrap_or_else(PoisonError::into_inner)
    }
}
