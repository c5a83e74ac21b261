//! `prm-webhooks`: the webhooks service on its own (port 8001).

use prm_platform::{Settings, telemetry};
use prm_webhooks::{DEFAULT_PORT, startup::Application};

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env(DEFAULT_PORT)?;
    let _telemetry = telemetry::init(
        settings
            .otel_service_name
            .as_deref()
            .unwrap_or("prm-webhooks"),
        settings.otel_endpoint.as_deref(),
    )?;
    let app = Application::build(&settings).await?;
    tracing::info!(
        port = app.port(),
        database = settings.database_kind(),
        redis = settings.redis_url.is_some(),
        rabbitmq = settings.amqp_url.is_some(),
        public_base_url = %settings.public_base_url,
        "prm-webhooks listening"
    );
    app.run_until_stopped().await?;
    Ok(())
}
