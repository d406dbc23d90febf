//! Kjernejournal's own state: the organisations it knows and which of them may use it.
//! (What it holds per patient lives with the other national systems, in [`crate::national`].)

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::errors::FieldError;
use crate::ids::OrgNr;

/// One record of `fixtures/kjernejournal/organisations.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganisationEntry {
    /// The organisation number (nine digits).
    pub orgnr: String,
    /// Its name.
    pub name: String,
    /// Whether it has been granted access to kjernejournal.
    pub access: bool,
    /// What the record is for (not served).
    #[serde(default)]
    pub description: Option<String>,
}

/// An organisation kjernejournal knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organisation {
    /// Its name.
    pub name: String,
    /// Whether it has been granted access.
    pub access: bool,
}

/// Kjernejournal's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KjStore {
    /// Known organisations by organisation number.
    pub organisations: BTreeMap<String, Organisation>,
}

/// Validates one organisation record.
pub fn build_organisation(entry: OrganisationEntry) -> Result<(String, Organisation), FieldError> {
    let orgnr = OrgNr::parse(&entry.orgnr).map_err(|e| FieldError::new("orgnr", e.to_string()))?;
    if entry.name.trim().is_empty() {
        return Err(FieldError::new("name", "the name must not be empty"));
    }
    Ok((
        orgnr.as_str().to_owned(),
        Organisation {
            name: entry.name,
            access: entry.access,
        },
    ))
}
