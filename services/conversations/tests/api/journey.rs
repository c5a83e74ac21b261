//! The booking journey as conversations plays it: intake questions in order, triage,
//! the offer, the choice, the confirmation; emergencies escalated and never booked.

use chrono::{FixedOffset, TimeZone};
use prm_domain::events::{
    AppointmentCreated, Envelope, EventType, LocationRef, PatientRef, PractitionerRef,
    SlotSelectionReceived, SlotsOffered, TriageCompleted,
};
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::*;

/// The answers of a Spanish-speaking patient, one message each.
const ANSWERS: [&str; 8] = [
    "Soy Ana Ruiz",
    "nací el 3 de mayo de 1985",
    "me duele el pecho cuando subo escaleras",
    "me falta el aire y me canso",
    "ninguna",
    "ninguno",
    "en Sede Norte",
    "el miércoles en la mañana",
];

#[tokio::test]
async fn the_intake_asks_in_order_then_triage_asks_appointments_for_slots() {
    let app = spawn_app().await;
    let events = app
        .capture(&[EventType::TriageCompleted, EventType::SlotSelectionReceived])
        .await;
    let (id, first) = say(&app, "Hola, necesito una cita con el cardiólogo", 1).await;
    assert!(first.to_lowercase().contains("nombre"), "{first}");
    let mut asked = 1;
    for answer in ANSWERS {
        let state = app
            .get_json(&format!("/api/v1/prm/conversations/{id}/state"))
            .await;
        if state["stage"] != "intake" {
            break;
        }
        asked += 1;
        say(&app, answer, asked).await;
    }
    let triage = events.next("TRIAGE_COMPLETED").await;
    let triage: TriageCompleted = triage.data_as().unwrap();
    assert_eq!(triage.department, "Cardiology");
    assert_eq!(triage.patient_phone.as_str(), PATIENT);
    assert_eq!(triage.patient_name.as_deref(), Some("Ana Ruiz"));
    assert_eq!(
        triage.birth_date.map(|d| d.to_string()).as_deref(),
        Some("1985-05-03")
    );
    assert_eq!(triage.preferences.day_of_week.map(|d| d.number()), Some(2));
    assert!(
        triage.preferences.location_id.is_some(),
        "Sede Norte was named"
    );
    let state = app
        .get_json(&format!("/api/v1/prm/conversations/{id}/state"))
        .await;
    assert_eq!(state["stage"], "triage");
    assert_eq!(state["required_fields"], serde_json::json!([]));
    assert_eq!(state["extracted_data"]["name"], "Ana Ruiz");

    // Appointments offers; the patient chooses; appointments books.
    let offer = offer_for(&triage);
    app.publish(&Envelope::new("appointments", offer.clone()))
        .await;
    let replies = app.bot_replies(&id, asked + 1).await;
    let offer_reply = replies
        .iter()
        .find(|r| r["purpose"] == "slot_offer")
        .expect("offer sent");
    assert_eq!(offer_reply["body"], offer.message);
    let conversation = app
        .get_json(&format!("/api/v1/prm/conversations/{id}"))
        .await;
    assert_eq!(
        conversation["patient_id"],
        offer.patient_id.unwrap().to_string(),
        "the patient appointments registered is the conversation's"
    );
    app.receive(message_received(PATIENT, "la 2")).await;
    let selection: SlotSelectionReceived = events
        .next("SLOT_SELECTION_RECEIVED")
        .await
        .data_as()
        .unwrap();
    assert_eq!(selection.text, "la 2");
    assert_eq!(selection.conversation_id.to_string(), id);
    assert_eq!(
        selection.offer_basis.map(|b| b.department).as_deref(),
        Some("Cardiology"),
        "an expired offer can be made again"
    );
    app.publish(&Envelope::new("appointments", booked(&offer, &id)))
        .await;
    let confirmation = app
        .bot_replies(&id, asked + 2)
        .await
        .into_iter()
        .find(|r| r["purpose"] == "appointment_confirmation")
        .expect("confirmed");
    let body = confirmation["body"].as_str().unwrap();
    assert!(
        body.contains("Dr. Ana Gómez") && body.contains("Sede Norte"),
        "{body}"
    );
    assert!(body.contains("10:00 a. m."), "{body}");
    let conversation = app
        .get_json(&format!("/api/v1/prm/conversations/{id}"))
        .await;
    assert_eq!(conversation["stage"], "booked");
}

#[tokio::test]
async fn an_emergency_is_escalated_with_the_emergency_number_and_never_offered() {
    let app = spawn(Spawn::default().var("EMERGENCY_NUMBER", "911")).await;
    let events = app
        .capture(&[EventType::ConversationEscalated, EventType::TriageCompleted])
        .await;
    let (id, reply) = say(&app, "Hola, no puedo respirar y me duele mucho el pecho", 1).await;
    assert!(reply.contains("911"), "{reply}");
    let escalated = events.next("CONVERSATION_ESCALATED").await;
    assert_eq!(escalated.data["reason"], "emergency");
    assert_eq!(escalated.data["urgency"], "emergency");
    let conversation = app
        .get_json(&format!("/api/v1/prm/conversations/{id}"))
        .await;
    assert_eq!(conversation["stage"], "escalated");
    assert_eq!(conversation["bot_paused"], true);
    // The bot no longer answers; nothing goes to appointments.
    app.receive(message_received(PATIENT, "ayuda por favor"))
        .await;
    app.wait_for_messages(&id, 3).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let bot = app
        .messages(&id)
        .await
        .into_iter()
        .filter(|m| m["author"] == "bot")
        .count();
    assert_eq!(bot, 1);
    assert!(
        events
            .drain()
            .await
            .iter()
            .all(|e| e.event_type != "TRIAGE_COMPLETED"),
        "an emergency is never booked by the bot"
    );
}

#[tokio::test]
async fn an_english_first_message_gets_english_questions() {
    let app = spawn_app().await;
    let (id, reply) = say(&app, "Hi, I need an appointment with a dermatologist", 1).await;
    assert!(reply.to_lowercase().contains("name"), "{reply}");
    let conversation = app
        .get_json(&format!("/api/v1/prm/conversations/{id}"))
        .await;
    assert_eq!(conversation["locale"], "en");
}

/// Two slots, as appointments would offer them.
fn offer_for(triage: &TriageCompleted) -> SlotsOffered {
    let mut offer = <SlotsOffered as prm_domain::events::EventData>::example();
    offer.conversation_id = triage.conversation_id;
    offer.patient_id = Some(Uuid::now_v7());
    offer
}

fn booked(offer: &SlotsOffered, conversation_id: &str) -> AppointmentCreated {
    let slot = &offer.slots[1];
    let bogota = FixedOffset::west_opt(5 * 3600).unwrap();
    let start = bogota.with_ymd_and_hms(2030, 1, 9, 10, 0, 0).unwrap();
    AppointmentCreated {
        appointment_id: Uuid::now_v7(),
        status: prm_domain::AppointmentStatus::Booked,
        start,
        end: start + chrono::TimeDelta::minutes(30),
        patient: PatientRef {
            id: Uuid::now_v7(),
            name: "Ana Ruiz".into(),
            phone: phone(PATIENT),
        },
        practitioner: PractitionerRef {
            id: slot.practitioner.id,
            name: slot.practitioner.name.clone(),
            specialty: slot.practitioner.specialty.clone(),
        },
        location: LocationRef {
            id: slot.location.id,
            name: slot.location.name.clone(),
            timezone: slot.location.timezone,
        },
        conversation_id: conversation_id.parse().ok(),
        channel: Some(prm_domain::Channel::Whatsapp),
    }
}

/// Nothing free hands the conversation to staff; a slot freed for the patient on the
/// waitlist later gives it back to the bot, with the offer sent and answerable.
#[tokio::test]
async fn a_waitlist_offer_reopens_a_conversation_escalated_for_want_of_slots() {
    let app = spawn_app().await;
    let events = app
        .capture(&[EventType::TriageCompleted, EventType::SlotSelectionReceived])
        .await;
    let (id, _) = say(&app, "Hola, necesito una cita con el cardiólogo", 1).await;
    let mut asked = 1;
    for answer in ANSWERS {
        let state = app
            .get_json(&format!("/api/v1/prm/conversations/{id}/state"))
            .await;
        if state["stage"] != "intake" {
            break;
        }
        asked += 1;
        say(&app, answer, asked).await;
    }
    let triage: TriageCompleted = events.next("TRIAGE_COMPLETED").await.data_as().unwrap();

    let mut nothing = offer_for(&triage);
    nothing.slots.clear();
    nothing.message = "No hay horarios. Te anoté en la lista de espera.".into();
    app.publish(&Envelope::new("appointments", nothing)).await;
    app.bot_replies(&id, asked + 1).await;
    let conversation = app
        .get_json(&format!("/api/v1/prm/conversations/{id}"))
        .await;
    assert_eq!(conversation["stage"], "escalated");
    assert_eq!(conversation["bot_paused"], true);

    let mut freed = offer_for(&triage);
    freed.slots.truncate(1);
    freed.message =
        "¡Buenas noticias! Se liberó un horario:\n1. lun 23 nov 10:00\nResponde 1 para tomarlo."
            .into();
    freed.waitlist = true;
    app.publish(&Envelope::new("appointments", freed.clone()))
        .await;
    let replies = app.bot_replies(&id, asked + 2).await;
    assert_eq!(replies.last().unwrap()["body"], freed.message);
    let conversation = app
        .get_json(&format!("/api/v1/prm/conversations/{id}"))
        .await;
    assert_eq!(conversation["stage"], "offering");
    assert_eq!(conversation["bot_paused"], false);

    app.receive(message_received(PATIENT, "1")).await;
    let selection: SlotSelectionReceived = events
        .next("SLOT_SELECTION_RECEIVED")
        .await
        .data_as()
        .unwrap();
    assert_eq!(selection.text, "1");
    assert_eq!(selection.conversation_id.to_string(), id);
}

#[allow(dead_code)]
fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_waitlist_offer_never_reopens_a_conversation_escalated_for_an_emergency() {
    let app = spawn_app().await;
    let events = app
        .capture(&[EventType::TriageCompleted, EventType::ConversationEscalated])
        .await;
    let (id, _) = say(&app, "Hola, necesito una cita con el cardiólogo", 1).await;
    let mut asked = 1;
    for answer in ANSWERS {
        let state = app
            .get_json(&format!("/api/v1/prm/conversations/{id}/state"))
            .await;
        if state["stage"] != "intake" {
            break;
        }
        asked += 1;
        say(&app, answer, asked).await;
    }
    let triage: TriageCompleted = events.next("TRIAGE_COMPLETED").await.data_as().unwrap();
    // Waiting for the offer (stage triage), the patient writes a red flag.
    asked += 1;
    say(&app, "no puedo respirar, me desmayé", asked).await;
    let escalated = events.next("CONVERSATION_ESCALATED").await;
    assert_eq!(escalated.data["reason"], "emergency");

    let mut freed = offer_for(&triage);
    freed.slots.truncate(1);
    freed.message = "¡Buenas noticias! Se liberó un horario. Responde 1 para tomarlo.".into();
    freed.waitlist = true;
    app.publish(&Envelope::new("appointments", freed)).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let conversation = app
        .get_json(&format!("/api/v1/prm/conversations/{id}"))
        .await;
    assert_eq!(conversation["stage"], "escalated");
    assert_eq!(conversation["bot_paused"], true);
    let offered = app
        .messages(&id)
        .await
        .into_iter()
        .filter(|m| m["purpose"] == "slot_offer")
        .count();
    assert_eq!(
        offered, 0,
        "an emergency is never offered a slot by the bot"
    );
}
