//! Keeping an appointment's jobs in step with it: the scheduler's consumer of
//! APPOINTMENT_CREATED / CANCELLED / RESCHEDULED, and the jobs a status change through
//! `PATCH` schedules (follow-up, no-show) in that change's own transaction.
//!
//! The consumer is idempotent by event id like the booking choreography's: the id is
//! recorded in the processed-events table in the transaction that writes the jobs.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use prm_bus::{Delivery, HandlerError};
use prm_domain::{
    AppointmentStatus,
    events::{
        AppointmentCancelled, AppointmentCreated, AppointmentRescheduled, EventData, EventType,
        ReminderKind,
    },
};
use prm_store::{
    Tx,
    outbox::{Outbox, ProcessedEvents, Producer},
    reminders::{NewReminderJob, ReminderStatus},
};
use uuid::Uuid;

use super::rules::{ReminderSettings, local_instant};
use crate::{AppState, booking::BookingError};

/// The scheduler's consumer (queue `prm.appointments.reminders`).
pub const REMINDERS_CONSUMER: &str = "prm.appointments.reminders";

const PROCESSED: ProcessedEvents = ProcessedEvents::APPOINTMENTS;

/// Every kind: a cancelled appointment gets none of them.
const ALL_KINDS: [ReminderKind; 3] = [
    ReminderKind::Reminder,
    ReminderKind::FollowUp,
    ReminderKind::NoShow,
];

pub(crate) fn count(kind: ReminderKind, outcome: &'static str, n: usize) {
    metrics::counter!("prm_reminders_total", "kind" => kind.as_str(), "outcome" => outcome)
        .increment(n as u64);
}

/// The statuses in which a job of `kind` is still wanted.
pub fn wanted(kind: ReminderKind, status: AppointmentStatus) -> bool {
    match kind {
        ReminderKind::Reminder => {
            matches!(
                status,
                AppointmentStatus::Booked | AppointmentStatus::Pending
            )
        }
        ReminderKind::FollowUp => status == AppointmentStatus::Fulfilled,
        ReminderKind::NoShow => status == AppointmentStatus::Noshow,
    }
}

/// The reminders of an appointment starting at `start` (location in `zone`), one per
/// rule whose due time is after `booked_at` and before the start. A reminder whose
/// time had passed when the appointment was booked (or moved) is not scheduled: the
/// booking's confirmation has just told the patient. `booked_at` is when the booking
/// (or move) happened, not when its event is consumed: a consumer that lags (a broker
/// outage) still schedules the reminder, and the runner's late window decides whether
/// it is sent.
fn reminders_due(
    settings: &ReminderSettings,
    start: DateTime<Utc>,
    zone: Tz,
    booked_at: DateTime<Utc>,
) -> Vec<(String, DateTime<Utc>)> {
    settings
        .rules
        .iter()
        .map(|rule| (rule.to_string(), rule.due(start, zone)))
        .filter(|(_, due)| *due > booked_at && *due < start)
        .collect()
}

fn job(
    settings: &ReminderSettings,
    appointment_id: Uuid,
    kind: ReminderKind,
    rule: Option<String>,
    due_at: DateTime<Utc>,
) -> NewReminderJob {
    NewReminderJob {
        id: Uuid::now_v7(),
        appointment_id,
        kind,
        rule,
        due_at,
        window: settings.late_window,
    }
}

/// The follow-up job of an appointment whose follow-up visit is on `date` (location in
/// `zone`): `FOLLOW_UP_TIME` local that day.
pub fn follow_up_job(
    settings: &ReminderSettings,
    appointment_id: Uuid,
    date: NaiveDate,
    zone: Tz,
) -> NewReminderJob {
    let due = local_instant(zone, date, settings.follow_up_time);
    job(settings, appointment_id, ReminderKind::FollowUp, None, due)
}

/// The no-show job: due at once.
pub fn no_show_job(
    settings: &ReminderSettings,
    appointment_id: Uuid,
    now: DateTime<Utc>,
) -> NewReminderJob {
    job(settings, appointment_id, ReminderKind::NoShow, None, now)
}

/// Schedules `follow_up`, replacing a follow-up scheduled earlier (a new date); how
/// many it replaced (counted by the caller once the transaction commits).
pub async fn replace_follow_up(
    tx: &Tx<'_>,
    follow_up: &NewReminderJob,
    now: DateTime<Utc>,
) -> Result<usize, prm_store::StoreError> {
    let replaced = tx
        .end_reminders(
            follow_up.appointment_id,
            &[ReminderKind::FollowUp],
            ReminderStatus::Cancelled,
            "replaced",
            now,
        )
        .await?;
    tx.schedule_reminder(follow_up, now).await?;
    Ok(replaced.len())
}

fn decode<E: EventData>(delivery: &Delivery) -> Result<E, HandlerError> {
    delivery.envelope.data_as().map_err(|e| {
        HandlerError::permanent(format!("malformed {}: {e}", delivery.envelope.event_type))
    })
}

/// APPOINTMENT_CREATED / CANCELLED / RESCHEDULED → the appointment's jobs.
pub async fn on_appointment_event(
    state: &AppState,
    delivery: &Delivery,
) -> Result<(), HandlerError> {
    let consumer = delivery.consumer.as_str();
    let event_id = delivery.envelope.id;
    let now = state.clock.now();
    let settings = &state.reminders;
    let change = match delivery.envelope.kind() {
        Ok(EventType::AppointmentCreated) => {
            let e: AppointmentCreated = decode(delivery)?;
            // When it was booked, by the service's clock (the envelope's time is the
            // machine's, for tracing only).
            let booked_at = match state.store.get_appointment(e.appointment_id).await {
                Ok(a) => a.created_at.min(now),
                Err(prm_store::StoreError::NotFound(_)) => now,
                Err(error) => return Err(BookingError::from(error).into()),
            };
            let jobs: Vec<NewReminderJob> = if wanted(ReminderKind::Reminder, e.status) {
                reminders_due(
                    settings,
                    e.start.to_utc(),
                    e.location.timezone.tz(),
                    booked_at,
                )
                .into_iter()
                .map(|(rule, due)| {
                    job(
                        settings,
                        e.appointment_id,
                        ReminderKind::Reminder,
                        Some(rule),
                        due,
                    )
                })
                .collect()
            } else {
                Vec::new()
            };
            Change::Schedule(jobs)
        }
        Ok(EventType::AppointmentCancelled) => {
            let e: AppointmentCancelled = decode(delivery)?;
            Change::Cancel(e.appointment_id)
        }
        Ok(EventType::AppointmentRescheduled) => {
            let e: AppointmentRescheduled = decode(delivery)?;
            Change::Move {
                appointment_id: e.appointment_id,
                due: reminders_due(
                    settings,
                    e.start.to_utc(),
                    e.location.timezone.tz(),
                    e.rescheduled_at.min(now),
                ),
            }
        }
        _ => return Ok(()),
    };
    let producer = Producer::new(Outbox::APPOINTMENTS, state.outbox.clone());
    let change = &change;
    let counts = state
        .store
        .write(&producer, |tx| {
            Box::pin(async move {
                if !tx.record_processed(PROCESSED, consumer, event_id).await? {
                    return Ok(Counts::default());
                }
                apply(tx, settings, change, now).await
            })
        })
        .await
        .map_err(BookingError::from)?;
    for kind in &counts.cancelled {
        count(*kind, "cancelled", 1);
    }
    if counts.scheduled + counts.moved + counts.cancelled.len() > 0 {
        tracing::info!(
            event_id = %event_id,
            scheduled = counts.scheduled,
            moved = counts.moved,
            cancelled = counts.cancelled.len(),
            "reminder jobs updated"
        );
    }
    Ok(())
}

/// What an appointment event does to its jobs.
enum Change {
    Schedule(Vec<NewReminderJob>),
    Cancel(Uuid),
    Move {
        appointment_id: Uuid,
        due: Vec<(String, DateTime<Utc>)>,
    },
}

#[derive(Default)]
struct Counts {
    scheduled: usize,
    moved: usize,
    /// The kind of each job called off.
    cancelled: Vec<ReminderKind>,
}

async fn apply(
    tx: &Tx<'_>,
    settings: &ReminderSettings,
    change: &Change,
    now: DateTime<Utc>,
) -> Result<Counts, prm_store::StoreError> {
    let mut counts = Counts::default();
    match change {
        Change::Schedule(jobs) => {
            for job in jobs {
                tx.schedule_reminder(job, now).await?;
                counts.scheduled += 1;
            }
        }
        Change::Cancel(appointment_id) => {
            let ended = tx
                .end_reminders(
                    *appointment_id,
                    &ALL_KINDS,
                    ReminderStatus::Cancelled,
                    "appointment_cancelled",
                    now,
                )
                .await?;
            counts.cancelled = ended.iter().map(|j| j.kind).collect();
        }
        Change::Move {
            appointment_id,
            due,
        } => {
            // Each rule's scheduled reminder moves to the new time; a rule whose
            // reminder was sent (or never scheduled) gets a new one when its time is
            // still ahead; one whose new time has passed is called off.
            let scheduled = tx
                .scheduled_reminders(*appointment_id, ReminderKind::Reminder)
                .await?;
            for existing in &scheduled {
                match due
                    .iter()
                    .find(|(rule, _)| existing.rule.as_deref() == Some(rule))
                {
                    Some((_, at)) => {
                        if tx.move_reminder(existing.id, *at, now).await? {
                            counts.moved += 1;
                        }
                    }
                    None => {
                        if tx
                            .end_reminder(
                                existing.id,
                                ReminderStatus::Cancelled,
                                "rescheduled",
                                now,
                            )
                            .await?
                        {
                            counts.cancelled.push(ReminderKind::Reminder);
                        }
                    }
                }
            }
            for (rule, at) in due {
                if !scheduled.iter().any(|j| j.rule.as_deref() == Some(rule)) {
                    let new = job(
                        settings,
                        *appointment_id,
                        ReminderKind::Reminder,
                        Some(rule.clone()),
                        *at,
                    );
                    tx.schedule_reminder(&new, now).await?;
                    counts.scheduled += 1;
                }
            }
        }
    }
    Ok(counts)
}
