//! The conversations service (ARCHITECTURE §8): one conversation per patient phone,
//! every message in and out recorded, the booking journey (intake, triage, the offer,
//! the confirmation), and a staff inbox. It is the only service that talks to patients.
//!
//! * `api`: `/api/v1/prm/conversations` (create, list, get, patch, messages, state,
//!   the SSE stream) and `/api/v1/prm/templates` (the clinic's message templates).
//! * `app`: what happens to a message in, a reply out, a status report, staff actions.
//! * `journey`: the booking journey's decisions, on prm-ai's engines.
//! * `senders`: the outbound adapters (Twilio, Meta, recording) and the routing rule.

pub mod api;
pub mod app;
pub mod config;
pub mod journey;
pub mod senders;

use std::{sync::Arc, time::Duration};

use actix_web::web;
use prm_ai::{EngineKind, N8nClient, OpenAi, WithFallback};
use prm_bus::{EventType, Subscription, handler_fn};
use prm_runtime::{CancellationToken, Service, ServiceContext, ServiceSpec};
use prm_store::outbox::Outbox;
use utoipa::OpenApi;

use crate::{
    app::{App, ClinicCache, state_cache::StateCache, stream::StreamHub},
    config::ConversationsConfig,
    journey::Journey,
    senders::Senders,
};

/// Default port of the standalone service.
pub const DEFAULT_PORT: u16 = 8002;

/// The conversations service, as binaries host it.
pub static SERVICE: ServiceSpec = ServiceSpec {
    name: "conversations",
    binary: "prm-conversations",
    title: "PRM conversations",
    description: "One conversation per patient phone: every message in and out recorded, the WhatsApp booking journey (intake, triage, offer, confirmation), staff takeover and a live inbox.",
    default_port: DEFAULT_PORT,
    outbox: Some(Outbox::CONVERSATIONS),
    clinic_api: true,
    sensitive_state: true,
    body_limits: &[],
    openapi,
    build: |ctx| Box::pin(build(ctx)),
};

/// The service's own paths and schemas.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = api::Doc::openapi();
    doc.merge(api::templates::Doc::openapi());
    doc
}

/// The complete document of the standalone service.
pub fn api_doc() -> utoipa::openapi::OpenApi {
    prm_runtime::api_doc(SERVICE.title, SERVICE.description, &[&SERVICE])
}

async fn build(ctx: ServiceContext) -> anyhow::Result<Arc<dyn Service>> {
    let config = ctx.config(ConversationsConfig::from_settings)?;
    let senders = match ctx.override_of::<Senders>() {
        Some(senders) => senders,
        None => Senders::from_settings(&ctx.settings)?,
    };
    Ok(Arc::new(ConversationsService::new(ctx, config, senders)?))
}

/// The service: its application and what the host needs from it.
pub struct ConversationsService {
    app: Arc<App>,
}

impl ConversationsService {
    fn new(
        ctx: ServiceContext,
        config: ConversationsConfig,
        senders: Senders,
    ) -> anyhow::Result<Self> {
        let engine = match (config.engine, &config.openai) {
            (EngineKind::OpenAi, Some(openai)) => {
                let openai = Arc::new(OpenAi::new(openai)?);
                WithFallback::new(openai.clone(), openai, config.ai_timeout)
            }
            _ => WithFallback::builtin(),
        };
        let n8n_timeout = config
            .n8n
            .as_ref()
            .map_or(Duration::from_secs(20), |n| n.timeout);
        let n8n = match &config.n8n {
            Some(n8n) if config.engine == EngineKind::N8n => Some(N8nClient::new(
                n8n.webhook_url.clone(),
                n8n.timeout,
                n8n.secret.clone(),
            )?),
            _ => None,
        };
        let journey = Journey::new(
            engine,
            config.engine,
            n8n_timeout,
            config.emergency_number.clone(),
            config.public_base_url.clone(),
        );
        let app = App {
            pacer: crate::app::pacing::Pacer::new(
                config.outbound_rate_per_minute,
                ctx.backends.clock.clone(),
            ),
            store: ctx.backends.store.clone(),
            cache: StateCache::new(ctx.backends.state.clone(), config.state_ttl),
            senders,
            journey,
            n8n,
            config: Arc::new(config),
            clock: ctx.backends.clock.clone(),
            producer: prm_store::outbox::Producer::new(Outbox::CONVERSATIONS, ctx.outbox),
            stream: Arc::new(StreamHub::default()),
            clinic: ClinicCache::default(),
        };
        Ok(Self { app: Arc::new(app) })
    }

    /// The application (tests reach into it).
    pub fn app(&self) -> &Arc<App> {
        &self.app
    }
}

/// Subscribes `handle` to `events` as consumer `prm.conversations.<purpose>`.
fn consumer<F, Fut>(app: &Arc<App>, purpose: &str, events: &[EventType], handle: F) -> Subscription
where
    F: Fn(Arc<App>, prm_bus::Delivery) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), prm_bus::HandlerError>> + Send + 'static,
{
    let app = app.clone();
    Subscription::to_events(
        format!("prm.conversations.{purpose}"),
        events.iter().copied(),
        handler_fn(move |delivery| handle(app.clone(), delivery)),
    )
}

impl Service for ConversationsService {
    fn configure(&self, cfg: &mut web::ServiceConfig) {
        cfg.app_data(web::Data::new(self.app.clone()))
            .configure(api::configure);
    }

    fn subscriptions(&self) -> Vec<Subscription> {
        let app = &self.app;
        vec![
            consumer(
                app,
                "inbound",
                &[EventType::MessageReceived],
                |app, d| async move { app.on_message_received(&d).await.map_err(Into::into) },
            ),
            consumer(
                app,
                "delivery",
                &[EventType::MessageStatusUpdated],
                |app, d| async move { app.on_status_updated(&d).await.map_err(Into::into) },
            ),
            consumer(
                app,
                "outbound",
                &[EventType::MessageSendRequested],
                |app, d| async move { app.on_send_requested(&d).await.map_err(Into::into) },
            ),
            consumer(
                app,
                "offers",
                &[EventType::SlotsOffered],
                |app, d| async move { app.on_slots_offered(&d).await.map_err(Into::into) },
            ),
            consumer(
                app,
                "appointments",
                &[
                    EventType::AppointmentCreated,
                    EventType::AppointmentCancelled,
                    EventType::AppointmentRescheduled,
                ],
                |app, d| async move {
                    match d.envelope.kind() {
                        Ok(EventType::AppointmentCreated) => {
                            app.on_appointment_created(&d).await.map_err(Into::into)
                        }
                        Ok(EventType::AppointmentCancelled) => {
                            app.on_appointment_cancelled(&d).await.map_err(Into::into)
                        }
                        Ok(EventType::AppointmentRescheduled) => {
                            app.on_appointment_rescheduled(&d).await.map_err(Into::into)
                        }
                        _ => Ok(()),
                    }
                },
            ),
            consumer(
                app,
                "reminders",
                &[EventType::ReminderDue],
                |app, d| async move { app.on_reminder_due(&d).await.map_err(Into::into) },
            ),
            consumer(
                app,
                "n8n",
                &[EventType::IntakeUpdated, EventType::TriageProposed],
                |app, d| async move {
                    match d.envelope.kind() {
                        Ok(EventType::IntakeUpdated) => {
                            app.on_intake_updated(&d).await.map_err(Into::into)
                        }
                        Ok(EventType::TriageProposed) => {
                            app.on_triage_proposed(&d).await.map_err(Into::into)
                        }
                        _ => Ok(()),
                    }
                },
            ),
        ]
    }

    fn spawn_background(&self, stop: CancellationToken) -> Vec<tokio::task::JoinHandle<()>> {
        vec![
            self.app.spawn_sweeper(stop.clone()),
            self.app
                .stream
                .spawn(self.app.store.clone(), self.app.clock.clone(), stop),
        ]
    }

    fn log_startup(&self) {
        let app = &self.app;
        if !app.senders.sends_for_real() {
            tracing::info!(
                "no Twilio or Meta sender configured: replies are recorded (delivery_status `recorded`), not sent"
            );
        }
        tracing::info!(engine = app.journey.engine_kind().as_str(), "intake engine");
    }
}
