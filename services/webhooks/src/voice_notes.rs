//! Voice notes: download the audio from the provider and transcribe it with an
//! OpenAI-compatible endpoint (`prm_ai`'s [`Transcriber`], `OPENAI_BASE_URL`,
//! `OPENAI_TRANSCRIPTION_MODEL`).
//!
//! * Twilio media URLs are fetched only from Twilio's hosts ([`twilio_media_access`]):
//!   under `TWILIO_API_BASE`, or over https from `api.twilio.com`, its regional edges
//!   (`api.<edge>.<region>.twilio.com`) and Twilio's media CDN (`*.twiliocdn.com`). The
//!   API hosts get basic auth (account SID : auth token); the CDN's URLs are pre-signed
//!   and get no credentials. Any other URL is refused: a forged `MediaUrl0` can neither
//!   make us fetch an arbitrary host (SSRF) nor receive our credentials.
//! * Meta media ids are resolved through `WHATSAPP_GRAPH_API_BASE` (`GET /{media-id}` →
//!   `url`), then the URL is fetched, both with the bearer `WHATSAPP_ACCESS_TOKEN`.
//!
//! Every step is bounded by a timeout and a size limit; any failure yields an error the
//! caller turns into `transcription: null`.

use std::{sync::Arc, time::Duration};

use futures::StreamExt;
use prm_ai::{OpenAiConfig, OpenAiTranscriber, Transcriber};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// OpenAI accepts files up to 25 MB.
pub use prm_ai::transcription::MAX_AUDIO_BYTES;

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
    #[error("media URL is not on a Twilio media host")]
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
    transcriber: Option<Arc<dyn Transcriber>>,
}

impl VoiceNotes {
    pub fn new(config: VoiceNotesConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()?;
        let transcriber = config.openai_api_key.as_ref().map(|key| {
            let openai = OpenAiConfig {
                api_key: key.clone(),
                base_url: config.openai_base_url.clone(),
                model: config.transcription_model.clone(),
                timeout: config.timeout,
            };
            Arc::new(OpenAiTranscriber::with_http_client(&openai, http.clone()))
                as Arc<dyn Transcriber>
        });
        Ok(Self {
            config,
            http,
            transcriber,
        })
    }

    pub fn transcription_enabled(&self) -> bool {
        self.transcriber.is_some()
    }

    /// Downloads and transcribes the audio, within the configured timeout.
    pub async fn transcribe(&self, source: &AudioSource) -> Result<String, VoiceNoteError> {
        let timeout = self.config.timeout;
        tokio::time::timeout(timeout, self.transcribe_unbounded(source))
            .await
            .map_err(|_| VoiceNoteError::TimedOut(timeout))?
    }

    async fn transcribe_unbounded(&self, source: &AudioSource) -> Result<String, VoiceNoteError> {
        let transcriber = self
            .transcriber
            .as_ref()
            .ok_or(VoiceNoteError::NotConfigured)?;
        let audio = self.download(source).await?;
        transcriber
            .transcribe(audio, source.content_type())
            .await
            .map_err(|e| VoiceNoteError::Transcription(e.to_string()))
    }

    async fn download(&self, source: &AudioSource) -> Result<Vec<u8>, VoiceNoteError> {
        match source {
            AudioSource::TwilioUrl { url, .. } => {
                let (sid, token, api_base) = self
                    .config
                    .twilio
                    .as_ref()
                    .ok_or(VoiceNoteError::NoTwilioCredentials)?;
                let request = match twilio_media_access(url, api_base) {
                    Some(MediaAccess::Api) => self
                        .http
                        .get(url)
                        .basic_auth(sid, Some(token.expose_secret())),
                    Some(MediaAccess::Cdn) => self.http.get(url),
                    None => return Err(VoiceNoteError::UntrustedMediaUrl),
                };
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
                let info = send_get(self.http.get(info_url).bearer_auth(token.expose_secret()))
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

/// Sends a GET, once more if it never reached the server (refused, reset, or a pooled
/// keep-alive connection the server had just closed). A GET is safe to repeat; an answer
/// with an HTTP status, or a timeout, is not retried.
async fn send_get(request: reqwest::RequestBuilder) -> reqwest::Result<reqwest::Response> {
    let again = request.try_clone();
    match request.send().await {
        Err(e) if (e.is_connect() || e.is_request()) && !e.is_timeout() => match again {
            Some(again) => again.send().await,
            None => Err(e),
        },
        other => other,
    }
}

/// Reads a response body up to [`MAX_AUDIO_BYTES`].
async fn fetch(request: reqwest::RequestBuilder) -> Result<Vec<u8>, VoiceNoteError> {
    let response = send_get(request)
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

/// How a Twilio media URL may be fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaAccess {
    /// A Twilio API host: with basic auth.
    Api,
    /// Twilio's media CDN (pre-signed URLs): without credentials.
    Cdn,
}

/// Whether `url` is Twilio media we may fetch, and how; `None` refuses it.
///
/// Allowed: a URL under `api_base` (`TWILIO_API_BASE`: same scheme, host and port, path
/// below its path; what tests and proxies use), and over https on the default port,
/// `api.twilio.com`, its regional edges `api.<edge>.<region>.twilio.com` (e.g.
/// `api.dublin.ie1.twilio.com`) and `<name>.twiliocdn.com`. No userinfo anywhere.
pub fn twilio_media_access(url: &str, api_base: &str) -> Option<MediaAccess> {
    let parsed = reqwest::Url::parse(url).ok()?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return None;
    }
    if let Ok(base) = reqwest::Url::parse(api_base)
        && base.scheme() == parsed.scheme()
        && base.host_str().is_some()
        && base.host_str() == parsed.host_str()
        && base.port_or_known_default() == parsed.port_or_known_default()
        && is_path_under(parsed.path(), base.path())
    {
        return Some(MediaAccess::Api);
    }
    if parsed.scheme() != "https" || parsed.port().is_some_and(|p| p != 443) {
        return None;
    }
    // `Url` lowercases hosts; a trailing dot would be another spelling of the same host.
    let host = parsed.host_str()?;
    let labels: Vec<&str> = host.split('.').collect();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    match labels.as_slice() {
        ["api", "twilio", "com"] => Some(MediaAccess::Api),
        ["api", edge, region, "twilio", "com"] if label_ok(edge) && label_ok(region) => {
            Some(MediaAccess::Api)
        }
        [name, "twiliocdn", "com"] if label_ok(name) => Some(MediaAccess::Cdn),
        _ => None,
    }
}

/// True when `path` is `base` itself or below it (`/v1` covers `/v1/x`, not `/v10`).
fn is_path_under(path: &str, base: &str) -> bool {
    let base = base.trim_end_matches('/');
    path.strip_prefix(base)
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

    const MEDIA: &str = "/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1";

    #[test]
    fn twilio_api_hosts_get_credentials_whatever_the_configured_base() {
        for base in [
            "https://api.twilio.com",
            "https://api.dublin.ie1.twilio.com",
            "http://127.0.0.1:9999",
        ] {
            for host in [
                "https://api.twilio.com",
                "https://API.Twilio.com",
                "https://api.twilio.com:443",
                "https://api.dublin.ie1.twilio.com",
                "https://api.sydney.au1.twilio.com",
            ] {
                assert_eq!(
                    twilio_media_access(&format!("{host}{MEDIA}"), base),
                    Some(MediaAccess::Api),
                    "{host} with base {base}"
                );
            }
            assert_eq!(
                twilio_media_access("https://mms.twiliocdn.com/AC1/abc?sig=x", base),
                Some(MediaAccess::Cdn)
            );
        }
    }

    #[test]
    fn the_configured_base_is_trusted_with_its_scheme_host_port_and_path() {
        let base = "http://127.0.0.1:9999/twilio";
        let ok = |url: &str| twilio_media_access(url, base);
        assert_eq!(
            ok("http://127.0.0.1:9999/twilio/m/1"),
            Some(MediaAccess::Api)
        );
        assert_eq!(ok("http://127.0.0.1:9999/twilio"), Some(MediaAccess::Api));
        assert_eq!(ok("http://127.0.0.1:9999/twilios/m/1"), None);
        assert_eq!(ok("http://127.0.0.1:9998/twilio/m/1"), None);
        assert_eq!(ok("https://127.0.0.1:9999/twilio/m/1"), None);
        assert_eq!(ok("http://127.0.0.2:9999/twilio/m/1"), None);
    }

    #[test]
    fn every_other_host_is_refused() {
        for url in [
            "https://api.twilio.com.evil.example/x",
            "https://evil.example/api.twilio.com/x",
            "https://api.twilio.com@evil.example/x",
            "https://user:pw@api.twilio.com/x",
            "http://api.twilio.com/x",
            "https://api.twilio.com:8443/x",
            "https://twilio.com/x",
            "https://eviltwilio.com/x",
            "https://api.a.b.c.twilio.com/x",
            "https://media.twilio.com/x",
            "https://x.y.twiliocdn.com/x",
            "https://twiliocdn.com/x",
            "http://mms.twiliocdn.com/x",
            "https://api.twilio.com./x",
            "http://169.254.169.254/latest/meta-data",
            "http://localhost/x",
            "file:///etc/passwd",
            "not a url",
            "",
        ] {
            assert_eq!(
                twilio_media_access(url, "https://api.twilio.com"),
                None,
                "{url}"
            );
        }
    }

    /// The file names sent with the audio are `prm_ai::transcription::audio_file_name`'s.
    #[test]
    fn audio_content_types_are_voice_notes() {
        assert!(is_audio("audio/ogg") && is_audio(" Audio/AMR") && !is_audio("image/jpeg"));
    }

    #[test]
    fn media_ids_are_escaped_in_the_graph_url() {
        assert_eq!(urlencode_segment("1234567890"), "1234567890");
        assert_eq!(urlencode_segment("../me?x=1"), "..%2Fme%3Fx%3D1");
    }
}
