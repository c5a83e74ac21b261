//! The find-slots benchmark workload, shared with the correctness test in
//! `src/scheduling/search/tests.rs` so the figures in docs/performance.md describe
//! a workload whose result is checked.
//!
//! P practitioners, each Monday–Friday 09:00–17:00 America/Bogota in 30-minute slots,
//! over a 14-day window starting Monday 2026-12-07. Slot `i` of practitioner `p`
//! (counted from 0 in time order over the window) is booked when
//! `(p·7 + i·13) mod 10 < 3`.
//!
//! The includer brings the names used here into scope (`prm_domain::…` from the bench,
//! `crate::…` from the unit tests), hence the glob import.

use super::*;

pub const WINDOW_DAYS: u32 = 14;
pub const SLOTS_PER_DAY: u32 = 16;
pub const WORKING_DAYS: u32 = 10;
pub const DEPARTMENT: &str = "Cardiology";

pub fn is_booked(practitioner: u64, slot: u64) -> bool {
    (practitioner * 7 + slot * 13) % 10 < 3
}

/// Free slots the rule leaves, counted without the search code.
pub fn expected_available(practitioners: u64) -> usize {
    let slots = u64::from(WORKING_DAYS * SLOTS_PER_DAY);
    (0..practitioners)
        .map(|p| (0..slots).filter(|&i| !is_booked(p, i)).count())
        .sum()
}

pub struct Workload {
    pub locations: Vec<Location>,
    pub practitioners: Vec<Practitioner>,
    pub schedules: Vec<PractitionerSchedule>,
    pub busy: Vec<BusyInterval>,
}

pub fn first_day() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap_or_default()
}

fn practitioner_id(p: u64) -> uuid::Uuid {
    uuid::Uuid::from_u128(0x1000_0000 + u128::from(p))
}

impl Workload {
    pub fn new(practitioners: u64) -> Self {
        let location = Location {
            id: uuid::Uuid::from_u128(1),
            name: "Sede Norte".to_owned(),
            timezone: chrono_tz::America::Bogota.into(),
            address: None,
            city: None,
            phone: None,
        };
        let nine = chrono::NaiveTime::MIN + chrono::TimeDelta::hours(9);
        let five_pm = chrono::NaiveTime::MIN + chrono::TimeDelta::hours(17);
        let slot = chrono::TimeDelta::minutes(30);
        // Bogota has no daylight saving: local = UTC - 5 h all year.
        let bogota = chrono::TimeDelta::hours(5);
        let mut practitioner_rows = Vec::new();
        let mut schedules = Vec::new();
        let mut busy = Vec::new();
        for p in 0..practitioners {
            let id = practitioner_id(p);
            practitioner_rows.push(Practitioner {
                id,
                name: format!("Dr. Practitioner {p}"),
                specialty: DEPARTMENT.to_owned(),
                phone: None,
                active: true,
            });
            for day in 0..5u8 {
                let Ok(day_of_week) = Weekday::try_from(day) else {
                    continue;
                };
                schedules.push(PractitionerSchedule {
                    id: uuid::Uuid::from_u128((u128::from(p) << 8) | u128::from(day)),
                    practitioner_id: id,
                    location_id: location.id,
                    day_of_week,
                    start_time: nine,
                    end_time: five_pm,
                    slot_minutes: 30,
                    valid_from: None,
                    valid_to: None,
                });
            }
            // Slots in time order: two weeks of Monday–Friday, 16 a day.
            let mut i = 0u64;
            for week in 0..2u64 {
                for weekday in 0..5u64 {
                    let date = first_day() + chrono::Days::new(week * 7 + weekday);
                    for k in 0..SLOTS_PER_DAY {
                        let local = date.and_time(nine) + slot * k as i32;
                        if is_booked(p, i) {
                            let start = (local + bogota).and_utc();
                            busy.push(BusyInterval {
                                practitioner_id: id,
                                start,
                                end: start + slot,
                            });
                        }
                        i += 1;
                    }
                }
            }
        }
        Self {
            locations: vec![location],
            practitioners: practitioner_rows,
            schedules,
            busy,
        }
    }

    pub fn clinic(&self) -> Clinic<'_> {
        Clinic {
            locations: &self.locations,
            practitioners: &self.practitioners,
            schedules: &self.schedules,
            busy: &self.busy,
        }
    }

    /// A patient wanting Wednesday around 10:00 at the (only) location, asking the day before.
    pub fn query(&self) -> SlotQuery {
        let now = (first_day() - chrono::Days::new(1))
            .and_time(chrono::NaiveTime::MIN + chrono::TimeDelta::hours(12))
            .and_utc();
        let mut query = SlotQuery::new(DEPARTMENT.to_lowercase(), now);
        query.from_date = Some(first_day());
        query.window_days = WINDOW_DAYS;
        query.preferences = SlotPreferences {
            location_id: self.locations.first().map(|l| l.id),
            day_of_week: Weekday::new(2).ok(),
            time_of_day: Some(chrono::NaiveTime::MIN + chrono::TimeDelta::hours(10)),
            practitioner_id: None,
        };
        query
    }
}
