//! Slots offered to a conversation (appointments).

use super::*;

/// One proposed slot, as the patient sees it in the numbered list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct OfferedSlot {
    /// 1-based position in the list.
    pub index: u32,
    /// RFC 3339 with the location's offset.
    pub start: DateTime<FixedOffset>,
    pub end: DateTime<FixedOffset>,
    pub practitioner: PractitionerRef,
    pub location: LocationRef,
    pub score: i64,
    #[cfg_attr(
        feature = "openapi",
        schema(example = "Lun 23 nov 10:00 – Dr. Ana Gómez, Sede Norte")
    )]
    pub text: String,
}

/// `SLOTS_OFFERED.data`: conversations sends `message` to the patient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SlotsOffered {
    pub conversation_id: Uuid,
    pub patient_id: Option<Uuid>,
    #[cfg_attr(feature = "openapi", schema(example = "Cardiology"))]
    pub department: String,
    pub slots: Vec<OfferedSlot>,
    /// The WhatsApp-ready numbered list.
    pub message: String,
    /// A slot freed up for a patient on the department's waitlist: conversations sends it
    /// even to a conversation handed to staff because nothing was free, and gives it back
    /// to the bot. Absent (false) on every other offer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub waitlist: bool,
}
