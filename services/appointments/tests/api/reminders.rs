//! Reminders and follow-ups (docs/reminders.md): jobs scheduled from the appointment
//! events, sent once as REMINDER_DUE by the runner, moved, cancelled, skipped when late.
//!
//! The apps run with a short rule (`30m` before) and a clock the test moves: nothing
//! waits for a real day. Where a test asserts that nothing is sent, it runs the runner
//! itself (`runner::run_due`) so that "nothing" is the answer of a run, not of a wait.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, TimeDelta, Utc};
use prm_appointments::{
    AppointmentsService,
    booking::app::journey,
    reminders::runner::{self, RunReport},
};
use prm_bus::Delivery;
use prm_domain::{
    clock::ManualClock,
    events::{BookingAction, BookingActionKind, Envelope},
};
use prm_testkit::{Spawn, time};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Clinic, NOW, TestApp, eventually, fields, problem, spawn_with};

const WAIT: Duration = Duration::from_secs(20);

/// An app whose reminders are due 30 minutes before, its runner polling every 50 ms.
fn scheduler(clock: &Arc<ManualClock>) -> Spawn {
    Spawn::new().clock(clock.clone()).vars(&[
        ("REMINDER_RULES", "30m"),
        ("REMINDER_POLL_INTERVAL_MS", "50"),
    ])
}

/// As [`scheduler`], with the background runner all but idle: the test runs it.
fn driven(clock: &Arc<ManualClock>) -> Spawn {
    scheduler(clock).var("REMINDER_POLL_INTERVAL_MS", "600000")
}

fn clock() -> Arc<ManualClock> {
    time::clock_at(time::bogota(NOW))
}

async fn run(app: &TestApp, owner: &str) -> RunReport {
    runner::run_due(app.service::<AppointmentsService>().state(), owner)
        .await
        .unwrap()
}

/// The events of `event_type` in the appointments outbox, oldest first.
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
        .map(|r| {
            let payload: Value =
                serde_json::from_str(&r.try_get::<String>("", "payload").unwrap()).unwrap();
            payload["data"].clone()
        })
        .collect()
}

fn id_of(appointment: &Value) -> Uuid {
    appointment["id"].as_str().unwrap().parse().unwrap()
}

async fn jobs(app: &TestApp, appointment: Uuid) -> Vec<Value> {
    let list = app
        .get_json(&format!("/api/v1/prm/appointments/{appointment}/reminders"))
        .await;
    list["items"].as_array().unwrap().clone()
}

/// Waits until the appointment has `n` jobs in `status` and returns its jobs.
async fn wait_jobs(app: &TestApp, appointment: Uuid, status: &str, n: usize) -> Vec<Value> {
    eventually(WAIT, &format!("{n} {status} job(s)"), || async {
        jobs(app, appointment)
            .await
            .iter()
            .filter(|j| j["status"] == status)
            .count()
            == n
    })
    .await;
    jobs(app, appointment).await
}

fn instant(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test]
async fn two_replicas_announce_each_reminder_exactly_once() {
    let clock = clock();
    // Every job found within four hours of its due time is sent.
    let options = || scheduler(&clock).var("REMINDER_LATE_WINDOW_MINUTES", "240");
    let a = spawn_with(options()).await;
    let b = spawn_with(options().same_database(&a)).await;
    let clinic = Clinic::open(&a).await;
    let mut booked = Vec::new();
    for time in ["09:00", "09:30", "10:00", "10:30", "11:00", "11:30"] {
        let appointment = clinic.book(&a, &a.bogota_in(1, time)).await;
        booked.push(id_of(&appointment));
    }
    let mut last_due = time::bogota(NOW);
    for id in &booked {
        let jobs = wait_jobs(&a, *id, "scheduled", 1).await;
        let appointment = a.get_json(&format!("/api/v1/prm/appointments/{id}")).await;
        assert_eq!(jobs[0]["kind"], "reminder");
        assert_eq!(jobs[0]["rule"], "30m");
        let due = instant(&jobs[0]["due_at"]);
        assert_eq!(due, instant(&appointment["start"]) - TimeDelta::minutes(30));
        last_due = last_due.max(due);
    }

    // A minute before the first is due, nothing goes out.
    clock.set(time::bogota(&format!(
        "{} 08:29",
        time::local_date(&a.bogota_in(1, "09:00"))
    )));
    assert_eq!(run(&a, "test-runner").await, RunReport::default());
    assert!(published(&a, "REMINDER_DUE").await.is_empty());

    // Both replicas' runners race for every job, every 50 ms.
    clock.set(last_due + TimeDelta::minutes(1));
    eventually(WAIT, "six REMINDER_DUE", || async {
        published(&a, "REMINDER_DUE").await.len() >= booked.len()
    })
    .await;
    // Many more polls of both runners: still one each.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let due = published(&b, "REMINDER_DUE").await;
    assert_eq!(due.len(), booked.len(), "{due:#?}");
    for id in &booked {
        let of_it: Vec<&Value> = due
            .iter()
            .filter(|e| e["appointment_id"] == json!(id))
            .collect();
        assert_eq!(of_it.len(), 1, "{id}: {due:#?}");
        let jobs = jobs(&a, *id).await;
        assert_eq!(jobs[0]["status"], "sent");
        assert_eq!(of_it[0]["job_id"], jobs[0]["id"]);
        assert_eq!(of_it[0]["kind"], "reminder");
        assert_eq!(of_it[0]["patient"]["id"], clinic.patient["id"]);
        assert_eq!(of_it[0]["location"]["timezone"], "America/Bogota");
        assert!(of_it[0]["start"].as_str().unwrap().ends_with("-05:00"));
        assert_eq!(of_it[0]["locale"], "es");
    }
}

#[tokio::test]
async fn a_reschedule_moves_the_reminder() {
    let clock = clock();
    let app = spawn_with(driven(&clock)).await;
    let clinic = Clinic::open(&app).await;
    let appointment = clinic.book(&app, &app.bogota_in(1, "09:00")).await;
    let id = id_of(&appointment);
    let first = wait_jobs(&app, id, "scheduled", 1).await;
    let day = time::local_date(&app.bogota_in(1, "09:00"));
    let new_start = app.bogota_in(1, "11:00");
    assert_eq!(
        instant(&first[0]["due_at"]),
        time::bogota(&format!("{day} 08:30"))
    );

    let moved = app
        .patch(
            &format!("/api/v1/prm/appointments/{id}"),
            json!({"start": new_start}),
        )
        .await;
    assert_eq!(moved.status(), 200);
    eventually(WAIT, "the reminder moved", || async {
        let jobs = jobs(&app, id).await;
        jobs.len() == 1 && instant(&jobs[0]["due_at"]) == time::bogota(&format!("{day} 10:30"))
    })
    .await;

    // The old time sends nothing.
    clock.set(time::bogota(&format!("{day} 08:31")));
    assert_eq!(run(&app, "test-runner").await, RunReport::default());
    assert!(published(&app, "REMINDER_DUE").await.is_empty());

    // The new one sends once.
    clock.set(time::bogota(&format!("{day} 10:31")));
    assert_eq!(run(&app, "test-runner").await.sent, 1);
    assert_eq!(run(&app, "test-runner").await, RunReport::default());
    let due = published(&app, "REMINDER_DUE").await;
    assert_eq!(due.len(), 1);
    assert_eq!(due[0]["start"], json!(new_start));
}

#[tokio::test]
async fn a_cancelled_appointment_gets_no_reminder() {
    let clock = clock();
    let app = spawn_with(driven(&clock)).await;
    let clinic = Clinic::open(&app).await;
    let appointment = clinic.book(&app, &app.bogota_in(1, "09:00")).await;
    let id = id_of(&appointment);
    wait_jobs(&app, id, "scheduled", 1).await;

    app.post_json(
        &format!("/api/v1/prm/appointments/{id}/cancel"),
        json!({"reason": "viaje"}),
    )
    .await;
    let jobs = wait_jobs(&app, id, "cancelled", 1).await;
    assert_eq!(jobs[0]["outcome"], "appointment_cancelled");

    clock.set(instant(&jobs[0]["due_at"]) + TimeDelta::minutes(1));
    assert_eq!(run(&app, "test-runner").await, RunReport::default());
    assert!(published(&app, "REMINDER_DUE").await.is_empty());
}

#[tokio::test]
async fn a_restart_loses_no_reminder_and_a_crashed_runners_job_is_taken_over() {
    let clock = clock();
    let first = spawn_with(driven(&clock)).await;
    let clinic = Clinic::open(&first).await;
    let kept = id_of(&clinic.book(&first, &first.bogota_in(1, "09:00")).await);
    let claimed = id_of(&clinic.book(&first, &first.bogota_in(1, "10:00")).await);
    wait_jobs(&first, kept, "scheduled", 1).await;
    let claimed_job = wait_jobs(&first, claimed, "scheduled", 1).await;

    // A replica claims the 10:00 reminder and dies before sending it.
    let due = instant(&claimed_job[0]["due_at"]);
    let taken = first
        .store
        .claim_due_reminders("crashed-replica", due, TimeDelta::minutes(2), 10)
        .await
        .unwrap();
    assert_eq!(taken.len(), 2, "both jobs are due by 09:30");

    // The process stops; a new one starts on the same database.
    let second = spawn_with(driven(&clock).same_database(&first)).await;
    first.stop().await;
    clock.set(due);
    assert_eq!(
        run(&second, "new-replica").await,
        RunReport::default(),
        "the crashed replica's leases still run"
    );
    assert!(published(&second, "REMINDER_DUE").await.is_empty());

    // Its leases run out: the new replica sends both, once.
    clock.set(due + TimeDelta::minutes(3));
    assert_eq!(run(&second, "new-replica").await.sent, 2);
    assert_eq!(run(&second, "new-replica").await, RunReport::default());
    let sent: Vec<Value> = published(&second, "REMINDER_DUE")
        .await
        .iter()
        .map(|e| e["appointment_id"].clone())
        .collect();
    assert_eq!(sent.len(), 2);
    assert!(sent.contains(&json!(kept)) && sent.contains(&json!(claimed)));
    let jobs = jobs(&second, claimed).await;
    assert_eq!(jobs[0]["status"], "sent");
    assert_eq!(jobs[0]["attempts"], 2);
}

#[tokio::test]
async fn a_reminder_found_past_its_window_is_skipped_not_sent() {
    let clock = clock();
    let app = spawn_with(driven(&clock).vars(&[
        ("REMINDER_RULES", "3h"),
        ("REMINDER_LATE_WINDOW_MINUTES", "10"),
    ]))
    .await;
    let clinic = Clinic::open(&app).await;
    let id = id_of(&clinic.book(&app, &app.bogota_in(1, "12:00")).await);
    let jobs_before = wait_jobs(&app, id, "scheduled", 1).await;
    let due = instant(&jobs_before[0]["due_at"]);

    // The service was down from before 09:00 until 09:11: ten minutes late is the most.
    clock.set(due + TimeDelta::minutes(11));
    let report = run(&app, "test-runner").await;
    assert_eq!(
        report,
        RunReport {
            skipped_late: 1,
            ..RunReport::default()
        }
    );
    let jobs = jobs(&app, id).await;
    assert_eq!(jobs[0]["status"], "skipped");
    assert_eq!(jobs[0]["outcome"], "late");
    assert!(published(&app, "REMINDER_DUE").await.is_empty());
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap();
    let text = metrics.text().await.unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("prm_reminders_total")
            && l.contains("outcome=\"skipped_late\"")
            && l.contains("kind=\"reminder\"")),
        "{text}"
    );
}

#[tokio::test]
async fn a_reminder_already_due_at_booking_is_not_scheduled() {
    let clock = clock();
    // Booked at 23:15 for 00:30 tomorrow: the 2-hour reminder would be at 22:30.
    let app = spawn_with(driven(&clock).vars(&[("REMINDER_RULES", "2h,30m")])).await;
    let clinic = Clinic::plan().round_the_clock().open(&app).await;
    let id = id_of(&clinic.book(&app, &app.bogota_in(1, "00:30")).await);
    let jobs = wait_jobs(&app, id, "scheduled", 1).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["rule"], "30m");
}

#[tokio::test]
async fn fulfilled_with_a_follow_up_date_schedules_the_follow_up_at_nine_local() {
    let clock = clock();
    let app = spawn_with(driven(&clock)).await;
    let clinic = Clinic::open(&app).await;
    let id = id_of(&clinic.book(&app, &app.bogota_in(1, "09:00")).await);
    let path = format!("/api/v1/prm/appointments/{id}");
    let day = time::local_date(&app.bogota_in(1, "09:00"));
    let follow_up = day + TimeDelta::days(14);

    // Only with (or on) a fulfilled appointment.
    let p = problem(
        app.patch(&path, json!({"follow_up_date": follow_up})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["follow_up_date"]);
    app.patch(&path, json!({"status": "arrived"})).await;
    // Not on or before the appointment's own (local) date.
    for date in [day, day - TimeDelta::days(1)] {
        let p = problem(
            app.patch(
                &path,
                json!({"status": "fulfilled", "follow_up_date": date}),
            )
            .await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(fields(&p), ["follow_up_date"], "{date}");
    }
    let unchanged = app.get_json(&path).await;
    assert_eq!(unchanged["status"], "arrived");
    assert_eq!(unchanged["follow_up_date"], Value::Null);

    let done = app
        .patch(
            &path,
            json!({"status": "fulfilled", "follow_up_date": follow_up}),
        )
        .await;
    assert_eq!(done.status(), 200);
    let done: Value = done.json().await.unwrap();
    assert_eq!(done["status"], "fulfilled");
    assert_eq!(done["follow_up_date"], json!(follow_up));
    let jobs = jobs(&app, id).await;
    let follow: Vec<&Value> = jobs.iter().filter(|j| j["kind"] == "follow_up").collect();
    assert_eq!(follow.len(), 1, "{jobs:#?}");
    assert_eq!(follow[0]["status"], "scheduled");
    assert_eq!(
        instant(&follow[0]["due_at"]),
        time::bogota(&format!("{follow_up} 09:00"))
    );

    // A new date replaces it.
    let later = follow_up + TimeDelta::days(7);
    app.patch(&path, json!({"follow_up_date": later})).await;
    let jobs = self::jobs(&app, id).await;
    let follow: Vec<&Value> = jobs.iter().filter(|j| j["kind"] == "follow_up").collect();
    assert_eq!(follow.len(), 2);
    assert_eq!(follow[0]["status"], "cancelled");
    assert_eq!(follow[0]["outcome"], "replaced");
    assert_eq!(follow[1]["status"], "scheduled");

    clock.set(time::bogota(&format!("{later} 09:01")));
    let report = run(&app, "test-runner").await;
    assert_eq!(report.sent, 1, "{report:?}");
    let due = published(&app, "REMINDER_DUE").await;
    assert_eq!(due.len(), 1);
    assert_eq!(due[0]["kind"], "follow_up");
    assert_eq!(due[0]["follow_up_date"], json!(later));
    assert_eq!(due[0]["status"], "fulfilled");
}

#[tokio::test]
async fn noshow_schedules_the_no_show_message_at_once() {
    let clock = clock();
    let app = spawn_with(driven(&clock)).await;
    let clinic = Clinic::open(&app).await;
    let id = id_of(&clinic.book(&app, &app.bogota_in(1, "09:00")).await);
    wait_jobs(&app, id, "scheduled", 1).await;
    let day = time::local_date(&app.bogota_in(1, "09:00"));
    clock.set(time::bogota(&format!("{day} 09:20")));

    let response = app
        .patch(
            &format!("/api/v1/prm/appointments/{id}"),
            json!({"status": "noshow"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let jobs = jobs(&app, id).await;
    let no_show = jobs.iter().find(|j| j["kind"] == "no_show").unwrap();
    assert_eq!(instant(&no_show["due_at"]), clock_now(&app));

    let report = run(&app, "test-runner").await;
    // The no-show note goes out; the reminder (due 08:30, for an appointment no one
    // came to) is called off.
    assert_eq!((report.sent, report.cancelled), (1, 1), "{report:?}");
    let due = published(&app, "REMINDER_DUE").await;
    assert_eq!(due.len(), 1);
    assert_eq!(due[0]["kind"], "no_show");
    let reminder = self::jobs(&app, id)
        .await
        .into_iter()
        .find(|j| j["kind"] == "reminder")
        .unwrap();
    assert_eq!(reminder["status"], "cancelled");
    assert_eq!(reminder["outcome"], "appointment_noshow");
}

fn clock_now(app: &TestApp) -> DateTime<Utc> {
    app.now()
}

fn action(
    conversation_id: Uuid,
    kind: BookingActionKind,
    appointment_id: Uuid,
    patient_id: Option<Uuid>,
) -> Envelope {
    Envelope::new(
        "conversations",
        BookingAction {
            conversation_id,
            action: kind,
            appointment_id: Some(appointment_id),
            reason: None,
            patient_id,
        },
    )
}

async fn deliver(app: &TestApp, envelope: &Envelope) {
    let delivery = Delivery {
        envelope: envelope.clone(),
        consumer: journey::ACTIONS_CONSUMER.to_owned(),
        attempt: 1,
        redelivered: false,
    };
    journey::on_booking_action(app.service::<AppointmentsService>().state(), &delivery)
        .await
        .unwrap();
}

#[tokio::test]
async fn confirm_records_when_the_patient_confirmed() {
    let clock = clock();
    let app = spawn_with(driven(&clock)).await;
    let clinic = Clinic::open(&app).await;
    let id = id_of(&clinic.book(&app, &app.bogota_in(1, "09:00")).await);
    let path = format!("/api/v1/prm/appointments/{id}");
    assert_eq!(app.get_json(&path).await["confirmed_at"], Value::Null);
    let conversation = Uuid::now_v7();
    let patient: Uuid = clinic.patient["id"].as_str().unwrap().parse().unwrap();

    clock.advance(TimeDelta::minutes(5));
    deliver(
        &app,
        &action(conversation, BookingActionKind::Confirm, id, Some(patient)),
    )
    .await;
    let confirmed = app.get_json(&path).await;
    assert_eq!(confirmed["status"], "booked");
    assert_eq!(instant(&confirmed["confirmed_at"]), app.now());
    assert_eq!(confirmed["conversation_id"], json!(conversation));
}

#[tokio::test]
async fn cancel_from_the_patients_conversation_cancels_a_front_desk_appointment() {
    let clock = clock();
    let app = spawn_with(driven(&clock)).await;
    let clinic = Clinic::open(&app).await;
    let id = id_of(&clinic.book(&app, &app.bogota_in(1, "09:00")).await);
    let path = format!("/api/v1/prm/appointments/{id}");
    wait_jobs(&app, id, "scheduled", 1).await;
    let conversation = Uuid::now_v7();
    let patient: Uuid = clinic.patient["id"].as_str().unwrap().parse().unwrap();

    // Another patient's conversation, or one that does not say whose it is: refused.
    let stranger = app.create_patient("Pedro Gil", "3205556677").await;
    let stranger: Uuid = stranger["id"].as_str().unwrap().parse().unwrap();
    for patient_id in [Some(stranger), None] {
        deliver(
            &app,
            &action(conversation, BookingActionKind::Cancel, id, patient_id),
        )
        .await;
        let unchanged = app.get_json(&path).await;
        assert_eq!(unchanged["status"], "booked");
        assert_eq!(unchanged["conversation_id"], Value::Null);
    }
    assert!(published(&app, "APPOINTMENT_CANCELLED").await.is_empty());

    deliver(
        &app,
        &action(conversation, BookingActionKind::Cancel, id, Some(patient)),
    )
    .await;
    let cancelled = app.get_json(&path).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["conversation_id"], json!(conversation));
    let events = published(&app, "APPOINTMENT_CANCELLED").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["conversation_id"], json!(conversation));
    assert_eq!(events[0]["cancelled_by"], "patient");
    // And its reminder with it.
    let jobs = wait_jobs(&app, id, "cancelled", 1).await;
    assert_eq!(jobs[0]["outcome"], "appointment_cancelled");

    // Now the conversation's appointment: another conversation still may not touch it.
    let reopened = app.get_json(&path).await;
    assert_eq!(reopened["conversation_id"], json!(conversation));
}

#[tokio::test]
async fn the_patients_answer_from_a_newer_conversation_moves_the_appointment_to_it() {
    let clock = clock();
    let app = spawn_with(driven(&clock)).await;
    let clinic = Clinic::open(&app).await;
    let id = id_of(&clinic.book(&app, &app.bogota_in(1, "09:00")).await);
    let path = format!("/api/v1/prm/appointments/{id}");
    let patient: Uuid = clinic.patient["id"].as_str().unwrap().parse().unwrap();
    // The appointment belongs to the patient's first conversation…
    let first = Uuid::now_v7();
    deliver(
        &app,
        &action(first, BookingActionKind::Confirm, id, Some(patient)),
    )
    .await;
    assert_eq!(app.get_json(&path).await["conversation_id"], json!(first));

    // …which was closed; the reminder opened another. A stranger's conversation is
    // still refused.
    let stranger = app.create_patient("Pedro Gil", "3205556677").await;
    let stranger: Uuid = stranger["id"].as_str().unwrap().parse().unwrap();
    deliver(
        &app,
        &action(
            Uuid::now_v7(),
            BookingActionKind::Cancel,
            id,
            Some(stranger),
        ),
    )
    .await;
    let unchanged = app.get_json(&path).await;
    assert_eq!(unchanged["status"], "booked");
    assert_eq!(unchanged["conversation_id"], json!(first));

    let second = Uuid::now_v7();
    deliver(
        &app,
        &action(second, BookingActionKind::Cancel, id, Some(patient)),
    )
    .await;
    let cancelled = app.get_json(&path).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["conversation_id"], json!(second));
    let events = published(&app, "APPOINTMENT_CANCELLED").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["conversation_id"], json!(second));
}

#[tokio::test]
async fn the_reminders_of_an_unknown_appointment_are_a_404() {
    let app = spawn_with(driven(&clock())).await;
    problem(
        app.get(&format!(
            "/api/v1/prm/appointments/{}/reminders",
            Uuid::now_v7()
        ))
        .await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn a_bad_reminder_rule_stops_the_service_at_start_naming_it() {
    for (variable, value, named) in [
        ("REMINDER_RULES", "1d@10:00,tomorrow", "tomorrow"),
        ("REMINDER_RULES", "1d@25:00", "1d@25:00"),
        ("FOLLOW_UP_TIME", "9am", "HH:MM"),
    ] {
        let refused = prm_testkit::try_spawn(
            &[&prm_appointments::SERVICE],
            Spawn::new().var(variable, value),
        )
        .await;
        let error = format!("{:#}", refused.err().expect("refused to start"));
        assert!(
            error.contains(variable) && error.contains(named),
            "{variable}={value}: {error}"
        );
    }
}
