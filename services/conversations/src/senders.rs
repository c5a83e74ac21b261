//! The outbound messaging port's adapters as this service holds them, and the rule for
//! picking one: replies go out through the provider the patient last wrote from
//! (§8); Twilio when the patient has not written yet (or called the voice agent);
//! the recording sender of the embedded mode when no provider is configured.

use std::sync::Arc;

use prm_domain::conversation::Provider;
use prm_platform::Settings;
use prm_twilio::{MessageSender, RecordingSender, TwilioConfig, TwilioSender};

/// The adapters this process can send through.
#[derive(Clone)]
pub struct Senders {
    pub twilio: Option<Arc<dyn MessageSender>>,
    pub meta: Option<Arc<dyn MessageSender>>,
    /// Always there: the embedded default, and what tests read.
    pub recording: Arc<RecordingSender>,
}

impl std::fmt::Debug for Senders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Senders")
            .field("twilio", &self.twilio.is_some())
            .field("meta", &self.meta.is_some())
            .finish_non_exhaustive()
    }
}

impl Senders {
    /// Twilio when `TWILIO_ACCOUNT_SID`, `TWILIO_AUTH_TOKEN` and `TWILIO_WHATSAPP_NUMBER`
    /// are set; Meta when `WHATSAPP_ACCESS_TOKEN` and `WHATSAPP_PHONE_NUMBER_ID` are.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        let env = settings.env();
        let twilio = match TwilioConfig::from_lookup(|name| env.var(name))? {
            Some(config) if config.whatsapp_number.is_some() => {
                let sender: Arc<dyn MessageSender> = Arc::new(TwilioSender::from_config(config)?);
                Some(sender)
            }
            Some(_) => {
                tracing::warn!(
                    "TWILIO_WHATSAPP_NUMBER is unset: replies cannot go out through Twilio"
                );
                None
            }
            None => None,
        };
        let meta = match prm_meta::MetaConfig::from_lookup(|name| env.var(name))? {
            Some(config) => {
                let sender: Arc<dyn MessageSender> =
                    Arc::new(prm_meta::MetaSender::from_config(config)?);
                Some(sender)
            }
            None => None,
        };
        Ok(Self {
            twilio,
            meta,
            recording: Arc::new(RecordingSender::new()),
        })
    }

    /// The recording sender only (tests and the embedded mode).
    pub fn recording_only() -> Self {
        Self {
            twilio: None,
            meta: None,
            recording: Arc::new(RecordingSender::new()),
        }
    }

    /// The sender for a reply to a patient who last wrote through `last`.
    pub fn route(&self, last: Option<Provider>) -> (Provider, Arc<dyn MessageSender>) {
        let twilio = || self.twilio.clone().map(|s| (Provider::Twilio, s));
        let meta = || self.meta.clone().map(|s| (Provider::Meta, s));
        let chosen = match last {
            Some(Provider::Meta) => meta().or_else(twilio),
            _ => twilio().or_else(meta),
        };
        chosen.unwrap_or_else(|| {
            let recording: Arc<dyn MessageSender> = self.recording.clone();
            (Provider::Recording, recording)
        })
    }

    /// Whether any real provider is configured.
    pub fn sends_for_real(&self) -> bool {
        self.twilio.is_some() || self.meta.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn senders(twilio: bool, meta: bool) -> Senders {
        let real = || -> Arc<dyn MessageSender> { Arc::new(RecordingSender::new()) };
        Senders {
            twilio: twilio.then(real),
            meta: meta.then(real),
            recording: Arc::new(RecordingSender::new()),
        }
    }

    #[test]
    fn replies_go_through_the_provider_the_patient_last_wrote_from() {
        let both = senders(true, true);
        assert_eq!(both.route(Some(Provider::Meta)).0, Provider::Meta);
        assert_eq!(both.route(Some(Provider::Twilio)).0, Provider::Twilio);
        assert_eq!(both.route(Some(Provider::VoiceAgent)).0, Provider::Twilio);
        assert_eq!(both.route(None).0, Provider::Twilio);
        assert_eq!(
            senders(false, true).route(Some(Provider::Twilio)).0,
            Provider::Meta
        );
        assert_eq!(
            senders(true, false).route(Some(Provider::Meta)).0,
            Provider::Twilio
        );
        assert_eq!(
            senders(false, false).route(Some(Provider::Meta)).0,
            Provider::Recording
        );
    }
}
