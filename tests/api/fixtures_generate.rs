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

/// More than 1,000 national records: read for keys and ReseptIds at start, each built on first
/// use; a state document carries the records not built yet as they are; `check-fixtures`
/// builds them all and names a bad one, which `serve` leaves to first use.
#[actix_web::test]
async fn a_large_national_file_is_built_on_first_use_and_checked_by_check_fixtures() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fixtures");
    let examples = generate(&out, 1_100, 5);
    let app = spawn_app_with(|s| s.fixtures_dir = out.clone()).await;
    let system = app.kj_system_token().await;
    let status = |reply: &Reply| reply.json["status"].clone();
    let first = app
        .helseindikator(Some(&system), Some(EPJ), &json!({"fnr": examples[&4]}))
        .await;
    assert_eq!((first.status, status(&first)), (StatusCode::OK, json!(4)));

    // Built: the patient used; as fixture text: the 1,107 others, with the load's time.
    let document = app.export_state().await;
    let national = &document["national"];
    assert_eq!(
        national["patients"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        [&examples[&4]]
    );
    let records = national["fixture_records"]["records"].as_array().unwrap();
    assert_eq!(records.len(), 1_107);
    assert!(national["fixture_records"]["loaded_at"].is_string());
    let imported = app.import_state(&document.to_string()).await;
    assert_eq!(imported.status, StatusCode::OK, "{}", imported.text);
    assert_eq!(imported.json["national_patients"], json!(1_108));
    for status_wanted in [3u8, 4] {
        let again = app
            .helseindikator(
                Some(&system),
                Some(EPJ),
                &json!({"fnr": examples[&status_wanted]}),
            )
            .await;
        assert_eq!(status(&again), json!(status_wanted), "{}", again.text);
    }

    // A Datadeling read of a statement by a fixture ReseptId builds its holder's record.
    let file = out.join("sfm/national.json");
    let mut patients: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let resept_id = patients[1_000..]
        .iter()
        .flat_map(|p| p["medications"].as_array().into_iter().flatten())
        .filter(|m| m.get("pll_id").is_none())
        .map(|m| &m["prescription"])
        .find(|p| p["status"] == json!("Ekspederbar") && p["locked"] != json!(true))
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .unwrap();
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let read = app
        .fhir(
            "GET",
            &format!("/MedicationStatement/{resept_id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    assert_eq!(read.json["id"], json!(resept_id));

    // The dashboard carries the first 200 cards and the count of all.
    let overview = app.get("/_admin/overview").await;
    assert_eq!(
        overview.json["patients"].as_array().map(Vec::len),
        Some(200)
    );
    // 1,108 national patients and one bundled Patient the national systems do not know.
    assert_eq!(overview.json["patients_total"], json!(1_109));

    // A bad record: serve starts (it is built on first use), check-fixtures names it.
    patients[1_050]["kjernejournal"] = json!(7);
    let key = patients[1_050]["patient"].as_str().unwrap().to_owned();
    std::fs::write(&file, serde_json::to_string(&patients).unwrap()).unwrap();
    let check = helsesim().arg("check-fixtures").arg(&out).output().unwrap();
    assert_eq!(check.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(
        stderr.contains(&format!(
            "national.json: record #1050 (patient \"{key}\"), field `kjernejournal`: "
        )),
        "{stderr}"
    );
    let bad = spawn_app_with(|s| s.fixtures_dir = out.clone()).await;
    let system = bad.kj_system_token().await;
    let reply = bad
        .helseindikator(Some(&system), Some(EPJ), &json!({"fnr": examples[&4]}))
        .await;
    assert_eq!(status(&reply), json!(4), "the other records serve");

    // Two records for one patient stop start-up, as in a small file.
    patients[1_050] = patients[1_049].clone();
    std::fs::write(&file, serde_json::to_string(&patients).unwrap()).unwrap();
    let check = helsesim().arg("check-fixtures").arg(&out).output().unwrap();
    assert_eq!(check.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&check.stderr).contains("record #1050 (patient \"")
            && String::from_utf8_lossy(&check.stderr)
                .contains("field `patient`: another record is for this patient"),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}
