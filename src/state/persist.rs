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

/// The whole state as a state document.
pub fn export(state: &AppState) -> Result<Value, serde_json::Error> {
    let mut document = serde_json::Map::new();
    document.insert("format".to_owned(), json!(FORMAT));
    document.insert("version".to_owned(), json!(VERSION));
    document.insert("exported_at".to_owned(), json!(state.clock.now()));
    document.insert(
        "clock".to_owned(),
        json!({"offset_ms": state.clock.offset().num_milliseconds()}),
    );
    let mut parts = state.export_parts()?;
    if let Some(Value::Object(kj)) = parts.get_mut("kjernejournal") {
        kj.insert(
            "ticket_key".to_owned(),
            json!(snapshot::encode_ticket_key(
                &state.kjernejournal.tickets.key_bytes()
            )),
        );
    }
    document.append(&mut parts);
    let findings = state.advice.findings(&state.journal, state.clock.now());
    document.insert("advice".to_owned(), json!({ "findings": findings }));
    Ok(Value::Object(document))
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
        let mut document = export(state).map_err(std::io::Error::other)?;
        let exported_at = document
            .as_object_mut()
            .and_then(|d| d.shift_remove("exported_at"));
        let content = serde_json::to_string(&document).map_err(std::io::Error::other)?;
        if last.as_deref() == Some(content.as_str()) {
            return Ok(false);
        }
        let document = match (document, exported_at) {
            (Value::Object(object), Some(at)) => {
                // Back in its place, after `version`.
                let mut stamped = serde_json::Map::new();
                for (key, value) in object {
                    let after_version = key == "version";
                    stamped.insert(key, value);
                    if after_version {
                        stamped.insert("exported_at".to_owned(), at.clone());
                    }
                }
                Value::Object(stamped)
            }
            (document, _) => document,
        };
        let mut text = serde_json::to_vec_pretty(&document).map_err(std::io::Error::other)?;
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
    let mut document = export(state).map_err(std::io::Error::other)?;
    if let Some(object) = document.as_object_mut() {
        object.shift_remove("exported_at");
    }
    serde_json::to_string(&document).map_err(std::io::Error::other)
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
