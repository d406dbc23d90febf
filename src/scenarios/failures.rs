//! The failure steps: the national systems failing inside SFM's operations (Reseptformidleren
//! or kjernejournal not answering a `$getMedication` lookup, a message of `$sendMedication` not
//! sent), kjernejournal unavailable at its own APIs, and HelseID and SFM slow or refusing at the
//! HTTP level (fault rules).
//!
//! Only the codes `0` (OK) and `5` (no rights to the KJ lookup) of the `sfm-kj-rf-error-code`
//! system are published; the defaults here are helsesim's guesses (`9001`–`9003`), marked as
//! such in the answers' texts and README's "Where helsesim guesses".

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Effect, ScenarioError, Targets};
use crate::faults::FaultRequest;
use crate::national::outages::{FailureAnswer, FailurePoint, FailureSpec};

/// The default code of a Reseptformidleren lookup that failed (a guess).
pub const RF_UNAVAILABLE: (&str, &str) = ("9001", "Reseptformidleren svarer ikke");
/// The default code of a kjernejournal lookup that failed (a guess).
pub const KJ_UNAVAILABLE: (&str, &str) = ("9002", "Kjernejournal svarer ikke");
/// The default result code of a message not sent (a guess).
pub const NOT_SENT: (&str, &str) = ("9003", "Meldingen ble ikke sendt til Reseptformidleren");
/// The default `feilkode` of kjernejournal unavailable (a guess: KJS- codes are not published).
pub const KJS_UNAVAILABLE: &str = "KJS-900001";

/// How long and for whom a failure lasts (fields every domain failure step has).
fn spec(
    point: FailurePoint,
    answer: FailureAnswer,
    patient: Option<&String>,
    times: Option<u32>,
    for_seconds: Option<u64>,
) -> FailureSpec {
    FailureSpec {
        point,
        answer,
        patient: patient.cloned(),
        times,
        for_seconds,
    }
}

fn check_limits(times: Option<u32>, for_seconds: Option<u64>) -> Result<(), ScenarioError> {
    if times == Some(0) {
        return Err(ScenarioError::invalid("times must be at least 1"));
    }
    if for_seconds == Some(0) {
        return Err(ScenarioError::invalid("for_seconds must be at least 1"));
    }
    Ok(())
}

fn check_code(code: Option<&String>) -> Result<(), ScenarioError> {
    match code {
        Some(code) if code.trim().is_empty() || code == "0" => Err(ScenarioError::invalid(
            "code must name an error: not empty and not 0 (OK)",
        )),
        _ => Ok(()),
    }
}

fn answer(
    code: Option<&String>,
    display: Option<&String>,
    text: Option<&String>,
    default: (&str, &str),
    default_text: &str,
) -> FailureAnswer {
    let text = match (text, code) {
        (Some(text), _) => text.clone(),
        (None, Some(_)) => default_text.to_owned(),
        (None, None) => format!(
            "{default_text} (helsesim: code {} is a guess, no public source lists it)",
            default.0
        ),
    };
    FailureAnswer {
        code: code.cloned().unwrap_or_else(|| default.0.to_owned()),
        display: display.cloned().unwrap_or_else(|| default.1.to_owned()),
        text,
        status: None,
    }
}

fn started(targets: &Targets<'_>, specs: Vec<FailureSpec>) -> Effect {
    let failures: Vec<_> = specs
        .into_iter()
        .map(|s| targets.outages.add(s, targets.now))
        .collect();
    Effect {
        result: json!({ "failures": failures }),
        fault_ids: Vec::new(),
    }
}

/// Which of Reseptformidleren's lookups fail.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RfLookup {
    /// The prescription list (M9.5 → M9.6): `RFM96Feilkode`.
    Prescriptions,
    /// The PLL (M9.11 → M9.12): `RFM912Feilkode`.
    Pll,
    /// Both.
    #[default]
    Both,
}

/// `rf_unavailable`: Reseptformidleren answers an error to `$getMedication`'s lookup(s).
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RfUnavailable {
    /// Which lookup fails (both when absent).
    #[serde(default)]
    pub lookup: RfLookup,
    /// The `sfm-kj-rf-error-code` code (a guess, `9001`, when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The code's display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    /// The text after `TraceID: <hex>. Error: `.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Only for this patient (fødselsnummer or D-nummer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    /// For this many `$getMedication` calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// For this long (helsesim's clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_seconds: Option<u64>,
}

impl RfUnavailable {
    /// Checks the step.
    pub fn check(&self) -> Result<(), ScenarioError> {
        check_code(self.code.as_ref())?;
        check_limits(self.times, self.for_seconds)
    }

    /// Starts the failure(s).
    pub fn apply(&self, targets: &Targets<'_>) -> Result<Effect, ScenarioError> {
        let answer = answer(
            self.code.as_ref(),
            self.display.as_ref(),
            self.text.as_ref(),
            RF_UNAVAILABLE,
            "Reseptformidleren did not answer the lookup",
        );
        let points = match self.lookup {
            RfLookup::Prescriptions => vec![FailurePoint::RfPrescriptions],
            RfLookup::Pll => vec![FailurePoint::RfPll],
            RfLookup::Both => vec![FailurePoint::RfPrescriptions, FailurePoint::RfPll],
        };
        let specs = points
            .into_iter()
            .map(|p| {
                let patient = self.patient.as_ref();
                spec(p, answer.clone(), patient, self.times, self.for_seconds)
            })
            .collect();
        Ok(started(targets, specs))
    }
}

/// `kj_lookup_failure`: kjernejournal does not answer `$getMedication`'s lookup (`KJFeilkode`).
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KjLookupFailure {
    /// The `sfm-kj-rf-error-code` code (a guess, `9002`, when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The code's display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    /// The text after `TraceID: <hex>. Error: `.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Only for this patient (fødselsnummer or D-nummer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    /// For this many `$getMedication` calls (that ask kjernejournal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// For this long (helsesim's clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_seconds: Option<u64>,
}

impl KjLookupFailure {
    /// Checks the step.
    pub fn check(&self) -> Result<(), ScenarioError> {
        check_code(self.code.as_ref())?;
        check_limits(self.times, self.for_seconds)
    }

    /// Starts the failure.
    pub fn apply(&self, targets: &Targets<'_>) -> Result<Effect, ScenarioError> {
        let answer = answer(
            self.code.as_ref(),
            self.display.as_ref(),
            self.text.as_ref(),
            KJ_UNAVAILABLE,
            "Kjernejournal did not answer the lookup",
        );
        let patient = self.patient.as_ref();
        let failure = spec(
            FailurePoint::KjLookup,
            answer,
            patient,
            self.times,
            self.for_seconds,
        );
        Ok(started(targets, vec![failure]))
    }
}

/// The message of `$sendMedication` that is not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SentMessage {
    /// New prescriptions (M1): `prescriptionOperationResult[].resultCode`.
    M1,
    /// Withdrawals (M5): `prescriptionOperationResult[].resultCode`.
    M5,
    /// The PLL (M25.1): `PllResult.resultCode`.
    Pll,
}

/// `send_failure`: Reseptformidleren does not take one kind of message of `$sendMedication`.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendFailure {
    /// Which message.
    pub message: SentMessage,
    /// The `sfm-kj-rf-error-code` result code (a guess, `9003`, when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The code's display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    /// Only for this patient (fødselsnummer or D-nummer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    /// For this many `$sendMedication` calls (that send such a message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// For this long (helsesim's clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_seconds: Option<u64>,
}

impl SendFailure {
    /// Checks the step.
    pub fn check(&self) -> Result<(), ScenarioError> {
        check_code(self.code.as_ref())?;
        check_limits(self.times, self.for_seconds)
    }

    /// Starts the failure.
    pub fn apply(&self, targets: &Targets<'_>) -> Result<Effect, ScenarioError> {
        let point = match self.message {
            SentMessage::M1 => FailurePoint::M1,
            SentMessage::M5 => FailurePoint::M5,
            SentMessage::Pll => FailurePoint::Pll,
        };
        let answer = answer(
            self.code.as_ref(),
            self.display.as_ref(),
            None,
            NOT_SENT,
            "The message was not sent",
        );
        let patient = self.patient.as_ref();
        let failure = spec(point, answer, patient, self.times, self.for_seconds);
        Ok(started(targets, vec![failure]))
    }
}

/// `kjernejournal_unavailable`: kjernejournal's own APIs answer an error.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KjernejournalUnavailable {
    /// 503 (when absent) or 500.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The `feilkode` (a guess, `KJS-900001`, when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feilkode: Option<String>,
    /// The `utviklermelding`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utviklermelding: Option<String>,
    /// The `brukermelding`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brukermelding: Option<String>,
    /// For this many calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// For this long (helsesim's clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_seconds: Option<u64>,
}

impl KjernejournalUnavailable {
    /// Checks the step.
    pub fn check(&self) -> Result<(), ScenarioError> {
        if let Some(status) = self.status
            && status != 500
            && status != 503
        {
            return Err(ScenarioError::invalid(format!(
                "status must be 503 (unavailable) or 500 (failing), got {status}"
            )));
        }
        check_limits(self.times, self.for_seconds)
    }

    /// Starts the failure.
    pub fn apply(&self, targets: &Targets<'_>) -> Result<Effect, ScenarioError> {
        let answer = FailureAnswer {
            code: self
                .feilkode
                .clone()
                .unwrap_or_else(|| KJS_UNAVAILABLE.to_owned()),
            display: self.brukermelding.clone().unwrap_or_else(|| {
                "Kjernejournal er ikke tilgjengelig nå. Prøv igjen senere.".to_owned()
            }),
            text: self.utviklermelding.clone().unwrap_or_else(|| {
                "Kjernejournal is unavailable (helsesim scenario; the KJS- code and the status \
                 are guesses: kjernejournal publishes neither for this case)"
                    .to_owned()
            }),
            status: Some(self.status.unwrap_or(503)),
        };
        let failure = spec(
            FailurePoint::KjApi,
            answer,
            None,
            self.times,
            self.for_seconds,
        );
        Ok(started(targets, vec![failure]))
    }
}

/// Adds an HTTP fault rule for a step.
pub(super) fn http_fault(
    targets: &Targets<'_>,
    rule: FaultRequest,
) -> Result<Effect, ScenarioError> {
    let stored = targets.faults.add(rule).map_err(ScenarioError::invalid)?;
    Ok(Effect {
        result: json!({ "fault": stored }),
        fault_ids: vec![stored.id],
    })
}

fn fault(path: &str, times: Option<u32>, for_seconds: Option<u64>) -> FaultRequest {
    FaultRequest {
        service: None,
        method: None,
        path: path.to_owned(),
        status: None,
        body: None,
        delay_ms: None,
        drop_connection: false,
        probability: None,
        times,
        for_seconds,
        headers: BTreeMap::new(),
    }
}

/// `sfm_unavailable`: every SFM call answers 503 with `Retry-After`.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SfmUnavailable {
    /// The `Retry-After` seconds (30 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u32>,
    /// For this many calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// For this long (helsesim's clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_seconds: Option<u64>,
}

impl SfmUnavailable {
    fn rule(&self) -> FaultRequest {
        let retry_after = self.retry_after.unwrap_or(30);
        let mut rule = fault("/sfm/**", self.times, self.for_seconds);
        rule.status = Some(503);
        rule.headers
            .insert("Retry-After".to_owned(), retry_after.to_string());
        rule.body = Some(json!({
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "transient", "diagnostics": format!(
                "SFM is unavailable (helsesim scenario): try again after {retry_after} seconds"
            )}]
        }));
        rule
    }

    /// Checks the step.
    pub fn check(&self) -> Result<(), ScenarioError> {
        self.rule()
            .validate()
            .map(drop)
            .map_err(ScenarioError::invalid)
    }

    /// Adds the fault rule.
    pub fn apply(&self, targets: &Targets<'_>) -> Result<Effect, ScenarioError> {
        http_fault(targets, self.rule())
    }
}

/// `helseid_slow`: HelseID answers after a delay.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HelseidSlow {
    /// The delay.
    #[schema(maximum = 600000)]
    pub delay_ms: u64,
    /// The paths (a glob; every HelseID endpoint, `/helseid/**`, when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// For this many calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// For this long (helsesim's clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_seconds: Option<u64>,
}

impl HelseidSlow {
    fn rule(&self) -> FaultRequest {
        let path = self.path.as_deref().unwrap_or("/helseid/**");
        let mut rule = fault(path, self.times, self.for_seconds);
        rule.service = Some("helseid".to_owned());
        rule.delay_ms = Some(self.delay_ms);
        rule
    }

    /// Checks the step.
    pub fn check(&self) -> Result<(), ScenarioError> {
        self.rule()
            .validate()
            .map(drop)
            .map_err(ScenarioError::invalid)
    }

    /// Adds the fault rule.
    pub fn apply(&self, targets: &Targets<'_>) -> Result<Effect, ScenarioError> {
        http_fault(targets, self.rule())
    }
}

/// `helseid_refusing`: HelseID's token endpoint answers an OAuth error.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HelseidRefusing {
    /// `temporarily_unavailable` (when absent, with 503) or `server_error` (with 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The status (503 for `temporarily_unavailable`, 500 for `server_error` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The `error_description`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    /// For this many token requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// For this long (helsesim's clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_seconds: Option<u64>,
}

impl HelseidRefusing {
    fn rule(&self) -> Result<FaultRequest, ScenarioError> {
        let error = self.error.as_deref().unwrap_or("temporarily_unavailable");
        let default_status = match error {
            "temporarily_unavailable" => 503,
            "server_error" => 500,
            other => {
                return Err(ScenarioError::invalid(format!(
                    "error must be temporarily_unavailable or server_error, got '{other}'"
                )));
            }
        };
        let status = match self.status {
            None => default_status,
            Some(status) if (500..=599).contains(&status) => status,
            Some(status) => {
                return Err(ScenarioError::invalid(format!(
                    "status must be a 5xx status, got {status}"
                )));
            }
        };
        let description = self.error_description.clone().unwrap_or_else(|| {
            "HelseID cannot issue tokens now (helsesim scenario): try again later".to_owned()
        });
        let mut rule = fault("/helseid/connect/token", self.times, self.for_seconds);
        rule.service = Some("helseid".to_owned());
        rule.method = Some("POST".to_owned());
        rule.status = Some(status);
        rule.headers
            .insert("Cache-Control".to_owned(), "no-store".to_owned());
        rule.body = Some(json!({"error": error, "error_description": description}));
        Ok(rule)
    }

    /// Checks the step.
    pub fn check(&self) -> Result<(), ScenarioError> {
        self.rule()?
            .validate()
            .map(drop)
            .map_err(ScenarioError::invalid)
    }

    /// Adds the fault rule.
    pub fn apply(&self, targets: &Targets<'_>) -> Result<Effect, ScenarioError> {
        http_fault(targets, self.rule()?)
    }
}

/// Ends every domain failure (`DELETE /_admin/scenarios`, reset); the fault rules are removed
/// by their ids.
pub fn clear(targets: &Targets<'_>) {
    targets.outages.clear();
}
