//! FHIR search over a tenant's resources: the parameters each type supports, token, string and
//! boolean matching, `_count`/`_offset` paging and `_summary=count`. Unknown parameters are
//! reported, not ignored.

use serde_json::Value;

use crate::errors::fhir::{FhirError, Issue};
use crate::sfm::model::{ResourceKind, identifiers};

/// Largest and default page size.
pub const MAX_COUNT: usize = 100;

/// The kind of a search parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ParamType {
    Token,
    String,
    Boolean,
}

/// A search parameter of a resource type, and the elements it searches.
#[derive(Debug, Clone, Copy)]
struct ParamDef {
    name: &'static str,
    kind: ParamType,
}

fn params_of(kind: ResourceKind) -> &'static [ParamDef] {
    const ID: ParamDef = ParamDef {
        name: "_id",
        kind: ParamType::Token,
    };
    const IDENTIFIER: ParamDef = ParamDef {
        name: "identifier",
        kind: ParamType::Token,
    };
    const NAME: ParamDef = ParamDef {
        name: "name",
        kind: ParamType::String,
    };
    const ACTIVE: ParamDef = ParamDef {
        name: "active",
        kind: ParamType::Boolean,
    };
    match kind {
        ResourceKind::Organization => &[ID, IDENTIFIER, NAME, ACTIVE],
        ResourceKind::Person | ResourceKind::Practitioner | ResourceKind::Patient => {
            &[ID, IDENTIFIER, NAME, ACTIVE]
        }
    }
}

/// The names of the search parameters of a type (for the CapabilityStatement).
pub fn parameter_names(kind: ResourceKind) -> Vec<(&'static str, &'static str)> {
    params_of(kind)
        .iter()
        .map(|p| {
            (
                p.name,
                match p.kind {
                    ParamType::Token => "token",
                    ParamType::String => "string",
                    ParamType::Boolean => "token",
                },
            )
        })
        .collect()
}

/// One criterion: a parameter with its values (any of them may match).
#[derive(Debug, Clone, PartialEq)]
struct Criterion {
    name: &'static str,
    kind: ParamType,
    exact: bool,
    values: Vec<String>,
}

/// A parsed search.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    criteria: Vec<Criterion>,
    /// Page size.
    pub count: usize,
    /// Where the page starts.
    pub offset: usize,
    /// `_summary=count`: the total only.
    pub count_only: bool,
    /// The parameters as given (for the `self` link), without `_count`, `_offset`, `_format`.
    pub echo: Vec<(String, String)>,
}

/// Parses the query of a search on `kind`; every unknown or malformed parameter is an issue.
pub fn parse(kind: ResourceKind, query: &str) -> Result<Search, FhirError> {
    let mut search = Search {
        criteria: Vec::new(),
        count: MAX_COUNT,
        offset: 0,
        count_only: false,
        echo: Vec::new(),
    };
    let mut issues = Vec::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let (base, modifier) = match name.split_once(':') {
            Some((base, modifier)) => (base.to_owned(), Some(modifier.to_owned())),
            None => (name.to_string(), None),
        };
        match base.as_str() {
            "_format" => continue,
            "_count" => match value.parse::<usize>() {
                Ok(n) => search.count = n.min(MAX_COUNT),
                Err(_) => issues.push(Issue::error(
                    "invalid",
                    format!("_count must be a whole number, got '{value}'"),
                )),
            },
            "_offset" => match value.parse::<usize>() {
                Ok(n) => search.offset = n,
                Err(_) => issues.push(Issue::error(
                    "invalid",
                    format!("_offset must be a whole number, got '{value}'"),
                )),
            },
            "_summary" => match value.as_ref() {
                "count" => search.count_only = true,
                "false" => {}
                other => issues.push(Issue::error(
                    "not-supported",
                    format!("_summary={other} is not supported (count and false are)"),
                )),
            },
            _ => {
                if let Some(criterion) =
                    criterion(kind, &base, modifier.as_deref(), &value, &mut issues)
                {
                    search.echo.push((name.to_string(), value.to_string()));
                    search.criteria.push(criterion);
                }
            }
        }
    }
    if issues.is_empty() {
        Ok(search)
    } else {
        Err(FhirError::with_issues(
            actix_web::http::StatusCode::BAD_REQUEST,
            issues,
        ))
    }
}

/// The criterion `base[:modifier]=value` on `kind`: a parameter of the type, with a modifier it
/// takes, and a value of its kind (else `None`, with the issue added to `issues`).
fn criterion(
    kind: ResourceKind,
    base: &str,
    modifier: Option<&str>,
    value: &str,
    issues: &mut Vec<Issue>,
) -> Option<Criterion> {
    let Some(def) = params_of(kind).iter().find(|p| p.name == base) else {
        let known: Vec<&str> = params_of(kind).iter().map(|p| p.name).collect();
        issues.push(Issue::error(
            "not-supported",
            format!(
                "Unknown search parameter '{base}' for {}; supported: {}, and _count, _offset, \
                 _summary, _format",
                kind.as_str(),
                known.join(", ")
            ),
        ));
        return None;
    };
    let exact = match (modifier, def.kind) {
        (None, _) => false,
        (Some("exact"), ParamType::String) => true,
        (Some(other), _) => {
            issues.push(Issue::error(
                "not-supported",
                format!("The modifier ':{other}' is not supported on '{base}'"),
            ));
            return None;
        }
    };
    if def.kind == ParamType::Boolean && value != "true" && value != "false" {
        issues.push(Issue::error(
            "invalid",
            format!("{base} must be true or false, got '{value}'"),
        ));
        return None;
    }
    Some(Criterion {
        name: def.name,
        kind: def.kind,
        exact,
        values: value.split(',').map(str::to_owned).collect(),
    })
}

impl Search {
    /// The values an `identifier` criterion asks for, when every one of them names a value
    /// (`system|value`, `|value`, `value`): a resource can only match with one of them. `None`
    /// without such a criterion.
    pub fn identifier_values(&self) -> Option<Vec<&str>> {
        let criterion = self.criteria.iter().find(|c| c.name == "identifier")?;
        criterion
            .values
            .iter()
            .map(|q| {
                let value = q.split_once('|').map_or(q.as_str(), |(_, v)| v);
                (!value.is_empty()).then_some(value)
            })
            .collect()
    }

    /// Whether `resource` (with logical id `id`) matches every criterion.
    pub fn matches(&self, resource: &Value) -> bool {
        self.criteria.iter().all(|c| {
            c.values.iter().any(|value| match (c.name, c.kind) {
                ("_id", _) => resource.get("id").and_then(Value::as_str) == Some(value.as_str()),
                (_, ParamType::Token) => token_matches(resource, value),
                (_, ParamType::String) => name_matches(resource, value, c.exact),
                (_, ParamType::Boolean) => {
                    // FHIR: a resource without `active` is not matched by active=false either.
                    resource
                        .get("active")
                        .and_then(Value::as_bool)
                        .map(|b| b.to_string())
                        .as_deref()
                        == Some(value.as_str())
                }
            })
        })
    }
}

/// `system|value`, `|value` (no system), `system|` (any value), `value` (any system).
pub(crate) fn token_matches(resource: &Value, query: &str) -> bool {
    let (system, value) = match query.split_once('|') {
        Some((system, value)) => (Some(system), value),
        None => (None, query),
    };
    identifiers(resource).any(|(s, v)| {
        let system_ok = match system {
            None => true,
            Some("") => s.is_empty(),
            Some(system) => s == system,
        };
        system_ok && (value.is_empty() || v == value)
    })
}

/// FHIR string search: starts-with on any name part after normalising case and accents, as FHIR
/// R4 says (`å` matches `a`; `ø` and `æ` are letters of their own); `:exact` compares as is.
fn name_matches(resource: &Value, query: &str, exact: bool) -> bool {
    let query_normal = normalise(query);
    let hit = |text: &str| {
        if exact {
            text == query
        } else {
            normalise(text).starts_with(&query_normal)
        }
    };
    match resource.get("name") {
        Some(Value::String(name)) => hit(name) || name.split_whitespace().any(hit),
        Some(Value::Array(names)) => names.iter().any(|n| {
            let parts = n
                .get("given")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .chain(
                    ["family", "text"]
                        .into_iter()
                        .filter_map(|k| n.get(k).and_then(Value::as_str)),
                );
            parts.into_iter().any(hit)
        }),
        _ => false,
    }
}

/// Lower case without diacritics (canonical decomposition, combining marks dropped).
fn normalise(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization as _;
    use unicode_normalization::char::is_combining_mark;
    text.nfd()
        .filter(|c| !is_combining_mark(*c))
        .collect::<String>()
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patient() -> Value {
        json!({"resourceType": "Patient", "id": "p1", "active": true,
            "identifier": [{"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": "12050050295"}],
            "name": [{"family": "Åsmundsen", "given": ["Kari", "Mette"]}]})
    }

    fn hits(query: &str) -> bool {
        parse(ResourceKind::Patient, query)
            .unwrap()
            .matches(&patient())
    }

    #[test]
    fn token_forms() {
        assert!(hits(
            "identifier=urn:oid:2.16.578.1.12.4.1.4.1%7C12050050295"
        ));
        assert!(hits("identifier=12050050295"));
        assert!(hits("identifier=urn:oid:2.16.578.1.12.4.1.4.1%7C"));
        assert!(!hits("identifier=%7C12050050295"));
        assert!(!hits("identifier=urn:oid:x%7C12050050295"));
        assert!(hits("identifier=1,12050050295"), "comma is or");
        assert!(hits("_id=p1") && !hits("_id=p2"));
    }

    #[test]
    fn string_and_boolean() {
        assert!(hits("name=kar") && hits("name=åsm") && hits("name=METTE"));
        assert!(hits("name=asmund"), "accents are normalised away");
        assert!(!hits("name=ari"));
        assert!(hits("name:exact=Kari") && !hits("name:exact=kari"));
        assert!(hits("active=true") && !hits("active=false"));
        assert!(
            hits("name=kari&active=true") && !hits("name=kari&active=false"),
            "and"
        );
    }

    #[test]
    fn unknown_parameters_are_reported() {
        let err = parse(
            ResourceKind::Patient,
            "birthdate=1990&name:contains=x&active=yes&_count=x",
        )
        .unwrap_err();
        assert_eq!(err.issues.len(), 4, "{err:?}");
        assert_eq!(
            err.issues[0].diagnostics,
            "Unknown search parameter 'birthdate' for Patient; supported: _id, identifier, name, \
             active, and _count, _offset, _summary, _format"
        );
    }
}
