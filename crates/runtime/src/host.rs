//! The host: serves a list of services on one port over one set of backends, with one
//! outbox relay per declared outbox, the services' consumers and background tasks, and
//! a graceful stop of all of it.

use std::{sync::Arc, time::Duration};

use actix_web::dev::ServerHandle;
use anyhow::Context;
use prm_bus::{BusConfig, ConsumerHandle, OutboxRelay, RelayConfig, RelayHandle};
use prm_platform::{
    Environment, Settings,
    rate_limit::RateLimits,
    server::{BodyLimits, HttpSetup, bind, serve},
};
use secrecy::SecretString;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{
    Backends,
    service::{Overrides, Service, ServiceContext, ServiceSpec},
};

/// How long background tasks get to finish after the server stopped.
const BACKGROUND_GRACE: Duration = Duration::from_secs(10);

/// What a host may be given besides the settings (tests mostly).
#[derive(Default)]
pub struct HostOptions {
    /// Bus settings; default: from `AMQP_NAME_PREFIX`.
    pub bus: Option<BusConfig>,
    /// Backends built by the caller (tests share or fault-inject them).
    pub backends: Option<Backends>,
    /// The clock of the backends the host connects (tests steer time); default: the
    /// system clock.
    pub clock: Option<prm_domain::clock::SharedClock>,
    /// Title and description of the combined OpenAPI document when several services
    /// are hosted.
    pub title: Option<(&'static str, &'static str)>,
    pub overrides: Overrides,
}

impl HostOptions {
    /// Hands `value` to every service's build (see `ServiceContext::override_of`).
    pub fn with_override<T: std::any::Any + Send + Sync>(mut self, value: T) -> Self {
        self.overrides.insert(value);
        self
    }
}

struct Hosted {
    spec: &'static ServiceSpec,
    service: Arc<dyn Service>,
}

/// Services built on their backends, not serving yet (`prm --demo` seeds here).
pub struct Host {
    settings: Settings,
    backends: Backends,
    services: Vec<Hosted>,
    relays: Vec<OutboxRelay>,
    openapi: utoipa::openapi::OpenApi,
    /// The host connected its backends itself, so it closes them when it stops; given
    /// backends belong to the caller (a test restarting a service on them).
    owns_backends: bool,
}

impl Host {
    /// Connects the backends (or takes the given ones) and builds every service.
    pub async fn build(
        settings: Settings,
        specs: &[&'static ServiceSpec],
        options: HostOptions,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(!specs.is_empty(), "a host needs at least one service");
        require_api_keys(&settings, specs)?;
        let owns_backends = options.backends.is_none();
        let backends = match options.backends {
            Some(backends) => backends,
            None => {
                let bus = match options.bus {
                    Some(bus) => bus,
                    None => Backends::bus_config(&settings)?,
                };
                let mut backends = Backends::connect(&settings, bus).await?;
                if let Some(clock) = options.clock {
                    backends.clock = clock;
                }
                backends
            }
        };
        let sensitive = specs.iter().any(|s| s.sensitive_state);
        let sensitive_state = if sensitive {
            encrypted_state(&settings, &backends)?
        } else {
            backends.state.clone()
        };
        let relay_config = RelayConfig::from_lookup(|name| settings.var(name))
            .context("outbox relay configuration")?;
        let mut services = Vec::with_capacity(specs.len());
        let mut relays = Vec::new();
        for spec in specs {
            let relay = spec.outbox.map(|outbox| {
                OutboxRelay::new(
                    backends.store.connection().clone(),
                    backends.bus.clone(),
                    outbox,
                    relay_config.clone(),
                )
            });
            let mut service_backends = backends.clone();
            if spec.sensitive_state {
                service_backends.state = sensitive_state.clone();
            }
            let context = ServiceContext::new(
                settings.clone(),
                service_backends,
                relay.as_ref().map(OutboxRelay::notifier),
                options.overrides.clone(),
            );
            let service = (spec.build)(context)
                .await
                .with_context(|| format!("{} service", spec.name))?;
            service.log_startup();
            relays.extend(relay);
            services.push(Hosted { spec, service });
        }
        let openapi = match (specs, options.title) {
            ([only], None) => api_doc(only.title, only.description, specs),
            (_, Some((title, description))) => api_doc(title, description, specs),
            (_, None) => api_doc("PRM suite", "Every PRM service in one process.", specs),
        };
        Ok(Self {
            settings,
            backends,
            services,
            relays,
            openapi,
            owns_backends,
        })
    }

    pub fn backends(&self) -> &Backends {
        &self.backends
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// A hosted service by its type.
    pub fn service<T: Service>(&self) -> Option<&T> {
        find(&self.services)
    }

    /// Subscribes the consumers, starts the relays and background work, binds
    /// `HOST:PORT` (port 0 picks a free one) and serves.
    pub async fn start(self) -> anyhow::Result<Running> {
        let Self {
            settings,
            backends,
            owns_backends,
            services,
            relays,
            openapi,
        } = self;
        let mut consumers = Vec::new();
        for hosted in &services {
            for subscription in hosted.service.subscriptions() {
                let name = subscription.consumer.clone();
                let consumer = backends
                    .bus
                    .subscribe(subscription)
                    .await
                    .with_context(|| format!("{}: cannot subscribe {name}", hosted.spec.name))?;
                consumers.push(consumer);
            }
        }
        let relays: Vec<RelayHandle> = relays.into_iter().map(OutboxRelay::spawn).collect();
        let stop = CancellationToken::new();
        let background: Vec<JoinHandle<()>> = services
            .iter()
            .flat_map(|h| h.service.spawn_background(stop.child_token()))
            .collect();

        let mut readiness = backends.readiness();
        let mut body_limits = BodyLimits::new(settings.max_body_bytes);
        for hosted in &services {
            for check in hosted.service.readiness() {
                readiness = readiness.with(check);
            }
            for (prefix, limit) in hosted.spec.body_limits {
                body_limits = body_limits.with_override(prefix, *limit);
            }
        }
        let (api_keys, dev_key) = prm_platform::server::api_keys(&settings);
        let clinic_api = services.iter().any(|h| h.spec.clinic_api);
        let listener = bind(&settings.host, settings.port).with_context(|| {
            format!("HOST/PORT: cannot listen on {}", settings.listen_address())
        })?;
        let port = listener.local_addr()?.port();
        let setup = HttpSetup {
            api_keys,
            readiness,
            openapi,
            body_limits,
            rate_limits: Arc::new(RateLimits::from_settings(&settings.rate_limits)),
        };
        let routes: Vec<Arc<dyn Service>> = services.iter().map(|h| h.service.clone()).collect();
        let server = serve(listener, setup, move |cfg| {
            for service in &routes {
                service.configure(cfg);
            }
        })?;
        // Serving starts now, not when the caller first awaits `run_until_stopped`.
        let handle = server.handle();
        let server = tokio::spawn(server);
        Ok(Running {
            port,
            handle,
            server,
            dev_key: dev_key.filter(|_| clinic_api),
            backends,
            services,
            consumers,
            relays,
            background,
            stop,
            owns_backends,
        })
    }
}

/// A serving host.
pub struct Running {
    port: u16,
    server: JoinHandle<std::io::Result<()>>,
    handle: ServerHandle,
    dev_key: Option<SecretString>,
    backends: Backends,
    services: Vec<Hosted>,
    consumers: Vec<ConsumerHandle>,
    relays: Vec<RelayHandle>,
    background: Vec<JoinHandle<()>>,
    stop: CancellationToken,
    owns_backends: bool,
}

impl Running {
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn backends(&self) -> &Backends {
        &self.backends
    }

    /// The generated development key when `PRM_API_KEYS` is unset and a hosted service
    /// has clinic endpoints.
    pub fn dev_key(&self) -> Option<&SecretString> {
        self.dev_key.as_ref()
    }

    /// A hosted service by its type.
    pub fn service<T: Service>(&self) -> Option<&T> {
        find(&self.services)
    }

    /// Stops the server as SIGTERM would (tests restart services this way).
    pub fn stop_handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// Serves until SIGINT/SIGTERM (or [`Running::stop_handle`]); then lets requests in
    /// flight finish, stops the background work, lets the consumers finish their
    /// deliveries and the relays publish their batch.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self
            .server
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        self.stop.cancel();
        for mut task in self.background {
            if tokio::time::timeout(BACKGROUND_GRACE, &mut task)
                .await
                .is_err()
            {
                tracing::warn!("a background task did not stop in time; aborting it");
                task.abort();
            }
        }
        for consumer in self.consumers {
            consumer.shutdown().await;
        }
        for relay in self.relays {
            relay.shutdown().await;
        }
        if self.owns_backends {
            self.backends.bus.close().await;
        }
        result
    }
}

fn find<T: Service>(services: &[Hosted]) -> Option<&T> {
    services
        .iter()
        .find_map(|h| h.service.as_any().downcast_ref::<T>())
}

/// The OpenAPI document of a binary hosting `specs`.
pub fn api_doc(
    title: &str,
    description: &str,
    specs: &[&'static ServiceSpec],
) -> utoipa::openapi::OpenApi {
    prm_platform::openapi::document(title, description, specs.iter().map(|s| (s.openapi)()))
}

/// The state store as services holding health data see it: values encrypted at rest
/// in Redis with `STATE_ENCRYPTION_KEY` (the in-memory store never leaves the process).
/// Production refuses a generated key: state written by one replica must be readable by
/// the others and after a restart.
fn encrypted_state(
    settings: &Settings,
    backends: &Backends,
) -> anyhow::Result<Arc<dyn prm_state::StateStore>> {
    let keys = prm_state::EncryptionKeys::from_config(
        settings.var("STATE_ENCRYPTION_KEY").as_deref(),
        settings.var("STATE_ENCRYPTION_KEY_PREVIOUS").as_deref(),
    )?;
    if backends.state.backend() != "redis" {
        return Ok(backends.state.clone());
    }
    if keys.was_generated() {
        if settings.environment == Environment::Production {
            return Err(prm_platform::ConfigError::new(
                "STATE_ENCRYPTION_KEY",
                "required in production with REDIS_URL: conversation state holds health data \
                 (64 hex characters or base64 of 32 bytes, e.g. `openssl rand -hex 32`)",
            )
            .into());
        }
        tracing::warn!(
            "STATE_ENCRYPTION_KEY is unset: conversation state in Redis is encrypted with a key \
             generated for this process (lost on restart; other processes cannot read it)"
        );
    }
    tracing::info!(
        key_id = keys.current.id(),
        "conversation state is encrypted at rest"
    );
    Ok(prm_state::encrypted(
        backends.state.clone(),
        keys.current,
        keys.previous,
    ))
}

/// Production refuses to serve clinic endpoints without keys (a generated development
/// key would lock everyone out, or worse, be printed to a shared log).
fn require_api_keys(settings: &Settings, specs: &[&'static ServiceSpec]) -> anyhow::Result<()> {
    let clinic: Vec<&str> = specs
        .iter()
        .filter(|s| s.clinic_api)
        .map(|s| s.name)
        .collect();
    if settings.environment == Environment::Production
        && settings.api_keys.is_empty()
        && !clinic.is_empty()
    {
        return Err(prm_platform::ConfigError {
            variable: "PRM_API_KEYS",
            message: format!(
                "required in production: {} serve clinic endpoints",
                clinic.join(", ")
            ),
        }
        .into());
    }
    Ok(())
}
