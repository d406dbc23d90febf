//! Signs the material for the load benchmark's token-issuance run (`scripts/loadtest.py`): one
//! client-credentials form with a fresh private_key_jwt client assertion, and one DPoP proof
//! with the server's current nonce, per line (`form<TAB>proof`). Each pair is used once: a
//! replayed assertion or proof is refused, so the benchmark measures real issuance.
//!
//! `cargo run --release --example load-material -- BASE_URL FIXTURES_DIR CLIENT COUNT OUT`

use std::io::Write as _;
use std::path::PathBuf;

use helsesim::Clock;
use helsesim::commands::token::client_key_path;
use helsesim::commands::token::{client_assertion, dpop_proof, ephemeral_dpop_key, load_key};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

#[actix_web::main]
async fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base, fixtures, client_name, count, out] = args.as_slice() else {
        return Err("usage: load-material BASE_URL FIXTURES_DIR CLIENT COUNT OUT".to_owned());
    };
    let count: usize = count.parse().map_err(|e| format!("COUNT: {e}"))?;
    // reqwest's rustls needs the process's crypto provider, as the helsesim binary installs it.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let fixtures = PathBuf::from(fixtures);
    let clock = Clock::system();
    let loaded = helsesim::fixtures::load_dir(&fixtures, clock.now()).map_err(|e| e.to_string())?;
    let client = loaded
        .clients
        .iter()
        .find(|c| c.id() == client_name || c.entry.name.as_deref() == Some(client_name))
        .ok_or_else(|| format!("no client {client_name}"))?;
    let key =
        load_key(&client_key_path(&fixtures, client.id()), client).map_err(|e| e.to_string())?;
    let dpop_key = ephemeral_dpop_key().map_err(|e| e.to_string())?;
    let issuer = format!("{}/helseid", base.trim_end_matches('/'));
    let token_endpoint = format!("{issuer}/connect/token");
    let scope = client.entry.scopes.join(" ");
    let form = |now| -> Result<String, String> {
        let assertion =
            client_assertion(client, &key, &issuer, &[], now).map_err(|e| e.to_string())?;
        Ok(url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", client.id())
            .append_pair("scope", &scope)
            .append_pair("client_assertion_type", ASSERTION_TYPE)
            .append_pair("client_assertion", &assertion)
            .finish())
    };

    // The nonce: HelseID answers a proof without one with `use_dpop_nonce` and the header.
    let now = clock.now();
    let probe = reqwest::Client::new()
        .post(&token_endpoint)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header(
            "DPoP",
            dpop_proof(&dpop_key, "POST", &token_endpoint, None, None, now)
                .map_err(|e| e.to_string())?,
        )
        .body(form(now)?)
        .send()
        .await
        .map_err(|e| format!("{token_endpoint}: {e}"))?;
    let nonce = probe
        .headers()
        .get("DPoP-Nonce")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| format!("{token_endpoint} gave no DPoP-Nonce ({})", probe.status()))?;

    // Signed on every core: RSA signatures are most of the cost.
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let lines: Vec<Result<Vec<String>, String>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (form, nonce, dpop_key, endpoint, clock) =
                    (&form, &nonce, &dpop_key, &token_endpoint, &clock);
                scope.spawn(move || {
                    (t..count)
                        .step_by(threads)
                        .map(|_| {
                            let now = clock.now();
                            let proof =
                                dpop_proof(dpop_key, "POST", endpoint, Some(nonce), None, now)
                                    .map_err(|e| e.to_string())?;
                            Ok(format!("{}\t{proof}", form(now)?))
                        })
                        .collect()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err("a signing thread panicked".to_owned()))
            })
            .collect()
    });
    let mut file =
        std::io::BufWriter::new(std::fs::File::create(out).map_err(|e| format!("{out}: {e}"))?);
    for line in lines
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
    {
        writeln!(file, "{line}").map_err(|e| format!("{out}: {e}"))?;
    }
    file.flush().map_err(|e| format!("{out}: {e}"))?;
    Ok(())
}
