//! The `helsesim` binary, run as a child process: settings errors, `check-fixtures`, `serve`,
//! `healthcheck` and `token`.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// The longest any child process may take (start-up or a whole command).
const TIMEOUT: Duration = Duration::from_secs(30);

const SFM: &str = "e-helse:sfm.api/sfm.api";

/// `helsesim` with no `HELSESIM_*` variable but the shared certs and the bundled fixtures.
pub(crate) fn helsesim() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_helsesim"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("HELSESIM_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("HELSESIM_CERTS", shared_certs_dir())
        .env("HELSESIM_FIXTURES", fixtures_dir())
        .env("HELSESIM_LOG", "warn")
        .stdin(Stdio::null());
    cmd
}

fn drain(mut from: impl std::io::Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = from.read_to_end(&mut buf);
        buf
    })
}

/// Runs a command to completion (killed after [`TIMEOUT`]).
fn run(mut cmd: Command) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{cmd:?} did not finish within {TIMEOUT:?}; stderr: {}",
                String::from_utf8_lossy(&stderr.join().unwrap())
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// Runs without blocking the test's runtime (which may be serving the in-process app).
async fn run_async(cmd: Command) -> Output {
    actix_web::rt::task::spawn_blocking(move || run(cmd))
        .await
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Asserts what the command wrote to stderr.
#[track_caller]
fn assert_stderr(output: &Output, expected: impl Fn(&str) -> bool) {
    let stderr = stderr(output);
    assert!(expected(&stderr), "{stderr}");
}

#[track_caller]
fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        stdout(output),
        stderr(output)
    );
}

/// `helsesim token --local ...` with the shared certs.
fn local_token(args: &[&str]) -> Output {
    let mut cmd = helsesim();
    cmd.args(["token", "--local"]).args(args);
    run(cmd)
}

/// A fixtures directory under `dir` copied from the bundled one, with clients.json changed.
fn broken_fixtures(dir: &Path, change: impl FnOnce(&mut Vec<Value>)) -> PathBuf {
    let fixtures = dir.join("fixtures");
    let keys = fixtures.join("helseid/client-keys");
    std::fs::create_dir_all(&keys).unwrap();
    for entry in std::fs::read_dir(fixtures_dir().join("helseid/client-keys")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), keys.join(entry.file_name())).unwrap();
    }
    std::fs::create_dir_all(fixtures.join("sfm")).unwrap();
    for file in [
        "helseid/api-resources.json",
        "helseid/users.json",
        "sfm/tenants.json",
    ] {
        std::fs::copy(fixtures_dir().join(file), fixtures.join(file)).unwrap();
    }
    let mut clients: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(fixtures_dir().join("helseid/clients.json")).unwrap(),
    )
    .unwrap();
    change(&mut clients);
    std::fs::write(
        fixtures.join("helseid/clients.json"),
        serde_json::to_string_pretty(&clients).unwrap(),
    )
    .unwrap();
    fixtures
}

// ---------------------------------------------------------------------------------------------
// Settings.

/// Arguments, environment, and what stderr must contain.
type SettingCase = (
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
    &'static str,
);

#[test]
fn bad_settings_exit_2_naming_the_setting() {
    let cases: [SettingCase; 6] = [
        (
            &["--port", "abc"],
            &[],
            "invalid value 'abc' for '--port <PORT>': HELSESIM_PORT / --port must be a port number \
             0-65535, got 'abc'",
        ),
        (
            &[],
            &[("HELSESIM_PORT", "abc")],
            "HELSESIM_PORT / --port must be a port number 0-65535, got 'abc'",
        ),
        (
            &["--port", "0"],
            &[("HELSESIM_TLS_PORT", "-1")],
            "HELSESIM_TLS_PORT / --tls-port must be a port number 0-65535 (0 = no HTTPS), got '-1'",
        ),
        (
            &["--port", "0", "--tls-port", "0"],
            &[("HELSESIM_PUBLIC_URL", "localhost:8080")],
            "HELSESIM_PUBLIC_URL / --public-url must start with http:// or https://, got \
             'localhost:8080'",
        ),
        (
            &["--port", "0", "--tls-port", "0"],
            &[("HELSESIM_BIND", "nowhere")],
            "HELSESIM_BIND / --bind must be an IP address such as 127.0.0.1 or 0.0.0.0, got \
             'nowhere'",
        ),
        (
            &["--port", "0", "--tls-port", "0"],
            &[("HELSESIM_LOG_FORMAT", "xml")],
            "HELSESIM_LOG_FORMAT / --log-format must be 'text' or 'json', got 'xml'",
        ),
    ];
    for (args, envs, message) in cases {
        let mut cmd = helsesim();
        cmd.args(args).envs(envs.iter().copied());
        let output = run(cmd);
        assert_exit(&output, 2);
        let err = stderr(&output);
        assert!(err.contains(message), "{args:?} {envs:?}: {err}");
        assert_eq!(stdout(&output), "", "{args:?} {envs:?}");
    }
}

#[test]
fn a_bad_setting_names_the_setting_for_subcommands_too() {
    let mut cmd = helsesim();
    cmd.args(["check-fixtures"]).env("HELSESIM_PORT", "99999");
    let output = run(cmd);
    assert_exit(&output, 2);
    assert_stderr(&output, |e| {
        e.contains("HELSESIM_PORT / --port must be a port number 0-65535, got '99999'")
    });
}

#[test]

fn a_bad_log_format_names_the_variable() {
    let mut cmd = helsesim();
    cmd.args(["--port", "0", "--tls-port", "0"])
        .env("HELSESIM_LOG_FORMAT", "xml");
    let output = run(cmd);
    assert_exit(&output, 2);
    let err = stderr(&output);
    assert!(err.contains("HELSESIM_LOG_FORMAT"), "{err}");
    assert!(err.contains("--log-format"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// check-fixtures.

#[test]
fn check_fixtures_accepts_the_bundled_fixtures() {
    let mut cmd = helsesim();
    cmd.arg("check-fixtures");
    let output = run(cmd);
    assert_exit(&output, 0);
    assert_eq!(
        stdout(&output),
        format!(
            "fixtures OK: {} (3 API resources, 6 HelseID clients, 5 test users, 3 SFM tenants, 8 \
             patients in the national systems, 5 kjernejournal organisations)\n",
            fixtures_dir().display()
        )
    );
    assert_eq!(stderr(&output), "");
}

#[test]
fn check_fixtures_names_file_record_and_field_of_a_bad_record() {
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = broken_fixtures(tmp.path(), |clients| {
        clients[2]["orgnr_parent"] = json!("12");
    });
    let mut cmd = helsesim();
    cmd.arg("check-fixtures").arg(&fixtures);
    let output = run(cmd);
    assert_exit(&output, 2);
    assert_eq!(stdout(&output), "");
    assert_eq!(
        stderr(&output),
        format!(
            "helsesim: invalid fixtures: {}: record #2 (client_id \"{MULTI_TENANT}\"), field \
             `orgnr_parent`: '12' is not an organisation number: it must be nine digits, no spaces \
             or letters\n",
            fixtures.join("helseid/clients.json").display()
        )
    );
}

#[test]
fn check_fixtures_names_an_unknown_field() {
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = broken_fixtures(tmp.path(), |clients| {
        clients[1]["foo"] = json!(true);
    });
    let mut cmd = helsesim();
    cmd.arg("check-fixtures").arg(&fixtures);
    let output = run(cmd);
    assert_exit(&output, 2);
    let err = stderr(&output);
    let expected = format!(
        "helsesim: invalid fixtures: {}: record #1 (client_id \"{SFM_READY}\"), field `foo`: \
         unknown field `foo`, expected one of `client_id`, `name`, `jwks`",
        fixtures.join("helseid/clients.json").display()
    );
    assert!(err.starts_with(&expected), "{err}");
}

#[test]
fn check_fixtures_refuses_a_duplicate_client_id() {
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = broken_fixtures(tmp.path(), |clients| {
        clients[3]["client_id"] = json!(SFM_NEW_TENANT);
    });
    let mut cmd = helsesim();
    cmd.arg("check-fixtures").arg(&fixtures);
    let output = run(cmd);
    assert_exit(&output, 2);
    assert_eq!(
        stderr(&output),
        format!(
            "helsesim: invalid fixtures: {}: record #3 (client_id \"{SFM_NEW_TENANT}\"), field \
             `client_id`: another client already has this client_id\n",
            fixtures.join("helseid/clients.json").display()
        )
    );
}

#[test]
fn check_fixtures_refuses_a_missing_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-such-fixtures");
    let mut cmd = helsesim();
    cmd.arg("check-fixtures").env("HELSESIM_FIXTURES", &missing);
    let output = run(cmd);
    assert_exit(&output, 2);
    assert_eq!(
        stderr(&output),
        format!(
            "helsesim: invalid fixtures: {}: the fixtures directory does not exist\n",
            missing.display()
        )
    );
}

// ---------------------------------------------------------------------------------------------
// serve and healthcheck.

/// A `helsesim serve` child process, killed when dropped.
pub(crate) struct Served {
    child: Child,
    /// The start-up message, line by line.
    pub(crate) ready: Vec<String>,
    pub(crate) port: u16,
    /// Everything it writes to stderr (the log), collected until it exits.
    stderr: Option<JoinHandle<Vec<u8>>>,
}

impl Served {
    /// The child's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts `serve` on free ports with `certs` and waits for the whole start-up message.
    pub(crate) fn start(certs: &Path) -> Self {
        Self::start_with(certs, &[])
    }

    /// Starts `serve` with `certs` and more environment variables.
    pub(crate) fn start_with(certs: &Path, env: &[(&str, &std::ffi::OsStr)]) -> Self {
        let mut command = helsesim();
        command
            .args(["serve", "--port", "0", "--tls-port", "0"])
            .env("HELSESIM_CERTS", certs);
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = drain(child.stderr.take().unwrap());
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut served = Self {
            child,
            ready: Vec::new(),
            port: 0,
            stderr: None,
        };
        let deadline = Instant::now() + TIMEOUT;
        while !served
            .ready
            .last()
            .is_some_and(|l| l.trim_start().starts_with("Listening on"))
        {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => served.ready.push(line),
                Err(e) => {
                    let _ = served.child.kill();
                    let _ = served.child.wait();
                    panic!(
                        "no start-up message ({e}); got {:?}; stderr: {}",
                        served.ready,
                        String::from_utf8_lossy(&stderr.join().unwrap())
                    );
                }
            }
        }
        let helseid = served
            .ready
            .iter()
            .find(|l| l.trim_start().starts_with("HelseID"))
            .expect("a HelseID line");
        let url = helseid.split_whitespace().nth(1).unwrap();
        served.port = url::Url::parse(url).unwrap().port().unwrap();
        served.stderr = Some(stderr);
        served
    }

    /// SIGTERM once the server answers (its signal handling is then in place), then
    /// everything it logged.
    pub(crate) fn terminate_and_read_log(mut self) -> String {
        let mut cmd = helsesim();
        cmd.args(["healthcheck", "--url", &self.base()]);
        assert_exit(&run(cmd), 0);
        std::thread::sleep(Duration::from_millis(200));
        let stderr = self.stderr.take();
        let status = self.terminate();
        let log = String::from_utf8_lossy(&stderr.map(|h| h.join().unwrap()).unwrap_or_default())
            .into_owned();
        assert!(status.success(), "a graceful stop: {status}; log: {log}");
        log
    }

    pub(crate) fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills the server and waits for it to exit.
    pub(crate) fn stop(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends SIGTERM (a graceful stop) and waits for the exit.
    pub(crate) fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("sh")
            .args(["-c", &format!("kill -TERM {pid}")])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -TERM {pid}");
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "no exit within {TIMEOUT:?} of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn jwks_kid(http: &reqwest::Client, base: &str) -> String {
    let reply = Reply::read(
        http.get(format!(
            "{base}/helseid/.well-known/openid-configuration/jwks"
        ))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["keys"].as_array().unwrap().len(), 1);
    reply.json["keys"][0]["kid"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn serve_prints_ready_then_the_services_and_answers_health_checks() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = tmp.path().join("certs");
    let served = Served::start(&certs);
    let port = served.port;
    let base = format!("http://localhost:{port}");
    assert_eq!(served.ready[0], "helsesim ready");
    for (line, (service, path)) in served.ready[1..].iter().zip([
        ("HelseID", "/helseid"),
        ("SFM", "/sfm"),
        ("Kjernejournal", "/kjernejournal"),
        ("PTS", "/pts"),
        ("Control plane", "/_admin"),
        ("OpenAPI", "/_admin/openapi"),
        ("Health", "/healthz"),
    ]) {
        let line = line.trim_start();
        assert!(line.starts_with(service), "{line:?}");
        assert!(line.contains(&format!("{base}{path}")), "{line:?}");
    }
    assert!(
        !served.ready.iter().any(|l| l.contains("HTTPS")),
        "--tls-port 0 means no HTTPS listener: {:?}",
        served.ready
    );
    // The bound address is printed too (port 0 picked a free port).
    assert_eq!(
        served.ready[8].trim_start(),
        format!("Listening on   http://127.0.0.1:{port}")
    );

    let http = http_client();
    let reply = Reply::read(
        http.get(format!("{}/healthz", served.base()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["status"], "ok");
    assert_eq!(reply.json["version"], env!("CARGO_PKG_VERSION"));

    let mut cmd = helsesim();
    cmd.args(["healthcheck", "--url", &served.base()]);
    let output = run_async(cmd).await;
    assert_exit(&output, 0);
    assert_eq!(
        stdout(&output),
        format!("{}/healthz: 200 OK\n", served.base())
    );

    served.stop();
    for name in [
        "ca.crt",
        "ca.key",
        "server.crt",
        "server.key",
        "token-signing.key",
    ] {
        assert!(certs.join(name).is_file(), "{name} missing in {certs:?}");
    }
    // The server is gone: the health check now fails.
    let mut cmd = helsesim();
    cmd.args(["healthcheck", "--url", &format!("http://127.0.0.1:{port}")]);
    assert_exit(&run_async(cmd).await, 1);
}

#[actix_web::test]
async fn a_restart_with_the_same_certs_keeps_the_signing_key() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = tmp.path().join("certs");
    let http = http_client();

    let first = Served::start(&certs);
    let kid = jwks_kid(&http, &first.base()).await;
    first.stop();
    let signing_key = std::fs::read(certs.join("token-signing.key")).unwrap();

    let second = Served::start(&certs);
    assert_eq!(jwks_kid(&http, &second.base()).await, kid);
    second.stop();
    assert_eq!(
        std::fs::read(certs.join("token-signing.key")).unwrap(),
        signing_key
    );

    // Another certs directory is another key.
    let app = spawn_app().await;
    assert_ne!(jwks_kid(&http, &app.base).await, kid);
}

#[test]
fn serve_with_bad_fixtures_exits_2_naming_the_record() {
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = broken_fixtures(tmp.path(), |clients| {
        clients[2]["orgnr_parent"] = json!("12");
    });
    let mut cmd = helsesim();
    cmd.args(["serve", "--port", "0", "--tls-port", "0"])
        .env("HELSESIM_FIXTURES", &fixtures)
        .env("HELSESIM_CERTS", tmp.path().join("certs"));
    let output = run(cmd);
    assert_exit(&output, 2);
    assert!(
        !stdout(&output).contains("helsesim ready"),
        "{}",
        stdout(&output)
    );
    let err = stderr(&output);
    let expected = format!(
        "helsesim: invalid fixtures: {}: record #2 (client_id \"{MULTI_TENANT}\"), field \
         `orgnr_parent`: '12' is not an organisation number",
        fixtures.join("helseid/clients.json").display()
    );
    assert!(err.contains(&expected), "{err}");
}

#[test]
fn healthcheck_fails_when_nothing_listens() {
    let mut cmd = helsesim();
    cmd.args(["healthcheck", "--url", "http://127.0.0.1:1"]);
    let output = run(cmd);
    assert_exit(&output, 1);
    assert_eq!(stdout(&output), "");
    assert_stderr(&output, |e| {
        e.starts_with("helsesim: http://127.0.0.1:1/healthz: ")
    });
}

// ---------------------------------------------------------------------------------------------
// token.

/// The one line of stdout: a JWT.
fn printed_jwt(output: &Output) -> (Value, Value) {
    assert_exit(output, 0);
    let out = stdout(output);
    let token = out.strip_suffix('\n').expect("a line");
    assert!(!token.contains('\n'), "{out}");
    assert_eq!(token.split('.').count(), 3, "{out}");
    decode_jwt(token)
}

/// The RFC 7638 thumbprint of an EC P-256 private key (PKCS#8 PEM).
fn ec_thumbprint(pem: &str) -> String {
    let key = EncodingKey::from_ec_pem(pem.as_bytes()).unwrap();
    Jwk::from_encoding_key(&key, Algorithm::ES256)
        .unwrap()
        .thumbprint(ThumbprintHash::SHA256)
        .unwrap()
}

#[test]
fn local_token_for_a_single_tenant_sfm_client() {
    let output = local_token(&["--client", "sfm-new-tenant", "--scope", SFM]);
    let (header, claims) = printed_jwt(&output);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(claims["client_id"], SFM_NEW_TENANT);
    assert_eq!(claims["aud"], "e-helse:sfm.api");
    assert_eq!(claims["scope"], json!([SFM]));
    assert_eq!(claims["iss"], "http://localhost:8080/helseid");
    assert_eq!(
        claims["e-helse:sfm.api/client/claims/sfm-id"],
        "a99abfb4-2bea-4e0a-bb03-38e37febbd2c"
    );
    assert_eq!(
        claims["helseid://claims/client/claims/orgnr_parent"],
        "917897468"
    );
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        600
    );

    // The client id works as well as the name.
    let (_, claims) = printed_jwt(&local_token(&["--client", SFM_NEW_TENANT, "--scope", SFM]));
    assert_eq!(claims["client_id"], SFM_NEW_TENANT);
}

#[test]
fn local_token_for_a_dpop_client_prints_the_dpop_key_with_json() {
    let output = local_token(&["--client", "pts", "--scope", "nhn:pts/api", "--json"]);
    assert_exit(&output, 0);
    let response: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(response["token_type"], "DPoP");
    assert_eq!(response["scope"], "nhn:pts/api");
    assert_eq!(response["expires_in"], 600);
    let pem = response["dpop_private_key_pem"].as_str().unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
    let (_, claims) = decode_jwt(response["access_token"].as_str().unwrap());
    assert_eq!(claims["client_id"], PTS);
    assert_eq!(claims["aud"], "nhn:pts");
    // The token is bound to the printed key.
    assert_eq!(claims["cnf"]["jkt"], ec_thumbprint(pem));
}

#[test]
fn local_token_for_a_multi_tenant_client_names_the_organisations() {
    let output = local_token(&[
        "--client",
        "epj-multi-tenant",
        "--scope",
        "nhn:pts/api",
        "--org",
        "917897468:923456783",
    ]);
    let (_, claims) = printed_jwt(&output);
    assert_eq!(claims["client_id"], MULTI_TENANT);
    assert_eq!(claims["aud"], "nhn:pts");
    assert_eq!(
        claims["helseid://claims/client/client_tenancy"],
        "multi-tenant"
    );
    assert_eq!(
        claims["helseid://claims/client/claims/orgnr_parent"],
        "917897468"
    );
    assert_eq!(
        claims["helseid://claims/client/claims/orgnr_child"],
        "923456783"
    );
    assert_eq!(
        claims["helseid://claims/client/claims/orgnr_supplier"],
        "994598759"
    );
}

#[test]
fn token_for_an_unknown_client_exits_1() {
    let output = local_token(&["--client", "nope", "--scope", SFM]);
    assert_exit(&output, 1);
    assert_eq!(stdout(&output), "");
    assert_eq!(
        stderr(&output),
        format!(
            "helsesim: no client 'nope' in {} (for a client added at run time, leave out --local: \
             the CLI then asks the server)\n",
            fixtures_dir().display()
        )
    );
}

#[test]
fn local_token_refuses_a_scope_the_client_lacks() {
    let output = local_token(&["--client", "pts", "--scope", SFM, "--json"]);
    assert_exit(&output, 1);
    assert_eq!(stdout(&output), "");
    assert_eq!(
        stderr(&output),
        format!("helsesim: invalid_scope: The client '{PTS}' is not allowed the scope '{SFM}'\n")
    );
}

#[actix_web::test]
async fn token_from_a_running_server() {
    let app = spawn_with_clock(test_settings(), helsesim::Clock::system()).await;
    let jwks_kid = jwks_kid(&app.http, &app.base).await;

    let mut cmd = helsesim();
    cmd.args([
        "token",
        "--url",
        &app.base,
        "--client",
        "sfm-ready",
        "--scope",
        SFM,
    ]);
    let output = run_async(cmd).await;
    let (header, claims) = printed_jwt(&output);
    assert_eq!(header["kid"], jwks_kid);
    assert_eq!(claims["client_id"], SFM_READY);
    assert_eq!(claims["iss"], app.issuer());
    assert_eq!(claims["aud"], "e-helse:sfm.api");
    assert_eq!(
        claims["e-helse:sfm.api/client/claims/sfm-id"],
        "7c4a3083-158d-4050-b2f1-caea9c34045e"
    );

    // A DPoP client: the CLI answers the server's nonce challenge and binds the token.
    let mut cmd = helsesim();
    cmd.args([
        "token",
        "--url",
        &app.base,
        "--client",
        PTS,
        "--scope",
        "nhn:pts/api",
        "--json",
    ]);
    let output = run_async(cmd).await;
    assert_exit(&output, 0);
    let response: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(response["token_type"], "DPoP");
    let (_, claims) = decode_jwt(response["access_token"].as_str().unwrap());
    assert_eq!(claims["client_id"], PTS);
    assert_eq!(claims["iss"], app.issuer());
    assert_eq!(
        claims["cnf"]["jkt"],
        ec_thumbprint(response["dpop_private_key_pem"].as_str().unwrap())
    );
}

/// The README's walkthrough: an assertion made for the default port is accepted by a server on
/// that port with its default public URL (the issuer must match exactly).
#[actix_web::test]
async fn an_assertion_only_is_accepted_by_a_server_on_the_same_port() {
    let app = spawn_with_clock(test_settings(), helsesim::Clock::system()).await;
    let port = app.port.to_string();
    let mut cmd = helsesim();
    cmd.env("HELSESIM_PORT", &port).args([
        "token",
        "--assertion-only",
        "--client",
        "sfm-ready",
        "--scope",
        SFM,
    ]);
    let output = run_async(cmd).await;
    assert_exit(&output, 0);
    let assertion = stdout(&output).trim().to_owned();
    let (header, claims) = decode_jwt(&assertion);
    assert_eq!(header["typ"], "client-authentication+jwt");
    assert_eq!(claims["aud"], app.issuer());
    assert_eq!(claims["iss"], SFM_READY);
    let reply = app
        .client_credentials(SFM_READY, SFM, &assertion, &[])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

/// `token --user` logs a test user in (PAR, authorize with login_hint, code exchange).
#[actix_web::test]
async fn token_for_a_user_logs_the_user_in() {
    let app = spawn_with_clock(test_settings(), helsesim::Clock::system()).await;
    let mut cmd = helsesim();
    cmd.args([
        "token",
        "--url",
        &app.base,
        "--client",
        "sfm-ready",
        "--user",
        DIDRIK,
        "--scope",
        "openid helseid://scopes/identity/pid e-helse:sfm.api/sfm.api",
    ]);
    let output = run_async(cmd).await;
    let (_, claims) = printed_jwt(&output);
    assert_eq!(claims["helseid://claims/identity/pid"], DIDRIK);
    assert_eq!(claims["aud"], "e-helse:sfm.api");
    assert_eq!(claims["client_id"], SFM_READY);

    // A client without redirect URIs cannot log users in.
    let mut cmd = helsesim();
    cmd.args([
        "token", "--url", &app.base, "--client", "pts", "--user", DIDRIK, "--scope", "openid",
        "--json",
    ]);
    let output = run_async(cmd).await;
    assert_exit(&output, 1);
    assert_eq!(
        stderr(&output),
        format!("helsesim: client '{PTS}' has no redirect_uris: it cannot log users in\n")
    );
}

#[actix_web::test]
async fn token_reports_a_refusal_by_the_server() {
    let app = spawn_with_clock(test_settings(), helsesim::Clock::system()).await;
    let mut cmd = helsesim();
    cmd.args([
        "token", "--url", &app.base, "--client", "pts", "--scope", SFM, "--json",
    ]);
    let output = run_async(cmd).await;
    assert_exit(&output, 1);
    assert_eq!(stdout(&output), "");
    assert_eq!(
        stderr(&output),
        format!(
            "helsesim: {}: 400 Bad Request: {}\n",
            app.token_endpoint(),
            json!({
                "error": "invalid_scope",
                "error_description": format!("The client '{PTS}' is not allowed the scope '{SFM}'"),
            })
        )
    );
}

/// The README's PTS walkthrough: with helsesim's clock moved to the spec's January 2024, the CLI
/// still gets a DPoP-bound token (its assertion and proofs are dated by the server's clock), and
/// `dpop-proof` makes the proof for each API call.
#[actix_web::test]
async fn token_and_dpop_proof_follow_the_servers_moved_clock() {
    let app = spawn_with_clock(test_settings(), helsesim::Clock::system()).await;
    app.clock
        .set(
            chrono::DateTime::parse_from_rfc3339("2024-01-05T08:00:00Z")
                .unwrap()
                .to_utc(),
        )
        .unwrap();
    let mut cmd = helsesim();
    cmd.args([
        "token",
        "--url",
        &app.base,
        "--client",
        "pts",
        "--scope",
        "nhn:pts/api",
        "--json",
    ]);
    let output = run_async(cmd).await;
    assert_exit(&output, 0);
    let response: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let token = response["access_token"].as_str().unwrap().to_owned();
    let (_, claims) = decode_jwt(&token);
    assert_eq!(claims["iat"], json!(1_704_441_600));
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("dpop.pem");
    std::fs::write(&key, response["dpop_private_key_pem"].as_str().unwrap()).unwrap();

    let url = format!("{}/pts/access-restrictions/patient-safety", app.base);
    let mut cmd = helsesim();
    cmd.args(["dpop-proof", "--key"])
        .arg(&key)
        .args(["--url", &url, "--token", &token]);
    let output = run_async(cmd).await;
    assert_exit(&output, 0);
    let proof = stdout(&output).trim().to_owned();
    let (header, claims) = decode_jwt(&proof);
    assert_eq!(header["typ"], "dpop+jwt");
    assert_eq!(claims["htm"], "POST");
    assert_eq!(claims["htu"], url.as_str());
    assert_eq!(claims["iat"], json!(1_704_441_600));
    assert_eq!(claims["ath"], helsesim::jose::sha256_b64url(&token));
    let reply = Reply::read(
        app.http
            .post(&url)
            .header("Authorization", format!("DPoP {token}"))
            .header("DPoP", proof)
            .header("Content-Type", "application/json")
            .body(include_str!("../../examples/pts/update-svarrapport.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.json["delayDeliveryUntil"],
        "2024-01-21T20:50:20.908216Z"
    );

    // A key that is not a PEM file is refused with the path named.
    let mut cmd = helsesim();
    cmd.args(["dpop-proof", "--key", "Cargo.toml", "--url", &url]);
    let output = run_async(cmd).await;
    assert_exit(&output, 1);
    assert_stderr(&output, |e| {
        e.contains("Cargo.toml is not an EC P-256 private key in PEM")
    });
}

// ---------------------------------------------------------------------------------------------
// Every setting as a flag, a flag with `=`, and a variable (issue 14).

/// A valid value other than the default for each variable of README's configuration table, and
/// how `helsesim config` prints it.
fn sample_value(variable: &str) -> (&'static str, Value) {
    match variable {
        "HELSESIM_BIND" => ("0.0.0.0", json!("0.0.0.0")),
        "HELSESIM_PORT" => ("9080", json!(9080)),
        "HELSESIM_TLS_PORT" => ("0", json!(0)),
        "HELSESIM_PUBLIC_URL" => (
            "https://helsesim.example:9443/",
            json!("https://helsesim.example:9443"),
        ),
        "HELSESIM_FIXTURES" => ("my-fixtures", json!("my-fixtures")),
        "HELSESIM_CERTS" => ("my-certs", json!("my-certs")),
        "HELSESIM_AUTOLOGIN" | "HELSESIM_KJ_EXTRA_FIELD" | "HELSESIM_ADMIN" => {
            ("off", json!("off"))
        }
        "HELSESIM_ADMIN_TOKEN" => ("s3cret", json!("(set)")),
        "HELSESIM_CORS_ORIGINS" => (
            "https://epj.example:8443",
            json!("https://epj.example:8443"),
        ),
        "HELSESIM_JOURNAL_SIZE" => ("7", json!(7)),
        "HELSESIM_STATE_FILE" => ("state.json", json!("state.json")),
        "HELSESIM_STATE_INTERVAL" => ("9", json!(9)),
        "HELSESIM_BODY_TIMEOUT" => ("11", json!(11)),
        "HELSESIM_LOG" => ("debug", json!("debug")),
        "HELSESIM_LOG_FORMAT" => ("json", json!("json")),
        other => panic!("README's configuration table has {other}: give this test a sample value"),
    }
}

/// README's configuration table: (variable, flag) per row.
fn configuration_table() -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(manifest_dir().join("README.md")).unwrap();
    readme
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let variable = cells
                .get(1)?
                .strip_prefix("`HELSESIM_")?
                .strip_suffix('`')?;
            let flag = cells.get(2)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((format!("HELSESIM_{variable}"), flag.to_owned()))
        })
        .collect()
}

fn config_of(cmd: Command) -> Value {
    let output = run(cmd);
    assert_exit(&output, 0);
    serde_json::from_str(&stdout(&output)).unwrap()
}

#[test]
fn every_setting_works_as_flag_value_flag_equals_value_and_variable() {
    let table = configuration_table();
    assert!(table.len() >= 17, "{table:?}");
    let mut defaults = helsesim();
    defaults.arg("config");
    let printed = config_of(defaults);
    let printed_names: Vec<&String> = printed.as_object().unwrap().keys().collect();
    let table_names: Vec<&String> = table.iter().map(|(v, _)| v).collect();
    assert_eq!(
        printed_names, table_names,
        "`helsesim config` and README's table list the same settings"
    );
    for (variable, flag) in &table {
        let (value, expected) = sample_value(variable);
        assert_ne!(
            printed[variable], expected,
            "{variable}: the sample is not the default"
        );
        let mut spaced = helsesim();
        spaced.args(["config", flag, value]);
        let mut equals = helsesim();
        equals.args(["config", &format!("{flag}={value}")]);
        let mut from_env = helsesim();
        from_env.arg("config").env(variable, value);
        for (form, cmd) in [
            ("--flag VALUE", spaced),
            ("--flag=VALUE", equals),
            ("variable", from_env),
        ] {
            assert_eq!(config_of(cmd)[variable], expected, "{variable} as {form}");
        }
    }
    // Settings first still mean `serve`: a bad one is named, exit 2.
    let mut cmd = helsesim();
    cmd.args(["--admin", "maybe"]);
    let output = run(cmd);
    assert_exit(&output, 2);
    assert_stderr(&output, |e| e.contains("HELSESIM_ADMIN / --admin"));
}

#[test]
fn switches_show_their_values_and_commands_only_their_own_options() {
    let help = |args: &[&str]| {
        let mut cmd = helsesim();
        cmd.args(args);
        let output = run(cmd);
        assert_exit(&output, 0);
        stdout(&output)
    };
    let serve = help(&["serve", "--help"]);
    for switch in [
        "--admin <on|off>",
        "--autologin <on|off>",
        "--kj-extra-field <on|off>",
    ] {
        assert!(serve.contains(switch), "{switch}: {serve}");
    }
    for command in ["token", "dpop-proof"] {
        let own = help(&[command, "--help"]);
        for server_flag in ["--tls-port", "--journal-size", "--cors-origins", "--bind"] {
            assert!(
                !own.contains(server_flag),
                "{command} --help shows {server_flag}: {own}"
            );
        }
    }
    assert!(help(&["token", "--help"]).contains("--dpop-key <FILE>"));
}

#[test]
fn a_dpop_bound_token_is_never_printed_without_its_key() {
    // The pts client requires DPoP: the token alone would lose its key.
    let output = local_token(&["--client", "pts", "--scope", "nhn:pts/api"]);
    assert_exit(&output, 2);
    assert_eq!(
        stderr(&output),
        "helsesim: a DPoP-bound token is useless without its key, and printing the token alone \
         would throw the key away (this client requires DPoP): add --json (prints the key too, as \
         dpop_private_key_pem) or --dpop-key FILE (your own EC P-256 key)\n"
    );
    // --dpop for a client that does not require it (the multi-tenant client, for PTS).
    let output = local_token(&[
        "--client",
        "epj-multi-tenant",
        "--org",
        "917897468",
        "--scope",
        "nhn:pts/api",
        "--dpop",
        "--json",
    ]);
    assert_exit(&output, 0);
    let response: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(response["token_type"], "DPoP");
    let pem = response["dpop_private_key_pem"].as_str().unwrap();
    let (_, claims) = decode_jwt(response["access_token"].as_str().unwrap());
    assert_eq!(claims["cnf"]["jkt"], ec_thumbprint(pem));
    // --dpop-key binds to the user's own key, and the bare token may be printed.
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("mine.pem");
    std::fs::write(&key, pem).unwrap();
    let output = local_token(&[
        "--client",
        "pts",
        "--scope",
        "nhn:pts/api",
        "--dpop-key",
        key.to_str().unwrap(),
    ]);
    assert_exit(&output, 0);
    let (_, claims) = printed_jwt(&output);
    assert_eq!(claims["cnf"]["jkt"], ec_thumbprint(pem));
}

/// The CLI dates assertions by the server's clock: when the control plane wants a token, it says
/// how to give it; when the control plane is off, it says so on stderr and uses this machine's.
#[actix_web::test]
async fn the_cli_says_when_it_cannot_read_the_servers_clock() {
    let app = spawn_app_with(|s| s.admin_token = Some("s3cret".to_owned())).await;
    let token = |extra: &[&str]| {
        let mut cmd = helsesim();
        cmd.args([
            "token",
            "--url",
            &app.base,
            "--client",
            "sfm-ready",
            "--scope",
            SFM,
        ])
        .args(extra);
        cmd
    };
    let output = run_async(token(&[])).await;
    assert_exit(&output, 1);
    assert_eq!(
        stderr(&output),
        format!(
            "helsesim: {}/_admin/clock: 401 Unauthorized: the server's control plane wants its \
             admin token to tell its clock; pass --admin-token (or set HELSESIM_ADMIN_TOKEN) to \
             the server's HELSESIM_ADMIN_TOKEN, so that assertions and proofs carry the server's \
             time\n",
            app.base
        )
    );
    let output = run_async(token(&["--admin-token", "s3cret"])).await;
    assert_exit(&output, 0);
    printed_jwt(&output);

    let mut settings = test_settings();
    settings.admin = false;
    let off = spawn_with_clock(settings, helsesim::Clock::system()).await;
    let mut cmd = helsesim();
    cmd.args([
        "token",
        "--url",
        &off.base,
        "--client",
        "sfm-ready",
        "--scope",
        SFM,
    ]);
    let output = run_async(cmd).await;
    assert_exit(&output, 0);
    assert_eq!(
        stderr(&output),
        format!(
            "helsesim: note: {}/_admin/clock: 404: the server's control plane is off \
             (HELSESIM_ADMIN=off), so its clock cannot be read; using this machine's clock\n",
            off.base
        )
    );
}

// ---------------------------------------------------------------------------------------------
// The user's own keys and clients (issue 14).

/// `keygen` → `jwk` → register at run time → `token --key`: a client of one's own, as the
/// dashboard's command prints it.
#[actix_web::test]
async fn a_client_added_at_run_time_gets_tokens_with_the_users_own_key() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("my.pem");
    let mut cmd = helsesim();
    cmd.args(["keygen", "--alg", "ES256", "--out", key.to_str().unwrap()]);
    let output = run(cmd);
    assert_exit(&output, 0);
    let generated: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let mut cmd = helsesim();
    cmd.args(["jwk", "--key", key.to_str().unwrap()]);
    let printed: Value = serde_json::from_str(&stdout(&run(cmd))).unwrap();
    assert_eq!(printed, generated, "jwk prints what keygen printed");
    assert_eq!(
        printed["jwks"]["keys"][0]["kid"], printed["thumbprint"],
        "kid defaults to the RFC 7638 thumbprint"
    );
    let reply = app
        .register_client(&json!({
            "client_id": "my-epj",
            "jwks": printed["jwks"],
            "tenancy": "single-tenant",
            "orgnr_parent": "917897468",
            "scopes": [SFM],
        }))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);

    let token = |extra: &[&str]| {
        let mut cmd = helsesim();
        cmd.args([
            "token", "--url", &app.base, "--client", "my-epj", "--scope", SFM,
        ])
        .args(extra);
        cmd
    };
    let output = run_async(token(&["--key", key.to_str().unwrap()])).await;
    assert_exit(&output, 0);
    let (_, claims) = printed_jwt(&output);
    assert_eq!(claims["client_id"], "my-epj");
    assert_eq!(claims["helseid://claims/client/amr"], "ec_private_key");

    let output = run_async(token(&[])).await;
    assert_exit(&output, 1);
    assert_eq!(
        stderr(&output),
        "helsesim: client 'my-epj' was added at run time: give its private key with --key FILE (a \
         PKCS#8 PEM, a private JWK, or the client file HelseID Selvbetjening downloads)\n"
    );
    let mut cmd = helsesim();
    cmd.args([
        "token", "--url", &app.base, "--client", "nobody", "--scope", SFM,
    ]);
    let output = run_async(cmd).await;
    assert_exit(&output, 1);
    assert_eq!(
        stderr(&output),
        format!(
            "helsesim: no client 'nobody' in {} nor at {}/_admin/helseid/clients\n",
            fixtures_dir().display(),
            app.base
        )
    );
}

/// A HelseID Selvbetjening client file (clientId, clientName, scopes, privateJwk as a URL-encoded
/// JSON string, as NHN's samples read it) imported in one command, then used with `--key FILE`.
#[actix_web::test]
async fn a_selvbetjening_client_file_is_imported_and_used() {
    use aws_lc_rs::encoding::AsBigEndian as _;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
    let app = spawn_app().await;
    let generated = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &generated.serialize_der())
            .unwrap();
    let point = pair.public_key().as_ref().to_vec();
    let b64 = |bytes: &[u8]| {
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
    };
    let private_jwk = json!({
        "kty": "EC", "crv": "P-256", "kid": "helseid-kid-1",
        "x": b64(&point[1..33]), "y": b64(&point[33..]),
        "d": b64(pair.private_key().as_be_bytes().unwrap().as_ref()),
    });
    let client_id = "5b3e6e1a-3f0e-4c55-9a57-3a1d5f0e8b21";
    let file = json!({
        "clientName": "Min EPJ",
        "authority": "https://helseid-sts.test.nhn.no",
        "clientId": client_id,
        "grantTypes": ["client_credentials"],
        "scopes": [SFM],
        "redirectUris": [],
        "postLogoutRedirectUris": [],
        "secretType": "private_key_jwt:EcPrivateKeyJwtSecret",
        "rsaPrivateKey": null,
        "rsaKeySizeBits": 0,
        "privateJwk": url::form_urlencoded::byte_serialize(private_jwk.to_string().as_bytes())
            .collect::<String>(),
        "pkceRequired": false
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("helseid-client.json");
    std::fs::write(&path, file.to_string()).unwrap();
    let path = path.to_str().unwrap();

    let mut cmd = helsesim();
    cmd.args(["client", "import", path, "--url", &app.base]);
    let output = run_async(cmd).await;
    assert_exit(&output, 2);
    assert_stderr(&output, |e| e.contains("give --orgnr ORGNR"));

    let mut cmd = helsesim();
    cmd.args([
        "client",
        "import",
        path,
        "--orgnr",
        "917897468",
        "--url",
        &app.base,
    ]);
    let output = run_async(cmd).await;
    assert_exit(&output, 0);
    assert!(
        stdout(&output).ends_with(&format!(
            "imported: helsesim token --client {client_id} --key {path} --scope {SFM}\n"
        )),
        "{}",
        stdout(&output)
    );
    let registered = app
        .get(&format!("/_admin/helseid/clients/{client_id}"))
        .await;
    assert_eq!(registered.json["name"], "Min EPJ");
    assert_eq!(registered.json["jwks"]["keys"][0]["kid"], "helseid-kid-1");

    let mut cmd = helsesim();
    cmd.args([
        "token", "--url", &app.base, "--client", "Min EPJ", "--key", path, "--scope", SFM,
    ]);
    let output = run_async(cmd).await;
    assert_exit(&output, 0);
    let (header, claims) = printed_jwt(&output);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(claims["client_id"], client_id);
}

/// `helsesim decode`: claims, times against helsesim's (moved) clock, the signer and the DPoP
/// binding; a token altered after signing does not verify.
#[actix_web::test]
async fn decode_explains_a_token() {
    let app = spawn_app().await;
    let key = TestKey::ec("P-256");
    let token = app.dpop_token(PTS, "nhn:pts/api", &key).await;
    let decode = |token: String| {
        let mut cmd = helsesim();
        cmd.args(["decode", &token, "--url", &app.base]);
        cmd
    };
    let output = run_async(decode(format!("DPoP {token}"))).await;
    assert_exit(&output, 0);
    let report = stdout(&output);
    let (header, _) = decode_jwt(&token);
    for expected in [
        "\"client_id\": \"f0874972-5467-42da-b05f-fe90594675a2\"".to_owned(),
        "times (helsesim's clock at ".to_owned(),
        "  exp       2026-03-02T10:10:00Z  (in 10 min 0 s)".to_owned(),
        format!(
            "binding: DPoP-bound to the key with RFC 7638 thumbprint {}",
            key.thumbprint()
        ),
        format!(
            "signature: RS256, kid {}: verifies against \
             {}/helseid/.well-known/openid-configuration/jwks",
            header["kid"].as_str().unwrap(),
            app.base
        ),
    ] {
        assert!(report.contains(&expected), "{expected}\n{report}");
    }
    // One character of the payload changed: the signature no longer holds.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let claims = String::from_utf8(base64::Engine::decode(&engine, &parts[1]).unwrap()).unwrap();
    parts[1] = base64::Engine::encode(&engine, claims.replace("nhn:pts/api", "nhn:pts/all"));
    let output = run_async(decode(parts.join("."))).await;
    let report = stdout(&output);
    assert!(
        report.contains("does NOT verify"),
        "{report}{}",
        stderr(&output)
    );

    let output = run_async(decode("not-a-jwt".to_owned())).await;
    assert_exit(&output, 2);
    assert_stderr(&output, |e| e.starts_with("helsesim: not a signed JWT"));
}

/// With the control plane off the start-up message does not advertise it; the state file's
/// load and writes are logged at info (path and size).
#[test]
fn startup_says_what_is_on_and_the_state_file_is_logged() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = tmp.path().join("certs");
    let state = tmp.path().join("state.json");
    let env = [
        ("HELSESIM_ADMIN", std::ffi::OsStr::new("off")),
        ("HELSESIM_STATE_FILE", state.as_os_str()),
        ("HELSESIM_LOG", std::ffi::OsStr::new("info")),
    ];
    let served = Served::start_with(&certs, &env);
    assert!(
        served
            .ready
            .iter()
            .any(|l| l.trim_start() == "Control plane  off (HELSESIM_ADMIN=off)"),
        "{:?}",
        served.ready
    );
    assert!(
        !served
            .ready
            .iter()
            .any(|l| l.contains("/_admin") || l.contains("dashboard")),
        "{:?}",
        served.ready
    );
    let log = served.terminate_and_read_log();
    let size = std::fs::metadata(&state).unwrap().len();
    assert!(
        log.contains(&format!(
            "state file written: {} ({size} bytes)",
            state.display()
        )),
        "{log}"
    );

    let served = Served::start_with(&certs, &env);
    let log = served.terminate_and_read_log();
    assert!(
        log.contains(&format!(
            "state file loaded: {} ({size} bytes)",
            state.display()
        )),
        "{log}"
    );
}

/// Docker's HEALTHCHECK runs `helsesim healthcheck` without arguments: it follows the port the
/// running `serve` was given on its command line (noted in the temporary directory).
#[test]
fn healthcheck_follows_the_port_serve_was_given() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = tmp.path().join("certs");
    let served = Served::start_with(&certs, &[("TMPDIR", tmp.path().as_os_str())]);
    let mut cmd = helsesim();
    cmd.arg("healthcheck").env("TMPDIR", tmp.path());
    let output = run(cmd);
    assert_exit(&output, 0);
    assert_eq!(
        stdout(&output),
        format!("http://127.0.0.1:{}/healthz: 200 OK\n", served.port)
    );
    served.terminate_and_read_log();
    assert!(
        !tmp.path().join("helsesim.port").exists(),
        "the note goes with the server"
    );
}

/// A reader that stops early (`helsesim decode … | head -3`) closes the pipe: helsesim then
/// stops quietly with success, not with a panic about a broken pipe.
#[test]
fn a_closed_stdout_is_no_panic() {
    let mut child = helsesim()
        .arg("config")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Closed before the process has started writing (starting up takes milliseconds).
    drop(child.stdout.take());
    let stderr = drain(child.stderr.take().unwrap());
    let status = child.wait().unwrap();
    let stderr = stderr.join().unwrap();
    let stderr = String::from_utf8_lossy(&stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(status.success(), "{status:?}: {stderr}");
}

/// Every file outside `src/` that the binary compiles in (`include_str!`/`include_bytes!` of a
/// `../` path) is copied into the Docker build, else `docker build` fails where `cargo build`
/// works.
#[test]
fn the_docker_build_copies_every_file_the_binary_includes() {
    let dockerfile = std::fs::read_to_string(manifest_dir().join("Dockerfile")).unwrap();
    let mut found = 0;
    for entry in walk(&manifest_dir().join("src")) {
        let text = std::fs::read_to_string(&entry).unwrap();
        for part in text
            .split("include_str!(\"")
            .chain(text.split("include_bytes!(\""))
            .skip(1)
        {
            let Some(path) = part.split('"').next() else {
                continue;
            };
            if !path.starts_with("../") {
                continue;
            }
            let resolved = entry.parent().unwrap().join(path).canonicalize().unwrap();
            let relative = resolved
                .strip_prefix(manifest_dir().canonicalize().unwrap())
                .unwrap();
            if relative.starts_with("src") {
                continue;
            }
            found += 1;
            let copied = dockerfile.lines().any(|line| {
                line.strip_prefix("COPY ")
                    .and_then(|rest| rest.split_whitespace().next())
                    .is_some_and(|source| relative.starts_with(source))
            });
            assert!(
                copied,
                "{} includes {}: the Dockerfile must COPY it",
                entry.display(),
                relative.display()
            );
        }
    }
    assert!(
        found >= 3,
        "the demo EHR's page, script and style are included ({found})"
    );
}

/// Every `.rs` file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// README's "Integration advisor" in CI: `helsesim advice --fail-on warning` exits 0 on a clean
/// run and 1, printing the finding, when the EHR did something the documentation forbids.
#[actix_web::test]
async fn advice_fails_on_a_warning_and_passes_a_clean_run() {
    let app = spawn_app().await;
    let advice = |fail_on: &str| {
        let mut cmd = helsesim();
        cmd.args(["advice", "--url", &app.base, "--fail-on", fail_on]);
        cmd
    };
    let output = run_async(advice("warning")).await;
    assert_exit(&output, 0);
    assert_eq!(
        stdout(&output).trim(),
        "no findings: nothing the services' documentation forbids or discourages"
    );
    let reply = app
        .system_token(KJERNEJOURNAL, "nhn:kjernejournal/api")
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = app
        .system_token(KJERNEJOURNAL, "nhn:kjernejournal/api")
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let output = run_async(advice("warning")).await;
    assert_exit(&output, 1);
    let report = stderr(&output);
    assert!(
        report.contains("WARNING [helseid.token-not-reused] A new access token while the last one"),
        "{report}"
    );
    assert!(report.contains("POST /helseid/connect/token"), "{report}");
    assert!(report.contains("fix: Cache the access token"), "{report}");
    let output = run_async(advice("never")).await;
    assert_exit(&output, 0);
    assert!(
        stdout(&output).starts_with("1 finding(s):"),
        "{}",
        stdout(&output)
    );
}
