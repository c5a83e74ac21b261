//! Voice notes: download the audio from the provider and transcribe it with an
//! OpenAI-compatible endpoint (async-openai, `OPENAI_BASE_URL`, `OPENAI_TRANSCRIPTION_MODEL`).
//!
//! * Twilio media URLs are fetched with basic auth (account SID : auth token), and only
//!   when they point at the configured Twilio API (`TWILIO_API_BASE`): the credentials
//!   never go to another host, and a forged URL cannot make us fetch arbitrary hosts.
//! * Meta media ids are resolved through `WHATSAPP_GRAPH_API_BASE` (`GET /{media-id}` →
//!   `url`), then the URL is fetched, both with the bearer `WHATSAPP_ACCESS_TOKEN`.
//!
//! Every step is bounded by a timeout and a size limit; any failure yields an error the
//! caller turns into `transcription: null`.

use std::time::Duration;

use async_openai::{
    Client as OpenAiClient,
    config::OpenAIConfig,
    types::audio::{AudioInput, CreateTranscriptionRequestArgs},
};
use futures::StreamExt;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// OpenAI accepts files up to 25 MB.
pub const MAX_AUDIO_BYTES: usize = 25 * 1024 * 1024;

/// Where a voice note's audio is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioSource {
    /// A Twilio `MediaUrlN`.
    TwilioUrl { url: String, content_type: String },
    /// A Meta WhatsApp Cloud API media id.
    MetaMedia { id: String, content_type: String },
}

impl AudioSource {
    fn content_type(&self) -> &str {
        match self {
            Self::TwilioUrl { content_type, .. } | Self::MetaMedia { content_type, .. } => {
                content_type
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VoiceNoteError {
    #[error("transcription is not configured (OPENAI_API_KEY is unset)")]
    NotConfigured,
    #[error("media URL is not on the configured Twilio API host")]
    UntrustedMediaUrl,
    #[error("Twilio credentials are not configured (TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN)")]
    NoTwilioCredentials,
    #[error("WHATSAPP_ACCESS_TOKEN is not configured")]
    NoMetaToken,
    #[error("media download failed: {0}")]
    Download(String),
    #[error("audio is larger than {MAX_AUDIO_BYTES} bytes")]
    TooLarge,
    #[error("transcription request failed: {0}")]
    Transcription(String),
    #[error("timed out after {0:?}")]
    TimedOut(Duration),
}

/// Credentials and endpoints for downloading and transcribing voice notes.
#[derive(Clone, Default)]
pub struct VoiceNotesConfig {
    /// `(account SID, auth token, API base)`.
    pub twilio: Option<(String, SecretString, String)>,
    pub meta_access_token: Option<SecretString>,
    pub graph_api_base: String,
    pub openai_api_key: Option<SecretString>,
    pub openai_base_url: Option<String>,
    pub transcription_model: String,
    /// For the whole download + transcription of one voice note.
    pub timeout: Duration,
}

pub struct VoiceNotes {
    config: VoiceNotesConfig,
    http: reqwest::Client,
    openai: Option<OpenAiClient<OpenAIConfig>>,
}

impl VoiceNotes {
    pub fn new(config: VoiceNotesConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()?;
        let openai = config.openai_api_key.as_ref().map(|key| {
            let mut openai_config = OpenAIConfig::new().with_api_key(key.expose_secret());
            if let Some(base) = &config.openai_base_url {
                openai_config = openai_config.with_api_base(base.clone());
            }
            OpenAiClient::with_config(openai_config).with_http_client(http.clone())
        });
        Ok(Self {
            config,
            http,
            openai,
        })
    }

    pub fn transcription_enabled(&self) -> bool {
        self.openai.is_some()
    }

    /// Downloads and transcribes the audio, within the configured timeout.
    pub async fn transcribe(&self, source: &AudioSource) -> Result<String, VoiceNoteError> {
        let timeout = self.config.timeout;
        tokio::time::timeout(timeout, self.transcribe_unbounded(source))
            .await
            .map_err(|_| VoiceNoteError::TimedOut(timeout))?
    }

    async fn transcribe_unbounded(&self, source: &AudioSource) -> Result<String, VoiceNoteError> {
        let openai = self.openai.as_ref().ok_or(VoiceNoteError::NotConfigured)?;
        let audio = self.download(source).await?;
        let request = CreateTranscriptionRequestArgs::default()
            .file(AudioInput::from_vec_u8(
                file_name(source.content_type()).to_owned(),
                audio,
            ))
            .model(self.config.transcription_model.clone())
            .build()
            .map_err(|e| VoiceNoteError::Transcription(e.to_string()))?;
        // Only `text` is read: OpenAI adds `usage`, compatible servers often do not.
        #[derive(Deserialize)]
        struct Transcription {
            text: String,
        }
        let response: Transcription = openai
            .audio()
            .transcription()
            .create_byot(request)
            .await
            .map_err(|e| VoiceNoteError::Transcription(e.to_string()))?;
        Ok(response.text)
    }

    async fn download(&self, source: &AudioSource) -> Result<Vec<u8>, VoiceNoteError> {
        match source {
            AudioSource::TwilioUrl { url, .. } => {
                let (sid, token, api_base) = self
                    .config
                    .twilio
                    .as_ref()
                    .ok_or(VoiceNoteError::NoTwilioCredentials)?;
                if !is_under(url, api_base) {
                    return Err(VoiceNoteError::UntrustedMediaUrl);
                }
                let request = self
                    .http
                    .get(url)
                    .basic_auth(sid, Some(token.expose_secret()));
                fetch(request).await
            }
            AudioSource::MetaMedia { id, .. } => {
                let token = self
                    .config
                    .meta_access_token
                    .as_ref()
                    .ok_or(VoiceNoteError::NoMetaToken)?;
                #[derive(Deserialize)]
                struct MediaInfo {
                    url: String,
                }
                let info_url = format!(
                    "{}/{}",
                    self.config.graph_api_base.trim_end_matches('/'),
                    urlencode_segment(id)
                );
                let info = self
                    .http
                    .get(info_url)
                    .bearer_auth(token.expose_secret())
                    .send()
                    .await
                    .and_then(reqwest::Response::error_for_status)
                    .map_err(|e| VoiceNoteError::Download(without_url(e)))?
                    .json::<MediaInfo>()
                    .await
                    .map_err(|e| VoiceNoteError::Download(without_url(e)))?;
                fetch(self.http.get(info.url).bearer_auth(token.expose_secret())).await
            }
        }
    }
}

/// Reads a response body up to [`MAX_AUDIO_BYTES`].
async fn fetch(request: reqwest::RequestBuilder) -> Result<Vec<u8>, VoiceNoteError> {
    let response = request
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| VoiceNoteError::Download(without_url(e)))?;
    if response
        .content_length()
        .is_some_and(|len| len as usize > MAX_AUDIO_BYTES)
    {
        return Err(VoiceNoteError::TooLarge);
    }
    let mut audio = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| VoiceNoteError::Download(without_url(e)))?;
        if audio.len() + chunk.len() > MAX_AUDIO_BYTES {
            return Err(VoiceNoteError::TooLarge);
        }
        audio.extend_from_slice(&chunk);
    }
    Ok(audio)
}

/// Media URLs carry account and media ids; keep them out of logs.
fn without_url(error: reqwest::Error) -> String {
    error.without_url().to_string()
}

/// True when `url` is `base` itself or a path under it (not merely a prefix of the host).
fn is_under(url: &str, base: &str) -> bool {
    let base = base.trim_end_matches('/');
    url.strip_prefix(base)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

fn urlencode_segment(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A file name whose extension tells OpenAI the audio format.
fn file_name(content_type: &str) -> &'static str {
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

/// True for media that is a voice note (any `audio/*`).
pub fn is_audio(content_type: &str) -> bool {
    content_type
        .trim()
        .to_ascii_lowercase()
        .starts_with("audio/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_urls_must_be_under_the_twilio_api_base() {
        let base = "https://api.twilio.com";
        assert!(is_under(
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
            base
        ));
        assert!(!is_under("https://api.twilio.com.evil.example/x", base));
        assert!(!is_under("http://169.254.169.254/latest", base));
    }

    #[test]
    fn file_names_follow_the_content_type() {
        assert_eq!(file_name("audio/ogg; codecs=opus"), "voice-note.ogg");
        assert_eq!(file_name("audio/mpeg"), "voice-note.mp3");
        assert_eq!(file_name("AUDIO/MP4"), "voice-note.m4a");
        assert!(is_audio("audio/ogg") && is_audio(" Audio/AMR") && !is_audio("image/jpeg"));
    }

    #[test]
    fn media_ids_are_escaped_in_the_graph_url() {
        assert_eq!(urlencode_segment("1234567890"), "1234567890");
        assert_eq!(urlencode_segment("../me?x=1"), "..%2Fme%3Fx%3D1");
    }
}
