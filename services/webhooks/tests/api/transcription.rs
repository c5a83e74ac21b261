//! Voice notes against a fake OpenAI server and fake Twilio/Meta media servers.

use std::time::{Duration, Instant};

use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{basic_auth, bearer_token, method, path},
};

use crate::helpers::*;

const ACCOUNT_SID: &str = "ACtest0123456789abcdef0123456789ab";
const MEDIA_PATH: &str =
    "/2010-04-01/Accounts/ACtest0123456789abcdef0123456789ab/Messages/MM1/Media/ME1";
const AUDIO: &[u8] = b"OggS\x00\x02fake-opus-voice-note";
const META_TOKEN: &str = "meta-access-token";

struct Fakes {
    openai: MockServer,
    media: MockServer,
}

async fn fakes() -> Fakes {
    let (openai, media) = tokio::join!(MockServer::start(), MockServer::start());
    Mock::given(method("GET"))
        .and(path(MEDIA_PATH))
        .and(basic_auth(ACCOUNT_SID, TWILIO_TOKEN))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "audio/ogg")
                .set_body_bytes(AUDIO),
        )
        .mount(&media)
        .await;
    Fakes { openai, media }
}

async fn openai_answers(fakes: &Fakes, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path("/v1/audio/transcriptions"))
        .respond_with(response)
        .mount(&fakes.openai)
        .await;
}

/// OpenAI answers `text`, `seconds` after the request.
async fn openai_answers_after(fakes: &Fakes, seconds: u64, text: &str) {
    let answer = ResponseTemplate::new(200)
        .set_delay(Duration::from_secs(seconds))
        .set_body_json(json!({ "text": text }));
    openai_answers(fakes, answer).await;
}

async fn app_with(fakes: &Fakes) -> TestApp {
    app_with_media(fakes, &fakes.media.uri()).await
}

/// The app with Twilio's API and Meta's Graph API both at `media`.
async fn app_with_media(fakes: &Fakes, media: &str) -> TestApp {
    let openai = format!("{}/v1", fakes.openai.uri());
    spawn_app_with(&[
        ("TWILIO_ACCOUNT_SID", ACCOUNT_SID),
        ("TWILIO_API_BASE", media),
        ("OPENAI_API_KEY", "sk-test"),
        ("OPENAI_BASE_URL", openai.as_str()),
        ("OPENAI_TRANSCRIPTION_MODEL", "whisper-1"),
        ("WHATSAPP_GRAPH_API_BASE", media),
        ("WHATSAPP_ACCESS_TOKEN", META_TOKEN),
    ])
    .await
}

fn voice_note(sid: &str, media_url: &str) -> Vec<(String, String)> {
    let mut form = twilio_message(sid, "");
    form.retain(|(k, _)| k != "NumMedia");
    form.extend(pairs(&[
        ("NumMedia", "1"),
        ("MediaUrl0", media_url),
        ("MediaContentType0", "audio/ogg"),
    ]));
    form
}

async fn wait_for_event(app: &TestApp, id: &str) -> serde_json::Value {
    eventually(
        Duration::from_secs(15),
        "the voice note's event",
        || async { !app.received(id).await.is_empty() },
    )
    .await;
    let events = app.received(id).await;
    assert_eq!(events.len(), 1);
    events[0].clone()
}

#[tokio::test]
async fn a_twilio_voice_note_is_downloaded_with_basic_auth_and_transcribed() {
    let fakes = fakes().await;
    openai_answers(&fakes, ResponseTemplate::new(200).set_body_json(json!({"text": "Quiero una cita el martes", "usage": {"type": "duration", "seconds": 3}}))).await;
    let app = app_with(&fakes).await;
    let sid = unique_sid();
    let url = format!("{}{MEDIA_PATH}", fakes.media.uri());
    twiml(app.post_twilio(TWILIO_PATH, &voice_note(&sid, &url)).await).await;

    let event = wait_for_event(&app, &sid).await;
    assert_eq!(event["transcription"], "Quiero una cita el martes");
    assert_eq!(
        event["media"],
        json!([{"url": url, "content_type": "audio/ogg"}])
    );
    let requests = fakes.openai.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let multipart = &requests[0].body;
    let contains = |needle: &[u8]| multipart.windows(needle.len()).any(|w| w == needle);
    assert!(
        contains(AUDIO),
        "the downloaded audio is what OpenAI receives"
    );
    assert!(contains(b"whisper-1"));
    assert!(contains(b"voice-note.ogg"));
    assert_eq!(
        requests[0].headers.get("authorization").unwrap(),
        "Bearer sk-test"
    );
}

#[tokio::test]
async fn the_webhook_answers_before_the_transcription_is_done() {
    let fakes = fakes().await;
    openai_answers_after(&fakes, 2, "tarde").await;
    let app = app_with(&fakes).await;
    let sid = unique_sid();
    let url = format!("{}{MEDIA_PATH}", fakes.media.uri());
    let started = Instant::now();
    twiml(app.post_twilio(TWILIO_PATH, &voice_note(&sid, &url)).await).await;
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "answered in {:?}",
        started.elapsed()
    );
    assert!(
        app.received(&sid).await.is_empty(),
        "the event waits for the transcription"
    );
    assert_eq!(wait_for_event(&app, &sid).await["transcription"], "tarde");
}

#[tokio::test]
async fn a_failed_transcription_still_publishes_the_event_with_null() {
    let fakes = fakes().await;
    openai_answers(&fakes, ResponseTemplate::new(400).set_body_json(json!({"error": {"message": "Invalid file format.", "type": "invalid_request_error", "param": null, "code": null}}))).await;
    let app = app_with(&fakes).await;
    let sid = unique_sid();
    let url = format!("{}{MEDIA_PATH}", fakes.media.uri());
    twiml(app.post_twilio(TWILIO_PATH, &voice_note(&sid, &url)).await).await;
    let event = wait_for_event(&app, &sid).await;
    assert!(event["transcription"].is_null());
    assert_eq!(event["media"][0]["url"], url);
}

#[tokio::test]
async fn an_unreachable_media_gives_a_null_transcription() {
    let fakes = fakes().await;
    openai_answers(
        &fakes,
        ResponseTemplate::new(200).set_body_json(json!({"text": "x"})),
    )
    .await;
    let app = app_with(&fakes).await;
    let sid = unique_sid();
    let url = format!(
        "{}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM1/Media/MISSING",
        fakes.media.uri()
    );
    twiml(app.post_twilio(TWILIO_PATH, &voice_note(&sid, &url)).await).await;
    assert!(wait_for_event(&app, &sid).await["transcription"].is_null());
    assert!(fakes.openai.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn credentials_never_go_to_a_media_url_outside_the_twilio_api() {
    let fakes = fakes().await;
    openai_answers(
        &fakes,
        ResponseTemplate::new(200).set_body_json(json!({"text": "x"})),
    )
    .await;
    let elsewhere = MockServer::start().await;
    let app = app_with(&fakes).await;
    let sid = unique_sid();
    let url = format!("{}{MEDIA_PATH}", elsewhere.uri());
    twiml(app.post_twilio(TWILIO_PATH, &voice_note(&sid, &url)).await).await;
    assert!(wait_for_event(&app, &sid).await["transcription"].is_null());
    assert!(
        elsewhere.received_requests().await.unwrap().is_empty(),
        "no request to another host"
    );
    assert!(fakes.openai.received_requests().await.unwrap().is_empty());
}

/// Meta's Graph API at the media server: media id 987654321 resolves to a file URL there.
async fn meta_media(fakes: &Fakes) {
    let file_url = format!("{}/lookaside/audio/abc", fakes.media.uri());
    Mock::given(method("GET"))
        .and(path("/987654321"))
        .and(bearer_token(META_TOKEN))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"url": file_url, "mime_type": "audio/ogg", "id": "987654321"}),
            ),
        )
        .mount(&fakes.media)
        .await;
    Mock::given(method("GET"))
        .and(path("/lookaside/audio/abc"))
        .and(bearer_token(META_TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(AUDIO))
        .mount(&fakes.media)
        .await;
}

/// Posts a signed Meta voice note (media id 987654321) sent at Unix time `timestamp`;
/// returns its `wamid`.
async fn post_meta_voice_note(app: &TestApp, timestamp: i64) -> String {
    let id = format!("wamid.{}", uuid::Uuid::new_v4().simple());
    let body = serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": {
        "metadata": {"display_phone_number": "15550783881"},
        "messages": [{"from": "573001234567", "id": id, "timestamp": timestamp.to_string(), "type": "audio", "audio": {"id": "987654321", "mime_type": "audio/ogg; codecs=opus", "voice": true}}]
    }}]}]}))
    .unwrap();
    let r = app
        .post_signed_json(META_PATH, "X-Hub-Signature-256", META_APP_SECRET, &body)
        .await;
    assert_eq!(r.status(), 200);
    id
}

#[tokio::test]
async fn a_meta_voice_note_is_resolved_through_the_graph_api_and_transcribed() {
    let fakes = fakes().await;
    openai_answers(
        &fakes,
        ResponseTemplate::new(200).set_body_json(json!({"text": "me duele el pecho"})),
    )
    .await;
    meta_media(&fakes).await;
    let app = app_with(&fakes).await;
    let id = post_meta_voice_note(&app, 1_767_225_600).await;
    let event = wait_for_event(&app, &id).await;
    assert_eq!(event["transcription"], "me duele el pecho");
    assert_eq!(
        event["media"][0]["url"],
        format!("{}/987654321", fakes.media.uri())
    );
}

#[tokio::test]
async fn a_voice_note_left_pending_is_published_once_by_the_sweep() {
    let fakes = fakes().await;
    openai_answers_after(&fakes, 3, "tarde").await;
    let app = app_with(&fakes).await;
    let sid = unique_sid();
    let url = format!("{}{MEDIA_PATH}", fakes.media.uri());
    twiml(app.post_twilio(TWILIO_PATH, &voice_note(&sid, &url)).await).await;
    // As after a crash: the sweep publishes it without transcription…
    assert_eq!(
        app.service()
            .inbox()
            .recover_pending(Duration::ZERO)
            .await
            .unwrap(),
        1
    );
    let events = app.received(&sid).await;
    assert_eq!(events.len(), 1);
    assert!(events[0]["transcription"].is_null());
    assert_eq!(
        app.service()
            .inbox()
            .recover_pending(Duration::ZERO)
            .await
            .unwrap(),
        0
    );
    // …and the live transcription, finishing later, does not publish a second event.
    eventually(
        Duration::from_secs(10),
        "the transcription request",
        || async { !fakes.openai.received_requests().await.unwrap().is_empty() },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(app.received(&sid).await.len(), 1);
}

/// Meta's `timestamp` is when the patient sent the message; for a delivery Meta retried
/// late, that is long ago. The sweep for abandoned voice notes must not take such a note
/// while its transcription is still running: judged by that time, it did, and the event
/// went out without the text (a test that failed about one run in two on PostgreSQL).
#[tokio::test]
async fn a_voice_note_sent_long_ago_is_not_swept_while_it_is_transcribed() {
    let fakes = fakes().await;
    openai_answers_after(&fakes, 2, "llegó tarde").await;
    meta_media(&fakes).await;
    let app = app_with(&fakes).await;
    let three_hours_ago = app.now().timestamp() - 3 * 3600;
    let id = post_meta_voice_note(&app, three_hours_ago).await;
    eventually(
        Duration::from_secs(10),
        "the transcription request",
        || async { !fakes.openai.received_requests().await.unwrap().is_empty() },
    )
    .await;
    // The sweep with a grace of a minute, while OpenAI is still answering.
    let swept = app
        .service()
        .inbox()
        .recover_pending(Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(swept, 0);
    assert_eq!(
        wait_for_event(&app, &id).await["transcription"],
        "llegó tarde"
    );
}

/// A media server that drops the first connection without answering (as a keep-alive
/// connection closed by the server at the wrong moment looks), then serves the audio.
#[tokio::test]
async fn a_download_whose_connection_drops_is_tried_once_more() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let fakes = fakes().await;
    openai_answers(
        &fakes,
        ResponseTemplate::new(200).set_body_json(json!({"text": "segunda vez"})),
    )
    .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let media = format!("http://{}", listener.local_addr().unwrap());
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut request = vec![0u8; 4096];
            let _ = socket.read(&mut request).await;
            if n == 0 {
                drop(socket); // no answer at all
                continue;
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: audio/ogg\r\ncontent-length: {}\r\n\r\n",
                AUDIO.len()
            );
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(AUDIO).await;
        }
    });
    let app = app_with_media(&fakes, &media).await;
    let sid = unique_sid();
    let url = format!("{media}{MEDIA_PATH}");
    twiml(app.post_twilio(TWILIO_PATH, &voice_note(&sid, &url)).await).await;
    assert_eq!(
        wait_for_event(&app, &sid).await["transcription"],
        "segunda vez"
    );
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 2);
}
