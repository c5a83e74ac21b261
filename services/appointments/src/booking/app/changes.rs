//! Changing a booked appointment: rescheduling, notes, status moves along the FHIR
//! workflow, and cancelling. Each change is decided on a fresh read and written only if
//! the row is still as read.

use chrono::Utc;
use prm_domain::{Appointment, AppointmentStatus, Location, calendar, events::ReminderKind};
use prm_platform::{
    fields::optional_multiline_text,
    limits::{NOTES_CHARS, REASON_CHARS},
};
use prm_store::{
    Conflict, StoreError,
    audit::{Actor, AuditChange, appointment_snapshot},
    outbox::Producer,
};
use uuid::Uuid;

use super::{book::bookable_slot, listing::view, parties};
use crate::{
    AppState,
    booking::{
        BookingError, events,
        views::{AppointmentView, CancelAppointmentRequest, UpdateAppointmentRequest},
    },
    reminders::schedule,
};

/// How often a change is decided again when the appointment changed between its read
/// and its write (`Conflict::Stale`) before the client is told to retry.
///
/// Every stale refusal means another change to the row was committed in between, so a
/// request can lose only as often as there are competing writes. With 5 attempts, one of
/// ten simultaneous cancellations racing five notes edits (six writes) was sometimes told
/// `concurrent_update` instead of `invalid_transition`; 16 covers any realistic crowd on
/// one appointment (front desk, patient, journeys), and an attempt costs a read.
const FRESH_READ_ATTEMPTS: usize = 16;

/// Runs `attempt` (read, decide, write under a check that the row is as read) until it
/// is not refused as stale. Each attempt sees the appointment as the competing change
/// left it: a second concurrent cancellation then gets the 409 a later one would.
async fn on_fresh_read<T, F, Fut>(mut attempt: F) -> Result<T, BookingError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, BookingError>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt().await {
            Err(BookingError::Store(StoreError::Conflict(Conflict::Stale)))
                if tries < FRESH_READ_ATTEMPTS =>
            {
                continue;
            }
            done => return done,
        }
    }
}

fn invalid_transition(from: AppointmentStatus, to: &'static str) -> BookingError {
    BookingError::InvalidTransition { from, to }
}

/// `actor`: who asked, through the clinic API (recorded in the audit trail).
pub async fn update(
    state: &AppState,
    id: Uuid,
    req: UpdateAppointmentRequest,
    actor: Option<&Actor>,
) -> Result<AppointmentView, BookingError> {
    if let Some(start) = &req.start {
        calendar::instant(start)
            .map_err(|e| BookingError::invalid_field("start", e.to_string()))?;
    }
    let saved = on_fresh_read(|| update_once(state, id, &req, actor)).await?;
    view(state, saved).await
}

async fn update_once(
    state: &AppState,
    id: Uuid,
    req: &UpdateAppointmentRequest,
    actor: Option<&Actor>,
) -> Result<Appointment, BookingError> {
    let current = state.store.get_appointment(id).await?;
    let mut next = current.clone();
    let mut rescheduled_parties = None;
    if req.status == Some(AppointmentStatus::Cancelled) {
        return Err(BookingError::invalid_field(
            "status",
            "use POST /api/v1/prm/appointments/{id}/cancel to cancel",
        ));
    }
    if let Some(start) = req.start {
        if !current.status.can_be_rescheduled() {
            return Err(invalid_transition(current.status, "rescheduled"));
        }
        let location_id = req.location_id.unwrap_or(current.location_id);
        let parties = parties(
            state,
            current.patient_id,
            current.practitioner_id,
            location_id,
        )
        .await?;
        let start = start.with_timezone(&Utc);
        next.end = bookable_slot(state, &parties.practitioner, &parties.location, start).await?;
        next.start = start;
        next.location_id = location_id;
        rescheduled_parties = Some(parties);
    } else if req.location_id.is_some() {
        return Err(BookingError::invalid_field(
            "location_id",
            "give a new start together with the location",
        ));
    }
    if let Some(status) = req.status {
        if !current.status.can_become(status) {
            return Err(invalid_transition(current.status, status.as_str()));
        }
        next.status = status;
    }
    if let Some(notes) = req.notes.as_deref() {
        // Blank notes clear them.
        next.notes = optional_multiline_text(Some(notes), NOTES_CHARS)
            .map_err(|e| BookingError::invalid_field("notes", e))?;
    }
    let follow_up = follow_up(&current, req)?;
    if let Some(date) = req.follow_up_date {
        next.follow_up_date = Some(date);
    }
    // Everything the event needs is read before the transaction: inside it, only
    // the transaction's own connection may be used.
    let previous_location: Option<Location> = match &rescheduled_parties {
        Some(_) => Some(state.store.get_location(current.location_id).await?),
        None => None,
    };
    let follow_up = match follow_up {
        Some(date) => {
            let location = state.store.get_location(current.location_id).await?;
            let zone = location.timezone.tz();
            if date <= current.start.with_timezone(&zone).date_naive() {
                return Err(BookingError::invalid_field(
                    "follow_up_date",
                    "must be after the appointment's date",
                ));
            }
            Some(schedule::follow_up_job(&state.reminders, id, date, zone))
        }
        None => None,
    };
    let now = state.clock.now();
    let no_show = (next.status == AppointmentStatus::Noshow
        && current.status != AppointmentStatus::Noshow)
        .then(|| schedule::no_show_job(&state.reminders, id, now));
    let producer = Producer::new(events::OUTBOX, state.outbox.clone());
    let (current, next, rescheduled_parties, previous_location) =
        (&current, &next, &rescheduled_parties, &previous_location);
    let (follow_up, no_show) = (&follow_up, &no_show);
    // The change, its event and the jobs it schedules commit together.
    let (saved, replaced) = state
        .store
        .write(&producer, |tx| {
            Box::pin(async move {
                let saved = tx.update_appointment(current, next, None).await?;
                if let Some(actor) = actor {
                    tx.record_audit(actor, &audited("appointment.updated", current, &saved))
                        .await?;
                }
                if let (Some(parties), Some(previous_location)) =
                    (rescheduled_parties, previous_location)
                {
                    tx.announce(events::rescheduled(
                        current,
                        &saved,
                        parties,
                        previous_location,
                        now,
                    ));
                }
                let mut replaced = 0;
                if let Some(job) = follow_up {
                    replaced = schedule::replace_follow_up(tx, job, now).await?;
                }
                if let Some(job) = no_show {
                    tx.schedule_reminder(job, now).await?;
                }
                Ok::<_, BookingError>((saved, replaced))
            })
        })
        .await?;
    schedule::count(ReminderKind::FollowUp, "cancelled", replaced);
    Ok(saved)
}

/// The follow-up date of a `PATCH`, when it may be set: with `status: fulfilled`, or on
/// an appointment that is fulfilled already.
fn follow_up(
    current: &Appointment,
    req: &UpdateAppointmentRequest,
) -> Result<Option<chrono::NaiveDate>, BookingError> {
    let Some(date) = req.follow_up_date else {
        return Ok(None);
    };
    let fulfilled = match req.status {
        Some(status) => status == AppointmentStatus::Fulfilled,
        None => current.status == AppointmentStatus::Fulfilled,
    };
    if !fulfilled {
        return Err(BookingError::invalid_field(
            "follow_up_date",
            "is set when the appointment is marked fulfilled (with status fulfilled, or on a fulfilled appointment)",
        ));
    }
    calendar::date(date)
        .map_err(|e| BookingError::invalid_field("follow_up_date", e.to_string()))?;
    Ok(Some(date))
}

/// `actor`: who asked, through the clinic API (recorded in the audit trail).
pub async fn cancel(
    state: &AppState,
    id: Uuid,
    req: CancelAppointmentRequest,
    actor: Option<&Actor>,
) -> Result<AppointmentView, BookingError> {
    let (saved, location) = on_fresh_read(|| cancel_once(state, id, &req, actor)).await?;
    tracing::info!(appointment_id = %saved.id, "appointment cancelled");
    Ok(AppointmentView::new(saved, Some(&location)))
}

async fn cancel_once(
    state: &AppState,
    id: Uuid,
    req: &CancelAppointmentRequest,
    actor: Option<&Actor>,
) -> Result<(Appointment, Location), BookingError> {
    let current = state.store.get_appointment(id).await?;
    if !current.status.can_become(AppointmentStatus::Cancelled) {
        return Err(invalid_transition(current.status, "cancelled"));
    }
    let by = req.cancelled_by.as_deref().unwrap_or("clinic");
    if !["patient", "clinic", "system"].contains(&by) {
        return Err(BookingError::invalid_field(
            "cancelled_by",
            "must be patient, clinic or system",
        ));
    }
    let reason = optional_multiline_text(req.reason.as_deref(), REASON_CHARS)
        .map_err(|e| BookingError::invalid_field("reason", e))?;
    let parties = parties(
        state,
        current.patient_id,
        current.practitioner_id,
        current.location_id,
    )
    .await?;
    let mut next = current.clone();
    next.status = AppointmentStatus::Cancelled;
    let txn = state.store.begin().await?;
    let saved = state
        .store
        .update_appointment(&txn, &current, &next, reason.clone())
        .await?;
    if let Some(actor) = actor {
        let change = audited("appointment.cancelled", &current, &saved);
        state.store.record_audit(&txn, actor, &change).await?;
    }
    events::OUTBOX
        .enqueue(
            &txn,
            &events::cancelled(&saved, &parties, reason, by, state.clock.now()),
            prm_bus::current_traceparent(),
        )
        .await?;
    txn.commit().await.map_err(StoreError::from)?;
    state.notify_outbox();
    Ok((saved, parties.location))
}

/// An appointment's change as the audit trail records it.
fn audited(action: &'static str, before: &Appointment, after: &Appointment) -> AuditChange {
    AuditChange::of(action, "appointment", after.id).with(
        Some(appointment_snapshot(before)),
        Some(appointment_snapshot(after)),
    )
}
