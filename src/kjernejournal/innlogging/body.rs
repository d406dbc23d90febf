//! The bodies Kjernejournal Innlogging takes, as NHN's kjernejournal-innlogging-klient sends
//! them: `session/create` `{ehr_code_challenge, claims: {patient_identifier,
//! practitioner_authorization, access_basis}}` (helsesim also takes an optional helseindikator
//! `ticket`), `session/refresh` and `session/end` `{sessionId}`. Every problem of a body is
//! reported at once; unknown fields are ignored.

use serde_json::{Map, Value};

use super::sessions::AccessBasis;
use crate::ids::{NationalId, NationalIdKind};

/// `Identifier.system` of a fødselsnummer.
pub const FNR_SYSTEM: &str = "urn:oid:2.16.578.1.12.4.1.4.1";
/// `Identifier.system` of a D-nummer.
pub const DNR_SYSTEM: &str = "urn:oid:2.16.578.1.12.4.1.4.2";
/// Who assigns national identity numbers.
pub const FNR_AUTHORITY: &str = "https://www.skatteetaten.no";
/// Volven 9060, the HPR authorisation codes.
pub const AUTHORIZATION_SYSTEM: &str = "urn:oid:2.16.578.1.12.4.1.1.9060";
/// Who assigns HPR authorisations.
pub const AUTHORIZATION_ASSIGNER: &str = "https://www.helsedirektoratet.no/";
/// The access-basis code system, as the sample names it.
pub const ACCESS_BASIS_SYSTEM: &str = "SYSTEM_GRUNNLAG";
/// Who assigns the access-basis codes.
pub const ACCESS_BASIS_ASSIGNER: &str = "https://nhn.no";

/// A valid `session/create` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRequest {
    /// base64url(SHA-256(ehr_code_verifier)), 43 characters.
    pub challenge: String,
    /// The patient's fødselsnummer or D-nummer.
    pub patient: String,
    /// The practitioner's HPR authorisation (Volven 9060 code, e.g. `LE`).
    pub authorization: String,
    /// Why the practitioner opens the patient's kjernejournal.
    pub access_basis: AccessBasis,
    /// The helseindikator ticket, when sent.
    pub ticket: Option<String>,
}

/// The body as a JSON object.
pub fn json_object(content_type: &str, body: &[u8]) -> Result<Map<String, Value>, String> {
    if !content_type
        .to_ascii_lowercase()
        .starts_with("application/json")
    {
        return Err(format!(
            "The body must be JSON with 'Content-Type: application/json' (got '{content_type}')"
        ));
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err("The body must be a JSON object".to_owned()),
        Err(e) => Err(format!("The body is not valid JSON: {e}")),
    }
}

/// `path.name`, or `name` at the top.
fn field(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// Collects the problems of one body.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    /// A required string field of `object` at `path`.
    fn string<'a>(&mut self, object: Option<&'a Value>, path: &str, name: &str) -> Option<&'a str> {
        let field = field(path, name);
        match object.and_then(|o| o.get(name)) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s),
            None | Some(Value::Null) => {
                // A missing parent object is reported once, not per field.
                if object.is_some() || path.is_empty() {
                    self.0.push(format!("{field} is required"));
                }
                None
            }
            Some(Value::String(_)) => {
                self.0.push(format!("{field} must not be empty"));
                None
            }
            Some(other) => {
                self.0
                    .push(format!("{field} must be a string, got {other}"));
                None
            }
        }
    }

    /// A required object field.
    fn object<'a>(
        &mut self,
        object: Option<&'a Value>,
        path: &str,
        what: &str,
    ) -> Option<&'a Value> {
        match object {
            Some(value @ Value::Object(_)) => Some(value),
            None | Some(Value::Null) => {
                self.0.push(format!("{path} is required: {what}"));
                None
            }
            Some(other) => {
                self.0
                    .push(format!("{path} must be an object {what}, got {other}"));
                None
            }
        }
    }

    /// A fixed value (a URL also with or without its trailing slash).
    fn fixed(&mut self, object: Option<&Value>, path: &str, name: &str, expected: &str) {
        if let Some(value) = self.string(object, path, name)
            && value.trim_end_matches('/') != expected.trim_end_matches('/')
        {
            self.0.push(format!(
                "{} must be \"{expected}\", got \"{value}\"",
                field(path, name)
            ));
        }
    }
}

/// `ehr_code_challenge`: base64url without padding of a SHA-256 digest (43 characters).
pub fn check_challenge(value: &str) -> Result<(), String> {
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(value);
    if value.len() == 43 && decoded.is_ok_and(|d| d.len() == 32) {
        Ok(())
    } else {
        Err(format!(
            "ehr_code_challenge must be the S256 challenge of the EHR's code verifier: \
             base64url without padding of SHA-256(ehr_code_verifier), 43 characters; got {} \
             characters",
            value.chars().count()
        ))
    }
}

fn patient(problems: &mut Problems, claims: Option<&Value>) -> Option<String> {
    let path = "claims.patient_identifier";
    let patient = problems.object(
        claims.and_then(|c| c.get("patient_identifier")),
        path,
        "{id, system, authority}",
    );
    let id = problems.string(patient, path, "id");
    let system = problems.string(patient, path, "system");
    problems.fixed(patient, path, "authority", FNR_AUTHORITY);
    let id = id.and_then(|id| match NationalId::parse(id) {
        Ok(id) => Some(id),
        Err(e) => {
            problems.0.push(format!("{path}.id: {e}"));
            None
        }
    });
    let expected = id.as_ref().map(|id| match id.kind() {
        NationalIdKind::Fnr => FNR_SYSTEM,
        NationalIdKind::Dnr => DNR_SYSTEM,
    });
    match (system, expected) {
        (Some(system), _) if system != FNR_SYSTEM && system != DNR_SYSTEM => {
            problems.0.push(format!(
                "{path}.system must be {FNR_SYSTEM} (fødselsnummer) or {DNR_SYSTEM} (D-nummer), \
                 got \"{system}\""
            ));
            None
        }
        (Some(system), Some(expected)) if system != expected => {
            problems.0.push(format!(
                "{path}.system is \"{system}\", but the id is a {}: use {expected}",
                if expected == FNR_SYSTEM {
                    "fødselsnummer"
                } else {
                    "D-nummer"
                }
            ));
            None
        }
        (Some(_), Some(_)) => id.map(|id| id.as_str().to_owned()),
        _ => None,
    }
}

fn authorization(problems: &mut Problems, claims: Option<&Value>) -> Option<String> {
    let path = "claims.practitioner_authorization";
    let authorization = problems.object(
        claims.and_then(|c| c.get("practitioner_authorization")),
        path,
        "{code, system, assigner}",
    );
    let code = problems.string(authorization, path, "code");
    problems.fixed(authorization, path, "system", AUTHORIZATION_SYSTEM);
    problems.fixed(authorization, path, "assigner", AUTHORIZATION_ASSIGNER);
    let code = code?;
    let valid = (2..=3).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if valid {
        Some(code.to_owned())
    } else {
        problems.0.push(format!(
            "{path}.code must be an HPR authorisation code of Volven 9060 (e.g. LE lege, SP \
             sykepleier), got \"{code}\""
        ));
        None
    }
}

fn access_basis(problems: &mut Problems, claims: Option<&Value>) -> Option<AccessBasis> {
    let path = "claims.access_basis";
    let basis = problems.object(
        claims.and_then(|c| c.get("access_basis")),
        path,
        "{code, system, assigner}",
    );
    let code = problems.string(basis, path, "code");
    problems.fixed(basis, path, "system", ACCESS_BASIS_SYSTEM);
    problems.fixed(basis, path, "assigner", ACCESS_BASIS_ASSIGNER);
    let code = code?;
    AccessBasis::parse(code).or_else(|| {
        problems.0.push(format!(
            "{path}.code must be SAMTYKKE, AKUTT or UNNTAK, got \"{code}\""
        ));
        None
    })
}

fn ticket(problems: &mut Problems, value: Option<&Value>) -> Option<String> {
    match value {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) if !t.trim().is_empty() => Some(t.trim().to_owned()),
        Some(other) => {
            problems.0.push(format!(
                "ticket, when sent, must be the ticket helseindikator returned, got {other}"
            ));
            None
        }
    }
}

impl CreateRequest {
    /// Parses and checks a `session/create` body.
    pub fn parse(object: &Map<String, Value>) -> Result<Self, String> {
        let mut problems = Problems::default();
        let root = Value::Object(object.clone());
        let challenge = problems
            .string(Some(&root), "", "ehr_code_challenge")
            .and_then(|c| match check_challenge(c) {
                Ok(()) => Some(c.to_owned()),
                Err(e) => {
                    problems.0.push(e);
                    None
                }
            });
        let claims = problems.object(
            object.get("claims"),
            "claims",
            "{patient_identifier, practitioner_authorization, access_basis}",
        );
        let patient = patient(&mut problems, claims);
        let authorization = authorization(&mut problems, claims);
        let access_basis = access_basis(&mut problems, claims);
        let ticket = ticket(&mut problems, object.get("ticket"));
        match (challenge, patient, authorization, access_basis) {
            (Some(challenge), Some(patient), Some(authorization), Some(access_basis))
                if problems.0.is_empty() =>
            {
                Ok(Self {
                    challenge,
                    patient,
                    authorization,
                    access_basis,
                    ticket,
                })
            }
            _ => Err(problems.0.join("; ")),
        }
    }
}

/// The `sessionId` of a refresh or end body.
pub fn session_id(object: &Map<String, Value>) -> Result<String, String> {
    match object.get("sessionId") {
        Some(Value::String(id)) if !id.trim().is_empty() => Ok(id.trim().to_owned()),
        None | Some(Value::Null) => Err(
            "sessionId is required: the sessionId session/create answered, as {\"sessionId\": \
             \"...\"}"
                .to_owned(),
        ),
        Some(other) => Err(format!("sessionId must be a non-empty string, got {other}")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// NHN's kjernejournal-innlogging-klient's body.
    fn sample() -> Value {
        json!({
            "ehr_code_challenge": crate::jose::sha256_b64url("verifier"),
            "claims": {
                "patient_identifier": {"id": "13116900216", "system": FNR_SYSTEM,
                                       "authority": FNR_AUTHORITY},
                "practitioner_authorization": {"code": "LE", "system": AUTHORIZATION_SYSTEM,
                                               "assigner": AUTHORIZATION_ASSIGNER},
                "access_basis": {"code": "SAMTYKKE", "system": ACCESS_BASIS_SYSTEM,
                                 "assigner": ACCESS_BASIS_ASSIGNER}
            }
        })
    }

    fn parse(body: &Value) -> Result<CreateRequest, String> {
        CreateRequest::parse(body.as_object().unwrap())
    }

    #[test]
    fn the_samples_body_is_accepted() {
        let request = parse(&sample()).unwrap();
        assert_eq!(request.patient, "13116900216");
        assert_eq!(request.authorization, "LE");
        assert_eq!(request.access_basis, AccessBasis::Samtykke);
        assert_eq!(request.ticket, None);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut body = sample();
        body["ehr_code_challenge"] = json!("plain");
        body["claims"]["patient_identifier"]["id"] = json!("13116900217");
        body["claims"]["practitioner_authorization"]["system"] = json!("urn:oid:9060");
        body["claims"]["access_basis"]["code"] = json!("HPAKUTT");
        assert_eq!(
            parse(&body),
            Err(
                "ehr_code_challenge must be the S256 challenge of the EHR's code verifier: \
                 base64url without padding of SHA-256(ehr_code_verifier), 43 characters; got 5 \
                 characters; claims.patient_identifier.id: '13116900217' is not a national \
                 identity number: the control digits do not match; \
                 claims.practitioner_authorization.system must be \
                 \"urn:oid:2.16.578.1.12.4.1.1.9060\", got \"urn:oid:9060\"; \
                 claims.access_basis.code must be SAMTYKKE, AKUTT or UNNTAK, got \"HPAKUTT\""
                    .to_owned()
            )
        );
        assert_eq!(
            parse(&json!({})),
            Err(
                "ehr_code_challenge is required; claims is required: {patient_identifier, \
                 practitioner_authorization, access_basis}; claims.patient_identifier is \
                 required: {id, system, authority}; claims.practitioner_authorization is \
                 required: {code, system, assigner}; claims.access_basis is required: {code, \
                 system, assigner}"
                    .to_owned()
            )
        );
    }

    #[test]
    fn the_identifier_system_must_fit_the_number() {
        let mut body = sample();
        body["claims"]["patient_identifier"]["id"] = json!("42038540003");
        assert_eq!(
            parse(&body),
            Err(
                "claims.patient_identifier.system is \"urn:oid:2.16.578.1.12.4.1.4.1\", but the \
                 id is a D-nummer: use urn:oid:2.16.578.1.12.4.1.4.2"
                    .to_owned()
            )
        );
        body["claims"]["patient_identifier"]["system"] = json!(DNR_SYSTEM);
        assert_eq!(parse(&body).unwrap().patient, "42038540003");
        body["claims"]["practitioner_authorization"]["assigner"] =
            json!("https://www.helsedirektoratet.no");
        assert!(parse(&body).is_ok(), "the trailing slash is optional");
    }

    #[test]
    fn the_session_id_is_required() {
        assert_eq!(
            session_id(json!({"sessionId": "abc"}).as_object().unwrap()),
            Ok("abc".to_owned())
        );
        assert!(session_id(json!({"sessionId": 4}).as_object().unwrap()).is_err());
        assert!(
            session_id(&Map::new())
                .unwrap_err()
                .starts_with("sessionId is required")
        );
    }
}
