//! The Messages part of Twilio's REST API (`2010-04-01`), on reqwest.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use prm_domain::PhoneNumber;
use reqwest::Method;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use secrecy::ExposeSecret;
use serde::{Deserialize, Deserializer, Serialize};
use tracing::{debug, warn};

use crate::config::{ConfigError, TwilioConfig};
use crate::error::TwilioError;

/// `whatsapp:+E164`, the address form Twilio uses for WhatsApp senders and recipients.
pub fn whatsapp_address(number: &PhoneNumber) -> String {
    format!("whatsapp:{}", number.as_str())
}

/// Who a message is sent from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sender {
    /// A Twilio address as Twilio writes it: `+14155238886` (SMS) or
    /// `whatsapp:+14155238886`. Sent as `From`.
    Number(String),
    /// A Messaging Service SID (`MG…`); Twilio picks the sender. Sent as `MessagingServiceSid`.
    MessagingService(String),
}

impl Sender {
    /// A WhatsApp sender (`whatsapp:` prefix added).
    pub fn whatsapp(number: &PhoneNumber) -> Self {
        Self::Number(whatsapp_address(number))
    }

    /// An SMS sender.
    pub fn sms(number: &PhoneNumber) -> Self {
        Self::Number(number.as_str().to_owned())
    }
}

/// A message to create through `POST …/Messages.json`. `Debug` hides the recipient and
/// the body (patient data).
#[derive(Clone, PartialEq)]
pub struct SendMessage {
    /// Twilio address: `+E164` for SMS, `whatsapp:+E164` for WhatsApp ([`whatsapp_address`]).
    pub to: String,
    pub from: Sender,
    pub body: Option<String>,
    /// Public URLs of media to attach; each becomes one `MediaUrl` field.
    pub media_urls: Vec<String>,
    /// Where Twilio posts delivery status updates.
    pub status_callback: Option<String>,
    /// A Content API template (`HX…`), required outside the WhatsApp session window.
    pub content_sid: Option<String>,
    /// The template's variables, e.g. `{"1": "12/1", "2": "3pm"}`; sent as a JSON string.
    pub content_variables: Option<serde_json::Value>,
}

impl SendMessage {
    /// A plain text message.
    pub fn text(to: impl Into<String>, from: Sender, body: impl Into<String>) -> Self {
        Self {
            to: to.into(),
            from,
            body: Some(body.into()),
            media_urls: Vec::new(),
            status_callback: None,
            content_sid: None,
            content_variables: None,
        }
    }

    /// The form fields, exactly as the Messages API names them.
    fn form(&self) -> Result<Vec<(&'static str, String)>, TwilioError> {
        if self.to.trim().is_empty() {
            return Err(TwilioError::InvalidRequest("the recipient (To) is empty"));
        }
        let has_body = self.body.as_deref().is_some_and(|b| !b.is_empty());
        if !has_body && self.media_urls.is_empty() && self.content_sid.is_none() {
            return Err(TwilioError::InvalidRequest(
                "a message needs a body, media or a content template",
            ));
        }
        let mut form = vec![("To", self.to.clone())];
        match &self.from {
            Sender::Number(from) => form.push(("From", from.clone())),
            Sender::MessagingService(sid) => form.push(("MessagingServiceSid", sid.clone())),
        }
        if let Some(body) = self.body.as_ref().filter(|b| !b.is_empty()) {
            form.push(("Body", body.clone()));
        }
        form.extend(self.media_urls.iter().map(|url| ("MediaUrl", url.clone())));
        if let Some(callback) = &self.status_callback {
            form.push(("StatusCallback", callback.clone()));
        }
        if let Some(content_sid) = &self.content_sid {
            form.push(("ContentSid", content_sid.clone()));
        }
        if let Some(variables) = &self.content_variables {
            let json = match variables {
                // Already a JSON document as a string: send it as it is.
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            form.push(("ContentVariables", json));
        }
        Ok(form)
    }
}

impl fmt::Debug for SendMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendMessage")
            .field("to", &"[REDACTED]")
            .field("from", &self.from)
            .field("body_chars", &self.body.as_ref().map(|b| b.chars().count()))
            .field("media_urls", &self.media_urls.len())
            .field("status_callback", &self.status_callback)
            .field("content_sid", &self.content_sid)
            .finish_non_exhaustive()
    }
}

/// A message's status as Twilio reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    Queued,
    Sending,
    Sent,
    Failed,
    Delivered,
    Undelivered,
    Receiving,
    Received,
    Accepted,
    Scheduled,
    Read,
    PartiallyDelivered,
    Canceled,
    /// A status added by Twilio after this code was written.
    #[serde(other)]
    Unknown,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Delivered => "delivered",
            Self::Undelivered => "undelivered",
            Self::Receiving => "receiving",
            Self::Received => "received",
            Self::Accepted => "accepted",
            Self::Scheduled => "scheduled",
            Self::Read => "read",
            Self::PartiallyDelivered => "partially_delivered",
            Self::Canceled => "canceled",
            Self::Unknown => "unknown",
        }
    }

    /// The message will not reach the recipient.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Failed | Self::Undelivered | Self::Canceled)
    }
}

impl fmt::Display for MessageStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Message resource as the Messages API returns it. `Debug` hides the addresses and
/// the body.
#[derive(Clone, PartialEq, Deserialize)]
pub struct MessageResource {
    pub sid: String,
    #[serde(default)]
    pub account_sid: Option<String>,
    pub status: MessageStatus,
    #[serde(default)]
    pub to: String,
    /// Null on creation through a Messaging Service until Twilio picks a sender.
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub messaging_service_sid: Option<String>,
    #[serde(default)]
    pub direction: Option<String>,
    #[serde(default, deserialize_with = "lenient_u32")]
    pub num_segments: Option<u32>,
    #[serde(default, deserialize_with = "lenient_u32")]
    pub num_media: Option<u32>,
    #[serde(default, deserialize_with = "lenient_u32")]
    pub error_code: Option<u32>,
    #[serde(default)]
    pub error_message: Option<String>,
    #[serde(default, deserialize_with = "rfc2822")]
    pub date_created: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "rfc2822")]
    pub date_sent: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "rfc2822")]
    pub date_updated: Option<DateTime<Utc>>,
    #[serde(default)]
    pub price: Option<String>,
    #[serde(default)]
    pub price_unit: Option<String>,
    #[serde(default)]
    pub uri: Option<String>,
}

impl fmt::Debug for MessageResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageResource")
            .field("sid", &self.sid)
            .field("status", &self.status)
            .field("error_code", &self.error_code)
            .field("direction", &self.direction)
            .field("num_segments", &self.num_segments)
            .field("date_created", &self.date_created)
            .finish_non_exhaustive()
    }
}

/// Twilio writes counts as strings (`"1"`) and error codes as numbers; accept both.
fn lenient_u32<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrString {
        Number(u32),
        String(String),
    }
    Ok(match Option::<NumberOrString>::deserialize(deserializer)? {
        Some(NumberOrString::Number(n)) => Some(n),
        Some(NumberOrString::String(s)) => s.trim().parse().ok(),
        None => None,
    })
}

/// Twilio dates look like `Thu, 30 Jul 2015 20:12:31 +0000`. An unexpected format gives
/// `None` rather than failing the whole response: the message was still created.
fn rfc2822<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    let raw = Option::<String>::deserialize(deserializer)?;
    Ok(raw.and_then(|s| {
        DateTime::parse_from_rfc2822(&s)
            .or_else(|_| DateTime::parse_from_rfc3339(&s))
            .ok()
            .map(|d| d.with_timezone(&Utc))
    }))
}

/// Twilio's REST API. Cheap to clone (one shared connection pool).
#[derive(Clone)]
pub struct TwilioClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: TwilioConfig,
    /// `{base}/2010-04-01/Accounts/{sid}/Messages`
    messages_url: String,
}

impl fmt::Debug for TwilioClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioClient")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// Whether a request may be repeated after a timeout.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Idempotency {
    /// GET: repeating it is harmless.
    Idempotent,
    /// POST Messages: an attempt that timed out, lost its connection or met a 5xx other
    /// than 503 may have created the message, so repeating it could message the patient
    /// twice. Only what surely created nothing is retried (connection never opened,
    /// 429, 503).
    NotIdempotent,
}

impl TwilioClient {
    pub fn new(config: TwilioConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(concat!("prm-twilio/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ConfigError::HttpClient)?;
        let messages_url = format!(
            "{}/2010-04-01/Accounts/{}/Messages",
            config.api_base.trim_end_matches('/'),
            config.account_sid
        );
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                config,
                messages_url,
            }),
        })
    }

    pub fn config(&self) -> &TwilioConfig {
        &self.inner.config
    }

    /// Creates a message: `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`.
    #[tracing::instrument(name = "twilio.send_message", skip_all)]
    pub async fn send_message(
        &self,
        message: &SendMessage,
    ) -> Result<MessageResource, TwilioError> {
        let form = message.form()?;
        let url = format!("{}.json", self.inner.messages_url);
        self.execute(Method::POST, &url, Some(&form), Idempotency::NotIdempotent)
            .await
    }

    /// Reads a message back: `GET …/Messages/{sid}.json`.
    #[tracing::instrument(name = "twilio.fetch_message", skip_all, fields(sid = %sid))]
    pub async fn fetch_message(&self, sid: &str) -> Result<MessageResource, TwilioError> {
        if sid.is_empty() || !sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(TwilioError::InvalidRequest(
                "a message SID is letters and digits",
            ));
        }
        let url = format!("{}/{sid}.json", self.inner.messages_url);
        self.execute(Method::GET, &url, None, Idempotency::Idempotent)
            .await
    }

    async fn execute(
        &self,
        method: Method,
        url: &str,
        form: Option<&[(&'static str, String)]>,
        idempotency: Idempotency,
    ) -> Result<MessageResource, TwilioError> {
        let config = &self.inner.config;
        let policy = &config.retry;
        let max_attempts = policy.max_attempts.max(1);
        let mut attempt = 1;
        let mut waited = Duration::ZERO;
        loop {
            let mut request = self
                .inner
                .http
                .request(method.clone(), url)
                .basic_auth(&config.account_sid, Some(config.auth_token.expose_secret()))
                .header(reqwest::header::ACCEPT, "application/json");
            if let Some(form) = form {
                request = request.form(form);
            }
            let error = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let retry_after = retry_after(response.headers(), SystemTime::now());
                    let body = match response.bytes().await {
                        Ok(body) => body,
                        // The answer was cut off: a created message stays created.
                        Err(e) if status.is_success() && e.is_timeout() => {
                            return Err(TwilioError::Timeout);
                        }
                        Err(e) if status.is_success() => {
                            return Err(TwilioError::ConnectionLost(e));
                        }
                        // A refusal whose body was lost is still a refusal.
                        Err(_) => Default::default(),
                    };
                    if status.is_success() {
                        debug!(status = status.as_u16(), attempt, "Twilio answered");
                        return serde_json::from_slice(&body).map_err(|source| {
                            TwilioError::InvalidResponse {
                                status: status.as_u16(),
                                source,
                            }
                        });
                    }
                    TwilioError::from_response(status.as_u16(), &body, retry_after)
                }
                // Refused, unresolvable or a failed TLS handshake: nothing was written.
                Err(e) if e.is_connect() => TwilioError::Transport(e),
                Err(e) if e.is_timeout() => TwilioError::Timeout,
                Err(e) if e.is_builder() => return Err(TwilioError::Transport(e)),
                Err(e) => TwilioError::ConnectionLost(e),
            };
            let retryable = match idempotency {
                Idempotency::Idempotent => error.is_transient(),
                Idempotency::NotIdempotent => error.surely_not_sent(),
            };
            if !retryable {
                return Err(error);
            }
            if attempt >= max_attempts {
                warn!(attempts = attempt, error = %error, code = ?error.code(), "Twilio request failed; giving up");
                return Err(error);
            }
            let delay = error
                .retry_after()
                .unwrap_or_else(|| policy.backoff(attempt));
            if waited + delay > policy.max_wait {
                warn!(
                    attempts = attempt,
                    retry_after_secs = error.retry_after().map(|d| d.as_secs()),
                    error = %error,
                    code = ?error.code(),
                    "Twilio asks for a longer wait than this request may spend; giving up"
                );
                return Err(error);
            }
            warn!(
                attempt,
                max_attempts,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                error = %error,
                code = ?error.code(),
                "Twilio request failed; retrying"
            );
            tokio::time::sleep(delay).await;
            waited += delay;
            attempt += 1;
        }
    }
}

/// `Retry-After` as delay seconds or as an HTTP date (any of the three forms HTTP
/// allows); a date already past means now. Anything else is ignored in favour of our
/// own backoff.
fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(raw: &str) -> PhoneNumber {
        PhoneNumber::parse(raw, "57").expect("valid number")
    }

    #[test]
    fn whatsapp_address_has_the_prefix() {
        assert_eq!(
            whatsapp_address(&phone("+573001234567")),
            "whatsapp:+573001234567"
        );
        assert_eq!(
            Sender::whatsapp(&phone("+14155238886")),
            Sender::Number("whatsapp:+14155238886".into())
        );
        assert_eq!(
            Sender::sms(&phone("+14155238886")),
            Sender::Number("+14155238886".into())
        );
    }

    #[test]
    fn form_has_twilio_field_names_and_repeats_media() {
        let message = SendMessage {
            to: "whatsapp:+573001234567".into(),
            from: Sender::MessagingService("MG123".into()),
            body: Some("Hola".into()),
            media_urls: vec!["https://a/1.jpg".into(), "https://a/2.jpg".into()],
            status_callback: Some("https://prm/status".into()),
            content_sid: Some("HX123".into()),
            content_variables: Some(serde_json::json!({"1": "12/1"})),
        };
        let form = message.form().expect("valid");
        assert_eq!(
            form,
            vec![
                ("To", "whatsapp:+573001234567".to_owned()),
                ("MessagingServiceSid", "MG123".to_owned()),
                ("Body", "Hola".to_owned()),
                ("MediaUrl", "https://a/1.jpg".to_owned()),
                ("MediaUrl", "https://a/2.jpg".to_owned()),
                ("StatusCallback", "https://prm/status".to_owned()),
                ("ContentSid", "HX123".to_owned()),
                ("ContentVariables", r#"{"1":"12/1"}"#.to_owned()),
            ]
        );
    }

    #[test]
    fn empty_messages_are_refused_before_sending() {
        let mut message = SendMessage::text("+573001234567", Sender::Number("+1".into()), "");
        assert!(matches!(
            message.form(),
            Err(TwilioError::InvalidRequest(_))
        ));
        message.body = Some("hi".into());
        message.to = " ".into();
        assert!(matches!(
            message.form(),
            Err(TwilioError::InvalidRequest(_))
        ));
    }

    #[test]
    fn debug_hides_patient_data() {
        let message = SendMessage::text(
            "whatsapp:+573001234567",
            Sender::Number("whatsapp:+14155238886".into()),
            "my chest hurts",
        );
        let printed = format!("{message:?}");
        assert!(!printed.contains("3001234567"), "{printed}");
        assert!(!printed.contains("chest"), "{printed}");
    }

    #[test]
    fn message_resource_parses_twilio_json() {
        let json = r#"{
            "account_sid": "ACxxx", "api_version": "2010-04-01", "body": "Hola",
            "date_created": "Thu, 30 Jul 2015 20:12:31 +0000", "date_sent": null,
            "date_updated": "Thu, 30 Jul 2015 20:12:33 +0000", "direction": "outbound-api",
            "error_code": null, "error_message": null, "from": "whatsapp:+14155238886",
            "messaging_service_sid": null, "num_media": "0", "num_segments": "1",
            "price": null, "price_unit": "USD", "sid": "SM1234567890abcdef1234567890abcdef",
            "status": "queued", "subresource_uris": {"media": "/x"},
            "to": "whatsapp:+573001234567", "uri": "/2010-04-01/Accounts/ACxxx/Messages/SM1.json"
        }"#;
        let message: MessageResource = serde_json::from_str(json).expect("parses");
        assert_eq!(message.sid, "SM1234567890abcdef1234567890abcdef");
        assert_eq!(message.status, MessageStatus::Queued);
        assert_eq!(message.num_segments, Some(1));
        assert_eq!(message.num_media, Some(0));
        assert_eq!(message.error_code, None);
        assert_eq!(
            message.date_created.map(|d| d.to_rfc3339()),
            Some("2015-07-30T20:12:31+00:00".to_owned())
        );
        assert_eq!(message.date_sent, None);

        let failed: MessageResource = serde_json::from_str(
            r#"{"sid":"SM1","status":"undelivered","to":"+1","error_code":30008,"error_message":"Unknown error"}"#,
        )
        .expect("parses");
        assert_eq!(failed.error_code, Some(30008));
        assert!(failed.status.is_failure());

        let future: MessageResource =
            serde_json::from_str(r#"{"sid":"SM1","status":"teleported","to":"+1"}"#)
                .expect("parses");
        assert_eq!(future.status, MessageStatus::Unknown);
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_470); // 2015-10-21 07:27:50 UTC
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers, now), None);
        headers.insert(RETRY_AFTER, "2".parse().expect("header"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(2)));
        for date in [
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "Wednesday, 21-Oct-15 07:28:00 GMT",
            "Wed Oct 21 07:28:00 2015",
        ] {
            headers.insert(RETRY_AFTER, date.parse().expect("header"));
            assert_eq!(
                retry_after(&headers, now),
                Some(Duration::from_secs(10)),
                "{date}"
            );
        }
        headers.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:00:00 GMT".parse().expect("header"),
        );
        assert_eq!(
            retry_after(&headers, now),
            Some(Duration::ZERO),
            "past date"
        );
        for junk in ["-1", "soon", "1.5"] {
            headers.insert(RETRY_AFTER, junk.parse().expect("header"));
            assert_eq!(retry_after(&headers, now), None, "{junk}");
        }
    }
}
