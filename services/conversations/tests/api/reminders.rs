//! Reminders the patient answers: REMINDER_DUE (appointments' scheduler) is written with
//! the template in the patient's language and sent once; "1", "2", "3" and their words
//! go back to appointments as BOOKING_ACTION.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use prm_domain::{
    Locale,
    events::{
        AppointmentCancelled, AppointmentRescheduled, BookingAction, BookingActionKind,
        ConversationOpened, Envelope, EventData, EventType, LocationRef, PatientRef,
        PractitionerRef, ReminderDue, ReminderKind, SlotSelectionReceived, SlotsOffered,
    },
};
use prm_store::{LocationFilter, Page, PractitionerFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;

const PATIENT_NAME: &str = "María Pérez";

/// The appointment: Wednesday 9 January 2030, 10:00 in Bogotá (15:00 UTC).
fn start() -> DateTime<Utc> {
    prm_testkit::time::bogota("2030-01-09 10:00")
}

struct Reminders {
    location: LocationRef,
    practitioner: PractitionerRef,
    patient_id: Uuid,
}

impl Reminders {
    /// The demo clinic's first location and practitioner.
    async fn of(app: &TestApp) -> Self {
        let page = Page {
            limit: 10,
            offset: 0,
        };
        let store = &app.app.store;
        let location = store
            .list_locations(&LocationFilter::default(), page)
            .await
            .unwrap()
            .items
            .remove(0);
        let practitioner = store
            .list_practitioners(&PractitionerFilter::default(), page)
            .await
            .unwrap()
            .items
            .remove(0);
        Self {
            location: LocationRef {
                id: location.id,
                name: location.name,
                timezone: location.timezone,
            },
            practitioner: PractitionerRef {
                id: practitioner.id,
                name: practitioner.name,
                specialty: practitioner.specialty,
            },
            patient_id: Uuid::now_v7(),
        }
    }

    /// A job of `kind` for a new appointment at [`start`], given in UTC: the message
    /// must say it on the location's wall clock.
    fn due(&self, kind: ReminderKind, conversation_id: Option<&str>) -> ReminderDue {
        let start = start();
        ReminderDue {
            job_id: Uuid::now_v7(),
            kind,
            appointment_id: Uuid::now_v7(),
            status: prm_domain::AppointmentStatus::Booked,
            start: start.fixed_offset(),
            end: (start + TimeDelta::minutes(30)).fixed_offset(),
            patient: PatientRef {
                id: self.patient_id,
                name: PATIENT_NAME.into(),
                phone: phone(PATIENT),
            },
            practitioner: self.practitioner.clone(),
            location: self.location.clone(),
            conversation_id: conversation_id.map(|id| id.parse().unwrap()),
            channel: Some(prm_domain::Channel::Whatsapp),
            locale: Some(Locale::Es),
            due_at: start - TimeDelta::days(1),
            follow_up_date: None,
        }
    }

    /// The default Spanish reminder for [`start`].
    fn spanish_reminder(&self) -> String {
        format!(
            "Hola {PATIENT_NAME}, te recordamos tu cita de {} el miércoles 9 de enero a las 10:00 a. m. con {} en {}. Responde 1 para confirmar, 2 para cambiarla o 3 para cancelarla.",
            self.practitioner.specialty, self.practitioner.name, self.location.name
        )
    }
}

/// An open conversation of the patient with nothing said yet.
async fn open_conversation(app: &TestApp) -> String {
    let r = app
        .post(
            "/api/v1/prm/conversations",
            json!({"phone": PATIENT, "channel": "whatsapp"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

/// Publishes a job's REMINDER_DUE and waits for the conversation's `n`-th bot message.
async fn remind(app: &TestApp, due: &ReminderDue, conversation_id: &str, n: usize) -> Value {
    app.publish(&Envelope::new("appointments", due.clone()))
        .await;
    app.bot_replies(conversation_id, n).await.remove(n - 1)
}

/// The patient writes `text`; returns the bot's `n`-th message after it.
async fn answer(app: &TestApp, conversation_id: &str, text: &str, n: usize) -> Value {
    app.receive(message_received(PATIENT, text)).await;
    app.bot_replies(conversation_id, n).await.remove(n - 1)
}

async fn conversation(app: &TestApp, id: &str) -> Value {
    app.get_json(&format!("/api/v1/prm/conversations/{id}"))
        .await
}

/// The bot's messages once the bus had time to deliver anything else.
async fn settled_bot_messages(app: &TestApp, id: &str) -> Vec<Value> {
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.messages(id)
        .await
        .into_iter()
        .filter(|m| m["author"] == "bot")
        .collect()
}

fn booking_action(envelope: &Envelope) -> BookingAction {
    assert_eq!(envelope.source, "conversations");
    envelope.data_as().unwrap()
}

#[tokio::test]
async fn a_reminder_is_sent_once_with_the_template_on_the_locations_wall_clock() {
    let app = spawn_app().await;
    let clinic = Reminders::of(&app).await;
    // A reminder is usually outside WhatsApp's 24-hour window (this conversation has no
    // message from the patient): it leaves as the clinic's approved provider template.
    let r = app
        .kit
        .put(
            "/api/v1/prm/templates/reminder/es",
            json!({
                "body": prm_domain::templates::default_text(
                    prm_domain::templates::TemplatePurpose::Reminder,
                    prm_domain::Locale::Es,
                ),
                "twilio": {"content_sid": "HX0123456789abcdef0123456789abcdef"}
            }),
        )
        .await;
    assert_eq!(r.status(), 200);
    let id = open_conversation(&app).await;
    let due = clinic.due(ReminderKind::Reminder, Some(&id));
    let event = Envelope::new("appointments", due.clone());
    app.publish(&event).await;
    app.publish(&event).await;
    // The scheduler publishing the same job again (a new event) sends nothing more.
    app.publish(&Envelope::new("appointments", due.clone()))
        .await;
    app.bot_replies(&id, 1).await;
    let sent = settled_bot_messages(&app, &id).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["id"], due.job_id.to_string());
    assert_eq!(sent[0]["purpose"], "appointment_reminder");
    assert_eq!(sent[0]["body"], clinic.spanish_reminder());
    assert_eq!(app.recording.len(), 1, "handed to the sender once");
    let recorded = &app.recording.recorded()[0].message;
    let template = recorded
        .template
        .as_ref()
        .expect("sent as the approved template");
    assert_eq!(template.content_sid, "HX0123456789abcdef0123456789abcdef");
    let variables = template.variables.as_ref().expect("its variables");
    assert_eq!(variables["4"], "10:00 a. m.", "{variables}");
    let c = conversation(&app, &id).await;
    assert_eq!(c["patient_id"], clinic.patient_id.to_string());
    assert_eq!(c["stage"], "booked");
}

#[tokio::test]
async fn a_reminder_to_a_closed_conversation_opens_one_by_system_in_the_patients_language() {
    let app = spawn_app().await;
    let clinic = Reminders::of(&app).await;
    let events = app
        .capture(&[EventType::ConversationOpened, EventType::BookingAction])
        .await;
    let closed = open_conversation(&app).await;
    let r = app
        .patch(
            &format!("/api/v1/prm/conversations/{closed}"),
            json!({"status": "closed"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    events.next("CONVERSATION_OPENED").await;
    let mut due = clinic.due(ReminderKind::Reminder, Some(&closed));
    due.locale = Some(Locale::En);
    app.publish(&Envelope::new("appointments", due.clone()))
        .await;
    let opened: ConversationOpened = events.next("CONVERSATION_OPENED").await.data_as().unwrap();
    assert_eq!(opened.opened_by, "system");
    assert_ne!(opened.conversation_id.to_string(), closed);
    assert_eq!(opened.patient_id, Some(clinic.patient_id));
    let id = opened.conversation_id.to_string();
    let reminder = app.bot_replies(&id, 1).await.remove(0);
    assert_eq!(reminder["id"], due.job_id.to_string());
    let body = reminder["body"].as_str().unwrap();
    assert!(
        body.starts_with("Hi María Pérez, this is a reminder")
            && body.contains("on Wednesday, January 9 at 10:00 AM"),
        "{body}"
    );
    assert!(
        app.messages(&closed).await.is_empty(),
        "nothing in the closed one"
    );
    let c = conversation(&app, &id).await;
    assert_eq!(c["locale"], "en");
    assert_eq!(c["stage"], "booked");

    let ack = answer(&app, &id, "Yes", 2).await;
    assert_eq!(ack["body"], "Thank you! Your appointment is confirmed.");
    let action = booking_action(&events.next("BOOKING_ACTION").await);
    assert_eq!(action.conversation_id, opened.conversation_id);
    assert_eq!(action.action, BookingActionKind::Confirm);
    assert_eq!(action.appointment_id, Some(due.appointment_id));
    assert_eq!(action.patient_id, Some(clinic.patient_id));
}

#[tokio::test]
async fn answering_1_or_si_confirms_the_reminded_appointment_once() {
    let app = spawn_app().await;
    let clinic = Reminders::of(&app).await;
    let events = app.capture(&[EventType::BookingAction]).await;
    let id = open_conversation(&app).await;

    let first = clinic.due(ReminderKind::Reminder, Some(&id));
    remind(&app, &first, &id, 1).await;
    let ack = answer(&app, &id, "1", 2).await;
    assert_eq!(ack["body"], "¡Gracias! Tu cita queda confirmada.");
    let envelope = events.next("BOOKING_ACTION").await;
    assert_eq!(
        envelope.data,
        json!({
            "conversation_id": id,
            "action": "confirm",
            "appointment_id": first.appointment_id,
            "reason": null,
            "patient_id": clinic.patient_id,
        })
    );
    // Answered: a second "1" is no longer an answer.
    let reply = answer(&app, &id, "1", 3).await;
    assert_eq!(reply["purpose"], "already_booked");

    let second = clinic.due(ReminderKind::Reminder, Some(&id));
    remind(&app, &second, &id, 4).await;
    answer(&app, &id, "¡Sí!", 5).await;
    let action = booking_action(&events.next("BOOKING_ACTION").await);
    assert_eq!(action.action, BookingActionKind::Confirm);
    assert_eq!(action.appointment_id, Some(second.appointment_id));
    settled_bot_messages(&app, &id).await;
    assert!(
        events.drain().await.is_empty(),
        "one BOOKING_ACTION per answer"
    );
}

#[tokio::test]
async fn answering_3_cancels_and_the_next_message_starts_a_new_intake() {
    let app = spawn_app().await;
    let clinic = Reminders::of(&app).await;
    let events = app.capture(&[EventType::BookingAction]).await;
    let id = open_conversation(&app).await;
    let due = clinic.due(ReminderKind::Reminder, Some(&id));
    remind(&app, &due, &id, 1).await;
    app.receive(message_received(PATIENT, "3")).await;
    let action = booking_action(&events.next("BOOKING_ACTION").await);
    assert_eq!(action.action, BookingActionKind::Cancel);
    assert_eq!(action.appointment_id, Some(due.appointment_id));
    assert_eq!(action.reason, None);
    // APPOINTMENT_CANCELLED brings the cancellation message: nothing else now.
    assert_eq!(settled_bot_messages(&app, &id).await.len(), 1);
    assert_eq!(conversation(&app, &id).await["stage"], "intake");
    let question = answer(&app, &id, "Hola", 2).await;
    assert_eq!(question["purpose"], "intake_question");
}

#[tokio::test]
async fn no_puedo_asks_for_another_time_and_the_new_offer_is_chosen_from() {
    let app = spawn_app().await;
    let clinic = Reminders::of(&app).await;
    let events = app
        .capture(&[EventType::BookingAction, EventType::SlotSelectionReceived])
        .await;
    let id = open_conversation(&app).await;
    let due = clinic.due(ReminderKind::Reminder, Some(&id));
    remind(&app, &due, &id, 1).await;
    app.receive(message_received(PATIENT, "No puedo")).await;
    let action = booking_action(&events.next("BOOKING_ACTION").await);
    assert_eq!(action.action, BookingActionKind::Reschedule);
    assert_eq!(action.appointment_id, Some(due.appointment_id));
    assert_eq!(
        settled_bot_messages(&app, &id).await.len(),
        1,
        "appointments' offer opens with \"busquemos otro horario\""
    );

    // Appointments offers the practitioner's slots.
    let mut offer = SlotsOffered::example();
    offer.conversation_id = id.parse().unwrap();
    offer.patient_id = Some(clinic.patient_id);
    app.publish(&Envelope::new("appointments", offer.clone()))
        .await;
    let sent = app.bot_replies(&id, 2).await.remove(1);
    assert_eq!(sent["purpose"], "slot_offer");
    assert_eq!(sent["body"], offer.message);
    assert_eq!(conversation(&app, &id).await["stage"], "offering");

    // "2" is now a slot, not a reminder's answer.
    app.receive(message_received(PATIENT, "2")).await;
    let selection: SlotSelectionReceived = events
        .next("SLOT_SELECTION_RECEIVED")
        .await
        .data_as()
        .unwrap();
    assert_eq!(selection.text, "2");
    assert_eq!(
        selection.offer_basis, None,
        "never renewed as a new booking"
    );

    let mut moved = AppointmentRescheduled::example();
    moved.appointment_id = due.appointment_id;
    moved.conversation_id = Some(offer.conversation_id);
    app.publish(&Envelope::new("appointments", moved)).await;
    let told = app.bot_replies(&id, 3).await.remove(2);
    assert_eq!(told["purpose"], "appointment_reschedule");
    assert_eq!(conversation(&app, &id).await["stage"], "booked");
    assert!(
        events
            .drain()
            .await
            .iter()
            .all(|e| e.event_type != "BOOKING_ACTION"),
        "one action"
    );
}

#[tokio::test]
async fn something_else_gets_one_clarifying_question_and_the_answer_still_counts() {
    let app = spawn_app().await;
    let clinic = Reminders::of(&app).await;
    let events = app.capture(&[EventType::BookingAction]).await;
    let id = open_conversation(&app).await;
    let due = clinic.due(ReminderKind::Reminder, Some(&id));
    remind(&app, &due, &id, 1).await;
    let clarify = answer(&app, &id, "hola?", 2).await;
    assert_eq!(
        clarify["body"],
        "Responde 1 para confirmar, 2 para cambiar o 3 para cancelar tu cita."
    );
    // Once: the next message that is not an answer gets the booked stage's reply.
    let again = answer(&app, &id, "hola?", 3).await;
    assert_eq!(again["purpose"], "already_booked");
    answer(&app, &id, "confirmo", 4).await;
    // The first BOOKING_ACTION is the answer's: "hola?" published none.
    let action = booking_action(&events.next("BOOKING_ACTION").await);
    assert_eq!(action.action, BookingActionKind::Confirm);
    assert_eq!(action.appointment_id, Some(due.appointment_id));
    settled_bot_messages(&app, &id).await;
    assert!(events.drain().await.is_empty());
}

#[tokio::test]
async fn a_new_request_while_a_reminder_awaits_goes_to_the_journey() {
    let app = spawn_app().await;
    let clinic = Reminders::of(&app).await;
    let events = app.capture(&[EventType::BookingAction]).await;
    let id = open_conversation(&app).await;
    remind(&app, &clinic.due(ReminderKind::Reminder, Some(&id)), &id, 1).await;
    let reply = answer(&app, &id, "Quiero otra cita con dermatología", 2).await;
    assert_eq!(reply["purpose"], "intake_question");
    assert_eq!(conversation(&app, &id).await["stage"], "intake");
    settled_bot_messages(&app, &id).await;
    assert!(events.drain().await.is_empty());
}

#[tokio::test]
async fn a_follow_up_is_sent_and_awaits_no_answer() {
    let app = spawn_app().await;
    let clinic = Reminders::of(&app).await;
    let events = app.capture(&[EventType::BookingAction]).await;
    let id = open_conversation(&app).await;
    let mut due = clinic.due(ReminderKind::FollowUp, Some(&id));
    due.follow_up_date = Some(start().date_naive());
    let sent = remind(&app, &due, &id, 1).await;
    assert_eq!(sent["id"], due.job_id.to_string());
    assert_eq!(sent["purpose"], "appointment_follow_up");
    assert_eq!(
        sent["body"],
        format!(
            "Hola {PATIENT_NAME}, hoy es la fecha de control que te indicó {}. ¿Quieres que agendemos tu cita de {}? Responde a este mensaje y te ayudamos.",
            clinic.practitioner.name, clinic.practitioner.specialty
        )
    );
    // "1" is not an answer to anything: the journey takes it (an intake starts).
    let reply = answer(&app, &id, "1", 2).await;
    assert_eq!(reply["purpose"], "intake_question");
    settled_bot_messages(&app, &id).await;
    assert!(events.drain().await.is_empty(), "no BOOKING_ACTION");
}

#[tokio::test]
async fn an_unanswered_reminder_expires_when_the_appointment_starts() {
    let app = spawn(Spawn {
        at: Some(start() - TimeDelta::hours(20)),
        ..Spawn::default()
    })
    .await;
    let clinic = Reminders::of(&app).await;
    let events = app.capture(&[EventType::BookingAction]).await;
    let id = open_conversation(&app).await;
    remind(&app, &clinic.due(ReminderKind::Reminder, Some(&id)), &id, 1).await;
    app.kit.clock().advance(TimeDelta::hours(21));
    let reply = answer(&app, &id, "1", 2).await;
    assert_eq!(reply["purpose"], "already_booked");
    settled_bot_messages(&app, &id).await;
    assert!(events.drain().await.is_empty(), "too late to confirm");
}

#[tokio::test]
async fn an_offer_after_the_reminder_takes_the_patients_1_as_a_slot() {
    let app = spawn_app().await;
    let clinic = Reminders::of(&app).await;
    let events = app
        .capture(&[EventType::BookingAction, EventType::SlotSelectionReceived])
        .await;
    let id = open_conversation(&app).await;
    remind(&app, &clinic.due(ReminderKind::Reminder, Some(&id)), &id, 1).await;
    let mut offer = SlotsOffered::example();
    offer.conversation_id = id.parse().unwrap();
    app.publish(&Envelope::new("appointments", offer)).await;
    app.bot_replies(&id, 2).await;
    app.receive(message_received(PATIENT, "1")).await;
    let selection = events.next("SLOT_SELECTION_RECEIVED").await;
    assert_eq!(selection.data["text"], "1");
    assert!(
        events
            .drain()
            .await
            .iter()
            .all(|e| e.event_type != "BOOKING_ACTION"),
        "the offer was the last question"
    );
}

#[tokio::test]
async fn a_cancelled_appointments_reminder_is_no_longer_answered() {
    let app = spawn_app().await;
    let clinic = Reminders::of(&app).await;
    let events = app.capture(&[EventType::BookingAction]).await;
    let id = open_conversation(&app).await;
    let due = clinic.due(ReminderKind::Reminder, Some(&id));
    remind(&app, &due, &id, 1).await;
    let mut cancelled = AppointmentCancelled::example();
    cancelled.appointment_id = due.appointment_id;
    cancelled.conversation_id = Some(id.parse().unwrap());
    app.publish(&Envelope::new("appointments", cancelled)).await;
    let told = app.bot_replies(&id, 2).await.remove(1);
    assert_eq!(told["purpose"], "appointment_cancellation");
    let reply = answer(&app, &id, "1", 3).await;
    assert_ne!(reply["purpose"], "reminder_confirmed");
    settled_bot_messages(&app, &id).await;
    assert!(events.drain().await.is_empty(), "nothing left to confirm");
}
