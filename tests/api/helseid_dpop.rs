//! DPoP (RFC 9449) at the token endpoint: the nonce dance, `cnf.jkt`, and every proof check.

use jsonwebtoken::Algorithm;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

const PTS_SCOPE: &str = "nhn:pts/api";

/// Sends a client_credentials request for the PTS client with `proof` in the DPoP header.
async fn with_proof(app: &TestApp, proof: &str) -> Reply {
    let assertion = Assertion::new(app, PTS).sign();
    app.client_credentials(PTS, PTS_SCOPE, &assertion, &[("DPoP", proof)])
        .await
}

#[actix_web::test]
async fn first_proof_without_nonce_gets_use_dpop_nonce_then_a_bound_token() {
    let app = spawn_app().await;
    let key = TestKey::ec("P-256");
    let assertion = Assertion::new(&app, PTS).sign();
    let proof = Proof::token(&app, &key).sign();
    let first = app
        .client_credentials(PTS, PTS_SCOPE, &assertion, &[("DPoP", &proof)])
        .await;
    first.assert_oauth_error(
        "use_dpop_nonce",
        "The DPoP proof must contain a nonce: retry with the value of the DPoP-Nonce response \
         header",
    );
    let nonce = first
        .header("dpop-nonce")
        .expect("DPoP-Nonce header")
        .to_owned();

    // The retry may resend the same client assertion: use_dpop_nonce did not consume it.
    let proof = Proof::token(&app, &key).nonce(&nonce).sign();
    let reply = app
        .client_credentials(PTS, PTS_SCOPE, &assertion, &[("DPoP", &proof)])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["token_type"], "DPoP");
    assert!(
        reply.header("dpop-nonce").is_some(),
        "a fresh nonce for the next call"
    );
    let (_, claims) = decode_jwt(reply.json["access_token"].as_str().unwrap());
    assert_eq!(claims["cnf"], json!({"jkt": key.thumbprint()}));
    assert_eq!(claims["aud"], "nhn:pts");
    assert_eq!(
        claims["helseid://claims/client/claims/orgnr_parent"],
        "922222223"
    );
}

#[actix_web::test]
async fn every_asymmetric_algorithm_makes_proofs() {
    let app = spawn_app().await;
    for key in [
        TestKey::rsa(Algorithm::RS256),
        TestKey::rsa(Algorithm::PS512),
        TestKey::ec("P-384"),
        TestKey::ec("P-521"),
    ] {
        let token = app.dpop_token(PTS, PTS_SCOPE, &key).await;
        let (_, claims) = decode_jwt(&token);
        assert_eq!(claims["cnf"]["jkt"], key.thumbprint(), "{}", key.alg());
    }
}

#[actix_web::test]
async fn a_dpop_proof_makes_any_clients_token_dpop_bound() {
    let app = spawn_app().await;
    let key = TestKey::ec("P-256");
    let token = app
        .dpop_token(SFM_READY, "e-helse:sfm.api/sfm.api", &key)
        .await;
    let (_, claims) = decode_jwt(&token);
    assert_eq!(claims["cnf"]["jkt"], key.thumbprint());
}

#[actix_web::test]
async fn a_client_that_requires_dpop_is_refused_a_bearer_token() {
    let app = spawn_app().await;
    let reply = app.system_token(PTS, PTS_SCOPE).await;
    reply.assert_oauth_error(
        "invalid_request",
        "This client requires DPoP-bound tokens: send a DPoP proof in the DPoP header",
    );
}

#[actix_web::test]
async fn proof_checks() {
    let app = spawn_app().await;
    let key = TestKey::ec("P-256");
    let nonce = app.dpop_nonce(PTS, PTS_SCOPE, &key).await;
    let valid = || Proof::token(&app, &key).nonce(&nonce);
    let now = app.now().timestamp();
    let mut private_jwk = key.public_jwk();
    private_jwk["d"] = json!("AAAA");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "garbage",
            "abc".to_owned(),
            "The DPoP proof is not a valid JWT: not a compact JWS (expected three base64url parts \
             separated by dots)",
        ),
        (
            "typ",
            valid().header("typ", json!("JWT")).sign(),
            "The DPoP proof header must have typ 'dpop+jwt'",
        ),
        (
            "HS256",
            hs256(&valid().header, &valid().claims),
            "The DPoP proof must be signed with an asymmetric algorithm (RS256, RS384, RS512, \
             PS256, PS384, PS512, ES256, ES384, ES512); got 'HS256'",
        ),
        (
            "no jwk",
            {
                let mut p = valid();
                p.header.remove("jwk");
                p.sign()
            },
            "The DPoP proof header must contain the public key as 'jwk'",
        ),
        (
            "private jwk",
            valid().header("jwk", private_jwk).sign(),
            "The DPoP proof's jwk is not usable: the JWK contains the private member `d`; only \
             public keys may be given",
        ),
        (
            "other key's jwk",
            valid()
                .header("jwk", TestKey::ec("P-256").public_jwk())
                .sign(),
            "The DPoP proof's signature does not verify with its jwk",
        ),
        (
            "alg/jwk mismatch",
            valid()
                .header("jwk", TestKey::ec("P-384").public_jwk())
                .sign(),
            "The DPoP proof's jwk cannot verify ES256 signatures",
        ),
        (
            "no jti",
            {
                let mut p = valid();
                p.claims.as_object_mut().unwrap().remove("jti");
                p.sign()
            },
            "The DPoP proof must have a 'jti'",
        ),
        (
            "htm",
            valid().claim("htm", json!("GET")).sign(),
            "The DPoP proof's htm 'GET' does not match the request method POST",
        ),
        (
            "htu",
            valid()
                .claim(
                    "htu",
                    json!("https://helseid-sts.test.nhn.no/connect/token"),
                )
                .sign(),
            &*Box::leak(
                format!(
                    "The DPoP proof's htu 'https://helseid-sts.test.nhn.no/connect/token' does not \
                     match the request URL {} (helsesim's public URL, HELSESIM_PUBLIC_URL)",
                    app.token_endpoint()
                )
                .into_boxed_str(),
            ),
        ),
        (
            "no iat",
            {
                let mut p = valid();
                p.claims.as_object_mut().unwrap().remove("iat");
                p.sign()
            },
            "The DPoP proof must have 'iat' (seconds since the epoch)",
        ),
        (
            "iat future",
            valid().claim("iat", json!(now + 11)).sign(),
            "The DPoP proof's iat is in the future",
        ),
        (
            "iat old",
            valid().claim("iat", json!(now - 71)).sign(),
            "The DPoP proof is too old: iat must be within 60 seconds; create a new proof for \
             every request",
        ),
    ];
    for (name, proof, description) in cases {
        let reply = with_proof(&app, &proof).await;
        assert_eq!(reply.json["error_description"], description, "case {name}");
        reply.assert_oauth_error("invalid_dpop_proof", description);
    }
}

#[actix_web::test]
async fn htu_may_be_the_url_the_client_actually_used() {
    let app = spawn_app().await;
    let key = TestKey::ec("P-256");
    let nonce = app.dpop_nonce(PTS, PTS_SCOPE, &key).await;
    // The test client talks to http://localhost:<port>; the reached URL with 127.0.0.1 is not it.
    let reached = app.token_endpoint().replace("localhost", "127.0.0.1");
    let proof = Proof::token(&app, &key)
        .nonce(&nonce)
        .claim(
            "htu",
            json!(format!("{}?ignored=query", app.token_endpoint())),
        )
        .sign();
    assert_eq!(with_proof(&app, &proof).await.status, StatusCode::OK);
    let proof = Proof::token(&app, &key)
        .nonce(&nonce)
        .claim("htu", json!(reached))
        .sign();
    assert_eq!(
        with_proof(&app, &proof).await.json["error"],
        "invalid_dpop_proof"
    );
}

#[actix_web::test]
async fn a_proof_is_single_use() {
    let app = spawn_app().await;
    let key = TestKey::ec("P-256");
    let nonce = app.dpop_nonce(PTS, PTS_SCOPE, &key).await;
    let proof = Proof::token(&app, &key).nonce(&nonce).sign();
    assert_eq!(with_proof(&app, &proof).await.status, StatusCode::OK);
    with_proof(&app, &proof).await.assert_oauth_error(
        "invalid_dpop_proof",
        "The DPoP proof has been used before: create a new proof (new jti) for every request",
    );
}

#[actix_web::test]
async fn stale_or_forged_nonces_get_a_new_one() {
    let app = spawn_app().await;
    let key = TestKey::ec("P-256");
    let nonce = app.dpop_nonce(PTS, PTS_SCOPE, &key).await;
    let expected = "The DPoP proof's nonce is unknown or expired: retry with the value of the \
                    DPoP-Nonce response header";

    let forged = Proof::token(&app, &key)
        .nonce("AAAAAGmlXUAAAAAAAAAAAAAAAAAAAAAA")
        .sign();
    let reply = with_proof(&app, &forged).await;
    reply.assert_oauth_error("use_dpop_nonce", expected);
    assert!(reply.header("dpop-nonce").is_some());

    // Nonces live five minutes.
    advance(&app, 300);
    let proof = Proof::token(&app, &key).nonce(&nonce).sign();
    assert_eq!(with_proof(&app, &proof).await.status, StatusCode::OK);
    advance(&app, 1);
    let proof = Proof::token(&app, &key).nonce(&nonce).sign();
    let reply = with_proof(&app, &proof).await;
    reply.assert_oauth_error("use_dpop_nonce", expected);
    let fresh = reply.header("dpop-nonce").unwrap().to_owned();
    assert_ne!(fresh, nonce);
    let proof = Proof::token(&app, &key).nonce(&fresh).sign();
    assert_eq!(with_proof(&app, &proof).await.status, StatusCode::OK);
}

#[actix_web::test]
async fn an_invalid_proof_still_consumes_the_assertion() {
    let app = spawn_app().await;
    let key = TestKey::ec("P-256");
    let nonce = app.dpop_nonce(PTS, PTS_SCOPE, &key).await;
    let assertion = Assertion::new(&app, PTS).sign();
    let bad = Proof::token(&app, &key)
        .nonce(&nonce)
        .claim("htm", json!("PUT"))
        .sign();
    let reply = app
        .client_credentials(PTS, PTS_SCOPE, &assertion, &[("DPoP", &bad)])
        .await;
    assert_eq!(reply.json["error"], "invalid_dpop_proof");
    let good = Proof::token(&app, &key).nonce(&nonce).sign();
    let reply = app
        .client_credentials(PTS, PTS_SCOPE, &assertion, &[("DPoP", &good)])
        .await;
    assert_eq!(reply.json["error"], "invalid_client");
}

#[actix_web::test]
async fn two_dpop_headers_are_refused() {
    let app = spawn_app().await;
    let key = TestKey::ec("P-256");
    let proof = Proof::token(&app, &key).sign();
    let assertion = Assertion::new(&app, PTS).sign();
    let reply = app
        .client_credentials(
            PTS,
            PTS_SCOPE,
            &assertion,
            &[("DPoP", &proof), ("DPoP", &proof)],
        )
        .await;
    reply.assert_oauth_error("invalid_dpop_proof", "Send exactly one DPoP header");
}
