//! What a service declares to the host: a static [`ServiceSpec`] (name, outbox, OpenAPI
//! document, body limits, how to build it) and, once built, a [`Service`] (routes,
//! readiness checks, event subscriptions, background tasks).

use std::{
    any::{Any, TypeId},
    collections::HashMap,
    sync::Arc,
};

use actix_web::web;
use futures::future::BoxFuture;
use prm_bus::{RelayNotifier, Subscription};
use prm_platform::{Settings, health::ReadinessCheck};
use prm_store::outbox::Outbox;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::Backends;

/// Builds a service from its context (see [`ServiceSpec::build`]).
pub type BuildFn = fn(ServiceContext) -> BoxFuture<'static, anyhow::Result<Arc<dyn Service>>>;

/// Everything the host needs to know about a service before building it. Each service
/// crate exports one as `pub const SERVICE: ServiceSpec`; binaries are lists of them.
pub struct ServiceSpec {
    /// `appointments`: the events' `source`, log and metric labels.
    pub name: &'static str,
    /// The standalone binary (`prm-appointments`).
    pub binary: &'static str,
    /// Title and description of the standalone OpenAPI document.
    pub title: &'static str,
    pub description: &'static str,
    /// Port of the standalone binary (ARCHITECTURE §5).
    pub default_port: u16,
    /// The service's outbox table: the host runs its relay and hands the service the
    /// relay's notifier.
    pub outbox: Option<Outbox>,
    /// Whether the service has Bearer-protected clinic endpoints: production refuses to
    /// start such a service without `PRM_API_KEYS`.
    pub clinic_api: bool,
    /// Whether the service keeps patient or health data in the state store: its view of
    /// Redis is encrypted with `STATE_ENCRYPTION_KEY`, which production then requires.
    pub sensitive_state: bool,
    /// Per-path-prefix body limits above (or below) the default `PRM_MAX_BODY_BYTES`.
    pub body_limits: &'static [(&'static str, usize)],
    /// The service's own paths and schemas (health, docs and the standard errors come
    /// from the platform).
    pub openapi: fn() -> utoipa::openapi::OpenApi,
    pub build: BuildFn,
}

impl std::fmt::Debug for ServiceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceSpec")
            .field("name", &self.name)
            .field("outbox", &self.outbox.map(|o| o.table()))
            .finish_non_exhaustive()
    }
}

/// What a service is built from.
#[derive(Clone)]
pub struct ServiceContext {
    pub settings: Settings,
    pub backends: Backends,
    /// Wakes the relay of the service's outbox after a commit (`None` when the spec
    /// declares no outbox).
    pub outbox: Option<RelayNotifier>,
    overrides: Overrides,
}

impl ServiceContext {
    pub(crate) fn new(
        settings: Settings,
        backends: Backends,
        outbox: Option<RelayNotifier>,
        overrides: Overrides,
    ) -> Self {
        Self {
            settings,
            backends,
            outbox,
            overrides,
        }
    }

    /// A value the host was given for this type (tests replace a service's
    /// configuration this way), if any.
    pub fn override_of<T: Any + Clone>(&self) -> Option<T> {
        self.overrides.get::<T>()
    }

    /// The service's configuration: the override when the host has one, else `parse`
    /// of the settings.
    pub fn config<T, E>(&self, parse: impl FnOnce(&Settings) -> Result<T, E>) -> Result<T, E>
    where
        T: Any + Clone,
    {
        match self.override_of::<T>() {
            Some(config) => Ok(config),
            None => parse(&self.settings),
        }
    }
}

/// Values keyed by type, handed to every service's build (see
/// [`ServiceContext::override_of`]).
#[derive(Clone, Default)]
pub struct Overrides(HashMap<TypeId, Arc<dyn Any + Send + Sync>>);

impl Overrides {
    pub fn insert<T: Any + Send + Sync>(&mut self, value: T) {
        self.0.insert(TypeId::of::<T>(), Arc::new(value));
    }

    fn get<T: Any + Clone>(&self) -> Option<T> {
        self.0
            .get(&TypeId::of::<T>())
            .and_then(|v| v.downcast_ref::<T>())
            .cloned()
    }
}

/// A built service.
pub trait Service: AsAny + Send + Sync + 'static {
    /// Mounts the service's routes (each clinic scope behind the API-key middleware).
    fn configure(&self, cfg: &mut web::ServiceConfig);

    /// Checks `/ready` runs besides the database and the state store.
    fn readiness(&self) -> Vec<Arc<dyn ReadinessCheck>> {
        Vec::new()
    }

    /// The consumers the host subscribes before the relays start publishing.
    fn subscriptions(&self) -> Vec<Subscription> {
        Vec::new()
    }

    /// Work that runs beside the server until `stop` is cancelled; the host waits for
    /// each task (a few seconds, then aborts it) at shutdown.
    fn spawn_background(&self, stop: CancellationToken) -> Vec<JoinHandle<()>> {
        let _ = stop;
        Vec::new()
    }

    /// Logs what is switched off or refused for lack of configuration (no secrets).
    fn log_startup(&self) {}
}

/// Lets the host hand out a built service by its concrete type (tests reach into it).
pub trait AsAny {
    fn as_any(&self) -> &dyn Any;
}

impl<T: Any> AsAny for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
}
