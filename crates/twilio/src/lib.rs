//! # prm-twilio
//!
//! The small part of Twilio the PRM suite uses, on the suite's one HTTP stack
//! (reqwest + rustls), with a configurable base URL so tests talk to a local fake and
//! production can use a regional edge. Why not the `twilio-async` crate:
//! `docs/decisions/0001-own-twilio-client.md`.
//!
//! * [`signature`] — validate `X-Twilio-Signature` on the webhooks Twilio sends
//!   (form posts and JSON bodies), against the configured public URL.
//! * [`client`] — the Messages API: [`TwilioClient::send_message`] and
//!   [`TwilioClient::fetch_message`], with typed errors ([`TwilioError`]). A send is
//!   retried only when it surely created nothing (connection never opened, 429, 503),
//!   honouring `Retry-After` within [`RetryPolicy::max_wait`]; reads also on 5xx and
//!   timeouts.
//! * [`sender`] — the outbound messaging port [`MessageSender`] with its adapters:
//!   [`TwilioSender`] and the embedded default [`RecordingSender`] (Meta's is
//!   `prm_meta::MetaSender`). [`SendError`] says what to record on a failed message:
//!   [`SendError::reason`], [`SendError::provider_code`], [`SendError::retry_after`].
//! * [`twiml`] — what a webhook answers: [`twiml::EMPTY_RESPONSE`] (`text/xml`).
//!
//! ## Configuration
//!
//! The `TWILIO_*` variables are read and validated once, by `prm_platform::Settings`;
//! services build a [`TwilioConfig`] from them (base URL `TWILIO_API_BASE`, default
//! `https://api.twilio.com`). No account SID means no Twilio: use [`RecordingSender`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use prm_twilio::{MessageSender, OutboundMessage, RecordingSender, TwilioConfig, TwilioSender};
//!
//! # let (account_sid, auth_token): (Option<String>, secrecy::SecretString) = (None, String::new().into());
//! // Values come from `prm_platform::Settings::twilio` (TWILIO_* variables, validated at start).
//! let sender: Arc<dyn MessageSender> = match account_sid {
//!     Some(sid) => Arc::new(TwilioSender::from_config(TwilioConfig::new(sid, auth_token))?),
//!     None => Arc::new(RecordingSender::new()),
//! };
//! let to = prm_domain::PhoneNumber::parse("+573001234567", "57")?;
//! let sent = sender.send(OutboundMessage::whatsapp(to, "Su cita está confirmada")).await?;
//! println!("{}", sent.provider_message_id);
//! # Ok(()) }
//! ```
//!
//! ## Patient data and secrets
//!
//! Phone numbers and message bodies are logged at `debug` only; `Debug` of the
//! messages masks them, and `Display` of errors leaves out Twilio's message (which
//! often repeats the number). The auth token never prints.

pub mod client;
pub mod config;
pub mod error;
pub mod sender;
pub mod signature;
pub mod twiml;

pub use client::{
    MessageResource, MessageStatus, SendMessage, Sender, TwilioClient, whatsapp_address,
};
pub use config::{ConfigError, DEFAULT_API_BASE, RetryPolicy, TwilioConfig};
pub use error::TwilioError;
pub use sender::{
    ContentTemplate, MessageSender, OutboundMessage, ProviderFailure, RecordedMessage,
    RecordingSender, SendError, SentMessage, TwilioSender, WhatsappTemplate,
};
pub use signature::{
    BODY_SHA256_PARAM, FormError, RequestValidator, SIGNATURE_HEADER, body_sha256, parse_form,
};
