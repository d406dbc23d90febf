//! PTS's state: the patient-safety access restrictions, one per person (`offId`) and
//! confidential object, whoever set it: the main use crosses organisations (a GP restricts a
//! Rekvisisjon, the laboratory's Svarrapport inherits the delay). Each records which
//! organisation created it and which changed it last, for audit.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::input::SafetyObject;
use super::rules::{UpsertDecision, dotnet_time};

/// A confidential object's identity: `{type, value}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectId {
    /// Its type, e.g. `Rekvisisjon`, `Svarrapport`.
    pub kind: String,
    /// Its id.
    pub value: String,
}

impl ObjectId {
    /// As JSON.
    pub fn json(&self) -> Value {
        json!({"type": self.kind, "value": self.value})
    }
}

/// One restriction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Restriction {
    /// Its id.
    pub id: String,
    /// The organisation that created it (the token's `orgnr_parent`).
    #[serde(alias = "organisation")]
    pub created_by: String,
    /// The organisation that changed it last (the creator until someone else changes it).
    #[serde(default)]
    pub last_updated_by: String,
    /// The person.
    pub off_id: String,
    /// The confidential object.
    pub object: ObjectId,
    /// The parent object, for a sibling.
    pub parent: Option<ObjectId>,
    /// The confidentiality code (Volven 9603).
    pub code: String,
    /// The earliest disclosure (given, computed, or 9999 for `NORN_*`); `None` on a parent that
    /// only gives `delayDays`.
    pub delay_delivery_until: Option<DateTime<Utc>>,
    /// Days a sibling is delayed from its `delayFromTime` (a parent's).
    pub delay_days: Option<i64>,
    /// What a sibling's delay was computed from.
    pub delay_from_time: Option<DateTime<Utc>>,
    /// When it was first set.
    pub created: DateTime<Utc>,
    /// When it last changed.
    pub last_updated: DateTime<Utc>,
}

impl Restriction {
    /// A restriction (not yet stored: no id) set by `organisation` on a person's object at
    /// `now`, with code `N` and no delay until the caller says otherwise.
    pub fn new(organisation: &str, object: &SafetyObject, now: DateTime<Utc>) -> Self {
        Self {
            id: String::new(),
            created_by: organisation.to_owned(),
            last_updated_by: organisation.to_owned(),
            off_id: object.off_id.clone(),
            object: object.object.clone(),
            parent: object.parent.clone(),
            code: "N".to_owned(),
            delay_delivery_until: None,
            delay_days: None,
            delay_from_time: None,
            created: now,
            last_updated: now,
        }
    }

    /// Whether it is for this person and object.
    pub fn is_for(&self, off_id: &str, object: &ObjectId) -> bool {
        self.off_id == off_id && &self.object == object
    }

    /// The restriction as PTS answers it (`id` null for one that is not stored).
    pub fn view(&self) -> Value {
        json!({
            "id": (!self.id.is_empty()).then_some(&self.id),
            "patientSafetyObject": {
                "person": {"offId": self.off_id},
                "confidentialObjectId": self.object.json(),
                "parentConfidentialObjectId": self.parent.as_ref().map(ObjectId::json),
            },
            "confidentialityCode": self.code,
            "delayDeliveryUntil": self.delay_delivery_until.map(dotnet_time),
            "delayDays": self.delay_days,
            "delayFromTime": self.delay_from_time.map(dotnet_time),
            "organizationNumber": self.created_by,
            "lastUpdatedByOrganizationNumber": if self.last_updated_by.is_empty() {
                &self.created_by
            } else {
                &self.last_updated_by
            },
            "created": dotnet_time(self.created),
            "lastUpdated": dotnet_time(self.last_updated),
        })
    }
}

/// PTS's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PtsStore {
    /// Every restriction, oldest first.
    pub restrictions: Vec<Restriction>,
}

impl PtsStore {
    /// The restriction on a person's object.
    pub fn find(&self, off_id: &str, object: &ObjectId) -> Option<&Restriction> {
        self.restrictions.iter().find(|r| r.is_for(off_id, object))
    }

    /// Stores `restriction`, replacing the one on the same person's object (keeping its id,
    /// creation time and creator; `restriction`'s creator becomes the last updater) or added
    /// with a new id; returns what is stored.
    pub fn upsert(&mut self, mut restriction: Restriction) -> Restriction {
        if let Some(existing) = self
            .restrictions
            .iter_mut()
            .find(|r| r.is_for(&restriction.off_id, &restriction.object))
        {
            restriction.id = existing.id.clone();
            restriction.created = existing.created;
            restriction.last_updated_by = restriction.created_by.clone();
            restriction.created_by = existing.created_by.clone();
            *existing = restriction.clone();
        } else {
            restriction.id = uuid::Uuid::new_v4().to_string();
            self.restrictions.push(restriction.clone());
        }
        restriction
    }

    /// Applies an upsert's `decision` to `restriction` (the request's, not stored yet); returns
    /// what PTS answers. [`UpsertDecision::Remove`] removes the restriction on its object and
    /// answers `restriction` unstored, with the removed one's creation and no `delayFromTime`;
    /// [`UpsertDecision::Store`] stores it with the decided delay.
    pub fn apply_upsert(
        &mut self,
        mut restriction: Restriction,
        decision: UpsertDecision,
    ) -> Restriction {
        match decision {
            UpsertDecision::Remove => {
                if let Some(removed) = self.remove(&restriction.off_id, &restriction.object) {
                    restriction.created = removed.created;
                    restriction.created_by = removed.created_by;
                }
                restriction.delay_from_time = None;
                restriction
            }
            UpsertDecision::Store {
                delay_delivery_until,
            } => {
                restriction.delay_delivery_until = delay_delivery_until;
                self.upsert(restriction)
            }
        }
    }

    /// Removes the restriction on a person's object; returns it if there was one.
    pub fn remove(&mut self, off_id: &str, object: &ObjectId) -> Option<Restriction> {
        let index = self
            .restrictions
            .iter()
            .position(|r| r.is_for(off_id, object))?;
        Some(self.restrictions.remove(index))
    }
}
