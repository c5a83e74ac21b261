//! What a Twilio message may hold beyond a plain text: provider fields and locations,
//! ids the database cannot hold, U+0000 and other control characters, JSON bodies
//! signed with `bodySHA256`, and the suite's known-answer WhatsApp vector over HTTP.

use prm_domain::events::MessageProvider;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::*;

fn with(mut form: Vec<(String, String)>, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    for (name, value) in extra {
        form.retain(|(k, _)| k != name);
        form.push(((*name).to_owned(), (*value).to_owned()));
    }
    form
}

#[tokio::test]
async fn a_message_sid_over_255_characters_is_400_and_255_is_stored() {
    let app = spawn_app().await;
    // Multi-byte characters: the column counts characters, and so does the check.
    let too_long = format!("SM{}", "é".repeat(254));
    assert_eq!(too_long.chars().count(), 256);
    let body = problem(
        app.post_twilio(TWILIO_PATH, &twilio_message(&too_long, "hola"))
            .await,
        400,
        "bad_request",
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("MessageSid"),
        "{body}"
    );
    let status_form = pairs(&[("MessageSid", too_long.as_str()), ("MessageStatus", "sent")]);
    problem(
        app.post_twilio(STATUS_PATH, &status_form).await,
        400,
        "bad_request",
    )
    .await;
    assert_eq!(app.total_rows().await, 0);
    assert_eq!(app.total_events().await, 0);

    let longest = format!("SM{}", "é".repeat(253));
    twiml(
        app.post_twilio(TWILIO_PATH, &twilio_message(&longest, "hola"))
            .await,
    )
    .await;
    assert_eq!(app.rows(MessageProvider::Twilio, &longest).await, 1);
    assert_eq!(app.received(&longest).await.len(), 1);
    app.assert_healthy().await;
}

#[tokio::test]
async fn nul_and_control_characters_reach_the_event_verbatim() {
    let app = spawn_app().await;
    let sid = unique_sid();
    let text = "antes\u{0}después\u{1}\u{7}\u{1b}[31m\u{7f}\u{9f} fin\u{0}";
    let name = "Ma\u{0}ría\u{8}";
    let form = with(
        twilio_message(&sid, text),
        &[
            ("ProfileName", name),
            ("ButtonText", "Sí\u{0}"),
            ("Unknown\u{0}Field", "v\u{0}"),
        ],
    );
    twiml(app.post_twilio(TWILIO_PATH, &form).await).await;
    let events = app.received(&sid).await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0]["body"].as_str().unwrap().as_bytes(),
        text.as_bytes()
    );
    assert_eq!(events[0]["profile_name"], name);
    assert_eq!(events[0]["provider_fields"]["ButtonText"], "Sí\u{0}");
    assert_eq!(events[0]["provider_fields"]["Unknown\u{0}Field"], "v\u{0}");
    let stored = app
        .stored_fields(MessageProvider::Twilio, &sid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(Value::Object(stored), events[0]["provider_fields"]);

    // A status callback carrying U+0000 in its error fields.
    let status_sid = unique_sid();
    let status = pairs(&[
        ("MessageSid", status_sid.as_str()),
        ("MessageStatus", "failed"),
        ("ErrorCode", "300\u{0}01"),
        ("ErrorMessage", "bad\u{0}"),
    ]);
    twiml(app.post_twilio(STATUS_PATH, &status).await).await;
    let statuses = app.statuses(&status_sid).await;
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0]["error_code"], "300\u{0}01");

    // An id with a control character is no Twilio id: refused, nothing stored.
    for bad in ["SM\u{0}1", "SM1\n"] {
        problem(
            app.post_twilio(TWILIO_PATH, &twilio_message(bad, "hola"))
                .await,
            400,
            "bad_request",
        )
        .await;
        problem(
            app.post_twilio(
                STATUS_PATH,
                &pairs(&[("MessageSid", bad), ("MessageStatus", "sent")]),
            )
            .await,
            400,
            "bad_request",
        )
        .await;
    }
    assert_eq!(app.total_rows().await, 1);
    // The relay published them too (the payload is JSON with `\u0000` escapes).
    eventually(
        std::time::Duration::from_secs(10),
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
    app.assert_healthy().await;
}

#[tokio::test]
async fn a_location_message_keeps_its_coordinates_and_every_provider_field() {
    let app = spawn_app().await;
    let sid = unique_sid();
    let form = with(
        twilio_message(&sid, ""),
        &[
            ("MessageType", "location"),
            ("Latitude", "4.6534649"),
            ("Longitude", "-74.0836453"),
            ("Address", "Cra. 7 #40-62, Bogotá"),
            ("Label", "Sede Norte"),
            ("Forwarded", "true"),
            ("FrequentlyForwarded", "false"),
            ("MessagingServiceSid", "MG0123456789abcdef0123456789abcdef"),
            ("ChannelMetadata", "{\"type\":\"whatsapp\"}"),
        ],
    );
    twiml(app.post_twilio(TWILIO_PATH, &form).await).await;
    let events = app.received(&sid).await;
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event["body"], "");
    assert_eq!(
        event["location"],
        json!({"latitude": 4.6534649, "longitude": -74.0836453, "address": "Cra. 7 #40-62, Bogotá", "label": "Sede Norte"})
    );
    let fields = event["provider_fields"].as_object().unwrap();
    for (name, value) in [
        ("MessageType", "location"),
        ("Latitude", "4.6534649"),
        ("Longitude", "-74.0836453"),
        ("Address", "Cra. 7 #40-62, Bogotá"),
        ("Label", "Sede Norte"),
        ("Forwarded", "true"),
        ("FrequentlyForwarded", "false"),
        ("MessagingServiceSid", "MG0123456789abcdef0123456789abcdef"),
        ("ChannelMetadata", "{\"type\":\"whatsapp\"}"),
        ("ReferralNumMedia", "0"),
        ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
        ("SmsStatus", "received"),
        ("NumSegments", "1"),
        ("ApiVersion", "2010-04-01"),
    ] {
        assert_eq!(fields.get(name), Some(&json!(value)), "{name}");
    }
    // What the event carries by name is not repeated.
    for carried in [
        "MessageSid",
        "From",
        "To",
        "Body",
        "NumMedia",
        "ProfileName",
        "WaId",
    ] {
        assert!(!fields.contains_key(carried), "{carried}");
    }
    let stored = app
        .stored_fields(MessageProvider::Twilio, &sid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&stored, fields);
}

#[tokio::test]
async fn quick_replies_and_unreadable_coordinates_are_kept_as_provider_fields() {
    let app = spawn_app().await;
    let sid = unique_sid();
    let form = with(
        twilio_message(&sid, "Confirmar"),
        &[
            ("ButtonText", "Confirmar"),
            ("ButtonPayload", "confirm:slot-2"),
            ("Latitude", "north"),
            ("Longitude", "-74"),
        ],
    );
    twiml(app.post_twilio(TWILIO_PATH, &form).await).await;
    let event = app.received(&sid).await.remove(0);
    assert_eq!(event["body"], "Confirmar");
    assert_eq!(event["provider_fields"]["ButtonPayload"], "confirm:slot-2");
    assert_eq!(event["provider_fields"]["ButtonText"], "Confirmar");
    assert_eq!(event["provider_fields"]["Latitude"], "north");
    assert!(event.get("location").is_none(), "{event}");
}

#[tokio::test]
async fn media_are_not_repeated_in_provider_fields_but_extra_media_are_kept() {
    let app = spawn_app().await;
    let sid = unique_sid();
    let form = with(
        twilio_message(&sid, ""),
        &[
            ("NumMedia", "1"),
            (
                "MediaUrl0",
                "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME0",
            ),
            ("MediaContentType0", "image/jpeg"),
            (
                "MediaUrl1",
                "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
            ),
        ],
    );
    twiml(app.post_twilio(TWILIO_PATH, &form).await).await;
    let event = app.received(&sid).await.remove(0);
    assert_eq!(event["media"].as_array().unwrap().len(), 1);
    let fields = event["provider_fields"].as_object().unwrap();
    assert!(!fields.contains_key("MediaUrl0") && !fields.contains_key("MediaContentType0"));
    assert_eq!(
        fields["MediaUrl1"],
        "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
    );
}

/// A JSON body posted as Twilio signs one: `bodySHA256` in the URL, the URL signed.
async fn post_twilio_json(app: &TestApp, path: &str, body: &[u8]) -> reqwest::Response {
    let hash = hex::encode(Sha256::digest(body));
    let path = format!("{path}?bodySHA256={hash}");
    let signature = twilio_signature(&path, &[]);
    app.post_json_signed(
        &path,
        body.to_vec(),
        &[("X-Twilio-Signature", signature.as_str())],
    )
    .await
}

#[tokio::test]
async fn a_json_body_signed_with_body_sha256_is_accepted_on_both_routes() {
    let app = spawn_app().await;
    let sid = unique_sid();
    let body = serde_json::to_vec(&json!({
        "MessageSid": sid,
        "From": "whatsapp:+573001234567",
        "To": "whatsapp:+14155238886",
        "Body": "Hola desde JSON",
        "NumMedia": 0,
        "ProfileName": "María Pérez",
        "Forwarded": true,
        "ChannelMetadata": {"type": "whatsapp"},
        "Ignored": null
    }))
    .unwrap();
    twiml(post_twilio_json(&app, TWILIO_PATH, &body).await).await;
    let events = app.received(&sid).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["body"], "Hola desde JSON");
    assert_eq!(events[0]["from"], "+573001234567");
    assert_eq!(events[0]["profile_name"], "María Pérez");
    assert_eq!(events[0]["provider_fields"]["Forwarded"], "true");
    assert_eq!(
        events[0]["provider_fields"]["ChannelMetadata"],
        "{\"type\":\"whatsapp\"}"
    );
    assert!(events[0]["provider_fields"].get("Ignored").is_none());

    let status_sid = unique_sid();
    let status =
        serde_json::to_vec(&json!({"MessageSid": status_sid, "MessageStatus": "delivered"}))
            .unwrap();
    twiml(post_twilio_json(&app, STATUS_PATH, &status).await).await;
    assert_eq!(app.statuses(&status_sid).await.len(), 1);

    // The body is bound by its hash: another body under the same signed URL is refused…
    let hash = hex::encode(Sha256::digest(&body));
    let path = format!("{TWILIO_PATH}?bodySHA256={hash}");
    let signature = twilio_signature(&path, &[]);
    let other = serde_json::to_vec(
        &json!({"MessageSid": unique_sid(), "From": "+573001234567", "To": "+14155238886"}),
    )
    .unwrap();
    problem(
        app.post_json_signed(&path, other, &[("X-Twilio-Signature", signature.as_str())])
            .await,
        403,
        "invalid_signature",
    )
    .await;
    // …and so is a signature over another URL.
    let wrong = twilio_signature(TWILIO_PATH, &[]);
    problem(
        app.post_json_signed(
            &path,
            body.clone(),
            &[("X-Twilio-Signature", wrong.as_str())],
        )
        .await,
        403,
        "invalid_signature",
    )
    .await;
    // Correctly signed JSON that is not an object is a 400, not a crash.
    problem(
        post_twilio_json(&app, TWILIO_PATH, b"[1, 2]").await,
        422,
        "validation_failed",
    )
    .await;
    problem(
        post_twilio_json(&app, TWILIO_PATH, b"{\"MessageSid\":").await,
        400,
        "malformed_json",
    )
    .await;
    assert_eq!(app.received(&sid).await.len(), 1);
    assert_eq!(app.total_rows().await, 1);
}

/// The suite's W1 vector (a WhatsApp message signed with Twilio's official library).
fn w1() -> Value {
    let fixture: Value =
        serde_json::from_str(include_str!("../fixtures/twilio-signatures.json")).unwrap();
    fixture["whatsapp"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "W1_text")
        .cloned()
        .expect("W1_text in the fixture")
}

#[tokio::test]
async fn the_w1_vector_replayed_over_http() {
    let w1 = w1();
    let url = w1["url"].as_str().unwrap();
    let token = w1["auth_token"].as_str().unwrap();
    let form_body = w1["form_body"].as_str().unwrap();
    let signature = w1["expected_signature"].as_str().unwrap();
    // PUBLIC_BASE_URL is put in front of our route, so W1 can be replayed with its own
    // signature only when its URL ends with the route.
    let base = url.strip_suffix(TWILIO_PATH);
    let app = match base {
        Some(base) => {
            spawn_app_with(&[("TWILIO_AUTH_TOKEN", token), ("PUBLIC_BASE_URL", base)]).await
        }
        None => {
            // W1 was signed for `/webhooks/twilio/whatsapp`, which no PUBLIC_BASE_URL maps
            // onto `/api/v1/prm/webhooks/twilio`: its own signature must then be refused
            // (the URL is part of what is signed)…
            let app = spawn_app_with(&[("TWILIO_AUTH_TOKEN", token)]).await;
            let r = app
                .post_raw(
                    TWILIO_PATH,
                    "application/x-www-form-urlencoded",
                    form_body.to_owned(),
                    &[("X-Twilio-Signature", signature)],
                )
                .await;
            problem(r, 403, "invalid_signature").await;
            app
        }
    };
    // …and its exact bytes, signed with W1's token for our public URL, are accepted.
    let params = prm_twilio::parse_form(form_body.as_bytes()).unwrap();
    let our_signature = match base {
        Some(_) => signature.to_owned(),
        None => prm_twilio::RequestValidator::new(secrecy::SecretString::from(token.to_owned()))
            .compute_signature(&format!("{PUBLIC_BASE_URL}{TWILIO_PATH}"), &params),
    };
    let r = app
        .post_raw(
            TWILIO_PATH,
            "application/x-www-form-urlencoded",
            form_body.to_owned(),
            &[("X-Twilio-Signature", our_signature.as_str())],
        )
        .await;
    twiml(r).await;
    let sid = w1["params"]["MessageSid"].as_str().unwrap();
    let events = app.received(sid).await;
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event["provider"], "twilio");
    assert_eq!(event["channel"], "whatsapp");
    assert_eq!(event["from"], "+573001234567");
    assert_eq!(event["to"], "+14155238886");
    assert_eq!(event["body"], w1["params"]["Body"]);
    assert_eq!(event["profile_name"], w1["params"]["ProfileName"]);
    assert_eq!(event["wa_id"], w1["params"]["WaId"]);
    assert_eq!(
        event["provider_fields"]["AccountSid"],
        w1["params"]["AccountSid"]
    );
}
