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
/// Per Pasient: he restricted his kjernejournal's medication module.
const PER: &str = "14019800513";
/// Line Danser, the plain patient, who gets a new prescription.
const LINE: &str = "12050050295";
/// What the clinician prescribes in SFM's client.
const NEW_DRUG: &str = "Prøvemidol tab 10 mg";

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
            let frame = eval(tab, FRAME_TEXT)?;
            let _ = shot(tab, "failed");
            return Err(format!(
                "{what}: not within {STEP:?} (at {}; the page's error: {error}; the embedded \
                 frame: {frame})",
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
    kjernejournal_portal(&tab)?;
    restricted_module(&tab)?;
    prescribe_in_sfm(&tab)?;
    log_out(&tab)?;
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

/// The embedded frame's text (the frames are helsesim's own pages: same origin).
const FRAME_TEXT: &str =
    "(document.getElementById('embedded')?.contentDocument?.body?.innerText ?? '')";

/// The embedded frame's document.
const FRAME_DOCUMENT: &str = "document.getElementById('embedded').contentDocument";

/// Clicks `selector` inside the embedded frame.
fn click_in_frame(tab: &Arc<Tab>, selector: &str) -> Result<(), BoxError> {
    let selector = serde_json::to_string(selector)?;
    let clicked = eval(
        tab,
        &format!(
            "(() => {{ const e = document.getElementById('embedded')?.contentDocument\
             ?.querySelector({selector}); if (e) {{ e.click(); return true; }} return false; }})()"
        ),
    )?;
    if clicked == Value::Bool(true) {
        Ok(())
    } else {
        Err(format!("no {selector} in the embedded frame").into())
    }
}

/// The red icon opens the Kjernejournal portal (Innlogging, then `hentpasient.html`) embedded
/// in the EHR, on Kari's critical information.
fn kjernejournal_portal(tab: &Arc<Tab>) -> Result<(), BoxError> {
    tab.find_element("#kj-icon")?.click()?;
    wait_until(
        tab,
        &format!("{FRAME_TEXT}.includes('Kari Kritisk') && {FRAME_TEXT}.includes('{KARI}')"),
        "the Kjernejournal portal on Kari",
    )?;
    click_in_frame(tab, r#"nav.tabs a[href="kritisk-informasjon"]"#)?;
    wait_until(
        tab,
        &format!(
            "{FRAME_TEXT}.includes('Kritisk informasjon') \
             && !!{FRAME_DOCUMENT}.querySelector('table')"
        ),
        "Kari's critical information in the portal",
    )?;
    shot(tab, "3-kjernejournal-portal")?;
    Ok(())
}

/// Per restricted his medication module: the portal asks for consent or emergency, and opens it
/// on the clinician's choice.
fn restricted_module(tab: &Arc<Tab>) -> Result<(), BoxError> {
    tab.find_element(&format!(r#"#patients button[data-pid="{PER}"]"#))?
        .click()?;
    wait_until(
        tab,
        "document.getElementById('kj-icon').dataset.status === '3' \
         && !document.getElementById('embedded')",
        "Per's kjernejournal icon (status 3), the earlier portal closed",
    )?;
    tab.find_element("#kj-icon")?.click()?;
    wait_until(
        tab,
        &format!("{FRAME_TEXT}.includes('Per Pasient')"),
        "the portal on Per",
    )?;
    click_in_frame(tab, r#"nav.tabs a[href="legemidler"]"#)?;
    wait_until(
        tab,
        &format!("!!{FRAME_DOCUMENT}.querySelector('section.locked')"),
        "the consent prompt of the restricted medication module",
    )?;
    shot(tab, "4-restricted-module")?;
    click_in_frame(tab, "section.locked button[type=submit]")?;
    wait_until(
        tab,
        &format!("!!{FRAME_DOCUMENT}.querySelector('p.opened')"),
        "the medication module opened on consent",
    )?;
    Ok(())
}

/// SFM's client in an iframe on Line: the documented message sequence, a prescription in the
/// client, and after closing it the EHR's medication list (from Datadeling) has it.
fn prescribe_in_sfm(tab: &Arc<Tab>) -> Result<(), BoxError> {
    tab.find_element(&format!(r#"#patients button[data-pid="{LINE}"]"#))?
        .click()?;
    wait_until(
        tab,
        &format!(
            "document.getElementById('patient-pid').textContent === '{LINE}' \
             && !document.getElementById('embedded') \
             && document.querySelectorAll('#medication tbody tr').length > 0"
        ),
        "Line opened, the portal closed",
    )?;
    tab.find_element("#open-sfm")?.click()?;
    wait_until(
        tab,
        "window.epjMessages.some((m) => m.setPatient === 'success')",
        "SFM's client logged in and showing the patient",
    )?;
    assert_eq!(
        eval(tab, "JSON.stringify(window.epjMessages)")?,
        r#"[{"clientLoaded":"success"},{"login":"success"},{"setPatient":"success"}]"#,
        "the documented message sequence"
    );
    wait_until(
        tab,
        &format!(
            "{FRAME_TEXT}.includes('{LINE}') && !!{FRAME_DOCUMENT}.querySelector('#prescribe')"
        ),
        "SFM's patient portal on Line",
    )?;
    shot(tab, "5-sfm-client")?;
    eval(
        tab,
        &format!(
            "(() => {{ const form = {FRAME_DOCUMENT}.querySelector('#prescribe'); \
             form.querySelector('[name=name]').value = '{NEW_DRUG}'; \
             form.querySelector('[name=dosage]').value = '1 tablett ved behov'; \
             form.requestSubmit(); return true; }})()"
        ),
    )?;
    wait_until(
        tab,
        &format!("!!{FRAME_DOCUMENT}.querySelector('#lib tr[data-name=\"{NEW_DRUG}\"]')"),
        "the new prescription in SFM's list",
    )?;
    shot(tab, "6-prescribed")?;
    tab.find_element("#close-frame")?.click()?;
    wait_until(
        tab,
        &format!(
            "!document.getElementById('embedded') && [...document.querySelectorAll('#medication \
             td')].some((td) => td.textContent === '{NEW_DRUG}')"
        ),
        "the EHR's medication list with the new prescription",
    )?;
    shot(tab, "7-medication-list")?;
    Ok(())
}

/// Logging out ends SFM's and Kjernejournal's sessions and HelseID's, back to the welcome.
fn log_out(tab: &Arc<Tab>) -> Result<(), BoxError> {
    tab.find_element("#logout button")?.click()?;
    wait_until(
        tab,
        "location.pathname === '/epj/' && document.getElementById('welcome')?.hidden === false",
        "the welcome page after logging out",
    )?;
    Ok(())
}
