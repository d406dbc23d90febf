//! `setPatient` at the GUI server API (`POST {apiAddress}api/patient`): the portal opens the
//! patient its EHR names by SFM patient ticket. The ticket must be valid, the user's and this
//! organisation's; the portal then looks the patient up as `$getMedication` does (recorded as
//! the user's latest lookup, so every rule of `$sendMedication` applies to the GUI's sends).

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::error::GuiError;
use super::login::{logged_in, object, text};
use super::model::OpenPatient;
use crate::national::NationalStore;
use crate::sfm::State;
use crate::sfm::caller::Caller;
use crate::sfm::medication::get::{GetInput, look_up};
use crate::sfm::medication::outage::NationalSystems;
use crate::sfm::medication::patient_identity;
use crate::sfm::model::{ResourceKind, SfmStore, Tenant, Versioned};

/// What `setPatient` carries (other members are ignored, as the client ignores them).
struct PatientRequest {
    ticket: String,
    show_allergies: bool,
    on_behalf_of: Option<String>,
}

/// A flag as EHRs send it: `true`/`false` or the strings `"true"`/`"false"`; absent is false.
fn flag(body: &Map<String, Value>, name: &str) -> Result<bool, GuiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") || s.is_empty() => Ok(false),
        Some(other) => Err(GuiError::bad(format!(
            "{name} must be true or false (or \"true\"/\"false\"), got {other}"
        ))),
    }
}

impl PatientRequest {
    fn parse(body: &Map<String, Value>) -> Result<Self, GuiError> {
        let ticket = text(
            body,
            "ticket",
            "the SFM patient ticket (POST /api/PatientTicket)",
        )?;
        let on_behalf_of = match body.get("onBehalfOf") {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        Ok(Self {
            ticket: ticket.to_owned(),
            show_allergies: flag(body, "showAllergies")?,
            on_behalf_of,
        })
    }
}

/// The tenant's patient the ticket names, for the caller: the ticket's life slides on use. A
/// ticket of another user or organisation, expired or unknown, is refused with its reason.
fn patient_of_ticket(
    tenants: &mut HashMap<String, Tenant>,
    caller: &Caller,
    ticket: &str,
    now: DateTime<Utc>,
) -> Result<String, GuiError> {
    let in_other_instance = tenants
        .iter()
        .any(|(id, t)| *id != caller.tenant_id && t.tickets.find(ticket).is_some());
    let tenant = tenants
        .get_mut(&caller.tenant_id)
        .ok_or_else(super::login::ended)?;
    if let Some(t) = tenant.tickets.use_ticket(ticket, &caller.pid, now) {
        return Ok(t.patient_id.clone());
    }
    let refused = |status, message: String| Err(GuiError::new(status, message));
    match tenant.tickets.find(ticket) {
        Some(t) if t.user_pid != caller.pid => refused(
            StatusCode::FORBIDDEN,
            "The patient ticket was issued to another user: a ticket is never shared between \
             users; the EHR gets this user's own with POST /api/PatientTicket and the user's token"
                .to_owned(),
        ),
        Some(t) => refused(
            StatusCode::BAD_REQUEST,
            format!(
                "The patient ticket expired at {}: the EHR gets a new one with POST \
                 /api/PatientTicket",
                t.expires.to_rfc3339()
            ),
        ),
        None if in_other_instance => refused(
            StatusCode::FORBIDDEN,
            "The patient ticket belongs to another organisation's SFM instance: a ticket works \
             only in the instance that issued it"
                .to_owned(),
        ),
        None => refused(
            StatusCode::NOT_FOUND,
            "The patient ticket is unknown (or expired long ago): the EHR gets one with POST \
             /api/PatientTicket"
                .to_owned(),
        ),
    }
}

/// The caller's HPR number: prescribing needs an authorised health professional.
pub fn hpr_of(caller: &Caller) -> Result<String, GuiError> {
    crate::sfm::medication::require_hpr(caller, "SFM's patient portal")
        .map_err(|e| GuiError::from_fhir(&e))
}

/// Who acts in the GUI, and when.
pub struct Actor {
    /// The session's user as an SFM caller.
    pub caller: Caller,
    /// The user's HPR number.
    pub hpr: String,
    /// Now.
    pub now: DateTime<Utc>,
}

/// A lookup of `patient` by the actor in `tenant`, as `$getMedication` makes it (Kjernejournal
/// is asked, with consent, when the EHR wants allergies shown): the patient's key and the
/// medication document.
pub fn look_up_patient(
    state: &State,
    tenant: &mut Tenant,
    national: &NationalStore,
    actor: &Actor,
    patient: &Value,
    show_allergies: bool,
) -> Result<(String, Value), GuiError> {
    let Actor { caller, hpr, now } = actor;
    let identity = patient_identity(patient, "Patient").map_err(|issues| {
        let messages: Vec<String> = issues.into_iter().map(|i| i.diagnostics).collect();
        GuiError::bad(format!(
            "The patient cannot be looked up: {}",
            messages.join(" | ")
        ))
    })?;
    let key = identity.key.clone();
    let input = GetInput {
        patient: patient.clone(),
        identity,
        refnums: Vec::new(),
        kj_consent: show_allergies.then(|| "HPMOTTATTSAMTYKKE".to_owned()),
        blocked_consent: None,
        locked_consent: None,
    };
    let fhir_base = crate::sfm::fhir::fhir_base(state);
    let systems = NationalSystems {
        store: national,
        outages: state.outages(),
    };
    let parameters = look_up(&input, tenant, systems, caller, hpr, *now, &fhir_base);
    let document = crate::sfm::medication::get::parameters(&parameters)
        .find(|(_, name, _)| *name == "medication")
        .and_then(|(_, _, p)| p.get("resource"))
        .cloned()
        .unwrap_or(Value::Null);
    Ok((key, document))
}

/// The ids of the patient's current PLL entries.
pub fn pll_ids(national: &NationalStore, key: &str) -> Vec<String> {
    national
        .patient(key)
        .and_then(|p| p.pll.as_ref())
        .into_iter()
        .flat_map(|pll| &pll.entries)
        .filter_map(|e| e.pll_id().map(str::to_owned))
        .collect()
}

/// The tenant's Patient resource.
pub fn patient_resource(tenant: &Tenant, patient_id: &str) -> Result<Value, GuiError> {
    tenant
        .get(ResourceKind::Patient, patient_id)
        .map(Versioned::current)
        .ok_or_else(|| GuiError::new(StatusCode::NOT_FOUND, "The patient no longer exists"))
}

/// `POST {apiAddress}api/patient`: `{ticket, showAllergies, onBehalfOf}`, answered with the
/// portal's view of the patient.
pub async fn set_patient(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<State>,
) -> Result<HttpResponse, GuiError> {
    let now = state.clock.now();
    let request = PatientRequest::parse(&object(&body)?)?;
    let mut guard = state.store_mut();
    let SfmStore { tenants, gui, .. } = &mut *guard;
    let (session, index) = logged_in(&req, gui, now)?;
    if !session.clients[index].portal.takes_patients() {
        return Err(GuiError::bad(
            "setPatient works only in the patient and display portals",
        ));
    }
    let caller = session.caller();
    let actor = Actor {
        hpr: hpr_of(&caller)?,
        caller,
        now,
    };
    let patient_id = patient_of_ticket(tenants, &actor.caller, &request.ticket, now)?;
    let tenant = tenants
        .get_mut(&actor.caller.tenant_id)
        .ok_or_else(super::login::ended)?;
    let patient = patient_resource(tenant, &patient_id)?;
    let national = state.national();
    let show = request.show_allergies;
    let (key, document) = look_up_patient(&state, tenant, &national, &actor, &patient, show)?;
    let view = super::view::render(&patient, &document, &pll_ids(&national, &key), show);
    drop(national);
    session.clients[index].patient = Some(OpenPatient {
        ticket: request.ticket,
        patient_id,
        patient_key: key,
        show_allergies: show,
        on_behalf_of: request.on_behalf_of,
        document,
    });
    drop(guard);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(view))
}
