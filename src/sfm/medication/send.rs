//! `POST [base]/Patient/$sendMedication`: validate the edited medication document against the
//! latest `$getMedication` (the spec's rules), then "send" to Reseptformidleren: new
//! prescriptions (M1, with a reference number when asked for or needed), withdrawals (M5) and a
//! new PLL (M25.1). Nothing changes when anything fails.

use std::collections::BTreeSet;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Months, Utc};

use super::document::{SendDocument, normalise_relates_to, result_parameters};
use super::get::read_parameters;
use super::lookup::{Required, Requirement};
use super::rules::{self, History, Send};
use crate::errors::fhir::{FHIR_JSON, FhirError, Issue};
use crate::errors::mark_formatted;
use crate::national::statement::{self, set_amendment_part};
use crate::national::{
    Entry, EntryKind, MessageKind, NationalMessage, NationalPatient, NationalStore, Party, Pll,
    Prescription, RfStatus,
};
use crate::sfm::State;
use crate::sfm::caller::Caller;
use crate::sfm::fhir;

/// `POST [base]/Patient/$sendMedication`.
pub async fn send_medication(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<State>,
) -> Result<HttpResponse, FhirError> {
    fhir::check_format(&req)?;
    let now = state.clock.now();
    let caller = fhir::authenticate(&req, &state, now)?;
    let body = read_parameters(&req, &body, normalise_relates_to)?;
    let document = SendDocument::parse(&body)?;
    let mut guard = state.store_mut();
    fhir::tenant_for(&guard.tenants, &caller)?;
    let hpr = super::require_hpr(&caller, "$sendMedication")?;
    let sfm = &mut *guard;
    let mut national = state.national_mut();
    let tenant = sfm
        .tenants
        .get_mut(&caller.tenant_id)
        .ok_or_else(|| fhir::unknown_tenant(&caller))?;

    let key = document.identity.key.clone();
    // "if … SFM respond with operationOutcome (error) the EPJ need to send a new getMedication"
    // (SFM Basis guide): a refusal marks the lookup the send was checked against.
    let refused = |tenant: &mut crate::sfm::model::Tenant, error: FhirError| {
        if let Some(lookup) = tenant.lookups.latest_mut(&caller.pid, &key) {
            lookup.refused_send = Some(now);
        }
        error
    };
    if let Err(error) = check_against_rf(&document, &national) {
        return Err(refused(tenant, error));
    }
    let prescriptions: BTreeSet<String> = document
        .statements
        .iter()
        .filter_map(|s| statement::resept_id(&s.statement).map(str::to_owned))
        .collect();
    let pll_ids: BTreeSet<String> = document
        .statements
        .iter()
        .filter_map(|s| statement::pll_id(&s.statement).map(str::to_owned))
        .collect();
    let recalled: BTreeSet<String> = document
        .statements
        .iter()
        .filter_map(|s| statement::recall(&s.statement).and_then(|r| r.resept_id))
        .collect();
    let lookup = tenant.lookups.latest(&caller.pid, &key);
    let target = document
        .relates_to
        .as_ref()
        .and_then(|r| r.target.as_deref());
    let history = History {
        superseded: target.and_then(|t| tenant.lookups.superseded(t)),
        owner: target.and_then(|t| tenant.lookups.owner_of(t)),
    };
    let send = Send {
        now,
        user_pid: &caller.pid,
        patient_key: &key,
        national_id: document.identity.national_id.is_some(),
        relates_to: document.relates_to.clone(),
        create_pll: document.create_pll,
        prescriptions: &prescriptions,
        recalled: &recalled,
        pll_ids: &pll_ids,
        multidose_doctor: tenant.multidose_doctor,
    };
    let issues = rules::check(&send, lookup, history);
    if !issues.is_empty() {
        let error = FhirError::with_issues(StatusCode::UNPROCESSABLE_ENTITY, issues);
        return Err(refused(tenant, error));
    }

    let author = Party {
        name: super::practitioner_display(&super::practitioner_for(tenant, &caller, &hpr), &hpr)
            .split(", HPR:")
            .next()
            .unwrap_or_default()
            .to_owned(),
        id: Some(hpr.clone()),
    };
    let patient = national.patient_mut(&key, now);
    let outcome = apply(&document, patient, &caller, author, now);
    if let Some(lookup) = tenant.lookups.latest_mut(&caller.pid, &key) {
        lookup.sends.push(now);
        for (id, display) in &outcome.new_prescriptions {
            lookup.requirements.push(Requirement {
                what: Required::Prescription,
                id: id.clone(),
                display: display.clone(),
                rf_status: Some(RfStatus::Ekspederbar),
                discontinued_at: None,
                added_by_send: Some(now),
            });
        }
        for (id, display) in &outcome.new_pll_entries {
            let known = lookup
                .requirements
                .iter()
                .any(|r| r.what == Required::PllEntry && &r.id == id);
            if !known {
                lookup.requirements.push(Requirement {
                    what: Required::PllEntry,
                    id: id.clone(),
                    display: display.clone(),
                    rf_status: None,
                    discontinued_at: None,
                    added_by_send: Some(now),
                });
            }
        }
    }
    drop(guard);
    let body = result_parameters(
        outcome.prescription_count,
        outcome.recall_count,
        outcome.pll_message_id.as_deref(),
        &outcome.operations,
    );
    Ok(mark_formatted(
        HttpResponse::Ok()
            .content_type(FHIR_JSON)
            .body(serde_json::to_string(&body).unwrap_or_default()),
    ))
}

/// What Reseptformidleren itself would refuse: a ReseptId that exists, a withdrawal of a
/// prescription it does not hold or that is fully dispensed.
fn check_against_rf(document: &SendDocument, national: &NationalStore) -> Result<(), FhirError> {
    let mut issues = Vec::new();
    let patient = national.patient(&document.identity.key);
    let mut new_ids: Vec<&str> = Vec::new();
    for s in &document.statements {
        let at = format!(
            "Parameters.parameter[0].resource.entry[{}].resource",
            s.index
        );
        let name = statement::display(&s.statement);
        if statement::creates_prescription(&s.statement)
            && let Some(id) = statement::resept_id(&s.statement)
            && national.prescription_owner(id).is_some()
        {
            issues.push(Issue::error("duplicate", format!("The new prescription '{name}' has ReseptId {id}, which Reseptformidleren already holds: a new prescription needs a new GUID")).at(format!("{at}.identifier")));
        } else if statement::creates_prescription(&s.statement)
            && let Some(id) = statement::resept_id(&s.statement)
        {
            if new_ids.contains(&id) {
                issues.push(Issue::error("duplicate", format!("The new prescription '{name}' has ReseptId {id}, which another new prescription in this document already has: each new prescription needs its own GUID")).at(format!("{at}.identifier")));
            }
            new_ids.push(id);
        }
        if let Some(recall) = statement::recall(&s.statement) {
            let Some(id) = recall.resept_id else {
                issues.push(Issue::error("required", format!("The withdrawal (recallinfo) of '{name}' names no prescription: give recallId or the statement's ReseptId")).at(format!("{at}.extension")));
                continue;
            };
            match patient.and_then(|p| p.prescription(&id)) {
                None if statement::creates_prescription(&s.statement) => {}
                None => issues.push(Issue::error("not-found", format!("The withdrawal (recallinfo) of '{name}' names ReseptId {id}, which Reseptformidleren does not hold for this patient")).at(format!("{at}.extension"))),
                Some(p) if p.status == RfStatus::Ekspedert => issues.push(Issue::error("business-rule", format!("The prescription '{name}' (ReseptId {id}) is fully dispensed (Ekspedert) and cannot be withdrawn")).at(format!("{at}.extension"))),
                Some(_) => {}
            }
        }
    }
    if issues.is_empty() {
        Ok(())
    } else {
        Err(FhirError::with_issues(StatusCode::BAD_REQUEST, issues))
    }
}

/// What a send did.
#[derive(Debug, Default)]
struct Outcome {
    prescription_count: usize,
    recall_count: usize,
    pll_message_id: Option<String>,
    operations: Vec<(String, Option<String>)>,
    new_prescriptions: Vec<(String, String)>,
    new_pll_entries: Vec<(String, String)>,
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

fn apply(
    document: &SendDocument,
    patient: &mut NationalPatient,
    caller: &Caller,
    author: Party,
    now: DateTime<Utc>,
) -> Outcome {
    let mut outcome = Outcome::default();
    let national_id = document.identity.national_id.is_some();
    // One reference number for every prescription of a send that needs one.
    let mut refnum: Option<String> = None;
    for s in &document.statements {
        let stored = document.localise(&s.statement);
        let medication = document.localise(&s.medication);
        if statement::creates_prescription(&s.statement) {
            let id = statement::resept_id(&stored).unwrap_or_default().to_owned();
            let locked = statement::is_locked(&stored);
            let needs_refnum = statement::asks_for_refnum(&s.statement) || locked || !national_id;
            let given = needs_refnum.then(|| refnum.get_or_insert_with(new_refnum).clone());
            let entry = Entry::new(stored.clone(), medication.clone());
            outcome
                .new_prescriptions
                .push((id.clone(), entry.display()));
            patient.prescriptions.push(Prescription {
                entry,
                status: RfStatus::Ekspederbar,
                locked,
                refnum: given.clone(),
                dispenser: None,
                recall_pending: false,
                dispenses: Vec::new(),
            });
            let mut m1 = message(MessageKind::M1, caller, now, Some(&id));
            m1.refnum = given.clone();
            patient.messages.push(m1);
            outcome.prescription_count += 1;
            outcome.operations.push((id, given));
        }
        if let Some(recall) = statement::recall(&s.statement)
            && let Some(id) = recall.resept_id.as_deref()
            && let Some(p) = patient.prescription_mut(id)
            && p.status.is_active()
            && !p.recall_pending
        {
            match p.status {
                RfStatus::UnderEkspedering => p.recall_pending = true,
                _ => p.status = RfStatus::Tilbakekalt,
            }
            if statement::resept_id(&stored) == Some(id) {
                p.entry = Entry::new(stored.clone(), medication.clone());
            } else if let Some(info) = statement::amendment_part(&s.statement, "recallinfo") {
                set_amendment_part(&mut p.entry.statement, info.clone());
            }
            let mut m5 = message(MessageKind::M5, caller, now, Some(id));
            m5.recall_code = recall.code.clone();
            patient.messages.push(m5);
            outcome.recall_count += 1;
            outcome.operations.push((id.to_owned(), None));
        }
    }
    if document.create_pll {
        let three_months_ago = now.checked_sub_months(Months::new(3)).unwrap_or(now);
        let other_ids: Vec<String> = patient
            .other_entries
            .iter()
            .filter_map(|e| e.pll_id().map(str::to_owned))
            .collect();
        let entries: Vec<Entry> = document
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
            .collect();
        let previous: Vec<String> = patient
            .pll
            .iter()
            .flat_map(|p| &p.entries)
            .filter_map(|e| e.pll_id().map(str::to_owned))
            .collect();
        for e in &entries {
            if let Some(id) = e.pll_id().filter(|id| !previous.iter().any(|p| p == id)) {
                outcome.new_pll_entries.push((id.to_owned(), e.display()));
            }
        }
        let m25 = message(MessageKind::M25_1, caller, now, None);
        outcome.pll_message_id = Some(m25.id.clone());
        patient.pll = Some(Pll {
            message_id: m25.id.clone(),
            date: now,
            author: Some(author),
            entries,
        });
        patient.messages.push(m25);
    }
    patient.changed = now;
    outcome
}
