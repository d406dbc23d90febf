//! `helsesim fixtures generate`: a fixtures folder with N synthetic national patients.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::CommandError;
use crate::fixtures::generate::generate;
use crate::fixtures::{SFM_NATIONAL, SFM_TENANTS};

/// The options of `helsesim fixtures generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateOptions {
    /// How many synthetic patients to add.
    #[arg(long)]
    pub patients: usize,
    /// The folder to write (created; its fixture files are replaced).
    #[arg(long)]
    pub out: PathBuf,
    /// The seed: the same seed gives the same patients.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The fixtures to start from [default: HELSESIM_FIXTURES or ./fixtures].
    #[arg(long)]
    pub from: Option<PathBuf>,
}

/// Copies the fixtures at `from` to `options.out` and adds the synthetic patients: their
/// records to `sfm/national.json`, their Patient resources to the first tenant of
/// `sfm/tenants.json`. Returns a summary naming a patient per helseindikator status.
pub fn run(options: &GenerateOptions, from: &Path) -> Result<String, CommandError> {
    let out = &options.out;
    if out.exists() && std::fs::canonicalize(out).ok() == std::fs::canonicalize(from).ok() {
        return Err(CommandError::new(
            "--out is the folder the fixtures are read from: choose another",
        ));
    }
    copy_dir(from, out)?;
    let mut national = read_array(&from.join(SFM_NATIONAL), true)?;
    let mut tenants = read_array(&from.join(SFM_TENANTS), false)?;
    let taken: HashSet<String> = national
        .iter()
        .filter_map(|r| r["patient"].as_str().map(str::to_owned))
        .collect();
    let generated = generate(options.patients, options.seed, &taken);
    let Some(resources) = tenants
        .first_mut()
        .and_then(|t| t.get_mut("resources"))
        .and_then(Value::as_array_mut)
    else {
        return Err(CommandError::new(format!(
            "{}: no tenant with resources to add the patients to",
            from.join(SFM_TENANTS).display()
        )));
    };
    resources.extend(generated.patients);
    let tenant = tenants[0]["sfm_id"].as_str().unwrap_or_default().to_owned();
    national.extend(generated.national);
    write_array(&out.join(SFM_NATIONAL), &national)?;
    write_array(&out.join(SFM_TENANTS), &tenants)?;
    let mut report = format!(
        "wrote {}: {} synthetic patients (seed {}) in sfm/national.json and as Patient \
         resources of tenant {tenant}",
        out.display(),
        options.patients,
        options.seed
    );
    for (status, key) in generated.examples.iter().enumerate() {
        if let Some(key) = key {
            let _ = write!(report, "\n  helseindikator status {status}: {key}");
        }
    }
    Ok(report)
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), CommandError> {
    let fail =
        |path: &Path, e: std::io::Error| CommandError::new(format!("{}: {e}", path.display()));
    std::fs::create_dir_all(to).map_err(|e| fail(to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| fail(from, e))? {
        let entry = entry.map_err(|e| fail(from, e))?;
        let target = to.join(entry.file_name());
        if entry
            .file_type()
            .map_err(|e| fail(&entry.path(), e))?
            .is_dir()
        {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target).map_err(|e| fail(&entry.path(), e))?;
        }
    }
    Ok(())
}

/// A fixture file's records (`optional`: an absent file has none).
fn read_array(file: &Path, optional: bool) -> Result<Vec<Value>, CommandError> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if optional && e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(CommandError::new(format!("{}: {e}", file.display()))),
    };
    match serde_json::from_str(&text) {
        Ok(Value::Array(items)) => Ok(items),
        Ok(_) => Err(CommandError::new(format!(
            "{}: the file must hold a JSON array of records",
            file.display()
        ))),
        Err(e) => Err(CommandError::new(format!(
            "{}: not valid JSON: {e}",
            file.display()
        ))),
    }
}

/// Writes records one per line: diffable, and quick to write and read at 100,000 records.
fn write_array(file: &Path, records: &[Value]) -> Result<(), CommandError> {
    let mut text = String::from("[\n");
    for (i, record) in records.iter().enumerate() {
        if i > 0 {
            text.push_str(",\n");
        }
        text.push_str(&record.to_string());
    }
    text.push_str("\n]\n");
    std::fs::write(file, text).map_err(|e| CommandError::new(format!("{}: {e}", file.display())))
}
