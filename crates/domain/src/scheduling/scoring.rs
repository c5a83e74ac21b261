//! How well a slot fits what the patient asked for (ARCHITECTURE §6).
//!
//! The weights are part of the product contract: clinics tune their expectations
//! ("why was Tuesday offered first?") against them, so they live in one place.

use std::cmp::Reverse;

use chrono::{Datelike, NaiveDateTime, NaiveTime, Timelike};
use uuid::Uuid;

use crate::Weekday;

/// Bonus when the slot falls on the preferred day of the week.
pub const PREFERRED_DAY_POINTS: u32 = 100;
/// Bonus when the slot starts within one hour of the preferred time.
pub const TIME_WITHIN_1H_POINTS: u32 = 50;
/// Bonus when the slot starts within two hours (but not one) of the preferred time.
pub const TIME_WITHIN_2H_POINTS: u32 = 25;
/// Bonus for the preferred location.
pub const PREFERRED_LOCATION_POINTS: u32 = 30;
/// Bonus for the preferred practitioner.
pub const PREFERRED_PRACTITIONER_POINTS: u32 = 40;
/// Base of the sooner-is-better boost: a slot on the window's first local day gets this
/// many points, one fewer per day after, never below zero. Fixed at 14 by ARCHITECTURE §6
/// whatever the window's length (`SLOT_SEARCH_WINDOW_DAYS`), so a score means the same
/// thing in every clinic.
pub const SOONER_BOOST_DAYS: u32 = 14;

/// What the patient told us they would like. Every field is optional: an empty
/// preference ranks purely by how soon the slot is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SlotPreferences {
    pub location_id: Option<Uuid>,
    /// Compared with the slot's weekday in the location's local time.
    pub day_of_week: Option<Weekday>,
    /// Compared with the slot's local wall-clock start.
    pub time_of_day: Option<NaiveTime>,
    pub practitioner_id: Option<Uuid>,
}

/// The score of a slot.
///
/// `local_start` is the wall-clock start at the slot's location and `days_from_window_start`
/// counts local dates from the first day of the search window, so "Monday 10:00" means
/// the same thing to the patient and to the score. The sooner-is-better boost is
/// `14 - days_from_window_start` ([`SOONER_BOOST_DAYS`]), never negative.
pub fn score_slot(
    preferences: &SlotPreferences,
    practitioner_id: Uuid,
    location_id: Uuid,
    local_start: NaiveDateTime,
    days_from_window_start: u32,
) -> u32 {
    score_local(
        preferences,
        practitioner_id,
        location_id,
        local_start.weekday(),
        i64::from(local_start.num_seconds_from_midnight()),
        days_from_window_start,
    )
}

/// [`score_slot`] on the pieces the search loop already has, without building a date.
pub(crate) fn score_local(
    preferences: &SlotPreferences,
    practitioner_id: Uuid,
    location_id: Uuid,
    weekday: chrono::Weekday,
    second_of_day: i64,
    days_from_window_start: u32,
) -> u32 {
    let mut score = SOONER_BOOST_DAYS.saturating_sub(days_from_window_start);
    if preferences
        .day_of_week
        .is_some_and(|day| day.to_chrono() == weekday)
    {
        score += PREFERRED_DAY_POINTS;
    }
    if let Some(distance) = seconds_from_preferred_time(preferences, second_of_day) {
        if distance <= 3600 {
            score += TIME_WITHIN_1H_POINTS;
        } else if distance <= 7200 {
            score += TIME_WITHIN_2H_POINTS;
        }
    }
    if preferences.location_id == Some(location_id) {
        score += PREFERRED_LOCATION_POINTS;
    }
    if preferences.practitioner_id == Some(practitioner_id) {
        score += PREFERRED_PRACTITIONER_POINTS;
    }
    score
}

/// How far, in seconds, the slot's local start is from the preferred time of day; `None`
/// without a time preference. Clock distance within the day: a clinic's "around 8 am"
/// never means 11 pm the day before.
pub(crate) fn seconds_from_preferred_time(
    preferences: &SlotPreferences,
    second_of_day: i64,
) -> Option<i64> {
    let preferred = preferences.time_of_day?;
    Some((second_of_day - i64::from(preferred.num_seconds_from_midnight())).abs())
}

/// Total order of offers; `Ord` puts better ranks first (smaller).
///
/// Routine searches: higher score first; among equal scores the start closest to the
/// preferred time of day, then the earlier start. Urgent ones (ARCHITECTURE §8: "`urgent`
/// weighs the soonest slots first"): the earlier start first, and only then the score and
/// the closeness to the preferred time. Practitioner and location ids break what is
/// left, so equal slots always come out in the same order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Rank {
    /// The start for urgent searches, 0 for routine ones.
    soonest: i64,
    score: Reverse<u32>,
    /// Seconds between the local start and the preferred time of day (0 without one).
    from_preferred_time: i64,
    /// UTC start as a Unix timestamp.
    pub start: i64,
    pub practitioner_id: Uuid,
    pub location_id: Uuid,
}

impl Rank {
    pub(crate) fn new(
        urgent: bool,
        score: u32,
        from_preferred_time: Option<i64>,
        start: i64,
        practitioner_id: Uuid,
        location_id: Uuid,
    ) -> Self {
        Self {
            soonest: if urgent { start } else { 0 },
            score: Reverse(score),
            from_preferred_time: from_preferred_time.unwrap_or(0),
            start,
            practitioner_id,
            location_id,
        }
    }

    pub(crate) fn score(&self) -> u32 {
        self.score.0
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
    }

    fn time(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn each_preference_adds_its_weight() {
        let practitioner = Uuid::from_u128(1);
        let location = Uuid::from_u128(2);
        // 2026-12-09 is a Wednesday (weekday 2).
        let slot = at(2026, 12, 9, 10, 0);
        let none = SlotPreferences::default();
        let cases: [(&str, SlotPreferences, u32); 9] = [
            ("nothing", none, 0),
            (
                "day",
                SlotPreferences {
                    day_of_week: Some(Weekday::new(2).unwrap()),
                    ..none
                },
                100,
            ),
            (
                "other day",
                SlotPreferences {
                    day_of_week: Some(Weekday::new(3).unwrap()),
                    ..none
                },
                0,
            ),
            (
                "time exact",
                SlotPreferences {
                    time_of_day: Some(time(10, 0)),
                    ..none
                },
                50,
            ),
            (
                "time 1h",
                SlotPreferences {
                    time_of_day: Some(time(11, 0)),
                    ..none
                },
                50,
            ),
            (
                "time 61m",
                SlotPreferences {
                    time_of_day: Some(time(8, 59)),
                    ..none
                },
                25,
            ),
            (
                "time 2h",
                SlotPreferences {
                    time_of_day: Some(time(12, 0)),
                    ..none
                },
                25,
            ),
            (
                "time 2h01",
                SlotPreferences {
                    time_of_day: Some(time(12, 1)),
                    ..none
                },
                0,
            ),
            (
                "all",
                SlotPreferences {
                    location_id: Some(location),
                    day_of_week: Some(Weekday::new(2).unwrap()),
                    time_of_day: Some(time(9, 30)),
                    practitioner_id: Some(practitioner),
                },
                100 + 50 + 30 + 40,
            ),
        ];
        for (name, prefs, bonus) in cases {
            // Slot on the window's third day: proximity 14 - 2 = 12.
            assert_eq!(
                score_slot(&prefs, practitioner, location, slot, 2),
                bonus + 12,
                "{name}"
            );
        }
        let others = SlotPreferences {
            location_id: Some(Uuid::from_u128(9)),
            practitioner_id: Some(Uuid::from_u128(9)),
            ..none
        };
        assert_eq!(score_slot(&others, practitioner, location, slot, 2), 12);
    }

    #[test]
    fn sooner_dates_get_a_small_boost_that_never_goes_negative() {
        let id = Uuid::nil();
        let slot = at(2026, 12, 7, 9, 0);
        let prefs = SlotPreferences::default();
        assert_eq!(score_slot(&prefs, id, id, slot, 0), 14);
        assert_eq!(score_slot(&prefs, id, id, slot, 13), 1);
        // 14 whatever the window's length: day 14 and later of a 30-day window get nothing.
        assert_eq!(score_slot(&prefs, id, id, slot, 14), 0);
        assert_eq!(score_slot(&prefs, id, id, slot, 40), 0);
    }

    #[test]
    fn ties_go_to_the_closest_to_the_preferred_time_then_the_earlier_start_then_ids() {
        let t = |h| at(2026, 12, 7, h, 0).and_utc().timestamp();
        let a = Uuid::from_u128(1);
        let b = Uuid::from_u128(2);
        let routine = |score, distance, start, p, l| Rank::new(false, score, distance, start, p, l);
        assert!(routine(10, None, t(12), b, b) < routine(9, None, t(9), a, a));
        assert!(routine(10, None, t(9), b, b) < routine(10, None, t(10), a, a));
        assert!(routine(10, None, t(9), a, b) < routine(10, None, t(9), b, a));
        assert!(routine(10, None, t(9), a, a) < routine(10, None, t(9), a, b));
        assert_eq!(routine(10, None, t(9), a, a), routine(10, None, t(9), a, a));
        // Preferred 10:00: 11:00 (1 h away) beats 08:00 (2 h away) at equal scores…
        assert!(routine(10, Some(3600), t(11), a, a) < routine(10, Some(7200), t(8), a, a));
        // …and 09:00 beats 11:00 (both 1 h away) by starting earlier; a score still wins.
        assert!(routine(10, Some(3600), t(9), b, b) < routine(10, Some(3600), t(11), a, a));
        assert!(routine(11, Some(7200), t(12), a, a) < routine(10, Some(0), t(10), a, a));
    }

    #[test]
    fn urgent_ranks_go_to_the_soonest_start_then_the_score() {
        let t = |h| at(2026, 12, 7, h, 0).and_utc().timestamp();
        let a = Uuid::from_u128(1);
        let b = Uuid::from_u128(2);
        let urgent = |score, distance, start, p| Rank::new(true, score, distance, start, p, a);
        assert!(urgent(0, Some(7200), t(8), b) < urgent(200, Some(0), t(9), a));
        assert!(urgent(50, Some(3600), t(8), b) < urgent(10, Some(0), t(8), a));
        assert!(urgent(50, Some(0), t(8), b) < urgent(50, Some(60), t(8), a));
        assert!(urgent(50, Some(0), t(8), a) < urgent(50, Some(0), t(8), b));
    }

    #[test]
    fn distance_to_the_preferred_time_is_within_the_day() {
        let prefs = SlotPreferences {
            time_of_day: Some(time(10, 0)),
            ..SlotPreferences::default()
        };
        assert_eq!(seconds_from_preferred_time(&prefs, 10 * 3600), Some(0));
        assert_eq!(
            seconds_from_preferred_time(&prefs, 9 * 3600 + 1800),
            Some(1800)
        );
        assert_eq!(
            seconds_from_preferred_time(&prefs, 23 * 3600),
            Some(13 * 3600)
        );
        assert_eq!(
            seconds_from_preferred_time(&SlotPreferences::default(), 3600),
            None
        );
    }
}
