//! A tenant's FHIR resources by kind and id, with an index from identifier values to the
//! resources carrying them: finding a patient by fødselsnummer (PatientTicket, `$getMedication`,
//! `Patient?identifier=`) is a hash lookup, not a scan, at 100,000 patients as at 8.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::model::{ResourceKind, Versioned, identifiers};

type ByKind = BTreeMap<ResourceKind, BTreeMap<String, Versioned>>;

/// The resources, written and read as `{kind: {id: versions}}`; the index is rebuilt on read.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(from = "ByKind")]
pub struct Resources {
    by_kind: ByKind,
    /// Identifier value (any system) → the ids of the resources of a kind whose current version
    /// carries it.
    by_identifier: HashMap<(ResourceKind, String), Vec<String>>,
}

impl Serialize for Resources {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.by_kind.serialize(serializer)
    }
}

impl From<ByKind> for Resources {
    fn from(by_kind: ByKind) -> Self {
        let mut resources = Self {
            by_kind,
            by_identifier: HashMap::new(),
        };
        let entries: Vec<(ResourceKind, String, Vec<String>)> = resources
            .iter()
            .flat_map(|(kind, map)| {
                map.iter()
                    .map(move |(id, r)| (*kind, id.clone(), identifier_values(&r.current())))
            })
            .collect();
        for (kind, id, values) in entries {
            resources.index(kind, &id, values);
        }
        resources
    }
}

/// Every identifier value of a resource (any system), for the index.
pub fn identifier_values(resource: &Value) -> Vec<String> {
    identifiers(resource).map(|(_, v)| v.to_owned()).collect()
}

impl Resources {
    /// Every kind with its resources.
    pub fn iter(&self) -> impl Iterator<Item = (&ResourceKind, &BTreeMap<String, Versioned>)> {
        self.by_kind.iter()
    }

    /// The resources of one kind, by id.
    pub fn of_kind(&self, kind: ResourceKind) -> impl Iterator<Item = (&String, &Versioned)> {
        self.by_kind.get(&kind).into_iter().flatten()
    }

    /// One resource.
    pub fn get(&self, kind: ResourceKind, id: &str) -> Option<&Versioned> {
        self.by_kind.get(&kind).and_then(|m| m.get(id))
    }

    /// The ids of the resources of `kind` with an identifier of that value (any system), in id
    /// order.
    pub fn with_identifier_value(&self, kind: ResourceKind, value: &str) -> Vec<&String> {
        let mut ids: Vec<&String> = self
            .by_identifier
            .get(&(kind, value.to_owned()))
            .into_iter()
            .flatten()
            .collect();
        ids.sort();
        ids
    }

    /// Stores a resource as its first version (replacing one of the same id).
    pub fn insert(&mut self, kind: ResourceKind, id: &str, resource: &Value) {
        self.insert_stored(
            kind,
            id,
            Versioned::new(resource),
            identifier_values(resource),
        );
    }

    /// Stores a resource already written as text, with its identifier values (replacing one
    /// of the same id).
    pub fn insert_stored(
        &mut self,
        kind: ResourceKind,
        id: &str,
        versioned: Versioned,
        values: Vec<String>,
    ) {
        if let Some(old) = self
            .by_kind
            .entry(kind)
            .or_default()
            .insert(id.to_owned(), versioned)
        {
            self.unindex(kind, id, &old);
        }
        self.index(kind, id, values);
    }

    /// Adds a new current version to a stored resource; `None` when there is none of that id.
    pub fn push_version(&mut self, kind: ResourceKind, id: &str, resource: Value) -> Option<()> {
        let versions = self.by_kind.get_mut(&kind)?.get_mut(id)?;
        let old = identifier_values(&versions.current());
        let new = identifier_values(&resource);
        versions.push(&resource);
        for value in old {
            self.remove_from_index(kind, id, value);
        }
        self.index(kind, id, new);
        Some(())
    }

    fn index(&mut self, kind: ResourceKind, id: &str, values: Vec<String>) {
        for value in values {
            let ids = self.by_identifier.entry((kind, value)).or_default();
            if !ids.iter().any(|i| i == id) {
                ids.push(id.to_owned());
            }
        }
    }

    fn unindex(&mut self, kind: ResourceKind, id: &str, old: &Versioned) {
        for value in identifier_values(&old.current()) {
            self.remove_from_index(kind, id, value);
        }
    }

    fn remove_from_index(&mut self, kind: ResourceKind, id: &str, value: String) {
        let key = (kind, value);
        if let Some(ids) = self.by_identifier.get_mut(&key) {
            ids.retain(|i| i != id);
            if ids.is_empty() {
                self.by_identifier.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn patient(id: &str, fnr: &str) -> Value {
        json!({"resourceType": "Patient", "id": id,
            "identifier": [{"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": fnr}]})
    }

    #[test]
    fn the_index_follows_inserts_updates_and_a_round_trip() {
        let mut resources = Resources::default();
        resources.insert(ResourceKind::Patient, "b", &patient("b", "111"));
        resources.insert(ResourceKind::Patient, "a", &patient("a", "111"));
        resources.insert(ResourceKind::Patient, "c", &patient("c", "222"));
        let ids = |r: &Resources, v: &str| -> Vec<String> {
            r.with_identifier_value(ResourceKind::Patient, v)
                .into_iter()
                .cloned()
                .collect()
        };
        assert_eq!(ids(&resources, "111"), ["a", "b"]);
        assert!(ids(&resources, "111").len() == 2 && ids(&resources, "333").is_empty());
        let moved = patient("c", "333");
        resources.push_version(ResourceKind::Patient, "c", moved);
        assert!(ids(&resources, "222").is_empty());
        assert_eq!(ids(&resources, "333"), ["c"]);
        assert!(
            resources
                .with_identifier_value(ResourceKind::Practitioner, "333")
                .is_empty()
        );
        // Replacing a resource drops its old identifiers.
        resources.insert(ResourceKind::Patient, "a", &patient("a", "444"));
        assert_eq!(ids(&resources, "111"), ["b"]);
        let text = serde_json::to_string(&resources).unwrap();
        let read: Resources = serde_json::from_str(&text).unwrap();
        assert_eq!(ids(&read, "333"), ["c"]);
        assert_eq!(ids(&read, "444"), ["a"]);
        assert_eq!(serde_json::to_string(&read).unwrap(), text);
    }
}
