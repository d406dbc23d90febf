//! The trust-framework attest (tillitsrammeverk) HelseID puts in the access token: the claim
//! `nhn:tillitsrammeverk:parameters`, an object `{practitioner, care_relationship, patients}`
//! (HelseID's "Profil for tillitsrammeverk"; the shape seen in tokens NHN's own services read).
//! Kjernejournal Innlogging requires it (scope `nhn:kjernejournal/tillitsrammeverk`).
//!
//! [`check`] is the one place that decides what an acceptable attest is; what the portal shows
//! of it is read with [`Attest`]'s accessors.

use serde_json::{Map, Value};

/// The claim that carries the attest.
pub const ATTEST_CLAIM: &str = "nhn:tillitsrammeverk:parameters";

/// An attest that passed [`check`].
#[derive(Debug, Clone, PartialEq)]
pub struct Attest(Map<String, Value>);

impl Attest {
    /// `care_relationship.purpose_of_use.code` (TREAT, ETREAT, COC, BTG), when given.
    pub fn purpose_of_use(&self) -> Option<&str> {
        self.care_relationship()
            .and_then(|c| c.get("purpose_of_use"))
            .and_then(|p| p.get("code"))
            .and_then(Value::as_str)
    }

    /// The practitioner's name (HelseID adds `practitioner.identifier.name`), when given.
    pub fn practitioner_name(&self) -> Option<&str> {
        self.0
            .get("practitioner")
            .and_then(|p| p.get("identifier"))
            .and_then(|i| i.get("name"))
            .and_then(Value::as_str)
    }

    /// `practitioner.point_of_care.name` (else its `id`), when given.
    pub fn point_of_care(&self) -> Option<&str> {
        let point = self.0.get("practitioner")?.get("point_of_care")?;
        point
            .get("name")
            .and_then(Value::as_str)
            .or_else(|| point.get("id").and_then(Value::as_str))
    }

    fn care_relationship(&self) -> Option<&Value> {
        care_relationship(&self.0)
    }
}

/// Checks the attest in a token's claims: present, a JSON object (or a string holding one),
/// with an object `practitioner`, an object `care_relationship` (the information model's
/// spelling `care_relation` too) and an array `patients` (which may be empty, as in NHN's
/// samples). The message says what is wrong.
pub fn check(claims: &Map<String, Value>) -> Result<Attest, String> {
    let hint = "log the user in with the trust-framework attest (authorization_details of type \
                nhn:tillitsrammeverk:parameters at PAR, or in the client assertion at the token \
                request) and the scope nhn:kjernejournal/tillitsrammeverk";
    let object = match claims.get(ATTEST_CLAIM) {
        None | Some(Value::Null) => {
            return Err(format!(
                "The access token has no trust-framework attest (claim {ATTEST_CLAIM}): {hint}"
            ));
        }
        Some(Value::Object(object)) => object.clone(),
        Some(Value::String(text)) => match serde_json::from_str(text) {
            Ok(Value::Object(object)) => object,
            _ => return Err(not_an_object(hint)),
        },
        Some(_) => return Err(not_an_object(hint)),
    };
    let mut missing = Vec::new();
    if !object.get("practitioner").is_some_and(Value::is_object) {
        missing.push("practitioner (an object)");
    }
    if care_relationship(&object).is_none() {
        missing.push("care_relationship (an object)");
    }
    if !object.get("patients").is_some_and(Value::is_array) {
        missing.push("patients (an array, may be empty)");
    }
    if missing.is_empty() {
        Ok(Attest(object))
    } else {
        Err(format!(
            "The trust-framework attest (claim {ATTEST_CLAIM}) lacks {}: {hint}",
            missing.join(", ")
        ))
    }
}

/// `care_relationship`, else the information model's `care_relation`: the first that is an
/// object.
fn care_relationship(object: &Map<String, Value>) -> Option<&Value> {
    ["care_relationship", "care_relation"]
        .into_iter()
        .filter_map(|name| object.get(name))
        .find(|v| v.is_object())
}

fn not_an_object(hint: &str) -> String {
    format!(
        "The trust-framework attest (claim {ATTEST_CLAIM}) must be a JSON object \
         {{practitioner, care_relationship, patients}}: {hint}"
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claims(attest: Value) -> Map<String, Value> {
        let mut claims = Map::new();
        claims.insert(ATTEST_CLAIM.to_owned(), attest);
        claims
    }

    fn good() -> Value {
        json!({
            "practitioner": {
                "legal_entity": {"id": "987654325", "system": "urn:oid:2.16.578.1.12.4.1.4.101"},
                "point_of_care": {"id": "987654325", "system": "urn:oid:2.16.578.1.12.4.1.4.101",
                                  "name": "Fjellheim legesenter"},
                "identifier": {"id": "17056600574", "name": "Didrik D Didrikson"}
            },
            "care_relationship": {
                "purpose_of_use": {"code": "TREAT",
                                   "system": "urn:oid:2.16.840.1.113883.1.11.20448"},
                "decision_ref": {"id": "ref-1", "user_selected": true}
            },
            "patients": []
        })
    }

    #[test]
    fn a_complete_attest_passes_as_an_object_or_a_json_string() {
        let attest = check(&claims(good())).unwrap();
        assert_eq!(attest.purpose_of_use(), Some("TREAT"));
        assert_eq!(attest.practitioner_name(), Some("Didrik D Didrikson"));
        assert_eq!(attest.point_of_care(), Some("Fjellheim legesenter"));
        assert_eq!(check(&claims(json!(good().to_string()))).unwrap(), attest);
        let mut old_spelling = good();
        let care = old_spelling
            .as_object_mut()
            .unwrap()
            .remove("care_relationship")
            .unwrap();
        old_spelling["care_relation"] = care;
        assert_eq!(
            check(&claims(old_spelling)).unwrap().purpose_of_use(),
            Some("TREAT")
        );
    }

    #[test]
    fn a_missing_or_incomplete_attest_is_refused_with_what_lacks() {
        let none = check(&Map::new()).unwrap_err();
        assert!(
            none.starts_with(
                "The access token has no trust-framework attest (claim \
                 nhn:tillitsrammeverk:parameters): log the user in"
            ),
            "{none}"
        );
        for bad in [json!([]), json!("not json"), json!(4)] {
            assert!(
                check(&claims(bad))
                    .unwrap_err()
                    .contains("must be a JSON object"),
                "a non-object"
            );
        }
        let mut partial = good();
        partial.as_object_mut().unwrap().remove("care_relationship");
        partial["patients"] = json!({});
        assert!(check(&claims(partial)).unwrap_err().starts_with(
            "The trust-framework attest (claim nhn:tillitsrammeverk:parameters) lacks \
                 care_relationship (an object), patients (an array, may be empty): "
        ));
    }
}
