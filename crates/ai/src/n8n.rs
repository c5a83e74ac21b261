//! The PRM → n8n trigger (§5). n8n answers asynchronously, through the n8n-callbacks
//! service, so this side only sends: the conversation waits for the callback for
//! `N8N_TIMEOUT_SECS` and the built-in rules answer when none comes (or when the trigger
//! cannot be delivered).
//!
//! The body is signed like the callbacks n8n sends us (`X-PRM-Signature: sha256=<hex
//! HMAC-SHA256 of the raw body>`, keyed with `N8N_CALLBACK_SECRET`), so a workflow can
//! check the trigger came from PRM. Each delivery carries `X-PRM-Delivery` (the same
//! for every retry of one trigger) for workflows that de-duplicate.

use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use prm_domain::{Media, PhoneNumber};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sha2::Sha256;
use uuid::Uuid;

use crate::{
    error::AiError,
    intake::{IntakeData, IntakeField, IntakeState},
};

pub const SIGNATURE_HEADER: &str = "X-PRM-Signature";
pub const DELIVERY_HEADER: &str = "X-PRM-Delivery";
/// The trigger's `event`.
pub const INTAKE_MESSAGE: &str = "intake.message";

/// `POST {N8N_WEBHOOK_URL}` body, exactly as §5 writes it.
#[derive(Clone, PartialEq, Serialize)]
pub struct IntakeTrigger {
    pub event: &'static str,
    pub conversation_id: Uuid,
    pub patient_phone: PhoneNumber,
    pub message: String,
    pub state: TriggerState,
    pub callback_urls: CallbackUrls,
    /// Voice notes and pictures, so a workflow can transcribe or read them itself (the
    /// built-in rules cannot); left out of the body when there are none, as in §5.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<Media>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TriggerState {
    pub required_fields: Vec<IntakeField>,
    pub extracted_data: IntakeData,
}

/// Where the workflow answers: absolute URLs under `PUBLIC_BASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallbackUrls {
    pub intake_response: String,
    pub triage_response: String,
    pub booking_response: String,
}

impl CallbackUrls {
    pub fn new(public_base_url: &str) -> Self {
        let base = public_base_url.trim_end_matches('/');
        let url = |what: &str| format!("{base}/api/v1/prm/n8n/{what}");
        Self {
            intake_response: url("intake-response"),
            triage_response: url("triage-response"),
            booking_response: url("booking-response"),
        }
    }
}

impl IntakeTrigger {
    pub fn new(
        conversation_id: Uuid,
        patient_phone: &PhoneNumber,
        message: &str,
        state: &IntakeState,
        public_base_url: &str,
    ) -> Self {
        Self {
            event: INTAKE_MESSAGE,
            conversation_id,
            patient_phone: patient_phone.clone(),
            message: message.to_owned(),
            state: TriggerState {
                required_fields: state.required_fields.clone(),
                extracted_data: state.extracted.clone(),
            },
            callback_urls: CallbackUrls::new(public_base_url),
            media: Vec::new(),
        }
    }

    /// With the message's attachments (voice notes for the workflow to transcribe).
    pub fn with_media(mut self, media: Vec<Media>) -> Self {
        self.media = media;
        self
    }
}

/// Patient data stays out of `Debug` (and so out of logs).
impl std::fmt::Debug for IntakeTrigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntakeTrigger")
            .field("event", &self.event)
            .field("conversation_id", &self.conversation_id)
            .field("required_fields", &self.state.required_fields)
            .field("media", &self.media.len())
            .finish_non_exhaustive()
    }
}

/// `sha256=<hex HMAC-SHA256 of body>`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Bounded retries of one trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in total, the first included.
    pub max_attempts: u32,
    /// Wait before the first retry; doubles each time, with jitter.
    pub initial_backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(250),
        }
    }
}

impl Retry {
    /// Exponential with "equal jitter" (half to all of it), so clients do not retry in step.
    fn backoff(&self, retry: u32) -> Duration {
        let exponential = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(retry.saturating_sub(1)));
        let half = exponential / 2;
        let jitter = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(if jitter == 0 {
            0
        } else {
            rand::random_range(0..=jitter)
        })
    }
}

/// Sends triggers to `N8N_WEBHOOK_URL`.
#[derive(Clone)]
pub struct N8nClient {
    http: reqwest::Client,
    url: String,
    timeout: Duration,
    secret: Option<SecretString>,
    retry: Retry,
}

impl std::fmt::Debug for N8nClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("N8nClient")
            .field("timeout", &self.timeout)
            .field("signed", &self.secret.is_some())
            .finish_non_exhaustive()
    }
}

impl N8nClient {
    /// `timeout` bounds one trigger, retries included.
    pub fn new(
        url: impl Into<String>,
        timeout: Duration,
        secret: Option<SecretString>,
    ) -> Result<Self, AiError> {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .timeout(timeout)
            .build()
            .map_err(|e| AiError::Unavailable(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            url: url.into(),
            timeout,
            secret,
            retry: Retry::default(),
        })
    }

    pub fn with_retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// POSTs the trigger; retries connection failures, timeouts, 429 and 5xx with
    /// backoff while attempts and time remain; any other 4xx is [`AiError::Refused`] at once.
    pub async fn trigger(&self, trigger: &IntakeTrigger) -> Result<(), AiError> {
        let body = serde_json::to_vec(trigger)
            .map_err(|_| AiError::Malformed("the trigger could not be serialized".to_owned()))?;
        let signature = self
            .secret
            .as_ref()
            .map(|s| signature(s.expose_secret().as_bytes(), &body));
        let delivery = Uuid::new_v4().to_string();
        let deadline = Instant::now() + self.timeout;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(AiError::Timeout(self.timeout));
            }
            let mut request = self
                .http
                .post(&self.url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(DELIVERY_HEADER, &delivery)
                .timeout(remaining)
                .body(body.clone());
            if let Some(signature) = &signature {
                request = request.header(SIGNATURE_HEADER, signature);
            }
            let error = match request.send().await {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) => {
                    let status = response.status();
                    let error =
                        AiError::Unavailable(format!("n8n answered HTTP {}", status.as_u16()));
                    if !(status.is_server_error() || status.as_u16() == 429) {
                        return Err(AiError::Refused(format!(
                            "n8n answered HTTP {}",
                            status.as_u16()
                        )));
                    }
                    error
                }
                Err(e) if e.is_timeout() => AiError::Timeout(self.timeout),
                Err(e) => AiError::Unavailable(e.without_url().to_string()),
            };
            let wait = self.retry.backoff(attempt);
            let time_left = deadline.saturating_duration_since(Instant::now());
            if attempt >= self.retry.max_attempts || wait >= time_left {
                tracing::warn!(
                    conversation_id = %trigger.conversation_id,
                    attempt,
                    %error,
                    "n8n trigger not delivered"
                );
                return Err(error);
            }
            tracing::debug!(conversation_id = %trigger.conversation_id, attempt, %error, "retrying the n8n trigger");
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hex_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn callback_urls_are_absolute_under_the_public_base() {
        let urls = CallbackUrls::new("https://prm.example.com/");
        assert_eq!(
            urls.intake_response,
            "https://prm.example.com/api/v1/prm/n8n/intake-response"
        );
        assert_eq!(
            urls.triage_response,
            "https://prm.example.com/api/v1/prm/n8n/triage-response"
        );
        assert_eq!(
            urls.booking_response,
            "https://prm.example.com/api/v1/prm/n8n/booking-response"
        );
    }

    #[test]
    fn backoff_doubles_with_jitter() {
        let retry = Retry {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(100),
        };
        for _ in 0..50 {
            let first = retry.backoff(1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let second = retry.backoff(2);
            assert!(second >= Duration::from_millis(100) && second <= Duration::from_millis(200));
        }
    }
}
