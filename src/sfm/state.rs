//! SFM's state: its tenants (with their FHIR resources, tickets and lookups) and portal
//! sessions, and the handles it is given at start-up — the national systems behind it and the
//! token verifier.

use std::sync::{Arc, RwLockReadGuard, RwLockWriteGuard};

use super::model::SfmStore;
use crate::auth::clients::ClientDirectory;
use crate::auth::http::ApiVerifier;
use crate::clock::Clock;
use crate::national::NationalStore;
use crate::national::outages::Outages;
use crate::store::Shared;

/// Everything SFM's handlers share (`web::Data<sfm::State>`).
#[derive(Debug)]
pub struct State {
    /// The one source of "now".
    pub clock: Clock,
    /// The public base URL, without trailing slash.
    pub base_url: String,
    /// HelseID's issuer (named in the CapabilityStatement's security).
    pub issuer: String,
    /// Checks the callers' tokens.
    pub verifier: ApiVerifier,
    /// HelseID's clients, for the origins that may embed the GUI.
    pub clients: Arc<dyn ClientDirectory>,
    store: Shared<SfmStore>,
    national: Arc<Shared<NationalStore>>,
    outages: Arc<Outages>,
}

/// What [`State::new`] is built from.
#[derive(Debug)]
pub struct Parts {
    /// The shared clock.
    pub clock: Clock,
    /// The public base URL, without trailing slash.
    pub base_url: String,
    /// HelseID's issuer.
    pub issuer: String,
    /// The verifier every API shares.
    pub verifier: ApiVerifier,
    /// HelseID's clients (their redirect URIs).
    pub clients: Arc<dyn ClientDirectory>,
    /// The tenants.
    pub store: SfmStore,
    /// The national systems (shared with Kjernejournal).
    pub national: Arc<Shared<NationalStore>>,
    /// The national systems' active failures (shared with Kjernejournal).
    pub outages: Arc<Outages>,
}

impl State {
    /// SFM with `parts`.
    pub fn new(parts: Parts) -> Self {
        Self {
            clock: parts.clock,
            base_url: parts.base_url,
            issuer: parts.issuer,
            verifier: parts.verifier,
            clients: parts.clients,
            store: Shared::new(parts.store),
            national: parts.national,
            outages: parts.outages,
        }
    }

    /// Read access to the tenants.
    pub fn store(&self) -> RwLockReadGuard<'_, SfmStore> {
        self.store.read()
    }

    /// Write access to the tenants. Take it before [`Self::national_mut`] when both are needed
    /// (one lock order everywhere).
    pub fn store_mut(&self) -> RwLockWriteGuard<'_, SfmStore> {
        self.store.write()
    }

    /// The national systems' active failures.
    pub fn outages(&self) -> &Outages {
        &self.outages
    }

    /// Read access to the national systems.
    pub fn national(&self) -> RwLockReadGuard<'_, NationalStore> {
        self.national.read()
    }

    /// Write access to the national systems.
    pub fn national_mut(&self) -> RwLockWriteGuard<'_, NationalStore> {
        self.national.write()
    }

    /// Replaces the tenants.
    pub fn replace(&self, store: SfmStore) {
        self.store.replace(store);
    }
}
