//! Answers whose whole body is a secret (a ticket sent as text): services mark them, the
//! request journal records their body as `[redacted]`.

/// Marker in a response's extensions: its whole body is a secret (a ticket sent as text).
#[derive(Debug, Clone, Copy)]
pub struct SecretBody;

/// Marks `response` so that the journal records its body as `[redacted]`.
pub fn mark_secret(mut response: actix_web::HttpResponse) -> actix_web::HttpResponse {
    response.extensions_mut().insert(SecretBody);
    response
}
