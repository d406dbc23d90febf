//! The one source of "now".
//!
//! Every rule in helsesim takes `now` as a parameter; handlers get it from the [`Clock`] in the
//! application state. The clock is the system time moved by an offset (or pinned to a fixed
//! instant in tests), so the control plane and tests can move every service's time at once:
//! token expiry, ticket lifetimes, the 4-hour rule, PTS delays.

use std::sync::{Arc, PoisonError, RwLock};

use chrono::{DateTime, TimeDelta, Utc};

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

    /// The current time of the simulation.
    pub fn now(&self) -> DateTime<Utc> {
        let state = *self.state.read().unwrap_or_else(PoisonError::into_inner);
        state.base_now() + state.offset
    }

    /// Moves the clock forward (or back, with a negative delta).
    pub fn advance(&self, by: TimeDelta) {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        state.offset += by;
    }

    /// Makes `now()` answer `at`; a system clock keeps running from there.
    pub fn set(&self, at: DateTime<Utc>) {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        state.offset = at - state.base_now();
    }

    /// Removes any offset: back to the system time (or the fixed instant).
    pub fn reset(&self) {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        state.offset = TimeDelta::zero();
    }

    /// Moves the clock to `offset` from its base (as a state document records it).
    pub fn set_offset(&self, offset: TimeDelta) {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        state.offset = offset;
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
        clock.advance(TimeDelta::hours(4) + TimeDelta::minutes(1));
        assert_eq!(clock.now(), at("2026-01-01T14:01:00Z"));
        clock.set(at("2030-05-05T00:00:00Z"));
        assert_eq!(clock.now(), at("2030-05-05T00:00:00Z"));
        clock.reset();
        assert_eq!(clock.now(), at("2026-01-01T10:00:00Z"));
    }

    #[test]
    fn clones_share_the_time() {
        let clock = Clock::fixed(at("2026-01-01T10:00:00Z"));
        let other = clock.clone();
        other.advance(TimeDelta::seconds(61));
        assert_eq!(clock.now(), at("2026-01-01T10:01:01Z"));
    }

    #[test]
    fn system_clock_can_be_set_to_the_past() {
        let clock = Clock::system();
        clock.set(at("2001-01-01T00:00:00Z"));
        let now = clock.now();
        assert!(now >= at("2001-01-01T00:00:00Z") && now < at("2001-01-01T00:01:00Z"));
    }
}
