//! # prm-meta
//!
//! Meta's WhatsApp Cloud API for sending, on the suite's one HTTP stack (reqwest +
//! rustls), with a configurable Graph API base so tests talk to a local fake. It is an
//! adapter of the outbound messaging port, which lives in `prm-twilio` for now
//! (`docs/decisions/0007-meta-sender-crate.md`).
//!
//! * [`client`] — `POST {WHATSAPP_GRAPH_API_BASE}/{WHATSAPP_PHONE_NUMBER_ID}/messages`
//!   with the bearer `WHATSAPP_ACCESS_TOKEN`: text, media (image, audio, document,
//!   video by link) and template messages; typed errors ([`MetaError`]); retries only
//!   while Meta surely did not take the message.
//! * [`sender`] — [`MetaSender`], the `prm_twilio::MessageSender` for Meta: Meta's codes
//!   become the port's errors (131047 → outside the 24-hour window, rate limits →
//!   unavailable, …) with the code kept for the message's record.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use prm_meta::{MetaConfig, MetaSender};
//! use prm_twilio::{MessageSender, OutboundMessage};
//!
//! # let (token, phone_number_id, base): (secrecy::SecretString, String, String) = (String::new().into(), String::new(), String::new());
//! // Values come from `prm_platform::Settings::whatsapp` (WHATSAPP_* variables).
//! let config = MetaConfig::new(token, phone_number_id).with_graph_api_base(base);
//! let sender: Arc<dyn MessageSender> = Arc::new(MetaSender::from_config(config)?);
//! let to = prm_domain::PhoneNumber::parse("+573001234567", "57")?;
//! let sent = sender.send(OutboundMessage::whatsapp(to, "Su cita está confirmada")).await?;
//! println!("{}", sent.provider_message_id); // wamid.…
//! # Ok(()) }
//! ```
//!
//! ## Patient data and secrets
//!
//! Numbers and message contents are logged at `debug` only and masked in `Debug`;
//! `Display` of errors leaves out Meta's message. The access token never prints.

pub mod client;
pub mod config;
pub mod error;
pub mod sender;

pub use client::{AcceptedMessage, MediaKind, MessageContent, MetaClient, WhatsappMessage};
pub use config::{ConfigError, DEFAULT_GRAPH_API_BASE, MetaConfig, graph_api_base};
pub use error::{MetaError, codes};
pub use sender::MetaSender;
