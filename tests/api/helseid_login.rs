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
    // The multi-tenant client's tokens live an hour, as the spec's multi-tenant example.
    assert_eq!(body["expires_in"], 3600);
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
            "exp": now + 3600,
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
    // A well-behaved client: the integration advisor finds nothing.
    crate::advice::assert_no_findings(&app).await;
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

/// Logs Didrik in with the sfm-ready client and exchanges the code: the token response.
async fn logged_in(app: &TestApp) -> serde_json::Value {
    let (code, pkce) = app
        .login_code(SFM_READY, SFM_LOGIN_SCOPES, DIDRIK, &[])
        .await;
    let reply = app
        .exchange_code(SFM_READY, &code, &pkce.verifier, &[], &[])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.json
}

#[actix_web::test]
async fn userinfo_answers_with_the_users_claims() {
    let app = spawn_app().await;
    let tokens = logged_in(&app).await;
    let access = tokens["access_token"].as_str().unwrap();
    let (_, claims) = decode_jwt(access);
    let expected = json!({
        "sub": claims["sub"],
        "name": "Didrik D Didrikson",
        "given_name": "Didrik",
        "middle_name": "D",
        "family_name": "Didrikson",
        "helseid://claims/identity/pid": DIDRIK,
        "helseid://claims/identity/security_level": "4",
        "helseid://claims/identity/assurance_level": "high",
        "helseid://claims/hpr/hpr_number": "431001110",
    });
    for method in ["GET", "POST"] {
        let request = app
            .http
            .request(
                method.parse().unwrap(),
                app.url("/helseid/connect/userinfo"),
            )
            .header("Authorization", format!("Bearer {access}"));
        let reply = Reply::read(request.send().await.unwrap()).await;
        assert_eq!(reply.status, StatusCode::OK, "{method}: {}", reply.text);
        assert_eq!(reply.json, expected);
    }

    // No token, a system token (no openid), garbage.
    let reply = app.get("/helseid/connect/userinfo").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.json["error"], "invalid_token");
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Bearer realm=\"helsesim\"")
    );
    let system = app.system_token(SFM_READY, "e-helse:sfm.api/sfm.api").await;
    let system = system.json["access_token"].as_str().unwrap();
    let reply = Reply::read(
        app.http
            .get(app.url("/helseid/connect/userinfo"))
            .header("Authorization", format!("Bearer {system}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.json["error"], "insufficient_scope");
    assert_eq!(
        reply.json["error_description"],
        "The access token lacks the scope openid"
    );
    assert_eq!(
        reply.header("www-authenticate"),
        Some(
            "Bearer error=\"insufficient_scope\", error_description=\"The access token lacks the \
             scope openid\""
        )
    );
}

#[actix_web::test]
async fn revoked_access_tokens_stop_working_at_userinfo_and_introspection() {
    let app = spawn_app().await;
    let tokens = logged_in(&app).await;
    let access = tokens["access_token"].as_str().unwrap();
    let introspect = |token: String, credentials: &'static str| {
        let app = &app;
        async move {
            let body = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("token", &token)
                .finish();
            use base64::Engine as _;
            Reply::read(
                app.http
                    .post(app.url("/helseid/connect/introspect"))
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .header(
                        "Authorization",
                        format!(
                            "Basic {}",
                            base64::engine::general_purpose::STANDARD.encode(credentials)
                        ),
                    )
                    .body(body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let reply = introspect(
        access.to_owned(),
        "e-helse%3Asfm.api:sfm-introspection-secret",
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["active"], true);
    assert_eq!(reply.json["token_type"], "Bearer");
    assert_eq!(reply.json["client_id"], SFM_READY);
    assert_eq!(reply.json["helseid://claims/identity/pid"], DIDRIK);
    assert!(
        reply.json["scope"]
            .as_str()
            .unwrap()
            .contains("e-helse:sfm.api/sfm.api"),
        "scope as a string"
    );
    // Another API does not see tokens that are not for it.
    let reply = introspect(access.to_owned(), "nhn%3Apts:pts-introspection-secret").await;
    assert_eq!(reply.json, json!({"active": false}));
    // Wrong secret.
    let reply = introspect(access.to_owned(), "e-helse%3Asfm.api:wrong").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    reply.assert_oauth_body(
        "invalid_client",
        "Unknown API resource or wrong introspection secret",
    );
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Basic realm=\"helsesim\"")
    );

    // The client revokes the access token.
    let assertion = Assertion::new(&app, SFM_READY).sign();
    let revoke = |token: String, assertion: String| {
        let app = &app;
        async move {
            let body = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("token", &token)
                .append_pair("client_assertion_type", ASSERTION_TYPE)
                .append_pair("client_assertion", &assertion)
                .finish();
            Reply::read(
                app.http
                    .post(app.url("/helseid/connect/revocation"))
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let reply = revoke(access.to_owned(), assertion).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.text, "");
    let reply = introspect(
        access.to_owned(),
        "e-helse%3Asfm.api:sfm-introspection-secret",
    )
    .await;
    assert_eq!(reply.json, json!({"active": false}));
    let reply = Reply::read(
        app.http
            .get(app.url("/helseid/connect/userinfo"))
            .header("Authorization", format!("Bearer {access}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.json["error_description"],
        "The access token is not valid: it has been revoked"
    );

    // Revoking the refresh token ends the whole login: its refresh tokens, and the access
    // tokens issued with them are inactive at introspection (RFC 7009 §2.1 SHOULD).
    let refreshed = app
        .refresh(
            SFM_READY,
            tokens["refresh_token"].as_str().unwrap(),
            &[],
            &[],
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text);
    let second_access = refreshed.json["access_token"].as_str().unwrap().to_owned();
    let reply = introspect(
        second_access.clone(),
        "e-helse%3Asfm.api:sfm-introspection-secret",
    )
    .await;
    assert_eq!(reply.json["active"], true, "{}", reply.text);
    let refresh_token = refreshed.json["refresh_token"].as_str().unwrap();
    let reply = revoke(
        refresh_token.to_owned(),
        Assertion::new(&app, SFM_READY).sign(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = app.refresh(SFM_READY, refresh_token, &[], &[]).await;
    reply.assert_oauth_error("invalid_grant", "The refresh token has been revoked");
    let reply = introspect(second_access, "e-helse%3Asfm.api:sfm-introspection-secret").await;
    assert_eq!(reply.json, json!({"active": false}));
    // Unknown tokens are answered 200 too.
    let reply = revoke(
        "nonsense".to_owned(),
        Assertion::new(&app, SFM_READY).sign(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[actix_web::test]
async fn logout_ends_the_session_and_returns_to_a_registered_uri() {
    let app = spawn_app().await;
    let pkce = Pkce::new();
    let mut form = TestApp::login_form(&pkce, SFM_LOGIN_SCOPES, &[]);
    form.push(("login_hint", DIDRIK));
    let uri = app.par(SFM_READY, &form, &[]).await.json["request_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = app
        .authorize(&[("client_id", SFM_READY), ("request_uri", &uri)], None)
        .await;
    let cookie = reply.session_cookie().unwrap();
    let code = reply.redirect_params(REDIRECT_URI)["code"].clone();
    let tokens = app
        .exchange_code(SFM_READY, &code, &pkce.verifier, &[], &[])
        .await
        .json;
    let id_token = tokens["id_token"].as_str().unwrap();

    // An unregistered post-logout URI is an error page, not a redirect.
    let endsession = |query: Vec<(&'static str, String)>| {
        let app = &app;
        let cookie = cookie.clone();
        async move {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&query)
                .finish();
            Reply::read(
                app.http
                    .get(format!(
                        "{}?{query}",
                        app.url("/helseid/connect/endsession")
                    ))
                    .header("Cookie", cookie)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let reply = endsession(vec![
        ("id_token_hint", id_token.to_owned()),
        (
            "post_logout_redirect_uri",
            "https://evil.example/".to_owned(),
        ),
    ])
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        reply
            .text
            .contains("post_logout_redirect_uri &#39;https://evil.example/&#39; is not registered")
            || reply
                .text
                .contains("post_logout_redirect_uri 'https://evil.example/' is not registered"),
        "{}",
        reply.text
    );

    // Even after the id token has expired it still names the session.
    advance(&app, 3600);
    let reply = endsession(vec![
        ("id_token_hint", id_token.to_owned()),
        (
            "post_logout_redirect_uri",
            "http://localhost:8089/".to_owned(),
        ),
        ("state", "bye".to_owned()),
    ])
    .await;
    assert_eq!(reply.status, StatusCode::FOUND);
    assert_eq!(
        reply.header("location"),
        Some("http://localhost:8089/?state=bye")
    );
    let cleared = reply.headers.get("set-cookie").unwrap().to_str().unwrap();
    assert!(cleared.starts_with("helsesim.session=;"), "{cleared}");

    // The session is gone: prompt=none is login_required now.
    let uri = push(&app, &pkce, &[("prompt", "none")]).await;
    let reply = app
        .authorize(
            &[("client_id", SFM_READY), ("request_uri", &uri)],
            Some(&cookie),
        )
        .await;
    assert_eq!(
        reply.redirect_params(REDIRECT_URI)["error"],
        "login_required"
    );

    // Without a redirect URI: the logged-out page.
    let reply = endsession(vec![]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.text.contains("Du er logget ut"));
}

#[actix_web::test]
async fn another_client_showing_a_rotated_refresh_token_revokes_nothing() {
    let app = spawn_app().await;
    let tokens = logged_in(&app).await;
    let first = tokens["refresh_token"].as_str().unwrap();
    let rotated = app.refresh(SFM_READY, first, &[], &[]).await;
    let current = rotated.json["refresh_token"].as_str().unwrap();
    // SFM_NEW_TENANT presents SFM_READY's old token: refused, and the owner's login survives.
    let reply = app.refresh(SFM_NEW_TENANT, first, &[], &[]).await;
    reply.assert_oauth_error(
        "invalid_grant",
        "The refresh token was issued to another client",
    );
    let reply = app.refresh(SFM_READY, current, &[], &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

#[actix_web::test]
async fn prompt_is_a_space_separated_list() {
    let app = spawn_app().await;
    let pkce = Pkce::new();
    let uri = push(
        &app,
        &pkce,
        &[("prompt", "login consent"), ("login_hint", DIDRIK)],
    )
    .await;
    let reply = app
        .authorize(&[("client_id", SFM_READY), ("request_uri", &uri)], None)
        .await;
    assert!(reply.redirect_params(REDIRECT_URI).contains_key("code"));
    let form = TestApp::login_form(&pkce, SFM_LOGIN_SCOPES, &[("prompt", "none login")]);
    let reply = app.par(SFM_READY, &form, &[]).await;
    reply.assert_oauth_error(
        "invalid_request",
        "prompt=none cannot be combined with other prompt values",
    );
}

/// HelseID's test IdP as NHN's sample EHRs drive it (kjernejournal-innlogging-klient):
/// `acr_values=idp:testidp-oidc`, `test_pid`, `test_security_level` log the person in without the
/// page, with auto-login off too; a fixture user keeps their names and HPR number.
#[actix_web::test]
async fn the_test_idps_parameters_log_the_person_in_without_the_page() {
    let app = spawn_app_with(|s| s.autologin = false).await;
    let pkce = Pkce::new();
    for (pid, level, hpr) in [(DIDRIK, "3", Some("431001110")), ("12050050295", "4", None)] {
        let uri = push(
            &app,
            &pkce,
            &[
                ("acr_values", "idp:testidp-oidc"),
                ("test_pid", pid),
                ("test_security_level", level),
            ],
        )
        .await;
        let reply = app
            .authorize(&[("client_id", SFM_READY), ("request_uri", &uri)], None)
            .await;
        let params = reply.redirect_params(REDIRECT_URI);
        let exchanged = app
            .exchange_code(SFM_READY, &params["code"], &pkce.verifier, &[], &[])
            .await;
        assert_eq!(exchanged.status, StatusCode::OK, "{}", exchanged.text);
        let (_, access) = decode_jwt(exchanged.json["access_token"].as_str().unwrap());
        assert_eq!(access["helseid://claims/identity/pid"], pid);
        assert_eq!(access["helseid://claims/identity/security_level"], level);
        assert_eq!(
            access
                .get("helseid://claims/hpr/hpr_number")
                .and_then(|v| v.as_str()),
            hpr
        );
    }

    // A pid that is not a national identity number, or a level HelseID does not have: refused
    // at PAR, as an invalid request.
    for (extra, message) in [
        (
            [("test_pid", "12345678901"), ("test_security_level", "4")],
            "test_pid must be a fødselsnummer or D-nummer: ",
        ),
        (
            [("test_pid", DIDRIK), ("test_security_level", "2")],
            "test_security_level must be 3 or 4, got '2'",
        ),
    ] {
        let form = TestApp::login_form(&pkce, SFM_LOGIN_SCOPES, &extra);
        let pushed = app.par(SFM_READY, &form, &[]).await;
        assert_eq!(pushed.status, StatusCode::BAD_REQUEST, "{}", pushed.text);
        assert_eq!(pushed.json["error"], "invalid_request");
        let description = pushed.json["error_description"].as_str().unwrap();
        assert!(description.starts_with(message), "{description}");
    }
}
