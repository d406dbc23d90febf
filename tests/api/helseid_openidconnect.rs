//! The whole user login driven by a real OIDC client library (the `openidconnect` crate): PAR,
//! authorize with login_hint, the code exchange, id-token verification (signature, issuer,
//! audience, expiry, nonce, at_hash), refresh with another resource, userinfo.

use openidconnect::core::{CoreClient, CoreProviderMetadata};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse as _, PkceCodeChallenge, RedirectUrl, TokenResponse as _,
};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn openidconnect_logs_a_practitioner_in_and_gets_a_token_per_api() {
    // The library checks expiry against the system clock.
    let app = spawn_with_clock(test_settings(), helsesim::Clock::system()).await;
    let http = openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.issuer()).unwrap(), &http)
            .await
            .expect("discovery");
    let client =
        CoreClient::from_provider_metadata(metadata, ClientId::new(MULTI_TENANT.to_owned()), None)
            .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.to_owned()).unwrap());

    // PAR: the library has no PAR support, so the client pushes the request itself.
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let nonce = Nonce::new_random();
    let csrf = CsrfToken::new_random();
    let details = json!([org_detail("urn:oid:1.0.6523", "NO:ORGNR:917897468")]).to_string();
    let pushed = app
        .par(
            MULTI_TENANT,
            &[
                ("response_type", "code"),
                ("redirect_uri", REDIRECT_URI),
                ("scope", LOGIN_SCOPES),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
                ("state", csrf.secret()),
                ("nonce", nonce.secret()),
                ("resource", "e-helse:sfm.api"),
                ("resource", "nhn:kjernejournal"),
                ("acr_values", "idp:testidp-oidc"),
                ("login_hint", DIDRIK),
                ("authorization_details", &details),
            ],
            &[],
        )
        .await;
    assert_eq!(pushed.status, StatusCode::CREATED, "{}", pushed.text);
    assert_eq!(pushed.json["expires_in"], 60);
    let request_uri = pushed.json["request_uri"].as_str().unwrap();
    assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"));

    let callback = app
        .authorize(
            &[("client_id", MULTI_TENANT), ("request_uri", request_uri)],
            None,
        )
        .await
        .redirect_params(REDIRECT_URI);
    assert_eq!(&callback["state"], csrf.secret());
    assert_eq!(callback["iss"], app.issuer(), "RFC 9207");

    let assertion = |app: &TestApp| Assertion::new(app, MULTI_TENANT).sign();
    let response = client
        .exchange_code(AuthorizationCode::new(callback["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .add_extra_param("client_assertion_type", ASSERTION_TYPE)
        .add_extra_param("client_assertion", assertion(&app))
        .add_extra_param("resource", "e-helse:sfm.api")
        .request_async(&http)
        .await
        .expect("code exchange");

    let id_token = response.id_token().expect("an id token");
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &nonce)
        .expect("a valid id token");
    assert_eq!(claims.issuer().as_str(), app.issuer());
    assert_eq!(claims.audiences()[0].as_str(), MULTI_TENANT);
    assert_eq!(
        claims.name().and_then(|n| n.get(None)).map(|n| n.as_str()),
        Some("Didrik D Didrikson")
    );
    let expected_hash = AccessTokenHash::from_token(
        response.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected_hash), "at_hash");

    let (_, sfm) = decode_jwt(response.access_token().secret());
    assert_eq!(sfm["aud"], "e-helse:sfm.api");
    assert_eq!(sfm["helseid://claims/identity/pid"], DIDRIK);
    assert_eq!(
        sfm["helseid://claims/client/claims/orgnr_parent"],
        "917897468"
    );

    // One login, a token per API: the refresh token asks for kjernejournal.
    let refresh_token = response.refresh_token().expect("a refresh token").clone();
    let refreshed = client
        .exchange_refresh_token(&refresh_token)
        .unwrap()
        .add_extra_param("client_assertion_type", ASSERTION_TYPE)
        .add_extra_param("client_assertion", assertion(&app))
        .add_extra_param("resource", "nhn:kjernejournal")
        .request_async(&http)
        .await
        .expect("refresh");
    let (_, kj) = decode_jwt(refreshed.access_token().secret());
    assert_eq!(kj["aud"], "nhn:kjernejournal");
    assert_eq!(kj["sub"], sfm["sub"]);
    assert_ne!(
        refreshed.refresh_token().unwrap().secret(),
        refresh_token.secret(),
        "rotation"
    );

    let userinfo: openidconnect::core::CoreUserInfoClaims = client
        .user_info(
            response.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(userinfo.subject(), claims.subject());
    assert_eq!(
        userinfo
            .given_name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str()),
        Some("Didrik")
    );
}
