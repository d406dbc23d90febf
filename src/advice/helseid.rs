//! HelseID's rules: tokens reused until near expiry (FK3), discovery and JWKS cached but
//! refreshed after a key rotation (FK2), client assertions of at most 60 seconds, refresh tokens
//! used once, DPoP nonces kept.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use super::model::{Findings, Rule, Severity, Who};
use super::{Seen, text};
use crate::journal::Entry;

const FUNCTIONAL_REQUIREMENTS: &str = "https://utviklerportal.nhn.no/informasjonstjenester/\
    helseid/protokoller-og-sikkerhetsprofil/sikkerhetsprofil/docs/funksjonelle_krav_enmd";

/// FK3: a new token while the last one for the same client, user, organisation and scope
/// still had more than half its lifetime left.
pub const TOKEN_NOT_REUSED: Rule = Rule {
    id: "helseid.token-not-reused",
    severity: Severity::Warning,
    title: "A new access token while the last one for the same use was far from expiry",
    source_title: "HelseID: functional requirements for clients, FK3 (do not request a new \
                   access token while one for the resource is valid)",
    source_url: FUNCTIONAL_REQUIREMENTS,
    fix: "Cache the access token per client, user, organisation and scope, and use it for every \
          call until shortly before it expires (expires_in); then get a new one (refresh_token \
          for a user).",
};

/// FK2: the discovery document or the JWKS fetched again and again, unchanged.
pub const DISCOVERY_NOT_CACHED: Rule = Rule {
    id: "helseid.discovery-not-cached",
    severity: Severity::Warning,
    title: "HelseID's discovery document or JWKS fetched again and again (not cached)",
    source_title: "HelseID: functional requirements for clients, FK2 (read endpoints from the \
                   metadata and cache it; 24 hours recommended)",
    source_url: FUNCTIONAL_REQUIREMENTS,
    fix: "Fetch the discovery document and the JWKS once and cache them (HelseID's library keeps \
          them 24 hours); fetch the JWKS again when a token names a kid it does not hold.",
};

/// A token signed with a key the client's last JWKS did not have, and no JWKS fetched since.
pub const JWKS_NOT_REFRESHED: Rule = Rule {
    id: "helseid.jwks-not-refreshed",
    severity: Severity::Warning,
    title: "HelseID signs with a new key, and the JWKS was not fetched again",
    source_title: "HelseID: validating the ID token (verify against HelseID's published keys)",
    source_url: "https://utviklerportal.nhn.no/informasjonstjenester/helseid/\
                 protokoller-og-sikkerhetsprofil/sikkerhetsprofil/docs/vedlegg/\
                 validering_av_id_token_enmd/",
    fix: "When a token's kid is not in the cached JWKS, fetch the JWKS again (once) before \
          refusing the token; do not pin HelseID's signing key.",
};

/// A client assertion whose `exp` is more than 60 seconds after its `iat`.
pub const ASSERTION_LIFETIME: Rule = Rule {
    id: "helseid.assertion-lifetime",
    severity: Severity::Warning,
    title: "Client assertions that live longer than 60 seconds",
    source_title: "HelseID: client assertions (exp at most 60 seconds ahead, jti used once)",
    source_url: "https://helseid.atlassian.net/wiki/pages/viewpage.action?pageId=541982723",
    fix: "Make a new client assertion for every request to HelseID, with iat now and exp at \
          most 60 seconds later, and a new jti.",
};

/// A refresh token presented again after it was rotated.
pub const REFRESH_TOKEN_REUSED: Rule = Rule {
    id: "helseid.refresh-token-reused",
    severity: Severity::Warning,
    title: "A refresh token used again after it was rotated",
    source_title: "HelseID: refresh tokens (they rotate: each answer has a new one)",
    source_url: "https://nhn.no/helseid/loesningsmoenster-og-beste-praksis/refresh-tokens/",
    fix: "Keep the refresh_token of every token answer and use it for the next refresh; never \
          use one twice (HelseID then revokes the whole login).",
};

/// A `use_dpop_nonce` refusal of a proof without a nonce while the nonce of the client's last
/// answer was still valid.
pub const DPOP_NONCE_IGNORED: Rule = Rule {
    id: "helseid.dpop-nonce-ignored",
    severity: Severity::Info,
    title: "The DPoP nonce HelseID gave is not used until HelseID refuses (use_dpop_nonce)",
    source_title: "HelseID: formatting DPoP proofs (nonce from HelseID's DPoP-Nonce header); \
                   RFC 9449 section 8",
    source_url: "https://utviklerportal.nhn.no/informasjonstjenester/helseid/\
                 protokoller-og-sikkerhetsprofil/sikkerhetsprofil/docs/vedlegg/\
                 formatering_av_dpop_bevis_enmd",
    fix: "Keep the DPoP-Nonce of HelseID's last answer and put it in the next proof; retry with \
          a new nonce only when HelseID answers use_dpop_nonce.",
};

/// How often the same unchanged document may be fetched within [`REFETCH_WINDOW`].
const FETCHES_ALLOWED: usize = 2;
/// The window of [`DISCOVERY_NOT_CACHED`].
const REFETCH_WINDOW: TimeDelta = TimeDelta::hours(1);
/// How long after a token signed with an unknown key the JWKS should have been fetched.
const JWKS_GRACE: TimeDelta = TimeDelta::minutes(10);
/// How long a DPoP nonce HelseID hands out is valid.
const NONCE_LIFETIME: TimeDelta = crate::auth::dpop::NONCE_LIFETIME;

const TOKEN: &str = "/helseid/connect/token";
const DISCOVERY: &str = "/helseid/.well-known/openid-configuration";
const JWKS: &str = "/helseid/.well-known/openid-configuration/jwks";

/// A document's recent fetches: when, and its answer.
type Fetches = VecDeque<(DateTime<Utc>, Option<String>)>;

/// What HelseID's rules remember.
#[derive(Debug, Default)]
pub struct Memory {
    /// The last token per client, user, organisation, audience and scope: issued, expires.
    tokens: HashMap<String, (i64, i64)>,
    /// The recent fetches of each document: when, and its answer.
    fetches: HashMap<&'static str, Fetches>,
    /// The key ids of the last JWKS answer.
    jwks_kids: Option<Vec<String>>,
    /// Per client, the first token signed with a key the last JWKS did not have.
    unknown_kid: HashMap<Who, (DateTime<Utc>, Entry, String)>,
    /// Per client id, its last successful DPoP-bound token answer (a refusal names no
    /// organisation: its client assertion says only which client it is).
    nonce_given: HashMap<Option<String>, DateTime<Utc>>,
}

impl Memory {
    /// Reads one request to HelseID.
    pub fn observe(&mut self, seen: &Seen<'_>, findings: &mut Findings) {
        if seen.entry.method == "GET" && seen.entry.status == 200 {
            let path = seen.entry.path.as_str();
            if let Some(document) = [DISCOVERY, JWKS].into_iter().find(|d| path == *d) {
                self.fetched(document, seen, findings);
            }
        }
        if !seen.is("POST", TOKEN) && !seen.is("POST", "/helseid/connect/par") {
            return;
        }
        assertion_lifetime(seen, findings);
        if seen.entry.status == 200 && seen.entry.issued.is_some() {
            self.token_issued(seen, findings);
        }
        if seen.entry.status == 400 {
            self.token_refused(seen, findings);
        }
    }

    /// Tokens signed with a new key whose client has not fetched the JWKS since, for
    /// [`JWKS_GRACE`], become findings.
    pub fn finish(&mut self, now: DateTime<Utc>, findings: &mut Findings) {
        let due: Vec<Who> = self
            .unknown_kid
            .iter()
            .filter(|(_, (at, _, _))| now - *at >= JWKS_GRACE)
            .map(|(who, _)| who.clone())
            .collect();
        for who in due {
            if let Some((at, entry, kid)) = self.unknown_kid.remove(&who) {
                let detail = format!(
                    "HelseID signed this token with key {kid}, which the JWKS last fetched did not \
                     have, and the JWKS was not fetched in the {} minutes after",
                    JWKS_GRACE.num_minutes()
                );
                findings.record(&JWKS_NOT_REFRESHED, &who, &entry, at, detail);
            }
        }
    }

    fn fetched(&mut self, document: &'static str, seen: &Seen<'_>, findings: &mut Findings) {
        let answer = seen.entry.response_body.clone();
        let recent = self.fetches.entry(document).or_default();
        recent.retain(|(at, body)| seen.at - *at < REFETCH_WINDOW && *body == answer);
        recent.push_back((seen.at, answer));
        if recent.len() > FETCHES_ALLOWED {
            let detail = format!(
                "fetched {} times within an hour, the answer unchanged",
                recent.len()
            );
            findings.record(
                &DISCOVERY_NOT_CACHED,
                &Who::default(),
                seen.entry,
                seen.at,
                detail,
            );
        }
        if document == JWKS {
            self.jwks_kids = seen.response_json().map(|jwks| kids(&jwks));
            self.unknown_kid.clear();
        }
    }

    fn token_issued(&mut self, seen: &Seen<'_>, findings: &mut Findings) {
        let Some(issued) = seen.entry.issued.as_ref() else {
            return;
        };
        if seen.entry.headers.contains_key("dpop") {
            self.nonce_given.insert(seen.who.client_id.clone(), seen.at);
        }
        if let (Some(kids), Some(kid)) = (&self.jwks_kids, text(issued, "kid"))
            && !kids.contains(&kid)
        {
            self.unknown_kid
                .entry(seen.who.clone())
                .or_insert_with(|| (seen.at, seen.entry.clone(), kid));
        }
        let number = |name: &str| issued.get(name).and_then(Value::as_i64);
        let (Some(iat), Some(exp)) = (number("iat"), number("exp")) else {
            return;
        };
        let key = [
            "client_id",
            "pid",
            "orgnr_parent",
            "orgnr_child",
            "journal_id",
            "aud",
            "scope",
        ]
        .map(|name| issued.get(name).map(Value::to_string).unwrap_or_default())
        .join("|");
        let early = self.tokens.get(&key).and_then(|&(last_iat, last_exp)| {
            let left = last_exp - seen.at.timestamp();
            (left * 2 > last_exp - last_iat).then_some((left, last_exp - last_iat))
        });
        let grant = seen.form().get("grant_type").cloned().unwrap_or_default();
        if let Some((left, lifetime)) = early
            && grant != "authorization_code"
        {
            let detail = format!(
                "a new token ({grant}) while the last one for the same use still had {left} of \
                 its {lifetime} seconds"
            );
            findings.record(&TOKEN_NOT_REUSED, &seen.who, seen.entry, seen.at, detail);
        }
        self.tokens.insert(key, (iat, exp));
    }

    fn token_refused(&mut self, seen: &Seen<'_>, findings: &mut Findings) {
        let reason = seen.entry.reason.as_deref().unwrap_or_default();
        if reason.starts_with("The refresh token has already been used") {
            findings.record(
                &REFRESH_TOKEN_REUSED,
                &seen.who,
                seen.entry,
                seen.at,
                reason.to_owned(),
            );
        }
        let error = seen.response_json().and_then(|body| text(&body, "error"));
        // A proof with a nonce used the last one; it may have expired or been rotated.
        let with_nonce = seen.entry.headers.get("dpop_nonce") == Some(&Value::Bool(true));
        if error.as_deref() != Some("use_dpop_nonce") || with_nonce {
            return;
        }
        if let Some(given) = self.nonce_given.get(&seen.who.client_id)
            && seen.at - *given < NONCE_LIFETIME
        {
            let detail = format!(
                "a proof without a nonce, refused with use_dpop_nonce {} seconds after a DPoP \
                 token answer whose nonce was still valid",
                (seen.at - *given).num_seconds()
            );
            findings.record(&DPOP_NONCE_IGNORED, &seen.who, seen.entry, seen.at, detail);
        }
    }
}

/// [`ASSERTION_LIFETIME`]: `exp − iat` over 60 seconds, or a refusal saying so.
fn assertion_lifetime(seen: &Seen<'_>, findings: &mut Findings) {
    let claims = seen.entry.assertion.as_ref();
    let number = |name: &str| claims.and_then(|c| c.get(name)).and_then(Value::as_i64);
    let reason = seen.entry.reason.as_deref().unwrap_or_default();
    let detail = match (number("iat"), number("exp")) {
        (Some(iat), Some(exp)) if exp - iat > 60 => {
            format!(
                "the client assertion's exp is {} seconds after its iat",
                exp - iat
            )
        }
        _ if reason.contains("HelseID accepts at most 60 seconds") => reason.to_owned(),
        _ => return,
    };
    findings.record(&ASSERTION_LIFETIME, &seen.who, seen.entry, seen.at, detail);
}

/// The `kid`s of a JWKS.
fn kids(jwks: &Value) -> Vec<String> {
    jwks.get("keys")
        .and_then(Value::as_array)
        .map(|keys| keys.iter().filter_map(|k| text(k, "kid")).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::advice::testing::entry;

    fn jwks(id: u64, time: &str, kids: &[&str]) -> Entry {
        let keys: Vec<Value> = kids.iter().map(|k| json!({"kid": k})).collect();
        Entry {
            response_body: Some(json!({ "keys": keys }).to_string()),
            ..entry(id, time, "GET", JWKS, 200)
        }
    }

    fn token(id: u64, time: &str, kid: &str) -> Entry {
        Entry {
            request_body: Some("grant_type=client_credentials".to_owned()),
            issued: Some(json!({"client_id": "ehr", "kid": kid, "iat": 0, "exp": 600})),
            ..entry(id, time, "POST", TOKEN, 200)
        }
    }

    fn run(entries: &[Entry], now: &str) -> Vec<crate::advice::Finding> {
        let (mut memory, mut findings) = (Memory::default(), Findings::default());
        for e in entries {
            memory.observe(&Seen::of(e).unwrap(), &mut findings);
        }
        let now = DateTime::parse_from_rfc3339(now).unwrap().to_utc();
        memory.finish(now, &mut findings);
        findings.all()
    }

    #[test]
    fn a_key_rotation_not_followed_by_a_jwks_fetch_is_found() {
        let rotated = [
            jwks(1, "2026-03-02T10:00:00Z", &["old"]),
            token(2, "2026-03-02T10:00:01Z", "old"),
            // HelseID rotated: the next token names a key the cached JWKS lacks.
            token(3, "2026-03-02T10:20:00Z", "new"),
        ];
        assert!(run(&rotated, "2026-03-02T10:29:59Z").is_empty());
        let found = run(&rotated, "2026-03-02T10:30:00Z");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].rule, "helseid.jwks-not-refreshed");
        assert_eq!(found[0].client_id.as_deref(), Some("ehr"));
        assert_eq!(found[0].evidence[0].request, 3);
        // Fetched again after the rotation: nothing.
        let followed = [
            jwks(1, "2026-03-02T10:00:00Z", &["old"]),
            token(3, "2026-03-02T10:20:00Z", "new"),
            jwks(4, "2026-03-02T10:20:01Z", &["old", "new"]),
        ];
        assert!(run(&followed, "2026-03-02T11:00:00Z").is_empty());
        // A client that never fetched the JWKS is not this rule's concern.
        assert!(run(&rotated[1..], "2026-03-02T11:00:00Z").is_empty());
    }

    #[test]
    fn a_nonce_ignored_until_refused_is_found() {
        let client = json!({"iss": "ehr", "iat": 0, "exp": 60});
        let refused = |id: u64, time: &str| Entry {
            assertion: Some(client.clone()),
            response_body: Some(json!({"error": "use_dpop_nonce"}).to_string()),
            ..entry(id, time, "POST", TOKEN, 400)
        };
        let mut success = token(2, "2026-03-02T10:00:01Z", "k");
        success.headers.insert("dpop".to_owned(), json!(true));
        let well = [refused(1, "2026-03-02T10:00:00Z"), success.clone()];
        assert!(run(&well, "2026-03-02T10:00:02Z").is_empty());
        let mut ignored = well.to_vec();
        ignored.push(refused(3, "2026-03-02T10:04:00Z"));
        let found = run(&ignored, "2026-03-02T10:04:01Z");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].rule, "helseid.dpop-nonce-ignored");
        // A proof with the (rotated) nonce used what it was given.
        let mut stale = well.to_vec();
        let mut with_nonce = refused(3, "2026-03-02T10:04:00Z");
        with_nonce
            .headers
            .insert("dpop_nonce".to_owned(), json!(true));
        stale.push(with_nonce);
        assert!(run(&stale, "2026-03-02T10:04:01Z").is_empty());
        // After the nonce's five minutes, a refusal is expected.
        let mut expired = well.to_vec();
        expired.push(refused(3, "2026-03-02T10:06:00Z"));
        assert!(run(&expired, "2026-03-02T10:06:01Z").is_empty());
    }
}
