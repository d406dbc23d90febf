//! The advisor's findings: what a rule saw a client do, with the rule's public source, the
//! newest requests that show it and how to fix it.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::journal::Entry;

/// How many requests a finding keeps as evidence (the newest).
pub const KEPT_EVIDENCE: usize = 5;

/// How serious a finding is: `warning` (the documentation forbids it) or `info` (discourages).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The documentation discourages it.
    Info,
    /// The documentation forbids it, or it breaks the integration.
    Warning,
}

impl Severity {
    /// `warning` or `info`.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "warning" => Some(Self::Warning),
            "info" => Some(Self::Info),
            _ => None,
        }
    }
}

/// A rule's fixed facts.
#[derive(Debug)]
pub struct Rule {
    /// The stable id (`helseid.token-not-reused`).
    pub id: &'static str,
    /// How serious.
    pub severity: Severity,
    /// What the client does, in a line.
    pub title: &'static str,
    /// The public page or spec the rule comes from: its title.
    pub source_title: &'static str,
    /// ... and its address.
    pub source_url: &'static str,
    /// How to fix it.
    pub fix: &'static str,
}

/// Where a rule comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The page's or spec's title.
    pub title: String,
    /// Its address.
    pub url: String,
}

/// One request that shows a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// The request's id in the journal (`GET /_admin/requests`).
    pub request: u64,
    /// When it came.
    pub time: String,
    /// Its method.
    pub method: String,
    /// Its path (secrets redacted).
    pub path: String,
    /// What about it the rule objects to.
    pub detail: String,
}

/// What one rule saw one client (in one organisation) do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// The rule's stable id.
    pub rule: String,
    /// How serious.
    pub severity: Severity,
    /// What the client does.
    pub title: String,
    /// The HelseID client, when the requests name one.
    pub client_id: Option<String>,
    /// The organisation number, when the requests name one.
    pub organisation: Option<String>,
    /// Where the rule comes from.
    pub source: Source,
    /// The newest requests that show it (at most five), newest first.
    pub evidence: Vec<Evidence>,
    /// How many times it was seen.
    pub count: u64,
    /// When it was first seen.
    pub first_seen: String,
    /// When it was last seen.
    pub last_seen: String,
    /// How to fix it.
    pub fix: String,
}

/// Who did it: the client and its organisation, as far as the requests tell.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Who {
    /// The HelseID client.
    pub client_id: Option<String>,
    /// The organisation number (the child organisation when there is one).
    pub organisation: Option<String>,
}

/// The findings, one per rule, client and organisation.
#[derive(Debug, Default)]
pub struct Findings {
    by_key: BTreeMap<(String, Who), Finding>,
}

impl Findings {
    /// Records that `rule` saw `who` do it in `entry` at `at`.
    pub fn record(
        &mut self,
        rule: &Rule,
        who: &Who,
        entry: &Entry,
        at: DateTime<Utc>,
        detail: String,
    ) {
        let time = at.to_rfc3339_opts(SecondsFormat::Millis, true);
        let finding = self
            .by_key
            .entry((rule.id.to_owned(), who.clone()))
            .or_insert_with(|| Finding {
                rule: rule.id.to_owned(),
                severity: rule.severity,
                title: rule.title.to_owned(),
                client_id: who.client_id.clone(),
                organisation: who.organisation.clone(),
                source: Source {
                    title: rule.source_title.to_owned(),
                    url: rule.source_url.to_owned(),
                },
                evidence: Vec::new(),
                count: 0,
                first_seen: time.clone(),
                last_seen: time.clone(),
                fix: rule.fix.to_owned(),
            });
        finding.count += 1;
        finding.last_seen = time;
        finding.evidence.insert(
            0,
            Evidence {
                request: entry.id,
                time: entry.time.clone(),
                method: entry.method.clone(),
                path: entry.path.clone(),
                detail,
            },
        );
        finding.evidence.truncate(KEPT_EVIDENCE);
    }

    /// Every finding: warnings first, then the most recently seen.
    pub fn all(&self) -> Vec<Finding> {
        let mut all: Vec<Finding> = self.by_key.values().cloned().collect();
        all.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| b.last_seen.cmp(&a.last_seen))
                .then_with(|| a.rule.cmp(&b.rule))
        });
        all
    }

    /// Replaces every finding with `findings` (a state document's).
    pub fn replace(&mut self, findings: Vec<Finding>) {
        self.by_key = findings
            .into_iter()
            .map(|f| {
                let who = Who {
                    client_id: f.client_id.clone(),
                    organisation: f.organisation.clone(),
                };
                ((f.rule.clone(), who), f)
            })
            .collect();
    }
}
