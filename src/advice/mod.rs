//! The integration advisor: from the request journal, helsesim tells an EHR what the real
//! services' documentation forbids or discourages — a new token per call, uncached discovery,
//! a new ticket per call, a missing `X-EPJ-System`, `Retry-After` ignored... — each finding
//! with the rule's public source, the requests that show it and how to fix it.
//!
//! Nothing happens on the request path: the journal keeps a few more facts per request (see
//! [`crate::journal::Entry`]), and the advisor digests the entries it has not seen when advice
//! is read (`GET /_admin/advice`, the state document, a reset that keeps advice). What the
//! journal's ring dropped before that is not seen.

mod helseid;
mod http;
mod kjernejournal;
pub mod model;
mod sfm;

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::journal::{Entry, Journal};
pub use model::{Evidence, Finding, Findings, Rule, Severity, Source, Who};

/// Every rule the advisor applies.
pub const RULES: [&Rule; 16] = [
    &helseid::TOKEN_NOT_REUSED,
    &helseid::DISCOVERY_NOT_CACHED,
    &helseid::JWKS_NOT_REFRESHED,
    &helseid::ASSERTION_LIFETIME,
    &helseid::REFRESH_TOKEN_REUSED,
    &helseid::DPOP_NONCE_IGNORED,
    &sfm::TICKET_PER_CALL,
    &sfm::SEND_WITHOUT_FRESH_LOOKUP,
    &sfm::PLL_INCOMPLETE,
    &sfm::SEND_RETRIED_AFTER_422,
    &kjernejournal::TICKET_MORE_THAN_HOURLY,
    &kjernejournal::HELSEINDIKATOR_SKIPPED,
    &kjernejournal::EPJ_SYSTEM_MISSING,
    &kjernejournal::EPJ_SYSTEM_UNVERSIONED,
    &kjernejournal::MULTI_AUDIENCE_TOKEN,
    &http::RETRY_AFTER_IGNORED,
];

/// The advisor: its findings, what the rules remember, and how far it has read the journal.
#[derive(Debug, Default)]
pub struct Advisor {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// The id of the last journal entry digested.
    cursor: u64,
    findings: Findings,
    memory: Memory,
}

/// What the rules remember between requests.
#[derive(Debug, Default)]
struct Memory {
    helseid: helseid::Memory,
    sfm: sfm::Memory,
    kjernejournal: kjernejournal::Memory,
    http: http::Memory,
}

/// A journal entry as the rules read it: the entry, its time and who sent it.
#[derive(Debug)]
pub struct Seen<'a> {
    /// The entry.
    pub entry: &'a Entry,
    /// When it came.
    pub at: DateTime<Utc>,
    /// The client and organisation its token (or client assertion) names.
    pub who: Who,
}

impl<'a> Seen<'a> {
    /// Reads an entry (`None` when its time cannot be read).
    pub fn of(entry: &'a Entry) -> Option<Self> {
        let at = DateTime::parse_from_rfc3339(&entry.time).ok()?.to_utc();
        let claims = entry.token.as_ref().or(entry.issued.as_ref());
        let client_id = claims
            .and_then(|c| text(c, "client_id"))
            .or_else(|| entry.assertion.as_ref().and_then(|a| text(a, "iss")));
        let organisation =
            claims.and_then(|c| text(c, "orgnr_child").or_else(|| text(c, "orgnr_parent")));
        Some(Self {
            entry,
            at,
            who: Who {
                client_id,
                organisation,
            },
        })
    }

    /// Whether it is `method` to a path starting with `prefix`.
    pub fn is(&self, method: &str, prefix: &str) -> bool {
        self.entry.method == method && self.entry.path.starts_with(prefix)
    }

    /// The request body as a form.
    pub fn form(&self) -> HashMap<String, String> {
        let body = self.entry.request_body.as_deref().unwrap_or_default();
        url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect()
    }

    /// The request body as JSON.
    pub fn request_json(&self) -> Option<Value> {
        serde_json::from_str(self.entry.request_body.as_deref()?).ok()
    }

    /// The response body as JSON.
    pub fn response_json(&self) -> Option<Value> {
        serde_json::from_str(self.entry.response_body.as_deref()?).ok()
    }

    /// A claim of the request's token.
    pub fn token_claim(&self, name: &str) -> Option<&Value> {
        self.entry.token.as_ref()?.get(name)
    }
}

/// A string member of a JSON object.
pub fn text(value: &Value, name: &str) -> Option<String> {
    value.get(name)?.as_str().map(str::to_owned)
}

impl Advisor {
    /// Digests the journal's new entries and answers every finding.
    pub fn findings(&self, journal: &Journal, now: DateTime<Utc>) -> Vec<Finding> {
        let mut inner = self.lock();
        inner.digest(journal, now);
        inner.findings.all()
    }

    /// Forgets every finding and what the rules remember; what the journal holds now is not
    /// digested.
    pub fn clear(&self, journal: &Journal) {
        *self.lock() = Inner {
            cursor: journal.last_id(),
            ..Inner::default()
        };
    }

    /// Replaces the findings with a state document's; what the journal holds now is not
    /// digested.
    pub fn import(&self, findings: Vec<Finding>, journal: &Journal) {
        let mut inner = self.lock();
        *inner = Inner {
            cursor: journal.last_id(),
            ..Inner::default()
        };
        inner.findings.replace(findings);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    fn digest(&mut self, journal: &Journal, now: DateTime<Utc>) {
        for entry in journal.since(self.cursor) {
            self.cursor = self.cursor.max(entry.id);
            if let Some(seen) = Seen::of(&entry) {
                self.observe(&seen);
            }
        }
        self.memory.helseid.finish(now, &mut self.findings);
    }

    fn observe(&mut self, seen: &Seen<'_>) {
        let (memory, findings) = (&mut self.memory, &mut self.findings);
        match seen.entry.service {
            "helseid" => memory.helseid.observe(seen, findings),
            "sfm" => memory.sfm.observe(seen, findings),
            "kjernejournal" => memory.kjernejournal.observe(seen, findings),
            _ => {}
        }
        memory.http.observe(seen, findings);
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Journal entries for the rules' unit tests.

    use crate::journal::Entry;

    /// An entry of `service` for `method path` at `time` answered with `status`.
    pub fn entry(id: u64, time: &str, method: &str, path: &str, status: u16) -> Entry {
        Entry {
            id,
            time: time.to_owned(),
            service: crate::service::label_of(path),
            method: method.to_owned(),
            path: path.to_owned(),
            status,
            ..Entry::default()
        }
    }
}
