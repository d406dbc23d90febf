//! The request journal: the last N requests to the simulated services (not the control plane)
//! with service, method, path, status, latency, time and both bodies — tokens, assertions,
//! codes and keys redacted — for `GET /_admin/requests` and the integration advisor.
//!
//! The request path only records raw parts ([`Recorded`]: the head, a few headers, at most
//! 16 KiB of each body as shared bytes) in a sharded ring: no global lock, no parsing. Redaction,
//! decoding and JSON formatting happen when the journal is read ([`Recorded::render`]). Raw
//! parts (tokens among them) stay in memory only; everything that leaves is redacted.

mod middleware;
mod redact;
mod summary;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use actix_web::http::Method;
use actix_web::http::Uri;
use actix_web::http::header::HeaderValue;
use actix_web::web::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::clock::Clock;
pub use crate::secret::{SecretBody, mark_secret};
pub use middleware::journal;
pub use redact::redact_body;
pub use summary::{refusal_reason, token_summary};

/// How many shards the ring has (at most): requests on different workers rarely wait for
/// each other.
const SHARDS: usize = 8;

/// One journal entry, as `GET /_admin/requests` shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Entry {
    /// A running number.
    pub id: u64,
    /// When the request came (helsesim's clock).
    pub time: String,
    /// `helseid`, `sfm`, `kjernejournal`, `pts`, `none`.
    pub service: &'static str,
    /// The method.
    pub method: String,
    /// The path, with the query (secrets redacted).
    pub path: String,
    /// The answer's status.
    pub status: u16,
    /// How long the answer took, in milliseconds.
    pub latency_ms: f64,
    /// The request body (redacted, at most 16 KiB), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_body: Option<String>,
    /// The response body (redacted, at most 16 KiB), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_body: Option<String>,
    /// What the request's access token says (decoded, not the token): scheme, client,
    /// organisation, user, scopes, audience, binding, expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<Value>,
    /// Why a 4xx or 5xx answer refused: its message, in any service's error format.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The few headers the integration advisor reads: the request's `x-epj-system`, `dpop`
    /// (`true` when a proof came) and `dpop_nonce` (whether the proof carried a nonce), and the
    /// answer's `retry-after`.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub headers: Map<String, Value>,
    /// A token or PAR request's client assertion, decoded (not the assertion): `iss`, `iat`,
    /// `exp`, `jti`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assertion: Option<Value>,
    /// What the access token a token answer issued says, as `token` does, plus its `kid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued: Option<Value>,
}

/// The first bytes of a body (at most 16 KiB, shared with the answer where it fits), how many
/// there were, and their content type.
#[derive(Debug, Default)]
struct Kept {
    content_type: Option<HeaderValue>,
    bytes: Bytes,
    total: usize,
}

impl Kept {
    fn content_type(&self) -> &str {
        header_text(self.content_type.as_ref())
    }
}

/// What the request path records of one request: raw parts, rendered when read.
#[derive(Debug)]
struct Recorded {
    id: u64,
    time: DateTime<Utc>,
    service: &'static str,
    method: Method,
    uri: Uri,
    status: u16,
    latency: Duration,
    authorization: Option<HeaderValue>,
    epj_system: Option<HeaderValue>,
    dpop: Option<HeaderValue>,
    retry_after: Option<HeaderValue>,
    request: Kept,
    response: Kept,
    /// The answer's whole body is a secret ([`SecretBody`]).
    secret_response: bool,
    /// The connection was dropped before the answer's body was sent.
    dropped: bool,
}

impl Default for Recorded {
    fn default() -> Self {
        Self {
            id: 0,
            time: DateTime::<Utc>::UNIX_EPOCH,
            service: "none",
            method: Method::GET,
            uri: Uri::default(),
            status: 0,
            latency: Duration::ZERO,
            authorization: None,
            epj_system: None,
            dpop: None,
            retry_after: None,
            request: Kept::default(),
            response: Kept::default(),
            secret_response: false,
            dropped: false,
        }
    }
}

/// A header's text ("" when absent or not visible ASCII).
fn header_text(value: Option<&HeaderValue>) -> &str {
    value.and_then(|v| v.to_str().ok()).unwrap_or_default()
}

impl Recorded {
    /// The entry as the journal shows it: redacted, decoded, formatted.
    fn render(&self) -> Entry {
        let query = self.uri.query().unwrap_or_default();
        let secrets = redact::secret_query_values(query);
        let path = match query {
            "" => self.uri.path().to_owned(),
            query => format!("{}?{}", self.uri.path(), redact::redact_pairs(query)),
        };
        let request_type = self.request.content_type().to_ascii_lowercase();
        let is_form = request_type.starts_with("application/x-www-form-urlencoded");
        let token_answer = self.status == 200 && self.uri.path().ends_with("/connect/token");
        let response = (&self.response.bytes[..], self.response.total);
        let response_body = if self.dropped {
            Some("[the connection was dropped]".to_owned())
        } else {
            redact::kept_response_body(
                self.secret_response,
                self.response.content_type(),
                response,
                &secrets,
            )
        };
        Entry {
            id: self.id,
            time: self.time.to_rfc3339_opts(SecondsFormat::Millis, true),
            service: self.service,
            method: self.method.to_string(),
            path,
            status: self.status,
            latency_ms: (self.latency.as_secs_f64() * 1_000_000.0).round() / 1000.0,
            request_body: redact::redact_preview(
                &request_type,
                &self.request.bytes,
                self.request.total,
            ),
            response_body,
            token: self
                .authorization
                .as_ref()
                .and_then(|v| v.to_str().ok())
                .and_then(token_summary),
            reason: (self.status >= 400 && !self.dropped)
                .then(|| refusal_reason(&self.response.bytes))
                .flatten(),
            headers: self.headers(),
            assertion: is_form
                .then(|| summary::assertion_summary(&self.request.bytes))
                .flatten(),
            issued: (token_answer && !self.secret_response)
                .then(|| summary::issued_summary(&self.response.bytes))
                .flatten(),
        }
    }

    fn headers(&self) -> Map<String, Value> {
        let mut headers = Map::new();
        if let Some(system) = &self.epj_system {
            let system = String::from_utf8_lossy(system.as_bytes()).into_owned();
            headers.insert("x-epj-system".to_owned(), Value::String(system));
        }
        if let Some(proof) = &self.dpop {
            headers.insert("dpop".to_owned(), Value::Bool(true));
            let nonce = proof.to_str().is_ok_and(summary::proof_has_nonce);
            headers.insert("dpop_nonce".to_owned(), Value::Bool(nonce));
        }
        if let Some(wait) = &self.retry_after {
            let wait = String::from_utf8_lossy(wait.as_bytes()).into_owned();
            headers.insert("retry-after".to_owned(), Value::String(wait));
        }
        headers
    }
}

/// The ring of recent requests, in shards.
#[derive(Debug)]
pub struct Journal {
    capacity: usize,
    clock: Clock,
    /// The id of the newest entry.
    last_id: AtomicU64,
    /// Entry `id` lives in shard `id % shards.len()`, each keeping `per_shard` entries.
    shards: Box<[Mutex<VecDeque<Arc<Recorded>>>]>,
    per_shard: usize,
}

impl Journal {
    /// A journal keeping the last `capacity` requests (0 keeps none), timed by `clock`.
    pub fn new(capacity: usize, clock: Clock) -> Self {
        let shards = SHARDS.min(capacity).max(1);
        let per_shard = capacity.div_ceil(shards);
        Self {
            capacity,
            clock,
            last_id: AtomicU64::new(0),
            shards: (0..shards)
                .map(|_| Mutex::new(VecDeque::with_capacity(per_shard.min(512))))
                .collect(),
            per_shard,
        }
    }

    fn push(&self, mut recorded: Recorded) {
        if self.capacity == 0 {
            return;
        }
        recorded.id = self.last_id.fetch_add(1, Ordering::Relaxed) + 1;
        let shard = &self.shards[(recorded.id % self.shards.len() as u64) as usize];
        let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
        if shard.len() >= self.per_shard {
            shard.pop_front();
        }
        shard.push_back(Arc::new(recorded));
    }

    /// How many requests it keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The newest `capacity` entries, newest first (shared: rendered outside the locks).
    fn newest(&self) -> Vec<Arc<Recorded>> {
        let mut all: Vec<Arc<Recorded>> = Vec::with_capacity(self.capacity);
        for shard in &self.shards {
            let shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            all.extend(shard.iter().cloned());
        }
        all.sort_unstable_by_key(|r| std::cmp::Reverse(r.id));
        all.truncate(self.capacity);
        all
    }

    /// The entries, newest first, whose service and status `keep` accepts, at most `limit`.
    pub fn list(&self, limit: usize, keep: impl Fn(&str, u16) -> bool) -> Vec<Entry> {
        self.newest()
            .iter()
            .filter(|r| keep(r.service, r.status))
            .take(limit)
            .map(|r| r.render())
            .collect()
    }

    /// The entries after `after` (an entry id), oldest first: what the integration advisor
    /// has not digested yet.
    pub fn since(&self, after: u64) -> Vec<Entry> {
        let mut newer: Vec<Arc<Recorded>> =
            self.newest().into_iter().filter(|r| r.id > after).collect();
        newer.reverse();
        newer.iter().map(|r| r.render()).collect()
    }

    /// The id of the newest entry ever journaled (0 before the first).
    pub fn last_id(&self) -> u64 {
        self.last_id.load(Ordering::Relaxed)
    }

    /// Forgets every entry.
    pub fn clear(&self) {
        for shard in &self.shards {
            shard.lock().unwrap_or_else(PoisonError::into_inner).clear();
        }
    }
}

/// The journal as JSON (used by the control plane).
pub fn entries_json(entries: &[Entry]) -> Value {
    let mut out = Map::new();
    out.insert(
        "requests".to_owned(),
        serde_json::to_value(entries).unwrap_or_default(),
    );
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &str) -> Recorded {
        Recorded {
            uri: Uri::try_from(path).unwrap(),
            status: 200,
            ..Recorded::default()
        }
    }

    #[test]
    fn the_control_plane_and_health_check_are_not_journaled() {
        use middleware::is_journaled;
        assert!(!is_journaled("/"));
        assert!(!is_journaled("/_admin/requests"));
        assert!(!is_journaled("/healthz"));
        assert!(is_journaled("/helseid/connect/token"));
        assert!(is_journaled("/healthz/x"));
    }

    #[test]
    fn the_ring_keeps_the_newest() {
        let journal = Journal::new(2, Clock::system());
        for path in ["/a", "/b", "/c"] {
            journal.push(request(path));
        }
        let listed: Vec<(u64, String)> = journal
            .list(10, |_, _| true)
            .into_iter()
            .map(|e| (e.id, e.path))
            .collect();
        assert_eq!(listed, [(3, "/c".to_owned()), (2, "/b".to_owned())]);
        assert_eq!(journal.since(2).len(), 1);
        journal.clear();
        assert!(journal.list(10, |_, _| true).is_empty());
        assert_eq!(journal.last_id(), 3);
    }

    #[test]
    fn a_large_ring_in_shards_keeps_exactly_the_newest_in_order() {
        let journal = Journal::new(100, Clock::system());
        for n in 0..1000 {
            journal.push(request(&format!("/r{n}")));
        }
        let ids: Vec<u64> = journal
            .list(1000, |_, _| true)
            .iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(ids, (901..=1000).rev().collect::<Vec<u64>>());
        let since: Vec<u64> = journal.since(995).iter().map(|e| e.id).collect();
        assert_eq!(since, [996, 997, 998, 999, 1000]);
    }

    #[test]
    fn rendering_redacts_the_query_and_reads_the_headers() {
        let mut recorded = request("/sfm/api/x?ticket=secret-ticket-1&a=b");
        recorded.response = Kept {
            content_type: Some(HeaderValue::from_static("application/json")),
            bytes: Bytes::from_static(br#"{"self":"/x?ticket=secret-ticket-1"}"#),
            total: 36,
        };
        recorded.retry_after = Some(HeaderValue::from_static("30"));
        recorded.dpop = Some(HeaderValue::from_static("not-a-proof"));
        let entry = recorded.render();
        assert_eq!(entry.path, "/sfm/api/x?ticket=%5Bredacted%5D&a=b");
        assert_eq!(
            entry.response_body.as_deref(),
            Some(r#"{"self":"/x?ticket=[redacted]"}"#)
        );
        assert_eq!(
            Value::Object(entry.headers),
            serde_json::json!({"dpop": true, "dpop_nonce": false, "retry-after": "30"})
        );
    }
}
