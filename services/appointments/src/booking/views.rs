//! Request and response bodies of the booking endpoints, and how domain values become
//! them. Built from `prm-domain` types only; the application layer depends on this
//! module, never the other way round. (Their documented examples are attached by
//! `routes::Doc`, from `examples`.)

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use prm_domain::{
    Appointment, AppointmentStatus, Channel, Locale, Location,
    scheduling::{Clinic, RankedSlot, no_slots_message, render_offer},
};
use prm_platform::limits::{NOTES_CHARS, REASON_CHARS, SELECTION_TEXT_CHARS};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

// `validator` takes its lengths as u64.
const MAX_SELECTION_TEXT: u64 = SELECTION_TEXT_CHARS as u64;
const MAX_REASON: u64 = REASON_CHARS as u64;
const MAX_NOTES: u64 = NOTES_CHARS as u64;

/// What the patient prefers; every field is optional.
#[derive(Debug, Clone, Default, Deserialize, Validate, ToSchema)]
pub struct PreferencesRequest {
    /// Preferred location; other locations are offered when nobody of the department practises there.
    pub location_id: Option<Uuid>,
    /// 0 = Monday … 6 = Sunday, in the location's time zone.
    #[schema(example = 0)]
    #[schema(minimum = 0, maximum = 6)]
    pub day_of_week: Option<i64>,
    /// Preferred local time of day, HH:MM.
    #[schema(example = "10:00")]
    #[schema(
        pattern = r"^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*([01][0-9]|2[0-3]):[0-5][0-9][\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub time_of_day: Option<String>,
    /// Preferred practitioner; their slots score higher.
    pub practitioner_id: Option<Uuid>,
}

/// A search for free slots of a department.
///
/// Text fields are trimmed of surrounding whitespace before they are checked and stored,
/// and must not contain control characters.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({
    "department": "Cardiology",
    "preferences": {"day_of_week": 0, "time_of_day": "10:00"},
    "limit": 5,
    "conversation_id": "0193a5e4-1111-7000-8000-000000000001",
    "patient_id": "0193a5e4-2222-7000-8000-000000000001",
    "locale": "en"
}))]
pub struct FindSlotsRequest {
    /// Department (practitioner specialty), case-insensitive.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000](?:[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub department: String,
    /// What the patient prefers; slots that match rank higher. Null or absent: no preference.
    #[validate(nested)]
    pub preferences: Option<PreferencesRequest>,
    /// 1 to 20, default 5.
    #[schema(minimum = 1, maximum = 20)]
    pub limit: Option<i64>,
    /// First day of the search window (default: today at each location).
    pub from_date: Option<NaiveDate>,
    /// Remember the offer for this conversation (15 minutes) so `select-slot` can book from it.
    pub conversation_id: Option<Uuid>,
    /// Who the offer is for; required to book from it.
    pub patient_id: Option<Uuid>,
    /// `es` or `en` (default `DEFAULT_LOCALE`).
    #[schema(pattern = r"^([eE][sS]|[eE][nN])$")]
    pub locale: Option<String>,
}

/// The practitioner of an offered slot.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SlotPractitioner {
    /// The practitioner's id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// The department.
    pub specialty: String,
}

/// The location of an offered slot.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SlotLocation {
    /// The location's id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
}

/// One offered slot.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SlotView {
    /// 1-based position in the offer; what the patient answers.
    pub index: u32,
    /// RFC 3339 with the location's offset.
    #[schema(value_type = String, example = "2026-12-07T10:00:00-05:00")]
    pub start: DateTime<FixedOffset>,
    /// End of the slot, RFC 3339 with the location's offset.
    #[schema(value_type = String, example = "2026-12-07T10:30:00-05:00")]
    pub end: DateTime<FixedOffset>,
    /// Who the slot is with.
    pub practitioner: SlotPractitioner,
    /// Where the slot is.
    pub location: SlotLocation,
    /// How well the slot matches the preferences and how soon it is; higher is better. For ranking, not display.
    pub score: u32,
    /// The slot in one line in the request's locale, as the message lists it.
    #[schema(example = "Monday, Dec 7 at 10:00 AM - Dr. Ana Gómez at Sede Norte")]
    pub text: String,
}

/// The ranked slots found and the message offering them.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FindSlotsResponse {
    /// The slots offered, best first; empty when none is free.
    pub slots: Vec<SlotView>,
    /// The numbered list, ready to send on WhatsApp.
    pub message: String,
    /// Set when the offer was remembered for a conversation.
    pub offer_id: Option<Uuid>,
    /// True when nobody of the department practises at the preferred location, so the slots come from its other locations.
    pub location_fallback: bool,
}

/// The patient's answer to the conversation's current offer.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"conversation_id": "0193a5e4-1111-7000-8000-000000000001", "text": "la segunda"}))]
pub struct SelectSlotRequest {
    /// The conversation whose current offer the patient answers.
    pub conversation_id: Uuid,
    /// The patient's answer, verbatim ("2", "the second one", "2pm", "ninguno"…).
    #[validate(length(min = 1, max = MAX_SELECTION_TEXT))]
    #[schema(min_length = 1, max_length = 2000)]
    pub text: String,
}

/// Why nothing was booked: `rejected` (new options follow) or `clarify` (the answer was not understood).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SelectionOutcome {
    Rejected,
    Clarify,
}

/// `select-slot` when nothing was booked: new options, or a question.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SelectionReply {
    /// `rejected`: the patient declined and `slots` are new options; `clarify`: the answer was not understood.
    pub outcome: SelectionOutcome,
    /// What to send the patient, in the conversation's locale.
    pub message: String,
    /// The new options (`rejected`); null for `clarify`.
    pub slots: Option<Vec<SlotView>>,
}

/// A booking made by the front desk for an explicit slot.
///
/// Text fields are trimmed of surrounding whitespace before they are checked and stored,
/// and must not contain control characters (tabs and line breaks are allowed in `reason`
/// and `notes`).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({
    "patient_id": "0193a5e4-2222-7000-8000-000000000001",
    "practitioner_id": "01930000-0000-7000-8000-000000000101",
    "location_id": "01930000-0000-7000-8000-000000000001",
    "start": "2026-12-07T10:00:00-05:00",
    "reason": "Chest pain when climbing stairs"
}))]
pub struct BookAppointmentRequest {
    /// Who the appointment is for.
    pub patient_id: Uuid,
    /// Who the appointment is with; must be active.
    pub practitioner_id: Uuid,
    /// Where; one of the practitioner's schedule locations.
    pub location_id: Uuid,
    /// Start of one of the practitioner's slots, RFC 3339.
    #[schema(value_type = String)]
    pub start: DateTime<FixedOffset>,
    /// The conversation the booking came from, if any.
    pub conversation_id: Option<Uuid>,
    /// How the patient asked for it; null for the front desk.
    pub channel: Option<Channel>,
    /// Why the patient comes (free text).
    #[validate(length(max = MAX_REASON))]
    #[schema(
        max_length = 1000,
        pattern = r"^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*(?:[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000](?:[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?)?[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub reason: Option<String>,
    /// Staff notes (free text).
    #[validate(length(max = MAX_NOTES))]
    #[schema(
        max_length = 4000,
        pattern = r"^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*(?:[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000](?:[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?)?[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub notes: Option<String>,
}

/// Reschedule (`start`, optionally `location_id`), change `notes`, or move the
/// status along the FHIR workflow (`arrived`, `fulfilled`, `noshow`, `entered-in-error`).
///
/// Text fields are trimmed of surrounding whitespace before they are checked and stored,
/// and must not contain control characters (tabs and line breaks are allowed in `reason`
/// and `notes`).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"start": "2026-12-09T11:00:00-05:00", "notes": "Patient asked for a later time"}))]
pub struct UpdateAppointmentRequest {
    /// New start (reschedule): one of the practitioner's free slots, RFC 3339.
    #[schema(value_type = Option<String>)]
    pub start: Option<DateTime<FixedOffset>>,
    /// New location, with `start`; default: the current one.
    pub location_id: Option<Uuid>,
    /// Replaces the staff notes.
    #[validate(length(max = MAX_NOTES))]
    #[schema(
        max_length = 4000,
        pattern = r"^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*(?:[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000](?:[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?)?[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub notes: Option<String>,
    /// The next FHIR status: `arrived`, `fulfilled`, `noshow` or `entered-in-error`.
    /// `noshow` schedules the no-show message (sent at once).
    pub status: Option<AppointmentStatus>,
    /// With `status: fulfilled`, or on a fulfilled appointment: the follow-up visit's
    /// date, after the appointment's local date. A follow-up message goes out that day at
    /// `FOLLOW_UP_TIME` (location-local); a new date replaces the earlier one.
    pub follow_up_date: Option<NaiveDate>,
}

/// Why and by whom an appointment is cancelled; the body may be omitted.
///
/// Text fields are trimmed of surrounding whitespace before they are checked and stored,
/// and must not contain control characters (tabs and line breaks are allowed in `reason`
/// and `notes`).
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"reason": "Patient is travelling", "cancelled_by": "patient"}))]
pub struct CancelAppointmentRequest {
    /// Why it is cancelled; kept as `cancellation_reason`.
    #[validate(length(max = MAX_REASON))]
    #[schema(
        max_length = 1000,
        pattern = r"^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*(?:[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000](?:[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?)?[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub reason: Option<String>,
    /// `patient`, `clinic` or `system` (default `clinic`).
    #[schema(pattern = r"^(patient|clinic|system)$")]
    pub cancelled_by: Option<String>,
}

/// An appointment, with times in the location's offset.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AppointmentView {
    /// The appointment's id (UUID v7).
    pub id: Uuid,
    /// FHIR appointment status.
    pub status: AppointmentStatus,
    /// Start, RFC 3339 with the location's offset.
    #[schema(value_type = String, example = "2026-12-07T10:00:00-05:00")]
    pub start: DateTime<FixedOffset>,
    /// End, RFC 3339 with the location's offset.
    #[schema(value_type = String, example = "2026-12-07T10:30:00-05:00")]
    pub end: DateTime<FixedOffset>,
    /// Who the appointment is for.
    pub patient_id: Uuid,
    /// Who it is with.
    pub practitioner_id: Uuid,
    /// Where.
    pub location_id: Uuid,
    /// The conversation it was booked from; null when booked by the front desk.
    pub conversation_id: Option<Uuid>,
    /// How the patient asked for it; null when booked by the front desk.
    pub channel: Option<Channel>,
    /// Why the patient comes; null when not given.
    pub reason: Option<String>,
    /// Staff notes; null when none.
    pub notes: Option<String>,
    /// The reason given when it was cancelled (FHIR `cancellationReason`); null otherwise.
    pub cancellation_reason: Option<String>,
    /// When it was booked (UTC, RFC 3339).
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
    /// The follow-up visit's date (location-local), set when it was marked fulfilled; a
    /// follow-up message goes out that day. Null when none.
    pub follow_up_date: Option<NaiveDate>,
    /// When the patient confirmed it (answering a reminder); null until then.
    #[schema(value_type = Option<String>)]
    pub confirmed_at: Option<DateTime<Utc>>,
}

impl AppointmentView {
    pub fn new(a: Appointment, location: Option<&Location>) -> Self {
        let offset = |t: DateTime<Utc>| match location {
            Some(l) => t.with_timezone(&l.timezone.tz()).fixed_offset(),
            None => t.fixed_offset(),
        };
        Self {
            id: a.id,
            status: a.status,
            start: offset(a.start),
            end: offset(a.end),
            patient_id: a.patient_id,
            practitioner_id: a.practitioner_id,
            location_id: a.location_id,
            conversation_id: a.conversation_id,
            channel: a.channel,
            reason: a.reason,
            notes: a.notes,
            cancellation_reason: a.cancellation_reason,
            created_at: a.created_at,
            follow_up_date: a.follow_up_date,
            confirmed_at: a.confirmed_at,
        }
    }
}

/// The slots as the API shows them, and the WhatsApp message listing them.
pub fn render_slots(
    locale: Locale,
    slots: &[RankedSlot],
    clinic: &Clinic<'_>,
) -> (Vec<SlotView>, String) {
    let rendered = render_offer(locale, slots, clinic);
    let views = slots
        .iter()
        .zip(rendered.texts)
        .enumerate()
        .filter_map(|(i, (slot, text))| {
            let practitioner = clinic
                .practitioners
                .iter()
                .find(|p| p.id == slot.slot.practitioner_id)?;
            let location = clinic
                .locations
                .iter()
                .find(|l| l.id == slot.slot.location_id)?;
            Some(SlotView {
                index: u32::try_from(i + 1).unwrap_or(u32::MAX),
                start: slot.local_start,
                end: slot.local_end,
                practitioner: SlotPractitioner {
                    id: practitioner.id,
                    name: practitioner.name.clone(),
                    specialty: practitioner.specialty.clone(),
                },
                location: SlotLocation {
                    id: location.id,
                    name: location.name.clone(),
                },
                score: slot.score,
                text,
            })
        })
        .collect();
    let message = if slots.is_empty() {
        no_slots_message(locale)
    } else {
        rendered.message
    };
    (views, message)
}
