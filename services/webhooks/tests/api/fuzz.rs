//! Arbitrary input, correctly signed: whatever a provider (or anyone holding its secret)
//! posts, the service answers 2xx or 4xx, never 5xx; a message it accepts is stored
//! exactly once; and it stays healthy.
//!
//! Inputs come from proptest strategies: most shaped like the provider's payloads with
//! random values (so they reach the parsers' deeper paths), the rest arbitrary. Values
//! include what breaks storage layers: U+0000 and other control characters (PostgreSQL
//! text refuses U+0000, `jsonb` its escape) and ids around and over the 255 characters
//! `inbound_messages.provider_message_id` holds, in multi-byte characters too. The seed
//! is random and printed with every failure; `PRM_FUZZ_SEED=<hex>` replays a run
//! (`prm_platform::testing`).

use std::collections::{BTreeMap, HashSet};

use prm_domain::events::MessageProvider;
use prm_platform::testing::{Tally, any_json, draw};
use prm_store::inbound_messages::is_storable_provider_message_id;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::helpers::*;

const CASES: usize = 48;

/// Text mixing U+0000, other C0/C1 controls, DEL, separators and a BOM with ordinary
/// and multi-byte characters (`any::<String>()` never draws control characters).
fn control_text() -> impl Strategy<Value = String> {
    let c = prop_oneof![
        3 => prop_oneof![
            Just('\u{0}'),
            Just('\u{1}'),
            Just('\u{7}'),
            Just('\u{8}'),
            Just('\t'),
            Just('\n'),
            Just('\r'),
            Just('\u{1b}'),
            Just('\u{7f}'),
            Just('\u{85}'),
            Just('\u{9f}'),
            Just('\u{2028}'),
            Just('\u{feff}'),
        ],
        2 => prop::char::range('a', 'z'),
        1 => any::<char>(),
        1 => Just('é'),
    ];
    prop::collection::vec(c, 0..40).prop_map(|chars| chars.into_iter().collect())
}

/// Provider ids around the column's limit: a few characters, 250 to 260 (at and over
/// 255), or 1000, in ASCII or two-byte characters.
fn long_id(prefix: &'static str) -> impl Strategy<Value = String> {
    (
        prop_oneof![Just('a'), Just('é'), Just('0')],
        prop_oneof![0usize..4, 248usize..=258, 1000usize..=1001],
    )
        .prop_map(move |(c, n)| format!("{prefix}{}", String::from_iter(std::iter::repeat_n(c, n))))
}

/// Strings a parser should survive: anything, and near-misses of the real formats.
fn field_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        control_text(),
        long_id("SM"),
        "[0-9]{0,25}",
        "-?[0-9]{1,12}",
        "(whatsapp:)?\\+?[0-9 ()-]{0,20}",
        "SM[0-9a-f]{0,40}",
        "https?://[a-z.]{1,20}/[a-zA-Z0-9/]{0,20}",
        "(audio|image|text)/[a-z;= ]{0,15}",
        // RFC 3339 and the expanded years JSON parsers also read (-5000, +200000).
        "[+-]?[0-9]{4,6}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([+-][0-9]{2}:[0-9]{2}|Z)",
    ]
}

fn twilio_form() -> impl Strategy<Value = Vec<(String, String)>> {
    let known = prop_oneof![
        Just("MessageSid"),
        Just("From"),
        Just("To"),
        Just("Body"),
        Just("NumMedia"),
        Just("MediaUrl0"),
        Just("MediaContentType0"),
        Just("MediaUrl1"),
        Just("ProfileName"),
        Just("WaId"),
        Just("MessageStatus"),
        Just("ErrorCode"),
    ]
    .prop_map(str::to_owned);
    let name = prop_oneof![4 => known, 1 => any::<String>()];
    let arbitrary = prop::collection::vec((name, field_value()), 0..14);
    // A real message with a few of its values replaced.
    let mutated = prop::collection::vec((0usize..15, field_value()), 1..4).prop_map(|edits| {
        let mut form = twilio_message(&unique_sid(), "Hola");
        for (index, value) in edits {
            let i = index % form.len();
            form[i].1 = value;
        }
        form
    });
    // A real message whose id is near or over the limit, or holds control characters,
    // with control characters in its texts.
    let sid = prop_oneof![
        long_id("SM"),
        control_text().prop_map(|t| format!("SM{t}")),
        Just(String::new()).prop_map(|_| unique_sid()),
    ];
    let hostile = (sid, control_text(), control_text(), control_text()).prop_map(
        |(sid, body, name, extra)| {
            let mut form = twilio_message(&sid, &body);
            for (k, v) in &mut form {
                if k == "ProfileName" {
                    *v = name.clone();
                }
            }
            form.push(("ButtonPayload".into(), extra.clone()));
            form.push((format!("X{extra}"), extra));
            form
        },
    );
    prop_oneof![2 => mutated, 2 => hostile, 1 => arbitrary]
}

fn meta_delivery() -> impl Strategy<Value = Value> {
    let kind = prop_oneof![
        Just("text".to_owned()),
        Just("audio".to_owned()),
        Just("image".to_owned()),
        Just("interactive".to_owned()),
        Just("button".to_owned()),
        Just("sticker".to_owned()),
        ".{0,10}",
    ];
    let id = || {
        prop_oneof![
            3 => "wamid\\.[A-Za-z0-9]{0,24}",
            1 => long_id("wamid."),
            1 => control_text().prop_map(|t| format!("wamid.{t}")),
        ]
    };
    let content = prop_oneof![
        any_json(),
        control_text().prop_map(|t| json!({"body": t, "caption": t, "id": "1"})),
        (control_text(), control_text()).prop_map(|(id, title)| {
            json!({"type": "button_reply", "button_reply": {"id": id, "title": title}})
        }),
    ];
    let from = prop_oneof![field_value(), Just("573001234567".to_owned()),];
    let message = (kind, from, id(), content, prop::option::of(field_value())).prop_map(
        |(kind, from, id, content, timestamp)| {
            let mut m = json!({"type": kind, "from": from, "id": id});
            if let Some(ts) = timestamp {
                m["timestamp"] = json!(ts);
            }
            m[kind.as_str()] = content;
            m
        },
    );
    let status = (
        prop_oneof![
            Just("sent".to_owned()),
            Just("delivered".to_owned()),
            Just("read".to_owned()),
            Just("failed".to_owned()),
            ".{0,10}",
        ],
        id(),
        field_value(),
        any_json(),
    )
        .prop_map(|(status, id, recipient, errors)| {
            json!({"id": id, "status": status, "recipient_id": recipient, "timestamp": "1767225600", "errors": errors})
        });
    let shaped = (
        prop::collection::vec(message, 0..4),
        prop::collection::vec(status, 0..3),
        prop_oneof![Just("messages".to_owned()), ".{0,10}"],
        control_text(),
    )
        .prop_map(|(messages, statuses, field, name)| {
            json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": field, "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
                "contacts": [{"profile": {"name": name}, "wa_id": "573001234567"}],
                "messages": messages, "statuses": statuses}}]}]})
        });
    prop_oneof![3 => shaped, 1 => any_json()]
}

fn voice_call() -> impl Strategy<Value = Value> {
    let transcript = prop_oneof![
        any::<String>().prop_map(Value::from),
        control_text().prop_map(Value::from),
        prop::collection::vec((".{0,10}", control_text()), 0..4).prop_map(|turns| {
            Value::Array(
                turns
                    .into_iter()
                    .map(|(role, text)| json!({"role": role, "text": text}))
                    .collect(),
            )
        }),
        any_json(),
    ];
    let shaped = (
        prop::option::of(prop_oneof![
            "call_[a-z0-9]{1,20}".prop_map(Value::from),
            long_id("call_").prop_map(Value::from),
            control_text().prop_map(Value::from),
            any_json()
        ]),
        prop::option::of(field_value()),
        prop::option::of(field_value()),
        prop::option::of(transcript),
        prop::option::of(any_json()),
        prop::option::of(any_json()),
        prop::option::of(field_value()),
        prop::option::of(field_value()),
    )
        .prop_map(
            |(call_id, from, to, transcript, intent, data, started, ended)| {
                let mut call = BTreeMap::new();
                let mut put = |k: &str, v: Option<Value>| {
                    if let Some(v) = v {
                        call.insert(k.to_owned(), v);
                    }
                };
                put("call_id", call_id);
                put("from", from.map(Value::from));
                put("to", to.map(Value::from));
                put("transcript", transcript);
                put("intent", intent);
                put("extracted_data", data);
                put("started_at", started.map(Value::from));
                put("ended_at", ended.map(Value::from));
                Value::Object(call.into_iter().collect())
            },
        );
    // A valid call with a few fields replaced or removed (none, sometimes).
    let fields = [
        "call_id",
        "from",
        "to",
        "transcript",
        "intent",
        "extracted_data",
        "started_at",
        "ended_at",
    ];
    let mutated = prop::collection::vec((0usize..fields.len(), prop::option::of(any_json())), 0..3)
        .prop_map(move |edits| {
            let mut call = json!({
                "call_id": format!("call_{}", uuid::Uuid::new_v4().simple()),
                "from": "+573001234567",
                "to": "+576015551234",
                "transcript": [{"role": "user", "text": "Quiero una cita"}],
                "intent": "book_appointment",
                "extracted_data": {"department": "Cardiology"},
                "started_at": "2026-11-22T14:00:00Z",
                "ended_at": "2026-11-22T14:03:10Z"
            });
            for (field, value) in edits {
                match value {
                    Some(v) => call[fields[field]] = v,
                    None => {
                        call.as_object_mut().map(|o| o.remove(fields[field]));
                    }
                }
            }
            call
        });
    prop_oneof![2 => mutated, 2 => shaped, 1 => any_json()]
}

#[tokio::test]
async fn arbitrary_signed_twilio_forms_never_fail_the_service() {
    let app = spawn_app().await;
    let (seed, forms) = draw(twilio_form(), CASES);
    let (mut messages, mut statuses) = (Tally::default(), Tally::default());
    let mut seen = HashSet::new();
    for form in &forms {
        let mut answers = Vec::new();
        for (path, tally) in [(TWILIO_PATH, &mut messages), (STATUS_PATH, &mut statuses)] {
            let status = app.post_twilio(path, form).await.status().as_u16();
            tally.record(&seed, status, &(path, form));
            answers.push(status);
        }
        let sids: Vec<&str> = form
            .iter()
            .filter(|(k, _)| k == "MessageSid")
            .map(|(_, v)| v.as_str())
            .collect();
        let [sid] = sids[..] else { continue };
        if !is_storable_provider_message_id(sid) {
            // Over 255 characters or with control characters: refused on both routes.
            assert!(
                answers.iter().all(|&a| a == 400),
                "{answers:?} for {form:?} (seed {seed})"
            );
            continue;
        }
        // An accepted message is stored exactly once, whatever else came with it…
        if app.rows(MessageProvider::Twilio, sid).await > 0 {
            assert_eq!(app.rows(MessageProvider::Twilio, sid).await, 1, "{form:?}");
            // …with its body verbatim (the first time that sid was posted).
            if seen.insert(sid.to_owned()) {
                let body = form
                    .iter()
                    .find(|(k, _)| k == "Body")
                    .map_or("", |(_, v)| v);
                let events = app.received(sid).await;
                assert_eq!(events.len(), 1, "{form:?}");
                assert_eq!(events[0]["body"], body, "{form:?} (seed {seed})");
            }
        }
    }
    messages.assert_mixed("twilio messages", &seed);
    statuses.assert_mixed("twilio status callbacks", &seed);
    app.assert_healthy().await;
}

#[tokio::test]
async fn arbitrary_signed_meta_deliveries_never_fail_the_service() {
    let app = spawn_app().await;
    let (seed, bodies) = draw(meta_delivery(), CASES);
    let mut tally = Tally::default();
    for body in &bodies {
        let bytes = serde_json::to_vec(body).unwrap();
        let status = app
            .post_signed_json(META_PATH, "X-Hub-Signature-256", META_APP_SECRET, &bytes)
            .await
            .status()
            .as_u16();
        tally.record(&seed, status, body);
    }
    tally.assert_mixed("meta", &seed);
    app.assert_healthy().await;
}

#[tokio::test]
async fn arbitrary_signed_voice_agent_calls_never_fail_the_service() {
    let app = spawn_app().await;
    let (seed, calls) = draw(voice_call(), CASES);
    let mut tally = Tally::default();
    for call in &calls {
        let bytes = serde_json::to_vec(call).unwrap();
        let response = app
            .post_signed_json(VOICE_PATH, "X-PRM-Signature", VOICE_SECRET, &bytes)
            .await;
        let status = response.status().as_u16();
        tally.record(&seed, status, call);
        if let Some(id) = call["call_id"].as_str() {
            if !is_storable_provider_message_id(id) {
                assert!(
                    status == 400 || status == 422,
                    "{status} for {call} (seed {seed})"
                );
            } else if status == 200 {
                assert_eq!(app.rows(MessageProvider::VoiceAgent, id).await, 1, "{call}");
            }
        }
    }
    tally.assert_mixed("voice agent", &seed);
    app.assert_healthy().await;
}
