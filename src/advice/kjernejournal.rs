//! Kjernejournal's rules: one ticket per patient an hour, helseindikator before the portal,
//! `X-EPJ-System` naming the EHR and its version, tokens with kjernejournal as the only
//! audience.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use super::model::{Findings, Rule, Severity};
use super::{Seen, text};

/// Kjernejournal's ticket page: a ticket is valid one hour and reusable within it.
const TICKET_PAGE: &str = "https://kjernejournal.atlassian.net/wiki/pages/\
    diffpagesbyversion.action?originalVersion=6&pageId=786989408&revisedVersion=12";
/// The Innlogging flow (helseindikator, then the portal).
const INNLOGGING: &str = "https://utviklerportal.nhn.no/informasjonstjenester/\
    kjernejournal-portal/innlogging/innlogging/docs/autentiseringsflytmd/";

/// A second ticket for a patient within the hour the first is valid.
pub const TICKET_MORE_THAN_HOURLY: Rule = Rule {
    id: "kjernejournal.ticket-more-than-hourly",
    severity: Severity::Warning,
    title: "A kjernejournal ticket fetched more than once an hour for the same patient",
    source_title: "Kjernejournal API integration: a ticket is valid for one hour, and can be \
                   reused for that time",
    source_url: TICKET_PAGE,
    fix: "Keep the ticket helseindikator answered per patient and reuse it for an hour; call \
          helseindikator for a new ticket only after that (or when kjernejournal refuses it).",
};

/// The portal opened (Innlogging `session/create`) without a helseindikator call first.
pub const HELSEINDIKATOR_SKIPPED: Rule = Rule {
    id: "kjernejournal.helseindikator-skipped",
    severity: Severity::Info,
    title: "The kjernejournal portal opened for a patient without calling helseindikator first",
    source_title: "Kjernejournal Innlogging: authentication flow (helseindikator when the \
                   patient is opened, the portal from its icon)",
    source_url: INNLOGGING,
    fix: "Call helseindikator when the patient is opened in the EHR, show its icon, and open the \
          portal from it (passing its ticket to session/create).",
};

/// A kjernejournal API call without `X-EPJ-System`.
pub const EPJ_SYSTEM_MISSING: Rule = Rule {
    id: "kjernejournal.epj-system-missing",
    severity: Severity::Warning,
    title: "Kjernejournal API calls without X-EPJ-System",
    source_title: "Kjernejournal API integration: X-EPJ-System (required: which EHR system, \
                   and which version, the request originated from)",
    source_url: "https://ehelse.no/nhn:kjernejournal/kj_api",
    fix: "Send X-EPJ-System on every kjernejournal call, naming the EHR and its version, e.g. \
          'X-EPJ-System: ACME EHR system versjon 42.01'.",
};

/// An `X-EPJ-System` without a version (so it stays the same across versions).
pub const EPJ_SYSTEM_UNVERSIONED: Rule = Rule {
    id: "kjernejournal.epj-system-unversioned",
    severity: Severity::Warning,
    title: "X-EPJ-System does not name a version (it stays the same across versions)",
    source_title: "Kjernejournal API integration: X-EPJ-System (which EHR system, and which \
                   version)",
    source_url: "https://ehelse.no/nhn:kjernejournal/kj_api",
    fix: "Put the EHR's version in X-EPJ-System from the build (e.g. 'ACME EHR system versjon \
          42.01'), so that it changes with every release.",
};

/// A token with more audiences than kjernejournal's sent to kjernejournal.
pub const MULTI_AUDIENCE_TOKEN: Rule = Rule {
    id: "kjernejournal.multi-audience-token",
    severity: Severity::Warning,
    title: "One token with several audiences sent to kjernejournal",
    source_title: "Kjernejournal API integration: the APIs require access tokens with the API \
                   resource as the only audience (HelseID: requesting multiple access tokens \
                   with single audiences)",
    source_url: "https://helseid.readthedocs.io/no/latest/atlassian.net/wiki/spaces/HELSEID/\
                 pages/481755152/Requesting+multiple+access+tokens+with+single+audiences",
    fix: "Get one token per API: a token for kjernejournal with nhn:kjernejournal as its only \
          audience (a refresh_token request with that resource or scope).",
};

/// How long a kjernejournal ticket is valid.
const TICKET_LIFETIME: TimeDelta = TimeDelta::hours(1);

/// What kjernejournal's rules remember.
#[derive(Debug, Default)]
pub struct Memory {
    /// The last ticket per client, organisation and patient.
    tickets: HashMap<String, DateTime<Utc>>,
    /// The last helseindikator call per patient.
    indicators: HashMap<String, DateTime<Utc>>,
}

impl Memory {
    /// Reads one request to kjernejournal.
    pub fn observe(&mut self, seen: &Seen<'_>, findings: &mut Findings) {
        let path = seen.entry.path.as_str();
        if path.starts_with("/kjernejournal/v1/") {
            epj_system(seen, findings);
            audiences(seen, findings);
        }
        if seen.is("POST", "/kjernejournal/v1/helseindikator") && seen.entry.status == 200 {
            self.indicator(seen, findings);
        }
        if seen.is("POST", "/kjernejournal/innlogging/api/session/create")
            && seen.entry.status == 200
        {
            let fnr = seen
                .request_json()
                .and_then(|b| b.pointer("/claims/patient_identifier/id").cloned())
                .and_then(|id| id.as_str().map(str::to_owned))
                .unwrap_or_default();
            // A patient kept open for hours may open the portal long after helseindikator.
            if !self.indicators.contains_key(&fnr) {
                let detail = format!(
                    "the portal opened for patient {fnr} with no helseindikator call for the \
                     patient before"
                );
                findings.record(
                    &HELSEINDIKATOR_SKIPPED,
                    &seen.who,
                    seen.entry,
                    seen.at,
                    detail,
                );
            }
        }
    }

    fn indicator(&mut self, seen: &Seen<'_>, findings: &mut Findings) {
        let fnr = seen
            .request_json()
            .and_then(|b| text(&b, "fnr"))
            .unwrap_or_default();
        self.indicators.insert(fnr.clone(), seen.at);
        let ticket = seen
            .response_json()
            .is_some_and(|answer| answer.get("ticket").is_some());
        if !ticket {
            return;
        }
        let key = format!(
            "{}|{}|{fnr}",
            seen.who.client_id.clone().unwrap_or_default(),
            seen.who.organisation.clone().unwrap_or_default()
        );
        if let Some(last) = self.tickets.insert(key, seen.at)
            && seen.at - last < TICKET_LIFETIME
        {
            let detail = format!(
                "a new ticket for patient {fnr} {} minutes after the last one (valid an hour)",
                (seen.at - last).num_minutes()
            );
            findings.record(
                &TICKET_MORE_THAN_HOURLY,
                &seen.who,
                seen.entry,
                seen.at,
                detail,
            );
        }
    }
}

/// [`EPJ_SYSTEM_MISSING`] and [`EPJ_SYSTEM_UNVERSIONED`].
fn epj_system(seen: &Seen<'_>, findings: &mut Findings) {
    match seen
        .entry
        .headers
        .get("x-epj-system")
        .and_then(Value::as_str)
    {
        None => findings.record(
            &EPJ_SYSTEM_MISSING,
            &seen.who,
            seen.entry,
            seen.at,
            "no X-EPJ-System header".to_owned(),
        ),
        Some(system) if !system.bytes().any(|b| b.is_ascii_digit()) => findings.record(
            &EPJ_SYSTEM_UNVERSIONED,
            &seen.who,
            seen.entry,
            seen.at,
            format!("X-EPJ-System: {system} (no version number)"),
        ),
        Some(_) => {}
    }
}

/// [`MULTI_AUDIENCE_TOKEN`].
fn audiences(seen: &Seen<'_>, findings: &mut Findings) {
    if let Some(Value::Array(audiences)) = seen.token_claim("aud")
        && audiences.len() > 1
    {
        let list: Vec<String> = audiences.iter().map(Value::to_string).collect();
        let detail = format!("the token's audiences: {}", list.join(", "));
        findings.record(
            &MULTI_AUDIENCE_TOKEN,
            &seen.who,
            seen.entry,
            seen.at,
            detail,
        );
    }
}
