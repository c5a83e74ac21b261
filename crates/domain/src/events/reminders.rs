//! Messages due after the booking (appointments' reminder scheduler): a reminder before
//! the appointment, a follow-up on the date the practitioner set, a note after a no-show.

use super::*;

/// What a scheduled message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReminderKind {
    /// Before the appointment; the patient may answer 1 confirm / 2 change / 3 cancel.
    Reminder,
    /// On the follow-up date set when the appointment was marked fulfilled.
    FollowUp,
    /// After the appointment was marked `noshow`.
    NoShow,
}

impl ReminderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reminder => "reminder",
            Self::FollowUp => "follow_up",
            Self::NoShow => "no_show",
        }
    }

    /// The message template it is written with.
    pub fn template(self) -> crate::templates::TemplatePurpose {
        match self {
            Self::Reminder => crate::templates::TemplatePurpose::Reminder,
            Self::FollowUp => crate::templates::TemplatePurpose::FollowUp,
            Self::NoShow => crate::templates::TemplatePurpose::NoShow,
        }
    }
}

/// `REMINDER_DUE.data`: a scheduled message is due now. Published once per job (the
/// scheduler's lease makes one replica run it); conversations writes it with the
/// clinic's template for `kind` in the patient's locale and sends it on the patient's
/// open conversation (or a new one). A reminder's answer comes back as BOOKING_ACTION.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ReminderDue {
    /// The job's id: also the id of the outbound message, so a redelivery sends once.
    pub job_id: Uuid,
    pub kind: ReminderKind,
    pub appointment_id: Uuid,
    pub status: AppointmentStatus,
    /// RFC 3339 with the location's offset.
    pub start: DateTime<FixedOffset>,
    pub end: DateTime<FixedOffset>,
    pub patient: PatientRef,
    pub practitioner: PractitionerRef,
    pub location: LocationRef,
    /// The conversation the appointment was booked in; null for the front desk's.
    pub conversation_id: Option<Uuid>,
    pub channel: Option<Channel>,
    /// The patient's locale when known (`es`, `en`).
    pub locale: Option<crate::Locale>,
    /// When the job was due (it runs at most its rule's window later).
    pub due_at: DateTime<Utc>,
    /// For `follow_up`: the date the practitioner set.
    #[serde(default)]
    pub follow_up_date: Option<chrono::NaiveDate>,
}
