//! Datadeling's search queries: each type's parameters (unknown ones are reported, as on the
//! rest of the FHIR API), paging, `_lastUpdated` with its prefixes, and the searchset Bundle.

use actix_web::http::StatusCode;
use chrono::{DateTime, FixedOffset, Months, NaiveDate, TimeDelta, Utc};
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
                        format!(
                            "_lastUpdated must be [gt|ge|lt|le|eq]<dateTime>, e.g. \
                             gt2026-03-01T00:00:00Z, got '{value}'"
                        ),
                    ));
                    continue;
                }
                parsed.params.push((name.to_owned(), value.into_owned()));
            }
            other => issues.push(Issue::error(
                "not-supported",
                format!(
                    "Unknown search parameter '{other}' for {type_name}; supported: {}, and \
                     _count, _offset, _summary, _format",
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

/// A `_lastUpdated` criterion: a prefix and the period its value covers. As FHIR search has it
/// (search.html#date), a value stands for the whole period of its precision — `2026-03-02` is
/// that day, `2026-03` that month, `2026-03-02T10:00Z` that minute, `2026-03-02T10:00:00Z`
/// that second — and a value without zone is read as UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastUpdated {
    prefix: &'static str,
    /// Where the period starts.
    start: DateTime<Utc>,
    /// Where the next period starts (the end, excluded).
    end: DateTime<Utc>,
}

impl LastUpdated {
    /// Parses `gt2026-03-01T00:00:00Z`, `ge2026-03-01`, ... (no prefix = `eq`).
    pub fn parse(value: &str) -> Option<Self> {
        let (prefix, rest) = ["gt", "ge", "lt", "le", "eq"]
            .into_iter()
            .find_map(|p| value.strip_prefix(p).map(|rest| (p, rest)))
            .unwrap_or(("eq", value));
        let (start, end) = period(rest)?;
        Some(Self { prefix, start, end })
    }

    /// Whether `t` matches: `eq` within the period, `ge` from its start, `le` up to its end,
    /// `gt` after its end, `lt` before its start.
    pub fn matches(&self, t: DateTime<Utc>) -> bool {
        match self.prefix {
            "gt" => t >= self.end,
            "ge" => t >= self.start,
            "lt" => t < self.start,
            "le" => t < self.end,
            _ => self.start <= t && t < self.end,
        }
    }
}

/// The period a FHIR search date covers: `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, or
/// `YYYY-MM-DDThh:mm[:ss[.f…]]` with `Z`, `+hh:mm`, `-hh:mm` or no zone (UTC).
fn period(value: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let (date, time) = match value.split_once('T') {
        Some((date, time)) => (date, Some(time)),
        None => (value, None),
    };
    let mut parts = date.split('-');
    let year = parts.next().filter(|y| digits(y, 4))?.parse().ok()?;
    let month = parts
        .next()
        .map(|m| digits(m, 2).then(|| m.parse().ok()).flatten());
    let day = parts
        .next()
        .map(|d| digits(d, 2).then(|| d.parse().ok()).flatten());
    if parts.next().is_some() {
        return None;
    }
    let months = |start: NaiveDate, n: u32| {
        let end = start.checked_add_months(Months::new(n))?;
        Some((start, end))
    };
    let (first, next) = match (month, day, time) {
        (None, None, None) => months(NaiveDate::from_ymd_opt(year, 1, 1)?, 12)?,
        (Some(month), None, None) => months(NaiveDate::from_ymd_opt(year, month?, 1)?, 1)?,
        (Some(month), Some(day), None) => {
            let day = NaiveDate::from_ymd_opt(year, month?, day?)?;
            (day, day.succ_opt()?)
        }
        (Some(month), Some(day), Some(time)) => {
            let day = NaiveDate::from_ymd_opt(year, month?, day?)?;
            return instant_period(day, time);
        }
        _ => return None,
    };
    let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    Some((midnight(first)?, midnight(next)?))
}

/// The period of a time of `day`: `hh:mm` a minute, `hh:mm:ss` a second, with a fraction the
/// last digit's unit; then the zone.
fn instant_period(day: NaiveDate, time: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let (clock, offset) = match time.find(['Z', '+', '-']) {
        Some(at) => {
            let (clock, zone) = time.split_at(at);
            let offset = if zone == "Z" {
                0
            } else {
                let sign = if zone.starts_with('-') { -1 } else { 1 };
                let (h, m) = zone.get(1..)?.split_once(':')?;
                let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
                if zone.len() != 6 || h > 14 || m > 59 {
                    return None;
                }
                sign * (h * 3600 + m * 60)
            };
            (clock, offset)
        }
        None => (time, 0),
    };
    let two = |s: &str| -> Option<u32> {
        (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let mut fields = clock.split(':');
    let hour = two(fields.next()?)?;
    let minute = two(fields.next()?)?;
    let (second, nanos, length) = match fields.next() {
        None => (0, 0, TimeDelta::minutes(1)),
        Some(seconds) => {
            let (whole, fraction) = match seconds.split_once('.') {
                Some((whole, fraction)) => (whole, Some(fraction)),
                None => (seconds, None),
            };
            match fraction {
                None => (two(whole)?, 0, TimeDelta::seconds(1)),
                Some(f) if (1..=9).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()) => {
                    let scale = 10u32.pow(9 - u32::try_from(f.len()).ok()?);
                    let nanos = f.parse::<u32>().ok()? * scale;
                    (two(whole)?, nanos, TimeDelta::nanoseconds(i64::from(scale)))
                }
                Some(_) => return None,
            }
        }
    };
    if fields.next().is_some() {
        return None;
    }
    let local = day.and_hms_nano_opt(hour, minute, second, nanos)?;
    let zone = FixedOffset::east_opt(offset)?;
    let start = local.and_local_timezone(zone).single()?.to_utc();
    Some((start, start.checked_add_signed(length)?))
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
    // Checked: an _offset near usize::MAX must not wrap round to the first page.
    if paging
        && let Some(next) = query
            .offset
            .checked_add(query.count)
            .filter(|next| *next < total)
    {
        links.push(json!({"relation": "next", "url": link(next)}));
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
        let ge = LastUpdated::parse("ge2026-03-01T00:00:00Z").unwrap();
        assert!(ge.matches(t("2026-03-01T00:00:00Z")) && !ge.matches(t("2026-02-28T23:59:59Z")));
        let le = LastUpdated::parse("le2026-03-01").unwrap();
        assert!(le.matches(t("2026-03-01T23:59:59Z")) && !le.matches(t("2026-03-02T00:00:00Z")));
        assert!(LastUpdated::parse("gtyesterday").is_none());
    }

    #[test]
    fn a_last_updated_value_covers_its_precision() {
        let t = |s: &str| parse_fhir_time(s).unwrap();
        let matches = |criterion: &str, at: &str| {
            LastUpdated::parse(criterion)
                .unwrap_or_else(|| panic!("{criterion}"))
                .matches(t(at))
        };
        for (criterion, inside, outside) in [
            (
                "2026-03-02",
                "2026-03-02T23:59:59.999Z",
                "2026-03-03T00:00:00Z",
            ),
            ("eq2026-03", "2026-03-31T12:00:00Z", "2026-04-01T00:00:00Z"),
            ("eq2026", "2026-12-31T23:59:59Z", "2025-12-31T23:59:59Z"),
            (
                "eq2026-03-02T10:00Z",
                "2026-03-02T10:00:59Z",
                "2026-03-02T10:01:00Z",
            ),
            (
                "eq2026-03-02T11:00+01:00",
                "2026-03-02T10:00:30Z",
                "2026-03-02T11:00:00Z",
            ),
            (
                "eq2026-03-02T10:00:00Z",
                "2026-03-02T10:00:00.999Z",
                "2026-03-02T10:00:01Z",
            ),
            (
                "eq2026-03-02T10:00:00.5Z",
                "2026-03-02T10:00:00.5Z",
                "2026-03-02T10:00:00.6Z",
            ),
            (
                "eq2026-03-02T10:00:00",
                "2026-03-02T10:00:00Z",
                "2026-03-02T09:00:00Z",
            ),
            (
                "gt2026-03-01",
                "2026-03-02T00:00:00Z",
                "2026-03-01T23:59:59Z",
            ),
            (
                "ge2026-03-02",
                "2026-03-02T00:00:00Z",
                "2026-03-01T23:59:59Z",
            ),
            (
                "lt2026-03-02",
                "2026-03-01T23:59:59Z",
                "2026-03-02T00:00:00Z",
            ),
            (
                "le2026-03-02",
                "2026-03-02T23:59:59Z",
                "2026-03-03T00:00:00Z",
            ),
        ] {
            assert!(matches(criterion, inside), "{criterion} {inside}");
            assert!(!matches(criterion, outside), "{criterion} {outside}");
        }
        for bad in [
            "2026-3-02",
            "2026-02-30",
            "26",
            "2026-03-02T25:00Z",
            "2026-03-02T10Z",
            "2026-03-02T10:00:00.Z",
            "2026-03-02T10:00:00+1:00",
            "2026-03-02-01",
        ] {
            assert!(LastUpdated::parse(bad).is_none(), "{bad}");
        }
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
