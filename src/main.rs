//! The `helsesim` binary: a thin CLI over the library.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use helsesim::commands::advice::AdviceOptions;
use helsesim::commands::client_keys::{ImportOptions, JwkOptions, KeygenOptions};
use helsesim::commands::decode::DecodeOptions;
use helsesim::commands::generate::GenerateOptions;
use helsesim::commands::token::{ProofOptions, TokenOptions};
use helsesim::commands::{self, CommandError};
use helsesim::config::SettingsArgs;
use helsesim::{Application, Clock, Settings, telemetry};

// mimalloc instead of glibc's malloc: a sixth of start-up on 100,000 patients was malloc and
// free, and request throughput rose by a quarter to a third (README, "Performance"). Without
// transparent huge pages (`no_thp`): with them each touched 2 MiB of its arena stayed resident.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Lets the allocator give back what start-up freed (file texts, parse trees: 80 MiB at
/// 100,000 patients). mimalloc returns freed memory to the system only from an allocator call
/// made after its purge delay (1 s), and a server idle after start makes none; a thread that
/// allocates after the delay and exits makes one that visits every arena.
fn release_start_up_memory() {
    let settle = || {
        std::thread::sleep(std::time::Duration::from_millis(1500));
        drop(std::hint::black_box(vec![0u8; 4096]));
    };
    if let Err(e) = std::thread::Builder::new()
        .name("settle".into())
        .spawn(settle)
    {
        log::debug!("memory freed at start-up stays with the allocator: {e}");
    }
}

/// Offline simulator of HelseID, SFM, Kjernejournal and PTS for EHR integration tests.
#[derive(Debug, Parser)]
#[command(
    name = "helsesim",
    version,
    about,
    after_help = "Without a command, or with settings first, helsesim serves: \
                  `helsesim [serve] [SETTINGS]`. `helsesim serve --help` lists the settings; \
                  each also reads its HELSESIM_* variable."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve every simulated service (the default).
    Serve(SettingsArgs),
    /// Get an access token for a client, with its test key from the fixtures.
    Token(TokenOptions),
    /// Make a DPoP proof for one API call (with a key from `token --json`).
    DpopProof(ProofOptions),
    /// Decode a JWT: header, claims, times against helsesim's clock, signer, DPoP binding.
    Decode(DecodeOptions),
    /// Print the public JWK of a private key (PEM, JWK or Selvbetjening file) and its thumbprint.
    Jwk(JwkOptions),
    /// Make a key pair for a client of your own (ES256, ES384, RS256 or PS256).
    Keygen(KeygenOptions),
    /// Clients added at run time.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Create the CA, TLS certificate and token-signing key where missing (all anew with --force).
    Certs {
        /// Make everything anew (tokens signed before stop verifying; re-trust the CA).
        #[arg(long)]
        force: bool,
        /// The certs directory [default: HELSESIM_CERTS or ./certs].
        #[arg(long)]
        certs: Option<PathBuf>,
    },
    /// Print the settings `serve` would use (flags, HELSESIM_* variables, defaults) as JSON.
    Config(SettingsArgs),
    /// Validate a fixtures directory and exit (2 when invalid).
    CheckFixtures {
        /// The directory [default: HELSESIM_FIXTURES or ./fixtures].
        dir: Option<PathBuf>,
    },
    /// Work with fixtures folders.
    #[command(subcommand)]
    Fixtures(FixturesCommand),
    /// Exit 0 if the local server answers GET /healthz (for Docker's HEALTHCHECK).
    Healthcheck {
        /// The server's base URL [default: http://127.0.0.1:<HELSESIM_PORT>].
        #[arg(long)]
        url: Option<String>,
    },
    /// Print the integration advisor's findings; exit 1 when one is at or above --fail-on.
    Advice(AdviceOptions),
}

#[derive(Debug, Subcommand)]
enum FixturesCommand {
    /// Copy the fixtures and add N synthetic national patients (and an SFM Patient for each).
    Generate(GenerateOptions),
}

#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// Register the client of a HelseID Selvbetjening client file with the running server.
    Import(ImportOptions),
}

/// `helsesim --port 9000` means `helsesim serve --port 9000`: settings first select `serve`.
fn with_default_command(mut args: Vec<OsString>) -> Vec<OsString> {
    let settings_first = args
        .get(1)
        .and_then(|a| a.to_str())
        .is_some_and(|a| a.starts_with('-') && !matches!(a, "-h" | "--help" | "-V" | "--version"));
    if settings_first {
        args.insert(1, OsString::from("serve"));
    }
    args
}

/// The settings of the environment and the defaults, for the commands other than `serve`.
fn environment() -> Result<SettingsArgs, CommandError> {
    SettingsArgs::from_env().map_err(|e| CommandError {
        message: e
            .render()
            .to_string()
            .trim()
            .trim_start_matches("error: ")
            .to_owned(),
        exit_code: 2,
    })
}

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = Cli::parse_from(with_default_command(std::env::args_os().collect()));
    // reqwest (the CLI's HTTP client) uses the process-wide rustls provider.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let result = run(cli.command).await;
    match result {
        Ok(output) => {
            if !output.is_empty() {
                // A reader that stops early (`| head`) closes the pipe: not an error of ours.
                use std::io::Write as _;
                let _ = writeln!(std::io::stdout().lock(), "{output}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("helsesim: {error}");
            ExitCode::from(u8::try_from(error.exit_code).unwrap_or(1))
        }
    }
}

async fn run(command: Option<Command>) -> Result<String, CommandError> {
    match command {
        Some(Command::Serve(settings)) => serve(&settings).await,
        None => serve(&environment()?).await,
        Some(Command::Token(options)) => {
            let settings = options.apply(environment()?);
            commands::token::run(&settings, options).await
        }
        Some(Command::DpopProof(options)) => {
            let settings = options.access.apply(environment()?);
            commands::token::proof(&settings, options).await
        }
        Some(Command::Decode(options)) => commands::decode::run(&environment()?, &options).await,
        Some(Command::Jwk(options)) => commands::client_keys::jwk(&options),
        Some(Command::Keygen(options)) => commands::client_keys::keygen(&options),
        Some(Command::Client(ClientCommand::Import(options))) => {
            let settings = options.access.apply(environment()?);
            commands::client_keys::import_client(&settings, &options).await
        }
        Some(Command::Certs { force, certs }) => {
            let mut settings = environment()?;
            if let Some(certs) = certs {
                settings.certs = certs;
            }
            commands::certs(&settings, force)
        }
        Some(Command::Config(settings)) => {
            Ok(serde_json::to_string_pretty(&settings.describe()).unwrap_or_default())
        }
        Some(Command::CheckFixtures { dir }) => {
            let settings = environment()?;
            commands::check_fixtures(&dir.unwrap_or(settings.fixtures))
        }
        Some(Command::Fixtures(FixturesCommand::Generate(options))) => {
            let from = match &options.from {
                Some(from) => from.clone(),
                None => environment()?.fixtures,
            };
            commands::generate::run(&options, &from)
        }
        Some(Command::Healthcheck { url }) => commands::healthcheck(&environment()?, url).await,
        Some(Command::Advice(options)) => {
            let settings = options.access.apply(environment()?);
            commands::advice::run(&settings, &options).await
        }
    }
}

async fn serve(args: &SettingsArgs) -> Result<String, CommandError> {
    telemetry::init(&args.log, args.log_format);
    let app =
        Application::build(Settings::from(args), Clock::system()).map_err(|e| CommandError {
            message: e.to_string(),
            exit_code: e.exit_code(),
        })?;
    release_start_up_memory();
    println!("{}", app.ready_message());
    let _ = std::io::stdout().flush();
    // Best effort: only `healthcheck` without --url reads it.
    let port_file = commands::port_file();
    let noted = std::fs::write(&port_file, app.port().to_string()).is_ok();
    let served = app
        .run_until_stopped()
        .await
        .map_err(|e| CommandError::new(format!("server failed: {e}")));
    if noted {
        let _ = std::fs::remove_file(&port_file);
    }
    served?;
    Ok(String::new())
}
