//! A provider message and its MESSAGE_RECEIVED event are stored together or not at all,
//! once however often and however concurrently the provider delivers it; on the backend
//! of `PRM_TEST_DATABASE` (one statement on PostgreSQL, a transaction on SQLite).

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use chrono::Utc;
use futures::FutureExt;
use prm_domain::{
    Channel, PhoneNumber,
    events::{Envelope, EventData, MessageProvider, MessageReceived},
};
use prm_store::{
    inbound_messages::NewInboundMessage,
    outbox::{Outbox, Producer, RelayNotifier},
    testing::fresh_store,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use uuid::Uuid;

fn message(provider_message_id: &str, event_id: Uuid) -> NewInboundMessage {
    NewInboundMessage {
        id: Uuid::now_v7(),
        provider: MessageProvider::Twilio,
        provider_message_id: provider_message_id.to_owned(),
        channel: Channel::Whatsapp,
        from: PhoneNumber::parse("+573001234567", "57").unwrap(),
        to: Some(PhoneNumber::parse("+14155238886", "57").unwrap()),
        received_at: Utc::now(),
        event_id: Some(event_id),
        pending_event: None,
        provider_fields: Some(serde_json::Map::from_iter([(
            "Latitude".to_owned(),
            serde_json::Value::from("4.7110"),
        )])),
    }
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    db.query_one(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap()
}

#[tokio::test]
async fn a_message_and_its_event_are_written_together_once() {
    let store = fresh_store().await;
    let db = store.connection();
    let relay = RelayNotifier::default();
    let producer = Producer::new(Outbox::WEBHOOKS, Some(relay.clone()));
    let envelope = Envelope::new("webhooks", MessageReceived::example());
    let first = message("SM0123456789abcdef0123456789abcdef", envelope.id);
    assert!(
        store
            .accept_inbound_message(&producer, &first, &envelope)
            .await
            .unwrap()
    );
    assert!(
        relay.notified().now_or_never().is_some(),
        "the relay is woken for the new event"
    );

    // The provider retries: a new message id and event, the same provider id.
    let retry_envelope = Envelope::new("webhooks", MessageReceived::example());
    let retry = message("SM0123456789abcdef0123456789abcdef", retry_envelope.id);
    assert!(
        !store
            .accept_inbound_message(&producer, &retry, &retry_envelope)
            .await
            .unwrap()
    );
    assert!(
        relay.notified().now_or_never().is_none(),
        "nothing new to relay"
    );

    assert_eq!(count(db, "SELECT count(*) FROM inbound_messages").await, 1);
    assert_eq!(count(db, "SELECT count(*) FROM webhooks_outbox").await, 1);
    let pending = Outbox::WEBHOOKS.unpublished_count(db).await.unwrap();
    assert_eq!(pending, 1);
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            "SELECT m.id, m.event_id, m.provider_fields, o.event_id AS outbox_event, o.event_type, o.routing_key, o.payload, o.headers \
             FROM inbound_messages m, webhooks_outbox o",
        ))
        .await
        .unwrap()
        .unwrap();
    let get = |c: &str| row.try_get::<String>("", c).unwrap();
    assert_eq!(get("id"), first.id.to_string());
    assert_eq!(get("event_id"), envelope.id.to_string());
    assert_eq!(get("outbox_event"), envelope.id.to_string());
    assert_eq!(get("event_type"), "MESSAGE_RECEIVED");
    assert_eq!(get("routing_key"), "message.received");
    assert_eq!(
        serde_json::from_str::<Envelope>(&get("payload")).unwrap(),
        envelope
    );
    assert_eq!(get("provider_fields"), r#"{"Latitude":"4.7110"}"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_deliveries_of_one_message_store_one_row_and_one_event() {
    let store = fresh_store().await;
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let envelope = Envelope::new("webhooks", MessageReceived::example());
                let m = message("SMconcurrent00000000000000000000000", envelope.id);
                let producer = Producer::new(Outbox::WEBHOOKS, None);
                store
                    .accept_inbound_message(&producer, &m, &envelope)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut stored = 0;
    for task in tasks {
        stored += usize::from(task.await.unwrap());
    }
    assert_eq!(stored, 1, "exactly one delivery is stored");
    let db = store.connection();
    assert_eq!(count(db, "SELECT count(*) FROM inbound_messages").await, 1);
    assert_eq!(count(db, "SELECT count(*) FROM webhooks_outbox").await, 1);
}

/// A voice note waiting for its transcription is abandoned only when it was *stored*
/// long enough ago: its `received_at` is the provider's time of the message, which for a
/// delivery retried late (or a replayed one) is long past the moment it arrived here.
#[tokio::test]
async fn pending_rows_are_aged_by_when_they_were_stored_not_by_the_providers_time() {
    let store = fresh_store().await;
    let db = store.connection();
    let pending = |sid: &str| NewInboundMessage {
        received_at: Utc::now() - chrono::TimeDelta::hours(3),
        event_id: None,
        pending_event: Some("{}".to_owned()),
        ..message(sid, Uuid::nil())
    };
    let late = pending("SMlate0000000000000000000000000000");
    assert!(store.insert_inbound_message(&late).await.unwrap());
    let an_hour_ago = Utc::now() - chrono::TimeDelta::hours(1);
    assert!(
        store
            .pending_inbound_messages(an_hour_ago, 10)
            .await
            .unwrap()
            .is_empty(),
        "stored just now, though the provider sent it three hours ago"
    );
    let found = store
        .pending_inbound_messages(Utc::now() + chrono::TimeDelta::seconds(1), 10)
        .await
        .unwrap();
    assert_eq!(found.iter().map(|p| p.id).collect::<Vec<_>>(), [late.id]);

    // A row written before `stored_at` existed is judged by `received_at`, as before.
    let legacy = pending("SMlegacy00000000000000000000000000");
    assert!(store.insert_inbound_message(&legacy).await.unwrap());
    db.execute(Statement::from_sql_and_values(
        db.get_database_backend(),
        match db.get_database_backend() {
            sea_orm::DbBackend::Postgres => {
                "UPDATE inbound_messages SET stored_at = NULL WHERE id = $1"
            }
            _ => "UPDATE inbound_messages SET stored_at = NULL WHERE id = ?",
        },
        [legacy.id.to_string().into()],
    ))
    .await
    .unwrap();
    let found = store
        .pending_inbound_messages(an_hour_ago, 10)
        .await
        .unwrap();
    assert_eq!(found.iter().map(|p| p.id).collect::<Vec<_>>(), [legacy.id]);
}
