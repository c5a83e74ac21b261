//! The outbound messaging port and its two adapters.
//!
//! Services hold an `Arc<dyn MessageSender>`: [`TwilioSender`] when Twilio is
//! configured, [`RecordingSender`] otherwise (the embedded default, which keeps every
//! message in memory so it can be shown over the API).

use std::fmt;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use prm_domain::{Channel, PhoneNumber};
use serde::{Deserialize, Serialize};
use tracing::{debug, info, warn};

use crate::client::{MessageStatus, SendMessage, Sender, TwilioClient, whatsapp_address};
use crate::config::{ConfigError, TwilioConfig};
use crate::error::TwilioError;

/// Sends messages to patients.
#[async_trait]
pub trait MessageSender: Send + Sync {
    async fn send(&self, message: OutboundMessage) -> Result<SentMessage, SendError>;
}

/// A message to a patient, independent of the provider. `Debug` hides the number and
/// the body.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboundMessage {
    /// WhatsApp or SMS; other channels are not sent through this port.
    pub channel: Channel,
    pub to: PhoneNumber,
    pub body: Option<String>,
    #[serde(default)]
    pub media_urls: Vec<String>,
    /// An approved template, required for WhatsApp outside the 24-hour window.
    #[serde(default)]
    pub template: Option<ContentTemplate>,
    /// Where the provider reports delivery status.
    #[serde(default)]
    pub status_callback: Option<String>,
}

/// A Twilio Content API template and its variables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentTemplate {
    /// `HX…`
    pub content_sid: String,
    /// e.g. `{"1": "12/1", "2": "3pm"}`
    pub variables: Option<serde_json::Value>,
}

impl OutboundMessage {
    /// A WhatsApp text message.
    pub fn whatsapp(to: PhoneNumber, body: impl Into<String>) -> Self {
        Self::text(Channel::Whatsapp, to, body)
    }

    /// An SMS text message.
    pub fn sms(to: PhoneNumber, body: impl Into<String>) -> Self {
        Self::text(Channel::Sms, to, body)
    }

    fn text(channel: Channel, to: PhoneNumber, body: impl Into<String>) -> Self {
        Self {
            channel,
            to,
            body: Some(body.into()),
            media_urls: Vec::new(),
            template: None,
            status_callback: None,
        }
    }

    pub fn with_media(mut self, url: impl Into<String>) -> Self {
        self.media_urls.push(url.into());
        self
    }

    pub fn with_template(mut self, template: ContentTemplate) -> Self {
        self.template = Some(template);
        self
    }

    pub fn with_status_callback(mut self, url: impl Into<String>) -> Self {
        self.status_callback = Some(url.into());
        self
    }

    /// The checks every adapter applies, so the embedded default refuses what
    /// production would.
    fn check(&self) -> Result<(), SendError> {
        if !matches!(self.channel, Channel::Whatsapp | Channel::Sms) {
            return Err(SendError::UnsupportedChannel(self.channel));
        }
        let has_body = self.body.as_deref().is_some_and(|b| !b.trim().is_empty());
        if !has_body && self.media_urls.is_empty() && self.template.is_none() {
            return Err(SendError::EmptyMessage);
        }
        Ok(())
    }
}

impl fmt::Debug for OutboundMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboundMessage")
            .field("channel", &self.channel)
            .field("to", &self.to) // PhoneNumber's Debug is masked
            .field("body_chars", &self.body.as_ref().map(|b| b.chars().count()))
            .field("media_urls", &self.media_urls.len())
            .field("template", &self.template.as_ref().map(|t| &t.content_sid))
            .finish_non_exhaustive()
    }
}

/// What the provider answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentMessage {
    /// Twilio's `MessageSid` (`SM…`); status callbacks refer to it.
    pub provider_message_id: String,
    pub status: MessageStatus,
}

type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why a message was not sent, in terms a conversation can act on.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("the recipient is not a valid number for this channel")]
    InvalidRecipient,
    #[error("the recipient has opted out of messages")]
    OptedOut,
    #[error("outside the WhatsApp 24-hour session window: send an approved template")]
    OutsideSessionWindow,
    #[error("{} messages are not sent through this port", .0.as_str())]
    UnsupportedChannel(Channel),
    #[error("the message has no body, media or template")]
    EmptyMessage,
    /// The provider refused the message; sending it again will not help.
    #[error("the provider rejected the message")]
    Rejected(#[source] Cause),
    /// The provider could not be reached or is overloaded, after retries: try later.
    #[error("the provider is unavailable")]
    Unavailable(#[source] Cause),
    /// We cannot tell whether the message went out (a timeout after sending, an
    /// unreadable answer). Retrying may message the patient twice.
    #[error("the outcome of the send is unknown")]
    OutcomeUnknown(#[source] Cause),
}

impl SendError {
    /// Whether sending the same message later can succeed without risking a duplicate.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

impl From<TwilioError> for SendError {
    fn from(error: TwilioError) -> Self {
        match error {
            TwilioError::InvalidNumber { .. } => Self::InvalidRecipient,
            TwilioError::Unsubscribed { .. } => Self::OptedOut,
            TwilioError::OutsideWindow { .. } => Self::OutsideSessionWindow,
            TwilioError::Timeout | TwilioError::InvalidResponse { .. } => {
                Self::OutcomeUnknown(Box::new(error))
            }
            e @ (TwilioError::Api { .. } | TwilioError::Transport(_)) if e.is_transient() => {
                Self::Unavailable(Box::new(e))
            }
            e => Self::Rejected(Box::new(e)),
        }
    }
}

/// Sends through Twilio's Messages API.
#[derive(Debug, Clone)]
pub struct TwilioSender {
    client: TwilioClient,
    from: Sender,
}

impl TwilioSender {
    /// `from` is either a number (written with or without `whatsapp:`; the prefix is
    /// set per message from its channel) or a Messaging Service.
    pub fn new(client: TwilioClient, from: Sender) -> Self {
        Self { client, from }
    }

    /// A sender from configuration: needs `TWILIO_WHATSAPP_NUMBER`.
    pub fn from_config(config: TwilioConfig) -> Result<Self, ConfigError> {
        let number = config.whatsapp_number.clone().ok_or(ConfigError::Missing {
            var: "TWILIO_WHATSAPP_NUMBER",
        })?;
        let client = TwilioClient::new(config)?;
        Ok(Self::new(client, Sender::sms(&number)))
    }

    fn request(&self, message: OutboundMessage) -> SendMessage {
        let whatsapp = message.channel == Channel::Whatsapp;
        let to = if whatsapp {
            whatsapp_address(&message.to)
        } else {
            message.to.as_str().to_owned()
        };
        let from = match &self.from {
            Sender::Number(number) => {
                let bare = number.strip_prefix("whatsapp:").unwrap_or(number);
                Sender::Number(if whatsapp {
                    format!("whatsapp:{bare}")
                } else {
                    bare.to_owned()
                })
            }
            service @ Sender::MessagingService(_) => service.clone(),
        };
        let (content_sid, content_variables) = match message.template {
            Some(t) => (Some(t.content_sid), t.variables),
            None => (None, None),
        };
        SendMessage {
            to,
            from,
            body: message.body,
            media_urls: message.media_urls,
            status_callback: message.status_callback,
            content_sid,
            content_variables,
        }
    }
}

#[async_trait]
impl MessageSender for TwilioSender {
    async fn send(&self, message: OutboundMessage) -> Result<SentMessage, SendError> {
        message.check()?;
        let channel = message.channel.as_str();
        let request = self.request(message);
        match self.client.send_message(&request).await {
            Ok(created) => {
                info!(sid = %created.sid, status = %created.status, channel, "message accepted by Twilio");
                debug!(sid = %created.sid, to = %request.to, body = ?request.body, "message sent");
                Ok(SentMessage {
                    provider_message_id: created.sid,
                    status: created.status,
                })
            }
            Err(error) => {
                warn!(error = %error, code = ?error.code(), channel, "Twilio did not send the message");
                Err(error.into())
            }
        }
    }
}

/// The embedded default: records every message in memory instead of sending it.
#[derive(Debug, Default)]
pub struct RecordingSender {
    messages: Mutex<Vec<RecordedMessage>>,
}

/// A message the [`RecordingSender`] kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedMessage {
    /// A Twilio-shaped id (`SM` + 32 hex digits) so downstream code treats it like one.
    pub provider_message_id: String,
    pub recorded_at: DateTime<Utc>,
    pub message: OutboundMessage,
}

impl RecordingSender {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every recorded message, oldest first.
    pub fn recorded(&self) -> Vec<RecordedMessage> {
        self.lock().clone()
    }

    /// The messages recorded for one recipient, oldest first.
    pub fn recorded_to(&self, to: &PhoneNumber) -> Vec<RecordedMessage> {
        self.lock()
            .iter()
            .filter(|m| &m.message.to == to)
            .cloned()
            .collect()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> MutexGuard<'_, Vec<RecordedMessage>> {
        // A panic while holding the lock cannot leave a Vec half-pushed; keep going.
        self.messages
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl MessageSender for RecordingSender {
    async fn send(&self, message: OutboundMessage) -> Result<SentMessage, SendError> {
        message.check()?;
        let provider_message_id = format!("SM{}", uuid::Uuid::new_v4().simple());
        info!(sid = %provider_message_id, channel = message.channel.as_str(), "message recorded (not sent: no Twilio configured)");
        debug!(sid = %provider_message_id, to = %message.to, body = ?message.body, "recorded message");
        self.lock().push(RecordedMessage {
            provider_message_id: provider_message_id.clone(),
            recorded_at: Utc::now(),
            message,
        });
        Ok(SentMessage {
            provider_message_id,
            status: MessageStatus::Queued,
        })
    }
}
