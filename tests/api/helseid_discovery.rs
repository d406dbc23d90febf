//! Discovery, JWKS, and a real OIDC client library (the `openidconnect` crate) getting and
//! verifying a system token from every shipped client.

use openidconnect::core::{CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata};
use openidconnect::{
    AsyncHttpClient as _, ClientId, IssuerUrl, JsonWebKey as _, OAuth2TokenResponse as _, Scope,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

#[actix_web::test]
async fn discovery_names_the_issuer_and_duende_endpoints() {
    let app = spawn_app().await;
    let reply = app.get("/helseid/.well-known/openid-configuration").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let doc = &reply.json;
    let iss = app.issuer();
    assert_eq!(doc["issuer"], iss);
    assert_eq!(
        doc["jwks_uri"],
        format!("{iss}/.well-known/openid-configuration/jwks")
    );
    for (field, path) in [
        ("token_endpoint", "/connect/token"),
        ("authorization_endpoint", "/connect/authorize"),
        ("pushed_authorization_request_endpoint", "/connect/par"),
        ("userinfo_endpoint", "/connect/userinfo"),
        ("end_session_endpoint", "/connect/endsession"),
        ("revocation_endpoint", "/connect/revocation"),
        ("introspection_endpoint", "/connect/introspect"),
    ] {
        assert_eq!(doc[field], format!("{iss}{path}"), "{field}");
    }
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!(["private_key_jwt"])
    );
    assert_eq!(
        doc["grant_types_supported"],
        json!([
            "authorization_code",
            "client_credentials",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:token-exchange"
        ])
    );
    let algs = json!([
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"
    ]);
    assert_eq!(doc["dpop_signing_alg_values_supported"], algs);
    assert_eq!(
        doc["token_endpoint_auth_signing_alg_values_supported"],
        algs
    );
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        doc["authorization_response_iss_parameter_supported"],
        json!(true)
    );
    let contains =
        |field: &str, value: &str| doc[field].as_array().unwrap().iter().any(|v| v == value);
    for claim in [
        "nhn:sfm:journal-id",
        "helseid://claims/client/claims/orgnr_parent",
        "helseid://claims/client/claims/orgnr_supplier",
        "e-helse:sfm.api/client/claims/sfm-id",
        "helseid://claims/identity/pid",
    ] {
        assert!(contains("claims_supported", claim), "{claim}");
    }
    for scope in [
        "openid",
        "e-helse:sfm.api/sfm.api",
        "e-helse:sfm.api/sfm-migrering.api",
        "nhn:kjernejournal/api",
        "https://ehelse.no/nhn:kjernejournal/kj_api",
        "nhn:pts/api",
    ] {
        assert!(contains("scopes_supported", scope), "{scope}");
    }
}

#[actix_web::test]
async fn public_url_sets_the_issuer() {
    let app = spawn_app_with(|s| {
        s.public_url =
            Some(helsesim::config::parse_public_url("https://helsesim.example:9443/").unwrap());
    })
    .await;
    assert_eq!(app.base, "https://helsesim.example:9443");
    let reply = Reply::read(
        app.http
            .get(format!(
                "http://127.0.0.1:{}/helseid/.well-known/openid-configuration",
                app.port
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        reply.json["issuer"],
        "https://helsesim.example:9443/helseid"
    );
    assert_eq!(
        reply.json["token_endpoint"],
        "https://helsesim.example:9443/helseid/connect/token"
    );
}

#[actix_web::test]
async fn jwks_publishes_the_public_signing_key_only() {
    let app = spawn_app().await;
    let reply = app
        .get("/helseid/.well-known/openid-configuration/jwks")
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let keys = reply.json["keys"].as_array().unwrap();
    assert!(!keys.is_empty());
    let key = keys[0].as_object().unwrap();
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["use"], "sig");
    assert!(key["kid"].as_str().is_some_and(|k| !k.is_empty()));
    assert!(key["n"].as_str().unwrap().len() > 300, "RSA-2048 modulus");
    assert_eq!(key["e"], "AQAB");
    for private in ["d", "p", "q", "dp", "dq", "qi"] {
        assert!(!key.contains_key(private), "{private}");
    }
}

/// Discovers with `openidconnect`, gets a token with private_key_jwt through the library's own
/// client_credentials request, and verifies the token's signature with the discovered JWKS.
async fn token_through_openidconnect(app: &TestApp, client_id: &str, scope: &str, dpop: bool) {
    let http = openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.issuer()).unwrap(), &http)
            .await
            .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        metadata.clone(),
        ClientId::new(client_id.to_owned()),
        None,
    );
    let assertion = Assertion::new(app, client_id)
        .claim("aud", json!(metadata.issuer().as_str()))
        .sign();
    let request = client
        .exchange_client_credentials()
        .expect("token endpoint discovered")
        .add_scope(Scope::new(scope.to_owned()))
        .add_extra_param("client_assertion_type", ASSERTION_TYPE)
        .add_extra_param("client_assertion", assertion);
    let response = if dpop {
        let key = TestKey::ec("P-256");
        let nonce = app.dpop_nonce(client_id, scope, &key).await;
        let proof = Proof::token(app, &key).nonce(&nonce).sign();
        let with_dpop = move |mut req: openidconnect::HttpRequest| {
            let http = http.clone();
            let proof = proof.clone();
            async move {
                req.headers_mut().insert("DPoP", proof.parse().unwrap());
                http.call(req).await
            }
        };
        request.request_async(&with_dpop).await.expect("DPoP token")
    } else {
        request.request_async(&http).await.expect("token")
    };
    let token = response.access_token().secret();
    let (header, claims) = decode_jwt(token);
    assert_eq!(claims["client_id"], client_id);
    let kid = header["kid"].as_str().unwrap();
    let jwk = metadata
        .jwks()
        .keys()
        .iter()
        .find(|k| k.key_id().map(|id| id.as_str()) == Some(kid))
        .expect("the token's kid is in the discovered JWKS");
    let (signing_input, signature) = token.rsplit_once('.').unwrap();
    use base64::Engine as _;
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature)
        .unwrap();
    jwk.verify_signature(
        &CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        signing_input.as_bytes(),
        &signature,
    )
    .expect("signature verifies with the JWKS");
    let mut tampered = signature.clone();
    tampered[0] ^= 1;
    assert!(
        jwk.verify_signature(
            &CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            signing_input.as_bytes(),
            &tampered
        )
        .is_err()
    );
}

#[actix_web::test]
async fn openidconnect_client_gets_and_verifies_a_token_for_every_shipped_client() {
    // The library checks times against the system clock.
    let app = spawn_with_clock(test_settings(), helsesim::Clock::system()).await;
    token_through_openidconnect(&app, SFM_NEW_TENANT, "e-helse:sfm.api/sfm.api", false).await;
    token_through_openidconnect(&app, SFM_READY, "e-helse:sfm.api/sfm-migrering.api", false).await;
    token_through_openidconnect(
        &app,
        KJERNEJOURNAL,
        "https://ehelse.no/nhn:kjernejournal/kj_api",
        false,
    )
    .await;
    token_through_openidconnect(&app, PTS, "nhn:pts/api", true).await;
}

#[actix_web::test]
async fn openidconnect_multi_tenant_client_names_its_organisation() {
    let app = spawn_with_clock(test_settings(), helsesim::Clock::system()).await;
    let http = openidconnect::reqwest::Client::new();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.issuer()).unwrap(), &http)
            .await
            .unwrap();
    let client =
        CoreClient::from_provider_metadata(metadata, ClientId::new(MULTI_TENANT.to_owned()), None);
    let assertion = Assertion::new(&app, MULTI_TENANT)
        .multi_tenant_org("NO:ORGNR:917897468")
        .sign();
    let response = client
        .exchange_client_credentials()
        .unwrap()
        .add_scope(Scope::new("nhn:kjernejournal/api".to_owned()))
        .add_extra_param("client_assertion_type", ASSERTION_TYPE)
        .add_extra_param("client_assertion", assertion)
        .request_async(&http)
        .await
        .unwrap();
    let (_, claims) = decode_jwt(response.access_token().secret());
    assert_eq!(
        claims["helseid://claims/client/claims/orgnr_parent"],
        "917897468"
    );
    assert_eq!(claims["aud"], Value::from("nhn:kjernejournal"));
}

/// A fresh key for a JOSE algorithm name of discovery.
fn key_for(alg: &str) -> TestKey {
    use jsonwebtoken::Algorithm;
    match alg {
        "ES256" => TestKey::ec("P-256"),
        "ES384" => TestKey::ec("P-384"),
        "ES512" => TestKey::ec("P-521"),
        "RS256" => TestKey::rsa(Algorithm::RS256),
        "RS384" => TestKey::rsa(Algorithm::RS384),
        "RS512" => TestKey::rsa(Algorithm::RS512),
        "PS256" => TestKey::rsa(Algorithm::PS256),
        "PS384" => TestKey::rsa(Algorithm::PS384),
        "PS512" => TestKey::rsa(Algorithm::PS512),
        other => {
            panic!("discovery advertises an algorithm the test cannot make a key for: {other}")
        }
    }
}

/// RFC 8414 §2: what discovery advertises must work. Reads the document and tries every value of
/// the fields an EHR picks from (issue 13: `fragment` was advertised but refused).
#[actix_web::test]
async fn every_value_discovery_advertises_works() {
    let app = spawn_app().await;
    let doc = app
        .get("/helseid/.well-known/openid-configuration")
        .await
        .json;
    let list = |field: &str| -> Vec<String> {
        doc[field]
            .as_array()
            .unwrap_or_else(|| panic!("{field} is a list"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };

    // Every response mode delivers the code of a whole login.
    for mode in list("response_modes_supported") {
        let pkce = Pkce::new();
        let mut form = TestApp::login_form(&pkce, SFM_LOGIN_SCOPES, &[("response_mode", &mode)]);
        form.push(("login_hint", DIDRIK));
        let pushed = app.par(SFM_READY, &form, &[]).await;
        assert_eq!(
            pushed.status,
            StatusCode::CREATED,
            "{mode}: {}",
            pushed.text
        );
        let request_uri = pushed.json["request_uri"].as_str().unwrap();
        let reply = app
            .authorize(
                &[("client_id", SFM_READY), ("request_uri", request_uri)],
                None,
            )
            .await;
        let code = match mode.as_str() {
            "query" => reply.redirect_params(REDIRECT_URI)["code"].clone(),
            "fragment" => {
                assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.text);
                let location = url::Url::parse(reply.header("location").unwrap()).unwrap();
                assert_eq!(location.query(), None, "{location}");
                let params = params_of(location.fragment().unwrap());
                assert_eq!(params["state"], "state-123");
                assert_eq!(params["iss"], app.issuer());
                params["code"].clone()
            }
            "form_post" => {
                assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
                assert!(reply.text.contains(&format!("action=\"{REDIRECT_URI}\"")));
                let start = reply.text.find("name=\"code\" value=\"").unwrap() + 19;
                let end = start + reply.text[start..].find('"').unwrap();
                reply.text[start..end].to_owned()
            }
            other => panic!("response mode {other} has no check in this test"),
        };
        let tokens = app
            .exchange_code(SFM_READY, &code, &pkce.verifier, &[], &[])
            .await;
        assert_eq!(tokens.status, StatusCode::OK, "{mode}: {}", tokens.text);
    }

    // Every response type, PKCE method and prompt value is accepted at PAR.
    for (field, parameter) in [
        ("response_types_supported", "response_type"),
        ("code_challenge_methods_supported", "code_challenge_method"),
        ("prompt_values_supported", "prompt"),
    ] {
        for value in list(field) {
            let pkce = Pkce::new();
            let mut form = TestApp::login_form(&pkce, SFM_LOGIN_SCOPES, &[]);
            form.retain(|(name, _)| *name != parameter);
            form.push((parameter, &value));
            let reply = app.par(SFM_READY, &form, &[]).await;
            assert_eq!(
                reply.status,
                StatusCode::CREATED,
                "{field} {value}: {}",
                reply.text
            );
        }
    }

    // Every grant type is known to the token endpoint (refused for what is missing, not as
    // unsupported).
    for grant in list("grant_types_supported") {
        let assertion = Assertion::new(&app, SFM_READY).sign();
        let reply = app
            .token_request(
                &[
                    ("grant_type", grant.as_str()),
                    ("client_assertion_type", ASSERTION_TYPE),
                    ("client_assertion", &assertion),
                ],
                &[],
            )
            .await;
        assert_ne!(
            reply.json["error"], "unsupported_grant_type",
            "{grant}: {}",
            reply.text
        );
    }

    // Every client-assertion algorithm authenticates a client; every DPoP algorithm binds a
    // token (the multi-tenant client, for a PTS token).
    assert_eq!(
        list("token_endpoint_auth_methods_supported"),
        ["private_key_jwt"]
    );
    for (i, alg) in list("token_endpoint_auth_signing_alg_values_supported")
        .iter()
        .enumerate()
    {
        let key = key_for(alg);
        let client_id = format!("discovery-{i}");
        let reply = app
            .register_client(&json!({
                "client_id": client_id,
                "jwks": {"keys": [key.public_jwk_with_kid("k")]},
                "tenancy": "single-tenant",
                "orgnr_parent": "917897468",
                "scopes": ["e-helse:sfm.api/sfm.api"],
            }))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        let assertion = Assertion::with_key(&app, &client_id, key, Some("k")).sign();
        let reply = app
            .client_credentials(&client_id, "e-helse:sfm.api/sfm.api", &assertion, &[])
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{alg}: {}", reply.text);
    }
    for alg in list("dpop_signing_alg_values_supported") {
        let key = key_for(&alg);
        let token = app.dpop_token(PTS, "nhn:pts/api", &key).await;
        let (_, claims) = decode_jwt(&token);
        assert_eq!(claims["cnf"]["jkt"], key.thumbprint(), "{alg}");
    }
    assert_eq!(list("id_token_signing_alg_values_supported"), ["RS256"]);
}
