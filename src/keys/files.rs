use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike as _, TimeDelta, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use serde::{Deserialize, Serialize};

use super::{Generated, names};

/// Why the certs directory could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}", path = .0.display(), source = .1)]
    Io(PathBuf, std::io::Error),
    /// A file exists but cannot be used.
    #[error(
        "{path}: {why} (delete it, or run `helsesim certs --force`, to generate a new one)",
        path = .0.display(),
        why = .1
    )]
    Invalid(PathBuf, String),
    /// Key or certificate generation failed.
    #[error("generating keys failed: {0}")]
    Generate(#[from] rcgen::Error),
}

impl KeyError {
    pub(super) fn io(path: &Path, e: std::io::Error) -> Self {
        Self::Io(path.to_owned(), e)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct ServerMeta {
    hosts: Vec<String>,
    not_after: DateTime<Utc>,
}

pub(super) fn read(dir: &Path, name: &str) -> Result<String, KeyError> {
    let path = dir.join(name);
    fs::read_to_string(&path).map_err(|e| KeyError::io(&path, e))
}

pub(super) fn extra_signing_keys(dir: &Path) -> Result<Vec<PathBuf>, KeyError> {
    let entries = fs::read_dir(dir).map_err(|e| KeyError::io(dir, e))?;
    let mut extra: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("token-signing-") && n.ends_with(".key"))
        })
        .collect();
    extra.sort();
    Ok(extra)
}

pub(super) fn ensure(
    dir: &Path,
    hosts: &[String],
    now: DateTime<Utc>,
    force: bool,
) -> Result<Generated, KeyError> {
    fs::create_dir_all(dir).map_err(|e| KeyError::io(dir, e))?;
    let mut generated = Generated::default();
    let exists = |name: &str| !force && dir.join(name).exists();

    let ca_key = if exists(names::CA_KEY) && exists(names::CA_CERT) {
        let pem = read(dir, names::CA_KEY)?;
        KeyPair::from_pem(&pem)
            .map_err(|e| KeyError::Invalid(dir.join(names::CA_KEY), e.to_string()))?
    } else {
        let key = KeyPair::generate()?;
        let cert = ca_params(now).self_signed(&key)?;
        write(
            dir,
            names::CA_KEY,
            &key.serialize_pem(),
            true,
            &mut generated,
        )?;
        write(dir, names::CA_CERT, &cert.pem(), false, &mut generated)?;
        key
    };
    // The issuer is rebuilt from the same parameters: same subject and key, so the server
    // certificate chains to the CA certificate on disk.
    let issuer = Issuer::new(ca_params(now), ca_key);

    let new_ca = generated
        .written
        .iter()
        .any(|p| p.ends_with(names::CA_CERT));
    if new_ca || !exists(names::SERVER_CERT) || !server_cert_fits(dir, hosts, now) {
        let key = KeyPair::generate()?;
        let not_after = crate::clock::after(now, TimeDelta::days(397));
        let cert = server_params(hosts, now, not_after)?.signed_by(&key, &issuer)?;
        write(
            dir,
            names::SERVER_KEY,
            &key.serialize_pem(),
            true,
            &mut generated,
        )?;
        write(dir, names::SERVER_CERT, &cert.pem(), false, &mut generated)?;
        let meta = ServerMeta {
            hosts: hosts.to_vec(),
            not_after,
        };
        let meta = serde_json::to_string_pretty(&meta).unwrap_or_default();
        write(dir, names::SERVER_META, &meta, false, &mut generated)?;
    }

    if !exists(names::SIGNING_KEY) {
        let key = KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)?;
        write(
            dir,
            names::SIGNING_KEY,
            &key.serialize_pem(),
            true,
            &mut generated,
        )?;
    }
    Ok(generated)
}

fn server_cert_fits(dir: &Path, hosts: &[String], now: DateTime<Utc>) -> bool {
    let Ok(meta) = read(dir, names::SERVER_META) else {
        return false;
    };
    let Ok(meta) = serde_json::from_str::<ServerMeta>(&meta) else {
        return false;
    };
    dir.join(names::SERVER_KEY).exists()
        && hosts.iter().all(|h| meta.hosts.contains(h))
        && meta.not_after - now > TimeDelta::days(30)
}

fn ca_params(now: DateTime<Utc>) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "helsesim local CA");
    dn.push(DnType::OrganizationName, "helsesim (test only)");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    set_validity(
        &mut params,
        now - TimeDelta::days(1),
        crate::clock::after(now, TimeDelta::days(3650)),
    );
    params
}

fn server_params(
    hosts: &[String],
    now: DateTime<Utc>,
    not_after: DateTime<Utc>,
) -> Result<CertificateParams, KeyError> {
    let mut params = CertificateParams::new(hosts.to_vec())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "helsesim");
    params.distinguished_name = dn;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    set_validity(&mut params, now - TimeDelta::days(1), not_after);
    Ok(params)
}

/// Sets a certificate's validity (whole days, which is all rcgen's date helper takes).
fn set_validity(params: &mut CertificateParams, from: DateTime<Utc>, to: DateTime<Utc>) {
    let ymd = |at: DateTime<Utc>| {
        let month = u8::try_from(at.month()).unwrap_or(1);
        let day = u8::try_from(at.day()).unwrap_or(1);
        rcgen::date_time_ymd(at.year(), month, day)
    };
    params.not_before = ymd(from);
    params.not_after = ymd(to);
}

/// Writes atomically (temp file + rename); private keys readable by the owner only.
fn write(
    dir: &Path,
    name: &str,
    contents: &str,
    private: bool,
    generated: &mut Generated,
) -> Result<(), KeyError> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(&tmp).map_err(|e| KeyError::io(&tmp, e))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| KeyError::io(&tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| KeyError::io(&path, e))?;
    generated.written.push(path);
    Ok(())
}
