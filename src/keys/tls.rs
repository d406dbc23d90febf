use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::files::KeyError;
use super::names;

/// The rustls configuration of the HTTPS listener: the server certificate and the CA.
pub(super) fn server_config(dir: &Path) -> Result<rustls::ServerConfig, KeyError> {
    let cert_path = dir.join(names::SERVER_CERT);
    let ca_path = dir.join(names::CA_CERT);
    let key_path = dir.join(names::SERVER_KEY);
    let cert = CertificateDer::from_pem_file(&cert_path)
        .map_err(|e| KeyError::Invalid(cert_path.clone(), e.to_string()))?;
    let ca = CertificateDer::from_pem_file(&ca_path)
        .map_err(|e| KeyError::Invalid(ca_path.clone(), e.to_string()))?;
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .map_err(|e| KeyError::Invalid(key_path.clone(), e.to_string()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| {
            b.with_no_client_auth()
                .with_single_cert(vec![cert, ca], key)
        })
        .map_err(|e| KeyError::Invalid(cert_path, e.to_string()))
}
