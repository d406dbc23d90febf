//! The integration kits EHR teams copy (README's "Integration kits"), run against a fresh
//! helsesim as the teams would run them: the Postman collection with newman, the `.http` files
//! with httpyac. Both runners come from `tests/kits` (`npm ci --prefix tests/kits`, which
//! `.ci/run` does); on a laptop without them these tests say so and pass, in CI they fail.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::browser::in_ci;
use crate::helpers::*;
use helsesim::Clock;

pub(crate) fn kit_runner(name: &str) -> Option<PathBuf> {
    let path = manifest_dir()
        .join("tests/kits/node_modules/.bin")
        .join(name);
    if path.is_file() {
        return Some(path);
    }
    assert!(
        !in_ci(),
        "CI is set but {} is missing: .ci/run installs it (npm ci --prefix tests/kits)",
        path.display()
    );
    eprintln!("skipped: {name} is not installed (npm ci --prefix tests/kits)");
    None
}

/// helsesim on the real clock, as users run it: the kits date their assertions by it.
async fn spawn_on_system_clock() -> TestApp {
    spawn_with_clock(test_settings(), Clock::system()).await
}

/// Runs a runner without blocking the app's runtime, its stdout written to `stdout`.
async fn run(mut command: Command, stdout: &Path) -> Output {
    command
        .stdin(Stdio::null())
        .stdout(File::create(stdout).unwrap())
        .stderr(Stdio::piped());
    actix_web::rt::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn postman_file(name: &str) -> PathBuf {
    manifest_dir().join("examples/postman").join(name)
}

fn read_postman(name: &str) -> Value {
    read_json(&postman_file(name))
}

/// Every request of the collection, depth first, with its folder.
fn postman_requests(items: &Value, folder: &str, out: &mut Vec<(String, Value)>) {
    for item in items.as_array().unwrap() {
        let name = format!("{folder}/{}", item["name"].as_str().unwrap());
        match item.get("item") {
            Some(children) => postman_requests(children, &name, out),
            None => out.push((name, item.clone())),
        }
    }
}

#[actix_web::test]
async fn the_postman_collection_runs_green_with_newman() {
    let Some(newman) = kit_runner("newman") else {
        return;
    };
    let app = spawn_on_system_clock().await;
    let out = tempfile::tempdir().unwrap();
    let report = out.path().join("report.json");
    let mut command = Command::new(newman);
    command
        .arg("run")
        .arg(postman_file("helsesim.postman_collection.json"))
        .arg("--environment")
        .arg(postman_file("helsesim.postman_environment.json"))
        .args(["--env-var", &format!("baseUrl={}", app.base)])
        .args(["--color", "off", "--reporters", "cli,json"])
        .arg("--reporter-json-export")
        .arg(&report);
    let output = run(command, &out.path().join("stdout.txt")).await;
    let printed = std::fs::read_to_string(out.path().join("stdout.txt")).unwrap();
    assert!(
        output.status.success(),
        "newman failed:\n{printed}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let newman_run = &read_json(&report)["run"];
    assert_eq!(newman_run["failures"], serde_json::json!([]), "{printed}");
    let stats = &newman_run["stats"];
    assert_eq!(stats["assertions"]["failed"], 0, "{stats}");
    assert_eq!(stats["testScripts"]["failed"], 0, "{stats}");
    assert_eq!(stats["prerequestScripts"]["failed"], 0, "{stats}");
    // Every request of the collection ran (the PTS token request twice: the nonce retry) and
    // each one asserted something.
    let mut requests = Vec::new();
    let collection = read_postman("helsesim.postman_collection.json");
    postman_requests(&collection["item"], "", &mut requests);
    let executions = newman_run["executions"].as_array().unwrap();
    assert_eq!(executions.len(), requests.len() + 1, "{printed}");
    for execution in executions {
        let name = execution["item"]["name"].as_str().unwrap_or_default();
        let assertions = execution["assertions"].as_array().map_or(0, Vec::len);
        assert!(assertions > 0, "{name}: no assertion ran");
    }
    let nonce_retries = executions
        .iter()
        .filter(|e| e["item"]["name"] == "System token with DPoP (nonce retry)")
        .count();
    assert_eq!(
        nonce_retries, 2,
        "the DPoP token request: once refused, once answered"
    );

    let checked = answers_checked_against_the_documents(&app, "--newman", &report).await;
    assert_eq!(checked, executions.len() - 1, "all but the faulted answer");
}

/// Checks every answer of a run against the OpenAPI documents helsesim serves (status, content
/// type, schema: `tests/kits/check-responses.mjs`, Ajv) and answers how many it checked. The
/// hand-written documents are held to real traffic this way.
async fn answers_checked_against_the_documents(
    app: &TestApp,
    runner: &str,
    report: &Path,
) -> usize {
    let out = tempfile::tempdir().unwrap();
    let mut command = Command::new("node");
    command
        .arg(manifest_dir().join("tests/kits/check-responses.mjs"))
        .arg(runner)
        .arg(report);
    let index = app.get("/_admin/openapi").await;
    for document in index.json["documents"].as_array().unwrap() {
        let name = document["name"].as_str().unwrap();
        let url = document["url"].as_str().unwrap();
        let served = app.get(url.strip_prefix(&app.base).unwrap()).await;
        let file = out.path().join(format!("{name}.json"));
        std::fs::write(&file, served.text).unwrap();
        if name == "control-plane" {
            // Generated from the handlers: most answers are described in words only.
            command.arg("--prose");
        }
        command.arg(file);
    }
    let checked = run(command, &out.path().join("checked.txt")).await;
    let printed = std::fs::read_to_string(out.path().join("checked.txt")).unwrap();
    assert!(
        checked.status.success(),
        "answers the OpenAPI documents do not describe:\n{printed}{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    printed
        .strip_prefix("checked ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{printed}"))
}

/// The collection's parts a run cannot show: each request tests its answer, and the
/// environment's keys are the fixture clients' (a key drifting from the fixtures would show as
/// `invalid_client` only at run time).
#[test]
fn the_postman_kit_matches_the_fixtures() {
    let collection = read_postman("helsesim.postman_collection.json");
    let mut requests = Vec::new();
    postman_requests(&collection["item"], "", &mut requests);
    assert!(requests.len() >= 40, "{}", requests.len());
    for (name, request) in &requests {
        let tests = request["event"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["listen"] == "test")
            .map(|e| e["script"]["exec"].to_string())
            .collect::<String>();
        assert!(tests.contains("pm.test("), "{name} has no test");
        assert!(
            tests.contains("to.have.status(") || tests.contains("pm.response.code"),
            "{name} does not test the status"
        );
    }

    let environment = read_postman("helsesim.postman_environment.json");
    let value = |key: &str| -> String {
        environment["values"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["key"] == key)
            .unwrap_or_else(|| panic!("the environment has no {key}"))["value"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    for prefix in ["epj", "new_tenant", "pts"] {
        let client_id = value(&format!("{prefix}_client_id"));
        let private: Value =
            serde_json::from_str(&value(&format!("{prefix}_private_jwk"))).unwrap();
        let client = fixture_client(&client_id);
        let public = &client["jwks"]["keys"][0];
        assert_eq!(private["n"], public["n"], "{prefix}: not the fixture key");
        assert_eq!(private["kid"], public["kid"], "{prefix}");
    }
    assert_eq!(value("baseUrl"), "http://localhost:8080");
}

fn http_kit_dir() -> PathBuf {
    manifest_dir().join("examples/http")
}

#[actix_web::test]
async fn the_http_files_run_green_with_httpyac() {
    let Some(httpyac) = kit_runner("httpyac") else {
        return;
    };
    let app = spawn_on_system_clock().await;
    // helseid.http's token request takes the assertion `helsesim token --assertion-only` prints.
    let mut token = crate::cli::helsesim();
    token.args([
        "token",
        "--assertion-only",
        "--client",
        "kjernejournal",
        "--url",
        &app.base,
    ]);
    let out = tempfile::tempdir().unwrap();
    let assertion = run(token, &out.path().join("assertion")).await;
    assert!(assertion.status.success(), "{assertion:?}");
    let assertion = std::fs::read_to_string(out.path().join("assertion")).unwrap();

    let mut files = std::fs::read_dir(http_kit_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "http"))
        .collect::<Vec<_>>();
    files.sort();
    assert_eq!(files.len(), 4, "{files:?}");
    let mut command = Command::new(httpyac);
    command
        .current_dir(http_kit_dir())
        .arg("send")
        .args(&files)
        .args(["--all", "--env", "local", "--json"])
        .args(["--var", &format!("baseUrl={}", app.base)])
        .args(["--var", &format!("client_assertion={}", assertion.trim())]);
    let report = out.path().join("report.json");
    let output = run(command, &report).await;
    let summary = read_json(&report)["summary"].clone();
    assert!(
        output.status.success(),
        "httpyac failed: {summary}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let requests = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap().matches("\n###").count())
        .sum::<usize>();
    assert_eq!(summary["totalRequests"], requests, "{summary}");
    assert_eq!(summary["successRequests"], requests, "{summary}");
    assert_eq!(summary["failedTests"], 0, "{summary}");
    assert_eq!(summary["erroredTests"], 0, "{summary}");
    // Every request has its test (one `client.test` each at least).
    assert!(
        summary["totalTests"].as_u64().unwrap() >= requests as u64,
        "{summary}"
    );
    // One answer is the injected fault's, which no document describes.
    let checked = answers_checked_against_the_documents(&app, "--httpyac", &report).await;
    assert_eq!(checked, requests - 1);
}
