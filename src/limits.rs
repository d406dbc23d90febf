//! Limits on what a request may hold up: a body must arrive whole within the body timeout (a
//! body trickled a byte a second would otherwise hold its connection for ever). Body sizes are
//! each service's own (`PayloadConfig` in its scope): its extractors stop reading at the limit
//! and answer 413 in the service's format; a body nobody reads is never buffered, and the
//! connection is closed after the answer.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::rt::time::{Instant, Sleep, sleep_until};
use actix_web::web::{self, Bytes};
use actix_web::{FromRequest, HttpMessage as _, HttpRequest};
use futures_util::Stream;

/// The default for [`BodyTimeout`].
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a request's body may take to arrive, from the request's head on.
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeout(pub Duration);

/// The error a body that did not arrive in time ends with (an `io::ErrorKind::TimedOut`);
/// the services' error middleware answers it with 408.
pub fn is_body_timeout(error: &actix_web::Error) -> bool {
    matches!(
        error.as_error::<PayloadError>(),
        Some(PayloadError::Io(e)) if e.kind() == std::io::ErrorKind::TimedOut
    )
}

/// Extractor: the body (as `web::Bytes` reads it, within the scope's limits), then `T` — in
/// that order. actix starts every argument's extractor at once and answers the first error any
/// of them gives, so a check taken as a later argument could refuse a request before its body
/// is over the limit or too slow (413, 408); a check taken as `T` here comes after the body.
#[derive(Debug)]
pub struct BodyThen<T> {
    /// The body.
    pub body: Bytes,
    /// What is extracted once the body is in.
    pub then: T,
}

impl<T: FromRequest + 'static> FromRequest for BodyThen<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = Bytes::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let body = body.await?;
            let then = T::from_request(&req, &mut Payload::None)
                .await
                .map_err(Into::into)?;
            Ok(Self { body, then })
        })
    }
}

/// A payload that fails with a timeout once its deadline has passed.
struct Deadline {
    inner: Payload,
    sleep: Pin<Box<Sleep>>,
    timeout: Duration,
    expired: bool,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.expired {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = Pin::new(&mut self.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            self.expired = true;
            let message = format!(
                "The request body did not arrive within {} s",
                self.timeout.as_secs()
            );
            return Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                message,
            )))));
        }
        Poll::Pending
    }
}

/// Middleware: puts the body timeout on every request's payload.
pub async fn body_deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let timeout = req
        .app_data::<web::Data<BodyTimeout>>()
        .map_or(DEFAULT_BODY_TIMEOUT, |t| t.0);
    let inner = req.take_payload();
    if matches!(inner, Payload::None) {
        // No body (most GETs): nothing to wait for, no timer to set.
        req.set_payload(inner);
        return next.call(req).await;
    }
    let deadline = Deadline {
        inner,
        sleep: Box::pin(sleep_until(Instant::now() + timeout)),
        timeout,
        expired: false,
    };
    req.set_payload(Payload::Stream {
        payload: Box::pin(deadline),
    });
    next.call(req).await
}
