//! Benchmarks of the hottest paths: token signing, the token endpoint's rules and access-token
//! verification.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark setup fails loudly"
)]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use helsesim::auth::{DpopPolicy, RequestParts, Requirements};
use helsesim::helseid::tenancy::Organisation;
use helsesim::helseid::token::{self, FormParams, RequestMeta};
use helsesim::helseid::tokens::{AccessTokenSpec, access_token_claims};
use helsesim::jose::TokenSigner;
use helsesim::{AppState, Clock};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

mod common;
use common::{app_state, manifest_dir};

/// The shipped single-tenant SFM client (`sfm-ready` in fixtures/helseid/clients.json).
const CLIENT_ID: &str = "28472fd6-8a1e-480c-a670-06b7e5230d20";
const SFM_SCOPE: &str = "e-helse:sfm.api/sfm.api";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The claims helsesim puts in an SFM system token for the shipped client, built by its own
/// claim builder.
fn system_token_claims(state: &AppState) -> serde_json::Map<String, Value> {
    let store = state.helseid.store();
    let client = store.clients.get(CLIENT_ID).expect("shipped client");
    let org = Organisation {
        parent: client.entry.orgnr_parent.clone(),
        ..Organisation::default()
    };
    let audiences = ["e-helse:sfm.api".to_owned()];
    let scopes = [SFM_SCOPE.to_owned()];
    let spec = AccessTokenSpec {
        issuer: &state.helseid.endpoints.issuer,
        client,
        key_amr: "rsa_private_key",
        audiences: &audiences,
        scopes: &scopes,
        org: &org,
        attest: None,
        jkt: None,
    };
    access_token_claims(&spec, None, Clock::system().now())
}

/// Signs client assertions for the shipped client with its fixture key.
struct AssertionSigner {
    key: EncodingKey,
    header: Header,
    audience: String,
}

impl AssertionSigner {
    fn new(audience: &str) -> Self {
        let fixtures = manifest_dir().join("fixtures/helseid");
        let pem = std::fs::read(fixtures.join(format!("client-keys/{CLIENT_ID}.pem"))).unwrap();
        let clients: Value =
            serde_json::from_str(&std::fs::read_to_string(fixtures.join("clients.json")).unwrap())
                .unwrap();
        let client = clients
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["client_id"] == CLIENT_ID)
            .expect("the client is in clients.json");
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some("client-authentication+jwt".to_owned());
        header.kid = client["jwks"]["keys"][0]["kid"].as_str().map(str::to_owned);
        Self {
            key: EncodingKey::from_rsa_pem(&pem).unwrap(),
            header,
            audience: audience.to_owned(),
        }
    }

    /// A token request with a fresh assertion (unique `jti`), valid at `now`.
    fn request(&self, now: i64) -> FormParams {
        let claims = json!({
            "iss": CLIENT_ID,
            "sub": CLIENT_ID,
            "aud": self.audience,
            "iat": now,
            "nbf": now,
            "exp": now + 60,
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        let assertion = jsonwebtoken::encode(&self.header, &claims, &self.key).unwrap();
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT_ID),
                ("scope", SFM_SCOPE),
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", &assertion),
            ])
            .finish();
        token::parse_form(body.as_bytes()).unwrap()
    }
}

fn benches(c: &mut Criterion) {
    let state = app_state();
    let issuer = state.helseid.endpoints.issuer.clone();
    let claims = system_token_claims(&state);

    // 1 and 2: the same claims, signed by helsesim's cached key and by jsonwebtoken.
    let pem = std::fs::read_to_string(manifest_dir().join("target/bench-certs/token-signing.key"))
        .unwrap();
    let signer = TokenSigner::from_pkcs8_pem(&pem).unwrap();
    // Same header fields as TokenSigner writes, so both sign inputs of the same size.
    let mut header = Header::new(Algorithm::RS256);
    header.typ = Some("at+jwt".to_owned());
    header.kid = Some(signer.kid().to_owned());
    let encoding_key = EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();

    let mut sign = c.benchmark_group("sign");
    sign.bench_function("cached_key", |b| {
        b.iter(|| {
            signer
                .sign(black_box("at+jwt"), black_box(&claims))
                .unwrap()
        });
    });
    sign.bench_function("jsonwebtoken_encode", |b| {
        b.iter(|| {
            jsonwebtoken::encode(black_box(&header), black_box(&claims), &encoding_key).unwrap()
        });
    });
    sign.finish();

    // 3: the token endpoint's rules, with a fresh assertion per iteration (not measured).
    let assertions = AssertionSigner::new(&issuer);
    let meta = RequestMeta {
        authorization: None,
        dpop: None,
        urls: vec![state.helseid.endpoints.token.clone()],
    };
    let now = state.clock.now();
    let response = token::issue(
        &state.helseid,
        &assertions.request(now.timestamp()),
        &meta,
        now,
    )
    .expect("the shipped client gets a token");
    assert_eq!(response.token_type, "Bearer");
    let access_token = response.access_token;

    let mut endpoint = c.benchmark_group("token_endpoint");
    endpoint.bench_function("client_credentials", |b| {
        b.iter_batched(
            || {
                let now = state.clock.now();
                (assertions.request(now.timestamp()), now)
            },
            |(params, now)| token::issue(&state.helseid, &params, &meta, now).unwrap(),
            BatchSize::SmallInput,
        );
    });
    endpoint.finish();

    // 4: verifying that token as the SFM API does.
    let authorization = format!("Bearer {access_token}");
    let parts = RequestParts {
        authorization: Some(&authorization),
        dpop: None,
        method: "GET",
        urls: &[],
    };
    let required = Requirements {
        audience: Some("e-helse:sfm.api"),
        any_scope: &[SFM_SCOPE],
        single_audience: true,
        dpop: DpopPolicy::Allowed,
    };
    let verified = state.helseid.tokens.verify(&parts, &required, now).unwrap();
    assert_eq!(verified.claim_str("client_id"), Some(CLIENT_ID));

    let mut verify = c.benchmark_group("verify");
    verify.bench_function("access_token", |b| {
        b.iter(|| {
            state
                .helseid
                .tokens
                .verify(black_box(&parts), &required, now)
                .unwrap()
        });
    });
    verify.finish();
}

criterion_group!(tokens, benches);
criterion_main!(tokens);
