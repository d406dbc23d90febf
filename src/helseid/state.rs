//! HelseID's state: its endpoints, its signing keys, the clients, users and resources it knows,
//! the logins in progress, and the replay caches and nonce key of its token endpoint.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};

use super::Endpoints;
use super::flow::FlowState;
use super::model::{ApiResources, Client, User};
use crate::auth::TokenVerifier;
use crate::auth::dpop::NonceIssuer;
use crate::auth::http::ApiVerifier;
use crate::clock::Clock;
use crate::keys::KeyMaterial;
use crate::store::{ReplayCache, Shared};

/// HelseID's seed-derived part: the API resources and the registered clients and users.
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

/// Everything HelseID's handlers share (`web::Data<helseid::State>`), built once at start-up.
#[derive(Debug)]
pub struct State {
    /// The one source of "now".
    pub clock: Clock,
    /// Public URLs.
    pub endpoints: Endpoints,
    /// Signing key and JWKS.
    pub keys: Arc<KeyMaterial>,
    /// Verifies the access tokens HelseID itself is shown (userinfo, introspection).
    pub tokens: Arc<TokenVerifier>,
    /// Checks the request of an endpoint that takes an access token (userinfo).
    pub verifier: ApiVerifier,
    /// The discovery document, rendered once.
    pub discovery_json: String,
    /// `login_hint` naming a fixture user logs them in without the login page.
    pub autologin: bool,
    /// `jti`s of client assertions already used.
    pub assertion_jtis: ReplayCache,
    /// `jti`s of DPoP proofs already used at the token endpoint.
    pub proof_jtis: ReplayCache,
    /// Issues and checks `DPoP-Nonce` values.
    pub nonces: NonceIssuer,
    store: Shared<HelseIdStore>,
    flows: Mutex<FlowState>,
}

/// What [`State::new`] is built from.
#[derive(Debug)]
pub struct Parts {
    /// The shared clock.
    pub clock: Clock,
    /// The public base URL, without trailing slash.
    pub base_url: String,
    /// Signing key and JWKS.
    pub keys: Arc<KeyMaterial>,
    /// The verifier every API shares.
    pub tokens: Arc<TokenVerifier>,
    /// Clients, users and resources.
    pub store: HelseIdStore,
    /// See [`State::autologin`].
    pub autologin: bool,
}

impl State {
    /// HelseID at `parts.base_url`/helseid, with no login in progress.
    pub fn new(parts: Parts) -> Self {
        let endpoints = Endpoints::new(&parts.base_url);
        let discovery_json =
            super::discovery::document(&endpoints, &parts.store.resources).to_string();
        Self {
            endpoints,
            keys: parts.keys,
            verifier: ApiVerifier::new(
                parts.tokens.clone(),
                parts.clock.clone(),
                parts.base_url.clone(),
            ),
            tokens: parts.tokens,
            discovery_json,
            autologin: parts.autologin,
            assertion_jtis: ReplayCache::default(),
            proof_jtis: ReplayCache::default(),
            nonces: NonceIssuer::new(),
            store: Shared::new(parts.store),
            flows: Mutex::new(FlowState::default()),
            clock: parts.clock,
        }
    }

    /// Read access to the clients, users and resources.
    pub fn store(&self) -> std::sync::RwLockReadGuard<'_, HelseIdStore> {
        self.store.read()
    }

    /// Write access to the clients, users and resources.
    pub fn store_mut(&self) -> std::sync::RwLockWriteGuard<'_, HelseIdStore> {
        self.store.write()
    }

    /// The login state (codes, sessions, refresh tokens), swept of what expired at `now`.
    pub fn flows(&self, now: DateTime<Utc>) -> MutexGuard<'_, FlowState> {
        let mut flows = self.flows.lock().unwrap_or_else(PoisonError::into_inner);
        flows.sweep(now);
        flows
    }

    /// The login state as it is, expired entries included (for a state document).
    pub fn flows_unswept(&self) -> MutexGuard<'_, FlowState> {
        self.flows.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces the clients, users, resources and logins.
    pub fn replace(&self, store: HelseIdStore, flows: FlowState) {
        self.store.replace(store);
        *self.flows_unswept() = flows;
    }
}
