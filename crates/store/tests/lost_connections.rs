//! PostgreSQL sessions terminated under the store (as a failover, a restart or a
//! proxy's idle timeout does) cost nothing but a retry: reads, writes and the readiness
//! ping go on; a transaction is run again when it failed before COMMIT, and a COMMIT
//! that lost its connection is reported as of unknown outcome, never retried.
//!
//! PostgreSQL only (`PRM_TEST_DATABASE=postgres`): SQLite has no server to lose. The
//! same code paths run on SQLite with simulated failures in the crate's unit tests.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use chrono::{TimeZone, Utc};
use prm_domain::{
    AppointmentStatus, Channel, Location, Patient, PhoneNumber, Practitioner,
    events::{AppointmentCreated, Envelope, EventData, MessageProvider, MessageReceived},
};
use prm_store::{
    NewAppointment, Store, StoreError,
    inbound_messages::{self, NewInboundMessage},
    outbox::{Outbox, Producer},
    testing::{TestBackend, backend, fresh_database_url, postgres_admin_url},
};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use uuid::Uuid;

/// A store on a fresh PostgreSQL database, and an administration connection that can
/// terminate its sessions; `None` (with a note) on SQLite.
async fn postgres() -> Option<(Store, Admin)> {
    if backend() != TestBackend::Postgres {
        eprintln!("skipped: lost connections need PostgreSQL (PRM_TEST_DATABASE=postgres)");
        return None;
    }
    let url = fresh_database_url().await;
    let name = url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let store = Store::connect_and_migrate(&url).await.unwrap();
    let admin = Database::connect(postgres_admin_url()).await.unwrap();
    Some((store, Admin { admin, name, url }))
}

/// The test's own view of the database, apart from the store's pool.
struct Admin {
    admin: DatabaseConnection,
    name: String,
    url: String,
}

impl Admin {
    /// A new connection to the test database, for checking what the store wrote (the
    /// store's pool may hold connections terminated a moment ago).
    async fn checker(&self) -> DatabaseConnection {
        Database::connect(&self.url).await.unwrap()
    }

    /// The ids of the events waiting in `outbox`.
    async fn outbox_ids(&self, outbox: Outbox) -> Vec<Uuid> {
        let db = self.checker().await;
        let ids = outbox
            .unpublished(&db, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event_id)
            .collect();
        db.close().await.unwrap();
        ids
    }

    /// Terminates every session of the test database (waiting until each is gone);
    /// returns how many.
    async fn terminate_sessions(&self) -> i64 {
        self.count(&format!(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) FROM pg_stat_activity \
             WHERE datname = '{}' AND pid <> pg_backend_pid()",
            self.name
        ))
        .await
    }

    /// Sessions of the test database waiting in `pg_sleep`.
    async fn sleeping(&self) -> i64 {
        self.count(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND wait_event = 'PgSleep'",
            self.name
        ))
        .await
    }

    async fn count(&self, sql: &str) -> i64 {
        self.admin
            .query_one(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                sql,
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap()
    }
}

fn location() -> Location {
    Location {
        id: Uuid::now_v7(),
        name: "Sede Norte".into(),
        timezone: "America/Bogota".parse().unwrap(),
        address: None,
        city: None,
        phone: None,
    }
}

fn patient(phone: &str) -> Patient {
    Patient {
        id: Uuid::now_v7(),
        name: "María Pérez".into(),
        phone: PhoneNumber::parse(phone, "57").unwrap(),
        birth_date: None,
        locale: None,
    }
}

async fn booking(store: &Store, hour: u32) -> NewAppointment {
    let location = store.insert_location(&location()).await.unwrap();
    let practitioner = store
        .insert_practitioner(&Practitioner {
            id: Uuid::now_v7(),
            name: "Dr. Ana Gómez".into(),
            specialty: "Cardiology".into(),
            phone: None,
            active: true,
        })
        .await
        .unwrap();
    let patient = store
        .insert_patient(&patient(&format!(
            "300{:07}",
            Uuid::now_v7().as_u128() % 10_000_000
        )))
        .await
        .unwrap();
    let start = Utc.with_ymd_and_hms(2027, 3, 1, hour, 0, 0).unwrap();
    NewAppointment {
        id: Uuid::now_v7(),
        status: AppointmentStatus::Booked,
        start,
        end: start + chrono::Duration::minutes(30),
        patient_id: patient.id,
        practitioner_id: practitioner.id,
        location_id: location.id,
        conversation_id: None,
        channel: None,
        reason: None,
        notes: None,
        booking_key: None,
        created_at: chrono::Utc::now(),
    }
}

fn created() -> Envelope {
    Envelope::new("appointments", AppointmentCreated::example())
}

/// Opens as many pooled connections as `n` concurrent transactions need, so that the
/// pool holds several idle ones to lose.
async fn warm_up(store: &Store, n: usize) {
    let producer = Producer::new(Outbox::APPOINTMENTS, None);
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (store, producer, barrier) = (store.clone(), producer.clone(), barrier.clone());
            tokio::spawn(async move {
                let barrier = &barrier;
                store
                    .write(&producer, |_tx| {
                        Box::pin(async move {
                            barrier.wait().await;
                            Ok::<_, StoreError>(())
                        })
                    })
                    .await
                    .unwrap();
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_writes_and_ping_go_on_after_every_session_was_terminated() {
    let Some((store, admin)) = postgres().await else {
        return;
    };
    let producer = Producer::new(Outbox::APPOINTMENTS, None);
    let kept = store.insert_location(&location()).await.unwrap();
    for round in 0..3 {
        warm_up(&store, 6).await;
        assert!(admin.terminate_sessions().await >= 6, "round {round}");
        // Each kind of work meets the dead pooled connections first.
        store.ping().await.unwrap();
        admin.terminate_sessions().await;
        assert_eq!(store.get_location(kept.id).await.unwrap(), kept);
        admin.terminate_sessions().await;
        store
            .insert_patient(&patient(&format!("30012345{round:02}")))
            .await
            .unwrap();
        admin.terminate_sessions().await;
        let new = &booking(&store, 8 + round).await;
        admin.terminate_sessions().await;
        let event = &created();
        store
            .write(&producer, |tx| {
                Box::pin(async move {
                    let booked = tx.insert_appointment(new).await?;
                    tx.announce(event.clone());
                    Ok::<_, StoreError>(booked)
                })
            })
            .await
            .unwrap();
        assert!(
            admin
                .outbox_ids(Outbox::APPOINTMENTS)
                .await
                .contains(&event.id)
        );
    }
}

/// The session dies in the middle of the work: the work runs again on a new
/// connection, and what the first run wrote (rolled back with the session) and
/// announced is gone.
#[tokio::test]
async fn a_transaction_whose_session_died_before_commit_runs_again_and_writes_once() {
    let Some((store, admin)) = postgres().await else {
        return;
    };
    let new = &booking(&store, 9).await;
    let producer = Producer::new(Outbox::APPOINTMENTS, None);
    let (runs, admin) = (&AtomicUsize::new(0), &admin);
    let (abandoned, kept) = (&created(), &created());
    let booked = store
        .write(&producer, |tx| {
            Box::pin(async move {
                let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
                let booked = tx.insert_appointment(new).await?;
                if run == 1 {
                    tx.announce(abandoned.clone());
                    admin.terminate_sessions().await;
                } else {
                    tx.announce(kept.clone());
                }
                Ok::<_, StoreError>(booked)
            })
        })
        .await
        .unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(store.get_appointment(new.id).await.unwrap(), booked);
    assert_eq!(admin.outbox_ids(Outbox::APPOINTMENTS).await, [kept.id]);
}

/// The session dies while COMMIT is being processed (here: in a deferred trigger that
/// sleeps): the store cannot know whether the server committed, so it says so instead
/// of running the work again.
#[tokio::test]
async fn a_commit_that_lost_its_session_is_of_unknown_outcome_and_not_run_again() {
    let Some((store, admin)) = postgres().await else {
        return;
    };
    let new = &booking(&store, 10).await;
    store
        .connection()
        .execute_unprepared(
            "CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN PERFORM pg_sleep(30); RETURN NULL; END $$; \
             CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON appointments_outbox \
             DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()",
        )
        .await
        .unwrap();
    let killer = tokio::spawn(async move {
        while admin.sleeping().await == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        admin.terminate_sessions().await
    });
    let producer = Producer::new(Outbox::APPOINTMENTS, None);
    let runs = &AtomicUsize::new(0);
    let error = store
        .write(&producer, |tx| {
            Box::pin(async move {
                runs.fetch_add(1, Ordering::SeqCst);
                tx.insert_appointment(new).await?;
                tx.announce(created());
                Ok::<_, StoreError>(())
            })
        })
        .await
        .unwrap_err();
    assert!(killer.await.unwrap() >= 1);
    assert!(error.is_unavailable(), "{error:?}");
    assert!(error.is_outcome_unknown(), "{error:?}");
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "never run again after COMMIT"
    );
    // Here the session died before the commit record: nothing was saved.
    assert!(matches!(
        store.get_appointment(new.id).await,
        Err(StoreError::NotFound(_))
    ));
}

/// Of two transactions that deadlock, PostgreSQL aborts one; it runs again once the
/// other committed, and both changes are saved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_victim_of_a_deadlock_runs_again() {
    let Some((store, _admin)) = postgres().await else {
        return;
    };
    let producer = Producer::new(Outbox::APPOINTMENTS, None);
    let (a, b) = (booking(&store, 11).await, booking(&store, 12).await);
    for new in [&a, &b] {
        store
            .write(&producer, |tx| {
                Box::pin(async move { tx.insert_appointment(new).await })
            })
            .await
            .unwrap();
    }
    let a = store.get_appointment(a.id).await.unwrap();
    let b = store.get_appointment(b.id).await.unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let runs = Arc::new(AtomicUsize::new(0));
    let touch_in_order = |first: prm_domain::Appointment, second: prm_domain::Appointment| {
        let (store, producer, barrier, runs) = (
            store.clone(),
            producer.clone(),
            barrier.clone(),
            runs.clone(),
        );
        tokio::spawn(async move {
            let (first, second, barrier, runs) = (&first, &second, &barrier, &runs);
            store
                .write(&producer, |tx| {
                    Box::pin(async move {
                        let run = runs.fetch_add(1, Ordering::SeqCst);
                        tx.update_appointment(first, first, None).await?;
                        if run < 2 {
                            // Both hold their first lock before either takes its second.
                            barrier.wait().await;
                        }
                        tx.update_appointment(second, second, None).await
                    })
                })
                .await
        })
    };
    let one = touch_in_order(a.clone(), b.clone());
    let two = touch_in_order(b, a);
    one.await.unwrap().unwrap();
    two.await.unwrap().unwrap();
    // The victim may lose a second time when its new run queues for the first lock
    // before the winner got it; in the end both are saved.
    assert!(runs.load(Ordering::SeqCst) >= 3, "the victim ran again");
}

/// A webhook's message is one statement with its event: killed while the statement
/// runs (in a trigger that sleeps), it is stored again on a new connection, once.
#[tokio::test]
async fn an_inbound_message_whose_session_died_mid_statement_is_stored_once() {
    let Some((store, admin)) = postgres().await else {
        return;
    };
    store
        .connection()
        .execute_unprepared(
            // Only the first insert sleeps: a sequence is not rolled back with it.
            "CREATE SEQUENCE inserts; \
             CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN IF nextval('inserts') = 1 THEN PERFORM pg_sleep(30); END IF; \
             RETURN NULL; END $$; \
             CREATE TRIGGER slow_insert AFTER INSERT ON inbound_messages \
             FOR EACH ROW EXECUTE FUNCTION slow_insert()",
        )
        .await
        .unwrap();
    let killer = tokio::spawn(async move {
        while admin.sleeping().await == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(admin.terminate_sessions().await >= 1);
        admin
    });
    let event = Envelope::new("webhooks", MessageReceived::example());
    let message = NewInboundMessage {
        id: Uuid::now_v7(),
        provider: MessageProvider::Twilio,
        provider_message_id: "SMkilled000000000000000000000000000".to_owned(),
        channel: Channel::Whatsapp,
        from: PhoneNumber::parse("+573001234567", "57").unwrap(),
        to: None,
        received_at: Utc::now(),
        event_id: Some(event.id),
        pending_event: None,
        provider_fields: None,
    };
    let producer = Producer::new(Outbox::WEBHOOKS, None);
    assert!(
        store
            .accept_inbound_message(&producer, &message, &event)
            .await
            .unwrap()
    );
    let admin = killer.await.unwrap();
    let db = admin.checker().await;
    assert_eq!(
        inbound_messages::count_for(&db, MessageProvider::Twilio, &message.provider_message_id)
            .await
            .unwrap(),
        1
    );
    assert_eq!(admin.outbox_ids(Outbox::WEBHOOKS).await, [event.id]);
}
