//! Kjernejournal's state: the organisations it knows, its ticket key, Innlogging's sessions,
//! and the handles it is
//! given at start-up — the national systems that hold the patients' records, and the token
//! verifier.

use std::sync::{Arc, RwLockReadGuard};

use super::innlogging::sessions::Sessions;
use super::model::KjStore;
use super::ticket::TicketSealer;
use crate::auth::http::ApiVerifier;
use crate::clock::Clock;
use crate::national::NationalStore;
use crate::national::outages::Outages;
use crate::store::Shared;

/// Everything kjernejournal's handlers share (`web::Data<kjernejournal::State>`).
#[derive(Debug)]
pub struct State {
    /// The one source of "now".
    pub clock: Clock,
    /// The public base URL, without trailing slash.
    pub base_url: String,
    /// Checks the callers' tokens.
    pub verifier: ApiVerifier,
    /// Adds a random extra field to every JSON answer.
    pub extra_field: bool,
    /// Seals and opens the tickets (a key made at start-up).
    pub tickets: TicketSealer,
    /// Kjernejournal Innlogging's sessions and the portal sessions that follow them.
    pub innlogging: Sessions,
    store: Shared<KjStore>,
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
    /// The verifier every API shares.
    pub verifier: ApiVerifier,
    /// The organisations.
    pub store: KjStore,
    /// The national systems (shared with SFM).
    pub national: Arc<Shared<NationalStore>>,
    /// The national systems' active failures (shared with SFM).
    pub outages: Arc<Outages>,
    /// See [`State::extra_field`].
    pub extra_field: bool,
}

/// The system's random source failed while making the ticket key.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("cannot make kjernejournal's ticket key: the system's random source failed")]
pub struct RandomFailed;

impl State {
    /// Kjernejournal with `parts` and a fresh ticket key.
    pub fn new(parts: Parts) -> Result<Self, RandomFailed> {
        Ok(Self {
            clock: parts.clock,
            base_url: parts.base_url,
            verifier: parts.verifier,
            extra_field: parts.extra_field,
            tickets: TicketSealer::generate().map_err(|_| RandomFailed)?,
            innlogging: Sessions::default(),
            store: Shared::new(parts.store),
            national: parts.national,
            outages: parts.outages,
        })
    }

    /// Read access to the organisations.
    pub fn store(&self) -> RwLockReadGuard<'_, KjStore> {
        self.store.read()
    }

    /// The national systems' active failures.
    pub fn outages(&self) -> &Outages {
        &self.outages
    }

    /// Read access to the national systems.
    pub fn national(&self) -> RwLockReadGuard<'_, NationalStore> {
        self.national.read()
    }

    /// Replaces the organisations.
    pub fn replace(&self, store: KjStore) {
        self.store.replace(store);
    }
}
