//! The outside dependencies of a process, built once from configuration and shared by
//! every service it hosts: the relational store, the state store, the event bus and
//! the clock.

use std::sync::Arc;

use anyhow::Context;
use prm_bus::{BusConfig, EventBus};
use prm_domain::clock::{self, SharedClock};
use prm_platform::{
    Settings,
    health::{Readiness, probe},
};
use prm_state::StateStore;
use prm_store::Store;
use secrecy::ExposeSecret;

/// PostgreSQL or SQLite, Redis or memory, RabbitMQ or in-process, each chosen from
/// configuration (ARCHITECTURE §3). Cloning is cheap: every part is a shared handle.
#[derive(Clone)]
pub struct Backends {
    pub store: Store,
    pub state: Arc<dyn StateStore>,
    pub bus: Arc<dyn EventBus>,
    pub clock: SharedClock,
}

impl std::fmt::Debug for Backends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backends")
            .field("store", &self.store.backend())
            .field("state", &self.state.backend())
            .field("bus", &self.bus.backend())
            .finish_non_exhaustive()
    }
}

impl Backends {
    /// Connects and migrates the database, and sets up the state store and the bus.
    /// Neither Redis nor RabbitMQ has to answer yet: the state store connects lazily
    /// (and `/ready` reports it), and events wait in the outboxes until the broker is
    /// reachable. Errors name the variable at fault.
    pub async fn connect(settings: &Settings, bus_config: BusConfig) -> anyhow::Result<Self> {
        let store = Store::connect_and_migrate(settings.database_url.expose_secret())
            .await
            .with_context(|| {
                format!(
                    "DATABASE_URL: cannot connect to the {} database and migrate it",
                    settings.database_kind()
                )
            })?;
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
        Ok(Self {
            store,
            state,
            bus,
            clock: clock::system(),
        })
    }

    /// The bus settings of `settings` (`AMQP_NAME_PREFIX`).
    /// `AMQP_NAME_PREFIX` and `AMQP_QUEUE_TYPE` (`quorum` unless set; a bad value stops
    /// the start naming the variable).
    pub fn bus_config(settings: &Settings) -> anyhow::Result<BusConfig> {
        let queue_type = match settings.var("AMQP_QUEUE_TYPE") {
            Some(value) if !value.trim().is_empty() => value
                .parse()
                .map_err(|e: String| anyhow::anyhow!("AMQP_QUEUE_TYPE: {e}"))?,
            _ => prm_bus::QueueType::Quorum,
        };
        Ok(BusConfig {
            queue_type,
            ..BusConfig::with_prefix(settings.amqp_name_prefix.clone())
        })
    }

    /// The database and the state store must answer. A broker outage does not stop a
    /// service (events wait in the outbox), so the bus is only reported in the logs.
    ///
    /// The database probe is `Store::ping`, which does not take a dead pooled
    /// connection (after a failover or a terminated session) for an unreachable
    /// database: it pings again on a new connection before saying so.
    pub fn readiness(&self) -> Readiness {
        let (store, state, bus) = (self.store.clone(), self.state.clone(), self.bus.clone());
        Readiness::new()
            .with(probe("database", move || {
                let store = store.clone();
                async move {
                    store.ping().await.map_err(|error| {
                        tracing::warn!(%error, "readiness: the database is not reachable");
                        "not reachable".to_owned()
                    })
                }
            }))
            .with(probe("state", move || {
                let state = state.clone();
                async move { state.ping().await.map_err(|_| "not reachable".to_owned()) }
            }))
            .with(probe("bus", move || {
                // The bus reports its own connection failures (a warning per attempt);
                // a probe every few seconds would repeat them, and warn at every start
                // before the first connection is up.
                if !bus.is_connected() {
                    tracing::debug!(
                        backend = bus.backend(),
                        "event bus disconnected; events wait in the outbox"
                    );
                }
                async { Ok(()) }
            }))
    }
}
