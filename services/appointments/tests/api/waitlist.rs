//! The waitlist (issue 14, waitlist backfill): patients who turn every offer down or ask
//! for an earlier date wait for the department's next freed slot; a slot freed within
//! 72 hours is offered to them, the first "1" books it and the others are told it is
//! gone. Events are published on the app's bus as conversations would publish them;
//! what the service decided is read from its database and its outbox.

use std::time::Duration;

use prm_appointments::{AppointmentsService, booking::app::waitlist};
use prm_bus::Delivery;
use prm_domain::{
    PhoneNumber,
    events::{Envelope, SlotPreferences, SlotSelectionReceived, TriageCompleted, Urgency},
};
use prm_store::waitlist::{WaitlistEntry, WaitlistStatus};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Clinic, TestApp, at_now, eventually, spawn_app, spawn_with};

const WAIT: Duration = Duration::from_secs(20);

/// A patient in their own conversation.
struct Patient {
    conversation_id: Uuid,
    phone: &'static str,
    name: &'static str,
}

impl Patient {
    fn new(phone: &'static str, name: &'static str) -> Self {
        Self {
            conversation_id: Uuid::now_v7(),
            phone,
            name,
        }
    }

    fn triage(&self, department: &str) -> TriageCompleted {
        TriageCompleted {
            conversation_id: self.conversation_id,
            patient_id: None,
            patient_phone: PhoneNumber::parse(self.phone, "57").unwrap(),
            department: department.into(),
            confidence: Some(0.9),
            urgency: Some(Urgency::Routine),
            reasoning: None,
            preferences: SlotPreferences::default(),
            locale: None,
            patient_name: Some(self.name.into()),
            birth_date: None,
            reason: Some("control".into()),
            soonest: false,
        }
    }

    fn says(&self, app: &TestApp, text: &str) -> Envelope {
        Envelope::new(
            "conversations",
            SlotSelectionReceived {
                conversation_id: self.conversation_id,
                message_id: Uuid::now_v7(),
                text: text.into(),
                received_at: app.now(),
                offer_basis: None,
            },
        )
    }
}

async fn publish(app: &TestApp, envelope: &Envelope) {
    let bus = &app.backends.bus;
    tokio::time::timeout(WAIT, bus.until_connected())
        .await
        .expect("the bus connects");
    bus.publish(envelope).await.expect("published");
}

/// The events of `event_type` the service published (whole envelopes), oldest first.
async fn published(app: &TestApp, event_type: &str) -> Vec<Value> {
    let db = app.store.connection();
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
        .map(|r| serde_json::from_str(&r.try_get::<String>("", "payload").unwrap()).unwrap())
        .collect()
}

/// The `event_type` events about `conversation_id` (their `data`).
async fn published_to(app: &TestApp, event_type: &str, conversation_id: Uuid) -> Vec<Value> {
    published(app, event_type)
        .await
        .into_iter()
        .map(|e| e["data"].clone())
        .filter(|d| d["conversation_id"] == json!(conversation_id))
        .collect()
}

/// Waits for the `n`-th `event_type` about `conversation_id`.
async fn nth_to(app: &TestApp, event_type: &str, conversation_id: Uuid, n: usize) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(event) = published_to(app, event_type, conversation_id)
            .await
            .get(n - 1)
        {
            return event.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {n} {event_type} for {conversation_id} within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The waitlist offers (SLOTS_OFFERED with `waitlist: true`) made to a conversation.
async fn waitlist_offers(app: &TestApp, conversation_id: Uuid) -> Vec<Value> {
    published_to(app, "SLOTS_OFFERED", conversation_id)
        .await
        .into_iter()
        .filter(|o| o["waitlist"] == json!(true))
        .collect()
}

async fn entries(app: &TestApp, conversation_id: Uuid) -> Vec<WaitlistEntry> {
    app.store
        .waitlist_entries_of(conversation_id)
        .await
        .unwrap()
}

async fn processed(app: &TestApp, consumer: &str, event_id: &Value) {
    let id: Uuid = event_id.as_str().unwrap().parse().unwrap();
    eventually(WAIT, "the event processed", || async {
        prm_store::outbox::ProcessedEvents::APPOINTMENTS
            .contains(app.store.connection(), consumer, id)
            .await
            .unwrap()
    })
    .await;
}

/// `patient` is triaged to `department`, offered slots, and asks for an earlier date:
/// they are on the waitlist.
async fn waiting(app: &TestApp, patient: &Patient, department: &str) {
    publish(
        app,
        &Envelope::new("conversations", patient.triage(department)),
    )
    .await;
    nth_to(app, "SLOTS_OFFERED", patient.conversation_id, 1).await;
    publish(app, &patient.says(app, "¿Tienen algo más temprano?")).await;
    nth_to(app, "SLOTS_OFFERED", patient.conversation_id, 2).await;
    let waiting = entries(app, patient.conversation_id).await;
    assert_eq!(waiting.len(), 1, "{waiting:?}");
}

/// Cancels appointment `id` at the front desk and returns the APPOINTMENT_CANCELLED
/// envelope once the waitlist consumer has handled it.
async fn cancel(app: &TestApp, appointment: &Value) -> Value {
    let id = appointment["id"].as_str().unwrap();
    app.post_json(&format!("/api/v1/prm/appointments/{id}/cancel"), json!({}))
        .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let event = loop {
        if let Some(e) = published(app, "APPOINTMENT_CANCELLED")
            .await
            .into_iter()
            .find(|e| e["data"]["appointment_id"] == json!(id))
        {
            break e;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no APPOINTMENT_CANCELLED"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    processed(app, waitlist::WAITLIST_CONSUMER, &event["id"]).await;
    event
}

#[tokio::test]
async fn turning_down_the_last_slots_puts_the_patient_on_the_waitlist_and_says_so() {
    // Two days of search from a Sunday night: Monday 08:00 and 08:30 are all there is.
    let app = spawn_with(at_now().vars(&[("SLOT_SEARCH_WINDOW_DAYS", "2")])).await;
    Clinic::plan().hours("08:00", "09:00").open(&app).await;
    let ana = Patient::new("3109998877", "Ana Ruiz");
    publish(
        &app,
        &Envelope::new("conversations", ana.triage("Cardiology")),
    )
    .await;
    let first = nth_to(&app, "SLOTS_OFFERED", ana.conversation_id, 1).await;
    assert_eq!(first["slots"].as_array().unwrap().len(), 2, "{first}");

    let no = ana.says(&app, "ninguno");
    publish(&app, &no).await;
    let last = nth_to(&app, "SLOTS_OFFERED", ana.conversation_id, 2).await;
    assert_eq!(last["slots"], json!([]));
    let message = last["message"].as_str().unwrap();
    assert!(
        message.ends_with(
            "Te anoté en la lista de espera: si se libera un horario en los próximos días, te escribo por aquí."
        ),
        "{message}"
    );
    let waiting = entries(&app, ana.conversation_id).await;
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    let entry = &waiting[0];
    assert_eq!(entry.status, WaitlistStatus::Waiting);
    assert_eq!(entry.department, "Cardiology");
    assert_eq!(entry.phone.as_ref().unwrap().as_str(), "+573109998877");
    assert!(entry.patient_id.is_some());
    assert_eq!(
        entry.expires_at - entry.created_at,
        chrono::TimeDelta::days(14)
    );

    // Turning down again (a redelivery, or a second "ninguno") adds no second entry.
    publish(&app, &ana.says(&app, "ninguno")).await;
    nth_to(&app, "SLOTS_OFFERED", ana.conversation_id, 3).await;
    assert_eq!(entries(&app, ana.conversation_id).await.len(), 1);
}

#[tokio::test]
async fn a_rejection_with_more_slots_left_does_not_wait() {
    let app = spawn_app().await;
    Clinic::open(&app).await;
    let ana = Patient::new("3109998877", "Ana Ruiz");
    publish(
        &app,
        &Envelope::new("conversations", ana.triage("Cardiology")),
    )
    .await;
    nth_to(&app, "SLOTS_OFFERED", ana.conversation_id, 1).await;
    publish(&app, &ana.says(&app, "ninguno")).await;
    let next = nth_to(&app, "SLOTS_OFFERED", ana.conversation_id, 2).await;
    assert!(!next["slots"].as_array().unwrap().is_empty());
    assert!(
        !next["message"]
            .as_str()
            .unwrap()
            .contains("lista de espera")
    );
    assert!(entries(&app, ana.conversation_id).await.is_empty());
}

#[tokio::test]
async fn asking_for_an_earlier_date_joins_the_waitlist_and_offers_the_soonest() {
    let app = spawn_app().await;
    Clinic::open(&app).await;
    let ana = Patient::new("3109998877", "Ana Ruiz");
    let mut triage = ana.triage("Cardiology");
    // She first asked for Fridays at 16:00.
    triage.preferences.day_of_week = prm_domain::Weekday::new(4).ok();
    triage.preferences.time_of_day = Some("16:00".into());
    triage.locale = Some(prm_domain::Locale::En);
    publish(&app, &Envelope::new("conversations", triage)).await;
    nth_to(&app, "SLOTS_OFFERED", ana.conversation_id, 1).await;

    publish(&app, &ana.says(&app, "anything earlier?")).await;
    let soonest = nth_to(&app, "SLOTS_OFFERED", ana.conversation_id, 2).await;
    let message = soonest["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "I've put you on the waitlist: if an earlier time frees up, I'll message you here."
        ),
        "{message}"
    );
    // Monday 08:00 in Bogotá, the first slot after Sunday 23:15 and the hour of notice.
    assert_eq!(
        soonest["slots"][0]["start"],
        json!(app.bogota_in(1, "08:00"))
    );
    let waiting = entries(&app, ana.conversation_id).await;
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].locale, prm_domain::Locale::En);
    assert!(
        published_to(&app, "APPOINTMENT_CREATED", ana.conversation_id)
            .await
            .is_empty()
    );

    // "algo más temprano" in Spanish again: still one entry.
    publish(&app, &ana.says(&app, "algo más temprano")).await;
    nth_to(&app, "SLOTS_OFFERED", ana.conversation_id, 3).await;
    assert_eq!(entries(&app, ana.conversation_id).await.len(), 1);
}

#[tokio::test]
async fn a_slot_freed_within_72_hours_goes_to_the_first_waiting_patient_who_answers() {
    let app = spawn_app().await;
    let clinic = Clinic::open(&app).await;
    // María's Monday 10:00, eleven hours from now.
    let freed_at = app.bogota_in(1, "10:00");
    let maria = clinic.book(&app, &freed_at).await;
    let ana = Patient::new("3109998877", "Ana Ruiz");
    let luis = Patient::new("3115554433", "Luis Mora");
    waiting(&app, &ana, "Cardiology").await;
    waiting(&app, &luis, "cardiology").await;

    let cancelled = cancel(&app, &maria).await;
    for patient in [&ana, &luis] {
        let offers = waitlist_offers(&app, patient.conversation_id).await;
        assert_eq!(offers.len(), 1, "{offers:?}");
        let offer = &offers[0];
        let slots = offer["slots"].as_array().unwrap();
        assert_eq!(slots.len(), 1, "{offer}");
        assert_eq!(slots[0]["index"], 1);
        assert_eq!(slots[0]["start"], json!(freed_at));
        let message = offer["message"].as_str().unwrap();
        assert!(
            message.starts_with("¡Buenas noticias! Se liberó un horario:\n1. "),
            "{message}"
        );
        assert!(message.ends_with("Responde 1 para tomarlo."), "{message}");
        let entry = &entries(&app, patient.conversation_id).await[0];
        assert_eq!(entry.status, WaitlistStatus::Offered);
    }

    // The same APPOINTMENT_CANCELLED again (a redelivery): nobody is offered it twice.
    let envelope: Envelope = serde_json::from_value(cancelled).unwrap();
    let state = app.service::<AppointmentsService>().state();
    let delivery = Delivery {
        envelope,
        consumer: waitlist::WAITLIST_CONSUMER.to_owned(),
        attempt: 2,
        redelivered: true,
    };
    waitlist::on_slot_change(state, &delivery).await.unwrap();
    for patient in [&ana, &luis] {
        assert_eq!(
            waitlist_offers(&app, patient.conversation_id).await.len(),
            1
        );
    }

    // Luis answers first and books it.
    publish(&app, &luis.says(&app, "1")).await;
    let booked = nth_to(&app, "APPOINTMENT_CREATED", luis.conversation_id, 1).await;
    assert_eq!(booked["start"], json!(freed_at));
    assert_eq!(booked["patient"]["name"], "Luis Mora");
    // Ana is told it is gone, and keeps waiting.
    let told = nth_to(&app, "MESSAGE_SEND_REQUESTED", ana.conversation_id, 1).await;
    assert_eq!(told["to"], "+573109998877");
    assert_eq!(told["purpose"], "waitlist_slot_taken");
    assert!(
        told["body"]
            .as_str()
            .unwrap()
            .starts_with("Lo siento, ese horario ya fue tomado por otra persona."),
        "{told}"
    );
    eventually(WAIT, "the entries settled", || async {
        entries(&app, luis.conversation_id).await[0].status == WaitlistStatus::Fulfilled
            && entries(&app, ana.conversation_id).await[0].status == WaitlistStatus::Waiting
    })
    .await;
    assert!(
        published_to(&app, "MESSAGE_SEND_REQUESTED", luis.conversation_id)
            .await
            .is_empty()
    );

    // Ana's late "1" books nothing for that slot: "just taken", and a fresh offer.
    let late = ana.says(&app, "1");
    publish(&app, &late).await;
    let fresh = nth_to(&app, "SLOTS_OFFERED", ana.conversation_id, 4).await;
    let message = fresh["message"].as_str().unwrap();
    assert!(
        message.starts_with("Lo siento, ese horario acaba de ser reservado por otra persona."),
        "{message}"
    );
    assert!(
        !fresh["slots"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["start"] == json!(freed_at)),
        "{fresh}"
    );
    assert!(
        published_to(&app, "APPOINTMENT_CREATED", ana.conversation_id)
            .await
            .is_empty()
    );
    let at_that_time: Vec<Value> = published(&app, "APPOINTMENT_CREATED")
        .await
        .into_iter()
        .filter(|e| e["data"]["start"] == json!(freed_at))
        .collect();
    // María's original booking and Luis's.
    assert_eq!(at_that_time.len(), 2, "{at_that_time:?}");
}

#[tokio::test]
async fn a_slot_freed_more_than_72_hours_ahead_is_not_offered() {
    let app = spawn_app().await;
    let clinic = Clinic::open(&app).await;
    // Thursday 10:00: three days and eleven hours from Sunday 23:15.
    let maria = clinic.book(&app, &app.bogota_in(4, "10:00")).await;
    let ana = Patient::new("3109998877", "Ana Ruiz");
    waiting(&app, &ana, "Cardiology").await;
    cancel(&app, &maria).await;
    assert!(waitlist_offers(&app, ana.conversation_id).await.is_empty());
    assert_eq!(
        entries(&app, ana.conversation_id).await[0].status,
        WaitlistStatus::Waiting
    );
}

#[tokio::test]
async fn a_slot_of_another_department_is_not_offered() {
    let app = spawn_app().await;
    let clinic = Clinic::open(&app).await;
    let dermatologist = app.create_practitioner("Dermatology").await;
    app.schedule_every_day(&dermatologist, &clinic.location, "08:00", "18:00")
        .await;
    let maria = clinic.book(&app, &app.bogota_in(1, "10:00")).await;
    let ana = Patient::new("3109998877", "Ana Ruiz");
    waiting(&app, &ana, "Dermatology").await;
    cancel(&app, &maria).await;
    assert!(waitlist_offers(&app, ana.conversation_id).await.is_empty());
}

#[tokio::test]
async fn a_waiting_patient_with_a_later_appointment_is_offered_to_move_it_sooner() {
    let app = spawn_app().await;
    let clinic = Clinic::open(&app).await;
    // María holds Tuesday 15:00 with Dr. Gómez and asked for something earlier.
    let later = clinic.book(&app, &app.bogota_in(2, "15:00")).await;
    let maria = Patient::new("3001234567", "María Pérez");
    waiting(&app, &maria, "Cardiology").await;
    // Pedro gives up Monday 10:00.
    let pedro = app.create_patient("Pedro Gil", "3205556677").await;
    let freed_at = app.bogota_in(1, "10:00");
    let his = app
        .book(json!({"patient_id": pedro["id"], "practitioner_id": clinic.practitioner["id"], "location_id": clinic.location["id"], "start": freed_at}))
        .await;
    cancel(&app, &his).await;
    let offers = waitlist_offers(&app, maria.conversation_id).await;
    assert_eq!(offers.len(), 1, "{offers:?}");
    assert_eq!(offers[0]["slots"][0]["start"], json!(freed_at));

    publish(&app, &maria.says(&app, "1")).await;
    eventually(WAIT, "her appointment moved", || async {
        published(&app, "APPOINTMENT_RESCHEDULED")
            .await
            .iter()
            .any(|e| {
                e["data"]["appointment_id"] == later["id"] && e["data"]["start"] == json!(freed_at)
            })
    })
    .await;
    eventually(WAIT, "her entry fulfilled", || async {
        entries(&app, maria.conversation_id).await[0].status == WaitlistStatus::Fulfilled
    })
    .await;
    assert!(
        published(&app, "APPOINTMENT_CREATED")
            .await
            .iter()
            .all(|e| e["data"]["conversation_id"] != json!(maria.conversation_id))
    );
}

#[tokio::test]
async fn two_patients_answering_1_at_once_get_one_appointment() {
    let app = spawn_app().await;
    let clinic = Clinic::open(&app).await;
    let freed_at = app.bogota_in(1, "11:00");
    let maria = clinic.book(&app, &freed_at).await;
    let ana = Patient::new("3109998877", "Ana Ruiz");
    let luis = Patient::new("3115554433", "Luis Mora");
    waiting(&app, &ana, "Cardiology").await;
    waiting(&app, &luis, "Cardiology").await;
    cancel(&app, &maria).await;
    for patient in [&ana, &luis] {
        assert_eq!(
            waitlist_offers(&app, patient.conversation_id).await.len(),
            1
        );
    }

    let (a, l) = (ana.says(&app, "1"), luis.says(&app, "1"));
    tokio::join!(publish(&app, &a), publish(&app, &l));
    eventually(WAIT, "one booked, the other answered", || async {
        let booked = |p: &Patient| {
            let id = p.conversation_id;
            let app = &app;
            async move { published_to(app, "APPOINTMENT_CREATED", id).await.len() }
        };
        let fresh = |p: &Patient| {
            let id = p.conversation_id;
            let app = &app;
            async move { published_to(app, "SLOTS_OFFERED", id).await.len() == 4 }
        };
        let (ana_booked, luis_booked) = (booked(&ana).await, booked(&luis).await);
        (ana_booked + luis_booked == 1)
            && ((ana_booked == 1 && fresh(&luis).await) || (luis_booked == 1 && fresh(&ana).await))
    })
    .await;
    let at_that_time = published(&app, "APPOINTMENT_CREATED")
        .await
        .into_iter()
        .filter(|e| e["data"]["start"] == json!(freed_at))
        .count();
    assert_eq!(at_that_time, 2, "María's original booking and the winner's");
    eventually(WAIT, "one fulfilled, one waiting", || async {
        let mut statuses = vec![
            entries(&app, ana.conversation_id).await[0].status,
            entries(&app, luis.conversation_id).await[0].status,
        ];
        statuses.sort_by_key(|s| s.as_str());
        statuses == [WaitlistStatus::Fulfilled, WaitlistStatus::Waiting]
    })
    .await;
}
