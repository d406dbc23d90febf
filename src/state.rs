//! The application state shared by every handler (`web::Data<AppState>`), built once.

use std::path::PathBuf;

use crate::auth::TokenVerifier;
use crate::clock::Clock;
use crate::config::Settings;
use crate::fixtures::{self, FixtureError, Fixtures};
use crate::helseid::{HelseIdRuntime, discovery};
use crate::keys::{self, KeyError, KeyMaterial};
use crate::kjernejournal::ticket::TicketSealer;
use crate::store::Store;

/// Everything the handlers share.
#[derive(Debug)]
pub struct AppState {
    /// The one source of "now".
    pub clock: Clock,
    /// The public base URL, without trailing slash.
    pub base_url: String,
    /// Signing key, JWKS, TLS.
    pub keys: KeyMaterial,
    /// Seed-derived state.
    pub store: Store,
    /// HelseID's run-time state.
    pub helseid: HelseIdRuntime,
    /// Verifies access tokens at the APIs.
    pub tokens: TokenVerifier,
    /// The discovery document, rendered once.
    pub discovery_json: String,
    /// The fixtures directory.
    pub fixtures_dir: PathBuf,
    /// The fixture texts loaded at start, for `POST /_admin/reset`.
    pub seed: crate::fixtures::FixtureTexts,
    /// Non-fatal remarks from loading the fixtures.
    pub warnings: Vec<String>,
    /// `login_hint` naming a fixture user logs them in without the login page.
    pub autologin: bool,
    /// Kjernejournal adds a random extra field to every JSON answer.
    pub kj_extra_field: bool,
    /// Seals and opens kjernejournal's tickets (a key made at start-up).
    pub kj_tickets: TicketSealer,
    /// A signing key helsesim does not publish, for deliberately broken test tokens (made on
    /// first use).
    pub untrusted_signer: std::sync::OnceLock<crate::jose::TokenSigner>,
    /// The recent requests.
    pub journal: crate::journal::Journal,
    /// The fault-injection rules.
    pub faults: crate::faults::Faults,
    /// Whether the control plane answers (`HELSESIM_ADMIN`).
    pub admin: bool,
    /// The bearer token the control plane demands (`HELSESIM_ADMIN_TOKEN`).
    pub admin_token: Option<String>,
    /// Where the state is kept across restarts (`HELSESIM_STATE_FILE`).
    pub state_file: Option<crate::persist::StateFile>,
}

/// Why helsesim cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A fixture is invalid (exit code 2).
    #[error("invalid fixtures: {0}")]
    Fixtures(#[from] FixtureError),
    /// The certs directory cannot be prepared.
    #[error("certs: {0}")]
    Keys(#[from] KeyError),
    /// The system's random source failed.
    #[error("cannot make kjernejournal's ticket key: the system's random source failed")]
    Random,
    /// The state file cannot be used (exit code 2 when it is invalid).
    #[error("{0}")]
    StateFile(#[from] crate::persist::StateFileError),
    /// A listener cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

impl StartupError {
    /// The process exit code: 2 for bad input (fixtures), 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            StartupError::Fixtures(_)
            | StartupError::StateFile(crate::persist::StateFileError::Invalid { .. }) => 2,
            _ => 1,
        }
    }
}

impl AppState {
    /// Loads fixtures and keys and builds the state for the public base URL `base_url`.
    pub fn build(
        settings: &Settings,
        clock: Clock,
        base_url: String,
    ) -> Result<Self, StartupError> {
        let fixtures = fixtures::load_dir(&settings.fixtures_dir, clock.now())?;
        Self::with_fixtures(settings, fixtures, clock, base_url)
    }

    /// Builds the state from fixtures already loaded.
    pub fn with_fixtures(
        settings: &Settings,
        fixtures: Fixtures,
        clock: Clock,
        base_url: String,
    ) -> Result<Self, StartupError> {
        let public_host = url::Url::parse(&base_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned));
        let hosts = keys::certificate_hosts(public_host.as_deref());
        let keys = keys::load_or_create(&settings.certs_dir, &hosts, clock.now())?;
        let helseid = HelseIdRuntime::new(&base_url);
        let discovery_json =
            discovery::document(&helseid.endpoints, &fixtures.resources).to_string();
        let tokens = TokenVerifier::new(
            helseid.endpoints.issuer.clone(),
            keys.verification_keys.clone(),
        );
        Ok(Self {
            clock,
            store: Store::from_fixtures(&fixtures),
            keys,
            helseid,
            tokens,
            discovery_json,
            fixtures_dir: settings.fixtures_dir.clone(),
            warnings: fixtures.warnings,
            seed: fixtures.texts,
            autologin: settings.autologin,
            kj_extra_field: settings.kj_extra_field,
            kj_tickets: TicketSealer::generate().map_err(|_| StartupError::Random)?,
            untrusted_signer: std::sync::OnceLock::new(),
            journal: crate::journal::Journal::new(settings.journal_size),
            faults: crate::faults::Faults::default(),
            admin: settings.admin,
            admin_token: settings.admin_token.clone(),
            state_file: settings
                .state_file
                .clone()
                .map(|path| crate::persist::StateFile::new(path, settings.state_interval)),
            base_url,
        })
    }
}
