//! find-slots, select-slot, explicit booking, rescheduling and cancelling.

use chrono::{DateTime, Datelike, Duration, TimeDelta, Timelike, Utc};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::helpers::{Spawn, TestApp, eventually, fields, problem, spawn_app, spawn_with, time};

struct Clinic {
    app: TestApp,
    location: Value,
    practitioner: Value,
    patient: Value,
}

/// A clinic whose cardiologist works every day 08:00–18:00 in Bogotá, 30-minute slots,
/// so the tests do not depend on today's weekday.
async fn clinic() -> Clinic {
    let app = spawn_app().await;
    let open = prm_testkit::clinic::Clinic::open(&app).await;
    Clinic {
        app,
        location: open.location,
        practitioner: open.practitioner,
        patient: open.patient,
    }
}

/// `hour`:00 in Bogotá (-05:00, no DST) `days` after the app's today there.
fn future_slot(c: &Clinic, days: i64, hour: u32) -> String {
    c.app.bogota_in(days, &format!("{hour:02}:00"))
}

/// Books `start` at the front desk and returns the appointment (201 expected).
async fn booked(c: &Clinic, start: &str) -> Value {
    c.app.book(booking(c, start)).await
}

fn booking(c: &Clinic, start: &str) -> Value {
    json!({"patient_id": c.patient["id"], "practitioner_id": c.practitioner["id"], "location_id": c.location["id"], "start": start})
}

async fn outbox_events(app: &TestApp, event_type: &str) -> Vec<Value> {
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

#[tokio::test]
async fn find_slots_ranks_and_renders_the_offer() {
    let c = clinic().await;
    let r = c
        .app
        .post(
            "/api/v1/prm/appointments/find-slots",
            json!({"department": "CARDIOLOGY", "preferences": {"time_of_day": "10:00"}, "locale": "en"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let slots = body["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 5, "default limit");
    let earliest = c.app.now() + Duration::minutes(60);
    for (i, slot) in slots.iter().enumerate() {
        assert_eq!(slot["index"], i + 1);
        let start = DateTime::parse_from_rfc3339(slot["start"].as_str().unwrap()).unwrap();
        assert_eq!(
            start.offset().local_minus_utc(),
            -5 * 3600,
            "Bogotá offset in {}",
            slot["start"]
        );
        assert!(
            start.with_timezone(&Utc) >= earliest,
            "never inside the minimum notice"
        );
        assert_eq!(slot["practitioner"]["name"], "Dr. Ana Gómez");
        assert_eq!(slot["location"]["name"], "Sede Norte");
        assert!(
            slot["text"]
                .as_str()
                .unwrap()
                .contains("Dr. Ana Gómez at Sede Norte")
        );
        // Preferred 10:00: the top slots are within an hour of it.
        assert!((9..=11).contains(&start.hour()), "{}", slot["start"]);
    }
    let scores: Vec<u64> = slots.iter().map(|s| s["score"].as_u64().unwrap()).collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "ranked: {scores:?}"
    );
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with("Here are available appointment times:\n1. "),
        "{message}"
    );
    assert!(message.contains(slots[0]["text"].as_str().unwrap()));
    assert_eq!(
        body["offer_id"],
        Value::Null,
        "no conversation, nothing remembered"
    );

    let es: Value = c
        .app
        .post_json(
            "/api/v1/prm/appointments/find-slots",
            json!({"department": "cardiology", "limit": 2}),
        )
        .await;
    assert_eq!(es["slots"].as_array().unwrap().len(), 2);
    assert!(
        es["message"].as_str().unwrap().starts_with("Estos son"),
        "DEFAULT_LOCALE is es: {}",
        es["message"]
    );
}

#[tokio::test]
async fn find_slots_skips_booked_time() {
    let c = clinic().await;
    let first: Value = c
        .app
        .post_json(
            "/api/v1/prm/appointments/find-slots",
            json!({"department": "Cardiology", "limit": 1}),
        )
        .await;
    let taken = first["slots"][0]["start"].as_str().unwrap().to_owned();
    assert_eq!(
        c.app
            .post("/api/v1/prm/appointments", booking(&c, &taken))
            .await
            .status(),
        201
    );
    let after: Value = c
        .app
        .post_json(
            "/api/v1/prm/appointments/find-slots",
            json!({"department": "Cardiology", "limit": 20}),
        )
        .await;
    assert!(
        after["slots"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["start"] != taken.as_str())
    );
}

#[tokio::test]
async fn a_preferred_location_without_the_department_falls_back_and_says_so() {
    let c = clinic().await;
    let sur: Value = c
        .app
        .post_json(
            "/api/v1/prm/locations",
            json!({"name": "Sede Sur", "timezone": "America/Bogota"}),
        )
        .await;
    let search = |location: &Value| {
        c.app.post(
            "/api/v1/prm/appointments/find-slots",
            json!({"department": "Cardiology", "preferences": {"location_id": location["id"]}}),
        )
    };

    let at_norte: Value = search(&c.location).await.json().await.unwrap();
    assert_eq!(at_norte["location_fallback"], false);
    assert_eq!(at_norte["slots"].as_array().unwrap().len(), 5);

    // Nobody practises cardiology at Sur: the department's other locations are offered.
    let at_sur: Value = search(&sur).await.json().await.unwrap();
    assert_eq!(at_sur["location_fallback"], true);
    let slots = at_sur["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 5);
    assert!(
        slots
            .iter()
            .all(|s| s["location"]["id"] == c.location["id"]),
        "{at_sur}"
    );
}

#[tokio::test]
async fn find_slots_validates_its_input() {
    let c = clinic().await;
    for (body, field) in [
        (json!({"department": ""}), "department"),
        (json!({"department": "Cardiology", "limit": 50}), "limit"),
        (json!({"department": "Cardiology", "limit": 0}), "limit"),
        (
            json!({"department": "Cardiology", "preferences": {"time_of_day": "25:99"}}),
            "preferences.time_of_day",
        ),
        (
            json!({"department": "Cardiology", "preferences": {"day_of_week": 9}}),
            "preferences.day_of_week",
        ),
        (
            json!({"department": "Cardiology", "preferences": {"location_id": uuid::Uuid::new_v4()}}),
            "preferences.location_id",
        ),
        (
            json!({"department": "Cardiology", "patient_id": uuid::Uuid::new_v4()}),
            "patient_id",
        ),
        (
            json!({"department": "Cardiology", "locale": "fr"}),
            "locale",
        ),
        (
            json!({"department": "Cardiology", "from_date": "tomorrow"}),
            "from_date",
        ),
    ] {
        let p = problem(
            c.app
                .post("/api/v1/prm/appointments/find-slots", body.clone())
                .await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(fields(&p), [field], "{body}");
    }
    let none: Value = c
        .app
        .post_json(
            "/api/v1/prm/appointments/find-slots",
            json!({"department": "Neurology", "locale": "en"}),
        )
        .await;
    assert_eq!(none["slots"].as_array().unwrap().len(), 0);
    assert!(
        none["message"]
            .as_str()
            .unwrap()
            .contains("no appointment times")
    );
}

async fn offer(c: &Clinic, conversation: &str) -> Value {
    let r = c
        .app
        .post(
            "/api/v1/prm/appointments/find-slots",
            json!({"department": "Cardiology", "conversation_id": conversation, "patient_id": c.patient["id"], "locale": "en"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn select(c: &Clinic, conversation: &str, text: &str) -> reqwest::Response {
    c.app
        .post(
            "/api/v1/prm/appointments/select-slot",
            json!({"conversation_id": conversation, "text": text}),
        )
        .await
}

#[tokio::test]
async fn selecting_a_slot_books_it_once() {
    let c = clinic().await;
    let conversation = uuid::Uuid::new_v4().to_string();
    let offered = offer(&c, &conversation).await;
    assert!(offered["offer_id"].is_string());

    let r = select(&c, &conversation, "the second one").await;
    assert_eq!(r.status(), 201);
    assert!(r.headers().get("idempotent-replayed").is_none());
    let appointment: Value = r.json().await.unwrap();
    assert_eq!(appointment["start"], offered["slots"][1]["start"]);
    assert_eq!(appointment["status"], "booked");
    assert_eq!(appointment["patient_id"], c.patient["id"]);
    assert_eq!(appointment["conversation_id"], conversation.as_str());

    let again = select(&c, &conversation, "2").await;
    // The same answer as the first time (201 and the appointment), marked as a replay,
    // so a client that reads a 200 as `{outcome, message}` is never handed an appointment.
    assert_eq!(again.status(), 201, "a repeat returns the same appointment");
    assert_eq!(
        again
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(
        again.json::<Value>().await.unwrap()["id"],
        appointment["id"]
    );
    assert_eq!(c.app.total("/api/v1/prm/appointments").await, 1);

    let events = outbox_events(&c.app, "APPOINTMENT_CREATED").await;
    assert_eq!(events.len(), 1, "one event per booking");
    let data = &events[0]["data"];
    assert_eq!(events[0]["source"], "appointments");
    assert_eq!(data["appointment_id"], appointment["id"]);
    assert_eq!(data["start"], appointment["start"]);
    assert_eq!(
        data["patient"],
        json!({"id": c.patient["id"], "name": "María Pérez", "phone": "+573001234567"})
    );
    assert_eq!(data["practitioner"]["specialty"], "Cardiology");
    assert_eq!(data["location"]["timezone"], "America/Bogota");
    assert_eq!(data["conversation_id"], conversation.as_str());
    assert_eq!(outbox_events(&c.app, "SLOTS_OFFERED").await.len(), 1);
}

#[tokio::test]
async fn rejecting_offers_the_next_best_slots_and_unclear_answers_get_a_question() {
    let c = clinic().await;
    let conversation = uuid::Uuid::new_v4().to_string();
    let first = offer(&c, &conversation).await;
    let first_starts: Vec<&str> = first["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["start"].as_str().unwrap())
        .collect();

    let r = select(&c, &conversation, "ninguno").await;
    assert_eq!(r.status(), 200);
    let rejected: Value = r.json().await.unwrap();
    assert_eq!(rejected["outcome"], "rejected");
    let next = rejected["slots"].as_array().unwrap();
    assert_eq!(next.len(), 5);
    assert!(
        next.iter()
            .all(|s| !first_starts.contains(&s["start"].as_str().unwrap())),
        "no slot offered twice"
    );

    let r = select(&c, &conversation, "maybe the blue one?").await;
    assert_eq!(r.status(), 200);
    let clarify: Value = r.json().await.unwrap();
    assert_eq!(clarify["outcome"], "clarify");
    assert!(clarify["message"].as_str().unwrap().contains("1 to 5"));

    let booked: Value = select(&c, &conversation, "1").await.json().await.unwrap();
    assert_eq!(
        booked["start"], next[0]["start"],
        "booked from the new offer"
    );
}

#[tokio::test]
async fn an_unknown_or_expired_offer_is_404() {
    let c = clinic().await;
    let p = problem(
        select(&c, &uuid::Uuid::new_v4().to_string(), "1").await,
        404,
        "not_found",
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("expired"));
    let p = problem(
        c.app
            .post(
                "/api/v1/prm/appointments/select-slot",
                json!({"conversation_id": uuid::Uuid::new_v4(), "text": ""}),
            )
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["text"]);
}

#[tokio::test]
async fn explicit_bookings_are_validated_and_nothing_is_written_on_failure() {
    let c = clinic().await;
    let start = future_slot(&c, 2, 10);
    let r = c
        .app
        .post("/api/v1/prm/appointments", booking(&c, &start))
        .await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    assert_eq!(
        DateTime::parse_from_rfc3339(created["end"].as_str().unwrap()).unwrap()
            - DateTime::parse_from_rfc3339(&start).unwrap(),
        Duration::minutes(30)
    );

    problem(
        c.app
            .post("/api/v1/prm/appointments", booking(&c, &start))
            .await,
        409,
        "slot_taken",
    )
    .await;
    problem(
        c.app
            .post(
                "/api/v1/prm/appointments",
                booking(&c, &future_slot(&c, 2, 7)),
            )
            .await,
        422,
        "outside_schedule",
    )
    .await;
    let mut off_grid = booking(&c, &future_slot(&c, 3, 10));
    off_grid["start"] = json!(future_slot(&c, 3, 10).replace("10:00:00", "10:10:00"));
    problem(
        c.app.post("/api/v1/prm/appointments", off_grid).await,
        422,
        "outside_schedule",
    )
    .await;
    problem(
        c.app
            .post(
                "/api/v1/prm/appointments",
                booking(&c, &future_slot(&c, -2, 10)),
            )
            .await,
        422,
        "too_soon",
    )
    .await;
    let mut unknown = booking(&c, &future_slot(&c, 3, 11));
    unknown["patient_id"] = json!(uuid::Uuid::new_v4());
    let p = problem(
        c.app.post("/api/v1/prm/appointments", unknown).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["patient_id"]);

    let id = c.practitioner["id"].as_str().unwrap();
    assert_eq!(
        c.app
            .delete(&format!("/api/v1/prm/practitioners/{id}"))
            .await
            .status(),
        200
    );
    problem(
        c.app
            .post(
                "/api/v1/prm/appointments",
                booking(&c, &future_slot(&c, 3, 11)),
            )
            .await,
        422,
        "inactive_practitioner",
    )
    .await;

    assert_eq!(
        c.app.total("/api/v1/prm/appointments").await,
        1,
        "only the first booking exists"
    );
    assert_eq!(outbox_events(&c.app, "APPOINTMENT_CREATED").await.len(), 1);
}

#[tokio::test]
async fn appointments_are_listed_rescheduled_and_cancelled() {
    let c = clinic().await;
    let a: Value = booked(&c, &future_slot(&c, 2, 9)).await;
    let b: Value = booked(&c, &future_slot(&c, 2, 11)).await;
    let a_path = format!("/api/v1/prm/appointments/{}", a["id"].as_str().unwrap());

    let mine = format!(
        "/api/v1/prm/appointments?patient_id={}&status=booked",
        c.patient["id"].as_str().unwrap()
    );
    assert_eq!(c.app.total(&mine).await, 2);

    problem(
        c.app.patch(&a_path, json!({"start": b["start"]})).await,
        409,
        "slot_taken",
    )
    .await;
    let moved: Value = c
        .app
        .patch(
            &a_path,
            json!({"start": future_slot(&c, 4, 15), "notes": "prefers afternoons"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(moved["start"], future_slot(&c, 4, 15).as_str());
    assert_eq!(moved["notes"], "prefers afternoons");
    assert_eq!(
        outbox_events(&c.app, "APPOINTMENT_RESCHEDULED").await.len(),
        1
    );

    let r = c
        .app
        .post(
            &format!("{a_path}/cancel"),
            json!({"reason": "travelling", "cancelled_by": "patient"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let cancelled_view: Value = r.json().await.unwrap();
    assert_eq!(cancelled_view["status"], "cancelled");
    assert_eq!(cancelled_view["cancellation_reason"], "travelling");
    assert_eq!(
        c.app.get_json(&a_path).await["cancellation_reason"],
        "travelling"
    );
    assert_eq!(b["cancellation_reason"], Value::Null, "not cancelled");
    problem(
        c.app.post(&format!("{a_path}/cancel"), json!({})).await,
        409,
        "invalid_transition",
    )
    .await;
    problem(
        c.app
            .patch(&a_path, json!({"start": future_slot(&c, 5, 9)}))
            .await,
        409,
        "invalid_transition",
    )
    .await;
    let cancelled = outbox_events(&c.app, "APPOINTMENT_CANCELLED").await;
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0]["data"]["reason"], "travelling");

    // The cancelled slot is free again.
    assert_eq!(
        c.app
            .post(
                "/api/v1/prm/appointments",
                booking(&c, &future_slot(&c, 4, 15))
            )
            .await
            .status(),
        201
    );

    let b_path = format!("/api/v1/prm/appointments/{}", b["id"].as_str().unwrap());
    let arrived = c.app.patch(&b_path, json!({"status": "arrived"})).await;
    assert_eq!(arrived.status(), 200);
    problem(
        c.app.post(&format!("{b_path}/cancel"), json!({})).await,
        409,
        "invalid_transition",
    )
    .await;
    problem(
        c.app.patch(&b_path, json!({"status": "booked"})).await,
        409,
        "invalid_transition",
    )
    .await;
    problem(
        c.app.patch(&b_path, json!({"status": "sideways"})).await,
        422,
        "validation_failed",
    )
    .await;
    problem(
        c.app
            .get(&format!(
                "/api/v1/prm/appointments/{}",
                uuid::Uuid::new_v4()
            ))
            .await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn fifty_concurrent_bookings_of_one_slot_give_one_appointment() {
    let c = clinic().await;
    let body = booking(&c, &future_slot(&c, 3, 14));
    let answers = c
        .app
        .post_concurrently("/api/v1/prm/appointments", &body, 50)
        .await;
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    let created = statuses.iter().filter(|s| **s == 201).count();
    let conflicts = statuses.iter().filter(|s| **s == 409).count();
    assert_eq!((created, conflicts), (1, 49), "{statuses:?}");
    // Every loser gets the same clean problem, never a 500 or a generic conflict.
    for answer in answers.iter().filter(|a| a.status == 409) {
        answer.assert_problem(409, "slot_taken");
    }
    assert_eq!(c.app.total("/api/v1/prm/appointments").await, 1);
    assert_eq!(outbox_events(&c.app, "APPOINTMENT_CREATED").await.len(), 1);
}

/// Ten cancellations of one appointment at once: one succeeds, nine are told it is
/// already cancelled, and exactly one APPOINTMENT_CANCELLED goes out. A notes edit
/// racing them never writes `booked` back over `cancelled`.
#[tokio::test]
async fn concurrent_changes_to_one_appointment_cancel_it_once() {
    let c = clinic().await;
    let a: Value = booked(&c, &future_slot(&c, 3, 9)).await;
    let path = format!("/api/v1/prm/appointments/{}", a["id"].as_str().unwrap());
    let cancels = (0..10).map(|i| {
        let app = &c.app;
        let path = &path;
        async move {
            let r = app
                .post(
                    &format!("{path}/cancel"),
                    json!({"reason": format!("attempt {i}")}),
                )
                .await;
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    });
    let edits = (0..5).map(|i| {
        let app = &c.app;
        let path = &path;
        async move {
            let r = app.patch(path, json!({"notes": format!("edit {i}")})).await;
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    });
    let (cancelled, edited) = futures::future::join(
        futures::future::join_all(cancels),
        futures::future::join_all(edits),
    )
    .await;
    let ok: Vec<_> = cancelled.iter().filter(|(s, _)| *s == 200).collect();
    let statuses: Vec<u16> = cancelled.iter().map(|(s, _)| *s).collect();
    assert_eq!(ok.len(), 1, "cancellations answered {statuses:?}");
    for (status, body) in cancelled.iter().filter(|(s, _)| *s != 200) {
        assert_eq!(*status, 409, "{body}");
        assert_eq!(body["code"], "invalid_transition", "{body}");
    }
    // A notes edit is allowed before and after the cancellation: it is decided again on
    // a fresh read when it lost a race, and only a request that keeps losing is told to
    // send again (nothing written).
    for (status, body) in &edited {
        assert!(
            *status == 200 || (*status == 409 && body["code"] == "concurrent_update"),
            "{status} {body}"
        );
    }

    let now: Value = c.app.get_json(&path).await;
    assert_eq!(now["status"], "cancelled", "{now}");
    assert_eq!(now["cancellation_reason"], ok[0].1["cancellation_reason"]);
    assert_eq!(
        outbox_events(&c.app, "APPOINTMENT_CANCELLED").await.len(),
        1
    );
}

/// Offers live in Redis when REDIS_URL is set: they are shared by every replica,
/// sealed (they name the patient) and expire after CONVERSATION_STATE_TTL_SECS.
#[tokio::test]
async fn offers_are_kept_in_redis_sealed_and_expire() {
    let app = spawn_with(Spawn::new().redis().var("CONVERSATION_STATE_TTL_SECS", "2")).await;
    let ready: Value = app.get_json("/ready").await;
    assert_eq!(ready["checks"]["state"], "ok", "{ready}");

    let c = prm_testkit::clinic::Clinic::plan()
        .specialty("Pediatrics")
        .hours("08:00", "12:00")
        .patient("Juan", "3105550000")
        .open(&app)
        .await;
    let conversation = uuid::Uuid::new_v4();
    let find = json!({"department": "pediatrics", "conversation_id": conversation, "patient_id": c.patient["id"]});
    let r = app
        .post("/api/v1/prm/appointments/find-slots", find.clone())
        .await;
    assert_eq!(r.status(), 200);

    // The offer is in Redis under the app's prefix, with a TTL, and sealed.
    let redis =
        prm_state::from_config(Some(prm_testkit::REDIS_URL), Some(&app.redis_prefix)).unwrap();
    let key = format!("slot_offer:{conversation}");
    let stored = redis
        .get(&key)
        .await
        .unwrap()
        .expect("the offer is in Redis");
    assert!(stored.starts_with("v1."), "sealed: {stored}");
    assert!(!stored.contains(&conversation.to_string()), "{stored}");
    assert!(redis.ttl(&key).await.unwrap().is_some());

    eventually(
        std::time::Duration::from_secs(10),
        "the offer to expire",
        || async { redis.get(&key).await.unwrap().is_none() },
    )
    .await;
    let expired = app
        .post(
            "/api/v1/prm/appointments/select-slot",
            json!({"conversation_id": conversation, "text": "1"}),
        )
        .await;
    problem(expired, 404, "not_found").await;
    assert_eq!(app.total("/api/v1/prm/appointments").await, 0);

    app.post("/api/v1/prm/appointments/find-slots", find).await;
    let booked = app
        .post(
            "/api/v1/prm/appointments/select-slot",
            json!({"conversation_id": conversation, "text": "primero"}),
        )
        .await;
    assert_eq!(booked.status(), 201);
    redis.delete(&key).await.unwrap();
}

fn local_date(slot: &Value) -> chrono::NaiveDate {
    time::local_date(slot["start"].as_str().unwrap())
}

fn start_of(slot: &Value) -> DateTime<Utc> {
    time::parse(slot["start"].as_str().unwrap()).with_timezone(&Utc)
}

async fn find(app: &TestApp, body: Value) -> Vec<Value> {
    let r = app.post("/api/v1/prm/appointments/find-slots", body).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    body["slots"].as_array().unwrap().clone()
}

/// A cardiologist working every day round the clock, so any instant has a slot nearby,
/// on an app whose clock stands at `now`.
async fn round_the_clock(
    now: DateTime<Utc>,
    extra: &[(&str, &str)],
) -> (TestApp, prm_testkit::clinic::Clinic) {
    let app = spawn_with(Spawn::new().at(now).vars(extra)).await;
    let clinic = prm_testkit::clinic::Clinic::plan()
        .round_the_clock()
        .open(&app)
        .await;
    (app, clinic)
}

/// The instants that broke tests which read the real clock: late evening (the last
/// slot of the day is gone), midnight, a Sunday, just before midnight on a Saturday,
/// and an ordinary morning, each with the first slot a 24 h notice allows (the
/// schedule runs 00:00–23:30, so the last slot starts at 23:00).
const NOTICE_CASES: [(&str, &str); 5] = [
    ("2030-01-09 23:15", "2030-01-11 00:00"),
    ("2030-01-13 00:00", "2030-01-14 00:00"),
    ("2030-01-13 14:10", "2030-01-14 14:30"),
    ("2030-01-12 23:59", "2030-01-14 00:00"),
    ("2030-01-07 10:00", "2030-01-08 10:00"),
];

#[tokio::test]
async fn min_booking_notice_minutes_holds_back_offers_and_bookings() {
    let (first_asked, _) = NOTICE_CASES[0];
    let (app, clinic) = round_the_clock(
        time::bogota(first_asked),
        &[("MIN_BOOKING_NOTICE_MINUTES", "1440")],
    )
    .await;
    for (asked, first_free) in NOTICE_CASES {
        let asked = time::bogota(asked);
        app.clock().set(asked);
        let slots = find(&app, json!({"department": "Cardiology", "limit": 20})).await;
        assert_eq!(slots.len(), 20, "at {asked}");
        let earliest = asked + Duration::minutes(1440);
        for slot in &slots {
            assert!(
                start_of(slot) >= earliest,
                "{} inside the 24 h notice asked at {asked}",
                slot["start"]
            );
        }
        // Sooner is better, so the first offer is the first slot after the notice.
        assert_eq!(
            slots[0]["start"],
            time::bogota_rfc3339(first_free),
            "asked at {asked}"
        );
    }

    // Booking inside the notice is refused, naming it; past it, accepted.
    app.clock().set(time::bogota("2030-01-09 23:15"));
    let p = problem(
        app.post(
            "/api/v1/prm/appointments",
            clinic.booking(&time::bogota_rfc3339("2030-01-10 05:00")),
        )
        .await,
        422,
        "too_soon",
    )
    .await;
    assert!(
        p["detail"].as_str().unwrap().contains("1440 minutes"),
        "{p}"
    );
    clinic
        .book(&app, &time::bogota_rfc3339("2030-01-11 01:00"))
        .await;
    assert_eq!(app.total("/api/v1/prm/appointments").await, 1);
}

/// Sunday 23:15 in Bogotá is Monday 04:15 UTC: the window and the "sooner" boost count
/// the location's days, not UTC's.
const WINDOW_INSTANTS: [&str; 3] = ["2030-01-13 23:15", "2030-01-09 10:00", "2030-01-10 00:00"];

#[tokio::test]
async fn slot_search_window_days_bounds_the_offer() {
    for asked in WINDOW_INSTANTS {
        let now = time::bogota(asked);
        let today = now.with_timezone(&time::BOGOTA).date_naive();
        let (app, _) = round_the_clock(now, &[("SLOT_SEARCH_WINDOW_DAYS", "2")]).await;
        // Prefer a weekday outside the window: with 14 days it would win every offer.
        let outside = (today + Duration::days(4)).weekday().num_days_from_monday();
        let body = json!({"department": "Cardiology", "limit": 20, "preferences": {"day_of_week": outside}});
        let slots = find(&app, body.clone()).await;
        assert!(!slots.is_empty(), "asked at {asked}");
        for slot in &slots {
            let days = (local_date(slot) - today).num_days();
            assert!(
                (0..2).contains(&days),
                "{} outside the 2-day window asked at {asked}",
                slot["start"]
            );
            // No day preference met; the sooner boost is 14 − days whatever the window.
            assert_eq!(slot["score"], 14 - days, "{slot} asked at {asked}");
        }

        let (default_app, _) = round_the_clock(now, &[]).await;
        let slots = find(&default_app, body).await;
        assert!(
            slots
                .iter()
                .all(|s| (local_date(s) - today).num_days() % 7 == 4),
            "the default 14-day window reaches the preferred weekday (asked at {asked})"
        );
    }
}

#[tokio::test]
async fn from_date_moves_the_search_window() {
    for asked in ["2030-01-13 23:15", "2030-01-10 00:00"] {
        let now = time::bogota(asked);
        let today = now.with_timezone(&time::BOGOTA).date_naive();
        let (app, _) = round_the_clock(now, &[]).await;
        let from = today + Duration::days(7);
        let slots = find(
            &app,
            json!({"department": "Cardiology", "limit": 20, "from_date": from.to_string()}),
        )
        .await;
        assert_eq!(slots.len(), 20);
        // Spread over days (two per practitioner and day while the next day is nearly as
        // good), all inside the window, the boost counted from its first day.
        for slot in &slots {
            let days = (local_date(slot) - from).num_days();
            assert!((0..14).contains(&days), "{slot} outside the window");
            assert_eq!(slot["score"], 14 - days, "{slot}");
        }
        assert_eq!(
            slots[0]["start"],
            format!("{from}T00:00:00-05:00"),
            "the window starts at the location's midnight"
        );

        // A window that started in the past still never offers the past (nor inside the
        // hour's notice); today is its fourth day, so today's slots score 14 − 3.
        let slots = find(
            &app,
            json!({"department": "Cardiology", "limit": 5, "from_date": (today - Duration::days(3)).to_string()}),
        )
        .await;
        assert_eq!(slots.len(), 5);
        for slot in &slots {
            assert!(
                start_of(slot) >= now + TimeDelta::hours(1),
                "{slot} asked at {asked}"
            );
            let days = (local_date(slot) - today).num_days() + 3;
            assert_eq!(slot["score"], 14 - days, "{slot}");
        }
    }
}

/// The wall-clock times and UTC offsets of the slots offered at a location in New York
/// on `date`, scheduled 00:00–04:00 every day in 30-minute slots.
async fn new_york_day(date: &str) -> Vec<(String, i32)> {
    let from = time::date(date);
    let app = spawn_with(
        Spawn::new()
            .at(time::local(
                time::NEW_YORK,
                &format!("{} 12:00", from - Duration::days(2)),
            )
            .to_utc())
            .var("SLOT_SEARCH_WINDOW_DAYS", "1"),
    )
    .await;
    prm_testkit::clinic::Clinic::plan()
        .timezone(time::NEW_YORK)
        .hours("00:00", "04:00")
        .open(&app)
        .await;
    let slots = find(
        &app,
        json!({"department": "Cardiology", "limit": 20, "from_date": date}),
    )
    .await;
    let mut walls: Vec<(String, i32)> = slots
        .iter()
        .map(|s| {
            let start = time::parse(s["start"].as_str().unwrap());
            let end = time::parse(s["end"].as_str().unwrap());
            assert_eq!(end - start, TimeDelta::minutes(30), "{s}");
            assert_eq!(start.date_naive(), from, "{s}");
            (
                format!("{:02}:{:02}", start.hour(), start.minute()),
                start.offset().local_minus_utc() / 3600,
            )
        })
        .collect();
    walls.sort();
    walls
}

/// Daylight saving neither shifts nor duplicates slots: on the spring-forward Sunday
/// 02:00 and 02:30 do not exist; on the fall-back Sunday 01:00 and 01:30 happen twice
/// and are offered once.
#[tokio::test]
async fn daylight_saving_changes_neither_shift_nor_duplicate_slots() {
    let owned = |v: &[(&str, i32)]| -> Vec<(String, i32)> {
        v.iter().map(|(w, o)| ((*w).to_owned(), *o)).collect()
    };
    assert_eq!(
        new_york_day("2030-03-10").await,
        owned(&[
            ("00:00", -5),
            ("00:30", -5),
            ("01:00", -5),
            ("01:30", -5),
            ("03:00", -4),
            ("03:30", -4),
        ]),
        "spring forward"
    );
    assert_eq!(
        new_york_day("2030-11-03").await,
        owned(&[
            ("00:00", -4),
            ("00:30", -4),
            ("01:00", -4),
            ("01:30", -4),
            ("02:00", -5),
            ("02:30", -5),
            ("03:00", -5),
            ("03:30", -5),
        ]),
        "fall back"
    );
    // An ordinary Sunday next to them: every half hour, one offset.
    assert_eq!(new_york_day("2030-03-17").await.len(), 8);
}
