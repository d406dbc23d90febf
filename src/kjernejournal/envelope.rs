//! What kjernejournal puts around every answer: an `X-EVENT-ID` header (the request's id in
//! kjernejournal, for correlation; Innlogging answers with the caller's own when it sent one),
//! and — "all API responses from kjernejournal may have an arbitrary gibberish extra field" —
//! one field with a random name and a random value of a random JSON type in every JSON body,
//! success or error, so clients that break on unknown fields break here first. FHIR bodies
//! (`application/fhir+json`) are left valid FHIR.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use rand::Rng;
use serde_json::{Map, Value, json};

use crate::kjernejournal::State;

/// The correlation header.
pub const EVENT_ID: HeaderName = HeaderName::from_static("x-event-id");

/// A new event id, shaped like kjernejournal's (`Id-513f826053dfa2c6dc91b8dsa`).
pub fn new_event_id() -> String {
    let mut rng = rand::rng();
    let hex: String = (0..25)
        .map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16)]))
        .collect();
    format!("Id-{hex}")
}

/// Adds one field with a random name (not already in `object`) and a random value.
pub fn add_extra_field(object: &mut Map<String, Value>, rng: &mut impl Rng) {
    let name = loop {
        let name = gibberish(rng, 5, 14);
        if !object.contains_key(&name) {
            break name;
        }
    };
    let value = random_value(rng, 0);
    object.insert(name, value);
}

fn gibberish(rng: &mut impl Rng, min: usize, max: usize) -> String {
    let len = rng.random_range(min..=max);
    (0..len)
        .map(|_| char::from(rng.random_range(b'a'..=b'z')))
        .collect()
}

fn random_value(rng: &mut impl Rng, depth: u8) -> Value {
    let kinds = if depth == 0 { 7 } else { 5 };
    match rng.random_range(0..kinds) {
        0 => Value::String(gibberish(rng, 1, 24)),
        1 => json!(rng.random_range(-1_000_000..1_000_000_i64)),
        2 => json!(rng.random_range(-1000.0..1000.0_f64)),
        3 => Value::Bool(rng.random()),
        4 => Value::Null,
        5 => Value::Array(
            (0..rng.random_range(0..4))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        _ => {
            let mut inner = Map::new();
            for _ in 0..rng.random_range(0..4) {
                inner.insert(gibberish(rng, 3, 10), random_value(rng, depth + 1));
            }
            Value::Object(inner)
        }
    }
}

fn is_plain_json(response: &actix_web::HttpResponse<impl MessageBody>) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/json"))
}

/// Kjernejournal Innlogging takes the caller's `X-EVENT-ID` (when valid) and answers with it.
fn echoed_event_id(req: &ServiceRequest) -> Option<HeaderValue> {
    if !req.path().starts_with("/kjernejournal/innlogging/") {
        return None;
    }
    let sent = req.headers().get(EVENT_ID)?;
    crate::kjernejournal::innlogging::caller::event_id(Some(sent.as_bytes()))
        .ok()
        .flatten()
        .and(Some(sent.clone()))
}

/// Middleware for the kjernejournal scope: event id on every response, the extra field in every
/// JSON body (unless switched off with `HELSESIM_KJ_EXTRA_FIELD=off`).
pub async fn envelope(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let extra_field = req
        .app_data::<web::Data<State>>()
        .is_none_or(|state| state.extra_field);
    let echoed = echoed_event_id(&req);
    let response = next.call(req).await?;
    let (req, mut response) = response.into_parts();
    if let Ok(id) = echoed.map_or_else(|| HeaderValue::from_str(&new_event_id()), Ok) {
        response.headers_mut().insert(EVENT_ID, id);
    }
    if !extra_field || !is_plain_json(&response) {
        return Ok(ServiceResponse::new(req, response.map_into_boxed_body()));
    }
    let (response, body) = response.into_parts();
    let bytes = actix_web::body::to_bytes(body)
        .await
        .map_err(|e| actix_web::error::ErrorInternalServerError(e.into().to_string()))?;
    let body = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(mut object)) => {
            add_extra_field(&mut object, &mut rand::rng());
            serde_json::to_vec(&Value::Object(object)).unwrap_or_else(|_| bytes.to_vec())
        }
        _ => bytes.to_vec(),
    };
    Ok(ServiceResponse::new(
        req,
        response.set_body(BoxBody::new(body)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extra_field_is_new_and_of_every_type() {
        let mut rng = rand::rng();
        let mut kinds = std::collections::BTreeSet::new();
        for _ in 0..500 {
            let mut object = Map::new();
            object.insert("status".to_owned(), json!(4));
            add_extra_field(&mut object, &mut rng);
            assert_eq!(object.len(), 2);
            let (name, value) = object.iter().find(|(k, _)| *k != "status").unwrap();
            assert!(name.len() >= 5 && name.bytes().all(|b| b.is_ascii_lowercase()));
            kinds.insert(match value {
                Value::Null => "null",
                Value::Bool(_) => "bool",
                Value::Number(_) => "number",
                Value::String(_) => "string",
                Value::Array(_) => "array",
                Value::Object(_) => "object",
            });
        }
        assert_eq!(kinds.len(), 6, "{kinds:?}");
    }

    #[test]
    fn event_ids_look_like_kjernejournals() {
        let id = new_event_id();
        assert_eq!(id.len(), 28);
        assert!(id.starts_with("Id-"));
        assert_ne!(new_event_id(), id);
    }
}
