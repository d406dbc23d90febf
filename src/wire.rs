//! The connection under the HTTP server. actix-http answers a request it cannot even read — a
//! head over its limits (431), a malformed request line, header or URI (400), a head that did
//! not arrive in time (408) — by itself, with an empty body, before any service or middleware
//! sees it. [`ExplainedErrors`] gives those answers a short JSON body saying what was wrong,
//! in helsesim's own `{"error", "message"}` format (the service cannot be known: the path was
//! not read).
//!
//! Those answers are recognised by their shape: exactly what actix-http writes for them (the
//! status line, `content-length: 0`, `connection: close`, and no `vary` header — every answer of
//! helsesim's application carries the CORS middleware's `vary`).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A connection whose framework-level error answers get a body.
#[derive(Debug)]
pub struct ExplainedErrors<T> {
    inner: T,
    rewrite: Option<Rewrite>,
}

/// An explained answer being written in place of the bytes the server asked to write.
#[derive(Debug)]
struct Rewrite {
    bytes: Vec<u8>,
    written: usize,
    /// How many of the server's bytes it stands for (reported as written when it is done).
    stands_for: usize,
}

impl<T> ExplainedErrors<T> {
    /// Wraps a connection.
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            rewrite: None,
        }
    }

    /// The connection inside.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }
}

/// What each framework answer means, for a client developer.
fn explanation(status: &[u8]) -> Option<(&'static str, &'static str)> {
    Some(match status {
        b"400" => (
            "bad_request",
            "The request could not be read as HTTP: a malformed request line or header, or a URI \
             over 64 KiB",
        ),
        b"408" => (
            "request_timeout",
            "The request's head (request line and headers) did not arrive within 5 seconds",
        ),
        b"431" => (
            "request_header_fields_too_large",
            "The request's head (request line and headers) is over 128 KiB or has more than 96 \
             headers",
        ),
        _ => return None,
    })
}

/// When `buf` starts with one of actix-http's own empty error answers: the answer with a body,
/// and how many bytes of `buf` it replaces.
pub fn explained(buf: &[u8]) -> Option<(Vec<u8>, usize)> {
    let rest = buf
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| buf.strip_prefix(b"HTTP/1.0 "))?;
    let (error, message) = explanation(rest.get(..3)?)?;
    let head_len = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..head_len]).ok()?;
    let mut lines: Vec<&str> = head.trim_end().split("\r\n").collect();
    let names: Vec<String> = lines
        .iter()
        .skip(1)
        .map(|l| l.split(':').next().unwrap_or_default().to_ascii_lowercase())
        .collect();
    let is_framework_answer = names.iter().any(|n| n == "connection")
        && !names.iter().any(|n| n == "vary")
        && lines
            .iter()
            .any(|l| l.eq_ignore_ascii_case("content-length: 0"));
    if !is_framework_answer {
        return None;
    }
    let body = serde_json::json!({"error": error, "message": message}).to_string();
    let length = format!("content-length: {}", body.len());
    lines.retain(|l| !l.eq_ignore_ascii_case("content-length: 0"));
    lines.insert(1, "content-type: application/json");
    lines.insert(2, &length);
    let mut answer = lines.join("\r\n").into_bytes();
    answer.extend_from_slice(b"\r\n\r\n");
    answer.extend_from_slice(body.as_bytes());
    Some((answer, head_len))
}

impl<T: AsyncRead + Unpin> AsyncRead for ExplainedErrors<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ExplainedErrors<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.rewrite.is_none()
            && let Some((bytes, stands_for)) = explained(buf)
        {
            this.rewrite = Some(Rewrite {
                bytes,
                written: 0,
                stands_for,
            });
        }
        let Some(rewrite) = &mut this.rewrite else {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        };
        // The server retries with the same bytes while this is pending: go on where it stopped.
        while rewrite.written < rewrite.bytes.len() {
            match Pin::new(&mut this.inner).poll_write(cx, &rewrite.bytes[rewrite.written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => rewrite.written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        let stands_for = rewrite.stands_for;
        this.rewrite = None;
        Poll::Ready(Ok(stands_for))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &str = "date: Wed, 02 Dec 2026 01:25:44 GMT";

    #[test]
    fn actix_http_error_answers_get_a_body() {
        let raw = format!(
            "HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: \
             close\r\n{DATE}\r\n\r\n"
        );
        let (answer, replaced) = explained(raw.as_bytes()).unwrap();
        assert_eq!(replaced, raw.len());
        let answer = String::from_utf8(answer).unwrap();
        let body = concat!(
            r#"{"error":"request_header_fields_too_large","message":"The request's head "#,
            r#"(request line and headers) is over 128 KiB or has more than 96 headers"}"#
        );
        assert_eq!(
            answer,
            format!(
                "HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: \
                 application/json\r\ncontent-length: {}\r\nconnection: \
                 close\r\n{DATE}\r\n\r\n{body}",
                body.len()
            )
        );
        let raw = format!(
            "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n{DATE}\r\n\r\n"
        );
        assert!(explained(raw.as_bytes()).is_some());
    }

    #[test]
    fn the_applications_answers_are_left_alone() {
        for raw in [
            // An application answer: it has CORS's vary.
            format!(
                "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\nvary: \
                 Origin\r\n{DATE}\r\n\r\n"
            ),
            // A body.
            format!(
                "HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\nconnection: \
                 close\r\n{DATE}\r\n\r\n"
            ),
            // Kept alive.
            format!("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n{DATE}\r\n\r\n"),
            // Another status.
            format!(
                "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n{DATE}\r\n\r\n"
            ),
            // Not a head at all, or not a whole one.
            "{\"resourceType\":\"Bundle\"}".to_owned(),
            "HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n".to_owned(),
        ] {
            assert_eq!(explained(raw.as_bytes()), None, "{raw}");
        }
    }
}
