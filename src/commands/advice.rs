//! `helsesim advice --url URL [--admin-token T] [--fail-on warning|info|never]`: the
//! integration advisor's findings of a running helsesim (`GET /_admin/advice`), printed for a
//! person; fails (exit 1) when there are findings at or above the level, for CI.

use serde_json::Value;

use super::token::ServerAccess;
use super::{CommandError, http_client, send_admin, server_url, with_admin_token};
use crate::config::SettingsArgs;

/// The options of `helsesim advice`.
#[derive(Debug, clap::Args)]
pub struct AdviceOptions {
    /// The server's base URL [default: http://localhost:<HELSESIM_PORT>].
    #[arg(long)]
    pub url: Option<String>,
    /// Exit 1 when there is a finding at or above this level (never: always exit 0).
    #[arg(long, value_enum, default_value = "warning")]
    pub fail_on: FailOn,
    /// The CA and the control plane's token.
    #[command(flatten)]
    pub access: ServerAccess,
}

/// The level `--fail-on` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// A warning fails.
    Warning,
    /// A warning or an info fails.
    Info,
    /// Nothing fails.
    Never,
}

impl FailOn {
    fn fails(self, severity: &str) -> bool {
        match self {
            FailOn::Warning => severity == "warning",
            FailOn::Info => true,
            FailOn::Never => false,
        }
    }
}

/// Runs `helsesim advice`: the report on success; the report as the error (exit 1) when a
/// finding is at or above `--fail-on`.
pub async fn run(settings: &SettingsArgs, options: &AdviceOptions) -> Result<String, CommandError> {
    let base = server_url(options.url.as_deref(), settings);
    let url = format!("{}/_admin/advice", base.trim_end_matches('/'));
    let request = with_admin_token(
        http_client(&settings.certs)?.get(&url),
        settings.admin_token.as_deref(),
    );
    let response = send_admin(request, &url).await?;
    let status = response.status();
    if !status.is_success() {
        let hint = if matches!(status.as_u16(), 401 | 403) {
            ": pass --admin-token (or set HELSESIM_ADMIN_TOKEN)"
        } else {
            ""
        };
        return Err(CommandError::new(format!("{url} answered {status}{hint}")));
    }
    let body: Value = response
        .json()
        .await
        .map_err(|e| CommandError::new(format!("{url}: {e}")))?;
    let findings = body
        .get("findings")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let report = report(&findings);
    let failing = findings
        .iter()
        .filter(|f| {
            options
                .fail_on
                .fails(f["severity"].as_str().unwrap_or_default())
        })
        .count();
    if failing > 0 {
        Err(CommandError::new(report))
    } else {
        Ok(report)
    }
}

/// The findings, readably: one block per finding.
pub fn report(findings: &[Value]) -> String {
    if findings.is_empty() {
        return "no findings: nothing the services' documentation forbids or discourages"
            .to_owned();
    }
    let text = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    let mut lines = vec![format!("{} finding(s):", findings.len())];
    for f in findings {
        lines.push(String::new());
        lines.push(format!(
            "{} [{}] {} (seen {} times, {} .. {})",
            text(&f["severity"]).to_uppercase(),
            text(&f["rule"]),
            text(&f["title"]),
            f["count"],
            text(&f["first_seen"]),
            text(&f["last_seen"])
        ));
        lines.push(format!(
            "  client: {}  organisation: {}",
            text(&f["client_id"]),
            text(&f["organisation"])
        ));
        for e in f["evidence"].as_array().into_iter().flatten() {
            lines.push(format!(
                "  request {} at {}: {} {}: {}",
                e["request"],
                text(&e["time"]),
                text(&e["method"]),
                text(&e["path"]),
                text(&e["detail"])
            ));
        }
        lines.push(format!("  fix: {}", text(&f["fix"])));
        lines.push(format!(
            "  source: {} <{}>",
            text(&f["source"]["title"]),
            text(&f["source"]["url"])
        ));
    }
    lines.join("\n")
}
