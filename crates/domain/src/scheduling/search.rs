//! The find-slots core: generate, filter, score and keep the best few.
//!
//! Slots are streamed into a bounded heap and never collected for the whole clinic,
//! so memory grows with the number of practitioners and schedules, not with the number
//! of slots they produce.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, Days, FixedOffset, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use uuid::Uuid;

use super::scoring::{Rank, SlotPreferences, score_local, seconds_from_preferred_time};
use super::slots::{BusyInterval, DayPlan, DaySlots, Slot, applies_on, instant};
use super::spread::Shortlist;
use crate::events::Urgency;
use crate::{Location, Practitioner, PractitionerSchedule};

/// Days searched when the caller does not say (ARCHITECTURE §6: "the next 14 days").
pub const DEFAULT_WINDOW_DAYS: u32 = 14;
/// Longest window accepted; bounds the work one request can ask for.
pub const MAX_WINDOW_DAYS: u32 = 366;
/// Offers returned when the caller does not say.
pub const DEFAULT_LIMIT: usize = 5;
/// Most offers returned at once: a WhatsApp list longer than this is unreadable.
pub const MAX_LIMIT: usize = 20;
/// Minimum notice when the caller does not say: nobody can get to the clinic in less.
pub const DEFAULT_MIN_NOTICE: TimeDelta = TimeDelta::minutes(60);

/// Everything the search reads, borrowed from whatever the caller loaded.
///
/// `busy` should hold every active appointment (pending, booked, arrived) of the
/// practitioners concerned; passing them sorted by `(practitioner_id, start)`, as an
/// `ORDER BY` gives them, saves the search a sort.
#[derive(Debug, Clone, Copy)]
pub struct Clinic<'a> {
    pub locations: &'a [Location],
    pub practitioners: &'a [Practitioner],
    pub schedules: &'a [PractitionerSchedule],
    pub busy: &'a [BusyInterval],
}

/// Identifies a slot across requests: a practitioner cannot be in two places at once,
/// so practitioner and start are enough.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct SlotKey {
    pub practitioner_id: Uuid,
    pub start: DateTime<Utc>,
}

/// A find-slots request, with the clock injected so results are reproducible.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotQuery {
    /// Matched against practitioners' specialty, trimmed and case-insensitively.
    pub department: String,
    pub preferences: SlotPreferences,
    /// How many offers to return, capped at [`MAX_LIMIT`]; `0` only counts.
    pub limit: usize,
    /// The current instant. The search never reads the system clock.
    pub now: DateTime<Utc>,
    /// First local date of the window at every location; `None` means today there.
    pub from_date: Option<NaiveDate>,
    /// Length of the window in local days, capped at [`MAX_WINDOW_DAYS`]. The
    /// sooner-is-better boost is 14 − days from the window's first day whatever this is.
    pub window_days: u32,
    /// No slot starts before `now + min_notice` (negative values count as zero).
    pub min_notice: TimeDelta,
    /// Slots not to offer again, e.g. those the patient just turned down.
    pub exclude: Vec<SlotKey>,
    /// `Routine` (the default) ranks by score and spreads the offer over practitioners
    /// and days ([`spread`](super::spread)); `Urgent` offers the soonest slots, score and
    /// preferred time only breaking ties (ARCHITECTURE §8). Emergencies are never booked
    /// by the bot, so nobody searches for them; if one is, it is treated as urgent.
    pub urgency: Urgency,
}

impl SlotQuery {
    /// A query with the documented defaults: 5 offers, 14 days from today, 60 minutes'
    /// notice, routine urgency.
    pub fn new(department: impl Into<String>, now: DateTime<Utc>) -> Self {
        Self {
            department: department.into(),
            preferences: SlotPreferences::default(),
            limit: DEFAULT_LIMIT,
            now,
            from_date: None,
            window_days: DEFAULT_WINDOW_DAYS,
            min_notice: DEFAULT_MIN_NOTICE,
            exclude: Vec::new(),
            urgency: Urgency::Routine,
        }
    }
}

/// A slot as offered to the patient, with its score and its local times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RankedSlot {
    pub slot: Slot,
    pub score: u32,
    /// Start with the location's UTC offset: what the patient is told and what
    /// selection parsing compares against.
    pub local_start: DateTime<FixedOffset>,
    pub local_end: DateTime<FixedOffset>,
}

impl RankedSlot {
    pub fn key(&self) -> SlotKey {
        SlotKey {
            practitioner_id: self.slot.practitioner_id,
            start: self.slot.start,
        }
    }

    /// The wall-clock start at the location, as [`parse_selection`](super::parse_selection) expects.
    pub fn local_wall_clock(&self) -> NaiveDateTime {
        self.local_start.naive_local()
    }
}

/// The result of a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotOffer {
    /// Best first; at most `limit`.
    pub slots: Vec<RankedSlot>,
    /// Every free slot in the window for the practitioners searched (excluded ones
    /// included): tells "fully booked" apart from "you have seen them all".
    pub available: usize,
    /// True when nobody of the department practises at the preferred location, so the
    /// search covered the department's other locations.
    pub location_fallback: bool,
}

/// Finds the best slots for a department (ARCHITECTURE §6).
///
/// Practitioners must be active and have the department as specialty. With a preferred
/// location, only its schedules are searched, and the search falls back to every
/// location only when nobody of the department practises there (no schedule there on
/// any day of the window).
/// When they do but are fully booked, the offer is empty: the patient asked for that
/// location, and the caller can ask again without the preference.
pub fn find_slots(clinic: &Clinic<'_>, query: &SlotQuery) -> SlotOffer {
    let limit = query.limit.min(MAX_LIMIT);
    match query.preferences.location_id {
        Some(location_id) if department_practises_at(clinic, query, location_id) => {
            ranked(clinic, query, Some(location_id), limit)
        }
        Some(_) => SlotOffer {
            location_fallback: true,
            ..ranked(clinic, query, None, limit)
        },
        None => ranked(clinic, query, None, limit),
    }
}

/// Does an active practitioner of the department work at `location_id` on some day of
/// the search window (the window's local dates there: `from_date`, or today at the
/// location, and the `window_days` after it), honouring the schedules' weekdays and
/// validity dates? A schedule that ended before the window or starts after it does not
/// count: nobody can be booked there in this search.
fn department_practises_at(clinic: &Clinic<'_>, query: &SlotQuery, location_id: Uuid) -> bool {
    let Some(location) = clinic.locations.iter().find(|l| l.id == location_id) else {
        return false;
    };
    let first = window_first_day(location, query);
    let days: Vec<NaiveDate> = (0..query.window_days.min(MAX_WINDOW_DAYS))
        .map_while(|k| first.checked_add_days(Days::new(u64::from(k))))
        .collect();
    let eligible = eligible_practitioners(clinic, query);
    clinic.schedules.iter().any(|schedule| {
        schedule.location_id == location_id
            && eligible.contains(&schedule.practitioner_id)
            && days
                .iter()
                .any(|&date| applies_on(schedule, date, date.weekday()))
    })
}

/// First local date of the search window at a location.
fn window_first_day(location: &Location, query: &SlotQuery) -> NaiveDate {
    query.from_date.unwrap_or_else(|| {
        query
            .now
            .with_timezone(&location.timezone.tz())
            .date_naive()
    })
}

/// Active practitioners whose specialty is the query's department.
fn eligible_practitioners(clinic: &Clinic<'_>, query: &SlotQuery) -> HashSet<Uuid> {
    clinic
        .practitioners
        .iter()
        .filter(|p| p.active && p.practises(&query.department))
        .map(|p| p.id)
        .collect()
}

fn ranked(
    clinic: &Clinic<'_>,
    query: &SlotQuery,
    only_at: Option<Uuid>,
    limit: usize,
) -> SlotOffer {
    let mut shortlist = Shortlist::new(limit, query.urgency == Urgency::Routine);
    let mut available = 0;
    visit_free_slots(clinic, query, only_at, &mut |candidate| {
        available += 1;
        if !candidate.excluded {
            shortlist.offer(candidate);
        }
    });
    let slots = shortlist
        .pick()
        .into_iter()
        .filter_map(|c| {
            let slot = c.slot()?;
            Some(RankedSlot {
                slot,
                score: c.score,
                local_start: slot.start.with_timezone(&c.tz).fixed_offset(),
                local_end: slot.end.with_timezone(&c.tz).fixed_offset(),
            })
        })
        .collect();
    SlotOffer {
        slots,
        available,
        location_fallback: false,
    }
}

/// A free slot on its way to the offer. Times are Unix seconds: the hot loop never
/// builds a calendar date.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate {
    pub rank: Rank,
    pub schedule_id: Uuid,
    pub end: i64,
    pub score: u32,
    pub excluded: bool,
    pub tz: Tz,
    /// The local date at the slot's location: offers are spread over practitioner-days.
    pub date: NaiveDate,
}

impl Candidate {
    pub(crate) fn slot(&self) -> Option<Slot> {
        Some(Slot {
            practitioner_id: self.rank.practitioner_id,
            location_id: self.rank.location_id,
            schedule_id: self.schedule_id,
            start: instant(self.rank.start)?,
            end: instant(self.end)?,
        })
    }
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.rank == other.rank
    }
}
impl Eq for Candidate {}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank.cmp(&other.rank)
    }
}

/// The search window at one location: one plan per local day.
#[derive(Debug)]
struct LocationWindow {
    tz: Tz,
    days: Vec<DayPlan>,
}

impl LocationWindow {
    fn new(location: &Location, query: &SlotQuery, window_days: u32) -> Self {
        let tz = location.timezone.tz();
        let first = window_first_day(location, query);
        let days = (0..window_days)
            .map_while(|k| first.checked_add_days(Days::new(u64::from(k))))
            .map(|date| DayPlan::new(tz, date))
            // Days at the very edge of chrono's calendar cannot hold an instant; skip them.
            .filter(|plan| {
                instant(plan.midnight - 2 * 86_400).is_some()
                    && instant(plan.midnight + 3 * 86_400).is_some()
            })
            .collect();
        Self { tz, days }
    }
}

/// Whole seconds at or after `t`: a slot (whole seconds) starts at or after `t` exactly
/// when it starts at or after this.
fn seconds_ceil(t: DateTime<Utc>) -> i64 {
    t.timestamp() + i64::from(t.timestamp_subsec_nanos() > 0)
}

/// Calls `visit` once for every free slot in the window, practitioner by practitioner,
/// each practitioner's slots in start order with duplicate starts removed.
pub(crate) fn visit_free_slots(
    clinic: &Clinic<'_>,
    query: &SlotQuery,
    only_at: Option<Uuid>,
    visit: &mut impl FnMut(&Candidate),
) {
    let Some(earliest) = query
        .now
        .checked_add_signed(query.min_notice.max(TimeDelta::zero()))
        .map(seconds_ceil)
    else {
        return;
    };
    let window_days = query.window_days.min(MAX_WINDOW_DAYS);
    let eligible = eligible_practitioners(clinic, query);
    if eligible.is_empty() {
        return;
    }

    // Each location's window is computed once; schedules then refer to it by position.
    let mut windows: Vec<LocationWindow> = Vec::new();
    let mut window_of: HashMap<Uuid, usize> = HashMap::new();
    let mut schedules: Vec<(&PractitionerSchedule, usize)> = Vec::new();
    for schedule in clinic.schedules {
        if !eligible.contains(&schedule.practitioner_id)
            || only_at.is_some_and(|id| id != schedule.location_id)
        {
            continue;
        }
        let window = match window_of.get(&schedule.location_id) {
            Some(&index) => index,
            None => {
                let Some(location) = clinic
                    .locations
                    .iter()
                    .find(|l| l.id == schedule.location_id)
                else {
                    // A schedule at an unknown location has no time zone: nothing can be offered.
                    continue;
                };
                windows.push(LocationWindow::new(location, query, window_days));
                window_of.insert(location.id, windows.len() - 1);
                windows.len() - 1
            }
        };
        schedules.push((schedule, window));
    }
    // Group by practitioner; within a day, earlier schedules first so slots come out sorted.
    schedules.sort_unstable_by_key(|(s, _)| (s.practitioner_id, s.start_time, s.location_id, s.id));

    let busy = BusyIndex::new(clinic.busy);
    let mut exclude: Vec<(Uuid, i64)> = query
        .exclude
        .iter()
        .filter(|k| k.start.timestamp_subsec_nanos() == 0)
        .map(|k| (k.practitioner_id, k.start.timestamp()))
        .collect();
    exclude.sort_unstable();
    let mut buffer: Vec<Candidate> = Vec::new();
    let urgent = query.urgency != Urgency::Routine;

    for group in schedules.chunk_by(|(a, _), (b, _)| a.practitioner_id == b.practitioner_id) {
        let Some(practitioner_id) = group.first().map(|(s, _)| s.practitioner_id) else {
            continue;
        };
        let mut busy = BusyCursor::new(busy.of(practitioner_id));
        // Common case: one location and no two schedules sharing working time. Slots then
        // come out strictly in time order and go straight to `visit`; otherwise they are
        // buffered for this practitioner, sorted and de-duplicated first.
        let streaming = starts_strictly_increase(group);
        buffer.clear();
        for day_index in 0..window_days {
            for &(schedule, window) in group {
                let Some(window) = windows.get(window) else {
                    continue;
                };
                let Some(&plan) = window.days.get(day_index as usize) else {
                    continue;
                };
                if !applies_on(schedule, plan.date, plan.weekday) {
                    continue;
                }
                for generated in DaySlots::new(schedule, plan, window.tz) {
                    if generated.start < earliest || busy.overlaps(generated.start, generated.end) {
                        continue;
                    }
                    let score = score_local(
                        &query.preferences,
                        practitioner_id,
                        schedule.location_id,
                        plan.weekday,
                        generated.second_of_day,
                        day_index,
                    );
                    let candidate = Candidate {
                        rank: Rank::new(
                            urgent,
                            score,
                            seconds_from_preferred_time(
                                &query.preferences,
                                generated.second_of_day,
                            ),
                            generated.start,
                            practitioner_id,
                            schedule.location_id,
                        ),
                        schedule_id: schedule.id,
                        end: generated.end,
                        score,
                        excluded: !exclude.is_empty()
                            && exclude
                                .binary_search(&(practitioner_id, generated.start))
                                .is_ok(),
                        tz: window.tz,
                        date: plan.date,
                    };
                    if streaming {
                        visit(&candidate);
                    } else {
                        buffer.push(candidate);
                    }
                }
            }
        }
        if !streaming {
            // Keep the best-ranked copy of each start.
            buffer
                .sort_unstable_by(|a, b| a.rank.start.cmp(&b.rank.start).then(a.rank.cmp(&b.rank)));
            buffer.dedup_by_key(|c| c.rank.start);
            buffer.iter().for_each(&mut *visit);
        }
    }
}

/// Whether a practitioner's schedules produce slots in strictly increasing order when
/// visited day by day in `group` order (sorted by start time): all at one location, and
/// no two on the same weekday sharing working time. Distinct wall-clock starts then map
/// to distinct, increasing instants, even on daylight-saving days.
fn starts_strictly_increase(group: &[(&PractitionerSchedule, usize)]) -> bool {
    const MAX_PAIRWISE: usize = 32;
    let Some(&(_, window)) = group.first() else {
        return true;
    };
    group.len() <= MAX_PAIRWISE
        && group.iter().all(|&(_, w)| w == window)
        && group.iter().enumerate().all(|(i, (a, _))| {
            group.iter().skip(i + 1).all(|(b, _)| {
                a.day_of_week != b.day_of_week
                    || a.end_time <= b.start_time
                    || b.end_time <= a.start_time
            })
        })
}

/// Walks one practitioner's busy intervals alongside slots that mostly arrive in time
/// order, so each check is usually O(1); it re-seeks when a slot goes back in time.
struct BusyCursor<'a> {
    busy: &'a [(Uuid, i64, i64)],
    next: usize,
    last_start: i64,
}

impl<'a> BusyCursor<'a> {
    fn new(busy: &'a [(Uuid, i64, i64)]) -> Self {
        Self {
            busy,
            next: 0,
            last_start: i64::MIN,
        }
    }

    /// `busy` is disjoint and sorted, so its ends are sorted too: the first interval
    /// ending after `start` is the only one that can overlap.
    fn overlaps(&mut self, start: i64, end: i64) -> bool {
        if start < self.last_start {
            self.next = self.busy.partition_point(|b| b.2 <= start);
        } else {
            while self.busy.get(self.next).is_some_and(|b| b.2 <= start) {
                self.next += 1;
            }
        }
        self.last_start = start;
        self.busy.get(self.next).is_some_and(|b| b.1 < end)
    }
}

/// Busy time per practitioner, merged into disjoint intervals sorted by start so one
/// binary search answers "does this slot overlap anything?". Times are Unix seconds,
/// rounded outwards so sub-second edges still block.
struct BusyIndex {
    intervals: Vec<(Uuid, i64, i64)>,
}

impl BusyIndex {
    fn new(busy: &[BusyInterval]) -> Self {
        let mut intervals: Vec<(Uuid, i64, i64)> = busy
            .iter()
            .filter(|b| b.start < b.end)
            .map(|b| (b.practitioner_id, b.start.timestamp(), seconds_ceil(b.end)))
            .collect();
        if !intervals.is_sorted_by_key(|&(p, start, _)| (p, start)) {
            intervals.sort_unstable_by_key(|&(p, start, _)| (p, start));
        }
        // Merge in place: `kept` is the last interval written.
        let mut kept = 0;
        for i in 1..intervals.len() {
            let next = intervals[i];
            let last = &mut intervals[kept];
            if last.0 == next.0 && next.1 <= last.2 {
                last.2 = last.2.max(next.2);
            } else {
                kept += 1;
                intervals[kept] = next;
            }
        }
        intervals.truncate(if intervals.is_empty() { 0 } else { kept + 1 });
        Self { intervals }
    }

    fn of(&self, practitioner_id: Uuid) -> &[(Uuid, i64, i64)] {
        let from = self.intervals.partition_point(|b| b.0 < practitioner_id);
        let rest = &self.intervals[from..];
        let len = rest.partition_point(|b| b.0 == practitioner_id);
        &rest[..len]
    }
}

#[cfg(test)]
mod tests;
