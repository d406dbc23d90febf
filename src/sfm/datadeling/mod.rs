//! SFM Datadeling: the patient's data shared with the EHR, where a patient is always referenced
//! by patient ticket, never by fødselsnummer — `MedicationStatement.subject`, `Task.for`,
//! `Condition.subject`, `Observation.subject`, `AllergyIntolerance.patient`, `List.subject`.
//! A ticket that is unknown, expired, another user's or another tenant's is an
//! OperationOutcome, never data.

pub mod clinical;
pub mod medication;
pub mod query;
pub mod store;
pub mod tasks;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::caller::Caller;
use super::fhir::{self, FhirBody, SfmCaller};
use super::model::{
    DNR_SYSTEM, FNR_SYSTEM, ResourceKind, SfmStore, Tenant, identifier_value, identifiers,
};
use crate::errors::fhir::{FHIR_JSON, FhirError};
use crate::errors::mark_formatted;
use crate::national::NationalStore;
use crate::sfm::State;
use query::Hit;

/// The Datadeling types helsesim stores per tenant (fixtures and creates).
pub const STORED_TYPES: [&str; 3] = ["Condition", "Observation", "Task"];

/// The search parameter naming the patient by ticket.
pub const PATIENT_TICKET: &str = "patientTicket";

/// How a resource references its patient outside SFM: the ticket as a logical reference.
pub fn ticket_reference(ticket: &str) -> Value {
    json!({"type": "Patient", "identifier": {"value": ticket}})
}

/// The ticket a reference carries (`identifier.value`).
pub fn ticket_of(reference: &Value) -> Option<&str> {
    reference
        .pointer("/identifier/value")
        .and_then(Value::as_str)
}

fn ticket_error(ticket: &str) -> FhirError {
    FhirError::new(
        StatusCode::BAD_REQUEST,
        "invalid",
        format!(
            "The patient ticket '{ticket}' is unknown or expired in this SFM instance (tickets are \
             per user, patient and instance, and live 60 minutes after their last use): get one \
             with POST /sfm/api/PatientTicket"
        ),
    )
}

/// The patient (`Patient.id`) a ticket names for this caller in this tenant. This is a use of
/// the ticket: its life is extended (tickets live 60 minutes after their last use).
pub fn patient_of_ticket(
    tenant: &mut Tenant,
    caller: &Caller,
    ticket: &str,
    now: DateTime<Utc>,
) -> Result<String, FhirError> {
    tenant
        .tickets
        .use_ticket(ticket, &caller.pid, now)
        .map(|t| t.patient_id.clone())
        .ok_or_else(|| ticket_error(ticket))
}

/// The caller's ticket for a patient: the valid one (its life extended), or a new one, as
/// `POST /sfm/api/PatientTicket` would give.
pub fn ticket_for(
    tenant: &mut Tenant,
    caller: &Caller,
    patient_id: &str,
    now: DateTime<Utc>,
) -> String {
    tenant.tickets.issue(&caller.pid, patient_id, now).value
}

/// The national systems' key of a tenant's Patient: fødselsnummer, D-nummer, else the EHR's
/// own identifier.
pub fn national_key(tenant: &Tenant, patient_id: &str) -> Option<String> {
    let patient = tenant.get(ResourceKind::Patient, patient_id)?.current();
    identifier_value(&patient, FNR_SYSTEM)
        .or_else(|| identifier_value(&patient, DNR_SYSTEM))
        .map(str::to_owned)
        .or_else(|| {
            identifiers(&patient).next().and_then(|(system, value)| {
                crate::national::patient_key(None, Some((system, value)))
            })
        })
}

/// The tenant's Patients whose national records are built, in id order: the only ones a
/// statement id or a message can come from without a patient named (a large national file is
/// built patient by patient on first use; `prescription_owner` builds the holder of a fixture
/// ReseptId first).
pub fn patients_with_built_records(tenant: &Tenant, national: &NationalStore) -> Vec<String> {
    let mut ids: Vec<String> = national
        .built()
        .filter_map(|(key, _)| patient_id_for_key(tenant, key))
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// The tenant's Patient filed under a national key (the reverse of [`national_key`]).
fn patient_id_for_key(tenant: &Tenant, key: &str) -> Option<String> {
    let found = match key.split_once('|') {
        Some((system, value)) => tenant.with_identifier(ResourceKind::Patient, &[system], value),
        None => tenant.with_identifier(ResourceKind::Patient, &[FNR_SYSTEM, DNR_SYSTEM], key),
    };
    found
        .filter(|id| national_key(tenant, id).as_deref() == Some(key))
        .cloned()
}

/// The caller's tenant, writable (tickets are issued while serving).
fn tenant_mut<'a>(sfm: &'a mut SfmStore, caller: &Caller) -> Result<&'a mut Tenant, FhirError> {
    fhir::tenant_mut_for(&mut sfm.tenants, caller)
}

/// The patient a search names with `patientTicket` (required unless `optional`).
fn ticket_param(
    tenant: &mut Tenant,
    caller: &Caller,
    query: &query::Query,
    type_name: &str,
    now: DateTime<Utc>,
    optional: bool,
) -> Result<Option<String>, FhirError> {
    match query
        .get(PATIENT_TICKET)
        .or_else(|| query.get("PatientTicket"))
    {
        Some(ticket) => patient_of_ticket(tenant, caller, ticket, now).map(Some),
        None if optional => Ok(None),
        None => Err(FhirError::new(
            StatusCode::BAD_REQUEST,
            "required",
            format!(
                "{type_name} search needs patientTicket: SFM Datadeling names patients by ticket \
                 only (get one with POST /sfm/api/PatientTicket)"
            ),
        )),
    }
}

/// Which Datadeling type a route serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    /// Stored, created by the EHR.
    Condition,
    /// Stored, created by the EHR (INR as valueQuantity).
    Observation,
    /// Stored (fixtures) and computed (changes in RF / KJ).
    Task,
    /// The patient's medication from the national systems.
    MedicationStatement,
    /// The patient's medication list.
    List,
    /// The products the statements name.
    Medication,
    /// Kjernejournal's allergies.
    AllergyIntolerance,
}

impl DataType {
    /// Every type, in CapabilityStatement order.
    pub const ALL: [DataType; 7] = [
        DataType::MedicationStatement,
        DataType::Medication,
        DataType::List,
        DataType::AllergyIntolerance,
        DataType::Condition,
        DataType::Observation,
        DataType::Task,
    ];

    /// The resource type.
    pub fn as_str(self) -> &'static str {
        match self {
            DataType::Condition => "Condition",
            DataType::Observation => "Observation",
            DataType::Task => "Task",
            DataType::MedicationStatement => "MedicationStatement",
            DataType::List => "List",
            DataType::Medication => "Medication",
            DataType::AllergyIntolerance => "AllergyIntolerance",
        }
    }

    /// Its search parameters.
    pub fn search_params(self) -> &'static [&'static str] {
        match self {
            DataType::Condition => &[
                PATIENT_TICKET,
                "_id",
                "identifier",
                "code",
                "verification-status",
                "clinical-status",
                "_lastUpdated",
            ],
            DataType::Observation => &[
                PATIENT_TICKET,
                "_id",
                "identifier",
                "code",
                "status",
                "_lastUpdated",
            ],
            DataType::Task => &[
                "type",
                PATIENT_TICKET,
                "PatientTicket",
                "code",
                "codeNot",
                "owner",
                "_lastUpdated",
                "PatientNiN",
                "_id",
            ],
            DataType::MedicationStatement => &[PATIENT_TICKET, "_id", "status"],
            DataType::List => &[PATIENT_TICKET, "_query"],
            DataType::Medication => &["_id"],
            DataType::AllergyIntolerance => &[PATIENT_TICKET, "_id"],
        }
    }

    /// Whether the EHR creates it with POST.
    pub fn creatable(self) -> bool {
        matches!(self, DataType::Condition | DataType::Observation)
    }

    /// Whether it is read by id.
    pub fn readable(self) -> bool {
        self != DataType::List
    }
}

/// Registers the Datadeling routes (inside `/sfm/fhir`, before the generic ones).
pub fn configure(cfg: &mut web::ServiceConfig) {
    for data in DataType::ALL {
        let name = data.as_str();
        let allow_type = if data.creatable() {
            "GET, HEAD, POST"
        } else {
            "GET, HEAD"
        };
        let mut type_resource = web::resource(format!("/{name}"))
            .route(web::get().to(
                move |req: HttpRequest, caller: SfmCaller, state: web::Data<State>| {
                    search(req, caller, state, data)
                },
            ))
            .route(web::head().to(
                move |req: HttpRequest, caller: SfmCaller, state: web::Data<State>| {
                    search(req, caller, state, data)
                },
            ));
        if data.creatable() {
            type_resource = type_resource.route(web::post().to(
                move |req: HttpRequest, request: FhirBody<SfmCaller>, state: web::Data<State>| {
                    create(req, request, state, data)
                },
            ));
        }
        cfg.service(type_resource.default_service(not_allowed(allow_type, name)));
        if data.readable() {
            cfg.service(
                web::resource(format!("/{name}/{{id}}"))
                    .route(web::get().to(
                        move |req: HttpRequest,
                              id: web::Path<String>,
                              caller: SfmCaller,
                              state: web::Data<State>| {
                            read(req, id, caller, state, data)
                        },
                    ))
                    .route(web::head().to(
                        move |req: HttpRequest,
                              id: web::Path<String>,
                              caller: SfmCaller,
                              state: web::Data<State>| {
                            read(req, id, caller, state, data)
                        },
                    ))
                    .default_service(not_allowed("GET, HEAD", name)),
            );
        }
    }
}

fn not_allowed(allow: &'static str, name: &'static str) -> actix_web::Route {
    web::to(move |req: HttpRequest| async move {
        let mut error = FhirError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "not-supported",
            format!(
                "{} is not supported on {} (allowed: {allow}); SFM Datadeling's {name} is {}",
                req.method(),
                req.path(),
                if allow.contains("POST") {
                    "created and read, not changed or deleted"
                } else {
                    "read-only"
                }
            ),
        );
        error.allow = Some(allow);
        error.render()
    })
}

fn fhir_json(status: StatusCode, body: &Value) -> HttpResponse {
    mark_formatted(
        HttpResponse::build(status)
            .content_type(FHIR_JSON)
            .body(serde_json::to_string(body).unwrap_or_default()),
    )
}

async fn search(
    req: HttpRequest,
    SfmCaller { caller, now }: SfmCaller,
    state: web::Data<State>,
    data: DataType,
) -> Result<HttpResponse, FhirError> {
    let query = query::parse(data.as_str(), data.search_params(), req.query_string())?;
    let mut guard = state.store_mut();
    let tenant = tenant_mut(&mut guard, &caller)?;
    let national_guard = state.national();
    let national = &*national_guard;
    let hits: Vec<Hit> = match data {
        DataType::Condition | DataType::Observation => {
            let patient = ticket_param(
                tenant,
                &caller,
                &query,
                data.as_str(),
                now,
                query.get("_id").is_some(),
            )?;
            clinical::search(tenant, &caller, data, &query, patient.as_deref(), now)
        }
        DataType::Task => {
            let patient = ticket_param(tenant, &caller, &query, "Task", now, true)?;
            tasks::search(tenant, national, &caller, &query, patient.as_deref(), now)?
        }
        DataType::MedicationStatement | DataType::List | DataType::AllergyIntolerance => {
            let patient = ticket_param(
                tenant,
                &caller,
                &query,
                data.as_str(),
                now,
                query.get("_id").is_some() && data != DataType::List,
            )?;
            medication::search(
                tenant,
                national,
                &caller,
                data,
                &query,
                patient.as_deref(),
                now,
            )?
        }
        DataType::Medication => medication::search_products(national, &query),
    };
    let bundle = query::searchset(&fhir::fhir_base(&state), data.as_str(), &query, hits, now);
    drop(national_guard);
    drop(guard);
    Ok(fhir_json(StatusCode::OK, &bundle))
}

async fn read(
    req: HttpRequest,
    id: web::Path<String>,
    SfmCaller { caller, now }: SfmCaller,
    state: web::Data<State>,
    data: DataType,
) -> Result<HttpResponse, FhirError> {
    let mut guard = state.store_mut();
    let tenant = tenant_mut(&mut guard, &caller)?;
    let national_guard = state.national();
    let national = &*national_guard;
    let found = match data {
        DataType::Condition | DataType::Observation => store::read(tenant, &caller, data, &id, now),
        DataType::Task => store::read(tenant, &caller, data, &id, now).or_else(|| {
            tasks::read_derived(tenant, national, &id)
                .map(|task| store::render(tenant, &caller, task, now))
        }),
        DataType::MedicationStatement | DataType::AllergyIntolerance => {
            medication::read(tenant, national, &caller, data, &id, now)
        }
        DataType::Medication => medication::read_product(national, &id),
        DataType::List => None,
    };
    drop(national_guard);
    drop(guard);
    let resource = found.ok_or_else(|| {
        FhirError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("Resource {}/{} is not known", data.as_str(), id.as_str()),
        )
    })?;
    Ok(reply(&state, &req, StatusCode::OK, data, &resource, false))
}

/// A Datadeling resource as the rest of the FHIR API answers one: `ETag` from its version
/// (stored resources have one), `Last-Modified` from `meta.lastUpdated`, `Location` for a create.
fn reply(
    state: &State,
    req: &HttpRequest,
    status: StatusCode,
    data: DataType,
    resource: &Value,
    location: bool,
) -> HttpResponse {
    let id = resource
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let version = resource.pointer("/meta/versionId").and_then(Value::as_str);
    fhir::resource_reply(
        state,
        req,
        status,
        data.as_str(),
        id,
        version,
        resource,
        location,
    )
}

async fn create(
    req: HttpRequest,
    request: FhirBody<SfmCaller>,
    state: web::Data<State>,
    data: DataType,
) -> Result<HttpResponse, FhirError> {
    let FhirBody {
        head: SfmCaller { caller, now },
        body: resource,
    } = request;
    let mut guard = state.store_mut();
    let tenant = tenant_mut(&mut guard, &caller)?;
    let created = clinical::create(tenant, &caller, data, resource, now)?;
    drop(guard);
    Ok(reply(
        &state,
        &req,
        StatusCode::CREATED,
        data,
        &created,
        true,
    ))
}
