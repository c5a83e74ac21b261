//! Building and running the standalone service.

use actix_web::dev::Server;
use anyhow::Context;
use prm_bus::{BusConfig, OutboxRelay, RelayConfig, RelayHandle};
use prm_platform::{
    Settings,
    health::{Readiness, probe},
    rate_limit::RateLimits,
    server::{BodyLimits, HttpSetup, bind, serve},
};
use prm_store::Store;
use secrecy::ExposeSecret;
use tokio::task::JoinHandle;

use crate::{WebhooksConfig, WebhooksService, api_doc, body_limits};

pub struct Application {
    port: u16,
    server: Server,
    relay: RelayHandle,
    background: JoinHandle<()>,
    service: WebhooksService,
}

impl Application {
    /// Connects and migrates the database, connects the state store and the event bus,
    /// starts the outbox relay, then binds (port 0 picks a free port).
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        Self::build_with(
            settings,
            WebhooksConfig::from_settings(settings),
            BusConfig::with_prefix(settings.amqp_name_prefix.clone()),
        )
        .await
    }

    /// As [`Application::build`] with an explicit service configuration and bus settings
    /// (tests use short timeouts and a private exchange prefix).
    pub async fn build_with(
        settings: &Settings,
        config: WebhooksConfig,
        bus_config: BusConfig,
    ) -> anyhow::Result<Self> {
        let store = Store::connect_and_migrate(settings.database_url.expose_secret())
            .await
            .context("DATABASE_URL: cannot connect and migrate")?;
        let state = prm_state::from_config(
            settings.redis_url.as_ref().map(|u| u.expose_secret()),
            Some(settings.redis_key_prefix.as_str()),
        )
        .context("REDIS_URL")?;
        let bus = prm_bus::from_config(
            settings.amqp_url.as_ref().map(|u| u.expose_secret()),
            bus_config,
        )
        .context("AMQP_URL")?;
        let relay = OutboxRelay::new(
            store.connection().clone(),
            bus,
            crate::inbox::OUTBOX,
            RelayConfig::from_env().context("outbox relay")?,
        );
        let service =
            WebhooksService::new(config, store.clone(), state.clone(), Some(relay.notifier()))?;
        service.log_startup_warnings();
        let relay = relay.spawn();
        let background = service.spawn_background();
        // The bus is left out on purpose: events wait in the outbox during an outage.
        let (db, dedup) = (store.clone(), state.clone());
        let readiness = Readiness::new()
            .with(probe("database", move || {
                let db = db.clone();
                async move { db.ping().await.map_err(|_| "not reachable".to_owned()) }
            }))
            .with(probe("state", move || {
                let dedup = dedup.clone();
                async move { dedup.ping().await.map_err(|_| "not reachable".to_owned()) }
            }));
        let (api_keys, _) = prm_platform::server::api_keys(settings);
        let listener = bind(&settings.host, settings.port)?;
        let port = listener.local_addr()?.port();
        let setup = HttpSetup {
            api_keys,
            readiness,
            openapi: api_doc(),
            body_limits: body_limits(BodyLimits::new(settings.max_body_bytes)),
            rate_limits: std::sync::Arc::new(RateLimits::from_settings(&settings.rate_limits)),
        };
        let routes = service.clone();
        let server = serve(listener, setup, move |cfg| routes.configure(cfg))?;
        Ok(Self {
            port,
            server,
            relay,
            background,
            service,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn service(&self) -> &WebhooksService {
        &self.service
    }

    /// Serves until SIGINT/SIGTERM, then lets the relay publish its batch and stops.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.background.abort();
        self.relay.shutdown().await;
        result
    }
}
