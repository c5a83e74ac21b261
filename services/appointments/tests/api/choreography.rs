//! The booking choreography (ARCHITECTURE §8) as appointments plays it: events are
//! published on the app's bus as conversations would publish them, and what the service
//! decided is read from its database and its outbox (the events it publishes).

use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDate, Timelike};
use prm_appointments::{AppointmentsService, booking::app::journey};
use prm_bus::Delivery;
use prm_domain::{
    Locale, PhoneNumber,
    events::{
        BookingAction, BookingActionKind, Envelope, SlotPreferences, SlotSelectionReceived,
        TriageCompleted, Urgency,
    },
};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Clinic, TestApp, eventually, spawn_app, urlencode};

const WAIT: Duration = Duration::from_secs(20);
/// The default clinic's patient (María Pérez).
const KNOWN_PHONE: &str = "+573001234567";

struct Journey {
    app: TestApp,
    clinic: Clinic,
    conversation_id: Uuid,
}

/// The default clinic (Dr. Ana Gómez, Cardiology, Sede Norte in Bogotá, 08:00–18:00
/// every day) and a conversation.
async fn journey() -> Journey {
    let app = spawn_app().await;
    let clinic = Clinic::open(&app).await;
    Journey {
        app,
        clinic,
        conversation_id: Uuid::now_v7(),
    }
}

fn phone(raw: &str) -> PhoneNumber {
    PhoneNumber::parse(raw, "57").unwrap()
}

impl Journey {
    fn triage(&self, phone_number: &str) -> TriageCompleted {
        TriageCompleted {
            conversation_id: self.conversation_id,
            patient_id: None,
            patient_phone: phone(phone_number),
            department: "Cardiology".into(),
            confidence: Some(0.9),
            urgency: Some(Urgency::Routine),
            reasoning: None,
            preferences: SlotPreferences::default(),
            locale: None,
            patient_name: None,
            birth_date: None,
            reason: Some("dolor en el pecho".into()),
            soonest: false,
        }
    }

    fn selection(&self, text: &str) -> SlotSelectionReceived {
        SlotSelectionReceived {
            conversation_id: self.conversation_id,
            message_id: Uuid::now_v7(),
            text: text.into(),
            received_at: self.app.now(),
            offer_basis: Some(self.triage(KNOWN_PHONE)),
        }
    }

    fn action(&self, action: BookingActionKind, appointment_id: Option<Uuid>) -> BookingAction {
        BookingAction {
            conversation_id: self.conversation_id,
            action,
            appointment_id,
            reason: Some("ya no puedo ir".into()),
            patient_id: None,
        }
    }

    /// Publishes as conversations' relay would.
    async fn publish(&self, envelope: &Envelope) {
        let bus = &self.app.backends.bus;
        tokio::time::timeout(WAIT, bus.until_connected())
            .await
            .expect("the bus connects");
        bus.publish(envelope).await.expect("published");
    }

    /// Hands `envelope` to the consumer directly, as a redelivery would.
    async fn deliver(&self, consumer: &str, envelope: &Envelope) -> Result<(), String> {
        let state = self.app.service::<AppointmentsService>().state();
        let delivery = Delivery {
            envelope: envelope.clone(),
            consumer: consumer.to_owned(),
            attempt: 2,
            redelivered: true,
        };
        let outcome = match consumer {
            journey::TRIAGE_CONSUMER => journey::on_triage_completed(state, &delivery).await,
            journey::SELECTION_CONSUMER => journey::on_slot_selection(state, &delivery).await,
            _ => journey::on_booking_action(state, &delivery).await,
        };
        outcome.map_err(|e| e.reason().to_owned())
    }

    /// The events of `event_type` the service published, oldest first.
    async fn published(&self, event_type: &str) -> Vec<Value> {
        let db = self.app.store.connection();
        let rows = db
            .query_all(Statement::from_string(
                db.get_database_backend(),
                format!(
                    "SELECT payload FROM {} WHERE event_type = '{event_type}' ORDER BY seq",
                    prm_store::outbox::Outbox::APPOINTMENTS.table()
                ),
            ))
            .await
            .unwrap();
        rows.iter()
            .map(|r| {
                let payload: Value =
                    serde_json::from_str(&r.try_get::<String>("", "payload").unwrap()).unwrap();
                payload["data"].clone()
            })
            .collect()
    }

    /// Waits for the `n`-th event of `event_type` and returns it.
    async fn nth(&self, event_type: &str, n: usize) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(event) = self.published(event_type).await.get(n - 1) {
                return event.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {n} {event_type} within {WAIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Whether the consumer has processed the event (its id is recorded).
    async fn processed(&self, consumer: &str, event_id: Uuid) -> bool {
        prm_store::outbox::ProcessedEvents::APPOINTMENTS
            .contains(self.app.store.connection(), consumer, event_id)
            .await
            .unwrap()
    }

    async fn wait_processed(&self, consumer: &str, envelope: &Envelope) {
        eventually(WAIT, "the event processed", || async {
            self.processed(consumer, envelope.id).await
        })
        .await;
    }

    /// Triage published for the known patient; returns the first offer.
    async fn offered(&self) -> Value {
        self.publish(&Envelope::new("conversations", self.triage(KNOWN_PHONE)))
            .await;
        self.nth("SLOTS_OFFERED", 1).await
    }

    async fn appointments_of_conversation(&self) -> Vec<Value> {
        let page = self
            .app
            .get_json(&format!(
                "/api/v1/prm/appointments?patient_id={}&limit=100",
                self.clinic.patient["id"].as_str().unwrap()
            ))
            .await;
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["conversation_id"] == json!(self.conversation_id))
            .cloned()
            .collect()
    }

    /// The known patient books option `n` of the first offer; returns APPOINTMENT_CREATED.
    async fn booked(&self, n: usize) -> Value {
        self.offered().await;
        self.publish(&Envelope::new(
            "conversations",
            self.selection(&n.to_string()),
        ))
        .await;
        self.nth("APPOINTMENT_CREATED", 1).await
    }
}

fn starts(offer: &Value) -> Vec<String> {
    offer["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["start"].as_str().unwrap().to_owned())
        .collect()
}

fn at(rfc3339: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap()
}

#[tokio::test]
async fn an_unknown_phone_is_registered_and_offered_numbered_slots_in_spanish() {
    let j = journey().await;
    let mut triage = j.triage("310 999 8877");
    triage.patient_name = Some("Ana Ruiz".into());
    triage.birth_date = NaiveDate::from_ymd_opt(1985, 5, 3);
    j.publish(&Envelope::new("conversations", triage)).await;

    let offer = j.nth("SLOTS_OFFERED", 1).await;
    let patients = j
        .app
        .get_json(&format!(
            "/api/v1/prm/patients?phone={}",
            urlencode("+573109998877")
        ))
        .await;
    assert_eq!(patients["total"], 1, "{patients}");
    let patient = &patients["items"][0];
    assert_eq!(patient["name"], "Ana Ruiz");
    assert_eq!(patient["birth_date"], "1985-05-03");
    assert_eq!(patient["locale"], "es");

    assert_eq!(offer["conversation_id"], json!(j.conversation_id));
    assert_eq!(offer["patient_id"], patient["id"]);
    assert_eq!(offer["department"], "Cardiology");
    let slots = offer["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 5, "{offer}");
    let message = offer["message"].as_str().unwrap();
    assert!(
        message.starts_with("Estos son los horarios disponibles:\n"),
        "{message}"
    );
    for (i, slot) in slots.iter().enumerate() {
        assert_eq!(slot["index"], i + 1);
        let start = at(slot["start"].as_str().unwrap());
        assert_eq!(start.offset().local_minus_utc(), -5 * 3600, "Bogotá time");
        assert!((8..18).contains(&start.hour()), "{start}");
        let text = slot["text"].as_str().unwrap();
        assert!(text.ends_with("Dr. Ana Gómez en Sede Norte"), "{text}");
        assert!(text.contains(&format!(":{:02}", start.minute())), "{text}");
        assert!(
            message.contains(&format!("\n{}. {text}", i + 1)),
            "{message}"
        );
    }
    assert!(message.ends_with("para ver otros horarios."), "{message}");

    // The same triage again registers nobody else and offers nothing more.
    j.publish(&Envelope::new("conversations", j.triage("3109998877")))
        .await;
    j.nth("SLOTS_OFFERED", 2).await;
    let patients = j
        .app
        .get_json(&format!(
            "/api/v1/prm/patients?phone={}",
            urlencode("+573109998877")
        ))
        .await;
    assert_eq!(patients["total"], 1);
}

#[tokio::test]
async fn english_offers_read_in_the_location_time_zone() {
    let app = spawn_app().await;
    let clinic = Clinic::plan()
        .timezone(chrono_tz::Europe::Madrid)
        .open(&app)
        .await;
    let j = Journey {
        app,
        clinic,
        conversation_id: Uuid::now_v7(),
    };
    let mut triage = j.triage(KNOWN_PHONE);
    triage.locale = Some(Locale::En);
    triage.patient_id = Some(j.clinic.patient["id"].as_str().unwrap().parse().unwrap());
    j.publish(&Envelope::new("conversations", triage)).await;

    let offer = j.nth("SLOTS_OFFERED", 1).await;
    assert_eq!(offer["patient_id"], j.clinic.patient["id"]);
    let message = offer["message"].as_str().unwrap();
    assert!(
        message.starts_with("Here are available appointment times:\n1. "),
        "{message}"
    );
    for slot in offer["slots"].as_array().unwrap() {
        let start = at(slot["start"].as_str().unwrap());
        assert_eq!(
            start.offset().local_minus_utc(),
            3600,
            "Madrid time in winter"
        );
        let (pm, hour) = start.hour12();
        let clock = format!(
            "at {hour}:{:02} {}",
            start.minute(),
            if pm { "PM" } else { "AM" }
        );
        let text = slot["text"].as_str().unwrap();
        assert!(text.contains(&clock), "{text} is at {start}");
        assert!(text.ends_with("- Dr. Ana Gómez at Sede Norte"), "{text}");
    }
}

#[tokio::test]
async fn urgent_offers_put_the_soonest_first() {
    let j = journey().await;
    let mut triage = j.triage(KNOWN_PHONE);
    triage.urgency = Some(Urgency::Urgent);
    // A preference for Friday 16:00 weighs less than being soon.
    triage.preferences.time_of_day = Some("16:00".into());
    j.publish(&Envelope::new("conversations", triage)).await;
    let offer = j.nth("SLOTS_OFFERED", 1).await;
    let starts: Vec<_> = starts(&offer).iter().map(|s| at(s)).collect();
    assert_eq!(starts.len(), 5);
    assert!(starts.windows(2).all(|w| w[0] < w[1]), "{starts:?}");
    // The app stands on Sunday 23:15: the soonest is Monday 08:00.
    assert_eq!(starts[0].hour(), 8, "{starts:?}");
}

#[tokio::test]
async fn choosing_2_books_that_slot_once_whatever_is_redelivered() {
    let j = journey().await;
    let offer = j.offered().await;
    let selection = Envelope::new("conversations", j.selection("la segunda"));
    j.publish(&selection).await;

    let created = j.nth("APPOINTMENT_CREATED", 1).await;
    assert_eq!(created["conversation_id"], json!(j.conversation_id));
    assert_eq!(created["channel"], "whatsapp");
    assert_eq!(created["status"], "booked");
    assert_eq!(created["patient"]["id"], j.clinic.patient["id"]);
    assert_eq!(created["start"], offer["slots"][1]["start"]);
    j.wait_processed(journey::SELECTION_CONSUMER, &selection)
        .await;

    // The same event again (a broker redelivery), and a second "2" for the same offer.
    j.deliver(journey::SELECTION_CONSUMER, &selection)
        .await
        .unwrap();
    let again = Envelope::new("conversations", j.selection("2"));
    j.deliver(journey::SELECTION_CONSUMER, &again)
        .await
        .unwrap();
    assert!(j.processed(journey::SELECTION_CONSUMER, again.id).await);

    let appointments = j.appointments_of_conversation().await;
    assert_eq!(appointments.len(), 1, "{appointments:?}");
    assert_eq!(appointments[0]["reason"], "dolor en el pecho");
    assert_eq!(j.published("APPOINTMENT_CREATED").await.len(), 1);
    assert!(j.published("MESSAGE_SEND_REQUESTED").await.is_empty());
}

#[tokio::test]
async fn ninguno_offers_other_slots_than_those_already_offered() {
    let j = journey().await;
    let first = j.offered().await;
    j.publish(&Envelope::new("conversations", j.selection("ninguno")))
        .await;
    let second = j.nth("SLOTS_OFFERED", 2).await;
    let message = second["message"].as_str().unwrap();
    assert!(
        message.starts_with("No hay problema, busquemos otros horarios.\nEstos son"),
        "{message}"
    );
    let (first, second) = (starts(&first), starts(&second));
    assert_eq!(second.len(), 5);
    assert!(
        second.iter().all(|s| !first.contains(s)),
        "{first:?} then {second:?}"
    );

    // And "none" again: neither of the earlier offers.
    j.publish(&Envelope::new("conversations", j.selection("otros")))
        .await;
    let third = starts(&j.nth("SLOTS_OFFERED", 3).await);
    assert!(
        third
            .iter()
            .all(|s| !first.contains(s) && !second.contains(s)),
        "{third:?}"
    );
    assert!(j.appointments_of_conversation().await.is_empty());
}

#[tokio::test]
async fn an_unclear_answer_is_asked_again_and_books_nothing() {
    let j = journey().await;
    j.offered().await;
    let selection = Envelope::new("conversations", j.selection("el azul"));
    j.publish(&selection).await;

    let ask = j.nth("MESSAGE_SEND_REQUESTED", 1).await;
    assert_eq!(ask["conversation_id"], json!(j.conversation_id));
    assert_eq!(ask["to"], KNOWN_PHONE);
    assert_eq!(ask["channel"], "whatsapp");
    assert_eq!(ask["purpose"], "slot_clarification");
    assert_eq!(
        ask["body"],
        "Disculpa, no entendí cuál horario prefieres. Responde con un número del 1 al 5, o \"ninguno\" para ver otros horarios."
    );
    assert!(ask["message_id"].as_str().unwrap().parse::<Uuid>().is_ok());
    // A number that is not on the list is unclear too.
    j.publish(&Envelope::new("conversations", j.selection("9")))
        .await;
    j.nth("MESSAGE_SEND_REQUESTED", 2).await;
    assert!(j.appointments_of_conversation().await.is_empty());
    assert!(j.published("APPOINTMENT_CREATED").await.is_empty());
}

#[tokio::test]
async fn a_slot_taken_meanwhile_is_said_and_offered_afresh() {
    let j = journey().await;
    let offer = j.offered().await;
    let taken = offer["slots"][0]["start"].as_str().unwrap().to_owned();
    // The front desk books that slot for someone else first.
    let other = j.app.create_patient("Pedro Gil", "3205556677").await;
    j.app
        .book(json!({"patient_id": other["id"], "practitioner_id": j.clinic.practitioner["id"], "location_id": j.clinic.location["id"], "start": taken}))
        .await;

    j.publish(&Envelope::new("conversations", j.selection("1")))
        .await;
    let again = j.nth("SLOTS_OFFERED", 2).await;
    let message = again["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "Lo siento, ese horario acaba de ser reservado por otra persona.\nEstos son"
        ),
        "{message}"
    );
    let starts = starts(&again);
    assert!(!starts.is_empty() && !starts.contains(&taken), "{starts:?}");
    assert!(j.appointments_of_conversation().await.is_empty());
    // The fresh offer can be booked.
    j.publish(&Envelope::new("conversations", j.selection("1")))
        .await;
    let created = j.nth("APPOINTMENT_CREATED", 2).await;
    assert_eq!(created["start"], json!(starts[0]));
    assert_eq!(created["conversation_id"], json!(j.conversation_id));
}

#[tokio::test]
async fn no_free_slot_is_an_empty_offer_that_says_staff_will_call() {
    let j = journey().await;
    let mut triage = j.triage(KNOWN_PHONE);
    triage.department = "Dermatology".into();
    j.publish(&Envelope::new("conversations", triage)).await;
    let offer = j.nth("SLOTS_OFFERED", 1).await;
    assert_eq!(offer["slots"], json!([]));
    assert_eq!(
        offer["message"],
        "Lo sentimos, no hay horarios disponibles en los próximos días. Nuestro equipo te contactará para encontrar uno."
    );
}

#[tokio::test]
async fn an_emergency_is_never_offered() {
    let j = journey().await;
    let mut triage = j.triage(KNOWN_PHONE);
    triage.urgency = Some(Urgency::Emergency);
    let envelope = Envelope::new("conversations", triage);
    j.deliver(journey::TRIAGE_CONSUMER, &envelope)
        .await
        .unwrap();
    assert!(j.processed(journey::TRIAGE_CONSUMER, envelope.id).await);
    assert!(j.published("SLOTS_OFFERED").await.is_empty());
}

#[tokio::test]
async fn an_answer_to_an_expired_offer_is_offered_again_from_its_basis() {
    let j = journey().await;
    // No offer was remembered for this conversation (it expired).
    j.publish(&Envelope::new("conversations", j.selection("2")))
        .await;
    let offer = j.nth("SLOTS_OFFERED", 1).await;
    assert!(
        offer["message"]
            .as_str()
            .unwrap()
            .starts_with("Las opciones anteriores ya no están vigentes"),
        "{offer}"
    );
    assert_eq!(offer["slots"].as_array().unwrap().len(), 5);
    assert!(j.published("APPOINTMENT_CREATED").await.is_empty());

    // Without the basis there is nothing to offer: acknowledged, nothing published.
    let mut bare = j.selection("2");
    bare.conversation_id = Uuid::now_v7();
    bare.offer_basis = None;
    let bare = Envelope::new("conversations", bare);
    j.deliver(journey::SELECTION_CONSUMER, &bare).await.unwrap();
    assert_eq!(j.published("SLOTS_OFFERED").await.len(), 1);
}

#[tokio::test]
async fn booking_actions_confirm_and_cancel_the_conversations_appointment() {
    let j = journey().await;
    let created = j.booked(1).await;
    let id: Uuid = created["appointment_id"].as_str().unwrap().parse().unwrap();
    let path = format!("/api/v1/prm/appointments/{id}");

    // Confirming a booked appointment leaves it booked, and records when.
    assert_eq!(j.app.get_json(&path).await["confirmed_at"], Value::Null);
    let confirm = Envelope::new(
        "n8n-callbacks",
        j.action(BookingActionKind::Confirm, Some(id)),
    );
    j.publish(&confirm).await;
    j.wait_processed(journey::ACTIONS_CONSUMER, &confirm).await;
    let confirmed = j.app.get_json(&path).await;
    assert_eq!(confirmed["status"], "booked");
    assert_eq!(confirmed["confirmed_at"], json!(j.app.now()));

    // An appointment of another conversation is not this conversation's to cancel.
    let mut foreign = j.action(BookingActionKind::Cancel, Some(id));
    foreign.conversation_id = Uuid::now_v7();
    let foreign = Envelope::new("n8n-callbacks", foreign);
    j.deliver(journey::ACTIONS_CONSUMER, &foreign)
        .await
        .unwrap();
    assert_eq!(j.app.get_json(&path).await["status"], "booked");

    let cancel = Envelope::new(
        "n8n-callbacks",
        j.action(BookingActionKind::Cancel, Some(id)),
    );
    j.publish(&cancel).await;
    let cancelled = j.nth("APPOINTMENT_CANCELLED", 1).await;
    assert_eq!(cancelled["appointment_id"], json!(id));
    assert_eq!(cancelled["conversation_id"], json!(j.conversation_id));
    assert_eq!(cancelled["cancelled_by"], "patient");
    assert_eq!(cancelled["reason"], "ya no puedo ir");
    let appointment = j.app.get_json(&path).await;
    assert_eq!(appointment["status"], "cancelled");

    // Redelivered: nothing more.
    j.deliver(journey::ACTIONS_CONSUMER, &cancel).await.unwrap();
    assert_eq!(j.published("APPOINTMENT_CANCELLED").await.len(), 1);

    // The slot is free again: the front desk can book it.
    let other = j.app.create_patient("Pedro Gil", "3205556677").await;
    j.app
        .book(json!({"patient_id": other["id"], "practitioner_id": j.clinic.practitioner["id"], "location_id": j.clinic.location["id"], "start": created["start"]}))
        .await;
}

#[tokio::test]
async fn a_booking_action_on_an_unknown_appointment_is_acknowledged() {
    let j = journey().await;
    for appointment_id in [Some(Uuid::now_v7()), None] {
        let action = Envelope::new(
            "n8n-callbacks",
            j.action(BookingActionKind::Cancel, appointment_id),
        );
        j.deliver(journey::ACTIONS_CONSUMER, &action).await.unwrap();
        assert!(j.processed(journey::ACTIONS_CONSUMER, action.id).await);
    }
    assert!(j.published("APPOINTMENT_CANCELLED").await.is_empty());
    assert!(j.published("MESSAGE_SEND_REQUESTED").await.is_empty());
}

#[tokio::test]
async fn reschedule_offers_the_same_practitioner_and_the_choice_moves_the_appointment() {
    let j = journey().await;
    let created = j.booked(1).await;
    let id: Uuid = created["appointment_id"].as_str().unwrap().parse().unwrap();

    j.publish(&Envelope::new(
        "n8n-callbacks",
        j.action(BookingActionKind::Reschedule, Some(id)),
    ))
    .await;
    let offer = j.nth("SLOTS_OFFERED", 2).await;
    assert!(
        offer["message"]
            .as_str()
            .unwrap()
            .starts_with("Claro, busquemos otro horario para tu cita.\n"),
        "{offer}"
    );
    let slots = offer["slots"].as_array().unwrap();
    assert!(!slots.is_empty());
    assert!(
        slots
            .iter()
            .all(|s| s["practitioner"]["id"] == j.clinic.practitioner["id"])
    );
    assert!(!starts(&offer).contains(&created["start"].as_str().unwrap().to_owned()));

    j.publish(&Envelope::new("conversations", j.selection("3")))
        .await;
    let moved = j.nth("APPOINTMENT_RESCHEDULED", 1).await;
    assert_eq!(moved["appointment_id"], json!(id));
    assert_eq!(moved["previous_start"], created["start"]);
    assert_eq!(moved["start"], offer["slots"][2]["start"]);
    assert_eq!(moved["conversation_id"], json!(j.conversation_id));
    let appointments = j.appointments_of_conversation().await;
    assert_eq!(appointments.len(), 1);
    assert_eq!(
        at(appointments[0]["start"].as_str().unwrap()),
        at(offer["slots"][2]["start"].as_str().unwrap())
    );
    assert_eq!(j.published("APPOINTMENT_CREATED").await.len(), 1);
}

#[tokio::test]
async fn a_routine_offer_starts_at_the_preferred_time_and_is_spread_over_days() {
    let j = journey().await;
    let mut triage = j.triage(KNOWN_PHONE);
    triage.preferences.time_of_day = Some("10:00".into());
    j.publish(&Envelope::new("conversations", triage)).await;
    let offer = j.nth("SLOTS_OFFERED", 1).await;
    let starts: Vec<_> = starts(&offer).iter().map(|s| at(s)).collect();
    assert_eq!(starts.len(), 5);
    assert_eq!(
        (starts[0].hour(), starts[0].minute()),
        (10, 0),
        "{starts:?}"
    );
    // One practitioner free all day: not five half-hours in a row, at most two a day.
    for day in &starts {
        let same_day = starts
            .iter()
            .filter(|s| s.date_naive() == day.date_naive())
            .count();
        assert!(same_day <= 2, "{starts:?}");
    }
}
