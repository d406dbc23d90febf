//! The `helsesim` binary: a thin CLI over the library.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use helsesim::commands::token::{ProofOptions, TokenOptions};
use helsesim::commands::{self, CommandError};
use helsesim::config::SettingsArgs;
use helsesim::{Application, Clock, Settings, telemetry};

/// Offline simulator of HelseID, SFM, Kjernejournal and PTS for EHR integration tests.
#[derive(Debug, Parser)]
#[command(name = "helsesim", version, about)]
struct Cli {
    #[command(flatten)]
    settings: SettingsArgs,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve every simulated service (the default).
    Serve,
    /// Get an access token for a client, with its test key from the fixtures.
    Token(TokenOptions),
    /// Make a DPoP proof for one API call (with a key from `token --json`).
    DpopProof(ProofOptions),
    /// Create the CA, TLS certificate and token-signing key where missing (all anew with --force).
    Certs {
        /// Make everything anew (tokens signed before stop verifying; re-trust the CA).
        #[arg(long)]
        force: bool,
    },
    /// Validate a fixtures directory and exit (2 when invalid).
    CheckFixtures {
        /// The directory [default: HELSESIM_FIXTURES or ./fixtures].
        dir: Option<PathBuf>,
    },
    /// Exit 0 if the local server answers GET /healthz (for Docker's HEALTHCHECK).
    Healthcheck {
        /// The server's base URL [default: http://127.0.0.1:<port>].
        #[arg(long)]
        url: Option<String>,
    },
}

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // reqwest (the CLI's HTTP client) uses the process-wide rustls provider.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&cli.settings).await,
        Command::Token(options) => commands::token::run(&cli.settings, options).await,
        Command::DpopProof(options) => commands::token::proof(&cli.settings, options).await,
        Command::Certs { force } => commands::certs(&cli.settings, force),
        Command::CheckFixtures { dir } => {
            commands::check_fixtures(&dir.unwrap_or_else(|| cli.settings.fixtures.clone()))
        }
        Command::Healthcheck { url } => commands::healthcheck(&cli.settings, url).await,
    };
    match result {
        Ok(output) => {
            if !output.is_empty() {
                println!("{output}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("helsesim: {error}");
            ExitCode::from(u8::try_from(error.exit_code).unwrap_or(1))
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
    println!("{}", app.ready_message());
    let _ = std::io::stdout().flush();
    app.run_until_stopped()
        .await
        .map_err(|e| CommandError::new(format!("server failed: {e}")))?;
    Ok(String::new())
}
