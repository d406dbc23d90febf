//! Helseindikator's answer for a patient, computed from what the national systems hold: the
//! status (0–4) with its tooltip text, the critical-information dates, the restricted modules
//! and the flags an EHR shows beside the kjernejournal icon.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;

use crate::ids::NationalId;
use crate::national::{KjModule, NationalPatient, statement};

/// The category kjernejournal files allergies and other hypersensitivity reactions under.
pub const CATEGORY_REACTIONS: &str = "OVER_REAK";

/// The statuses helseindikator reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// 0: not a valid national identity number.
    InvalidFnr = 0,
    /// 1: the patient has no kjernejournal.
    NoKjernejournal = 1,
    /// 2: the patient has a kjernejournal.
    Kjernejournal = 2,
    /// 3: the patient has registered their own health information.
    OwnHealthInformation = 3,
    /// 4: critical information is registered.
    CriticalInformation = 4,
}

impl Status {
    /// The tooltip text for the status (`returTekst`).
    pub fn text(self) -> &'static str {
        match self {
            Status::InvalidFnr => "Ugyldig fødselsnummer",
            Status::NoKjernejournal => "Pasienten har ikke kjernejournal",
            Status::Kjernejournal => "Pasienten har kjernejournal",
            Status::OwnHealthInformation => {
                "Pasienten har registrert egne helseopplysninger i kjernejournal"
            }
            Status::CriticalInformation => "OBS: Kritisk informasjon i kjernejournal",
        }
    }

    /// Whether a ticket comes with it (status 2 and higher).
    pub fn gives_ticket(self) -> bool {
        self as u8 >= 2
    }
}

/// When a category of critical information last changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CategoryChange {
    /// The category.
    pub kategori: &'static str,
    /// When it last changed.
    #[serde(rename = "sistEndret")]
    pub sist_endret: String,
}

/// Whether the patient restricted a module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Restriction {
    /// Restricted.
    #[serde(rename = "erSperret")]
    pub er_sperret: bool,
    /// The module.
    pub modul: &'static str,
}

/// Helseindikator's answer, without the ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indicator {
    /// The status.
    pub status: Status,
    /// Per category, when critical information last changed.
    pub changes: Vec<CategoryChange>,
    /// The latest change to critical information (status 4 only).
    pub last_change: Option<String>,
    /// The modules and whether each is restricted.
    pub restrictions: Vec<Restriction>,
    /// The patient has blocked a health professional.
    pub blocked_professional: bool,
    /// The patient has locked prescriptions.
    pub locked_prescriptions: bool,
    /// The patient has prescriptions (since `legemiddelFraDato`) or multidose.
    pub medications: bool,
}

fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The indicator for `fnr`, given what the national systems hold for it (`None`: nothing).
pub fn indicator(
    fnr: &str,
    patient: Option<&NationalPatient>,
    medications_from: Option<NaiveDate>,
) -> Indicator {
    let empty = |status| Indicator {
        status,
        changes: Vec::new(),
        last_change: None,
        restrictions: Vec::new(),
        blocked_professional: false,
        locked_prescriptions: false,
        medications: false,
    };
    if NationalId::parse(fnr).is_err() {
        return empty(Status::InvalidFnr);
    }
    let Some((patient, record)) = patient.and_then(|p| p.kjernejournal.as_ref().map(|r| (p, r)))
    else {
        return empty(Status::NoKjernejournal);
    };
    let reactions_changed = patient.allergies.iter().map(|a| a.recorded).max();
    let changes: Vec<CategoryChange> = reactions_changed
        .map(|at| CategoryChange {
            kategori: CATEGORY_REACTIONS,
            sist_endret: instant(at),
        })
        .into_iter()
        .collect();
    let status = if !changes.is_empty() {
        Status::CriticalInformation
    } else if record.own_health_information {
        Status::OwnHealthInformation
    } else {
        Status::Kjernejournal
    };
    let since = |issued: Option<NaiveDate>| match (medications_from, issued) {
        (Some(from), Some(issued)) => issued >= from,
        _ => true,
    };
    let medications = patient.multidose.is_some()
        || patient
            .prescriptions
            .iter()
            .any(|p| since(issue_date(&p.entry.statement)));
    Indicator {
        status,
        last_change: reactions_changed.map(instant),
        changes,
        restrictions: KjModule::ALL
            .into_iter()
            .map(|m| Restriction {
                er_sperret: record.blocked_modules.contains(&m),
                modul: m.as_str(),
            })
            .collect(),
        blocked_professional: !record.blocked_professionals.is_empty(),
        locked_prescriptions: patient.has_locked_prescriptions(),
        medications,
    }
}

/// When a prescription was issued (`reseptdate` in sfm-reseptamendment).
pub fn issue_date(statement_json: &serde_json::Value) -> Option<NaiveDate> {
    statement::amendment_part(statement_json, "reseptdate")
        .and_then(statement::extension_value)
        .and_then(serde_json::Value::as_str)
        .and_then(|d| NaiveDate::parse_from_str(d.get(..10)?, "%Y-%m-%d").ok())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;
    use crate::national::{Allergy, KjRecord};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap()
    }

    fn patient(record: Option<KjRecord>) -> NationalPatient {
        let mut p = NationalPatient::new("13116900216", now());
        p.kjernejournal = record;
        p
    }

    fn allergy(recorded: DateTime<Utc>) -> Allergy {
        Allergy {
            id: "a".to_owned(),
            substance: "Penicillin".to_owned(),
            atc: None,
            category: None,
            criticality: "high".to_owned(),
            reaction: None,
            recorded,
        }
    }

    #[test]
    fn the_status_follows_the_record() {
        let status = |fnr: &str, p: Option<&NationalPatient>| indicator(fnr, p, None).status;
        assert_eq!(status("13116900217", None), Status::InvalidFnr);
        assert_eq!(status("1311690021", None), Status::InvalidFnr);
        assert_eq!(status("13116900216", None), Status::NoKjernejournal);
        assert_eq!(
            status("13116900216", Some(&patient(None))),
            Status::NoKjernejournal
        );
        assert_eq!(
            status("13116900216", Some(&patient(Some(KjRecord::default())))),
            Status::Kjernejournal
        );
        let own = KjRecord {
            own_health_information: true,
            ..KjRecord::default()
        };
        assert_eq!(
            status("13116900216", Some(&patient(Some(own.clone())))),
            Status::OwnHealthInformation
        );
        let mut critical = patient(Some(own));
        critical.allergies = vec![
            allergy(now() - chrono::TimeDelta::days(30)),
            allergy(now() - chrono::TimeDelta::days(3)),
        ];
        let answer = indicator("13116900216", Some(&critical), None);
        assert_eq!(answer.status, Status::CriticalInformation);
        assert_eq!(
            answer.last_change.as_deref(),
            Some("2026-02-27T10:00:00.000Z")
        );
        assert_eq!(
            answer.changes,
            [CategoryChange {
                kategori: "OVER_REAK",
                sist_endret: "2026-02-27T10:00:00.000Z".to_owned()
            }]
        );
    }

    #[test]
    fn restrictions_and_flags() {
        let record = KjRecord {
            own_health_information: false,
            blocked_modules: vec![KjModule::Legemidler],
            blocked_professionals: vec!["431001110".to_owned()],
            ..KjRecord::default()
        };
        let answer = indicator("13116900216", Some(&patient(Some(record))), None);
        assert_eq!(
            answer.restrictions,
            [
                Restriction {
                    er_sperret: false,
                    modul: "KRITISKINFO"
                },
                Restriction {
                    er_sperret: true,
                    modul: "LEGEMIDLER"
                }
            ]
        );
        assert!(answer.blocked_professional);
        assert!(!answer.medications);
        assert!(!answer.locked_prescriptions);
        assert!(!Status::NoKjernejournal.gives_ticket());
        assert!(Status::Kjernejournal.gives_ticket());
    }
}
