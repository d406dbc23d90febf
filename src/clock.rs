//! The one source of "now".
//!
//! Every rule in helsesim takes `now` as a parameter; handlers get it from the [`Clock`] in the
//! application state. The clock is the system time moved by an offset (or pinned to a fixed
//! instant in tests), so the control plane and tests can move every service's time at once:
//! token expiry, ticket lifetimes, the 4-hour rule, PTS delays.

use std::sync::{Arc, PoisonError, RwLock};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

/// The earliest time the clock may show: every service can write it (RFC 3339, HTTP dates,
/// .NET and FHIR instants).
pub const EARLIEST: DateTime<Utc> = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(date) => date.and_time(chrono::NaiveTime::MIN).and_utc(),
    None => DateTime::<Utc>::MIN_UTC,
};
/// The latest time the clock may show: far enough from year 9999 that a ticket's, token's or
/// delay's end still has four-digit years.
pub const LATEST: DateTime<Utc> = match NaiveDate::from_ymd_opt(9000, 12, 31) {
    Some(date) => match date.and_hms_opt(23, 59, 59) {
        Some(at) => at.and_utc(),
        None => DateTime::<Utc>::MAX_UTC,
    },
    None => DateTime::<Utc>::MAX_UTC,
};

/// A clock change that would take the clock out of [`EARLIEST`]..=[`LATEST`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{RANGE_RULE}: {0}")]
pub struct OutOfRange(String);

/// The rule [`OutOfRange`] states.
pub const RANGE_RULE: &str = "The clock must stay from 1900-01-01T00:00:00Z to \
                              9000-12-31T23:59:59Z (every service writes its times with four-digit \
                              years)";

/// `at` moved by `by`, saturating at the ends of what chrono can hold instead of panicking.
/// With the clock bounded to [`EARLIEST`]..=[`LATEST`], lifetimes of hours or days never reach
/// the ends; a time taken from a request may.
pub fn after(at: DateTime<Utc>, by: TimeDelta) -> DateTime<Utc> {
    at.checked_add_signed(by)
        .unwrap_or(if by < TimeDelta::zero() {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
}

fn in_range(at: DateTime<Utc>) -> bool {
    (EARLIEST..=LATEST).contains(&at)
}

/// A cheaply clonable handle to the shared clock; all clones see the same time.
#[derive(Debug, Clone)]
pub struct Clock {
    state: Arc<RwLock<ClockState>>,
}

#[derive(Debug, Clone, Copy)]
enum Base {
    System,
    Fixed(DateTime<Utc>),
}

#[derive(Debug, Clone, Copy)]
struct ClockState {
    base: Base,
    offset: TimeDelta,
}

impl Clock {
    /// The system clock, not moved.
    pub fn system() -> Self {
        Self::with_base(Base::System)
    }

    /// A clock that stands still at `at` until moved (for tests).
    pub fn fixed(at: DateTime<Utc>) -> Self {
        Self::with_base(Base::Fixed(at))
    }

    fn with_base(base: Base) -> Self {
        Self {
            state: Arc::new(RwLock::new(ClockState {
                base,
                offset: TimeDelta::zero(),
            })),
        }
    }

    /// The current time of the simulation, always within [`EARLIEST`]..=[`LATEST`].
    pub fn now(&self) -> DateTime<Utc> {
        let state = *self.state.read().unwrap_or_else(PoisonError::into_inner);
        state.now()
    }

    /// Moves the clock forward (or back, with a negative delta); refused when that would take
    /// it out of range.
    pub fn advance(&self, by: TimeDelta) -> Result<DateTime<Utc>, OutOfRange> {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let base = state.base_now();
        let moved = state
            .offset
            .checked_add(&by)
            .filter(|offset| base.checked_add_signed(*offset).is_some_and(in_range))
            .ok_or_else(|| {
                OutOfRange(format!(
                    "moving it by {by} from {} would take it {}",
                    state
                        .now()
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    if by < TimeDelta::zero() {
                        "before 1900"
                    } else {
                        "past 9000"
                    }
                ))
            })?;
        state.offset = moved;
        Ok(state.now())
    }

    /// Makes `now()` answer `at`; a system clock keeps running from there. Refused out of range.
    pub fn set(&self, at: DateTime<Utc>) -> Result<(), OutOfRange> {
        if !in_range(at) {
            return Err(OutOfRange(format!(
                "{} is out of range",
                at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            )));
        }
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        state.offset = at - state.base_now();
        Ok(())
    }

    /// Removes any offset: back to the system time (or the fixed instant).
    pub fn reset(&self) {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        state.offset = TimeDelta::zero();
    }

    /// Moves the clock to `offset` from its base (as a state document records it); refused when
    /// that is out of range.
    pub fn set_offset(&self, offset: TimeDelta) -> Result<(), OutOfRange> {
        self.check_offset(offset)?;
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        state.offset = offset;
        Ok(())
    }

    /// Whether [`Clock::set_offset`] would accept `offset` now.
    pub fn check_offset(&self, offset: TimeDelta) -> Result<(), OutOfRange> {
        let state = *self.state.read().unwrap_or_else(PoisonError::into_inner);
        if state
            .base_now()
            .checked_add_signed(offset)
            .is_some_and(in_range)
        {
            Ok(())
        } else {
            Err(OutOfRange(format!(
                "an offset of {offset} from now is out of range"
            )))
        }
    }

    /// How far the clock has been moved from its base.
    pub fn offset(&self) -> TimeDelta {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .offset
    }
}

impl ClockState {
    /// The base moved by the offset, held within range (a system clock that runs on past the
    /// end in some millennia stays at the end).
    fn now(&self) -> DateTime<Utc> {
        after(self.base_now(), self.offset).clamp(EARLIEST, LATEST)
    }

    #[expect(
        clippy::disallowed_methods,
        reason = "the one place that reads the wall clock"
    )]
    fn base_now(&self) -> DateTime<Utc> {
        match self.base {
            Base::System => Utc::now(),
            Base::Fixed(at) => at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn fixed_clock_moves_only_when_told() {
        let clock = Clock::fixed(at("2026-01-01T10:00:00Z"));
        assert_eq!(clock.now(), at("2026-01-01T10:00:00Z"));
        clock
            .advance(TimeDelta::hours(4) + TimeDelta::minutes(1))
            .unwrap();
        assert_eq!(clock.now(), at("2026-01-01T14:01:00Z"));
        clock.set(at("2030-05-05T00:00:00Z")).unwrap();
        assert_eq!(clock.now(), at("2030-05-05T00:00:00Z"));
        clock.reset();
        assert_eq!(clock.now(), at("2026-01-01T10:00:00Z"));
    }

    #[test]
    fn clones_share_the_time() {
        let clock = Clock::fixed(at("2026-01-01T10:00:00Z"));
        let other = clock.clone();
        other.advance(TimeDelta::seconds(61)).unwrap();
        assert_eq!(clock.now(), at("2026-01-01T10:01:01Z"));
    }

    #[test]
    fn system_clock_can_be_set_to_the_past() {
        let clock = Clock::system();
        clock.set(at("2001-01-01T00:00:00Z")).unwrap();
        let now = clock.now();
        assert!(now >= at("2001-01-01T00:00:00Z") && now < at("2001-01-01T00:01:00Z"));
    }

    #[test]
    fn the_clock_stays_in_range() {
        let clock = Clock::fixed(at("2026-01-01T10:00:00Z"));
        let err = clock.advance(TimeDelta::days(300_000 * 365)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "The clock must stay from 1900-01-01T00:00:00Z to 9000-12-31T23:59:59Z (every service \
             writes its times with four-digit years): moving it by PT9460800000000S from \
             2026-01-01T10:00:00Z would take it past 9000"
        );
        assert_eq!(clock.now(), at("2026-01-01T10:00:00Z"));
        assert!(clock.advance(TimeDelta::MAX).is_err());
        assert!(clock.advance(TimeDelta::MIN).is_err());
        assert!(clock.advance(-TimeDelta::days(200 * 365)).is_err());
        assert!(clock.set(at("9001-01-01T00:00:00Z")).is_err());
        assert!(clock.set(at("1899-12-31T23:59:59Z")).is_err());
        clock.set(at("9000-12-31T23:59:59Z")).unwrap();
        assert!(clock.advance(TimeDelta::seconds(1)).is_err());
        clock.set(at("1900-01-01T00:00:00Z")).unwrap();
        assert!(clock.advance(TimeDelta::seconds(-1)).is_err());
        assert!(clock.set_offset(TimeDelta::MAX).is_err());
        assert_eq!(clock.now(), at("1900-01-01T00:00:00Z"));
        assert_eq!(
            after(at("2026-01-01T10:00:00Z"), TimeDelta::MAX),
            DateTime::<Utc>::MAX_UTC
        );
    }
}
