//! An appointment booked, cancelled or moved (appointments).

use super::*;

/// `APPOINTMENT_CREATED.data` (ARCHITECTURE §5, field for field).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AppointmentCreated {
    pub appointment_id: Uuid,
    pub status: AppointmentStatus,
    /// RFC 3339 with the location's offset, e.g. `2026-11-23T10:00:00-05:00`.
    pub start: DateTime<FixedOffset>,
    pub end: DateTime<FixedOffset>,
    pub patient: PatientRef,
    pub practitioner: PractitionerRef,
    pub location: LocationRef,
    /// Null when the appointment was booked outside a conversation (front desk).
    pub conversation_id: Option<Uuid>,
    /// The channel the patient booked through; null when booked by the front desk.
    pub channel: Option<Channel>,
}

/// `APPOINTMENT_CANCELLED.data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AppointmentCancelled {
    pub appointment_id: Uuid,
    /// Always `cancelled`.
    pub status: AppointmentStatus,
    /// The cancelled slot, RFC 3339 with the location's offset.
    pub start: DateTime<FixedOffset>,
    pub end: DateTime<FixedOffset>,
    pub reason: Option<String>,
    pub cancelled_at: DateTime<Utc>,
    /// `patient`, `clinic` or `system`.
    #[cfg_attr(feature = "openapi", schema(example = "patient"))]
    pub cancelled_by: String,
    pub patient: PatientRef,
    pub practitioner: PractitionerRef,
    pub location: LocationRef,
    pub conversation_id: Option<Uuid>,
    pub channel: Option<Channel>,
}

/// `APPOINTMENT_RESCHEDULED.data`: the same appointment at a new time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AppointmentRescheduled {
    pub appointment_id: Uuid,
    pub status: AppointmentStatus,
    pub previous_start: DateTime<FixedOffset>,
    pub previous_end: DateTime<FixedOffset>,
    pub start: DateTime<FixedOffset>,
    pub end: DateTime<FixedOffset>,
    pub reason: Option<String>,
    pub rescheduled_at: DateTime<Utc>,
    pub patient: PatientRef,
    pub practitioner: PractitionerRef,
    /// The location of the new slot.
    pub location: LocationRef,
    pub conversation_id: Option<Uuid>,
    pub channel: Option<Channel>,
}
