//! The appointments service: clinic set-up (locations, practitioners, schedules,
//! patients) and, on top of it, slot search and booking.
//!
//! It exports `configure` and its OpenAPI document so that the all-in-one `prm`
//! binary can mount it beside the other services.

pub mod booking;
pub mod demo;
pub mod error;
pub mod reminders;
pub mod reports;
pub mod setup;

use std::sync::Arc;

use actix_web::{middleware::from_fn, web};
pub use booking::settings::BookingSettings;
use prm_bus::{EventType, RelayNotifier, Subscription, handler_fn};
use prm_domain::clock::SharedClock;
use prm_platform::{auth::require_api_key, list::Page};
use prm_runtime::{CancellationToken, Service, ServiceContext, ServiceSpec};
use prm_state::StateStore;
use prm_store::{Store, outbox::Outbox};
pub use reminders::ReminderSettings;
use utoipa::OpenApi;

/// Default port of the standalone service.
pub const DEFAULT_PORT: u16 = 8003;

/// The appointments service, as binaries host it.
pub static SERVICE: ServiceSpec = ServiceSpec {
    name: "appointments",
    binary: "prm-appointments",
    title: "PRM appointments",
    description: "Clinic set-up (locations, practitioners, schedules, patients), slot search and booking.",
    default_port: DEFAULT_PORT,
    outbox: Some(Outbox::APPOINTMENTS),
    clinic_api: true,
    sensitive_state: true,
    body_limits: &[],
    openapi,
    build: |ctx| Box::pin(build(ctx)),
};

async fn build(ctx: ServiceContext) -> anyhow::Result<Arc<dyn Service>> {
    let booking = ctx.config(BookingSettings::from_settings)?;
    let reminders = ctx.config(ReminderSettings::from_settings)?;
    Ok(Arc::new(AppointmentsService::new(AppState {
        store: ctx.backends.store.clone(),
        default_country_code: ctx.settings.default_country_code.clone(),
        state: ctx.backends.state.clone(),
        booking,
        outbox: ctx.outbox,
        clock: ctx.backends.clock.clone(),
        reminders,
    })))
}

/// What the handlers share.
pub struct AppState {
    pub store: Store,
    /// For phone numbers written without a country code.
    pub default_country_code: String,
    /// Where slot offers are remembered (Redis, or memory when embedded).
    pub state: Arc<dyn StateStore>,
    pub booking: BookingSettings,
    /// Wakes the outbox relay after a commit; `None` leaves it to its polling.
    pub outbox: Option<RelayNotifier>,
    /// Every "now" the rules ask for (minimum notice, the search window, offers' and
    /// changes' times): the system clock in production, a fixed one in tests.
    pub clock: SharedClock,
    /// When reminders and follow-ups are due (`REMINDER_RULES`…).
    pub reminders: ReminderSettings,
}

impl AppState {
    pub fn notify_outbox(&self) {
        if let Some(notifier) = &self.outbox {
            notifier.notify();
        }
    }
}

/// A page of a list as the store reads it.
pub(crate) fn store_page(page: Page) -> prm_store::Page {
    prm_store::Page {
        limit: page.limit,
        offset: page.offset,
    }
}

/// The service's routes, each clinic scope behind the API-key middleware.
#[derive(Clone)]
pub struct AppointmentsService {
    state: web::Data<AppState>,
}

impl AppointmentsService {
    pub fn new(state: AppState) -> Self {
        Self {
            state: web::Data::new(state),
        }
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }
}

/// Subscribes `handle` to `event` as consumer `name`.
fn consumer<F, Fut>(
    state: &web::Data<AppState>,
    name: &str,
    event: EventType,
    handle: F,
) -> Subscription
where
    F: Fn(web::Data<AppState>, prm_bus::Delivery) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), prm_bus::HandlerError>> + Send + 'static,
{
    let state = state.clone();
    Subscription::to_events(
        name.to_owned(),
        [event],
        handler_fn(move |delivery| handle(state.clone(), delivery)),
    )
}

impl Service for AppointmentsService {
    /// The booking choreography (ARCHITECTURE §8; `booking::app::journey`) and the
    /// reminder scheduler (`reminders::schedule`).
    fn subscriptions(&self) -> Vec<Subscription> {
        use booking::app::journey;
        let state = self.state.clone();
        let reminders = Subscription::to_events(
            reminders::schedule::REMINDERS_CONSUMER.to_owned(),
            [
                EventType::AppointmentCreated,
                EventType::AppointmentCancelled,
                EventType::AppointmentRescheduled,
            ],
            handler_fn(move |d| {
                let state = state.clone();
                async move { reminders::schedule::on_appointment_event(&state, &d).await }
            }),
        );
        vec![
            reminders,
            consumer(
                &self.state,
                journey::TRIAGE_CONSUMER,
                EventType::TriageCompleted,
                |state, d| async move { journey::on_triage_completed(&state, &d).await },
            ),
            consumer(
                &self.state,
                journey::SELECTION_CONSUMER,
                EventType::SlotSelectionReceived,
                |state, d| async move { journey::on_slot_selection(&state, &d).await },
            ),
            consumer(
                &self.state,
                journey::ACTIONS_CONSUMER,
                EventType::BookingAction,
                |state, d| async move { journey::on_booking_action(&state, &d).await },
            ),
            {
                let state = self.state.clone();
                Subscription::to_events(
                    booking::app::waitlist::WAITLIST_CONSUMER,
                    [
                        EventType::AppointmentCancelled,
                        EventType::AppointmentRescheduled,
                        EventType::AppointmentCreated,
                    ],
                    handler_fn(move |d| {
                        let state = state.clone();
                        async move { booking::app::waitlist::on_slot_change(&state, &d).await }
                    }),
                )
            },
        ]
    }

    /// The reminder runner (`reminders::runner`).
    fn spawn_background(&self, stop: CancellationToken) -> Vec<tokio::task::JoinHandle<()>> {
        let state = self.state.clone();
        let owner = reminders::runner::runner_name();
        vec![tokio::spawn(async move {
            loop {
                if let Err(error) = reminders::runner::run_due(&state, &owner).await {
                    tracing::warn!(%error, "reminder run failed; trying again at the next poll");
                }
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(state.reminders.poll_every) => {}
                }
            }
        })]
    }

    fn configure(&self, cfg: &mut web::ServiceConfig) {
        cfg.app_data(self.state.clone())
            .service(
                web::scope("/api/v1/prm/locations")
                    .wrap(from_fn(require_api_key))
                    .configure(setup::locations::configure),
            )
            .service(
                web::scope("/api/v1/prm/practitioners")
                    .wrap(from_fn(require_api_key))
                    .configure(setup::practitioners::configure)
                    .configure(setup::schedules::configure),
            )
            .service(
                web::scope("/api/v1/prm/patients")
                    .wrap(from_fn(require_api_key))
                    .configure(setup::patients::configure),
            )
            .service(
                web::scope("/api/v1/prm/appointments")
                    .wrap(from_fn(require_api_key))
                    // Before `/{id}`, which would take `export.csv` for an id.
                    .configure(reports::export::configure)
                    .configure(booking::routes::configure)
                    .configure(reminders::routes::configure),
            )
            .service(
                web::scope("/api/v1/prm/stats")
                    .wrap(from_fn(require_api_key))
                    .configure(reports::stats::configure),
            )
            .service(
                web::scope("/api/v1/prm/audit")
                    .wrap(from_fn(require_api_key))
                    .configure(reports::audit::configure),
            );
    }
}

/// The service's own paths and schemas (health, docs and security come from the platform).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = setup::locations::Doc::openapi();
    doc.merge(setup::practitioners::Doc::openapi());
    doc.merge(setup::schedules::Doc::openapi());
    doc.merge(setup::patients::Doc::openapi());
    doc.merge(booking::routes::Doc::openapi());
    doc.merge(reminders::routes::Doc::openapi());
    doc.merge(reports::export::Doc::openapi());
    doc.merge(reports::stats::Doc::openapi());
    doc.merge(reports::audit::Doc::openapi());
    doc
}

/// The complete document of the standalone service.
pub fn api_doc() -> utoipa::openapi::OpenApi {
    prm_runtime::api_doc(SERVICE.title, SERVICE.description, &[&SERVICE])
}
