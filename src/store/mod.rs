//! The in-memory state, one part per service, seeded from the fixtures.
//!
//! Locks are `std::sync` locks held only inside synchronous rule code, never across `.await`.

mod replay;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::fixtures::Fixtures;
use crate::helseid::flow::FlowState;
use crate::helseid::model::{ApiResources, Client, User};
use crate::kjernejournal::model::KjStore;
use crate::pts::model::PtsStore;
use crate::sfm::model::SfmStore;

pub use replay::ReplayCache;

/// HelseID's part: the API resources and the registered clients.
#[derive(Debug, Clone, Default)]
pub struct HelseIdStore {
    /// API resources (audiences, scopes).
    pub resources: Arc<ApiResources>,
    /// Clients by client id.
    pub clients: BTreeMap<String, Arc<Client>>,
    /// Test users by pid, in fixture order for the login page.
    pub users: Vec<Arc<User>>,
}

impl HelseIdStore {
    /// The fixture user with this pid.
    pub fn user(&self, pid: &str) -> Option<&Arc<User>> {
        self.users.iter().find(|u| u.pid() == pid)
    }
}

/// All of helsesim's state.
#[derive(Debug, Default)]
pub struct Store {
    helseid: RwLock<HelseIdStore>,
    helseid_flows: Mutex<FlowState>,
    sfm: RwLock<SfmStore>,
    kjernejournal: RwLock<KjStore>,
    pts: RwLock<PtsStore>,
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
                users: fixtures.users.iter().cloned().map(Arc::new).collect(),
            }),
            helseid_flows: Mutex::new(FlowState::default()),
            sfm: RwLock::new(fixtures.sfm.clone()),
            kjernejournal: RwLock::new(fixtures.kjernejournal.clone()),
            pts: RwLock::new(PtsStore::default()),
        }
    }

    /// Back to `fixtures`: every service's state replaced at once (each part under its own
    /// write lock; requests in flight finish against the old or the new state).
    pub fn reset(&self, fixtures: &Fixtures) {
        let fresh = Self::from_fixtures(fixtures);
        *self.helseid.write().unwrap_or_else(PoisonError::into_inner) = fresh
            .helseid
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        *self
            .helseid_flows
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = fresh
            .helseid_flows
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        *self.sfm.write().unwrap_or_else(PoisonError::into_inner) = fresh
            .sfm
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        *self
            .kjernejournal
            .write()
            .unwrap_or_else(PoisonError::into_inner) = fresh
            .kjernejournal
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        *self.pts.write().unwrap_or_else(PoisonError::into_inner) = fresh
            .pts
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
    }

    /// Read access to HelseID's state.
    pub fn helseid(&self) -> RwLockReadGuard<'_, HelseIdStore> {
        self.helseid.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// HelseID's login state (codes, sessions, refresh tokens), swept of what expired at `now`.
    pub fn helseid_flows(&self, now: chrono::DateTime<chrono::Utc>) -> MutexGuard<'_, FlowState> {
        let mut flows = self
            .helseid_flows
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        flows.sweep(now);
        flows
    }

    /// Read access to SFM's state.
    pub fn sfm(&self) -> RwLockReadGuard<'_, SfmStore> {
        self.sfm.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Write access to SFM's state.
    pub fn sfm_mut(&self) -> RwLockWriteGuard<'_, SfmStore> {
        self.sfm.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Read access to kjernejournal's state.
    pub fn kjernejournal(&self) -> RwLockReadGuard<'_, KjStore> {
        self.kjernejournal
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Read access to PTS's state.
    pub fn pts(&self) -> RwLockReadGuard<'_, PtsStore> {
        self.pts.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Write access to PTS's state.
    pub fn pts_mut(&self) -> RwLockWriteGuard<'_, PtsStore> {
        self.pts.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Write access to HelseID's state.
    pub fn helseid_mut(&self) -> RwLockWriteGuard<'_, HelseIdStore> {
        self.helseid.write().unwrap_or_else(PoisonError::into_inner)
    }
}
