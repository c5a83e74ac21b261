//! The clinic's resources, shaped as in ARCHITECTURE §5 "Resource shapes".
//!
//! Times are stored in UTC (`DateTime<Utc>`); the API renders them with the
//! location's offset. Local wall-clock times (`NaiveTime`) belong to schedules.

use std::{fmt, str::FromStr};

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{PhoneNumber, TimeZone};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// A clinic site. Its time zone decides what "Monday 09:00" means for its schedules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "id": "01930000-0000-7000-8000-000000000001", "name": "Sede Norte", "timezone": "America/Bogota",
    "address": "Calle 127 # 15-20", "city": "Bogotá", "phone": "+5716012345"
})))]
pub struct Location {
    /// The location's id (set by the server).
    pub id: Uuid,
    /// Display name, as patients see it in offers.
    #[cfg_attr(feature = "openapi", schema(example = "Sede Norte"))]
    pub name: String,
    pub timezone: TimeZone,
    /// Street address; null when not given.
    pub address: Option<String>,
    /// City; null when not given.
    pub city: Option<String>,
    /// Phone number in E.164; null when not given.
    pub phone: Option<PhoneNumber>,
}

/// A practitioner patients can be booked with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "id": "01930000-0000-7000-8000-000000000101", "name": "Dr. Ana Gómez", "specialty": "Cardiology",
    "phone": "+573001112233", "active": true
})))]
pub struct Practitioner {
    /// The practitioner's id (set by the server).
    pub id: Uuid,
    /// Display name, as patients see it in offers.
    #[cfg_attr(feature = "openapi", schema(example = "Dr. Ana Gómez"))]
    pub name: String,
    /// The department patients are triaged to (compared case- and accent-insensitively).
    #[cfg_attr(feature = "openapi", schema(example = "Cardiology"))]
    pub specialty: String,
    /// Phone number in E.164; null when not given.
    pub phone: Option<PhoneNumber>,
    /// False once deactivated: no new bookings.
    pub active: bool,
}

impl Practitioner {
    /// Whether this practitioner's specialty is `department` (see [`specialty_key`]).
    pub fn practises(&self, department: &str) -> bool {
        specialty_chars(&self.specialty).eq(specialty_chars(department))
    }
}

/// The form in which specialties and departments are compared: trimmed, Unicode NFC
/// (so a composed "í" equals "i" + combining acute) and lower-cased with Unicode rules
/// ("PEDIATRÍA", " Pediatría " and "pediatría" share one key). The store keeps this key
/// beside the specialty and searches by it, because SQLite's `lower()` only knows ASCII.
/// Changing it needs a migration that recomputes the stored keys.
pub fn specialty_key(specialty: &str) -> String {
    specialty_chars(specialty).collect()
}

fn specialty_chars(text: &str) -> impl Iterator<Item = char> + '_ {
    use unicode_normalization::UnicodeNormalization;
    text.trim().nfc().flat_map(char::to_lowercase)
}

/// Day of the week, `0` = Monday … `6` = Sunday (ISO order, zero-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Weekday(u8);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("day of week must be 0 (Monday) to 6 (Sunday), got {0}")]
pub struct WeekdayError(pub i64);

impl Weekday {
    pub fn new(day: i64) -> Result<Self, WeekdayError> {
        u8::try_from(day)
            .ok()
            .filter(|d| *d <= 6)
            .map(Self)
            .ok_or(WeekdayError(day))
    }

    pub fn number(self) -> u8 {
        self.0
    }

    pub fn to_chrono(self) -> chrono::Weekday {
        // chrono counts from Monday = 0 as well.
        match self.0 {
            0 => chrono::Weekday::Mon,
            1 => chrono::Weekday::Tue,
            2 => chrono::Weekday::Wed,
            3 => chrono::Weekday::Thu,
            4 => chrono::Weekday::Fri,
            5 => chrono::Weekday::Sat,
            _ => chrono::Weekday::Sun,
        }
    }
}

impl From<chrono::Weekday> for Weekday {
    fn from(day: chrono::Weekday) -> Self {
        Self(day.num_days_from_monday() as u8)
    }
}

impl TryFrom<u8> for Weekday {
    type Error = WeekdayError;
    fn try_from(day: u8) -> Result<Self, Self::Error> {
        Self::new(i64::from(day))
    }
}

impl From<Weekday> for u8 {
    fn from(day: Weekday) -> u8 {
        day.0
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Weekday {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Integer)
            .minimum(Some(0))
            .maximum(Some(6))
            .description(Some("Day of week: 0 = Monday … 6 = Sunday"))
            .examples([serde_json::json!(0)])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Weekday {}

/// `HH:MM` wall-clock time, as schedules are written by clinics.
pub mod hhmm {
    use chrono::NaiveTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.format("%H:%M").to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        let raw = String::deserialize(d)?;
        parse(&raw).map_err(serde::de::Error::custom)
    }

    /// Parses `HH:MM` (24-hour). Seconds are not part of a schedule.
    pub fn parse(raw: &str) -> Result<NaiveTime, String> {
        NaiveTime::parse_from_str(raw, "%H:%M")
            .map_err(|_| format!("`{raw}` is not a time of day in HH:MM (24-hour) form"))
    }
}

/// A practitioner's recurring weekly working hours at one location.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "id": "01930000-0000-7000-8001-000000000101", "practitioner_id": "01930000-0000-7000-8000-000000000101",
    "location_id": "01930000-0000-7000-8000-000000000001", "day_of_week": 0, "start_time": "08:00",
    "end_time": "12:00", "slot_minutes": 30, "valid_from": "2026-12-01", "valid_to": null
})))]
pub struct PractitionerSchedule {
    /// The schedule's id (set by the server).
    pub id: Uuid,
    /// Whose schedule it is.
    pub practitioner_id: Uuid,
    /// Where the practitioner works these hours.
    pub location_id: Uuid,
    pub day_of_week: Weekday,
    /// First slot's start, `HH:MM` local time at the location.
    #[serde(with = "hhmm")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "09:00"))]
    pub start_time: NaiveTime,
    /// End of the last slot, `HH:MM` local time at the location (after `start_time`).
    #[serde(with = "hhmm")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "17:00"))]
    pub end_time: NaiveTime,
    /// Length of each slot, in minutes.
    #[cfg_attr(feature = "openapi", schema(example = 30))]
    pub slot_minutes: u32,
    /// First day the schedule applies (inclusive); null: no start date.
    pub valid_from: Option<NaiveDate>,
    /// Last day the schedule applies (inclusive); null: no end.
    pub valid_to: Option<NaiveDate>,
}

/// Why a schedule is not acceptable; each names the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("end_time must be after start_time")]
    EndBeforeStart,
    #[error("slot_minutes must be between 5 and 480")]
    SlotLengthOutOfRange,
    #[error("slot_minutes must divide the working period ({period} minutes) exactly")]
    SlotLengthDoesNotDivide { period: u32 },
    #[error("valid_to must not be before valid_from")]
    ValidityReversed,
    #[error("valid_from {0}")]
    ValidFromOutsideCalendar(crate::calendar::OutsideCalendar),
    #[error("valid_to {0}")]
    ValidToOutsideCalendar(crate::calendar::OutsideCalendar),
}

impl ScheduleError {
    /// The request field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            Self::EndBeforeStart => "end_time",
            Self::SlotLengthOutOfRange | Self::SlotLengthDoesNotDivide { .. } => "slot_minutes",
            Self::ValidFromOutsideCalendar(_) => "valid_from",
            Self::ValidityReversed | Self::ValidToOutsideCalendar(_) => "valid_to",
        }
    }
}

impl PractitionerSchedule {
    pub const MIN_SLOT_MINUTES: u32 = 5;
    pub const MAX_SLOT_MINUTES: u32 = 480;

    /// Checks the rules a schedule must satisfy on its own.
    pub fn validate(
        start: NaiveTime,
        end: NaiveTime,
        slot_minutes: u32,
        valid_from: Option<NaiveDate>,
        valid_to: Option<NaiveDate>,
    ) -> Result<(), ScheduleError> {
        if end <= start {
            return Err(ScheduleError::EndBeforeStart);
        }
        if !(Self::MIN_SLOT_MINUTES..=Self::MAX_SLOT_MINUTES).contains(&slot_minutes) {
            return Err(ScheduleError::SlotLengthOutOfRange);
        }
        let period = (end - start).num_minutes() as u32;
        if !period.is_multiple_of(slot_minutes) {
            return Err(ScheduleError::SlotLengthDoesNotDivide { period });
        }
        if let Some(from) = valid_from {
            crate::calendar::date(from).map_err(ScheduleError::ValidFromOutsideCalendar)?;
        }
        if let Some(to) = valid_to {
            crate::calendar::date(to).map_err(ScheduleError::ValidToOutsideCalendar)?;
        }
        if let (Some(from), Some(to)) = (valid_from, valid_to)
            && to < from
        {
            return Err(ScheduleError::ValidityReversed);
        }
        Ok(())
    }

    /// True when both schedules could produce working time at the same moment:
    /// same weekday, intersecting hours and intersecting validity periods.
    pub fn overlaps(&self, other: &Self) -> bool {
        self.day_of_week == other.day_of_week
            && self.start_time < other.end_time
            && other.start_time < self.end_time
            && validity_intersects(
                (self.valid_from, self.valid_to),
                (other.valid_from, other.valid_to),
            )
    }
}

fn validity_intersects(
    a: (Option<NaiveDate>, Option<NaiveDate>),
    b: (Option<NaiveDate>, Option<NaiveDate>),
) -> bool {
    let starts_before_end = |from: Option<NaiveDate>, to: Option<NaiveDate>| match (from, to) {
        (Some(f), Some(t)) => f <= t,
        _ => true,
    };
    starts_before_end(a.0, b.1) && starts_before_end(b.0, a.1)
}

/// The language the patient is talked to in: `es` or `en`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    Es,
    En,
}

impl Locale {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Es => "es",
            Self::En => "en",
        }
    }
}

impl FromStr for Locale {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "es" => Ok(Self::Es),
            "en" => Ok(Self::En),
            other => Err(format!("unsupported locale `{other}` (es or en)")),
        }
    }
}

/// A patient of the clinic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "id": "0193a5e4-2222-7000-8000-000000000001", "name": "María Pérez", "phone": "+573001234567",
    "birth_date": "1988-04-12", "locale": "es"
})))]
pub struct Patient {
    /// The patient's id (set by the server).
    pub id: Uuid,
    /// Full name.
    #[cfg_attr(feature = "openapi", schema(example = "María Pérez"))]
    pub name: String,
    pub phone: PhoneNumber,
    /// Date of birth (`YYYY-MM-DD`); null when not known.
    pub birth_date: Option<NaiveDate>,
    /// Language to talk to the patient in; null: the clinic default.
    pub locale: Option<Locale>,
}

/// FHIR `Appointment.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum AppointmentStatus {
    Proposed,
    Pending,
    Booked,
    Arrived,
    Fulfilled,
    Cancelled,
    Noshow,
    EnteredInError,
}

impl AppointmentStatus {
    pub const ALL: [Self; 8] = [
        Self::Proposed,
        Self::Pending,
        Self::Booked,
        Self::Arrived,
        Self::Fulfilled,
        Self::Cancelled,
        Self::Noshow,
        Self::EnteredInError,
    ];

    /// Statuses that hold the practitioner's time: no other appointment may overlap them.
    pub const ACTIVE: [Self; 3] = [Self::Pending, Self::Booked, Self::Arrived];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Proposed => "proposed",
            Self::Pending => "pending",
            Self::Booked => "booked",
            Self::Arrived => "arrived",
            Self::Fulfilled => "fulfilled",
            Self::Cancelled => "cancelled",
            Self::Noshow => "noshow",
            Self::EnteredInError => "entered-in-error",
        }
    }

    pub fn is_active(self) -> bool {
        Self::ACTIVE.contains(&self)
    }

    /// The FHIR workflow: proposed → pending → booked → arrived → fulfilled, with
    /// cancellation before arrival, no-show after booking, and entered-in-error from anywhere
    /// not already final-by-error. Terminal states go nowhere.
    /// Whether the appointment may move to another time: not once the patient has
    /// arrived, nor after it ended or was cancelled.
    pub fn can_be_rescheduled(self) -> bool {
        use AppointmentStatus::*;
        matches!(self, Proposed | Pending | Booked)
    }

    pub fn can_become(self, next: Self) -> bool {
        use AppointmentStatus::*;
        match (self, next) {
            (_, EnteredInError) => self != EnteredInError,
            (Proposed, Pending | Booked | Cancelled) => true,
            (Pending, Booked | Cancelled) => true,
            (Booked, Arrived | Cancelled | Noshow) => true,
            (Arrived, Fulfilled) => true,
            _ => false,
        }
    }
}

impl fmt::Display for AppointmentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AppointmentStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown appointment status `{s}`"))
    }
}

/// How a patient reaches the clinic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Whatsapp,
    Sms,
    Email,
    Phone,
    Webchat,
}

impl Channel {
    pub const ALL: [Self; 5] = [
        Self::Whatsapp,
        Self::Sms,
        Self::Email,
        Self::Phone,
        Self::Webchat,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Whatsapp => "whatsapp",
            Self::Sms => "sms",
            Self::Email => "email",
            Self::Phone => "phone",
            Self::Webchat => "webchat",
        }
    }
}

impl FromStr for Channel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown channel `{s}`"))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Appointment {
    pub id: Uuid,
    pub status: AppointmentStatus,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub patient_id: Uuid,
    pub practitioner_id: Uuid,
    pub location_id: Uuid,
    pub conversation_id: Option<Uuid>,
    pub channel: Option<Channel>,
    pub reason: Option<String>,
    pub notes: Option<String>,
    /// Why it was cancelled (FHIR `Appointment.cancellationReason`), once it is.
    #[serde(default)]
    pub cancellation_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The follow-up visit's date (location-local), set when the appointment is marked
    /// fulfilled; a follow-up message goes out on it.
    #[serde(default)]
    pub follow_up_date: Option<NaiveDate>,
    /// When the patient confirmed it (a reminder's "1", or BOOKING_ACTION `confirm`).
    #[serde(default)]
    pub confirmed_at: Option<DateTime<Utc>>,
}

/// A media attachment as the provider reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Media {
    /// Where the provider serves the file (may need the provider's credentials).
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 2000,
            pattern = r"^https?://([A-Za-z0-9-]+\.)*[A-Za-z][A-Za-z0-9-]*(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?([/?#][\u0021-\u007E]*)?$"
        )
    )]
    pub url: String,
    /// MIME type as the provider reported it, e.g. `image/jpeg`.
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 100, pattern = r"^[\u0021-\u007E]+$")
    )]
    pub content_type: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn weekday_accepts_only_0_to_6() {
        assert_eq!(Weekday::new(0).unwrap().to_chrono(), chrono::Weekday::Mon);
        assert_eq!(Weekday::new(6).unwrap().to_chrono(), chrono::Weekday::Sun);
        assert!(Weekday::new(7).is_err());
        assert!(Weekday::new(-1).is_err());
        assert!(serde_json::from_str::<Weekday>("7").is_err());
        assert_eq!(Weekday::from(chrono::Weekday::Wed).number(), 2);
    }

    #[test]
    fn schedule_validation_names_the_problem() {
        assert_eq!(
            PractitionerSchedule::validate(t(9, 0), t(17, 0), 30, None, None),
            Ok(())
        );
        assert_eq!(
            PractitionerSchedule::validate(t(17, 0), t(9, 0), 30, None, None),
            Err(ScheduleError::EndBeforeStart)
        );
        assert_eq!(
            PractitionerSchedule::validate(t(9, 0), t(9, 0), 30, None, None),
            Err(ScheduleError::EndBeforeStart)
        );
        assert_eq!(
            PractitionerSchedule::validate(t(9, 0), t(17, 0), 0, None, None)
                .unwrap_err()
                .field(),
            "slot_minutes"
        );
        assert_eq!(
            PractitionerSchedule::validate(t(9, 0), t(10, 0), 25, None, None),
            Err(ScheduleError::SlotLengthDoesNotDivide { period: 60 })
        );
        let d = |day| NaiveDate::from_ymd_opt(2027, 1, day).unwrap();
        assert_eq!(
            PractitionerSchedule::validate(t(9, 0), t(10, 0), 30, Some(d(5)), Some(d(4))),
            Err(ScheduleError::ValidityReversed)
        );
        let ancient = NaiveDate::from_ymd_opt(-5000, 1, 1);
        let error =
            PractitionerSchedule::validate(t(9, 0), t(10, 0), 30, ancient, None).unwrap_err();
        assert_eq!(error.field(), "valid_from");
        assert_eq!(
            error.to_string(),
            "valid_from must be between 0001-01-01 and 9999-12-31"
        );
        let far = NaiveDate::from_ymd_opt(200_000, 1, 1);
        assert_eq!(
            PractitionerSchedule::validate(t(9, 0), t(10, 0), 30, Some(d(4)), far)
                .unwrap_err()
                .field(),
            "valid_to"
        );
    }

    #[test]
    fn schedules_overlap_only_on_shared_day_hours_and_validity() {
        let base = PractitionerSchedule {
            id: Uuid::nil(),
            practitioner_id: Uuid::nil(),
            location_id: Uuid::nil(),
            day_of_week: Weekday::new(0).unwrap(),
            start_time: t(9, 0),
            end_time: t(12, 0),
            slot_minutes: 30,
            valid_from: None,
            valid_to: None,
        };
        let other = |day, s, e, from, to| PractitionerSchedule {
            day_of_week: Weekday::new(day).unwrap(),
            start_time: s,
            end_time: e,
            valid_from: from,
            valid_to: to,
            ..base.clone()
        };
        let d = |m, day| NaiveDate::from_ymd_opt(2027, m, day);
        assert!(base.overlaps(&other(0, t(11, 0), t(13, 0), None, None)));
        assert!(
            !base.overlaps(&other(0, t(12, 0), t(13, 0), None, None)),
            "touching is fine"
        );
        assert!(!base.overlaps(&other(1, t(9, 0), t(12, 0), None, None)));
        let first_half = other(0, t(9, 0), t(12, 0), d(1, 1), d(6, 30));
        assert!(!first_half.overlaps(&other(0, t(9, 0), t(12, 0), d(7, 1), None)));
        assert!(first_half.overlaps(&other(0, t(9, 0), t(12, 0), d(6, 30), None)));
        assert!(first_half.overlaps(&base));
    }

    #[test]
    fn appointment_status_follows_fhir_workflow() {
        use AppointmentStatus::*;
        assert!(Booked.can_become(Cancelled));
        assert!(Pending.can_become(Booked));
        assert!(Booked.can_become(Arrived));
        assert!(Arrived.can_become(Fulfilled));
        assert!(!Cancelled.can_become(Cancelled), "cancelling twice");
        assert!(!Cancelled.can_become(Booked));
        assert!(!Fulfilled.can_become(Cancelled));
        assert!(!Arrived.can_become(Cancelled));
        assert!(Booked.can_become(EnteredInError));
        assert!(!EnteredInError.can_become(EnteredInError));
        assert!(Booked.can_be_rescheduled() && Pending.can_be_rescheduled());
        assert!(!Arrived.can_be_rescheduled(), "the patient is already here");
        assert!(!Cancelled.can_be_rescheduled() && !Fulfilled.can_be_rescheduled());
        assert_eq!(
            serde_json::to_string(&EnteredInError).unwrap(),
            "\"entered-in-error\""
        );
        for st in AppointmentStatus::ALL {
            assert_eq!(st.as_str().parse::<AppointmentStatus>(), Ok(st));
        }
        assert!(Booked.is_active() && Pending.is_active() && Arrived.is_active());
        assert!(!Cancelled.is_active() && !Proposed.is_active());
    }
}
