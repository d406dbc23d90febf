//! SFM's rules: one patient ticket per user and patient, reused (SFM's patient-ticket guide);
//! `$sendMedication` on a fresh `$getMedication`, with every PLL entry, and after a refusal
//! only after a new lookup (SFM Basis, `$sendMedication`).

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use super::model::{Findings, Rule, Severity};
use super::{Seen, text};

const SEND_MEDICATION: &str =
    "https://simplifier.net/guide/SFMAPIBasis/sendMedication?version=current";

/// A new patient ticket for a user and patient that already has a valid one.
pub const TICKET_PER_CALL: Rule = Rule {
    id: "sfm.ticket-per-call",
    severity: Severity::Warning,
    title: "A new SFM patient ticket while the user's ticket for the patient is still valid",
    source_title: "SFM: using the SFM patient ticket (one per user and patient, reused for the \
                   session; do not fetch one per Datadeling call)",
    source_url: "https://simplifier.net/guide/SFMAPIDatadeling/UsingSFMpatientticket?\
                 version=current",
    fix: "Keep the patient ticket per user and patient for the user's session and reuse it for \
          every call (its lifetime slides with use); fetch a new one only when SFM refuses it.",
};

/// `$sendMedication` on a lookup more than three and a half hours old, or refused for the
/// four-hour rule.
pub const SEND_WITHOUT_FRESH_LOOKUP: Rule = Rule {
    id: "sfm.send-without-fresh-lookup",
    severity: Severity::Warning,
    title: "$sendMedication without a fresh $getMedication (the four-hour rule, at its edge)",
    source_title: "SFM Basis: $sendMedication (the latest lookup in Reseptformidleren at most \
                   four hours old)",
    source_url: SEND_MEDICATION,
    fix: "Call $getMedication when the prescriber starts working on the patient's medication, \
          and again before sending if that was more than a few hours ago.",
};

/// `$sendMedication` refused because a PLL did not carry every entry.
pub const PLL_INCOMPLETE: Rule = Rule {
    id: "sfm.pll-incomplete",
    severity: Severity::Warning,
    title: "A PLL sent without all its entries",
    source_title: "SFM Basis: $sendMedication (a PLL carries every PLL entry of the lookup)",
    source_url: SEND_MEDICATION,
    fix: "Send the whole PLL: every MedicationStatement of the patient's list from the latest \
          $getMedication, changed or not.",
};

/// The same `$sendMedication` again after a refusal, without a new lookup.
pub const SEND_RETRIED_AFTER_422: Rule = Rule {
    id: "sfm.send-retried-after-422",
    severity: Severity::Warning,
    title: "$sendMedication retried after a refusal without a new $getMedication",
    source_title: "SFM Basis: $sendMedication (after a refused send, call $getMedication again)",
    source_url: SEND_MEDICATION,
    fix: "After a 422 from $sendMedication, call $getMedication again and build the send from \
          its answer; do not resend the same Bundle.",
};

/// How old the last lookup may be at a send before the advisor calls it the edge.
const FRESH: TimeDelta = TimeDelta::minutes(210);
/// How long an SFM patient ticket is valid without use.
const TICKET_LIFETIME: TimeDelta = TimeDelta::minutes(60);

/// What SFM's rules remember.
#[derive(Debug, Default)]
pub struct Memory {
    /// The last ticket per client, user, instance and patient: when, and the user's SFM calls
    /// until then.
    tickets: HashMap<String, (DateTime<Utc>, u64)>,
    /// How many SFM calls (other than for tickets) each client, user and instance made.
    calls: HashMap<String, u64>,
    /// The last `$getMedication` per client, user and instance.
    lookups: HashMap<String, DateTime<Utc>>,
    /// The last refused `$sendMedication` body per client, user and instance.
    refused: HashMap<String, String>,
}

impl Memory {
    /// Reads one request to SFM.
    pub fn observe(&mut self, seen: &Seen<'_>, findings: &mut Findings) {
        let user = self::user(seen);
        let path = seen.entry.path.as_str();
        if seen.is("POST", "/sfm/api/PatientTicket") {
            if seen.entry.status == 200 {
                self.ticket(&user, seen, findings);
            }
            return;
        }
        *self.calls.entry(user.clone()).or_default() += 1;
        if seen.entry.method == "POST" && is_operation(path, "getMedication") {
            if seen.entry.status == 200 {
                self.lookups.insert(user.clone(), seen.at);
                self.refused.remove(&user);
            }
        } else if seen.entry.method == "POST" && is_operation(path, "sendMedication") {
            self.send(&user, seen, findings);
        }
    }

    /// [`TICKET_PER_CALL`]: a ticket again within its lifetime, after calls with the last.
    fn ticket(&mut self, user: &str, seen: &Seen<'_>, findings: &mut Findings) {
        let patient = seen
            .request_json()
            .and_then(|body| text(&body, "patientPid"))
            .unwrap_or_default();
        let patient = patient.trim();
        let calls = self.calls.get(user).copied().unwrap_or_default();
        let last = self
            .tickets
            .insert(format!("{user}|{patient}"), (seen.at, calls));
        if let Some((at, calls_then)) = last
            && seen.at - at < TICKET_LIFETIME
            && calls > calls_then
        {
            let detail = format!(
                "a new ticket for patient {patient} {} seconds after the last one, with {} \
                 SFM call(s) in between",
                (seen.at - at).num_seconds(),
                calls - calls_then
            );
            findings.record(&TICKET_PER_CALL, &seen.who, seen.entry, seen.at, detail);
        }
    }

    fn send(&mut self, user: &str, seen: &Seen<'_>, findings: &mut Findings) {
        let body = seen.entry.request_body.clone().unwrap_or_default();
        let record = |findings: &mut Findings, rule: &Rule, detail: String| {
            findings.record(rule, &seen.who, seen.entry, seen.at, detail);
        };
        if seen.entry.status == 200 {
            if let Some(last) = self.lookups.get(user)
                && seen.at - *last > FRESH
            {
                let age = seen.at - *last;
                let detail = format!(
                    "sent {} h {} min after the user's last $getMedication",
                    age.num_hours(),
                    age.num_minutes() % 60
                );
                record(findings, &SEND_WITHOUT_FRESH_LOOKUP, detail);
            }
            return;
        }
        let codes = rule_codes(seen.response_json().as_ref());
        let reason = seen.entry.reason.clone().unwrap_or_default();
        if codes.iter().any(|c| c == "lookup-threshold") {
            record(findings, &SEND_WITHOUT_FRESH_LOOKUP, reason.clone());
        }
        if codes
            .iter()
            .any(|c| c == "pll-complete" || c == "pll-statements")
        {
            record(findings, &PLL_INCOMPLETE, reason.clone());
        }
        let same_again = self.refused.get(user).is_some_and(|last| *last == body);
        if codes.iter().any(|c| c == "new-lookup-after-error") || same_again {
            record(findings, &SEND_RETRIED_AFTER_422, reason);
        }
        if seen.entry.status == 422 {
            self.refused.insert(user.to_owned(), body);
        }
    }
}

/// The client, user and SFM instance (or organisation) of a request.
fn user(seen: &Seen<'_>) -> String {
    let claim = |name: &str| {
        seen.token_claim(name)
            .map(Value::to_string)
            .unwrap_or_default()
    };
    format!(
        "{}|{}|{}|{}",
        claim("client_id"),
        claim("pid"),
        claim("journal_id"),
        seen.who.organisation.clone().unwrap_or_default()
    )
}

/// Whether `path` is the FHIR operation `$name` (raw or percent-encoded).
fn is_operation(path: &str, name: &str) -> bool {
    let path = path.split('?').next().unwrap_or_default();
    path.starts_with("/sfm/fhir/")
        && (path.ends_with(&format!("${name}")) || path.ends_with(&format!("%24{name}")))
}

/// The rule codes of an OperationOutcome's issues (`issue[].details.coding[].code`).
fn rule_codes(outcome: Option<&Value>) -> Vec<String> {
    outcome
        .and_then(|o| o.get("issue"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|issue| issue.pointer("/details/coding"))
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|coding| text(coding, "code"))
        .collect()
}
