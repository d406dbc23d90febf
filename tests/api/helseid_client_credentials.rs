//! `POST /helseid/connect/token` with `grant_type=client_credentials`: private_key_jwt client
//! authentication, scopes and audiences, the exact claims, and organisation details.

use jsonwebtoken::Algorithm;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const SFM: &str = "e-helse:sfm.api/sfm.api";

async fn token_claims(reply: &Reply) -> (Value, Value) {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    decode_jwt(reply.json["access_token"].as_str().unwrap())
}

#[actix_web::test]
async fn single_tenant_sfm_token_has_the_claims_of_the_real_one() {
    let app = spawn_app().await;
    let reply = app.system_token(SFM_NEW_TENANT, SFM).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.header("pragma"), Some("no-cache"));
    assert_eq!(reply.json["token_type"], "Bearer");
    assert_eq!(reply.json["expires_in"], 600);
    assert_eq!(reply.json["scope"], SFM);

    let (header, claims) = token_claims(&reply).await;
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "at+jwt");
    let jwks = app
        .get("/helseid/.well-known/openid-configuration/jwks")
        .await;
    assert_eq!(header["kid"], jwks.json["keys"][0]["kid"]);

    let now = app.now().timestamp();
    let jti = claims["jti"].as_str().unwrap().to_owned();
    assert_eq!(jti.len(), 32);
    assert!(
        jti.bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    );
    assert_eq!(
        claims,
        json!({
            "iss": app.issuer(),
            "nbf": now,
            "iat": now,
            "exp": now + 600,
            "aud": "e-helse:sfm.api",
            "scope": [SFM],
            "client_id": SFM_NEW_TENANT,
            "client_amr": "private_key_jwt",
            "helseid://claims/client/claims/orgnr_parent": "917897468",
            "helseid://claims/client/amr": "rsa_private_key",
            "helseid://claims/client/client_tenancy": "single-tenant",
            "e-helse:sfm.api/client/claims/sfm-id": "a99abfb4-2bea-4e0a-bb03-38e37febbd2c",
            "jti": jti,
        })
    );
}

#[actix_web::test]
async fn tokens_for_other_apis_carry_no_sfm_id() {
    let app = spawn_app().await;
    let (_, claims) = token_claims(
        &app.system_token(KJERNEJOURNAL, "https://ehelse.no/nhn:kjernejournal/kj_api")
            .await,
    )
    .await;
    assert_eq!(claims["aud"], "nhn:kjernejournal");
    assert_eq!(
        claims["scope"],
        json!(["https://ehelse.no/nhn:kjernejournal/kj_api"])
    );
    assert_eq!(
        claims["helseid://claims/client/claims/orgnr_parent"],
        "987654325"
    );
    let claims = claims.as_object().unwrap();
    assert!(!claims.contains_key("e-helse:sfm.api/client/claims/sfm-id"));
    for user_claim in ["sub", "helseid://claims/identity/pid", "amr", "idp", "sid"] {
        assert!(
            !claims.contains_key(user_claim),
            "{user_claim} in a system token"
        );
    }
}

#[actix_web::test]
async fn several_scopes_of_one_api_are_granted_together() {
    let app = spawn_app().await;
    let reply = app
        .system_token(
            SFM_READY,
            "e-helse:sfm.api/sfm.api e-helse:sfm.api/sfm-migrering.api e-helse:sfm.api/sfm.api",
        )
        .await;
    let (_, claims) = token_claims(&reply).await;
    assert_eq!(
        claims["scope"],
        json!([
            "e-helse:sfm.api/sfm.api",
            "e-helse:sfm.api/sfm-migrering.api"
        ])
    );
    assert_eq!(
        reply.json["scope"],
        "e-helse:sfm.api/sfm.api e-helse:sfm.api/sfm-migrering.api"
    );
}

#[actix_web::test]
async fn multi_tenant_token_names_parent_child_supplier_and_journal() {
    let app = spawn_app().await;
    let assertion = Assertion::new(&app, MULTI_TENANT)
        .claim(
            "assertion_details",
            json!([
                org_detail("urn:oid:1.0.6523", "NO:ORGNR:917897468:923456783"),
                {"type": "nhn:sfm:journal-id",
                 "value": {"journal_id": "a99abfb4-2bea-4e0a-bb03-38e37febbd2c"}}
            ]),
        )
        .sign();
    let reply = app
        .client_credentials(MULTI_TENANT, SFM, &assertion, &[])
        .await;
    let (_, claims) = token_claims(&reply).await;
    assert_eq!(
        claims["helseid://claims/client/client_tenancy"],
        "multi-tenant"
    );
    assert_eq!(
        claims["helseid://claims/client/claims/orgnr_parent"],
        "917897468"
    );
    assert_eq!(
        claims["helseid://claims/client/claims/orgnr_child"],
        "923456783"
    );
    assert_eq!(
        claims["helseid://claims/client/claims/orgnr_supplier"],
        "994598759"
    );
    assert_eq!(
        claims["nhn:sfm:journal-id"],
        "a99abfb4-2bea-4e0a-bb03-38e37febbd2c"
    );
    assert_eq!(
        claims["e-helse:sfm.api/client/claims/sfm-id"],
        "ce75db36-c57b-4592-9d47-5dfae8a34340"
    );
    // The spec's multi-tenant example token lives an hour (exp 1716477163 − iat 1716473563);
    // its single-tenant one ten minutes (see
    // single_tenant_sfm_token_has_the_claims_of_the_real_one).
    assert_eq!(reply.json["expires_in"], 3600);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
}

#[actix_web::test]
async fn authorization_details_as_one_object_is_accepted_too() {
    let app = spawn_app().await;
    let assertion = Assertion::new(&app, MULTI_TENANT)
        .claim(
            "authorization_details",
            org_detail("urn:oid:1.0.6523", "NO:ORGNR:917897468"),
        )
        .sign();
    let reply = app
        .client_credentials(MULTI_TENANT, "nhn:pts/api", &assertion, &[])
        .await;
    let (_, claims) = token_claims(&reply).await;
    assert_eq!(
        claims["helseid://claims/client/claims/orgnr_parent"],
        "917897468"
    );
    assert!(
        claims
            .get("helseid://claims/client/claims/orgnr_child")
            .is_none()
    );
}

#[actix_web::test]
async fn single_tenant_client_may_name_a_child_organisation() {
    let app = spawn_app().await;
    let assertion = Assertion::new(&app, SFM_READY)
        .claim(
            "assertion_details",
            json!([org_detail("urn:oid:2.16.578.1.12.4.1.4.101", "922222223")]),
        )
        .sign();
    let reply = app
        .client_credentials(SFM_READY, SFM, &assertion, &[])
        .await;
    let (_, claims) = token_claims(&reply).await;
    assert_eq!(
        claims["helseid://claims/client/claims/orgnr_parent"],
        "923456783"
    );
    assert_eq!(
        claims["helseid://claims/client/claims/orgnr_child"],
        "922222223"
    );
}

#[actix_web::test]
async fn organisation_errors_use_helseid_codes() {
    let app = spawn_app().await;
    let cases: Vec<(&str, Assertion, &str)> = vec![
        (
            MULTI_TENANT,
            Assertion::new(&app, MULTI_TENANT),
            "HID-1007: a multi-tenant client must name the organisation it acts for in the client \
             assertion: assertion_details \
             [{\"type\":\"helseid_authorization\",\
             \"practitioner_role\":{\"organization\":{\"identifier\":{\
             \"system\":\"urn:oid:1.0.6523\",\"type\":\"ENH\",\
             \"value\":\"NO:ORGNR:<parent>[:<child>]\"}}}}]",
        ),
        (
            MULTI_TENANT,
            Assertion::new(&app, MULTI_TENANT).multi_tenant_org("NO:ORGNR:91789746"),
            "HID-1004: The format of the organization number '91789746' was incorrect. Valid \
             organization numbers must be nine digits, no spaces or letters",
        ),
        (
            MULTI_TENANT,
            Assertion::new(&app, MULTI_TENANT).multi_tenant_org("NO:ORGNR:917897468:12345678X"),
            "HID-1004: The format of the organization number '12345678X' was incorrect. Valid \
             organization numbers must be nine digits, no spaces or letters",
        ),
        (
            MULTI_TENANT,
            Assertion::new(&app, MULTI_TENANT).multi_tenant_org("917897468"),
            "HID-1007: the organisation identifier value must be NO:ORGNR:<parent>[:<child>], got \
             '917897468'",
        ),
        (
            MULTI_TENANT,
            Assertion::new(&app, MULTI_TENANT)
                .multi_tenant_org("NO:ORGNR:917897468")
                .claim(
                    "authorization_details",
                    json!([org_detail("urn:oid:1.0.6523", "NO:ORGNR:917897468")]),
                ),
            "HID-1007: the client assertion has both assertion_details and authorization_details: \
             use one of them (assertion_details is preferred)",
        ),
        (
            MULTI_TENANT,
            Assertion::new(&app, MULTI_TENANT).claim(
                "assertion_details",
                json!([org_detail("urn:oid:2.16.578.1.12.4.1.4.101", "917897468")]),
            ),
            "HID-1007: a multi-tenant client names its organisation with system urn:oid:1.0.6523 \
             and value NO:ORGNR:<parent>[:<child>] (got system 'urn:oid:2.16.578.1.12.4.1.4.101')",
        ),
        (
            MULTI_TENANT,
            Assertion::new(&app, MULTI_TENANT).claim(
                "assertion_details",
                json!([{"type": "helseid_authorization"}]),
            ),
            "HID-1007: the helseid_authorization detail needs \
             practitioner_role.organization.identifier {system, type, value}",
        ),
        (
            MULTI_TENANT,
            Assertion::new(&app, MULTI_TENANT)
                .claim("assertion_details", json!("NO:ORGNR:917897468")),
            "HID-1007: assertion_details must be an object or an array of objects",
        ),
        (
            MULTI_TENANT,
            Assertion::new(&app, MULTI_TENANT).claim(
                "assertion_details",
                json!([
                    org_detail("urn:oid:1.0.6523", "NO:ORGNR:917897468"),
                    {"type": "nhn:sfm:journal-id", "value": "x"}
                ]),
            ),
            "HID-1007: the nhn:sfm:journal-id detail must be \
             {\"type\":\"nhn:sfm:journal-id\",\"value\":{\"journal_id\":\"<GUID>\"}}",
        ),
        (
            SFM_READY,
            Assertion::new(&app, SFM_READY).multi_tenant_org("NO:ORGNR:917897468"),
            "HID-1007: a single-tenant client names only a child organisation, with system \
             urn:oid:2.16.578.1.12.4.1.4.101 and the nine-digit number as value (got system \
             'urn:oid:1.0.6523')",
        ),
        (
            SFM_READY,
            Assertion::new(&app, SFM_READY).claim(
                "assertion_details",
                json!([
                    {"type": "nhn:sfm:journal-id",
                     "value": {"journal_id": "a99abfb4-2bea-4e0a-bb03-38e37febbd2c"}}
                ]),
            ),
            "HID-1007: nhn:sfm:journal-id is for multi-tenant clients; a single-tenant client's \
             SFM tenant is its sfm-id",
        ),
    ];
    for (client, assertion, description) in cases {
        let reply = app
            .client_credentials(client, SFM, &assertion.sign(), &[])
            .await;
        reply.assert_oauth_error("invalid_request", description);
    }
}

#[actix_web::test]
async fn every_asymmetric_algorithm_authenticates_a_client() {
    let app = spawn_app().await;
    let cases = [
        (TestKey::rsa(Algorithm::RS384), "rsa_private_key"),
        (TestKey::rsa(Algorithm::RS512), "rsa_private_key"),
        (TestKey::rsa(Algorithm::PS256), "rsa_private_key"),
        (TestKey::rsa(Algorithm::PS384), "rsa_private_key"),
        (TestKey::rsa(Algorithm::PS512), "rsa_private_key"),
        (TestKey::ec("P-256"), "ec_private_key"),
        (TestKey::ec("P-384"), "ec_private_key"),
        (TestKey::ec("P-521"), "ec_private_key"),
    ];
    for (i, (key, amr)) in cases.into_iter().enumerate() {
        let client_id = format!("alg-client-{i}");
        let kid = format!("key-{i}");
        let reply = app
            .register_client(&json!({
                "client_id": client_id,
                "jwks": {"keys": [key.public_jwk_with_kid(&kid)]},
                "tenancy": "single-tenant",
                "orgnr_parent": "917897468",
                "scopes": [SFM],
            }))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        let alg = key.alg();
        let assertion = Assertion::with_key(&app, &client_id, key, Some(&kid)).sign();
        let reply = app
            .client_credentials(&client_id, SFM, &assertion, &[])
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{alg}: {}", reply.text);
        let (_, claims) = decode_jwt(reply.json["access_token"].as_str().unwrap());
        assert_eq!(claims["helseid://claims/client/amr"], amr, "{alg}");
    }
}

#[actix_web::test]
async fn assertion_without_kid_is_tried_against_every_registered_key() {
    let app = spawn_app().await;
    let assertion = Assertion::with_key(&app, SFM_READY, TestKey::fixture(SFM_READY), None).sign();
    let reply = app
        .client_credentials(SFM_READY, SFM, &assertion, &[])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

#[actix_web::test]
async fn assertion_audience_may_be_the_issuer_the_token_endpoint_or_an_array() {
    let app = spawn_app().await;
    for aud in [
        json!(app.token_endpoint()),
        json!(["https://elsewhere", app.issuer()]),
        json!(format!("{}/", app.issuer())),
    ] {
        let assertion = Assertion::new(&app, SFM_READY)
            .claim("aud", aud.clone())
            .sign();
        let reply = app
            .client_credentials(SFM_READY, SFM, &assertion, &[])
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{aud}: {}", reply.text);
    }
}

#[actix_web::test]
async fn client_authentication_failures_are_invalid_client() {
    let app = spawn_app().await;
    let iss = app.issuer();
    let kid = TestKey::fixture(SFM_READY).public_jwk()["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let other_key = TestKey::rsa(Algorithm::RS256);
    let now = app.now().timestamp();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "garbage",
            "not-a-jwt".to_owned(),
            "The client_assertion is not a valid JWT: not a compact JWS (expected three base64url \
             parts separated by dots)",
        ),
        (
            "HS256",
            hs256(
                &Assertion::new(&app, SFM_READY).header,
                &Assertion::new(&app, SFM_READY).claims,
            ),
            "The client_assertion must be signed with the client's private key using an asymmetric \
             algorithm (RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512); got alg \
             'HS256'",
        ),
        (
            "none",
            unsigned(&Assertion::new(&app, SFM_READY).claims),
            "The client_assertion is not a valid JWT: it is not signed (alg 'none' with an empty \
             signature): only JWTs signed with an asymmetric key are accepted",
        ),
        (
            "typ",
            Assertion::new(&app, SFM_READY)
                .header("typ", json!("dpop+jwt"))
                .sign(),
            "The client_assertion's typ must be 'client-authentication+jwt' (or 'JWT'), got \
             'dpop+jwt'",
        ),
        (
            "no iss",
            Assertion::new(&app, SFM_READY).without("iss").sign(),
            "The client_assertion must have iss and sub set to the client_id",
        ),
        (
            "sub",
            Assertion::new(&app, SFM_READY)
                .claim("sub", json!("someone-else"))
                .sign(),
            "The client_assertion's sub 'someone-else' must equal its iss \
             '28472fd6-8a1e-480c-a670-06b7e5230d20' (the client_id)",
        ),
        (
            "other key",
            Assertion::with_key(&app, SFM_READY, other_key.clone(), Some(&kid)).sign(),
            "The client_assertion's signature does not verify with the key(s) registered for \
             client '28472fd6-8a1e-480c-a670-06b7e5230d20'",
        ),
        (
            "unknown kid",
            Assertion::with_key(&app, SFM_READY, other_key, Some("nope")).sign(),
            "The client_assertion's kid 'nope' is not among the keys registered for client \
             '28472fd6-8a1e-480c-a670-06b7e5230d20'",
        ),
        (
            "alg/key mismatch",
            Assertion::with_key(&app, SFM_READY, TestKey::ec("P-256"), Some(&kid)).sign(),
            "No key registered for client '28472fd6-8a1e-480c-a670-06b7e5230d20' can verify a \
             ES256 signature",
        ),
        (
            "aud",
            Assertion::new(&app, SFM_READY)
                .claim("aud", json!("https://helseid-sts.test.nhn.no"))
                .sign(),
            &*Box::leak(
                format!(
                    "The client_assertion's aud must be the issuer {iss} (or the token endpoint \
                     {iss}/connect/token, or the PAR endpoint {iss}/connect/par); got \
                     \"https://helseid-sts.test.nhn.no\""
                )
                .into_boxed_str(),
            ),
        ),
        (
            "no exp",
            Assertion::new(&app, SFM_READY).without("exp").sign(),
            "The client_assertion must have exp (seconds since the epoch)",
        ),
        (
            "expired",
            Assertion::new(&app, SFM_READY)
                .claim("exp", json!(now - 11))
                .sign(),
            "The client_assertion expired at 2026-03-02T09:59:49+00:00: create a new assertion for \
             every request",
        ),
        (
            "too long",
            Assertion::new(&app, SFM_READY)
                .claim("exp", json!(now + 120))
                .sign(),
            "The client_assertion's exp is 120 seconds ahead: HelseID accepts at most 60 seconds",
        ),
        (
            "iat future",
            Assertion::new(&app, SFM_READY)
                .claim("iat", json!(now + 30))
                .sign(),
            "The client_assertion's iat is in the future: check the client's clock",
        ),
        (
            "nbf future",
            Assertion::new(&app, SFM_READY)
                .claim("nbf", json!(now + 30))
                .sign(),
            "The client_assertion's nbf is in the future: check the client's clock",
        ),
        (
            "no jti",
            Assertion::new(&app, SFM_READY).without("jti").sign(),
            "The client_assertion must have a jti (a unique id)",
        ),
        (
            "jti too long",
            Assertion::new(&app, SFM_READY)
                .claim("jti", json!("j".repeat(257)))
                .sign(),
            "The client_assertion's jti is 257 bytes long: at most 256 are accepted (a GUID is \
             plenty)",
        ),
    ];
    for (name, assertion, description) in cases {
        let reply = app
            .client_credentials(SFM_READY, SFM, &assertion, &[])
            .await;
        assert_eq!(reply.json["error_description"], description, "case {name}");
        reply.assert_oauth_error("invalid_client", description);
    }
}

#[actix_web::test]
async fn assertion_lifetime_boundaries() {
    let app = spawn_app().await;
    let now = app.now().timestamp();
    // 60 s ahead is the documented maximum (plus 10 s of clock skew); exp just passed is within
    // skew.
    for exp in [now + 60, now + 70, now - 10] {
        let assertion = Assertion::new(&app, SFM_READY)
            .claim("exp", json!(exp))
            .sign();
        let reply = app
            .client_credentials(SFM_READY, SFM, &assertion, &[])
            .await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "exp {}: {}",
            exp - now,
            reply.text
        );
    }
    let assertion = Assertion::new(&app, SFM_READY)
        .claim("exp", json!(now + 71))
        .sign();
    let reply = app
        .client_credentials(SFM_READY, SFM, &assertion, &[])
        .await;
    assert_eq!(reply.json["error"], "invalid_client");
}

#[actix_web::test]
async fn an_assertion_is_single_use() {
    let app = spawn_app().await;
    let assertion = Assertion::new(&app, SFM_READY).sign();
    let first = app
        .client_credentials(SFM_READY, SFM, &assertion, &[])
        .await;
    assert_eq!(first.status, StatusCode::OK);
    let replay = app
        .client_credentials(SFM_READY, SFM, &assertion, &[])
        .await;
    replay.assert_oauth_error(
        "invalid_client",
        "The client_assertion's jti has been used before: create a new assertion (new jti) for \
         every request",
    );
    // Even a request that fails after authentication consumes the assertion.
    let assertion = Assertion::new(&app, SFM_READY).sign();
    let failed = app
        .client_credentials(SFM_READY, "nope", &assertion, &[])
        .await;
    assert_eq!(failed.json["error"], "invalid_scope");
    let replay = app
        .client_credentials(SFM_READY, SFM, &assertion, &[])
        .await;
    assert_eq!(replay.json["error"], "invalid_client");
}

#[actix_web::test]
async fn client_secrets_and_missing_authentication_are_refused() {
    let app = spawn_app().await;
    let base = [
        ("grant_type", "client_credentials"),
        ("scope", SFM),
        ("client_id", SFM_READY),
    ];

    let reply = app
        .token_request(&base, &[("Authorization", "Basic c2VjcmV0OnNlY3JldA==")])
        .await;
    reply.assert_oauth_error(
        "invalid_client",
        "HelseID accepts only private_key_jwt client authentication: client secrets \
         (client_secret_basic) are refused; send client_assertion and client_assertion_type \
         instead of an Authorization: Basic header",
    );

    let mut form = base.to_vec();
    form.push(("client_secret", "secret"));
    let reply = app.token_request(&form, &[]).await;
    reply.assert_oauth_error(
        "invalid_client",
        "HelseID accepts only private_key_jwt client authentication: client secrets \
         (client_secret_post) are refused; send client_assertion and client_assertion_type",
    );

    let reply = app.token_request(&base, &[]).await;
    reply.assert_oauth_error(
        "invalid_client",
        "Client authentication is missing: send client_assertion (a JWT signed with the client's \
         private key) and \
         client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    );

    let mut form = base.to_vec();
    form.push((
        "client_assertion_type",
        "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
    ));
    let reply = app.token_request(&form, &[]).await;
    reply.assert_oauth_error(
        "invalid_client",
        "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer, got \
         'urn:ietf:params:oauth:client-assertion-type:saml2-bearer'",
    );

    let mut form = base.to_vec();
    form.push(("client_assertion_type", ASSERTION_TYPE));
    let reply = app.token_request(&form, &[]).await;
    reply.assert_oauth_error(
        "invalid_client",
        "client_assertion is missing: sign a JWT with the client's private key (private_key_jwt)",
    );

    let assertion = Assertion::new(&app, SFM_READY).sign();
    let reply = app
        .client_credentials(SFM_NEW_TENANT, SFM, &assertion, &[])
        .await;
    reply.assert_oauth_error(
        "invalid_client",
        "client_id 'dc7ce5b5-670a-40f8-bd64-801e408b7069' does not match the client_assertion's \
         iss '28472fd6-8a1e-480c-a670-06b7e5230d20'",
    );

    let assertion =
        Assertion::with_key(&app, "unknown-client", TestKey::fixture(SFM_READY), None).sign();
    let reply = app
        .client_credentials("unknown-client", SFM, &assertion, &[])
        .await;
    reply.assert_oauth_error("invalid_client", "Unknown client 'unknown-client'");
}

#[actix_web::test]
async fn scope_rules() {
    let app = spawn_app().await;
    let cases = [
        (
            MULTI_TENANT,
            "",
            "invalid_scope",
            "No scope requested: ask for the API scope the token is for, e.g. \
             scope=e-helse:sfm.api/sfm.api",
        ),
        (SFM_READY, "nope", "invalid_scope", "Unknown scope 'nope'"),
        (
            SFM_READY,
            "openid e-helse:sfm.api/sfm.api",
            "invalid_scope",
            "The identity scope 'openid' cannot be requested with client_credentials \
             (machine-to-machine): ask only for API scopes",
        ),
        (
            SFM_READY,
            "nhn:pts/api",
            "invalid_scope",
            "The client '28472fd6-8a1e-480c-a670-06b7e5230d20' is not allowed the scope \
             'nhn:pts/api'",
        ),
        (
            MULTI_TENANT,
            "e-helse:sfm.api/sfm.api nhn:pts/api",
            "invalid_scope",
            "The requested scopes belong to several APIs (e-helse:sfm.api, nhn:pts): HelseID \
             issues tokens with a single audience, so ask for one token per API",
        ),
    ];
    for (client, scope, code, description) in cases {
        let mut assertion = Assertion::new(&app, client);
        if client == MULTI_TENANT {
            assertion = assertion.multi_tenant_org("NO:ORGNR:917897468");
        }
        let reply = app
            .client_credentials(client, scope, &assertion.sign(), &[])
            .await;
        reply.assert_oauth_error(code, description);
    }
}

#[actix_web::test]
async fn resource_must_match_the_audience() {
    let app = spawn_app().await;
    let request = |resource: Vec<&'static str>| {
        let assertion = Assertion::new(&app, SFM_READY).sign();
        let app = &app;
        async move {
            let mut form = vec![
                ("grant_type", "client_credentials"),
                ("scope", SFM),
                ("client_assertion_type", ASSERTION_TYPE),
            ];
            for r in resource {
                form.push(("resource", r));
            }
            form.push(("client_assertion", assertion.as_str()));
            app.token_request(&form, &[]).await
        }
    };
    assert_eq!(
        request(vec!["e-helse:sfm.api"]).await.status,
        StatusCode::OK
    );
    request(vec!["nhn:pts"]).await.assert_oauth_error(
        "invalid_target",
        "The resource 'nhn:pts' does not match the audience 'e-helse:sfm.api' of the requested \
         scopes",
    );
    request(vec!["e-helse:sfm.api", "nhn:pts"]).await.assert_oauth_error(
        "invalid_target",
        "A client_credentials request names at most one resource: HelseID issues tokens with one \
         audience",
    );
}

#[actix_web::test]
async fn grant_type_rules() {
    let app = spawn_app().await;
    let request = |grant: Option<&'static str>| {
        let assertion = Assertion::new(&app, SFM_READY).sign();
        let app = &app;
        async move {
            let mut form = vec![("scope", SFM), ("client_assertion_type", ASSERTION_TYPE)];
            if let Some(grant) = grant {
                form.push(("grant_type", grant));
            }
            form.push(("client_assertion", assertion.as_str()));
            app.token_request(&form, &[]).await
        }
    };
    request(None)
        .await
        .assert_oauth_error("unsupported_grant_type", "grant_type is missing");
    request(Some("password")).await.assert_oauth_error(
        "unsupported_grant_type",
        "Unknown grant_type 'password'; HelseID supports authorization_code, client_credentials, \
         refresh_token, urn:ietf:params:oauth:grant-type:token-exchange",
    );
}

#[actix_web::test]
async fn malformed_requests_are_invalid_request() {
    let app = spawn_app().await;
    let reply = app.get("/helseid/connect/token").await;
    reply.assert_oauth_error(
        "invalid_request",
        "The token endpoint accepts only POST with Content-Type application/x-www-form-urlencoded, \
         not GET",
    );

    let reply = Reply::read(
        app.http
            .post(app.token_endpoint())
            .json(&json!({"grant_type": "client_credentials"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    reply.assert_oauth_error(
        "invalid_request",
        "The token endpoint takes a form: Content-Type must be application/x-www-form-urlencoded, \
         got 'application/json'",
    );

    let reply = app
        .token_request(
            &[
                ("grant_type", "client_credentials"),
                ("grant_type", "client_credentials"),
            ],
            &[],
        )
        .await;
    reply.assert_oauth_error(
        "invalid_request",
        "The parameter 'grant_type' is included more than once",
    );

    let big = "x".repeat(70 * 1024);
    let reply = app
        .token_request(
            &[("grant_type", "client_credentials"), ("padding", &big)],
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.json["error"], "invalid_request");
    assert!(
        reply.json["error_description"]
            .as_str()
            .unwrap()
            .starts_with("The request body is too large"),
        "{}",
        reply.text
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));
}

#[actix_web::test]
async fn token_lifetime_follows_the_client_and_the_clock() {
    let app = spawn_app().await;
    let key = TestKey::rsa(Algorithm::RS256);
    let reply = app
        .register_client(&json!({
            "client_id": "short-lived",
            "jwks": {"keys": [key.public_jwk_with_kid("k1")]},
            "tenancy": "single-tenant",
            "orgnr_parent": "917897468",
            "scopes": [SFM],
            "access_token_lifetime": 120,
        }))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    advance(&app, 3600);
    let assertion = Assertion::with_key(&app, "short-lived", key, Some("k1")).sign();
    let reply = app
        .client_credentials("short-lived", SFM, &assertion, &[])
        .await;
    assert_eq!(reply.json["expires_in"], 120);
    let (_, claims) = decode_jwt(reply.json["access_token"].as_str().unwrap());
    let now = helpers_t0_plus(3600);
    assert_eq!(claims["iat"], now);
    assert_eq!(claims["exp"], now + 120);
}

fn helpers_t0_plus(seconds: i64) -> i64 {
    t0().timestamp() + seconds
}
