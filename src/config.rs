//! Settings from CLI flags and `HELSESIM_*` environment variables, in one struct.
//!
//! A bad value stops start-up with a message naming both the flag and the variable.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Args;
use url::Url;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line.
    Json,
}

/// The serve settings as the CLI reads them (flags, then environment, then defaults).
#[derive(Debug, Clone, Args)]
pub struct SettingsArgs {
    /// Address to bind the listeners to (0.0.0.0 in containers).
    #[arg(long, env = "HELSESIM_BIND", default_value = "127.0.0.1",
          value_parser = parse_bind)]
    pub bind: IpAddr,

    /// HTTP port (0 = any free port; the bound port is printed).
    #[arg(long, env = "HELSESIM_PORT", default_value_t = 8080,
          value_parser = parse_port)]
    pub port: u16,

    /// HTTPS port (0 = no HTTPS listener).
    #[arg(long, env = "HELSESIM_TLS_PORT", default_value_t = 8443,
          value_parser = parse_tls_port)]
    pub tls_port: u16,

    /// External base URL used in the issuer, discovery and FHIR fullUrls
    /// [default: http://localhost:<bound HTTP port>].
    #[arg(long, env = "HELSESIM_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<Url>,

    /// Directory of the JSON fixtures.
    #[arg(long, env = "HELSESIM_FIXTURES", default_value = "fixtures")]
    pub fixtures: PathBuf,

    /// Directory of the CA, TLS certificate and token-signing keys (created when missing).
    #[arg(long, env = "HELSESIM_CERTS", default_value = "certs")]
    pub certs: PathBuf,

    /// Log filter (env_logger syntax: `info`, `debug`, `helsesim=debug,actix_web=warn`).
    #[arg(long, env = "HELSESIM_LOG", default_value = "info")]
    pub log: String,

    /// Whether `login_hint` naming a fixture user's pid logs that user in without the login
    /// page (for unattended tests): `on` or `off`.
    #[arg(long, env = "HELSESIM_AUTOLOGIN", default_value = "on",
          value_parser = parse_switch_autologin, action = clap::ArgAction::Set,
          value_name = "on|off")]
    pub autologin: bool,

    /// Kjernejournal's random extra field in every JSON answer, as the real service adds one so
    /// clients learn to ignore unknown fields: `on` or `off` (for tests that snapshot bodies).
    #[arg(long, env = "HELSESIM_KJ_EXTRA_FIELD", default_value = "on",
          value_parser = parse_switch_kj_extra_field, action = clap::ArgAction::Set,
          value_name = "on|off")]
    pub kj_extra_field: bool,

    /// The control plane (/_admin): `on` or `off`.
    #[arg(long, env = "HELSESIM_ADMIN", default_value = "on",
          value_parser = parse_switch_admin, action = clap::ArgAction::Set,
          value_name = "on|off")]
    pub admin: bool,

    /// A bearer token the control plane demands (none: open).
    #[arg(long, env = "HELSESIM_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// Origins allowed by CORS: `*` (any) or a comma-separated list.
    #[arg(long, env = "HELSESIM_CORS_ORIGINS", default_value = "*",
          value_parser = parse_cors_origins)]
    pub cors_origins: CorsOrigins,

    /// How many recent requests the request journal keeps (0 = none).
    #[arg(long, env = "HELSESIM_JOURNAL_SIZE", default_value_t = 500,
          value_parser = parse_journal_size)]
    pub journal_size: usize,

    /// A file the whole state is kept in across restarts: loaded at start when present
    /// (instead of the fixtures), written when changed and on a graceful stop.
    #[arg(long, env = "HELSESIM_STATE_FILE")]
    pub state_file: Option<PathBuf>,

    /// How often, in seconds, the state file is written when the state changed (1 to 3600).
    #[arg(long, env = "HELSESIM_STATE_INTERVAL", default_value_t = 5,
          value_parser = parse_state_interval)]
    pub state_interval: u64,

    /// How long, in seconds, a request body may take to arrive (1 to 3600); a slower one is
    /// answered 408 and its connection closed.
    #[arg(long, env = "HELSESIM_BODY_TIMEOUT", default_value_t = 30,
          value_parser = parse_body_timeout)]
    pub body_timeout: u64,

    /// Log line format: `text` or `json` (one JSON object per line).
    #[arg(
        long,
        env = "HELSESIM_LOG_FORMAT",
        default_value = "text",
        value_parser = parse_log_format
    )]
    pub log_format: LogFormat,
}

/// The serve settings from the environment and the defaults alone: what the subcommands other
/// than `serve` start from (each adds its own flags on top).
#[derive(Debug, clap::Parser)]
#[command(no_binary_name = true)]
struct EnvironmentOnly {
    #[command(flatten)]
    settings: SettingsArgs,
}

impl SettingsArgs {
    /// The settings the `HELSESIM_*` variables and the defaults give (a bad value is an error
    /// naming the variable and the flag).
    pub fn from_env() -> Result<Self, clap::Error> {
        use clap::Parser as _;
        EnvironmentOnly::try_parse_from(std::iter::empty::<String>()).map(|e| e.settings)
    }
}

impl SettingsArgs {
    /// The settings as `helsesim config` prints them: each under its variable's name, switches
    /// as `on`/`off`, the admin token only as whether it is set.
    pub fn describe(&self) -> serde_json::Value {
        let switch = |on: bool| if on { "on" } else { "off" };
        serde_json::json!({
            "HELSESIM_BIND": self.bind.to_string(),
            "HELSESIM_PORT": self.port,
            "HELSESIM_TLS_PORT": self.tls_port,
            "HELSESIM_PUBLIC_URL": self.public_url.as_ref().map(base_url_string),
            "HELSESIM_FIXTURES": self.fixtures.display().to_string(),
            "HELSESIM_CERTS": self.certs.display().to_string(),
            "HELSESIM_AUTOLOGIN": switch(self.autologin),
            "HELSESIM_KJ_EXTRA_FIELD": switch(self.kj_extra_field),
            "HELSESIM_ADMIN": switch(self.admin),
            "HELSESIM_ADMIN_TOKEN":
                self.admin_token.as_ref().filter(|t| !t.is_empty()).map(|_| "(set)"),
            "HELSESIM_CORS_ORIGINS": match &self.cors_origins {
                CorsOrigins::Any => "*".to_owned(),
                CorsOrigins::List(origins) => origins.join(","),
            },
            "HELSESIM_JOURNAL_SIZE": self.journal_size,
            "HELSESIM_STATE_FILE": self.state_file.as_ref().map(|p| p.display().to_string()),
            "HELSESIM_STATE_INTERVAL": self.state_interval,
            "HELSESIM_BODY_TIMEOUT": self.body_timeout,
            "HELSESIM_LOG": self.log,
            "HELSESIM_LOG_FORMAT": match self.log_format {
                LogFormat::Text => "text",
                LogFormat::Json => "json",
            },
        })
    }
}

/// Everything `Application::build` needs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to bind.
    pub bind: IpAddr,
    /// HTTP port; 0 picks a free one.
    pub port: u16,
    /// HTTPS port; `None` = no HTTPS, `Some(0)` picks a free one.
    pub tls_port: Option<u16>,
    /// External base URL, without a trailing slash; `None` = `http://localhost:<port>`.
    pub public_url: Option<Url>,
    /// Fixtures directory.
    pub fixtures_dir: PathBuf,
    /// Certs directory.
    pub certs_dir: PathBuf,
    /// HTTP worker threads; `None` = one per CPU.
    pub workers: Option<usize>,
    /// `login_hint` naming a fixture user logs them in without the login page.
    pub autologin: bool,
    /// Kjernejournal adds a random extra field to every JSON answer.
    pub kj_extra_field: bool,
    /// How many requests the request journal keeps.
    pub journal_size: usize,
    /// Whether the control plane answers.
    pub admin: bool,
    /// The bearer token the control plane demands.
    pub admin_token: Option<String>,
    /// The origins CORS allows.
    pub cors_origins: CorsOrigins,
    /// Where the state is kept across restarts.
    pub state_file: Option<PathBuf>,
    /// How often the state file is written when the state changed.
    pub state_interval: std::time::Duration,
    /// How long a request body may take to arrive.
    pub body_timeout: std::time::Duration,
}

/// The origins CORS allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    /// Any origin (local use).
    Any,
    /// These origins only (`https://epj.example:8443`).
    List(Vec<String>),
}

impl From<&SettingsArgs> for Settings {
    fn from(args: &SettingsArgs) -> Self {
        Self {
            bind: args.bind,
            port: args.port,
            tls_port: (args.tls_port != 0).then_some(args.tls_port),
            public_url: args.public_url.clone(),
            fixtures_dir: args.fixtures.clone(),
            certs_dir: args.certs.clone(),
            workers: None,
            autologin: args.autologin,
            kj_extra_field: args.kj_extra_field,
            journal_size: args.journal_size,
            admin: args.admin,
            admin_token: args.admin_token.clone().filter(|t| !t.is_empty()),
            cors_origins: args.cors_origins.clone(),
            state_file: args
                .state_file
                .clone()
                .filter(|p| !p.as_os_str().is_empty()),
            state_interval: std::time::Duration::from_secs(args.state_interval),
            body_timeout: std::time::Duration::from_secs(args.body_timeout),
        }
    }
}

fn parse_switch_autologin(value: &str) -> Result<bool, String> {
    parse_switch("HELSESIM_AUTOLOGIN / --autologin", value)
}

fn parse_switch_kj_extra_field(value: &str) -> Result<bool, String> {
    parse_switch("HELSESIM_KJ_EXTRA_FIELD / --kj-extra-field", value)
}

fn parse_switch_admin(value: &str) -> Result<bool, String> {
    parse_switch("HELSESIM_ADMIN / --admin", value)
}

fn parse_cors_origins(value: &str) -> Result<CorsOrigins, String> {
    if value.trim() == "*" {
        return Ok(CorsOrigins::Any);
    }
    let mut origins = Vec::new();
    for origin in value.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let url = Url::parse(origin).map_err(|_| {
            format!(
                "HELSESIM_CORS_ORIGINS / --cors-origins: '{origin}' is not an origin such as \
                 https://epj.example:8443"
            )
        })?;
        if url.path() != "/" || url.query().is_some() || url.host().is_none() {
            return Err(format!(
                "HELSESIM_CORS_ORIGINS / --cors-origins: '{origin}' is not an origin (scheme, host \
                 and port only)"
            ));
        }
        origins.push(url.origin().ascii_serialization());
    }
    if origins.is_empty() {
        return Err(
            "HELSESIM_CORS_ORIGINS / --cors-origins: give * or at least one origin".to_owned(),
        );
    }
    Ok(CorsOrigins::List(origins))
}

fn parse_journal_size(value: &str) -> Result<usize, String> {
    value
        .parse::<usize>()
        .ok()
        .filter(|n| *n <= 100_000)
        .ok_or_else(|| {
            format!(
                "HELSESIM_JOURNAL_SIZE / --journal-size must be a number from 0 to 100000, got \
                 '{value}'"
            )
        })
}

fn parse_body_timeout(value: &str) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(seconds @ 1..=3600) => Ok(seconds),
        _ => Err(format!(
            "HELSESIM_BODY_TIMEOUT / --body-timeout must be seconds from 1 to 3600, got '{value}'"
        )),
    }
}

fn parse_state_interval(value: &str) -> Result<u64, String> {
    value
        .parse::<u64>()
        .ok()
        .filter(|n| (1..=3600).contains(n))
        .ok_or_else(|| {
            format!(
                "HELSESIM_STATE_INTERVAL / --state-interval must be a number of seconds from 1 to \
                 3600, got '{value}'"
            )
        })
}

fn parse_switch(setting: &str, value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "on" | "true" | "1" | "yes" => Ok(true),
        "off" | "false" | "0" | "no" => Ok(false),
        _ => Err(format!("{setting} must be 'on' or 'off', got '{value}'")),
    }
}

fn parse_log_format(value: &str) -> Result<LogFormat, String> {
    match value.to_ascii_lowercase().as_str() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(format!(
            "HELSESIM_LOG_FORMAT / --log-format must be 'text' or 'json', got '{value}'"
        )),
    }
}

fn parse_bind(value: &str) -> Result<IpAddr, String> {
    value.parse().map_err(|_| {
        format!(
            "HELSESIM_BIND / --bind must be an IP address such as 127.0.0.1 or 0.0.0.0, got \
             '{value}'"
        )
    })
}

fn parse_port(value: &str) -> Result<u16, String> {
    value
        .parse()
        .map_err(|_| format!("HELSESIM_PORT / --port must be a port number 0-65535, got '{value}'"))
}

fn parse_tls_port(value: &str) -> Result<u16, String> {
    value.parse().map_err(|_| {
        format!(
            "HELSESIM_TLS_PORT / --tls-port must be a port number 0-65535 (0 = no HTTPS), got \
             '{value}'"
        )
    })
}

/// An absolute http(s) URL without query or fragment; a trailing slash is dropped.
pub fn parse_public_url(value: &str) -> Result<Url, String> {
    let bad = |why: &str| format!("HELSESIM_PUBLIC_URL / --public-url {why}, got '{value}'");
    let mut url = Url::parse(value).map_err(|e| bad(&format!("must be an absolute URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("must start with http:// or https://"));
    }
    if url.host_str().is_none() {
        return Err(bad("must name a host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not have a query or fragment"));
    }
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&path);
    Ok(url)
}

/// `base` with `segments` appended, each percent-encoded as one path segment (for `Location`s).
pub fn url_with_segments(base: &str, segments: &[&str]) -> String {
    match Url::parse(base) {
        Ok(mut url) => {
            if let Ok(mut path) = url.path_segments_mut() {
                path.pop_if_empty().extend(segments);
            }
            url.to_string()
        }
        Err(_) => format!("{base}/{}", segments.join("/")),
    }
}

/// The base URL as a string without trailing slash (what every service URL is built from).
pub fn base_url_string(url: &Url) -> String {
    url.as_str().trim_end_matches('/').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cors_origins() {
        assert_eq!(parse_cors_origins("*"), Ok(CorsOrigins::Any));
        assert_eq!(
            parse_cors_origins("https://epj.example:8443, http://localhost:3000"),
            Ok(CorsOrigins::List(vec![
                "https://epj.example:8443".to_owned(),
                "http://localhost:3000".to_owned()
            ]))
        );
        for bad in [
            "",
            "epj.example",
            "https://epj.example/app",
            "https://epj.example?x=1",
        ] {
            let err = parse_cors_origins(bad).unwrap_err();
            assert!(
                err.starts_with("HELSESIM_CORS_ORIGINS / --cors-origins"),
                "{bad}: {err}"
            );
        }
        assert_eq!(parse_journal_size("0"), Ok(0));
        assert!(parse_journal_size("-1").is_err());
        assert!(parse_journal_size("100001").is_err());
    }

    #[test]
    fn public_url_is_normalised() {
        let url = parse_public_url("https://helsesim.example:9443/").unwrap();
        assert_eq!(base_url_string(&url), "https://helsesim.example:9443");
        let url = parse_public_url("http://proxy.local/sim/").unwrap();
        assert_eq!(base_url_string(&url), "http://proxy.local/sim");
    }

    #[test]
    fn bad_public_urls_name_the_setting() {
        for bad in ["localhost:8080", "ftp://x", "http://x/?a=1", "http://x/#f"] {
            let err = parse_public_url(bad).unwrap_err();
            assert!(err.starts_with("HELSESIM_PUBLIC_URL"), "{err}");
        }
    }

    #[test]
    fn bad_ports_name_the_setting() {
        assert!(parse_port("80a").unwrap_err().contains("HELSESIM_PORT"));
        assert!(
            parse_tls_port("-1")
                .unwrap_err()
                .contains("HELSESIM_TLS_PORT")
        );
        assert!(
            parse_bind("localhost")
                .unwrap_err()
                .contains("HELSESIM_BIND")
        );
        assert!(
            parse_log_format("xml")
                .unwrap_err()
                .contains("HELSESIM_LOG_FORMAT")
        );
        assert_eq!(parse_log_format("JSON"), Ok(LogFormat::Json));
    }

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(
            url_with_segments(
                "http://localhost:8080",
                &["_admin", "clients", "ehr/test?x"]
            ),
            "http://localhost:8080/_admin/clients/ehr%2Ftest%3Fx"
        );
        assert_eq!(
            url_with_segments("http://proxy/sim", &["a", "klient-æ"]),
            "http://proxy/sim/a/klient-%C3%A6"
        );
    }
}
