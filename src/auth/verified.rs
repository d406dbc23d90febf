//! Access tokens whose signature and issuer have verified, by token text.
//!
//! An EHR sends the same access token with every call for its lifetime (an hour), so the RSA
//! signature check — most of what an API call costs — is done once per token and key set. An
//! entry counts only while the key set that verified it is the current one: a key rotation
//! (a key retired from the JWKS) makes every token verify again. Times, audience, scope and the
//! DPoP binding are checked on every request, from the cached claims.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use serde_json::{Map, Value};

use crate::keys::rotation::KeySet;

/// At most this many tokens are remembered; when full, all are forgotten.
const CAPACITY: usize = 4096;

/// What a token's verified signature gave: its header `typ` and claims.
pub type Verified = (Option<String>, Arc<Map<String, Value>>);

/// A remembered token: the key set it verified under, and what it gave.
type Entry = (Arc<KeySet>, Verified);

/// The cache (see the module).
#[derive(Debug, Default)]
pub struct VerifiedTokens {
    entries: RwLock<HashMap<String, Entry>>,
}

impl VerifiedTokens {
    /// What `token` verified to under `keys`, when it did so before.
    pub fn get(&self, token: &str, keys: &Arc<KeySet>) -> Option<Verified> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(token)
            .filter(|(verified_by, _)| Arc::ptr_eq(verified_by, keys))
            .map(|(_, verified)| verified.clone())
    }

    /// Remembers that `token` verified under `keys`.
    pub fn insert(&self, token: &str, keys: &Arc<KeySet>, verified: Verified) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(token.to_owned(), (keys.clone(), verified));
    }
}
