//! Building and running the standalone service, and the backends every
//! binary that hosts appointments needs (the all-in-one `prm` reuses them).

use std::sync::Arc;

use actix_web::dev::Server;
use chrono::TimeDelta;
use prm_bus::{BusConfig, EventBus, OutboxRelay, RelayConfig, RelayHandle, RelayNotifier};
use prm_platform::{
    Settings,
    health::{Readiness, probe},
    rate_limit::RateLimits,
    server::{BodyLimits, HttpSetup, bind, serve},
};
use prm_state::StateStore;
use prm_store::Store;
use secrecy::ExposeSecret;

use crate::{AppState, AppointmentsService, BookingSettings, api_doc};

/// The outside dependencies, each chosen from configuration: PostgreSQL or SQLite,
/// Redis or memory, RabbitMQ or in-process; plus the relay publishing the committed
/// events of the appointments outbox through the bus. (A binary hosting other services
/// too runs their relays beside it, on the same store and bus.)
pub struct Backends {
    pub store: Store,
    pub state: Arc<dyn StateStore>,
    pub bus: Arc<dyn EventBus>,
    pub outbox: RelayNotifier,
    relay: RelayHandle,
}

impl Backends {
    /// Connects the database (and migrates it), the state store and the bus. A
    /// RabbitMQ that is down at start is not fatal: events wait in the outbox.
    pub async fn connect(settings: &Settings) -> anyhow::Result<Self> {
        let store = Store::connect_and_migrate(settings.database_url.expose_secret()).await?;
        let state = prm_state::from_config(
            settings.redis_url.as_ref().map(|u| u.expose_secret()),
            Some(settings.redis_key_prefix.as_str()).filter(|p| !p.is_empty()),
        )?;
        let bus = prm_bus::from_config(
            settings.amqp_url.as_ref().map(|u| u.expose_secret()),
            BusConfig::with_prefix(settings.amqp_name_prefix.clone()),
        )?;
        let relay = OutboxRelay::new(
            store.connection().clone(),
            bus.clone(),
            crate::booking::events::OUTBOX,
            RelayConfig::from_env()?,
        );
        let outbox = relay.notifier();
        let relay = relay.spawn();
        Ok(Self {
            store,
            state,
            bus,
            outbox,
            relay,
        })
    }

    /// The database and the state store must answer. A broker outage does not stop
    /// bookings (events wait in the outbox), so the bus is only reported in the logs.
    pub fn readiness(&self) -> Readiness {
        let (store, state, bus) = (self.store.clone(), self.state.clone(), self.bus.clone());
        Readiness::new()
            .with(probe("database", move || {
                let store = store.clone();
                async move { store.ping().await.map_err(|_| "not reachable".to_owned()) }
            }))
            .with(probe("state", move || {
                let state = state.clone();
                async move { state.ping().await.map_err(|_| "not reachable".to_owned()) }
            }))
            .with(probe("bus", move || {
                if !bus.is_connected() {
                    tracing::warn!(
                        backend = bus.backend(),
                        "event bus disconnected; events wait in the outbox"
                    );
                }
                async { Ok(()) }
            }))
    }

    /// The appointments service on these backends.
    pub fn appointments(&self, settings: &Settings) -> AppointmentsService {
        AppointmentsService::new(AppState {
            store: self.store.clone(),
            default_country_code: settings.default_country_code.clone(),
            state: self.state.clone(),
            booking: booking_settings(settings),
            outbox: Some(self.outbox.clone()),
        })
    }

    /// Stops the relay after its current batch.
    pub async fn shutdown(self) {
        self.relay.shutdown().await;
    }
}

pub fn booking_settings(settings: &Settings) -> BookingSettings {
    BookingSettings {
        min_notice: TimeDelta::minutes(settings.min_booking_notice_minutes),
        window_days: settings.slot_window_days,
        default_locale: settings.default_locale,
        offer_ttl: settings.conversation_state_ttl,
    }
}

pub struct Application {
    port: u16,
    server: Server,
    dev_key: Option<secrecy::SecretString>,
    backends: Backends,
}

impl Application {
    /// Connects the backends, then binds (port 0 picks a free port).
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let backends = Backends::connect(settings).await?;
        let (api_keys, dev_key) = prm_platform::server::api_keys(settings);
        let service = backends.appointments(settings);
        let listener = bind(&settings.host, settings.port)?;
        let port = listener.local_addr()?.port();
        let setup = HttpSetup {
            api_keys,
            readiness: backends.readiness(),
            openapi: api_doc(),
            body_limits: BodyLimits::new(settings.max_body_bytes),
            rate_limits: std::sync::Arc::new(RateLimits::from_settings(&settings.rate_limits)),
        };
        let server = serve(listener, setup, move |cfg| service.configure(cfg))?;
        Ok(Self {
            port,
            server,
            dev_key,
            backends,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn store(&self) -> &Store {
        &self.backends.store
    }

    /// The generated key when `PRM_API_KEYS` is unset (development only).
    pub fn dev_key(&self) -> Option<&secrecy::SecretString> {
        self.dev_key.as_ref()
    }

    /// Serves until SIGINT/SIGTERM, then lets in-flight requests finish and stops the relay.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.backends.shutdown().await;
        result
    }
}
