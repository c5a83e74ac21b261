//! The offer's order and spread, on fixed clinics and fixed times (never the clock).

use chrono::{DateTime, Utc};
use chrono_tz::America;

use super::*;
use crate::events::Urgency;
use crate::scheduling::fixtures::{date, location, practitioner, schedule, time, utc};
use crate::scheduling::{Clinic, SlotOffer, SlotPreferences, SlotQuery, find_slots};
use crate::{Location, Practitioner, PractitionerSchedule, Weekday};

struct Setup {
    locations: Vec<Location>,
    practitioners: Vec<Practitioner>,
    schedules: Vec<PractitionerSchedule>,
}

impl Setup {
    fn clinic(&self) -> Clinic<'_> {
        Clinic {
            locations: &self.locations,
            practitioners: &self.practitioners,
            schedules: &self.schedules,
            busy: &[],
        }
    }
}

/// Cardiologists at Sede Norte (Bogotá, UTC−5) free every day of the week, 08:00–17:00
/// in half-hours: Ana is id 1, Luis id 2.
fn free_all_day(cardiologists: u128) -> Setup {
    let norte = location(10, "Sede Norte", America::Bogota);
    let names = ["Dr. Ana Gómez", "Dr. Luis Pérez"];
    let practitioners: Vec<Practitioner> = (1..=cardiologists)
        .map(|id| practitioner(id, names[(id as usize - 1) % 2], "Cardiology"))
        .collect();
    let schedules = practitioners
        .iter()
        .flat_map(|p| (0..7).map(|day| schedule(p, &norte, day, time(8, 0), time(17, 0), 30)))
        .collect();
    Setup {
        locations: vec![norte],
        practitioners,
        schedules,
    }
}

/// Asked on Sunday 2026-12-06; the window starts on Monday 2026-12-07.
fn query(time_of_day: Option<(u32, u32)>) -> SlotQuery {
    let mut query = SlotQuery::new("Cardiology", utc(2026, 12, 6, 12, 0));
    query.from_date = Some(date(2026, 12, 7));
    query.preferences.time_of_day = time_of_day.map(|(h, m)| time(h, m));
    query
}

/// (practitioner id, local "day hh:mm") of each offer, as the patient reads them.
fn lines(offer: &SlotOffer) -> Vec<(u128, String)> {
    offer
        .slots
        .iter()
        .map(|s| {
            (
                s.slot.practitioner_id.as_u128(),
                s.local_start.format("%a %d %H:%M").to_string(),
            )
        })
        .collect()
}

fn line(id: u128, text: &str) -> (u128, String) {
    (id, text.to_owned())
}

/// Bogotá is UTC−5 all year.
fn bogota(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    utc(2026, 12, d, h + 5, m)
}

#[test]
fn equal_scores_go_to_the_start_closest_to_the_preferred_time() {
    let setup = free_all_day(1);
    let mut query = query(Some((10, 0)));
    // One day: nothing else to spread to, so the day's best five, closest to 10:00 first,
    // the earlier of two equally close starts first. All score 14 + 50.
    query.window_days = 1;
    let offer = find_slots(&setup.clinic(), &query);
    assert_eq!(
        lines(&offer),
        [
            line(1, "Mon 07 10:00"),
            line(1, "Mon 07 09:30"),
            line(1, "Mon 07 10:30"),
            line(1, "Mon 07 09:00"),
            line(1, "Mon 07 11:00"),
        ]
    );
    assert!(offer.slots.iter().all(|s| s.score == 14 + 50));
    // Without a time preference, equal scores still go to the earlier start.
    query.preferences.time_of_day = None;
    let offer = find_slots(&setup.clinic(), &query);
    assert_eq!(
        lines(&offer)[..2],
        [line(1, "Mon 07 08:00"), line(1, "Mon 07 08:30")]
    );
}

#[test]
fn one_cardiologists_morning_does_not_fill_the_offer() {
    // Preferred 10:00, one cardiologist free all day: not 09:00 to 11:00 of Monday, but
    // two Monday slots, then Tuesday's and Wednesday's (one point less per day).
    let offer = find_slots(&free_all_day(1).clinic(), &query(Some((10, 0))));
    assert_eq!(
        lines(&offer),
        [
            line(1, "Mon 07 10:00"),
            line(1, "Mon 07 09:30"),
            line(1, "Tue 08 10:00"),
            line(1, "Tue 08 09:30"),
            line(1, "Wed 09 10:00"),
        ]
    );
    let scores: Vec<u32> = offer.slots.iter().map(|s| s.score).collect();
    assert_eq!(scores, [64, 64, 63, 63, 62]);

    // With a second cardiologist, her 10:00 comes second.
    let offer = find_slots(&free_all_day(2).clinic(), &query(Some((10, 0))));
    assert_eq!(
        lines(&offer),
        [
            line(1, "Mon 07 10:00"),
            line(2, "Mon 07 10:00"),
            line(1, "Mon 07 09:30"),
            line(2, "Mon 07 09:30"),
            line(1, "Tue 08 10:00"),
        ]
    );
}

#[test]
fn spreading_never_trades_away_a_preferred_day_or_practitioner() {
    let setup = free_all_day(2);
    // Luis asked for by name (+40): Ana's equally timed slots are 40 points behind, so
    // his third and fourth Monday slots stay ahead of hers…
    let mut by_name = query(Some((10, 0)));
    by_name.window_days = 1;
    by_name.preferences.practitioner_id = Some(setup.practitioners[1].id);
    let offer = find_slots(&setup.clinic(), &by_name);
    assert!(
        offer
            .slots
            .iter()
            .all(|s| s.slot.practitioner_id.as_u128() == 2)
    );
    // …and over two weeks his other days come in instead.
    by_name.window_days = 14;
    let offer = find_slots(&setup.clinic(), &by_name);
    assert_eq!(
        lines(&offer),
        [
            line(2, "Mon 07 10:00"),
            line(2, "Mon 07 09:30"),
            line(2, "Tue 08 10:00"),
            line(2, "Tue 08 09:30"),
            line(2, "Wed 09 10:00"),
        ]
    );

    // Wednesday asked for (+100): both Wednesdays of the window, never another day.
    let mut wednesday = query(Some((10, 0)));
    wednesday.preferences = SlotPreferences {
        day_of_week: Weekday::new(2).ok(),
        ..wednesday.preferences
    };
    let offer = find_slots(&free_all_day(1).clinic(), &wednesday);
    assert_eq!(
        lines(&offer),
        [
            line(1, "Wed 09 10:00"),
            line(1, "Wed 09 09:30"),
            line(1, "Wed 09 10:30"),
            line(1, "Wed 16 10:00"),
            line(1, "Wed 16 09:30"),
        ]
    );
}

#[test]
fn when_every_practitioner_day_is_full_the_next_best_slot_comes_in() {
    // Preferred 10:00 over a single day: 09:00–11:00 score 64; 08:00/08:30 and
    // 11:30/12:00 only 39 (within 2 h).
    let setup = free_all_day(2);
    let mut one_day = query(Some((10, 0)));
    one_day.window_days = 1;
    one_day.limit = 6;
    let offer = find_slots(&setup.clinic(), &one_day);
    // Two each, then each one's third-best 64 (10:30): no other practitioner or day is
    // left to spread to.
    assert_eq!(
        lines(&offer),
        [
            line(1, "Mon 07 10:00"),
            line(2, "Mon 07 10:00"),
            line(1, "Mon 07 09:30"),
            line(2, "Mon 07 09:30"),
            line(1, "Mon 07 10:30"),
            line(2, "Mon 07 10:30"),
        ]
    );
}

#[test]
fn a_slot_more_than_thirty_points_behind_never_displaces_a_better_one() {
    // Ana asked for by name over two days: her Monday (104) and Tuesday (103) slots take
    // turns; Luis's (64) are 40 points behind and never appear, though Ana's days fill.
    let setup = free_all_day(2);
    let mut two_days = query(Some((10, 0)));
    two_days.window_days = 2;
    two_days.preferences.practitioner_id = Some(setup.practitioners[0].id);
    let offer = find_slots(&setup.clinic(), &two_days);
    assert_eq!(
        lines(&offer),
        [
            line(1, "Mon 07 10:00"),
            line(1, "Mon 07 09:30"),
            line(1, "Mon 07 10:30"),
            line(1, "Tue 08 10:00"),
            line(1, "Tue 08 09:30"),
        ]
    );
}

#[test]
fn urgent_searches_offer_the_soonest_slots_first() {
    let setup = free_all_day(2);
    let mut urgent = query(Some((10, 0)));
    urgent.urgency = Urgency::Urgent;
    urgent.preferences.day_of_week = Weekday::new(2).ok();
    urgent.preferences.practitioner_id = Some(setup.practitioners[1].id);
    let offer = find_slots(&setup.clinic(), &urgent);
    // Wednesday and 10:00 were asked for, but Monday 08:00 is sooner. At one start the
    // preferred practitioner (Luis, +40) comes first; no spreading: soonest is all.
    assert_eq!(
        lines(&offer),
        [
            line(2, "Mon 07 08:00"),
            line(1, "Mon 07 08:00"),
            line(2, "Mon 07 08:30"),
            line(1, "Mon 07 08:30"),
            line(2, "Mon 07 09:00"),
        ]
    );
    assert_eq!(offer.slots[0].slot.start, bogota(7, 8, 0));
    // Emergencies are never searched by the bot; if one is, it is as urgent.
    urgent.urgency = Urgency::Emergency;
    assert_eq!(lines(&find_slots(&setup.clinic(), &urgent)), lines(&offer));
    // The same query, routine: Wednesday around 10:00 with Luis.
    urgent.urgency = Urgency::Routine;
    let routine = find_slots(&setup.clinic(), &urgent);
    assert_eq!(lines(&routine)[0], line(2, "Wed 09 10:00"));
}

#[test]
fn a_routine_search_is_the_default() {
    assert_eq!(query(None).urgency, Urgency::Routine);
}

#[test]
fn the_shortlist_is_as_deep_as_the_rule_can_reach() {
    assert_eq!(Shortlist::kept(0, 2), 0);
    assert_eq!(Shortlist::kept(1, 2), 1);
    assert_eq!(Shortlist::kept(2, 2), 2);
    assert_eq!(Shortlist::kept(3, 2), 4);
    assert_eq!(Shortlist::kept(5, 2), 11);
    assert_eq!(Shortlist::kept(20, 2), 182);
    // Not spread: the best `limit`.
    assert_eq!(Shortlist::kept(5, usize::MAX), 5);
    assert_eq!(Shortlist::kept(20, usize::MAX), 20);
}
