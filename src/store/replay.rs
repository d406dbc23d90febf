use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};

/// Remembers one-time identifiers (`jti` of client assertions and DPoP proofs) until they
/// expire, so a replay within their lifetime is caught. Memory stays bounded by the number of
/// identifiers still alive: expired ones are swept as new ones arrive.
#[derive(Debug, Default)]
pub struct ReplayCache {
    seen: Mutex<HashMap<String, DateTime<Utc>>>,
}

impl ReplayCache {
    /// Whether `id` has been recorded and is still remembered at `now`.
    pub fn contains(&self, id: &str, now: DateTime<Utc>) -> bool {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.get(id).is_some_and(|until| *until >= now)
    }

    /// Records `id` until `until`; `false` if it was already recorded (a replay).
    pub fn insert(&self, id: &str, until: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.len() >= 1024 && seen.len().is_power_of_two() {
            seen.retain(|_, expiry| *expiry >= now);
        }
        match seen.get(id) {
            Some(expiry) if *expiry >= now => false,
            _ => {
                seen.insert(id.to_owned(), until);
                true
            }
        }
    }

    /// How many identifiers are remembered (expired ones not yet swept included).
    pub fn len(&self) -> usize {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn replays_are_caught_until_expiry() {
        let cache = ReplayCache::default();
        let now = DateTime::UNIX_EPOCH + TimeDelta::days(20000);
        let until = now + TimeDelta::seconds(60);
        assert!(cache.insert("a", until, now));
        assert!(!cache.insert("a", until, now + TimeDelta::seconds(59)));
        assert!(cache.contains("a", now));
        assert!(!cache.contains("a", now + TimeDelta::seconds(61)));
        assert!(cache.insert("a", until, now + TimeDelta::seconds(61)));
    }

    #[test]
    fn expired_entries_are_swept() {
        let cache = ReplayCache::default();
        let now = DateTime::UNIX_EPOCH + TimeDelta::days(20000);
        for i in 0..2048 {
            cache.insert(&i.to_string(), now, now);
        }
        let later = now + TimeDelta::seconds(1);
        cache.insert("fresh", later, later);
        assert!(cache.len() < 2048);
    }
}
