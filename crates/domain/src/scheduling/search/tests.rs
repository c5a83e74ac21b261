use chrono::{Datelike, NaiveTime, TimeZone as _, Timelike};
use chrono_tz::{America, Australia, Europe, Tz, UTC};
use proptest::prelude::*;

use super::*;
use crate::events::Urgency;
use crate::scheduling::fixtures::{date, location, practitioner, schedule, time, utc, weekdays};
use crate::{Weekday, scheduling::scoring};

/// A free slot as the search visited it.
#[derive(Debug, Clone, Copy)]
struct Free {
    slot: Slot,
    score: u32,
}

/// Every free slot the search sees (without ranking), in visiting order.
fn all_free(clinic: &Clinic<'_>, query: &SlotQuery) -> Vec<Free> {
    let mut all = Vec::new();
    visit_free_slots(clinic, query, None, &mut |c| {
        all.push(Free {
            slot: c.slot().unwrap(),
            score: c.score,
        })
    });
    all
}

struct Setup {
    locations: Vec<Location>,
    practitioners: Vec<Practitioner>,
    schedules: Vec<PractitionerSchedule>,
    busy: Vec<BusyInterval>,
}

impl Setup {
    fn clinic(&self) -> Clinic<'_> {
        Clinic {
            locations: &self.locations,
            practitioners: &self.practitioners,
            schedules: &self.schedules,
            busy: &self.busy,
        }
    }
}

/// Two Bogota sites; Ana (cardiology) at Norte, Luis (cardiology) at Sur, Eva (dermatology)
/// at Norte, Raúl (cardiology, inactive) at Norte. Weekdays 09:00–12:00, 30-minute slots.
fn bogota_clinic() -> Setup {
    let norte = location(10, "Sede Norte", America::Bogota);
    let sur = location(20, "Sede Sur", America::Bogota);
    let ana = practitioner(1, "Dr. Ana Gómez", "Cardiology");
    let luis = practitioner(2, "Dr. Luis Pérez", " cardiology ");
    let eva = practitioner(3, "Dr. Eva Ruiz", "Dermatology");
    let mut raul = practitioner(4, "Dr. Raúl Díaz", "Cardiology");
    raul.active = false;
    let mut schedules = weekdays(&ana, &norte, time(9, 0), time(12, 0), 30);
    schedules.extend(weekdays(&luis, &sur, time(9, 0), time(12, 0), 30));
    schedules.extend(weekdays(&eva, &norte, time(9, 0), time(12, 0), 30));
    schedules.extend(weekdays(&raul, &norte, time(9, 0), time(12, 0), 30));
    Setup {
        locations: vec![norte, sur],
        practitioners: vec![ana, luis, eva, raul],
        schedules,
        busy: Vec::new(),
    }
}

/// Sunday 2026-12-06 12:00 UTC: the window starts on Monday 2026-12-07.
fn monday_query(department: &str) -> SlotQuery {
    let mut query = SlotQuery::new(department, utc(2026, 12, 6, 12, 0));
    query.from_date = Some(date(2026, 12, 7));
    query
}

fn ids(offer: &SlotOffer) -> Vec<(u128, DateTime<Utc>)> {
    offer
        .slots
        .iter()
        .map(|s| (s.slot.practitioner_id.as_u128(), s.slot.start))
        .collect()
}

#[test]
fn only_active_practitioners_of_the_department_are_searched() {
    let setup = bogota_clinic();
    let cases: [(&str, &[u128]); 6] = [
        ("Cardiology", &[1, 2]),
        ("  CARDIOLOGY", &[1, 2]),
        ("cardiology ", &[1, 2]),
        ("dermatology", &[3]),
        ("Cardio", &[]),
        ("", &[]),
    ];
    for (department, expected) in cases {
        let mut query = monday_query(department);
        query.limit = MAX_LIMIT;
        let found: std::collections::BTreeSet<u128> = all_free(&setup.clinic(), &query)
            .iter()
            .map(|c| c.slot.practitioner_id.as_u128())
            .collect();
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            expected,
            "{department:?}"
        );
    }
}

#[test]
fn specialty_comparison_ignores_case_beyond_ascii() {
    let pediatra = practitioner(9, "Dra. Rojas", " Pediatría ");
    for department in [
        "PEDIATRÍA",
        "pediatría",
        " Pediatría ",
        "pedi\u{0061}tri\u{0301}a",
    ] {
        assert!(pediatra.practises(department), "{department:?}");
    }
    assert!(!pediatra.practises("Pediatria"), "accents are not dropped");
    assert!(!pediatra.practises("Pediatrics"));
    assert_eq!(crate::specialty_key(" PEDIATRÍA "), "pediatría");
    assert_eq!(
        crate::specialty_key("Pediatri\u{0301}a"),
        crate::specialty_key("Pediatría"),
        "decomposed and composed accents share a key"
    );
    let mut clinic = bogota_clinic();
    clinic.practitioners.push(pediatra.clone());
    let norte = clinic.locations[0].clone();
    clinic
        .schedules
        .extend(weekdays(&pediatra, &norte, time(9, 0), time(10, 0), 30));
    let offer = find_slots(&clinic.clinic(), &monday_query("PEDIATRÍA"));
    assert_eq!(offer.available, 20, "2 slots × 10 weekdays");
}

#[test]
fn default_search_ranks_by_proximity_then_start() {
    let setup = bogota_clinic();
    let offer = find_slots(&setup.clinic(), &monday_query("cardiology"));
    // No preferences: Monday gets the biggest sooner boost (14); Ana and Luis both start
    // at 09:00 Bogota (14:00 UTC); ties go to the earlier start, then the lower id. Two
    // offers each on Monday, then Tuesday 09:00 (13, one point less) rather than Ana's
    // third Monday slot.
    assert_eq!(
        ids(&offer),
        vec![
            (1, utc(2026, 12, 7, 14, 0)),
            (2, utc(2026, 12, 7, 14, 0)),
            (1, utc(2026, 12, 7, 14, 30)),
            (2, utc(2026, 12, 7, 14, 30)),
            (1, utc(2026, 12, 8, 14, 0)),
        ]
    );
    let scores: Vec<u32> = offer.slots.iter().map(|s| s.score).collect();
    assert_eq!(scores, [14, 14, 14, 14, 13]);
    // 2 practitioners × 10 working days × 6 slots.
    assert_eq!(offer.available, 120);
    assert!(!offer.location_fallback);
    let first = offer.slots[0];
    assert_eq!(first.local_start.to_rfc3339(), "2026-12-07T09:00:00-05:00");
    assert_eq!(first.local_end.to_rfc3339(), "2026-12-07T09:30:00-05:00");
    assert_eq!(first.slot.end - first.slot.start, TimeDelta::minutes(30));
}

#[test]
fn preferences_reorder_the_offer() {
    let setup = bogota_clinic();
    let mut query = monday_query("cardiology");
    query.preferences = SlotPreferences {
        location_id: None,
        day_of_week: Some(Weekday::new(2).unwrap()),
        time_of_day: Some(time(11, 0)),
        practitioner_id: Some(Uuid::from_u128(2)),
    };
    let offer = find_slots(&setup.clinic(), &query);
    // Luis on Wednesday Dec 9 (day index 2 → +12): 100 + 40 + 12, plus +50 for 10:00 to
    // 11:30 (within 1 h of 11:00); among those, 11:00 itself first, then 10:30 and 11:30
    // (half an hour away, the earlier first). After two on Dec 9, Wednesday Dec 16
    // (day index 9 → +5, 7 points less) is nearly as good; its 11:00 and 10:30 come in
    // before Dec 9's 10:00. Dec 9's 11:30 still makes the list: by then both Wednesdays
    // hold two offers, and the best other slot (Ana's, without the +40) is 40 points less.
    let expected = [
        (2, utc(2026, 12, 9, 16, 0), 100 + 40 + 12 + 50),
        (2, utc(2026, 12, 9, 15, 30), 100 + 40 + 12 + 50),
        (2, utc(2026, 12, 9, 16, 30), 100 + 40 + 12 + 50),
        (2, utc(2026, 12, 16, 16, 0), 100 + 40 + 5 + 50),
        (2, utc(2026, 12, 16, 15, 30), 100 + 40 + 5 + 50),
    ];
    let got: Vec<_> = offer
        .slots
        .iter()
        .map(|s| (s.slot.practitioner_id.as_u128(), s.slot.start, s.score))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn preferred_location_restricts_and_falls_back_when_nothing_there() {
    let mut setup = bogota_clinic();
    let norte = setup.locations[0].id;
    let sur = setup.locations[1].id;
    let third = location(30, "Sede Centro", America::Bogota);
    setup.locations.push(third.clone());

    let mut query = monday_query("cardiology");
    query.limit = MAX_LIMIT;
    query.preferences.location_id = Some(sur);
    let offer = find_slots(&setup.clinic(), &query);
    assert!(!offer.location_fallback);
    assert_eq!(offer.slots.len(), MAX_LIMIT);
    assert!(offer.slots.iter().all(|s| s.slot.location_id == sur));
    assert!(
        offer
            .slots
            .iter()
            .all(|s| s.score >= scoring::PREFERRED_LOCATION_POINTS)
    );
    assert_eq!(offer.available, 60, "Luis only");

    // Nobody from cardiology works at Centro: the whole department is searched.
    query.preferences.location_id = Some(third.id);
    let offer = find_slots(&setup.clinic(), &query);
    assert!(offer.location_fallback);
    let sites: std::collections::BTreeSet<_> =
        offer.slots.iter().map(|s| s.slot.location_id).collect();
    assert_eq!(sites.into_iter().collect::<Vec<_>>(), vec![norte, sur]);

    // Luis fully booked at Sur for the whole window: he still practises there, so no
    // fallback (ARCHITECTURE §6: only when nobody matches there) and nothing to offer.
    setup.busy.push(BusyInterval {
        practitioner_id: Uuid::from_u128(2),
        start: utc(2026, 12, 1, 0, 0),
        end: utc(2027, 1, 1, 0, 0),
    });
    query.preferences.location_id = Some(sur);
    let offer = find_slots(&setup.clinic(), &query);
    assert!(!offer.location_fallback);
    assert!(offer.slots.is_empty());
    assert_eq!(offer.available, 0);
}

#[test]
fn a_schedule_that_has_ended_does_not_count_as_practising_there() {
    let mut setup = bogota_clinic();
    let norte = setup.locations[0].id;
    let sur = setup.locations[1].id;
    let mut query = monday_query("cardiology");
    query.preferences.location_id = Some(sur);
    for schedule in setup.schedules.iter_mut().filter(|s| s.location_id == sur) {
        schedule.valid_to = Some(query.now.date_naive() - chrono::Days::new(1));
    }
    let offer = find_slots(&setup.clinic(), &query);
    assert!(offer.location_fallback);
    assert!(!offer.slots.is_empty());
    assert!(offer.slots.iter().all(|s| s.slot.location_id == norte));
}

/// Whether the department practises at the preferred location is decided over the search
/// window (from `from_date`, in the location's local dates), not today's UTC date.
#[test]
fn practising_at_the_preferred_location_is_judged_over_the_search_window() {
    let sur = Uuid::from_u128(20);
    let fallback = |edit: &dyn Fn(&mut PractitionerSchedule), query: &SlotQuery| {
        let mut setup = bogota_clinic();
        setup
            .schedules
            .iter_mut()
            .filter(|s| s.location_id == sur)
            .for_each(edit);
        let offer = find_slots(&setup.clinic(), query);
        if !offer.location_fallback {
            assert!(offer.slots.iter().all(|s| s.slot.location_id == sur));
        }
        offer.location_fallback
    };
    // Asked on Sunday Dec 6 for the window from Monday Dec 21 (two weeks).
    let mut later = monday_query("cardiology");
    later.from_date = Some(date(2026, 12, 21));
    later.preferences.location_id = Some(sur);
    type Edit = Box<dyn Fn(&mut PractitionerSchedule)>;
    let cases: [(&str, Edit, bool); 6] = [
        ("valid throughout", Box::new(|_| {}), false),
        (
            "ends before the window, though after today",
            Box::new(|s| s.valid_to = Some(date(2026, 12, 18))),
            true,
        ),
        (
            "ends on the window's first day (a Monday)",
            Box::new(|s| s.valid_to = Some(date(2026, 12, 21))),
            false,
        ),
        (
            "starts on the window's last day (Sunday Jan 3): no weekday left",
            Box::new(|s| s.valid_from = Some(date(2027, 1, 3))),
            true,
        ),
        (
            "starts within the window",
            Box::new(|s| s.valid_from = Some(date(2026, 12, 30))),
            false,
        ),
        (
            "starts after the window",
            Box::new(|s| s.valid_from = Some(date(2027, 1, 4))),
            true,
        ),
    ];
    for (name, edit, expected) in cases {
        assert_eq!(fallback(&*edit, &later), expected, "{name}");
    }

    // A one-day window on a Monday: Sur's Tuesday hours do not count.
    let mut one_day = monday_query("cardiology");
    one_day.window_days = 1;
    one_day.preferences.location_id = Some(sur);
    let tuesday_only = |s: &mut PractitionerSchedule| {
        s.day_of_week = Weekday::new(1).unwrap();
        s.id = Uuid::new_v4();
    };
    let mut setup = bogota_clinic();
    setup
        .schedules
        .retain(|s| s.location_id != sur || s.day_of_week.number() == 0);
    setup
        .schedules
        .iter_mut()
        .filter(|s| s.location_id == sur)
        .for_each(tuesday_only);
    let offer = find_slots(&setup.clinic(), &one_day);
    assert!(offer.location_fallback);
    assert!(!offer.slots.is_empty());
    assert!(offer.slots.iter().all(|s| s.slot.location_id != sur));

    // Late on Monday Dec 7 in Bogotá it is already Tuesday in UTC: a schedule valid
    // until Monday still counts, because the window starts on the location's date.
    let mut late = SlotQuery::new("cardiology", utc(2026, 12, 8, 3, 0));
    late.preferences.location_id = Some(sur);
    late.window_days = 1;
    assert!(!fallback(&|s| s.valid_to = Some(date(2026, 12, 7)), &late));
}

#[test]
fn busy_time_notice_and_window_are_respected() {
    let mut setup = bogota_clinic();
    let ana = Uuid::from_u128(1);
    // Ana is busy Monday 09:00–09:45 (covers two slots) and 10:30–11:00 (exactly one).
    setup.busy = vec![
        BusyInterval {
            practitioner_id: ana,
            start: utc(2026, 12, 7, 15, 30),
            end: utc(2026, 12, 7, 16, 0),
        },
        BusyInterval {
            practitioner_id: ana,
            start: utc(2026, 12, 7, 14, 0),
            end: utc(2026, 12, 7, 14, 45),
        },
    ];
    let mut query = monday_query("cardiology");
    query.window_days = 1;
    let monday: Vec<_> = all_free(&setup.clinic(), &query)
        .iter()
        .filter(|c| c.slot.practitioner_id == ana)
        .map(|c| c.slot.start)
        .collect();
    assert_eq!(
        monday,
        vec![
            utc(2026, 12, 7, 15, 0),
            utc(2026, 12, 7, 16, 0),
            utc(2026, 12, 7, 16, 30)
        ]
    );

    // Now is Monday 09:10 Bogota: with 60 minutes' notice the first slot is 10:30.
    query.now = utc(2026, 12, 7, 14, 10);
    query.from_date = None;
    setup.busy.clear();
    let starts: Vec<_> = all_free(&setup.clinic(), &query)
        .iter()
        .filter(|c| c.slot.practitioner_id == ana)
        .map(|c| c.slot.start)
        .collect();
    assert_eq!(
        starts,
        vec![
            utc(2026, 12, 7, 15, 30),
            utc(2026, 12, 7, 16, 0),
            utc(2026, 12, 7, 16, 30)
        ]
    );
    query.min_notice = TimeDelta::zero();
    assert_eq!(
        all_free(&setup.clinic(), &query)
            .iter()
            .filter(|c| c.slot.practitioner_id == ana)
            .count(),
        5
    );
    query.min_notice = TimeDelta::minutes(-600);
    assert_eq!(
        all_free(&setup.clinic(), &query)
            .iter()
            .filter(|c| c.slot.practitioner_id == ana)
            .count(),
        5,
        "negative notice must not reopen the past"
    );
}

#[test]
fn default_window_starts_today_at_each_location() {
    // 2026-12-06 23:30 UTC is still Sunday in Bogota but already Monday in Madrid.
    let bogota = location(10, "Bogotá", America::Bogota);
    let madrid = location(20, "Madrid", Europe::Madrid);
    let ana = practitioner(1, "Dr. Ana", "Cardiology");
    let mut schedules = Vec::new();
    for day in 0..7 {
        schedules.push(schedule(&ana, &bogota, day, time(20, 0), time(20, 30), 30));
        schedules.push(schedule(&ana, &madrid, day, time(20, 0), time(20, 30), 30));
    }
    let setup = Setup {
        locations: vec![bogota.clone(), madrid.clone()],
        practitioners: vec![ana],
        schedules,
        busy: Vec::new(),
    };
    let mut query = SlotQuery::new("cardiology", utc(2026, 12, 6, 23, 30));
    query.window_days = 2;
    query.min_notice = TimeDelta::zero();
    let mut got: Vec<_> = all_free(&setup.clinic(), &query)
        .iter()
        .map(|c| {
            let tz = if c.slot.location_id == bogota.id {
                America::Bogota
            } else {
                Europe::Madrid
            };
            (
                c.slot.location_id == bogota.id,
                c.slot.start.with_timezone(&tz).date_naive(),
                c.score,
            )
        })
        .collect();
    got.sort();
    // Bogota's window starts on Sunday (18:30 there, 20:00 still ahead); Madrid's on Monday.
    // The boost is 14 on each window's first day whatever the window's length.
    assert_eq!(
        got,
        vec![
            (false, date(2026, 12, 7), 14),
            (false, date(2026, 12, 8), 13),
            (true, date(2026, 12, 6), 14),
            (true, date(2026, 12, 7), 13),
        ]
    );
}

#[test]
fn scores_use_local_time_at_the_slot_location() {
    let madrid = location(20, "Madrid", Europe::Madrid);
    let ana = practitioner(1, "Dr. Ana", "Cardiology");
    let setup = Setup {
        schedules: weekdays(&ana, &madrid, time(9, 0), time(11, 0), 60),
        locations: vec![madrid],
        practitioners: vec![ana],
        busy: Vec::new(),
    };
    let mut query = monday_query("cardiology");
    query.window_days = 1;
    query.preferences.time_of_day = Some(time(9, 0));
    let offer = find_slots(&setup.clinic(), &query);
    // 09:00 Madrid is 08:00 UTC: compared in local time it is an exact match.
    let got: Vec<_> = offer
        .slots
        .iter()
        .map(|s| (s.slot.start, s.score))
        .collect();
    assert_eq!(
        got,
        vec![
            (utc(2026, 12, 7, 8, 0), 14 + 50),
            (utc(2026, 12, 7, 9, 0), 14 + 50)
        ]
    );
    assert_eq!(
        offer.slots[0].local_start.to_rfc3339(),
        "2026-12-07T09:00:00+01:00"
    );
}

#[test]
fn excluded_slots_give_the_next_best_and_still_count_as_available() {
    let mut setup = bogota_clinic();
    let query = monday_query("cardiology");
    let first = find_slots(&setup.clinic(), &query);
    let mut next_query = query.clone();
    next_query.exclude = first.slots.iter().map(RankedSlot::key).collect();
    let next = find_slots(&setup.clinic(), &next_query);
    assert!(
        next.slots
            .iter()
            .all(|s| !next_query.exclude.contains(&s.key()))
    );
    assert_eq!(next.available, first.available);
    // The next offer is the one the search gives once the turned-down slots are taken.
    setup.busy = first
        .slots
        .iter()
        .map(|s| BusyInterval {
            practitioner_id: s.slot.practitioner_id,
            start: s.slot.start,
            end: s.slot.end,
        })
        .collect();
    let as_if_booked = find_slots(&setup.clinic(), &query);
    assert_eq!(ids(&next), ids(&as_if_booked));
    assert_eq!(as_if_booked.available, first.available - 5);
}

#[test]
fn limit_defaults_to_five_and_is_capped() {
    let setup = bogota_clinic();
    let mut query = monday_query("cardiology");
    assert_eq!(
        find_slots(&setup.clinic(), &query).slots.len(),
        DEFAULT_LIMIT
    );
    query.limit = 1000;
    assert_eq!(find_slots(&setup.clinic(), &query).slots.len(), MAX_LIMIT);
    query.limit = 0;
    let counted = find_slots(&setup.clinic(), &query);
    assert!(counted.slots.is_empty());
    assert_eq!(counted.available, 120);
}

#[test]
fn overlapping_schedules_never_offer_one_start_twice() {
    let norte = location(10, "Sede Norte", America::Bogota);
    let sur = location(20, "Sede Sur", America::Bogota);
    let ana = practitioner(1, "Dr. Ana", "Cardiology");
    // Misconfigured: Ana on Monday mornings at both sites, one with 60-minute slots.
    let schedules = vec![
        schedule(&ana, &norte, 0, time(9, 0), time(11, 0), 30),
        schedule(&ana, &sur, 0, time(9, 0), time(11, 0), 60),
    ];
    let setup = Setup {
        locations: vec![norte.clone(), sur.clone()],
        practitioners: vec![ana],
        schedules,
        busy: Vec::new(),
    };
    let mut query = monday_query("cardiology");
    query.window_days = 1;
    query.preferences.location_id = Some(sur.id);
    // Restricted to Sur: its own two slots.
    assert_eq!(find_slots(&setup.clinic(), &query).slots.len(), 2);
    query.preferences.location_id = None;
    query.preferences.time_of_day = Some(time(10, 0));
    query.limit = MAX_LIMIT;
    let all = all_free(&setup.clinic(), &query);
    let starts: Vec<_> = all.iter().map(|c| c.slot.start).collect();
    assert_eq!(
        starts,
        vec![
            utc(2026, 12, 7, 14, 0),
            utc(2026, 12, 7, 14, 30),
            utc(2026, 12, 7, 15, 0),
            utc(2026, 12, 7, 15, 30)
        ]
    );
    // Same score at both sites: the lower location id (Norte) is kept.
    assert!(all.iter().all(|c| c.slot.location_id == norte.id));
}

#[test]
fn unusable_input_yields_nothing_without_panicking() {
    let setup = bogota_clinic();
    let mut query = monday_query("cardiology");
    query.from_date = Some(NaiveDate::MAX);
    let far = find_slots(&setup.clinic(), &query);
    assert!(
        far.slots
            .iter()
            .all(|s| s.local_start.date_naive() == NaiveDate::MAX)
    );
    query.from_date = Some(NaiveDate::MIN);
    assert_eq!(find_slots(&setup.clinic(), &query).available, 0);
    query.from_date = None;
    query.now = DateTime::<Utc>::MAX_UTC;
    assert_eq!(find_slots(&setup.clinic(), &query).available, 0);
    query.now = DateTime::<Utc>::MIN_UTC;
    query.window_days = u32::MAX;
    query.min_notice = TimeDelta::MAX;
    assert_eq!(find_slots(&setup.clinic(), &query).available, 0);
    // A schedule pointing at an unknown location is ignored.
    let mut orphan = setup.schedules.clone();
    orphan[0].location_id = Uuid::from_u128(999);
    let clinic = Clinic {
        schedules: &orphan,
        ..setup.clinic()
    };
    let query = monday_query("cardiology");
    assert_eq!(find_slots(&clinic, &query).available, 120 - 6 * 2);
}

/// The benchmark's workload, so its figures describe a checked result.
#[path = "../../../benches/support/workload.rs"]
mod workload;

#[test]
fn benchmark_workload_counts_match_the_booking_rule() {
    assert_eq!(
        workload::expected_available(1),
        112,
        "160 slots − 48 booked"
    );
    for practitioners in [1u64, 10, 100, 1000] {
        let w = workload::Workload::new(practitioners);
        let offer = find_slots(&w.clinic(), &w.query());
        assert_eq!(
            offer.available,
            workload::expected_available(practitioners),
            "P = {practitioners}"
        );
        assert_eq!(offer.slots.len(), 5);
        assert!(!offer.location_fallback);
        // The best offers are free Wednesday slots around 10:00, best first: higher
        // score, then closer to 10:00, then earlier.
        let order = |s: &RankedSlot| {
            let local = s.local_start.time();
            let from_ten = (local - time(10, 0)).num_seconds().abs();
            (std::cmp::Reverse(s.score), from_ten, s.slot.start)
        };
        assert!(offer.slots.is_sorted_by_key(order));
        let best = offer.slots[0];
        assert_eq!(best.local_start.weekday(), chrono::Weekday::Wed);
        assert!(
            !w.busy
                .iter()
                .any(|b| b.practitioner_id == best.slot.practitioner_id
                    && b.overlaps(best.slot.start, best.slot.end))
        );
    }
    let p1 = workload::Workload::new(1);
    assert_eq!(p1.busy.len(), 48);
    assert_eq!(find_slots(&p1.clinic(), &p1.query()).available, 112);
}

// ---------------------------------------------------------------- properties

const ZONES: [Tz; 7] = [
    America::New_York,
    Europe::Madrid,
    America::Bogota,
    America::Santiago,
    Australia::Sydney,
    Australia::Lord_Howe,
    UTC,
];

/// Dates around 2027's transitions in the zones above, and an ordinary one.
fn base_dates() -> [NaiveDate; 5] {
    [
        date(2027, 3, 10),
        date(2027, 3, 25),
        date(2027, 10, 27),
        date(2027, 11, 4),
        date(2027, 4, 1),
    ]
}

#[derive(Debug, Clone)]
struct World {
    locations: Vec<Location>,
    practitioners: Vec<Practitioner>,
    schedules: Vec<PractitionerSchedule>,
    busy: Vec<BusyInterval>,
    query: SlotQuery,
}

fn world() -> impl Strategy<Value = World> {
    let location_zones = prop::collection::vec(0..ZONES.len(), 1..=3);
    let practitioner_count = 1usize..=3;
    (location_zones, practitioner_count).prop_flat_map(|(zones, count)| {
        let locations: Vec<Location> = zones
            .iter()
            .enumerate()
            .map(|(i, &z)| location(100 + i as u128, "Site", ZONES[z]))
            .collect();
        let practitioners: Vec<Practitioner> = (0..count)
            .map(|i| {
                let mut p = practitioner(
                    1 + i as u128,
                    "Dr",
                    if i == 2 { "Dermatology" } else { "Cardiology" },
                );
                p.active = i != 1 || count < 3;
                p
            })
            .collect();
        let n_locations = locations.len();
        let schedule_spec = (
            0..count,
            0..n_locations,
            0i64..7,
            0u32..24 * 4,
            prop::sample::select(vec![15u32, 20, 30, 45, 60, 90]),
            1u32..8,
            prop::option::of((-20i64..20, 0i64..20)),
        );
        let busy = (0..count, 0i64..20 * 24 * 60, 1i64..180);
        let query = (
            0..base_dates().len(),
            0i64..6 * 24 * 60,
            0i64..240,
            1u32..=16,
            prop::option::of(-2i64..3),
            any::<bool>(),
        );
        (
            Just(locations),
            Just(practitioners),
            prop::collection::vec(schedule_spec, 1..8),
            prop::collection::vec(busy, 0..25),
            query,
        )
            .prop_map(
                |(locations, practitioners, schedule_specs, busy_specs, query_spec)| {
                    let (base, now_minutes, notice, window_days, from_shift, prefer) = query_spec;
                    let base_day = base_dates()[base];
                    let now = base_day.and_time(NaiveTime::MIN).and_utc()
                        + TimeDelta::minutes(now_minutes);
                    let schedules = schedule_specs
                        .into_iter()
                        .map(|(p, l, day, quarter, slot, count, validity)| {
                            let start =
                                NaiveTime::MIN + TimeDelta::minutes(i64::from(quarter) * 15);
                            let end_minutes = (i64::from(quarter) * 15 + i64::from(slot * count))
                                .min(23 * 60 + 59);
                            let mut s = schedule(
                                &practitioners[p],
                                &locations[l],
                                day,
                                start,
                                NaiveTime::MIN + TimeDelta::minutes(end_minutes),
                                slot,
                            );
                            if let Some((from, len)) = validity {
                                let from = base_day + TimeDelta::days(from);
                                s.valid_from = Some(from);
                                s.valid_to = Some(from + TimeDelta::days(len));
                            }
                            s
                        })
                        .collect();
                    let busy = busy_specs
                        .into_iter()
                        .map(|(p, offset, len)| {
                            let start = base_day.and_time(NaiveTime::MIN).and_utc()
                                + TimeDelta::minutes(offset);
                            BusyInterval {
                                practitioner_id: practitioners[p].id,
                                start,
                                end: start + TimeDelta::minutes(len),
                            }
                        })
                        .collect();
                    let mut query = SlotQuery::new("cardiology", now);
                    query.min_notice = TimeDelta::minutes(notice);
                    query.window_days = window_days;
                    query.limit = 7;
                    query.from_date = from_shift.map(|d| now.date_naive() + TimeDelta::days(d));
                    if prefer {
                        query.preferences = SlotPreferences {
                            location_id: None,
                            day_of_week: Weekday::new(now_minutes % 7).ok(),
                            time_of_day: NaiveTime::from_hms_opt((now_minutes % 24) as u32, 0, 0),
                            practitioner_id: Some(practitioners[0].id),
                        };
                    }
                    World {
                        locations,
                        practitioners,
                        schedules,
                        busy,
                        query,
                    }
                },
            )
    })
}

impl World {
    fn clinic(&self) -> Clinic<'_> {
        Clinic {
            locations: &self.locations,
            practitioners: &self.practitioners,
            schedules: &self.schedules,
            busy: &self.busy,
        }
    }

    fn tz_of(&self, location_id: Uuid) -> Tz {
        self.locations
            .iter()
            .find(|l| l.id == location_id)
            .unwrap()
            .timezone
            .tz()
    }

    fn first_day(&self, tz: Tz) -> NaiveDate {
        self.query
            .from_date
            .unwrap_or_else(|| self.query.now.with_timezone(&tz).date_naive())
    }
}

/// A slot computed by the reference: schedule, wall clock, start, end, and whether it
/// overlaps an earlier slot of the same schedule and day.
type ReferenceSlot = (
    PractitionerSchedule,
    NaiveDateTime,
    DateTime<Utc>,
    DateTime<Utc>,
    bool,
);

/// Schedule slots computed independently of `DaySlots`, straight from chrono-tz.
fn reference_slots(world: &World) -> Vec<ReferenceSlot> {
    let mut out = Vec::new();
    for s in &world.schedules {
        let tz = world.tz_of(s.location_id);
        let first = world.first_day(tz);
        for k in 0..world.query.window_days {
            let day = first + TimeDelta::days(i64::from(k));
            if day.weekday() != s.day_of_week.to_chrono()
                || s.valid_from.is_some_and(|f| day < f)
                || s.valid_to.is_some_and(|t| day > t)
            {
                continue;
            }
            let mut day_slots: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
            let mut wall = day.and_time(s.start_time);
            let length = TimeDelta::minutes(i64::from(s.slot_minutes));
            while wall + length <= day.and_time(s.end_time) {
                let start = match tz.from_local_datetime(&wall) {
                    chrono::LocalResult::Single(t) => Some(t),
                    chrono::LocalResult::Ambiguous(a, b) => Some(a.min(b)),
                    chrono::LocalResult::None => None,
                };
                if let Some(start) = start {
                    let start = start.with_timezone(&Utc);
                    let end = start + length;
                    let straddles = day_slots.iter().any(|&(a, b)| a < end && start < b);
                    day_slots.push((start, end));
                    out.push((s.clone(), wall, start, end, straddles));
                }
                wall += length;
            }
        }
    }
    out
}

/// The offer as the rules state it (ARCHITECTURE §6, the urgency rule and the spread
/// rule in `spread`), computed the slow way from every free slot, with local times
/// straight from chrono-tz.
fn reference_offer(world: &World, all: &[Free], exclude: &[SlotKey]) -> Vec<(Slot, u32)> {
    let query = &world.query;
    let urgent = query.urgency != Urgency::Routine;
    let mut left: Vec<(Free, NaiveDate, i64)> = all
        .iter()
        .filter(|c| {
            !exclude.contains(&SlotKey {
                practitioner_id: c.slot.practitioner_id,
                start: c.slot.start,
            })
        })
        .map(|c| {
            let local = c
                .slot
                .start
                .with_timezone(&world.tz_of(c.slot.location_id))
                .naive_local();
            let from_preferred = query.preferences.time_of_day.map_or(0, |t| {
                (i64::from(local.num_seconds_from_midnight())
                    - i64::from(t.num_seconds_from_midnight()))
                .abs()
            });
            (*c, local.date(), from_preferred)
        })
        .collect();
    let order = |(c, _, from_preferred): &(Free, NaiveDate, i64)| {
        let first = if urgent { c.slot.start.timestamp() } else { 0 };
        (
            first,
            std::cmp::Reverse(c.score),
            *from_preferred,
            c.slot.start,
            c.slot.practitioner_id,
            c.slot.location_id,
        )
    };
    left.sort_by_key(order);
    let mut offered: Vec<(Free, NaiveDate, i64)> = Vec::new();
    while offered.len() < query.limit.min(MAX_LIMIT) && !left.is_empty() {
        let full = |(c, day, _): &(Free, NaiveDate, i64)| {
            offered
                .iter()
                .filter(|(o, d, _)| o.slot.practitioner_id == c.slot.practitioner_id && d == day)
                .count()
                >= 2
        };
        let mut next = 0;
        if !urgent
            && full(&left[0])
            && let Some(other) = left.iter().position(|s| !full(s))
            && left[0].0.score - left[other].0.score <= 30
        {
            next = other;
        }
        offered.push(left.remove(next));
    }
    offered.sort_by_key(order);
    offered
        .into_iter()
        .map(|(c, _, _)| (c.slot, c.score))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn generated_slots_obey_every_rule(world in world()) {
        let clinic = world.clinic();
        let all = all_free(&clinic, &world.query);
        let earliest = world.query.now + world.query.min_notice;
        let mut seen = std::collections::HashSet::new();
        for c in &all {
            let slot = c.slot;
            let who = world.practitioners.iter().find(|p| p.id == slot.practitioner_id).unwrap();
            prop_assert!(who.active && who.specialty.eq_ignore_ascii_case("cardiology"));
            // Inside the schedule that produced it, on its grid, in local time.
            let s = world.schedules.iter().find(|s| s.id == slot.schedule_id).unwrap();
            prop_assert_eq!(s.practitioner_id, slot.practitioner_id);
            prop_assert_eq!(s.location_id, slot.location_id);
            let tz = world.tz_of(slot.location_id);
            let wall = slot.start.with_timezone(&tz).naive_local();
            prop_assert!(s.day_of_week.to_chrono() == wall.weekday());
            prop_assert!(s.valid_from.is_none_or(|f| f <= wall.date()) && s.valid_to.is_none_or(|t| wall.date() <= t));
            let offset_minutes = (wall.time() - s.start_time).num_minutes();
            prop_assert!(offset_minutes >= 0 && offset_minutes % i64::from(s.slot_minutes) == 0);
            prop_assert!(offset_minutes + i64::from(s.slot_minutes) <= (s.end_time - s.start_time).num_minutes());
            prop_assert!(wall.time().second() == 0);
            prop_assert_eq!(slot.end - slot.start, TimeDelta::minutes(i64::from(s.slot_minutes)));
            // Never overlapping busy time.
            prop_assert!(!world.busy.iter().any(|b| b.practitioner_id == slot.practitioner_id && b.overlaps(slot.start, slot.end)));
            // Unique per practitioner.
            prop_assert!(seen.insert((slot.practitioner_id, slot.start)), "duplicate {:?}", slot);
            // Inside the window and after now + notice.
            let first = world.first_day(tz);
            let days = (wall.date() - first).num_days();
            prop_assert!((0..i64::from(world.query.window_days)).contains(&days));
            prop_assert!(slot.start >= earliest);
        }

        // Nothing free is missing: every reference slot that is free, after the notice and
        // not straddling a DST gap into the previous slot is offered (maybe from another
        // schedule of the same practitioner when schedules overlap).
        for (s, wall, start, end, straddles) in reference_slots(&world) {
            let who = world.practitioners.iter().find(|p| p.id == s.practitioner_id).unwrap();
            let eligible = who.active && who.specialty.eq_ignore_ascii_case("cardiology");
            let busy = world.busy.iter().any(|b| b.practitioner_id == s.practitioner_id && b.overlaps(start, end));
            if eligible && !busy && !straddles && start >= earliest {
                prop_assert!(seen.contains(&(s.practitioner_id, start)), "missing {} {} at {}", s.practitioner_id, wall, start);
            }
        }
        prop_assert_eq!(find_slots(&clinic, &world.query).available, all.len());
    }

    #[test]
    fn the_offer_is_the_best_of_all_free_slots(
        mut world in world(),
        limit in 1usize..=MAX_LIMIT,
        urgent in prop::sample::select(vec![Urgency::Routine, Urgency::Routine, Urgency::Urgent]),
    ) {
        world.query.limit = limit;
        world.query.urgency = urgent;
        let clinic = world.clinic();
        let offer = find_slots(&clinic, &world.query);
        let all = all_free(&clinic, &world.query);
        let expected = reference_offer(&world, &all, &[]);
        let got: Vec<_> = offer.slots.iter().map(|s| (s.slot, s.score)).collect();
        prop_assert_eq!(got, expected);

        // Scores recomputed from the rules, in local time.
        for ranked in &offer.slots {
            let tz = world.tz_of(ranked.slot.location_id);
            let wall = ranked.slot.start.with_timezone(&tz).naive_local();
            let prefs = &world.query.preferences;
            let mut score = (14 - (wall.date() - world.first_day(tz)).num_days()).max(0);
            if prefs.day_of_week.is_some_and(|d| d.number() as u32 == wall.weekday().num_days_from_monday()) {
                score += 100;
            }
            if let Some(t) = prefs.time_of_day {
                let distance = (wall.hour() as i64 * 60 + wall.minute() as i64 - (t.hour() as i64 * 60 + t.minute() as i64)).abs();
                score += if distance <= 60 { 50 } else if distance <= 120 { 25 } else { 0 };
            }
            if prefs.practitioner_id == Some(ranked.slot.practitioner_id) {
                score += 40;
            }
            prop_assert_eq!(i64::from(ranked.score), score);
            prop_assert_eq!(ranked.local_start.naive_local(), wall);
        }

        // Excluding what was offered yields the next ones.
        let mut next_query = world.query.clone();
        next_query.exclude = offer.slots.iter().map(RankedSlot::key).collect();
        let next = find_slots(&clinic, &next_query);
        let expected_next = reference_offer(&world, &all, &next_query.exclude);
        let got_next: Vec<_> = next.slots.iter().map(|s| (s.slot, s.score)).collect();
        prop_assert_eq!(got_next, expected_next);
    }
}
