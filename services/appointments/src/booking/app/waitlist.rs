//! The waitlist (issue 14, waitlist backfill; `docs/waitlist.md`).
//!
//! A conversation joins the waitlist of its department when the patient turns down every
//! offer (a "ninguno" that leaves nothing more to offer) or asks for an earlier date
//! ("¿algo más temprano?"); the SLOTS_OFFERED that answers says so.
//!
//! The consumer [`WAITLIST_CONSUMER`] watches slots free up and get taken:
//! * APPOINTMENT_CANCELLED (and the old slot of an APPOINTMENT_RESCHEDULED) frees a slot.
//!   When it starts within [`BACKFILL_WINDOW`] and the slot search still finds it free and
//!   bookable for that practitioner, it is offered to the oldest open entries of the
//!   practitioner's department (at most [`OFFERS_PER_SLOT`]): each gets a single-slot
//!   offer ("responde 1 para tomarlo") in a SLOTS_OFFERED marked `waitlist`.
//! * APPOINTMENT_CREATED (and the new slot of an APPOINTMENT_RESCHEDULED) takes a slot:
//!   the waitlist offers of that slot end. The entry of the conversation that booked it
//!   is fulfilled; every other patient it was offered to is told it is gone and keeps
//!   waiting for the next one.
//!
//! First answer wins because booking is the ordinary offer booking (the database allows
//! one appointment per slot); a late "1" gets the usual "just taken" and a fresh offer.
//! Each event is handled once (processed-events table), and a freed slot is offered to an
//! entry at most once (`waitlist_offers` is keyed by entry and event).

use chrono::{DateTime, Datelike, TimeDelta, Utc};
use prm_bus::{Delivery, HandlerError};
use prm_domain::{
    AppointmentStatus, Channel, Locale, Location, Weekday,
    events::{
        AppointmentCancelled, AppointmentCreated, AppointmentRescheduled, Envelope, EventData,
        MessageSendRequested, Urgency,
    },
    scheduling::{self, MAX_LIMIT, RankedSlot},
};
use prm_store::{AppointmentFilter, StoreError, waitlist::WaitlistEntry};
use uuid::Uuid;

use super::{
    journey::{Handling, PROCESSED, decode, producer},
    search::{SearchInput, records, search},
};
use crate::{
    AppState,
    booking::{
        BookingError, events,
        offers::{self, StoredOffer},
        views::SlotView,
    },
};

/// Consumer name (queue `prm.appointments.waitlist`).
pub const WAITLIST_CONSUMER: &str = "prm.appointments.waitlist";

/// A freed slot is offered to the waitlist when it starts within this time from now.
pub const BACKFILL_WINDOW: TimeDelta = TimeDelta::hours(72);

/// How long an entry waits for a slot before it expires.
pub const ENTRY_LIFETIME: TimeDelta = TimeDelta::days(14);

/// The most waiting patients one freed slot is offered to.
pub const OFFERS_PER_SLOT: usize = 5;

/// The entry `offer` makes for its conversation.
fn entry_for(state: &AppState, offer: &StoredOffer) -> WaitlistEntry {
    let now = state.clock.now();
    WaitlistEntry {
        id: Uuid::now_v7(),
        conversation_id: offer.conversation_id,
        patient_id: offer.patient_id,
        phone: offer.phone.clone(),
        department: offer.department.clone(),
        preferences: offer.preferences,
        locale: offer.locale,
        reason: offer.reason.clone(),
        status: prm_store::waitlist::WaitlistStatus::Waiting,
        created_at: now,
        expires_at: now + ENTRY_LIFETIME,
    }
}

/// Whether a patient of `offer` can wait for a slot: a freed slot can only be booked
/// for a known patient.
pub(super) fn can_wait(offer: &StoredOffer) -> bool {
    offer.patient_id.is_some()
}

/// Commits `published` (the answer telling the patient) with the conversation's entry on
/// the department's waitlist (kept as it is when there is one already) and the record
/// that the event was processed.
pub(super) async fn commit_joining(
    h: &Handling<'_>,
    offer: &StoredOffer,
    published: Vec<Envelope>,
) -> Result<(), HandlerError> {
    let entry = entry_for(h.state, offer);
    let (entry, published, consumer, event_id) = (&entry, &published, h.consumer, h.event_id);
    let joined = h
        .state
        .store
        .write(&producer(h.state), |tx| {
            Box::pin(async move {
                if !tx.record_processed(PROCESSED, consumer, event_id).await? {
                    return Ok(false);
                }
                let joined = tx.join_waitlist(entry).await?;
                for event in published {
                    tx.announce(event.clone());
                }
                Ok::<_, BookingError>(joined)
            })
        })
        .await?;
    if joined {
        tracing::info!(conversation_id = %offer.conversation_id, "joined the waitlist");
    }
    Ok(())
}

/// "¿Algo más temprano?": the conversation joins the waitlist and is offered the soonest
/// slots there are now.
pub(super) async fn earlier(h: &Handling<'_>, offer: StoredOffer) -> Result<(), HandlerError> {
    let waits = can_wait(&offer);
    let locale = offer.locale;
    let mut template = offer.clone();
    template.urgency = Urgency::Urgent;
    let preface = if waits {
        texts::earlier(locale).to_owned()
    } else {
        scheduling::rejection_message(locale)
    };
    let next = super::journey::make_offer(h.state, template, h.event_id, Vec::new(), Some(preface))
        .await?;
    if waits {
        commit_joining(h, &offer, vec![next]).await
    } else {
        Ok(h.commit(vec![next]).await?)
    }
}

/// A slot that freed up or was taken, as the events say it.
struct SlotRef {
    practitioner_id: Uuid,
    start: DateTime<Utc>,
    local_start: DateTime<chrono::FixedOffset>,
}

/// APPOINTMENT_CANCELLED, APPOINTMENT_RESCHEDULED and APPOINTMENT_CREATED: offers a
/// freed slot to the waitlist, and ends the offers of a slot someone booked.
pub async fn on_slot_change(state: &AppState, delivery: &Delivery) -> Result<(), HandlerError> {
    let h = Handling::new(state, delivery);
    if h.already_processed().await? {
        return Ok(());
    }
    let event_type = delivery.envelope.event_type.as_str();
    let (freed, taken) = if event_type == AppointmentCancelled::TYPE.as_str() {
        let c: AppointmentCancelled = decode(delivery)?;
        let freed = SlotRef {
            practitioner_id: c.practitioner.id,
            start: c.start.to_utc(),
            local_start: c.start,
        };
        (Some((freed, Some(c.patient.id))), None)
    } else if event_type == AppointmentRescheduled::TYPE.as_str() {
        let r: AppointmentRescheduled = decode(delivery)?;
        let freed = SlotRef {
            practitioner_id: r.practitioner.id,
            start: r.previous_start.to_utc(),
            local_start: r.previous_start,
        };
        let taken = SlotRef {
            practitioner_id: r.practitioner.id,
            start: r.start.to_utc(),
            local_start: r.start,
        };
        (
            Some((freed, Some(r.patient.id))),
            Some((taken, r.patient.id, r.conversation_id)),
        )
    } else if event_type == AppointmentCreated::TYPE.as_str() {
        let c: AppointmentCreated = decode(delivery)?;
        let taken = SlotRef {
            practitioner_id: c.practitioner.id,
            start: c.start.to_utc(),
            local_start: c.start,
        };
        (None, Some((taken, c.patient.id, c.conversation_id)))
    } else {
        return h.ignore("an event the waitlist does not follow").await;
    };
    let offers = match freed {
        Some((slot, freed_by)) => offers_of_freed_slot(state, h.event_id, &slot, freed_by).await?,
        None => Vec::new(),
    };
    let now = state.clock.now();
    let (offers, taken, consumer, event_id) = (&offers, &taken, h.consumer, h.event_id);
    let (offered, filled) = state
        .store
        .write(&producer(state), |tx| {
            Box::pin(async move {
                if !tx.record_processed(PROCESSED, consumer, event_id).await? {
                    return Ok((0, 0));
                }
                tx.expire_waitlist(now).await?;
                let mut filled = 0;
                if let Some((slot, patient_id, conversation_id)) = taken {
                    let settled = tx
                        .settle_waitlist_slot(
                            slot.practitioner_id,
                            slot.start,
                            *patient_id,
                            *conversation_id,
                            now,
                        )
                        .await?;
                    filled = settled.won.len();
                    for entry in &settled.taken {
                        if let Some(message) = slot_taken_message(entry) {
                            tx.announce(message);
                        }
                    }
                }
                let mut offered = 0;
                for prepared in offers {
                    if tx
                        .offer_from_waitlist(
                            prepared.entry_id,
                            event_id,
                            prepared.offer_id,
                            prepared.practitioner_id,
                            prepared.start,
                            now,
                        )
                        .await?
                    {
                        tx.announce(prepared.event.clone());
                        offered += 1;
                    }
                }
                Ok::<_, BookingError>((offered, filled))
            })
        })
        .await?;
    if offered > 0 {
        tracing::info!(event_id = %h.event_id, offered, "a freed slot offered to the waitlist");
        metrics::counter!("prm_waitlist_offers_total").increment(offered as u64);
    }
    if filled > 0 {
        tracing::info!(event_id = %h.event_id, "a waitlist offer was booked");
        metrics::counter!("prm_waitlist_fills_total").increment(filled as u64);
    }
    Ok(())
}

/// A single-slot offer made to one entry, saved and ready to announce.
struct PreparedOffer {
    entry_id: Uuid,
    offer_id: Uuid,
    practitioner_id: Uuid,
    start: DateTime<Utc>,
    event: Envelope,
}

/// The offers of a freed slot to the waiting entries of its department: none when it
/// starts outside the backfill window, is no longer free or bookable (the slot search for
/// that practitioner does not find it), or nobody waits. Each offer is saved before it
/// is announced, as every offer is.
async fn offers_of_freed_slot(
    state: &AppState,
    event_id: Uuid,
    slot: &SlotRef,
    freed_by: Option<Uuid>,
) -> Result<Vec<PreparedOffer>, BookingError> {
    let now = state.clock.now();
    if slot.start <= now || slot.start > now + BACKFILL_WINDOW {
        return Ok(Vec::new());
    }
    let practitioner = match state.store.get_practitioner(slot.practitioner_id).await {
        Ok(p) => p,
        Err(StoreError::NotFound(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let candidates = state
        .store
        .waiting_entries(&practitioner.specialty, now, (OFFERS_PER_SLOT * 4) as u64)
        .await?;
    let department_ids: Vec<Uuid> = state
        .store
        .practitioners_in_department(&practitioner.specialty)
        .await?
        .iter()
        .map(|p| p.id)
        .collect();
    let mut prepared = Vec::new();
    let mut found: Vec<FoundSlot> = Vec::new();
    for entry in candidates {
        if prepared.len() >= OFFERS_PER_SLOT {
            break;
        }
        let Some(patient_id) = entry.patient_id else {
            continue;
        };
        // Whoever gave the slot up is not offered it back.
        if Some(patient_id) == freed_by {
            continue;
        }
        let Some(reschedule) = what_to_offer(state, patient_id, &department_ids, slot, now).await?
        else {
            continue;
        };
        let ranked = match found.iter().find(|f| f.locale == entry.locale) {
            Some(f) => Some(f.clone()),
            None => {
                let searched =
                    search_freed_slot(state, &practitioner.specialty, slot, entry.locale).await?;
                if let Some(f) = &searched {
                    found.push(f.clone());
                }
                searched
            }
        };
        let Some(FoundSlot {
            ranked,
            mut view,
            locations,
            ..
        }) = ranked
        else {
            tracing::info!(event_id = %event_id, "the freed slot is no longer free or bookable; not offered");
            return Ok(Vec::new());
        };
        view.index = 1;
        let message = format!(
            "{}\n1. {}\n{}",
            texts::freed(entry.locale),
            view.text,
            texts::take_it(entry.locale)
        );
        let offer = StoredOffer {
            offer_id: Uuid::now_v7(),
            conversation_id: entry.conversation_id,
            patient_id: Some(patient_id),
            department: entry.department.clone(),
            // A move keeps its practitioner, also in the offer that follows a late answer.
            preferences: scheduling::SlotPreferences {
                practitioner_id: reschedule
                    .map(|_| slot.practitioner_id)
                    .or(entry.preferences.practitioner_id),
                ..entry.preferences
            },
            from_date: None,
            locale: entry.locale,
            slots: records(std::slice::from_ref(&ranked)),
            offered: vec![ranked.key()],
            created_at: now,
            urgency: Urgency::Routine,
            phone: entry.phone.clone(),
            reason: entry.reason.clone(),
            reschedule,
        };
        // The answer may come any time before the slot starts.
        let ttl = (slot.start - now)
            .to_std()
            .unwrap_or(state.booking.offer_ttl)
            .max(state.booking.offer_ttl);
        offers::save(state.state.as_ref(), &offer, ttl).await?;
        let event = events::waitlist_slot_offered(
            offer.conversation_id,
            offer.patient_id,
            &offer.department,
            std::slice::from_ref(&view),
            &locations,
            &message,
        );
        prepared.push(PreparedOffer {
            entry_id: entry.id,
            offer_id: offer.offer_id,
            practitioner_id: slot.practitioner_id,
            start: slot.start,
            event,
        });
    }
    Ok(prepared)
}

/// What a waiting patient is offered: a new booking (`Some(None)`), or moving their
/// appointment of the department with the same practitioner when the freed slot is
/// sooner (`Some(Some(id))`). `None` when they already have an appointment of the
/// department that the slot would not improve (one patient, one appointment).
async fn what_to_offer(
    state: &AppState,
    patient_id: Uuid,
    department_ids: &[Uuid],
    slot: &SlotRef,
    now: DateTime<Utc>,
) -> Result<Option<Option<Uuid>>, BookingError> {
    let filter = AppointmentFilter {
        patient_id: Some(patient_id),
        from: Some(now),
        ..Default::default()
    };
    let page = prm_store::Page {
        limit: 100,
        offset: 0,
    };
    let upcoming: Vec<_> = state
        .store
        .list_appointments(&filter, page)
        .await?
        .items
        .into_iter()
        .filter(|a| a.status.is_active() && department_ids.contains(&a.practitioner_id))
        .collect();
    if upcoming.is_empty() {
        return Ok(Some(None));
    }
    Ok(upcoming
        .iter()
        .find(|a| {
            a.practitioner_id == slot.practitioner_id
                && a.start > slot.start
                && a.status.can_be_rescheduled()
                && a.status == AppointmentStatus::Booked
        })
        .map(|a| Some(a.id)))
}

/// The freed slot as the slot search finds it now for its practitioner (free, inside
/// the schedule, not in the past nor inside the minimum notice), rendered in `locale`.
async fn search_freed_slot(
    state: &AppState,
    department: &str,
    slot: &SlotRef,
    locale: Locale,
) -> Result<Option<FoundSlot>, BookingError> {
    let local = slot.local_start;
    let preferences = scheduling::SlotPreferences {
        location_id: None,
        day_of_week: Weekday::new(i64::from(local.weekday().num_days_from_monday())).ok(),
        time_of_day: Some(local.time()),
        practitioner_id: Some(slot.practitioner_id),
    };
    // The preferred day, time and practitioner rank the freed slot first.
    let result = search(
        state,
        SearchInput {
            department: department.to_owned(),
            preferences,
            limit: MAX_LIMIT,
            from_date: Some(local.date_naive()),
            locale,
            exclude: Vec::new(),
            urgency: Urgency::Routine,
            only_practitioner: Some(slot.practitioner_id),
        },
    )
    .await?;
    let found = result
        .slots
        .iter()
        .zip(result.views.iter())
        .find(|(s, _)| s.slot.start == slot.start)
        .map(|(s, v)| FoundSlot {
            locale,
            ranked: *s,
            view: v.clone(),
            locations: result.locations.clone(),
        });
    Ok(found)
}

/// The freed slot found by the search, rendered in one locale.
#[derive(Clone)]
struct FoundSlot {
    locale: Locale,
    ranked: RankedSlot,
    view: SlotView,
    locations: Vec<Location>,
}

/// "That time was taken": to a patient offered a freed slot someone else booked first.
fn slot_taken_message(entry: &WaitlistEntry) -> Option<Envelope> {
    let to = entry.phone.clone()?;
    Some(Envelope::new(
        events::SOURCE,
        MessageSendRequested {
            message_id: Uuid::now_v7(),
            conversation_id: Some(entry.conversation_id),
            channel: Channel::Whatsapp,
            to,
            body: texts::gone(entry.locale).to_owned(),
            media: Vec::new(),
            purpose: Some("waitlist_slot_taken".to_owned()),
        },
    ))
}

/// What the waitlist says to the patient.
pub(super) mod texts {
    use prm_domain::Locale;

    /// Added to an offer that leaves nothing more to propose.
    pub fn waitlisted(locale: Locale) -> &'static str {
        match locale {
            Locale::Es => {
                "Te anoté en la lista de espera: si se libera un horario en los próximos días, te escribo por aquí."
            }
            Locale::En => {
                "I've put you on the waitlist: if a time frees up in the coming days, I'll message you here."
            }
        }
    }

    pub fn earlier(locale: Locale) -> &'static str {
        match locale {
            Locale::Es => {
                "Te anoté en la lista de espera: si se libera un horario más temprano, te escribo por aquí. Mientras tanto, estos son los más próximos."
            }
            Locale::En => {
                "I've put you on the waitlist: if an earlier time frees up, I'll message you here. Meanwhile, these are the soonest times."
            }
        }
    }

    pub fn freed(locale: Locale) -> &'static str {
        match locale {
            Locale::Es => "¡Buenas noticias! Se liberó un horario:",
            Locale::En => "Good news! A time just freed up:",
        }
    }

    pub fn take_it(locale: Locale) -> &'static str {
        match locale {
            Locale::Es => "Responde 1 para tomarlo.",
            Locale::En => "Reply 1 to take it.",
        }
    }

    pub fn gone(locale: Locale) -> &'static str {
        match locale {
            Locale::Es => {
                "Lo siento, ese horario ya fue tomado por otra persona. Sigues en la lista de espera y te escribo si se libera otro."
            }
            Locale::En => {
                "Sorry, that time was already taken by someone else. You're still on the waitlist, and I'll message you if another one frees up."
            }
        }
    }
}
