//! The all-in-one suite: every service's routes and OpenAPI document composed
//! on one server. Each service crate exports `configure` and its document; this
//! crate only wires them together — including one outbox relay per hosted service
//! (each service owns its outbox table), all on the one store and bus.

use actix_web::dev::Server;
use prm_appointments::startup::Backends;
use prm_bus::{OutboxRelay, RelayConfig, RelayHandle};
use prm_platform::{
    Settings,
    rate_limit::RateLimits,
    server::{BodyLimits, HttpSetup, bind, serve},
};
use prm_webhooks::{WebhooksConfig, WebhooksService};
use secrecy::SecretString;

pub const DEFAULT_PORT: u16 = 8080;

/// The combined OpenAPI document of every service.
pub fn api_doc() -> utoipa::openapi::OpenApi {
    prm_platform::openapi::document(
        "PRM suite",
        "Patient relationship management: clinic set-up, slot search and booking, and provider \
         webhooks (Twilio, Meta WhatsApp, voice agent), all in one process.",
        [prm_appointments::openapi(), prm_webhooks::openapi()],
    )
}

pub struct Suite {
    port: u16,
    server: Server,
    dev_key: Option<SecretString>,
    backends: Backends,
    /// The relays of the hosted services other than appointments (whose relay is part
    /// of `backends`).
    relays: Vec<RelayHandle>,
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl Suite {
    /// Connects and migrates the database, optionally seeds the demo clinic, and binds.
    pub async fn build(settings: &Settings, demo: bool) -> anyhow::Result<Self> {
        let backends = Backends::connect(settings).await?;
        if demo {
            let seeded = prm_appointments::demo::seed(&backends.store).await?;
            tracing::info!(
                created = seeded.created,
                existing = seeded.existing,
                "demo clinic seeded"
            );
        }
        let (api_keys, dev_key) = prm_platform::server::api_keys(settings);
        let readiness = backends.readiness();
        let appointments = backends.appointments(settings);
        let webhooks_relay = OutboxRelay::new(
            backends.store.connection().clone(),
            backends.bus.clone(),
            prm_webhooks::inbox::OUTBOX,
            RelayConfig::from_env()?,
        );
        let webhooks = WebhooksService::new(
            WebhooksConfig::from_settings(settings),
            backends.store.clone(),
            backends.state.clone(),
            Some(webhooks_relay.notifier()),
        )?;
        webhooks.log_startup_warnings();
        let relays = vec![webhooks_relay.spawn()];
        let background = vec![webhooks.spawn_background()];
        let listener = bind(&settings.host, settings.port)?;
        let port = listener.local_addr()?.port();
        let setup = HttpSetup {
            api_keys,
            readiness,
            openapi: api_doc(),
            body_limits: prm_webhooks::body_limits(BodyLimits::new(settings.max_body_bytes)),
            rate_limits: std::sync::Arc::new(RateLimits::from_settings(&settings.rate_limits)),
        };
        let server = serve(listener, setup, move |cfg| {
            appointments.configure(cfg);
            webhooks.configure(cfg);
        })?;
        Ok(Self {
            port,
            server,
            dev_key,
            backends,
            relays,
            background,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn store(&self) -> &prm_store::Store {
        &self.backends.store
    }

    /// The generated key when `PRM_API_KEYS` is unset.
    pub fn dev_key(&self) -> Option<&SecretString> {
        self.dev_key.as_ref()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        for task in self.background {
            task.abort();
        }
        for relay in self.relays {
            relay.shutdown().await;
        }
        self.backends.shutdown().await;
        result
    }
}
