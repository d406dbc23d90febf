//! The national data as FHIR: the medication view SFM compiles from the PLL and Reseptformidleren
//! (statements with RF's status merged in), dispenses, allergies and the PLL's metadata.

use serde_json::{Value, json};

use super::fixture::{date, date_time, organization_reference, practitioner_reference};
use super::statement::{self, RF_STATUS_SYSTEM, set_amendment_part};
use super::{
    Allergy, Dispense, Entry, EntryKind, Multidose, NationalPatient, PharmacyMessage, Pll,
    Prescription,
};

const PROFILE_BASE: &str = "http://ehelse.no/fhir/StructureDefinition/";
/// FEST's code system (the product's varenummer).
const FEST_SYSTEM: &str = "http://ehelse.no/fhir/CodeSystem/FEST";

/// One statement of the patient's medication as SFM compiles it.
#[derive(Debug, Clone)]
pub struct ViewEntry<'a> {
    /// The stored statement and medication.
    pub entry: &'a Entry,
    /// Its prescription in RF, if any.
    pub prescription: Option<&'a Prescription>,
    /// Whether it is an entry of the current PLL.
    pub in_pll: bool,
}

impl ViewEntry<'_> {
    /// The statement with RF's view (status, dispenser, reference number, lock) merged in.
    pub fn statement(&self) -> Value {
        match self.prescription {
            Some(p) => with_rf_state(&self.entry.statement, p),
            None => self.entry.statement.clone(),
        }
    }

    /// The logical id the statement is served under: its PLL id, else its ReseptId.
    pub fn id(&self) -> &str {
        self.entry
            .pll_id()
            .or_else(|| self.entry.resept_id())
            .unwrap_or_default()
    }

    /// Whether the PLL rules count it: a medicinal product of the PLL, not entered in error.
    pub fn counts_for_pll(&self) -> bool {
        self.in_pll
            && self.entry.kind == EntryKind::Medication
            && statement::status(&self.entry.statement) != "entered-in-error"
    }
}

/// The patient's medication as a lookup sees it: the PLL's entries, then vaccines and NIB/FIB,
/// then RF's active prescriptions no entry names. Locked prescriptions only when `show_locked`
/// says so (their reference number was given, or the patient consented).
pub fn view<'a>(
    patient: &'a NationalPatient,
    show_locked: &dyn Fn(&Prescription) -> bool,
) -> Vec<ViewEntry<'a>> {
    let prescription_of = |entry: &Entry| entry.resept_id().and_then(|id| patient.prescription(id));
    let mut out = Vec::new();
    for entry in patient.pll.iter().flat_map(|pll| &pll.entries) {
        out.push(ViewEntry {
            entry,
            prescription: prescription_of(entry),
            in_pll: true,
        });
    }
    for entry in &patient.other_entries {
        out.push(ViewEntry {
            entry,
            prescription: prescription_of(entry),
            in_pll: false,
        });
    }
    for p in &patient.prescriptions {
        let named = out.iter().any(|v| v.entry.resept_id() == Some(p.id()));
        if named || !p.status.is_active() || (p.locked && !show_locked(p)) {
            continue;
        }
        out.push(ViewEntry {
            entry: &p.entry,
            prescription: Some(p),
            in_pll: false,
        });
    }
    out
}

fn coding(system: &str, code: &str, display: &str) -> Value {
    json!({"coding": [{"system": system, "code": code, "display": display}]})
}

/// A statement with RF's view of its prescription merged into `sfm-reseptamendment`.
pub fn with_rf_state(statement: &Value, p: &Prescription) -> Value {
    let mut s = statement.clone();
    if let Some((code, name)) = p.status.code() {
        let mut parts = Vec::new();
        if let Some(dispenser) = &p.dispenser {
            parts.push(json!({"url": "nameDispenser", "valueString": dispenser}));
        }
        if p.recall_pending {
            parts.push(json!({"url": "recallStatus", "valueBoolean": false}));
        }
        parts.push(
            json!({"url": "status", "valueCodeableConcept": coding(RF_STATUS_SYSTEM, code, name)}),
        );
        set_amendment_part(&mut s, json!({"url": "rfstatus", "extension": parts}));
    }
    if let Some(refnum) = &p.refnum {
        set_amendment_part(&mut s, json!({"url": "refnum", "valueString": refnum}));
    }
    if p.locked {
        set_amendment_part(&mut s, json!({"url": "lockedresept", "valueBoolean": true}));
    }
    if let Some(summary) = delivery_summary(p) {
        set_delivery_summary(&mut s, summary);
    }
    s
}

/// `sfm-deliverysummary`: what pharmacies dispensed on the prescription (RF's sum), as the real
/// answer writes it: the product (FEST varenummer, name), the packages in all and at the last
/// dispense, and when that was.
fn delivery_summary(p: &Prescription) -> Option<Value> {
    let last = p.dispenses.iter().max_by_key(|d| d.at)?;
    let total: f64 = p.dispenses.iter().map(|d| d.quantity).sum();
    let mut parts = Vec::new();
    let fest = p
        .entry
        .medication
        .pointer("/code/coding")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|c| c.get("system").and_then(Value::as_str) == Some(FEST_SYSTEM));
    if let Some(code) = fest.and_then(|c| c.get("code")) {
        parts.push(json!({"url": "varenummer", "valueString": code}));
    }
    parts.push(json!({"url": "varenavn", "valueString": p.entry.display()}));
    parts.push(json!({"url": "antallpkntotalt", "valueDecimal": total}));
    parts.push(json!({"url": "antallpknsiste", "valueDecimal": last.quantity}));
    parts.push(json!({"url": "sistutlevert", "valueDateTime": date_time(last.at)}));
    Some(json!({"url": statement::DELIVERY_SUMMARY, "extension": parts}))
}

/// Puts the summary right after `sfm-reseptamendment`, replacing any earlier one.
fn set_delivery_summary(statement: &mut Value, summary: Value) {
    let Some(extensions) = statement.get_mut("extension").and_then(Value::as_array_mut) else {
        return;
    };
    let url = |e: &Value| e.get("url").and_then(Value::as_str).map(str::to_owned);
    extensions.retain(|e| url(e).as_deref() != Some(statement::DELIVERY_SUMMARY));
    let at = extensions
        .iter()
        .position(|e| url(e).as_deref() == Some(statement::RESEPTAMENDMENT))
        .map_or(0, |i| i + 1);
    extensions.insert(at, summary);
}

/// Points a statement's `subject` and `medicationReference` at the given references.
pub fn point(statement: &mut Value, subject: &Value, medication: &str) {
    statement["subject"] = subject.clone();
    if let Some(reference) = statement.get_mut("medicationReference") {
        reference["reference"] = json!(medication);
    }
}

/// A dispense as `sfm-MedicationDispense`.
pub fn dispense(
    d: &Dispense,
    p: &Prescription,
    subject: &Value,
    medication: &str,
    statement_reference: &str,
) -> Value {
    json!({
        "resourceType": "MedicationDispense",
        "id": d.id,
        "meta": {"profile": [format!("{PROFILE_BASE}sfm-MedicationDispense")]},
        "extension": [{"url": format!("{PROFILE_BASE}sfm-dispenseinfo"), "extension": [
            {"url": "cancellation", "valueBoolean": false},
            {"url": "concluded", "valueBoolean": !p.status.is_active()},
            {"url": "prescriptionid", "valueString": p.id()}
        ]}],
        "identifier": [{"use": "official", "type": {"text": "M10id"}, "value": d.id}],
        "status": "completed",
        "medicationReference": {
            "reference": medication,
            "type": format!("{PROFILE_BASE}sfm-Medication"),
            "display": p.entry.display(),
        },
        "subject": subject,
        "performer": [{"actor": organization_reference(&d.pharmacy)}],
        "authorizingPrescription": [{
            "reference": statement_reference,
            "type": format!("{PROFILE_BASE}sfm-MedicationStatement"),
            "display": p.entry.display(),
        }],
        "quantity": {"value": d.quantity},
        "whenHandedOver": date(d.at),
    })
}

/// An allergy as Kjernejournal's AllergyIntolerance.
pub fn allergy(a: &Allergy, patient: &Value) -> Value {
    let mut code = json!({"text": a.substance});
    if let Some(atc) = &a.atc {
        code["coding"] =
            json!([{"system": statement::ATC_SYSTEM, "code": atc, "display": a.substance}]);
    }
    let mut resource = json!({
        "resourceType": "AllergyIntolerance",
        "id": a.id,
        "clinicalStatus": coding(
            "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
            "active",
            "Active"
        ),
        "verificationStatus": coding(
            "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
            "confirmed",
            "Confirmed"
        ),
        "category": [a.category()],
        "criticality": a.criticality,
        "code": code,
        "patient": patient,
        "recordedDate": date_time(a.recorded),
    });
    if let Some(reaction) = &a.reaction {
        resource["reaction"] = json!([{"manifestation": [{"text": reaction}]}]);
    }
    resource
}

/// The multidose arrangement's PractitionerRoles: the responsible doctor (Volven 7490 M) and
/// the dispensing pharmacy (A).
pub fn multidose_roles(m: &Multidose) -> [Value; 2] {
    let doctor = json!({
        "resourceType": "PractitionerRole",
        "id": format!("md-doctor-{}", m.doctor.id.as_deref().unwrap_or("unknown")),
        "meta": {"profile": [format!("{PROFILE_BASE}sfm-PractitionerRole")]},
        "practitioner": practitioner_reference(&m.doctor),
        "organization": organization_reference(&m.organization),
        "code": [coding("urn:oid:2.16.578.1.12.4.1.1.7490", "M", "Multidoseansvarlig lege")],
    });
    let pharmacy = json!({
        "resourceType": "PractitionerRole",
        "id": format!("md-pharmacy-{}", m.pharmacy.id.as_deref().unwrap_or("unknown")),
        "meta": {"profile": [format!("{PROFILE_BASE}sfm-PractitionerRole")]},
        "organization": organization_reference(&m.pharmacy),
        "code": [coding("urn:oid:2.16.578.1.12.4.1.1.7490", "A", "Ansvarlig farmasøyt")],
    });
    [doctor, pharmacy]
}

/// The pharmacy as the author of its multidose messages: a PractitionerRole of the pharmacy.
pub fn pharmacy_author_role(m: &Multidose) -> Value {
    json!({
        "resourceType": "PractitionerRole",
        "id": format!("md-pharmacy-author-{}", m.pharmacy.id.as_deref().unwrap_or("unknown")),
        "meta": {"profile": [format!("{PROFILE_BASE}sfm-PractitionerRole")]},
        "organization": organization_reference(&m.pharmacy),
    })
}

/// A multidose pharmacy's message about the PLL (M25.2, M25.3) as an `sfm-PLL-info` Basic, as
/// the real answer writes them: the date, the multidose parties, then (M25.3) one
/// `deliveryinformation` per prescription; the pharmacy's role as author, no subject.
pub fn pharmacy_message(
    message: &PharmacyMessage,
    related: &[Value],
    author: &Value,
    deliveries: Vec<Value>,
) -> Value {
    let mut parts = vec![json!({"url": "PLLdate", "valueDateTime": date_time(message.date)})];
    for r in related {
        parts.push(json!({"url": "relatedparties", "valueReference": r}));
    }
    parts.extend(deliveries);
    json!({
        "resourceType": "Basic",
        "id": message.id,
        "meta": {"profile": [format!("{PROFILE_BASE}sfm-PLL-info")]},
        "extension": [{"url": statement::PLL_INFORMATION, "extension": parts}],
        "identifier": [{"use": "usual", "value": message.id}],
        "code": coding(
            "http://ehelse.no/fhir/CodeSystem/sfm-message-type",
            message.kind.code(),
            message.kind.display()
        ),
        "author": author,
    })
}

/// The PLL's metadata as an `sfm-PLL-info` Basic; `related` are references to the multidose
/// PractitionerRoles.
pub fn pll_info(pll: &Pll, subject: &Value, related: &[Value]) -> Value {
    let mut parts = vec![json!({"url": "PLLdate", "valueDateTime": date_time(pll.date)})];
    for r in related {
        parts.push(json!({"url": "relatedparties", "valueReference": r}));
    }
    let mut basic = json!({
        "resourceType": "Basic",
        "id": pll.message_id,
        "meta": {"profile": [format!("{PROFILE_BASE}sfm-PLL-info")]},
        "extension": [{"url": statement::PLL_INFORMATION, "extension": parts}],
        "identifier": [{"use": "usual", "value": pll.message_id}],
        "code": coding("http://ehelse.no/fhir/CodeSystem/sfm-message-type", "M25.1", "PLL"),
        "subject": subject,
    });
    if let Some(author) = &pll.author {
        basic["author"] = practitioner_reference(author);
    }
    basic
}
