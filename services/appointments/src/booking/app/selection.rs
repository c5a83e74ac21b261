//! `select-slot`: the patient's answer to the conversation's current offer books the
//! chosen slot, brings the next best ones ("none of these"), or asks again.

use prm_domain::{
    Channel,
    scheduling::{RankedSlot, Selection, clarify_message, parse_selection, rejection_message},
};
use prm_store::audit::Actor;
use uuid::Uuid;

use super::{
    book::{BookingInput, book_as},
    listing::view,
    search::{SearchInput, records, remember, search},
};
use crate::{
    AppState,
    booking::{
        BookingError,
        offers::{self, StoredOffer},
        views::{AppointmentView, SelectSlotRequest, SelectionOutcome, SelectionReply},
    },
};

/// What `select-slot` did.
pub enum Selected {
    /// Booked now (`replayed = false`) or earlier for the same offer (`true`).
    Booked {
        appointment: AppointmentView,
        replayed: bool,
    },
    Reply(SelectionReply),
}

/// `actor`: who relayed the answer, through the clinic API (a booking is recorded in
/// the audit trail).
pub async fn select_slot(
    state: &AppState,
    req: SelectSlotRequest,
    actor: Option<&Actor>,
) -> Result<Selected, BookingError> {
    let offer = offers::load(state.state.as_ref(), req.conversation_id)
        .await?
        .ok_or(BookingError::NoCurrentOffer)?;
    let offered: Vec<_> = offer.slots.iter().map(|s| s.local_start).collect();
    match parse_selection(&req.text, &offered) {
        Selection::Chosen(index) => {
            let Some(slot) = offer.slots.get(index.saturating_sub(1)) else {
                return Ok(Selected::Reply(clarify(&offer)));
            };
            let patient_id = offer.patient_id.ok_or(BookingError::PatientRequired)?;
            let booking_key = format!("offer:{}", offer.offer_id);
            if let Some(existing) = state.store.appointment_by_booking_key(&booking_key).await? {
                return Ok(Selected::Booked {
                    appointment: view(state, existing).await?,
                    replayed: true,
                });
            }
            let input = BookingInput {
                patient_id,
                practitioner_id: slot.practitioner_id,
                location_id: slot.location_id,
                start: slot.start,
                conversation_id: Some(offer.conversation_id),
                channel: Some(Channel::Whatsapp),
                reason: None,
                notes: None,
                booking_key: Some(booking_key.clone()),
            };
            match book_as(state, input, actor).await {
                Ok(appointment) => Ok(Selected::Booked {
                    appointment,
                    replayed: false,
                }),
                // A concurrent identical request may have won: return its appointment.
                Err(e) if e.code().family() == prm_platform::error::Family::Conflict => {
                    match state.store.appointment_by_booking_key(&booking_key).await? {
                        Some(existing) => Ok(Selected::Booked {
                            appointment: view(state, existing).await?,
                            replayed: true,
                        }),
                        None => Err(e),
                    }
                }
                Err(e) => Err(e),
            }
        }
        Selection::Rejected => {
            let result = search(
                state,
                SearchInput {
                    department: offer.department.clone(),
                    preferences: offer.preferences,
                    limit: offer.slots.len().max(1),
                    from_date: offer.from_date,
                    locale: offer.locale,
                    exclude: offer.offered.clone(),
                    urgency: offer.urgency,
                    only_practitioner: offer.reschedule.and(offer.preferences.practitioner_id),
                },
            )
            .await?;
            let mut offered = offer.offered.clone();
            offered.extend(result.slots.iter().map(RankedSlot::key));
            let next = StoredOffer {
                offer_id: Uuid::now_v7(),
                slots: records(&result.slots),
                offered,
                created_at: state.clock.now(),
                ..offer
            };
            remember(state, &next, &result).await?;
            let message = format!("{}\n{}", rejection_message(next.locale), result.message);
            Ok(Selected::Reply(SelectionReply {
                outcome: SelectionOutcome::Rejected,
                message,
                slots: Some(result.views),
            }))
        }
        Selection::Clarify => Ok(Selected::Reply(clarify(&offer))),
    }
}

fn clarify(offer: &StoredOffer) -> SelectionReply {
    SelectionReply {
        outcome: SelectionOutcome::Clarify,
        message: clarify_message(offer.locale, offer.slots.len()),
        slots: None,
    }
}
