//! PTS's validation rules and computations, as pure functions: which delay fields go with which
//! confidentiality code (with the spec's messages word for word), the delay a sibling inherits
//! from its parent, and times written as .NET writes them.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeDelta, Timelike, Utc};

/// Validation messages by field, as ASP.NET Core's `errors`.
pub type Errors = BTreeMap<String, Vec<String>>;

/// Adds a message for a field.
pub fn push(errors: &mut Errors, field: &str, message: impl Into<String>) {
    errors
        .entry(field.to_owned())
        .or_default()
        .push(message.into());
}

/// The confidentiality codes (Volven 9603).
pub const CODES: [&str; 14] = [
    "N",
    "NORU",
    "NORS",
    "NORN_FFL",
    "NORN_KUT",
    "NORN_EPO",
    "NORN_ALL",
    "NORN_FOR",
    "NORN_FORANS",
    "NORN_UNGDOM",
    "NORN_FFH",
    "NORN_FPB",
    "NORN_DUP",
    "NORN_ANG",
];

/// What a confidentiality code means for the delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKind {
    /// `N`: normal, not restricted (removes a restriction).
    Normal,
    /// `NORN_*`: restricted for ever; the service sets the delay.
    Indefinite,
    /// Any other code: restricted until a time (given, or computed from days).
    Delayed,
}

/// The kind of a valid code; `None` for a code not in Volven 9603.
pub fn code_kind(code: &str) -> Option<CodeKind> {
    if !CODES.contains(&code) {
        return None;
    }
    Some(if code == "N" {
        CodeKind::Normal
    } else if code.starts_with("NORN_") {
        CodeKind::Indefinite
    } else {
        CodeKind::Delayed
    })
}

/// .NET's `DateTime.MaxValue` (9999-12-31T23:59:59.9999999): "delayed forever".
pub fn max_date_time() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_nano_opt(23, 59, 59, 999_999_900))
        .map(|t| t.and_utc())
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// A time as System.Text.Json writes a UTC `DateTime`: seconds, then up to seven fractional
/// digits (100-ns ticks) without trailing zeros, then `Z` — `2024-01-18T20:50:20.908216Z`.
pub fn dotnet_time(at: DateTime<Utc>) -> String {
    let base = at.format("%Y-%m-%dT%H:%M:%S").to_string();
    let ticks = at.nanosecond() / 100;
    if ticks == 0 {
        return format!("{base}Z");
    }
    let fraction = format!("{ticks:07}");
    format!("{base}.{}Z", fraction.trim_end_matches('0'))
}

/// The delay fields of a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delay {
    /// `delayDeliveryUntil`.
    pub until: Option<DateTime<Utc>>,
    /// `delayDays`.
    pub days: Option<i64>,
    /// `delayFromTime`.
    pub from: Option<DateTime<Utc>>,
}

/// Checks the delay fields against the confidentiality code (the spec's tables) and that
/// `delayFromTime` comes with a parent; `code` must be valid (see [`code_kind`]).
pub fn check_delay(code: &str, delay: &Delay, has_parent: bool, now: DateTime<Utc>) -> Errors {
    let mut errors = Errors::new();
    let given = [
        delay.until.is_some(),
        delay.days.is_some(),
        delay.from.is_some(),
    ]
    .into_iter()
    .filter(|g| *g)
    .count();
    if given > 1 {
        push(
            &mut errors,
            "DelayDeliveryUntil",
            "Only one of DelayDeliveryUntil, DelayDays or DelayFromTime can be specified",
        );
    }
    match code_kind(code) {
        Some(CodeKind::Normal) => {
            if delay.until.is_some() {
                push(
                    &mut errors,
                    "DelayDeliveryUntil",
                    "DelayDeliveryUntil cannot be specified with ConfidentialityCode N",
                );
            }
            if delay.days.is_some() {
                push(
                    &mut errors,
                    "DelayDays",
                    "DelayDays cannot be specified with ConfidentialityCode N",
                );
            }
        }
        Some(CodeKind::Indefinite) if delay.until.is_some() || delay.days.is_some() => {
            push(
                &mut errors,
                "ConfidentialityCode",
                "DelayDeliveryUntil and DelayDays must be null for confidentialityCode NORN. \
                 DelayDeliveryUntil will be set by the service",
            );
        }
        Some(CodeKind::Indefinite) => {}
        Some(CodeKind::Delayed) => {
            if delay.until.is_none() && delay.days.is_none() && delay.from.is_none() {
                push(
                    &mut errors,
                    "ConfidentialityCode",
                    format!(
                        "DelayDeliveryUntil or DelayDays must have values for confidentialityCode \
                         {code}"
                    ),
                );
            }
            if delay.until.is_some_and(|until| until <= now) {
                push(
                    &mut errors,
                    "DelayDeliveryUntil",
                    "DelayDeliveryUntil must be set to a value in the future",
                );
            }
            if delay.days.is_some_and(|days| days <= 0) {
                push(
                    &mut errors,
                    "DelayDays",
                    "DelayDays must be a positive value",
                );
            }
        }
        None => {}
    }
    if delay.from.is_some() && !has_parent {
        push(
            &mut errors,
            "ParentConfidentialObjectId",
            "Parent Confidential Object must be specified when DelayFromTime is specified",
        );
    }
    errors
}

/// A sibling's delay: its own `delayFromTime` plus the parent's `delayDays`; a problem under
/// `field` when that is past what a .NET `DateTime` holds (9999-12-31).
pub fn sibling_delay(
    from: DateTime<Utc>,
    parent_days: i64,
    field: &str,
) -> Result<DateTime<Utc>, Errors> {
    TimeDelta::try_days(parent_days)
        .and_then(|days| from.checked_add_signed(days))
        .filter(|until| *until <= max_date_time())
        .ok_or_else(|| {
            let mut errors = Errors::new();
            push(
                &mut errors,
                field,
                format!(
                    "DelayFromTime {} plus the parent's DelayDays {parent_days} is past \
                     9999-12-31T23:59:59.9999999Z, the latest DelayDeliveryUntil PTS can store",
                    dotnet_time(from)
                ),
            );
            errors
        })
}

/// The parent object an upsert names, as far as the sibling's delay goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parent {
    /// The request names no parent.
    NotNamed,
    /// The request names a parent: the `delayDays` of its restriction, if it has one.
    Named {
        /// The parent's `delayDays` (none when it is not restricted, or only until a time).
        delay_days: Option<i64>,
    },
}

/// What an upsert does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpsertDecision {
    /// Code `N`: not restricted; whatever restriction there was is removed (nothing there is
    /// fine too).
    Remove,
    /// Store the restriction with this `delayDeliveryUntil`.
    Store {
        /// `NORN_*`: for ever; a sibling with `delayFromTime`: its parent's `delayDays` later;
        /// otherwise as the request gives it.
        delay_delivery_until: Option<DateTime<Utc>>,
    },
}

/// Decides an upsert from the request's code, delay and parent: the delay fields are checked
/// ([`check_delay`]) first; then `N` removes; `NORN_*` is delayed for ever, whatever a parent
/// says ("will be set by the service itself to Maximum DateTime"); a sibling with
/// `delayFromTime` is delayed by its parent's `delayDays` from then (refused when the parent
/// has none); anything else keeps the delay it gives.
pub fn decide_upsert(
    code: &str,
    delay: &Delay,
    parent: Parent,
    now: DateTime<Utc>,
) -> Result<UpsertDecision, Errors> {
    let errors = check_delay(code, delay, parent != Parent::NotNamed, now);
    if !errors.is_empty() {
        return Err(errors);
    }
    match code_kind(code) {
        Some(CodeKind::Normal) => return Ok(UpsertDecision::Remove),
        Some(CodeKind::Indefinite) => {
            return Ok(UpsertDecision::Store {
                delay_delivery_until: Some(max_date_time()),
            });
        }
        Some(CodeKind::Delayed) | None => {}
    }
    let delay_delivery_until = match (delay.from, parent) {
        (
            Some(from),
            Parent::Named {
                delay_days: Some(days),
            },
        ) => Some(sibling_delay(from, days, "DelayFromTime")?),
        (Some(_), Parent::Named { delay_days: None }) => {
            let mut errors = Errors::new();
            push(
                &mut errors,
                "ParentConfidentialObjectId",
                "The parent confidential object has no patient safety access restriction with \
                 DelayDays to compute DelayDeliveryUntil from",
            );
            return Err(errors);
        }
        (None, _) | (Some(_), Parent::NotNamed) => delay.until,
    };
    Ok(UpsertDecision::Store {
        delay_delivery_until,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn now() -> DateTime<Utc> {
        t("2024-01-05T00:00:00Z")
    }

    fn messages(errors: &Errors) -> Vec<(&str, &str)> {
        errors
            .iter()
            .flat_map(|(k, v)| v.iter().map(move |m| (k.as_str(), m.as_str())))
            .collect()
    }

    #[test]
    fn the_spec_example_is_computed_to_the_microsecond() {
        let from = t("2024-01-04T20:50:20.908216Z");
        let until = sibling_delay(from, 14, "F").unwrap();
        assert_eq!(dotnet_time(until), "2024-01-18T20:50:20.908216Z");
        assert_eq!(dotnet_time(max_date_time()), "9999-12-31T23:59:59.9999999Z");
        assert_eq!(
            dotnet_time(t("2024-01-21T20:50:20Z")),
            "2024-01-21T20:50:20Z"
        );
        assert_eq!(
            dotnet_time(t("2024-01-21T20:50:20.5Z")),
            "2024-01-21T20:50:20.5Z"
        );
        for days in [i64::MAX, i64::from(i32::MAX), 2_930_000] {
            let errors = sibling_delay(from, days, "DelayFromTime").unwrap_err();
            assert_eq!(
                messages(&errors),
                [(
                    "DelayFromTime",
                    format!(
                        "DelayFromTime 2024-01-04T20:50:20.908216Z plus the parent's DelayDays \
                         {days} is past 9999-12-31T23:59:59.9999999Z, the latest \
                         DelayDeliveryUntil PTS can store"
                    )
                    .as_str()
                )]
            );
        }
        let last = t("9999-12-31T00:00:00Z");
        assert!(sibling_delay(last, 0, "F").is_ok());
        assert!(sibling_delay(last, 1, "F").is_err());
    }

    #[test]
    fn codes() {
        assert_eq!(code_kind("N"), Some(CodeKind::Normal));
        assert_eq!(code_kind("NORN_FFL"), Some(CodeKind::Indefinite));
        assert_eq!(code_kind("NORU"), Some(CodeKind::Delayed));
        assert_eq!(code_kind("NORN_XYZ"), None);
        assert_eq!(code_kind("noru"), None);
    }

    #[test]
    fn every_row_of_the_spec_tables() {
        let future = Some(t("2024-01-21T20:50:20.908216Z"));
        let past = Some(t("2024-01-04T00:00:00Z"));
        let from = Some(t("2024-01-04T20:50:20.908216Z"));
        let check = |code: &str, until, days, from, parent| {
            let delay = Delay { until, days, from };
            check_delay(code, &delay, parent, now())
        };
        // N: neither field.
        assert_eq!(
            messages(&check("N", future, None, None, false)),
            [(
                "DelayDeliveryUntil",
                "DelayDeliveryUntil cannot be specified with ConfidentialityCode N"
            )]
        );
        assert_eq!(
            messages(&check("N", None, Some(14), None, false)),
            [(
                "DelayDays",
                "DelayDays cannot be specified with ConfidentialityCode N"
            )]
        );
        assert!(check("N", None, None, None, true).is_empty());
        // NORN_*: both null, set by the service.
        for (until, days) in [(future, None), (None, Some(14))] {
            assert_eq!(
                messages(&check("NORN_FFL", until, days, None, false)),
                [(
                    "ConfidentialityCode",
                    "DelayDeliveryUntil and DelayDays must be null for confidentialityCode NORN. \
                     DelayDeliveryUntil will be set by the service"
                )]
            );
        }
        assert!(check("NORN_ANG", None, None, None, false).is_empty());
        // Any other code: one of them, in the future, positive.
        assert_eq!(
            messages(&check("NORU", None, None, None, false)),
            [(
                "ConfidentialityCode",
                "DelayDeliveryUntil or DelayDays must have values for confidentialityCode NORU"
            )]
        );
        assert_eq!(
            messages(&check("NORS", past, None, None, false)),
            [(
                "DelayDeliveryUntil",
                "DelayDeliveryUntil must be set to a value in the future"
            )]
        );
        assert_eq!(
            messages(&check("NORU", Some(now()), None, None, false)),
            [(
                "DelayDeliveryUntil",
                "DelayDeliveryUntil must be set to a value in the future"
            )]
        );
        for days in [0, -1] {
            assert_eq!(
                messages(&check("NORU", None, Some(days), None, false)),
                [("DelayDays", "DelayDays must be a positive value")]
            );
        }
        assert!(check("NORU", future, None, None, false).is_empty());
        assert!(check("NORU", None, Some(14), None, false).is_empty());
        assert!(check("NORU", None, None, from, true).is_empty());
        // Only one of the three.
        assert_eq!(
            messages(&check("NORU", future, Some(14), None, false)),
            [(
                "DelayDeliveryUntil",
                "Only one of DelayDeliveryUntil, DelayDays or DelayFromTime can be specified"
            )]
        );
        // DelayFromTime needs the parent.
        assert_eq!(
            messages(&check("NORU", None, None, from, false)),
            [(
                "ParentConfidentialObjectId",
                "Parent Confidential Object must be specified when DelayFromTime is specified"
            )]
        );
    }

    #[test]
    fn an_upsert_removes_stores_for_ever_or_inherits_the_parents_days() {
        let from = t("2024-01-04T20:50:20.908216Z");
        let future = t("2024-01-21T00:00:00Z");
        let days = |delay_days| Parent::Named { delay_days };
        let delay = |until, days, from| Delay { until, days, from };
        let decide = |code, delay: Delay, parent| decide_upsert(code, &delay, parent, now());
        let store = |until: Option<DateTime<Utc>>| {
            Ok(UpsertDecision::Store {
                delay_delivery_until: until,
            })
        };
        assert_eq!(
            decide("N", delay(None, None, Some(from)), days(Some(14))),
            Ok(UpsertDecision::Remove)
        );
        assert_eq!(
            decide("NORN_FFL", delay(None, None, Some(from)), days(Some(14))),
            store(Some(max_date_time()))
        );
        assert_eq!(
            decide("NORU", delay(None, None, Some(from)), days(Some(14))),
            store(Some(t("2024-01-18T20:50:20.908216Z")))
        );
        assert_eq!(
            decide("NORU", delay(Some(future), None, None), days(Some(14))),
            store(Some(future))
        );
        assert_eq!(
            decide("NORU", delay(None, Some(3), None), Parent::NotNamed),
            store(None)
        );
        let refused = decide("NORU", delay(None, None, Some(from)), days(None)).unwrap_err();
        assert_eq!(
            messages(&refused),
            [(
                "ParentConfidentialObjectId",
                "The parent confidential object has no patient safety access restriction with \
                 DelayDays to compute DelayDeliveryUntil from"
            )]
        );
        // The delay fields are checked before anything is decided.
        let refused = decide("N", delay(Some(future), None, None), Parent::NotNamed).unwrap_err();
        assert_eq!(
            messages(&refused),
            [(
                "DelayDeliveryUntil",
                "DelayDeliveryUntil cannot be specified with ConfidentialityCode N"
            )]
        );
    }
}
