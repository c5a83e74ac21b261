//! End to end through the real Redis and RabbitMQ: 20 concurrent copies of one
//! MessageSid reach the broker as exactly one MESSAGE_RECEIVED.

use std::time::Duration;

use futures::StreamExt;
use lapin::{
    Connection, ConnectionProperties, ExchangeKind,
    options::{BasicConsumeOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions},
    types::FieldTable,
};
use prm_bus::BusConfig;

use crate::helpers::*;

#[tokio::test]
async fn twenty_concurrent_copies_reach_rabbitmq_as_one_event() {
    let amqp = rabbit().await;
    redis().await;
    let prefix = format!("test-{}.", uuid::Uuid::new_v4().simple());
    let app = spawn(
        Spawn {
            bus: BusConfig::with_prefix(prefix.clone()),
            ..Spawn::default()
        }
        .vars(&[("AMQP_URL", amqp)]),
    )
    .await;

    let conn = Connection::connect(
        amqp,
        ConnectionProperties::default()
            .with_executor(tokio_executor_trait::Tokio::current())
            .with_reactor(tokio_reactor_trait::Tokio),
    )
    .await
    .expect("connect to RabbitMQ");
    let channel = conn.create_channel().await.unwrap();
    let exchange = format!("{prefix}prm.events");
    channel
        .exchange_declare(
            &exchange,
            ExchangeKind::Topic,
            lapin::options::ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let queue = channel
        .queue_declare(
            "",
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    channel
        .queue_bind(
            queue.name().as_str(),
            &exchange,
            "message.received",
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut consumer = channel
        .basic_consume(
            queue.name().as_str(),
            "webhooks-test",
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();

    let sid = unique_sid();
    let other = unique_sid();
    let form = twilio_message(&sid, "hola 👋");
    let other_form = twilio_message(&other, "otra");
    let (copies, single) = tokio::join!(
        futures::future::join_all((0..20).map(|_| app.post_twilio(TWILIO_PATH, &form))),
        app.post_twilio(TWILIO_PATH, &other_form),
    );
    assert!(copies.iter().all(|r| r.status() == 200));
    assert_eq!(single.status(), 200);

    let mut seen: Vec<(String, serde_json::Value, Option<String>)> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    // Collect until both arrived, then a little longer to catch any duplicate.
    let mut quiet_until = None;
    loop {
        let until = quiet_until.unwrap_or(deadline);
        match tokio::time::timeout_at(until, consumer.next()).await {
            Ok(Some(Ok(delivery))) => {
                let envelope: serde_json::Value = serde_json::from_slice(&delivery.data).unwrap();
                let message_id = delivery
                    .properties
                    .message_id()
                    .as_ref()
                    .map(|m| m.to_string());
                seen.push((
                    envelope["data"]["provider_message_id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    envelope,
                    message_id,
                ));
                let has = |id: &str| seen.iter().any(|(s, _, _)| s == id);
                if has(&sid) && has(&other) && quiet_until.is_none() {
                    quiet_until = Some(tokio::time::Instant::now() + Duration::from_secs(2));
                }
            }
            Ok(_) => panic!("consumer ended"),
            Err(_) => break,
        }
    }
    let ours: Vec<_> = seen.iter().filter(|(s, _, _)| *s == sid).collect();
    assert_eq!(
        ours.len(),
        1,
        "exactly one MESSAGE_RECEIVED for the MessageSid"
    );
    assert_eq!(seen.iter().filter(|(s, _, _)| *s == other).count(), 1);
    let (_, envelope, message_id) = ours[0];
    assert_eq!(envelope["type"], "MESSAGE_RECEIVED");
    assert_eq!(envelope["data"]["body"], "hola 👋");
    assert_eq!(message_id.as_deref(), envelope["id"].as_str());
    assert_eq!(
        app.rows(prm_domain::events::MessageProvider::Twilio, &sid)
            .await,
        1
    );

    let _ = channel
        .exchange_delete(&exchange, ExchangeDeleteOptions::default())
        .await;
    let _ = channel
        .exchange_delete(
            &format!("{prefix}prm.events.dlx"),
            ExchangeDeleteOptions::default(),
        )
        .await;
    let _ = conn.close(200, "bye").await;
}

#[tokio::test]
async fn the_dedup_markers_live_in_redis_when_configured() {
    let app = spawn_app().await;
    assert!(app.uses_redis);
    let health: serde_json::Value = app
        .client
        .get(app.url("/api/v1/prm/webhooks/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["dedup"], "redis");

    // The markers a webhook leaves are in the real Redis with a 24 h TTL.
    let redis = prm_state::from_config(Some(REDIS_URL), Some(app.redis_prefix.as_str())).unwrap();
    let sid = unique_sid();
    twiml(
        app.post_twilio(TWILIO_PATH, &twilio_message(&sid, "hola"))
            .await,
    )
    .await;
    let status = pairs(&[("MessageSid", sid.as_str()), ("MessageStatus", "delivered")]);
    twiml(app.post_twilio(STATUS_PATH, &status).await).await;
    for key in [
        format!("webhooks:dedup:twilio:{sid}"),
        format!("webhooks:status:twilio:{sid}:delivered"),
    ] {
        let ttl = redis
            .ttl(&key)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{key} has no TTL"));
        let full = prm_webhooks::inbox::DEDUP_TTL;
        assert!(
            ttl <= full && ttl > full - Duration::from_secs(60),
            "{key}: {ttl:?}"
        );
    }
    assert_eq!(
        prm_webhooks::inbox::DEDUP_TTL,
        Duration::from_secs(24 * 60 * 60)
    );
}
