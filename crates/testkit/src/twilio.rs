//! Requests as Twilio sends them: signed form posts of WhatsApp messages.

use prm_twilio::RequestValidator;
use secrecy::SecretString;

/// The webhook of inbound messages.
pub const MESSAGES_PATH: &str = "/api/v1/prm/webhooks/twilio";
/// The webhook of delivery statuses.
pub const STATUS_PATH: &str = "/api/v1/prm/webhooks/twilio/status";

/// `X-Twilio-Signature` for a post of `params` to `url` (the public URL with its path
/// and query), signed with the auth token `token` as Twilio signs it.
pub fn signature(token: &str, url: &str, params: &[(String, String)]) -> String {
    RequestValidator::new(SecretString::from(token.to_owned())).compute_signature(url, params)
}

/// Owned form fields from pairs of literals.
pub fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A WhatsApp text message from María Pérez (+57 300 123 4567) as Twilio posts it.
pub fn message(sid: &str, body: &str) -> Vec<(String, String)> {
    pairs(&[
        ("SmsMessageSid", sid),
        ("NumMedia", "0"),
        ("ProfileName", "María Pérez"),
        ("MessageType", "text"),
        ("SmsSid", sid),
        ("WaId", "573001234567"),
        ("SmsStatus", "received"),
        ("Body", body),
        ("To", "whatsapp:+14155238886"),
        ("NumSegments", "1"),
        ("ReferralNumMedia", "0"),
        ("MessageSid", sid),
        ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
        ("From", "whatsapp:+573001234567"),
        ("ApiVersion", "2010-04-01"),
    ])
}

/// A `MessageSid` no other test uses.
pub fn unique_sid() -> String {
    format!("SM{}", uuid::Uuid::new_v4().simple())
}
