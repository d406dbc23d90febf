//! The in-memory state, one part per service, seeded from the fixtures.
//!
//! Locks are `std::sync` locks held only inside synchronous rule code, never across `.await`.

mod replay;
pub mod snapshot;
pub mod sorted;

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

/// Every service's state, outside the store's locks.
#[derive(Debug)]
pub struct Parts {
    /// HelseID's clients, users and resources.
    pub helseid: HelseIdStore,
    /// HelseID's logins.
    pub helseid_flows: FlowState,
    /// SFM with the national systems.
    pub sfm: SfmStore,
    /// Kjernejournal's organisations.
    pub kjernejournal: KjStore,
    /// PTS's restrictions.
    pub pts: PtsStore,
}

impl Parts {
    /// The fixtures' state.
    pub fn from_fixtures(fixtures: &Fixtures) -> Self {
        let clients = fixtures
            .clients
            .iter()
            .map(|c| (c.id().to_owned(), Arc::new(c.clone())))
            .collect();
        Self {
            helseid: HelseIdStore {
                resources: Arc::new(fixtures.resources.clone()),
                clients,
                users: fixtures.users.iter().cloned().map(Arc::new).collect(),
            },
            helseid_flows: FlowState::default(),
            sfm: fixtures.sfm.clone(),
            kjernejournal: fixtures.kjernejournal.clone(),
            pts: PtsStore::default(),
        }
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
        let parts = Parts::from_fixtures(fixtures);
        Self {
            helseid: RwLock::new(parts.helseid),
            helseid_flows: Mutex::new(parts.helseid_flows),
            sfm: RwLock::new(parts.sfm),
            kjernejournal: RwLock::new(parts.kjernejournal),
            pts: RwLock::new(parts.pts),
        }
    }

    /// Back to `fixtures`: every service's state replaced at once.
    pub fn reset(&self, fixtures: &Fixtures) {
        self.replace(Parts::from_fixtures(fixtures));
    }

    /// Replaces every service's state (each part under its own write lock; requests in flight
    /// finish against the old or the new state).
    pub fn replace(&self, parts: Parts) {
        let Parts {
            helseid,
            helseid_flows,
            sfm,
            kjernejournal,
            pts,
        } = parts;
        *self.helseid.write().unwrap_or_else(PoisonError::into_inner) = helseid;
        *self
            .helseid_flows
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = helseid_flows;
        *self.sfm.write().unwrap_or_else(PoisonError::into_inner) = sfm;
        *self
            .kjernejournal
            .write()
            .unwrap_or_else(PoisonError::into_inner) = kjernejournal;
        *self.pts.write().unwrap_or_else(PoisonError::into_inner) = pts;
    }

    /// Every service's state as the parts of a state document (see [`snapshot`]), each part
    /// written under its own lock, one at a time.
    pub fn export(&self) -> Result<serde_json::Map<String, serde_json::Value>, serde_json::Error> {
        let mut parts = serde_json::Map::new();
        let helseid = {
            let store = self.helseid();
            let clients: Vec<&crate::helseid::model::ClientEntry> =
                store.clients.values().map(|c| &c.entry).collect();
            let users: Vec<&crate::helseid::model::UserEntry> =
                store.users.iter().map(|u| &u.entry).collect();
            serde_json::json!({ "clients": clients, "users": users })
        };
        let logins = serde_json::to_value(
            &*self
                .helseid_flows
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )?;
        let mut helseid = helseid;
        if let Some(object) = helseid.as_object_mut() {
            object.insert("logins".to_owned(), logins);
        }
        parts.insert("helseid".to_owned(), helseid);
        {
            let sfm = self.sfm();
            parts.insert("sfm".to_owned(), serde_json::to_value(&*sfm)?);
            parts.insert("national".to_owned(), serde_json::to_value(&sfm.national)?);
        }
        parts.insert(
            "kjernejournal".to_owned(),
            serde_json::to_value(&*self.kjernejournal())?,
        );
        parts.insert("pts".to_owned(), serde_json::to_value(&*self.pts())?);
        Ok(parts)
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
