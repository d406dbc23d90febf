//! The rule for every service: after a 429 or 503 with `Retry-After`, wait that long.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use super::Seen;
use super::model::{Findings, Rule, Severity, Who};

/// A request sooner than a 429 or 503 answer's `Retry-After` allowed.
pub const RETRY_AFTER_IGNORED: Rule = Rule {
    id: "http.retry-after-ignored",
    severity: Severity::Warning,
    title: "Requests sent again before the Retry-After of a 429 or 503 answer",
    source_title: "SFM API usage guidelines (retry a limited number of times, with waits \
                   between); RFC 9110 section 10.2.3 (Retry-After)",
    source_url: "https://utviklerportal.nhn.no/informasjonstjenester/sentral-forskrivningsmodul/\
                 sfm-full/sfm-full-guide/docs/technical-documentation-sfm-full/\
                 api-usage-guidelines",
    fix: "After a 429 or 503, wait at least the Retry-After the answer gives (seconds or a date) \
          before calling the service again, and back off when it repeats.",
};

/// What the rule remembers.
#[derive(Debug, Default)]
pub struct Memory {
    /// Per client and service: not before this time, and the answer that said so.
    waits: HashMap<(Who, &'static str), (DateTime<Utc>, u64)>,
}

impl Memory {
    /// Reads one request to any service.
    pub fn observe(&mut self, seen: &Seen<'_>, findings: &mut Findings) {
        let key = (seen.who.clone(), seen.entry.service);
        if let Some((until, answer)) = self.waits.get(&key).copied() {
            if seen.at < until {
                let detail = format!(
                    "sent {} seconds before the Retry-After of request {answer} allowed",
                    (until - seen.at).num_seconds().max(1)
                );
                findings.record(&RETRY_AFTER_IGNORED, &seen.who, seen.entry, seen.at, detail);
            }
            self.waits.remove(&key);
        }
        if matches!(seen.entry.status, 429 | 503)
            && let Some(wait) = seen
                .entry
                .headers
                .get("retry-after")
                .and_then(Value::as_str)
            && let Some(until) = retry_at(wait, seen.at)
        {
            self.waits.insert(key, (until, seen.entry.id));
        }
    }
}

/// When a `Retry-After` (seconds or an HTTP date) given at `at` allows the next request.
fn retry_at(value: &str, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<i64>() {
        return Some(crate::clock::after(at, TimeDelta::seconds(seconds)));
    }
    DateTime::parse_from_rfc2822(value).ok().map(|d| d.to_utc())
}
