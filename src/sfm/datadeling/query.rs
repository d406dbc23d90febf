//! Datadeling's search queries: each type's parameters (unknown ones are reported, as on the
//! rest of the FHIR API), paging, `_lastUpdated` with its prefixes, and the searchset Bundle.

use actix_web::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::errors::fhir::{FhirError, Issue};
use crate::national::statement::parse_fhir_time;
use crate::sfm::fhir::search::MAX_COUNT;
use crate::sfm::model::fhir_instant;

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The type's own parameters, as given.
    pub params: Vec<(String, String)>,
    /// Page size.
    pub count: usize,
    /// Where the page starts.
    pub offset: usize,
    /// `_summary=count`.
    pub count_only: bool,
}

impl Query {
    /// The first value of a parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a parameter (repeats are "and").
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.params
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses `query` for `type_name`, which takes `allowed` (plus `_count`, `_offset`, `_summary`,
/// `_format`; `summary` as SFM's own examples send it).
pub fn parse(type_name: &str, allowed: &[&str], query: &str) -> Result<Query, FhirError> {
    let mut parsed = Query {
        params: Vec::new(),
        count: MAX_COUNT,
        offset: 0,
        count_only: false,
    };
    let mut issues = Vec::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match name.as_ref() {
            "_format" => {}
            "_count" => match value.parse::<usize>() {
                Ok(n) => parsed.count = n.min(MAX_COUNT),
                Err(_) => issues.push(Issue::error(
                    "invalid",
                    format!("_count must be a whole number, got '{value}'"),
                )),
            },
            "_offset" => match value.parse::<usize>() {
                Ok(n) => parsed.offset = n,
                Err(_) => issues.push(Issue::error(
                    "invalid",
                    format!("_offset must be a whole number, got '{value}'"),
                )),
            },
            "_summary" | "summary" => match value.as_ref() {
                "count" => parsed.count_only = true,
                "false" => {}
                other => issues.push(Issue::error(
                    "not-supported",
                    format!("{name}={other} is not supported (count and false are)"),
                )),
            },
            name if allowed.contains(&name) => {
                if name == "_lastUpdated" && LastUpdated::parse(&value).is_none() {
                    issues.push(Issue::error(
                        "invalid",
                        format!("_lastUpdated must be [gt|ge|lt|le|eq]<dateTime>, e.g. gt2026-03-01T00:00:00Z, got '{value}'"),
                    ));
                    continue;
                }
                parsed.params.push((name.to_owned(), value.into_owned()));
            }
            other => issues.push(Issue::error(
                "not-supported",
                format!(
                    "Unknown search parameter '{other}' for {type_name}; supported: {}, and _count, _offset, _summary, _format",
                    allowed.join(", ")
                ),
            )),
        }
    }
    if issues.is_empty() {
        Ok(parsed)
    } else {
        Err(FhirError::with_issues(StatusCode::BAD_REQUEST, issues))
    }
}

/// A `_lastUpdated` criterion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastUpdated {
    prefix: &'static str,
    at: DateTime<Utc>,
}

impl LastUpdated {
    /// Parses `gt2026-03-01T00:00:00Z` (no prefix = `eq`).
    pub fn parse(value: &str) -> Option<Self> {
        let (prefix, rest) = ["gt", "ge", "lt", "le", "eq"]
            .into_iter()
            .find_map(|p| value.strip_prefix(p).map(|rest| (p, rest)))
            .unwrap_or(("eq", value));
        Some(Self {
            prefix,
            at: parse_fhir_time(rest)?,
        })
    }

    /// Whether `t` matches.
    pub fn matches(&self, t: DateTime<Utc>) -> bool {
        match self.prefix {
            "gt" => t > self.at,
            "ge" => t >= self.at,
            "lt" => t < self.at,
            "le" => t <= self.at,
            _ => t == self.at,
        }
    }

    /// The lower bound, for "changes since".
    pub fn since(&self) -> Option<DateTime<Utc>> {
        matches!(self.prefix, "gt" | "ge").then_some(self.at)
    }
}

/// Whether a resource's `meta.lastUpdated` matches every `_lastUpdated` of the query.
pub fn last_updated_matches(query: &Query, resource: &Value) -> bool {
    let updated = resource
        .pointer("/meta/lastUpdated")
        .and_then(Value::as_str)
        .and_then(parse_fhir_time);
    query.all("_lastUpdated").all(|v| {
        LastUpdated::parse(v)
            .zip(updated)
            .is_some_and(|(criterion, t)| criterion.matches(t))
    })
}

/// Whether a CodeableConcept matches a token (`system|code`, `code`, `system|`).
pub fn concept_matches(concept: Option<&Value>, token: &str) -> bool {
    let (system, code) = match token.split_once('|') {
        Some((system, code)) => (Some(system), code),
        None => (None, token),
    };
    concept
        .and_then(|c| c.get("coding"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|coding| {
            let s = coding
                .get("system")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let c = coding
                .get("code")
                .and_then(Value::as_str)
                .unwrap_or_default();
            system.is_none_or(|system| system == s) && (code.is_empty() || code == c)
        })
}

/// One resource of a searchset.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The resource as served.
    pub resource: Value,
    /// `match` or `include`.
    pub include: bool,
}

/// A searchset Bundle of `hits` (matches paged, includes kept with their page).
pub fn searchset(
    fhir_base: &str,
    type_name: &str,
    query: &Query,
    hits: Vec<Hit>,
    now: DateTime<Utc>,
) -> Value {
    let (matches, includes): (Vec<Hit>, Vec<Hit>) = hits.into_iter().partition(|h| !h.include);
    let total = matches.len();
    let link = |offset: usize| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in &query.params {
            q.append_pair(name, value);
        }
        q.append_pair("_count", &query.count.to_string());
        if query.count_only {
            q.append_pair("_summary", "count");
        }
        if offset > 0 {
            q.append_pair("_offset", &offset.to_string());
        }
        q.append_pair("_format", "json");
        format!("{fhir_base}/{type_name}?{}", q.finish())
    };
    let mut links = vec![json!({"relation": "self", "url": link(query.offset)})];
    let paging = !query.count_only && query.count > 0;
    if paging && query.offset + query.count < total {
        links.push(json!({"relation": "next", "url": link(query.offset + query.count)}));
    }
    if paging && query.offset > 0 {
        links.push(
            json!({"relation": "previous", "url": link(query.offset.saturating_sub(query.count))}),
        );
    }
    let mut bundle = json!({
        "resourceType": "Bundle",
        "id": uuid::Uuid::new_v4().to_string(),
        "meta": {"lastUpdated": fhir_instant(now)},
        "type": "searchset",
        "total": total,
        "link": links,
    });
    if !query.count_only {
        let page: Vec<Hit> = matches
            .into_iter()
            .skip(query.offset)
            .take(query.count)
            .collect();
        let with_includes = !page.is_empty();
        let entry = |hit: Hit| {
            let full_url = format!(
                "{fhir_base}/{}/{}",
                hit.resource
                    .get("resourceType")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
                hit.resource
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            );
            json!({
                "fullUrl": full_url,
                "resource": hit.resource,
                "search": {"mode": if hit.include { "include" } else { "match" }},
            })
        };
        let mut entries: Vec<Value> = page.into_iter().map(entry).collect();
        if with_includes {
            entries.extend(includes.into_iter().map(entry));
        }
        if !entries.is_empty() {
            bundle["entry"] = Value::Array(entries);
        }
    }
    bundle
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_updated_prefixes() {
        let t = |s: &str| parse_fhir_time(s).unwrap();
        let gt = LastUpdated::parse("gt2026-03-01T00:00:00Z").unwrap();
        assert!(gt.matches(t("2026-03-01T00:00:01Z")) && !gt.matches(t("2026-03-01T00:00:00Z")));
        assert_eq!(gt.since(), Some(t("2026-03-01T00:00:00Z")));
        let le = LastUpdated::parse("le2026-03-01").unwrap();
        assert!(le.matches(t("2026-03-01T00:00:00Z")) && !le.matches(t("2026-03-01T00:00:01Z")));
        assert_eq!(le.since(), None);
        assert!(LastUpdated::parse("gtyesterday").is_none());
    }

    #[test]
    fn unknown_parameters_and_tokens() {
        let err = parse("Task", &["code"], "kode=3&_count=x").unwrap_err();
        assert_eq!(err.issues.len(), 2);
        let q = parse(
            "Task",
            &["code", "_lastUpdated"],
            "code=3&summary=false&_lastUpdated=gt2026-01-01",
        )
        .unwrap();
        assert_eq!(q.get("code"), Some("3"));
        let concept = json!({"coding": [{"system": "s", "code": "3"}]});
        assert!(concept_matches(Some(&concept), "3") && concept_matches(Some(&concept), "s|3"));
        assert!(!concept_matches(Some(&concept), "x|3") && !concept_matches(None, "3"));
    }
}
