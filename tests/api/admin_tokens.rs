//! `POST /_admin/tokens`: test tokens without a login, good or deliberately broken.

use helsesim::jose::sha256_b64url;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn mint(app: &TestApp, body: Value) -> Reply {
    Reply::read(
        app.http
            .post(app.url("/_admin/tokens"))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[actix_web::test]
async fn a_minted_token_carries_the_real_claims_and_works() {
    let app = spawn_app().await;
    let reply = mint(
        &app,
        json!({"client_id": "kjernejournal", "audience": "nhn:kjernejournal", "user": DIDRIK}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["token_type"], "Bearer");
    assert_eq!(reply.json["expires_in"], 600);
    let token = reply.json["access_token"].as_str().unwrap();
    let (header, claims) = decode_jwt(token);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(claims, reply.json["claims"]);
    assert_eq!(claims["aud"], "nhn:kjernejournal");
    assert_eq!(claims["client_id"], KJERNEJOURNAL);
    assert_eq!(claims["helseid://claims/identity/pid"], DIDRIK);
    assert_eq!(claims["helseid://claims/identity/security_level"], "4");
    assert_eq!(claims["helseid://claims/hpr/hpr_number"], "431001110");
    assert_eq!(
        claims["helseid://claims/client/claims/orgnr_parent"],
        "987654325"
    );
    assert_eq!(claims["iat"], json!(app.now().timestamp()));
    let scopes = claims["scope"].as_array().unwrap();
    assert!(
        scopes.contains(&json!("nhn:kjernejournal/api")),
        "{scopes:?}"
    );
    assert!(
        !scopes
            .iter()
            .any(|s| s.as_str().unwrap().starts_with("e-helse"))
    );
    assert_eq!(app.ping_kjernejournal(token).await.status, StatusCode::OK);
}

#[actix_web::test]
async fn a_minted_dpop_token_without_orgnr_parent_is_refused_by_pts() {
    let app = spawn_app().await;
    let key = TestKey::ec("P-256");
    let reply = mint(
        &app,
        json!({
            "client_id": PTS, "audience": "nhn:pts", "dpop_jkt": key.thumbprint(),
            "claims": {"helseid://claims/client/claims/orgnr_parent": null}
        }),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["token_type"], "DPoP");
    let token = reply.json["access_token"].as_str().unwrap();
    let url = app.url("/pts/access-restrictions/patient-safety/_search");
    let proof = Proof::new(&app, &key, "POST", &url)
        .claim("ath", json!(sha256_b64url(token)))
        .sign();
    let reply = app.pts_search(token, &proof).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
    assert_eq!(
        reply.json["detail"],
        "The token names no organisation (helseid://claims/client/claims/orgnr_parent): PTS \
         records which organisation sets each restriction"
    );
}

#[actix_web::test]
async fn broken_tokens_are_refused_for_their_reason() {
    let app = spawn_app().await;
    let cases = [
        (
            "wrong_signing_key",
            "The access token is not valid: the signature does not verify with any key in \
             helsesim's JWKS",
        ),
        (
            "wrong_issuer",
            &format!(
                "The access token's issuer 'https://helseid-sts.test.nhn.no' is not {}",
                app.issuer()
            ),
        ),
        (
            "wrong_audience",
            "The access token's audience [\"helsesim:wrong-audience\"] does not include \
             nhn:kjernejournal",
        ),
        (
            "expired",
            "The access token expired at 2026-03-02T09:00:00+00:00 (helsesim's clock: \
             2026-03-02T10:00:00+00:00)",
        ),
        (
            "not_yet_valid",
            "The access token is not valid before 2026-03-02T11:00:00+00:00",
        ),
    ];
    for (broken, reason) in cases {
        let reply = mint(
            &app,
            json!({"client_id": KJERNEJOURNAL, "audience": "nhn:kjernejournal", "broken": broken}),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{broken}: {}", reply.text);
        let reply = app
            .ping_kjernejournal(reply.json["access_token"].as_str().unwrap())
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{broken}");
        assert_eq!(
            reply.json["utviklermelding"],
            format!("The HelseID access token was refused: {reason}"),
            "{broken}"
        );
    }
}

#[actix_web::test]
async fn bad_mint_requests_are_refused() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"client_id": "nobody", "audience": "nhn:pts"}),
            "No client 'nobody'",
        ),
        (
            json!({"client_id": PTS, "audience": "nhn:nothing"}),
            "No API resource 'nhn:nothing': the audiences are e-helse:sfm.api, nhn:kjernejournal, \
             nhn:pts",
        ),
        (
            json!({"client_id": PTS, "audience": "nhn:pts", "user": "12345678901"}),
            "No fixture user with pid '12345678901'",
        ),
        (
            json!({"client_id": PTS, "audience": "nhn:pts", "broken": "badly"}),
            "broken must be one of wrong_signing_key, wrong_issuer, wrong_audience, expired, \
             not_yet_valid, got 'badly'",
        ),
    ];
    for (body, message) in cases {
        let reply = mint(&app, body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            reply.json,
            json!({"error": "invalid_request", "message": message})
        );
    }
    let reply = mint(
        &app,
        json!({"client_id": PTS, "audience": "nhn:pts", "colour": "blue"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.json["message"]
            .as_str()
            .unwrap()
            .starts_with("The body is not a token request: unknown field `colour`"),
        "{}",
        reply.text
    );
}
