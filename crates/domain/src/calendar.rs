//! The span of dates the suite accepts: years 1 to 9999.
//!
//! JSON parsers accept far more (chrono reads `-5000-01-01` and `+200000-01-01`), but
//! RFC 3339 writes only four-digit years, PostgreSQL's `timestamptz` ends at 4713 BC,
//! and SQLite orders stored times as text, which is right only for four-digit years.
//! Every date or instant that comes in from outside is held to this span, so a wild
//! value is a clear validation error instead of a database failure or a wrong order.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

/// The first day the suite accepts.
pub const FIRST_DAY: NaiveDate = match NaiveDate::from_ymd_opt(1, 1, 1) {
    Some(day) => day,
    None => panic!("0001-01-01 is a date"),
};

/// The last day the suite accepts.
pub const LAST_DAY: NaiveDate = match NaiveDate::from_ymd_opt(9999, 12, 31) {
    Some(day) => day,
    None => panic!("9999-12-31 is a date"),
};

/// A date or instant outside [`FIRST_DAY`]..=[`LAST_DAY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be between {FIRST_DAY} and {LAST_DAY}")]
pub struct OutsideCalendar;

/// `day`, when it lies in the accepted span.
pub fn date(day: NaiveDate) -> Result<NaiveDate, OutsideCalendar> {
    if (FIRST_DAY..=LAST_DAY).contains(&day) {
        Ok(day)
    } else {
        Err(OutsideCalendar)
    }
}

/// `at` in UTC, when its UTC date lies in the accepted span (instants are stored in
/// UTC: `9999-12-31T20:00:00-05:00` is already in year 10000 there).
pub fn instant<Tz: TimeZone>(at: &DateTime<Tz>) -> Result<DateTime<Utc>, OutsideCalendar> {
    let utc = at.with_timezone(&Utc);
    date(utc.date_naive()).map(|_| utc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;

    fn parse(text: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(text)
            .or_else(|_| text.parse())
            .unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn four_digit_years_are_accepted_and_others_refused() {
        for day in [
            FIRST_DAY,
            LAST_DAY,
            NaiveDate::from_ymd_opt(2026, 12, 6).unwrap(),
        ] {
            assert_eq!(date(day), Ok(day));
        }
        for day in [
            FIRST_DAY.pred_opt().unwrap(),
            LAST_DAY.succ_opt().unwrap(),
            NaiveDate::from_ymd_opt(-5000, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(200_000, 1, 1).unwrap(),
        ] {
            assert_eq!(date(day), Err(OutsideCalendar), "{day}");
        }
    }

    #[test]
    fn instants_are_judged_by_their_utc_date() {
        assert!(instant(&parse("9999-12-31T18:59:59-05:00")).is_ok());
        assert_eq!(
            instant(&parse("9999-12-31T20:00:00-05:00")),
            Err(OutsideCalendar)
        );
        assert_eq!(
            instant(&parse("0001-01-01T09:00:00+14:00")),
            Err(OutsideCalendar)
        );
        assert_eq!(
            instant(&parse("-5000-01-01T00:00:00Z")),
            Err(OutsideCalendar)
        );
        assert_eq!(
            instant(&parse("2026-12-07T09:00:00-05:00")).map(|t| t.to_rfc3339()),
            Ok("2026-12-07T14:00:00+00:00".to_owned())
        );
    }

    #[test]
    fn the_message_names_the_span() {
        assert_eq!(
            OutsideCalendar.to_string(),
            "must be between 0001-01-01 and 9999-12-31"
        );
    }
}
