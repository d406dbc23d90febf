//! The request journal: the last N requests to the simulated services (not the control plane)
//! with service, method, path, status, latency, time and both bodies — tokens, assertions,
//! codes and keys redacted — in a bounded ring, for `GET /_admin/requests`.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Instant;

use actix_web::HttpMessage as _;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes, BytesMut};
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::Stream;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::clock::Clock;
pub use crate::secret::{SecretBody, mark_secret};

/// How much of a body the journal keeps.
const MAX_KEPT_BODY: usize = 16 * 1024;
/// What replaces a secret.
const REDACTED: &str = "[redacted]";
/// Names whose values are secrets, wherever they appear (JSON keys, form fields, query).
const SECRET_NAMES: [&str; 17] = [
    "access_token",
    "refresh_token",
    "id_token",
    "id_token_hint",
    "token",
    "subject_token",
    "client_assertion",
    "assertion",
    "code",
    "code_verifier",
    "dpop_private_key_pem",
    "private_key",
    "password",
    "client_secret",
    // SFM's patient ticket, kjernejournal's ticket, a pushed authorization request's handle:
    // each lets its holder act for the user.
    "patientticket",
    "ticket",
    "request_uri",
];
/// The private members of a JWK.
const JWK_PRIVATE: [&str; 6] = ["d", "p", "q", "dp", "dq", "qi"];

/// One journal entry.
#[derive(Debug, Clone, Serialize)]
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

/// The claims of an `Authorization` header's token an EHR developer looks at first (the token
/// itself is never kept).
pub fn token_summary(authorization: &str) -> Option<Value> {
    let (scheme, token) = authorization.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") && !scheme.eq_ignore_ascii_case("dpop") {
        return None;
    }
    let jws = crate::jose::UnverifiedJws::parse(token.trim()).ok()?;
    let mut out = Map::new();
    out.insert("scheme".to_owned(), json!(scheme));
    for (name, claim) in [
        ("client_id", "client_id"),
        ("orgnr_parent", crate::auth::claims::ORGNR_PARENT),
        ("orgnr_child", crate::auth::claims::ORGNR_CHILD),
        ("orgnr_supplier", crate::auth::claims::ORGNR_SUPPLIER),
        ("journal_id", crate::auth::claims::JOURNAL_ID),
        ("pid", crate::auth::claims::PID),
        ("hpr_number", "helseid://claims/hpr/hpr_number"),
        ("aud", "aud"),
        ("scope", "scope"),
        ("exp", "exp"),
        ("iat", "iat"),
        ("jti", "jti"),
    ] {
        if let Some(value) = jws.claims.get(claim) {
            out.insert(name.to_owned(), value.clone());
        }
    }
    out.insert(
        "bound_to".to_owned(),
        jws.claims
            .get("cnf")
            .and_then(|c| c.get("jkt"))
            .cloned()
            .unwrap_or(Value::Null),
    );
    if let Some(kid) = jws.header.get("kid") {
        out.insert("kid".to_owned(), kid.clone());
    }
    Some(Value::Object(out))
}

/// The claims of a client assertion the advisor reads (`iss`, `iat`, `exp`, `jti`), from a
/// token or PAR request's form.
fn assertion_summary(form: &[u8]) -> Option<Value> {
    let (_, assertion) =
        url::form_urlencoded::parse(form).find(|(n, _)| n == "client_assertion")?;
    let jws = crate::jose::UnverifiedJws::parse(assertion.trim()).ok()?;
    let mut out = Map::new();
    for claim in ["iss", "iat", "exp", "jti"] {
        if let Some(value) = jws.claims.get(claim) {
            out.insert(claim.to_owned(), value.clone());
        }
    }
    Some(Value::Object(out))
}

/// What the access token of a token answer says (see [`token_summary`]).
fn issued_summary(body: &[u8]) -> Option<Value> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let token = value.get("access_token")?.as_str()?;
    token_summary(&format!("Bearer {token}"))
}

/// The message of an error answer, in any service's format: OAuth `error_description`, FHIR
/// `issue[].diagnostics`, kjernejournal's `utviklermelding`, problem details' `detail` (or the
/// validation `errors`), helsesim's `message`.
pub fn refusal_reason(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let text = |v: &Value| v.as_str().map(str::to_owned);
    value
        .get("error_description")
        .and_then(text)
        .or_else(|| {
            let issues: Vec<String> = value
                .get("issue")?
                .as_array()?
                .iter()
                .filter_map(|i| i.get("diagnostics").and_then(Value::as_str))
                .map(str::to_owned)
                .collect();
            (!issues.is_empty()).then(|| issues.join(" | "))
        })
        .or_else(|| value.get("utviklermelding").and_then(text))
        .or_else(|| value.get("detail").and_then(text))
        .or_else(|| value.get("errors").map(Value::to_string))
        .or_else(|| value.get("message").and_then(text))
}

/// The ring of recent requests.
#[derive(Debug)]
pub struct Journal {
    capacity: usize,
    clock: Clock,
    inner: Mutex<(u64, VecDeque<Entry>)>,
}

impl Journal {
    /// A journal keeping the last `capacity` requests (0 keeps none), timed by `clock`.
    pub fn new(capacity: usize, clock: Clock) -> Self {
        Self {
            capacity,
            clock,
            inner: Mutex::new((0, VecDeque::with_capacity(capacity.min(4096)))),
        }
    }

    fn push(&self, mut entry: Entry) {
        if self.capacity == 0 {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.0 += 1;
        entry.id = inner.0;
        if inner.1.len() == self.capacity {
            inner.1.pop_front();
        }
        inner.1.push_back(entry);
    }

    /// How many requests it keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The entries, newest first, that `keep` accepts, at most `limit`.
    pub fn list(&self, limit: usize, keep: impl Fn(&Entry) -> bool) -> Vec<Entry> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner
            .1
            .iter()
            .rev()
            .filter(|e| keep(e))
            .take(limit)
            .cloned()
            .collect()
    }

    /// The entries after `after` (an entry id), oldest first: what the integration advisor
    /// has not digested yet.
    pub fn since(&self, after: u64) -> Vec<Entry> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.1.iter().filter(|e| e.id > after).cloned().collect()
    }

    /// The id of the newest entry ever journaled (0 before the first).
    pub fn last_id(&self) -> u64 {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).0
    }

    /// Forgets every entry.
    pub fn clear(&self) {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .1
            .clear();
    }
}

fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_NAMES.contains(&lower.as_str()) || lower.contains("secret")
}

/// Whether a string looks like a compact JWS/JWT (`eyJ…` in three dot-separated parts).
fn looks_like_jwt(value: &str) -> bool {
    let parts: Vec<&str> = value.split('.').collect();
    parts.len() == 3
        && value.starts_with("eyJ")
        && parts.iter().all(|p| {
            p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Whether a JSON object's `code` is a terminology code, not an authorization code: a FHIR
/// Coding (`system`, `display`) or an OperationOutcome issue (`severity`). Kept, so the journal
/// (and the advisor reading it) sees which rule refused a request.
fn is_terminology(map: &serde_json::Map<String, Value>) -> bool {
    ["system", "display", "severity"]
        .iter()
        .any(|key| map.contains_key(*key))
}

fn redact_json(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let is_jwk = map.contains_key("kty");
            let is_terminology = is_terminology(map);
            for (key, inner) in map.iter_mut() {
                let code = key == "code" && (is_terminology || !inner.is_string());
                if (is_secret_name(key) && !code) || (is_jwk && JWK_PRIVATE.contains(&key.as_str()))
                {
                    *inner = Value::String(REDACTED.to_owned());
                } else {
                    redact_json(inner);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        Value::String(s) if looks_like_jwt(s) || s.contains("PRIVATE KEY") => {
            *s = REDACTED.to_owned();
        }
        _ => {}
    }
}

fn redact_pairs(text: &str) -> String {
    url::form_urlencoded::parse(text.as_bytes())
        .fold(
            url::form_urlencoded::Serializer::new(String::new()),
            |mut out, (name, value)| {
                if is_secret_name(&name) || looks_like_jwt(&value) {
                    out.append_pair(&name, REDACTED);
                } else {
                    out.append_pair(&name, &value);
                }
                out
            },
        )
        .finish()
}

/// A body as the journal keeps it: JSON and forms with their secrets redacted, other text with
/// JWTs redacted, binary as a size.
pub fn redact_body(content_type: &str, body: &[u8]) -> Option<String> {
    redact_preview(content_type, body, body.len())
}

/// [`redact_body`] of a body's first bytes (`kept`, of `total` in all).
fn redact_preview(content_type: &str, kept: &[u8], total: usize) -> Option<String> {
    if total == 0 {
        return None;
    }
    let content_type = content_type.to_ascii_lowercase();
    let kept = &kept[..kept.len().min(MAX_KEPT_BODY)];
    let truncated = if total > kept.len() {
        format!(" … ({total} bytes in all)")
    } else {
        String::new()
    };
    if content_type.contains("json")
        && truncated.is_empty()
        && let Ok(mut value) = serde_json::from_slice::<Value>(kept)
    {
        redact_json(&mut value);
        let mut text = value.to_string();
        if text.len() > MAX_KEPT_BODY {
            text.truncate(text.floor_char_boundary(MAX_KEPT_BODY));
            text.push_str(&truncated);
        }
        return Some(text);
    }
    let text = match std::str::from_utf8(kept) {
        Ok(text) => text,
        // A preview may end inside a character.
        Err(e) if e.error_len().is_none() && !truncated.is_empty() => {
            std::str::from_utf8(&kept[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return Some(format!("[{total} bytes of {content_type}]")),
    };
    if content_type.starts_with("application/x-www-form-urlencoded") {
        return Some(format!("{}{truncated}", redact_pairs(text)));
    }
    let words: Vec<String> = text
        .split(' ')
        .map(|w| {
            if looks_like_jwt(w.trim()) {
                REDACTED.to_owned()
            } else {
                w.to_owned()
            }
        })
        .collect();
    Some(format!("{}{truncated}", words.join(" ")))
}

/// What the journal saw of a request body: its first bytes and how many there were.
#[derive(Debug, Default)]
struct Preview {
    kept: BytesMut,
    total: usize,
}

/// A payload that copies its first [`MAX_KEPT_BODY`] bytes into a [`Preview`] as it is read.
struct Tee {
    inner: Payload,
    preview: Rc<RefCell<Preview>>,
}

impl Stream for Tee {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &polled {
            let mut preview = self.preview.borrow_mut();
            let room = MAX_KEPT_BODY.saturating_sub(preview.kept.len());
            preview
                .kept
                .extend_from_slice(&chunk[..chunk.len().min(room)]);
            preview.total = preview.total.saturating_add(chunk.len());
        }
        polled
    }
}

/// The values of secret query parameters (a ticket to search by): answers may repeat them
/// (a search Bundle's `self` link, a Datadeling patient's identifier), so the journal removes
/// them from the answer too. Values under 8 characters are too short to be secrets worth it.
fn secret_query_values(req: &ServiceRequest) -> Vec<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .filter(|(name, value)| is_secret_name(name) && value.len() >= 8)
        .map(|(_, value)| value.into_owned())
        .collect()
}

/// `text` without any of `secrets`, raw or percent-encoded.
fn scrub(mut text: String, secrets: &[String]) -> String {
    for secret in secrets {
        let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        for form in [secret.as_str(), encoded.as_str()] {
            if text.contains(form) {
                text = text.replace(form, REDACTED);
            }
        }
    }
    text
}

fn redacted_path(req: &ServiceRequest) -> String {
    match req.query_string() {
        "" => req.path().to_owned(),
        query => format!("{}?{}", req.path(), redact_pairs(query)),
    }
}

fn content_type(headers: &header::HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Whether requests to `path` are journaled: not the control plane (`/_admin` and its
/// dashboard at `/`) nor `/healthz`.
fn is_journaled(path: &str) -> bool {
    !(path.starts_with("/_admin") || path == "/" || path == "/healthz")
}

/// Middleware: journals every request outside the control plane (`/_admin` and its dashboard at
/// `/`) and `/healthz`.
pub async fn journal(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let journal = req
        .app_data::<web::Data<Journal>>()
        .filter(|journal| journal.capacity > 0 && is_journaled(req.path()))
        .cloned();
    let Some(journal) = journal else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let started = Instant::now();
    let time: DateTime<Utc> = journal.clock.now();
    let preview = tee_payload(&mut req);
    let request_type = content_type(req.headers());
    let secrets = secret_query_values(&req);
    let entry = request_entry(&req, time);
    let response = next.call(req).await?;
    let entry = {
        let preview = preview.borrow();
        let is_form = request_type.starts_with("application/x-www-form-urlencoded");
        Entry {
            request_body: redact_preview(&request_type, &preview.kept, preview.total),
            assertion: is_form.then(|| assertion_summary(&preview.kept)).flatten(),
            ..entry
        }
    };
    journal_response(&journal, entry, started, &secrets, response).await
}

/// Lets the request body pass through as the service reads it, copying its first 16 KiB into
/// the returned preview; never waits for (or holds) a body the service does not read.
fn tee_payload(req: &mut ServiceRequest) -> Rc<RefCell<Preview>> {
    let preview = Rc::new(RefCell::new(Preview::default()));
    let payload = req.take_payload();
    if matches!(payload, Payload::None) {
        req.set_payload(payload);
    } else {
        req.set_payload(Payload::Stream {
            payload: Box::pin(Tee {
                inner: payload,
                preview: preview.clone(),
            }),
        });
    }
    preview
}

/// The entry of a request as it comes, before its body is read and its answer known.
fn request_entry(req: &ServiceRequest, time: DateTime<Utc>) -> Entry {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(token_summary);
    let mut headers = Map::new();
    if let Some(system) = req.headers().get("x-epj-system") {
        let system = String::from_utf8_lossy(system.as_bytes()).into_owned();
        headers.insert("x-epj-system".to_owned(), Value::String(system));
    }
    if let Some(proof) = req.headers().get("dpop") {
        headers.insert("dpop".to_owned(), Value::Bool(true));
        let nonce = proof
            .to_str()
            .ok()
            .and_then(|proof| crate::jose::UnverifiedJws::parse(proof.trim()).ok())
            .is_some_and(|proof| proof.claims.contains_key("nonce"));
        headers.insert("dpop_nonce".to_owned(), Value::Bool(nonce));
    }
    Entry {
        id: 0,
        time: time.to_rfc3339_opts(SecondsFormat::Millis, true),
        service: crate::service::label_of(req.path()),
        method: req.method().to_string(),
        path: redacted_path(req),
        status: 0,
        latency_ms: 0.0,
        request_body: None,
        response_body: None,
        token,
        reason: None,
        headers,
        assertion: None,
        issued: None,
    }
}

/// Journals the answer (status, latency, body, reason) and passes it on; an answer whose body
/// cannot be read (a dropped connection) is journaled as such.
async fn journal_response(
    journal: &Journal,
    entry: Entry,
    started: Instant,
    secrets: &[String],
    response: ServiceResponse<impl MessageBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let (req, response) = response.into_parts();
    let status = response.status().as_u16();
    let mut entry = entry;
    if let Some(wait) = response.headers().get(header::RETRY_AFTER) {
        let wait = String::from_utf8_lossy(wait.as_bytes()).into_owned();
        entry
            .headers
            .insert("retry-after".to_owned(), Value::String(wait));
    }
    let token_answer = status == 200 && req.path().ends_with("/connect/token");
    let response_type = content_type(response.headers());
    let secret = response.extensions().get::<SecretBody>().is_some();
    let (head, body) = response.into_parts();
    let body: Bytes = match actix_web::body::to_bytes(body).await {
        Ok(bytes) => bytes,
        Err(_) => {
            journal.push(Entry {
                status,
                latency_ms: started.elapsed().as_secs_f64() * 1000.0,
                response_body: Some("[the connection was dropped]".to_owned()),
                ..entry
            });
            return Ok(ServiceResponse::new(
                req,
                head.set_body(crate::faults::dropped_body()),
            ));
        }
    };
    journal.push(Entry {
        status,
        latency_ms: (started.elapsed().as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
        response_body: kept_response_body(secret, &response_type, &body, secrets),
        reason: (status >= 400).then(|| refusal_reason(&body)).flatten(),
        issued: token_answer.then(|| issued_summary(&body)).flatten(),
        ..entry
    });
    Ok(ServiceResponse::new(req, head.set_body(BoxBody::new(body))))
}

/// A response body as the journal keeps it: a secret one (marked [`SecretBody`]) all redacted,
/// any other redacted and scrubbed of the request's secret query values.
fn kept_response_body(
    secret: bool,
    content_type: &str,
    body: &[u8],
    secrets: &[String],
) -> Option<String> {
    if secret && !body.is_empty() {
        Some(REDACTED.to_owned())
    } else {
        redact_body(content_type, body).map(|text| scrub(text, secrets))
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

    const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";

    #[test]
    fn secrets_are_redacted_in_json_forms_and_text() {
        let json = format!(
            concat!(
                r#"{{"access_token":"{JWT}","token_type":"Bearer","#,
                r#""nested":[{{"kty":"EC","d":"secret-d","x":"pub"}}],"note":"{JWT}","#,
                r#""client_secret_x":"s","patientTicket":"t-1"}}"#
            ),
            JWT = JWT
        );
        assert_eq!(
            redact_body("application/json; charset=utf-8", json.as_bytes()).unwrap(),
            concat!(
                r#"{"access_token":"[redacted]","token_type":"Bearer","#,
                r#""nested":[{"kty":"EC","d":"[redacted]","x":"pub"}],"note":"[redacted]","#,
                r#""client_secret_x":"[redacted]","patientTicket":"[redacted]"}"#
            )
        );
        let form =
            format!("grant_type=client_credentials&client_assertion={JWT}&scope=a+b&code=abc");
        assert_eq!(
            redact_body("application/x-www-form-urlencoded", form.as_bytes()).unwrap(),
            "grant_type=client_credentials&client_assertion=%5Bredacted%5D&scope=a+b&\
             code=%5Bredacted%5D"
        );
        assert_eq!(
            redact_body("text/plain", format!("Bearer {JWT}").as_bytes()).unwrap(),
            "Bearer [redacted]"
        );
        assert_eq!(redact_body("application/json", b""), None);
        assert_eq!(
            redact_body("application/octet-stream", &[0xff, 0xfe]).unwrap(),
            "[2 bytes of application/octet-stream]"
        );
    }

    #[test]
    fn terminology_codes_are_kept_and_authorization_codes_redacted() {
        let outcome = concat!(
            r#"{"issue":[{"severity":"error","code":"business-rule","details":{"coding":"#,
            r#"[{"system":"urn:x","code":"pll-complete"}]}}],"#,
            r#""code":{"coding":[{"display":"Paracet","code":"123"}]}}"#
        );
        assert_eq!(
            redact_body("application/fhir+json", outcome.as_bytes()).unwrap(),
            outcome
        );
        let innlogging = r#"{"code":"c-1","sessionId":"s-1"}"#;
        assert_eq!(
            redact_body("application/json", innlogging.as_bytes()).unwrap(),
            r#"{"code":"[redacted]","sessionId":"s-1"}"#
        );
    }

    #[test]
    fn the_control_plane_and_health_check_are_not_journaled() {
        assert!(!is_journaled("/"));
        assert!(!is_journaled("/_admin/requests"));
        assert!(!is_journaled("/healthz"));
        assert!(is_journaled("/helseid/connect/token"));
        assert!(is_journaled("/healthz/x"));
    }

    #[test]
    fn answers_lose_secret_bodies_and_the_request_s_secret_query_values() {
        let secrets = vec!["ticket+1/2".to_owned()];
        assert_eq!(
            kept_response_body(true, "application/json", br#"{"a":1}"#, &secrets).as_deref(),
            Some(REDACTED)
        );
        assert_eq!(
            kept_response_body(true, "application/json", b"", &secrets),
            None
        );
        let bundle = br#"{"link":"/x?ticket=ticket%2B1%2F2","note":"ticket+1/2"}"#;
        assert_eq!(
            kept_response_body(false, "application/json", bundle, &secrets).as_deref(),
            Some(r#"{"link":"/x?ticket=[redacted]","note":"[redacted]"}"#)
        );
    }

    #[test]
    fn the_ring_keeps_the_newest() {
        let journal = Journal::new(2, Clock::system());
        for path in ["/a", "/b", "/c"] {
            journal.push(Entry {
                id: 0,
                time: String::new(),
                service: "none",
                method: "GET".to_owned(),
                path: path.to_owned(),
                status: 200,
                latency_ms: 0.0,
                request_body: None,
                response_body: None,
                token: None,
                reason: None,
                headers: Map::new(),
                assertion: None,
                issued: None,
            });
        }
        let listed: Vec<(u64, String)> = journal
            .list(10, |_| true)
            .into_iter()
            .map(|e| (e.id, e.path))
            .collect();
        assert_eq!(listed, [(3, "/c".to_owned()), (2, "/b".to_owned())]);
        journal.clear();
        assert!(journal.list(10, |_| true).is_empty());
    }
}
