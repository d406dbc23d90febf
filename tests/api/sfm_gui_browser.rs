//! SFM's patient portal in headless Chromium, embedded by a test EHR page as a web EHR embeds
//! it: an iframe on `metadata.patientportal` with no query parameters, then postMessage —
//! clientLoaded → login → setPatient — and a prescription made in the portal, which the EHR's
//! `$getMedication` and Datadeling then show. A page on another origin cannot drive the portal:
//! not as the embedding page (the server refuses its origin at login) and not as a sibling
//! frame (the portal ignores messages not from its parent). Screenshots in
//! `target/screenshots/sfm-gui-*.png`.
//!
//! The EHR page is served by a small actix server started here, reached as
//! `http://localhost:<port>` (registered as the client's redirect origin: allowed) and as
//! `http://127.0.0.1:<port>` (another origin of the same server: not allowed).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use headless_chrome::protocol::cdp::DOM;
use headless_chrome::{Element, Tab};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::browser::*;
use crate::helpers::*;
use crate::sfm_gui::{create, gui, nonce, ticket};
use crate::sfm_medication::{LINE, get_medication, medication_bundle, patient_param, statements};

/// The longest any one browser step may take.
const STEP: Duration = Duration::from_secs(10);
/// The longest the whole browser part may take.
const BROWSER_PART: Duration = Duration::from_secs(90);
/// The second patient (the EHR switches to her).
const OLA: &str = "10092939427";

/// The test EHR page: embeds the portal, answers its messages as NHN's samples do (but with the
/// portal's origin as target), and logs every message it gets in `window.received`.
const EHR_PAGE: &str = r#"<!doctype html>
<html lang="no"><head><meta charset="utf-8"><title>Test-EPJ</title>
<style>
 body { font-family: system-ui, sans-serif; margin: 0; background: #eef1f4; }
 header { background: #30475e; color: white; padding: 0.6rem 1rem; }
 #log { font: 12px ui-monospace, monospace; background: white; margin: 0.5rem 1rem;
        padding: 0.4rem; white-space: pre-wrap; max-height: 7rem; overflow: auto; }
 iframe { border: 1px solid #8899aa; margin: 0 1rem; background: white; }
 #intruder { height: 40px; width: 300px; }
</style></head>
<body>
<header>Test-EPJ · pasient <span id="pasient"></span> · SFM i iframe</header>
<pre id="log"></pre>
<iframe id="sfm" name="sfm" width="1200" height="720" allow="clipboard-write"></iframe>
<iframe id="intruder" hidden></iframe>
<script>
 var q = new URLSearchParams(location.search);
 var portal = q.get('portal');
 var portalOrigin = new URL(portal).origin;
 var frame = document.getElementById('sfm');
 window.received = [];
 function log(line) { document.getElementById('log').textContent += line + '\n'; }
 function send(message) {
   frame.contentWindow.postMessage(message, portalOrigin);
   log('-> ' + JSON.stringify(message));
 }
 window.sendPatient = function (ticket) {
   send({action: 'setPatient', ticket: ticket, showAllergies: 'true', onBehalfOf: '',
         showLib: true});
 };
 window.addEventListener('message', function (event) {
   if (event.source !== frame.contentWindow) { return; }
   window.received.push({origin: event.origin, data: event.data});
   log('<- ' + event.origin + ' ' + JSON.stringify(event.data));
   if (event.data && event.data.clientLoaded === 'success') {
     send({action: 'login', code: q.get('code'), nonce: q.get('nonce'),
           apiEndpoint: q.get('api')});
   } else if (event.data && event.data.login === 'success') {
     document.getElementById('pasient').textContent = q.get('pid');
     window.sendPatient(q.get('ticket'));
   }
 });
 frame.src = portal;
 if (q.get('intruder')) {
   var intruder = document.getElementById('intruder');
   intruder.src = q.get('intruder');
   intruder.hidden = false;
 }
</script>
</body></html>
"#;

/// A page on another origin, framed beside the portal, that tries to drive it.
const INTRUDER_PAGE: &str = r#"<!doctype html>
<html><body style="margin:0;font:12px sans-serif;background:#fdd">inntrenger
<script>
 var q = new URLSearchParams(location.search);
 var sent = 0;
 var timer = setInterval(function () {
   var sfm = window.parent.frames[0];
   sfm.postMessage({action: 'setPatient', ticket: q.get('ticket'), showAllergies: true}, '*');
   sfm.postMessage({action: 'login', code: 'x', nonce: 'eA==',
                    apiEndpoint: 'http://evil.invalid/'}, '*');
   document.body.textContent = 'inntrenger: ' + (++sent) + ' forsøk';
   if (sent >= 30) { clearInterval(timer); }
 }, 100);
</script></body></html>
"#;

async fn ehr_page() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(EHR_PAGE)
}

async fn intruder_page() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(INTRUDER_PAGE)
}

/// Serves the test EHR's pages on 127.0.0.1 (any port); the port.
fn start_ehr_server() -> u16 {
    let server = actix_web::HttpServer::new(|| {
        actix_web::App::new()
            .route("/ehr.html", actix_web::web::get().to(ehr_page))
            .route("/intruder.html", actix_web::web::get().to(intruder_page))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let port = server.addrs()[0].port();
    actix_web::rt::spawn(server.run());
    port
}

/// The EHR page's URL at `origin`, opening a fresh SFM session code.
async fn ehr_url(app: &TestApp, token: &str, origin: &str, extra: &[(&str, &str)]) -> String {
    let (plain, hash) = nonce();
    let session = create(app, token, &hash).await;
    assert_eq!(session.status, StatusCode::OK, "{}", session.text);
    let mut url = url::Url::parse(&format!("{origin}/ehr.html")).unwrap();
    url.query_pairs_mut()
        .append_pair(
            "portal",
            session.json["metadata"]["patientportal"].as_str().unwrap(),
        )
        .append_pair("api", session.json["apiAddress"].as_str().unwrap())
        .append_pair("code", session.json["code"].as_str().unwrap())
        .append_pair("nonce", &plain)
        .extend_pairs(extra);
    url.to_string()
}

/// What the browser part found.
struct Seen {
    /// The messages the allowed EHR page got.
    allowed: Vec<Value>,
    /// The messages the page on the other origin got.
    refused: Vec<Value>,
}

#[actix_web::test]
async fn an_ehr_page_embeds_the_patient_portal_and_prescribes_through_it_in_chromium() {
    let Some(chromium) = chromium() else {
        eprintln!("skipped: no Chromium (/usr/bin/chromium, or HELSESIM_CHROMIUM)");
        return;
    };
    let app = spawn_app().await;
    let port = start_ehr_server();
    let allowed_origin = format!("http://localhost:{port}");
    let other_origin = format!("http://127.0.0.1:{port}");
    // The EHR's HelseID client has the test page's origin among its redirect URIs.
    let mut entry = app
        .get(&format!("/_admin/helseid/clients/{SFM_READY}"))
        .await
        .json;
    entry["redirect_uris"]
        .as_array_mut()
        .unwrap()
        .push(json!(format!("{allowed_origin}/callback")));
    let reply = app.register_client(&entry).await;
    assert!(reply.status.is_success(), "{}", reply.text);
    let token = didrik(&app).await;
    let line = ticket(&app, &token, LINE).await;
    let ola = ticket(&app, &token, OLA).await;
    let intruder = format!("{other_origin}/intruder.html?ticket={ola}");
    let allowed = ehr_url(
        &app,
        &token,
        &allowed_origin,
        &[("ticket", &line), ("pid", LINE), ("intruder", &intruder)],
    )
    .await;
    let refused = ehr_url(
        &app,
        &token,
        &other_origin,
        &[("ticket", &line), ("pid", LINE)],
    )
    .await;
    let refused_code = url::Url::parse(&refused)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();

    let started = Instant::now();
    let ola_ticket = ola.clone();
    let browser_part =
        std::thread::spawn(move || drive(&chromium, &allowed, &refused, &ola_ticket));
    while !browser_part.is_finished() {
        assert!(
            started.elapsed() < BROWSER_PART,
            "the browser part took over {BROWSER_PART:?}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = match browser_part.join() {
        Ok(result) => result.unwrap_or_else(|e| panic!("in Chromium: {e}")),
        Err(panic) => std::panic::resume_unwind(panic),
    };
    eprintln!(
        "SFM portal in Chromium: {:?}, screenshots at {}",
        started.elapsed(),
        screenshot_path("sfm-gui-*.png").display()
    );

    // The documented sequence, each message from the portal's origin.
    let data: Vec<&Value> = seen.allowed.iter().map(|m| &m["data"]).collect();
    assert_eq!(
        data,
        [
            &json!({"clientLoaded": "success"}),
            &json!({"login": "success"}),
            &json!({"setPatient": "success"}),
            &json!({"setPatient": "success"}),
        ],
        "{:?}",
        seen.allowed
    );
    assert!(
        seen.allowed
            .iter()
            .all(|m| m["origin"] == app.base.as_str())
    );
    // The page on the other origin got clientLoaded and nothing more: its login was refused.
    assert_eq!(
        seen.refused,
        [json!({"origin": app.base, "data": {"clientLoaded": "success"}})]
    );
    let body = json!({"code": refused_code, "nonce": "eA==", "origin": other_origin});
    let reply = gui(&app, "login", None, &body).await;
    assert!(
        reply.json["detail"]
            .as_str()
            .unwrap()
            .starts_with("The code was already used"),
        "the portal tried the refused page's code: {}",
        reply.text
    );

    // The EHR reads back the prescription made in the portal.
    let ehr = get_medication(&app, &token, patient_param(LINE, "Danser", "Line"), &[]).await;
    assert!(
        statements(&medication_bundle(&ehr))
            .iter()
            .any(|s| s["medicationReference"]["display"] == "Prøvemidol tab 10 mg"),
        "{}",
        ehr.text
    );
    let reply = app
        .fhir(
            "GET",
            &format!("/List?patientTicket={line}"),
            Some(&token),
            None,
        )
        .await;
    assert!(
        reply.text.contains("Prøvemidol tab 10 mg"),
        "{}",
        reply.text
    );
}

fn drive(chromium: &Path, allowed: &str, refused: &str, ola: &str) -> Result<Seen, BoxError> {
    for step in [
        "1-patient",
        "2-prescribed",
        "3-error",
        "4-switched",
        "5-refused-origin",
    ] {
        let _ = std::fs::remove_file(screenshot_path(&format!("sfm-gui-{step}.png")));
    }
    let (browser, _profile) = launch(chromium, (1280, 1000), BROWSER_PART, STEP)?;
    let tab = browser.new_tab()?;
    tab.set_default_timeout(STEP);
    tab.navigate_to(allowed)?;
    wait_until(&tab, "setPatient success", "window.received.length >= 3")?;
    wait_portal(
        &tab,
        "the patient",
        "document.querySelector('#patient .pid') !== null",
    )?;
    assert_eq!(
        portal(
            &tab,
            "return document.querySelector('#patient .pid').textContent"
        )?,
        LINE
    );
    // The intruder frame keeps posting setPatient for Ola: ignored.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        portal(
            &tab,
            "return document.querySelector('#patient .pid').textContent"
        )?,
        LINE,
        "a sibling frame on another origin switched the patient"
    );
    assert_eq!(eval(&tab, "window.received.length")?, json!(3));
    assert_eq!(
        portal(&tab, "return document.querySelector('#allergies') !== null")?,
        json!(true),
        "showAllergies \"true\" shows the allergies"
    );
    screenshot(&tab, "1-patient")?;

    prescribe(&tab)?;
    screenshot(&tab, "2-prescribed")?;

    // An unknown ticket: the portal shows the error as the real client does.
    tab.evaluate(
        "window.sendPatient('00000000-0000-0000-0000-000000000000')",
        false,
    )?;
    wait_portal(
        &tab,
        "the error",
        "!document.querySelector('#error').hidden",
    )?;
    let error = portal(&tab, "return document.querySelector('#error').textContent")?;
    let error = error.as_str().unwrap_or_default();
    assert!(error.contains("The patient ticket is unknown"), "{error}");
    assert!(error.contains("Feil ID"), "{error}");
    assert!(error.contains("Kopier feilmeldingen"), "{error}");
    screenshot(&tab, "3-error")?;

    // Another patient in the same portal.
    tab.evaluate(&format!("window.sendPatient('{ola}')"), false)?;
    wait_portal(
        &tab,
        "the switch",
        &format!("document.querySelector('#patient .pid').textContent === '{OLA}'"),
    )?;
    wait_until(&tab, "the second setPatient", "window.received.length >= 4")?;
    screenshot(&tab, "4-switched")?;
    let allowed_messages = received(&tab)?;

    // The same page on another origin: the portal loads, but its login is refused.
    tab.navigate_to(refused)?;
    wait_until(&tab, "clientLoaded", "window.received.length >= 1")?;
    std::thread::sleep(Duration::from_millis(1500));
    screenshot(&tab, "5-refused-origin")?;
    let refused_messages = received(&tab)?;
    Ok(Seen {
        allowed: allowed_messages,
        refused: refused_messages,
    })
}

/// Writes a prescription in the portal and waits for Reseptformidleren's answer.
fn prescribe(tab: &Arc<Tab>) -> Result<(), BoxError> {
    portal(
        tab,
        "var form = document.querySelector('#prescribe');\
         form.querySelector('[name=name]').value = 'Prøvemidol tab 10 mg';\
         form.querySelector('[name=dosage]').value = '1 tablett ved behov, maks 3 daglig';\
         form.requestSubmit(); return true",
    )?;
    wait_portal(
        tab,
        "the prescription",
        "document.querySelector('#lib tr[data-name=\"Prøvemidol tab 10 mg\"]') !== null",
    )?;
    let notice = portal(tab, "return document.querySelector('#notice').textContent")?;
    assert_eq!(
        notice,
        "Resepten på Prøvemidol tab 10 mg er sendt til Reseptformidleren (M1)."
    );
    Ok(())
}

/// The messages the EHR page got.
fn received(tab: &Arc<Tab>) -> Result<Vec<Value>, BoxError> {
    match eval(tab, "window.received")? {
        Value::Array(list) => Ok(list),
        other => Err(format!("window.received is {other}").into()),
    }
}

fn screenshot(tab: &Arc<Tab>, step: &str) -> Result<(), BoxError> {
    save_full_page_screenshot(tab, &screenshot_path(&format!("sfm-gui-{step}.png")))
}

/// Evaluates a JavaScript expression in the EHR page, as JSON.
fn eval(tab: &Arc<Tab>, expression: &str) -> Result<Value, BoxError> {
    let result = tab.evaluate(&format!("JSON.stringify({expression})"), false)?;
    let text = result
        .value
        .and_then(|v| v.as_str().map(str::to_owned))
        .ok_or_else(|| format!("{expression} gave no value"))?;
    Ok(serde_json::from_str(&text)?)
}

/// Runs a function body inside the portal's frame (DevTools reaches into the frame; the EHR
/// page's own script could not), its return value as JSON.
fn portal(tab: &Arc<Tab>, body: &str) -> Result<Value, BoxError> {
    let root = tab
        .call_method(DOM::GetDocument {
            depth: Some(64),
            pierce: Some(true),
        })?
        .root;
    let document = frame_document(&root).ok_or("no portal frame document yet")?;
    let html = tab
        .call_method(DOM::QuerySelector {
            node_id: document,
            selector: "html".to_owned(),
        })?
        .node_id;
    let element = Element::new(tab, html)?;
    let result = element.call_js_fn(
        &format!("function () {{ return JSON.stringify((function () {{ {body} }})()); }}"),
        Vec::new(),
        false,
    )?;
    let text = result
        .value
        .and_then(|v| v.as_str().map(str::to_owned))
        .ok_or("the portal gave no value")?;
    Ok(serde_json::from_str(&text)?)
}

/// The node id of the `#sfm` iframe's document.
fn frame_document(node: &DOM::Node) -> Option<DOM::NodeId> {
    let is_portal = node.node_name == "IFRAME"
        && node
            .attributes
            .as_ref()
            .is_some_and(|a| a.chunks(2).any(|kv| kv[0] == "id" && kv[1] == "sfm"));
    if is_portal {
        return node.content_document.as_ref().map(|d| d.node_id);
    }
    node.children.iter().flatten().find_map(frame_document)
}

/// Waits until `expression` is true in the EHR page.
fn wait_until(tab: &Arc<Tab>, what: &str, expression: &str) -> Result<(), BoxError> {
    wait(what, expression, || eval(tab, expression))
}

/// Waits until `expression` is true in the portal.
fn wait_portal(tab: &Arc<Tab>, what: &str, expression: &str) -> Result<(), BoxError> {
    wait(what, expression, || {
        portal(tab, &format!("return {expression}"))
    })
}

fn wait(
    what: &str,
    expression: &str,
    mut check: impl FnMut() -> Result<Value, BoxError>,
) -> Result<(), BoxError> {
    let deadline = Instant::now() + STEP;
    loop {
        let value = check();
        if matches!(value, Ok(Value::Bool(true))) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("{what}: not within {STEP:?} ({expression}: {value:?})").into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
