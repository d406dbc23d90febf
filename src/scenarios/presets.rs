//! Presets: named scenarios in `fixtures/scenarios/<name>.json`, each
//! `{"title", "description", "steps": [...]}`, validated at load like every fixture.

use serde::{Deserialize, Serialize};

use super::Step;

/// A preset file's content.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresetFile {
    /// A short title for the dashboard's button.
    pub title: String,
    /// The story it sets up, for the dashboard and `GET /_admin/scenarios`.
    #[serde(default)]
    pub description: String,
    /// The steps, applied in order.
    pub steps: Vec<Step>,
}

/// A preset: its file's content under the file's name.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Preset {
    /// The file name without `.json`: `POST /_admin/scenarios/{name}`.
    pub name: String,
    /// The file's content.
    #[serde(flatten)]
    pub file: PresetFile,
}

/// Reads and checks a preset file's text; the message says what is wrong (serde's path and
/// reason, or the step and its problem).
pub fn parse_preset(name: &str, text: &str) -> Result<Preset, String> {
    let deserializer = &mut serde_json::Deserializer::from_str(text);
    let file: PresetFile = serde_path_to_error::deserialize(deserializer)
        .map_err(|e| format!("at `{}`: {}", e.path(), e.inner()))?;
    if file.steps.is_empty() {
        return Err("a preset needs at least one step".to_owned());
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(format!(
            "a preset's file name is its URL name: lowercase letters, digits and '-', got '{name}'"
        ));
    }
    for (index, step) in file.steps.iter().enumerate() {
        step.check_alone()
            .map_err(|e| format!("step {}: {}", index + 1, e.message))?;
    }
    Ok(Preset {
        name: name.to_owned(),
        file,
    })
}
