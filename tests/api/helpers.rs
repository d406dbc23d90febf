//! Spawns helsesim in-process on port 0 and gives typed helpers to drive it over HTTP, plus the
//! client-side crypto (client assertions, DPoP proofs) a real EHR would do.

use std::path::PathBuf;
use std::sync::OnceLock;

use aws_lc_rs::signature::{ECDSA_P521_SHA512_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use helsesim::{Application, Clock, Settings};
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Map, Value, json};

/// The fixed start time of every test app's clock.
pub const T0: &str = "2026-03-02T10:00:00Z";

/// Shipped fixture clients.
pub const SFM_NEW_TENANT: &str = "dc7ce5b5-670a-40f8-bd64-801e408b7069";
pub const SFM_READY: &str = "28472fd6-8a1e-480c-a670-06b7e5230d20";
pub const MULTI_TENANT: &str = "8cd7c619-92db-4d55-89e2-383b75efc758";
pub const KJERNEJOURNAL: &str = "0891b6eb-aa2d-46ce-a8bd-1a206dfd19ef";
pub const PTS: &str = "f0874972-5467-42da-b05f-fe90594675a2";
/// The demo EHR's client (`epj-web-demo`).
pub const EPJ_DEMO: &str = "d9af2874-5784-48b9-81f5-7b6d0ee8d5ac";

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixtures_dir() -> PathBuf {
    manifest_dir().join("fixtures")
}

/// One certs directory for the whole test binary: RSA key generation is slow.
pub fn shared_certs_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("test-certs");
        let hosts = helsesim::keys::certificate_hosts(None);
        helsesim::keys::ensure(&dir, &hosts, Clock::system().now(), false).expect("test certs");
        dir
    })
    .clone()
}

pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(T0).unwrap().to_utc()
}

pub fn test_settings() -> Settings {
    Settings {
        bind: "127.0.0.1".parse().unwrap(),
        port: 0,
        tls_port: None,
        public_url: None,
        fixtures_dir: fixtures_dir(),
        certs_dir: shared_certs_dir(),
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
    }
}

/// A running helsesim.
pub struct TestApp {
    /// `http://localhost:<port>`: the public base URL.
    pub base: String,
    pub port: u16,
    pub https_port: Option<u16>,
    pub clock: Clock,
    pub http: reqwest::Client,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(customize: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = test_settings();
    customize(&mut settings);
    if settings.public_url.is_some() && settings.certs_dir == shared_certs_dir() {
        // Another host reissues the server certificate; doing that in the shared directory
        // would race with every other test reading it.
        settings.certs_dir = private_certs_copy();
    }
    spawn_with_clock(settings, Clock::fixed(t0())).await
}

/// A fresh copy of the shared certs directory (CA and signing key included, so no slow key
/// generation), for a test that makes helsesim rewrite its certificates. Lives as long as the
/// test binary.
pub fn private_certs_copy() -> PathBuf {
    let dir = tempfile::tempdir().expect("temp dir").keep();
    for entry in std::fs::read_dir(shared_certs_dir()).expect("shared certs") {
        let entry = entry.expect("shared certs entry");
        std::fs::copy(entry.path(), dir.join(entry.file_name())).expect("copy cert file");
    }
    dir
}

pub async fn spawn_with_clock(settings: Settings, clock: Clock) -> TestApp {
    let app = Application::build(settings, clock.clone()).expect("app builds");
    let port = app.port();
    let https_port = app.https_port();
    let base = app.state().base_url.clone();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        base,
        port,
        https_port,
        clock,
        http: http_client(),
    }
}

pub fn http_client() -> reqwest::Client {
    let ca = std::fs::read(shared_certs_dir().join("ca.crt")).unwrap();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .build()
        .unwrap()
}

/// A response, read once: status, headers, body as JSON (Null when not JSON) and as text.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
    pub text: String,
}

impl Reply {
    pub async fn read(response: reqwest::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            json,
            text,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an OAuth error: status 400 unless told, `error` code, exact description, no-store.
    #[track_caller]
    pub fn assert_oauth_error(&self, code: &str, description: &str) {
        assert_eq!(self.status, StatusCode::BAD_REQUEST, "{}", self.text);
        self.assert_oauth_body(code, description);
    }

    #[track_caller]
    pub fn assert_oauth_body(&self, code: &str, description: &str) {
        assert_eq!(self.json["error"], code, "{}", self.text);
        assert_eq!(self.json["error_description"], description, "{}", self.text);
        assert_eq!(self.header("cache-control"), Some("no-store"));
        assert!(
            self.header("content-type")
                .unwrap_or_default()
                .starts_with("application/json"),
            "{:?}",
            self.headers
        );
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn issuer(&self) -> String {
        self.url("/helseid")
    }

    pub fn token_endpoint(&self) -> String {
        self.url("/helseid/connect/token")
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub async fn get(&self, path: &str) -> Reply {
        Reply::read(self.http.get(self.url(path)).send().await.unwrap()).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        Reply::read(self.http.delete(self.url(path)).send().await.unwrap()).await
    }

    /// POSTs JSON (the control plane's bodies).
    pub async fn post_json(&self, path: &str, body: &Value) -> Reply {
        Reply::read(
            self.http
                .post(self.url(path))
                .json(body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// A request with a raw body of the given content type.
    pub async fn send_raw(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &str,
    ) -> Reply {
        Reply::read(
            self.http
                .request(method.parse().unwrap(), self.url(path))
                .header("Content-Type", content_type)
                .body(body.to_owned())
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Creates the patient Nora Nyfødt (fødselsnummer 28022600178) in the token's SFM instance.
    pub async fn create_nora(&self, token: &str) {
        let nora = json!({
            "resourceType": "Patient",
            "identifier": [{"use": "official", "system": "urn:oid:2.16.578.1.12.4.1.4.1",
                            "value": "28022600178"}],
            "name": [{"family": "Nyfødt", "given": ["Nora"]}]
        });
        let reply = self
            .fhir("POST", "/Patient", Some(token), Some(&nora))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    }

    /// POSTs a urlencoded form to the token endpoint with optional extra headers.
    pub async fn token_request(&self, form: &[(&str, &str)], headers: &[(&str, &str)]) -> Reply {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut request = self
            .http
            .post(self.token_endpoint())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Reply::read(request.send().await.unwrap()).await
    }

    /// A client_credentials request with a fresh valid assertion for a shipped client.
    pub async fn system_token(&self, client_id: &str, scope: &str) -> Reply {
        let assertion = Assertion::new(self, client_id).sign();
        self.client_credentials(client_id, scope, &assertion, &[])
            .await
    }

    pub async fn client_credentials(
        &self,
        client_id: &str,
        scope: &str,
        assertion: &str,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.token_request(
            &[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("scope", scope),
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", assertion),
            ],
            headers,
        )
        .await
    }

    /// `GET /kjernejournal/v1/ping` with a bearer token and an `X-EPJ-System`.
    pub async fn ping_kjernejournal(&self, token: &str) -> Reply {
        Reply::read(
            self.http
                .get(self.url("/kjernejournal/v1/ping"))
                .header("Authorization", format!("Bearer {token}"))
                .header("X-EPJ-System", "helsesim tests 1.0")
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// `POST …/patient-safety/_search` for the spec's `offId` with a DPoP-bound token and its
    /// proof.
    pub async fn pts_search(&self, token: &str, proof: &str) -> Reply {
        Reply::read(
            self.http
                .post(self.url("/pts/access-restrictions/patient-safety/_search"))
                .header("Authorization", format!("DPoP {token}"))
                .header("DPoP", proof)
                .json(&json!({"offId": "12345678901"}))
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Adds or replaces a client through the control plane.
    pub async fn register_client(&self, entry: &Value) -> Reply {
        Reply::read(
            self.http
                .post(self.url("/_admin/helseid/clients"))
                .json(entry)
                .send()
                .await
                .unwrap(),
        )
        .await
    }
}

/// Decodes a compact JWS's header and claims without verifying.
pub fn decode_jwt(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let mut next = || -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap()).unwrap()
    };
    let header = next();
    let claims = next();
    (header, claims)
}

// ---------------------------------------------------------------------------------------------
// Client-side keys.

/// A private key that signs JWTs (assertions or DPoP proofs) with a JWS algorithm.
#[derive(Clone)]
pub enum TestKey {
    /// Any algorithm jsonwebtoken supports.
    Jwt {
        key: EncodingKey,
        alg: Algorithm,
        public: Value,
    },
    /// ES512, which jsonwebtoken lacks: signed with aws-lc-rs.
    Es512 { pkcs8: Vec<u8>, public: Value },
}

/// The entry of the shipped fixture client `client_id` (`fixtures/helseid/clients.json`).
pub fn fixture_client(client_id: &str) -> Value {
    let clients: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures_dir().join("helseid/clients.json")).unwrap(),
    )
    .unwrap();
    clients
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_id"] == client_id)
        .unwrap_or_else(|| panic!("no fixture client {client_id}"))
        .clone()
}

impl TestKey {
    /// The test key of a shipped fixture client (RS256), with the kid it is registered under.
    pub fn fixture(client_id: &str) -> Self {
        let pem =
            std::fs::read(fixtures_dir().join(format!("helseid/client-keys/{client_id}.pem")))
                .unwrap();
        let key = EncodingKey::from_rsa_pem(&pem).unwrap();
        let public = fixture_client(client_id)["jwks"]["keys"][0].clone();
        Self::Jwt {
            key,
            alg: Algorithm::RS256,
            public,
        }
    }

    /// A fresh RSA-2048 key for `alg` (RS* or PS*).
    pub fn rsa(alg: Algorithm) -> Self {
        let pair =
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
                .unwrap();
        let key = EncodingKey::from_rsa_pem(pair.serialize_pem().as_bytes()).unwrap();
        Self::from_jwt_key(key, alg)
    }

    /// A fresh EC key: ES256 (P-256), ES384 (P-384) or ES512 (P-521).
    pub fn ec(curve: &str) -> Self {
        match curve {
            "P-256" | "P-384" => {
                let (sig, alg) = if curve == "P-256" {
                    (&rcgen::PKCS_ECDSA_P256_SHA256, Algorithm::ES256)
                } else {
                    (&rcgen::PKCS_ECDSA_P384_SHA384, Algorithm::ES384)
                };
                let pair = rcgen::KeyPair::generate_for(sig).unwrap();
                let key = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap();
                Self::from_jwt_key(key, alg)
            }
            "P-521" => {
                let rng = aws_lc_rs::rand::SystemRandom::new();
                let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P521_SHA512_FIXED_SIGNING, &rng)
                    .unwrap()
                    .as_ref()
                    .to_vec();
                let pair =
                    EcdsaKeyPair::from_pkcs8(&ECDSA_P521_SHA512_FIXED_SIGNING, &pkcs8).unwrap();
                let point = pair.public_key().as_ref();
                let public = json!({
                    "kty": "EC",
                    "crv": "P-521",
                    "x": URL_SAFE_NO_PAD.encode(&point[1..67]),
                    "y": URL_SAFE_NO_PAD.encode(&point[67..133]),
                });
                Self::Es512 { pkcs8, public }
            }
            other => panic!("unknown curve {other}"),
        }
    }

    fn from_jwt_key(key: EncodingKey, alg: Algorithm) -> Self {
        let public = serde_json::to_value(Jwk::from_encoding_key(&key, alg).unwrap()).unwrap();
        let mut public = public;
        public.as_object_mut().unwrap().remove("alg");
        Self::Jwt { key, alg, public }
    }

    /// The public JWK (with `kid` when the key has one).
    pub fn public_jwk(&self) -> Value {
        match self {
            TestKey::Jwt { public, .. } | TestKey::Es512 { public, .. } => public.clone(),
        }
    }

    /// The public JWK with a kid set.
    pub fn public_jwk_with_kid(&self, kid: &str) -> Value {
        let mut jwk = self.public_jwk();
        jwk["kid"] = json!(kid);
        jwk
    }

    pub fn alg(&self) -> &'static str {
        match self {
            TestKey::Jwt { alg, .. } => match alg {
                Algorithm::RS256 => "RS256",
                Algorithm::RS384 => "RS384",
                Algorithm::RS512 => "RS512",
                Algorithm::PS256 => "PS256",
                Algorithm::PS384 => "PS384",
                Algorithm::PS512 => "PS512",
                Algorithm::ES256 => "ES256",
                Algorithm::ES384 => "ES384",
                other => panic!("{other:?}"),
            },
            TestKey::Es512 { .. } => "ES512",
        }
    }

    /// RFC 7638 thumbprint of the public key.
    pub fn thumbprint(&self) -> String {
        let jwk: Jwk = serde_json::from_value(self.public_jwk()).unwrap();
        jwk.thumbprint(ThumbprintHash::SHA256).unwrap()
    }

    /// Signs `claims` under `header` (whose `alg` is set from the key unless already present).
    pub fn sign(&self, header: &Map<String, Value>, claims: &Value) -> String {
        let mut header = header.clone();
        header.entry("alg").or_insert_with(|| json!(self.alg()));
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap()),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap())
        );
        let signature = match self {
            TestKey::Jwt { key, alg, .. } => {
                jsonwebtoken::crypto::sign(signing_input.as_bytes(), key, *alg).unwrap()
            }
            TestKey::Es512 { pkcs8, .. } => {
                let pair =
                    EcdsaKeyPair::from_pkcs8(&ECDSA_P521_SHA512_FIXED_SIGNING, pkcs8).unwrap();
                let rng = aws_lc_rs::rand::SystemRandom::new();
                URL_SAFE_NO_PAD.encode(pair.sign(&rng, signing_input.as_bytes()).unwrap())
            }
        };
        format!("{signing_input}.{signature}")
    }
}

/// An HS256 token (for "symmetric algorithms are refused" tests).
pub fn hs256(header: &Map<String, Value>, claims: &Value) -> String {
    let mut header = header.clone();
    header.insert("alg".into(), json!("HS256"));
    let key = EncodingKey::from_secret(b"a shared secret");
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap()),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap())
    );
    let sig = jsonwebtoken::crypto::sign(signing_input.as_bytes(), &key, Algorithm::HS256).unwrap();
    format!("{signing_input}.{sig}")
}

/// An unsigned (`alg: none`) token.
pub fn unsigned(claims: &Value) -> String {
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap())
    )
}

// ---------------------------------------------------------------------------------------------
// Client assertions.

/// A client assertion under construction: valid by default, each method breaks or changes one
/// thing.
pub struct Assertion {
    pub header: Map<String, Value>,
    pub claims: Value,
    pub key: TestKey,
}

impl Assertion {
    /// A valid assertion for a shipped client, signed with its fixture key, at the app's "now".
    pub fn new(app: &TestApp, client_id: &str) -> Self {
        let key = TestKey::fixture(client_id);
        let kid = key.public_jwk()["kid"].as_str().map(str::to_owned);
        Self::with_key(app, client_id, key, kid.as_deref())
    }

    pub fn with_key(app: &TestApp, client_id: &str, key: TestKey, kid: Option<&str>) -> Self {
        let now = app.now().timestamp();
        let mut header = Map::new();
        header.insert("typ".into(), json!("client-authentication+jwt"));
        if let Some(kid) = kid {
            header.insert("kid".into(), json!(kid));
        }
        Self {
            header,
            claims: json!({
                "iss": client_id,
                "sub": client_id,
                "aud": app.issuer(),
                "iat": now,
                "nbf": now,
                "exp": now + 60,
                "jti": uuid::Uuid::new_v4().to_string(),
            }),
            key,
        }
    }

    pub fn claim(mut self, name: &str, value: Value) -> Self {
        self.claims[name] = value;
        self
    }

    pub fn without(mut self, name: &str) -> Self {
        self.claims.as_object_mut().unwrap().remove(name);
        self
    }

    pub fn header(mut self, name: &str, value: Value) -> Self {
        self.header.insert(name.into(), value);
        self
    }

    /// Names the organisation the way a multi-tenant client does.
    pub fn multi_tenant_org(self, value: &str) -> Self {
        self.claim(
            "assertion_details",
            json!([org_detail("urn:oid:1.0.6523", value)]),
        )
    }

    pub fn sign(&self) -> String {
        self.key.sign(&self.header, &self.claims)
    }
}

/// A `helseid_authorization` detail.
pub fn org_detail(system: &str, value: &str) -> Value {
    json!({
        "type": "helseid_authorization",
        "practitioner_role": {"organization": {"identifier": {"system": system, "type": "ENH",
                                                              "value": value}}}
    })
}

// ---------------------------------------------------------------------------------------------
// DPoP proofs.

/// A DPoP proof under construction (valid by default for POST to the token endpoint).
pub struct Proof {
    pub header: Map<String, Value>,
    pub claims: Value,
    pub key: TestKey,
}

impl Proof {
    pub fn new(app: &TestApp, key: &TestKey, htm: &str, htu: &str) -> Self {
        let mut header = Map::new();
        header.insert("typ".into(), json!("dpop+jwt"));
        header.insert("jwk".into(), key.public_jwk());
        Self {
            header,
            claims: json!({
                "jti": uuid::Uuid::new_v4().to_string(),
                "htm": htm,
                "htu": htu,
                "iat": app.now().timestamp(),
            }),
            key: key.clone(),
        }
    }

    /// A proof for the token endpoint.
    pub fn token(app: &TestApp, key: &TestKey) -> Self {
        Self::new(app, key, "POST", &app.token_endpoint())
    }

    pub fn nonce(self, nonce: &str) -> Self {
        self.claim("nonce", json!(nonce))
    }

    pub fn claim(mut self, name: &str, value: Value) -> Self {
        self.claims[name] = value;
        self
    }

    pub fn header(mut self, name: &str, value: Value) -> Self {
        self.header.insert(name.into(), value);
        self
    }

    pub fn sign(&self) -> String {
        self.key.sign(&self.header, &self.claims)
    }
}

impl TestApp {
    /// Gets a server nonce the way a client does: a first proof without one.
    pub async fn dpop_nonce(&self, client_id: &str, scope: &str, key: &TestKey) -> String {
        let assertion = Assertion::new(self, client_id).sign();
        let proof = Proof::token(self, key).sign();
        let reply = self
            .client_credentials(client_id, scope, &assertion, &[("DPoP", &proof)])
            .await;
        assert_eq!(reply.json["error"], "use_dpop_nonce", "{}", reply.text);
        reply.header("dpop-nonce").unwrap().to_owned()
    }

    /// A DPoP-bound system token for `client_id`, bound to `key`.
    pub async fn dpop_token(&self, client_id: &str, scope: &str, key: &TestKey) -> String {
        let nonce = self.dpop_nonce(client_id, scope, key).await;
        let assertion = Assertion::new(self, client_id).sign();
        let proof = Proof::token(self, key).nonce(&nonce).sign();
        let reply = self
            .client_credentials(client_id, scope, &assertion, &[("DPoP", &proof)])
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.json["access_token"].as_str().unwrap().to_owned()
    }
}

/// Moves the app's clock.
pub fn advance(app: &TestApp, seconds: i64) {
    app.clock.advance(TimeDelta::seconds(seconds)).unwrap();
}

// ---------------------------------------------------------------------------------------------
// User login: PKCE, PAR, authorize, code exchange.

/// A PKCE verifier and its S256 challenge.
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Self {
        let verifier = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            verifier.as_bytes(),
        ));
        Self {
            verifier,
            challenge,
        }
    }
}

pub const REDIRECT_URI: &str = "http://localhost:8089/callback";
/// The scopes of a typical EHR login to SFM and kjernejournal (the multi-tenant client).
pub const LOGIN_SCOPES: &str = "openid profile offline_access helseid://scopes/identity/pid \
                                helseid://scopes/identity/security_level \
                                helseid://scopes/identity/assurance_level \
                                helseid://scopes/hpr/hpr_number e-helse:sfm.api/sfm.api \
                                nhn:kjernejournal/api";
/// The scopes of a login to SFM only (the single-tenant SFM clients).
pub const SFM_LOGIN_SCOPES: &str = "openid profile offline_access helseid://scopes/identity/pid \
                                    helseid://scopes/identity/security_level \
                                    helseid://scopes/identity/assurance_level \
                                    helseid://scopes/hpr/hpr_number e-helse:sfm.api/sfm.api";
/// The test user of the SFM spec.
pub const DIDRIK: &str = "17056600574";

/// Query (or form) parameters as a map.
pub fn params_of(query: &str) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

impl Reply {
    /// The parameters of the `Location` a redirect points to (asserting it goes to `prefix`).
    #[track_caller]
    pub fn redirect_params(&self, prefix: &str) -> std::collections::HashMap<String, String> {
        assert_eq!(self.status, StatusCode::FOUND, "{}", self.text);
        let location = self.header("location").expect("Location");
        assert!(location.starts_with(prefix), "{location}");
        let url = url::Url::parse(location).unwrap();
        params_of(url.query().unwrap_or_default())
    }

    /// The session cookie set by a login, as a `Cookie` header value.
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("helsesim.session="))
            .map(|c| c.split(';').next().unwrap().to_owned())
    }
}

impl TestApp {
    /// POSTs a pushed authorization request with a fresh client assertion.
    pub async fn par(
        &self,
        client_id: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Reply {
        let assertion = Assertion::new(self, client_id).sign();
        let mut all: Vec<(&str, &str)> = vec![
            ("client_id", client_id),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &assertion),
        ];
        all.extend_from_slice(form);
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&all)
            .finish();
        let mut request = self
            .http
            .post(self.url("/helseid/connect/par"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Reply::read(request.send().await.unwrap()).await
    }

    /// The usual PAR form of a login.
    pub fn login_form<'a>(
        pkce: &'a Pkce,
        scope: &'a str,
        extra: &[(&'a str, &'a str)],
    ) -> Vec<(&'a str, &'a str)> {
        let mut form = vec![
            ("response_type", "code"),
            ("redirect_uri", REDIRECT_URI),
            ("scope", scope),
            ("code_challenge", pkce.challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("state", "state-123"),
            ("nonce", "nonce-456"),
        ];
        form.extend_from_slice(extra);
        form
    }

    /// GET /connect/authorize with a query, optionally with a session cookie.
    pub async fn authorize(&self, query: &[(&str, &str)], cookie: Option<&str>) -> Reply {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query)
            .finish();
        let mut request = self.http.get(format!(
            "{}?{query}",
            self.url("/helseid/connect/authorize")
        ));
        if let Some(cookie) = cookie {
            request = request.header("Cookie", cookie);
        }
        Reply::read(request.send().await.unwrap()).await
    }

    /// A whole login with `login_hint` (PAR, authorize): the code and its PKCE verifier.
    pub async fn login_code(
        &self,
        client_id: &str,
        scope: &str,
        pid: &str,
        extra: &[(&str, &str)],
    ) -> (String, Pkce) {
        let pkce = Pkce::new();
        let mut form = Self::login_form(&pkce, scope, extra);
        form.push(("login_hint", pid));
        let pushed = self.par(client_id, &form, &[]).await;
        assert_eq!(pushed.status, StatusCode::CREATED, "{}", pushed.text);
        let request_uri = pushed.json["request_uri"].as_str().unwrap().to_owned();
        let reply = self
            .authorize(
                &[("client_id", client_id), ("request_uri", &request_uri)],
                None,
            )
            .await;
        let params = reply.redirect_params(REDIRECT_URI);
        (params["code"].clone(), pkce)
    }

    /// Exchanges a code (with a fresh client assertion).
    pub async fn exchange_code(
        &self,
        client_id: &str,
        code: &str,
        verifier: &str,
        extra: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Reply {
        let assertion = Assertion::new(self, client_id).sign();
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion.as_str()),
        ];
        form.extend_from_slice(extra);
        self.token_request(&form, headers).await
    }

    /// A refresh-token request (with a fresh client assertion).
    pub async fn refresh(
        &self,
        client_id: &str,
        refresh_token: &str,
        extra: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Reply {
        let assertion = Assertion::new(self, client_id).sign();
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion.as_str()),
        ];
        form.extend_from_slice(extra);
        self.token_request(&form, headers).await
    }
}

// ---------------------------------------------------------------------------------------------
// SFM.

/// The SFM instance of the sfm-ready client (Fjordbyen legekontor).
pub const FJORDBYEN: &str = "7c4a3083-158d-4050-b2f1-caea9c34045e";
/// The second SFM instance (Sjøkanten legesenter), reached by the multi-tenant client's journal.
pub const SJOKANTEN: &str = "b9df3211-460c-4801-9de4-c9e0fe9c0ed3";
/// Sjøkanten's organisation number.
pub const SJOKANTEN_ORGNR: &str = "928765431";
/// The spec's Kolåsbakkane legekontor (not pre-made).
pub const KOLASBAKKANE: &str = "a99abfb4-2bea-4e0a-bb03-38e37febbd2c";
/// The nurse of the fixtures (a user of both SFM instances).
pub const SIGRID: &str = "02887810071";
/// The multidose doctor's SFM instance (Nordby multidoselege), reached by the multi-tenant client.
pub const NORDBY: &str = "5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f";
/// Nordby's organisation number.
pub const NORDBY_ORGNR: &str = "924681357";

/// Didrik at Fjordbyen (the sfm-ready client).
pub async fn didrik(app: &TestApp) -> String {
    app.sfm_token(SFM_READY, DIDRIK, None).await
}

/// Didrik at Nordby multidoselege (the multi-tenant client with Nordby's journal-id).
pub async fn didrik_at_nordby(app: &TestApp) -> String {
    app.sfm_token_in_journal(DIDRIK, NORDBY_ORGNR, NORDBY).await
}

/// Sigrid at Sjøkanten legesenter (the multi-tenant client with Sjøkanten's journal-id).
pub async fn sigrid_at_sjokanten(app: &TestApp) -> String {
    app.sfm_token_in_journal(SIGRID, SJOKANTEN_ORGNR, SJOKANTEN)
        .await
}

/// Parses a FHIR R4 resource strictly (unknown elements and wrong types fail), as a client's
/// FHIR library would.
#[track_caller]
pub fn assert_valid_fhir(resource: &Value) {
    let text = serde_json::to_string(resource).unwrap();
    if let Err(e) = fhirbolt::json::from_str::<fhirbolt::model::r4::Resource>(&text, None) {
        panic!("not valid FHIR R4 ({e}): {text}");
    }
}

impl TestApp {
    /// A user's access token for `scopes`: a login with login_hint, the code exchanged.
    /// `details` (assertion/authorization details) go into the PAR request.
    pub async fn user_token(
        &self,
        client_id: &str,
        scopes: &str,
        pid: &str,
        details: Option<Value>,
    ) -> String {
        let details = details.map(|d| d.to_string());
        let mut extra: Vec<(&str, &str)> = Vec::new();
        if let Some(details) = &details {
            extra.push(("authorization_details", details));
        }
        let (code, pkce) = self.login_code(client_id, scopes, pid, &extra).await;
        let reply = self
            .exchange_code(client_id, &code, &pkce.verifier, &[], &[])
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.json["access_token"].as_str().unwrap().to_owned()
    }

    /// A user's SFM access token (e-helse:sfm.api).
    pub async fn sfm_token(&self, client_id: &str, pid: &str, details: Option<Value>) -> String {
        self.user_token(client_id, SFM_LOGIN_SCOPES, pid, details)
            .await
    }

    /// A user's SFM token from the multi-tenant client, naming the organisation and the SFM
    /// instance (journal-id) as a multi-tenant EHR does.
    pub async fn sfm_token_in_journal(&self, pid: &str, orgnr: &str, journal_id: &str) -> String {
        let details = json!([
            org_detail("urn:oid:1.0.6523", &format!("NO:ORGNR:{orgnr}")),
            {"type": "nhn:sfm:journal-id", "value": {"journal_id": journal_id}}
        ]);
        self.sfm_token(MULTI_TENANT, pid, Some(details)).await
    }

    /// A FHIR request to `/sfm/fhir{path}` with a bearer token and an optional FHIR JSON body.
    pub async fn fhir(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let mut request = self.http.request(
            method.parse().unwrap(),
            self.url(&format!("/sfm/fhir{path}")),
        );
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/fhir+json")
                .body(serde_json::to_vec(body).unwrap());
        }
        let reply = Reply::read(request.send().await.unwrap()).await;
        if reply.json.get("resourceType").is_some() {
            assert_valid_fhir(&reply.json);
        }
        reply
    }

    /// `POST /sfm/api/PatientTicket` with a raw JSON body and an optional `Accept`.
    pub async fn patient_ticket(
        &self,
        token: Option<&str>,
        body: &str,
        accept: Option<&str>,
    ) -> Reply {
        let mut request = self
            .http
            .post(self.url("/sfm/api/PatientTicket"))
            .header("Content-Type", "application/json")
            .body(body.to_owned());
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        if let Some(accept) = accept {
            request = request.header("Accept", accept);
        }
        Reply::read(request.send().await.unwrap()).await
    }
}
