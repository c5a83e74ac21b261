use chrono::{LocalResult, NaiveDateTime, TimeDelta};
use chrono_tz::{America, Asia, Australia, Europe, Pacific, Tz, UTC};

use super::*;
use crate::scheduling::fixtures::{date, local, location, practitioner, schedule, time, utc};

/// The slots a schedule produces on `on`, as (local wall clock, UTC start, UTC end).
fn generate(
    tz: Tz,
    schedule: &PractitionerSchedule,
    on: NaiveDate,
) -> Vec<(NaiveDateTime, DateTime<Utc>, DateTime<Utc>)> {
    assert!(
        schedule_applies(schedule, on),
        "test schedule must apply on {on}"
    );
    DaySlots::new(schedule, DayPlan::new(tz, on), tz)
        .map(|s| {
            let wall = on.and_time(NaiveTime::MIN) + TimeDelta::seconds(s.second_of_day);
            (wall, instant(s.start).unwrap(), instant(s.end).unwrap())
        })
        .collect()
}

struct DstCase {
    name: &'static str,
    tz: Tz,
    on: NaiveDate,
    from: (u32, u32),
    to: (u32, u32),
    slot_minutes: u32,
    /// Expected (local HH:MM, UTC start) pairs.
    expected: Vec<((u32, u32), DateTime<Utc>)>,
}

fn dst_cases() -> Vec<DstCase> {
    vec![
        DstCase {
            name: "New York spring forward: 02:00 and 02:30 do not exist",
            tz: America::New_York,
            on: date(2027, 3, 14),
            from: (0, 0),
            to: (4, 0),
            slot_minutes: 30,
            expected: vec![
                ((0, 0), utc(2027, 3, 14, 5, 0)),
                ((0, 30), utc(2027, 3, 14, 5, 30)),
                ((1, 0), utc(2027, 3, 14, 6, 0)),
                ((1, 30), utc(2027, 3, 14, 6, 30)),
                ((3, 0), utc(2027, 3, 14, 7, 0)),
                ((3, 30), utc(2027, 3, 14, 7, 30)),
            ],
        },
        DstCase {
            name: "New York fall back: 01:00 and 01:30 happen twice, offered once (EDT)",
            tz: America::New_York,
            on: date(2027, 11, 7),
            from: (0, 0),
            to: (4, 0),
            slot_minutes: 30,
            expected: vec![
                ((0, 0), utc(2027, 11, 7, 4, 0)),
                ((0, 30), utc(2027, 11, 7, 4, 30)),
                ((1, 0), utc(2027, 11, 7, 5, 0)),
                ((1, 30), utc(2027, 11, 7, 5, 30)),
                ((2, 0), utc(2027, 11, 7, 7, 0)),
                ((2, 30), utc(2027, 11, 7, 7, 30)),
                ((3, 0), utc(2027, 11, 7, 8, 0)),
                ((3, 30), utc(2027, 11, 7, 8, 30)),
            ],
        },
        DstCase {
            name: "Madrid spring forward: 02:00 and 02:30 do not exist",
            tz: Europe::Madrid,
            on: date(2027, 3, 28),
            from: (0, 0),
            to: (4, 0),
            slot_minutes: 30,
            expected: vec![
                ((0, 0), utc(2027, 3, 27, 23, 0)),
                ((0, 30), utc(2027, 3, 27, 23, 30)),
                ((1, 0), utc(2027, 3, 28, 0, 0)),
                ((1, 30), utc(2027, 3, 28, 0, 30)),
                ((3, 0), utc(2027, 3, 28, 1, 0)),
                ((3, 30), utc(2027, 3, 28, 1, 30)),
            ],
        },
        DstCase {
            name: "Madrid fall back: 02:00 and 02:30 happen twice, offered once (CEST)",
            tz: Europe::Madrid,
            on: date(2027, 10, 31),
            from: (0, 0),
            to: (4, 0),
            slot_minutes: 30,
            expected: vec![
                ((0, 0), utc(2027, 10, 30, 22, 0)),
                ((0, 30), utc(2027, 10, 30, 22, 30)),
                ((1, 0), utc(2027, 10, 30, 23, 0)),
                ((1, 30), utc(2027, 10, 30, 23, 30)),
                ((2, 0), utc(2027, 10, 31, 0, 0)),
                ((2, 30), utc(2027, 10, 31, 0, 30)),
                ((3, 0), utc(2027, 10, 31, 2, 0)),
                ((3, 30), utc(2027, 10, 31, 2, 30)),
            ],
        },
        DstCase {
            name: "New York spring forward, 90-minute slots: 03:00 would start inside 01:30's slot",
            tz: America::New_York,
            on: date(2027, 3, 14),
            from: (1, 30),
            to: (6, 0),
            slot_minutes: 90,
            expected: vec![
                ((1, 30), utc(2027, 3, 14, 6, 30)),
                ((4, 30), utc(2027, 3, 14, 8, 30)),
            ],
        },
        DstCase {
            name: "New York fall back, hourly slots",
            tz: America::New_York,
            on: date(2027, 11, 7),
            from: (0, 0),
            to: (3, 0),
            slot_minutes: 60,
            expected: vec![
                ((0, 0), utc(2027, 11, 7, 4, 0)),
                ((1, 0), utc(2027, 11, 7, 5, 0)),
                ((2, 0), utc(2027, 11, 7, 7, 0)),
            ],
        },
    ]
}

#[test]
fn dst_transitions_skip_missing_times_and_never_duplicate() {
    let doctor = practitioner(1, "Dr. A", "Cardiology");
    for case in dst_cases() {
        let site = location(2, "Site", case.tz);
        let day = i64::from(case.on.weekday().num_days_from_monday());
        let s = schedule(
            &doctor,
            &site,
            day,
            time(case.from.0, case.from.1),
            time(case.to.0, case.to.1),
            case.slot_minutes,
        );
        let got = generate(case.tz, &s, case.on);
        let expected: Vec<_> = case
            .expected
            .iter()
            .map(|&((h, m), start)| {
                (
                    case.on.and_time(time(h, m)),
                    start,
                    start + TimeDelta::minutes(i64::from(case.slot_minutes)),
                )
            })
            .collect();
        assert_eq!(got, expected, "{}", case.name);
        // Every slot lasts exactly its length in real time, and none overlaps the next.
        for pair in got.windows(2) {
            assert!(
                pair[0].2 <= pair[1].1,
                "{}: overlapping slots {pair:?}",
                case.name
            );
        }
    }
}

#[test]
fn working_hours_on_transition_days_are_unaffected() {
    let doctor = practitioner(1, "Dr. A", "Cardiology");
    // (zone, date, UTC offset in hours in force at 09:00 that day)
    let cases = [
        (America::New_York, date(2027, 3, 13), -5),
        (America::New_York, date(2027, 3, 14), -4),
        (America::New_York, date(2027, 3, 15), -4),
        (America::New_York, date(2027, 11, 6), -4),
        (America::New_York, date(2027, 11, 7), -5),
        (America::New_York, date(2027, 11, 8), -5),
        (Europe::Madrid, date(2027, 3, 27), 1),
        (Europe::Madrid, date(2027, 3, 28), 2),
        (Europe::Madrid, date(2027, 3, 29), 2),
        (Europe::Madrid, date(2027, 10, 30), 2),
        (Europe::Madrid, date(2027, 10, 31), 1),
        (Europe::Madrid, date(2027, 11, 1), 1),
    ];
    for (tz, on, offset_hours) in cases {
        let site = location(2, "Site", tz);
        let day = i64::from(on.weekday().num_days_from_monday());
        let s = schedule(&doctor, &site, day, time(9, 0), time(17, 0), 30);
        let got = generate(tz, &s, on);
        assert_eq!(got.len(), 16, "{tz} {on}");
        for (k, (wall, start, end)) in got.into_iter().enumerate() {
            let expected_wall = on.and_time(time(9, 0)) + TimeDelta::minutes(30 * k as i64);
            assert_eq!(wall, expected_wall, "{tz} {on}");
            assert_eq!(
                start.naive_utc(),
                expected_wall - TimeDelta::hours(offset_hours),
                "{tz} {on}"
            );
            assert_eq!(end - start, TimeDelta::minutes(30));
        }
    }
}

#[test]
fn uniform_offset_agrees_with_the_full_lookup() {
    let zones: [Tz; 12] = [
        America::New_York,
        Europe::Madrid,
        America::Bogota,
        America::Santiago,
        America::Havana,
        America::Asuncion,
        Australia::Sydney,
        Australia::Lord_Howe,
        Asia::Kolkata,
        Asia::Tehran,
        Pacific::Chatham,
        UTC,
    ];
    let mut transition_days = 0;
    for tz in zones {
        let mut on = date(2026, 1, 1);
        while on <= date(2028, 12, 31) {
            match uniform_offset(tz, on) {
                Some(offset) => {
                    for half_hours in 0..48 {
                        let wall =
                            on.and_time(NaiveTime::MIN) + TimeDelta::minutes(30 * half_hours);
                        let expected =
                            wall - TimeDelta::seconds(i64::from(offset.local_minus_utc()));
                        match tz.from_local_datetime(&wall) {
                            LocalResult::Single(t) => {
                                assert_eq!(t.naive_utc(), expected, "{tz} {wall}")
                            }
                            other => panic!("{tz} {wall}: uniform day but lookup gave {other:?}"),
                        }
                    }
                }
                None => transition_days += 1,
            }
            on = on.succ_opt().unwrap();
        }
    }
    // The zones above with daylight saving change twice a year: the slow path must be taken.
    assert!(
        transition_days >= 2 * 3 * 8,
        "only {transition_days} transition days found"
    );
    assert!(uniform_offset(America::New_York, date(2027, 3, 14)).is_none());
    assert!(uniform_offset(Europe::Madrid, date(2027, 10, 31)).is_none());
    assert!(uniform_offset(America::Bogota, date(2027, 3, 14)).is_some());
}

#[test]
fn validity_dates_are_inclusive() {
    let doctor = practitioner(1, "Dr. A", "Cardiology");
    let site = location(2, "Site", America::Bogota);
    let mut s = schedule(&doctor, &site, 0, time(9, 0), time(10, 0), 30);
    s.valid_from = Some(date(2026, 12, 7));
    s.valid_to = Some(date(2026, 12, 14));
    assert!(!schedule_applies(&s, date(2026, 11, 30)));
    assert!(schedule_applies(&s, date(2026, 12, 7)));
    assert!(!schedule_applies(&s, date(2026, 12, 8)), "Tuesday");
    assert!(schedule_applies(&s, date(2026, 12, 14)));
    assert!(!schedule_applies(&s, date(2026, 12, 21)));
}

#[test]
fn degenerate_schedules_produce_nothing_rather_than_looping() {
    let doctor = practitioner(1, "Dr. A", "Cardiology");
    let site = location(2, "Site", America::Bogota);
    let monday = date(2026, 12, 7);
    let zero = schedule(&doctor, &site, 0, time(9, 0), time(10, 0), 0);
    assert!(generate(America::Bogota, &zero, monday).is_empty());
    let reversed = schedule(&doctor, &site, 0, time(10, 0), time(9, 0), 30);
    assert!(generate(America::Bogota, &reversed, monday).is_empty());
    let too_long = schedule(&doctor, &site, 0, time(9, 0), time(10, 0), 90);
    assert!(generate(America::Bogota, &too_long, monday).is_empty());
    // A period the slot length does not divide: only whole slots are produced.
    let ragged = schedule(&doctor, &site, 0, time(9, 0), time(10, 0), 25);
    assert_eq!(generate(America::Bogota, &ragged, monday).len(), 2);
    let late = schedule(&doctor, &site, 0, time(23, 0), time(23, 59), 30);
    assert_eq!(generate(America::Bogota, &late, monday).len(), 1);
    // At the very end of the calendar the UTC instant does not exist: no panic, and
    // nothing that could be turned into a date.
    let last_evening = schedule(&doctor, &site, 4, time(22, 0), time(23, 0), 30);
    let slots: Vec<_> = DaySlots::new(
        &last_evening,
        DayPlan::new(America::Bogota, NaiveDate::MAX),
        America::Bogota,
    )
    .collect();
    assert!(
        slots.iter().all(|s| instant(s.start).is_none()),
        "{slots:?}"
    );
}

#[test]
fn explicit_slot_must_be_on_the_schedule_grid() {
    let doctor = practitioner(1, "Dr. A", "Cardiology");
    let other_doctor = practitioner(3, "Dr. B", "Cardiology");
    let site = location(2, "Sede Norte", America::Bogota);
    let other_site = location(4, "Sede Sur", America::Bogota);
    let mut monday = schedule(&doctor, &site, 0, time(9, 0), time(12, 0), 30);
    monday.valid_to = Some(date(2026, 12, 31));
    let schedules = vec![
        monday.clone(),
        schedule(&other_doctor, &site, 1, time(9, 0), time(12, 0), 30),
    ];
    // Monday 2026-12-07 09:30 in Bogota = 14:30 UTC.
    let start = utc(2026, 12, 7, 14, 30);
    let half_hour = TimeDelta::minutes(30);
    let found = schedule_slot_at(&schedules, &site, doctor.id, start).unwrap();
    assert_eq!(
        found,
        Slot {
            practitioner_id: doctor.id,
            location_id: site.id,
            schedule_id: monday.id,
            start,
            end: start + half_hour,
        }
    );
    type Case<'a> = (
        &'a str,
        &'a Location,
        Uuid,
        DateTime<Utc>,
        DateTime<Utc>,
        bool,
    );
    let cases: [Case<'_>; 10] = [
        (
            "on the grid",
            &site,
            doctor.id,
            start,
            start + half_hour,
            true,
        ),
        (
            "first slot",
            &site,
            doctor.id,
            utc(2026, 12, 7, 14, 0),
            utc(2026, 12, 7, 14, 30),
            true,
        ),
        (
            "last slot",
            &site,
            doctor.id,
            utc(2026, 12, 7, 16, 30),
            utc(2026, 12, 7, 17, 0),
            true,
        ),
        (
            "ends at closing",
            &site,
            doctor.id,
            utc(2026, 12, 7, 17, 0),
            utc(2026, 12, 7, 17, 30),
            false,
        ),
        (
            "off the grid",
            &site,
            doctor.id,
            utc(2026, 12, 7, 14, 45),
            utc(2026, 12, 7, 15, 15),
            false,
        ),
        (
            "wrong length",
            &site,
            doctor.id,
            start,
            start + TimeDelta::minutes(60),
            false,
        ),
        (
            "wrong day",
            &site,
            doctor.id,
            utc(2026, 12, 8, 14, 30),
            utc(2026, 12, 8, 15, 0),
            false,
        ),
        (
            "after validity",
            &site,
            doctor.id,
            utc(2027, 1, 4, 14, 30),
            utc(2027, 1, 4, 15, 0),
            false,
        ),
        (
            "wrong location",
            &other_site,
            doctor.id,
            start,
            start + half_hour,
            false,
        ),
        (
            "someone else's schedule",
            &site,
            other_doctor.id,
            start,
            start + half_hour,
            false,
        ),
    ];
    for (name, at, who, from, to, expected) in cases {
        assert_eq!(
            is_schedule_slot(&schedules, at, who, from, to),
            expected,
            "{name}"
        );
    }
}

#[test]
fn explicit_slot_on_dst_days_matches_what_is_offered() {
    let doctor = practitioner(1, "Dr. A", "Cardiology");
    let site = location(2, "Site", America::New_York);
    let sunday = schedule(&doctor, &site, 6, time(0, 0), time(4, 0), 30);
    let schedules = [sunday];
    let half_hour = TimeDelta::minutes(30);
    let check = |start: DateTime<Utc>| {
        is_schedule_slot(&schedules, &site, doctor.id, start, start + half_hour)
    };
    // Fall back: 01:30 EDT is offered, 01:30 EST (an hour later) is not.
    assert!(check(utc(2027, 11, 7, 5, 30)));
    assert!(!check(utc(2027, 11, 7, 6, 30)));
    assert!(check(utc(2027, 11, 7, 7, 0)), "02:00 EST");
    // Spring forward: 03:00 EDT exists, nothing maps to 02:00.
    assert!(check(utc(2027, 3, 14, 7, 0)));
    assert!(check(utc(2027, 3, 14, 6, 30)), "01:30 EST");
    assert!(!check(utc(2027, 3, 14, 7, 30) - TimeDelta::minutes(15)));
    let wall = local(2027, 3, 14, 3, 0);
    assert_eq!(
        America::New_York
            .from_local_datetime(&wall)
            .single()
            .unwrap()
            .naive_utc(),
        utc(2027, 3, 14, 7, 0).naive_utc()
    );
}

#[test]
fn busy_interval_comes_only_from_active_appointments() {
    use crate::{Appointment, AppointmentStatus};
    let start = utc(2026, 12, 7, 14, 0);
    let appointment = |status| Appointment {
        id: Uuid::nil(),
        status,
        start,
        end: start + TimeDelta::minutes(30),
        patient_id: Uuid::nil(),
        practitioner_id: Uuid::from_u128(7),
        location_id: Uuid::nil(),
        conversation_id: None,
        channel: None,
        reason: None,
        notes: None,
        cancellation_reason: None,
        created_at: start,
        follow_up_date: None,
        confirmed_at: None,
    };
    for status in AppointmentStatus::ALL {
        let busy = BusyInterval::from_appointment(&appointment(status));
        assert_eq!(busy.is_some(), status.is_active(), "{status}");
    }
    let busy = BusyInterval::from_appointment(&appointment(AppointmentStatus::Booked)).unwrap();
    assert_eq!(busy.practitioner_id, Uuid::from_u128(7));
    assert!(busy.overlaps(
        start + TimeDelta::minutes(29),
        start + TimeDelta::minutes(59)
    ));
    assert!(
        !busy.overlaps(
            start + TimeDelta::minutes(30),
            start + TimeDelta::minutes(60)
        ),
        "back to back"
    );
    assert!(
        !busy.overlaps(start - TimeDelta::minutes(30), start),
        "back to back"
    );
}
