//! Turning weekly schedules into concrete, bookable instants.
//!
//! Schedules are written in the location's wall-clock time; appointments are stored
//! in UTC. Every conversion between the two happens here so that daylight-saving
//! rules are applied in exactly one place.

use chrono::{
    DateTime, Datelike, FixedOffset, LocalResult, NaiveDate, NaiveTime, Offset, TimeDelta,
    TimeZone as _, Timelike, Utc,
};
use chrono_tz::Tz;
use uuid::Uuid;

use crate::{Appointment, Location, PractitionerSchedule};

/// One bookable period of one practitioner at one location.
///
/// `end - start` is always the schedule's slot length in real elapsed time, even on
/// daylight-saving days, so a slot never silently grows or shrinks by an hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Slot {
    pub practitioner_id: Uuid,
    pub location_id: Uuid,
    /// The schedule row that produced the slot (useful for audit and explanations).
    pub schedule_id: Uuid,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// Time a practitioner cannot be offered, whatever the location.
///
/// The caller builds these from active appointments (see [`BusyInterval::from_appointment`]);
/// keeping it a plain interval lets blocked time (holidays, meetings) reuse it later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BusyInterval {
    pub practitioner_id: Uuid,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl BusyInterval {
    /// The interval an appointment blocks, or `None` when its status no longer holds
    /// the practitioner's time (cancelled, fulfilled, no-show…).
    pub fn from_appointment(appointment: &Appointment) -> Option<Self> {
        appointment.status.is_active().then_some(Self {
            practitioner_id: appointment.practitioner_id,
            start: appointment.start,
            end: appointment.end,
        })
    }

    /// Half-open overlap: back-to-back appointments do not collide.
    pub fn overlaps(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
        self.start < end && start < self.end
    }
}

/// One local day at one location, with what slot generation needs precomputed.
///
/// Slot arithmetic runs on plain seconds: on an ordinary day a slot's UTC start is its
/// wall-clock start minus a fixed offset, with no calendar or time-zone work per slot.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DayPlan {
    pub date: NaiveDate,
    pub weekday: chrono::Weekday,
    /// Local midnight as if it were UTC (seconds): wall-clock arithmetic without a zone.
    pub midnight: i64,
    /// Seconds east of UTC when one offset holds all day; `None` on transition days.
    pub offset: Option<i64>,
}

impl DayPlan {
    pub(crate) fn new(tz: Tz, date: NaiveDate) -> Self {
        Self {
            date,
            weekday: date.weekday(),
            midnight: date.and_time(NaiveTime::MIN).and_utc().timestamp(),
            offset: uniform_offset(tz, date).map(|o| i64::from(o.local_minus_utc())),
        }
    }
}

/// A slot as generated for one schedule on one local date, before any filtering.
/// All fields are seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DaySlot {
    /// Wall-clock start as seconds after local midnight: what the patient reads.
    pub second_of_day: i64,
    /// UTC instants as Unix timestamps.
    pub start: i64,
    pub end: i64,
}

/// The UTC offset in force for the whole local `date`, when a single one is.
///
/// Lets the slot loop convert with plain arithmetic on ordinary days and pay for a
/// full time-zone lookup only on the few days with a transition. Probing the start,
/// middle and end of the day is enough because no zone changes its offset twice in
/// one day and back again; a test checks this against the full lookup for the zones
/// clinics use.
pub(crate) fn uniform_offset(tz: Tz, date: NaiveDate) -> Option<FixedOffset> {
    let day_start = date.and_time(NaiveTime::MIN);
    let next_day_start = date.succ_opt()?.and_time(NaiveTime::MIN);
    let first = tz.from_local_datetime(&day_start).single()?;
    let last = tz.from_local_datetime(&next_day_start).single()?;
    let offset = first.offset().fix();
    if last.offset().fix() != offset {
        return None;
    }
    let midday = first.naive_utc().checked_add_signed(TimeDelta::hours(12))?;
    (tz.offset_from_utc_datetime(&midday).fix() == offset).then_some(offset)
}

/// Whether the schedule is in force on `date` (validity bounds are inclusive).
#[cfg(test)]
pub(crate) fn schedule_applies(schedule: &PractitionerSchedule, date: NaiveDate) -> bool {
    applies_on(schedule, date, date.weekday())
}

/// [`schedule_applies`] with the weekday already known (it is per day, not per schedule).
pub(crate) fn applies_on(
    schedule: &PractitionerSchedule,
    date: NaiveDate,
    weekday: chrono::Weekday,
) -> bool {
    schedule.day_of_week.to_chrono() == weekday
        && schedule.valid_from.is_none_or(|from| from <= date)
        && schedule.valid_to.is_none_or(|to| date <= to)
}

/// The slots one schedule produces on one local date, in time order.
///
/// A wall-clock start that does not exist (spring-forward gap) is skipped; an
/// ambiguous one (fall-back) is produced once, at its earlier instant. A slot whose
/// start would fall inside the previous slot (only possible when a long slot
/// straddles a gap) is skipped too, so one schedule never double-books itself.
/// Nothing else moves: every other slot keeps its wall-clock start.
#[derive(Debug, Clone)]
pub(crate) struct DaySlots {
    tz: Tz,
    plan: DayPlan,
    next_second: Option<i64>,
    end_second: i64,
    step: i64,
    previous_end: Option<i64>,
}

impl DaySlots {
    pub(crate) fn new(schedule: &PractitionerSchedule, plan: DayPlan, tz: Tz) -> Self {
        let step = i64::from(schedule.slot_minutes) * 60;
        Self {
            tz,
            plan,
            // A zero-length slot would never advance; such a schedule simply produces nothing.
            next_second: (step > 0)
                .then(|| i64::from(schedule.start_time.num_seconds_from_midnight())),
            end_second: i64::from(schedule.end_time.num_seconds_from_midnight()),
            step,
            previous_end: None,
        }
    }

    /// Full time-zone lookup for a transition day.
    fn utc_start(&self, second_of_day: i64) -> Option<i64> {
        let time =
            NaiveTime::from_num_seconds_from_midnight_opt(u32::try_from(second_of_day).ok()?, 0)?;
        match self.tz.from_local_datetime(&self.plan.date.and_time(time)) {
            LocalResult::Single(t) => Some(t.timestamp()),
            LocalResult::Ambiguous(earlier, _) => Some(earlier.timestamp()),
            LocalResult::None => None,
        }
    }
}

impl Iterator for DaySlots {
    type Item = DaySlot;

    fn next(&mut self) -> Option<DaySlot> {
        loop {
            let second_of_day = self.next_second?;
            let next = second_of_day + self.step;
            if next > self.end_second {
                self.next_second = None;
                return None;
            }
            self.next_second = Some(next);
            let start = match self.plan.offset {
                Some(offset) => self.plan.midnight + second_of_day - offset,
                None => match self.utc_start(second_of_day) {
                    Some(start) => start,
                    None => continue,
                },
            };
            let end = start + self.step;
            if self.previous_end.is_some_and(|previous| start < previous) {
                continue;
            }
            self.previous_end = Some(end);
            return Some(DaySlot {
                second_of_day,
                start,
                end,
            });
        }
    }
}

/// Seconds to an instant; `None` beyond chrono's calendar (only for absurd dates).
pub(crate) fn instant(seconds: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(seconds, 0)
}

/// The schedule slot of `practitioner_id` at `location` that starts exactly at `start`.
///
/// Front-desk bookings name only a start; this finds the slot (and so its end) the
/// practitioner's schedules define there, or `None` when the start is off-schedule.
/// Busy time and minimum notice are deliberately ignored: the caller checks those
/// separately so it can give each its own error.
pub fn schedule_slot_at(
    schedules: &[PractitionerSchedule],
    location: &Location,
    practitioner_id: Uuid,
    start: DateTime<Utc>,
) -> Option<Slot> {
    if start.timestamp_subsec_nanos() != 0 {
        return None;
    }
    let tz = location.timezone.tz();
    let plan = DayPlan::new(tz, start.with_timezone(&tz).date_naive());
    let wanted = start.timestamp();
    schedules
        .iter()
        .filter(|s| s.practitioner_id == practitioner_id && s.location_id == location.id)
        .filter(|s| applies_on(s, plan.date, plan.weekday))
        .find_map(|schedule| {
            let slot = DaySlots::new(schedule, plan, tz)
                .take_while(|slot| slot.start <= wanted)
                .find(|slot| slot.start == wanted)?;
            Some(Slot {
                practitioner_id,
                location_id: location.id,
                schedule_id: schedule.id,
                start,
                end: instant(slot.end)?,
            })
        })
}

/// Whether `[start, end)` is exactly one slot of the practitioner's schedules at `location`,
/// so the service can refuse bookings outside working hours or off the slot grid.
pub fn is_schedule_slot(
    schedules: &[PractitionerSchedule],
    location: &Location,
    practitioner_id: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> bool {
    schedule_slot_at(schedules, location, practitioner_id, start).is_some_and(|s| s.end == end)
}

#[cfg(test)]
mod tests;
