//! Time that tests choose: a [`ManualClock`] for the app (see [`crate::Spawn::at`]) and
//! instants written as a clinic writes them, in its zone.
//!
//! A test that reads the real clock passes or fails by the hour it runs (a round-the-clock
//! schedule ending at 23:30 failed every night between 23:00 and 23:30 in Bogotá). Tests
//! of anything that depends on "now" set it instead, at the instants that used to break:
//! late evening, midnight, a Sunday, a daylight-saving change.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use prm_domain::clock::ManualClock;

/// The demo clinic's zone (UTC−5 all year, no daylight saving).
pub const BOGOTA: Tz = chrono_tz::America::Bogota;
/// A zone with daylight saving (second Sunday of March, first Sunday of November).
pub const NEW_YORK: Tz = chrono_tz::America::New_York;

/// `wall` (`2030-01-07 09:30`) in `zone`. A wall time that does not exist (inside a
/// spring-forward gap) or exists twice fails the test: pick another.
pub fn local(zone: Tz, wall: &str) -> DateTime<Tz> {
    let naive = NaiveDateTime::parse_from_str(wall, "%Y-%m-%d %H:%M")
        .unwrap_or_else(|e| panic!("`{wall}` is not YYYY-MM-DD HH:MM: {e}"));
    zone.from_local_datetime(&naive)
        .single()
        .unwrap_or_else(|| panic!("{wall} is not one instant in {zone}"))
}

/// `wall` in Bogotá, as UTC.
pub fn bogota(wall: &str) -> DateTime<Utc> {
    local(BOGOTA, wall).with_timezone(&Utc)
}

/// `wall` in Bogotá as RFC 3339 with its offset (`2030-01-07T09:30:00-05:00`), as the
/// API writes slot starts.
pub fn bogota_rfc3339(wall: &str) -> String {
    local(BOGOTA, wall).to_rfc3339()
}

/// `date` (`2030-01-07`).
pub fn date(date: &str) -> NaiveDate {
    NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .unwrap_or_else(|e| panic!("`{date}` is not YYYY-MM-DD: {e}"))
}

/// A clock standing at `now` until the test moves it.
pub fn clock_at(now: DateTime<Utc>) -> Arc<ManualClock> {
    Arc::new(ManualClock::new(now))
}

/// The local date of an RFC 3339 instant in the offset it is written with.
pub fn local_date(rfc3339: &str) -> NaiveDate {
    parse(rfc3339).date_naive()
}

/// An RFC 3339 instant with its offset; fails the test when it is not one.
pub fn parse(rfc3339: &str) -> DateTime<chrono::FixedOffset> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap_or_else(|e| panic!("`{rfc3339}` is not RFC 3339: {e}"))
}
