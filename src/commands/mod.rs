//! The subcommands other than `serve`: `token`, `dpop-proof`, `jwk`, `keygen`, `client import`,
//! `certs`, `check-fixtures`, `healthcheck`, `advice`.

pub mod advice;
pub mod client_keys;
pub mod decode;
pub mod generate;
pub mod token;

use std::path::Path;
use std::time::Duration;

use crate::clock::Clock;
use crate::config::{SettingsArgs, base_url_string};
use crate::fixtures::{self, FixtureError};
use crate::keys::{self, KeyError};

/// A failed command: the message to print and the exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CommandError {
    /// What to print.
    pub message: String,
    /// Process exit code.
    pub exit_code: i32,
}

impl CommandError {
    /// A failure with exit code 1.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            exit_code: 1,
        }
    }
}

impl From<FixtureError> for CommandError {
    fn from(e: FixtureError) -> Self {
        Self {
            message: format!("invalid fixtures: {e}"),
            exit_code: 2,
        }
    }
}

impl From<KeyError> for CommandError {
    fn from(e: KeyError) -> Self {
        Self::new(format!("certs: {e}"))
    }
}

/// The base URL a command talks to: the public URL, or what the server uses by default for it
/// (`http://localhost:<port>`), so that an issuer built from it matches the server's.
pub fn local_base_url(settings: &SettingsArgs) -> String {
    settings
        .public_url
        .as_ref()
        .map(base_url_string)
        .unwrap_or_else(|| format!("http://localhost:{}", settings.port))
}

/// The server a command talks to: `--url`, else [`local_base_url`].
pub fn server_url(url: Option<&str>, settings: &SettingsArgs) -> String {
    url.map_or_else(|| local_base_url(settings), str::to_owned)
}

/// `request` with the control plane's admin token, when one is set.
pub fn with_admin_token(
    request: reqwest::RequestBuilder,
    token: Option<&str>,
) -> reqwest::RequestBuilder {
    match token.filter(|t| !t.is_empty()) {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
}

/// Sends a request to helsesim's control plane at `url`; not reaching it is an error that says
/// so.
pub async fn send_admin(
    request: reqwest::RequestBuilder,
    url: &str,
) -> Result<reqwest::Response, CommandError> {
    request
        .send()
        .await
        .map_err(|e| CommandError::new(format!("{url}: {e} (is helsesim running?)")))
}

/// An HTTP client that trusts helsesim's CA (when the certs directory has one).
pub fn http_client(certs_dir: &Path) -> Result<reqwest::Client, CommandError> {
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none());
    if let Ok(pem) = std::fs::read(certs_dir.join(keys::names::CA_CERT)) {
        let ca = reqwest::Certificate::from_pem(&pem)
            .map_err(|e| CommandError::new(format!("cannot read the CA certificate: {e}")))?;
        builder = builder.add_root_certificate(ca);
    }
    builder
        .build()
        .map_err(|e| CommandError::new(format!("cannot build an HTTP client: {e}")))
}

/// `helsesim check-fixtures [DIR]`: validates a fixtures directory; a summary on success.
pub fn check_fixtures(dir: &Path) -> Result<String, CommandError> {
    let loaded = fixtures::load_dir_checked(dir, Clock::system().now())?;
    let mut report = vec![format!(
        "fixtures OK: {} ({} API resources, {} HelseID clients, {} test users, {} SFM tenants, {} \
         patients in the national systems, {} kjernejournal organisations)",
        dir.display(),
        loaded.resources.entries().len(),
        loaded.clients.len(),
        loaded.users.len(),
        loaded.sfm.tenants.len(),
        loaded.national.len(),
        loaded.kjernejournal.organisations.len()
    )];
    report.extend(loaded.warnings.into_iter().map(|w| format!("warning: {w}")));
    Ok(report.join("\n"))
}

/// `helsesim certs [--force]`: creates what is missing in the certs directory (everything anew
/// with `force`) and reports the files written.
pub fn certs(settings: &SettingsArgs, force: bool) -> Result<String, CommandError> {
    let base = local_base_url(settings);
    let host = url::Url::parse(&base)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned));
    let hosts = keys::certificate_hosts(host.as_deref());
    let generated = keys::ensure(&settings.certs, &hosts, Clock::system().now(), force)?;
    if generated.written.is_empty() {
        return Ok(format!(
            "{}: nothing to do (use --force to make a new CA, TLS certificate and signing key)",
            settings.certs.display()
        ));
    }
    let mut lines = vec![format!("wrote in {}:", settings.certs.display())];
    lines.extend(
        generated
            .written
            .iter()
            .map(|p| format!("  {}", p.display())),
    );
    lines.push(format!("the certificate covers: {}", hosts.join(", ")));
    Ok(lines.join("\n"))
}

/// Where `serve` notes its bound HTTP port, so that `healthcheck` (Docker's HEALTHCHECK) follows
/// a port set on the command line (`docker run … serve --port 9000`).
pub fn port_file() -> std::path::PathBuf {
    std::env::temp_dir().join("helsesim.port")
}

/// `helsesim healthcheck`: succeeds if the server answers `GET /healthz` with 200. Without
/// `--url` it asks the port the running `serve` noted, else `HELSESIM_PORT`'s.
pub async fn healthcheck(
    settings: &SettingsArgs,
    url: Option<String>,
) -> Result<String, CommandError> {
    let noted = std::fs::read_to_string(port_file())
        .ok()
        .and_then(|p| p.trim().parse::<u16>().ok());
    let base =
        url.unwrap_or_else(|| format!("http://127.0.0.1:{}", noted.unwrap_or(settings.port)));
    let target = format!("{}/healthz", base.trim_end_matches('/'));
    let client = http_client(&settings.certs)?;
    let response = client
        .get(&target)
        .timeout(Duration::from_secs(3))
        .send()
        .await
        .map_err(|e| CommandError::new(format!("{target}: {e}")))?;
    if response.status().is_success() {
        Ok(format!("{target}: {}", response.status()))
    } else {
        Err(CommandError::new(format!(
            "{target}: {}",
            response.status()
        )))
    }
}
