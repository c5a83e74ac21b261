//! References embedded in events: enough for a consumer to act without calling us back.

use super::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PatientRef {
    pub id: Uuid,
    #[cfg_attr(feature = "openapi", schema(example = "María Pérez"))]
    pub name: String,
    pub phone: PhoneNumber,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PractitionerRef {
    pub id: Uuid,
    #[cfg_attr(feature = "openapi", schema(example = "Dr. Ana Gómez"))]
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(example = "Cardiology"))]
    pub specialty: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LocationRef {
    pub id: Uuid,
    #[cfg_attr(feature = "openapi", schema(example = "Sede Norte"))]
    pub name: String,
    pub timezone: TimeZone,
}

/// Who carries a patient's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MessageProvider {
    Twilio,
    Meta,
    VoiceAgent,
    /// The embedded recording sender (no real provider configured); outbound only.
    Recording,
}
