use crate::helpers::*;

fn status(sid: &str, status: &str) -> Vec<(String, String)> {
    pairs(&[
        ("MessageSid", sid),
        ("SmsSid", sid),
        ("MessageStatus", status),
        ("SmsStatus", status),
        ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
        ("From", "whatsapp:+14155238886"),
        ("To", "whatsapp:+573001234567"),
        ("ApiVersion", "2010-04-01"),
    ])
}

#[tokio::test]
async fn each_status_of_a_message_becomes_one_status_event() {
    let app = spawn_app().await;
    let sid = unique_sid();
    // Twilio's words that map to one catalog status give one event: `accepted` and
    // `queued` are both `queued`, `sending` and `sent` both `sent`.
    for s in [
        "accepted",
        "queued",
        "sending",
        "sent",
        "sent",
        "delivered",
        "delivered",
        "read",
    ] {
        twiml(app.post_twilio(STATUS_PATH, &status(&sid, s)).await).await;
    }
    let events = app.statuses(&sid).await;
    let statuses: Vec<&str> = events
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["queued", "sent", "delivered", "read"]);
    assert!(
        events
            .iter()
            .all(|e| e["provider"] == "twilio" && e["message_id"].is_null())
    );
}

#[tokio::test]
async fn concurrent_duplicate_statuses_give_one_event() {
    let app = spawn_app().await;
    let sid = unique_sid();
    let form = status(&sid, "delivered");
    let responses =
        futures::future::join_all((0..10).map(|_| app.post_twilio(STATUS_PATH, &form))).await;
    assert!(responses.iter().all(|r| r.status() == 200));
    assert_eq!(app.statuses(&sid).await.len(), 1);
}

#[tokio::test]
async fn failures_carry_the_error_code() {
    let app = spawn_app().await;
    let sid = unique_sid();
    let mut form = status(&sid, "undelivered");
    form.push(("ErrorCode".into(), "63016".into()));
    twiml(app.post_twilio(STATUS_PATH, &form).await).await;
    let events = app.statuses(&sid).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["status"], "undelivered");
    assert_eq!(events[0]["error_code"], "63016");
}

#[tokio::test]
async fn statuses_without_delivery_meaning_are_acknowledged_without_event() {
    let app = spawn_app().await;
    let sid = unique_sid();
    twiml(
        app.post_twilio(STATUS_PATH, &status(&sid, "received"))
            .await,
    )
    .await;
    assert!(app.statuses(&sid).await.is_empty());
}

#[tokio::test]
async fn status_callbacks_are_signed_and_complete() {
    let app = spawn_app().await;
    let sid = unique_sid();
    let form = status(&sid, "delivered");
    let r = app.post_form(STATUS_PATH, &form, None).await;
    problem(r, 400, "bad_request").await;
    let r = app.post_form(STATUS_PATH, &form, Some("AAAA")).await;
    problem(r, 403, "invalid_signature").await;
    let incomplete: Vec<_> = form
        .iter()
        .filter(|(k, _)| k != "MessageStatus" && k != "SmsStatus")
        .cloned()
        .collect();
    problem(
        app.post_twilio(STATUS_PATH, &incomplete).await,
        400,
        "bad_request",
    )
    .await;
    assert!(app.statuses(&sid).await.is_empty());
}

#[tokio::test]
async fn sending_and_sent_give_one_sent_event_even_concurrently() {
    let app = spawn_app().await;
    let sid = unique_sid();
    let (sending, sent) = (status(&sid, "sending"), status(&sid, "sent"));
    let responses = futures::future::join_all(
        (0..10).map(|i| app.post_twilio(STATUS_PATH, if i % 2 == 0 { &sending } else { &sent })),
    )
    .await;
    assert!(responses.iter().all(|r| r.status() == 200));
    let events = app.statuses(&sid).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["status"], "sent");
    // `failed` and `canceled` are one status too; `undelivered` is another.
    for s in ["canceled", "failed", "undelivered"] {
        twiml(app.post_twilio(STATUS_PATH, &status(&sid, s)).await).await;
    }
    let statuses: Vec<String> = app
        .statuses(&sid)
        .await
        .iter()
        .map(|e| e["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(statuses, ["sent", "failed", "undelivered"]);
}
