//! Stable orders for the state document: hash maps written with their keys sorted, so two
//! exports of the same state are the same text.

use std::collections::{BTreeMap, HashMap};

use serde::{Serialize, Serializer};

/// Writes a hash map with its keys in order.
pub fn map<K: Ord + Serialize, V: Serialize, S: Serializer>(
    map: &HashMap<K, V>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    map.iter().collect::<BTreeMap<_, _>>().serialize(serializer)
}
