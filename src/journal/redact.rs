//! What the journal hides: secrets in JSON, forms, queries and text, wherever they appear.

use serde_json::{Map, Value};

/// How much of a body the journal keeps.
pub const MAX_KEPT_BODY: usize = 16 * 1024;
/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";
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
fn is_terminology(map: &Map<String, Value>) -> bool {
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

/// A form or query with its secret values redacted.
pub fn redact_pairs(text: &str) -> String {
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
pub fn redact_preview(content_type: &str, kept: &[u8], total: usize) -> Option<String> {
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

/// The values of secret query parameters (a ticket to search by): answers may repeat them
/// (a search Bundle's `self` link, a Datadeling patient's identifier), so the journal removes
/// them from the answer too. Values under 8 characters are too short to be secrets worth it.
pub fn secret_query_values(query: &str) -> Vec<String> {
    url::form_urlencoded::parse(query.as_bytes())
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

/// A response body as the journal shows it (its first `kept` bytes of `total`): a secret one
/// (marked [`crate::secret::SecretBody`]) all redacted, any other redacted and scrubbed of the
/// request's secret query values.
pub fn kept_response_body(
    secret: bool,
    content_type: &str,
    (kept, total): (&[u8], usize),
    secrets: &[String],
) -> Option<String> {
    if secret && total > 0 {
        Some(REDACTED.to_owned())
    } else {
        redact_preview(content_type, kept, total).map(|text| scrub(text, secrets))
    }
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
    fn answers_lose_secret_bodies_and_the_request_s_secret_query_values() {
        let secrets = secret_query_values("ticket=ticket%2B1%2F2&short=abc");
        assert_eq!(secrets, ["ticket+1/2"]);
        let body = |b: &'static [u8]| (b, b.len());
        assert_eq!(
            kept_response_body(true, "application/json", body(br#"{"a":1}"#), &secrets).as_deref(),
            Some(REDACTED)
        );
        assert_eq!(
            kept_response_body(true, "application/json", body(b""), &secrets),
            None
        );
        let bundle = br#"{"link":"/x?ticket=ticket%2B1%2F2","note":"ticket+1/2"}"#;
        assert_eq!(
            kept_response_body(false, "application/json", body(bundle), &secrets).as_deref(),
            Some(r#"{"link":"/x?ticket=[redacted]","note":"[redacted]"}"#)
        );
    }
}
