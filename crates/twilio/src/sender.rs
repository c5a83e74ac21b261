//! The outbound messaging port and its adapters here.
//!
//! Services hold an `Arc<dyn MessageSender>`: [`TwilioSender`] when Twilio is
//! configured, `prm_meta::MetaSender` for Meta's WhatsApp Cloud API, and
//! [`RecordingSender`] otherwise (the embedded default, which keeps every message in
//! memory so it can be shown over the API). Why the port lives here for now:
//! `docs/decisions/0007-meta-sender-crate.md`.
//!
//! A send happens at most once: an adapter retries only what surely did not reach the
//! provider, and says so in its error ([`SendError::Unavailable`] may be sent again,
//! [`SendError::OutcomeUnknown`] must not be sent again blindly).

use std::fmt;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

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
    /// An approved Twilio template, required for WhatsApp outside the 24-hour window.
    #[serde(default)]
    pub template: Option<ContentTemplate>,
    /// The same for Meta's Cloud API: an approved template by name and language. A
    /// message may carry both, so it can go out through either provider.
    #[serde(default)]
    pub whatsapp_template: Option<WhatsappTemplate>,
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

/// A WhatsApp message template approved in Meta's WhatsApp Manager, as the Cloud API
/// names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhatsappTemplate {
    /// The template's name, e.g. `appointment_reminder`.
    pub name: String,
    /// The language it was approved in, e.g. `es` or `en_US`.
    pub language: String,
    /// The body's `{{1}}`, `{{2}}`… in order.
    #[serde(default)]
    pub variables: Vec<String>,
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
            whatsapp_template: None,
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

    pub fn with_whatsapp_template(mut self, template: WhatsappTemplate) -> Self {
        self.whatsapp_template = Some(template);
        self
    }

    pub fn with_status_callback(mut self, url: impl Into<String>) -> Self {
        self.status_callback = Some(url.into());
        self
    }

    /// Whether the message is meant to go out as a template (of either provider): then
    /// a provider without its own template for it must refuse it rather than send the
    /// free-form body, which WhatsApp would refuse outside the 24-hour window.
    pub fn is_template(&self) -> bool {
        self.template.is_some() || self.whatsapp_template.is_some()
    }

    /// The checks every adapter applies, so the embedded default refuses what
    /// production would.
    pub fn check(&self) -> Result<(), SendError> {
        if !matches!(self.channel, Channel::Whatsapp | Channel::Sms) {
            return Err(SendError::UnsupportedChannel(self.channel));
        }
        let has_body = self.body.as_deref().is_some_and(|b| !b.trim().is_empty());
        if !has_body && self.media_urls.is_empty() && !self.is_template() {
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
            .field(
                "whatsapp_template",
                &self.whatsapp_template.as_ref().map(|t| &t.name),
            )
            .finish_non_exhaustive()
    }
}

/// What the provider answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentMessage {
    /// The provider's id for the message: Twilio's `MessageSid` (`SM…`) or Meta's
    /// `wamid…`; status callbacks refer to it.
    pub provider_message_id: String,
    pub status: MessageStatus,
}

type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why a message was not sent, in terms a conversation can act on. Record it on the
/// message with [`SendError::reason`] and [`SendError::provider_code`].
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("the recipient is not a valid number for this channel")]
    InvalidRecipient(#[source] ProviderFailure),
    #[error("the recipient has opted out of messages")]
    OptedOut(#[source] ProviderFailure),
    #[error("outside the WhatsApp 24-hour session window: send an approved template")]
    OutsideSessionWindow(#[source] ProviderFailure),
    #[error("{} messages are not sent through this port", .0.as_str())]
    UnsupportedChannel(Channel),
    #[error("the message has no body, media or template")]
    EmptyMessage,
    /// The message is meant as a template, but has none for this provider.
    #[error("the message has no template for this provider")]
    TemplateMissing,
    /// This provider cannot carry the message as it is (refused before sending).
    #[error("this provider cannot send the message: {0}")]
    NotSendable(&'static str),
    /// The provider refused the message; sending it again will not help.
    #[error("the provider rejected the message")]
    Rejected(#[source] ProviderFailure),
    /// The provider surely did not take the message (unreachable, rate limited,
    /// unavailable), after the retries the policy allows: send it again later, after
    /// [`SendError::retry_after`] when the provider said.
    #[error("the provider is unavailable")]
    Unavailable(#[source] ProviderFailure),
    /// We cannot tell whether the message went out (a timeout or a lost connection
    /// after sending, a server error, an unreadable answer). Sending it again may
    /// message the patient twice.
    #[error("the outcome of the send is unknown")]
    OutcomeUnknown(#[source] ProviderFailure),
}

impl SendError {
    /// Whether sending the same message later can succeed without risking a duplicate.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    /// A short name for the failure, stable so it can be stored on the message and
    /// counted: `invalid_recipient`, `opted_out`, `outside_session_window`,
    /// `unsupported_channel`, `empty_message`, `template_missing`, `not_sendable`,
    /// `rejected`, `unavailable`, `outcome_unknown`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidRecipient(_) => "invalid_recipient",
            Self::OptedOut(_) => "opted_out",
            Self::OutsideSessionWindow(_) => "outside_session_window",
            Self::UnsupportedChannel(_) => "unsupported_channel",
            Self::EmptyMessage => "empty_message",
            Self::TemplateMissing => "template_missing",
            Self::NotSendable(_) => "not_sendable",
            Self::Rejected(_) => "rejected",
            Self::Unavailable(_) => "unavailable",
            Self::OutcomeUnknown(_) => "outcome_unknown",
        }
    }

    /// The provider's own error code (Twilio `21211`, `63016`…; Meta `131047`…), when
    /// the provider answered with one.
    pub fn provider_code(&self) -> Option<&str> {
        self.provider_failure()?.code()
    }

    /// How long the provider asked us to wait before sending again, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.provider_failure()?.retry_after()
    }

    /// What the provider said, for failures that came from it.
    pub fn provider_failure(&self) -> Option<&ProviderFailure> {
        match self {
            Self::InvalidRecipient(f)
            | Self::OptedOut(f)
            | Self::OutsideSessionWindow(f)
            | Self::Rejected(f)
            | Self::Unavailable(f)
            | Self::OutcomeUnknown(f) => Some(f),
            Self::UnsupportedChannel(_)
            | Self::EmptyMessage
            | Self::TemplateMissing
            | Self::NotSendable(_) => None,
        }
    }
}

/// A provider's failure: its error code and `Retry-After`, and the adapter's own error
/// (which `Display`s and chains as if it stood alone).
#[derive(Debug)]
pub struct ProviderFailure {
    code: Option<String>,
    retry_after: Option<Duration>,
    error: Cause,
}

impl ProviderFailure {
    pub fn new(error: impl Into<Cause>) -> Self {
        Self {
            code: None,
            retry_after: None,
            error: error.into(),
        }
    }

    pub fn with_code(mut self, code: Option<impl ToString>) -> Self {
        self.code = code.map(|c| c.to_string());
        self
    }

    pub fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The adapter's error (`TwilioError`, `MetaError`), to downcast when needed.
    pub fn error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self.error.as_ref()
    }
}

impl fmt::Display for ProviderFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl std::error::Error for ProviderFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

impl From<TwilioError> for SendError {
    fn from(error: TwilioError) -> Self {
        let failure = |e: TwilioError| {
            let (code, retry_after) = (e.code(), e.retry_after());
            ProviderFailure::new(e)
                .with_code(code)
                .with_retry_after(retry_after)
        };
        match error {
            e @ TwilioError::InvalidNumber { .. } => Self::InvalidRecipient(failure(e)),
            e @ TwilioError::Unsubscribed { .. } => Self::OptedOut(failure(e)),
            e @ TwilioError::OutsideWindow { .. } => Self::OutsideSessionWindow(failure(e)),
            e if e.surely_not_sent() => Self::Unavailable(failure(e)),
            // Timeouts, lost connections, unreadable answers and 5xx other than 503:
            // the message may exist.
            e if e.is_transient() || matches!(e, TwilioError::InvalidResponse { .. }) => {
                Self::OutcomeUnknown(failure(e))
            }
            e => Self::Rejected(failure(e)),
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

    fn request(&self, message: OutboundMessage) -> Result<SendMessage, SendError> {
        // A message meant as a Meta template only must not go out as free text.
        if message.is_template() && message.template.is_none() {
            return Err(SendError::TemplateMissing);
        }
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
        Ok(SendMessage {
            to,
            from,
            body: message.body,
            media_urls: message.media_urls,
            status_callback: message.status_callback,
            content_sid,
            content_variables,
        })
    }
}

#[async_trait]
impl MessageSender for TwilioSender {
    async fn send(&self, message: OutboundMessage) -> Result<SentMessage, SendError> {
        message.check()?;
        let channel = message.channel.as_str();
        let request = self.request(message)?;
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
                let error = SendError::from(error);
                warn!(
                    reason = error.reason(),
                    code = error.provider_code(),
                    retry_after_secs = error.retry_after().map(|d| d.as_secs()),
                    error = %error,
                    cause = %error.provider_failure().map(ToString::to_string).unwrap_or_default(),
                    channel,
                    "Twilio did not send the message"
                );
                Err(error)
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
