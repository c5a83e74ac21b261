//! The messages endpoint of Meta's WhatsApp Cloud API, on reqwest:
//! `POST {graph_api_base}/{phone_number_id}/messages` with a bearer token.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use prm_domain::PhoneNumber;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::{debug, warn};

use crate::config::{ConfigError, MetaConfig};
use crate::error::MetaError;

/// A WhatsApp message as the Cloud API sends it. `Debug` hides the recipient and the
/// content (patient data).
#[derive(Clone, PartialEq, Eq)]
pub struct WhatsappMessage {
    /// The recipient's number in international form without `+`, as Meta writes it.
    pub to: String,
    pub content: MessageContent,
}

/// What a message carries: one of the Cloud API's message types.
#[derive(Clone, PartialEq, Eq)]
pub enum MessageContent {
    /// `type: text`. Link previews stay off: a clinic's links should not unfurl.
    Text { body: String },
    /// `type: image|audio|document|video`, fetched by Meta from a public `link`.
    Media {
        kind: MediaKind,
        link: String,
        /// Shown under images, videos and documents; audio has none.
        caption: Option<String>,
    },
    /// `type: template`: an approved template, the only thing WhatsApp delivers
    /// outside the 24-hour window. The variables fill the body's `{{1}}`, `{{2}}`…
    Template {
        name: String,
        language: String,
        variables: Vec<String>,
    },
}

/// The media message types of the Cloud API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Image,
    Audio,
    Document,
    Video,
}

impl MediaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Audio => "audio",
            Self::Document => "document",
            Self::Video => "video",
        }
    }

    /// The kind from the link's file extension, for the formats WhatsApp plays inline;
    /// anything else goes as a document, which WhatsApp accepts for any file.
    pub fn from_link(link: &str) -> Self {
        let path = link.split(['?', '#']).next().unwrap_or_default();
        let file = path.rsplit('/').next().unwrap_or_default();
        let extension = file
            .rsplit_once('.')
            .map(|(_, ext)| ext.to_ascii_lowercase())
            .unwrap_or_default();
        match extension.as_str() {
            "jpg" | "jpeg" | "png" => Self::Image,
            "mp4" | "3gp" => Self::Video,
            "aac" | "amr" | "mp3" | "m4a" | "ogg" | "opus" => Self::Audio,
            _ => Self::Document,
        }
    }
}

impl WhatsappMessage {
    pub fn text(to: &PhoneNumber, body: impl Into<String>) -> Self {
        Self {
            to: to.digits().to_owned(),
            content: MessageContent::Text { body: body.into() },
        }
    }

    pub fn media(
        to: &PhoneNumber,
        kind: MediaKind,
        link: impl Into<String>,
        caption: Option<String>,
    ) -> Self {
        Self {
            to: to.digits().to_owned(),
            content: MessageContent::Media {
                kind,
                link: link.into(),
                caption,
            },
        }
    }

    pub fn template(
        to: &PhoneNumber,
        name: impl Into<String>,
        language: impl Into<String>,
        variables: Vec<String>,
    ) -> Self {
        Self {
            to: to.digits().to_owned(),
            content: MessageContent::Template {
                name: name.into(),
                language: language.into(),
                variables,
            },
        }
    }

    /// The JSON body, exactly as the Cloud API names its fields.
    fn body(&self) -> Result<Value, MetaError> {
        if self.to.is_empty() || !self.to.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MetaError::InvalidRequest(
                "the recipient is digits without `+`",
            ));
        }
        let (kind, payload) = match &self.content {
            MessageContent::Text { body } => {
                if body.trim().is_empty() {
                    return Err(MetaError::InvalidRequest("a text message needs a body"));
                }
                ("text", json!({ "preview_url": false, "body": body }))
            }
            MessageContent::Media {
                kind,
                link,
                caption,
            } => {
                if link.trim().is_empty() {
                    return Err(MetaError::InvalidRequest("a media message needs a link"));
                }
                let mut media = json!({ "link": link });
                if let Some(caption) = caption.as_ref().filter(|c| !c.trim().is_empty()) {
                    if *kind == MediaKind::Audio {
                        return Err(MetaError::InvalidRequest(
                            "a WhatsApp audio message cannot carry a caption",
                        ));
                    }
                    media["caption"] = json!(caption);
                }
                if *kind == MediaKind::Document {
                    // Without it the patient sees "Untitled".
                    if let Some(name) = document_filename(link) {
                        media["filename"] = json!(name);
                    }
                }
                (kind.as_str(), media)
            }
            MessageContent::Template {
                name,
                language,
                variables,
            } => {
                if name.trim().is_empty() || language.trim().is_empty() {
                    return Err(MetaError::InvalidRequest(
                        "a template needs a name and a language",
                    ));
                }
                let mut template = json!({ "name": name, "language": { "code": language } });
                if !variables.is_empty() {
                    let parameters: Vec<Value> = variables
                        .iter()
                        .map(|text| json!({ "type": "text", "text": text }))
                        .collect();
                    template["components"] = json!([{ "type": "body", "parameters": parameters }]);
                }
                ("template", template)
            }
        };
        let mut body = json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": self.to,
            "type": kind,
        });
        body[kind] = payload;
        Ok(body)
    }
}

/// The last path segment of a link, when it looks like a file name.
fn document_filename(link: &str) -> Option<&str> {
    let path = link.split(['?', '#']).next()?;
    let after_host = path.split_once("://").map_or(path, |(_, rest)| rest);
    let (_, path) = after_host.split_once('/')?;
    let name = path.rsplit('/').next()?;
    name.contains('.').then_some(name)
}

impl fmt::Debug for WhatsappMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("WhatsappMessage");
        out.field("to", &"[REDACTED]");
        match &self.content {
            MessageContent::Text { body } => out.field("text_chars", &body.chars().count()),
            MessageContent::Media { kind, caption, .. } => out
                .field("media", kind)
                .field("has_caption", &caption.is_some()),
            MessageContent::Template {
                name,
                language,
                variables,
            } => out
                .field("template", name)
                .field("language", language)
                .field("variables", &variables.len()),
        };
        out.finish_non_exhaustive()
    }
}

/// What Meta answered to a send. `Debug` hides `wa_id` (the patient's number).
#[derive(Clone, PartialEq, Eq)]
pub struct AcceptedMessage {
    /// `wamid.…`: status webhooks refer to it.
    pub wamid: String,
    /// `accepted`, or `held_for_quality_assessment`/`paused` for some templates.
    pub message_status: Option<String>,
    /// The recipient's WhatsApp id, as Meta resolved the number.
    pub wa_id: Option<String>,
}

impl fmt::Debug for AcceptedMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcceptedMessage")
            .field("wamid", &self.wamid)
            .field("message_status", &self.message_status)
            .finish_non_exhaustive()
    }
}

impl AcceptedMessage {
    fn parse(status: u16, body: &[u8]) -> Result<Self, MetaError> {
        #[derive(Deserialize)]
        struct Answer {
            #[serde(default)]
            contacts: Vec<Contact>,
            #[serde(default)]
            messages: Vec<MessageRef>,
        }
        #[derive(Deserialize)]
        struct Contact {
            wa_id: Option<String>,
        }
        #[derive(Deserialize)]
        struct MessageRef {
            id: String,
            message_status: Option<String>,
        }
        let answer: Answer =
            serde_json::from_slice(body).map_err(|e| MetaError::InvalidResponse {
                status,
                detail: e.to_string(),
            })?;
        let message = answer
            .messages
            .into_iter()
            .next()
            .filter(|m| !m.id.is_empty())
            .ok_or_else(|| MetaError::InvalidResponse {
                status,
                detail: "no messages[0].id".to_owned(),
            })?;
        Ok(Self {
            wamid: message.id,
            message_status: message.message_status,
            wa_id: answer.contacts.into_iter().next().and_then(|c| c.wa_id),
        })
    }
}

/// Meta's Cloud API for one sender number. Cheap to clone (one shared connection pool).
#[derive(Clone)]
pub struct MetaClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: MetaConfig,
    /// `{graph_api_base}/{phone_number_id}/messages`
    messages_url: String,
}

impl fmt::Debug for MetaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetaClient")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl MetaClient {
    pub fn new(config: MetaConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(concat!("prm-meta/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ConfigError::HttpClient)?;
        let messages_url = format!(
            "{}/{}/messages",
            config.graph_api_base.trim_end_matches('/'),
            config.phone_number_id
        );
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                config,
                messages_url,
            }),
        })
    }

    pub fn config(&self) -> &MetaConfig {
        &self.inner.config
    }

    /// Sends a message. Retried only while Meta surely did not take it (connection never
    /// opened, rate limit, temporarily unavailable), with backoff within
    /// [`prm_twilio::RetryPolicy::max_wait`]; never after a timeout or a lost connection.
    #[tracing::instrument(name = "meta.send_message", skip_all)]
    pub async fn send_message(
        &self,
        message: &WhatsappMessage,
    ) -> Result<AcceptedMessage, MetaError> {
        let body = message.body()?;
        let config = &self.inner.config;
        let policy = &config.retry;
        let max_attempts = policy.max_attempts.max(1);
        let mut attempt = 1;
        let mut waited = Duration::ZERO;
        loop {
            let request = self
                .inner
                .http
                .post(&self.inner.messages_url)
                .bearer_auth(config.access_token.expose_secret())
                .json(&body);
            let error = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let answer = match response.bytes().await {
                        Ok(answer) => answer,
                        // Cut off after a success: the message exists, its id is lost.
                        Err(e) if status.is_success() && e.is_timeout() => {
                            return Err(MetaError::Timeout);
                        }
                        Err(e) if status.is_success() => {
                            return Err(MetaError::ConnectionLost(e));
                        }
                        Err(_) => Default::default(),
                    };
                    if status.is_success() {
                        debug!(status = status.as_u16(), attempt, "Meta answered");
                        return AcceptedMessage::parse(status.as_u16(), &answer);
                    }
                    MetaError::from_response(status.as_u16(), &answer)
                }
                Err(e) if e.is_connect() => MetaError::Transport(e),
                Err(e) if e.is_timeout() => MetaError::Timeout,
                Err(e) if e.is_builder() => return Err(MetaError::Transport(e)),
                Err(e) => MetaError::ConnectionLost(e),
            };
            if !error.surely_not_sent() {
                return Err(error);
            }
            let delay = policy.backoff(attempt);
            if attempt >= max_attempts || waited + delay > policy.max_wait {
                warn!(attempts = attempt, error = %error, code = ?error.code(), fbtrace_id = ?error.fbtrace_id(), "Meta request failed; giving up");
                return Err(error);
            }
            warn!(
                attempt,
                max_attempts,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                error = %error,
                code = ?error.code(),
                "Meta request failed; retrying"
            );
            tokio::time::sleep(delay).await;
            waited += delay;
            attempt += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patient() -> PhoneNumber {
        PhoneNumber::parse("+573001234567", "57").expect("valid")
    }

    #[test]
    fn media_kind_follows_the_extension() {
        for (link, kind) in [
            ("https://cdn.example/x-ray.JPG", MediaKind::Image),
            ("https://cdn.example/a/b.png?sig=1.mp4", MediaKind::Image),
            ("https://cdn.example/explain.mp4", MediaKind::Video),
            ("https://cdn.example/note.ogg#t=1", MediaKind::Audio),
            ("https://cdn.example/results.pdf", MediaKind::Document),
            ("https://cdn.example/sticker.webp", MediaKind::Document),
            ("https://cdn.example/download", MediaKind::Document),
        ] {
            assert_eq!(MediaKind::from_link(link), kind, "{link}");
        }
    }

    #[test]
    fn documents_are_named_after_the_link() {
        assert_eq!(
            document_filename("https://cdn.example/labs/results.pdf?sig=abc"),
            Some("results.pdf")
        );
        assert_eq!(document_filename("https://cdn.example/download"), None);
        assert_eq!(document_filename("https://cdn.example.com"), None);
    }

    #[test]
    fn malformed_messages_are_refused_before_sending() {
        let mut text = WhatsappMessage::text(&patient(), " ");
        assert!(matches!(text.body(), Err(MetaError::InvalidRequest(_))));
        text.content = MessageContent::Text {
            body: "hola".into(),
        };
        text.to = "+573001234567".into();
        assert!(matches!(text.body(), Err(MetaError::InvalidRequest(_))));
        let voice = WhatsappMessage::media(
            &patient(),
            MediaKind::Audio,
            "https://cdn.example/a.ogg",
            Some("escuche".into()),
        );
        assert!(matches!(voice.body(), Err(MetaError::InvalidRequest(_))));
        let nameless = WhatsappMessage::template(&patient(), "", "es", vec![]);
        assert!(matches!(nameless.body(), Err(MetaError::InvalidRequest(_))));
    }

    #[test]
    fn debug_hides_patient_data() {
        let message = WhatsappMessage::text(&patient(), "me duele el pecho");
        let printed = format!("{message:?}");
        assert!(!printed.contains("3001234567"), "{printed}");
        assert!(!printed.contains("pecho"), "{printed}");
        let accepted = AcceptedMessage {
            wamid: "wamid.X".into(),
            message_status: None,
            wa_id: Some("573001234567".into()),
        };
        assert!(!format!("{accepted:?}").contains("3001234567"));
    }

    #[test]
    fn an_answer_without_a_message_id_is_invalid() {
        assert!(matches!(
            AcceptedMessage::parse(200, br#"{"messaging_product":"whatsapp","messages":[]}"#),
            Err(MetaError::InvalidResponse { status: 200, .. })
        ));
        assert!(matches!(
            AcceptedMessage::parse(200, b"OK"),
            Err(MetaError::InvalidResponse { .. })
        ));
    }
}
