//! The patient portal's prescribing (`POST {apiAddress}api/prescriptions`,
//! `…/prescriptions/{reseptId}/renew`, `…/prescriptions/{reseptId}/stop`, `…/pll`): each edits
//! the document of the portal's latest lookup and sends it through the code `$sendMedication`
//! runs — the same checks against Reseptformidleren, the same rules against the user's latest
//! lookup, the same national systems — then looks the patient up again, as the client reloads.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::edit::{self, NewPrescription};
use super::error::GuiError;
use super::login::{logged_in, object, text};
use super::model::Portal;
use super::patient::{Actor, hpr_of, look_up_patient, patient_resource, pll_ids};
use crate::sfm::State;
use crate::sfm::medication::document::SendDocument;
use crate::sfm::medication::send::{Moment, Outcome, send};
use crate::sfm::model::SfmStore;

/// What the clinician does.
#[derive(Debug, Clone)]
enum Action {
    Add(NewPrescription),
    Renew(String),
    Stop(String),
    Pll,
}

impl Action {
    /// Makes the edit in `document`; what happened, for the user.
    fn edit(
        &self,
        document: &mut serde_json::Value,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<String, GuiError> {
        let unknown = |id: &str| {
            GuiError::new(
                StatusCode::NOT_FOUND,
                format!("The patient's medication list has no prescription with ReseptId {id}"),
            )
        };
        match self {
            Action::Add(new) => {
                edit::add_prescription(document, new, now);
                Ok(format!(
                    "Resepten på {} er sendt til Reseptformidleren (M1).",
                    new.name
                ))
            }
            Action::Renew(id) => edit::renew(document, id, now)
                .map(|_| {
                    "Resepten er fornyet: en ny resept er sendt (M1) og den gamle trukket \
                     tilbake (M5)."
                        .to_owned()
                })
                .ok_or_else(|| unknown(id)),
            Action::Stop(id) => edit::stop(document, id, now)
                .map(|()| "Resepten er trukket tilbake (M5).".to_owned())
                .ok_or_else(|| unknown(id)),
            Action::Pll => {
                edit::drop_renewed(document);
                Ok("Pasientens legemiddelliste (PLL) er sendt (M25.1).".to_owned())
            }
        }
    }
}

/// What a send did, for the portal.
fn result(message: String, outcome: &Outcome) -> Value {
    let operations: Vec<Value> = outcome
        .operations
        .iter()
        .map(|op| json!({"reseptId": op.resept_id, "refnum": op.refnum}))
        .collect();
    json!({
        "message": message,
        "prescriptionCount": outcome.prescription_count,
        "recallCount": outcome.recall_count,
        "pllMessageId": outcome.pll_message_id,
        "operations": operations,
    })
}

/// Performs `action` in the portal `req` is logged in as: edit, send, look up again.
async fn perform(
    req: HttpRequest,
    state: web::Data<State>,
    action: Action,
) -> Result<HttpResponse, GuiError> {
    let now = state.clock.now();
    let mut guard = state.store_mut();
    let SfmStore { tenants, gui, .. } = &mut *guard;
    let (session, index) = logged_in(&req, gui, now)?;
    if session.clients[index].portal != Portal::Patient {
        return Err(GuiError::new(
            StatusCode::FORBIDDEN,
            "Only the patient portal prescribes: this portal shows the medication",
        ));
    }
    let Some(open) = session.clients[index].patient.clone() else {
        return Err(GuiError::bad(
            "No patient is open: the EHR opens one with the setPatient message",
        ));
    };
    let caller = session.caller();
    let actor = Actor {
        hpr: hpr_of(&caller)?,
        caller,
        now,
    };
    let tenant = tenants
        .get_mut(&actor.caller.tenant_id)
        .ok_or_else(super::login::ended)?;
    let mut document = open.document.clone();
    let message = action.edit(&mut document, now)?;
    edit::set_create_pll(&mut document, matches!(action, Action::Pll));
    let mut national = state.national_mut();
    let sent = SendDocument::parse(&edit::send_body(&document))
        .and_then(|d| {
            send(
                &d,
                tenant,
                &mut national,
                &actor.caller,
                actor.hpr.clone(),
                Moment {
                    now,
                    outages: state.outages(),
                },
            )
        })
        .map_err(|e| GuiError::from_fhir(&e));
    let patient = patient_resource(tenant, &open.patient_id)?;
    let show = open.show_allergies;
    let (key, fresh) = look_up_patient(&state, tenant, &national, &actor, &patient, show)?;
    let mut view = super::view::render(&patient, &fresh, &pll_ids(&national, &key), show);
    drop(national);
    if let Some(open) = session.clients[index].patient.as_mut() {
        open.document = fresh;
    }
    drop(guard);
    view["result"] = result(message, &sent?);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(view))
}

/// `POST {apiAddress}api/prescriptions`: `{name, dosage}`, a new prescription (M1).
pub async fn add(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<State>,
) -> Result<HttpResponse, GuiError> {
    let body = object(&body)?;
    let new = NewPrescription {
        name: text(&body, "name", "the medication's name")?.to_owned(),
        dosage: text(
            &body,
            "dosage",
            "the dosage in words (\"1 tablett daglig\")",
        )?
        .to_owned(),
    };
    perform(req, state, Action::Add(new)).await
}

/// `POST {apiAddress}api/prescriptions/{reseptId}/renew`: renew (M1 + M5).
pub async fn renew(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<State>,
) -> Result<HttpResponse, GuiError> {
    perform(req, state, Action::Renew(path.into_inner())).await
}

/// `POST {apiAddress}api/prescriptions/{reseptId}/stop`: withdraw (M5).
pub async fn stop(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<State>,
) -> Result<HttpResponse, GuiError> {
    perform(req, state, Action::Stop(path.into_inner())).await
}

/// `POST {apiAddress}api/pll`: send the patient's medication list (M25.1).
pub async fn pll(req: HttpRequest, state: web::Data<State>) -> Result<HttpResponse, GuiError> {
    perform(req, state, Action::Pll).await
}
