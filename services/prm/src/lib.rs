//! The all-in-one suite: every service on one port over one set of backends (embedded
//! defaults: SQLite, in-memory state, in-process bus). Adding a service to `prm` is one
//! line in [`SERVICES`]; the runtime does the rest (one outbox relay per service, each
//! service's consumers, routes and OpenAPI part).

use prm_platform::Settings;
use prm_runtime::{Backends, Binary, Host, HostOptions, Running, ServiceSpec};

pub const DEFAULT_PORT: u16 = 8080;

const TITLE: &str = "PRM suite";
const DESCRIPTION: &str = "Patient relationship management: clinic set-up, slot search and booking, \
conversations with patients (the WhatsApp booking journey and a staff inbox), and provider webhooks \
(Twilio, Meta WhatsApp, voice agent) and the n8n workflows' callbacks, all in one process.";

/// Every service `prm` hosts.
pub static SERVICES: [&ServiceSpec; 4] = [
    &prm_appointments::SERVICE,
    &prm_conversations::SERVICE,
    &prm_n8n_callbacks::SERVICE,
    &prm_webhooks::SERVICE,
];

/// The `prm` binary.
pub static BINARY: Binary = Binary {
    name: "prm",
    about: "Every PRM service in one process on one port (PORT, default 8080), with embedded defaults",
    default_port: DEFAULT_PORT,
    services: &SERVICES,
    title: Some((TITLE, DESCRIPTION)),
    demo: Some(|backends| Box::pin(seed_demo(backends))),
};

/// The combined OpenAPI document of every service.
pub fn api_doc() -> utoipa::openapi::OpenApi {
    prm_runtime::api_doc(TITLE, DESCRIPTION, &SERVICES)
}

/// Seeds the demo clinic (3 locations, 8 practitioners, weekly schedules); idempotent.
pub async fn seed_demo(backends: Backends) -> anyhow::Result<()> {
    let seeded = prm_appointments::demo::seed(&backends.store).await?;
    tracing::info!(
        created = seeded.created,
        existing = seeded.existing,
        "demo clinic seeded"
    );
    Ok(())
}

/// Builds and starts the suite as `prm [--demo]` would (tests).
pub async fn start(settings: Settings, demo: bool) -> anyhow::Result<Running> {
    let options = HostOptions {
        title: Some((TITLE, DESCRIPTION)),
        ..HostOptions::default()
    };
    let host = Host::build(settings, &SERVICES, options).await?;
    if demo {
        seed_demo(host.backends().clone()).await?;
    }
    host.start().await
}
