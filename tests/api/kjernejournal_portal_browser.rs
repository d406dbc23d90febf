//! The Kjernejournal portal in headless Chromium, opened as an EHR opens it: Kari's overview and
//! critical information (status 4), Per's restricted medication module with its padlock and
//! prompt, opened with the patient's consent. Screenshots in `target/screenshots/kj-portal-*.png`
//! for a human to look at. Without Chromium (and without `CI`) the test says so and passes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use headless_chrome::Tab;

use crate::browser::*;
use crate::helpers::*;
use crate::kjernejournal_innlogging::{KARI, create, didrik};

const STEP: Duration = Duration::from_secs(10);
const BROWSER_PART: Duration = Duration::from_secs(40);

fn portal_url(app: &TestApp, code: &str, verifier: &str) -> String {
    let mut url = url::Url::parse(&app.url("/kjernejournal/hpp-webapp/hentpasient.html")).unwrap();
    url.query_pairs_mut()
        .append_pair("code", code)
        .append_pair("ehr_code_verifier", verifier);
    url.to_string()
}

#[actix_web::test]
async fn the_portal_in_chromium_shows_critical_information_and_opens_a_restricted_module() {
    let Some(chromium) = chromium() else {
        eprintln!("skipped: no Chromium to drive the kjernejournal portal");
        return;
    };
    let app = spawn_app().await;
    let user = didrik(&app).await;
    let kari = create(&app, &user, KARI, "SAMTYKKE").await;
    let per = create(&app, &user, "14019800513", "SAMTYKKE").await;
    let urls = [
        portal_url(&app, &kari.code, &kari.pkce.verifier),
        portal_url(&app, &per.code, &per.pkce.verifier),
    ];
    let started = Instant::now();
    let browser_part = std::thread::spawn(move || drive(&chromium, &urls));
    while !browser_part.is_finished() {
        assert!(
            started.elapsed() < BROWSER_PART,
            "the browser part took too long"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    let texts = match browser_part.join() {
        Ok(result) => result.unwrap_or_else(|e| panic!("in Chromium: {e}")),
        Err(panic) => std::panic::resume_unwind(panic),
    };
    assert!(texts[0].contains("Kari Kritisk"), "{}", texts[0]);
    assert!(
        texts[0].contains("Jodholdige kontrastmidler"),
        "{}",
        texts[0]
    );
    assert!(
        texts[1].contains("Legemidler er sperret av pasienten"),
        "{}",
        texts[1]
    );
    assert!(
        texts[2].contains("Sperret del åpnet med grunnlag: Samtykke fra pasienten"),
        "{}",
        texts[2]
    );
}

fn body_text(tab: &Arc<Tab>) -> Result<String, BoxError> {
    Ok(tab.wait_for_element("body")?.get_inner_text()?)
}

/// Kari's critical information; Per's medication tab before and after opening it.
fn drive(chromium: &std::path::Path, urls: &[String; 2]) -> Result<[String; 3], BoxError> {
    let (browser, _profile) = launch(chromium, (1100, 800), BROWSER_PART, STEP)?;
    let tab = browser.new_tab()?;
    tab.set_default_timeout(STEP);
    tab.navigate_to(&urls[0])?;
    tab.wait_for_element("nav.tabs")?;
    tab.find_element(r#"nav.tabs a[href="kritisk-informasjon"]"#)?
        .click()?;
    tab.wait_for_element("table")?;
    let critical = body_text(&tab)?;
    save_full_page_screenshot(&tab, &screenshot_path("kj-portal-critical.png"))?;

    tab.navigate_to(&urls[1])?;
    tab.wait_for_element("nav.tabs")?;
    tab.find_element(r#"nav.tabs a[href="legemidler"]"#)?
        .click()?;
    tab.wait_for_element("section.locked")?;
    let locked = body_text(&tab)?;
    save_full_page_screenshot(&tab, &screenshot_path("kj-portal-locked.png"))?;
    tab.find_element("section.locked button[type=submit]")?
        .click()?;
    tab.wait_for_element("p.opened")?;
    let opened = body_text(&tab)?;
    save_full_page_screenshot(&tab, &screenshot_path("kj-portal-opened.png"))?;
    Ok([critical, locked, opened])
}
