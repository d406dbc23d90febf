//! What the journal shows of tokens, assertions, proofs and refusals: the claims a developer
//! (and the integration advisor) looks at, decoded when the journal is read, never the secret.

use serde_json::{Map, Value, json};

use crate::jose::UnverifiedJws;

/// The claims of an `Authorization` header's token an EHR developer looks at first (the token
/// itself is never shown).
pub fn token_summary(authorization: &str) -> Option<Value> {
    let (scheme, token) = authorization.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") && !scheme.eq_ignore_ascii_case("dpop") {
        return None;
    }
    let jws = UnverifiedJws::parse(token.trim()).ok()?;
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
pub fn assertion_summary(form: &[u8]) -> Option<Value> {
    let (_, assertion) =
        url::form_urlencoded::parse(form).find(|(n, _)| n == "client_assertion")?;
    let jws = UnverifiedJws::parse(assertion.trim()).ok()?;
    let mut out = Map::new();
    for claim in ["iss", "iat", "exp", "jti"] {
        if let Some(value) = jws.claims.get(claim) {
            out.insert(claim.to_owned(), value.clone());
        }
    }
    Some(Value::Object(out))
}

/// What the access token of a token answer says (see [`token_summary`]).
pub fn issued_summary(body: &[u8]) -> Option<Value> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let token = value.get("access_token")?.as_str()?;
    token_summary(&format!("Bearer {token}"))
}

/// Whether a DPoP proof carries a `nonce` claim.
pub fn proof_has_nonce(proof: &str) -> bool {
    UnverifiedJws::parse(proof.trim()).is_ok_and(|proof| proof.claims.contains_key("nonce"))
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
