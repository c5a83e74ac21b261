//! `prm`: the whole suite in one process on one port (8080), with embedded
//! defaults (SQLite at ./data/prm.db) so a newcomer runs it with one command.
//!
//! `prm --demo` also seeds a demo clinic (idempotent). Anything else on the command
//! line is refused (exit status 2), so a mistyped `--dmeo` does not silently start an
//! empty clinic.

use std::process::ExitCode;

use prm::Suite;
use prm_platform::{Settings, telemetry};
use secrecy::ExposeSecret;

const USAGE: &str = "usage: prm [--demo]

Runs every PRM service on one port (PORT, default 8080).

options:
  --demo      seed the demo clinic (3 locations, 8 practitioners, weekly schedules); idempotent
  -h, --help  print this help

Configuration comes from the environment and an optional .env file: see .env.example.";

#[derive(Debug, PartialEq, Eq)]
enum Command {
    Run { demo: bool },
    Help,
}

fn parse_args(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<Command, String> {
    let mut demo = false;
    for arg in args {
        match arg.to_str() {
            Some("--demo") => demo = true,
            Some("-h" | "--help") => return Ok(Command::Help),
            Some(other) => return Err(format!("unknown argument `{other}`")),
            None => return Err(format!("unknown argument {arg:?}")),
        }
    }
    Ok(Command::Run { demo })
}

fn main() -> ExitCode {
    match parse_args(std::env::args_os().skip(1)) {
        Ok(Command::Help) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Command::Run { demo }) => match actix_web::rt::System::new().block_on(run(demo)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("Error: {e:?}");
                ExitCode::FAILURE
            }
        },
        Err(problem) => {
            eprintln!("prm: {problem}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

async fn run(demo: bool) -> anyhow::Result<()> {
    let settings = Settings::from_env(prm::DEFAULT_PORT)?;
    let _telemetry = telemetry::init(
        settings.otel_service_name.as_deref().unwrap_or("prm"),
        settings.otel_endpoint.as_deref(),
    )?;
    let suite = Suite::build(&settings, demo).await?;
    let host = if settings.host == "0.0.0.0" {
        "localhost"
    } else {
        settings.host.as_str()
    };
    println!(
        "PRM is running on http://{host}:{} ({} database)",
        suite.port(),
        settings.database_kind()
    );
    println!("Swagger UI: http://{host}:{}/docs/", suite.port());
    if let Some(key) = suite.dev_key() {
        println!(
            "Development API key (PRM_API_KEYS is unset): {}",
            key.expose_secret()
        );
        println!(
            "  curl -H 'Authorization: Bearer {}' http://{host}:{}/api/v1/prm/locations",
            key.expose_secret(),
            suite.port()
        );
    }
    suite.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, String> {
        parse_args(args.iter().map(std::ffi::OsString::from))
    }

    #[test]
    fn only_known_arguments_are_accepted() {
        assert_eq!(parse(&[]), Ok(Command::Run { demo: false }));
        assert_eq!(parse(&["--demo"]), Ok(Command::Run { demo: true }));
        assert_eq!(parse(&["--demo", "--help"]), Ok(Command::Help));
        assert_eq!(parse(&["-h"]), Ok(Command::Help));
        assert_eq!(
            parse(&["--dmeo"]),
            Err("unknown argument `--dmeo`".to_owned())
        );
        assert!(parse(&["--demo", "extra"]).is_err());
        assert!(parse(&["demo"]).is_err());
    }
}
