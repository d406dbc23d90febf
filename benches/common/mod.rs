//! Shared set-up of the benchmarks: the application state over the repo's fixtures.

use std::path::PathBuf;

use helsesim::{AppState, Clock, Settings};

/// The base URL the benchmarked state believes it serves.
pub const BASE_URL: &str = "http://localhost:8080";

/// The repository.
pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The application state, built once over the repo's fixtures and a certs dir of its own.
pub fn app_state() -> AppState {
    let certs_dir = manifest_dir().join("target/bench-certs");
    let hosts = helsesim::keys::certificate_hosts(Some("localhost"));
    helsesim::keys::ensure(&certs_dir, &hosts, Clock::system().now(), false).expect("bench certs");
    let settings = Settings {
        bind: "127.0.0.1".parse().unwrap(),
        port: 0,
        tls_port: None,
        public_url: None,
        fixtures_dir: manifest_dir().join("fixtures"),
        certs_dir,
        workers: Some(1),
        autologin: true,
        kj_extra_field: true,
        journal_size: 500,
        admin: true,
        admin_token: None,
        cors_origins: helsesim::config::CorsOrigins::Any,
        state_file: None,
        state_interval: std::time::Duration::from_secs(5),
        body_timeout: std::time::Duration::from_secs(30),
    };
    AppState::build(&settings, Clock::system(), BASE_URL.to_owned()).expect("state builds")
}
