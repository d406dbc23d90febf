//! The demo EHR page's backend API (`/epj/api`, JSON): who is logged in and the patient list,
//! the kjernejournal icon (helseindikator), opening the Kjernejournal portal (Innlogging) and
//! SFM's client (session service + patient ticket), and the medication list from Datadeling.
//! Errors are `{"error","message"}`, a failed national call with its answer.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use aws_lc_rs::digest::{SHA512, digest};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::Demo;
use super::keepalive;
use super::national::{Answer, Call, CallError, National, SOURCE_SYSTEM};
use super::session::Login;
use crate::commands::token::DpopKey;
use crate::errors::admin::AdminError;
use crate::ids::NationalId;

/// The caller's login, or 401.
fn with_login<T>(
    req: &HttpRequest,
    demo: &Demo,
    f: impl FnOnce(&mut Login) -> T,
) -> Result<T, AdminError> {
    let not_logged_in = || {
        AdminError::new(
            StatusCode::UNAUTHORIZED,
            "not_logged_in",
            "Log in first: /epj/login",
        )
    };
    let id = demo.sessions.id_of(req).ok_or_else(not_logged_in)?;
    let mut sessions = demo.sessions.lock();
    let login = sessions
        .get_mut(&id)
        .and_then(|s| s.login.as_mut())
        .ok_or_else(not_logged_in)?;
    Ok(f(login))
}

fn national(demo: &Demo) -> Result<&National, AdminError> {
    demo.national()
        .map_err(|reason| AdminError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", reason))
}

fn failed(e: CallError) -> AdminError {
    AdminError::new(StatusCode::BAD_GATEWAY, "national_call_failed", e.0)
}

fn patient_pid(pid: &str) -> Result<String, AdminError> {
    NationalId::parse(pid)
        .map(|id| id.as_str().to_owned())
        .map_err(|e| AdminError::invalid_request(e.to_string()))
}

/// Renews the clinician's tokens when they have less than [`keepalive::RENEW_BEFORE`] left
/// (one renewal at a time: the refresh token rotates, and a rotated one used again would end
/// the login) and hands them to SFM's and Kjernejournal's sessions.
async fn renew_if_due(
    req: &HttpRequest,
    demo: &Demo,
    national: &National,
) -> Result<(), AdminError> {
    let now = national.now();
    let due = with_login(req, demo, |l| {
        if l.renewing || l.expires - now > keepalive::RENEW_BEFORE {
            return None;
        }
        l.renewing = true;
        let sessions: Vec<String> = l.kj_sessions.values().cloned().collect();
        Some((l.refresh_token.clone(), l.dpop.clone(), sessions))
    })?;
    let Some((Some(refresh_token), dpop, kj_sessions)) = due else {
        return Ok(());
    };
    let renewed = keepalive::renew(national, &refresh_token, &dpop).await;
    with_login(req, demo, |l| {
        l.renewing = false;
        if let Ok(tokens) = &renewed {
            l.sfm_token.clone_from(&tokens.sfm);
            l.kj_token.clone_from(&tokens.kj);
            l.refresh_token.clone_from(&tokens.refresh_token);
            l.expires = tokens.expires;
        }
    })?;
    let tokens = renewed.map_err(failed)?;
    keepalive::hand_over(national, &tokens, &dpop, &kj_sessions)
        .await
        .map_err(failed)
}

/// `POST /epj/api/keepalive`: the page's ping every four minutes; renews the tokens when due.
pub async fn keepalive(
    req: HttpRequest,
    demo: web::Data<Demo>,
) -> Result<HttpResponse, AdminError> {
    let national = national(&demo)?;
    renew_if_due(&req, &demo, national).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /epj/api/session`: the clinician, the organisation and the patient list (SFM's
/// Patients of the EHR's instance).
pub async fn session(req: HttpRequest, demo: web::Data<Demo>) -> Result<HttpResponse, AdminError> {
    let national = national(&demo)?;
    renew_if_due(&req, &demo, national).await?;
    let (clinician, token) =
        with_login(&req, &demo, |l| (l.clinician.clone(), l.sfm_token.clone()))?;
    let url = format!("{}/sfm/fhir/Patient", national.base);
    let bundle = national
        .get_fhir(&url, &token, "SFM Patient search")
        .await
        .map_err(failed)?;
    let patients: Vec<Value> = bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| patient_row(&e["resource"]))
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "clinician": clinician,
        "organisation": national.client.entry.orgnr_parent,
        "patients": patients,
    })))
}

/// A patient as the list shows it: name and national identity number.
fn patient_row(patient: &Value) -> Option<Value> {
    let pid = patient["identifier"]
        .as_array()?
        .iter()
        .filter_map(|i| i["value"].as_str())
        .find(|v| NationalId::parse(v).is_ok())?;
    let name = &patient["name"][0];
    let given: Vec<&str> = name["given"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let family = name["family"].as_str().unwrap_or_default();
    let name = format!("{} {family}", given.join(" ")).trim().to_owned();
    Some(json!({"pid": pid, "name": name, "birthDate": patient["birthDate"]}))
}

/// A system token for Kjernejournal's helseindikator, reused until a minute before expiry.
async fn system_token(demo: &Demo, national: &National) -> Result<String, AdminError> {
    let now = national.now();
    if let Some((token, until)) = demo.cached_system_token()
        && until > now
    {
        return Ok(token);
    }
    let answer = national
        .system_token("nhn:kjernejournal/api")
        .await
        .map_err(failed)?;
    let token = answer["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let lifetime = answer["expires_in"].as_i64().unwrap_or(60) - 60;
    demo.cache_system_token(
        token.clone(),
        crate::clock::after(now, chrono::TimeDelta::seconds(lifetime)),
    );
    Ok(token)
}

/// `POST /epj/api/patients/{pid}/indicator` (`{"samtykke"?}`): Kjernejournal's helseindikator
/// for the patient, as Kjernejournal answered it.
pub async fn indicator(
    req: HttpRequest,
    pid: web::Path<String>,
    body: web::Json<Value>,
    demo: web::Data<Demo>,
) -> Result<HttpResponse, AdminError> {
    let national = national(&demo)?;
    with_login(&req, &demo, |_| ())?;
    let pid = patient_pid(&pid)?;
    let token = system_token(&demo, national).await?;
    let mut request = json!({"fnr": pid});
    if let Some(consent) = body.get("samtykke").and_then(Value::as_str) {
        request["samtykke"] = json!(consent);
    }
    let url = format!("{}/kjernejournal/v1/helseindikator", national.base);
    let answer = national
        .post_json(&url, &token, &request, &[("X-EPJ-System", SOURCE_SYSTEM)])
        .await
        .map_err(failed)?;
    let status = StatusCode::from_u16(answer.status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    Ok(HttpResponse::build(status).json(answer.body))
}

/// The Innlogging service's URL for `operation` (`create`, `refresh`, `end`).
fn innlogging(national: &National, operation: &str) -> String {
    format!(
        "{}/kjernejournal/innlogging/api/session/{operation}",
        national.base
    )
}

/// An Innlogging call with the clinician's DPoP-bound Kjernejournal token `kj_token`.
pub async fn innlogging_call(
    national: &National,
    kj_token: &str,
    dpop: &DpopKey,
    operation: &str,
    body: &Value,
) -> Result<Answer, CallError> {
    let url = innlogging(national, operation);
    national
        .api(
            Call {
                method: "POST",
                url: &url,
                token: Some(("DPoP", kj_token)),
                body: Some(body),
                headers: &[("X-SOURCE-SYSTEM", SOURCE_SYSTEM)],
            },
            Some(dpop),
        )
        .await
}

/// Ends an Innlogging session.
pub async fn kj_session_end(
    national: &National,
    login: &Login,
    session_id: &str,
) -> Result<Answer, CallError> {
    let body = json!({"sessionId": session_id});
    innlogging_call(national, &login.kj_token, &login.dpop, "end", &body).await
}

/// The Innlogging `create` body for `pid` on `access_basis`, with the EHR's code challenge.
fn innlogging_claims(pid: &str, access_basis: &str, challenge: &str) -> Value {
    json!({
        "ehr_code_challenge": challenge,
        "claims": {
            "patient_identifier": {
                "id": pid, "system": "urn:oid:2.16.578.1.12.4.1.4.1",
                "authority": "https://www.skatteetaten.no"
            },
            "practitioner_authorization": {
                "code": "LE", "system": "urn:oid:2.16.578.1.12.4.1.1.9060",
                "assigner": "https://www.helsedirektoratet.no/"
            },
            "access_basis": {
                "code": access_basis, "system": "SYSTEM_GRUNNLAG", "assigner": "https://nhn.no"
            }
        }
    })
}

/// A copy of what an Innlogging call needs from the login (the lock is not held across it).
fn login_copy(login: &Login) -> Login {
    Login {
        clinician: login.clinician.clone(),
        sfm_token: login.sfm_token.clone(),
        kj_token: login.kj_token.clone(),
        refresh_token: None,
        id_token: None,
        dpop: login.dpop.clone(),
        kj_sessions: login.kj_sessions.clone(),
        expires: login.expires,
        renewing: false,
    }
}

/// `POST /epj/api/patients/{pid}/kjernejournal` (`{"access_basis": SAMTYKKE|AKUTT|UNNTAK}`):
/// ends the clinician's Innlogging sessions, opens one for this patient and answers the
/// portal's URL (`hentpasient.html?code=…&ehr_code_verifier=…`).
pub async fn kjernejournal(
    req: HttpRequest,
    pid: web::Path<String>,
    body: web::Json<Value>,
    demo: web::Data<Demo>,
) -> Result<HttpResponse, AdminError> {
    let national = national(&demo)?;
    renew_if_due(&req, &demo, national).await?;
    let pid = patient_pid(&pid)?;
    let login = with_login(&req, &demo, |l| login_copy(l))?;
    for session_id in login.kj_sessions.values() {
        let _ = kj_session_end(national, &login, session_id).await;
    }
    let access_basis = body
        .get("access_basis")
        .and_then(Value::as_str)
        .unwrap_or("SAMTYKKE");
    let verifier = crate::random::url_token(32);
    let challenge = crate::jose::sha256_b64url(&verifier);
    let request = innlogging_claims(&pid, access_basis, &challenge);
    let created = innlogging_call(national, &login.kj_token, &login.dpop, "create", &request)
        .await
        .and_then(|a| a.ok("Kjernejournal Innlogging session/create"))
        .map_err(failed)?;
    let code = created["code"].as_str().unwrap_or_default();
    let session_id = created["sessionId"].as_str().unwrap_or_default().to_owned();
    with_login(&req, &demo, |l| {
        l.kj_sessions.clear();
        l.kj_sessions.insert(pid.clone(), session_id);
    })?;
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("code", code)
        .append_pair("ehr_code_verifier", &verifier)
        .finish();
    Ok(HttpResponse::Ok().json(json!({
        "url": format!("{}/kjernejournal/hpp-webapp/hentpasient.html?{query}", national.base)
    })))
}

/// SFM's patient ticket for `pid`.
async fn patient_ticket(national: &National, token: &str, pid: &str) -> Result<String, CallError> {
    let url = format!("{}/sfm/api/PatientTicket", national.base);
    let body = json!({"patientPid": pid});
    let answer = national
        .post_json(&url, token, &body, &[("Accept", "application/json")])
        .await?
        .ok("SFM PatientTicket")?;
    answer["patientTicket"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| CallError(format!("SFM PatientTicket answered {answer}")))
}

/// What a call to SFM about `pid` starts with: the connection, the checked pid and the
/// clinician's (renewed when due) SFM token.
async fn sfm_call<'d>(
    req: &HttpRequest,
    demo: &'d Demo,
    pid: &str,
) -> Result<(&'d National, String, String), AdminError> {
    let national = national(demo)?;
    renew_if_due(req, demo, national).await?;
    let pid = patient_pid(pid)?;
    let token = with_login(req, demo, |l| l.sfm_token.clone())?;
    Ok((national, pid, token))
}

/// `POST /epj/api/patients/{pid}/sfm`: SFM's session (`Session/create` with the SHA-512 of a
/// fresh nonce) and the patient ticket; the page gets what it posts to SFM's client: the portal
/// URL, the one-time code, the plain nonce, the API address and the ticket.
pub async fn sfm(
    req: HttpRequest,
    pid: web::Path<String>,
    demo: web::Data<Demo>,
) -> Result<HttpResponse, AdminError> {
    let (national, pid, token) = sfm_call(&req, &demo, &pid).await?;
    let nonce: [u8; 64] = rand::random();
    let nonce_hash = STANDARD.encode(digest(&SHA512, &nonce));
    let url = format!("{}/sfm/api/Session/create", national.base);
    let session = national
        .post_json(&url, &token, &json!({"nonce": nonce_hash}), &[])
        .await
        .and_then(|a| a.ok("SFM Session/create"))
        .map_err(failed)?;
    let ticket = patient_ticket(national, &token, &pid)
        .await
        .map_err(failed)?;
    Ok(HttpResponse::Ok().json(json!({
        "portal": session["metadata"]["patientportal"],
        "code": session["code"],
        "nonce": STANDARD.encode(nonce),
        "apiEndpoint": session["apiAddress"],
        "ticket": ticket,
    })))
}

/// `GET /epj/api/patients/{pid}/medication`: the medication list from Datadeling
/// (`List?patientTicket=`), one row per statement.
pub async fn medication(
    req: HttpRequest,
    pid: web::Path<String>,
    demo: web::Data<Demo>,
) -> Result<HttpResponse, AdminError> {
    let (national, pid, token) = sfm_call(&req, &demo, &pid).await?;
    let ticket = patient_ticket(national, &token, &pid)
        .await
        .map_err(failed)?;
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("patientTicket", &ticket)
        .finish();
    let url = format!("{}/sfm/fhir/List?{query}", national.base);
    let bundle = national
        .get_fhir(&url, &token, "SFM Datadeling List")
        .await
        .map_err(failed)?;
    Ok(HttpResponse::Ok().json(json!({"medication": medication_rows(&bundle)})))
}

/// The statements of a Datadeling List bundle: medication name, status, dosage.
fn medication_rows(bundle: &Value) -> Vec<Value> {
    let resources: Vec<&Value> = bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| &e["resource"])
        .collect();
    let medication_name = |reference: &str| {
        let id = reference.strip_prefix("Medication/")?;
        let medication = resources
            .iter()
            .find(|r| r["resourceType"] == "Medication" && r["id"] == id)?;
        medication["code"]["text"]
            .as_str()
            .or_else(|| medication["code"]["coding"][0]["display"].as_str())
            .map(str::to_owned)
    };
    resources
        .iter()
        .filter(|r| r["resourceType"] == "MedicationStatement")
        .map(|s| {
            let reference = s["medicationReference"]["reference"]
                .as_str()
                .unwrap_or_default();
            json!({
                "name": medication_name(reference)
                    .or_else(|| s["medicationReference"]["display"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| reference.to_owned()),
                "status": s["status"],
                "dosage": s["dosage"][0]["text"],
            })
        })
        .collect()
}
