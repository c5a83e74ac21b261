//! The appointments side of the booking choreography (ARCHITECTURE §8): the consumers
//! of TRIAGE_COMPLETED, SLOT_SELECTION_RECEIVED and BOOKING_ACTION.
//!
//! Each consumer is idempotent by event id: the id is recorded in the processed-events
//! table (ADR 0003) in the same unit of work (`Store::write`, ADR 0009) as what it
//! decided (an appointment, a status move) and the events it publishes, so a
//! redelivered event changes nothing and publishes nothing. Reads come before the
//! write; the offer (kept 15 minutes in the state store, [`offers`]) is saved before
//! the SLOTS_OFFERED that announces it, so the patient's answer always finds it.
//!
//! A booking from an offer carries the key `offer:<offer id>`: of two different
//! answers to the same offer ("2", then "2" again in a second message), only the first
//! books; the second is acknowledged. Events the service cannot act on (an emergency,
//! an unknown appointment, an answer without an offer or its basis) are logged and
//! acknowledged, never retried: waiting would not make them bookable.

use prm_bus::{Delivery, HandlerError};
use prm_domain::{
    AppointmentStatus, Channel, Locale, Patient, PhoneNumber,
    events::{
        BookingAction, BookingActionKind, EventData, MessageSendRequested, SlotPreferences,
        SlotSelectionReceived, TriageCompleted, Urgency,
    },
    hhmm,
    scheduling::{self, RankedSlot, Selection, clarify_message, parse_selection},
};
use prm_platform::{fields::optional_multiline_text, limits::REASON_CHARS};
use prm_store::{
    Conflict, NewAppointment, StoreError,
    outbox::{Outbox, ProcessedEvents, Producer},
};
use uuid::Uuid;

use super::{
    book::bookable_slot,
    parties,
    search::{SearchInput, records, search},
    waitlist,
};
use crate::{
    AppState,
    booking::{
        BookingError, events,
        offers::{self, OfferedSlotRecord, StoredOffer},
    },
    setup::patients::PatientRequest,
};

/// Consumer names (queues `prm.appointments.<purpose>`).
pub const TRIAGE_CONSUMER: &str = "prm.appointments.triage";
pub const SELECTION_CONSUMER: &str = "prm.appointments.selection";
pub const ACTIONS_CONSUMER: &str = "prm.appointments.booking-actions";

pub(super) const PROCESSED: ProcessedEvents = ProcessedEvents::APPOINTMENTS;

/// Slots in one offer (a WhatsApp list longer than this is hard to read).
const OFFER_SIZE: usize = scheduling::DEFAULT_LIMIT;

pub(super) fn producer(state: &AppState) -> Producer {
    Producer::new(Outbox::APPOINTMENTS, state.outbox.clone())
}

pub(super) fn decode<E: EventData>(delivery: &Delivery) -> Result<E, HandlerError> {
    delivery.envelope.data_as().map_err(|e| {
        HandlerError::permanent(format!("malformed {}: {e}", delivery.envelope.event_type))
    })
}

/// One consumer's handling of one event.
pub(super) struct Handling<'a> {
    pub(super) state: &'a AppState,
    pub(super) consumer: &'a str,
    pub(super) event_id: Uuid,
}

impl<'a> Handling<'a> {
    pub(super) fn new(state: &'a AppState, delivery: &'a Delivery) -> Self {
        Self {
            state,
            consumer: delivery.consumer.as_str(),
            event_id: delivery.envelope.id,
        }
    }

    pub(super) async fn already_processed(&self) -> Result<bool, BookingError> {
        PROCESSED
            .contains(self.state.store.connection(), self.consumer, self.event_id)
            .await
            .map_err(|e| BookingError::Store(StoreError::from(e)))
    }

    /// Commits `published` with the record that the event was processed (nothing when
    /// it already was).
    pub(super) async fn commit(
        &self,
        published: Vec<prm_domain::events::Envelope>,
    ) -> Result<(), BookingError> {
        let (published, consumer, event_id) = (&published, self.consumer, self.event_id);
        self.state
            .store
            .write(&producer(self.state), |tx| {
                Box::pin(async move {
                    if tx.record_processed(PROCESSED, consumer, event_id).await? {
                        for event in published {
                            tx.announce(event.clone());
                        }
                    }
                    Ok::<_, BookingError>(())
                })
            })
            .await
    }

    /// Acknowledges an event nothing can be done with (it is recorded, so a
    /// redelivery is not looked at again).
    pub(super) async fn ignore(&self, why: &str) -> Result<(), HandlerError> {
        tracing::warn!(consumer = self.consumer, event_id = %self.event_id, "{why}; acknowledged");
        Ok(self.commit(Vec::new()).await?)
    }
}

// ---- TRIAGE_COMPLETED ----

/// TRIAGE_COMPLETED: the patient (registered when unknown) is offered the department's
/// best slots (SLOTS_OFFERED); none at all is an empty SLOTS_OFFERED whose message says
/// so, which conversations sends and hands to staff.
pub async fn on_triage_completed(
    state: &AppState,
    delivery: &Delivery,
) -> Result<(), HandlerError> {
    let triage: TriageCompleted = decode(delivery)?;
    let h = Handling::new(state, delivery);
    if h.already_processed().await? {
        return Ok(());
    }
    if triage.urgency == Some(Urgency::Emergency) {
        return h
            .ignore("an emergency is never booked by the bot (conversations escalates it)")
            .await;
    }
    let template = offer_basis(state, &triage).await?;
    let offer = make_offer(state, template, h.event_id, Vec::new(), None).await?;
    h.commit(vec![offer]).await?;
    Ok(())
}

/// The offer a triage asks for, before its slots are searched.
async fn offer_basis(
    state: &AppState,
    triage: &TriageCompleted,
) -> Result<StoredOffer, BookingError> {
    let locale = triage.locale.unwrap_or(state.booking.default_locale);
    let patient = patient_for(state, triage, locale).await?;
    let urgency = match triage.urgency {
        Some(Urgency::Urgent) => Urgency::Urgent,
        _ if triage.soonest => Urgency::Urgent,
        _ => Urgency::Routine,
    };
    let reason = optional_multiline_text(triage.reason.as_deref(), REASON_CHARS)
        .ok()
        .flatten();
    Ok(StoredOffer {
        offer_id: Uuid::nil(),
        conversation_id: triage.conversation_id,
        patient_id: patient.as_ref().map(|p| p.id),
        department: triage.department.trim().to_owned(),
        preferences: preferences(&triage.preferences),
        from_date: None,
        locale,
        slots: Vec::new(),
        offered: Vec::new(),
        created_at: state.clock.now(),
        urgency,
        phone: Some(triage.patient_phone.clone()),
        reason,
        reschedule: None,
    })
}

/// The event's preferences as the search takes them; a time that is not `HH:MM` is no
/// preference.
fn preferences(p: &SlotPreferences) -> scheduling::SlotPreferences {
    scheduling::SlotPreferences {
        location_id: p.location_id,
        day_of_week: p.day_of_week,
        time_of_day: p
            .time_of_day
            .as_deref()
            .and_then(|t| hhmm::parse(t.trim()).ok()),
        practitioner_id: p.practitioner_id,
    }
}

/// The patient of a triage: by id, else by phone, else registered with the name and
/// birth date of the intake (the patients endpoint's rules). `None` when even that
/// fails (the offer is then made, and booking it is refused).
async fn patient_for(
    state: &AppState,
    triage: &TriageCompleted,
    locale: Locale,
) -> Result<Option<Patient>, BookingError> {
    if let Some(id) = triage.patient_id {
        match state.store.get_patient(id).await {
            Ok(patient) => return Ok(Some(patient)),
            Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(patient) = state
        .store
        .find_patient_by_phone(&triage.patient_phone)
        .await?
    {
        return Ok(Some(patient));
    }
    let today = state.clock.now().date_naive();
    // Without a name from the intake, the phone stands for it until staff correct it.
    let name = triage
        .patient_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(triage.patient_phone.as_str())
        .to_owned();
    let request = PatientRequest {
        name,
        phone: triage.patient_phone.as_str().to_owned(),
        birth_date: triage.birth_date.filter(|d| *d <= today),
        locale: Some(locale.as_str().to_owned()),
    };
    let patient = match request.into_patient(Uuid::now_v7(), &state.default_country_code, today) {
        Ok(patient) => patient,
        Err(_) => {
            tracing::warn!(conversation_id = %triage.conversation_id, "the intake's name or birth date cannot register a patient; offering without one");
            return Ok(None);
        }
    };
    match state.store.insert_patient(&patient).await {
        Ok(patient) => {
            tracing::info!(patient_id = %patient.id, conversation_id = %triage.conversation_id, "patient registered from the intake");
            Ok(Some(patient))
        }
        // Registered meanwhile (a concurrent delivery): that one.
        Err(StoreError::Conflict(Conflict::DuplicatePhone)) => Ok(state
            .store
            .find_patient_by_phone(&triage.patient_phone)
            .await?),
        Err(e) => Err(e.into()),
    }
}

/// Searches the slots `template` asks for (never those in `exclude`), remembers the
/// offer as `offer_id` and returns the SLOTS_OFFERED announcing it, its message opened
/// by `preface`. No slot at all: an empty SLOTS_OFFERED saying so (the offer is not
/// remembered).
pub(super) async fn make_offer(
    state: &AppState,
    template: StoredOffer,
    offer_id: Uuid,
    exclude: Vec<scheduling::SlotKey>,
    preface: Option<String>,
) -> Result<prm_domain::events::Envelope, BookingError> {
    Ok(
        make_offer_or_say(state, template, offer_id, exclude, preface, None)
            .await?
            .0,
    )
}

/// As [`make_offer`], with `when_empty` closing the message of an offer without slots;
/// also says whether any slot was offered.
async fn make_offer_or_say(
    state: &AppState,
    template: StoredOffer,
    offer_id: Uuid,
    exclude: Vec<scheduling::SlotKey>,
    preface: Option<String>,
    when_empty: Option<&str>,
) -> Result<(prm_domain::events::Envelope, bool), BookingError> {
    let result = search(
        state,
        SearchInput {
            department: template.department.clone(),
            preferences: template.preferences,
            limit: OFFER_SIZE,
            from_date: template.from_date,
            locale: template.locale,
            exclude,
            urgency: template.urgency,
            only_practitioner: template
                .reschedule
                .and(template.preferences.practitioner_id),
        },
    )
    .await?;
    let mut message = match preface {
        Some(preface) => format!("{preface}\n{}", result.message),
        None => result.message.clone(),
    };
    if let Some(note) = when_empty.filter(|_| result.slots.is_empty()) {
        message = format!("{message}\n{note}");
    }
    let mut offered = template.offered.clone();
    offered.extend(result.slots.iter().map(RankedSlot::key));
    let offer = StoredOffer {
        offer_id,
        slots: records(&result.slots),
        offered,
        created_at: state.clock.now(),
        ..template
    };
    if !offer.slots.is_empty() {
        offers::save(state.state.as_ref(), &offer, state.booking.offer_ttl).await?;
        metrics::counter!("prm_slots_offered_total").increment(1);
    } else {
        tracing::info!(conversation_id = %offer.conversation_id, "no slot to offer; staff take over");
        metrics::counter!("prm_offers_without_slots_total").increment(1);
    }
    let envelope = events::slots_offered(
        offer.conversation_id,
        offer.patient_id,
        &offer.department,
        &result.views,
        &result.locations,
        &message,
    );
    Ok((envelope, !offer.slots.is_empty()))
}

// ---- SLOT_SELECTION_RECEIVED ----

/// SLOT_SELECTION_RECEIVED: the patient's answer books the chosen slot
/// (APPOINTMENT_CREATED with the conversation), brings other slots ("ninguno": a new
/// SLOTS_OFFERED without the ones already offered), or asks again
/// (MESSAGE_SEND_REQUESTED). A slot taken meanwhile, or an offer that expired, is
/// offered afresh.
pub async fn on_slot_selection(state: &AppState, delivery: &Delivery) -> Result<(), HandlerError> {
    let selection: SlotSelectionReceived = decode(delivery)?;
    let h = Handling::new(state, delivery);
    if h.already_processed().await? {
        return Ok(());
    }
    let Some(offer) = offers::load(state.state.as_ref(), selection.conversation_id)
        .await
        .map_err(BookingError::from)?
    else {
        return offer_expired(&h, selection).await;
    };
    if scheduling::asks_for_earlier(&selection.text) {
        return waitlist::earlier(&h, offer).await;
    }
    let offered: Vec<_> = offer.slots.iter().map(|s| s.local_start).collect();
    match parse_selection(&selection.text, &offered) {
        Selection::Chosen(index) => match offer.slots.get(index.saturating_sub(1)).cloned() {
            Some(slot) => match offer.reschedule {
                Some(appointment_id) => move_to(&h, &offer, appointment_id, &slot).await,
                None => book_chosen(&h, &offer, &slot).await,
            },
            None => clarify(&h, &offer).await,
        },
        Selection::Rejected => {
            // Nothing more to offer: the patient waits for a slot to free up.
            let waits = waitlist::can_wait(&offer);
            let note = waits.then(|| waitlist::texts::waitlisted(offer.locale));
            let exclude = offer.offered.clone();
            let preface = scheduling::rejection_message(offer.locale);
            let (next, offered) = make_offer_or_say(
                state,
                offer.clone(),
                h.event_id,
                exclude,
                Some(preface),
                note,
            )
            .await?;
            if waits && !offered {
                return waitlist::commit_joining(&h, &offer, vec![next]).await;
            }
            Ok(h.commit(vec![next]).await?)
        }
        Selection::Clarify => clarify(&h, &offer).await,
    }
}

/// No current offer: made again from the triage it was made for, when the event
/// carries it.
async fn offer_expired(
    h: &Handling<'_>,
    selection: SlotSelectionReceived,
) -> Result<(), HandlerError> {
    let Some(basis) = selection.offer_basis else {
        return h
            .ignore("an answer to an offer that expired, without its basis")
            .await;
    };
    if basis.conversation_id != selection.conversation_id
        || basis.urgency == Some(Urgency::Emergency)
    {
        return h
            .ignore("an answer whose offer basis cannot be offered")
            .await;
    }
    let template = offer_basis(h.state, &basis).await?;
    let preface = texts::expired(template.locale).to_owned();
    let offer = make_offer(h.state, template, h.event_id, Vec::new(), Some(preface)).await?;
    Ok(h.commit(vec![offer]).await?)
}

/// MESSAGE_SEND_REQUESTED asking which slot the patient meant.
async fn clarify(h: &Handling<'_>, offer: &StoredOffer) -> Result<(), HandlerError> {
    let body = clarify_message(offer.locale, offer.slots.len());
    match message(h.state, offer, body, "slot_clarification").await? {
        Some(request) => Ok(h.commit(vec![request]).await?),
        None => h.ignore("no phone to ask the patient again").await,
    }
}

/// A message to the offer's patient, on WhatsApp in the conversation.
async fn message(
    state: &AppState,
    offer: &StoredOffer,
    body: String,
    purpose: &str,
) -> Result<Option<prm_domain::events::Envelope>, BookingError> {
    let phone: Option<PhoneNumber> = match (&offer.phone, offer.patient_id) {
        (Some(phone), _) => Some(phone.clone()),
        (None, Some(id)) => match state.store.get_patient(id).await {
            Ok(p) => Some(p.phone),
            Err(StoreError::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        },
        (None, None) => None,
    };
    Ok(phone.map(|to| {
        prm_domain::events::Envelope::new(
            events::SOURCE,
            MessageSendRequested {
                message_id: Uuid::now_v7(),
                conversation_id: Some(offer.conversation_id),
                channel: Channel::Whatsapp,
                to,
                body,
                media: Vec::new(),
                purpose: Some(purpose.to_owned()),
            },
        )
    }))
}

/// Books the chosen slot: APPOINTMENT_CREATED with the conversation and channel.
async fn book_chosen(
    h: &Handling<'_>,
    offer: &StoredOffer,
    slot: &OfferedSlotRecord,
) -> Result<(), HandlerError> {
    let state = h.state;
    let Some(patient_id) = offer.patient_id else {
        return h
            .ignore("a slot chosen from an offer made without a patient")
            .await;
    };
    let booking_key = format!("offer:{}", offer.offer_id);
    if state
        .store
        .appointment_by_booking_key(&booking_key)
        .await
        .map_err(BookingError::from)?
        .is_some()
    {
        // This offer was booked already (an earlier answer): one appointment per offer.
        return Ok(h.commit(Vec::new()).await?);
    }
    let parties = parties(state, patient_id, slot.practitioner_id, slot.location_id).await?;
    let end = match bookable_slot(state, &parties.practitioner, &parties.location, slot.start).await
    {
        Ok(end) => end,
        Err(
            BookingError::TooSoon { .. }
            | BookingError::OutsideSchedule
            | BookingError::InactivePractitioner,
        ) => {
            return slot_gone(h, offer, texts::unavailable).await;
        }
        Err(e) => return Err(e.into()),
    };
    let new = NewAppointment {
        id: Uuid::now_v7(),
        status: AppointmentStatus::Booked,
        start: slot.start,
        end,
        patient_id,
        practitioner_id: slot.practitioner_id,
        location_id: slot.location_id,
        conversation_id: Some(offer.conversation_id),
        channel: Some(Channel::Whatsapp),
        reason: offer.reason.clone(),
        notes: None,
        booking_key: Some(booking_key.clone()),
        created_at: state.clock.now(),
    };
    let (new, parties, consumer, event_id) = (&new, &parties, h.consumer, h.event_id);
    let booked = state
        .store
        .write(&producer(state), |tx| {
            Box::pin(async move {
                if !tx.record_processed(PROCESSED, consumer, event_id).await? {
                    return Ok(None);
                }
                let appointment = tx.insert_appointment(new).await?;
                tx.announce(events::created(&appointment, parties));
                Ok::<_, BookingError>(Some(appointment))
            })
        })
        .await;
    match booked {
        Ok(Some(appointment)) => {
            tracing::info!(appointment_id = %appointment.id, conversation_id = %offer.conversation_id, "appointment booked from the conversation");
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(BookingError::Store(StoreError::Conflict(
            conflict @ (Conflict::DuplicateBookingKey | Conflict::SlotTaken),
        ))) => {
            if state
                .store
                .appointment_by_booking_key(&booking_key)
                .await
                .map_err(BookingError::from)?
                .is_some()
            {
                // A concurrent answer to the same offer booked it.
                return Ok(h.commit(Vec::new()).await?);
            }
            match conflict {
                Conflict::SlotTaken => slot_gone(h, offer, texts::taken).await,
                _ => Err(BookingError::Store(StoreError::Conflict(conflict)).into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// The chosen slot was taken (or stopped being bookable) meanwhile: a fresh offer, its
/// message opened by saying so.
async fn slot_gone(
    h: &Handling<'_>,
    offer: &StoredOffer,
    why: fn(Locale) -> &'static str,
) -> Result<(), HandlerError> {
    let template = offer.clone();
    let preface = why(template.locale).to_owned();
    // The taken slot is busy now, so the search leaves it out; the other slots of the
    // offer are still good answers.
    let next = make_offer(h.state, template, h.event_id, Vec::new(), Some(preface)).await?;
    Ok(h.commit(vec![next]).await?)
}

/// Moves `appointment_id` to the chosen slot (APPOINTMENT_RESCHEDULED).
async fn move_to(
    h: &Handling<'_>,
    offer: &StoredOffer,
    appointment_id: Uuid,
    slot: &OfferedSlotRecord,
) -> Result<(), HandlerError> {
    let state = h.state;
    let current = match state.store.get_appointment(appointment_id).await {
        Ok(a) => a,
        Err(StoreError::NotFound(_)) => return h.ignore("the appointment to move is gone").await,
        Err(e) => return Err(BookingError::from(e).into()),
    };
    if current.start == slot.start && current.location_id == slot.location_id {
        // Moved there already (an earlier answer).
        return Ok(h.commit(Vec::new()).await?);
    }
    if !current.status.can_be_rescheduled() || current.practitioner_id != slot.practitioner_id {
        return h
            .ignore("the appointment cannot be moved to this slot")
            .await;
    }
    let parties = parties(
        state,
        current.patient_id,
        current.practitioner_id,
        slot.location_id,
    )
    .await?;
    let previous_location = state
        .store
        .get_location(current.location_id)
        .await
        .map_err(BookingError::from)?;
    let end = match bookable_slot(state, &parties.practitioner, &parties.location, slot.start).await
    {
        Ok(end) => end,
        Err(
            BookingError::TooSoon { .. }
            | BookingError::OutsideSchedule
            | BookingError::InactivePractitioner,
        ) => {
            return slot_gone(h, offer, texts::unavailable).await;
        }
        Err(e) => return Err(e.into()),
    };
    let mut next = current.clone();
    next.start = slot.start;
    next.end = end;
    next.location_id = slot.location_id;
    // A front-desk appointment moved from the patient's conversation joins it.
    next.conversation_id = next.conversation_id.or(Some(offer.conversation_id));
    let now = state.clock.now();
    let (current, next, parties, previous_location) =
        (&current, &next, &parties, &previous_location);
    let (consumer, event_id) = (h.consumer, h.event_id);
    let moved = state
        .store
        .write(&producer(state), |tx| {
            Box::pin(async move {
                if !tx.record_processed(PROCESSED, consumer, event_id).await? {
                    return Ok(());
                }
                let saved = tx.update_appointment(current, next, None).await?;
                tx.announce(events::rescheduled(
                    current,
                    &saved,
                    parties,
                    previous_location,
                    now,
                ));
                Ok::<_, BookingError>(())
            })
        })
        .await;
    match moved {
        Ok(()) => Ok(()),
        Err(BookingError::Store(StoreError::Conflict(Conflict::SlotTaken))) => {
            slot_gone(h, offer, texts::taken).await
        }
        Err(e) => Err(e.into()),
    }
}

// ---- BOOKING_ACTION ----

/// BOOKING_ACTION (n8n's booking-response, or a reminder's answer) on an appointment of
/// the conversation, or on an appointment of the conversation's patient (`patient_id`)
/// booked elsewhere (front desk, an earlier conversation), which then joins the
/// conversation: `confirm` books a proposed or
/// pending one and records when the patient confirmed (`confirmed_at`), `cancel`
/// frees its slot (APPOINTMENT_CANCELLED), `reschedule` offers the same practitioner's
/// slots (SLOTS_OFFERED) and the patient's choice moves it (APPOINTMENT_RESCHEDULED).
/// An unknown appointment, one of another conversation, or a move its status does not
/// allow is logged and acknowledged.
pub async fn on_booking_action(state: &AppState, delivery: &Delivery) -> Result<(), HandlerError> {
    let action: BookingAction = decode(delivery)?;
    let h = Handling::new(state, delivery);
    if h.already_processed().await? {
        return Ok(());
    }
    let Some(id) = action.appointment_id else {
        return h.ignore("BOOKING_ACTION without an appointment").await;
    };
    let current = match state.store.get_appointment(id).await {
        Ok(a) => a,
        Err(StoreError::NotFound(_)) => {
            return h.ignore("BOOKING_ACTION on an unknown appointment").await;
        }
        Err(e) => return Err(BookingError::from(e).into()),
    };
    // An appointment of the conversation, or one of the conversation's patient booked
    // elsewhere (the front desk, or an earlier conversation now closed), which then
    // joins the conversation so that its cancellation or move reaches the patient's
    // thread.
    // The patient's current thread may not be the one the appointment was booked in
    // (that one was closed, and the reminder opened a new one): their own appointment
    // moves to it too.
    let adopt = if current.conversation_id == Some(action.conversation_id) {
        false
    } else if action.patient_id == Some(current.patient_id) {
        true
    } else {
        return h
            .ignore("BOOKING_ACTION on an appointment of another conversation or patient")
            .await;
    };
    let mut base = current.clone();
    if adopt {
        base.conversation_id = Some(action.conversation_id);
    }
    match action.action {
        BookingActionKind::Confirm => {
            let confirmable = current.status == AppointmentStatus::Booked
                || current.status.can_become(AppointmentStatus::Booked);
            if !confirmable {
                return h
                    .ignore("confirming an appointment its status does not allow")
                    .await;
            }
            if current.status == AppointmentStatus::Booked
                && current.confirmed_at.is_some()
                && !adopt
            {
                return Ok(h.commit(Vec::new()).await?);
            }
            let mut next = base;
            next.status = AppointmentStatus::Booked;
            next.confirmed_at = current.confirmed_at.or(Some(state.clock.now()));
            change(&h, &current, &next, None, None).await
        }
        BookingActionKind::Cancel => {
            if !current.status.can_become(AppointmentStatus::Cancelled) {
                return h
                    .ignore("cancelling an appointment its status does not allow")
                    .await;
            }
            let reason = optional_multiline_text(action.reason.as_deref(), REASON_CHARS)
                .ok()
                .flatten();
            let parties = parties(
                state,
                current.patient_id,
                current.practitioner_id,
                current.location_id,
            )
            .await?;
            let mut next = base;
            next.status = AppointmentStatus::Cancelled;
            let now = state.clock.now();
            let event = events::cancelled(&next, &parties, reason.clone(), "patient", now);
            change(&h, &current, &next, reason, Some(event)).await
        }
        BookingActionKind::Reschedule => {
            if !current.status.can_be_rescheduled() {
                return h
                    .ignore("moving an appointment its status does not allow")
                    .await;
            }
            let practitioner = state
                .store
                .get_practitioner(current.practitioner_id)
                .await
                .map_err(BookingError::from)?;
            let patient = state
                .store
                .get_patient(current.patient_id)
                .await
                .map_err(BookingError::from)?;
            let template = StoredOffer {
                offer_id: Uuid::nil(),
                conversation_id: action.conversation_id,
                patient_id: Some(patient.id),
                department: practitioner.specialty.clone(),
                preferences: scheduling::SlotPreferences {
                    practitioner_id: Some(practitioner.id),
                    ..Default::default()
                },
                from_date: None,
                locale: patient.locale.unwrap_or(state.booking.default_locale),
                slots: Vec::new(),
                offered: Vec::new(),
                created_at: state.clock.now(),
                urgency: Urgency::Routine,
                phone: Some(patient.phone.clone()),
                reason: current.reason.clone(),
                reschedule: Some(current.id),
            };
            let preface = texts::reschedule(template.locale).to_owned();
            let offer = make_offer(state, template, h.event_id, Vec::new(), Some(preface)).await?;
            Ok(h.commit(vec![offer]).await?)
        }
    }
}

/// Writes a status move of `current` with its event, if any; an appointment changed
/// meanwhile is a retry (decided again on the fresh row).
async fn change(
    h: &Handling<'_>,
    current: &prm_domain::Appointment,
    next: &prm_domain::Appointment,
    reason: Option<String>,
    event: Option<prm_domain::events::Envelope>,
) -> Result<(), HandlerError> {
    let (reason, event, consumer, event_id) = (&reason, &event, h.consumer, h.event_id);
    h.state
        .store
        .write(&producer(h.state), |tx| {
            Box::pin(async move {
                if !tx.record_processed(PROCESSED, consumer, event_id).await? {
                    return Ok(());
                }
                tx.update_appointment(current, next, reason.clone()).await?;
                if let Some(event) = event {
                    tx.announce(event.clone());
                }
                Ok::<_, BookingError>(())
            })
        })
        .await?;
    Ok(())
}

/// What appointments says to the patient in the choreography (the offer itself is
/// `scheduling::render`'s).
mod texts {
    use prm_domain::Locale;

    pub fn taken(locale: Locale) -> &'static str {
        match locale {
            Locale::Es => "Lo siento, ese horario acaba de ser reservado por otra persona.",
            Locale::En => "Sorry, that time was just taken by someone else.",
        }
    }

    pub fn unavailable(locale: Locale) -> &'static str {
        match locale {
            Locale::Es => "Lo siento, ese horario ya no está disponible.",
            Locale::En => "Sorry, that time is no longer available.",
        }
    }

    pub fn expired(locale: Locale) -> &'static str {
        match locale {
            Locale::Es => "Las opciones anteriores ya no están vigentes; te comparto las de ahora.",
            Locale::En => {
                "The earlier options are no longer current; here are the times available now."
            }
        }
    }

    pub fn reschedule(locale: Locale) -> &'static str {
        match locale {
            Locale::Es => "Claro, busquemos otro horario para tu cita.",
            Locale::En => "Sure, let's find another time for your appointment.",
        }
    }
}
