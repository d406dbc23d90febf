//! `/_admin/sfm/messages`: the messages SFM "sent" to Reseptformidleren (M1 prescriptions, M5
//! withdrawals, M25.1 PLLs), per patient, so tests and demos can see what a `$sendMedication` did.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use crate::errors::admin::AdminError;
use crate::national::{MessageKind, NationalMessage};
use crate::state::AppState;

/// The kinds of message the filter takes.
const MESSAGE_KINDS: [MessageKind; 3] = [MessageKind::M1, MessageKind::M5, MessageKind::M25_1];

/// The `type` filter: `M1`, `M5` or `M25.1`.
pub struct MessageType;

impl utoipa::PartialSchema for MessageType {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::service::names_schema(&MESSAGE_KINDS.map(MessageKind::as_str))
    }
}

impl utoipa::ToSchema for MessageType {}

#[derive(Serialize)]
struct PatientMessages<'a> {
    patient: &'a str,
    #[serde(flatten)]
    message: &'a NationalMessage,
}

/// `GET /_admin/sfm/messages[?patient=<fødselsnummer, D-nummer or system|value>][&type=M1]`:
/// the messages, oldest first.
#[utoipa::path(
    get,
    path = "/_admin/sfm/messages",
    operation_id = "listMessages",
    summary = "The M1/M5/M25.1 messages SFM sent",
    params(
        ("patient" = Option<String>, Query, description = "only this patient's"),
        ("type" = Option<MessageType>, Query, description = "only this kind")
    ),
    responses((status = 200, description = "{messages: [...]}"))
)]
pub async fn messages(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let mut patient = None;
    let mut kind = None;
    for (name, value) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        match name.as_ref() {
            "patient" => patient = Some(value.into_owned()),
            "type" => match MESSAGE_KINDS.into_iter().find(|k| k.as_str() == value) {
                Some(found) => kind = Some(found),
                None => {
                    return Err(AdminError::invalid_request(format!(
                        "type must be M1, M5 or M25.1, got '{value}'"
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
    // Only a patient changed since load can hold messages.
    let mut list: Vec<PatientMessages<'_>> = national
        .changed()
        .filter(|p| patient.as_deref().is_none_or(|key| key == p.key))
        .flat_map(|p| {
            p.messages.iter().map(|message| PatientMessages {
                patient: &p.key,
                message,
            })
        })
        .filter(|m| kind.is_none_or(|k| k == m.message.kind))
        .collect();
    list.sort_by_key(|m| m.message.sent);
    Ok(HttpResponse::Ok().json(serde_json::json!({ "messages": list })))
}
