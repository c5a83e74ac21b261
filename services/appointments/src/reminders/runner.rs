//! The runner: every `REMINDER_POLL_INTERVAL_MS` it claims the jobs that are due (with a
//! lease, see `Store::claim_due_reminders`) and runs each once:
//!
//! * later than its window after its due time → `skipped` (`late`), never sent: no
//!   reminder at 3 a.m. after an outage;
//! * its appointment no longer in a status the kind is for (a reminder of a cancelled
//!   appointment, a follow-up of one no longer fulfilled) → `cancelled`;
//! * otherwise `sent`, in the transaction that writes REMINDER_DUE to the outbox. The
//!   job is marked only if it is still scheduled and leased to this runner, so the event
//!   is written once across replicas, and a crash before COMMIT leaves the job to be
//!   claimed again when its lease runs out.
//!
//! Time is the service's clock, so tests move it instead of waiting.

use chrono::{DateTime, Utc};
use prm_domain::{
    Appointment,
    events::{Envelope, LocationRef, PatientRef, PractitionerRef, ReminderDue, ReminderKind},
};
use prm_store::{
    StoreError,
    outbox::{Outbox, Producer},
    reminders::{ReminderJob, ReminderStatus},
};
use uuid::Uuid;

use super::schedule::{count, wanted};
use crate::{
    AppState,
    booking::{BookingError, events::SOURCE},
};

/// Jobs claimed at a time; a runner claims again until fewer come back.
const BATCH: u64 = 50;

/// What one run did (tests read it).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RunReport {
    pub sent: usize,
    pub skipped_late: usize,
    pub cancelled: usize,
}

/// Runs every job due now that no other runner holds, as runner `owner`.
pub async fn run_due(state: &AppState, owner: &str) -> Result<RunReport, BookingError> {
    let now = state.clock.now();
    let mut report = RunReport::default();
    loop {
        let jobs = state
            .store
            .claim_due_reminders(owner, now, state.reminders.lease, BATCH)
            .await?;
        for job in &jobs {
            match run_one(state, owner, job, now).await {
                Ok(Outcome::Sent) => report.sent += 1,
                Ok(Outcome::SkippedLate) => report.skipped_late += 1,
                Ok(Outcome::Cancelled) => report.cancelled += 1,
                Ok(Outcome::TakenElsewhere) => {}
                // Its lease runs out and a runner takes it again (while its window lasts).
                Err(error) => {
                    tracing::warn!(job_id = %job.id, %error, "a reminder job failed; retried when its lease runs out");
                }
            }
        }
        if (jobs.len() as u64) < BATCH {
            break;
        }
    }
    match state.store.due_reminder_count(now).await {
        Ok(due) => metrics::gauge!("prm_reminders_due").set(due as f64),
        Err(error) => tracing::debug!(%error, "cannot count due reminders"),
    }
    Ok(report)
}

enum Outcome {
    Sent,
    SkippedLate,
    Cancelled,
    /// Ended or retaken by someone else meanwhile: nothing to do.
    TakenElsewhere,
}

fn producer(state: &AppState) -> Producer {
    Producer::new(Outbox::APPOINTMENTS, state.outbox.clone())
}

async fn finish(
    state: &AppState,
    owner: &str,
    job: &ReminderJob,
    status: ReminderStatus,
    outcome: &str,
    now: DateTime<Utc>,
) -> Result<bool, BookingError> {
    state
        .store
        .write(&producer(state), |tx| {
            Box::pin(async move {
                tx.finish_reminder(job.id, owner, status, Some(outcome), now)
                    .await
            })
        })
        .await
        .map_err(BookingError::from)
}

async fn run_one(
    state: &AppState,
    owner: &str,
    job: &ReminderJob,
    now: DateTime<Utc>,
) -> Result<Outcome, BookingError> {
    if now > job.due_at + job.window {
        let late = (now - job.due_at).num_minutes();
        if !finish(state, owner, job, ReminderStatus::Skipped, "late", now).await? {
            return Ok(Outcome::TakenElsewhere);
        }
        tracing::warn!(job_id = %job.id, appointment_id = %job.appointment_id, kind = job.kind.as_str(), late_minutes = late, "a reminder job ran past its window; skipped, not sent");
        count(job.kind, "skipped_late", 1);
        return Ok(Outcome::SkippedLate);
    }
    let appointment = match state.store.get_appointment(job.appointment_id).await {
        Ok(a) => a,
        Err(StoreError::NotFound(_)) => {
            return cancel(state, owner, job, "appointment_gone", now).await;
        }
        Err(e) => return Err(e.into()),
    };
    if !wanted(job.kind, appointment.status) {
        let why = format!(
            "appointment_{}",
            appointment.status.as_str().replace('-', "_")
        );
        return cancel(state, owner, job, &why, now).await;
    }
    let event = reminder_due(state, job, &appointment).await?;
    let (event, appointment_id, kind) = (&event, appointment.id, job.kind);
    let sent = state
        .store
        .write(&producer(state), |tx| {
            Box::pin(async move {
                // Decided again on the row as it is now: a cancellation committed since
                // the read above must not be followed by its reminder.
                let fresh = tx.appointment(appointment_id).await?;
                if !wanted(kind, fresh.status) {
                    let why = format!("appointment_{}", fresh.status.as_str().replace('-', "_"));
                    return Ok(
                        if tx
                            .finish_reminder(
                                job.id,
                                owner,
                                ReminderStatus::Cancelled,
                                Some(&why),
                                now,
                            )
                            .await?
                        {
                            Outcome::Cancelled
                        } else {
                            Outcome::TakenElsewhere
                        },
                    );
                }
                if !tx
                    .finish_reminder(job.id, owner, ReminderStatus::Sent, None, now)
                    .await?
                {
                    return Ok(Outcome::TakenElsewhere);
                }
                tx.announce(event.clone());
                Ok::<_, BookingError>(Outcome::Sent)
            })
        })
        .await?;
    match sent {
        Outcome::Sent => {
            tracing::info!(job_id = %job.id, appointment_id = %job.appointment_id, kind = job.kind.as_str(), "reminder due: REMINDER_DUE announced");
            count(job.kind, "sent", 1);
        }
        Outcome::Cancelled => count(job.kind, "cancelled", 1),
        _ => {}
    }
    Ok(sent)
}

async fn cancel(
    state: &AppState,
    owner: &str,
    job: &ReminderJob,
    why: &str,
    now: DateTime<Utc>,
) -> Result<Outcome, BookingError> {
    if !finish(state, owner, job, ReminderStatus::Cancelled, why, now).await? {
        return Ok(Outcome::TakenElsewhere);
    }
    tracing::info!(job_id = %job.id, appointment_id = %job.appointment_id, kind = job.kind.as_str(), outcome = why, "reminder job called off");
    count(job.kind, "cancelled", 1);
    Ok(Outcome::Cancelled)
}

/// REMINDER_DUE for `job` of `appointment` (its id is the job's, so conversations
/// sends it once however often it is delivered).
async fn reminder_due(
    state: &AppState,
    job: &ReminderJob,
    appointment: &Appointment,
) -> Result<Envelope, BookingError> {
    let patient = state.store.get_patient(appointment.patient_id).await?;
    let practitioner = state
        .store
        .get_practitioner(appointment.practitioner_id)
        .await?;
    let location = state.store.get_location(appointment.location_id).await?;
    let zone = location.timezone.tz();
    let local = |t: DateTime<Utc>| t.with_timezone(&zone).fixed_offset();
    Ok(Envelope::new(
        SOURCE,
        ReminderDue {
            job_id: job.id,
            kind: job.kind,
            appointment_id: appointment.id,
            status: appointment.status,
            start: local(appointment.start),
            end: local(appointment.end),
            patient: PatientRef {
                id: patient.id,
                name: patient.name.clone(),
                phone: patient.phone.clone(),
            },
            practitioner: PractitionerRef {
                id: practitioner.id,
                name: practitioner.name.clone(),
                specialty: practitioner.specialty.clone(),
            },
            location: LocationRef {
                id: location.id,
                name: location.name.clone(),
                timezone: location.timezone,
            },
            conversation_id: appointment.conversation_id,
            channel: appointment.channel,
            locale: patient.locale,
            due_at: job.due_at,
            follow_up_date: match job.kind {
                ReminderKind::FollowUp => appointment.follow_up_date,
                _ => None,
            },
        },
    ))
}

/// A runner's name in the leases it takes: one per process and service.
pub fn runner_name() -> String {
    format!("appointments-{}", Uuid::new_v4().simple())
}
