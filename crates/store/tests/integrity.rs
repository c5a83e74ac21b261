//! The schema's own guarantees, checked on the backend chosen by PRM_TEST_DATABASE.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use prm_domain::{
    Appointment, AppointmentStatus, Location, Patient, PhoneNumber, Practitioner,
    PractitionerSchedule, Weekday,
};
use prm_store::{
    Conflict, NewAppointment, Store, StoreError,
    outbox::{Outbox, Producer},
    testing::fresh_store,
};
use sea_orm::{ConnectionTrait, TransactionTrait};
use uuid::Uuid;

struct Clinic {
    store: Store,
    location: Uuid,
    practitioner: Uuid,
    patient: Uuid,
}

async fn clinic() -> Clinic {
    let store = fresh_store().await;
    let location = store
        .insert_location(&Location {
            id: Uuid::new_v4(),
            name: "Sede Norte".into(),
            timezone: chrono_tz::America::Bogota.into(),
            address: None,
            city: None,
            phone: None,
        })
        .await
        .unwrap();
    let practitioner = store
        .insert_practitioner(&Practitioner {
            id: Uuid::new_v4(),
            name: "Dr. Ana Gómez".into(),
            specialty: "Cardiology".into(),
            phone: None,
            active: true,
        })
        .await
        .unwrap();
    let patient = store
        .insert_patient(&Patient {
            id: Uuid::new_v4(),
            name: "María Pérez".into(),
            phone: PhoneNumber::parse("3001234567", "57").unwrap(),
            birth_date: None,
            locale: None,
        })
        .await
        .unwrap();
    Clinic {
        store,
        location: location.id,
        practitioner: practitioner.id,
        patient: patient.id,
    }
}

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 3, 1, h, m, 0).unwrap()
}

fn appointment(
    c: &Clinic,
    start: DateTime<Utc>,
    minutes: i64,
    status: AppointmentStatus,
) -> NewAppointment {
    NewAppointment {
        id: Uuid::new_v4(),
        status,
        start,
        end: start + Duration::minutes(minutes),
        patient_id: c.patient,
        practitioner_id: c.practitioner,
        location_id: c.location,
        conversation_id: None,
        channel: None,
        reason: None,
        notes: None,
        booking_key: None,
        created_at: chrono::Utc::now(),
    }
}

fn monday_morning(c: &Clinic, location_id: Uuid) -> PractitionerSchedule {
    PractitionerSchedule {
        id: Uuid::new_v4(),
        practitioner_id: c.practitioner,
        location_id,
        day_of_week: Weekday::new(0).unwrap(),
        start_time: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
        end_time: NaiveTime::from_hms_opt(12, 0, 0).unwrap(),
        slot_minutes: 30,
        valid_from: None,
        valid_to: None,
    }
}

/// Each statement, run on its own inside a transaction that is rolled back, fails.
async fn assert_refused(c: &Clinic, statements: &[&str]) {
    let txn = c.store.connection().begin().await.unwrap();
    for sql in statements {
        let sp = txn.begin().await.unwrap();
        assert!(sp.execute_unprepared(sql).await.is_err(), "{sql} accepted");
        sp.rollback().await.unwrap();
    }
    txn.rollback().await.unwrap();
}

fn producer() -> Producer {
    Producer::new(Outbox::APPOINTMENTS, None)
}

/// The error of an update the store must refuse (nothing is saved).
async fn refused_update(c: &Clinic, seen: &Appointment, next: &Appointment) -> StoreError {
    c.store
        .write(&producer(), |tx| {
            Box::pin(async move { tx.update_appointment(seen, next, None).await })
        })
        .await
        .unwrap_err()
}

fn assert_slot_taken(err: &StoreError) {
    assert!(
        matches!(err, StoreError::Conflict(Conflict::SlotTaken)),
        "{err:?}"
    );
}

async fn book(c: &Clinic, a: &NewAppointment) -> Result<(), StoreError> {
    c.store
        .write(&producer(), |tx| {
            Box::pin(async move { tx.insert_appointment(a).await.map(|_| ()) })
        })
        .await
}

#[tokio::test]
async fn two_active_appointments_at_the_same_start_are_impossible() {
    let c = clinic().await;
    book(
        &c,
        &appointment(&c, at(14, 0), 30, AppointmentStatus::Booked),
    )
    .await
    .unwrap();
    let err = book(
        &c,
        &appointment(&c, at(14, 0), 30, AppointmentStatus::Booked),
    )
    .await
    .unwrap_err();
    assert_slot_taken(&err);
    let rows = c
        .store
        .list_appointments(
            &Default::default(),
            prm_store::Page {
                limit: 10,
                offset: 0,
            },
        )
        .await
        .unwrap();
    assert_eq!(rows.total, 1, "the losing booking left nothing behind");
}

#[tokio::test]
async fn overlapping_appointments_of_different_lengths_are_impossible() {
    let c = clinic().await;
    book(
        &c,
        &appointment(&c, at(14, 0), 60, AppointmentStatus::Booked),
    )
    .await
    .unwrap();
    let err = book(
        &c,
        &appointment(&c, at(14, 30), 30, AppointmentStatus::Pending),
    )
    .await
    .unwrap_err();
    assert_slot_taken(&err);
    // Touching intervals are fine: [14:00, 15:00) then [15:00, 15:30).
    book(
        &c,
        &appointment(&c, at(15, 0), 30, AppointmentStatus::Booked),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn cancelled_appointments_free_the_time() {
    let c = clinic().await;
    book(
        &c,
        &appointment(&c, at(9, 0), 30, AppointmentStatus::Cancelled),
    )
    .await
    .unwrap();
    book(
        &c,
        &appointment(&c, at(9, 0), 30, AppointmentStatus::Booked),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn rescheduling_into_an_overlap_is_refused() {
    let c = clinic().await;
    book(
        &c,
        &appointment(&c, at(9, 0), 30, AppointmentStatus::Booked),
    )
    .await
    .unwrap();
    let second = appointment(&c, at(10, 0), 30, AppointmentStatus::Booked);
    book(&c, &second).await.unwrap();
    let seen = c.store.get_appointment(second.id).await.unwrap();
    let mut moved = seen.clone();
    moved.start = at(9, 15);
    moved.end = at(9, 45);
    let err = refused_update(&c, &seen, &moved).await;
    assert_slot_taken(&err);
}

#[tokio::test]
async fn duplicate_patient_phone_is_a_conflict() {
    let c = clinic().await;
    let err = c
        .store
        .insert_patient(&Patient {
            id: Uuid::new_v4(),
            name: "Someone Else".into(),
            phone: PhoneNumber::parse("+573001234567", "57").unwrap(),
            birth_date: None,
            locale: None,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(Conflict::DuplicatePhone)),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_schema_rejects_invalid_rows_even_without_the_api() {
    let c = clinic().await;
    book(
        &c,
        &appointment(&c, at(9, 0), 30, AppointmentStatus::Booked),
    )
    .await
    .unwrap();
    assert_refused(
        &c,
        &[
            "UPDATE appointments SET status = 'maybe'",
            "UPDATE appointments SET channel = 'pigeon'",
            "UPDATE appointments SET end_at = start_at",
            "UPDATE patients SET phone = '3001234567'",
            "UPDATE patients SET locale = 'fr'",
            "UPDATE practitioners SET name = '  '",
        ],
    )
    .await;
    let schedule = monday_morning(&c, Uuid::new_v4());
    assert!(matches!(
        c.store.save_schedule(&schedule, false).await,
        Err(StoreError::MissingReference)
    ));
}

#[tokio::test]
async fn the_schema_rejects_invalid_schedules_even_without_the_api() {
    let c = clinic().await;
    c.store
        .save_schedule(&monday_morning(&c, c.location), false)
        .await
        .unwrap();
    assert_refused(
        &c,
        &[
            "UPDATE practitioner_schedules SET day_of_week = 7",
            "UPDATE practitioner_schedules SET day_of_week = -1",
            "UPDATE practitioner_schedules SET end_time = start_time",
            "UPDATE practitioner_schedules SET slot_minutes = 4",
            "UPDATE practitioner_schedules SET slot_minutes = 481",
            "UPDATE practitioner_schedules SET valid_from = '2027-02-01', valid_to = '2027-01-31'",
        ],
    )
    .await;
    // The same statement with valid values goes through: the refusals above are the checks.
    let txn = c.store.connection().begin().await.unwrap();
    txn.execute_unprepared(
        "UPDATE practitioner_schedules SET day_of_week = 6, slot_minutes = 480, \
         valid_from = '2027-01-31', valid_to = '2027-01-31'",
    )
    .await
    .unwrap();
    txn.rollback().await.unwrap();
}

/// Each of the two guards against double-booking holds on its own: with the overlap
/// guard (PostgreSQL's exclusion constraint, SQLite's triggers) dropped inside a
/// transaction, the partial unique index still refuses a second active appointment at
/// the same start, and still lets a cancelled one share it.
#[tokio::test]
async fn the_partial_unique_index_alone_refuses_a_second_active_booking_at_one_start() {
    let c = clinic().await;
    book(
        &c,
        &appointment(&c, at(9, 0), 30, AppointmentStatus::Booked),
    )
    .await
    .unwrap();
    let txn = c.store.begin().await.unwrap();
    let drop_overlap_guard: &[&str] = match c.store.backend() {
        sea_orm::DatabaseBackend::Postgres => {
            &["ALTER TABLE appointments DROP CONSTRAINT appointments_no_overlap"]
        }
        _ => &[
            "DROP TRIGGER appointments_no_overlap_insert",
            "DROP TRIGGER appointments_no_overlap_update",
        ],
    };
    for sql in drop_overlap_guard {
        txn.execute_unprepared(sql).await.unwrap();
    }
    let cancelled = appointment(&c, at(9, 0), 30, AppointmentStatus::Cancelled);
    c.store.insert_appointment(&txn, &cancelled).await.unwrap();
    let sp = txn.begin().await.unwrap();
    let err = c
        .store
        .insert_appointment(
            &sp,
            &appointment(&c, at(9, 0), 45, AppointmentStatus::Pending),
        )
        .await
        .unwrap_err();
    assert_slot_taken(&err);
    sp.rollback().await.unwrap();
    txn.rollback().await.unwrap();
}

#[tokio::test]
async fn a_write_decided_on_a_stale_read_is_refused_and_changes_nothing() {
    let c = clinic().await;
    let new = appointment(&c, at(9, 0), 30, AppointmentStatus::Booked);
    book(&c, &new).await.unwrap();
    let seen = c.store.get_appointment(new.id).await.unwrap();

    // Someone else cancels after our read…
    let mut cancelled = seen.clone();
    cancelled.status = AppointmentStatus::Cancelled;
    let (seen_first, cancelled) = (&seen, &cancelled);
    c.store
        .write(&producer(), |tx| {
            Box::pin(async move {
                tx.update_appointment(seen_first, cancelled, Some("patient asked".into()))
                    .await
            })
        })
        .await
        .unwrap();

    // …so our notes edit, decided on the booked version, must not write `booked` back.
    let mut edited = seen.clone();
    edited.notes = Some("bring previous results".into());
    let err = refused_update(&c, &seen, &edited).await;
    assert!(
        matches!(err, StoreError::Conflict(Conflict::Stale)),
        "{err:?}"
    );
    let now = c.store.get_appointment(new.id).await.unwrap();
    assert_eq!(now.status, AppointmentStatus::Cancelled);
    assert_eq!(now.notes, None);
    assert_eq!(now.cancellation_reason.as_deref(), Some("patient asked"));
}
