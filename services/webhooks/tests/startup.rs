//! The webhooks service starts while RabbitMQ is unreachable: accepted messages
//! wait in the outbox, so a broker outage at start must not stop intake.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use prm_testkit::{Spawn, try_spawn};

#[tokio::test]
async fn starts_and_is_ready_without_a_reachable_broker() {
    let started = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        try_spawn(
            &[&prm_webhooks::SERVICE],
            Spawn::new().var("AMQP_URL", "amqp://guest:guest@127.0.0.1:1/%2f"),
        ),
    )
    .await;
    let app = started
        .expect("start does not wait for the broker")
        .expect("the service starts");
    app.assert_healthy().await;
}
