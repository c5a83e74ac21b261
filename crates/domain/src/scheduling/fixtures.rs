//! Builders shared by the scheduling tests.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone as _, Utc};
use chrono_tz::Tz;
use uuid::Uuid;

use crate::{Location, Practitioner, PractitionerSchedule, Weekday};

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub fn time(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

pub fn local(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
    date(y, mo, d).and_time(time(h, mi))
}

pub fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

pub fn location(id: u128, name: &str, tz: Tz) -> Location {
    Location {
        id: Uuid::from_u128(id),
        name: name.to_owned(),
        timezone: tz.into(),
        address: None,
        city: None,
        phone: None,
    }
}

pub fn practitioner(id: u128, name: &str, specialty: &str) -> Practitioner {
    Practitioner {
        id: Uuid::from_u128(id),
        name: name.to_owned(),
        specialty: specialty.to_owned(),
        phone: None,
        active: true,
    }
}

/// `day`: 0 = Monday … 6 = Sunday.
pub fn schedule(
    practitioner: &Practitioner,
    location: &Location,
    day: i64,
    start: NaiveTime,
    end: NaiveTime,
    slot_minutes: u32,
) -> PractitionerSchedule {
    PractitionerSchedule {
        id: Uuid::new_v4(),
        practitioner_id: practitioner.id,
        location_id: location.id,
        day_of_week: Weekday::new(day).unwrap(),
        start_time: start,
        end_time: end,
        slot_minutes,
        valid_from: None,
        valid_to: None,
    }
}

/// Every weekday Monday–Friday with the same hours.
pub fn weekdays(
    practitioner: &Practitioner,
    location: &Location,
    start: NaiveTime,
    end: NaiveTime,
    slot_minutes: u32,
) -> Vec<PractitionerSchedule> {
    (0..5)
        .map(|day| schedule(practitioner, location, day, start, end, slot_minutes))
        .collect()
}
