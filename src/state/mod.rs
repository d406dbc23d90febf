//! The control plane's view of the whole simulator (`web::Data<AppState>`): a handle to each
//! service's own state, plus what belongs to no service (the request journal, fault rules, the
//! fixtures and the state file). Built once at start-up; the services never see it.

pub mod persist;
pub mod snapshot;

use std::path::PathBuf;
use std::sync::Arc;

use actix_web::web;

use crate::auth::TokenVerifier;
use crate::auth::http::ApiVerifier;
use crate::clock::Clock;
use crate::config::Settings;
use crate::fixtures::{self, FixtureError, Fixtures};
use crate::helseid::HelseIdStore;
use crate::helseid::flow::FlowState;
use crate::keys::{self, KeyError, KeyMaterial};
use crate::kjernejournal::model::KjStore;
use crate::national::NationalStore;
use crate::pts::model::PtsStore;
use crate::sfm::model::SfmStore;
use crate::store::Shared;
use crate::{helseid, kjernejournal, pts, sfm};

/// Everything the control plane and the cross-cutting middleware (journal, faults) share.
#[derive(Debug)]
pub struct AppState {
    /// The one source of "now".
    pub clock: Clock,
    /// The public base URL, without trailing slash.
    pub base_url: String,
    /// Signing key, JWKS, TLS.
    pub keys: Arc<KeyMaterial>,
    /// HelseID's state.
    pub helseid: web::Data<helseid::State>,
    /// SFM's state.
    pub sfm: web::Data<sfm::State>,
    /// Kjernejournal's state.
    pub kjernejournal: web::Data<kjernejournal::State>,
    /// PTS's state.
    pub pts: web::Data<pts::State>,
    /// The national systems behind SFM and Kjernejournal (shared by both).
    pub national: Arc<Shared<NationalStore>>,
    /// The national systems' active failures (scenario steps).
    pub outages: Arc<crate::national::outages::Outages>,
    /// The fixtures directory.
    pub fixtures_dir: PathBuf,
    /// The fixture texts loaded at start, for `POST /_admin/reset`.
    pub seed: crate::fixtures::FixtureTexts,
    /// Non-fatal remarks from loading the fixtures.
    pub warnings: Vec<String>,
    /// A signing key helsesim does not publish, for deliberately broken test tokens (made on
    /// first use).
    pub untrusted_signer: std::sync::OnceLock<crate::jose::TokenSigner>,
    /// The recent requests (also app data of its own, for the journal middleware).
    pub journal: web::Data<crate::journal::Journal>,
    /// The fault-injection rules (also app data of their own, for the fault middleware).
    pub faults: web::Data<crate::faults::Faults>,
    /// The scenario presets and what scenarios did.
    pub scenarios: crate::scenarios::Scenarios,
    /// The integration advisor's findings.
    pub advice: crate::advice::Advisor,
    /// Whether the control plane answers (`HELSESIM_ADMIN`).
    pub admin: bool,
    /// The bearer token the control plane demands (`HELSESIM_ADMIN_TOKEN`).
    pub admin_token: Option<String>,
    /// Where the state is kept across restarts (`HELSESIM_STATE_FILE`).
    pub state_file: Option<crate::state::persist::StateFile>,
}

/// HelseID's registered clients as SFM may see them: their redirect URIs, read from HelseID's
/// current state (clients added through the control plane count at once).
#[derive(Debug)]
struct HelseIdClients(web::Data<helseid::State>);

impl crate::auth::clients::ClientDirectory for HelseIdClients {
    fn redirect_uris(&self, client_id: &str) -> Option<Vec<String>> {
        let store = self.0.store();
        store
            .clients
            .get(client_id)
            .map(|c| c.entry.redirect_uris.clone())
    }
}

/// Every service's replaceable state, outside the services' locks: built from the fixtures
/// (start-up, reset) or from a state document (import).
#[derive(Debug)]
pub struct Parts {
    /// HelseID's clients, users and resources.
    pub helseid: HelseIdStore,
    /// HelseID's logins.
    pub helseid_flows: FlowState,
    /// SFM's tenants.
    pub sfm: SfmStore,
    /// The national systems.
    pub national: NationalStore,
    /// Kjernejournal's organisations.
    pub kjernejournal: KjStore,
    /// PTS's restrictions.
    pub pts: PtsStore,
}

impl Parts {
    /// The fixtures' state, the large parts (SFM's tenants, the national systems) taken out of
    /// `fixtures` rather than copied.
    pub fn take_from(fixtures: &mut Fixtures) -> Self {
        let sfm = std::mem::take(&mut fixtures.sfm);
        let national = std::mem::take(&mut fixtures.national);
        Self {
            sfm,
            national,
            ..Self::from_fixtures(fixtures)
        }
    }

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
            national: fixtures.national.clone(),
            kjernejournal: fixtures.kjernejournal.clone(),
            pts: PtsStore::default(),
        }
    }
}

/// Kjernejournal's part of a state document: its store and the ticket key.
#[derive(serde::Serialize)]
struct KjPart<'a> {
    #[serde(flatten)]
    store: &'a KjStore,
    ticket_key: String,
}

/// JSON text of a value, compact or pretty.
fn json_text<T: serde::Serialize + ?Sized>(
    value: &T,
    pretty: bool,
) -> Result<String, serde_json::Error> {
    if pretty {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    }
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
    StateFile(#[from] crate::state::persist::StateFileError),
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
            | StartupError::StateFile(crate::state::persist::StateFileError::Invalid { .. }) => 2,
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

    /// Builds every service's state from fixtures already loaded; the services share the
    /// clock, the token verifier and the national systems, and nothing else.
    pub fn with_fixtures(
        settings: &Settings,
        mut fixtures: Fixtures,
        clock: Clock,
        base_url: String,
    ) -> Result<Self, StartupError> {
        let public_host = url::Url::parse(&base_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned));
        let hosts = keys::certificate_hosts(public_host.as_deref());
        let keys = Arc::new(keys::load_or_create(
            &settings.certs_dir,
            &hosts,
            clock.now(),
        )?);
        let parts = Parts::take_from(&mut fixtures);
        let issuer = helseid::Endpoints::new(&base_url).issuer;
        let tokens = Arc::new(TokenVerifier::new(issuer.clone(), keys.signing.clone()));
        let verifier = ApiVerifier::new(tokens.clone(), clock.clone(), base_url.clone());
        let national = Arc::new(Shared::new(parts.national));
        let outages = Arc::new(crate::national::outages::Outages::default());
        let helseid = web::Data::new(helseid::State::new(helseid::state::Parts {
            clock: clock.clone(),
            base_url: base_url.clone(),
            keys: keys.clone(),
            tokens,
            store: parts.helseid,
            autologin: settings.autologin,
        }));
        let sfm = sfm::State::new(sfm::state::Parts {
            clock: clock.clone(),
            base_url: base_url.clone(),
            issuer,
            verifier: verifier.clone(),
            clients: Arc::new(HelseIdClients(helseid.clone())),
            store: parts.sfm,
            national: national.clone(),
            outages: outages.clone(),
        });
        let kjernejournal = kjernejournal::State::new(kjernejournal::state::Parts {
            clock: clock.clone(),
            base_url: base_url.clone(),
            verifier: verifier.clone(),
            store: parts.kjernejournal,
            national: national.clone(),
            outages: outages.clone(),
            extra_field: settings.kj_extra_field,
        })
        .map_err(|_| StartupError::Random)?;
        let pts = pts::State::new(clock.clone(), verifier, parts.pts);
        let journal = crate::journal::Journal::new(settings.journal_size, clock.clone());
        let faults = web::Data::new(crate::faults::Faults::new(clock.clone()));
        Ok(Self {
            clock,
            keys,
            helseid,
            sfm: web::Data::new(sfm),
            kjernejournal: web::Data::new(kjernejournal),
            pts: web::Data::new(pts),
            national,
            outages,
            fixtures_dir: settings.fixtures_dir.clone(),
            warnings: fixtures.warnings,
            seed: fixtures.texts,
            untrusted_signer: std::sync::OnceLock::new(),
            journal: web::Data::new(journal),
            faults,
            scenarios: crate::scenarios::Scenarios::new(fixtures.scenarios),
            advice: crate::advice::Advisor::default(),
            admin: settings.admin,
            admin_token: settings.admin_token.clone(),
            state_file: settings
                .state_file
                .clone()
                .map(|path| crate::state::persist::StateFile::new(path, settings.state_interval)),
            base_url,
        })
    }

    /// Back to `fixtures`: every service's state replaced at once.
    pub fn reset(&self, fixtures: &Fixtures) {
        self.replace(Parts::from_fixtures(fixtures));
        self.scenarios
            .reset(fixtures.scenarios.clone(), &self.scenario_targets());
    }

    /// What scenario steps may change, as of now.
    pub fn scenario_targets(&self) -> crate::scenarios::Targets<'_> {
        crate::scenarios::Targets {
            now: self.clock.now(),
            clock: &self.clock,
            national: &self.national,
            outages: &self.outages,
            faults: &self.faults,
            helseid: &self.helseid,
            sfm: &self.sfm,
            kjernejournal: &self.kjernejournal,
        }
    }

    /// Replaces every service's state (each part under its own write lock; requests in flight
    /// finish against the old or the new state).
    pub fn replace(&self, parts: Parts) {
        let Parts {
            helseid,
            helseid_flows,
            sfm,
            national,
            kjernejournal,
            pts,
        } = parts;
        self.helseid.replace(helseid, helseid_flows);
        self.sfm.replace(sfm);
        self.national.replace(national);
        self.kjernejournal.replace(kjernejournal);
        self.pts.replace(pts);
    }

    /// Every service's state as the parts of a state document (see [`snapshot`]) in JSON text,
    /// each part written under its own lock, one at a time (no JSON tree of the whole state is
    /// made: 100,000 patients are some 150 MB of text).
    pub fn export_parts(&self, pretty: bool) -> Result<Vec<(String, String)>, serde_json::Error> {
        let mut parts = Vec::new();
        let mut helseid = {
            let store = self.helseid.store();
            let clients: Vec<&crate::helseid::model::ClientEntry> =
                store.clients.values().map(|c| &c.entry).collect();
            let users: Vec<&crate::helseid::model::UserEntry> =
                store.users.iter().map(|u| &u.entry).collect();
            serde_json::json!({ "clients": clients, "users": users })
        };
        let logins = serde_json::to_value(&*self.helseid.flows_unswept())?;
        if let Some(object) = helseid.as_object_mut() {
            object.insert("logins".to_owned(), logins);
        }
        parts.push(("helseid".to_owned(), json_text(&helseid, pretty)?));
        parts.push(("sfm".to_owned(), json_text(&*self.sfm.store(), pretty)?));
        parts.push((
            "national".to_owned(),
            json_text(&*self.national.read(), pretty)?,
        ));
        let kjernejournal = KjPart {
            store: &self.kjernejournal.store(),
            ticket_key: snapshot::encode_ticket_key(&self.kjernejournal.tickets.key_bytes()),
        };
        parts.push((
            "kjernejournal".to_owned(),
            json_text(&kjernejournal, pretty)?,
        ));
        parts.push(("pts".to_owned(), json_text(&*self.pts.store(), pretty)?));
        Ok(parts)
    }
}
