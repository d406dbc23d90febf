//! The state document of a running helsesim (see [`crate::state::snapshot`]): exported,
//! imported, and kept in `HELSESIM_STATE_FILE` so the state survives restarts.
//!
//! The file is written atomically (a temporary file in the same directory, flushed to disk,
//! then renamed over the old one), every few seconds when the state changed and once more on a
//! graceful stop. A file that cannot be read as a state document stops start-up and is never
//! overwritten.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};

use crate::state::AppState;
use crate::state::snapshot::{self, FORMAT, StateError, VERSION};

/// A state document as the JSON text of its members, in order (written without a JSON tree
/// of the whole state).
#[derive(Debug)]
pub struct Document {
    members: Vec<(String, String)>,
    pretty: bool,
}

impl Document {
    /// The document's JSON text.
    pub fn text(&self) -> String {
        self.text_without(None)
    }

    /// The JSON text without one member.
    fn text_without(&self, left_out: Option<&str>) -> String {
        let size: usize = self
            .members
            .iter()
            .map(|(k, v)| k.len() + v.len() + 8)
            .sum();
        let mut out = String::with_capacity(size + 2);
        out.push('{');
        let members = self
            .members
            .iter()
            .filter(|(key, _)| Some(key.as_str()) != left_out);
        let mut written = 0;
        for (key, value) in members {
            if written > 0 {
                out.push(',');
            }
            if self.pretty {
                // serde_json's pretty form: two spaces a level (no raw newline inside a string).
                out.push_str("\n  ");
            }
            out.push_str(&serde_json::Value::from(key.as_str()).to_string());
            out.push(':');
            if self.pretty {
                out.push(' ');
                out.push_str(&value.replace('\n', "\n  "));
            } else {
                out.push_str(value);
            }
            written += 1;
        }
        if self.pretty && written > 0 {
            out.push('\n');
        }
        out.push('}');
        out
    }
}

/// The whole state as a state document, compact or pretty.
pub fn export(state: &AppState, pretty: bool) -> Result<Document, serde_json::Error> {
    let text = |value: Value| {
        if pretty {
            serde_json::to_string_pretty(&value)
        } else {
            serde_json::to_string(&value)
        }
    };
    let mut members = vec![
        ("format".to_owned(), text(json!(FORMAT))?),
        ("version".to_owned(), text(json!(VERSION))?),
        ("exported_at".to_owned(), text(json!(state.clock.now()))?),
        (
            "clock".to_owned(),
            text(json!({"offset_ms": state.clock.offset().num_milliseconds()}))?,
        ),
    ];
    members.extend(state.export_parts(pretty)?);
    let findings = state.advice.findings(&state.journal, state.clock.now());
    members.push(("advice".to_owned(), text(json!({ "findings": findings }))?));
    Ok(Document { members, pretty })
}

/// Replaces the whole state with a state document's, after validating all of it; on error
/// nothing changes.
pub fn import(state: &AppState, json: &[u8]) -> Result<(), StateError> {
    let resources = state.helseid.store().resources.clone();
    let validated = snapshot::parse(json, &resources)?;
    if let Some(offset) = validated.clock_offset {
        state.clock.check_offset(offset).map_err(|e| StateError {
            field: "clock.offset_ms".to_owned(),
            message: e.to_string(),
        })?;
    }
    if let Some(key) = validated.ticket_key {
        state
            .kjernejournal
            .tickets
            .replace_key(key)
            .map_err(|_| StateError {
                field: "kjernejournal.ticket_key".to_owned(),
                message: "not usable as an AES-256 key".to_owned(),
            })?;
    }
    state.replace(validated.parts);
    state.advice.import(validated.advice, &state.journal);
    if let Some(offset) = validated.clock_offset {
        // Checked above; the clock cannot have moved far enough since to matter.
        let _ = state.clock.set_offset(offset);
    }
    Ok(())
}

/// Why the state file could not be used at start-up.
#[derive(Debug, thiserror::Error)]
pub enum StateFileError {
    /// It cannot be read.
    #[error("cannot read the state file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It is not a valid state document.
    #[error(
        "the state file {path} is not a valid state document ({error}); it was left as it is: fix \
         it, move it away or delete it to start from the fixtures"
    )]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        error: StateError,
    },
    /// It cannot be written.
    #[error("cannot write the state file {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// `HELSESIM_STATE_FILE`: where the state is kept, and what was written last.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    interval: Duration,
    /// The last document written, without `exported_at` (to tell whether the state changed).
    last_written: Mutex<Option<String>>,
}

impl StateFile {
    /// The state file at `path`, saved every `interval` when changed.
    pub fn new(path: PathBuf, interval: Duration) -> Self {
        Self {
            path,
            interval,
            last_written: Mutex::new(None),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How often the state is saved when it changed.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// At start-up: loads the file into `state` when it exists (`true`; it is written again
    /// when the state changes), else writes the current state to it (`false`), which also
    /// proves it can be written.
    pub fn load_or_create(&self, state: &AppState) -> Result<bool, StateFileError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => {
                import(state, &bytes).map_err(|error| StateFileError::Invalid {
                    path: self.path.clone(),
                    error,
                })?;
                log::info!(
                    "state file loaded: {} ({} bytes)",
                    self.path.display(),
                    bytes.len()
                );
                // Not written again until the state changes (a hand-edited file keeps its form).
                let content = unstamped_text(state).map_err(|e| StateFileError::Read {
                    path: self.path.clone(),
                    source: e,
                })?;
                *self
                    .last_written
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(content);
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.save(state).map_err(|source| StateFileError::Write {
                    path: self.path.clone(),
                    source,
                })?;
                Ok(false)
            }
            Err(source) => Err(StateFileError::Read {
                path: self.path.clone(),
                source,
            }),
        }
    }

    /// Writes the state when it differs from what was written last; `true` when written.
    pub fn save(&self, state: &AppState) -> std::io::Result<bool> {
        // One save at a time: the periodic one and the one at shutdown may meet.
        let mut last = self
            .last_written
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let document = export(state, true).map_err(std::io::Error::other)?;
        let content = document.text_without(Some("exported_at"));
        if last.as_deref() == Some(content.as_str()) {
            return Ok(false);
        }
        let mut text = document.text().into_bytes();
        text.push(b'\n');
        write_atomically(&self.path, &text)?;
        log::info!(
            "state file written: {} ({} bytes)",
            self.path.display(),
            text.len()
        );
        *last = Some(content);
        Ok(true)
    }
}

/// The state document without `exported_at`, as text: what tells whether the state changed.
fn unstamped_text(state: &AppState) -> std::io::Result<String> {
    let document = export(state, true).map_err(std::io::Error::other)?;
    Ok(document.text_without(Some("exported_at")))
}

/// Writes `bytes` to `path` so that a reader (or a crash) sees the old file or the new one,
/// never a part: a temporary file beside it, synced, renamed over it.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state.json".to_owned());
    let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written?;
    // The rename itself is durable once the directory is synced (best effort: not every
    // platform can open a directory).
    if let Ok(dir) = std::fs::File::open(&dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_written_as_serde_json_would() {
        let a = json!({"x": [1, {"y": "two\nlines"}], "z": {}});
        for pretty in [true, false] {
            let text = |value: &Value| {
                if pretty {
                    serde_json::to_string_pretty(value).unwrap()
                } else {
                    serde_json::to_string(value).unwrap()
                }
            };
            let document = Document {
                members: vec![
                    ("a".to_owned(), text(&a)),
                    ("b\"".to_owned(), text(&json!(1))),
                ],
                pretty,
            };
            assert_eq!(document.text(), text(&json!({"a": a, "b\"": 1})));
            assert_eq!(document.text_without(Some("b\"")), text(&json!({"a": a})));
            assert_eq!(document.text_without(Some("x")), document.text());
        }
    }
}
