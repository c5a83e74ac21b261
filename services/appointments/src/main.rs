//! `prm-appointments`: the appointments service on its own (port 8003).

use prm_appointments::{DEFAULT_PORT, startup::Application};
use prm_platform::{Settings, telemetry};

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env(DEFAULT_PORT)?;
    let _telemetry = telemetry::init(
        settings
            .otel_service_name
            .as_deref()
            .unwrap_or("prm-appointments"),
        settings.otel_endpoint.as_deref(),
    )?;
    let app = Application::build(&settings).await?;
    tracing::info!(
        port = app.port(),
        database = settings.database_kind(),
        "prm-appointments listening"
    );
    if let Some(key) = app.dev_key() {
        use secrecy::ExposeSecret;
        println!(
            "Development API key (PRM_API_KEYS is unset): {}",
            key.expose_secret()
        );
    }
    app.run_until_stopped().await?;
    Ok(())
}
