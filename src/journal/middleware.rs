//! The middleware that records each request: raw parts only (the request's head, at most
//! 16 KiB of each body as shared bytes, a few headers), so the request path pays for little;
//! redaction, decoding and formatting wait until the journal is read.

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Instant;

use actix_web::HttpMessage as _;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes, BytesMut};
use futures_util::Stream;

use super::redact::MAX_KEPT_BODY;
use super::{Journal, Kept, Recorded};
use crate::secret::SecretBody;

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

/// Whether requests to `path` are journaled: not the control plane (`/_admin` and its
/// dashboard at `/`) nor `/healthz`.
pub(super) fn is_journaled(path: &str) -> bool {
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
    let time = journal.clock.now();
    let preview = tee_payload(&mut req);
    let headers = req.headers();
    let mut recorded = Recorded {
        time,
        service: crate::service::label_of(req.path()),
        method: req.method().clone(),
        uri: req.uri().clone(),
        authorization: header_of(headers, header::AUTHORIZATION.as_str()),
        epj_system: header_of(headers, "x-epj-system"),
        dpop: header_of(headers, "dpop"),
        request: Kept {
            content_type: header_of(headers, header::CONTENT_TYPE.as_str()),
            ..Kept::default()
        },
        ..Recorded::default()
    };
    let response = next.call(req).await?;
    let preview = std::mem::take(&mut *preview.borrow_mut());
    recorded.request.bytes = preview.kept.freeze();
    recorded.request.total = preview.total;
    record_response(&journal, recorded, started, response).await
}

/// A request or response header's value, if it came.
fn header_of(headers: &HeaderMap, name: &str) -> Option<HeaderValue> {
    headers.get(name).cloned()
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

/// Records the answer (status, latency, its first bytes, `Retry-After`) and passes it on; an
/// answer whose body cannot be read (a dropped connection) is recorded as such.
async fn record_response(
    journal: &Journal,
    mut recorded: Recorded,
    started: Instant,
    response: ServiceResponse<impl MessageBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let (req, response) = response.into_parts();
    recorded.status = response.status().as_u16();
    recorded.retry_after = header_of(response.headers(), header::RETRY_AFTER.as_str());
    recorded.response.content_type = header_of(response.headers(), header::CONTENT_TYPE.as_str());
    recorded.secret_response = response.extensions().get::<SecretBody>().is_some();
    let (head, body) = response.into_parts();
    let Ok(body) = actix_web::body::to_bytes(body).await else {
        recorded.dropped = true;
        recorded.latency = started.elapsed();
        journal.push(recorded);
        return Ok(ServiceResponse::new(
            req,
            head.set_body(crate::faults::dropped_body()),
        ));
    };
    recorded.latency = started.elapsed();
    recorded.response.total = body.len();
    // A small answer is shared, not copied; a large one's first bytes are copied, so that the
    // ring never holds more than 16 KiB of it.
    recorded.response.bytes = if body.len() <= MAX_KEPT_BODY {
        body.clone()
    } else {
        Bytes::copy_from_slice(&body[..MAX_KEPT_BODY])
    };
    journal.push(recorded);
    Ok(ServiceResponse::new(req, head.set_body(BoxBody::new(body))))
}
