//! Events on the national side that no EHR sent: a pharmacy dispenses (M10), another doctor
//! withdraws or renews a prescription (M5, M1), the multidose doctor sends a new PLL (M25.1),
//! kjernejournal gets new critical information, the patient blocks a professional, restricts a
//! module, dies or gets a new fødselsnummer. Pure rules over the national data: each checks the
//! transition, changes the patient (bumping [`NationalPatient::changed`]) and describes what
//! changed as JSON; a refused event changes nothing.

use chrono::{DateTime, Months, Utc};
use serde_json::{Value, json};

use super::fixture::{date, date_time, recall_name};
use super::statement::{self, RESEPT_ID_TYPE, set_amendment_part};
use super::{
    Allergy, Dispense, Entry, KjModule, KjRecord, NationalPatient, NationalStore, Party, Pll,
    Prescription, RfStatus,
};

/// Why an event cannot happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// It names something the national systems do not hold.
    NotFound(String),
    /// It does not fit the current state.
    Invalid(String),
}

/// What an event changed, or why it cannot happen.
pub type Outcome = Result<Value, Refusal>;

/// The Volven 7500 recall codes (`1` Fornying, `2` Seponering, `3` Fornying med endring,
/// `4` Annet).
pub const RECALL_CODES: [&str; 4] = ["1", "2", "3", "4"];

fn invalid(message: impl Into<String>) -> Refusal {
    Refusal::Invalid(message.into())
}

/// A prescription's status as `rfstatus` codes it (Volven 7408).
pub fn status_json(status: RfStatus) -> Value {
    let (code, display) = status.code().unwrap_or(("E", "Ekspederbar"));
    json!({"code": code, "display": display})
}

fn status_text(p: &Prescription) -> String {
    match (p.status.code(), &p.dispenser) {
        (Some((code, name)), Some(by)) if p.status == RfStatus::UnderEkspedering => {
            format!("{code} {name} by {by}")
        }
        (Some((code, name)), _) => format!("{code} {name}"),
        (None, _) => p.status.name().to_owned(),
    }
}

fn prescription<'a>(
    patient: &'a mut NationalPatient,
    resept_id: &str,
) -> Result<&'a mut Prescription, Refusal> {
    let key = patient.key.clone();
    patient.prescription_mut(resept_id).ok_or_else(|| {
        Refusal::NotFound(format!(
            "Reseptformidleren holds no prescription with ReseptId '{resept_id}' for patient \
             '{key}'"
        ))
    })
}

fn described(p: &Prescription) -> Value {
    let mut out = json!({"resept_id": p.id(), "status": status_json(p.status)});
    if let Some(dispenser) = &p.dispenser {
        out["nameDispenser"] = json!(dispenser);
    }
    if p.recall_pending {
        out["recall_pending"] = json!(true);
    }
    out
}

/// The prescription, if Ekspederbar; else a refusal saying it cannot `what`.
fn ekspederbar<'a>(
    patient: &'a mut NationalPatient,
    resept_id: &str,
    what: &str,
) -> Result<&'a mut Prescription, Refusal> {
    let p = prescription(patient, resept_id)?;
    if p.status != RfStatus::Ekspederbar {
        return Err(invalid(format!(
            "The prescription {resept_id} is {}: only an E Ekspederbar prescription can {what}",
            status_text(p)
        )));
    }
    Ok(p)
}

/// A pharmacy downloads the prescription to dispense it (M9.3): E → U, locked to `pharmacy`.
pub fn start_dispense(
    patient: &mut NationalPatient,
    resept_id: &str,
    pharmacy: &str,
    now: DateTime<Utc>,
) -> Outcome {
    let p = ekspederbar(patient, resept_id, "start being dispensed")?;
    p.status = RfStatus::UnderEkspedering;
    p.dispenser = Some(pharmacy.to_owned());
    let out = described(p);
    patient.changed = now;
    Ok(out)
}

/// The prescription under dispensing by `pharmacy` (when given), else a refusal naming why not.
fn dispensing<'a>(
    patient: &'a mut NationalPatient,
    resept_id: &str,
    pharmacy: Option<&str>,
    what: &str,
) -> Result<&'a mut Prescription, Refusal> {
    let p = prescription(patient, resept_id)?;
    let by_other = pharmacy.is_some() && p.dispenser.as_deref() != pharmacy;
    if p.status != RfStatus::UnderEkspedering || by_other {
        return Err(invalid(format!(
            "The prescription {resept_id} is {}: only the pharmacy dispensing it (status U) \
             can {what}",
            status_text(p)
        )));
    }
    Ok(p)
}

/// The pharmacy releases the prescription: a pending withdrawal takes effect (T), else E.
fn release(p: &mut Prescription) {
    p.dispenser = None;
    p.status = if p.recall_pending {
        RfStatus::Tilbakekalt
    } else {
        RfStatus::Ekspederbar
    };
    p.recall_pending = false;
}

/// The pharmacy hands the medication over (M10): the dispense is recorded; `concluded`
/// (Avsluttet = Ja) ends the prescription (R Resept avsluttet), else it is E again.
pub fn complete_dispense(
    patient: &mut NationalPatient,
    resept_id: &str,
    dispense: Dispense,
    concluded: bool,
    now: DateTime<Utc>,
) -> Outcome {
    let pharmacy = dispense.pharmacy.name.clone();
    let p = dispensing(
        patient,
        resept_id,
        Some(&pharmacy),
        "complete a dispense (M10)",
    )?;
    let m10 = dispense.id.clone();
    let packages = dispense.quantity;
    p.dispenses.push(dispense);
    release(p);
    if concluded {
        p.status = RfStatus::Ekspedert;
    }
    let mut out = described(p);
    out["m10_id"] = json!(m10);
    out["packages"] = json!(packages);
    out["pharmacy"] = json!(pharmacy);
    patient.changed = now;
    Ok(out)
}

/// The pharmacy cancels the dispense (M10 with a cancellation code): U → E, nothing recorded.
pub fn cancel_dispense(
    patient: &mut NationalPatient,
    resept_id: &str,
    pharmacy: Option<&str>,
    now: DateTime<Utc>,
) -> Outcome {
    let p = dispensing(patient, resept_id, pharmacy, "cancel its dispense")?;
    release(p);
    let out = described(p);
    patient.changed = now;
    Ok(out)
}

/// Starts and completes a dispense in one go (E → U → E or R).
pub fn dispense(
    patient: &mut NationalPatient,
    resept_id: &str,
    dispense: Dispense,
    concluded: bool,
    now: DateTime<Utc>,
) -> Outcome {
    start_dispense(patient, resept_id, &dispense.pharmacy.name, now)?;
    complete_dispense(patient, resept_id, dispense, concluded, now)
}

/// `recallinfo` (Volven 7500) naming why a prescription was withdrawn.
pub fn recall_info(recall_id: Option<&str>, (code, display): (&str, &str)) -> Value {
    let mut parts = Vec::new();
    if let Some(id) = recall_id {
        parts.push(json!({"url": "recallId", "valueString": id}));
    }
    parts.push(
        json!({"url": "recallcode", "valueCodeableConcept": {"coding": [
            {"system": statement::RECALL_CODE_SYSTEM, "code": code, "display": display}
        ]}}),
    );
    json!({"url": "recallinfo", "extension": parts})
}

/// Every statement of the patient naming the prescription (its own, the PLL's, the others').
fn statements_of<'a>(
    patient: &'a mut NationalPatient,
    resept_id: &'a str,
) -> impl Iterator<Item = &'a mut Value> + 'a {
    let pll = patient
        .pll
        .iter_mut()
        .flat_map(|pll| pll.entries.iter_mut());
    let own = patient
        .prescriptions
        .iter_mut()
        .map(|p| &mut p.entry)
        .filter(move |e| e.resept_id() == Some(resept_id));
    pll.chain(patient.other_entries.iter_mut())
        .filter(move |e| e.resept_id() == Some(resept_id))
        .chain(own)
        .map(|e| &mut e.statement)
}

/// Another doctor withdraws the prescription (M5): E → T; while a pharmacy dispenses it (U),
/// RF keeps U and the withdrawal is pending (shown by the recall reason).
pub fn withdraw(
    patient: &mut NationalPatient,
    resept_id: &str,
    code: &str,
    now: DateTime<Utc>,
) -> Outcome {
    let p = prescription(patient, resept_id)?;
    match p.status {
        RfStatus::Ekspederbar => p.status = RfStatus::Tilbakekalt,
        RfStatus::UnderEkspedering if !p.recall_pending => p.recall_pending = true,
        _ => {
            let pending = if p.recall_pending {
                " with a withdrawal pending"
            } else {
                ""
            };
            return Err(invalid(format!(
                "The prescription {resept_id} is {}{pending}: only an E or U prescription can \
                 be withdrawn",
                status_text(p)
            )));
        }
    }
    let mut out = described(p);
    let info = recall_info(None, (code, recall_name(code)));
    for s in statements_of(patient, resept_id) {
        set_amendment_part(s, info.clone());
    }
    out["recall_code"] = json!({"code": code, "display": recall_name(code)});
    patient.changed = now;
    Ok(out)
}

/// Another doctor renews the prescription: the old one is withdrawn (T, reason 1 Fornying) and
/// a new E prescription with ReseptId `new_id` takes its place, issued now, valid a year.
pub fn renew(
    patient: &mut NationalPatient,
    resept_id: &str,
    new_id: &str,
    now: DateTime<Utc>,
) -> Outcome {
    let p = ekspederbar(patient, resept_id, "be renewed")?;
    let renewed = Prescription {
        entry: renewed_entry(&p.entry, new_id, now),
        status: RfStatus::Ekspederbar,
        locked: false,
        refnum: None,
        dispenser: None,
        recall_pending: false,
        dispenses: Vec::new(),
    };
    let mut out = withdraw(patient, resept_id, "1", now)?;
    out["new_resept_id"] = json!(new_id);
    out["new_status"] = status_json(renewed.status);
    patient.prescriptions.push(renewed);
    Ok(out)
}

fn renewed_entry(old: &Entry, new_id: &str, now: DateTime<Utc>) -> Entry {
    let mut s = old.statement.clone();
    if let Some(ids) = s.get_mut("identifier").and_then(Value::as_array_mut) {
        ids.retain(|i| i.pointer("/type/text").and_then(Value::as_str) != Some("PLL"));
        for id in ids.iter_mut() {
            if id.pointer("/type/text").and_then(Value::as_str) == Some(RESEPT_ID_TYPE) {
                id["value"] = json!(new_id);
            }
        }
    }
    let expires = now.checked_add_months(Months::new(12)).unwrap_or(now);
    strip_recall(&mut s);
    for part in [
        json!({"url": "reseptdate", "valueDate": date(now)}),
        json!({"url": "expirationdate", "valueDate": date(expires)}),
        json!({"url": "lastchanged", "valueDateTime": date_time(now)}),
    ] {
        set_amendment_part(&mut s, part);
    }
    Entry::new(s, old.medication.clone())
}

fn strip_recall(s: &mut Value) {
    let amendments = s
        .get_mut("extension")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter(|e| e.get("url").and_then(Value::as_str) == Some(statement::RESEPTAMENDMENT));
    for amendment in amendments {
        if let Some(parts) = amendment.get_mut("extension").and_then(Value::as_array_mut) {
            parts.retain(|p| p.get("url").and_then(Value::as_str) != Some("recallinfo"));
        }
    }
}

/// The multidose (or another) doctor sends a new PLL (M25.1): a new version dated now by
/// `author` (else the PLL's author), without the entries `remove` names (PLL ids or ReseptIds).
pub fn update_pll(
    patient: &mut NationalPatient,
    remove: &[String],
    author: Option<Party>,
    message_id: &str,
    now: DateTime<Utc>,
) -> Outcome {
    let key = patient.key.clone();
    let Some(pll) = &patient.pll else {
        return Err(invalid(format!("Patient '{key}' has no PLL to update")));
    };
    let named = |e: &Entry, id: &str| e.pll_id() == Some(id) || e.resept_id() == Some(id);
    if let Some(missing) = remove
        .iter()
        .find(|id| !pll.entries.iter().any(|e| named(e, id.as_str())))
    {
        return Err(Refusal::NotFound(format!(
            "Patient '{key}''s PLL has no entry with PLL id or ReseptId '{missing}'"
        )));
    }
    let entries: Vec<Entry> = pll
        .entries
        .iter()
        .filter(|e| !remove.iter().any(|id| named(e, id.as_str())))
        .cloned()
        .collect();
    let author = author
        .or_else(|| patient.multidose.as_ref().map(|m| m.doctor.clone()))
        .or_else(|| pll.author.clone());
    let out = json!({
        "pll": {
            "message_id": message_id,
            "date": date_time(now),
            "author": author.as_ref().map(|a| &a.name),
            "entries": entries.len(),
            "removed": remove,
        }
    });
    patient.pll = Some(Pll {
        message_id: message_id.to_owned(),
        date: now,
        author,
        entries,
    });
    patient.changed = now;
    Ok(out)
}

fn record<'a>(patient: &'a mut NationalPatient, what: &str) -> Result<&'a mut KjRecord, Refusal> {
    let key = patient.key.clone();
    patient.kjernejournal.as_mut().ok_or_else(|| {
        invalid(format!(
            "Patient '{key}' has no kjernejournal: {what} needs one (give the patient \
             `kjernejournal` in the fixtures)"
        ))
    })
}

/// Kjernejournal gets critical information: `allergy` is added, or replaces the one with its
/// id; either way recorded now, so helseindikator answers status 4 with
/// `sistEndretKritiskInfoDato` now.
pub fn critical_info(
    patient: &mut NationalPatient,
    mut allergy: Allergy,
    now: DateTime<Utc>,
) -> Outcome {
    record(patient, "critical information")?;
    allergy.recorded = now;
    let id = allergy.id.clone();
    let change = match patient.allergies.iter_mut().find(|a| a.id == id) {
        Some(existing) => {
            *existing = allergy;
            "changed"
        }
        None => {
            patient.allergies.push(allergy);
            "added"
        }
    };
    patient.changed = now;
    Ok(json!({
        "allergy_id": id,
        "change": change,
        "sistEndretKritiskInfoDato": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    }))
}

/// The patient blocks a health professional (HPR number) from their kjernejournal.
pub fn block_professional(patient: &mut NationalPatient, hpr: &str, now: DateTime<Utc>) -> Outcome {
    let r = record(patient, "blocking a professional")?;
    if r.blocked_professionals.iter().any(|b| b == hpr) {
        return Err(invalid(format!(
            "The patient has already blocked HPR {hpr}"
        )));
    }
    r.blocked_professionals.push(hpr.to_owned());
    let out = json!({"blocked_professionals": r.blocked_professionals});
    patient.changed = now;
    Ok(out)
}

/// The patient restricts (sperrer) a kjernejournal module.
pub fn restrict_module(
    patient: &mut NationalPatient,
    module: KjModule,
    now: DateTime<Utc>,
) -> Outcome {
    let r = record(patient, "restricting a module")?;
    if r.blocked_modules.contains(&module) {
        return Err(invalid(format!(
            "The patient has already restricted {}",
            module.as_str()
        )));
    }
    r.blocked_modules.push(module);
    let out = json!({"restricted_modules": r.blocked_modules});
    patient.changed = now;
    Ok(out)
}

/// The patient dies (on `at`): Folkeregisteret no longer lists them as active, so
/// kjernejournal refuses to open the record (KJF-000017); Reseptformidleren keeps its data.
pub fn dies(patient: &mut NationalPatient, at: DateTime<Utc>, now: DateTime<Utc>) -> Outcome {
    let r = record(patient, "a death in Folkeregisteret")?;
    if r.inactive {
        return Err(invalid(format!(
            "Patient '{}' is already not active in Folkeregisteret",
            patient.key
        )));
    }
    r.inactive = true;
    patient.changed = now;
    Ok(json!({"deceased": date(at), "active": false}))
}

/// The patient gets a new fødselsnummer (or a D-nummer becomes one): the national data moves
/// to `new`; the old number finds nothing.
pub fn new_national_id(
    store: &mut NationalStore,
    old: &str,
    new: &str,
    now: DateTime<Utc>,
) -> Outcome {
    if !store.contains(old) {
        return Err(Refusal::NotFound(format!(
            "The national systems hold no patient '{old}'"
        )));
    }
    if store.contains(new) {
        return Err(invalid(format!(
            "The national systems already hold a patient '{new}': choose an unused number"
        )));
    }
    let Some(mut patient) = store.remove(old) else {
        return Err(Refusal::NotFound(format!("No patient '{old}'")));
    };
    patient.key = new.to_owned();
    patient.changed = now;
    store.insert(patient);
    Ok(json!({"old": old, "new": new}))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap()
    }

    fn patient(status: RfStatus) -> NationalPatient {
        let statement = json!({
            "resourceType": "MedicationStatement",
            "identifier": [{"type": {"text": "ReseptId"}, "value": "r1"}],
            "medicationReference": {"display": "Zopiclone"},
        });
        let mut patient = NationalPatient::new("12050050295", DateTime::UNIX_EPOCH);
        patient.prescriptions.push(Prescription {
            entry: Entry::new(statement, json!({"resourceType": "Medication"})),
            status,
            locked: false,
            refnum: None,
            dispenser: None,
            recall_pending: false,
            dispenses: Vec::new(),
        });
        patient
    }

    fn m10(pharmacy: &str) -> Dispense {
        Dispense {
            id: "m10".to_owned(),
            at: now(),
            quantity: 1.0,
            pharmacy: Party {
                name: pharmacy.to_owned(),
                id: None,
            },
        }
    }

    fn status(patient: &NationalPatient) -> RfStatus {
        patient.prescriptions[0].status
    }

    #[test]
    fn a_dispense_goes_e_u_then_e_or_r_and_bumps_changed() {
        let mut p = patient(RfStatus::Ekspederbar);
        start_dispense(&mut p, "r1", "Apotek 1", now()).unwrap();
        assert_eq!(status(&p), RfStatus::UnderEkspedering);
        assert_eq!(p.prescriptions[0].dispenser.as_deref(), Some("Apotek 1"));
        assert_eq!(p.changed, now());
        complete_dispense(&mut p, "r1", m10("Apotek 1"), false, now()).unwrap();
        assert_eq!(status(&p), RfStatus::Ekspederbar);
        assert_eq!(p.prescriptions[0].dispenses.len(), 1);
        assert_eq!(p.prescriptions[0].dispenser, None);
        dispense(&mut p, "r1", m10("Apotek 1"), true, now()).unwrap();
        assert_eq!(status(&p), RfStatus::Ekspedert);
        assert_eq!(RfStatus::Ekspedert.code(), Some(("R", "Resept avsluttet")));
    }

    #[test]
    fn only_the_dispensing_pharmacy_completes_or_cancels() {
        let mut p = patient(RfStatus::Ekspederbar);
        assert!(matches!(
            complete_dispense(&mut p, "r1", m10("Apotek 1"), false, now()),
            Err(Refusal::Invalid(_))
        ));
        start_dispense(&mut p, "r1", "Apotek 1", now()).unwrap();
        let refused = start_dispense(&mut p, "r1", "Vitus", now()).unwrap_err();
        assert_eq!(
            refused,
            Refusal::Invalid(
                "The prescription r1 is U Under ekspedering by Apotek 1: only an E Ekspederbar \
                 prescription can start being dispensed"
                    .to_owned()
            )
        );
        assert!(cancel_dispense(&mut p, "r1", Some("Vitus"), now()).is_err());
        cancel_dispense(&mut p, "r1", Some("Apotek 1"), now()).unwrap();
        assert_eq!(status(&p), RfStatus::Ekspederbar);
        assert!(p.prescriptions[0].dispenses.is_empty());
        assert!(matches!(
            start_dispense(&mut p, "nope", "Apotek 1", now()),
            Err(Refusal::NotFound(_))
        ));
    }

    #[test]
    fn a_withdrawal_is_t_or_pending_while_dispensed_and_takes_effect_on_release() {
        let mut p = patient(RfStatus::Ekspederbar);
        withdraw(&mut p, "r1", "2", now()).unwrap();
        assert_eq!(status(&p), RfStatus::Tilbakekalt);
        let recall = statement::recall(&p.prescriptions[0].entry.statement).unwrap();
        assert_eq!(recall.code.as_deref(), Some("2"));
        assert!(withdraw(&mut p, "r1", "2", now()).is_err());

        let mut p = patient(RfStatus::Ekspederbar);
        start_dispense(&mut p, "r1", "Apotek 1", now()).unwrap();
        withdraw(&mut p, "r1", "2", now()).unwrap();
        assert_eq!(status(&p), RfStatus::UnderEkspedering);
        assert!(p.prescriptions[0].recall_pending);
        assert!(
            withdraw(&mut p, "r1", "2", now()).is_err(),
            "already pending"
        );
        cancel_dispense(&mut p, "r1", None, now()).unwrap();
        assert_eq!(status(&p), RfStatus::Tilbakekalt);
    }

    #[test]
    fn a_renewal_withdraws_the_old_and_adds_a_new_ekspederbar_prescription() {
        let mut p = patient(RfStatus::Ekspederbar);
        renew(&mut p, "r1", "r2", now()).unwrap();
        assert_eq!(status(&p), RfStatus::Tilbakekalt);
        let new = p.prescription("r2").unwrap();
        assert_eq!(new.status, RfStatus::Ekspederbar);
        assert!(statement::recall(&new.entry.statement).is_none());
        assert!(
            renew(&mut p, "r1", "r3", now()).is_err(),
            "T cannot be renewed"
        );
    }

    #[test]
    fn kjernejournal_events_need_a_kjernejournal() {
        let mut p = patient(RfStatus::Ekspederbar);
        assert!(block_professional(&mut p, "123", now()).is_err());
        p.kjernejournal = Some(KjRecord::default());
        block_professional(&mut p, "123", now()).unwrap();
        assert!(block_professional(&mut p, "123", now()).is_err());
        restrict_module(&mut p, KjModule::Legemidler, now()).unwrap();
        assert!(restrict_module(&mut p, KjModule::Legemidler, now()).is_err());
        dies(&mut p, now(), now()).unwrap();
        assert!(p.kjernejournal.as_ref().unwrap().inactive);
        assert!(dies(&mut p, now(), now()).is_err());
    }

    #[test]
    fn a_new_national_id_moves_the_patient() {
        let mut store = NationalStore::default();
        let keyed = |key: &str| NationalPatient {
            key: key.to_owned(),
            ..patient(RfStatus::Ekspederbar)
        };
        store.insert(keyed("a"));
        store.insert(keyed("b"));
        assert!(new_national_id(&mut store, "a", "b", now()).is_err());
        assert!(new_national_id(&mut store, "x", "c", now()).is_err());
        new_national_id(&mut store, "a", "c", now()).unwrap();
        assert!(store.patient("a").is_none());
        assert_eq!(store.patient("c").unwrap().key, "c");
    }
}
