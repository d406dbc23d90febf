//! From a key to what helsesim needs: `helsesim jwk` (the public JWK to register),
//! `helsesim keygen` (a new key pair) and `helsesim client import` (a HelseID Selvbetjening
//! client file as a runtime client).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::{CommandError, http_client, send_admin, server_url, with_admin_token};
use crate::config::SettingsArgs;
use crate::jose::{PrivateKey, SigningAlg};

/// Options of `helsesim jwk`.
#[derive(Debug, Clone, clap::Args)]
pub struct JwkOptions {
    /// The private key: a PKCS#8 PEM, a private JWK, or a HelseID Selvbetjening client file.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The key id to register it under [default: its RFC 7638 thumbprint].
    #[arg(long)]
    pub kid: Option<String>,
    /// The algorithm to name in the JWK [default: RS256 for RSA, the curve's ES algorithm].
    #[arg(long)]
    pub alg: Option<String>,
}

/// Options of `helsesim keygen`.
#[derive(Debug, Clone, clap::Args)]
pub struct KeygenOptions {
    /// ES256 (P-256), ES384 (P-384), RS256 or PS256 (RSA 2048).
    #[arg(long, default_value = "ES256")]
    pub alg: String,
    /// Write the private key (PKCS#8 PEM, mode 0600) here and print its public JWK; without it
    /// the PEM is printed.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Options of `helsesim client import`.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportOptions {
    /// The client file HelseID Selvbetjening downloads (clientId, clientName, scopes,
    /// redirectUris, privateJwk).
    pub file: PathBuf,
    /// The organisation of a single-tenant client (its orgnr_parent).
    #[arg(long, value_name = "ORGNR", conflicts_with = "supplier")]
    pub orgnr: Option<String>,
    /// The supplier of a multi-tenant client (its orgnr_supplier).
    #[arg(long, value_name = "ORGNR")]
    pub supplier: Option<String>,
    /// Tokens must be DPoP-bound.
    #[arg(long)]
    pub require_dpop: bool,
    /// The server's base URL [default: HELSESIM_PUBLIC_URL or http://localhost:<port>].
    #[arg(long)]
    pub url: Option<String>,
    /// How to reach the server.
    #[command(flatten)]
    pub access: super::token::ServerAccess,
}

fn read_key(path: &Path) -> Result<(PrivateKey, String), CommandError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CommandError::new(format!("{}: {e}", path.display())))?;
    let key = PrivateKey::from_file_text(&text)
        .map_err(|e| CommandError::new(format!("{}: {e}", path.display())))?;
    Ok((key, text))
}

/// The public JWK of `key` with `kid` (default: the thumbprint), `alg` and `use`.
fn registrable_jwk(
    key: &PrivateKey,
    kid: Option<&str>,
    alg: Option<&str>,
) -> Result<(Value, String), CommandError> {
    let thumbprint = key
        .thumbprint()
        .map_err(|e| CommandError::new(e.to_string()))?;
    let alg = match alg {
        None => key.default_alg(),
        Some(name) => SigningAlg::parse(name)
            .filter(|alg| key.supports(*alg))
            .ok_or_else(|| {
                CommandError::new(format!(
                    "--alg {name}: this key signs {} (an RSA key: RS256/384/512 or PS256/384/512)",
                    key.default_alg().as_str()
                ))
            })?,
    };
    let mut jwk = key.public_jwk();
    jwk["kid"] = json!(kid.unwrap_or(&thumbprint));
    jwk["alg"] = json!(alg.as_str());
    jwk["use"] = json!("sig");
    Ok((jwk, thumbprint))
}

fn jwk_output(jwk: Value, thumbprint: &str) -> String {
    let out = json!({"thumbprint": thumbprint, "jwks": {"keys": [jwk]}});
    serde_json::to_string_pretty(&out).unwrap_or_default()
}

/// `helsesim jwk --key FILE`: the public JWK (as a `jwks` ready for a client entry) and its
/// RFC 7638 thumbprint.
pub fn jwk(options: &JwkOptions) -> Result<String, CommandError> {
    let (key, _) = read_key(&options.key)?;
    let (jwk, thumbprint) = registrable_jwk(&key, options.kid.as_deref(), options.alg.as_deref())?;
    Ok(jwk_output(jwk, &thumbprint))
}

/// `helsesim keygen`: a new key pair.
pub fn keygen(options: &KeygenOptions) -> Result<String, CommandError> {
    let alg = options.alg.to_ascii_uppercase();
    let generated = match alg.as_str() {
        "ES256" => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        "ES384" => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
        "RS256" | "PS256" => {
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        }
        other => {
            return Err(CommandError {
                message: format!("--alg {other}: helsesim makes ES256, ES384, RS256 or PS256 keys"),
                exit_code: 2,
            });
        }
    }
    .map_err(|e| CommandError::new(format!("cannot make a key: {e}")))?;
    let pem = generated.serialize_pem();
    let Some(out) = &options.out else {
        return Ok(pem.trim_end().to_owned());
    };
    write_private(out, &pem)?;
    let key = PrivateKey::from_pem(&pem).map_err(|e| CommandError::new(e.to_string()))?;
    let (jwk, thumbprint) = registrable_jwk(&key, None, Some(&alg))?;
    Ok(jwk_output(jwk, &thumbprint))
}

/// Writes a private key readable by its owner only.
fn write_private(path: &Path, pem: &str) -> Result<(), CommandError> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| {
        CommandError::new(format!(
            "{}: {e} (keygen never overwrites a key)",
            path.display()
        ))
    })?;
    file.write_all(pem.as_bytes())
        .map_err(|e| CommandError::new(format!("{}: {e}", path.display())))
}

/// `helsesim client import FILE`: registers a HelseID Selvbetjening client file's client (its
/// id, name, scopes, redirect URIs and the public half of its key) with the running server.
pub async fn import_client(
    settings: &SettingsArgs,
    options: &ImportOptions,
) -> Result<String, CommandError> {
    let path = options.file.display().to_string();
    let (key, text) = read_key(&options.file)?;
    let file: Value =
        serde_json::from_str(&text).map_err(|e| CommandError::new(format!("{path}: {e}")))?;
    let client_id = file
        .get("clientId")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            CommandError::new(format!(
                "{path}: no clientId: not a HelseID Selvbetjening client file"
            ))
        })?;
    let (jwk, _) = registrable_jwk(&key, private_kid(&file).as_deref(), None)?;
    let entry = client_entry(&file, client_id, jwk, options)?;
    let body = register(settings, options, &entry).await?;
    let scope = strings(&file, "scopes")
        .into_iter()
        .find(|s| s.contains(':') && !s.starts_with("helseid://"))
        .unwrap_or_else(|| "<scope>".to_owned());
    Ok(format!(
        "{}\nimported: helsesim token --client {client_id} --key {path} --scope {scope}",
        serde_json::to_string_pretty(&body).unwrap_or_default()
    ))
}

/// The client file's list `name` (of strings); empty when absent.
fn strings(file: &Value, name: &str) -> Vec<String> {
    file.get(name)
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The kid of the client file's private JWK (HelseID's own, kept when registering the key).
fn private_kid(file: &Value) -> Option<String> {
    file.get("privateJwk")
        .and_then(Value::as_str)
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .and_then(|s| serde_json::from_str::<Value>(&s).ok())
        .and_then(|jwk| jwk.get("kid").and_then(Value::as_str).map(str::to_owned))
}

/// The client entry for `POST /_admin/helseid/clients`: the file's client with the public
/// `jwk`, its organisation from `--orgnr` (single-tenant) or `--supplier` (multi-tenant).
fn client_entry(
    file: &Value,
    client_id: &str,
    jwk: Value,
    options: &ImportOptions,
) -> Result<Value, CommandError> {
    let mut entry = json!({
        "client_id": client_id,
        "jwks": {"keys": [jwk]},
        "scopes": strings(file, "scopes"),
        "require_dpop": options.require_dpop,
    });
    if let Some(name) = file.get("clientName").and_then(Value::as_str) {
        entry["name"] = json!(name);
    }
    let redirect_uris = strings(file, "redirectUris");
    if !redirect_uris.is_empty() {
        entry["redirect_uris"] = json!(redirect_uris);
    }
    let post_logout = strings(file, "postLogoutRedirectUris");
    if !post_logout.is_empty() {
        entry["post_logout_redirect_uris"] = json!(post_logout);
    }
    match (&options.orgnr, &options.supplier) {
        (Some(orgnr), _) => {
            entry["tenancy"] = json!("single-tenant");
            entry["orgnr_parent"] = json!(orgnr);
        }
        (None, Some(supplier)) => {
            entry["tenancy"] = json!("multi-tenant");
            entry["orgnr_supplier"] = json!(supplier);
        }
        (None, None) => {
            return Err(CommandError {
                message: "the client file names no organisation: give --orgnr ORGNR (a \
                          single-tenant client's organisation) or --supplier ORGNR (a \
                          multi-tenant client's supplier)"
                    .to_owned(),
                exit_code: 2,
            });
        }
    }
    Ok(entry)
}

/// Registers `entry` through the server's control plane; the server's answer.
async fn register(
    settings: &SettingsArgs,
    options: &ImportOptions,
    entry: &Value,
) -> Result<Value, CommandError> {
    let base = server_url(options.url.as_deref(), settings);
    let url = format!("{}/_admin/helseid/clients", base.trim_end_matches('/'));
    let request = with_admin_token(
        http_client(&settings.certs)?.post(&url).json(entry),
        settings.admin_token.as_deref(),
    );
    let response = send_admin(request, &url).await?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .map_err(|e| CommandError::new(format!("{url}: {status}: {e}")))?;
    if !status.is_success() {
        return Err(CommandError::new(format!("{url}: {status}: {body}")));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(orgnr: Option<&str>, supplier: Option<&str>) -> ImportOptions {
        ImportOptions {
            file: PathBuf::from("client.json"),
            orgnr: orgnr.map(str::to_owned),
            supplier: supplier.map(str::to_owned),
            require_dpop: true,
            url: None,
            access: super::super::token::ServerAccess {
                certs: None,
                admin_token: None,
            },
        }
    }

    fn file() -> Value {
        json!({
            "clientId": "c-1",
            "clientName": "My EHR",
            "scopes": ["openid", "e-helse:sfm.api/sfm.api"],
            "redirectUris": ["https://ehr.example/cb"],
            "postLogoutRedirectUris": [],
            "privateJwk": "%7B%22kty%22%3A%22EC%22%2C%22kid%22%3A%22helseid-kid%22%7D",
        })
    }

    #[test]
    fn a_client_file_becomes_a_client_entry_of_the_tenancy_asked_for() {
        let jwk = json!({"kty": "EC"});
        let single = client_entry(
            &file(),
            "c-1",
            jwk.clone(),
            &options(Some("917897468"), None),
        )
        .unwrap();
        assert_eq!(
            single,
            json!({
                "client_id": "c-1",
                "name": "My EHR",
                "jwks": {"keys": [{"kty": "EC"}]},
                "scopes": ["openid", "e-helse:sfm.api/sfm.api"],
                "redirect_uris": ["https://ehr.example/cb"],
                "require_dpop": true,
                "tenancy": "single-tenant",
                "orgnr_parent": "917897468",
            })
        );
        let multi = client_entry(
            &file(),
            "c-1",
            jwk.clone(),
            &options(None, Some("994598759")),
        )
        .unwrap();
        assert_eq!(multi["tenancy"], "multi-tenant");
        assert_eq!(multi["orgnr_supplier"], "994598759");
        let neither = client_entry(&file(), "c-1", jwk, &options(None, None)).unwrap_err();
        assert_eq!(neither.exit_code, 2);
        assert!(
            neither
                .message
                .starts_with("the client file names no organisation")
        );
    }

    #[test]
    fn the_private_jwk_s_kid_is_kept() {
        assert_eq!(private_kid(&file()).as_deref(), Some("helseid-kid"));
        assert_eq!(private_kid(&json!({"privateJwk": "not json"})), None);
        assert_eq!(private_kid(&json!({})), None);
    }
}
