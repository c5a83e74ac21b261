//! The connection and its supervisor: one task connects, declares the exchanges, hands
//! the live connection to publishers and consumers, and reconnects with exponential
//! backoff when the connection fails or a publisher asks for it.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use lapin::{
    Channel, Connection, ConnectionProperties, options::ConfirmSelectOptions, types::LongString,
};
use tokio::sync::{Notify, watch};

use super::topology;
use crate::{BusConfig, handler::stopped};

/// What the bus handle, the supervisor and the consumers share.
pub(super) struct Shared {
    pub(super) config: BusConfig,
    pub(super) uri: String,
    /// The current connection; `None` while disconnected.
    pub(super) live: watch::Sender<Option<Arc<Live>>>,
    reconnect: Notify,
    pub(super) stop: watch::Sender<bool>,
    generation: AtomicU64,
}

/// One established connection and its confirm-mode publishing channel.
pub(super) struct Live {
    pub(super) generation: u64,
    pub(super) connection: Connection,
    pub(super) publisher: Channel,
}

impl Shared {
    pub(super) fn new(config: BusConfig, uri: &str) -> Self {
        Self {
            config,
            uri: uri.to_owned(),
            live: watch::channel(None).0,
            reconnect: Notify::new(),
            stop: watch::channel(false).0,
            generation: AtomicU64::new(0),
        }
    }

    pub(super) fn current(&self) -> Option<Arc<Live>> {
        self.live.borrow().clone()
    }

    /// Asks the supervisor to drop `generation` and reconnect (after a publish error that
    /// suggests the connection is dead). Stale requests are ignored.
    pub(super) fn request_reconnect(&self, generation: u64) {
        if self
            .current()
            .is_some_and(|live| live.generation == generation)
        {
            self.reconnect.notify_one();
        }
    }
}

pub(super) async fn close_quietly(live: &Live) {
    let _ = tokio::time::timeout(
        Duration::from_secs(2),
        live.connection.close(200, "closing"),
    )
    .await;
}

/// Connects, opens the publishing channel in confirm mode and declares the exchanges.
/// The notifier fires when the connection fails.
async fn open(shared: &Shared) -> Result<(Arc<Live>, Arc<Notify>), lapin::Error> {
    let properties = ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio)
        .with_connection_name(LongString::from("prm-bus"));
    let connection = Connection::connect(&shared.uri, properties).await?;
    let lost = Arc::new(Notify::new());
    {
        let lost = lost.clone();
        connection.on_error(move |error| {
            tracing::warn!(%error, "RabbitMQ connection failed");
            lost.notify_one();
        });
    }
    let publisher = connection.create_channel().await?;
    publisher
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    topology::declare_exchanges(&publisher, &shared.config).await?;
    let generation = shared.generation.fetch_add(1, Ordering::SeqCst) + 1;
    Ok((
        Arc::new(Live {
            generation,
            connection,
            publisher,
        }),
        lost,
    ))
}

/// Owns the connection until the bus is closed.
pub(super) async fn supervise(shared: Arc<Shared>) {
    let stop = shared.stop.subscribe();
    let mut failures = 0u32;
    loop {
        let attempt = tokio::select! {
            _ = stopped(stop.clone()) => break,
            attempt = tokio::time::timeout(shared.config.connect_timeout, open(&shared)) => attempt,
        };
        match attempt {
            Ok(Ok((live, lost))) => {
                failures = 0;
                tracing::info!(generation = live.generation, "connected to RabbitMQ");
                shared.live.send_replace(Some(live.clone()));
                let stopping = tokio::select! {
                    _ = lost.notified() => false,
                    _ = shared.reconnect.notified() => false,
                    _ = stopped(stop.clone()) => true,
                };
                shared.live.send_replace(None);
                close_quietly(&live).await;
                if stopping {
                    break;
                }
                tracing::warn!(
                    generation = live.generation,
                    "RabbitMQ connection lost; reconnecting"
                );
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, attempt = failures + 1, "cannot connect to RabbitMQ");
                failures = failures.saturating_add(1);
            }
            Err(_) => {
                tracing::warn!(attempt = failures + 1, "connecting to RabbitMQ timed out");
                failures = failures.saturating_add(1);
            }
        }
        let delay = shared.config.reconnect.delay(failures);
        tokio::select! {
            _ = stopped(stop.clone()) => break,
            _ = tokio::time::sleep(delay) => {}
        }
    }
    shared.live.send_replace(None);
}
