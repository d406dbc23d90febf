//! HelseID's trust-framework attest (tillitsrammeverk): the authorization detail of type
//! `nhn:tillitsrammeverk:parameters` in which an EHR attests who the practitioner is, why they
//! need the patient's data and for which patients.
//!
//! HelseID takes it in the authorization request (PAR, a request object or the form's
//! `authorization_details`) — then every access token of the login carries it — or in the
//! client assertion at the token request (`assertion_details` or `authorization_details`) —
//! then only that token does; both at once is refused with `HID-DOUBLE-STRUCTURE`. The client
//! sends reduced objects (`code` + `system`, `id` + `system`); HelseID adds texts, assigners and
//! authorities and the practitioner's identity from the login, and puts the result in the
//! access token's `nhn:tillitsrammeverk:parameters` claim.
//!
//! Sources: utviklerportal.nhn.no "Profil for tillitsrammeverk" (transport, the double-structure
//! error); NorskHelsenett/Tillitsrammeverk `informasjons_og_datamodell.md` (fields, code systems,
//! texts, assigners); NHN's helseid-workshops and kjernejournal-innlogging-klient (what clients
//! send).

use serde_json::{Map, Value, json};

use super::model::User;
use super::tenancy;
use crate::auth::claims::TRUST_FRAMEWORK;
use crate::errors::oauth::{OAuthError, OAuthErrorCode};
use crate::ids::{NationalId, NationalIdKind, OrgNr};

/// The code system of organisation numbers (Enhetsregisteret).
const ENH_SYSTEM: &str = "urn:oid:2.16.578.1.12.4.1.4.101";
/// HPR's authorisation codes (Volven 9060).
const AUTHORIZATION_SYSTEM: &str = "urn:oid:2.16.578.1.12.4.1.1.9060";
/// HL7's purpose-of-use value set.
const PURPOSE_OF_USE_SYSTEM: &str = "urn:oid:2.16.840.1.113883.1.11.20448";
/// The prefix of the healthcare-service code systems (Volven 8655, 8627, 8451, …).
const HEALTHCARE_SERVICE_SYSTEMS: &str = "urn:oid:2.16.578.1.12.4.1.1.";
/// Fødselsnummer and D-nummer.
const FNR_SYSTEM: &str = "urn:oid:2.16.578.1.12.4.1.4.1";
const DNR_SYSTEM: &str = "urn:oid:2.16.578.1.12.4.1.4.2";
/// HPR numbers.
const HPR_SYSTEM: &str = "urn:oid:2.16.578.1.12.4.1.4.4";
const HELSEDIREKTORATET: &str = "https://www.helsedirektoratet.no/";
const SKATTEETATEN: &str = "https://www.skatteetaten.no";
const BRREG: &str = "https://www.brreg.no";

/// The purposes of use the information model allows, with HelseID's texts (TREAT's is the
/// model's example; the others are helsesim's translations).
const PURPOSES_OF_USE: [(&str, &str); 4] = [
    ("TREAT", "Behandling"),
    ("ETREAT", "Akutt behandling"),
    ("COC", "Koordinering av helsehjelp"),
    ("BTG", "Nødtilgang"),
];

/// HPR's authorisation codes (Volven 9060) and their texts.
const AUTHORIZATIONS: [(&str, &str); 27] = [
    ("AA", "Ambulansearbeider"),
    ("AU", "Audiograf"),
    ("BI", "Bioingeniør"),
    ("ET", "Ergoterapeut"),
    ("FA1", "Provisorfarmasøyt"),
    ("FA2", "Reseptarfarmasøyt"),
    ("FO", "Fotterapeut"),
    ("FT", "Fysioterapeut"),
    ("HE", "Helsesekretær"),
    ("HF", "Helsefagarbeider"),
    ("HP", "Hjelpepleier"),
    ("JO", "Jordmor"),
    ("KE", "Klinisk ernæringsfysiolog"),
    ("KI", "Kiropraktor"),
    ("LE", "Lege"),
    ("MT", "Manuellterapeut"),
    ("OA", "Omsorgsarbeider"),
    ("OI", "Ortopediingeniør"),
    ("OP", "Optiker"),
    ("PM", "Paramedisiner"),
    ("PS", "Psykolog"),
    ("RA", "Radiograf"),
    ("SP", "Sykepleier"),
    ("TH", "Tannhelsesekretær"),
    ("TL", "Tannlege"),
    ("TP", "Tannpleier"),
    ("VP", "Vernepleier"),
];

/// A validated attest as the client sent it (its `type` removed, `care_relation` read as
/// `care_relationship`).
#[derive(Debug, Clone, PartialEq)]
pub struct Attest(Map<String, Value>);

/// The attest among `details` — a request's `authorization_details` or a client assertion's
/// `assertion_details` / `authorization_details` — validated; `None` when there is none.
pub fn find(details: &Map<String, Value>) -> Result<Option<Attest>, OAuthError> {
    let mut found = None;
    for detail in tenancy::detail_objects(details)? {
        if detail.get("type").and_then(Value::as_str) != Some(TRUST_FRAMEWORK) {
            continue;
        }
        if found.is_some() {
            return Err(invalid(&[format!(
                "send one {TRUST_FRAMEWORK} detail, not several"
            )]));
        }
        found = Some(validate(&detail).map_err(|problems| invalid(&problems))?);
    }
    Ok(found)
}

/// The attest of a token request: the one of the login (`stored`) or of this request's client
/// assertion, never both (HelseID's `HID-DOUBLE-STRUCTURE`).
pub fn of_token_request(
    stored: Option<&Map<String, Value>>,
    assertion: &Map<String, Value>,
) -> Result<Option<Attest>, OAuthError> {
    let from_login = stored.map(find).transpose()?.flatten();
    let from_assertion = find(assertion)?;
    match (from_login, from_assertion) {
        (Some(_), Some(_)) => Err(OAuthError::new(
            OAuthErrorCode::AccessDenied,
            format!(
                "HID-DOUBLE-STRUCTURE: the {TRUST_FRAMEWORK} attest was sent both in the \
                 authorization request and in the client assertion: send it in one of them"
            ),
        )),
        (login, assertion) => Ok(login.or(assertion)),
    }
}

/// Whether a token with `scopes` carries the attest: it needs a resource's
/// `…/tillitsrammeverk` scope (e.g. `nhn:kjernejournal/tillitsrammeverk`).
pub fn carried_by(scopes: &[String]) -> bool {
    scopes.iter().any(|s| s.ends_with("/tillitsrammeverk"))
}

fn invalid(problems: &[String]) -> OAuthError {
    OAuthError::invalid_request(format!(
        "HID-1007: the {TRUST_FRAMEWORK} authorization detail is not valid: {}",
        problems.join("; ")
    ))
}

/// Every problem of an attest detail, or the attest.
pub fn validate(detail: &Map<String, Value>) -> Result<Attest, Vec<String>> {
    let mut problems = Vec::new();
    let mut attest = detail.clone();
    attest.remove("type");
    if let Some(relation) = attest.remove("care_relation")
        && !attest.contains_key("care_relationship")
    {
        attest.insert("care_relationship".into(), relation);
    }
    match attest.get("practitioner") {
        Some(Value::Object(practitioner)) => check_practitioner(practitioner, &mut problems),
        Some(_) => problems.push("practitioner must be an object".into()),
        None => problems.push("practitioner is missing".into()),
    }
    match attest.get("care_relationship") {
        Some(Value::Object(relation)) => check_care_relationship(relation, &mut problems),
        Some(_) => problems.push("care_relationship must be an object".into()),
        None => problems.push("care_relationship is missing".into()),
    }
    match attest.get("patients") {
        Some(Value::Array(patients)) => check_patients(patients, &mut problems),
        Some(_) => problems.push("patients must be an array (it may be empty)".into()),
        None => problems.push("patients is missing (an array, it may be empty)".into()),
    }
    if problems.is_empty() {
        Ok(Attest(attest))
    } else {
        Err(problems)
    }
}

fn check_practitioner(practitioner: &Map<String, Value>, problems: &mut Vec<String>) {
    for name in ["legal_entity", "point_of_care"] {
        let path = format!("practitioner.{name}");
        match practitioner.get(name) {
            Some(organisation) => check_organisation(&path, organisation, problems),
            None => problems.push(format!(
                "{path} is missing: {{\"id\": <organisation number>, \"system\": \"{ENH_SYSTEM}\"}}"
            )),
        }
    }
    if let Some(authorization) = practitioner.get("authorization") {
        let codes: Vec<&str> = AUTHORIZATIONS.iter().map(|(code, _)| *code).collect();
        check_coding(
            "practitioner.authorization",
            authorization,
            Expected::System(AUTHORIZATION_SYSTEM),
            Some(&codes),
            problems,
        );
    }
    if let Some(department) = practitioner.get("department") {
        check_identifier("practitioner.department", department, problems);
    }
}

fn check_care_relationship(relation: &Map<String, Value>, problems: &mut Vec<String>) {
    let codes: Vec<&str> = PURPOSES_OF_USE.iter().map(|(code, _)| *code).collect();
    match relation.get("purpose_of_use") {
        Some(purpose) => check_coding(
            "care_relationship.purpose_of_use",
            purpose,
            Expected::System(PURPOSE_OF_USE_SYSTEM),
            Some(&codes),
            problems,
        ),
        None => problems.push(format!(
            "care_relationship.purpose_of_use is missing: {{\"code\": \"TREAT\", \"system\": \
             \"{PURPOSE_OF_USE_SYSTEM}\"}}"
        )),
    }
    if let Some(service) = relation.get("healthcare_service") {
        check_coding(
            "care_relationship.healthcare_service",
            service,
            Expected::Prefix(HEALTHCARE_SERVICE_SYSTEMS),
            None,
            problems,
        );
    }
    if let Some(details) = relation.get("purpose_of_use_details") {
        check_coding(
            "care_relationship.purpose_of_use_details",
            details,
            Expected::Any,
            None,
            problems,
        );
    }
    check_decision_ref(relation.get("decision_ref"), problems);
}

fn check_decision_ref(decision: Option<&Value>, problems: &mut Vec<String>) {
    let path = "care_relationship.decision_ref";
    let Some(decision) = decision else {
        problems.push(format!(
            "{path} is missing: {{\"id\": <the EHR's reference to its access decision>, \
             \"user_selected\": true|false}}"
        ));
        return;
    };
    let Some(decision) = decision.as_object() else {
        problems.push(format!("{path} must be an object"));
        return;
    };
    if decision
        .get("id")
        .and_then(Value::as_str)
        .is_none_or(|id| id.trim().is_empty())
    {
        problems.push(format!("{path}.id must be a non-empty string"));
    }
    if !decision.get("user_selected").is_some_and(Value::is_boolean) {
        problems.push(format!("{path}.user_selected must be true or false"));
    }
}

fn check_patients(patients: &[Value], problems: &mut Vec<String>) {
    for (index, patient) in patients.iter().enumerate() {
        let path = format!("patients[{index}]");
        let Some(patient) = patient.as_object() else {
            problems.push(format!("{path} must be an object"));
            continue;
        };
        if let Some(identifier) = patient.get("identifier") {
            check_person(&format!("{path}.identifier"), identifier, problems);
        }
        if let Some(point_of_care) = patient.get("point_of_care") {
            check_organisation(&format!("{path}.point_of_care"), point_of_care, problems);
        }
        if let Some(department) = patient.get("department") {
            check_identifier(&format!("{path}.department"), department, problems);
        }
    }
}

/// What a coding's `system` must be.
#[derive(Debug, Clone, Copy)]
enum Expected<'a> {
    System(&'a str),
    Prefix(&'a str),
    Any,
}

fn check_coding(
    path: &str,
    coding: &Value,
    expected: Expected<'_>,
    codes: Option<&[&str]>,
    problems: &mut Vec<String>,
) {
    let code = coding.get("code").and_then(Value::as_str);
    let system = coding.get("system").and_then(Value::as_str);
    match (code, codes) {
        (None, _) => problems.push(format!("{path}.code must be a string")),
        (Some(code), Some(codes)) if !codes.contains(&code) => problems.push(format!(
            "{path}.code '{code}' is not one of {}",
            codes.join(", ")
        )),
        _ => {}
    }
    match (system, expected) {
        (None, _) => problems.push(format!("{path}.system must be a string")),
        (Some(system), Expected::System(wanted)) if system != wanted => {
            problems.push(format!("{path}.system must be {wanted}, got '{system}'"));
        }
        (Some(system), Expected::Prefix(prefix)) if !system.starts_with(prefix) => problems.push(
            format!("{path}.system must be a Volven code system ({prefix}…), got '{system}'"),
        ),
        _ => {}
    }
}

fn check_organisation(path: &str, organisation: &Value, problems: &mut Vec<String>) {
    let id = organisation.get("id").and_then(Value::as_str);
    match id.map(OrgNr::parse) {
        None => problems.push(format!("{path}.id must be a string")),
        Some(Err(_)) => problems.push(format!(
            "{path}.id '{}' is not an organisation number (nine digits)",
            id.unwrap_or_default()
        )),
        Some(Ok(_)) => {}
    }
    match organisation.get("system").and_then(Value::as_str) {
        Some(ENH_SYSTEM) => {}
        Some(other) => problems.push(format!("{path}.system must be {ENH_SYSTEM}, got '{other}'")),
        None => problems.push(format!("{path}.system must be {ENH_SYSTEM}")),
    }
}

fn check_identifier(path: &str, identifier: &Value, problems: &mut Vec<String>) {
    for field in ["id", "system"] {
        if identifier
            .get(field)
            .and_then(Value::as_str)
            .is_none_or(|v| v.trim().is_empty())
        {
            problems.push(format!("{path}.{field} must be a non-empty string"));
        }
    }
}

fn check_person(path: &str, identifier: &Value, problems: &mut Vec<String>) {
    match identifier
        .get("id")
        .and_then(Value::as_str)
        .map(NationalId::parse)
    {
        None => problems.push(format!("{path}.id must be a string")),
        Some(Err(e)) => problems.push(format!("{path}.id: {e}")),
        Some(Ok(_)) => {}
    }
    match identifier.get("system").and_then(Value::as_str) {
        Some(FNR_SYSTEM | DNR_SYSTEM) => {}
        _ => problems.push(format!(
            "{path}.system must be {FNR_SYSTEM} (fødselsnummer) or {DNR_SYSTEM} (D-nummer)"
        )),
    }
}

impl Attest {
    /// The attest as HelseID puts it in an access token: texts, assigners and authorities
    /// added, and the practitioner's identity and HPR number from the login (`user`).
    pub fn enriched(&self, user: Option<&User>) -> Value {
        let mut attest = self.0.clone();
        if let Some(Value::Object(practitioner)) = attest.get_mut("practitioner") {
            enrich_practitioner(practitioner, user);
        }
        if let Some(Value::Object(relation)) = attest.get_mut("care_relationship") {
            enrich_care_relationship(relation);
        }
        if let Some(Value::Array(patients)) = attest.get_mut("patients") {
            for patient in patients.iter_mut().filter_map(Value::as_object_mut) {
                if let Some(Value::Object(identifier)) = patient.get_mut("identifier") {
                    add(identifier, "authority", SKATTEETATEN);
                }
                if let Some(Value::Object(point_of_care)) = patient.get_mut("point_of_care") {
                    add(point_of_care, "authority", BRREG);
                }
            }
        }
        Value::Object(attest)
    }
}

fn enrich_practitioner(practitioner: &mut Map<String, Value>, user: Option<&User>) {
    if let Some(user) = user {
        let system = match user.pid_kind {
            NationalIdKind::Fnr => FNR_SYSTEM,
            NationalIdKind::Dnr => DNR_SYSTEM,
        };
        practitioner.insert(
            "identifier".into(),
            json!({"id": user.pid(), "name": user.name(), "system": system,
                   "authority": SKATTEETATEN}),
        );
        if let Some(hpr) = &user.entry.hpr_number {
            practitioner.insert(
                "hpr_nr".into(),
                json!({"id": hpr, "system": HPR_SYSTEM, "authority": HELSEDIREKTORATET}),
            );
        }
    }
    if let Some(Value::Object(authorization)) = practitioner.get_mut("authorization") {
        add_text(authorization, &AUTHORIZATIONS);
        add(authorization, "assigner", HELSEDIREKTORATET);
    }
    for name in ["legal_entity", "point_of_care"] {
        if let Some(Value::Object(organisation)) = practitioner.get_mut(name) {
            add(organisation, "authority", BRREG);
        }
    }
}

fn enrich_care_relationship(relation: &mut Map<String, Value>) {
    if let Some(Value::Object(purpose)) = relation.get_mut("purpose_of_use") {
        add_text(purpose, &PURPOSES_OF_USE);
        add(purpose, "assigner", "http://www.hl7.org/");
    }
    if let Some(Value::Object(service)) = relation.get_mut("healthcare_service") {
        add(service, "assigner", HELSEDIREKTORATET);
    }
}

/// Sets `name` to `value` unless the client sent one.
fn add(object: &mut Map<String, Value>, name: &str, value: &str) {
    object
        .entry(name)
        .or_insert_with(|| Value::String(value.to_owned()));
}

/// Sets `text` from `texts` by the object's `code`.
fn add_text(object: &mut Map<String, Value>, texts: &[(&str, &str)]) {
    let code = object
        .get("code")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if let Some((_, text)) = texts.iter().find(|(c, _)| *c == code) {
        add(object, "text", text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The attest NHN's helseid-workshops sample sends.
    fn workshop() -> Map<String, Value> {
        let value = json!({
            "type": TRUST_FRAMEWORK,
            "practitioner": {
                "authorization": {"code": "LE", "system": AUTHORIZATION_SYSTEM},
                "legal_entity": {"id": "917897468", "system": ENH_SYSTEM},
                "point_of_care": {"id": "994598759", "system": ENH_SYSTEM}
            },
            "care_relationship": {
                "purpose_of_use": {"code": "TREAT", "system": PURPOSE_OF_USE_SYSTEM},
                "healthcare_service": {"code": "S03", "system": "urn:oid:2.16.578.1.12.4.1.1.8655"},
                "decision_ref": {
                    "id": "30F4AB40-DBC2-41A7-8AC4-181AD3FDC25B", "user_selected": true
                }
            },
            "patients": [{}]
        });
        value.as_object().cloned().unwrap_or_default()
    }

    fn problems_of(mut detail: Map<String, Value>, change: impl FnOnce(&mut Value)) -> Vec<String> {
        let mut value = Value::Object(std::mem::take(&mut detail));
        change(&mut value);
        let detail = value.as_object().cloned().unwrap_or_default();
        validate(&detail).err().unwrap_or_default()
    }

    #[test]
    fn the_workshop_sample_is_valid() {
        assert!(validate(&workshop()).is_ok());
    }

    #[test]
    fn care_relation_is_read_as_care_relationship() {
        let mut detail = workshop();
        let relation = detail.remove("care_relationship").unwrap();
        detail.insert("care_relation".into(), relation);
        let attest = validate(&detail).unwrap();
        assert!(attest.0.contains_key("care_relationship"));
        assert!(!attest.0.contains_key("care_relation"));
    }

    #[test]
    fn each_missing_required_field_is_named() {
        let cases: [(&str, &str); 6] = [
            ("/practitioner", "practitioner is missing"),
            (
                "/practitioner/legal_entity",
                "practitioner.legal_entity is missing",
            ),
            (
                "/practitioner/point_of_care",
                "practitioner.point_of_care is missing",
            ),
            (
                "/care_relationship/purpose_of_use",
                "care_relationship.purpose_of_use is missing",
            ),
            (
                "/care_relationship/decision_ref",
                "care_relationship.decision_ref is missing",
            ),
            ("/patients", "patients is missing"),
        ];
        for (pointer, expected) in cases {
            let (parent, field) = pointer.rsplit_once('/').unwrap();
            let problems = problems_of(workshop(), |v| {
                let parent = if parent.is_empty() {
                    Some(v)
                } else {
                    v.pointer_mut(parent)
                };
                parent.and_then(Value::as_object_mut).unwrap().remove(field);
            });
            assert!(
                problems.iter().any(|p| p.starts_with(expected)),
                "{pointer}: {problems:?}"
            );
        }
    }

    #[test]
    fn wrong_codes_and_systems_are_refused_all_at_once() {
        let problems = problems_of(workshop(), |v| {
            v["practitioner"]["authorization"]["code"] = json!("XX");
            v["practitioner"]["legal_entity"]["id"] = json!("12345");
            v["care_relationship"]["purpose_of_use"]["system"] = json!("urn:other");
            v["care_relationship"]["decision_ref"]["user_selected"] = json!("yes");
            v["patients"] = json!([{"identifier": {"id": "123", "system": FNR_SYSTEM}}]);
        });
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(problems[0].starts_with("practitioner.legal_entity.id '12345'"));
        assert!(problems[1].starts_with("practitioner.authorization.code 'XX' is not one of"));
        assert!(problems[2].starts_with("care_relationship.purpose_of_use.system must be"));
        assert_eq!(
            problems[3],
            "care_relationship.decision_ref.user_selected must be true or false"
        );
        assert!(problems[4].starts_with("patients[0].identifier.id:"));
    }

    #[test]
    fn the_token_gets_texts_and_the_practitioner_from_the_login() {
        let attest = validate(&workshop()).unwrap();
        let user = User::validate(crate::helseid::model::UserEntry {
            pid: "13116900216".into(),
            given_name: "Lege".into(),
            middle_name: None,
            family_name: "Legesen".into(),
            hpr_number: Some("565501872".into()),
            security_level: "4".into(),
            description: None,
        })
        .unwrap();
        let token = attest.enriched(Some(&user));
        assert_eq!(
            token["practitioner"]["identifier"],
            json!({"id": "13116900216", "name": "Lege Legesen", "system": FNR_SYSTEM,
                   "authority": SKATTEETATEN})
        );
        assert_eq!(token["practitioner"]["hpr_nr"]["id"], "565501872");
        assert_eq!(token["practitioner"]["authorization"]["text"], "Lege");
        assert_eq!(
            token["care_relationship"]["purpose_of_use"]["text"],
            "Behandling"
        );
        assert_eq!(token["patients"], json!([{}]));
        assert!(token.get("type").is_none());
    }

    #[test]
    fn only_a_tillitsrammeverk_scope_carries_the_attest() {
        assert!(carried_by(&[
            "nhn:kjernejournal/tillitsrammeverk".to_owned()
        ]));
        assert!(!carried_by(&["nhn:kjernejournal/innlogging".to_owned()]));
    }
}
