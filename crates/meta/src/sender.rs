//! The Meta adapter of the outbound messaging port (`prm_twilio::MessageSender`).

use async_trait::async_trait;
use prm_domain::Channel;
use prm_twilio::{MessageSender, MessageStatus, OutboundMessage, SendError, SentMessage};
use tracing::{debug, error, info, warn};

use crate::client::{MediaKind, MetaClient, WhatsappMessage};
use crate::config::{ConfigError, MetaConfig};
use crate::error::{MetaError, codes};

/// Sends WhatsApp messages through Meta's Cloud API, from the configured
/// `WHATSAPP_PHONE_NUMBER_ID`.
///
/// One [`OutboundMessage`] is one Cloud API message: its WhatsApp template when it has
/// one (body and media are then what the template stands for, and are not sent), else
/// its one media file with the body as caption, else its text. Meta reports delivery
/// to the app's webhook, so `status_callback` is not used.
#[derive(Debug, Clone)]
pub struct MetaSender {
    client: MetaClient,
}

impl MetaSender {
    pub fn new(client: MetaClient) -> Self {
        Self { client }
    }

    pub fn from_config(config: MetaConfig) -> Result<Self, ConfigError> {
        Ok(Self::new(MetaClient::new(config)?))
    }

    /// The Cloud API message for `message`, or why Meta cannot carry it.
    pub fn whatsapp_message(message: &OutboundMessage) -> Result<WhatsappMessage, SendError> {
        message.check()?;
        if message.channel != Channel::Whatsapp {
            return Err(SendError::UnsupportedChannel(message.channel));
        }
        if let Some(template) = &message.whatsapp_template {
            return Ok(WhatsappMessage::template(
                &message.to,
                &template.name,
                &template.language,
                template.variables.clone(),
            ));
        }
        if message.is_template() {
            // Only a Twilio ContentSid: the free-form body would be refused outside the window.
            return Err(SendError::TemplateMissing);
        }
        let body = message
            .body
            .as_deref()
            .filter(|b| !b.trim().is_empty())
            .map(str::to_owned);
        match message.media_urls.as_slice() {
            [] => Ok(WhatsappMessage::text(&message.to, body.unwrap_or_default())),
            [link] => {
                let kind = MediaKind::from_link(link);
                if kind == MediaKind::Audio && body.is_some() {
                    return Err(SendError::NotSendable(
                        "a WhatsApp audio message cannot carry text; send the text apart",
                    ));
                }
                Ok(WhatsappMessage::media(&message.to, kind, link, body))
            }
            _ => Err(SendError::NotSendable(
                "WhatsApp carries one media file per message; send one message per file",
            )),
        }
    }
}

#[async_trait]
impl MessageSender for MetaSender {
    async fn send(&self, message: OutboundMessage) -> Result<SentMessage, SendError> {
        let request = Self::whatsapp_message(&message)?;
        match self.client.send_message(&request).await {
            Ok(accepted) => {
                info!(wamid = %accepted.wamid, message_status = ?accepted.message_status, "message accepted by Meta");
                debug!(wamid = %accepted.wamid, to = %message.to, body = ?message.body, "message sent");
                Ok(SentMessage {
                    provider_message_id: accepted.wamid,
                    status: MessageStatus::Accepted,
                })
            }
            Err(failure) => {
                if failure.code() == Some(codes::ACCESS_TOKEN) {
                    error!(
                        code = codes::ACCESS_TOKEN,
                        fbtrace_id = ?failure.fbtrace_id(),
                        "Meta refused the WhatsApp access token (invalid or expired): renew WHATSAPP_ACCESS_TOKEN; no WhatsApp message goes out through Meta until then"
                    );
                }
                if let MetaError::Api { message: said, .. } = &failure {
                    debug!(meta_message = %said, "Meta's explanation");
                }
                let subcode = match &failure {
                    MetaError::Api { subcode, .. } => *subcode,
                    _ => None,
                };
                let fbtrace_id = failure.fbtrace_id().map(str::to_owned);
                let cause = failure.to_string();
                let error = SendError::from(failure);
                warn!(
                    reason = error.reason(),
                    code = error.provider_code(),
                    subcode,
                    fbtrace_id,
                    error = %error,
                    cause,
                    "Meta did not send the message"
                );
                Err(error)
            }
        }
    }
}
