//! The command line every PRM binary shares: `serve` (the default), `migrate`,
//! `healthcheck`, `--help` and `--version`; `prm` adds `--demo`. A binary's `main` is
//! one call to [`main`] with its [`Binary`].

use std::{io::IsTerminal, process::ExitCode, time::Duration};

use clap::{Arg, ArgAction, ArgMatches, Command};
use futures::future::BoxFuture;
use prm_platform::{Settings, telemetry};
use prm_store::Store;
use secrecy::ExposeSecret;

use crate::{Backends, Host, HostOptions, ServiceSpec};

/// Seeds demo data on the backends (`prm --demo`).
pub type DemoSeed = fn(Backends) -> BoxFuture<'static, anyhow::Result<()>>;

/// What a binary hosts and how it presents itself.
pub struct Binary {
    /// `prm-appointments`
    pub name: &'static str,
    /// One line for `--help`.
    pub about: &'static str,
    pub default_port: u16,
    pub services: &'static [&'static ServiceSpec],
    /// Title and description of the combined OpenAPI document (binaries hosting several
    /// services).
    pub title: Option<(&'static str, &'static str)>,
    /// Seeds demo data for `--demo` (only binaries that offer it).
    pub demo: Option<DemoSeed>,
}

impl Binary {
    /// The standalone binary of one service.
    pub const fn single(spec: &'static [&'static ServiceSpec; 1], about: &'static str) -> Self {
        Self {
            name: spec[0].binary,
            about,
            default_port: spec[0].default_port,
            services: spec,
            title: None,
            demo: None,
        }
    }
}

const AFTER_HELP: &str = "Configuration comes from the environment and an optional .env file \
(the real environment wins): see .env.example. LOG_FORMAT=json|pretty (default: pretty on a \
terminal, JSON otherwise).";

/// The clap command of `binary` (also used by its tests).
pub fn command(binary: &Binary) -> Command {
    let mut command = Command::new(binary.name)
        .version(env!("CARGO_PKG_VERSION"))
        .about(binary.about)
        .after_help(AFTER_HELP)
        .subcommand(Command::new("serve").about(format!(
            "Serve on HOST:PORT (default 0.0.0.0:{}); the default command",
            binary.default_port
        )))
        .subcommand(
            Command::new("migrate")
                .about("Apply pending database migrations (DATABASE_URL) and exit"),
        )
        .subcommand(Command::new("healthcheck").about(
            "Exit 0 when this binary answers GET /ready with 200 on 127.0.0.1:PORT, 1 otherwise \
             (container health checks)",
        ));
    if binary.demo.is_some() {
        command = command.arg(
            Arg::new("demo")
                .long("demo")
                .action(ArgAction::SetTrue)
                .global(true)
                .help("Seed the demo clinic before serving (idempotent)"),
        );
    }
    command
}

/// Parses the command line, runs the command and maps its outcome to the exit status:
/// 0 done, 1 failed, 2 bad usage (clap's own).
pub fn main(binary: &Binary) -> ExitCode {
    let matches = command(binary).get_matches();
    match matches.subcommand() {
        Some(("healthcheck", _)) => healthcheck(binary),
        Some(("migrate", _)) => block_on(migrate()),
        _ => block_on(serve(binary, &matches)),
    }
}

fn block_on(future: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let system = actix_web::rt::System::new();
    let result = system.block_on(future);
    // Everything has stopped by now (server, consumers, relays, the bus connection,
    // telemetry flushed); the process exits next. Tearing the runtime down first would
    // only let lapin's I/O thread, still winding down its closed connection, find the
    // runtime gone and log it as an error after "stopped".
    std::mem::forget(system);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn log_format(settings: &Settings) -> telemetry::LogFormat {
    settings
        .log_format
        .unwrap_or_else(|| telemetry::LogFormat::default_for(std::io::stdout().is_terminal()))
}

async fn serve(binary: &Binary, matches: &ArgMatches) -> anyhow::Result<()> {
    let settings = Settings::from_env(binary.default_port)?;
    let _telemetry = telemetry::init(
        settings.otel_service_name.as_deref().unwrap_or(binary.name),
        settings.otel_endpoint.as_deref(),
        log_format(&settings),
    )?;
    let options = HostOptions {
        title: binary.title,
        ..HostOptions::default()
    };
    let host = Host::build(settings.clone(), binary.services, options).await?;
    let demo = matches.get_flag_opt("demo");
    if let (true, Some(seed)) = (demo, binary.demo) {
        seed(host.backends().clone()).await?;
    }
    let running = host.start().await?;
    let host_name = if settings.host == "0.0.0.0" {
        "localhost"
    } else {
        settings.host.as_str()
    };
    let port = running.port();
    tracing::info!(
        port,
        database = settings.database_kind(),
        redis = settings.redis_url.is_some(),
        rabbitmq = settings.amqp_url.is_some(),
        "{} listening",
        binary.name
    );
    println!(
        "{} is running on http://{host_name}:{port} ({} database)",
        banner_name(binary),
        settings.database_kind()
    );
    println!("Swagger UI: http://{host_name}:{port}/docs/");
    if let Some(key) = running.dev_key() {
        println!(
            "Development API key (PRM_API_KEYS is unset): {}",
            key.expose_secret()
        );
        println!(
            "  curl -H 'Authorization: Bearer {}' http://{host_name}:{port}/api/v1/prm/locations",
            key.expose_secret()
        );
    }
    running.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

/// `prm` says "PRM"; a service binary its own name.
fn banner_name(binary: &Binary) -> &'static str {
    if binary.name == "prm" {
        "PRM"
    } else {
        binary.name
    }
}

async fn migrate() -> anyhow::Result<()> {
    let settings = Settings::from_env(0)?;
    let _telemetry = telemetry::init(
        "prm-migrate",
        settings.otel_endpoint.as_deref(),
        log_format(&settings),
    )?;
    Store::connect_and_migrate(settings.database_url.expose_secret())
        .await
        .map_err(|e| anyhow::anyhow!("DATABASE_URL: cannot migrate: {e}"))?;
    tracing::info!(database = settings.database_kind(), "migrations applied");
    println!("migrations applied ({} database)", settings.database_kind());
    Ok(())
}

/// A plain HTTP/1.1 GET on loopback, so the image needs no curl.
fn healthcheck(binary: &Binary) -> ExitCode {
    use std::io::{Read, Write};
    let port = match Settings::from_env(binary.default_port) {
        Ok(settings) => settings.port,
        Err(e) => {
            eprintln!("healthcheck: {e}");
            return ExitCode::FAILURE;
        }
    };
    let probe = || -> std::io::Result<bool> {
        let timeout = Duration::from_secs(5);
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let mut stream = std::net::TcpStream::connect_timeout(&address, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.write_all(
            format!("GET /ready HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head)?;
        Ok(head.starts_with(b"HTTP/1.1 200") || head.starts_with(b"HTTP/1.0 200"))
    };
    match probe() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("healthcheck: /ready on port {port} is not 200");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("healthcheck: cannot reach 127.0.0.1:{port}: {e}");
            ExitCode::FAILURE
        }
    }
}

trait FlagOpt {
    fn get_flag_opt(&self, id: &str) -> bool;
}

impl FlagOpt for ArgMatches {
    /// A global flag as given to the command or its subcommand; false when the binary
    /// has no such flag.
    fn get_flag_opt(&self, id: &str) -> bool {
        let here = self.try_get_one::<bool>(id).ok().flatten().copied();
        let sub = self
            .subcommand()
            .and_then(|(_, m)| m.try_get_one::<bool>(id).ok().flatten().copied());
        here.unwrap_or(false) || sub.unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binary(demo: bool) -> Binary {
        Binary {
            name: "prm-test",
            about: "a test binary",
            default_port: 8099,
            services: &[],
            title: None,
            demo: demo.then_some(|_| Box::pin(async { Ok(()) }) as BoxFuture<'static, _>),
        }
    }

    fn parse(demo: bool, args: &[&str]) -> Result<ArgMatches, clap::Error> {
        command(&binary(demo))
            .try_get_matches_from(std::iter::once("prm-test").chain(args.iter().copied()))
    }

    #[test]
    fn unknown_arguments_are_usage_errors() {
        for args in [&["--dmeo"][..], &["demo"], &["serve", "extra"], &["--demo"]] {
            let error = parse(false, args).expect_err("accepted");
            assert_eq!(error.exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn help_and_version_exit_zero() {
        for args in [
            &["--help"][..],
            &["-h"],
            &["--version"],
            &["-V"],
            &["migrate", "--help"],
        ] {
            let error = parse(false, args).expect_err("help is reported as an early exit");
            assert_eq!(error.exit_code(), 0, "{args:?}");
        }
    }

    #[test]
    fn demo_is_a_flag_of_binaries_that_offer_it() {
        let m = parse(true, &["--demo"]).expect("parses");
        assert!(m.get_flag_opt("demo"));
        let m = parse(true, &["serve", "--demo"]).expect("parses");
        assert!(m.get_flag_opt("demo"));
        let m = parse(true, &[]).expect("parses");
        assert!(!m.get_flag_opt("demo"));
        assert!(m.subcommand().is_none(), "serving is the default");
        let m = parse(false, &["healthcheck"]).expect("parses");
        assert!(matches!(m.subcommand(), Some(("healthcheck", _))));
    }
}
