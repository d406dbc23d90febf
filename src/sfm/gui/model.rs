//! What SFM keeps of its GUI: the sessions the session service opens (one per user and
//! organisation), the one-time codes that log a portal in, and each logged-in portal with the
//! patient it shows.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::sfm::caller::Caller;

/// How long a session code may be redeemed (the documentation promises at least 15 s).
pub const CODE_LIFETIME: TimeDelta = TimeDelta::seconds(60);

/// How long a used or expired code is remembered, to tell "already used" and "expired" from
/// "unknown".
const REMEMBER_CODES: TimeDelta = TimeDelta::minutes(10);

/// The four portals `Session/create`'s `metadata` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Portal {
    /// The patient-treatment portal (`patientportal`).
    Patient,
    /// The health-personnel portal (`healthcareportal`): work without a patient.
    HealthPersonnel,
    /// The enterprise portal (`enterpriseportal`): the organisation's administration.
    Enterprise,
    /// The display portal (`displayportal`): the LIB as a widget.
    Display,
}

impl Portal {
    /// Every portal, in `metadata`'s order.
    pub const ALL: [Portal; 4] = [
        Portal::Patient,
        Portal::Enterprise,
        Portal::HealthPersonnel,
        Portal::Display,
    ];

    /// Its path segment under `/sfm/client/`.
    pub fn segment(self) -> &'static str {
        match self {
            Portal::Patient => "patient",
            Portal::HealthPersonnel => "health-personnel",
            Portal::Enterprise => "enterprise",
            Portal::Display => "display",
        }
    }

    /// Its key in `Session/create`'s `metadata`.
    pub fn metadata_key(self) -> &'static str {
        match self {
            Portal::Patient => "patientportal",
            Portal::HealthPersonnel => "healthcareportal",
            Portal::Enterprise => "enterpriseportal",
            Portal::Display => "displayportal",
        }
    }

    /// The portal a path segment names.
    pub fn parse(segment: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.segment() == segment)
    }

    /// Whether `setPatient` works in it (the patient and display portals only).
    pub fn takes_patients(self) -> bool {
        matches!(self, Portal::Patient | Portal::Display)
    }
}

/// A one-time code from `Session/create`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuiCode {
    /// The session it logs in to.
    pub session_id: String,
    /// SHA-512 of the EHR's raw nonce, as `Session/create` got it (base64).
    pub nonce_hash: String,
    /// Until when it may be redeemed.
    pub expires: DateTime<Utc>,
    /// When it was redeemed (or a redemption was tried): a code is single use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used: Option<DateTime<Utc>>,
}

/// An SFM GUI session: one per user and organisation (tenant), bound to the user's latest
/// access token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuiSession {
    /// The session id `Session/create` answered.
    pub id: String,
    /// The tenant (SFM-id or journal-id).
    pub tenant_id: String,
    /// The user.
    pub pid: String,
    /// The user's HPR number, from the bound token.
    pub hpr: Option<String>,
    /// `orgnr_parent` of the bound token.
    pub orgnr_parent: Option<String>,
    /// `orgnr_child` of the bound token.
    pub orgnr_child: Option<String>,
    /// The HelseID client of the bound token: the origins of its redirect URIs may embed the
    /// GUI.
    pub client_id: Option<String>,
    /// When the bound token expires: the GUI works until then (`Session/refresh` binds a new
    /// one).
    pub token_expires: Option<DateTime<Utc>>,
    /// When it was created.
    pub created: DateTime<Utc>,
    /// The portals logged in to it.
    #[serde(default)]
    pub clients: Vec<ClientLogin>,
}

impl GuiSession {
    /// The session as an SFM caller (for the medication rules).
    pub fn caller(&self) -> Caller {
        Caller {
            tenant_id: self.tenant_id.clone(),
            pid: self.pid.clone(),
            orgnr_parent: self.orgnr_parent.clone(),
            orgnr_child: self.orgnr_child.clone(),
            hpr: self.hpr.clone(),
            client_id: self.client_id.clone(),
            expires: self.token_expires,
        }
    }

    /// Binds the token `caller` presented.
    pub fn bind(&mut self, caller: &Caller) {
        self.hpr.clone_from(&caller.hpr);
        self.orgnr_parent.clone_from(&caller.orgnr_parent);
        self.orgnr_child.clone_from(&caller.orgnr_child);
        self.client_id.clone_from(&caller.client_id);
        self.token_expires = caller.expires;
    }
}

/// A portal (one browser frame) logged in with a code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientLogin {
    /// The credential the portal sends to its server API (`Authorization: Bearer`).
    pub token: String,
    /// The origin of the EHR page that embeds it.
    pub origin: String,
    /// Which portal.
    pub portal: Portal,
    /// When it logged in.
    pub logged_in: DateTime<Utc>,
    /// The patient it shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<OpenPatient>,
}

/// The patient a portal shows, from `setPatient`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenPatient {
    /// The patient ticket.
    pub ticket: String,
    /// The tenant's `Patient.id`.
    pub patient_id: String,
    /// The patient's key in the national systems.
    pub patient_key: String,
    /// `showAllergies`.
    pub show_allergies: bool,
    /// `onBehalfOf` (an HPR number), if given.
    pub on_behalf_of: Option<String>,
    /// The medication document of the portal's latest lookup (`$getMedication`'s Bundle),
    /// which its sends edit.
    pub document: Value,
}

/// SFM's GUI state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuiStore {
    /// Codes by value.
    #[serde(default)]
    pub codes: BTreeMap<String, GuiCode>,
    /// Sessions by id.
    #[serde(default)]
    pub sessions: BTreeMap<String, GuiSession>,
}

impl GuiStore {
    /// The session of `pid` in `tenant_id`.
    pub fn session_of(&mut self, tenant_id: &str, pid: &str) -> Option<&mut GuiSession> {
        self.sessions
            .values_mut()
            .find(|s| s.tenant_id == tenant_id && s.pid == pid)
    }

    /// Ends the session of `pid` in `tenant_id`: it, its codes and its portals' logins are gone.
    pub fn end(&mut self, tenant_id: &str, pid: &str) {
        let ended: Vec<String> = self
            .sessions
            .values()
            .filter(|s| s.tenant_id == tenant_id && s.pid == pid)
            .map(|s| s.id.clone())
            .collect();
        for id in &ended {
            self.sessions.remove(id);
        }
        self.codes.retain(|_, c| !ended.contains(&c.session_id));
    }

    /// Forgets codes used or expired longer than [`REMEMBER_CODES`] ago.
    pub fn sweep(&mut self, now: DateTime<Utc>) {
        let horizon = crate::clock::after(now, -REMEMBER_CODES);
        self.codes
            .retain(|_, c| c.used.unwrap_or(c.expires).min(c.expires) > horizon);
    }

    /// The session and login a portal's credential names.
    pub fn login_mut(&mut self, token: &str) -> Option<(&mut GuiSession, usize)> {
        self.sessions.values_mut().find_map(|s| {
            let index = s.clients.iter().position(|c| c.token == token)?;
            Some((s, index))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    fn session(id: &str, tenant: &str, pid: &str) -> GuiSession {
        GuiSession {
            id: id.to_owned(),
            tenant_id: tenant.to_owned(),
            pid: pid.to_owned(),
            hpr: None,
            orgnr_parent: None,
            orgnr_child: None,
            client_id: None,
            token_expires: None,
            created: at(0),
            clients: Vec::new(),
        }
    }

    #[test]
    fn ending_a_session_takes_its_codes_and_spares_the_others() {
        let mut store = GuiStore::default();
        store.sessions.insert("s1".into(), session("s1", "t", "u"));
        store.sessions.insert("s2".into(), session("s2", "t", "v"));
        for (code, session_id) in [("c1", "s1"), ("c2", "s2")] {
            let value = GuiCode {
                session_id: session_id.into(),
                nonce_hash: String::new(),
                expires: at(60),
                used: None,
            };
            store.codes.insert(code.to_owned(), value);
        }
        store.end("t", "u");
        assert!(store.session_of("t", "u").is_none());
        assert!(store.session_of("t", "v").is_some());
        assert_eq!(store.codes.keys().collect::<Vec<_>>(), ["c2"]);
    }

    #[test]
    fn codes_are_remembered_ten_minutes_after_use_or_expiry() {
        let mut store = GuiStore::default();
        let code = |expires, used| GuiCode {
            session_id: "s".into(),
            nonce_hash: String::new(),
            expires,
            used,
        };
        store.codes.insert("expired".into(), code(at(60), None));
        store.codes.insert("used".into(), code(at(60), Some(at(5))));
        store.sweep(at(5 + 600));
        assert_eq!(store.codes.keys().collect::<Vec<_>>(), ["expired"]);
        store.sweep(at(60 + 600));
        assert!(store.codes.is_empty());
    }

    #[test]
    fn portals_have_their_metadata_keys_and_paths() {
        for portal in Portal::ALL {
            assert_eq!(Portal::parse(portal.segment()), Some(portal));
        }
        assert_eq!(Portal::parse("nope"), None);
        assert!(Portal::Display.takes_patients() && !Portal::Enterprise.takes_patients());
    }
}
