//! `helsesim fixtures generate`: a fixtures folder with synthetic national patients that
//! helsesim starts on, each patient found by fødselsnummer through SFM and kjernejournal.

use std::collections::HashMap;
use std::path::Path;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::cli::helsesim;
use crate::helpers::*;
use crate::kjernejournal::EPJ;

/// Generates `patients` into `out`; returns a patient key per helseindikator status.
fn generate(out: &Path, patients: usize, seed: u64) -> HashMap<u8, String> {
    let output = helsesim()
        .args([
            "fixtures",
            "generate",
            "--patients",
            &patients.to_string(),
            "--seed",
        ])
        .arg(seed.to_string())
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.starts_with(&format!(
        "wrote {}: {patients} synthetic patients",
        out.display()
    )));
    stdout
        .lines()
        .filter_map(|line| line.trim().strip_prefix("helseindikator status "))
        .filter_map(|rest| rest.split_once(": "))
        .map(|(status, key)| (status.parse().unwrap(), key.to_owned()))
        .collect()
}

#[actix_web::test]
async fn generated_patients_are_served_by_kjernejournal_and_sfm() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fixtures");
    let examples = generate(&out, 300, 3);
    assert_eq!(examples.len(), 5, "{examples:?}");
    let app = spawn_app_with(|s| s.fixtures_dir = out.clone()).await;

    // Every status the summary names is the one helseindikator gives.
    let system = app.kj_system_token().await;
    for status in 1..=4u8 {
        let reply = app
            .helseindikator(Some(&system), Some(EPJ), &json!({"fnr": examples[&status]}))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        assert_eq!(reply.json["status"], json!(status), "{}", examples[&status]);
    }

    // SFM finds the generated patient by fødselsnummer: the ticket and the identifier search.
    let fnr = &examples[&4];
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let ticket = Reply::read(
        app.http
            .post(app.url("/sfm/api/PatientTicket"))
            .bearer_auth(&token)
            .header("Accept", "application/json")
            .json(&json!({"patientPid": fnr}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(ticket.status, StatusCode::OK, "{}", ticket.text);
    assert_eq!(
        ticket.json["patientTicket"].as_str().map(str::len),
        Some(36)
    );
    for query in [
        format!("identifier=urn:oid:2.16.578.1.12.4.1.4.1%7C{fnr}"),
        format!("identifier={fnr}"),
        format!("identifier=%7C{fnr},{fnr}"),
    ] {
        let reply = app
            .fhir("GET", &format!("/Patient?{query}"), Some(&token), None)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let values: Vec<&Value> = reply.json["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["resource"]["identifier"][0]["value"])
            .collect();
        // `|value` asks for one without a system (none here); `,value` adds any system.
        assert_eq!(values, vec![&json!(fnr)], "{query}");
    }
    // The generated tenant holds the 300 patients beside its own.
    let count = app
        .fhir("GET", "/Patient?_summary=count", Some(&token), None)
        .await;
    assert!(
        count.json["total"].as_u64().unwrap() >= 300,
        "{}",
        count.text
    );
}

#[test]
fn the_same_seed_writes_the_same_files_and_the_source_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    generate(&a, 50, 9);
    generate(&b, 50, 9);
    generate(&c, 50, 10);
    let read = |dir: &Path| std::fs::read_to_string(dir.join("sfm/national.json")).unwrap();
    assert_eq!(read(&a), read(&b));
    assert_ne!(read(&a), read(&c));
    // The copy is complete: the client keys came along, and check-fixtures accepts it.
    assert!(a.join("helseid/client-keys").read_dir().unwrap().count() > 0);
    let check = helsesim().arg("check-fixtures").arg(&a).output().unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    assert!(String::from_utf8_lossy(&check.stdout).contains("58 patients in the national systems"));

    let same = helsesim()
        .args(["fixtures", "generate", "--patients", "5", "--out"])
        .arg(&a)
        .arg("--from")
        .arg(&a)
        .output()
        .unwrap();
    assert_eq!(same.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&same.stderr)
            .contains("--out is the folder the fixtures are read from"),
        "{}",
        String::from_utf8_lossy(&same.stderr)
    );
}
