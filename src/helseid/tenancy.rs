//! The organisation a token is for: from the client's configuration (single-tenant) or from the
//! client assertion's `assertion_details` / `authorization_details` (multi-tenant), with
//! HelseID's HID-10xx errors.

use serde_json::{Map, Value};

use super::model::{Client, ClientEntry, Tenancy};
use crate::auth::claims::TRUST_FRAMEWORK;
use crate::errors::oauth::OAuthError;
use crate::ids::OrgNr;

/// The `system` of a single-tenant client's child organisation identifier (ENH).
pub const SINGLE_TENANT_SYSTEM: &str = "urn:oid:2.16.578.1.12.4.1.4.101";
/// The `system` of a multi-tenant client's organisation identifier (ISO 6523).
pub const MULTI_TENANT_SYSTEM: &str = "urn:oid:1.0.6523";
/// The detail type naming the organisation.
pub const HELSEID_AUTHORIZATION: &str = "helseid_authorization";
/// The detail type naming an SFM journal.
pub const SFM_JOURNAL_ID: &str = "nhn:sfm:journal-id";

/// The organisation claims of a token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Organisation {
    /// `orgnr_parent`.
    pub parent: Option<String>,
    /// `orgnr_child`.
    pub child: Option<String>,
    /// `orgnr_supplier` (multi-tenant).
    pub supplier: Option<String>,
    /// `nhn:sfm:journal-id` (multi-tenant SFM clients).
    pub journal_id: Option<String>,
}

fn hid(code: &str, message: impl AsRef<str>) -> OAuthError {
    OAuthError::invalid_request(format!("{code}: {}", message.as_ref()))
}

fn hid_1004(value: &str) -> OAuthError {
    hid(
        "HID-1004",
        format!(
            "The format of the organization number '{value}' was incorrect. Valid organization \
             numbers must be nine digits, no spaces or letters"
        ),
    )
}

/// Whether `details` name an organisation or an SFM journal (other detail types, such as the
/// trust framework's, do not); malformed details count as naming one, so that [`resolve`]
/// reports them.
pub fn names_organisation(details: &Map<String, Value>) -> bool {
    #[allow(clippy::unnecessary_map_or)]
    detail_objects(details).map_or(true, |objects| {
        objects.iter().any(|o| {
            matches!(
                o.get("type").and_then(Value::as_str),
                Some(HELSEID_AUTHORIZATION | SFM_JOURNAL_ID)
            )
        })
    })
}

/// Works out the organisation for `client` from its configuration and assertion claims.
pub fn resolve(
    client: &Client,
    assertion: &Map<String, Value>,
) -> Result<Organisation, OAuthError> {
    let named = named_in(&detail_objects(assertion)?)?;
    match client.entry.tenancy {
        Tenancy::SingleTenant => single_tenant(&client.entry, named),
        Tenancy::MultiTenant => multi_tenant(&client.entry, named),
    }
}

/// What a request's details name: the organisation identifier (`system`, `value`) and the SFM
/// journal, each at most once.
#[derive(Debug, Default, PartialEq, Eq)]
struct Named {
    org_identifier: Option<(String, String)>,
    journal_id: Option<String>,
}

/// What the detail objects name; details of other types are not about the organisation.
fn named_in(details: &[Map<String, Value>]) -> Result<Named, OAuthError> {
    let mut named = Named::default();
    for detail in details {
        let kind = detail.get("type").and_then(Value::as_str).ok_or_else(|| {
            hid(
                "HID-1007",
                "every entry of assertion_details/authorization_details must have a 'type'",
            )
        })?;
        match kind {
            HELSEID_AUTHORIZATION => {
                if named.org_identifier.is_some() {
                    return Err(hid(
                        "HID-1007",
                        "the client assertion has more than one helseid_authorization detail",
                    ));
                }
                named.org_identifier = Some(organisation_identifier(detail)?);
            }
            SFM_JOURNAL_ID => {
                if named.journal_id.is_some() {
                    return Err(hid(
                        "HID-1007",
                        "the client assertion has more than one nhn:sfm:journal-id detail",
                    ));
                }
                named.journal_id = Some(journal(detail)?);
            }
            // The trust framework's attest is not about the organisation
            // (`trust_framework::find` reads it).
            TRUST_FRAMEWORK => {}
            other => {
                return Err(hid(
                    "HID-1007",
                    format!(
                        "unknown authorization detail type '{other}': HelseID knows \
                         {HELSEID_AUTHORIZATION}, {SFM_JOURNAL_ID} and {TRUST_FRAMEWORK}"
                    ),
                ));
            }
        }
    }
    Ok(named)
}

/// A single-tenant client's organisation: its configured parent, and the child the request
/// names (ENH system) or else its configured child; no SFM journal.
fn single_tenant(client: &ClientEntry, named: Named) -> Result<Organisation, OAuthError> {
    if named.journal_id.is_some() {
        return Err(hid(
            "HID-1007",
            "nhn:sfm:journal-id is for multi-tenant clients; a single-tenant client's SFM tenant \
             is its sfm-id",
        ));
    }
    let child = match named.org_identifier {
        None => client.orgnr_child.clone(),
        Some((system, value)) if system == SINGLE_TENANT_SYSTEM => Some(
            OrgNr::parse(&value)
                .map_err(|_| hid_1004(&value))?
                .to_string(),
        ),
        Some((system, _)) => {
            return Err(hid(
                "HID-1007",
                format!(
                    "a single-tenant client names only a child organisation, with system \
                     {SINGLE_TENANT_SYSTEM} and the nine-digit number as value (got system \
                     '{system}')"
                ),
            ));
        }
    };
    Ok(Organisation {
        parent: client.orgnr_parent.clone(),
        child,
        supplier: None,
        journal_id: None,
    })
}

/// A multi-tenant client's organisation: the one the request names (ISO 6523), which must have
/// delegated access to the client's supplier when the client lists delegations.
fn multi_tenant(client: &ClientEntry, named: Named) -> Result<Organisation, OAuthError> {
    let Some((system, value)) = named.org_identifier else {
        return Err(hid(
            "HID-1007",
            format!(
                "a multi-tenant client must name the organisation it acts for in the client \
                 assertion: assertion_details [{{\"type\":\"helseid_authorization\",\
                 \"practitioner_role\":{{\"organization\":{{\"identifier\":{{\"system\":\
                 \"{MULTI_TENANT_SYSTEM}\",\"type\":\"ENH\",\"value\":\
                 \"NO:ORGNR:<parent>[:<child>]\"}}}}}}}}]"
            ),
        ));
    };
    if system != MULTI_TENANT_SYSTEM {
        return Err(hid(
            "HID-1007",
            format!(
                "a multi-tenant client names its organisation with system {MULTI_TENANT_SYSTEM} \
                 and value NO:ORGNR:<parent>[:<child>] (got system '{system}')"
            ),
        ));
    }
    let (parent, child) = parse_iso6523(&value)?;
    if let Some(delegations) = &client.delegated_by
        && !delegations.contains(&parent)
    {
        // HelseID checks the customer's delegation to the supplier (Altinn); its
        // error for a missing one is not published: HID-1001 is its documented text
        // for an organisation number the client may not use.
        return Err(hid(
            "HID-1001",
            format!(
                "The supplied parent organization number {parent} is not in the whitelist for \
                 the client. The whitelist must be updated before the organization number is \
                 accepted (the organisation has not delegated access to the supplier {}: add it \
                 to the client's delegated_by)",
                client.orgnr_supplier.as_deref().unwrap_or("(none)")
            ),
        ));
    }
    Ok(Organisation {
        parent: Some(parent),
        child,
        supplier: client.orgnr_supplier.clone(),
        journal_id: named.journal_id,
    })
}

/// The detail objects of a request's `authorization_details` or a client assertion's
/// `assertion_details` / `authorization_details` (exactly one of the two).
pub fn detail_objects(
    assertion: &Map<String, Value>,
) -> Result<Vec<Map<String, Value>>, OAuthError> {
    let claim = match (
        assertion.get("assertion_details"),
        assertion.get("authorization_details"),
    ) {
        (Some(_), Some(_)) => {
            return Err(hid(
                "HID-1007",
                "the client assertion has both assertion_details and authorization_details: use \
                 one of them (assertion_details is preferred)",
            ));
        }
        (Some(v), None) | (None, Some(v)) => v,
        (None, None) => return Ok(Vec::new()),
    };
    let items = match claim {
        Value::Array(items) => items.clone(),
        Value::Object(_) => vec![claim.clone()],
        _ => {
            return Err(hid(
                "HID-1007",
                "assertion_details must be an object or an array of objects",
            ));
        }
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::Object(map) => Ok(map),
            _ => Err(hid(
                "HID-1007",
                "every entry of assertion_details must be a JSON object",
            )),
        })
        .collect()
}

fn organisation_identifier(detail: &Map<String, Value>) -> Result<(String, String), OAuthError> {
    let identifier = detail
        .get("practitioner_role")
        .and_then(|r| r.get("organization"))
        .and_then(|o| o.get("identifier"))
        .ok_or_else(|| {
            hid(
                "HID-1007",
                "the helseid_authorization detail needs practitioner_role.organization.identifier \
                 {system, type, value}",
            )
        })?;
    let field = |name: &str| {
        identifier
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                hid(
                    "HID-1007",
                    format!("practitioner_role.organization.identifier.{name} is missing"),
                )
            })
    };
    Ok((field("system")?, field("value")?))
}

fn journal(detail: &Map<String, Value>) -> Result<String, OAuthError> {
    detail
        .get("value")
        .and_then(|v| v.get("journal_id"))
        .and_then(Value::as_str)
        .filter(|j| !j.trim().is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            hid(
                "HID-1007",
                "the nhn:sfm:journal-id detail must be \
                 {\"type\":\"nhn:sfm:journal-id\",\"value\":{\"journal_id\":\"<GUID>\"}}",
            )
        })
}

/// `NO:ORGNR:<parent>[:<child>]`.
fn parse_iso6523(value: &str) -> Result<(String, Option<String>), OAuthError> {
    let rest = value.strip_prefix("NO:ORGNR:").ok_or_else(|| {
        hid(
            "HID-1007",
            format!(
                "the organisation identifier value must be NO:ORGNR:<parent>[:<child>], got \
                 '{value}'"
            ),
        )
    })?;
    let mut parts = rest.split(':');
    let parent = parts.next().unwrap_or_default();
    let child = parts.next();
    if parts.next().is_some() {
        return Err(hid(
            "HID-1007",
            format!(
                "the organisation identifier value must be NO:ORGNR:<parent>[:<child>], got \
                 '{value}'"
            ),
        ));
    }
    let parent = OrgNr::parse(parent).map_err(|_| hid_1004(parent))?;
    let child = child
        .map(|c| OrgNr::parse(c).map_err(|_| hid_1004(c)))
        .transpose()?;
    Ok((parent.to_string(), child.map(|c| c.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso6523_values() {
        assert_eq!(
            parse_iso6523("NO:ORGNR:917897468").unwrap(),
            ("917897468".into(), None)
        );
        assert_eq!(
            parse_iso6523("NO:ORGNR:917897468:994598759").unwrap(),
            ("917897468".into(), Some("994598759".into()))
        );
        let err = parse_iso6523("NO:ORGNR:91789746").unwrap_err();
        assert!(
            err.description.starts_with("HID-1004"),
            "{}",
            err.description
        );
        let err = parse_iso6523("917897468").unwrap_err();
        assert!(
            err.description.starts_with("HID-1007"),
            "{}",
            err.description
        );
        let err = parse_iso6523("NO:ORGNR:917897468:1:2").unwrap_err();
        assert!(
            err.description.starts_with("HID-1007"),
            "{}",
            err.description
        );
    }
}
