//! A patient's message entering the suite.

use super::*;

/// `MESSAGE_RECEIVED.data` (ARCHITECTURE §5, field for field).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MessageReceived {
    /// Our id of the stored inbound message.
    pub message_id: Uuid,
    /// `twilio`, `meta` or `voice_agent`.
    pub provider: MessageProvider,
    /// Twilio `MessageSid`, Meta `wamid…`, voice-agent `call_id`.
    pub provider_message_id: String,
    pub channel: Channel,
    /// E.164, without `whatsapp:`.
    pub from: PhoneNumber,
    pub to: PhoneNumber,
    /// Verbatim text as the patient sent it.
    pub body: String,
    pub media: Vec<Media>,
    pub profile_name: Option<String>,
    pub wa_id: Option<String>,
    /// Speech-to-text of a voice note or call, when there was audio.
    pub transcription: Option<String>,
    pub received_at: DateTime<Utc>,
    /// What the voice agent understood the caller wants (voice-agent calls only;
    /// omitted otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    /// Structured data the voice agent extracted from the call (voice-agent calls
    /// only; omitted otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extracted_data: Option<serde_json::Value>,
    /// A location the patient shared (a Twilio message with `Latitude`/`Longitude`, a
    /// Meta `location` message); omitted otherwise. Its `body` is then usually empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<SharedLocation>,
    /// What the provider sent beyond the fields above, as it sent it: for Twilio every
    /// posted parameter not carried by a field of its own (`ButtonPayload`, `Latitude`,
    /// `Forwarded`, `MessagingServiceSid`, unknown ones…, values as strings); for Meta
    /// the message object without `from`, `id` and `timestamp` (`type`, `context`,
    /// `referral`, the typed content…); for the voice agent `started_at`. Omitted when
    /// there is nothing more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub provider_fields: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A location shared in a message (WGS 84 degrees).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SharedLocation {
    #[cfg_attr(feature = "openapi", schema(example = 4.6534649))]
    pub latitude: f64,
    #[cfg_attr(feature = "openapi", schema(example = -74.0836453))]
    pub longitude: f64,
    /// The place's address, when the patient shared a named place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The place's name (Twilio `Label`, Meta `name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

impl SharedLocation {
    /// A location from the provider's text fields; `None` unless both coordinates are
    /// finite numbers within range.
    pub fn parse(
        latitude: &str,
        longitude: &str,
        address: Option<String>,
        label: Option<String>,
    ) -> Option<Self> {
        let latitude: f64 = latitude.trim().parse().ok()?;
        let longitude: f64 = longitude.trim().parse().ok()?;
        Self::new(latitude, longitude, address, label)
    }

    /// `None` unless `latitude` is in [-90, 90] and `longitude` in [-180, 180].
    pub fn new(
        latitude: f64,
        longitude: f64,
        address: Option<String>,
        label: Option<String>,
    ) -> Option<Self> {
        let in_range = (-90.0..=90.0).contains(&latitude) && (-180.0..=180.0).contains(&longitude);
        in_range.then(|| Self {
            latitude,
            longitude,
            address: address.filter(|a| !a.trim().is_empty()),
            label: label.filter(|l| !l.trim().is_empty()),
        })
    }
}
