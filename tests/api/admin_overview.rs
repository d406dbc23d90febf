//! `GET /_admin/overview`: what the dashboard shows — services, clients with their `helsesim
//! token` commands (each of which is run here), test users, SFM instances and patients.

use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// The item of a JSON array whose `field` is `value`.
pub fn by<'a>(list: &'a Value, field: &str, value: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|item| item[field] == value)
        .unwrap_or_else(|| panic!("no {field} = {value} in {list:#}"))
}

#[actix_web::test]
async fn the_overview_has_the_services_with_their_base_urls_and_snippets() {
    let app = spawn_app().await;
    let reply = app.get("/_admin/overview").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let overview = &reply.json;
    assert_eq!(overview["base_url"], app.base);
    assert_eq!(
        overview["clock"],
        json!({"now": "2026-03-02T10:00:00.000Z", "offset_seconds": 0})
    );
    let ids: Vec<&str> = overview["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["helseid", "sfm", "kjernejournal", "pts"]);

    let helseid = by(&overview["services"], "id", "helseid");
    assert_eq!(helseid["base_url"], app.issuer());
    assert_eq!(
        helseid["replaces"],
        json!(["https://helseid-sts.test.nhn.no"])
    );
    assert_eq!(
        by(&helseid["endpoints"], "name", "Token")["url"],
        app.token_endpoint()
    );
    let base = &app.base;
    assert_eq!(
        helseid["config"]["env"],
        format!(
            "HELSEID_AUTHORITY={base}/helseid\n\
             HELSEID_METADATA_ADDRESS={base}/helseid/.well-known/openid-configuration\n\
             HELSEID_TOKEN_ENDPOINT={base}/helseid/connect/token\n\
             HELSEID_PAR_ENDPOINT={base}/helseid/connect/par\n\
             HELSEID_AUTHORIZE_ENDPOINT={base}/helseid/connect/authorize\n"
        )
    );
    let sfm = by(&overview["services"], "id", "sfm");
    assert_eq!(sfm["base_url"], app.url("/sfm"));
    let appsettings: Value =
        serde_json::from_str(sfm["config"]["appsettings"].as_str().unwrap()).unwrap();
    assert_eq!(
        appsettings,
        json!({"Sfm": {
            "SessionBaseUrl": app.url("/sfm"),
            "FhirBaseUrl": app.url("/sfm/fhir"),
            "DatashareBaseUrl": app.url("/sfm/fhir"),
            "Audience": "e-helse:sfm.api"
        }})
    );
    assert_eq!(
        by(&overview["services"], "id", "kjernejournal")["config"]["env"],
        format!(
            "KJERNEJOURNAL_BASE_URL={base}/kjernejournal\n\
             KJERNEJOURNAL_AUDIENCE=nhn:kjernejournal\n"
        )
    );
    assert_eq!(
        by(&overview["services"], "id", "pts")["base_url"],
        app.url("/pts")
    );
    // Every endpoint listed is served (none is an unknown path).
    for service in overview["services"].as_array().unwrap() {
        for endpoint in service["endpoints"].as_array().unwrap() {
            let url = endpoint["url"].as_str().unwrap();
            let reply = Reply::read(app.http.get(url).send().await.unwrap()).await;
            assert!(
                !reply.text.contains("No service at"),
                "{url}: {}",
                reply.text
            );
        }
    }
    assert_eq!(
        overview["settings"],
        json!({
            "admin_token": false, "autologin": true, "kj_extra_field": true, "journal_size": 500
        })
    );
}

#[actix_web::test]
async fn the_overview_has_clients_with_token_commands_users_and_instances() {
    let app = spawn_app().await;
    let overview = app.get("/_admin/overview").await.json;
    let url = format!("--url {}", app.base);

    let ready = by(&overview["clients"], "client_id", SFM_READY);
    assert_eq!(ready["name"], "sfm-ready");
    assert_eq!(ready["tenancy"], "single-tenant");
    assert_eq!(ready["orgnr_parent"], "923456783");
    assert_eq!(ready["apis"], json!(["e-helse:sfm.api"]));
    assert_eq!(ready["test_key"], true);
    assert_eq!(
        ready["token_commands"],
        json!([{
            "api": "e-helse:sfm.api",
            "label": "e-helse:sfm.api",
            "command": format!("helsesim token --client sfm-ready --user {DIDRIK} --scope \"openid \
                                helseid://scopes/identity/pid e-helse:sfm.api/sfm.api\" {url}")
        }])
    );
    let pts = by(&overview["clients"], "client_id", PTS);
    assert_eq!(pts["require_dpop"], true);
    assert_eq!(
        pts["token_commands"][0],
        json!({
            "api": "nhn:pts",
            "label": "nhn:pts",
            "setup": "helsesim keygen --out dpop.pem",
            "command": format!("helsesim token --client pts --scope nhn:pts/api --dpop-key \
                                dpop.pem {url}"),
            "proof": format!("helsesim dpop-proof --key dpop.pem --url \
                              {}/pts/access-restrictions/patient-safety/_search --token <the \
                              token>", app.base),
        })
    );
    // The multi-tenant client: one SFM command per journal, the organisation named.
    let multi = by(&overview["clients"], "client_id", MULTI_TENANT);
    assert_eq!(
        multi["apis"],
        json!(["e-helse:sfm.api", "nhn:kjernejournal", "nhn:pts"])
    );
    let commands: Vec<&str> = multi["token_commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["command"].as_str().unwrap())
        .collect();
    assert_eq!(
        commands,
        [
            format!(
                "helsesim token --client epj-multi-tenant --user {DIDRIK} --scope \"openid \
                 helseid://scopes/identity/pid e-helse:sfm.api/sfm.api\" --org 924681357 \
                 --journal-id 5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f {url}"
            ),
            format!(
                "helsesim token --client epj-multi-tenant --user {SIGRID} --scope \"openid \
                 helseid://scopes/identity/pid e-helse:sfm.api/sfm.api\" --org 928765431 \
                 --journal-id b9df3211-460c-4801-9de4-c9e0fe9c0ed3 {url}"
            ),
            format!(
                "helsesim token --client epj-multi-tenant --scope nhn:kjernejournal/api --org \
                 924681357 {url}"
            ),
            format!(
                "helsesim token --client epj-multi-tenant --scope nhn:pts/api --org 924681357 \
                 --dpop-key dpop.pem {url}"
            ),
        ]
    );

    let didrik = by(&overview["users"], "pid", DIDRIK);
    assert_eq!(didrik["name"], "Didrik D Didrikson");
    assert_eq!(didrik["hpr_number"], "431001110");
    assert_eq!(didrik["pid_kind"], "fødselsnummer");
    assert_eq!(overview["users"].as_array().unwrap().len(), 5);

    let names: Vec<&str> = overview["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Fjordbyen legekontor",
            "Nordby multidoselege",
            "Sjøkanten legesenter"
        ]
    );
    let fjordbyen = by(&overview["tenants"], "name", "Fjordbyen legekontor");
    assert_eq!(
        fjordbyen,
        &json!({
            "sfm_id": "7c4a3083-158d-4050-b2f1-caea9c34045e", "name": "Fjordbyen legekontor",
            "orgnr": "923456783", "active": true, "multidose_doctor": false,
            "kjernejournal_access": true, "users": 5, "patients": 7, "tickets": 0
        })
    );
}

#[actix_web::test]
async fn the_overview_has_the_patients_with_kjernejournal_status_and_medication() {
    let app = spawn_app().await;
    let overview = app.get("/_admin/overview").await.json;
    let patients = &overview["patients"];

    let kari = by(patients, "key", "13116900216");
    assert_eq!(kari["name"], "Kari Kritisk");
    assert_eq!(kari["id_kind"], "fødselsnummer");
    assert_eq!(
        kari["kjernejournal"],
        json!({"status": 4, "text": "OBS: Kritisk informasjon i kjernejournal", "restricted": [],
               "blocked_professional": false, "locked_prescriptions": false, "medications": true})
    );
    assert_eq!(kari["allergies"].as_array().unwrap().len(), 2);
    assert_eq!(
        kari["records"],
        json!([
            {"sfm_id": "7c4a3083-158d-4050-b2f1-caea9c34045e", "tenant": "Fjordbyen legekontor",
             "patient_id": "patient-kari"}
        ])
    );

    let per = by(patients, "key", "14019800513");
    assert_eq!(per["kjernejournal"]["status"], 3);
    assert_eq!(per["kjernejournal"]["restricted"], json!(["LEGEMIDLER"]));
    assert_eq!(per["kjernejournal"]["locked_prescriptions"], true);
    assert_eq!(per["medication"]["locked"], 1);

    let ola = by(patients, "key", "10092939427");
    assert_eq!(ola["name"], "Ola Nordmann");
    assert_eq!(ola["kjernejournal"]["status"], 2);
    assert_eq!(ola["medication"]["multidose"], true);
    assert_eq!(ola["records"].as_array().unwrap().len(), 3);

    let line = by(patients, "key", "12050050295");
    assert!(
        !line["medication"]["active"].as_array().unwrap().is_empty(),
        "{line:#}"
    );
    assert!(line["medication"]["pll_entries"].as_u64().unwrap() > 0);

    // Only in an SFM instance: no kjernejournal. Only in the national systems: named from the
    // fixture. A patient without a national id is filed under the EHR's id.
    assert_eq!(
        by(patients, "key", "10086148248")["kjernejournal"]["status"],
        1
    );
    let bente = by(patients, "key", "21878540058");
    assert_eq!(bente["name"], "Bente Blokkert");
    assert_eq!(bente["kjernejournal"]["blocked_professional"], true);
    assert_eq!(by(patients, "key", "42038540003")["id_kind"], "D-nummer");
    let foreign = by(
        patients,
        "key",
        "http://helsesim.example/epj/pasient-id|EPJ-4711",
    );
    assert_eq!(foreign["name"], "Ukjent Utenlandsk");
    assert_eq!(foreign["id_kind"], "other");
    assert_eq!(patients.as_array().unwrap().len(), 9);
}

#[actix_web::test]
async fn patient_tickets_show_on_the_patient_until_they_expire() {
    let app = spawn_app().await;
    let token = app.sfm_token(SFM_READY, DIDRIK, None).await;
    let reply = app
        .patient_ticket(
            Some(&token),
            r#"{"patientPid": "12050050295"}"#,
            Some("application/json"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let ticket = reply.json["patientTicket"].as_str().unwrap();

    let line = |overview: &Value| by(&overview["patients"], "key", "12050050295").clone();
    let overview = app.get("/_admin/overview").await.json;
    assert_eq!(
        line(&overview)["tickets"],
        json!([{
            "sfm_id": "7c4a3083-158d-4050-b2f1-caea9c34045e", "tenant": "Fjordbyen legekontor",
            "user_pid": DIDRIK, "user_name": "Didrik D Didrikson",
            "expires": "2026-03-02T11:00:00.000Z", "ticket": ticket
        }])
    );
    assert_eq!(
        by(&overview["tenants"], "name", "Fjordbyen legekontor")["tickets"],
        1
    );

    // A ticket lives an hour.
    let advanced = app
        .post_json("/_admin/clock", &json!({"advance": "PT61M"}))
        .await;
    assert_eq!(advanced.status, StatusCode::OK, "{}", advanced.text);
    let overview = app.get("/_admin/overview").await.json;
    assert_eq!(line(&overview)["tickets"], json!([]));
    assert_eq!(
        overview["clock"]["offset_seconds"],
        61 * 60,
        "{:#}",
        overview["clock"]
    );
}

/// `helsesim` as a child process, as `tests/api/cli.rs` runs it: no `HELSESIM_*` variable but
/// the shared certs and the bundled fixtures.
fn helsesim(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_helsesim"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("HELSESIM_") {
            cmd.env_remove(name);
        }
    }
    cmd.args(args)
        .env("HELSESIM_CERTS", shared_certs_dir())
        .env("HELSESIM_FIXTURES", fixtures_dir())
        .env("HELSESIM_LOG", "warn")
        .stdin(Stdio::null());
    cmd
}

/// Runs one line the dashboard prints, as a shell would, in `dir`; its stdout.
async fn run_printed(line: &str, dir: &std::path::Path) -> String {
    assert!(line.starts_with("helsesim "), "{line}");
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_helsesim"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = helsesim(&[]);
    cmd.current_dir(dir).env("PATH", path);
    let mut sh = Command::new("sh");
    sh.args(["-c", line]).current_dir(dir);
    for (name, value) in cmd.get_envs() {
        match value {
            Some(value) => sh.env(name, value),
            None => sh.env_remove(name),
        };
    }
    let run = actix_web::rt::task::spawn_blocking(move || sh.output());
    let output = actix_web::rt::time::timeout(Duration::from_secs(30), run)
        .await
        .unwrap_or_else(|_| panic!("{line} took over 30 s"))
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{line}: {}{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Every command the dashboard prints works as printed — run through the `helsesim` binary by a
/// shell — and its token is taken by the API it is for: SFM with a user, PTS with the DPoP
/// proof line's proof.
#[actix_web::test]
async fn every_token_command_of_the_overview_works_at_its_api() {
    let app = spawn_app().await;
    let overview = app.get("/_admin/overview").await.json;
    let mut ran = 0;
    for client in overview["clients"].as_array().unwrap() {
        for command in client["token_commands"].as_array().unwrap() {
            let dir = tempfile::tempdir().unwrap();
            let line = command["command"].as_str().unwrap();
            if let Some(setup) = command["setup"].as_str() {
                run_printed(setup, dir.path()).await;
            }
            let token = run_printed(line, dir.path()).await.trim().to_owned();
            let (_, claims) = decode_jwt(&token);
            assert_eq!(claims["client_id"], client["client_id"], "{line}");
            assert_eq!(claims["aud"], command["api"], "{line}");
            let reply = match command["api"].as_str().unwrap() {
                "e-helse:sfm.api" => app.fhir("GET", "/Patient", Some(&token), None).await,
                "nhn:kjernejournal" => app.ping_kjernejournal(&token).await,
                "nhn:pts" => {
                    let proof_line = command["proof"]
                        .as_str()
                        .unwrap()
                        .replace("<the token>", &token);
                    let proof = run_printed(&proof_line, dir.path()).await.trim().to_owned();
                    app.pts_search(&token, &proof).await
                }
                other => panic!("a command for {other}"),
            };
            if client["name"] == "sfm-new-tenant" {
                // Its instance is not made yet: the token is taken, the instance is missing.
                assert_eq!(
                    reply.status,
                    StatusCode::FORBIDDEN,
                    "{line}: {}",
                    reply.text
                );
                assert!(reply.text.contains("does not exist yet"), "{}", reply.text);
            } else {
                assert_eq!(reply.status, StatusCode::OK, "{line}: {}", reply.text);
            }
            ran += 1;
        }
    }
    assert_eq!(ran, 10, "every shipped client's commands");
}
