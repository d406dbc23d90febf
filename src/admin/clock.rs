//! `/_admin/clock`: every service's time in one place. `GET` shows it; `POST` moves it —
//! `{"advance": "PT4H1M"}` (an ISO 8601 duration, `-` in front to go back), `{"set":
//! "2026-01-01T10:00:00Z"}`, or `{"reset": true}` (back to the real time). Token expiry, ticket
//! lifetimes, the 4-hour rule and PTS delays all follow.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, SecondsFormat, TimeDelta};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::require_json;
use crate::errors::admin::AdminError;
use crate::state::AppState;

/// The clock as `/_admin/clock` answers it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClockAnswer {
    /// helsesim's now (RFC 3339, milliseconds, UTC).
    #[schema(format = DateTime)]
    now: String,
    /// How far it is moved from this machine's clock, in seconds.
    offset_seconds: i64,
}

impl ClockAnswer {
    fn of(clock: &crate::clock::Clock) -> Self {
        Self {
            now: clock.now().to_rfc3339_opts(SecondsFormat::Millis, true),
            offset_seconds: clock.offset().num_seconds(),
        }
    }
}

/// The clock as `GET /_admin/clock` shows it.
pub fn clock_json(clock: &crate::clock::Clock) -> Value {
    serde_json::to_value(ClockAnswer::of(clock)).unwrap_or_default()
}

fn answer(state: &AppState) -> HttpResponse {
    HttpResponse::Ok().json(ClockAnswer::of(&state.clock))
}

/// `GET /_admin/clock`: the simulation's now and how far it is moved.
#[utoipa::path(
    get,
    path = "/_admin/clock",
    operation_id = "getClock",
    summary = "The simulation's now and offset",
    responses((status = 200, description = "the clock", body = ClockAnswer))
)]
pub async fn get(state: web::Data<AppState>) -> HttpResponse {
    answer(&state)
}

/// Parses an ISO 8601 duration (`PT4H1M`, `P2D`, `P1W`; a leading `-` goes back). Years count
/// 365 days and months 30.
pub fn parse_duration(text: &str) -> Result<TimeDelta, String> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let malformed =
        || format!("'{text}' is not an ISO 8601 duration such as PT4H1M, P2D or -PT30M");
    // The parser stops at what it cannot read (a number over u32 among it): all of the text
    // must be read, or it would silently mean less than it says.
    let parsed = match iso8601::parsers::parse_duration(rest.as_bytes()) {
        Ok((left, parsed)) if left.is_empty() && rest.len() > 1 && !rest.ends_with('T') => parsed,
        Ok((left, _)) if left.first().is_some_and(u8::is_ascii_digit) => {
            return Err(format!(
                "'{text}' has a number too large to be read (at most 4294967295 of each unit)"
            ));
        }
        _ => return Err(malformed()),
    };
    let delta = TimeDelta::from_std(std::time::Duration::from(parsed))
        .map_err(|_| format!("'{text}' is too long a duration"))?;
    Ok(if negative { -delta } else { delta })
}

/// A change of the clock: a body with exactly one of these members.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged, deny_unknown_fields)]
pub enum ClockChange {
    /// Move by an ISO 8601 duration (`-` in front to go back); the clock stays from
    /// 1900-01-01T00:00:00Z to 9000-12-31T23:59:59Z.
    Advance {
        /// The duration.
        #[schema(examples("PT4H1M"))]
        advance: String,
    },
    /// Set to an RFC 3339 time.
    Set {
        /// The time.
        #[schema(format = DateTime)]
        set: String,
    },
    /// Back to the real time (`true`).
    Reset {
        /// Always `true`.
        reset: bool,
    },
}

/// `POST /_admin/clock`: advance, set or reset.
#[utoipa::path(post, path = "/_admin/clock", operation_id = "changeClock",
    summary = "Advance (ISO 8601 duration), set or reset the clock",
    request_body = ClockChange,
    responses(
        (status = 200, description = "the clock, moved", body = ClockAnswer),
        (status = 400, description = "invalid_request")))]
pub async fn post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    require_json(&req)?;
    let request: Value = serde_json::from_slice(&body)
        .map_err(|e| AdminError::invalid_request(format!("The body is not valid JSON: {e}")))?;
    let change = request
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.iter().next());
    let Some((key, value)) = change else {
        return Err(AdminError::invalid_request(
            "Send exactly one of {\"advance\": \"PT4H1M\"}, {\"set\": \"2026-01-01T10:00:00Z\"} \
             or {\"reset\": true}",
        ));
    };
    let unknown = || {
        AdminError::invalid_request(format!(
            "Unknown clock change {key}: {value}; send {{\"advance\": \"PT4H1M\"}}, \
             {{\"set\": \"2026-01-01T10:00:00Z\"}} or {{\"reset\": true}}"
        ))
    };
    match ClockChange::deserialize(&request).map_err(|_| unknown())? {
        ClockChange::Advance { advance } => advance_by(&state.clock, &advance)?,
        ClockChange::Set { set } => set_to(&state.clock, &set)?,
        ClockChange::Reset { reset: true } => state.clock.reset(),
        ClockChange::Reset { reset: false } => return Err(unknown()),
    }
    Ok(answer(&state))
}

/// Moves `clock` by the ISO 8601 `duration`.
fn advance_by(clock: &crate::clock::Clock, duration: &str) -> Result<(), AdminError> {
    let by = parse_duration(duration).map_err(AdminError::invalid_request)?;
    let from = clock.now();
    clock.advance(by).map(drop).map_err(|_| {
        AdminError::invalid_request(format!(
            "{}: advancing by {duration} from {} would take it {}",
            crate::clock::RANGE_RULE,
            from.to_rfc3339_opts(SecondsFormat::Secs, true),
            if duration.starts_with('-') {
                "before 1900"
            } else {
                "past 9000"
            }
        ))
    })
}

/// Sets `clock` to the RFC 3339 time `at`.
fn set_to(clock: &crate::clock::Clock, at: &str) -> Result<(), AdminError> {
    let at = DateTime::parse_from_rfc3339(at).map_err(|_| {
        AdminError::invalid_request(format!(
            "set must be an RFC 3339 time such as 2026-01-01T10:00:00Z, got '{at}'"
        ))
    })?;
    clock
        .set(at.to_utc())
        .map_err(|e| AdminError::invalid_request(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("PT4H1M"),
            Ok(TimeDelta::hours(4) + TimeDelta::minutes(1))
        );
        assert_eq!(parse_duration("P2D"), Ok(TimeDelta::days(2)));
        assert_eq!(parse_duration("P1W"), Ok(TimeDelta::days(7)));
        assert_eq!(parse_duration("-PT30M"), Ok(-TimeDelta::minutes(30)));
        assert_eq!(parse_duration("PT0.5S"), Ok(TimeDelta::milliseconds(500)));
        assert!(
            parse_duration("PT99999999999999999999S")
                .unwrap_err()
                .contains("too large")
        );
        assert!(
            parse_duration("P4294967295Y")
                .unwrap_err()
                .contains("too long")
        );
        assert_eq!(
            parse_duration("P300000Y"),
            Ok(TimeDelta::days(300_000 * 365))
        );
        for bad in [
            "4h", "", "P", "PT", "PT4Hx", "T4H", "P1DT", "PT1H2X", "-", "--PT1H",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
