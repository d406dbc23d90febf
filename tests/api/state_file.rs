//! `HELSESIM_STATE_FILE`: the state survives restarts. Written atomically while requests
//! change it, once more on SIGTERM, loaded at the next start; a corrupt file stops start-up and
//! is left as it was.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use helsesim::Clock;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::admin_state::unstamped;
use crate::cli::{Served, helsesim};
use crate::helpers::*;
use crate::pts::Caller as PtsCaller;

/// A TestApp for a helsesim child process (the system clock, as the child's).
fn child_app(served: &Served) -> TestApp {
    TestApp {
        base: format!("http://localhost:{}", served.port),
        port: served.port,
        https_port: None,
        clock: Clock::system(),
        http: http_client(),
    }
}

/// A PTS restriction on a new object; its value when PTS acknowledged it.
async fn restrict(app: &TestApp, pts: &PtsCaller) -> Option<String> {
    let object = uuid::Uuid::new_v4().to_string();
    let body = json!({
        "patientSafetyObject": {
            "person": {"offId": "12345678901"},
            "confidentialObjectId": {"type": "Rekvisisjon", "value": object}
        },
        "delayDays": 14,
        "confidentialityCode": "NORU"
    });
    let url = app.url("/pts/access-restrictions/patient-safety");
    // A refused connection (the server stopping) is no acknowledgement.
    let reply = pts.try_post(app, &url, &body.to_string()).await?;
    assert!(
        matches!(
            reply.status,
            StatusCode::OK | StatusCode::SERVICE_UNAVAILABLE
        ),
        "{}",
        reply.text
    );
    (reply.status == StatusCode::OK).then_some(object)
}

fn restricted_objects(document: &Value) -> Vec<String> {
    document["pts"]["restrictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["object"]["value"].as_str().unwrap().to_owned())
        .collect()
}

/// Reads the state file and checks it is a whole state document.
fn read_state_file(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    let document: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("the state file is not whole JSON ({e}): {text:.300}"));
    assert_eq!(document["format"], "helsesim-state");
    document
}

#[actix_web::test]
async fn the_state_survives_sigterm_and_a_restart_even_under_load() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("state.json");
    let env = [
        ("HELSESIM_STATE_FILE", file.as_os_str()),
        ("HELSESIM_STATE_INTERVAL", std::ffi::OsStr::new("1")),
    ];
    let served = Served::start_with(&shared_certs_dir(), &env);
    assert!(
        served
            .ready
            .iter()
            .any(|l| l.contains("State file") && l.contains("created from the fixtures")),
        "{:?}",
        served.ready
    );
    assert!(file.is_file(), "the file is written at start");
    let app = child_app(&served);
    let pts = Arc::new(PtsCaller::pts(&app).await);
    // State of another service too: an SFM patient.
    let token = didrik(&app).await;
    app.create_nora(&token).await;

    // Load: four writers for three seconds, while the file is read again and again — it is
    // always a whole document (written to a temporary file, then renamed).
    let app = Arc::new(app);
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let (app, pts) = (app.clone(), pts.clone());
            actix_web::rt::spawn(async move {
                let mut acknowledged = Vec::new();
                let until = Instant::now() + Duration::from_secs(3);
                while Instant::now() < until {
                    acknowledged.extend(restrict(&app, &pts).await);
                }
                acknowledged
            })
        })
        .collect();
    let mut reads = 0;
    let mut seen_versions = std::collections::HashSet::new();
    while writers.iter().any(|w| !w.is_finished()) {
        let document = read_state_file(&file);
        seen_versions.insert(restricted_objects(&document).len());
        reads += 1;
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.unwrap());
    }
    assert!(
        acknowledged.len() > 20,
        "the load ran: {}",
        acknowledged.len()
    );
    assert!(
        seen_versions.len() >= 2,
        "the file was rewritten while the load ran ({reads} reads saw {seen_versions:?})"
    );

    // And a moved clock (the test's clock moves with it, for its assertions and proofs).
    let reply = Reply::read(
        app.http
            .post(app.url("/_admin/clock"))
            .json(&json!({"advance": "PT4H"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);

    // SIGTERM: the last state is written; the next start loads it, identical.
    let before = app.export_state().await;
    let status = served.terminate();
    assert!(status.success(), "a graceful stop: {status}");
    let saved = read_state_file(&file);
    assert_eq!(unstamped(saved), unstamped(before.clone()));

    let served = Served::start_with(&shared_certs_dir(), &env);
    assert!(
        served
            .ready
            .iter()
            .any(|l| l.contains("State file") && l.contains("(loaded")),
        "{:?}",
        served.ready
    );
    let app = child_app(&served);
    app.clock.advance(chrono::TimeDelta::hours(4)).unwrap();
    let after = app.export_state().await;
    assert_eq!(unstamped(after.clone()), unstamped(before));
    let objects = restricted_objects(&after);
    assert!(acknowledged.iter().all(|o| objects.contains(o)));
    assert_eq!(
        app.get("/_admin/clock").await.json["offset_seconds"],
        4 * 3600
    );

    // SIGTERM in the middle of the load: every write PTS acknowledged is in the next start.
    let pts = Arc::new(PtsCaller::pts(&app).await);
    let app = Arc::new(app);
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let (app, pts, stop) = (app.clone(), pts.clone(), stop.clone());
            actix_web::rt::spawn(async move {
                let mut acknowledged = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    acknowledged.extend(restrict(&app, &pts).await);
                }
                acknowledged
            })
        })
        .collect();
    actix_web::rt::time::sleep(Duration::from_millis(700)).await;
    let stopping = actix_web::rt::task::spawn_blocking(move || served.terminate());
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.unwrap());
    }
    assert!(stopping.await.unwrap().success());
    assert!(!acknowledged.is_empty());
    let served = Served::start_with(&shared_certs_dir(), &env);
    let objects = restricted_objects(&child_app(&served).export_state().await);
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|o| !objects.contains(o))
        .collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    served.stop();
}

#[actix_web::test]
async fn a_state_file_is_saved_when_the_state_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("state.json");
    let path = file.clone();
    let app = spawn_app_with(move |s| {
        s.state_file = Some(path);
        s.state_interval = Duration::from_millis(100);
    })
    .await;
    let written = std::fs::metadata(&file).unwrap().modified().unwrap();
    actix_web::rt::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        std::fs::metadata(&file).unwrap().modified().unwrap(),
        written,
        "nothing changed, nothing written"
    );
    let user = json!({"pid": "15838510075", "given_name": "Tora", "family_name": "Typet"});
    let reply = app.post_json("/_admin/helseid/users", &user).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let document = read_state_file(&file);
        if document["helseid"]["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["pid"] == "15838510075")
        {
            break;
        }
        assert!(Instant::now() < deadline, "the change was not saved");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    // No temporary file is left beside it.
    let names: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["state.json"]);
}

#[test]
fn a_corrupt_state_file_stops_start_up_and_is_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("state.json");
    for (content, reason) in [
        (
            "{\"format\": \"helsesim-state\", \"version\": 1,",
            "not valid JSON: EOF while parsing a value at line 1 column 42",
        ),
        (
            "",
            "not valid JSON: EOF while parsing a value at line 1 column 0",
        ),
        (
            "{\"format\": \"helsesim-state\", \"version\": 9}",
            "field `version`: this helsesim reads version 1, the document has 9",
        ),
    ] {
        std::fs::write(&file, content).unwrap();
        let output = helsesim()
            .args(["serve", "--port", "0", "--tls-port", "0"])
            .env("HELSESIM_STATE_FILE", &file)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{output:?}");
        assert_eq!(
            String::from_utf8_lossy(&output.stderr).trim_end(),
            format!(
                "helsesim: the state file {} is not a valid state document ({reason}); it was left \
                 as it is: fix it, move it away or delete it to start from the fixtures",
                file.display()
            )
        );
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            content,
            "never overwritten"
        );
    }
}

#[actix_web::test]
async fn a_loaded_state_file_is_left_as_it_is_until_the_state_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("state.json");
    // A document as someone wrote it: one line, the clock moved an hour.
    let source = spawn_app().await;
    let mut document = source.export_state().await;
    document["clock"]["offset_ms"] = json!(3_600_000);
    let text = document.to_string();
    std::fs::write(&file, &text).unwrap();

    let path = file.clone();
    let app = spawn_app_with(move |s| {
        s.state_file = Some(path);
        s.state_interval = Duration::from_millis(100);
    })
    .await;
    assert_eq!(app.get("/_admin/clock").await.json["offset_seconds"], 3600);
    actix_web::rt::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        text,
        "not rewritten"
    );

    let reply = app
        .post_json("/_admin/clock", &json!({"advance": "PT1M"}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let deadline = Instant::now() + Duration::from_secs(5);
    while read_state_file(&file)["clock"]["offset_ms"] != 3_660_000 {
        assert!(Instant::now() < deadline, "the change was not saved");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}
