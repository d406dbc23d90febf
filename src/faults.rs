//! Fault injection: rules that make any endpoint answer an error, answer slowly or drop the
//! connection — so an EHR can test its handling of 500s, 503s, timeouts and slow answers.
//! Rules come from `POST /_admin/faults`; the control plane itself is never faulted.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use actix_web::HttpResponse;
use actix_web::body::{BodyStream, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes};
use chrono::{DateTime, Utc};
use globset::{GlobBuilder, GlobMatcher};
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock::Clock;
use crate::service::{Service, label_of};

/// A rule as the control plane takes it.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultRequest {
    /// Only requests to this service (`helseid`, `sfm`, `kjernejournal`, `pts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Service>)]
    pub service: Option<String>,
    /// Only this method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The paths, a glob: `*` one path segment (`/sfm/fhir/Patient/*`), `**` any depth
    /// (`/helseid/**`).
    pub path: String,
    /// Answer this status instead of the service (no body with 204 or 304).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 200, maximum = 599)]
    pub status: Option<u16>,
    /// With `status`: the body (JSON, or a string sent as text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// Wait this long first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(maximum = 600000)]
    pub delay_ms: Option<u64>,
    /// Drop the connection instead of answering.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drop_connection: bool,
    /// The chance a matching request is faulted (0 to 1; 1 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// How many requests to fault, then the rule is spent (for ever when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// For how long (helsesim's clock, from when the rule is added), then the rule is spent
    /// (for ever when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    pub for_seconds: Option<u64>,
    /// With `status`: headers of the answer, e.g. `{"Retry-After": "120"}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

/// A stored rule.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FaultRule {
    /// Its id.
    pub id: String,
    /// The rule.
    #[serde(flatten)]
    pub rule: FaultRequest,
    /// How many more requests it faults (`null`: no limit).
    pub remaining: Option<u32>,
    /// How many requests it has faulted.
    pub hits: u64,
    /// When it stops faulting (with `for_seconds`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub until: Option<DateTime<Utc>>,
    #[serde(skip)]
    #[schema(ignore)]
    matcher: GlobMatcher,
}

/// What to do to a request.
#[derive(Debug, Clone)]
struct Action {
    delay: Option<Duration>,
    status: Option<(StatusCode, Option<Value>)>,
    headers: Vec<(HeaderName, HeaderValue)>,
    drop_connection: bool,
}

/// The rules, timed by helsesim's clock.
#[derive(Debug)]
pub struct Faults {
    clock: Clock,
    rules: Mutex<Vec<FaultRule>>,
}

impl FaultRequest {
    /// Checks the rule; the message says what is wrong.
    pub fn validate(&self) -> Result<GlobMatcher, String> {
        if !self.path.starts_with('/') {
            return Err(format!("path must start with '/', got '{}'", self.path));
        }
        let matcher = GlobBuilder::new(&self.path)
            .literal_separator(true)
            .build()
            .map_err(|e| format!("path '{}' is not a glob: {e}", self.path))?
            .compile_matcher();
        if let Some(service) = &self.service
            && Service::parse(service).is_none()
        {
            return Err(format!(
                "service must be {}, got '{service}'",
                Service::names_listed("or")
            ));
        }
        if self.status.is_none() && self.delay_ms.is_none() && !self.drop_connection {
            return Err("A fault needs status, delay_ms or drop_connection".to_owned());
        }
        if self.drop_connection && (self.status.is_some() || self.body.is_some()) {
            return Err("drop_connection cannot come with status or body".to_owned());
        }
        if self.body.is_some() && self.status.is_none() {
            return Err("body needs a status".to_owned());
        }
        if let Some(status) = self.status
            && !(200..=599).contains(&status)
        {
            return Err(format!(
                "status must be a final HTTP status from 200 to 599, got {status} (a 1xx is no \
                 answer: 100 leaves the client waiting, 101 switches protocols)"
            ));
        }
        if let Some(status @ (204 | 304)) = self.status
            && self.body.is_some()
        {
            return Err(format!("a {status} answer has no body: leave body out"));
        }
        if self.delay_ms.is_some_and(|d| d > 600_000) {
            return Err("delay_ms must be at most 600000 (10 minutes)".to_owned());
        }
        if self.probability.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
            return Err("probability must be from 0 to 1".to_owned());
        }
        if self.times == Some(0) {
            return Err("times must be at least 1".to_owned());
        }
        if self.for_seconds == Some(0) {
            return Err("for_seconds must be at least 1".to_owned());
        }
        self.header_values()?;
        Ok(matcher)
    }

    /// The answer's extra headers, checked.
    fn header_values(&self) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
        if !self.headers.is_empty() && self.status.is_none() {
            return Err("headers need a status".to_owned());
        }
        self.headers
            .iter()
            .map(|(name, value)| {
                let name = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| format!("'{name}' is not an HTTP header name"))?;
                let value = HeaderValue::from_str(value)
                    .map_err(|_| format!("the value of header '{name}' is not a header value"))?;
                Ok((name, value))
            })
            .collect()
    }
}

impl Faults {
    /// No rules yet; `clock` times `for_seconds`.
    pub fn new(clock: Clock) -> Self {
        Self {
            clock,
            rules: Mutex::new(Vec::new()),
        }
    }

    /// Adds a rule.
    pub fn add(&self, rule: FaultRequest) -> Result<FaultRule, String> {
        let matcher = rule.validate()?;
        let until = rule.for_seconds.and_then(|s| {
            let seconds = i64::try_from(s).ok()?;
            self.clock
                .now()
                .checked_add_signed(chrono::TimeDelta::try_seconds(seconds)?)
        });
        let stored = FaultRule {
            id: uuid::Uuid::new_v4().to_string(),
            remaining: rule.times,
            hits: 0,
            until,
            rule,
            matcher,
        };
        self.rules
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(stored.clone());
        Ok(stored)
    }

    /// The rules, oldest first.
    pub fn list(&self) -> Vec<FaultRule> {
        self.rules
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Removes a rule; whether it was there.
    pub fn remove(&self, id: &str) -> bool {
        let mut rules = self.rules.lock().unwrap_or_else(PoisonError::into_inner);
        let before = rules.len();
        rules.retain(|r| r.id != id);
        rules.len() != before
    }

    /// Removes every rule.
    pub fn clear(&self) {
        self.rules
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// The first live rule matching the request that fires (by its probability); counts it.
    fn fire(&self, service: &str, method: &str, path: &str) -> Option<Action> {
        let now = self.clock.now();
        let mut rules = self.rules.lock().unwrap_or_else(PoisonError::into_inner);
        let mut rng = rand::rng();
        let rule = rules.iter_mut().find(|r| {
            r.remaining != Some(0)
                && r.until.is_none_or(|until| now < until)
                && r.rule.service.as_deref().is_none_or(|s| s == service)
                && r.rule
                    .method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && r.matcher.is_match(path)
                && rng.random_bool(r.rule.probability.unwrap_or(1.0))
        })?;
        rule.hits += 1;
        if let Some(remaining) = &mut rule.remaining {
            *remaining -= 1;
        }
        Some(Action {
            delay: rule.rule.delay_ms.map(Duration::from_millis),
            status: rule.rule.status.and_then(|s| {
                StatusCode::from_u16(s)
                    .ok()
                    .map(|status| (status, rule.rule.body.clone()))
            }),
            headers: rule.rule.header_values().unwrap_or_default(),
            drop_connection: rule.rule.drop_connection,
        })
    }
}

/// A body that fails at once: the server drops the connection mid-answer.
pub fn dropped_body() -> BoxBody {
    BoxBody::new(BodyStream::new(futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("fault injection: connection dropped"))
    })))
}

fn faulted_response(status: StatusCode, body: Option<Value>) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.insert_header(("X-Helsesim-Fault", "injected"));
    match body {
        None => response.finish(),
        Some(Value::String(text)) => response
            .content_type("text/plain; charset=utf-8")
            .body(text),
        Some(json) => response
            .content_type("application/json")
            .body(json.to_string()),
    }
}

/// Middleware: applies the fault rules to every request outside the control plane (`/_admin`
/// and its dashboard at `/`).
pub async fn inject(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let is_preflight = req.method() == actix_web::http::Method::OPTIONS
        && req
            .headers()
            .contains_key(actix_web::http::header::ACCESS_CONTROL_REQUEST_METHOD);
    let action = req
        .app_data::<web::Data<Faults>>()
        .filter(|_| !is_preflight && !req.path().starts_with("/_admin") && req.path() != "/")
        .and_then(|faults| faults.fire(label_of(req.path()), req.method().as_str(), req.path()));
    let Some(action) = action else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    if let Some(delay) = action.delay {
        actix_web::rt::time::sleep(delay).await;
    }
    if action.drop_connection {
        let (req, _) = req.into_parts();
        let response = HttpResponse::Ok().body(dropped_body());
        return Ok(ServiceResponse::new(req, response));
    }
    if let Some((status, body)) = action.status {
        let (req, _) = req.into_parts();
        let mut response = faulted_response(status, body);
        for (name, value) in action.headers {
            response.headers_mut().insert(name, value);
        }
        // Kjernejournal correlates every answer, its failures too.
        if Service::of_path(req.path()) == Some(Service::Kjernejournal)
            && let Ok(id) = HeaderValue::from_str(&crate::kjernejournal::envelope::new_event_id())
        {
            response
                .headers_mut()
                .insert(crate::kjernejournal::envelope::EVENT_ID, id);
        }
        return Ok(ServiceResponse::new(req, response));
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}
