//! User login refused: every check of PAR, request objects, `/connect/authorize`, the login
//! page, the code exchange, refresh tokens, token exchange and DPoP-bound user tokens, each with
//! its exact error code and description (or page text, or redirect parameters).

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Map, Value, json};

use crate::helpers::*;

const SFM_SCOPE: &str = "e-helse:sfm.api/sfm.api";
const KJ_SCOPE: &str = "nhn:kjernejournal/api";
const ORG: &str = "NO:ORGNR:917897468";
const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
const GONE: &str = "The request_uri is unknown, expired or already used: push the request to \
                    /connect/par again (request URIs are single use and live 60 seconds)";
/// A valid synthetic fødselsnummer (month + 80) that is not a fixture user.
const SYNTHETIC_PID: &str = "15838510075";
const SIGRID: &str = "02887810071";

fn multi_tenant_details(value: &str) -> String {
    json!([org_detail("urn:oid:1.0.6523", value)]).to_string()
}

fn par_url(app: &TestApp) -> String {
    app.url("/helseid/connect/par")
}

/// POSTs a urlencoded form to `path` as is (no client authentication added).
async fn post_form(
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> Reply {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut request = app
        .http
        .post(app.url(path))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    Reply::read(request.send().await.unwrap()).await
}

/// A successful PAR: its request URI.
async fn pushed(
    app: &TestApp,
    client_id: &str,
    form: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> String {
    let reply = app.par(client_id, form, headers).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.json["request_uri"].as_str().unwrap().to_owned()
}

/// A PAR of the usual SFM login form (sfm-ready) with `extra` parameters.
async fn par_sfm(app: &TestApp, extra: &[(&str, &str)]) -> Reply {
    let pkce = Pkce::new();
    let form = TestApp::login_form(&pkce, SFM_LOGIN_SCOPES, extra);
    app.par(SFM_READY, &form, &[]).await
}

/// A PAR form for sfm-ready from explicit parameters (client authentication is added by `par`).
async fn par_raw(app: &TestApp, form: &[(&str, &str)]) -> Reply {
    app.par(SFM_READY, form, &[]).await
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn unescape_html(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Asserts helsesim's HTML error page: 400, text/html, no-store, `<code>code</code>: description`.
#[track_caller]
fn assert_error_page(reply: &Reply, code: &str, description: &str) {
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert_eq!(
        reply.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert!(
        reply.header("location").is_none(),
        "an error page, not a redirect"
    );
    let fragment = format!(
        "<p class=\"error\" role=\"alert\"><code>{code}</code>: {}</p>",
        escape_html(description)
    );
    assert!(
        reply.text.contains(&fragment),
        "{fragment}\nnot in\n{}",
        reply.text
    );
    assert!(reply.text.contains("Innloggingen kan ikke fortsette"));
}

/// Asserts an error sent back to the client's redirect URI: exactly error, error_description,
/// state (when given) and iss.
#[track_caller]
fn assert_redirect_error(
    reply: &Reply,
    app: &TestApp,
    code: &str,
    description: &str,
    state: Option<&str>,
) {
    let params = reply.redirect_params(REDIRECT_URI);
    let mut expected = HashMap::from([
        ("error".to_owned(), code.to_owned()),
        ("error_description".to_owned(), description.to_owned()),
        ("iss".to_owned(), app.issuer()),
    ]);
    if let Some(state) = state {
        expected.insert("state".to_owned(), state.to_owned());
    }
    assert_eq!(params, expected);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
}

/// The `value` of the first input named `name` in an HTML page.
fn input_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let tag = &html[at..at + html[at..].find('>')?];
    let start = tag.find("value=\"")? + "value=\"".len();
    let len = tag[start..].find('"')?;
    Some(unescape_html(&tag[start..start + len]))
}

/// base64url(SHA-256(text)), as in PKCE and DPoP `ath`.
fn sha256_b64url(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        text.as_bytes(),
    ))
}

/// The claims of a token response's access token.
fn access_claims(reply: &Reply) -> Value {
    decode_jwt(reply.json["access_token"].as_str().unwrap()).1
}

/// A PAR (without login_hint) and authorize: the login page and its transaction.
async fn open_login_page(app: &TestApp, pkce: &Pkce, extra: &[(&str, &str)]) -> (Reply, String) {
    let form = TestApp::login_form(pkce, SFM_LOGIN_SCOPES, extra);
    let uri = pushed(app, SFM_READY, &form, &[]).await;
    let page = app
        .authorize(&[("client_id", SFM_READY), ("request_uri", &uri)], None)
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let transaction = input_value(&page.text, "transaction").expect("a transaction");
    (page, transaction)
}

async fn post_login(app: &TestApp, form: &[(&str, &str)]) -> Reply {
    post_form(app, "/helseid/login", form, &[]).await
}

/// A PAR with a nonce-less DPoP proof: asserts `use_dpop_nonce` and returns the nonce.
async fn par_nonce(app: &TestApp, client_id: &str, key: &TestKey) -> String {
    let pkce = Pkce::new();
    let form = TestApp::login_form(&pkce, SFM_LOGIN_SCOPES, &[]);
    let proof = Proof::new(app, key, "POST", &par_url(app)).sign();
    let reply = app.par(client_id, &form, &[("DPoP", &proof)]).await;
    reply.assert_oauth_error(
        "use_dpop_nonce",
        "The DPoP proof must contain a nonce: retry with the value of the DPoP-Nonce response \
         header",
    );
    reply.header("dpop-nonce").expect("DPoP-Nonce").to_owned()
}

/// A login (sfm-ready, Didrik) whose PAR carries a DPoP proof by `key`: the code, the PKCE
/// verifier and a current nonce.
async fn dpop_pushed_login(app: &TestApp, key: &TestKey) -> (String, Pkce, String) {
    let nonce = par_nonce(app, SFM_READY, key).await;
    let pkce = Pkce::new();
    let form = TestApp::login_form(&pkce, SFM_LOGIN_SCOPES, &[("login_hint", DIDRIK)]);
    let proof = Proof::new(app, key, "POST", &par_url(app))
        .nonce(&nonce)
        .sign();
    let reply = app.par(SFM_READY, &form, &[("DPoP", &proof)]).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let nonce = reply
        .header("dpop-nonce")
        .expect("a fresh nonce")
        .to_owned();
    let uri = reply.json["request_uri"].as_str().unwrap().to_owned();
    let reply = app
        .authorize(&[("client_id", SFM_READY), ("request_uri", &uri)], None)
        .await;
    let code = reply.redirect_params(REDIRECT_URI)["code"].clone();
    (code, pkce, nonce)
}

/// Logs Didrik in with sfm-ready (SFM_LOGIN_SCOPES) and exchanges the code.
async fn sfm_tokens(app: &TestApp, extra: &[(&str, &str)]) -> Reply {
    let (code, pkce) = app
        .login_code(SFM_READY, SFM_LOGIN_SCOPES, DIDRIK, extra)
        .await;
    let reply = app
        .exchange_code(SFM_READY, &code, &pkce.verifier, &[], &[])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply
}

/// A code-exchange form with a fresh assertion for `client_id` and exactly `form` besides.
async fn code_request(app: &TestApp, client_id: &str, form: &[(&str, &str)]) -> Reply {
    let assertion = Assertion::new(app, client_id).sign();
    let mut all = vec![
        ("grant_type", "authorization_code"),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion.as_str()),
    ];
    all.extend_from_slice(form);
    app.token_request(&all, &[]).await
}

/// A token-exchange request by `client_id` (fresh assertion) with `form` besides.
async fn exchange_token(app: &TestApp, client_id: &str, form: &[(&str, &str)]) -> Reply {
    let assertion = Assertion::new(app, client_id).sign();
    let mut all = vec![
        ("grant_type", TOKEN_EXCHANGE),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion.as_str()),
    ];
    all.extend_from_slice(form);
    app.token_request(&all, &[]).await
}

/// Revokes a token at `/connect/revocation` as `client_id`.
async fn revoke(app: &TestApp, client_id: &str, token: &str) {
    let assertion = Assertion::new(app, client_id).sign();
    let reply = post_form(
        app,
        "/helseid/connect/revocation",
        &[
            ("token", token),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &assertion),
        ],
        &[],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

// ---------------------------------------------------------------------------------------------
// PAR.

#[actix_web::test]
async fn par_answers_201_with_a_request_uri_that_lives_60_seconds() {
    let app = spawn_app().await;
    let first = par_sfm(&app, &[]).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert_eq!(first.header("cache-control"), Some("no-store"));
    assert!(
        first
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let object = first.json.as_object().unwrap();
    assert_eq!(object.len(), 2, "{}", first.text);
    assert_eq!(first.json["expires_in"], 60);
    let uri = first.json["request_uri"].as_str().unwrap();
    let random = uri.strip_prefix(REQUEST_URI_PREFIX).expect(uri);
    assert!(random.len() >= 32, "{uri}");
    assert!(
        first.header("dpop-nonce").is_none(),
        "no nonce without a proof"
    );
    let second = par_sfm(&app, &[]).await;
    assert_ne!(second.json["request_uri"], first.json["request_uri"]);
}

#[actix_web::test]
async fn par_takes_only_forms_posted_with_client_authentication() {
    let app = spawn_app().await;
    let reply = Reply::read(
        app.http
            .post(par_url(&app))
            .json(&json!({"client_id": SFM_READY}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    reply.assert_oauth_error(
        "invalid_request",
        "The PAR endpoint takes a form: Content-Type must be application/x-www-form-urlencoded, \
         got 'application/json'",
    );

    for method in [reqwest::Method::GET, reqwest::Method::PUT] {
        let reply = Reply::read(
            app.http
                .request(method.clone(), par_url(&app))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(
            reply.headers["allow"], "POST",
            "RFC 9110: a 405 names the methods"
        );
        reply.assert_oauth_body(
            "invalid_request",
            &format!(
                "The PAR endpoint accepts only POST with Content-Type \
                 application/x-www-form-urlencoded, not {method}"
            ),
        );
    }

    // A request URI is what PAR makes, not something it takes.
    let reply = par_sfm(
        &app,
        &[("request_uri", "urn:ietf:params:oauth:request_uri:abc")],
    )
    .await;
    reply.assert_oauth_error(
        "invalid_request",
        "request_uri must not be sent to the PAR endpoint: PAR is what makes one",
    );

    // Client authentication is the token endpoint's.
    let pkce = Pkce::new();
    let mut form = vec![("client_id", SFM_READY)];
    form.extend(TestApp::login_form(&pkce, SFM_LOGIN_SCOPES, &[]));
    let reply = post_form(&app, "/helseid/connect/par", &form, &[]).await;
    reply.assert_oauth_error(
        "invalid_client",
        "Client authentication is missing: send client_assertion (a JWT signed with the client's \
         private key) and \
         client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    );
}

#[actix_web::test]
async fn par_needs_a_registered_redirect_uri() {
    let app = spawn_app().await;
    let pkce = Pkce::new();
    let reply = par_raw(
        &app,
        &[
            ("response_type", "code"),
            ("scope", SFM_LOGIN_SCOPES),
            ("code_challenge", &pkce.challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    reply.assert_oauth_error("invalid_request", "redirect_uri is missing");

    for unregistered in [
        "https://evil.example/callback",
        "http://localhost:8089/callback/",
        "http://localhost:8089/callback?x=1",
    ] {
        let reply = par_raw(
            &app,
            &[
                ("response_type", "code"),
                ("redirect_uri", unregistered),
                ("scope", SFM_LOGIN_SCOPES),
                ("code_challenge", &pkce.challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
        reply.assert_oauth_error(
            "invalid_request",
            &format!(
                "redirect_uri '{unregistered}' is not registered for client '{SFM_READY}' (it must \
                 match a registered one exactly: http://localhost:8089/callback)"
            ),
        );
    }
}

#[actix_web::test]
async fn par_supports_only_response_type_code() {
    let app = spawn_app().await;
    let pkce = Pkce::new();
    let without = |response_type: Option<&'static str>| {
        let mut form = vec![
            ("redirect_uri", REDIRECT_URI),
            ("scope", SFM_LOGIN_SCOPES),
            ("code_challenge", pkce.challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        if let Some(response_type) = response_type {
            form.push(("response_type", response_type));
        }
        form
    };
    let reply = par_raw(&app, &without(None)).await;
    reply.assert_oauth_error(
        "unsupported_response_type",
        "response_type is missing: it must be code",
    );
    for other in ["token", "code id_token"] {
        let reply = par_raw(&app, &without(Some(other))).await;
        reply.assert_oauth_error(
            "unsupported_response_type",
            &format!(
                "response_type '{other}' is not allowed: HelseID supports only response_type=code \
                 (no implicit or hybrid flow)"
            ),
        );
    }
}

#[actix_web::test]
async fn par_checks_every_scope() {
    let app = spawn_app().await;
    let pkce = Pkce::new();
    let cases = [
        (
            "profile e-helse:sfm.api/sfm.api",
            "A user login needs the scope openid (with profile, the identity scopes, the API \
             scopes and offline_access as needed)",
        ),
        (
            "openid e-helse:sfm.api/nothing",
            "Unknown scope 'e-helse:sfm.api/nothing'",
        ),
        (
            "openid profile nhn:kjernejournal/api",
            "The client '28472fd6-8a1e-480c-a670-06b7e5230d20' is not allowed the scope \
             'nhn:kjernejournal/api'",
        ),
        (
            "openid helseid://scopes/identity/pid_pseudonym",
            "The client '28472fd6-8a1e-480c-a670-06b7e5230d20' is not allowed the scope \
             'helseid://scopes/identity/pid_pseudonym'",
        ),
    ];
    for (scope, description) in cases {
        let form = TestApp::login_form(&pkce, scope, &[]);
        let reply = app.par(SFM_READY, &form, &[]).await;
        reply.assert_oauth_error("invalid_scope", description);
    }
    // No scope at all is a login without openid.
    let reply = par_raw(
        &app,
        &[
            ("response_type", "code"),
            ("redirect_uri", REDIRECT_URI),
            ("code_challenge", &pkce.challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    reply.assert_oauth_error(
        "invalid_scope",
        "A user login needs the scope openid (with profile, the identity scopes, the API scopes \
         and offline_access as needed)",
    );
    // openid alone is a valid login.
    let form = TestApp::login_form(&pkce, "openid", &[]);
    assert_eq!(
        app.par(SFM_READY, &form, &[]).await.status,
        StatusCode::CREATED
    );
}

/// A login form for sfm-ready with the given PKCE parameters only.
fn pkce_form<'a>(challenge: Option<&'a str>, method: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("response_type", "code"),
        ("redirect_uri", REDIRECT_URI),
        ("scope", SFM_LOGIN_SCOPES),
        ("state", "s"),
    ];
    if let Some(challenge) = challenge {
        form.push(("code_challenge", challenge));
    }
    if let Some(method) = method {
        form.push(("code_challenge_method", method));
    }
    form
}

#[actix_web::test]
async fn par_requires_pkce_with_s256() {
    let app = spawn_app().await;
    let pkce = Pkce::new();
    let form = pkce_form;
    let challenge = pkce.challenge.as_str();
    let cases = [
        (
            form(None, Some("S256")),
            "PKCE is required: send code_challenge and code_challenge_method=S256",
        ),
        (
            form(None, None),
            "PKCE is required: send code_challenge and code_challenge_method=S256",
        ),
        (
            form(Some(challenge), Some("plain")),
            "code_challenge_method must be S256: the plain method is not allowed",
        ),
        (
            form(Some(challenge), None),
            "code_challenge_method must be S256: the plain method is not allowed",
        ),
        (
            form(Some(challenge), Some("S512")),
            "code_challenge_method 'S512' is not supported: use S256",
        ),
        (
            form(Some("abc"), Some("S256")),
            "code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (the base64url \
             SHA-256 of the code_verifier is 43)",
        ),
        (
            // Standard base64 with padding: '+', '/' and '=' are not base64url.
            form(
                Some("n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="),
                Some("S256"),
            ),
            "code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (the base64url \
             SHA-256 of the code_verifier is 43)",
        ),
    ];
    for (form, description) in cases {
        let reply = par_raw(&app, &form).await;
        reply.assert_oauth_error("invalid_request", description);
    }
}

#[actix_web::test]
async fn par_checks_resources_against_the_requested_scopes() {
    let app = spawn_app().await;
    let reply = par_sfm(&app, &[("resource", "nhn:nothing")]).await;
    reply.assert_oauth_error("invalid_target", "Unknown resource 'nhn:nothing'");
    let reply = par_sfm(&app, &[("resource", "nhn:kjernejournal")]).await;
    reply.assert_oauth_error(
        "invalid_target",
        "No requested scope belongs to the resource 'nhn:kjernejournal'",
    );
    // One good resource does not excuse a bad one.
    let reply = par_sfm(
        &app,
        &[("resource", "e-helse:sfm.api"), ("resource", "nhn:pts")],
    )
    .await;
    reply.assert_oauth_error(
        "invalid_target",
        "No requested scope belongs to the resource 'nhn:pts'",
    );
    let reply = par_sfm(&app, &[("resource", "e-helse:sfm.api")]).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
}

#[actix_web::test]
async fn par_prompt_acr_values_and_response_mode() {
    let app = spawn_app().await;
    for prompt in ["consent", "select_account", "login", "none"] {
        let reply = par_sfm(&app, &[("prompt", prompt)]).await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{prompt}: {}",
            reply.text
        );
    }
    let reply = par_sfm(&app, &[("prompt", "bogus")]).await;
    reply.assert_oauth_error(
        "invalid_request",
        "prompt 'bogus' is not supported: use none, login, consent or select_account",
    );

    for acr in ["idp:testidp-oidc", "Level4 idp:testidp-oidc", "Level4"] {
        let reply = par_sfm(&app, &[("acr_values", acr)]).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{acr}: {}", reply.text);
    }
    let reply = par_sfm(&app, &[("acr_values", "idp:testidp-oidc idp:other")]).await;
    reply.assert_oauth_error(
        "invalid_request",
        "acr_values names the identity provider 'other': helsesim has only the test IdP \
         (testidp-oidc)",
    );

    for mode in ["query", "form_post", "fragment"] {
        let reply = par_sfm(&app, &[("response_mode", mode)]).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{mode}: {}", reply.text);
    }
    for mode in ["bogus", "web_message"] {
        let reply = par_sfm(&app, &[("response_mode", mode)]).await;
        reply.assert_oauth_error(
            "invalid_request",
            &format!("response_mode '{mode}' is not supported: use query, fragment or form_post"),
        );
    }
}

#[actix_web::test]
async fn par_dpop_proofs_need_a_nonce_and_must_match_dpop_jkt() {
    let app = spawn_app().await;
    let key = TestKey::ec("P-256");
    let nonce = par_nonce(&app, SFM_READY, &key).await;
    let proof = || {
        Proof::new(&app, &key, "POST", &par_url(&app))
            .nonce(&nonce)
            .sign()
    };

    let other = TestKey::ec("P-256").thumbprint();
    let pkce = Pkce::new();
    let form = TestApp::login_form(&pkce, SFM_LOGIN_SCOPES, &[("dpop_jkt", &other)]);
    let reply = app.par(SFM_READY, &form, &[("DPoP", &proof())]).await;
    reply.assert_oauth_error(
        "invalid_request",
        "dpop_jkt does not match the key of the DPoP proof",
    );

    let own = key.thumbprint();
    let form = TestApp::login_form(&pkce, SFM_LOGIN_SCOPES, &[("dpop_jkt", &own)]);
    let reply = app.par(SFM_READY, &form, &[("DPoP", &proof())]).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert!(
        reply.header("dpop-nonce").is_some(),
        "a nonce for the next proof"
    );

    // A proof made for the token endpoint is not a PAR proof.
    let form = TestApp::login_form(&pkce, SFM_LOGIN_SCOPES, &[]);
    let wrong = Proof::token(&app, &key).nonce(&nonce).sign();
    let reply = app.par(SFM_READY, &form, &[("DPoP", &wrong)]).await;
    reply.assert_oauth_error(
        "invalid_dpop_proof",
        &format!(
            "The DPoP proof's htu '{}' does not match the request URL {} (helsesim's public URL, \
             HELSESIM_PUBLIC_URL)",
            app.token_endpoint(),
            par_url(&app)
        ),
    );
}

#[actix_web::test]
async fn par_checks_authorization_details() {
    let app = spawn_app().await;
    let pkce = Pkce::new();
    let form = TestApp::login_form(
        &pkce,
        LOGIN_SCOPES,
        &[("authorization_details", "[{\"type\": ")],
    );
    let reply = app.par(MULTI_TENANT, &form, &[]).await;
    reply.assert_oauth_error(
        "invalid_request",
        "authorization_details is not valid JSON: EOF while parsing a value at line 1 column 10",
    );

    let bad = multi_tenant_details("NO:ORGNR:12345");
    let form = TestApp::login_form(&pkce, LOGIN_SCOPES, &[("authorization_details", &bad)]);
    let reply = app.par(MULTI_TENANT, &form, &[]).await;
    reply.assert_oauth_error(
        "invalid_request",
        "HID-1004: The format of the organization number '12345' was incorrect. Valid organization \
         numbers must be nine digits, no spaces or letters",
    );

    let single = json!([org_detail("urn:oid:1.0.6523", ORG)]).to_string();
    let form = TestApp::login_form(
        &pkce,
        SFM_LOGIN_SCOPES,
        &[("authorization_details", &single)],
    );
    let reply = app.par(SFM_READY, &form, &[]).await;
    reply.assert_oauth_error(
        "invalid_request",
        "HID-1007: a single-tenant client names only a child organisation, with system \
         urn:oid:2.16.578.1.12.4.1.4.101 and the nine-digit number as value (got system \
         'urn:oid:1.0.6523')",
    );

    let good = multi_tenant_details(ORG);
    let form = TestApp::login_form(&pkce, LOGIN_SCOPES, &[("authorization_details", &good)]);
    let reply = app.par(MULTI_TENANT, &form, &[]).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
}

// ---------------------------------------------------------------------------------------------
// Request objects (RFC 9101).

fn request_object_header(client_id: &str) -> Map<String, Value> {
    let mut header = Map::new();
    header.insert("typ".into(), json!("oauth-authz-req+jwt"));
    let kid = TestKey::fixture(client_id).public_jwk()["kid"].clone();
    header.insert("kid".into(), kid);
    header
}

fn request_object_claims(app: &TestApp, client_id: &str, pkce: &Pkce) -> Value {
    let now = app.now().timestamp();
    json!({
        "iss": client_id,
        "aud": app.issuer(),
        "iat": now,
        "nbf": now,
        "exp": now + 60,
        "jti": uuid::Uuid::new_v4().to_string(),
        "client_id": client_id,
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "scope": "openid helseid://scopes/identity/pid e-helse:sfm.api/sfm.api",
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
        "state": "from-the-request-object",
        "nonce": "ro-nonce",
        "login_hint": DIDRIK,
    })
}

#[actix_web::test]
async fn a_request_object_carries_the_authorization_request() {
    let app = spawn_app().await;
    let pkce = Pkce::new();
    let claims = request_object_claims(&app, SFM_READY, &pkce);
    let request = TestKey::fixture(SFM_READY).sign(&request_object_header(SFM_READY), &claims);
    // The request object's claims take precedence over the form's.
    let uri = pushed(
        &app,
        SFM_READY,
        &[
            ("request", &request),
            ("scope", "openid profile offline_access"),
            ("state", "from-the-form"),
        ],
        &[],
    )
    .await;
    let reply = app
        .authorize(&[("client_id", SFM_READY), ("request_uri", &uri)], None)
        .await;
    let params = reply.redirect_params(REDIRECT_URI);
    assert_eq!(params["state"], "from-the-request-object");
    let reply = app
        .exchange_code(SFM_READY, &params["code"], &pkce.verifier, &[], &[])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.json["scope"],
        "openid helseid://scopes/identity/pid e-helse:sfm.api/sfm.api"
    );
    assert!(
        reply.json.get("refresh_token").is_none(),
        "no offline_access"
    );
    let access = access_claims(&reply);
    assert_eq!(access["helseid://claims/identity/pid"], DIDRIK);
    assert_eq!(access["aud"], "e-helse:sfm.api");
    let (_, id) = decode_jwt(reply.json["id_token"].as_str().unwrap());
    assert_eq!(id["nonce"], "ro-nonce");
    assert!(id.get("name").is_none(), "no profile scope");
}

#[actix_web::test]
async fn request_objects_are_checked_like_client_assertions() {
    let app = spawn_app().await;
    let pkce = Pkce::new();
    let now = app.now().timestamp();
    let header = request_object_header(SFM_READY);
    let valid = || request_object_claims(&app, SFM_READY, &pkce);
    let with = |name: &str, value: Value| {
        let mut claims = valid();
        claims[name] = value;
        TestKey::fixture(SFM_READY).sign(&header, &claims)
    };
    let mut no_kid = Map::new();
    no_kid.insert("typ".into(), json!("oauth-authz-req+jwt"));
    let cases: Vec<(&str, String, String)> =
        vec![
        (
            "signed with another client's key",
            TestKey::fixture(MULTI_TENANT).sign(&no_kid, &valid()),
            format!(
                "The request object's signature does not verify with the key(s) registered for \
                 client '{SFM_READY}'"
            ),
        ),
        (
            "wrong iss",
            with("iss", json!(MULTI_TENANT)),
            format!("The request object's iss must be the client_id '{SFM_READY}'"),
        ),
        (
            "wrong aud",
            with("aud", json!(app.token_endpoint())),
            format!(
                "The request object's aud must be the issuer {}",
                app.issuer()
            ),
        ),
        (
            "no aud",
            {
                let mut claims = valid();
                claims.as_object_mut().unwrap().remove("aud");
                TestKey::fixture(SFM_READY).sign(&header, &claims)
            },
            format!(
                "The request object's aud must be the issuer {}",
                app.issuer()
            ),
        ),
        (
            "expired beyond the clock skew",
            with("exp", json!(now - 11)),
            "The request object has expired".to_owned(),
        ),
        (
            "another client_id",
            with("client_id", json!(MULTI_TENANT)),
            "The request object's client_id is not the client's".to_owned(),
        ),
        (
            "nested request_uri",
            with("request_uri", json!("urn:ietf:params:oauth:request_uri:x")),
            "A request object must not contain 'request_uri'".to_owned(),
        ),
        (
            "not a JWT",
            "not-a-jwt".to_owned(),
            "The request object is not a valid JWT: not a compact JWS (expected three base64url \
             parts separated by dots)".to_owned(),
        ),
        (
            "HS256",
            hs256(&header, &valid()),
            "The request object must be signed with the client's private key using an asymmetric \
             algorithm; got alg 'HS256'".to_owned(),
        ),
    ];
    for (case, request, description) in cases {
        let reply = app.par(SFM_READY, &[("request", &request)], &[]).await;
        assert_eq!(reply.json["error"], "invalid_request_object", "{case}");
        reply.assert_oauth_error("invalid_request_object", &description);
    }

    // Ten seconds of clock skew are tolerated; the PAR endpoint is an accepted audience too.
    for request in [
        with("exp", json!(now - 10)),
        with("aud", json!(par_url(&app))),
        with("aud", json!(["https://elsewhere.example", app.issuer()])),
    ] {
        let reply = app.par(SFM_READY, &[("request", &request)], &[]).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    }
}

// ---------------------------------------------------------------------------------------------
// /connect/authorize.

#[actix_web::test]
async fn authorize_without_a_known_client_shows_an_error_page() {
    let app = spawn_app().await;
    let reply = app
        .authorize(
            &[("request_uri", "urn:ietf:params:oauth:request_uri:x")],
            None,
        )
        .await;
    assert_error_page(&reply, "invalid_request", "client_id is missing");

    let reply = app
        .authorize(
            &[
                ("client_id", "no-such-client"),
                ("redirect_uri", REDIRECT_URI),
                ("state", "s"),
            ],
            None,
        )
        .await;
    assert_error_page(&reply, "invalid_client", "Unknown client 'no-such-client'");

    // The same with POST.
    let reply = post_form(
        &app,
        "/helseid/connect/authorize",
        &[("client_id", "no-such-client")],
        &[],
    )
    .await;
    assert_error_page(&reply, "invalid_client", "Unknown client 'no-such-client'");
}

#[actix_web::test]
async fn request_uris_are_single_use_and_expire() {
    let app = spawn_app().await;
    let authorize = |uri: String| {
        let app = &app;
        async move {
            app.authorize(&[("client_id", SFM_READY), ("request_uri", &uri)], None)
                .await
        }
    };
    let reply = authorize(format!("{REQUEST_URI_PREFIX}unknown")).await;
    assert_error_page(&reply, "invalid_request_uri", GONE);
    let reply = authorize("https://not.a.par.uri/".to_owned()).await;
    assert_error_page(&reply, "invalid_request_uri", GONE);

    let pkce = Pkce::new();
    let form = TestApp::login_form(&pkce, SFM_LOGIN_SCOPES, &[("login_hint", DIDRIK)]);
    let uri = pushed(&app, SFM_READY, &form, &[]).await;
    let first = authorize(uri.clone()).await;
    assert!(first.redirect_params(REDIRECT_URI).contains_key("code"));
    let again = authorize(uri).await;
    assert_error_page(&again, "invalid_request_uri", GONE);

    // Alive for 60 seconds: used at 59 it works, at 61 it is gone.
    let uri = pushed(&app, SFM_READY, &form, &[]).await;
    advance(&app, 59);
    let reply = authorize(uri).await;
    assert!(reply.redirect_params(REDIRECT_URI).contains_key("code"));
    let uri = pushed(&app, SFM_READY, &form, &[]).await;
    advance(&app, 61);
    let reply = authorize(uri).await;
    assert_error_page(&reply, "invalid_request_uri", GONE);
}

#[actix_web::test]
async fn a_request_uri_belongs_to_the_client_that_pushed_it() {
    let app = spawn_app().await;
    let pkce = Pkce::new();
    let form = TestApp::login_form(&pkce, SFM_LOGIN_SCOPES, &[("login_hint", DIDRIK)]);
    let uri = pushed(&app, SFM_READY, &form, &[]).await;
    let reply = app
        .authorize(
            &[("client_id", SFM_NEW_TENANT), ("request_uri", &uri)],
            None,
        )
        .await;
    assert_error_page(
        &reply,
        "invalid_request_uri",
        "The request_uri was pushed by another client",
    );
}

#[actix_web::test]
async fn a_client_that_requires_par_gets_an_error_for_a_plain_request() {
    let app = spawn_app().await;
    let key = TestKey::fixture(SFM_READY);
    let kid = key.public_jwk()["kid"].as_str().unwrap().to_owned();
    let reply = app
        .register_client(&json!({
            "client_id": "par-only",
            "jwks": {"keys": [key.public_jwk()]},
            "tenancy": "single-tenant",
            "orgnr_parent": "917897468",
            "scopes": ["openid", "profile", SFM_SCOPE],
            "redirect_uris": [REDIRECT_URI],
            "require_par": true,
        }))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let message = "This client must use PAR: push the authorization request to /connect/par and \
                   send only client_id and request_uri to /connect/authorize";

    let pkce = Pkce::new();
    let mut query = vec![("client_id", "par-only")];
    query.extend(TestApp::login_form(
        &pkce,
        "openid profile e-helse:sfm.api/sfm.api",
        &[("login_hint", DIDRIK)],
    ));
    let reply = app.authorize(&query, None).await;
    assert_redirect_error(&reply, &app, "invalid_request", message, Some("state-123"));

    // Without a registered redirect URI there is nowhere to send it: an error page.
    let reply = app
        .authorize(
            &[
                ("client_id", "par-only"),
                ("redirect_uri", "https://evil.example/cb"),
                ("state", "x"),
            ],
            None,
        )
        .await;
    assert_error_page(&reply, "invalid_request", message);

    // Through PAR it logs in.
    let assertion = Assertion::with_key(&app, "par-only", key, Some(&kid)).sign();
    let mut form = vec![
        ("client_id", "par-only"),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion.as_str()),
    ];
    form.extend(TestApp::login_form(
        &pkce,
        "openid profile e-helse:sfm.api/sfm.api",
        &[("login_hint", DIDRIK)],
    ));
    let reply = post_form(&app, "/helseid/connect/par", &form, &[]).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let uri = reply.json["request_uri"].as_str().unwrap();
    let reply = app
        .authorize(&[("client_id", "par-only"), ("request_uri", uri)], None)
        .await;
    assert!(reply.redirect_params(REDIRECT_URI).contains_key("code"));
}

#[actix_web::test]
async fn a_client_without_require_par_may_send_the_whole_request_to_authorize() {
    let app = spawn_app().await;
    let pkce = Pkce::new();
    let mut query = vec![("client_id", SFM_READY)];
    query.extend(TestApp::login_form(
        &pkce,
        SFM_LOGIN_SCOPES,
        &[("login_hint", DIDRIK)],
    ));
    let reply = app.authorize(&query, None).await;
    let params = reply.redirect_params(REDIRECT_URI);
    assert_eq!(params["state"], "state-123");
    assert_eq!(params["iss"], app.issuer());
    let reply = app
        .exchange_code(SFM_READY, &params["code"], &pkce.verifier, &[], &[])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        access_claims(&reply)["helseid://claims/identity/pid"],
        DIDRIK
    );

    // POST works the same.
    let reply = post_form(&app, "/helseid/connect/authorize", &query, &[]).await;
    assert!(reply.redirect_params(REDIRECT_URI).contains_key("code"));

    // Once the redirect URI is known good, errors go back to it with state and iss.
    let mut query = vec![("client_id", SFM_READY)];
    query.extend(TestApp::login_form(
        &pkce,
        "profile e-helse:sfm.api/sfm.api",
        &[("login_hint", DIDRIK)],
    ));
    let reply = app.authorize(&query, None).await;
    assert_redirect_error(
        &reply,
        &app,
        "invalid_scope",
        "A user login needs the scope openid (with profile, the identity scopes, the API scopes \
         and offline_access as needed)",
        Some("state-123"),
    );
    let query = [
        ("client_id", SFM_READY),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT_URI),
        ("scope", SFM_LOGIN_SCOPES),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "plain"),
        ("state", "state-456"),
    ];
    let reply = post_form(&app, "/helseid/connect/authorize", &query, &[]).await;
    assert_redirect_error(
        &reply,
        &app,
        "invalid_request",
        "code_challenge_method must be S256: the plain method is not allowed",
        Some("state-456"),
    );
}

#[actix_web::test]
async fn a_plain_authorize_request_with_a_bad_redirect_uri_or_parameter_is_an_error_page() {
    let app = spawn_app().await;
    let pkce = Pkce::new();
    let challenge = pkce.challenge.as_str();
    let base = [
        ("client_id", SFM_READY),
        ("response_type", "code"),
        ("scope", SFM_LOGIN_SCOPES),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("state", "state-123"),
    ];
    let mut query = base.to_vec();
    query.push(("redirect_uri", "https://evil.example/cb"));
    let reply = app.authorize(&query, None).await;
    assert_error_page(
        &reply,
        "invalid_request",
        &format!(
            "redirect_uri 'https://evil.example/cb' is not registered for client '{SFM_READY}' (it \
             must match a registered one exactly: http://localhost:8089/callback)"
        ),
    );
    // A repeated parameter: nothing can be trusted.
    let mut query = base.to_vec();
    query.push(("redirect_uri", REDIRECT_URI));
    query.push(("state", "again"));
    let reply = app.authorize(&query, None).await;
    assert_error_page(
        &reply,
        "invalid_request",
        "The parameter 'state' is included more than once",
    );
    // A bad request object: an error page too (the redirect URI may be in it).
    let mut query = base.to_vec();
    query.push(("redirect_uri", REDIRECT_URI));
    query.push(("request", "not-a-jwt"));
    let reply = app.authorize(&query, None).await;
    assert_error_page(
        &reply,
        "invalid_request_object",
        "The request object is not a valid JWT: not a compact JWS (expected three base64url parts \
         separated by dots)",
    );
}

/// The hidden inputs of a form_post page.
fn form_post_fields(reply: &Reply) -> HashMap<String, String> {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert!(reply.header("location").is_none());
    assert!(
        reply
            .text
            .contains(&format!("<form method=\"post\" action=\"{REDIRECT_URI}\">")),
        "{}",
        reply.text
    );
    assert!(
        reply.text.contains("onload=\"document.forms[0].submit()\""),
        "{}",
        reply.text
    );
    let mut fields = HashMap::new();
    let mut rest = reply.text.as_str();
    while let Some(at) = rest.find("<input type=\"hidden\" ") {
        let tag = &rest[at..at + rest[at..].find('>').unwrap()];
        let attr = |name: &str| {
            let start = tag.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
            unescape_html(&tag[start..start + tag[start..].find('"').unwrap()])
        };
        fields.insert(attr("name"), attr("value"));
        rest = &rest[at + tag.len()..];
    }
    fields
}

#[actix_web::test]
async fn form_post_answers_with_an_auto_submitting_form() {
    let app = spawn_app().await;
    let pkce = Pkce::new();
    let form = TestApp::login_form(
        &pkce,
        SFM_LOGIN_SCOPES,
        &[("login_hint", DIDRIK), ("response_mode", "form_post")],
    );
    let uri = pushed(&app, SFM_READY, &form, &[]).await;
    let reply = app
        .authorize(&[("client_id", SFM_READY), ("request_uri", &uri)], None)
        .await;
    let fields = form_post_fields(&reply);
    let mut names: Vec<&str> = fields.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["code", "iss", "session_state", "state"]);
    assert_eq!(fields["state"], "state-123");
    assert_eq!(fields["iss"], app.issuer());
    let reply = app
        .exchange_code(SFM_READY, &fields["code"], &pkce.verifier, &[], &[])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);

    // Errors are posted back the same way.
    let form = TestApp::login_form(
        &pkce,
        SFM_LOGIN_SCOPES,
        &[("prompt", "none"), ("response_mode", "form_post")],
    );
    let uri = pushed(&app, SFM_READY, &form, &[]).await;
    let reply = app
        .authorize(&[("client_id", SFM_READY), ("request_uri", &uri)], None)
        .await;
    let fields = form_post_fields(&reply);
    assert_eq!(
        fields,
        HashMap::from([
            ("error".to_owned(), "login_required".to_owned()),
            (
                "error_description".to_owned(),
                "prompt=none, but nobody is logged in at HelseID".to_owned()
            ),
            ("state".to_owned(), "state-123".to_owned()),
            ("iss".to_owned(), app.issuer()),
        ])
    );
}

// ---------------------------------------------------------------------------------------------
// The login page.

const FIXTURE_USERS: [(&str, &str); 5] = [
    ("Didrik D Didrikson", "17056600574"),
    ("Sigrid Sykepleier", "02887810071"),
    ("Henrik Helsesekretær", "15837813732"),
    ("Lars Lavnivå", "21817810044"),
    ("Dina Dnummer", "41836510095"),
];

#[actix_web::test]
async fn the_login_page_lists_the_test_users_and_logs_one_in() {
    let app = spawn_app().await;
    let pkce = Pkce::new();
    let (page, transaction) = open_login_page(&app, &pkce, &[]).await;
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert!(page.session_cookie().is_none(), "nobody is logged in yet");
    assert!(
        page.text.contains("<strong>sfm-ready</strong>"),
        "{}",
        page.text
    );
    assert!(
        page.text
            .contains(&format!("action=\"{}/login\"", app.issuer())),
        "{}",
        page.text
    );
    for (name, pid) in FIXTURE_USERS {
        assert!(
            page.text
                .contains(&format!("<span class=\"name\">{name}</span>")),
            "{name}"
        );
        assert!(
            page.text.contains(&format!("name=\"pid\" value=\"{pid}\"")),
            "{pid}"
        );
    }
    assert!(transaction.len() >= 24, "{transaction}");

    let reply = post_login(
        &app,
        &[
            ("transaction", &transaction),
            ("pid", SIGRID),
            ("action", "login"),
        ],
    )
    .await;
    let params = reply.redirect_params(REDIRECT_URI);
    assert_eq!(params["state"], "state-123");
    assert_eq!(params["iss"], app.issuer());
    assert!(reply.session_cookie().is_some());
    let tokens = app
        .exchange_code(SFM_READY, &params["code"], &pkce.verifier, &[], &[])
        .await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text);
    let access = access_claims(&tokens);
    assert_eq!(access["helseid://claims/identity/pid"], SIGRID);
    assert_eq!(access["helseid://claims/hpr/hpr_number"], "565501872");

    // The transaction is completed: posting it again is an error page.
    let reply = post_login(
        &app,
        &[
            ("transaction", &transaction),
            ("pid", SIGRID),
            ("action", "login"),
        ],
    )
    .await;
    assert_error_page(
        &reply,
        "invalid_request",
        "The login has expired or is already completed: start again from the EHR",
    );
}

#[actix_web::test]
async fn a_typed_user_logs_in_and_an_invalid_pid_is_shown_again() {
    let app = spawn_app().await;
    let pkce = Pkce::new();
    let (_, transaction) = open_login_page(&app, &pkce, &[]).await;
    let reply = post_login(
        &app,
        &[
            ("transaction", &transaction),
            ("custom_pid", "12345678901"),
            ("custom_hpr", "123"),
            ("custom_given_name", "Tina \"T\""),
            ("custom_family_name", "Testlege"),
            ("custom_security_level", "3"),
            ("action", "login"),
        ],
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert_eq!(
        reply.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(
        reply.text.contains(
            "<p class=\"error\" role=\"alert\">«12345678901» er ikke et fødselsnummer eller \
             D-nummer: de seks første sifrene er ikke en dato (i hundreåret individnummeret \
             gir)</p>"
        ),
        "{}",
        reply.text
    );
    assert_eq!(
        input_value(&reply.text, "transaction").unwrap(),
        transaction
    );
    assert_eq!(
        input_value(&reply.text, "custom_pid").unwrap(),
        "12345678901"
    );
    assert_eq!(input_value(&reply.text, "custom_hpr").unwrap(), "123");
    assert_eq!(
        input_value(&reply.text, "custom_given_name").unwrap(),
        "Tina \"T\""
    );
    assert_eq!(
        input_value(&reply.text, "custom_family_name").unwrap(),
        "Testlege"
    );
    assert!(reply.text.contains("<option value=\"3\" selected>"));
    assert!(reply.header("location").is_none());

    // Other typed mistakes.
    for (form, message) in [
        (
            vec![("custom_pid", "17056600575")],
            "«17056600575» er ikke et fødselsnummer eller D-nummer: kontrollsifrene stemmer \
             ikke",
        ),
        (
            vec![("custom_pid", SYNTHETIC_PID), ("custom_hpr", "12ab")],
            "«12ab» er ikke et gyldig HPR-nummer: ett til ni siffer",
        ),
        (
            vec![
                ("custom_pid", SYNTHETIC_PID),
                ("custom_security_level", "5"),
            ],
            "Velg sikkerhetsnivå 3 eller 4",
        ),
        (
            vec![("pid", SYNTHETIC_PID)],
            "Det finnes ingen testbruker med fødselsnummer 15838510075",
        ),
        (
            vec![("action", "login")],
            "Velg en testbruker, eller skriv inn et fødselsnummer",
        ),
    ] {
        let mut all = vec![("transaction", transaction.as_str())];
        all.extend(form);
        let reply = post_login(&app, &all).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{message}");
        assert!(
            reply
                .text
                .contains(&format!("<p class=\"error\" role=\"alert\">{message}</p>")),
            "{message}\n{}",
            reply.text
        );
    }

    // The transaction survives the mistakes: a valid synthetic number without HPR logs in.
    let reply = post_login(
        &app,
        &[
            ("transaction", &transaction),
            ("custom_pid", SYNTHETIC_PID),
            ("custom_hpr", ""),
            ("custom_given_name", " Tina "),
            ("custom_family_name", "Testlege"),
            ("custom_security_level", "3"),
            ("action", "login"),
        ],
    )
    .await;
    let params = reply.redirect_params(REDIRECT_URI);
    let tokens = app
        .exchange_code(SFM_READY, &params["code"], &pkce.verifier, &[], &[])
        .await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text);
    let access = access_claims(&tokens);
    assert_eq!(access["helseid://claims/identity/pid"], SYNTHETIC_PID);
    assert_eq!(access["helseid://claims/identity/security_level"], "3");
    assert_eq!(
        access["helseid://claims/identity/assurance_level"],
        "substantial"
    );
    assert!(
        access.get("helseid://claims/hpr/hpr_number").is_none(),
        "{access}"
    );
    let (_, id) = decode_jwt(tokens.json["id_token"].as_str().unwrap());
    assert_eq!(id["name"], "Tina Testlege");
    assert_eq!(id["given_name"], "Tina");
    assert_eq!(id["family_name"], "Testlege");
    assert!(id.get("helseid://claims/hpr/hpr_number").is_none());
}

#[actix_web::test]
async fn cancelling_the_login_sends_access_denied() {
    let app = spawn_app().await;
    let pkce = Pkce::new();
    let (_, transaction) = open_login_page(&app, &pkce, &[]).await;
    let reply = post_login(&app, &[("transaction", &transaction), ("action", "cancel")]).await;
    assert_redirect_error(
        &reply,
        &app,
        "access_denied",
        "The user cancelled the login",
        Some("state-123"),
    );
    assert!(reply.session_cookie().is_none());
    // Cancelled is completed.
    let reply = post_login(
        &app,
        &[
            ("transaction", &transaction),
            ("pid", DIDRIK),
            ("action", "login"),
        ],
    )
    .await;
    assert_error_page(
        &reply,
        "invalid_request",
        "The login has expired or is already completed: start again from the EHR",
    );

    // Without state, none is sent back.
    let form = vec![
        ("response_type", "code"),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid"),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let uri = pushed(&app, SFM_READY, &form, &[]).await;
    let page = app
        .authorize(&[("client_id", SFM_READY), ("request_uri", &uri)], None)
        .await;
    let transaction = input_value(&page.text, "transaction").unwrap();
    let reply = post_login(&app, &[("transaction", &transaction), ("action", "cancel")]).await;
    assert_redirect_error(
        &reply,
        &app,
        "access_denied",
        "The user cancelled the login",
        None,
    );
}

#[actix_web::test]
async fn an_unknown_or_expired_login_transaction_is_an_error_page() {
    let app = spawn_app().await;
    let expired = "The login has expired or is already completed: start again from the EHR";
    let reply = post_login(&app, &[("transaction", "nonsense"), ("pid", DIDRIK)]).await;
    assert_error_page(&reply, "invalid_request", expired);
    let reply = post_login(&app, &[("pid", DIDRIK)]).await;
    assert_error_page(&reply, "invalid_request", expired);

    // The page may take ten minutes.
    let pkce = Pkce::new();
    let (_, transaction) = open_login_page(&app, &pkce, &[]).await;
    advance(&app, 599);
    let reply = post_login(&app, &[("transaction", &transaction), ("pid", DIDRIK)]).await;
    assert!(reply.redirect_params(REDIRECT_URI).contains_key("code"));
    let (_, transaction) = open_login_page(&app, &pkce, &[]).await;
    advance(&app, 601);
    let reply = post_login(&app, &[("transaction", &transaction), ("pid", DIDRIK)]).await;
    assert_error_page(&reply, "invalid_request", expired);
    let reply = post_login(&app, &[("transaction", &transaction), ("action", "cancel")]).await;
    assert_error_page(&reply, "invalid_request", expired);
}

#[actix_web::test]
async fn without_autologin_a_login_hint_shows_the_page() {
    let app = spawn_app_with(|s| s.autologin = false).await;
    let pkce = Pkce::new();
    let (page, transaction) = open_login_page(&app, &pkce, &[("login_hint", DIDRIK)]).await;
    assert!(page.text.contains("<h1>Logg inn</h1>"), "{}", page.text);
    // Which organisation the login is for; a user without an HPR number says so.
    assert!(
        page.text.contains(
            "for <strong>sfm-ready</strong>, på vegne av <strong>organisasjonsnummer \
             923456783</strong>."
        ),
        "{}",
        page.text
    );
    assert!(page.text.contains(" · uten HPR-nummer"), "{}", page.text);
    assert!(!page.text.contains("HPR –"), "{}", page.text);
    assert!(page.header("location").is_none());
    let reply = post_login(&app, &[("transaction", &transaction), ("pid", DIDRIK)]).await;
    assert!(reply.redirect_params(REDIRECT_URI).contains_key("code"));
}

// ---------------------------------------------------------------------------------------------
// The code exchange.

#[actix_web::test]
async fn unknown_and_missing_codes_are_refused() {
    let app = spawn_app().await;
    let pkce = Pkce::new();
    let reply = app
        .exchange_code(SFM_READY, "nonsense-1", &pkce.verifier, &[], &[])
        .await;
    reply.assert_oauth_error(
        "invalid_grant",
        "The authorization code is unknown or has expired",
    );
    let reply = code_request(
        &app,
        SFM_READY,
        &[
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &pkce.verifier),
        ],
    )
    .await;
    reply.assert_oauth_error("invalid_request", "code is missing");
}

#[actix_web::test]
async fn a_code_used_twice_revokes_what_the_first_use_issued() {
    let app = spawn_app().await;
    let (code, pkce) = app
        .login_code(SFM_READY, SFM_LOGIN_SCOPES, DIDRIK, &[])
        .await;
    let first = app
        .exchange_code(SFM_READY, &code, &pkce.verifier, &[], &[])
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let access = first.json["access_token"].as_str().unwrap();
    let refresh_token = first.json["refresh_token"].as_str().unwrap();
    let userinfo = |token: String| {
        let app = &app;
        async move {
            Reply::read(
                app.http
                    .get(app.url("/helseid/connect/userinfo"))
                    .header("Authorization", format!("Bearer {token}"))
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    assert_eq!(userinfo(access.to_owned()).await.status, StatusCode::OK);

    let second = app
        .exchange_code(SFM_READY, &code, &pkce.verifier, &[], &[])
        .await;
    second.assert_oauth_error(
        "invalid_grant",
        "The authorization code has already been used: the tokens issued with it are now revoked",
    );
    let reply = app.refresh(SFM_READY, refresh_token, &[], &[]).await;
    reply.assert_oauth_error("invalid_grant", "The refresh token has been revoked");
    let reply = userinfo(access.to_owned()).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    reply.assert_oauth_body(
        "invalid_token",
        "The access token is not valid: it has been revoked",
    );
}

#[actix_web::test]
async fn codes_expire_after_60_seconds() {
    let app = spawn_app().await;
    let (code, pkce) = app
        .login_code(SFM_READY, SFM_LOGIN_SCOPES, DIDRIK, &[])
        .await;
    advance(&app, 61);
    let reply = app
        .exchange_code(SFM_READY, &code, &pkce.verifier, &[], &[])
        .await;
    reply.assert_oauth_error(
        "invalid_grant",
        "The authorization code has expired: codes are valid for 60 seconds",
    );
    // 59 seconds is still in time.
    let (code, pkce) = app
        .login_code(SFM_READY, SFM_LOGIN_SCOPES, DIDRIK, &[])
        .await;
    advance(&app, 59);
    let reply = app
        .exchange_code(SFM_READY, &code, &pkce.verifier, &[], &[])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

#[actix_web::test]
async fn a_code_is_for_the_client_it_was_issued_to() {
    let app = spawn_app().await;
    let (code, pkce) = app
        .login_code(SFM_READY, SFM_LOGIN_SCOPES, DIDRIK, &[])
        .await;
    let reply = app
        .exchange_code(SFM_NEW_TENANT, &code, &pkce.verifier, &[], &[])
        .await;
    reply.assert_oauth_error(
        "invalid_grant",
        "The authorization code was issued to another client",
    );
    // Another client's attempt does not use the code up.
    let reply = app
        .exchange_code(SFM_READY, &code, &pkce.verifier, &[], &[])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

#[actix_web::test]
async fn the_redirect_uri_must_be_repeated_exactly() {
    let app = spawn_app().await;
    let (code, pkce) = app
        .login_code(SFM_READY, SFM_LOGIN_SCOPES, DIDRIK, &[])
        .await;
    let reply = code_request(
        &app,
        SFM_READY,
        &[("code", &code), ("code_verifier", &pkce.verifier)],
    )
    .await;
    reply.assert_oauth_error(
        "invalid_grant",
        "redirect_uri is missing: send the one of the authorization request \
         ('http://localhost:8089/callback')",
    );

    let (code, pkce) = app
        .login_code(SFM_READY, SFM_LOGIN_SCOPES, DIDRIK, &[])
        .await;
    let reply = code_request(
        &app,
        SFM_READY,
        &[
            ("code", &code),
            ("redirect_uri", "http://localhost:8089/callback/"),
            ("code_verifier", &pkce.verifier),
        ],
    )
    .await;
    reply.assert_oauth_error(
        "invalid_grant",
        "redirect_uri 'http://localhost:8089/callback/' is not the one of the authorization \
         request ('http://localhost:8089/callback')",
    );
    // A failed attempt uses the code up.
    let reply = app
        .exchange_code(SFM_READY, &code, &pkce.verifier, &[], &[])
        .await;
    reply.assert_oauth_error(
        "invalid_grant",
        "The authorization code has already been used (a failed exchange uses it too): start a new \
         login",
    );
}

#[actix_web::test]
async fn pkce_is_checked_at_the_code_exchange() {
    let app = spawn_app().await;
    let (code, _) = app
        .login_code(SFM_READY, SFM_LOGIN_SCOPES, DIDRIK, &[])
        .await;
    let reply = code_request(
        &app,
        SFM_READY,
        &[("code", &code), ("redirect_uri", REDIRECT_URI)],
    )
    .await;
    reply.assert_oauth_error(
        "invalid_grant",
        "code_verifier is missing: PKCE is required",
    );

    for malformed in [
        "too-short",
        &format!("{}!", "a".repeat(50)),
        &"a".repeat(129),
    ] {
        let (code, _) = app
            .login_code(SFM_READY, SFM_LOGIN_SCOPES, DIDRIK, &[])
            .await;
        let reply = app
            .exchange_code(SFM_READY, &code, malformed, &[], &[])
            .await;
        reply.assert_oauth_error(
            "invalid_grant",
            "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~",
        );
    }

    let (code, _) = app
        .login_code(SFM_READY, SFM_LOGIN_SCOPES, DIDRIK, &[])
        .await;
    let reply = app
        .exchange_code(SFM_READY, &code, &Pkce::new().verifier, &[], &[])
        .await;
    reply.assert_oauth_error(
        "invalid_grant",
        "code_verifier does not match the code_challenge (S256) of the authorization request",
    );
}

#[actix_web::test]
async fn a_code_pushed_with_a_dpop_proof_needs_that_key() {
    let app = spawn_app().await;
    let key = TestKey::ec("P-256");

    let (code, pkce, _) = dpop_pushed_login(&app, &key).await;
    let reply = app
        .exchange_code(SFM_READY, &code, &pkce.verifier, &[], &[])
        .await;
    reply.assert_oauth_error(
        "invalid_grant",
        "The authorization code is bound to a DPoP key: send a DPoP proof made with that key",
    );

    let (code, pkce, nonce) = dpop_pushed_login(&app, &key).await;
    let other = Proof::token(&app, &TestKey::ec("P-256"))
        .nonce(&nonce)
        .sign();
    let reply = app
        .exchange_code(SFM_READY, &code, &pkce.verifier, &[], &[("DPoP", &other)])
        .await;
    // Duende's code for a proof of another key (issue 13).
    reply.assert_oauth_error(
        "invalid_dpop_proof",
        "The DPoP proof is made with another key than the one the authorization code is bound to",
    );

    let (code, pkce, nonce) = dpop_pushed_login(&app, &key).await;
    let proof = Proof::token(&app, &key).nonce(&nonce).sign();
    let reply = app
        .exchange_code(SFM_READY, &code, &pkce.verifier, &[], &[("DPoP", &proof)])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["token_type"], "DPoP");
    assert_eq!(
        access_claims(&reply)["cnf"],
        json!({"jkt": key.thumbprint()})
    );
}

#[actix_web::test]
async fn a_dpop_jkt_parameter_binds_the_code_without_a_proof_at_par() {
    let app = spawn_app().await;
    let key = TestKey::ec("P-256");
    let jkt = key.thumbprint();
    let (code, pkce) = app
        .login_code(SFM_READY, SFM_LOGIN_SCOPES, DIDRIK, &[("dpop_jkt", &jkt)])
        .await;
    let reply = app
        .exchange_code(SFM_READY, &code, &pkce.verifier, &[], &[])
        .await;
    reply.assert_oauth_error(
        "invalid_grant",
        "The authorization code is bound to a DPoP key: send a DPoP proof made with that key",
    );
}

#[actix_web::test]
async fn the_code_exchange_picks_among_the_authorized_resources() {
    let app = spawn_app().await;
    let (code, pkce) = app
        .login_code(
            SFM_READY,
            SFM_LOGIN_SCOPES,
            DIDRIK,
            &[("resource", "e-helse:sfm.api")],
        )
        .await;
    let reply = app
        .exchange_code(
            SFM_READY,
            &code,
            &pkce.verifier,
            &[("resource", "nhn:kjernejournal")],
            &[],
        )
        .await;
    reply.assert_oauth_error(
        "invalid_target",
        "The resource 'nhn:kjernejournal' was not authorized at login (authorized: \
         e-helse:sfm.api)",
    );

    // Without resources at login, the APIs of the granted scopes are the candidates.
    let (code, pkce) = app
        .login_code(SFM_READY, SFM_LOGIN_SCOPES, DIDRIK, &[])
        .await;
    let reply = app
        .exchange_code(
            SFM_READY,
            &code,
            &pkce.verifier,
            &[("resource", "nhn:pts")],
            &[],
        )
        .await;
    reply.assert_oauth_error(
        "invalid_target",
        "The resource 'nhn:pts' was not authorized at login (authorized: e-helse:sfm.api)",
    );

    let details = multi_tenant_details(ORG);
    let both = [
        ("resource", "e-helse:sfm.api"),
        ("resource", "nhn:kjernejournal"),
        ("authorization_details", details.as_str()),
    ];
    let (code, pkce) = app
        .login_code(MULTI_TENANT, LOGIN_SCOPES, DIDRIK, &both)
        .await;
    let reply = app
        .exchange_code(
            MULTI_TENANT,
            &code,
            &pkce.verifier,
            &[
                ("resource", "e-helse:sfm.api"),
                ("resource", "nhn:kjernejournal"),
            ],
            &[],
        )
        .await;
    reply.assert_oauth_error(
        "invalid_target",
        "Name at most one resource per token request: HelseID issues one access token per API",
    );

    // None named: one token for every authorized resource.
    let (code, pkce) = app
        .login_code(MULTI_TENANT, LOGIN_SCOPES, DIDRIK, &both)
        .await;
    let reply = app
        .exchange_code(MULTI_TENANT, &code, &pkce.verifier, &[], &[])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let access = access_claims(&reply);
    assert_eq!(
        access["aud"],
        json!(["e-helse:sfm.api", "nhn:kjernejournal"])
    );
    let scopes = access["scope"].as_array().unwrap();
    assert!(scopes.contains(&json!(SFM_SCOPE)), "{scopes:?}");
    assert!(scopes.contains(&json!(KJ_SCOPE)), "{scopes:?}");
    assert_eq!(reply.json["scope"], LOGIN_SCOPES);
    assert_eq!(
        access["e-helse:sfm.api/client/claims/sfm-id"],
        "ce75db36-c57b-4592-9d47-5dfae8a34340"
    );
}

// ---------------------------------------------------------------------------------------------
// Refresh tokens.

#[actix_web::test]
async fn unknown_and_missing_refresh_tokens_are_refused() {
    let app = spawn_app().await;
    let reply = app.refresh(SFM_READY, "nonsense", &[], &[]).await;
    reply.assert_oauth_error(
        "invalid_grant",
        "The refresh token is unknown or has expired",
    );
    let assertion = Assertion::new(&app, SFM_READY).sign();
    let reply = app
        .token_request(
            &[
                ("grant_type", "refresh_token"),
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", &assertion),
            ],
            &[],
        )
        .await;
    reply.assert_oauth_error("invalid_request", "refresh_token is missing");
}

#[actix_web::test]
async fn reusing_a_rotated_refresh_token_revokes_the_family() {
    let app = spawn_app().await;
    let tokens = sfm_tokens(&app, &[]).await;
    let first = tokens.json["refresh_token"].as_str().unwrap();
    let reply = app.refresh(SFM_READY, first, &[], &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let second = reply.json["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second, first);

    let reused = "The refresh token has already been used (refresh tokens rotate): every refresh \
                  token of this login is now revoked";
    let reply = app.refresh(SFM_READY, first, &[], &[]).await;
    reply.assert_oauth_error("invalid_grant", reused);
    // The newest token of the family is revoked too.
    let reply = app.refresh(SFM_READY, &second, &[], &[]).await;
    reply.assert_oauth_error("invalid_grant", "The refresh token has been revoked");
    let reply = app.refresh(SFM_READY, first, &[], &[]).await;
    reply.assert_oauth_error("invalid_grant", reused);

    // Another login's family is not affected.
    let other = sfm_tokens(&app, &[]).await;
    let reply = app
        .refresh(
            SFM_READY,
            other.json["refresh_token"].as_str().unwrap(),
            &[],
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

#[actix_web::test]
async fn refresh_tokens_expire_eight_hours_after_the_login() {
    let app = spawn_app().await;
    let tokens = sfm_tokens(&app, &[]).await;
    assert_eq!(tokens.json["rt_expires_in"], 28800);
    advance(&app, 28790);
    let reply = app
        .refresh(
            SFM_READY,
            tokens.json["refresh_token"].as_str().unwrap(),
            &[],
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["rt_expires_in"], 10, "absolute from the login");
    advance(&app, 11);
    let refresh_token = reply.json["refresh_token"].as_str().unwrap().to_owned();
    let reply = app.refresh(SFM_READY, &refresh_token, &[], &[]).await;
    reply.assert_oauth_error("invalid_grant", "The refresh token has expired");
    // An hour later the login is forgotten altogether.
    advance(&app, 3600);
    let reply = app.refresh(SFM_READY, &refresh_token, &[], &[]).await;
    reply.assert_oauth_error(
        "invalid_grant",
        "The refresh token is unknown or has expired",
    );
}

#[actix_web::test]
async fn a_refresh_token_is_for_the_client_it_was_issued_to() {
    let app = spawn_app().await;
    let tokens = sfm_tokens(&app, &[]).await;
    let refresh_token = tokens.json["refresh_token"].as_str().unwrap();
    let reply = app.refresh(SFM_NEW_TENANT, refresh_token, &[], &[]).await;
    reply.assert_oauth_error(
        "invalid_grant",
        "The refresh token was issued to another client",
    );
    let reply = app.refresh(SFM_READY, refresh_token, &[], &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

#[actix_web::test]
async fn a_refresh_can_only_narrow_the_scopes() {
    let app = spawn_app().await;
    let tokens = sfm_tokens(&app, &[]).await;
    let narrow = "openid helseid://scopes/identity/pid e-helse:sfm.api/sfm.api";
    let reply = app
        .refresh(
            SFM_READY,
            tokens.json["refresh_token"].as_str().unwrap(),
            &[("scope", narrow)],
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["scope"], narrow);
    let access = access_claims(&reply);
    assert_eq!(
        access["scope"],
        json!(["openid", "helseid://scopes/identity/pid", SFM_SCOPE])
    );
    assert_eq!(access["helseid://claims/identity/pid"], DIDRIK);
    assert!(access.get("helseid://claims/hpr/hpr_number").is_none());
    assert!(reply.json["id_token"].as_str().is_some());
    let current = reply.json["refresh_token"].as_str().unwrap().to_owned();

    let reply = app
        .refresh(
            SFM_READY,
            &current,
            &[("scope", "openid nhn:kjernejournal/api")],
            &[],
        )
        .await;
    reply.assert_oauth_error(
        "invalid_scope",
        "The scope 'nhn:kjernejournal/api' was not granted at login: a refresh can only narrow the \
         scopes",
    );
    // The refusal rotated nothing, and the next refresh has every granted scope again.
    let reply = app.refresh(SFM_READY, &current, &[], &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["scope"], SFM_LOGIN_SCOPES);
}

/// RFC 9449 §5: a confidential client's refresh token is not bound to the DPoP key (Duende lets
/// such a client refresh with a new key); the new access token is bound to the new key, and a
/// refresh without a proof gets a bearer token (the client does not require DPoP).
#[actix_web::test]
async fn a_confidential_clients_refresh_token_is_not_bound_to_a_dpop_key() {
    let app = spawn_app().await;
    let key = TestKey::ec("P-256");
    let (code, pkce) = app
        .login_code(SFM_READY, SFM_LOGIN_SCOPES, DIDRIK, &[])
        .await;
    let nonce = app.dpop_nonce(SFM_READY, SFM_SCOPE, &key).await;
    let proof = Proof::token(&app, &key).nonce(&nonce).sign();
    let tokens = app
        .exchange_code(SFM_READY, &code, &pkce.verifier, &[], &[("DPoP", &proof)])
        .await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text);
    assert_eq!(tokens.json["token_type"], "DPoP");
    let nonce = tokens.header("dpop-nonce").unwrap().to_owned();
    let refresh_token = tokens.json["refresh_token"].as_str().unwrap();

    let other = TestKey::ec("P-256");
    let proof = Proof::token(&app, &other).nonce(&nonce).sign();
    let reply = app
        .refresh(SFM_READY, refresh_token, &[], &[("DPoP", &proof)])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["token_type"], "DPoP");
    assert_eq!(
        access_claims(&reply)["cnf"],
        json!({"jkt": other.thumbprint()})
    );

    let refresh_token = reply.json["refresh_token"].as_str().unwrap();
    let reply = app.refresh(SFM_READY, refresh_token, &[], &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["token_type"], "Bearer");
    assert!(access_claims(&reply).get("cnf").is_none());
}

/// RFC 9449 §10.1: `dpop_jkt` at PAR binds the code without a DPoP header, also for a client
/// that requires DPoP; the proof is demanded at the token endpoint (as Duende does).
#[actix_web::test]
async fn a_client_requiring_dpop_may_push_with_dpop_jkt_alone() {
    let app = spawn_app().await;
    let mut entry = app
        .get(&format!("/_admin/helseid/clients/{SFM_READY}"))
        .await
        .json;
    entry["require_dpop"] = json!(true);
    let reply = app.register_client(&entry).await;
    assert!(reply.status.is_success(), "{}", reply.text);

    // Without any DPoP at PAR: accepted; the token endpoint enforces DPoP.
    let (code, pkce) = app
        .login_code(SFM_READY, SFM_LOGIN_SCOPES, DIDRIK, &[])
        .await;
    let reply = app
        .exchange_code(SFM_READY, &code, &pkce.verifier, &[], &[])
        .await;
    reply.assert_oauth_error(
        "invalid_request",
        "This client requires DPoP-bound tokens: send a DPoP proof in the DPoP header",
    );

    // With dpop_jkt only: the code is bound to that key.
    let key = TestKey::ec("P-256");
    let jkt = key.thumbprint();
    let (code, pkce) = app
        .login_code(SFM_READY, SFM_LOGIN_SCOPES, DIDRIK, &[("dpop_jkt", &jkt)])
        .await;
    let nonce = app.dpop_nonce(SFM_READY, SFM_SCOPE, &key).await;
    let other = Proof::token(&app, &TestKey::ec("P-256"))
        .nonce(&nonce)
        .sign();
    let reply = app
        .exchange_code(SFM_READY, &code, &pkce.verifier, &[], &[("DPoP", &other)])
        .await;
    reply.assert_oauth_error(
        "invalid_dpop_proof",
        "The DPoP proof is made with another key than the one the authorization code is bound to",
    );

    let (code, pkce) = app
        .login_code(SFM_READY, SFM_LOGIN_SCOPES, DIDRIK, &[("dpop_jkt", &jkt)])
        .await;
    let proof = Proof::token(&app, &key).nonce(&nonce).sign();
    let reply = app
        .exchange_code(SFM_READY, &code, &pkce.verifier, &[], &[("DPoP", &proof)])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["token_type"], "DPoP");
    assert_eq!(access_claims(&reply)["cnf"], json!({"jkt": jkt}));
}

// ---------------------------------------------------------------------------------------------
// Token exchange.

#[actix_web::test]
async fn token_exchange_acts_for_the_user_and_names_the_actor() {
    let app = spawn_app().await;
    let tokens = sfm_tokens(&app, &[]).await;
    let subject_token = tokens.json["access_token"].as_str().unwrap();
    let subject = access_claims(&tokens);
    let reply = exchange_token(
        &app,
        KJERNEJOURNAL,
        &[
            ("subject_token", subject_token),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            ("requested_token_type", ACCESS_TOKEN_TYPE),
            ("scope", KJ_SCOPE),
            ("resource", "nhn:kjernejournal"),
            ("audience", "nhn:kjernejournal"),
        ],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let scopes = [
        "openid",
        "profile",
        "helseid://scopes/identity/pid",
        "helseid://scopes/identity/security_level",
        "helseid://scopes/identity/assurance_level",
        "helseid://scopes/hpr/hpr_number",
        KJ_SCOPE,
    ];
    let (header, claims) = decode_jwt(reply.json["access_token"].as_str().unwrap());
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(
        reply.json,
        json!({
            "access_token": reply.json["access_token"],
            "token_type": "Bearer",
            "expires_in": 600,
            "scope": scopes.join(" "),
            "issued_token_type": ACCESS_TOKEN_TYPE,
        })
    );
    let now = app.now().timestamp();
    assert_eq!(
        claims,
        json!({
            "iss": app.issuer(),
            "nbf": now,
            "iat": now,
            "exp": now + 600,
            "aud": "nhn:kjernejournal",
            "scope": scopes,
            "client_id": KJERNEJOURNAL,
            "client_amr": "private_key_jwt",
            "helseid://claims/client/claims/orgnr_parent": "987654325",
            "helseid://claims/client/amr": "rsa_private_key",
            "helseid://claims/client/client_tenancy": "single-tenant",
            "jti": claims["jti"],
            "sub": subject["sub"],
            "auth_time": subject["auth_time"],
            "idp": "testidp-oidc",
            "amr": ["pwd"],
            "sid": subject["sid"],
            "helseid://claims/identity/pid": DIDRIK,
            "helseid://claims/identity/security_level": "4",
            "helseid://claims/identity/assurance_level": "high",
            "helseid://claims/hpr/hpr_number": "431001110",
            "oldsub": subject["oldsub"],
            "act": {"client_id": KJERNEJOURNAL},
        })
    );
    assert_ne!(claims["jti"], subject["jti"]);
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));

    // Exchanged again, the actors nest.
    let reply = exchange_token(
        &app,
        SFM_READY,
        &[
            (
                "subject_token",
                reply.json["access_token"].as_str().unwrap(),
            ),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            ("scope", SFM_SCOPE),
        ],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let claims = access_claims(&reply);
    assert_eq!(
        claims["act"],
        json!({"client_id": SFM_READY, "act": {"client_id": KJERNEJOURNAL}})
    );
    assert_eq!(claims["sub"], subject["sub"]);
}

/// A refused token exchange: the client, the form, the error code and description.
type ExchangeCase<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str, String);

#[actix_web::test]
async fn token_exchange_refusals() {
    let app = spawn_app().await;
    let tokens = sfm_tokens(&app, &[]).await;
    let subject = tokens.json["access_token"].as_str().unwrap();
    let (_, subject_claims) = decode_jwt(subject);
    let foreign = TestKey::fixture(SFM_READY).sign(&Map::new(), &subject_claims);
    let cases: Vec<ExchangeCase<'_>> = vec![
        (
            KJERNEJOURNAL,
            vec![("subject_token_type", ACCESS_TOKEN_TYPE), ("scope", KJ_SCOPE)],
            "invalid_request",
            "subject_token is missing".to_owned(),
        ),
        (
            KJERNEJOURNAL,
            vec![("subject_token", subject), ("scope", KJ_SCOPE)],
            "invalid_request",
            "subject_token_type is missing".to_owned(),
        ),
        (
            KJERNEJOURNAL,
            vec![
                ("subject_token", subject),
                (
                    "subject_token_type",
                    "urn:ietf:params:oauth:token-type:id_token",
                ),
                ("scope", KJ_SCOPE),
            ],
            "invalid_request",
            "subject_token_type must be urn:ietf:params:oauth:token-type:access_token, got \
             'urn:ietf:params:oauth:token-type:id_token'".to_owned(),
        ),
        (
            KJERNEJOURNAL,
            vec![
                ("subject_token", subject),
                ("subject_token_type", ACCESS_TOKEN_TYPE),
                ("actor_token", subject),
                ("actor_token_type", ACCESS_TOKEN_TYPE),
                ("scope", KJ_SCOPE),
            ],
            "invalid_request",
            "actor_token is not supported".to_owned(),
        ),
        (
            KJERNEJOURNAL,
            vec![
                ("subject_token", subject),
                ("subject_token_type", ACCESS_TOKEN_TYPE),
                (
                    "requested_token_type",
                    "urn:ietf:params:oauth:token-type:refresh_token",
                ),
                ("scope", KJ_SCOPE),
            ],
            "invalid_request",
            "requested_token_type must be urn:ietf:params:oauth:token-type:access_token, got \
             'urn:ietf:params:oauth:token-type:refresh_token'".to_owned(),
        ),
        (
            KJERNEJOURNAL,
            vec![
                ("subject_token", "garbage"),
                ("subject_token_type", ACCESS_TOKEN_TYPE),
                ("scope", KJ_SCOPE),
            ],
            "invalid_grant",
            "The subject_token is not valid: The access token is not valid: not a compact JWS \
             (expected three base64url parts separated by dots)".to_owned(),
        ),
        (
            KJERNEJOURNAL,
            vec![
                ("subject_token", &foreign),
                ("subject_token_type", ACCESS_TOKEN_TYPE),
                ("scope", KJ_SCOPE),
            ],
            "invalid_grant",
            "The subject_token is not valid: The access token is not valid: the signature does not \
             verify with any key in helsesim's JWKS".to_owned(),
        ),
        (
            KJERNEJOURNAL,
            vec![
                ("subject_token", subject),
                ("subject_token_type", ACCESS_TOKEN_TYPE),
            ],
            "invalid_scope",
            "No scope requested: ask for the API scope the token is for, e.g. \
             scope=e-helse:sfm.api/sfm.api".to_owned(),
        ),
        (
            KJERNEJOURNAL,
            vec![
                ("subject_token", subject),
                ("subject_token_type", ACCESS_TOKEN_TYPE),
                ("scope", "openid nhn:kjernejournal/api"),
            ],
            "invalid_scope",
            "The identity scope 'openid' cannot be requested with token exchange (the subject \
             token's identity scopes carry over): ask only for API scopes".to_owned(),
        ),
        (
            MULTI_TENANT,
            vec![
                ("subject_token", subject),
                ("subject_token_type", ACCESS_TOKEN_TYPE),
                ("scope", "e-helse:sfm.api/sfm.api nhn:kjernejournal/api"),
            ],
            "invalid_scope",
            "The requested scopes belong to several APIs (e-helse:sfm.api, nhn:kjernejournal): \
             HelseID issues tokens with a single audience, so ask for one token per API".to_owned(),
        ),
        (
            KJERNEJOURNAL,
            vec![
                ("subject_token", subject),
                ("subject_token_type", ACCESS_TOKEN_TYPE),
                ("scope", SFM_SCOPE),
            ],
            "invalid_scope",
            format!("The client '{KJERNEJOURNAL}' is not allowed the scope \
                     'e-helse:sfm.api/sfm.api'"),
        ),
        (
            KJERNEJOURNAL,
            vec![
                ("subject_token", subject),
                ("subject_token_type", ACCESS_TOKEN_TYPE),
                ("scope", KJ_SCOPE),
                ("audience", "e-helse:sfm.api"),
            ],
            "invalid_target",
            "The audience 'e-helse:sfm.api' does not match the audience 'nhn:kjernejournal' of the \
             requested scopes".to_owned(),
        ),
        (
            KJERNEJOURNAL,
            vec![
                ("subject_token", subject),
                ("subject_token_type", ACCESS_TOKEN_TYPE),
                ("scope", KJ_SCOPE),
                ("resource", "e-helse:sfm.api"),
            ],
            "invalid_target",
            "The resource 'e-helse:sfm.api' does not match the audience 'nhn:kjernejournal' of the \
             requested scopes".to_owned(),
        ),
    ];
    for (client_id, form, code, description) in cases {
        let reply = exchange_token(&app, client_id, &form).await;
        assert_eq!(reply.json["error_description"], *description, "{form:?}");
        reply.assert_oauth_error(code, &description);
    }
}

#[actix_web::test]
async fn token_exchange_refuses_expired_and_revoked_subject_tokens() {
    let app = spawn_app().await;
    let exchange = |subject: String| {
        let app = &app;
        async move {
            exchange_token(
                app,
                KJERNEJOURNAL,
                &[
                    ("subject_token", &subject),
                    ("subject_token_type", ACCESS_TOKEN_TYPE),
                    ("scope", KJ_SCOPE),
                ],
            )
            .await
        }
    };
    let revoked = sfm_tokens(&app, &[]).await.json["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    revoke(&app, SFM_READY, &revoked).await;
    let reply = exchange(revoked).await;
    reply.assert_oauth_error("invalid_grant", "The subject_token has been revoked");

    let subject = sfm_tokens(&app, &[]).await.json["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Valid for 600 seconds, plus ten seconds of clock skew.
    advance(&app, 610);
    let reply = exchange(subject.clone()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    advance(&app, 1);
    let reply = exchange(subject).await;
    reply.assert_oauth_error(
        "invalid_grant",
        "The subject_token is not valid: The access token expired at 2026-03-02T10:10:00+00:00",
    );
}

// ---------------------------------------------------------------------------------------------
// Userinfo with a DPoP-bound user token.

#[actix_web::test]
async fn userinfo_takes_a_dpop_bound_user_token_only_with_its_proof() {
    let app = spawn_app().await;
    let key = TestKey::ec("P-256");
    let (code, pkce, nonce) = dpop_pushed_login(&app, &key).await;
    let proof = Proof::token(&app, &key).nonce(&nonce).sign();
    let tokens = app
        .exchange_code(SFM_READY, &code, &pkce.verifier, &[], &[("DPoP", &proof)])
        .await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text);
    let token = tokens.json["access_token"].as_str().unwrap().to_owned();
    let sub = access_claims(&tokens)["sub"].clone();
    let userinfo_url = app.url("/helseid/connect/userinfo");
    let call = |scheme: &'static str, proof: Option<String>| {
        let app = &app;
        let token = token.clone();
        let url = userinfo_url.clone();
        async move {
            let mut request = app
                .http
                .get(url)
                .header("Authorization", format!("{scheme} {token}"));
            if let Some(proof) = proof {
                request = request.header("DPoP", proof);
            }
            Reply::read(request.send().await.unwrap()).await
        }
    };
    let ath = sha256_b64url(&token);
    let good = || {
        Proof::new(&app, &key, "GET", &userinfo_url)
            .claim("ath", json!(ath))
            .sign()
    };

    let reply = call("DPoP", Some(good())).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["sub"], sub);
    assert_eq!(reply.json["helseid://claims/identity/pid"], DIDRIK);
    assert_eq!(reply.json["name"], "Didrik D Didrikson");

    let cases: Vec<(&str, Option<String>, &str, &str, String)> =
        vec![
        (
            "Bearer",
            None,
            "invalid_token",
            "DPoP",
            "The token is DPoP-bound: send it as 'Authorization: DPoP <token>' together with a \
             DPoP proof, not as a bearer token".to_owned(),
        ),
        (
            "DPoP",
            None,
            "invalid_dpop_proof",
            "DPoP",
            "A DPoP-bound token needs a DPoP proof in the DPoP header".to_owned(),
        ),
        (
            "DPoP",
            Some(Proof::new(&app, &key, "GET", &userinfo_url).sign()),
            "invalid_dpop_proof",
            "DPoP",
            "The DPoP proof must have 'ath', the hash of the access token".to_owned(),
        ),
        (
            "DPoP",
            Some(
                Proof::new(&app, &key, "GET", &app.token_endpoint())
                    .claim("ath", json!(ath))
                    .sign(),
            ),
            "invalid_dpop_proof",
            "DPoP",
            format!(
                "The DPoP proof's htu '{}' does not match the request URL {userinfo_url} \
                 (helsesim's public URL, HELSESIM_PUBLIC_URL)",
                app.token_endpoint()
            ),
        ),
        (
            "DPoP",
            Some(
                Proof::new(&app, &TestKey::ec("P-256"), "GET", &userinfo_url)
                    .claim("ath", json!(ath))
                    .sign(),
            ),
            "invalid_dpop_proof",
            "DPoP",
            "The DPoP proof is signed with another key than the one the token is bound to \
             (cnf.jkt)".to_owned(),
        ),
    ];
    for (scheme, proof, code, challenge_scheme, description) in cases {
        let reply = call(scheme, proof).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{description}");
        reply.assert_oauth_body(code, &description);
        let mut expected = format!(
            "{challenge_scheme} error=\"{code}\", error_description=\"{}\"",
            description.replace('"', "'")
        );
        if challenge_scheme == "DPoP" {
            expected.push_str(", algs=\"RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512\"");
        }
        assert_eq!(reply.header("www-authenticate").unwrap(), expected);
    }
}

// ---------------------------------------------------------------------------------------------
// Bugs found in src/ (the tests describe the correct behaviour).

#[actix_web::test]

async fn a_refresh_refused_for_its_organisation_keeps_the_refresh_token() {
    let app = spawn_app().await;
    let details = multi_tenant_details(ORG);
    let (code, pkce) = app
        .login_code(
            MULTI_TENANT,
            LOGIN_SCOPES,
            DIDRIK,
            &[("authorization_details", &details)],
        )
        .await;
    let tokens = app
        .exchange_code(MULTI_TENANT, &code, &pkce.verifier, &[], &[])
        .await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text);
    let refresh_token = tokens.json["refresh_token"].as_str().unwrap();

    let bad = Assertion::new(&app, MULTI_TENANT)
        .multi_tenant_org("NO:ORGNR:12345")
        .sign();
    let reply = app
        .token_request(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", &bad),
            ],
            &[],
        )
        .await;
    reply.assert_oauth_error(
        "invalid_request",
        "HID-1004: The format of the organization number '12345' was incorrect. Valid organization \
         numbers must be nine digits, no spaces or letters",
    );
    // The refusal issued nothing, so the same refresh token must still work.
    let reply = app.refresh(MULTI_TENANT, refresh_token, &[], &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        access_claims(&reply)["helseid://claims/client/claims/orgnr_parent"],
        "917897468"
    );
}

#[actix_web::test]

async fn token_exchange_refuses_an_id_token_as_subject_token() {
    let app = spawn_app().await;
    let tokens = sfm_tokens(&app, &[]).await;
    let id_token = tokens.json["id_token"].as_str().unwrap();
    let (header, _) = decode_jwt(id_token);
    assert_eq!(
        header["typ"], "JWT",
        "an id token, not an at+jwt access token"
    );
    let reply = exchange_token(
        &app,
        KJERNEJOURNAL,
        &[
            ("subject_token", id_token),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            ("scope", KJ_SCOPE),
        ],
    )
    .await;
    // The exact wording is for the fix to choose; it belongs with the other subject_token
    // refusals ("The subject_token is not valid: ...").
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert_eq!(reply.json["error"], "invalid_grant", "{}", reply.text);
    assert!(
        reply.json["error_description"]
            .as_str()
            .is_some_and(|d| d.starts_with("The subject_token is not valid: ")),
        "{}",
        reply.text
    );
    assert!(reply.json.get("access_token").is_none());
}

/// RFC 9126 section 2: the PAR endpoint "MUST accept" a client assertion whose `aud` is its own
/// URL (Duende accepts the issuer, the token endpoint and the PAR endpoint); issue 13.
#[actix_web::test]
async fn par_accepts_a_client_assertion_for_the_par_endpoint() {
    let app = spawn_app().await;
    let pkce = Pkce::new();
    let par_with_aud = |aud: String| {
        let assertion = Assertion::new(&app, SFM_READY)
            .claim("aud", json!(aud))
            .sign();
        let form: Vec<(String, String)> = [
            ("client_id", SFM_READY),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion.as_str()),
        ]
        .iter()
        .chain(TestApp::login_form(&pkce, SFM_LOGIN_SCOPES, &[]).iter())
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        form
    };
    for aud in [app.issuer(), app.token_endpoint(), par_url(&app)] {
        let form = par_with_aud(aud.clone());
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let reply = post_form(&app, "/helseid/connect/par", &form, &[]).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{aud}: {}", reply.text);
    }
    let form = par_with_aud(app.url("/helseid/connect/userinfo"));
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let reply = post_form(&app, "/helseid/connect/par", &form, &[]).await;
    let iss = app.issuer();
    reply.assert_oauth_error(
        "invalid_client",
        &format!(
            "The client_assertion's aud must be the issuer {iss} (or the token endpoint \
             {iss}/connect/token, or the PAR endpoint {iss}/connect/par); got \
             \"{iss}/connect/userinfo\""
        ),
    );
}
