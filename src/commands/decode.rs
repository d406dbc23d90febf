//! `helsesim decode TOKEN`: what a JWT says and whether this helsesim would take it — its header
//! and claims, the times in readable form and relative to helsesim's clock, which key signed
//! it and whether the signature verifies against the server's JWKS, and its DPoP binding.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use super::token::server_clock;
use super::{CommandError, http_client, server_url};
use crate::config::SettingsArgs;
use crate::jose::{PublicJwk, SigningAlg, UnverifiedJws};

/// Options of `helsesim decode`.
#[derive(Debug, Clone, clap::Args)]
pub struct DecodeOptions {
    /// The token (a JWT: access, id or client assertion); `-` reads it from stdin.
    pub token: String,
    /// The server whose clock and JWKS to check against [default: HELSESIM_PUBLIC_URL or
    /// http://localhost:<port>].
    #[arg(long)]
    pub url: Option<String>,
    /// How to reach the server.
    #[command(flatten)]
    pub access: super::token::ServerAccess,
}

/// The claims that are times (seconds since the epoch).
const TIME_CLAIMS: [&str; 4] = ["iat", "nbf", "exp", "auth_time"];

/// How far `at` is from `now`, in words ("in 9 min 58 s", "3 h 2 min ago").
fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    // Rounded to the second: the clock reads milliseconds, the claims are whole seconds.
    let millis = (at - now).num_milliseconds();
    let seconds = (millis + millis.signum() * 500) / 1000;
    let magnitude = seconds.unsigned_abs();
    let (h, m, s) = (magnitude / 3600, magnitude % 3600 / 60, magnitude % 60);
    let words = match (h, m) {
        (0, 0) => format!("{s} s"),
        (0, m) => format!("{m} min {s} s"),
        (h, m) => format!("{h} h {m} min"),
    };
    match seconds {
        0 => "now".to_owned(),
        s if s > 0 => format!("in {words}"),
        _ => format!("{words} ago"),
    }
}

fn pretty(map: &Map<String, Value>) -> String {
    serde_json::to_string_pretty(map).unwrap_or_default()
}

/// Runs the command; returns the report.
pub async fn run(settings: &SettingsArgs, options: &DecodeOptions) -> Result<String, CommandError> {
    let token = if options.token == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| CommandError::new(format!("cannot read the token from stdin: {e}")))?;
        text.trim().to_owned()
    } else {
        options.token.trim().to_owned()
    };
    let token = token
        .strip_prefix("Bearer ")
        .or_else(|| token.strip_prefix("DPoP "))
        .unwrap_or(&token)
        .to_owned();
    let jws = UnverifiedJws::parse(&token).map_err(|e| CommandError {
        message: format!("not a signed JWT: {e}"),
        exit_code: 2,
    })?;
    let base = server_url(options.url.as_deref(), settings);
    let http = http_client(&settings.certs)?;
    let clock = server_clock(&http, &base, settings.admin_token.as_deref()).await?;
    let now = clock.now();

    let mut report = vec![
        "header:".to_owned(),
        pretty(&jws.header),
        "claims:".to_owned(),
        pretty(&jws.claims),
    ];
    report.push(format!(
        "times (helsesim's clock at {base}: {}):",
        now.to_rfc3339_opts(SecondsFormat::Secs, true)
    ));
    for name in TIME_CLAIMS {
        if let Some(at) = jws
            .claim_seconds(name)
            .and_then(|s| DateTime::from_timestamp(s, 0))
        {
            report.push(format!(
                "  {name:<9} {}  ({})",
                at.to_rfc3339_opts(SecondsFormat::Secs, true),
                relative(at, now)
            ));
        }
    }
    report.push(match jws.claims.get("cnf").and_then(|c| c.get("jkt")) {
        Some(jkt) => format!(
            "binding: DPoP-bound to the key with RFC 7638 thumbprint {} (send it as \
             'Authorization: DPoP' with a proof made with that key)",
            jkt.as_str().unwrap_or_default()
        ),
        None => "binding: a bearer token (no cnf.jkt)".to_owned(),
    });
    report.push(signature_line(&http, &base, &jws).await);
    Ok(report.join("\n"))
}

/// Which key signed the token, and whether it verifies against the server's JWKS.
async fn signature_line(http: &reqwest::Client, base: &str, jws: &UnverifiedJws<'_>) -> String {
    let alg_name = jws.header_str("alg").unwrap_or("(none)");
    let kid = jws.header_str("kid");
    let signed_by = format!(
        "signature: {alg_name}, kid {}",
        kid.unwrap_or("(none: the client's or another issuer's key)")
    );
    let Some(alg) = SigningAlg::parse(alg_name) else {
        return format!("{signed_by}: not an algorithm helsesim verifies");
    };
    let url = format!(
        "{}/helseid/.well-known/openid-configuration/jwks",
        base.trim_end_matches('/')
    );
    let jwks: Value = match http.get(&url).send().await {
        Ok(response) => match response.json().await {
            Ok(jwks) => jwks,
            Err(e) => return format!("{signed_by}: cannot read {url}: {e}"),
        },
        Err(e) => return format!("{signed_by}: cannot reach {url} to verify it: {e}"),
    };
    let keys: Vec<PublicJwk> = jwks["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|k| PublicJwk::parse(k).ok())
        .collect();
    let matching: Vec<&PublicJwk> = keys
        .iter()
        .filter(|k| kid.is_none_or(|kid| k.kid() == Some(kid)))
        .collect();
    if matching.is_empty() {
        return format!(
            "{signed_by}: not a key of {url} (a client assertion is signed by the client's key; a \
             token of another helsesim by its key)"
        );
    }
    if matching.iter().any(|k| jws.verify_with(k, alg)) {
        format!("{signed_by}: verifies against {url}")
    } else {
        format!(
            "{signed_by}: does NOT verify against {url} (altered, or signed by another key with \
             the same kid)"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_read_as_words() {
        let now = DateTime::from_timestamp(1_000_000, 0).unwrap_or_default();
        let at = |s: i64| DateTime::from_timestamp(1_000_000 + s, 0).unwrap_or_default();
        assert_eq!(relative(at(0), now), "now");
        assert_eq!(relative(at(598), now), "in 9 min 58 s");
        assert_eq!(relative(at(-42), now), "42 s ago");
        assert_eq!(relative(at(-(3 * 3600 + 125)), now), "3 h 2 min ago");
    }
}
