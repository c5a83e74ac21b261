//! OpenAPI examples of the booking responses, produced by the code that produces the
//! real answers (slot search and rendering from `prm-domain`, [`AppointmentView::new`]),
//! so the documented slots, scores and WhatsApp `message` are exactly what the service
//! would send for the request examples: the demo clinic's Dr. Ana Gómez (Cardiology,
//! Sede Norte, Monday, Wednesday and Friday 08:00–12:00), searched on Friday 2026-12-04
//! for "Monday around 10:00", in English.

use chrono::{DateTime, NaiveTime, TimeDelta, TimeZone as _, Utc};
use prm_domain::{
    Appointment, AppointmentStatus, Channel, Locale, Location, Practitioner, PractitionerSchedule,
    Weekday,
    scheduling::{
        Clinic, RankedSlot, SlotPreferences, SlotQuery, clarify_message, find_slots,
        rejection_message,
    },
};
use prm_platform::{ApiError, ErrorCode};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    BookingError,
    views::{AppointmentView, FindSlotsResponse, SelectionOutcome, SelectionReply, render_slots},
};

/// Ids of the request examples (views.rs) and of the demo clinic (demo.rs).
const LOCATION_ID: u128 = 0x0193_0000_0000_7000_8000_0000_0000_0001;
const PRACTITIONER_ID: u128 = 0x0193_0000_0000_7000_8000_0000_0000_0101;
const CONVERSATION_ID: u128 = 0x0193_a5e4_1111_7000_8000_0000_0000_0001;
const PATIENT_ID: u128 = 0x0193_a5e4_2222_7000_8000_0000_0000_0001;
const OFFER_ID: u128 = 0x0193_a5e4_3333_7000_8000_0000_0000_0001;
const APPOINTMENT_ID: u128 = 0x0193_a5e4_4444_7000_8000_0000_0000_0001;

struct ExampleClinic {
    locations: Vec<Location>,
    practitioners: Vec<Practitioner>,
    schedules: Vec<PractitionerSchedule>,
}

fn at(hour: u32, minute: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(hour, minute, 0).unwrap_or_default()
}

fn example_clinic() -> ExampleClinic {
    let location = Location {
        id: Uuid::from_u128(LOCATION_ID),
        name: "Sede Norte".to_owned(),
        timezone: chrono_tz::America::Bogota.into(),
        address: Some("Calle 127 # 15-20".to_owned()),
        city: Some("Bogotá".to_owned()),
        phone: None,
    };
    let practitioner = Practitioner {
        id: Uuid::from_u128(PRACTITIONER_ID),
        name: "Dr. Ana Gómez".to_owned(),
        specialty: "Cardiology".to_owned(),
        phone: None,
        active: true,
    };
    let schedules = [0u8, 2, 4]
        .into_iter()
        .filter_map(|day| Weekday::try_from(day).ok())
        .map(|day_of_week| PractitionerSchedule {
            id: Uuid::from_u128(PRACTITIONER_ID + (u128::from(day_of_week.number()) << 16)),
            practitioner_id: practitioner.id,
            location_id: location.id,
            day_of_week,
            start_time: at(8, 0),
            end_time: at(12, 0),
            slot_minutes: 30,
            valid_from: None,
            valid_to: None,
        })
        .collect();
    ExampleClinic {
        locations: vec![location],
        practitioners: vec![practitioner],
        schedules,
    }
}

impl ExampleClinic {
    fn clinic(&self) -> Clinic<'_> {
        Clinic {
            locations: &self.locations,
            practitioners: &self.practitioners,
            schedules: &self.schedules,
            busy: &[],
        }
    }

    /// The find-slots request example, asked at [`searched_at`].
    fn search(&self, exclude: &[RankedSlot]) -> Vec<RankedSlot> {
        let mut query = SlotQuery::new("Cardiology", searched_at());
        query.preferences = SlotPreferences {
            day_of_week: Weekday::new(0).ok(),
            time_of_day: Some(at(10, 0)),
            ..SlotPreferences::default()
        };
        query.exclude = exclude.iter().map(RankedSlot::key).collect();
        find_slots(&self.clinic(), &query).slots
    }
}

/// Friday 2026-12-04, 09:00 in Bogotá.
fn searched_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 14, 0, 0)
        .single()
        .unwrap_or_default()
}

fn to_json(value: impl serde::Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// `POST find-slots` → 200, for the request example.
pub fn find_slots_response() -> Value {
    let clinic = example_clinic();
    let slots = clinic.search(&[]);
    let (slots, message) = render_slots(Locale::En, &slots, &clinic.clinic());
    to_json(FindSlotsResponse {
        slots,
        message,
        offer_id: Some(Uuid::from_u128(OFFER_ID)),
        location_fallback: false,
    })
}

/// `select-slot` → 200 `rejected`: "none of these" gets the next best five.
pub fn rejected_reply() -> Value {
    let clinic = example_clinic();
    let first = clinic.search(&[]);
    let next = clinic.search(&first);
    let (slots, message) = render_slots(Locale::En, &next, &clinic.clinic());
    to_json(SelectionReply {
        outcome: SelectionOutcome::Rejected,
        message: format!("{}\n{message}", rejection_message(Locale::En)),
        slots: Some(slots),
    })
}

/// `select-slot` → 200 `clarify`.
pub fn clarify_reply() -> Value {
    to_json(SelectionReply {
        outcome: SelectionOutcome::Clarify,
        message: clarify_message(Locale::En, 5),
        slots: None,
    })
}

/// The appointment `select-slot` books for "la segunda": the second slot offered.
fn booked_from_offer() -> Appointment {
    let clinic = example_clinic();
    let offered = clinic.search(&[]);
    let slot = offered.get(1).map(|s| s.slot);
    let start = slot.map_or_else(searched_at, |s| s.start);
    Appointment {
        id: Uuid::from_u128(APPOINTMENT_ID),
        status: AppointmentStatus::Booked,
        start,
        end: slot.map_or(start, |s| s.end),
        patient_id: Uuid::from_u128(PATIENT_ID),
        practitioner_id: Uuid::from_u128(PRACTITIONER_ID),
        location_id: Uuid::from_u128(LOCATION_ID),
        conversation_id: Some(Uuid::from_u128(CONVERSATION_ID)),
        channel: Some(Channel::Whatsapp),
        reason: None,
        notes: None,
        cancellation_reason: None,
        created_at: searched_at() + TimeDelta::seconds(72),
        follow_up_date: None,
        confirmed_at: None,
    }
}

fn view(a: Appointment) -> Value {
    let clinic = example_clinic();
    to_json(AppointmentView::new(a, clinic.locations.first()))
}

/// `select-slot` → 201, `GET /appointments/{id}`.
pub fn booked_appointment() -> Value {
    view(booked_from_offer())
}

/// `POST /appointments` (front desk) → 201, for its request example.
pub fn front_desk_appointment() -> Value {
    let start = Utc
        .with_ymd_and_hms(2026, 12, 7, 15, 0, 0)
        .single()
        .unwrap_or_default();
    view(Appointment {
        id: Uuid::from_u128(APPOINTMENT_ID + 1),
        start,
        end: start + TimeDelta::minutes(30),
        conversation_id: None,
        channel: Some(Channel::Phone),
        reason: Some("Chest pain when climbing stairs".to_owned()),
        ..booked_from_offer()
    })
}

/// `PATCH /appointments/{id}` → 200, for its request example (moved to Wednesday 11:00).
pub fn rescheduled_appointment() -> Value {
    let start = Utc
        .with_ymd_and_hms(2026, 12, 9, 16, 0, 0)
        .single()
        .unwrap_or_default();
    view(Appointment {
        start,
        end: start + TimeDelta::minutes(30),
        notes: Some("Patient asked for a later time".to_owned()),
        ..booked_from_offer()
    })
}

/// `POST /appointments/{id}/cancel` → 200, for its request example.
pub fn cancelled_appointment() -> Value {
    view(Appointment {
        status: AppointmentStatus::Cancelled,
        cancellation_reason: Some("Patient is travelling".to_owned()),
        ..booked_from_offer()
    })
}

/// `GET /appointments` → 200.
pub fn appointment_list() -> Value {
    json!({
        "items": [booked_appointment(), front_desk_appointment()],
        "total": 2,
        "limit": 20,
        "offset": 0
    })
}

/// 404 for an unknown appointment id.
pub fn appointment_not_found() -> Value {
    ApiError::not_found("Appointment").example()
}

/// 404 from `select-slot` when the conversation's offer expired.
pub fn offer_not_found() -> Value {
    ApiError::from(BookingError::NoCurrentOffer).example()
}

/// 409 when another booking took the slot first.
pub fn slot_taken() -> Value {
    ErrorCode::SlotTaken.example()
}

/// 409 for a change the appointment's status does not allow.
pub fn cancelled_twice() -> Value {
    ApiError::from(BookingError::InvalidTransition {
        from: AppointmentStatus::Cancelled,
        to: "cancelled",
    })
    .example()
}

/// 409 for rescheduling a cancelled appointment.
pub fn rescheduled_after_cancelling() -> Value {
    ApiError::from(BookingError::InvalidTransition {
        from: AppointmentStatus::Cancelled,
        to: "rescheduled",
    })
    .example()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn examples_are_what_the_search_really_answers() {
        let response = find_slots_response();
        let slots = response["slots"].as_array().unwrap();
        assert_eq!(slots.len(), 5);
        // 10:00 itself first among equal scores (closest to the preferred time).
        assert_eq!(slots[0]["start"], "2026-12-07T10:00:00-05:00");
        // Monday +100, within 1 h of 10:00 +50, three days after Friday 14 − 3 = 11.
        assert_eq!(slots[0]["score"], 161);
        let message = response["message"].as_str().unwrap();
        assert!(message.starts_with(
            "Here are available appointment times:\n1. Monday, Dec 7 at 10:00 AM - Dr. Ana Gómez at Sede Norte\n2. "
        ));
        // Spread over days: the next Monday (7 points less) before a fourth slot of Dec 7.
        assert!(
            slots
                .iter()
                .any(|s| s["start"] == "2026-12-14T10:00:00-05:00")
        );
        let booked = booked_appointment();
        assert_eq!(booked["start"], slots[1]["start"], "\"la segunda\"");
        assert_eq!(booked["cancellation_reason"], Value::Null);
        let rejected = rejected_reply();
        let next = rejected["slots"].as_array().unwrap();
        assert_eq!(next.len(), 5);
        assert!(
            next.iter()
                .all(|s| !slots.iter().any(|f| f["start"] == s["start"]))
        );
        assert_eq!(
            cancelled_appointment()["cancellation_reason"],
            "Patient is travelling"
        );
        assert_eq!(
            rescheduled_appointment()["start"],
            "2026-12-09T11:00:00-05:00"
        );
        assert_eq!(
            front_desk_appointment()["start"],
            "2026-12-07T10:00:00-05:00"
        );
    }
}
