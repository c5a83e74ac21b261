//! The n8n callbacks service (ARCHITECTURE §5 "n8n", §8): the door through which the
//! n8n workflows answer PRM's triggers.
//!
//! Each callback (intake-response, triage-response, booking-response) is authenticated
//! with `N8N_CALLBACK_SECRET` (the platform's signed body: `X-PRM-Signature`, or the
//! secret as a bearer token), checked against its conversation (it must exist, and be at
//! a step the callback answers), and written as one event (INTAKE_UPDATED,
//! TRIAGE_PROPOSED, BOOKING_ACTION) to this service's outbox, with an id derived from
//! the callback so that n8n's retries publish it once. The conversations service
//! consumes the events; no service calls another's HTTP API.
//!
//! * `api`: the routes under `/api/v1/prm/n8n`.
//! * `app`: the stage rules, the event ids and the unit of work.
//! * `config`: `N8N_CALLBACK_SECRET`, and what production requires of it.

pub mod api;
pub mod app;
pub mod config;

use std::sync::Arc;

use actix_web::web;
use prm_runtime::{Service, ServiceContext, ServiceSpec};
use prm_store::outbox::Outbox;
use utoipa::OpenApi;

use crate::{app::Callbacks, config::CallbacksConfig};

pub use api::BASE_PATH;

/// Default port of the standalone service.
pub const DEFAULT_PORT: u16 = 8004;

/// A callback is a few fields; anything bigger is not n8n's answer.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The n8n callbacks service, as binaries host it. Its routes are authenticated with
/// `N8N_CALLBACK_SECRET`, not with the clinic API keys.
pub static SERVICE: ServiceSpec = ServiceSpec {
    name: "n8n-callbacks",
    binary: "prm-n8n-callbacks",
    title: "PRM n8n callbacks",
    description: "The n8n workflows' answers to PRM's triggers (intake, triage, booking), authenticated with N8N_CALLBACK_SECRET. Each accepted callback becomes exactly one event (INTAKE_UPDATED, TRIAGE_PROPOSED, BOOKING_ACTION), however often n8n retries it.",
    default_port: DEFAULT_PORT,
    outbox: Some(Outbox::N8N_CALLBACKS),
    clinic_api: false,
    sensitive_state: false,
    body_limits: &[(BASE_PATH, BODY_LIMIT)],
    openapi,
    build: |ctx| Box::pin(build(ctx)),
};

/// The service's own paths and schemas.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api::Doc::openapi()
}

/// The complete document of the standalone service.
pub fn api_doc() -> utoipa::openapi::OpenApi {
    prm_runtime::api_doc(SERVICE.title, SERVICE.description, &[&SERVICE])
}

async fn build(ctx: ServiceContext) -> anyhow::Result<Arc<dyn Service>> {
    let config = ctx.config(CallbacksConfig::from_settings)?;
    let callbacks = Callbacks::new(
        config,
        ctx.backends.store.clone(),
        ctx.outbox,
        ctx.backends.clock.clone(),
    );
    Ok(Arc::new(CallbacksService {
        callbacks: Arc::new(callbacks),
    }))
}

/// The service: its routes over [`Callbacks`].
pub struct CallbacksService {
    callbacks: Arc<Callbacks>,
}

impl CallbacksService {
    /// The application (tests reach into it).
    pub fn callbacks(&self) -> &Arc<Callbacks> {
        &self.callbacks
    }
}

impl Service for CallbacksService {
    fn configure(&self, cfg: &mut web::ServiceConfig) {
        cfg.service(
            web::scope(BASE_PATH)
                .app_data(web::Data::new(self.callbacks.clone()))
                .configure(api::configure),
        );
    }

    fn log_startup(&self) {
        if self.callbacks.config.secret.is_none() {
            tracing::warn!(
                "N8N_CALLBACK_SECRET is unset: the n8n callbacks refuse every call (503) until it is configured"
            );
        }
    }
}
