//! `POST [base]/Patient/$sendMedication`: validate the edited medication document against the
//! latest `$getMedication` (the spec's rules), then "send" to Reseptformidleren: new
//! prescriptions (M1, with a reference number when asked for or needed), withdrawals (M5) and a
//! new PLL (M25.1). Nothing changes when anything fails.

use std::collections::BTreeSet;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Months, Utc};
use serde_json::Value;

use super::document::{Operation, SendDocument, result_parameters};
use super::lookup::SendAdded;
use super::rules::{self, History, Send};
use crate::errors::fhir::{FHIR_JSON, FhirError, Issue};
use crate::errors::mark_formatted;
use crate::national::outages::{FailureAnswer, FailurePoint, Outages};
use crate::national::statement::{self, set_amendment_part};
use crate::national::{
    Entry, EntryKind, MessageKind, NationalMessage, NationalPatient, NationalStore, Party, Pll,
    Prescription, RfStatus,
};
use crate::sfm::State;
use crate::sfm::caller::Caller;
use crate::sfm::fhir::{FhirBody, SfmCaller};
use crate::sfm::model::Tenant;

/// `POST [base]/Patient/$sendMedication`.
pub async fn send_medication(
    request: FhirBody<SfmCaller, SendDocument>,
    state: web::Data<State>,
) -> Result<HttpResponse, FhirError> {
    let FhirBody {
        head: SfmCaller { caller, now },
        body: document,
    } = request;
    let mut sfm = state.store_mut();
    let (tenant, hpr) = super::tenant_and_hpr(&mut sfm, &caller, "$sendMedication")?;
    let mut national = state.national_mut();
    let at = Moment {
        now,
        outages: state.outages(),
    };
    let outcome = send(&document, tenant, &mut national, &caller, hpr, at)?;
    drop(national);
    drop(sfm);
    let body = result_parameters(
        outcome.prescription_count,
        outcome.recall_count,
        outcome
            .pll_message_id
            .as_deref()
            .map(|id| (id, outcome.pll_failure.as_ref())),
        &outcome.operations,
    );
    Ok(mark_formatted(
        HttpResponse::Ok()
            .content_type(FHIR_JSON)
            .body(serde_json::to_string(&body).unwrap_or_default()),
    ))
}

/// A send of `document` by `caller` (an authorised health professional with `hpr`) in
/// `tenant`: checked against what Reseptformidleren holds and the spec's rules (a refusal is
/// remembered: the next send needs a new lookup), then applied to the national systems and
/// recorded on the user's lookup; a message meeting an active failure is not sent.
/// `$sendMedication` and SFM's GUI both send through here.
pub fn send(
    document: &SendDocument,
    tenant: &mut Tenant,
    national: &mut NationalStore,
    caller: &Caller,
    hpr: String,
    at: Moment<'_>,
) -> Result<Outcome, FhirError> {
    let Moment { now, outages } = at;
    let key = &document.identity.key;
    if let Err(error) = check_send(document, national, tenant, &caller.pid, now) {
        tenant.lookups.record_refused_send(&caller.pid, key, now);
        return Err(error);
    }
    let author = Party {
        name: super::practitioner_name(&super::practitioner_for(tenant, caller, &hpr)),
        id: Some(hpr),
    };
    let failures = SendFailures::strike(document, outages, now);
    let outcome = apply(
        document,
        national.patient_mut(key, now),
        caller,
        author,
        (now, &failures),
    );
    tenant
        .lookups
        .record_send(&caller.pid, key, now, &outcome.added);
    Ok(outcome)
}

/// Whether `user_pid` may send `document`: what Reseptformidleren would refuse (400), then the
/// spec's rules against the user's latest lookup for the patient (422).
fn check_send(
    document: &SendDocument,
    national: &NationalStore,
    tenant: &Tenant,
    user_pid: &str,
    now: DateTime<Utc>,
) -> Result<(), FhirError> {
    check_against_rf(document, national)?;
    let issues = check_rules(document, tenant, user_pid, now);
    if issues.is_empty() {
        Ok(())
    } else {
        Err(FhirError::with_issues(
            StatusCode::UNPROCESSABLE_ENTITY,
            issues,
        ))
    }
}

/// The spec's rules ([`rules::check`]) for `document` against `user_pid`'s latest lookup for
/// the patient and the tenant's lookup history.
fn check_rules(
    document: &SendDocument,
    tenant: &Tenant,
    user_pid: &str,
    now: DateTime<Utc>,
) -> Vec<Issue> {
    let key = &document.identity.key;
    let prescriptions = sent_ids(document, |s| statement::resept_id(s).map(str::to_owned));
    let pll_ids = sent_ids(document, |s| statement::pll_id(s).map(str::to_owned));
    let recalled = sent_ids(document, |s| statement::recall(s).and_then(|r| r.resept_id));
    let target = document
        .relates_to
        .as_ref()
        .and_then(|r| r.target.as_deref());
    let history = History {
        superseded: target.and_then(|t| tenant.lookups.superseded(t, now)),
        owner: target.and_then(|t| tenant.lookups.owner_of(t)),
    };
    let send = Send {
        now,
        user_pid,
        patient_key: key,
        national_id: document.identity.national_id.is_some(),
        relates_to: document.relates_to.clone(),
        create_pll: document.create_pll,
        prescriptions: &prescriptions,
        recalled: &recalled,
        pll_ids: &pll_ids,
        multidose_doctor: tenant.multidose_doctor,
    };
    rules::check(&send, tenant.lookups.latest(user_pid, key), history)
}

/// The ids `id_of` finds in the document's statements.
fn sent_ids(document: &SendDocument, id_of: impl Fn(&Value) -> Option<String>) -> BTreeSet<String> {
    document
        .statements
        .iter()
        .filter_map(|s| id_of(&s.statement))
        .collect()
}

/// What Reseptformidleren itself would refuse: a ReseptId that exists, a withdrawal of a
/// prescription it does not hold or that is fully dispensed.
fn check_against_rf(document: &SendDocument, national: &NationalStore) -> Result<(), FhirError> {
    let patient = national.patient(&document.identity.key);
    let mut issues = Vec::new();
    let mut new_ids: Vec<&str> = Vec::new();
    for s in &document.statements {
        let at = format!(
            "Parameters.parameter[0].resource.entry[{}].resource",
            s.index
        );
        let name = statement::display(&s.statement);
        issues.extend(new_id_issue(
            &s.statement,
            national,
            &mut new_ids,
            &name,
            &at,
        ));
        issues.extend(withdrawal_issue(&s.statement, patient, &name, &at));
    }
    if issues.is_empty() {
        Ok(())
    } else {
        Err(FhirError::with_issues(StatusCode::BAD_REQUEST, issues))
    }
}

/// A new prescription's ReseptId that Reseptformidleren already holds, or that another new
/// prescription of the document (in `new_ids`, which it joins) already has.
fn new_id_issue<'a>(
    sent: &'a Value,
    national: &NationalStore,
    new_ids: &mut Vec<&'a str>,
    name: &str,
    at: &str,
) -> Option<Issue> {
    if !statement::creates_prescription(sent) {
        return None;
    }
    let id = statement::resept_id(sent)?;
    let message = if national.prescription_owner(id).is_some() {
        format!(
            "The new prescription '{name}' has ReseptId {id}, which Reseptformidleren already \
             holds: a new prescription needs a new GUID"
        )
    } else if new_ids.contains(&id) {
        new_ids.push(id);
        format!(
            "The new prescription '{name}' has ReseptId {id}, which another new prescription in \
             this document already has: each new prescription needs its own GUID"
        )
    } else {
        new_ids.push(id);
        return None;
    };
    Some(Issue::error("duplicate", message).at(format!("{at}.identifier")))
}

/// A withdrawal (recallinfo) that names no prescription, one Reseptformidleren does not hold for
/// the patient (unless the statement prescribes it anew), or one fully dispensed.
fn withdrawal_issue(
    sent: &Value,
    patient: Option<&NationalPatient>,
    name: &str,
    at: &str,
) -> Option<Issue> {
    let recall = statement::recall(sent)?;
    let (code, message) = match recall.resept_id {
        None => (
            "required",
            format!(
                "The withdrawal (recallinfo) of '{name}' names no prescription: give recallId or \
                 the statement's ReseptId"
            ),
        ),
        Some(id) => match patient.and_then(|p| p.prescription(&id)) {
            None if statement::creates_prescription(sent) => return None,
            None => (
                "not-found",
                format!(
                    "The withdrawal (recallinfo) of '{name}' names ReseptId {id}, which \
                     Reseptformidleren does not hold for this patient"
                ),
            ),
            Some(p) if p.status == RfStatus::Ekspedert => (
                "business-rule",
                format!(
                    "The prescription '{name}' (ReseptId {id}) is fully dispensed (Ekspedert) and \
                     cannot be withdrawn"
                ),
            ),
            Some(_) => return None,
        },
    };
    Some(Issue::error(code, message).at(format!("{at}.extension")))
}

/// When a send happens, and the national systems' active failures then.
#[derive(Debug, Clone, Copy)]
pub struct Moment<'a> {
    /// Now.
    pub now: DateTime<Utc>,
    /// The active failures.
    pub outages: &'a Outages,
}

/// Which messages of one send are not sent, and why.
#[derive(Debug, Default)]
struct SendFailures {
    m1: Option<FailureAnswer>,
    m5: Option<FailureAnswer>,
    pll: Option<FailureAnswer>,
}

impl SendFailures {
    /// Asks the failures for each kind of message the document sends.
    fn strike(document: &SendDocument, outages: &Outages, now: DateTime<Utc>) -> Self {
        let key = Some(document.identity.key.as_str());
        let sends =
            |test: fn(&Value) -> bool| document.statements.iter().any(|s| test(&s.statement));
        let strike = |point| outages.strike(point, key, now);
        Self {
            m1: sends(statement::creates_prescription)
                .then(|| strike(FailurePoint::M1))
                .flatten(),
            m5: sends(|s| statement::recall(s).is_some())
                .then(|| strike(FailurePoint::M5))
                .flatten(),
            pll: document
                .create_pll
                .then(|| strike(FailurePoint::Pll))
                .flatten(),
        }
    }
}

/// What a send did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// New prescriptions (M1).
    pub prescription_count: usize,
    /// Withdrawals (M5).
    pub recall_count: usize,
    /// The new PLL's message id (M25.1), when one was sent.
    pub pll_message_id: Option<String>,
    /// The PLL's failure, when it was not sent.
    pub pll_failure: Option<FailureAnswer>,
    /// Per prescription sent or withdrawn (or not): its ReseptId, reference number and failure.
    pub operations: Vec<Operation>,
    /// What later sends must carry.
    added: SendAdded,
}

/// A reference number as Reseptformidleren gives them: nine characters, unambiguous letters
/// and digits.
fn new_refnum() -> String {
    use rand::Rng as _;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..9)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

fn message(
    kind: MessageKind,
    caller: &Caller,
    now: DateTime<Utc>,
    resept_id: Option<&str>,
) -> NationalMessage {
    NationalMessage {
        id: uuid::Uuid::new_v4().to_string(),
        kind,
        sent: now,
        resept_id: resept_id.map(str::to_owned),
        refnum: None,
        recall_code: None,
        sfm_id: caller.tenant_id.clone(),
        sender_pid: caller.pid.clone(),
    }
}

/// Applies a checked send to the patient's national record: new prescriptions (M1), withdrawals
/// (M5) and a new PLL (M25.1) by `author`.
fn apply(
    document: &SendDocument,
    patient: &mut NationalPatient,
    caller: &Caller,
    author: Party,
    (now, failures): (DateTime<Utc>, &SendFailures),
) -> Outcome {
    let mut sending = Sending {
        patient,
        caller,
        now,
        failures,
        national_id: document.identity.national_id.is_some(),
        refnum: None,
        outcome: Outcome::default(),
    };
    for s in &document.statements {
        let stored = document.localise(&s.statement);
        let medication = document.localise(&s.medication);
        if statement::creates_prescription(&s.statement) {
            sending.prescribe(&s.statement, &stored, &medication);
        }
        sending.withdraw(&s.statement, &stored, &medication);
    }
    if let Some(failure) = &failures.pll {
        sending.outcome.pll_message_id = Some(uuid::Uuid::new_v4().to_string());
        sending.outcome.pll_failure = Some(failure.clone());
    } else if document.create_pll {
        let entries = pll_entries(document, sending.patient, now);
        sending.replace_pll(entries, author);
    }
    sending.patient.changed = now;
    sending.outcome
}

/// A send being applied to a patient's national record.
struct Sending<'a> {
    patient: &'a mut NationalPatient,
    caller: &'a Caller,
    now: DateTime<Utc>,
    failures: &'a SendFailures,
    /// Whether the patient has a fødselsnummer or D-nummer.
    national_id: bool,
    /// One reference number for every prescription of a send that needs one.
    refnum: Option<String>,
    outcome: Outcome,
}

impl Sending<'_> {
    /// A new prescription (M1) from the `sent` statement (`stored` as the national systems keep
    /// it), with the send's reference number when asked for, locked, or for a patient without
    /// national id.
    fn prescribe(&mut self, sent: &Value, stored: &Value, medication: &Value) {
        let id = statement::resept_id(stored).unwrap_or_default().to_owned();
        if let Some(failure) = &self.failures.m1 {
            self.outcome.operations.push(Operation::failed(id, failure));
            return;
        }
        let locked = statement::is_locked(stored);
        let needs_refnum = statement::asks_for_refnum(sent) || locked || !self.national_id;
        let given = needs_refnum.then(|| self.refnum.get_or_insert_with(new_refnum).clone());
        let entry = Entry::new(stored.clone(), medication.clone());
        self.outcome
            .added
            .prescriptions
            .push((id.clone(), entry.display()));
        self.patient.prescriptions.push(Prescription {
            entry,
            status: RfStatus::Ekspederbar,
            locked,
            refnum: given.clone(),
            dispenser: None,
            recall_pending: false,
            dispenses: Vec::new(),
        });
        let mut m1 = message(MessageKind::M1, self.caller, self.now, Some(&id));
        m1.refnum = given.clone();
        self.patient.messages.push(m1);
        self.outcome.prescription_count += 1;
        self.outcome.operations.push(Operation::sent(id, given));
    }

    /// The withdrawal (M5) the `sent` statement's recallinfo asks for, of an active
    /// prescription not already being withdrawn (a pharmacy dispensing it: pending until RF
    /// confirms).
    fn withdraw(&mut self, sent: &Value, stored: &Value, medication: &Value) {
        let Some(recall) = statement::recall(sent) else {
            return;
        };
        let Some(id) = recall.resept_id.as_deref() else {
            return;
        };
        let Some(p) = self
            .patient
            .prescription_mut(id)
            .filter(|p| p.status.is_active() && !p.recall_pending)
        else {
            return;
        };
        if let Some(failure) = &self.failures.m5 {
            self.outcome
                .operations
                .push(Operation::failed(id.to_owned(), failure));
            return;
        }
        match p.status {
            RfStatus::UnderEkspedering => p.recall_pending = true,
            _ => p.status = RfStatus::Tilbakekalt,
        }
        if statement::resept_id(stored) == Some(id) {
            p.entry = Entry::new(stored.clone(), medication.clone());
        } else if let Some(info) = statement::amendment_part(sent, "recallinfo") {
            set_amendment_part(&mut p.entry.statement, info.clone());
        }
        let mut m5 = message(MessageKind::M5, self.caller, self.now, Some(id));
        m5.recall_code = recall.code.clone();
        self.patient.messages.push(m5);
        self.outcome.recall_count += 1;
        self.outcome
            .operations
            .push(Operation::sent(id.to_owned(), None));
    }

    /// The new PLL (M25.1) of `entries` by `author`, replacing the patient's.
    fn replace_pll(&mut self, entries: Vec<Entry>, author: Party) {
        let previous: Vec<String> = self
            .patient
            .pll
            .iter()
            .flat_map(|p| &p.entries)
            .filter_map(|e| e.pll_id().map(str::to_owned))
            .collect();
        for e in &entries {
            if let Some(id) = e.pll_id().filter(|id| !previous.iter().any(|p| p == id)) {
                self.outcome
                    .added
                    .pll_entries
                    .push((id.to_owned(), e.display()));
            }
        }
        let m25 = message(MessageKind::M25_1, self.caller, self.now, None);
        self.outcome.pll_message_id = Some(m25.id.clone());
        self.patient.pll = Some(Pll {
            message_id: m25.id.clone(),
            date: self.now,
            author: Some(author),
            entries,
        });
        self.patient.messages.push(m25);
    }
}

/// What a new PLL holds: the document's medicinal products with a PLL id, except vaccines and
/// NIB/FIB the patient has beside the PLL, entered-in-error statements, and statements
/// discontinued more than three months before `now`.
fn pll_entries(
    document: &SendDocument,
    patient: &NationalPatient,
    now: DateTime<Utc>,
) -> Vec<Entry> {
    let three_months_ago = now.checked_sub_months(Months::new(3)).unwrap_or(now);
    let other_ids: Vec<String> = patient
        .other_entries
        .iter()
        .filter_map(|e| e.pll_id().map(str::to_owned))
        .collect();
    document
        .statements
        .iter()
        .filter_map(|s| {
            let entry = Entry::new(
                document.localise(&s.statement),
                document.localise(&s.medication),
            );
            let pll_id = entry.pll_id()?.to_owned();
            let excluded = entry.kind != EntryKind::Medication
                || other_ids.contains(&pll_id)
                || statement::status(&entry.statement) == "entered-in-error"
                || statement::discontinued_at(&entry.statement)
                    .is_some_and(|t| t < three_months_ago);
            (!excluded).then_some(entry)
        })
        .collect()
}
