//! The examples of the catalog. Fixed values so generated documents are stable.
#![allow(non_snake_case)]

use super::*;
use crate::Locale;

fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x5f1c_9b1e_0d4a_4c8e_9a4f_0000_0000_0000 | n)
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

fn local(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap_or_default()
}

fn phone(s: &str) -> PhoneNumber {
    // Example numbers are valid E.164; fall back to the clinic's sample number.
    PhoneNumber::parse(s, "57")
        .or_else(|_| PhoneNumber::parse("+573001234567", "57"))
        .unwrap_or_else(|_| unreachable_phone())
}

#[allow(clippy::panic)]
fn unreachable_phone() -> PhoneNumber {
    panic!("the example phone number is valid E.164")
}

fn bogota() -> TimeZone {
    TimeZone::from(chrono_tz::America::Bogota)
}

fn patient() -> PatientRef {
    PatientRef {
        id: id(1),
        name: "María Pérez".into(),
        phone: phone("+573001234567"),
    }
}

fn practitioner() -> PractitionerRef {
    PractitionerRef {
        id: id(2),
        name: "Dr. Ana Gómez".into(),
        specialty: "Cardiology".into(),
    }
}

fn location() -> LocationRef {
    LocationRef {
        id: id(3),
        name: "Sede Norte".into(),
        timezone: bogota(),
    }
}

const CONVERSATION: u128 = 4;
const APPOINTMENT: u128 = 5;
const MESSAGE: u128 = 6;

pub fn MessageReceived() -> super::MessageReceived {
    super::MessageReceived {
        message_id: id(MESSAGE),
        provider: MessageProvider::Twilio,
        provider_message_id: "SM0123456789abcdef0123456789abcdef".into(),
        channel: Channel::Whatsapp,
        from: phone("+573001234567"),
        to: phone("+14155238886"),
        body: "Hola, necesito una cita con cardiología".into(),
        media: vec![],
        profile_name: Some("María".into()),
        wa_id: Some("573001234567".into()),
        transcription: None,
        received_at: utc("2026-11-22T14:03:05Z"),
        intent: None,
        extracted_data: None,
        location: None,
        provider_fields: None,
    }
}

pub fn IntakeUpdated() -> super::IntakeUpdated {
    let mut extracted = serde_json::Map::new();
    extracted.insert("name".into(), "María Pérez".into());
    extracted.insert(
        "chief_complaint".into(),
        "dolor en el pecho al caminar".into(),
    );
    super::IntakeUpdated {
        conversation_id: id(CONVERSATION),
        extracted_data: extracted,
        next_question: Some("¿Cuál es su fecha de nacimiento?".into()),
        intake_complete: false,
        extracted_by: "n8n".into(),
    }
}

pub fn TriageCompleted() -> super::TriageCompleted {
    super::TriageCompleted {
        conversation_id: id(CONVERSATION),
        patient_id: Some(id(1)),
        patient_phone: phone("+573001234567"),
        department: "Cardiology".into(),
        confidence: Some(0.92),
        urgency: Some(Urgency::Routine),
        reasoning: Some("Exertional chest pain without red flags".into()),
        preferences: SlotPreferences {
            location_id: Some(id(3)),
            day_of_week: Weekday::new(0).ok(),
            time_of_day: Some("10:00".into()),
            practitioner_id: None,
        },
        locale: Some(Locale::Es),
        patient_name: Some("María Pérez".into()),
        birth_date: chrono::NaiveDate::from_ymd_opt(1988, 4, 12),
        reason: Some("Dolor en el pecho al subir escaleras".into()),
        soonest: false,
    }
}

pub fn TriageProposed() -> super::TriageProposed {
    super::TriageProposed {
        conversation_id: id(CONVERSATION),
        department: "Cardiology".into(),
        confidence: Some(0.9),
        urgency: Some(Urgency::Routine),
        reasoning: Some("Chest pain on exertion, no red flags".into()),
        proposed_by: "n8n".into(),
    }
}

pub fn BookingAction() -> super::BookingAction {
    super::BookingAction {
        conversation_id: id(CONVERSATION),
        action: BookingActionKind::Cancel,
        appointment_id: Some(id(APPOINTMENT)),
        reason: Some("Patient is travelling".into()),
        patient_id: Some(id(1)),
    }
}

pub fn SlotSelectionReceived() -> super::SlotSelectionReceived {
    super::SlotSelectionReceived {
        conversation_id: id(CONVERSATION),
        message_id: id(7),
        text: "la segunda".into(),
        received_at: utc("2026-11-22T14:05:41Z"),
        offer_basis: None,
    }
}

pub fn SlotsOffered() -> super::SlotsOffered {
    let slot = |index: u32, start: &str, end: &str, text: &str, score| OfferedSlot {
        index,
        start: local(start),
        end: local(end),
        practitioner: practitioner(),
        location: location(),
        score,
        text: text.into(),
    };
    super::SlotsOffered {
        conversation_id: id(CONVERSATION),
        patient_id: Some(id(1)),
        department: "Cardiology".into(),
        slots: vec![
            slot(
                1,
                "2026-11-23T10:00:00-05:00",
                "2026-11-23T10:30:00-05:00",
                "lun 23 nov 10:00 – Dr. Ana Gómez, Sede Norte",
                193,
            ),
            slot(
                2,
                "2026-11-23T10:30:00-05:00",
                "2026-11-23T11:00:00-05:00",
                "lun 23 nov 10:30 – Dr. Ana Gómez, Sede Norte",
                193,
            ),
        ],
        message: "Estos son los horarios disponibles:\n1. lun 23 nov 10:00 – Dr. Ana Gómez, Sede Norte\n2. lun 23 nov 10:30 – Dr. Ana Gómez, Sede Norte\nResponda con el número de su preferencia.".into(),
        waitlist: false,
    }
}

pub fn AppointmentCreated() -> super::AppointmentCreated {
    super::AppointmentCreated {
        appointment_id: id(APPOINTMENT),
        status: AppointmentStatus::Booked,
        start: local("2026-11-23T10:30:00-05:00"),
        end: local("2026-11-23T11:00:00-05:00"),
        patient: patient(),
        practitioner: practitioner(),
        location: location(),
        conversation_id: Some(id(CONVERSATION)),
        channel: Some(Channel::Whatsapp),
    }
}

pub fn AppointmentCancelled() -> super::AppointmentCancelled {
    super::AppointmentCancelled {
        appointment_id: id(APPOINTMENT),
        status: AppointmentStatus::Cancelled,
        start: local("2026-11-23T10:30:00-05:00"),
        end: local("2026-11-23T11:00:00-05:00"),
        reason: Some("Patient is travelling".into()),
        cancelled_at: utc("2026-11-22T16:20:00Z"),
        cancelled_by: "patient".into(),
        patient: patient(),
        practitioner: practitioner(),
        location: location(),
        conversation_id: Some(id(CONVERSATION)),
        channel: Some(Channel::Whatsapp),
    }
}

pub fn AppointmentRescheduled() -> super::AppointmentRescheduled {
    super::AppointmentRescheduled {
        appointment_id: id(APPOINTMENT),
        status: AppointmentStatus::Booked,
        previous_start: local("2026-11-23T10:30:00-05:00"),
        previous_end: local("2026-11-23T11:00:00-05:00"),
        start: local("2026-11-25T15:00:00-05:00"),
        end: local("2026-11-25T15:30:00-05:00"),
        reason: Some("Patient asked for an afternoon slot".into()),
        rescheduled_at: utc("2026-11-22T16:25:00Z"),
        patient: patient(),
        practitioner: practitioner(),
        location: location(),
        conversation_id: Some(id(CONVERSATION)),
        channel: Some(Channel::Whatsapp),
    }
}

pub fn ReminderDue() -> super::ReminderDue {
    super::ReminderDue {
        job_id: id(9),
        kind: ReminderKind::Reminder,
        appointment_id: id(APPOINTMENT),
        status: AppointmentStatus::Booked,
        start: local("2026-11-23T10:30:00-05:00"),
        end: local("2026-11-23T11:00:00-05:00"),
        patient: patient(),
        practitioner: practitioner(),
        location: location(),
        conversation_id: Some(id(CONVERSATION)),
        channel: Some(Channel::Whatsapp),
        locale: Some(Locale::Es),
        due_at: utc("2026-11-22T15:00:00Z"),
        follow_up_date: None,
    }
}

pub fn MessageSendRequested() -> super::MessageSendRequested {
    super::MessageSendRequested {
        message_id: id(8),
        conversation_id: Some(id(CONVERSATION)),
        channel: Channel::Whatsapp,
        to: phone("+573001234567"),
        body: "Su cita quedó agendada: lun 23 nov 10:30 con Dr. Ana Gómez, Sede Norte.".into(),
        media: vec![],
        purpose: Some("appointment_confirmation".into()),
    }
}

pub fn MessageSent() -> super::MessageSent {
    super::MessageSent {
        message_id: id(8),
        conversation_id: Some(id(CONVERSATION)),
        provider: MessageProvider::Twilio,
        provider_message_id: Some("SMfedcba9876543210fedcba9876543210".into()),
        channel: Channel::Whatsapp,
        to: phone("+573001234567"),
        sent_at: utc("2026-11-22T14:06:02Z"),
    }
}

pub fn MessageStatusUpdated() -> super::MessageStatusUpdated {
    super::MessageStatusUpdated {
        message_id: Some(id(8)),
        provider: MessageProvider::Twilio,
        provider_message_id: "SMfedcba9876543210fedcba9876543210".into(),
        status: DeliveryStatus::Delivered,
        error_code: None,
        updated_at: utc("2026-11-22T14:06:05Z"),
    }
}

pub fn ConversationOpened() -> super::ConversationOpened {
    super::ConversationOpened {
        conversation_id: id(CONVERSATION),
        phone: phone("+573001234567"),
        channel: Channel::Whatsapp,
        patient_id: None,
        locale: Locale::Es,
        opened_by: "patient".into(),
        opened_at: utc("2026-11-22T14:03:07Z"),
    }
}

pub fn ConversationUpdated() -> super::ConversationUpdated {
    super::ConversationUpdated {
        conversation_id: id(CONVERSATION),
        changed: vec!["bot_paused".into(), "assignee".into()],
        status: "open".into(),
        bot_paused: true,
        assignee: Some("recepcion@clinica.example".into()),
        locale: Locale::Es,
        patient_id: None,
        updated_at: utc("2026-11-22T14:10:00Z"),
    }
}

pub fn ConversationClosed() -> super::ConversationClosed {
    super::ConversationClosed {
        conversation_id: id(CONVERSATION),
        patient_id: Some(patient().id),
        stage: "booked".into(),
        closed_at: utc("2026-11-22T15:00:00Z"),
    }
}

pub fn ConversationEscalated() -> super::ConversationEscalated {
    super::ConversationEscalated {
        conversation_id: id(CONVERSATION),
        patient_id: None,
        phone: phone("+573001234567"),
        urgency: Urgency::Emergency,
        reason: "emergency".into(),
        escalated_at: utc("2026-11-22T14:04:00Z"),
    }
}
