//! Creating an SFM instance (a tenant): `POST Organization` with a token naming an sfm-id or
//! journal-id SFM does not know. The Organization's identifiers must match the token; SFM then
//! creates the instance with the Organization and a Person for the token's user (the superuser).

use actix_web::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::rest::Stored;
use super::validate;
use crate::errors::fhir::{FhirError, Issue};
use crate::ids::{NationalId, NationalIdKind};
use crate::sfm::caller::Caller;
use crate::sfm::model::{
    DNR_SYSTEM, ENH_SYSTEM, FNR_SYSTEM, HER_SYSTEM, ResourceKind, SFM_ID_SYSTEM, SfmStore, Tenant,
    identifier_value,
};

/// Creates the tenant the caller's token names, with `organization` and the superuser's Person.
pub fn create_tenant(
    store: &mut SfmStore,
    caller: &Caller,
    organization: Value,
    now: DateTime<Utc>,
) -> Result<Stored, FhirError> {
    check_organization(&organization, caller)?;
    let mut tenant = Tenant {
        id: caller.tenant_id.clone(),
        ..Tenant::default()
    };
    if organization.get("active").and_then(Value::as_bool) == Some(true) {
        tenant.activated = Some(now);
    }
    let organization_id = uuid::Uuid::new_v4().to_string();
    let mut organization = organization;
    if let Some(object) = organization.as_object_mut() {
        object.remove("id");
    }
    let stored = tenant
        .insert_new(
            ResourceKind::Organization,
            &organization_id,
            organization,
            now,
        )
        .clone();
    tenant.insert_new(
        ResourceKind::Person,
        &uuid::Uuid::new_v4().to_string(),
        superuser(caller),
        now,
    );
    store.tenants.insert(tenant.id.clone(), tenant);
    Ok(Stored {
        resource: stored,
        id: organization_id,
        version: 1,
    })
}

/// Whether `organization` may create the caller's instance: a valid R4 Organization (400 with
/// the problems), then its identifiers — the token's SFM-id or journal-id, the token's
/// organisation number (`orgnr_child`, else `orgnr_parent`) and a HER-id — all problems at once
/// (400).
fn check_organization(organization: &Value, caller: &Caller) -> Result<(), FhirError> {
    validate::check(organization, ResourceKind::Organization).map_err(|problems| {
        FhirError::with_issues(
            StatusCode::BAD_REQUEST,
            problems
                .into_iter()
                .map(|p| Issue::error("structure", p))
                .collect(),
        )
    })?;
    let mut issues = Vec::new();
    match identifier_value(organization, SFM_ID_SYSTEM) {
        Some(id) if id == caller.tenant_id => {}
        Some(id) => issues.push(Issue::error(
            "business-rule",
            format!(
                "The Organization's SFM-id identifier ({SFM_ID_SYSTEM}) is {id}, but the token \
                 names the SFM instance {}",
                caller.tenant_id
            ),
        )),
        None => issues.push(Issue::error(
            "business-rule",
            format!(
                "The Organization needs its SFM-id identifier ({SFM_ID_SYSTEM}) with the token's \
                 sfm-id or journal-id ({})",
                caller.tenant_id
            ),
        )),
    }
    let expected_orgnr = caller
        .orgnr_child
        .as_deref()
        .or(caller.orgnr_parent.as_deref());
    match (identifier_value(organization, ENH_SYSTEM), expected_orgnr) {
        (_, None) => issues.push(Issue::error(
            "business-rule",
            "The token carries no organisation number (orgnr_parent or orgnr_child) to match the \
             Organization's",
        )),
        (Some(orgnr), Some(expected)) if orgnr == expected => {}
        (Some(orgnr), Some(expected)) => issues.push(Issue::error(
            "business-rule",
            format!(
                "The Organization's organisation number ({ENH_SYSTEM}) is {orgnr}, but the \
                 token's is {expected} (orgnr_child, else orgnr_parent)"
            ),
        )),
        (None, Some(expected)) => issues.push(Issue::error(
            "business-rule",
            format!(
                "The Organization needs its organisation number identifier ({ENH_SYSTEM}): the \
                 token's is {expected}"
            ),
        )),
    }
    if identifier_value(organization, HER_SYSTEM).is_none_or(str::is_empty) {
        issues.push(Issue::error(
            "business-rule",
            format!(
                "The Organization needs its HER-id identifier ({HER_SYSTEM}): SFM reports the \
                 instance to e-resept by it"
            ),
        ));
    }
    if issues.is_empty() {
        Ok(())
    } else {
        Err(FhirError::with_issues(StatusCode::BAD_REQUEST, issues))
    }
}

/// The Person that makes the caller the new instance's superuser.
fn superuser(caller: &Caller) -> Value {
    let system = match NationalId::parse(&caller.pid).map(|id| id.kind()) {
        Ok(NationalIdKind::Dnr) => DNR_SYSTEM,
        _ => FNR_SYSTEM,
    };
    json!({
        "resourceType": "Person",
        "meta": {"profile": [ResourceKind::Person.profile()]},
        "identifier": [{"use": "official", "system": system, "value": caller.pid}],
        "active": true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller() -> Caller {
        Caller {
            tenant_id: "tenant-1".to_owned(),
            pid: "12050050295".to_owned(),
            orgnr_parent: Some("999999999".to_owned()),
            orgnr_child: Some("888888888".to_owned()),
            hpr: None,
            client_id: None,
            expires: None,
        }
    }

    fn organization(sfm_id: &str, orgnr: &str, her: Option<&str>) -> Value {
        let mut identifiers = vec![
            json!({"system": SFM_ID_SYSTEM, "value": sfm_id}),
            json!({"system": ENH_SYSTEM, "value": orgnr}),
        ];
        identifiers.extend(her.map(|her| json!({"system": HER_SYSTEM, "value": her})));
        json!({"resourceType": "Organization", "identifier": identifiers, "name": "Legekontoret"})
    }

    fn diagnostics(result: Result<(), FhirError>) -> Vec<String> {
        result
            .unwrap_err()
            .issues
            .into_iter()
            .map(|i| i.diagnostics)
            .collect()
    }

    #[test]
    fn an_organization_matching_the_token_creates_the_instance() {
        assert!(
            check_organization(
                &organization("tenant-1", "888888888", Some("81")),
                &caller()
            )
            .is_ok()
        );
    }

    #[test]
    fn every_identifier_that_does_not_match_the_token_is_an_issue() {
        let problems = diagnostics(check_organization(
            &organization("tenant-2", "999999999", None),
            &caller(),
        ));
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("is tenant-2, but the token names the SFM instance tenant-1"));
        assert!(problems[1].contains("is 999999999, but the token's is 888888888"));
        assert!(problems[2].contains("needs its HER-id identifier"));
    }

    #[test]
    fn a_token_without_organisation_number_cannot_create_an_instance() {
        let caller = Caller {
            orgnr_parent: None,
            orgnr_child: None,
            ..caller()
        };
        let problems = diagnostics(check_organization(
            &organization("tenant-1", "888888888", Some("81")),
            &caller,
        ));
        assert_eq!(
            problems,
            [
                "The token carries no organisation number (orgnr_parent or orgnr_child) to match \
              the Organization's"
            ]
        );
    }

    #[test]
    fn a_d_number_superuser_is_identified_by_d_number() {
        let caller = Caller {
            pid: "41836510095".to_owned(),
            ..caller()
        };
        let person = superuser(&caller);
        assert_eq!(person["identifier"][0]["system"], DNR_SYSTEM);
        assert_eq!(
            superuser(&self::caller())["identifier"][0]["system"],
            FNR_SYSTEM
        );
    }
}
