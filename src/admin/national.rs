//! `/_admin/sfm/messages`: the messages SFM "sent" to Reseptformidleren (M1 prescriptions, M5
//! withdrawals, M25.1 PLLs), per patient, so tests and demos can see what a `$sendMedication` did.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use crate::errors::admin::AdminError;
use crate::national::NationalMessage;
use crate::state::AppState;

#[derive(Serialize)]
struct PatientMessages<'a> {
    patient: &'a str,
    #[serde(flatten)]
    message: &'a NationalMessage,
}

/// `GET /_admin/sfm/messages[?patient=<fødselsnummer, D-nummer or system|value>][&type=M1]`:
/// the messages, oldest first.
pub async fn messages(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let mut patient = None;
    let mut kind = None;
    for (name, value) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        match name.as_ref() {
            "patient" => patient = Some(value.into_owned()),
            "type" => match value.as_ref() {
                "M1" | "M5" | "M25.1" => kind = Some(value.into_owned()),
                other => {
                    return Err(AdminError::invalid_request(format!(
                        "type must be M1, M5 or M25.1, got '{other}'"
                    )));
                }
            },
            other => {
                return Err(AdminError::invalid_request(format!(
                    "Unknown parameter '{other}': this endpoint takes patient and type"
                )));
            }
        }
    }
    let national = state.national.read();
    let mut list: Vec<PatientMessages<'_>> = national
        .patients
        .values()
        .filter(|p| patient.as_deref().is_none_or(|key| key == p.key))
        .flat_map(|p| {
            p.messages.iter().map(|message| PatientMessages {
                patient: &p.key,
                message,
            })
        })
        .filter(|m| kind.as_deref().is_none_or(|k| k == m.message.kind.as_str()))
        .collect();
    list.sort_by_key(|m| m.message.sent);
    Ok(HttpResponse::Ok().json(serde_json::json!({ "messages": list })))
}
