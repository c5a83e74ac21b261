//! Voice-note transcription: the [`Transcriber`] port and its OpenAI-compatible adapter
//! (`POST {OPENAI_BASE_URL}/audio/transcriptions`, `OPENAI_TRANSCRIPTION_MODEL`).
//!
//! There is no offline built-in transcription: without `OPENAI_API_KEY` voice notes go
//! out untranscribed, and an n8n workflow receives the media URLs in its trigger to
//! transcribe them itself. Downloading the audio (and refusing media URLs outside the
//! provider's hosts) is the webhooks service's job; this only sends bytes.

use std::time::Duration;

use async_openai::{
    Client,
    config::OpenAIConfig,
    types::audio::{AudioInput, CreateTranscriptionRequestArgs},
};
use async_trait::async_trait;
use serde::Deserialize;

use crate::{error::AiError, openai::OpenAiConfig};

/// OpenAI accepts files up to 25 MB.
pub const MAX_AUDIO_BYTES: usize = 25 * 1024 * 1024;

/// Turns a voice note into text.
#[async_trait]
pub trait Transcriber: Send + Sync {
    /// `content_type` as the provider gave it ("audio/ogg; codecs=opus").
    async fn transcribe(&self, audio: Vec<u8>, content_type: &str) -> Result<String, AiError>;
}

/// Transcription through an OpenAI-compatible server.
#[derive(Clone)]
pub struct OpenAiTranscriber {
    client: Client<OpenAIConfig>,
    model: String,
    timeout: Duration,
}

impl std::fmt::Debug for OpenAiTranscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiTranscriber")
            .field("model", &self.model)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl OpenAiTranscriber {
    /// `config.model` is the transcription model (`OPENAI_TRANSCRIPTION_MODEL`). Busy
    /// or failing servers (429, 5xx) are retried within `config.timeout`: the voice note
    /// is transcribed in the background, so waiting costs nobody.
    pub fn new(config: &OpenAiConfig) -> Result<Self, AiError> {
        Ok(Self::with_http_client(config, config.http()?))
    }

    /// On the caller's HTTP client (its timeouts, redirect policy and pool).
    pub fn with_http_client(config: &OpenAiConfig, http: reqwest::Client) -> Self {
        Self {
            client: config.client(http, config.timeout),
            model: config.model.clone(),
            timeout: config.timeout,
        }
    }
}

#[async_trait]
impl Transcriber for OpenAiTranscriber {
    async fn transcribe(&self, audio: Vec<u8>, content_type: &str) -> Result<String, AiError> {
        if audio.len() > MAX_AUDIO_BYTES {
            return Err(AiError::Refused(format!(
                "audio is larger than {MAX_AUDIO_BYTES} bytes"
            )));
        }
        let request = CreateTranscriptionRequestArgs::default()
            .file(AudioInput::from_vec_u8(
                audio_file_name(content_type).to_owned(),
                audio,
            ))
            .model(self.model.clone())
            .build()
            .map_err(|e| AiError::Refused(format!("request: {e}")))?;
        // Only `text` is read: OpenAI adds `usage`, compatible servers often do not.
        #[derive(Deserialize)]
        struct Transcription {
            text: String,
        }
        let audio = self.client.audio();
        let transcription = audio.transcription();
        let call = transcription.create_byot(request);
        let response: Transcription = tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| AiError::Timeout(self.timeout))?
            .map_err(|e| crate::openai::from_openai(e, self.timeout))?;
        Ok(response.text)
    }
}

/// A file name whose extension tells the server the audio format.
pub fn audio_file_name(content_type: &str) -> &'static str {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        "audio/mpeg" | "audio/mp3" => "voice-note.mp3",
        "audio/mp4" | "audio/m4a" | "audio/x-m4a" | "audio/aac" => "voice-note.m4a",
        "audio/wav" | "audio/x-wav" | "audio/wave" => "voice-note.wav",
        "audio/webm" => "voice-note.webm",
        "audio/flac" => "voice-note.flac",
        "audio/amr" => "voice-note.amr",
        _ => "voice-note.ogg",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_follow_the_content_type() {
        assert_eq!(audio_file_name("audio/ogg; codecs=opus"), "voice-note.ogg");
        assert_eq!(audio_file_name("audio/mpeg"), "voice-note.mp3");
        assert_eq!(audio_file_name("AUDIO/MP4"), "voice-note.m4a");
        assert_eq!(
            audio_file_name("application/octet-stream"),
            "voice-note.ogg"
        );
    }
}
