//! The `certs/` directory: a local CA, a TLS server certificate signed by it, and helsesim's
//! token-signing key(s). Generated on first start, reused afterwards, so tokens and trust
//! survive restarts.
//!
//! | file | what |
//! | --- | --- |
//! | `ca.crt`, `ca.key` | the local CA (trust `ca.crt` to use the HTTPS port) |
//! | `server.crt`, `server.key` | the TLS certificate; `server.json` records its hosts and expiry |
//! | `token-signing.key` | the RSA-2048 key (PKCS#8) that signs every token |
//! | `token-signing-*.key` | optional extra keys, published in the JWKS but not used to sign |

mod files;
pub mod rotation;
mod tls;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::jose::TokenSigner;
use chrono::{DateTime, Utc};
pub use rotation::SigningKeys;

pub use files::KeyError;

/// File names inside the certs directory.
pub mod names {
    /// The CA certificate users trust.
    pub const CA_CERT: &str = "ca.crt";
    /// The CA private key.
    pub const CA_KEY: &str = "ca.key";
    /// The TLS server certificate.
    pub const SERVER_CERT: &str = "server.crt";
    /// The TLS server private key.
    pub const SERVER_KEY: &str = "server.key";
    /// Hosts and expiry of the server certificate.
    pub const SERVER_META: &str = "server.json";
    /// The token-signing key.
    pub const SIGNING_KEY: &str = "token-signing.key";
}

/// Everything cryptographic helsesim needs at run time, loaded once.
pub struct KeyMaterial {
    /// HelseID's signing keys: the one that signs every token (RS256), the JWKS, rotation.
    pub signing: Arc<SigningKeys>,
    /// The TLS configuration for the HTTPS listener.
    pub tls: Arc<rustls::ServerConfig>,
    /// Where the CA certificate is, for the start-up message.
    pub ca_cert_path: PathBuf,
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("signing", &self.signing)
            .field("ca_cert_path", &self.ca_cert_path)
            .finish()
    }
}

/// What [`ensure`] did, for the `certs` command's report.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Generated {
    /// Files written this time.
    pub written: Vec<PathBuf>,
}

/// Creates whatever is missing in `dir`: the CA, a server certificate covering `hosts` (reissued
/// when a host is missing or it expires within 30 days), the signing key. With `force`, all of
/// it is made anew.
pub fn ensure(
    dir: &Path,
    hosts: &[String],
    now: DateTime<Utc>,
    force: bool,
) -> Result<Generated, KeyError> {
    files::ensure(dir, hosts, now, force)
}

/// Ensures the directory is complete (see [`ensure`]) and loads it.
pub fn load_or_create(
    dir: &Path,
    hosts: &[String],
    now: DateTime<Utc>,
) -> Result<KeyMaterial, KeyError> {
    ensure(dir, hosts, now, false)?;
    let signer = TokenSigner::from_pkcs8_pem(&files::read(dir, names::SIGNING_KEY)?)
        .map_err(|e| KeyError::Invalid(dir.join(names::SIGNING_KEY), e.to_string()))?;
    let mut published = Vec::new();
    for extra in files::extra_signing_keys(dir)? {
        let pem = std::fs::read_to_string(&extra).map_err(|e| KeyError::io(&extra, e))?;
        let key = TokenSigner::from_pkcs8_pem(&pem)
            .map_err(|e| KeyError::Invalid(extra.clone(), e.to_string()))?;
        published.push(key.public_jwk().clone());
    }
    let signing = SigningKeys::new(signer, published)
        .map_err(|e| KeyError::Invalid(dir.join(names::SIGNING_KEY), e.to_string()))?;
    let tls = tls::server_config(dir)?;
    Ok(KeyMaterial {
        signing: Arc::new(signing),
        tls: Arc::new(tls),
        ca_cert_path: dir.join(names::CA_CERT),
    })
}

/// The hosts the server certificate must cover: the fixed local names plus the public host.
pub fn certificate_hosts(public_host: Option<&str>) -> Vec<String> {
    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1", "helsesim"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    if let Some(host) = public_host {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if !hosts.iter().any(|h| h == host) {
            hosts.push(host.to_owned());
        }
    }
    hosts
}
