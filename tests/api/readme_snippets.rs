//! README's "Snippets for your stack": the .NET, Java, Node.js, CI and Compose snippets cannot
//! run here (no .NET SDK, no Maven repository, no container engine), so their content is checked
//! against what helsesim really has: its settings, the Dockerfile, the dashboard's appsettings,
//! the fixture clients.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};

use serde_json::{Map, Value};

use crate::browser::in_ci;
use crate::helpers::*;

fn readme() -> String {
    std::fs::read_to_string(manifest_dir().join("README.md")).unwrap()
}

fn dockerfile() -> String {
    std::fs::read_to_string(manifest_dir().join("Dockerfile")).unwrap()
}

/// The fenced block after `<!-- snippet: NAME -->`.
fn snippet(readme: &str, name: &str) -> String {
    let marker = format!("<!-- snippet: {name} -->\n```");
    let start = readme
        .find(&marker)
        .unwrap_or_else(|| panic!("README has no snippet {name}"));
    let block = &readme[start + marker.len()..];
    let body = &block[block.find('\n').unwrap() + 1..];
    body[..body.find("\n```").unwrap()].to_owned()
}

fn yaml(readme: &str, name: &str) -> Value {
    yaml_serde::from_str(&snippet(readme, name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The variables of README's configuration table.
fn configuration_variables(readme: &str) -> BTreeSet<String> {
    readme
        .lines()
        .filter_map(|line| line.strip_prefix("| `HELSESIM_"))
        .map(|rest| format!("HELSESIM_{}", &rest[..rest.find('`').unwrap()]))
        .collect()
}

/// Every `HELSESIM_*` name in `text`.
fn variables_in(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("HELSESIM_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || *c == '_')
            .collect();
        found.insert(name);
        rest = &rest[at + 9..];
    }
    found
}

const SNIPPETS: [&str; 8] = [
    "dotnet-appsettings",
    "dotnet-client",
    "testcontainers-dotnet",
    "testcontainers-java",
    "testcontainers-node",
    "github-actions",
    "gitlab-ci",
    "docker-compose",
];

#[test]
fn the_snippets_use_only_real_settings_paths_and_ports() {
    let readme = readme();
    let dockerfile = dockerfile();
    let known = configuration_variables(&readme);
    assert!(known.len() > 10, "{known:?}");
    for name in SNIPPETS {
        let text = snippet(&readme, name);
        for variable in variables_in(&text) {
            assert!(
                known.contains(&variable),
                "{name}: {variable} is no setting"
            );
        }
        for path in ["/app/certs", "/app/data"] {
            if text.contains(path) {
                assert!(dockerfile.contains(path), "{name}: the image has no {path}");
            }
        }
        if text.contains("ca.crt") {
            assert!(text.contains("/app/certs/ca.crt") || text.contains("/helsesim-certs/ca.crt"));
        }
    }
    assert!(dockerfile.contains("EXPOSE 8080 8443"));
    assert!(dockerfile.contains("HELSESIM_CERTS=/app/certs"));
    assert!(
        std::fs::read_to_string(manifest_dir().join("certs/README.md"))
            .unwrap()
            .contains("| `ca.crt` |")
    );
    // Each Testcontainers snippet: the image's ports, a wait on /healthz, the public URL set to
    // the fixed host port.
    for name in [
        "testcontainers-dotnet",
        "testcontainers-java",
        "testcontainers-node",
    ] {
        let text = snippet(&readme, name);
        for needle in [
            "8080",
            "8443",
            "/healthz",
            "HELSESIM_PUBLIC_URL",
            "/app/certs/ca.crt",
        ] {
            assert!(text.contains(needle), "{name} lacks {needle}");
        }
        assert!(text.contains("18080"), "{name}: the fixed host port");
    }
}

/// The appsettings are the dashboard's own sections (with helsesim's default public URL), plus
/// a fixture client with its key id, key file and a scope it may ask for; the C# program reads
/// only settings the appsettings have.
#[actix_web::test]
async fn the_dotnet_snippets_match_the_dashboard_and_the_fixtures() {
    let readme = readme();
    let settings: Value = serde_json::from_str(&snippet(&readme, "dotnet-appsettings")).unwrap();
    let app = spawn_app().await;
    let overview = app.get("/_admin/overview").await.json;
    for service in overview["services"].as_array().unwrap() {
        let dashboard = service["config"]["appsettings"]
            .as_str()
            .unwrap()
            .replace(&app.base, "http://localhost:8080");
        let dashboard: Map<String, Value> = serde_json::from_str(&dashboard).unwrap();
        for (section, values) in dashboard {
            for (key, value) in values.as_object().unwrap() {
                assert_eq!(
                    &settings[&section][key], value,
                    "{section}:{key} differs from the dashboard's"
                );
            }
        }
    }

    let helseid = &settings["HelseId"];
    let client = fixture_client(helseid["ClientId"].as_str().unwrap());
    assert_eq!(client["jwks"]["keys"][0]["kid"], helseid["KeyId"]);
    let key_file = helseid["PrivateKeyPemFile"].as_str().unwrap();
    let key_name = key_file.rsplit('/').next().unwrap();
    assert_eq!(
        key_name,
        format!("{}.pem", client["client_id"].as_str().unwrap())
    );
    assert!(
        fixtures_dir()
            .join("helseid/client-keys")
            .join(key_name)
            .is_file()
    );
    let scope = helseid["Scope"].as_str().unwrap();
    assert!(
        client["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == scope),
        "{scope}"
    );

    let program = snippet(&readme, "dotnet-client");
    let mut read = 0;
    for part in program.split("config[\"").skip(1) {
        let key = &part[..part.find('"').unwrap()];
        let (section, name) = key.split_once(':').unwrap();
        assert!(
            settings[section][name].is_string(),
            "the program reads {key}, which the appsettings lack"
        );
        read += 1;
    }
    assert!(read >= 6, "{read}");
}

/// An ASP.NET Core environment override (`Section__Key`) names an appsettings key, and its value
/// is the appsettings' with helsesim's host for that setup.
fn assert_overrides(name: &str, env: &Map<String, Value>, settings: &Value, base: &str) {
    let mut seen = 0;
    for (key, value) in env {
        let Some((section, setting)) = key.split_once("__") else {
            continue;
        };
        let expected = settings[section][setting]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: {key} names no appsettings key"))
            .replace("http://localhost:8080", base);
        assert_eq!(value.as_str(), Some(expected.as_str()), "{name}: {key}");
        seen += 1;
    }
    assert!(seen >= 4, "{name}: {seen} overrides");
}

#[test]
fn the_ci_snippets_are_what_their_tools_read() {
    let readme = readme();
    let settings: Value = serde_json::from_str(&snippet(&readme, "dotnet-appsettings")).unwrap();

    let actions = yaml(&readme, "github-actions");
    let job = actions["jobs"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    let service = &job["services"]["helsesim"];
    assert!(service["image"].as_str().unwrap().contains("helsesim"));
    assert_eq!(
        service["ports"],
        serde_json::json!(["8080:8080", "8443:8443"])
    );
    assert_eq!(
        service["env"]["HELSESIM_PUBLIC_URL"],
        "http://localhost:8080"
    );
    assert!(
        service["options"]
            .as_str()
            .unwrap()
            .contains("--health-cmd \"helsesim healthcheck\"")
    );
    let step = job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s.get("env").is_some())
        .unwrap();
    let env = step["env"].as_object().unwrap();
    assert_overrides("github-actions", env, &settings, "http://localhost:8080");

    let gitlab = yaml(&readme, "gitlab-ci");
    let job = gitlab.as_object().unwrap().values().next().unwrap();
    let service = &job["services"][0];
    assert_eq!(service["alias"], "helsesim");
    assert_eq!(
        service["variables"]["HELSESIM_PUBLIC_URL"],
        "http://helsesim:8080"
    );
    let variables = job["variables"].as_object().unwrap();
    assert_overrides("gitlab-ci", variables, &settings, "http://helsesim:8080");
    assert!(
        job["script"]
            .to_string()
            .contains("http://helsesim:8080/healthz")
    );
}

#[test]
fn the_compose_snippet_has_named_volumes_on_the_images_paths() {
    let readme = readme();
    let settings: Value = serde_json::from_str(&snippet(&readme, "dotnet-appsettings")).unwrap();
    let compose = yaml(&readme, "docker-compose");
    let helsesim = &compose["services"]["helsesim"];
    assert_eq!(
        helsesim["environment"]["HELSESIM_PUBLIC_URL"],
        "http://helsesim:8080"
    );
    assert_eq!(
        helsesim["ports"],
        serde_json::json!(["8080:8080", "8443:8443"])
    );
    let declared = compose["volumes"].as_object().unwrap();
    let mounts = |service: &Value| -> Vec<(String, String)> {
        service["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                let (volume, target) = v.as_str().unwrap().split_once(':').unwrap();
                (volume.to_owned(), target.to_owned())
            })
            .collect()
    };
    let targets: Vec<String> = mounts(helsesim).into_iter().map(|(_, t)| t).collect();
    assert_eq!(targets, ["/app/certs", "/app/data"]);
    let state_file = helsesim["environment"]["HELSESIM_STATE_FILE"]
        .as_str()
        .unwrap();
    assert!(state_file.starts_with("/app/data/"), "{state_file}");
    let ehr = &compose["services"]["ehr"];
    for (volume, _) in mounts(helsesim).into_iter().chain(mounts(ehr)) {
        assert!(
            declared.contains_key(&volume),
            "{volume} is not a named volume"
        );
    }
    assert_eq!(
        ehr["depends_on"]["helsesim"]["condition"],
        "service_healthy"
    );
    assert!(dockerfile().contains("HEALTHCHECK"));
    let env = ehr["environment"].as_object().unwrap();
    assert_overrides("docker-compose", env, &settings, "http://helsesim:8080");
}

/// The Node.js snippet is checked by Node itself (`node --check`): Node.js is on every machine
/// that runs the integration kits.
#[test]
fn the_node_snippet_is_valid_javascript() {
    let node = Command::new("node").arg("--version").output();
    if node.is_err() {
        assert!(
            !in_ci(),
            "CI is set but node is missing (.ci/run installs it)"
        );
        eprintln!("skipped: node is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("helsesim.test.mjs");
    std::fs::write(&file, snippet(&readme(), "testcontainers-node")).unwrap();
    let checked = Command::new("node")
        .arg("--check")
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
}
