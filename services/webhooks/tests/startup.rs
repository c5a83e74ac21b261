//! The webhooks service starts while RabbitMQ is unreachable: accepted messages
//! wait in the outbox, so a broker outage at start must not stop intake.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::collections::HashMap;

use prm_platform::Settings;
use prm_runtime::{Host, HostOptions};

#[tokio::test]
async fn starts_and_is_ready_without_a_reachable_broker() {
    let url = prm_store::testing::fresh_database_url().await;
    let vars: HashMap<String, String> = [
        ("HOST", "127.0.0.1"),
        ("PORT", "0"),
        ("PRM_API_KEYS", "startup-key-0123456789"),
        ("DATABASE_URL", url.as_str()),
        ("AMQP_URL", "amqp://guest:guest@127.0.0.1:1/%2f"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let settings = Settings::from_map(prm_webhooks::DEFAULT_PORT, &vars).unwrap();
    let started = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        Host::build(settings, &[&prm_webhooks::SERVICE], HostOptions::default()),
    )
    .await;
    let app = started
        .expect("start does not wait for the broker")
        .expect("the service builds")
        .start()
        .await
        .expect("the service starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let ready = reqwest::get(format!("{address}/ready")).await.unwrap();
    assert_eq!(ready.status(), 200);
}
