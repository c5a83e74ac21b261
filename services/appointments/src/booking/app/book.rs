//! Booking a slot: validations first, then one transaction that writes the appointment
//! and its APPOINTMENT_CREATED event. The schema decides races.

use chrono::{DateTime, Utc};
use prm_domain::{
    AppointmentStatus, Channel, Location, Practitioner, calendar, scheduling::schedule_slot_at,
};
use prm_platform::{
    fields::{FieldErrors, optional_multiline_text},
    limits::{NOTES_CHARS, REASON_CHARS},
};
use prm_store::{
    Conflict, NewAppointment, StoreError,
    audit::{Actor, AuditChange, appointment_snapshot},
};
use uuid::Uuid;

use super::parties;
use crate::{
    AppState,
    booking::{
        BookingError, events,
        views::{AppointmentView, BookAppointmentRequest},
    },
};

/// A booking, however it was asked for (an offer, the front desk, an event).
pub struct BookingInput {
    pub patient_id: Uuid,
    pub practitioner_id: Uuid,
    pub location_id: Uuid,
    pub start: DateTime<Utc>,
    pub conversation_id: Option<Uuid>,
    pub channel: Option<Channel>,
    pub reason: Option<String>,
    pub notes: Option<String>,
    /// Makes a repeated booking of the same request a no-op (`offer:<offer id>`).
    pub booking_key: Option<String>,
}

/// Checks that `start` is a bookable slot of the practitioner at the location, far
/// enough from the clock's "now", and returns its end.
pub(super) async fn bookable_slot(
    state: &AppState,
    practitioner: &Practitioner,
    location: &Location,
    start: DateTime<Utc>,
) -> Result<DateTime<Utc>, BookingError> {
    if !practitioner.active {
        return Err(BookingError::InactivePractitioner);
    }
    let schedules = state.store.schedules_of(&[practitioner.id]).await?;
    let slot = schedule_slot_at(&schedules, location, practitioner.id, start)
        .filter(|slot| slot.location_id == location.id)
        .ok_or(BookingError::OutsideSchedule)?;
    if slot.start < state.clock.now() + state.booking.min_notice {
        return Err(BookingError::TooSoon {
            min_notice_minutes: state.booking.min_notice.num_minutes(),
        });
    }
    Ok(slot.end)
}

/// Books a slot: validations first, then one transaction that writes the
/// appointment and its APPOINTMENT_CREATED event. The schema decides races.
pub async fn book(state: &AppState, input: BookingInput) -> Result<AppointmentView, BookingError> {
    book_as(state, input, None).await
}

/// [`book`], recorded in the audit trail as done by `actor` (the clinic API).
pub(super) async fn book_as(
    state: &AppState,
    input: BookingInput,
    actor: Option<&Actor>,
) -> Result<AppointmentView, BookingError> {
    let parties = parties(
        state,
        input.patient_id,
        input.practitioner_id,
        input.location_id,
    )
    .await?;
    let end = bookable_slot(state, &parties.practitioner, &parties.location, input.start).await?;
    let new = NewAppointment {
        id: Uuid::now_v7(),
        status: AppointmentStatus::Booked,
        start: input.start,
        end,
        patient_id: parties.patient.id,
        practitioner_id: parties.practitioner.id,
        location_id: parties.location.id,
        conversation_id: input.conversation_id,
        channel: input.channel,
        reason: input.reason,
        notes: input.notes,
        booking_key: input.booking_key,
        created_at: state.clock.now(),
    };
    let txn = state.store.begin().await?;
    let appointment = state
        .store
        .insert_appointment(&txn, &new)
        .await
        .inspect_err(|error| {
            if matches!(error, StoreError::Conflict(Conflict::SlotTaken)) {
                metrics::counter!("prm_booking_conflicts_total").increment(1);
            }
        })?;
    if let Some(actor) = actor {
        let change = AuditChange::of("appointment.created", "appointment", appointment.id)
            .with(None, Some(appointment_snapshot(&appointment)));
        state.store.record_audit(&txn, actor, &change).await?;
    }
    events::OUTBOX
        .enqueue(
            &txn,
            &events::created(&appointment, &parties),
            prm_bus::current_traceparent(),
        )
        .await?;
    txn.commit().await.map_err(StoreError::from)?;
    state.notify_outbox();
    let channel = appointment.channel.map_or("api", Channel::as_str);
    metrics::counter!("prm_bookings_total", "channel" => channel).increment(1);
    tracing::info!(appointment_id = %appointment.id, practitioner_id = %appointment.practitioner_id, "appointment booked");
    Ok(AppointmentView::new(appointment, Some(&parties.location)))
}

/// `POST /appointments`: the front desk books an explicit slot.
pub async fn book_explicit(
    state: &AppState,
    req: BookAppointmentRequest,
    actor: &Actor,
) -> Result<AppointmentView, BookingError> {
    let mut errors = FieldErrors::default();
    let start = errors.check("start", calendar::instant(&req.start));
    let reason = errors.check(
        "reason",
        optional_multiline_text(req.reason.as_deref(), REASON_CHARS),
    );
    let notes = errors.check(
        "notes",
        optional_multiline_text(req.notes.as_deref(), NOTES_CHARS),
    );
    errors.finish()?;
    let Some(start) = start else {
        return Err(BookingError::invalid_field(
            "start",
            "is not a valid instant",
        ));
    };
    book_as(
        state,
        BookingInput {
            patient_id: req.patient_id,
            practitioner_id: req.practitioner_id,
            location_id: req.location_id,
            start,
            conversation_id: req.conversation_id,
            channel: req.channel,
            reason: reason.flatten(),
            notes: notes.flatten(),
            booking_key: None,
        },
        Some(actor),
    )
    .await
}
