//! User login: PAR + PKCE, authorize (login_hint, the login page, sessions), the code exchange,
//! single-audience tokens and refresh.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

const ORG: &str = "NO:ORGNR:917897468";

fn multi_tenant_details() -> String {
    json!([org_detail("urn:oid:1.0.6523", ORG)]).to_string()
}

#[actix_web::test]
async fn one_login_gives_an_sfm_token_and_a_kjernejournal_token() {
    let app = spawn_app().await;
    let details = multi_tenant_details();
    let (code, pkce) = app
        .login_code(
            MULTI_TENANT,
            LOGIN_SCOPES,
            DIDRIK,
            &[
                ("resource", "e-helse:sfm.api"),
                ("resource", "nhn:kjernejournal"),
                ("authorization_details", &details),
            ],
        )
        .await;
    let reply = app
        .exchange_code(
            MULTI_TENANT,
            &code,
            &pkce.verifier,
            &[("resource", "e-helse:sfm.api")],
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let body = &reply.json;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["rt_expires_in"], 28800);
    assert!(
        body["refresh_token"]
            .as_str()
            .is_some_and(|t| t.len() >= 43)
    );
    let (header, access) = decode_jwt(body["access_token"].as_str().unwrap());
    assert_eq!(header["typ"], "at+jwt");
    let now = app.now().timestamp();
    let sub = access["sub"].as_str().unwrap().to_owned();
    let sid = access["sid"].as_str().unwrap().to_owned();
    let jti = access["jti"].as_str().unwrap().to_owned();
    let oldsub = access["oldsub"].as_str().unwrap().to_owned();
    assert_eq!(
        access,
        json!({
            "iss": app.issuer(),
            "nbf": now,
            "iat": now,
            "exp": now + 600,
            "aud": "e-helse:sfm.api",
            "scope": [
                "openid", "profile", "offline_access",
                "helseid://scopes/identity/pid", "helseid://scopes/identity/security_level",
                "helseid://scopes/identity/assurance_level", "helseid://scopes/hpr/hpr_number",
                "e-helse:sfm.api/sfm.api"
            ],
            "amr": ["pwd"],
            "client_id": MULTI_TENANT,
            "client_amr": "private_key_jwt",
            "helseid://claims/client/claims/orgnr_parent": "917897468",
            "helseid://claims/client/claims/orgnr_supplier": "994598759",
            "sub": sub,
            "auth_time": now,
            "idp": "testidp-oidc",
            "helseid://claims/identity/pid": DIDRIK,
            "helseid://claims/identity/security_level": "4",
            "helseid://claims/identity/assurance_level": "high",
            "helseid://claims/hpr/hpr_number": "431001110",
            "oldsub": oldsub,
            "helseid://claims/client/amr": "rsa_private_key",
            "e-helse:sfm.api/client/claims/sfm-id": "ce75db36-c57b-4592-9d47-5dfae8a34340",
            "helseid://claims/client/client_tenancy": "multi-tenant",
            "sid": sid,
            "jti": jti,
        })
    );
    assert_eq!(sid.len(), 32);
    assert_eq!(
        body["scope"],
        access["scope"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect::<Vec<_>>()
            .join(" ")
    );

    let (_, id) = decode_jwt(body["id_token"].as_str().unwrap());
    assert_eq!(id["aud"], MULTI_TENANT);
    assert_eq!(id["nonce"], "nonce-456");
    assert_eq!(id["sub"], sub);
    assert_eq!(id["sid"], sid);
    assert_eq!(id["name"], "Didrik D Didrikson");
    assert_eq!(id["given_name"], "Didrik");
    assert_eq!(id["middle_name"], "D");
    assert_eq!(id["family_name"], "Didrikson");
    assert_eq!(id["helseid://claims/identity/pid"], DIDRIK);
    assert!(id["at_hash"].as_str().is_some());

    // The kjernejournal token comes from the refresh token, naming the other resource.
    let refresh_token = body["refresh_token"].as_str().unwrap();
    let reply = app
        .refresh(
            MULTI_TENANT,
            refresh_token,
            &[("resource", "nhn:kjernejournal")],
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let (_, kj) = decode_jwt(reply.json["access_token"].as_str().unwrap());
    assert_eq!(kj["aud"], "nhn:kjernejournal");
    assert!(
        kj["scope"]
            .as_array()
            .unwrap()
            .contains(&json!("nhn:kjernejournal/api"))
    );
    assert!(
        !kj["scope"]
            .as_array()
            .unwrap()
            .contains(&json!("e-helse:sfm.api/sfm.api"))
    );
    assert!(kj.get("e-helse:sfm.api/client/claims/sfm-id").is_none());
    assert_eq!(kj["sub"], sub);
    assert_eq!(
        kj["helseid://claims/client/claims/orgnr_parent"],
        "917897468"
    );
    assert_ne!(
        reply.json["refresh_token"], body["refresh_token"],
        "rotated"
    );
    assert!(reply.json["id_token"].as_str().is_some());
}

/// PAR for the shipped single-tenant client and the authorize redirect for it.
async fn push(app: &TestApp, pkce: &Pkce, extra: &[(&str, &str)]) -> String {
    let form = TestApp::login_form(pkce, SFM_LOGIN_SCOPES, extra);
    let pushed = app.par(SFM_READY, &form, &[]).await;
    assert_eq!(pushed.status, StatusCode::CREATED, "{}", pushed.text);
    pushed.json["request_uri"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn a_session_logs_in_again_without_the_page_and_prompt_none_needs_one() {
    let app = spawn_app().await;
    let pkce = Pkce::new();
    // Without a session, prompt=none is login_required, sent back to the client.
    let uri = push(&app, &pkce, &[("prompt", "none")]).await;
    let reply = app
        .authorize(&[("client_id", SFM_READY), ("request_uri", &uri)], None)
        .await;
    let params = reply.redirect_params(REDIRECT_URI);
    assert_eq!(params["error"], "login_required");
    assert_eq!(
        params["error_description"],
        "prompt=none, but nobody is logged in at HelseID"
    );
    assert_eq!(params["state"], "state-123");
    assert_eq!(params["iss"], app.issuer());

    // login_hint logs Didrik in and starts a session (cookie).
    let uri = push(&app, &pkce, &[("login_hint", DIDRIK)]).await;
    let reply = app
        .authorize(&[("client_id", SFM_READY), ("request_uri", &uri)], None)
        .await;
    let first = reply.redirect_params(REDIRECT_URI);
    assert!(
        first["code"].ends_with("-1") && first["code"].len() == 66,
        "{}",
        first["code"]
    );
    assert_eq!(first["state"], "state-123");
    assert_eq!(first["iss"], app.issuer());
    assert!(first.contains_key("session_state"));
    let set_cookie = reply
        .headers
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        set_cookie.contains("HttpOnly")
            && set_cookie.contains("Path=/helseid")
            && set_cookie.contains("SameSite=Lax"),
        "{set_cookie}"
    );
    let cookie = reply.session_cookie().unwrap();

    // With the session: prompt=none and a plain request both answer with a code at once.
    for extra in [vec![("prompt", "none")], vec![]] {
        let uri = push(&app, &pkce, &extra).await;
        let reply = app
            .authorize(
                &[("client_id", SFM_READY), ("request_uri", &uri)],
                Some(&cookie),
            )
            .await;
        let params = reply.redirect_params(REDIRECT_URI);
        assert!(params.contains_key("code"), "{params:?}");
        let exchanged = app
            .exchange_code(SFM_READY, &params["code"], &pkce.verifier, &[], &[])
            .await;
        assert_eq!(exchanged.status, StatusCode::OK, "{}", exchanged.text);
        let (_, access) = decode_jwt(exchanged.json["access_token"].as_str().unwrap());
        assert_eq!(access["helseid://claims/identity/pid"], DIDRIK);
    }

    // prompt=login shows the page even with a session.
    let uri = push(&app, &pkce, &[("prompt", "login")]).await;
    let reply = app
        .authorize(
            &[("client_id", SFM_READY), ("request_uri", &uri)],
            Some(&cookie),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.text.contains("Logg inn"), "{}", reply.text);
}
