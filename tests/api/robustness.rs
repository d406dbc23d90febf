//! Every route of the router — read from actix's own resource map, not from a hand-kept list —
//! walked with wrong methods, no body, malformed JSON, wrong content types, a body over the
//! limit, deep nesting and invalid UTF-8: never a 5xx, never actix's plain-text default,
//! always the service's own error format.

use std::cell::RefCell;
use std::rc::Rc;

use actix_web::dev::Service as _;
use actix_web::{App, web};
use serde_json::Value;

use crate::helpers::*;

/// The router's resource map, as actix's `Debug` prints it (the map has no other public view).
async fn resource_map_debug() -> String {
    let settings = test_settings();
    let fixtures = helsesim::fixtures::load_dir(&fixtures_dir(), t0()).unwrap();
    let state = web::Data::new(
        helsesim::AppState::with_fixtures(
            &settings,
            fixtures,
            helsesim::Clock::fixed(t0()),
            "http://localhost".to_owned(),
        )
        .unwrap(),
    );
    let captured = Rc::new(RefCell::new(String::new()));
    let sink = captured.clone();
    let routes_state = state.clone();
    let demo = actix_web::web::Data::new(helsesim::startup::demo_ehr(
        &settings,
        &state,
        helsesim::Clock::fixed(t0()),
        "127.0.0.1:1".parse().unwrap(),
    ));
    let app = actix_web::test::init_service(
        App::new()
            .app_data(state)
            .wrap_fn(move |req, srv| {
                *sink.borrow_mut() = format!("{:?}", req.request().resource_map());
                srv.call(req)
            })
            .configure(|cfg| helsesim::startup::routes(cfg, &routes_state, &demo)),
    )
    .await;
    let request = actix_web::test::TestRequest::get()
        .uri("/healthz")
        .to_request();
    let _ = actix_web::test::call_service(&app, request).await;
    captured.borrow().clone()
}

/// A value of Rust's `Debug` output: a (named) struct, tuple or list, or an atom.
#[derive(Debug)]
enum Node {
    Struct(Vec<(String, Node)>),
    Tuple(String, Vec<Node>),
    List(Vec<Node>),
    Str(String),
    Atom(String),
}

/// Reads `Debug` output: enough of its grammar for the resource map.
struct DebugParser<'a> {
    text: &'a [u8],
    at: usize,
}

impl DebugParser<'_> {
    fn skip_space(&mut self) {
        while self.at < self.text.len()
            && (self.text[self.at] == b' ' || self.text[self.at] == b',')
        {
            self.at += 1;
        }
    }

    fn peek(&self) -> u8 {
        self.text.get(self.at).copied().unwrap_or(0)
    }

    fn word(&mut self) -> String {
        let start = self.at;
        while self.at < self.text.len() && !b" ,:{}[]()\"".contains(&self.text[self.at]) {
            self.at += 1;
        }
        String::from_utf8_lossy(&self.text[start..self.at]).into_owned()
    }

    fn string(&mut self) -> String {
        self.at += 1;
        let mut out = Vec::new();
        while self.peek() != b'"' {
            if self.peek() == b'\\' {
                self.at += 1;
            }
            out.push(self.peek());
            self.at += 1;
        }
        self.at += 1;
        String::from_utf8(out).unwrap()
    }

    fn items(&mut self, close: u8) -> Vec<Node> {
        let mut items = Vec::new();
        self.skip_space();
        while self.peek() != close {
            items.push(self.value());
            self.skip_space();
        }
        self.at += 1;
        items
    }

    fn value(&mut self) -> Node {
        self.skip_space();
        match self.peek() {
            b'"' => return Node::Str(self.string()),
            b'[' => {
                self.at += 1;
                return Node::List(self.items(b']'));
            }
            b'{' => {
                self.at += 1;
                return Node::Struct(self.fields());
            }
            _ => {}
        }
        let name = self.word();
        self.skip_space();
        match self.peek() {
            b'{' => {
                self.at += 1;
                Node::Struct(self.fields())
            }
            b'(' => {
                self.at += 1;
                Node::Tuple(name, self.items(b')'))
            }
            _ => Node::Atom(name),
        }
    }

    /// `name: value, ...}` (a map's `key: value` pairs read the same way).
    fn fields(&mut self) -> Vec<(String, Node)> {
        let mut fields = Vec::new();
        self.skip_space();
        while self.peek() != b'}' {
            let name = match self.value() {
                Node::Atom(name) | Node::Str(name) => name,
                other => format!("{other:?}"),
            };
            self.skip_space();
            assert_eq!(self.peek(), b':', "at {}", self.at);
            self.at += 1;
            fields.push((name, self.value()));
            self.skip_space();
        }
        self.at += 1;
        fields
    }
}

fn field<'a>(node: &'a Node, name: &str) -> &'a Node {
    match node {
        Node::Struct(fields) => &fields.iter().find(|(n, _)| n == name).unwrap().1,
        other => panic!("not a struct: {other:?}"),
    }
}

/// The full path patterns of a resource map node's leaves.
fn leaves(map: &Node, prefix: &str, out: &mut Vec<String>) {
    let patterns: Vec<String> = match field(field(map, "pattern"), "patterns") {
        Node::Tuple(kind, items) if kind == "Single" => items
            .iter()
            .map(|i| match i {
                Node::Str(s) => s.clone(),
                other => panic!("{other:?}"),
            })
            .collect(),
        Node::Tuple(kind, items) if kind == "List" => match &items[0] {
            Node::List(list) => list
                .iter()
                .map(|i| match i {
                    Node::Str(s) => s.clone(),
                    other => panic!("{other:?}"),
                })
                .collect(),
            other => panic!("{other:?}"),
        },
        other => panic!("unknown patterns {other:?}"),
    };
    for pattern in patterns {
        let path = format!("{prefix}{pattern}");
        match field(map, "nodes") {
            Node::Tuple(some, children) if some == "Some" => match &children[0] {
                Node::List(children) => {
                    for child in children {
                        leaves(child, &path, out);
                    }
                }
                other => panic!("{other:?}"),
            },
            _ => out.push(path),
        }
    }
}

/// Every route path of the router, with `x` for each path parameter.
pub(crate) async fn routes() -> Vec<String> {
    let text = resource_map_debug().await;
    let map = DebugParser {
        text: text.as_bytes(),
        at: 0,
    }
    .value();
    let mut out = Vec::new();
    leaves(&map, "", &mut out);
    let mut paths: Vec<String> = out
        .into_iter()
        .map(|p| {
            p.split('/')
                .map(|seg| if seg.starts_with('{') { "x" } else { seg })
                .collect::<Vec<_>>()
                .join("/")
        })
        .map(|p| if p.is_empty() { "/".to_owned() } else { p })
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// What a service's error body must look like; `None` when the body is in its format.
fn format_problem(path: &str, content_type: &str, body: &str) -> Option<String> {
    let html_pages = [
        "/helseid/connect/authorize",
        "/helseid/login",
        "/helseid/connect/endsession",
        "/epj/login",
        "/epj/callback",
    ];
    let html_page = html_pages.contains(&path) || path.starts_with("/kjernejournal/hpp-webapp");
    if content_type.starts_with("text/html") && html_page {
        return (!body.contains("<html")).then(|| "an HTML page without <html".to_owned());
    }
    let Ok(json) = serde_json::from_str::<Value>(body) else {
        return Some(format!("not JSON ({content_type})"));
    };
    let has = |names: &[&str]| names.iter().all(|n| json.get(n).is_some());
    let ok = if path.starts_with("/helseid") {
        has(&["error", "error_description"])
    } else if ["/sfm/api", "/sfm/client", "/sfm/server", "/pts"]
        .iter()
        .any(|prefix| path.starts_with(prefix))
    {
        has(&["type", "title", "status"])
    } else if path.starts_with("/sfm") || path.starts_with("/kjernejournal/v1/fhir") {
        // SFM's FHIR API, and its other paths (the portal) in the same format.
        json["resourceType"] == "OperationOutcome"
    } else if path.starts_with("/pts") {
        has(&["type", "title", "status"])
    } else if path.starts_with("/kjernejournal") {
        has(&["status", "utviklermelding", "brukermelding", "feilkode"])
    } else {
        has(&["error", "message"])
    };
    (!ok).then(|| format!("not the service's error format ({content_type})"))
}

#[actix_web::test]
async fn every_route_answers_bad_input_in_its_services_format_and_never_5xx() {
    let paths = routes().await;
    // The walk covers every service (a broken map reader would find nothing).
    for expected in [
        "/healthz",
        "/helseid/connect/token",
        "/sfm/fhir/x/x/_history/x",
        "/sfm/api/PatientTicket",
        "/kjernejournal/v1/helseindikator/status",
        "/kjernejournal/v1/fhir/Patient/x/$everything",
        "/pts/access-restrictions/patient-safety/_search",
        "/_admin/faults/x",
        "/",
    ] {
        assert!(
            paths.contains(&expected.to_owned()),
            "{expected} in {paths:?}"
        );
    }
    let app = spawn_app().await;
    let sfm = didrik(&app).await;
    let kj = app
        .system_token(KJERNEJOURNAL, "nhn:kjernejournal/api")
        .await
        .json["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let over_limit = vec![b'a'; 2 * 1024 * 1024];
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes();
    let bodies: Vec<(&str, &str, Vec<u8>)> = vec![
        ("none", "", Vec::new()),
        ("malformed JSON", "application/json", b"{\"a\": ".to_vec()),
        (
            "malformed FHIR",
            "application/fhir+json",
            b"{\"resourceType\": ".to_vec(),
        ),
        ("wrong type", "text/xml", b"<a/>".to_vec()),
        ("deep nesting", "application/json", deep),
        (
            "invalid UTF-8",
            "application/json",
            vec![b'"', 0xff, 0xfe, b'"'],
        ),
        (
            "invalid UTF-8 form",
            "application/x-www-form-urlencoded",
            vec![b'a', b'=', 0xff],
        ),
        ("over the limit", "application/json", over_limit),
    ];
    let mut failures = Vec::new();
    let mut count = 0;
    for path in &paths {
        let token = if path.starts_with("/sfm") {
            Some(format!("Bearer {sfm}"))
        } else if path.starts_with("/kjernejournal") {
            Some(format!("Bearer {kj}"))
        } else {
            None
        };
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] {
            let with_bodies: &[(&str, &str, Vec<u8>)] =
                if ["POST", "PUT", "PATCH"].contains(&method) {
                    &bodies
                } else {
                    &bodies[..1]
                };
            for (what, content_type, body) in with_bodies {
                if path == "/_admin/state" && method == "PUT" && *what == "over the limit" {
                    continue; // 256 MiB is its limit: 2 MiB is a valid size there.
                }
                count += 1;
                let mut request = app
                    .http
                    .request(method.parse().unwrap(), app.url(path))
                    .header("X-EPJ-System", "robustness");
                if let Some(token) = &token {
                    request = request.header("Authorization", token);
                }
                if !content_type.is_empty() {
                    request = request
                        .header("Content-Type", *content_type)
                        .body(body.clone());
                }
                let response = match request.send().await {
                    Ok(response) => response,
                    Err(e) => {
                        failures.push(format!("{method} {path} ({what}): no answer: {e}"));
                        continue;
                    }
                };
                let status = response.status();
                let content_type = response
                    .headers()
                    .get("content-type")
                    .map(|v| v.to_str().unwrap().to_owned())
                    .unwrap_or_default();
                let text = response.text().await.unwrap_or_default();
                if status.is_server_error() {
                    failures.push(format!("{method} {path} ({what}): {status} {text:.200}"));
                } else if status.is_client_error()
                    && method != "HEAD"
                    && let Some(problem) = format_problem(path, &content_type, &text)
                {
                    failures.push(format!(
                        "{method} {path} ({what}): {status} {problem}: {text:.200}"
                    ));
                }
            }
        }
    }
    assert!(count > 1000, "{count} requests");
    assert!(
        failures.is_empty(),
        "{} of {count}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
