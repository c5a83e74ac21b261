//! End to end through the real Redis and RabbitMQ: 20 concurrent copies of one
//! MessageSid reach the broker as exactly one MESSAGE_RECEIVED.

use std::time::Duration;

use prm_testkit::rabbit::EventTap;

use crate::helpers::*;

#[tokio::test]
async fn twenty_concurrent_copies_reach_rabbitmq_as_one_event() {
    let app = spawn(Spawn::new().redis().rabbit()).await;
    let mut consumer = EventTap::bind(&app.amqp_prefix, "message.received").await;

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
        let wait = until.saturating_duration_since(tokio::time::Instant::now());
        match consumer.next_delivery(wait).await {
            Some(delivery) => {
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
            None => break,
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
}

#[tokio::test]
async fn the_dedup_markers_live_in_redis_when_configured() {
    let app = spawn(Spawn::new().redis()).await;
    assert!(app.uses_redis());
    let health: serde_json::Value = app.get_json("/api/v1/prm/webhooks/health").await;
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
