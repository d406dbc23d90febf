//! Body limits enforced while the body streams in, the body timeout, and what a body over a
//! limit costs the server (issue 12: a 1 GB POST to a 16 KiB endpoint took 1.34 GB of RSS).

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cli::Served;
use crate::helpers::*;

/// Sends `head` (and `body`) on a fresh connection and reads until the server closes it or
/// `wait` passes; the status, the body and whether the server closed.
fn raw_exchange(port: u16, head: &str, body: &[u8], wait: Duration) -> (u16, Value, bool) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(wait)).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let _ = stream.write_all(body);
    let mut answer = Vec::new();
    let mut chunk = [0_u8; 8192];
    let closed = loop {
        match stream.read(&mut chunk) {
            Ok(0) => break true,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            // Closed with unread bytes of ours still in its buffers: the kernel resets.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(_) => break false,
        }
    };
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    let json = serde_json::from_str(body).unwrap_or(Value::Null);
    (status, json, closed)
}

/// A body that stops arriving is answered 408 in the service's own format when the body timeout
/// passes, and its connection is closed (a trickled body held its connection for ever).
#[actix_web::test]
async fn a_body_that_stops_arriving_is_answered_408_and_closed() {
    let app = spawn_app_with(|s| s.body_timeout = Duration::from_secs(1)).await;
    let port = app.port;
    let cases = [
        ("/kjernejournal/v1/helseindikator", "feilkode"),
        ("/pts/access-restrictions/patient-safety/_search", "title"),
        ("/sfm/fhir/Patient", "resourceType"),
        ("/helseid/connect/token", "error"),
    ];
    for (path, field) in cases {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
             Content-Length: 100\r\n\r\n"
        );
        let started = Instant::now();
        let (status, json, closed) = actix_web::rt::task::spawn_blocking(move || {
            raw_exchange(port, &head, b"{\"fnr\": ", Duration::from_secs(10))
        })
        .await
        .unwrap();
        assert_eq!(status, 408, "{path}: {json}");
        assert!(json.get(field).is_some(), "{path}: {json}");
        assert!(
            json.to_string()
                .contains("The request body did not arrive within 1 s"),
            "{path}: {json}"
        );
        assert!(closed, "{path}: the connection is closed");
        assert!(started.elapsed() < Duration::from_secs(5), "{path}");
    }
}

/// A chunked body (no Content-Length) over a service's limit is cut off while it streams:
/// 413 in the service's format.
#[actix_web::test]
async fn a_chunked_body_over_the_limit_is_answered_413_in_the_services_format() {
    let app = spawn_app().await;
    let port = app.port;
    let chunk = format!("4000\r\n{}\r\n", "a".repeat(0x4000));
    let body = chunk.repeat(4).into_bytes();
    let head = "POST /kjernejournal/v1/helseindikator HTTP/1.1\r\nHost: localhost\r\n\
                Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    let (status, json, _) = actix_web::rt::task::spawn_blocking(move || {
        raw_exchange(port, head, &body, Duration::from_secs(5))
    })
    .await
    .unwrap();
    assert_eq!(status, 413, "{json}");
    assert_eq!(
        json["feilkode"].as_str().map(|c| c.starts_with("KJF-")),
        Some(true),
        "{json}"
    );
    assert_eq!(json["status"], 413, "{json}");
}

/// The peak resident memory of a process, in KiB (`VmHWM`).
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Streams `total` bytes as a body after `head`, until the server stops taking them.
fn push_body(port: u16, head: &str, total: usize) -> usize {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let block = vec![b'x'; 1 << 20];
    let mut sent = 0;
    while sent < total {
        match stream.write(&block[..block.len().min(total - sent)]) {
            Ok(0) | Err(_) => break,
            Ok(n) => sent += n,
        }
    }
    sent
}

/// 300 MB sent to a 16 KiB endpoint, to a GET-only path and chunked: the release or debug
/// binary's peak RSS grows by less than 64 MiB (it was 1.34 GB for 1 GB before).
#[test]
fn a_huge_body_costs_the_server_no_memory() {
    let served = Served::start(&shared_certs_dir());
    let before = peak_rss_kib(served.pid());
    let total = 300 * 1024 * 1024;
    let heads = [
        format!(
            "POST /kjernejournal/v1/helseindikator HTTP/1.1\r\nHost: localhost\r\n\
             Content-Type: application/json\r\nContent-Length: {total}\r\n\r\n"
        ),
        format!(
            "GET /kjernejournal/v1/ping HTTP/1.1\r\nHost: localhost\r\n\
             Content-Length: {total}\r\n\r\n"
        ),
        format!(
            "POST /sfm/fhir/Patient HTTP/1.1\r\nHost: localhost\r\n\
             Content-Type: application/fhir+json\r\nContent-Length: {total}\r\n\r\n"
        ),
    ];
    for head in &heads {
        push_body(served.port, head, total);
    }
    let grown_mib = (peak_rss_kib(served.pid()).saturating_sub(before)) / 1024;
    assert!(grown_mib < 64, "peak RSS grew by {grown_mib} MiB");
    // Still serving.
    let mut stream = TcpStream::connect(("127.0.0.1", served.port)).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// A request actix-http cannot read (a head over 128 KiB or 96 headers, a URI over 64 KiB, a
/// malformed request line) is answered by actix-http itself: with a short JSON body saying what
/// was wrong, not an empty one (issue 12).
#[actix_web::test]
async fn requests_the_server_cannot_read_get_a_body_that_says_why() {
    let app = spawn_app().await;
    let port = app.port;
    let many_headers: String = (0..100).map(|i| format!("X-H{i}: a\r\n")).collect();
    let cases = [
        (
            format!(
                "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
                "a".repeat(140_000)
            ),
            431,
            "request_header_fields_too_large",
        ),
        (
            format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many_headers}\r\n"),
            431,
            "request_header_fields_too_large",
        ),
        (
            format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000)),
            400,
            "bad_request",
        ),
        ("GARBAGE\r\n\r\n".to_owned(), 400, "bad_request"),
    ];
    for (request, status, error) in cases {
        let (got, json, closed) = actix_web::rt::task::spawn_blocking(move || {
            raw_exchange(port, &request, b"", Duration::from_secs(5))
        })
        .await
        .unwrap();
        assert_eq!(got, status, "{json}");
        assert_eq!(json["error"], error, "{json}");
        assert!(
            json["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{json}"
        );
        assert!(closed);
    }
    // The application's own answers are untouched, on a kept-alive connection too.
    let reply = app.get("/nowhere").await;
    assert_eq!(reply.status, reqwest::StatusCode::NOT_FOUND);
    assert_eq!(reply.json["error"], "not_found");
}
