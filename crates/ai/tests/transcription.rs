//! The OpenAI transcriber against a local server speaking `/v1/audio/transcriptions`.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use prm_ai::{AiError, OpenAiConfig, OpenAiTranscriber, Transcriber};
use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{bearer_token, method, path},
};

const AUDIO: &[u8] = b"OggS\x00\x02fake-opus-voice-note";

fn transcriber(server: &MockServer, timeout: Duration) -> OpenAiTranscriber {
    OpenAiTranscriber::new(&OpenAiConfig {
        api_key: "sk-test".to_owned().into(),
        base_url: Some(format!("{}/v1", server.uri())),
        model: "whisper-1".to_owned(),
        timeout,
    })
    .unwrap()
}

async fn answers(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path("/v1/audio/transcriptions"))
        .and(bearer_token("sk-test"))
        .respond_with(response)
        .mount(server)
        .await;
}

#[tokio::test]
async fn the_audio_and_model_are_sent_and_the_text_comes_back() {
    let server = MockServer::start().await;
    answers(
        &server,
        ResponseTemplate::new(200).set_body_json(json!({"text": "Quiero una cita el martes"})),
    )
    .await;
    let text = transcriber(&server, Duration::from_secs(5))
        .transcribe(AUDIO.to_vec(), "audio/ogg; codecs=opus")
        .await
        .unwrap();
    assert_eq!(text, "Quiero una cita el martes");
    let requests = server.received_requests().await.unwrap();
    let multipart = &requests[0].body;
    let contains = |needle: &[u8]| multipart.windows(needle.len()).any(|w| w == needle);
    assert!(contains(AUDIO) && contains(b"whisper-1") && contains(b"voice-note.ogg"));
}

#[tokio::test]
async fn a_refused_file_is_an_error_at_once() {
    let server = MockServer::start().await;
    answers(&server, ResponseTemplate::new(400).set_body_json(json!({"error": {"message": "Invalid file format.", "type": "invalid_request_error", "param": null, "code": null}}))).await;
    let error = transcriber(&server, Duration::from_secs(5))
        .transcribe(AUDIO.to_vec(), "audio/ogg")
        .await
        .unwrap_err();
    assert!(matches!(error, AiError::Refused(_)), "{error:?}");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_failing_or_silent_server_gives_up_within_the_timeout() {
    for response in [
        ResponseTemplate::new(500).set_body_string("boom"),
        ResponseTemplate::new(200).set_delay(Duration::from_secs(30)),
    ] {
        let server = MockServer::start().await;
        answers(&server, response).await;
        let started = Instant::now();
        let error = transcriber(&server, Duration::from_millis(700))
            .transcribe(AUDIO.to_vec(), "audio/ogg")
            .await
            .unwrap_err();
        assert!(
            matches!(error, AiError::Timeout(_) | AiError::Unavailable(_)),
            "{error:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn garbage_is_malformed() {
    let server = MockServer::start().await;
    answers(
        &server,
        ResponseTemplate::new(200).set_body_json(json!({"transcript": "x"})),
    )
    .await;
    let error = transcriber(&server, Duration::from_secs(5))
        .transcribe(AUDIO.to_vec(), "audio/ogg")
        .await
        .unwrap_err();
    assert!(matches!(error, AiError::Malformed(_)), "{error:?}");
}
