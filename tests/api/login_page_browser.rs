//! The test-IdP login page driven in headless Chromium: pick a fixture user (and, once, type
//! another one), land on the client's redirect URI with a code, exchange it. A screenshot of the
//! page is saved to `target/screenshots/login-page.png` for a human to look at.
//!
//! Needs Debian's `chromium` (`.ci/run` installs it) or `HELSESIM_CHROMIUM` naming a binary;
//! without one the test says so and passes. The browser is driven over the DevTools protocol
//! (headless_chrome, without its `fetch` feature: it never downloads a browser).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use headless_chrome::Tab;
use reqwest::StatusCode;

use crate::browser::*;
use crate::helpers::*;

/// A valid synthetic fødselsnummer that is no fixture user.
const TYPED_PID: &str = "15838510075";
/// The longest any one browser step (launch, page load, redirect) may take.
const STEP: Duration = Duration::from_secs(10);
/// The longest the whole browser part may take.
const BROWSER_PART: Duration = Duration::from_secs(30);

/// The login page's screenshot.
fn login_screenshot() -> PathBuf {
    screenshot_path("login-page.png")
}

#[actix_web::test]
async fn a_user_picked_or_typed_on_the_login_page_in_chromium_gets_a_code() {
    let Some(chromium) = chromium() else {
        eprintln!(
            "skipped: no Chromium (/usr/bin/chromium, /usr/bin/chromium-browser or \
             HELSESIM_CHROMIUM): install the chromium package to drive the login page in a browser"
        );
        return;
    };
    let app = spawn_app().await;
    // Two logins, each with its own pushed request (no login_hint: the page is shown).
    let picked = Pkce::new();
    let typed = Pkce::new();
    let mut authorize_urls = Vec::new();
    for pkce in [&picked, &typed] {
        let form = TestApp::login_form(pkce, SFM_LOGIN_SCOPES, &[]);
        let pushed = app.par(SFM_READY, &form, &[]).await;
        assert_eq!(pushed.status, StatusCode::CREATED, "{}", pushed.text);
        let request_uri = pushed.json["request_uri"].as_str().unwrap();
        let mut url = url::Url::parse(&app.url("/helseid/connect/authorize")).unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", SFM_READY)
            .append_pair("request_uri", request_uri);
        authorize_urls.push(url.to_string());
    }

    // The browser API blocks: it runs on its own thread while this runtime serves the app.
    let started = Instant::now();
    let [picked_callback, typed_callback] = run_browser_part(BROWSER_PART, move || {
        drive_browser(&chromium, &authorize_urls[0], &authorize_urls[1])
    })
    .await;
    eprintln!(
        "login page in Chromium: {:?}, screenshot at {}",
        started.elapsed(),
        login_screenshot().display()
    );

    for (callback, pkce, pid) in [
        (picked_callback, &picked, DIDRIK),
        (typed_callback, &typed, TYPED_PID),
    ] {
        let url = url::Url::parse(&callback).unwrap();
        let params = params_of(url.query().unwrap_or_default());
        assert_eq!(params["state"], "state-123", "{callback}");
        assert_eq!(params["iss"], app.issuer(), "{callback}");
        assert!(params.contains_key("session_state"), "{callback}");
        let reply = app
            .exchange_code(SFM_READY, &params["code"], &pkce.verifier, &[], &[])
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let (_, access) = decode_jwt(reply.json["access_token"].as_str().unwrap());
        assert_eq!(access["helseid://claims/identity/pid"], pid);
        assert_eq!(access["client_id"], SFM_READY);
        let (_, id) = decode_jwt(reply.json["id_token"].as_str().unwrap());
        assert_eq!(id["nonce"], "nonce-456");
    }
}

/// Logs in twice, each in a fresh browser context (no session cookie carried over): Didrik
/// picked from the list (with a screenshot of the page), then a typed pid. Returns the URLs the
/// browser was sent back to.
fn drive_browser(
    chromium: &std::path::Path,
    picked_url: &str,
    typed_url: &str,
) -> Result<[String; 2], BoxError> {
    // No stale picture from an earlier run.
    let _ = std::fs::remove_file(login_screenshot());
    let (browser, _profile) = launch(chromium, (1100, 900), BROWSER_PART, STEP)?;

    // A fresh tab in a fresh context: no cookies, so no single sign-on, so the page shows.
    let context = browser.new_context()?;
    let tab = open(&context, picked_url)?;
    // Waiting for the element, not for the network to go idle (which takes half a second more).
    let button = tab
        .wait_for_element(&format!(r#"button[data-pid="{DIDRIK}"]"#))
        .map_err(|e| format!("no button for {DIDRIK} on the login page: {e}"))?;
    let title = tab.get_title()?;
    assert_eq!(title, "Logg inn – helsesim", "the page title, UTF-8 intact");
    save_full_page_screenshot(&tab, &login_screenshot())?;
    button.click()?;
    let picked = wait_for_redirect(&tab)?;
    drop(context);

    let context = browser.new_context()?;
    let tab = open(&context, typed_url)?;
    tab.wait_for_element(r#"input[name="custom_pid"]"#)?
        .focus()?;
    // One InsertText instead of a key-down and key-up per digit (each CDP call costs ~0.1 s).
    tab.send_character(TYPED_PID)?;
    tab.find_element(r#"form.custom button[type="submit"]"#)?
        .click()?;
    let typed = wait_for_redirect(&tab)?;
    Ok([picked, typed])
}

/// A new tab in `context`, sent to `url`.
fn open(
    context: &headless_chrome::browser::context::Context<'_>,
    url: &str,
) -> Result<Arc<Tab>, BoxError> {
    let tab = context.new_tab()?;
    tab.set_default_timeout(STEP);
    tab.navigate_to(url)?;
    Ok(tab)
}

/// Waits until the tab is sent to the client's redirect URI (where nothing listens: the URL is
/// what counts) and returns that URL.
fn wait_for_redirect(tab: &Arc<Tab>) -> Result<String, BoxError> {
    let deadline = Instant::now() + STEP;
    loop {
        let url = tab.get_url();
        if url.starts_with(REDIRECT_URI) {
            return Ok(url);
        }
        if Instant::now() > deadline {
            return Err(
                format!("not redirected to {REDIRECT_URI} within {STEP:?}: at {url}").into(),
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
