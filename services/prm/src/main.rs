//! `prm`: the whole suite in one process on one port (8080), with embedded
//! defaults (SQLite at ./data/prm.db) so a newcomer runs it with one command.
//!
//! `prm --demo` also seeds a demo clinic (idempotent).

use prm::Suite;
use prm_platform::{Settings, telemetry};
use secrecy::ExposeSecret;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let demo = std::env::args().skip(1).any(|a| a == "--demo");
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        println!(
            "usage: prm [--demo]\n\nRuns every PRM service on one port. Configuration: see .env.example."
        );
        return Ok(());
    }
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
    Ok(())
}
