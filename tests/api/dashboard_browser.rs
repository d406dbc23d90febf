//! The dashboard at `/` driven in headless Chromium: it loads without a console error or an
//! uncaught exception and shows the services, a client and a patient; "+1 h" moves helsesim's
//! clock; a request made meanwhile shows up in the live journal; "Save state" downloads the
//! state, "Reset state" resets and "Load state" brings the saved state back. Two
//! screenshots (wide and narrow) are saved to `target/screenshots/` for a human to look at.
//!
//! Needs Debian's `chromium` (`.ci/run` installs it) or `HELSESIM_CHROMIUM` naming a binary;
//! without one the test says so and passes (as `login_page_browser.rs`).

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use headless_chrome::protocol::cdp::types::Event;
use headless_chrome::protocol::cdp::{Browser as Cdp, Emulation, Log, Runtime};
use headless_chrome::{Browser, Tab};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::browser::*;
use crate::helpers::*;
use crate::sfm_medication::{
    LINE, add_prescription, get_medication, medication_bundle, patient_param, send_body,
    send_medication, set_create_pll,
};

/// The longest any one browser step (launch, page load, a change showing) may take.
const STEP: Duration = Duration::from_secs(10);
/// The longest the whole browser part may take.
const BROWSER_PART: Duration = Duration::from_secs(90);
/// The control plane's token in the locked test.
const ADMIN_TOKEN: &str = "dashboard-s3cret";
/// A test user added at run time: gone after the reset.
const ADDED_PID: &str = "15838510075";

/// The id of the newest request the page shows (0 when none).
const NEWEST_ID: &str =
    "Number((document.querySelector('#journal-rows tr.req') || {dataset: {id: 0}}).dataset.id)";

/// What a page logged as an error.
type Errors = Arc<Mutex<Vec<String>>>;

/// What the browser thread asks the test's runtime to do (it serves the app, so the browser
/// thread cannot block on HTTP itself).
enum Ask {
    /// `GET /_admin/clock`.
    Clock,
    /// A patient ticket for Kari, then a request to a service to be seen in the journal (a
    /// system token): answers the latter's path.
    Request,
    /// `GET /_admin/helseid/users`.
    Users,
    /// `GET /_admin/scenarios`.
    Scenarios,
    /// A mistake the advisor finds (two system tokens in a row), then `GET /_admin/advice`.
    Mistake,
    /// `GET /_admin/advice`.
    Advice,
}

type Asking = Sender<(Ask, Sender<Value>)>;

/// A scene worth looking at: a login, a patient ticket, a prescription and a PLL sent (SFM's
/// messages), a refused token request, a fault rule, and a test user added at run time.
async fn set_the_scene(app: &TestApp) {
    let added = app
        .post_json(
            "/_admin/helseid/users",
            &json!({"pid": ADDED_PID, "given_name": "Rita", "family_name": "Runtime",
                "hpr_number": "112233", "security_level": "4",
                "description": "Added at run time: gone after a reset."}),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);

    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let ticket = app
        .patient_ticket(Some(&token), &json!({"patientPid": LINE}).to_string(), None)
        .await;
    assert_eq!(ticket.status, StatusCode::OK, "{}", ticket.text);
    let reply = get_medication(
        app,
        &token,
        patient_param(LINE, "Danser", "Line"),
        &[json!({"name": "SamtykkeKjernejournal", "valueCode": "HPMOTTATTSAMTYKKE"})],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let mut body = send_body(&medication_bundle(&reply));
    add_prescription(&mut body, "Losartan Krka tab 50 mg", &[]);
    set_create_pll(&mut body, true);
    let reply = send_medication(app, &token, &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);

    // A mistake, as an EHR makes them: an assertion for the wrong client.
    let assertion = Assertion::new(app, SFM_READY).sign();
    let refused = app
        .client_credentials(KJERNEJOURNAL, "nhn:kjernejournal/api", &assertion, &[])
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);

    let fault = app.post_json("/_admin/faults",
        &json!({"service": "pts", "path": "/pts/**", "method": "POST", "status": 503, "times": 3}),
    )
    .await;
    assert_eq!(fault.status, StatusCode::CREATED, "{}", fault.text);
}

async fn answer(app: &TestApp, ask: Ask) -> Value {
    match ask {
        Ask::Clock => app.get("/_admin/clock").await.json,
        Ask::Users => app.get("/_admin/helseid/users").await.json,
        Ask::Scenarios => app.get("/_admin/scenarios").await.json,
        Ask::Mistake => {
            for _ in 0..2 {
                let reply = app
                    .system_token(KJERNEJOURNAL, "nhn:kjernejournal/api")
                    .await;
                assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
            }
            app.get("/_admin/advice").await.json
        }
        Ask::Advice => app.get("/_admin/advice").await.json,
        Ask::Request => {
            let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
            let ticket = app
                .patient_ticket(Some(&token), r#"{"patientPid": "13116900216"}"#, None)
                .await;
            assert_eq!(ticket.status, StatusCode::OK, "{}", ticket.text);
            let reply = app
                .system_token(KJERNEJOURNAL, "nhn:kjernejournal/api")
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
            json!("/helseid/connect/token")
        }
    }
}

#[actix_web::test]
async fn the_dashboard_in_chromium_shows_the_state_moves_the_clock_journals_and_resets() {
    let Some(chromium) = chromium() else {
        eprintln!(
            "skipped: no Chromium (/usr/bin/chromium, /usr/bin/chromium-browser or \
             HELSESIM_CHROMIUM): install the chromium package to drive the dashboard in a browser"
        );
        return;
    };
    let app = spawn_app().await;
    set_the_scene(&app).await;

    let (asking, asks): (Asking, Receiver<(Ask, Sender<Value>)>) = channel();
    let url = app.url("/");
    let started = Instant::now();
    let browser_part = std::thread::spawn(move || drive_browser(&chromium, &url, &asking));
    while !browser_part.is_finished() {
        assert!(
            started.elapsed() < BROWSER_PART,
            "the browser part took over {BROWSER_PART:?}"
        );
        while let Ok((ask, reply)) = asks.try_recv() {
            let _ = reply.send(answer(&app, ask).await);
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    match browser_part.join() {
        Ok(result) => result.unwrap_or_else(|e| panic!("in Chromium: {e}")),
        Err(panic) => std::panic::resume_unwind(panic),
    }
    eprintln!(
        "dashboard in Chromium: {:?}, screenshots at {} and {}",
        started.elapsed(),
        screenshot_path("dashboard.png").display(),
        screenshot_path("dashboard-narrow.png").display()
    );
}

#[actix_web::test]
async fn the_locked_dashboard_in_chromium_asks_for_the_token_and_then_works() {
    let Some(chromium) = chromium() else {
        eprintln!("skipped: no Chromium (see the other dashboard test)");
        return;
    };
    let app = spawn_app_with(|s| s.admin_token = Some(ADMIN_TOKEN.to_owned())).await;
    let url = app.url("/");
    run_browser_part(BROWSER_PART, move || drive_locked(&chromium, &url)).await;
}

/// With HELSESIM_ADMIN_TOKEN the page shows only the token form; with the token it loads.
fn drive_locked(chromium: &Path, url: &str) -> Result<(), BoxError> {
    let (browser, _profile) = launch(chromium)?;
    let (tab, errors) = open(&browser, url)?;
    tab.wait_for_element("#unlock-form")?;
    wait_until(
        &tab,
        "the token form",
        "!document.querySelector('#unlock').hidden && document.querySelector('#app').hidden",
    )?;
    assert!(
        tab.find_element("[data-service]").is_err(),
        "no data before the token"
    );
    tab.find_element("#unlock-token")?.focus()?;
    tab.send_character(ADMIN_TOKEN)?;
    tab.find_element(r#"#unlock-form button[type="submit"]"#)?
        .click()?;
    tab.wait_for_element(r#"[data-service="helseid"] .base-url"#)?;
    tab.wait_for_element(r#"[data-patient="13116900216"]"#)?;
    wait_until(
        &tab,
        "the settings line",
        "document.querySelector('#settings').textContent.includes('control plane behind a token')",
    )?;
    let errors = errors.lock().map_err(|_| "poisoned")?.clone();
    assert!(errors.is_empty(), "the page logged errors: {errors:#?}");
    Ok(())
}

fn ask(asking: &Asking, what: Ask) -> Result<Value, BoxError> {
    let (reply, answer) = channel();
    asking.send((what, reply))?;
    Ok(answer.recv_timeout(STEP)?)
}

/// Every console error, failed load and uncaught exception of the page.
fn collect_errors(tab: &Arc<Tab>) -> Result<Errors, BoxError> {
    let errors = Arc::new(Mutex::new(Vec::new()));
    let sink = errors.clone();
    tab.add_event_listener(Arc::new(move |event: &Event| {
        let error = match event {
            Event::RuntimeExceptionThrown(e) => {
                let details = &e.params.exception_details;
                let description = details
                    .exception
                    .as_ref()
                    .and_then(|o| o.description.clone())
                    .unwrap_or_default();
                Some(format!(
                    "uncaught exception at {}:{}: {} {description}",
                    details.line_number, details.column_number, details.text
                ))
            }
            Event::RuntimeConsoleAPICalled(e)
                if matches!(
                    e.params.Type,
                    Runtime::ConsoleAPICalledEventTypeOption::Error
                        | Runtime::ConsoleAPICalledEventTypeOption::Assert
                ) =>
            {
                let args: Vec<String> = e
                    .params
                    .args
                    .iter()
                    .map(|a| {
                        a.value
                            .as_ref()
                            .map(ToString::to_string)
                            .or_else(|| a.description.clone())
                            .unwrap_or_default()
                    })
                    .collect();
                Some(format!("console.error: {}", args.join(" ")))
            }
            Event::LogEntryAdded(e) if e.params.entry.level == Log::LogEntryLevel::Error => {
                Some(format!(
                    "log: {} ({})",
                    e.params.entry.text,
                    e.params.entry.url.as_deref().unwrap_or_default()
                ))
            }
            _ => None,
        };
        if let Some(error) = error {
            sink.lock().unwrap().push(error);
        }
    }))?;
    tab.enable_runtime()?;
    tab.enable_log()?;
    Ok(errors)
}

/// Evaluates a JavaScript expression to JSON.
fn eval(tab: &Arc<Tab>, expression: &str) -> Result<Value, BoxError> {
    let result = tab.evaluate(&format!("JSON.stringify({expression})"), false)?;
    let text = result
        .value
        .and_then(|v| v.as_str().map(str::to_owned))
        .ok_or_else(|| format!("{expression} gave no value"))?;
    Ok(serde_json::from_str(&text)?)
}

/// Waits until `expression` is true in the page (an expression that throws, as while the page
/// loads, is not true yet).
fn wait_until(tab: &Arc<Tab>, what: &str, expression: &str) -> Result<(), BoxError> {
    let deadline = Instant::now() + STEP;
    loop {
        let value = eval(tab, expression);
        if matches!(value, Ok(Value::Bool(true))) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("{what}: not within {STEP:?} ({expression}: {value:?})").into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn text_of(tab: &Arc<Tab>, selector: &str) -> Result<String, BoxError> {
    let value = eval(
        tab,
        &format!("(document.querySelector({selector:?}) || {{}}).textContent || null"),
    )?;
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("nothing at {selector}").into())
}

/// Headless Chromium 1400 pixels wide.
fn launch(chromium: &Path) -> Result<(Browser, tempfile::TempDir), BoxError> {
    crate::browser::launch(chromium, (1400, 1000), BROWSER_PART, STEP)
}

/// A new tab with its errors collected, sent to `url`.
fn open(browser: &Browser, url: &str) -> Result<(Arc<Tab>, Errors), BoxError> {
    let tab = browser.new_tab()?;
    tab.set_default_timeout(STEP);
    let errors = collect_errors(&tab)?;
    tab.navigate_to(url)?;
    Ok((tab, errors))
}

fn drive_browser(chromium: &Path, url: &str, asking: &Asking) -> Result<(), BoxError> {
    for name in [
        "dashboard.png",
        "dashboard-narrow.png",
        "dashboard-dark.png",
    ] {
        // No stale picture from an earlier run.
        let _ = std::fs::remove_file(screenshot_path(name));
    }
    let (browser, _profile) = launch(chromium)?;
    let (tab, errors) = open(&browser, url)?;

    check_the_loaded_page(&tab, url)?;
    check_the_scene(&tab)?;
    advance_the_clock(&tab, asking)?;
    check_the_journal(&tab, asking)?;
    back_to_real_time(&tab, asking)?;
    check_the_advice(&tab, asking)?;
    run_a_preset(&tab, asking)?;
    save_reset_and_load(&tab, asking)?;
    narrow_and_dark(&tab)?;

    let errors = errors.lock().map_err(|_| "poisoned")?.clone();
    assert!(errors.is_empty(), "the page logged errors: {errors:#?}");
    Ok(())
}

/// The services, a client and a patient, all loaded from the control plane.
fn check_the_loaded_page(tab: &Arc<Tab>, url: &str) -> Result<(), BoxError> {
    tab.wait_for_element(r#"[data-service="helseid"] .base-url"#)?;
    tab.wait_for_element(&format!(r#"[data-client="{SFM_READY}"]"#))?;
    tab.wait_for_element(r#"[data-patient="13116900216"]"#)?;
    assert_eq!(tab.get_title()?, "helsesim · dashboard");
    let base_urls = eval(
        tab,
        "Array.from(document.querySelectorAll('.base-url')).map(e => e.textContent)",
    )?;
    let base = url.trim_end_matches('/');
    assert_eq!(
        base_urls,
        json!([
            format!("{base}/helseid"),
            format!("{base}/sfm"),
            format!("{base}/kjernejournal"),
            format!("{base}/pts")
        ])
    );
    let kari = text_of(tab, r#"[data-patient="13116900216"]"#)?;
    assert!(kari.contains("Kari Kritisk"), "{kari}");
    assert!(
        kari.contains("OBS: Kritisk informasjon i kjernejournal"),
        "{kari}"
    );
    // Long endpoint paths wrap instead of being cut, and each has its copy button.
    assert_eq!(
        eval(
            tab,
            "Array.from(document.querySelectorAll('.endpoints .path')).every(function (e) { return \
             e.scrollWidth <= e.clientWidth + 1; })"
        )?,
        json!(true),
        "an endpoint path is cut"
    );
    assert_eq!(
        eval(
            tab,
            "document.querySelectorAll('.endpoints li button.copy').length === \
             document.querySelectorAll('.endpoints li').length"
        )?,
        json!(true)
    );
    // A patient description opens whole on a click.
    eval(
        tab,
        "(document.querySelector('.description').click(), true)",
    )?;
    assert_eq!(
        eval(
            tab,
            "document.querySelector('.description').getAttribute('aria-expanded')"
        )?,
        json!("true")
    );
    let client = text_of(tab, &format!(r#"[data-client="{SFM_READY}"]"#))?;
    assert!(
        client.contains(
            "helsesim token --client sfm-ready --user 17056600574 --scope \"openid \
             helseid://scopes/identity/pid e-helse:sfm.api/sfm.api\""
        ),
        "{client}"
    );
    Ok(())
}

/// What the scene did shows: SFM's messages, the fault rule, the run-time user.
fn check_the_scene(tab: &Arc<Tab>) -> Result<(), BoxError> {
    wait_until(
        tab,
        "the SFM messages",
        "document.querySelectorAll('#message-list li').length >= 2",
    )?;
    let line = text_of(tab, &format!(r#"[data-patient="{LINE}"]"#))?;
    assert!(
        line.contains("Didrik D Didrikson at Fjordbyen legekontor"),
        "{line}"
    );
    wait_until(
        tab,
        "the fault rule",
        "!!document.querySelector('[data-fault]')",
    )?;
    tab.wait_for_element(&format!(r#"[data-user="{ADDED_PID}"]"#))?;
    Ok(())
}

/// The advisor's card lists what `/_admin/advice` finds; "Forget all" empties it.
fn check_the_advice(tab: &Arc<Tab>, asking: &Asking) -> Result<(), BoxError> {
    let advice = ask(asking, Ask::Mistake)?;
    let rules: Vec<String> = advice["findings"]
        .as_array()
        .map(|found| found.iter().map(|f| f["rule"].to_string()).collect())
        .unwrap_or_default();
    assert!(
        rules.contains(&"\"helseid.token-not-reused\"".to_owned()),
        "{advice:#}"
    );
    wait_until(
        tab,
        "the advisor's findings",
        &format!(
            "document.querySelectorAll('#advice-list li[data-rule]').length === {} && \
             document.querySelector('#advice-empty').hidden",
            rules.len()
        ),
    )?;
    let card = text_of(tab, "#advice-list")?;
    assert!(
        card.contains("A new access token while the last one for the same use was far from expiry"),
        "{card}"
    );
    assert!(card.contains("Fix: Cache the access token"), "{card}");
    assert_eq!(text_of(tab, "#advice-count")?, rules.len().to_string());
    tab.find_element("#advice-clear")?.click()?;
    wait_until(
        tab,
        "the findings forgotten",
        "!document.querySelector('#advice-empty').hidden && \
         document.querySelector('#advice-clear').hidden",
    )?;
    assert_eq!(ask(asking, Ask::Advice)?["findings"], json!([]));
    Ok(())
}

/// A preset's Run button applies it; "End failures" ends what it started.
fn run_a_preset(tab: &Arc<Tab>, asking: &Asking) -> Result<(), BoxError> {
    tab.wait_for_element(r#"[data-preset="sfm-unavailable"] button"#)?
        .click()?;
    wait_until(
        tab,
        "the applied step",
        "document.querySelectorAll('#applied-list li').length === 1 && \
         !document.querySelector('#scenarios-clear').hidden",
    )?;
    let applied = text_of(tab, "#applied-list")?;
    assert!(applied.contains("http fault · /sfm/**"), "{applied}");
    let scenarios = ask(asking, Ask::Scenarios)?;
    assert_eq!(scenarios["applied"][0]["preset"], "sfm-unavailable");
    assert_eq!(scenarios["active"]["faults"][0]["status"], 503);
    tab.find_element("#scenarios-clear")?.click()?;
    wait_until(
        tab,
        "the failures ended",
        "document.querySelector('#scenarios-clear').hidden",
    )?;
    assert_eq!(ask(asking, Ask::Scenarios)?["active"]["faults"], json!([]));
    Ok(())
}

/// "+1 h" moves helsesim's clock, and the page shows it.
fn advance_the_clock(tab: &Arc<Tab>, asking: &Asking) -> Result<(), BoxError> {
    wait_until(
        tab,
        "the clock",
        "document.querySelector('#clock').dataset.now === '2026-03-02T10:00:00.000Z'",
    )?;
    let before = text_of(tab, "#clock-time")?;
    assert!(before.starts_with("10:00:"), "{before}");
    tab.find_element(r#"button[data-advance="PT1H"]"#)?
        .click()?;
    wait_until(
        tab,
        "the clock after +1 h",
        "document.querySelector('#clock').dataset.now === '2026-03-02T11:00:00.000Z'",
    )?;
    assert_eq!(
        ask(asking, Ask::Clock)?,
        json!({"now": "2026-03-02T11:00:00.000Z", "offset_seconds": 3600})
    );
    let after = text_of(tab, "#clock-time")?;
    assert!(after.starts_with("11:00:"), "{after}");
    assert_eq!(text_of(tab, "#clock-offset")?, "+1 h ahead");
    Ok(())
}

/// A request made now shows in the journal, and its ticket on the patient.
fn check_the_journal(tab: &Arc<Tab>, asking: &Asking) -> Result<(), BoxError> {
    let newest = eval(tab, NEWEST_ID)?;
    let path = ask(asking, Ask::Request)?;
    let path = path.as_str().unwrap_or_default();
    wait_until(
        tab,
        "the request in the journal",
        &format!("({NEWEST_ID}) > {newest}"),
    )?;
    let row = "#journal-rows tr.req";
    assert_eq!(text_of(tab, &format!("{row} .c-path"))?, path);
    assert_eq!(text_of(tab, &format!("{row} .c-method"))?, "POST");
    assert_eq!(text_of(tab, &format!("{row} .c-status"))?, "200");
    assert_eq!(text_of(tab, &format!("{row} .c-service"))?, "helseid");
    // Its row opens to its (redacted) bodies.
    tab.find_element(row)?.click()?;
    wait_until(
        tab,
        "the bodies of the newest request",
        "!!document.querySelector('#journal-rows tr.detail pre')",
    )?;
    let detail = text_of(tab, "#journal-rows tr.detail")?;
    assert!(detail.contains("client_assertion = [redacted]"), "{detail}");
    assert!(
        detail.contains("\"access_token\": \"[redacted]\""),
        "{detail}"
    );
    // The ticket just issued shows on the patient (the overview reloads every 6 s).
    wait_until(
        tab,
        "Kari's new ticket",
        "document.querySelector('[data-patient=\"13116900216\"]').textContent.includes('60 min \
         left')",
    )?;
    // The copy buttons work or fall back quietly (no clipboard in headless Chromium).
    tab.find_element(r#"[data-service="helseid"] .url-row button.copy"#)?
        .click()?;
    save_full_page_screenshot(tab, &screenshot_path("dashboard.png"))?;
    Ok(())
}

/// "+1 day", then "Now": back to the real time (the test's fixed clock: its start).
fn back_to_real_time(tab: &Arc<Tab>, asking: &Asking) -> Result<(), BoxError> {
    tab.find_element(r#"button[data-advance="P1D"]"#)?.click()?;
    wait_until(
        tab,
        "the clock after +1 day",
        "document.querySelector('#clock').dataset.offset === '90000'",
    )?;
    assert_eq!(text_of(tab, "#clock-offset")?, "+1 d 1 h ahead");
    tab.find_element("#clock-reset")?.click()?;
    wait_until(
        tab,
        "the clock back to the real time",
        "document.querySelector('#clock').dataset.offset === '0'",
    )?;
    assert_eq!(ask(asking, Ask::Clock)?["offset_seconds"], 0);
    assert_eq!(text_of(tab, "#clock-offset")?, "real time");
    Ok(())
}

/// "Save state", "Reset state" and "Load state" round-trip the state.
fn save_reset_and_load(tab: &Arc<Tab>, asking: &Asking) -> Result<(), BoxError> {
    let downloads = tempfile::tempdir()?;
    tab.call_method(Cdp::SetDownloadBehavior {
        behavior: Cdp::SetDownloadBehaviorBehaviorOption::Allow,
        browser_context_id: None,
        download_path: Some(downloads.path().to_string_lossy().into_owned()),
        events_enabled: None,
    })?;
    tab.find_element("#state-save")?.click()?;
    let saved = wait_for_download(downloads.path())?;
    let document: Value = serde_json::from_slice(&std::fs::read(&saved)?)?;
    assert_eq!(document["format"], "helsesim-state");
    assert!(
        document["helseid"]["users"]
            .as_array()
            .ok_or("users")?
            .iter()
            .any(|u| u["pid"] == ADDED_PID),
        "the saved state has the user added at run time"
    );

    // "Reset state" (click, then confirm): the user added at run time is gone.
    tab.find_element("#reset")?.click()?;
    assert_eq!(text_of(tab, "#reset")?, "Click to confirm");
    tab.find_element("#reset")?.click()?;
    wait_until(
        tab,
        "the reset",
        &format!("!document.querySelector('[data-user=\"{ADDED_PID}\"]')"),
    )?;
    let users = ask(asking, Ask::Users)?;
    let pids: Vec<&str> = users
        .as_array()
        .ok_or("users")?
        .iter()
        .filter_map(|u| u["pid"].as_str())
        .collect();
    assert!(!pids.contains(&ADDED_PID), "{pids:?}");
    assert!(pids.contains(&DIDRIK), "{pids:?}");
    wait_until(
        tab,
        "the messages gone after the reset",
        "document.querySelectorAll('#message-list li').length === 0",
    )?;

    // "Load state" with the saved document: the user is back.
    let saved = saved.to_str().ok_or("a UTF-8 path")?;
    tab.find_element("#state-load")?.set_input_files(&[saved])?;
    wait_until(
        tab,
        "the loaded state",
        &format!("!!document.querySelector('[data-user=\"{ADDED_PID}\"]')"),
    )?;
    let users = ask(asking, Ask::Users)?;
    assert!(
        users
            .as_array()
            .ok_or("users")?
            .iter()
            .any(|u| u["pid"] == ADDED_PID),
        "{users}"
    );
    Ok(())
}

/// Screenshots narrow, as on a phone, and wide in dark mode.
fn narrow_and_dark(tab: &Arc<Tab>) -> Result<(), BoxError> {
    tab.call_method(Emulation::SetDeviceMetricsOverride {
        width: 420,
        height: 900,
        device_scale_factor: 1.0,
        mobile: true,
        scale: None,
        screen_width: None,
        screen_height: None,
        position_x: None,
        position_y: None,
        dont_set_visible_size: None,
        screen_orientation: None,
        viewport: None,
        display_feature: None,
        device_posture: None,
    })?;
    std::thread::sleep(Duration::from_millis(300));
    save_full_page_screenshot(tab, &screenshot_path("dashboard-narrow.png"))?;

    // Wide again, in dark mode.
    tab.call_method(Emulation::ClearDeviceMetricsOverride(None))?;
    tab.call_method(Emulation::SetEmulatedMedia {
        media: None,
        features: Some(vec![Emulation::MediaFeature {
            name: "prefers-color-scheme".to_owned(),
            value: "dark".to_owned(),
        }]),
    })?;
    std::thread::sleep(Duration::from_millis(300));
    save_full_page_screenshot(tab, &screenshot_path("dashboard-dark.png"))?;
    Ok(())
}

/// The one finished download in `dir` (Chromium writes `*.crdownload` until done).
fn wait_for_download(dir: &Path) -> Result<PathBuf, BoxError> {
    let deadline = Instant::now() + STEP;
    loop {
        let done: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        if let [file] = done.as_slice() {
            return Ok(file.clone());
        }
        if Instant::now() > deadline {
            return Err(format!("no download in {dir:?}").into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
