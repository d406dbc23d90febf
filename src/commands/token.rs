//! `helsesim token`: builds a client assertion with the client's test key (from the fixtures)
//! and gets an access token from the running server, or signs one locally with `--local`.

use std::path::PathBuf;

use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::{CommandError, http_client, server_url, with_admin_token};
use crate::clock::Clock;
use crate::config::{Settings, SettingsArgs};
use crate::fixtures;
use crate::helseid::client_auth::ASSERTION_TYPE;
use crate::helseid::model::{Client, ClientEntry, Tenancy};
use crate::helseid::tenancy::{
    HELSEID_AUTHORIZATION, MULTI_TENANT_SYSTEM, SFM_JOURNAL_ID, SINGLE_TENANT_SYSTEM,
};
use crate::jose::{PrivateKey, SigningAlg};
use crate::random;
use crate::state::AppState;

/// Where a shipped client's test private key is, under the fixtures directory.
pub fn client_key_path(fixtures_dir: &std::path::Path, client_id: &str) -> PathBuf {
    fixtures_dir
        .join("helseid/client-keys")
        .join(format!("{client_id}.pem"))
}

/// What `helsesim token` was asked for (its command-line arguments).
#[derive(Debug, Clone, clap::Args)]
pub struct TokenOptions {
    /// The client: its client_id or its name in the fixtures.
    #[arg(long)]
    pub client: String,
    /// The scope(s), space-separated (one API per token).
    #[arg(long, required_unless_present = "assertion_only")]
    pub scope: Option<String>,
    /// The organisation: PARENT[:CHILD] for a multi-tenant client, CHILD for a single-tenant one.
    #[arg(long)]
    pub org: Option<String>,
    /// An SFM journal id (multi-tenant SFM clients).
    #[arg(long)]
    pub journal_id: Option<String>,
    /// The client's private key (PKCS#8 PEM) [default:
    /// fixtures/helseid/client-keys/<client_id>.pem].
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// Sign the token locally (no server needed) with the certs directory's signing key.
    #[arg(long)]
    pub local: bool,
    /// The server's base URL [default: HELSESIM_PUBLIC_URL or http://localhost:<port>].
    #[arg(long)]
    pub url: Option<String>,
    /// Print the whole token response as JSON (with the DPoP key when the token is DPoP-bound).
    #[arg(long)]
    pub json: bool,
    /// Get a DPoP-bound token, for any client (clients with `require_dpop` always do); the key is
    /// made anew unless `--dpop-key` gives one.
    #[arg(long)]
    pub dpop: bool,
    /// Your DPoP private key (EC P-256, PEM) to bind the token to (implies `--dpop`).
    #[arg(long, value_name = "FILE")]
    pub dpop_key: Option<PathBuf>,
    /// Only print a signed client assertion (valid 60 s), to call the token endpoint yourself.
    #[arg(long, conflicts_with_all = ["local", "json"])]
    pub assertion_only: bool,
    /// Log this test user (pid) in instead: PAR, authorize with login_hint, code exchange; the
    /// scope then includes openid and the identity scopes, e.g. "openid
    /// helseid://scopes/identity/pid e-helse:sfm.api/sfm.api".
    #[arg(long, value_name = "PID", conflicts_with_all = ["local", "assertion_only"])]
    pub user: Option<String>,
    /// The fixtures directory the client is looked up in [default: HELSESIM_FIXTURES or
    /// ./fixtures].
    #[arg(long)]
    pub fixtures: Option<PathBuf>,
    /// How to reach the server.
    #[command(flatten)]
    pub access: ServerAccess,
}

impl TokenOptions {
    /// The settings of the environment with this command's fixtures, certs and admin token.
    pub fn apply(&self, settings: SettingsArgs) -> SettingsArgs {
        let mut settings = self.access.apply(settings);
        if let Some(fixtures) = &self.fixtures {
            settings.fixtures = fixtures.clone();
        }
        settings
    }
}

/// How a command reaches the running server: the CA to trust and the control plane's token.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerAccess {
    /// The certs directory: its CA is trusted (and `token --local` signs with its key)
    /// [default: HELSESIM_CERTS or ./certs].
    #[arg(long)]
    pub certs: Option<PathBuf>,
    /// The control plane's token, to read the server's clock [default: HELSESIM_ADMIN_TOKEN].
    #[arg(long)]
    pub admin_token: Option<String>,
}

impl ServerAccess {
    /// The settings of the environment with this certs directory and admin token.
    pub fn apply(&self, mut settings: SettingsArgs) -> SettingsArgs {
        if let Some(certs) = &self.certs {
            settings.certs = certs.clone();
        }
        if let Some(token) = &self.admin_token {
            settings.admin_token = Some(token.clone());
        }
        settings
    }
}

/// A client's private key for client assertions, with the algorithm and `kid` it is
/// registered with.
pub struct SigningKey {
    key: PrivateKey,
    alg: SigningAlg,
    kid: Option<String>,
}

/// The client: from the fixtures, else (a client added at run time) from the server's control
/// plane, `GET /_admin/helseid/clients`.
async fn find_client(
    settings: &SettingsArgs,
    options: &TokenOptions,
    loaded: &fixtures::Fixtures,
) -> Result<(Client, bool), CommandError> {
    let named =
        |c: &Client| c.id() == options.client || c.entry.name.as_deref() == Some(&options.client);
    if let Some(client) = loaded.clients.iter().find(|c| named(c)) {
        return Ok((client.clone(), true));
    }
    if options.local {
        return Err(CommandError::new(format!(
            "no client '{}' in {} (for a client added at run time, leave out --local: the CLI then \
             asks the server)",
            options.client,
            settings.fixtures.display()
        )));
    }
    let base = server_url(options.url.as_deref(), settings);
    let url = format!("{}/_admin/helseid/clients", base.trim_end_matches('/'));
    let http = http_client(&settings.certs)?;
    let request = with_admin_token(http.get(&url), settings.admin_token.as_deref());
    let not_found = || {
        CommandError::new(format!(
            "no client '{}' in {} nor at {url}",
            options.client,
            settings.fixtures.display()
        ))
    };
    let response = request.send().await.map_err(|e| {
        CommandError::new(format!(
            "no client '{}' in {}, and {url}: {e} (is helsesim running?)",
            options.client,
            settings.fixtures.display()
        ))
    })?;
    let status = response.status();
    if !status.is_success() {
        return Err(CommandError::new(format!(
            "no client '{}' in {}, and {url} answered {status}{}",
            options.client,
            settings.fixtures.display(),
            if matches!(status.as_u16(), 401 | 403) {
                ": pass --admin-token (or set HELSESIM_ADMIN_TOKEN)"
            } else {
                ""
            }
        )));
    }
    let entries: Vec<ClientEntry> = response
        .json()
        .await
        .map_err(|e| CommandError::new(format!("{url}: {e}")))?;
    let entry = entries
        .into_iter()
        .find(|e| e.client_id == options.client || e.name.as_deref() == Some(&options.client))
        .ok_or_else(not_found)?;
    let client = Client::validate(entry, &loaded.resources)
        .map_err(|e| CommandError::new(format!("{url}: client '{}': {e}", options.client)))?;
    Ok((client, false))
}

/// Runs the command; returns what to print.
pub async fn run(settings: &SettingsArgs, options: TokenOptions) -> Result<String, CommandError> {
    let loaded = fixtures::load_dir(&settings.fixtures, Clock::system().now())?;
    let (client, in_fixtures) = find_client(settings, &options, &loaded).await?;
    let client = &client;
    let key_path = match (&options.key, in_fixtures) {
        (Some(path), _) => path.clone(),
        (None, true) => client_key_path(&settings.fixtures, client.id()),
        (None, false) => {
            return Err(CommandError::new(format!(
                "client '{}' was added at run time: give its private key with --key FILE (a PKCS#8 \
                 PEM, a private JWK, or the client file HelseID Selvbetjening downloads)",
                client.id()
            )));
        }
    };
    let signing = load_key(&key_path, client)?;
    let details = assertion_details(client, &options)?;
    if options.assertion_only {
        let base = server_url(options.url.as_deref(), settings);
        let issuer = format!("{}/helseid", base.trim_end_matches('/'));
        return client_assertion(client, &signing, &issuer, &details, Clock::system().now());
    }
    let scope = options.scope.clone().unwrap_or_default();
    let dpop_key = match &options.dpop_key {
        Some(path) => Some(read_dpop_key(path)?),
        None if options.dpop || client.entry.require_dpop => {
            if !options.json {
                return Err(CommandError {
                    message: format!(
                        "a DPoP-bound token is useless without its key, and printing the token \
                         alone would throw the key away{}: add --json (prints the key too, as \
                         dpop_private_key_pem) or --dpop-key FILE (your own EC P-256 key)",
                        if options.dpop {
                            ""
                        } else {
                            " (this client requires DPoP)"
                        }
                    ),
                    exit_code: 2,
                });
            }
            Some(ephemeral_dpop_key()?)
        }
        None => None,
    };

    let response = if options.local {
        local_token(
            settings,
            client,
            &signing,
            details,
            dpop_key.as_ref(),
            &scope,
        )?
    } else {
        remote_token(
            settings,
            client,
            &signing,
            details,
            dpop_key.as_ref(),
            &options,
        )
        .await?
    };
    if options.json {
        let mut out = response.clone();
        if let (Some((_, _, pem)), Some(map), None) =
            (&dpop_key, out.as_object_mut(), &options.dpop_key)
        {
            map.insert("dpop_private_key_pem".to_owned(), json!(pem));
        }
        return Ok(serde_json::to_string_pretty(&out).unwrap_or_default());
    }
    response
        .get("access_token")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| CommandError::new(format!("unexpected token response: {response}")))
}

/// The private key at `path`, which must be one of `client`'s registered keys.
pub fn load_key(path: &std::path::Path, client: &Client) -> Result<SigningKey, CommandError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CommandError::new(format!("{}: {e}", path.display())))?;
    let key = PrivateKey::from_file_text(&text)
        .map_err(|e| CommandError::new(format!("{}: {e}", path.display())))?;
    let thumbprint = key
        .thumbprint()
        .map_err(|e| CommandError::new(format!("{}: {e}", path.display())))?;
    let Some(index) = client
        .keys
        .iter()
        .position(|k| k.thumbprint() == thumbprint)
    else {
        return Err(CommandError::new(format!(
            "{}: its public key (RFC 7638 thumbprint {thumbprint}) is not registered for client \
             '{}' (helsesim jwk --key {} prints the JWK to register)",
            path.display(),
            client.id(),
            path.display()
        )));
    };
    // The algorithm the registered JWK names, else the key's own default.
    let alg = client.entry.jwks.keys[index]
        .get("alg")
        .and_then(Value::as_str)
        .and_then(SigningAlg::parse)
        .filter(|alg| key.supports(*alg))
        .unwrap_or_else(|| key.default_alg());
    Ok(SigningKey {
        alg,
        kid: client.keys[index].kid().map(str::to_owned),
        key,
    })
}

fn assertion_details(client: &Client, options: &TokenOptions) -> Result<Vec<Value>, CommandError> {
    let mut details = Vec::new();
    if let Some(org) = &options.org {
        let (system, value) = match client.entry.tenancy {
            Tenancy::MultiTenant => (MULTI_TENANT_SYSTEM, format!("NO:ORGNR:{org}")),
            Tenancy::SingleTenant => (SINGLE_TENANT_SYSTEM, org.clone()),
        };
        details.push(json!({
            "type": HELSEID_AUTHORIZATION,
            "practitioner_role": {
                "organization": {"identifier": {"system": system, "type": "ENH", "value": value}}
            }
        }));
    }
    if let Some(journal_id) = &options.journal_id {
        details.push(json!({"type": SFM_JOURNAL_ID, "value": {"journal_id": journal_id}}));
    }
    Ok(details)
}

/// A `private_key_jwt` client assertion for `audience` (HelseID's issuer), valid 60 s.
pub fn client_assertion(
    client: &Client,
    key: &SigningKey,
    audience: &str,
    details: &[Value],
    now: DateTime<Utc>,
) -> Result<String, CommandError> {
    let mut header = serde_json::Map::new();
    header.insert("typ".to_owned(), json!("client-authentication+jwt"));
    if let Some(kid) = &key.kid {
        header.insert("kid".to_owned(), json!(kid));
    }
    let mut claims = json!({
        "iss": client.id(),
        "sub": client.id(),
        "aud": audience,
        "iat": now.timestamp(),
        "nbf": now.timestamp(),
        "exp": crate::clock::after(now, TimeDelta::seconds(60)).timestamp(),
        "jti": random::hex_id(),
    });
    if !details.is_empty() {
        claims["assertion_details"] = json!(details);
    }
    key.key
        .sign_jws(key.alg, header, &claims)
        .map_err(|e| CommandError::new(format!("cannot sign the client assertion: {e}")))
}

/// (key, public JWK, private key PEM) for DPoP proofs.
pub type DpopKey = (EncodingKey, Jwk, String);

/// A new EC P-256 DPoP key.
pub fn ephemeral_dpop_key() -> Result<DpopKey, CommandError> {
    let generated = rcgen::KeyPair::generate().map_err(|e| CommandError::new(e.to_string()))?;
    let pem = generated.serialize_pem();
    let key =
        EncodingKey::from_ec_pem(pem.as_bytes()).map_err(|e| CommandError::new(e.to_string()))?;
    let jwk = Jwk::from_encoding_key(&key, Algorithm::ES256)
        .map_err(|e| CommandError::new(e.to_string()))?;
    Ok((key, jwk, pem))
}

/// A DPoP key from an EC P-256 private key in PEM.
fn read_dpop_key(path: &std::path::Path) -> Result<DpopKey, CommandError> {
    let pem = std::fs::read_to_string(path)
        .map_err(|e| CommandError::new(format!("cannot read the key {}: {e}", path.display())))?;
    let key = EncodingKey::from_ec_pem(pem.as_bytes()).map_err(|e| {
        CommandError::new(format!(
            "{} is not an EC P-256 private key in PEM: {e}",
            path.display()
        ))
    })?;
    let jwk = Jwk::from_encoding_key(&key, Algorithm::ES256)
        .map_err(|e| CommandError::new(format!("{}: {e}", path.display())))?;
    Ok((key, jwk, pem))
}

/// A DPoP proof for `method` `url`; `access_token` adds its hash (`ath`) for an API call.
pub fn dpop_proof(
    key: &DpopKey,
    method: &str,
    url: &str,
    nonce: Option<&str>,
    access_token: Option<&str>,
    now: DateTime<Utc>,
) -> Result<String, CommandError> {
    let mut header = Header::new(Algorithm::ES256);
    header.typ = Some("dpop+jwt".to_owned());
    header.jwk = Some(key.1.clone());
    let mut claims =
        json!({"jti": random::hex_id(), "htm": method, "htu": url, "iat": now.timestamp()});
    if let Some(nonce) = nonce {
        claims["nonce"] = json!(nonce);
    }
    if let Some(token) = access_token {
        claims["ath"] = json!(crate::jose::sha256_b64url(token));
    }
    jsonwebtoken::encode(&header, &claims, &key.0).map_err(|e| CommandError::new(e.to_string()))
}

fn local_token(
    settings: &SettingsArgs,
    client: &Client,
    key: &SigningKey,
    details: Vec<Value>,
    dpop_key: Option<&DpopKey>,
    scope: &str,
) -> Result<Value, CommandError> {
    use crate::helseid::token::{RequestMeta, issue};
    let clock = Clock::system();
    let settings = Settings::from(settings);
    let base = match &settings.public_url {
        Some(url) => crate::config::base_url_string(url),
        None => format!("http://localhost:{}", settings.port),
    };
    let state = AppState::build(&settings, clock.clone(), base)
        .map_err(|e| CommandError::new(e.to_string()))?;
    let now = clock.now();
    let endpoints = &state.helseid.endpoints;
    let assertion = client_assertion(client, key, &endpoints.issuer, &details, now)?;
    let form = form_body(client, scope, &assertion);
    let params = crate::helseid::token::parse_form(form.as_bytes())
        .map_err(|e| CommandError::new(e.to_string()))?;
    let proof = dpop_key
        .map(|k| {
            dpop_proof(
                k,
                "POST",
                &endpoints.token,
                Some(&state.helseid.nonces.issue(now)),
                None,
                now,
            )
        })
        .transpose()?;
    let meta = RequestMeta {
        authorization: None,
        dpop: proof.as_deref(),
        urls: vec![endpoints.token.clone()],
    };
    let response =
        issue(&state.helseid, &params, &meta, now).map_err(|e| CommandError::new(e.to_string()))?;
    serde_json::to_value(response).map_err(|e| CommandError::new(e.to_string()))
}

fn form_body(client: &Client, scope: &str, assertion: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "client_credentials")
        .append_pair("client_id", client.id())
        .append_pair("scope", scope)
        .append_pair("client_assertion_type", ASSERTION_TYPE)
        .append_pair("client_assertion", assertion)
        .finish()
}

/// HelseID's endpoints, from its discovery document.
struct Discovered {
    issuer: String,
    token: String,
    par: String,
    authorize: String,
}

async fn discover(http: &reqwest::Client, base: &str) -> Result<Discovered, CommandError> {
    let url = format!(
        "{}/helseid/.well-known/openid-configuration",
        base.trim_end_matches('/')
    );
    let doc: Value = http
        .get(&url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| CommandError::new(format!("{url}: {e} (is helsesim running? try --local)")))?
        .json()
        .await
        .map_err(|e| CommandError::new(format!("{url}: {e}")))?;
    let field = |name: &str| doc[name].as_str().unwrap_or_default().to_owned();
    Ok(Discovered {
        issuer: field("issuer"),
        token: field("token_endpoint"),
        par: field("pushed_authorization_request_endpoint"),
        authorize: field("authorization_endpoint"),
    })
}

/// POSTs a form built by `form` (called again for the retry, so each try has a fresh client
/// assertion) with a DPoP proof when `dpop_key` is given, answering `use_dpop_nonce` once.
async fn post_form(
    http: &reqwest::Client,
    clock: &Clock,
    endpoint: &str,
    dpop_key: Option<&DpopKey>,
    form: impl Fn(DateTime<Utc>) -> Result<String, CommandError>,
) -> Result<Value, CommandError> {
    let mut nonce: Option<String> = None;
    for _ in 0..2 {
        let now = clock.now();
        let mut request = http
            .post(endpoint)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form(now)?);
        if let Some(dpop_key) = dpop_key {
            request = request.header(
                "DPoP",
                dpop_proof(dpop_key, "POST", endpoint, nonce.as_deref(), None, now)?,
            );
        }
        let response = request
            .send()
            .await
            .map_err(|e| CommandError::new(format!("{endpoint}: {e}")))?;
        let status = response.status();
        let new_nonce = response
            .headers()
            .get("DPoP-Nonce")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body: Value = response
            .json()
            .await
            .map_err(|e| CommandError::new(format!("{endpoint}: {e}")))?;
        if status.is_success() {
            return Ok(body);
        }
        if body["error"] == "use_dpop_nonce" && nonce.is_none() && new_nonce.is_some() {
            nonce = new_nonce;
            continue;
        }
        return Err(CommandError::new(format!("{endpoint}: {status}: {body}")));
    }
    Err(CommandError::new(
        "the server kept asking for a new DPoP nonce",
    ))
}

fn encode(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

async fn remote_token(
    settings: &SettingsArgs,
    client: &Client,
    key: &SigningKey,
    details: Vec<Value>,
    dpop_key: Option<&DpopKey>,
    options: &TokenOptions,
) -> Result<Value, CommandError> {
    let base = server_url(options.url.as_deref(), settings);
    let http = http_client(&settings.certs)?;
    let clock = server_clock(&http, &base, settings.admin_token.as_deref()).await?;
    let endpoints = discover(&http, &base).await?;
    let scope = options.scope.as_deref().unwrap_or_default();
    match &options.user {
        None => {
            post_form(&http, &clock, &endpoints.token, dpop_key, |now| {
                let assertion = client_assertion(client, key, &endpoints.issuer, &details, now)?;
                Ok(form_body(client, scope, &assertion))
            })
            .await
        }
        Some(pid) => {
            UserLogin::new(&http, &clock, &endpoints, client, key, dpop_key)?
                .run(details, scope, pid)
                .await
        }
    }
}

/// A user login the way an EHR does it (PAR, authorize, code exchange), with `login_hint`
/// logging the fixture user in without the page.
struct UserLogin<'a> {
    http: &'a reqwest::Client,
    clock: &'a Clock,
    endpoints: &'a Discovered,
    client: &'a Client,
    key: &'a SigningKey,
    dpop_key: Option<&'a DpopKey>,
    /// The client's first registered redirect URI (a registered path under helsesim's URL).
    redirect_uri: String,
}

impl<'a> UserLogin<'a> {
    /// A login for `client`, which needs a redirect URI.
    fn new(
        http: &'a reqwest::Client,
        clock: &'a Clock,
        endpoints: &'a Discovered,
        client: &'a Client,
        key: &'a SigningKey,
        dpop_key: Option<&'a DpopKey>,
    ) -> Result<Self, CommandError> {
        let redirect_uri = client.entry.redirect_uris.first().ok_or_else(|| {
            CommandError::new(format!(
                "client '{}' has no redirect_uris: it cannot log users in",
                client.id()
            ))
        })?;
        let redirect_uri = if redirect_uri.starts_with('/') {
            let base = endpoints.issuer.trim_end_matches("/helseid");
            format!("{base}{redirect_uri}")
        } else {
            redirect_uri.clone()
        };
        Ok(Self {
            http,
            clock,
            endpoints,
            client,
            key,
            dpop_key,
            redirect_uri,
        })
    }

    /// Logs `pid` in for `scope` (and the organisation `details`); the token response.
    async fn run(
        &self,
        details: Vec<Value>,
        scope: &str,
        pid: &str,
    ) -> Result<Value, CommandError> {
        let verifier = random::url_token(48);
        let challenge = crate::jose::sha256_b64url(&verifier);
        let details_json = (!details.is_empty()).then(|| Value::Array(details).to_string());
        let request_uri = self
            .push(scope, pid, &challenge, details_json.as_deref())
            .await?;
        let code = self.authorize(&request_uri, pid).await?;
        self.redeem(&code, &verifier).await
    }

    /// Pushes the authorization request (PAR); its `request_uri`.
    async fn push(
        &self,
        scope: &str,
        pid: &str,
        challenge: &str,
        details: Option<&str>,
    ) -> Result<String, CommandError> {
        let endpoints = self.endpoints;
        let pushed = post_form(
            self.http,
            self.clock,
            &endpoints.par,
            self.dpop_key,
            |now| {
                let assertion =
                    client_assertion(self.client, self.key, &endpoints.issuer, &[], now)?;
                let mut pairs = vec![
                    ("client_id", self.client.id()),
                    ("response_type", "code"),
                    ("redirect_uri", self.redirect_uri.as_str()),
                    ("scope", scope),
                    ("code_challenge", challenge),
                    ("code_challenge_method", "S256"),
                    ("login_hint", pid),
                    ("client_assertion_type", ASSERTION_TYPE),
                    ("client_assertion", assertion.as_str()),
                ];
                if let Some(details) = details {
                    pairs.push(("authorization_details", details));
                }
                Ok(encode(&pairs))
            },
        )
        .await?;
        Ok(pushed["request_uri"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// Sends the browser's request to `/connect/authorize`; the code of the redirect back.
    async fn authorize(&self, request_uri: &str, pid: &str) -> Result<String, CommandError> {
        let authorize = format!(
            "{}?{}",
            self.endpoints.authorize,
            encode(&[
                ("client_id", self.client.id()),
                ("request_uri", request_uri)
            ])
        );
        let response = self
            .http
            .get(&authorize)
            .send()
            .await
            .map_err(|e| CommandError::new(format!("{}: {e}", self.endpoints.authorize)))?;
        let location = response
            .headers()
            .get("Location")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                CommandError::new(format!(
                    "{}: {} without a redirect: the login page was shown (is {pid} a test user \
                     in fixtures/helseid/users.json, and HELSESIM_AUTOLOGIN on?)",
                    self.endpoints.authorize,
                    response.status()
                ))
            })?;
        code_of_callback(location)
    }

    /// Exchanges the code (with the PKCE `verifier`) for the tokens.
    async fn redeem(&self, code: &str, verifier: &str) -> Result<Value, CommandError> {
        let endpoints = self.endpoints;
        post_form(
            self.http,
            self.clock,
            &endpoints.token,
            self.dpop_key,
            |now| {
                let assertion =
                    client_assertion(self.client, self.key, &endpoints.issuer, &[], now)?;
                Ok(encode(&[
                    ("grant_type", "authorization_code"),
                    ("client_id", self.client.id()),
                    ("code", code),
                    ("redirect_uri", self.redirect_uri.as_str()),
                    ("code_verifier", verifier),
                    ("client_assertion_type", ASSERTION_TYPE),
                    ("client_assertion", assertion.as_str()),
                ]))
            },
        )
        .await
    }
}

/// The authorization code of the redirect back to the client, or the error it carries.
fn code_of_callback(location: &str) -> Result<String, CommandError> {
    let callback =
        url::Url::parse(location).map_err(|e| CommandError::new(format!("{location}: {e}")))?;
    let param = |name: &str| {
        callback
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    match (param("code"), param("error")) {
        (Some(code), _) => Ok(code),
        (None, error) => Err(CommandError::new(format!(
            "the login was refused: {} {}",
            error.unwrap_or_default(),
            param("error_description").unwrap_or_default()
        ))),
    }
}

/// The server's simulation clock (`GET /_admin/clock`), so assertions and proofs carry the
/// times it expects after its clock was moved. A control plane that wants a token the CLI does
/// not have is an error saying how to pass it; a control plane that is off is a note on stderr
/// (the machine's clock is used: the server's cannot have been moved through it).
pub(crate) async fn server_clock(
    http: &reqwest::Client,
    base: &str,
    admin_token: Option<&str>,
) -> Result<Clock, CommandError> {
    let clock = Clock::system();
    let url = format!("{}/_admin/clock", base.trim_end_matches('/'));
    let request = with_admin_token(http.get(&url), admin_token);
    let Ok(response) = request.send().await else {
        // Not reachable: the next request says so.
        return Ok(clock);
    };
    let status = response.status();
    match status.as_u16() {
        401 | 403 => {
            return Err(CommandError::new(format!(
                "{url}: {status}: the server's control plane wants its admin token to tell its \
                 clock; pass --admin-token (or set HELSESIM_ADMIN_TOKEN) to the server's \
                 HELSESIM_ADMIN_TOKEN, so that assertions and proofs carry the server's time"
            )));
        }
        404 => {
            eprintln!(
                "helsesim: note: {url}: 404: the server's control plane is off \
                 (HELSESIM_ADMIN=off), so its clock cannot be read; using this machine's clock"
            );
            return Ok(clock);
        }
        _ => {}
    }
    let body: Value = response
        .json()
        .await
        .map_err(|e| CommandError::new(format!("{url}: {status}: {e}")))?;
    let now = body["now"]
        .as_str()
        .and_then(|now| DateTime::parse_from_rfc3339(now).ok())
        .ok_or_else(|| CommandError::new(format!("{url}: {status}: no clock in {body}")))?;
    clock
        .set(now.to_utc())
        .map_err(|e| CommandError::new(format!("{url}: {e}")))?;
    Ok(clock)
}

/// Options of `helsesim dpop-proof`.
#[derive(Debug, clap::Args)]
pub struct ProofOptions {
    /// The DPoP private key (EC P-256, PKCS#8 PEM), e.g. `dpop_private_key_pem` of `token --json`.
    #[arg(long)]
    pub key: PathBuf,
    /// The request's URL (htu), e.g. http://localhost:8080/pts/access-restrictions/patient-safety.
    #[arg(long)]
    pub url: String,
    /// The request's method (htm).
    #[arg(long, default_value = "POST")]
    pub method: String,
    /// The access token the request carries (its hash goes into `ath`).
    #[arg(long)]
    pub token: Option<String>,
    /// A nonce the server asked for (`DPoP-Nonce`).
    #[arg(long)]
    pub nonce: Option<String>,
    /// How to reach the server.
    #[command(flatten)]
    pub access: ServerAccess,
}

/// `helsesim dpop-proof`: a DPoP proof for one request, dated by the server's clock.
pub async fn proof(settings: &SettingsArgs, options: ProofOptions) -> Result<String, CommandError> {
    let key = read_dpop_key(&options.key)?;
    let url = url::Url::parse(&options.url)
        .map_err(|e| CommandError::new(format!("--url '{}': {e}", options.url)))?;
    let origin = url.origin().ascii_serialization();
    let http = http_client(&settings.certs)?;
    let clock = server_clock(&http, &origin, settings.admin_token.as_deref()).await?;
    dpop_proof(
        &key,
        &options.method.to_ascii_uppercase(),
        &options.url,
        options.nonce.as_deref(),
        options.token.as_deref(),
        clock.now(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_callback_carries_the_code_or_why_the_login_was_refused() {
        assert_eq!(
            code_of_callback("https://ehr.example/cb?code=c-1&state=s&iss=x").unwrap(),
            "c-1"
        );
        let refused = code_of_callback(
            "https://ehr.example/cb?error=access_denied&error_description=The+user+cancelled",
        )
        .unwrap_err();
        assert_eq!(
            refused.message,
            "the login was refused: access_denied The user cancelled"
        );
        let not_a_url = code_of_callback("/cb?code=c-1").unwrap_err();
        assert!(
            not_a_url.message.starts_with("/cb?code=c-1: "),
            "{}",
            not_a_url.message
        );
    }
}
