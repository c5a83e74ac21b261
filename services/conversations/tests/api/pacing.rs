//! Outbound pacing: bulk sends (reminders) leave a sender number at most
//! `OUTBOUND_RATE_PER_MINUTE` a minute; the rest wait in the database, pending, and go
//! out in turn: none lost, none failed. Replies in a live conversation are not paced.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use prm_domain::{
    Channel,
    events::{Envelope, MessageSendRequested},
};
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::*;

const PATIENTS: [&str; 4] = [
    "+573001110001",
    "+573001110002",
    "+573001110003",
    "+573001110004",
];

fn reminder(to: &str) -> MessageSendRequested {
    MessageSendRequested {
        message_id: Uuid::now_v7(),
        conversation_id: None,
        channel: Channel::Sms,
        to: phone(to),
        body: "Recuerda tu cita de mañana a las 10:00 a. m.".into(),
        media: vec![],
        purpose: Some("appointment_reminder".into()),
    }
}

/// The reminders, by patient: (delivery status, error code).
async fn reminders(app: &TestApp) -> Vec<(String, Value)> {
    let mut all = Vec::new();
    for patient in PATIENTS {
        let c = app.conversation_of(patient).await;
        let messages = app.messages(c["id"].as_str().unwrap()).await;
        for m in messages
            .into_iter()
            .filter(|m| m["purpose"] == "appointment_reminder")
        {
            all.push((
                m["delivery_status"].as_str().unwrap_or_default().to_owned(),
                m["error_code"].clone(),
            ));
        }
    }
    all
}

fn sent(app: &TestApp) -> usize {
    app.recording
        .recorded()
        .iter()
        .filter(|m| m.message.channel == Channel::Sms)
        .count()
}

#[tokio::test]
async fn bulk_sends_over_the_rate_go_out_paced_none_lost_none_failed() {
    // 6 a minute: one every 10 s.
    let app = spawn(
        Spawn::default()
            .at(Utc::now())
            .var("OUTBOUND_RATE_PER_MINUTE", "6"),
    )
    .await;
    for patient in PATIENTS {
        app.publish(&Envelope::new("appointments", reminder(patient)))
            .await;
    }
    eventually(Duration::from_secs(15), || async {
        let all = reminders(&app).await;
        (all.len() == PATIENTS.len() && sent(&app) == 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.app.sweep().await;
    assert_eq!(sent(&app), 1, "one at a time, not four at once");
    let waiting = reminders(&app).await;
    assert_eq!(
        waiting
            .iter()
            .filter(|(status, code)| status == "queued" && code.is_null())
            .count(),
        3,
        "the rest wait, queued, with no error: {waiting:?}"
    );

    // A patient writing meanwhile is answered at once: replies are not paced.
    let (_, reply) = say(&app, "Hola", 1).await;
    assert!(!reply.is_empty());

    for step in 2..=PATIENTS.len() {
        // Not before its turn…
        app.kit.clock().advance(TimeDelta::seconds(9));
        app.app.sweep().await;
        assert_eq!(sent(&app), step - 1, "step {step}: too early");
        // …and at it.
        app.kit.clock().advance(TimeDelta::seconds(1));
        app.app.sweep().await;
        assert_eq!(sent(&app), step, "step {step}: its turn");
    }
    let done = reminders(&app).await;
    assert_eq!(done.len(), PATIENTS.len());
    assert!(
        done.iter()
            .all(|(status, code)| status == "recorded" && code.is_null()),
        "every reminder went out, none failed: {done:?}"
    );
    let mut to: Vec<String> = app
        .recording
        .recorded()
        .iter()
        .filter(|m| m.message.channel == Channel::Sms)
        .map(|m| m.message.to.as_str().to_owned())
        .collect();
    to.sort();
    assert_eq!(to, PATIENTS, "each patient once");
}
