//! `$sendMedication`'s validation rules, as one pure function of what was sent and the latest
//! lookup: the spec's "Bundle validation" (rules 1–6) and the rules of the SFM Basis guide's
//! `$sendMedication` page the spec leaves out (7–10, each quoting the guide). Every violation is
//! its own OperationOutcome issue, naming the rule (`details`) and the offending entry; all are
//! reported at once.

use std::collections::BTreeSet;

use chrono::{DateTime, Months, Utc};

use super::lookup::{LOOKUP_THRESHOLD, Lookup, Required, Requirement, Superseded};
use crate::errors::fhir::Issue;

/// The code system of helsesim's rule codes in `issue.details`.
pub const RULE_SYSTEM: &str = "urn:helsesim:sfm:send-medication-rule";

/// Where the Composition sits in a `$sendMedication` body.
const COMPOSITION: &str = "Parameters.parameter[0].resource.entry[0].resource";

/// The rules, with their codes and names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// 1: the latest RF lookup is at most 4 hours old.
    LookupThreshold,
    /// 2: `relatesTo` names the latest `$getMedication`'s composition identifier.
    CompositionIdentifier,
    /// 3: a PLL carries every PLL entry of the lookup (with the spec's exceptions).
    PllComplete,
    /// 4: every active prescription of the lookup is carried.
    ActivePrescriptions,
    /// 5: what earlier sends (on the same lookup) added is still carried.
    PreviousSend,
    /// 6: a multidose doctor's organisation needs a new lookup between sends.
    MultidoseNewLookup,
    /// 7 (guide): every statement of the lookup is referenced, as a statement or in recallinfo.
    AllStatements,
    /// 8 (guide): every head-of-chain prescription of the lookup is returned.
    HeadOfChain,
    /// 9 (guide): every PLL statement is returned, also without a new PLL.
    PllStatements,
    /// 10 (guide): after a refused send, a new `$getMedication`.
    NewLookupAfterError,
}

/// The SFM Basis guide's `$sendMedication` page, quoted by rules 7–10.
const GUIDE: &str = "SFM Basis guide, $sendMedication";

impl Rule {
    /// The code in `issue.details`.
    pub fn code(self) -> &'static str {
        match self {
            Rule::LookupThreshold => "lookup-threshold",
            Rule::CompositionIdentifier => "composition-identifier",
            Rule::PllComplete => "pll-complete",
            Rule::ActivePrescriptions => "active-prescriptions",
            Rule::PreviousSend => "previous-send",
            Rule::MultidoseNewLookup => "multidose-new-lookup",
            Rule::AllStatements => "all-statements",
            Rule::HeadOfChain => "head-of-chain",
            Rule::PllStatements => "pll-statements",
            Rule::NewLookupAfterError => "new-lookup-after-error",
        }
    }

    /// How the rule is named in messages.
    pub fn title(self) -> &'static str {
        match self {
            Rule::LookupThreshold => "Rule 1 (lookup threshold)",
            Rule::CompositionIdentifier => "Rule 2 (composition identifier)",
            Rule::PllComplete => "Rule 3 (all PLL entries)",
            Rule::ActivePrescriptions => "Rule 4 (active prescriptions)",
            Rule::PreviousSend => "Rule 5 (previous send)",
            Rule::MultidoseNewLookup => "Rule 6 (multidose doctor)",
            Rule::AllStatements => "Rule 7 (every statement referenced)",
            Rule::HeadOfChain => "Rule 8 (every head of chain)",
            Rule::PllStatements => "Rule 9 (every PLL statement)",
            Rule::NewLookupAfterError => "Rule 10 (new lookup after an error)",
        }
    }

    fn issue(self, message: impl AsRef<str>) -> Issue {
        Issue::error(
            "business-rule",
            format!("{}: {}", self.title(), message.as_ref()),
        )
        .with_details(RULE_SYSTEM, self.code(), self.title())
    }
}

/// The Composition's `relatesTo` as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelatesTo {
    /// `relatesTo.code`.
    pub code: Option<String>,
    /// `relatesTo.targetIdentifier.value`.
    pub target: Option<String>,
    /// Its index (after normalising the spec's single-object form to a list).
    pub index: usize,
}

/// What a `$sendMedication` carries, as the rules see it.
#[derive(Debug, Clone)]
pub struct Send<'a> {
    /// When it arrived.
    pub now: DateTime<Utc>,
    /// The sender.
    pub user_pid: &'a str,
    /// The patient key.
    pub patient_key: &'a str,
    /// Whether the patient has a fødselsnummer or D-nummer.
    pub national_id: bool,
    /// The Composition's relatesTo (the one with code `replaces`, else the first).
    pub relates_to: Option<RelatesTo>,
    /// Whether a PLL is to be created.
    pub create_pll: bool,
    /// The ReseptIds of the MedicationStatements sent.
    pub prescriptions: &'a BTreeSet<String>,
    /// The ReseptIds the sent statements' recallinfo names (a reference too, says the guide).
    pub recalled: &'a BTreeSet<String>,
    /// The PLL ids of the MedicationStatements sent.
    pub pll_ids: &'a BTreeSet<String>,
    /// The sender's organisation is a multidose doctor's.
    pub multidose_doctor: bool,
}

/// What the tenant knows of lookups, for rule 2's messages.
#[derive(Debug, Clone, Copy, Default)]
pub struct History<'a> {
    /// The lookup that the sent identifier names, if a newer one replaced it.
    pub superseded: Option<&'a Superseded>,
    /// Whose latest lookup the sent identifier is, if someone's (user pid, patient key).
    pub owner: Option<(&'a str, &'a str)>,
}

/// Checks every rule; an empty list means the send may go.
pub fn check(send: &Send<'_>, lookup: Option<&Lookup>, history: History<'_>) -> Vec<Issue> {
    let mut issues = Vec::new();
    lookup_threshold(send, lookup, &mut issues);
    composition_identifier(send, lookup, history, &mut issues);
    if let Some(lookup) = lookup {
        if let Some(at) = lookup.refused_send {
            issues.push(Rule::NewLookupAfterError.issue(format!(
                "a $sendMedication based on the $getMedication of {} was refused at {}, and \"if \
                 EPJ do not receive response from SFM or SFM respond with operationOutcome (error) \
                 the EPJ need to send a new getMedication\" ({GUIDE}): call $getMedication again",
                lookup.at.to_rfc3339(),
                at.to_rfc3339()
            )));
        }
        for requirement in &lookup.requirements {
            if let Some(issue) = missing(send, requirement) {
                issues.push(issue);
            }
        }
        if send.multidose_doctor && !lookup.sends.is_empty() {
            let last = lookup
                .sends
                .last()
                .map(|t| t.to_rfc3339())
                .unwrap_or_default();
            issues.push(Rule::MultidoseNewLookup.issue(format!(
                "this organisation is a multidose doctor's, and a $sendMedication based on the \
                 $getMedication of {} was already made (at {last}): call $getMedication again \
                 before each send",
                lookup.at.to_rfc3339()
            )));
        }
    }
    issues
}

fn lookup_threshold(send: &Send<'_>, lookup: Option<&Lookup>, issues: &mut Vec<Issue>) {
    if !send.national_id {
        // The spec's exception: no threshold for a patient without fødselsnummer or D-nummer.
        return;
    }
    match lookup.map(|l| (l, l.rf_at)) {
        None => issues.push(Rule::LookupThreshold.issue(
            "there is no $getMedication by this user for this patient: call $getMedication (with a \
             lookup in Reseptformidleren) first",
        )),
        Some((l, None)) if l.rf_failed => issues.push(Rule::LookupThreshold.issue(format!(
            "the latest $getMedication (composition {}) got no answer from Reseptformidleren \
             (RFM96Feilkode or RFM912Feilkode not 0): call $getMedication again",
            l.composition_id
        ))),
        Some((l, None)) => issues.push(Rule::LookupThreshold.issue(format!(
            "the latest $getMedication (composition {}) made no lookup in Reseptformidleren: call \
             $getMedication again",
            l.composition_id
        ))),
        Some((_, Some(rf_at))) => {
            let age = send.now - rf_at;
            if age > LOOKUP_THRESHOLD {
                issues.push(Rule::LookupThreshold.issue(format!(
                    "the latest lookup in Reseptformidleren was at {}, {} ago; $sendMedication \
                     needs one at most 4 hours old: call $getMedication again",
                    rf_at.to_rfc3339(),
                    describe(age)
                )));
            }
        }
    }
}

fn composition_identifier(
    send: &Send<'_>,
    lookup: Option<&Lookup>,
    history: History<'_>,
    issues: &mut Vec<Issue>,
) {
    let Some(relates_to) = &send.relates_to else {
        issues.push(
            Rule::CompositionIdentifier
                .issue(
                    "the Composition has no relatesTo: add {\"code\": \"replaces\", \
                     \"targetIdentifier\": {\"value\": <the $getMedication Composition's \
                     identifier.value>}}",
                )
                .at(format!("{COMPOSITION}.relatesTo")),
        );
        return;
    };
    let at = format!("{COMPOSITION}.relatesTo[{}]", relates_to.index);
    if relates_to.code.as_deref() != Some("replaces") {
        issues.push(
            Rule::CompositionIdentifier
                .issue(format!(
                    "relatesTo.code must be 'replaces', not {}",
                    relates_to
                        .code
                        .as_deref()
                        .map_or("absent".to_owned(), |c| format!("'{c}'"))
                ))
                .at(format!("{at}.code")),
        );
    }
    let Some(target) = relates_to.target.as_deref() else {
        issues.push(
            Rule::CompositionIdentifier
                .issue(
                    "relatesTo has no targetIdentifier.value: it must be the $getMedication \
                     Composition's identifier.value",
                )
                .at(format!("{at}.targetIdentifier")),
        );
        return;
    };
    if lookup.is_some_and(|l| l.composition_id == target) {
        return;
    }
    let message = match (history.superseded, history.owner) {
        (Some(s), _) if s.user_pid == send.user_pid && s.patient_key == send.patient_key => {
            format!(
                "'{target}' names a $getMedication that the newer one of {} (composition {}) \
                 superseded: target the latest $getMedication",
                s.at.to_rfc3339(),
                s.by
            )
        }
        (_, Some(_)) | (Some(_), _) => format!(
            "'{target}' is the composition identifier of another user's or another patient's \
             $getMedication: target your latest $getMedication for this patient"
        ),
        (None, None) => format!(
            "'{target}' is not the composition identifier of any $getMedication by this user for \
             this patient{}",
            lookup.map_or(String::new(), |l| format!(
                " (the latest is {})",
                l.composition_id
            ))
        ),
    };
    issues.push(
        Rule::CompositionIdentifier
            .issue(message)
            .at(format!("{at}.targetIdentifier.value")),
    );
}

/// The issue for a requirement the send does not carry, if any. A prescription is referenced
/// by a statement with its ReseptId or by a statement's recallinfo; a PLL entry or another
/// statement by its PLL id. Statements discontinued more than 3 months ago (and entered-in-error
/// ones, which the lookup does not require) are exempt, as the spec exempts them from the PLL.
fn missing(send: &Send<'_>, r: &Requirement) -> Option<Issue> {
    let entries = "Parameters.parameter[0].resource.entry";
    let referenced = match r.what {
        Required::Prescription => {
            send.prescriptions.contains(&r.id) || send.recalled.contains(&r.id)
        }
        Required::PllEntry | Required::Statement => send.pll_ids.contains(&r.id),
    };
    if referenced {
        return None;
    }
    let active = r.rf_status.is_some_and(|s| s.is_active());
    let three_months_ago = send.now.checked_sub_months(Months::new(3))?;
    if !active && r.discontinued_at.is_some_and(|t| t < three_months_ago) {
        return None;
    }
    let (what, id_name) = match r.what {
        Required::Prescription => ("prescription", "ReseptId"),
        Required::PllEntry => ("PLL entry", "PLL id"),
        Required::Statement => ("statement", "PLL id"),
    };
    if let Some(at) = r.added_by_send {
        return Some(
            Rule::PreviousSend
                .issue(format!(
                    "the {what} '{}' ({id_name} {}) that the $sendMedication of {} sent is \
                     missing: later sends on the same $getMedication must keep what earlier ones \
                     added",
                    r.display,
                    r.id,
                    at.to_rfc3339()
                ))
                .at(entries),
        );
    }
    let issue = match r.what {
        Required::Prescription if active => Rule::ActivePrescriptions.issue(format!(
            "the {} prescription '{}' (ReseptId {}) from $getMedication is missing: every \
             Ekspederbar and UnderEkspedering prescription must be sent back, as a \
             MedicationStatement (with recallinfo to withdraw it)",
            r.rf_status.map_or("active", |s| s.name()),
            r.display,
            r.id
        )),
        Required::Prescription => Rule::HeadOfChain.issue(format!(
            "the prescription '{}' (ReseptId {}{}) that $getMedication delivered as head of chain \
             is missing: \"All head of chain delivered in last lookup ($getMedication) are \
             represented in the bundle\" ({GUIDE})",
            r.display,
            r.id,
            r.rf_status
                .map_or(String::new(), |s| format!(", {}", s.name()))
        )),
        Required::PllEntry if send.create_pll => Rule::PllComplete.issue(format!(
            "the PLL entry '{}' (PLL id {}) from $getMedication is missing: a new PLL (createPLL \
             true) must carry every PLL entry except those discontinued more than 3 months ago and \
             those entered-in-error",
            r.display, r.id
        )),
        Required::PllEntry => Rule::PllStatements.issue(format!(
            "the PLL entry '{}' (PLL id {}) from $getMedication is missing, though no new PLL is \
             sent: \"any sfm-MedicationStatement identified as part of PLL shall be returned\" \
             (SFM Basis guide, Populating $sendMedication)",
            r.display, r.id
        )),
        Required::Statement => Rule::AllStatements.issue(format!(
            "the statement '{}' (PLL id {}) from $getMedication is missing: \"All \
             medicationStatements represented in getMedication/latest sendMedication must be \
             referred within sendMedication, either as medicationStatement or within recall-info\" \
             ({GUIDE})",
            r.display, r.id
        )),
    };
    Some(issue.at(entries))
}

/// "4 hours 1 minute".
fn describe(age: chrono::TimeDelta) -> String {
    let minutes = age.num_minutes();
    let (h, m) = (minutes / 60, minutes % 60);
    let unit = |n: i64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    match (h, m) {
        (0, m) => unit(m, "minute", "minutes"),
        (h, 0) => unit(h, "hour", "hours"),
        (h, m) => format!(
            "{} {}",
            unit(h, "hour", "hours"),
            unit(m, "minute", "minutes")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::national::RfStatus;
    use chrono::TimeDelta;

    use crate::sfm::medication::tests::t0;

    fn lookup() -> Lookup {
        Lookup {
            composition_id: "comp-1".to_owned(),
            at: t0(),
            rf_at: Some(t0()),
            rf_failed: false,
            patient_key: "12050050295".to_owned(),
            national_id: true,
            requirements: vec![
                Requirement {
                    what: Required::Prescription,
                    id: "r-1".to_owned(),
                    display: "Atorvastatin".to_owned(),
                    rf_status: Some(RfStatus::Ekspederbar),
                    discontinued_at: None,
                    added_by_send: None,
                },
                Requirement {
                    what: Required::PllEntry,
                    id: "p-1".to_owned(),
                    display: "Metformin".to_owned(),
                    rf_status: None,
                    discontinued_at: None,
                    added_by_send: None,
                },
                Requirement {
                    what: Required::PllEntry,
                    id: "p-old".to_owned(),
                    display: "Ibux".to_owned(),
                    rf_status: None,
                    discontinued_at: Some(t0() - TimeDelta::days(100)),
                    added_by_send: None,
                },
            ],
            sends: Vec::new(),
            refused_send: None,
        }
    }

    struct Sent {
        prescriptions: BTreeSet<String>,
        recalled: BTreeSet<String>,
        pll_ids: BTreeSet<String>,
    }

    fn sent(prescriptions: &[&str], pll_ids: &[&str]) -> Sent {
        Sent {
            prescriptions: prescriptions.iter().map(|s| s.to_string()).collect(),
            recalled: BTreeSet::new(),
            pll_ids: pll_ids.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn send<'a>(s: &'a Sent, now: DateTime<Utc>, create_pll: bool) -> Send<'a> {
        Send {
            now,
            user_pid: "u",
            patient_key: "12050050295",
            national_id: true,
            relates_to: Some(RelatesTo {
                code: Some("replaces".to_owned()),
                target: Some("comp-1".to_owned()),
                index: 0,
            }),
            create_pll,
            prescriptions: &s.prescriptions,
            recalled: &s.recalled,
            pll_ids: &s.pll_ids,
            multidose_doctor: false,
        }
    }

    fn codes(issues: &[Issue]) -> Vec<String> {
        issues
            .iter()
            .map(|i| {
                i.details.as_ref().unwrap()["coding"][0]["code"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }

    #[test]
    fn a_complete_send_within_four_hours_passes() {
        let s = sent(&["r-1"], &["p-1"]);
        let at = t0() + TimeDelta::minutes(239);
        assert_eq!(
            check(&send(&s, at, true), Some(&lookup()), History::default()),
            vec![]
        );
        let at = t0() + TimeDelta::hours(4);
        assert_eq!(
            check(&send(&s, at, true), Some(&lookup()), History::default()),
            vec![],
            "exactly 4 hours is still inside"
        );
    }

    #[test]
    fn the_threshold_is_four_hours_except_without_national_id() {
        let s = sent(&["r-1"], &["p-1"]);
        let at = t0() + TimeDelta::minutes(241);
        let issues = check(&send(&s, at, true), Some(&lookup()), History::default());
        assert_eq!(codes(&issues), ["lookup-threshold"]);
        assert!(
            issues[0].diagnostics.contains("4 hours 1 minute ago"),
            "{}",
            issues[0].diagnostics
        );
        let mut no_id = send(&s, at, true);
        no_id.national_id = false;
        assert_eq!(check(&no_id, Some(&lookup()), History::default()), vec![]);
    }

    #[test]
    fn missing_entries_are_each_reported() {
        let s = sent(&[], &[]);
        let issues = check(&send(&s, t0(), true), Some(&lookup()), History::default());
        assert_eq!(codes(&issues), ["active-prescriptions", "pll-complete"]);
        assert!(
            issues[0]
                .diagnostics
                .contains("Ekspederbar prescription 'Atorvastatin' (ReseptId r-1)")
        );
        let without_pll = check(&send(&s, t0(), false), Some(&lookup()), History::default());
        assert_eq!(
            codes(&without_pll),
            ["active-prescriptions", "pll-statements"],
            "without a new PLL, a missing PLL entry is the guide's rule, not the spec's"
        );
        assert!(
            without_pll[1].diagnostics.contains(
                "\"any sfm-MedicationStatement identified as part of PLL shall be returned\""
            ),
            "{}",
            without_pll[1].diagnostics
        );
    }

    /// The SFM Basis guide's rules: every statement referenced (a recallinfo naming a
    /// prescription counts), every head of chain, and a new lookup after a refused send.
    #[test]
    fn the_guides_rules() {
        let mut l = lookup();
        l.requirements.push(Requirement {
            what: Required::Prescription,
            id: "r-done".to_owned(),
            display: "Paracet".to_owned(),
            rf_status: Some(RfStatus::Ekspedert),
            discontinued_at: None,
            added_by_send: None,
        });
        l.requirements.push(Requirement {
            what: Required::Statement,
            id: "v-1".to_owned(),
            display: "Vaksine".to_owned(),
            rf_status: None,
            discontinued_at: None,
            added_by_send: None,
        });
        let s = sent(&["r-1"], &["p-1"]);
        let issues = check(&send(&s, t0(), true), Some(&l), History::default());
        assert_eq!(codes(&issues), ["head-of-chain", "all-statements"]);
        assert!(issues[0].diagnostics.contains("ReseptId r-done, Ekspedert"));
        assert!(issues[1].diagnostics.contains(
            "\"All medicationStatements represented in getMedication/latest sendMedication must be \
             referred within sendMedication, either as medicationStatement or within recall-info\""
        ));

        // A recallinfo naming the prescription references it; the PLL id the statement.
        let mut s = sent(&[], &["p-1", "v-1"]);
        s.recalled = ["r-1".to_owned(), "r-done".to_owned()].into();
        assert_eq!(
            check(&send(&s, t0(), true), Some(&l), History::default()),
            vec![]
        );

        // Discontinued more than 3 months ago: exempt, as from the PLL.
        l.requirements[3].discontinued_at = Some(t0() - TimeDelta::days(100));
        let s = sent(&["r-1"], &["p-1", "v-1"]);
        assert_eq!(
            check(&send(&s, t0(), true), Some(&l), History::default()),
            vec![]
        );

        l.refused_send = Some(t0());
        let issues = check(&send(&s, t0(), true), Some(&l), History::default());
        assert_eq!(codes(&issues), ["new-lookup-after-error"]);
    }

    #[test]
    fn previous_sends_and_multidose() {
        let mut l = lookup();
        l.requirements.push(Requirement {
            what: Required::Prescription,
            id: "r-new".to_owned(),
            display: "Ny".to_owned(),
            rf_status: Some(RfStatus::Ekspederbar),
            discontinued_at: None,
            added_by_send: Some(t0()),
        });
        l.sends.push(t0());
        let s = sent(&["r-1"], &["p-1"]);
        let mut md = send(&s, t0(), true);
        md.multidose_doctor = true;
        assert_eq!(
            codes(&check(&md, Some(&l), History::default())),
            ["previous-send", "multidose-new-lookup"]
        );
    }

    #[test]
    fn relates_to_must_name_the_latest_lookup() {
        let s = sent(&["r-1"], &["p-1"]);
        let mut wrong = send(&s, t0(), false);
        wrong.relates_to = None;
        assert_eq!(
            codes(&check(&wrong, Some(&lookup()), History::default())),
            ["composition-identifier"]
        );
        wrong.relates_to = Some(RelatesTo {
            code: Some("replaces".into()),
            target: Some("old".into()),
            index: 0,
        });
        let superseded = Superseded {
            user_pid: "u".into(),
            patient_key: "12050050295".into(),
            by: "comp-1".into(),
            at: t0(),
        };
        let issues = check(
            &wrong,
            Some(&lookup()),
            History {
                superseded: Some(&superseded),
                owner: None,
            },
        );
        assert!(
            issues[0].diagnostics.contains("superseded"),
            "{}",
            issues[0].diagnostics
        );
        let issues = check(&wrong, Some(&lookup()), History::default());
        assert!(
            issues[0]
                .diagnostics
                .contains("is not the composition identifier"),
            "{}",
            issues[0].diagnostics
        );
        wrong.relates_to = Some(RelatesTo {
            code: Some("transforms".into()),
            target: Some("comp-1".into()),
            index: 0,
        });
        assert_eq!(
            codes(&check(&wrong, Some(&lookup()), History::default())),
            ["composition-identifier"]
        );
    }

    #[test]
    fn without_any_lookup_rules_one_and_two_fail() {
        let s = sent(&[], &[]);
        let issues = check(&send(&s, t0(), true), None, History::default());
        assert_eq!(
            codes(&issues),
            ["lookup-threshold", "composition-identifier"]
        );
    }
}
