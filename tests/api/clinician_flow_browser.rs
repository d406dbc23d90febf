//! The clinician's whole flow in headless Chromium, through the demo EHR at `/epj/`: log in on
//! HelseID's test-IdP page, pick a patient, see the kjernejournal icon, open the Kjernejournal
//! portal and SFM's client embedded in the EHR, prescribe, close, and see the EHR's medication
//! list change. A screenshot of each step is saved under `target/screenshots/clinician-*.png`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use headless_chrome::Tab;
use serde_json::Value;

use crate::browser::*;
use crate::helpers::*;

/// The longest one browser step may take.
const STEP: Duration = Duration::from_secs(15);
/// The longest the whole browser part may take.
const BROWSER_PART: Duration = Duration::from_secs(120);
/// Kari Kritisk: critical information registered (kjernejournal status 4).
const KARI: &str = "13116900216";

#[actix_web::test]
async fn a_clinician_goes_through_the_whole_flow_in_the_demo_ehr() {
    let Some(chromium) = chromium() else {
        eprintln!("skipped: no Chromium (install the chromium package or set HELSESIM_CHROMIUM)");
        return;
    };
    let app = spawn_app().await;
    let start = app.url("/epj/");
    let started = Instant::now();
    run_browser_part(BROWSER_PART, move || drive(&chromium, &start)).await;
    eprintln!("the clinician's flow in Chromium: {:?}", started.elapsed());
}

/// Evaluates `expression` in the page; its value.
fn eval(tab: &Arc<Tab>, expression: &str) -> Result<Value, BoxError> {
    Ok(tab.evaluate(expression, true)?.value.unwrap_or(Value::Null))
}

/// Waits until `expression` is true in the page.
fn wait_until(tab: &Arc<Tab>, expression: &str, what: &str) -> Result<(), BoxError> {
    let deadline = Instant::now() + STEP;
    loop {
        if eval(tab, expression)? == Value::Bool(true) {
            return Ok(());
        }
        if Instant::now() > deadline {
            let error = eval(tab, "document.getElementById('error')?.textContent ?? ''")?;
            return Err(format!(
                "{what}: not within {STEP:?} (at {}; the page's error: {error})",
                tab.get_url()
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn shot(tab: &Arc<Tab>, name: &str) -> Result<(), BoxError> {
    save_full_page_screenshot(tab, &screenshot_path(&format!("clinician-{name}.png")))
}

fn drive(chromium: &std::path::Path, start: &str) -> Result<(), BoxError> {
    let (browser, _profile) = launch(chromium, (1280, 1000), BROWSER_PART, STEP)?;
    let tab = browser.new_tab()?;
    tab.set_default_timeout(STEP);
    tab.navigate_to(start)?;
    log_in(&tab)?;
    open_patient(&tab)?;
    Ok(())
}

/// The welcome page, HelseID's test-IdP page (Didrik picked), back in the journal.
fn log_in(tab: &Arc<Tab>) -> Result<(), BoxError> {
    tab.wait_for_element("#login")?.click()?;
    let button = tab
        .wait_for_element(&format!(r#"button[data-pid="{DIDRIK}"]"#))
        .map_err(|e| format!("no HelseID login page with {DIDRIK}: {e}"))?;
    shot(tab, "1-helseid-login")?;
    button.click()?;
    wait_until(
        tab,
        &format!("!!document.querySelector('#patients button[data-pid=\"{KARI}\"]')"),
        "the journal with its patient list",
    )?;
    let who = eval(tab, "document.getElementById('who').textContent")?;
    assert_eq!(
        who, "Didrik D Didrikson (HPR 431001110) · org. 923456783",
        "the logged-in clinician"
    );
    Ok(())
}

/// Kari Kritisk: her name and id outside any frame, the red kjernejournal icon (status 4).
fn open_patient(tab: &Arc<Tab>) -> Result<(), BoxError> {
    tab.find_element(&format!(r#"#patients button[data-pid="{KARI}"]"#))?
        .click()?;
    wait_until(
        tab,
        "document.getElementById('kj-icon').classList.contains('kj-4')",
        "the kjernejournal icon for status 4",
    )?;
    assert_eq!(
        eval(tab, "document.getElementById('kj-icon').title")?,
        "OBS: Kritisk informasjon i kjernejournal"
    );
    assert_eq!(
        eval(tab, "document.getElementById('kj-icon').disabled")?,
        false,
        "status 4 opens the portal"
    );
    assert_eq!(
        eval(tab, "document.getElementById('patient-pid').textContent")?,
        KARI
    );
    wait_until(
        tab,
        "document.querySelectorAll('#medication tbody tr').length > 0",
        "the medication list",
    )?;
    shot(tab, "2-patient")?;
    Ok(())
}
