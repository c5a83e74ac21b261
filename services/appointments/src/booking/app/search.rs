//! `find-slots`: ranked free slots of a department, remembered for a conversation when
//! one is given (and announced as SLOTS_OFFERED).

use std::collections::BTreeSet;

use chrono::{NaiveDate, NaiveTime, TimeDelta};
use prm_domain::{
    Locale, Location, Weekday,
    events::Urgency,
    hhmm,
    scheduling::{
        BusyInterval, Clinic, DEFAULT_LIMIT, MAX_LIMIT, RankedSlot, SlotKey, SlotPreferences,
        SlotQuery, find_slots as search_slots,
    },
};
use prm_platform::{
    fields::{FieldErrors, no_control_characters},
    limits::DEPARTMENT_CHARS,
};
use uuid::Uuid;

use super::found;
use crate::{
    AppState,
    booking::{
        BookingError, events,
        offers::{self, OfferedSlotRecord, StoredOffer},
        views::{FindSlotsRequest, FindSlotsResponse, PreferencesRequest, SlotView, render_slots},
    },
};

pub(super) struct SearchInput {
    pub department: String,
    pub preferences: SlotPreferences,
    pub limit: usize,
    pub from_date: Option<NaiveDate>,
    pub locale: Locale,
    pub exclude: Vec<SlotKey>,
    pub urgency: Urgency,
    /// Keep only this practitioner's slots (an appointment moved keeps its practitioner).
    pub only_practitioner: Option<Uuid>,
}

pub(super) struct SearchResult {
    pub slots: Vec<RankedSlot>,
    pub views: Vec<SlotView>,
    pub message: String,
    pub locations: Vec<Location>,
    pub location_fallback: bool,
}

/// The department's free slots from the service clock's "now" (or `from_date`).
pub(super) async fn search(
    state: &AppState,
    input: SearchInput,
) -> Result<SearchResult, BookingError> {
    let store = &state.store;
    let practitioners = store.practitioners_in_department(&input.department).await?;
    let ids: Vec<Uuid> = practitioners.iter().map(|p| p.id).collect();
    let schedules = store.schedules_of(&ids).await?;
    let location_ids: Vec<Uuid> = schedules
        .iter()
        .map(|s| s.location_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let locations = store.locations_by_ids(&location_ids).await?;

    let now = state.clock.now();
    let from = input
        .from_date
        .map_or(now, |d| d.and_time(NaiveTime::MIN).and_utc());
    // Busy time is fetched with a day of margin each side: zones are at most ±14 h from UTC.
    let busy_from = from.min(now) - TimeDelta::days(1);
    let busy_to = from.max(now) + TimeDelta::days(i64::from(state.booking.window_days) + 2);
    let mut busy: Vec<BusyInterval> = store
        .active_appointments_between(&ids, busy_from, busy_to)
        .await?
        .iter()
        .filter_map(BusyInterval::from_appointment)
        .collect();
    busy.sort_by_key(|b| (b.practitioner_id, b.start));

    let clinic = Clinic {
        locations: &locations,
        practitioners: &practitioners,
        schedules: &schedules,
        busy: &busy,
    };
    let mut query = SlotQuery::new(input.department.clone(), now);
    query.preferences = input.preferences;
    // Only one practitioner's slots: ask for the most and keep theirs.
    query.limit = if input.only_practitioner.is_some() {
        MAX_LIMIT
    } else {
        input.limit
    };
    query.from_date = input.from_date;
    query.window_days = state.booking.window_days;
    query.min_notice = state.booking.min_notice;
    query.exclude = input.exclude;
    query.urgency = input.urgency;
    let mut offer = search_slots(&clinic, &query);
    if let Some(practitioner_id) = input.only_practitioner {
        offer
            .slots
            .retain(|s| s.slot.practitioner_id == practitioner_id);
        offer.slots.truncate(input.limit);
    }

    let (views, message) = render_slots(input.locale, &offer.slots, &clinic);
    Ok(SearchResult {
        slots: offer.slots,
        views,
        message,
        locations,
        location_fallback: offer.location_fallback,
    })
}

fn parse_preferences(p: Option<PreferencesRequest>, errors: &mut FieldErrors) -> SlotPreferences {
    let p = p.unwrap_or_default();
    let day_of_week = p
        .day_of_week
        .and_then(|d| errors.check("preferences.day_of_week", Weekday::new(d)));
    let time_of_day = p
        .time_of_day
        .as_deref()
        .and_then(|t| errors.check("preferences.time_of_day", hhmm::parse(t.trim())));
    SlotPreferences {
        location_id: p.location_id,
        day_of_week,
        time_of_day,
        practitioner_id: p.practitioner_id,
    }
}

fn parse_locale(raw: Option<&str>, default: Locale, errors: &mut FieldErrors) -> Locale {
    raw.and_then(|raw| errors.check("locale", raw.parse::<Locale>()))
        .unwrap_or(default)
}

/// A search window must lie in the calendar the suite stores (years 1 to 9999), with
/// the day of margin each side that busy time is fetched with.
fn check_window_start(from_date: NaiveDate, window_days: u32, errors: &mut FieldErrors) {
    use prm_domain::calendar::{FIRST_DAY, LAST_DAY};
    let first = FIRST_DAY + TimeDelta::days(1);
    let last = LAST_DAY - TimeDelta::days(i64::from(window_days) + 2);
    if !(first..=last).contains(&from_date) {
        errors.push("from_date", format!("must be between {first} and {last}"));
    }
}

/// `find-slots`: ranked free slots, remembered for the conversation when one is given.
pub async fn find_slots(
    state: &AppState,
    req: FindSlotsRequest,
) -> Result<FindSlotsResponse, BookingError> {
    let mut errors = FieldErrors::default();
    let department = req.department.trim().to_owned();
    // The length as sent, as the schema's `maxLength` counts it.
    if department.is_empty() || req.department.chars().count() > DEPARTMENT_CHARS {
        errors.push(
            "department",
            format!("must be 1 to {DEPARTMENT_CHARS} characters"),
        );
    } else if let Err(e) = no_control_characters(&department, false) {
        errors.push("department", e);
    }
    let limit = match req.limit {
        None => DEFAULT_LIMIT,
        Some(l) if (1..=MAX_LIMIT as i64).contains(&l) => l as usize,
        Some(_) => {
            errors.push("limit", format!("must be between 1 and {MAX_LIMIT}"));
            DEFAULT_LIMIT
        }
    };
    if let Some(from_date) = req.from_date {
        check_window_start(from_date, state.booking.window_days, &mut errors);
    }
    let preferences = parse_preferences(req.preferences, &mut errors);
    let locale = parse_locale(
        req.locale.as_deref(),
        state.booking.default_locale,
        &mut errors,
    );
    if let Some(id) = preferences.location_id {
        found(
            state.store.get_location(id).await,
            "preferences.location_id",
            "location",
            &mut errors,
        )?;
    }
    if let Some(id) = preferences.practitioner_id {
        found(
            state.store.get_practitioner(id).await,
            "preferences.practitioner_id",
            "practitioner",
            &mut errors,
        )?;
    }
    if let Some(id) = req.patient_id {
        found(
            state.store.get_patient(id).await,
            "patient_id",
            "patient",
            &mut errors,
        )?;
    }
    errors.finish()?;

    let result = search(
        state,
        SearchInput {
            department: department.clone(),
            preferences,
            limit,
            from_date: req.from_date,
            locale,
            exclude: vec![],
            urgency: Urgency::Routine,
            only_practitioner: None,
        },
    )
    .await?;
    let offer_id = match req.conversation_id {
        None => None,
        Some(conversation_id) => {
            let offer = StoredOffer {
                offer_id: Uuid::now_v7(),
                conversation_id,
                patient_id: req.patient_id,
                department,
                preferences,
                from_date: req.from_date,
                locale,
                slots: records(&result.slots),
                offered: result.slots.iter().map(RankedSlot::key).collect(),
                created_at: state.clock.now(),
                urgency: Urgency::Routine,
                phone: None,
                reason: None,
                reschedule: None,
            };
            remember(state, &offer, &result).await?;
            Some(offer.offer_id)
        }
    };
    Ok(FindSlotsResponse {
        slots: result.views,
        message: result.message,
        offer_id,
        location_fallback: result.location_fallback,
    })
}

/// What is kept of the offered slots to book one of them later.
pub(super) fn records(slots: &[RankedSlot]) -> Vec<OfferedSlotRecord> {
    slots
        .iter()
        .map(|s| OfferedSlotRecord {
            practitioner_id: s.slot.practitioner_id,
            location_id: s.slot.location_id,
            start: s.slot.start,
            end: s.slot.end,
            local_start: s.local_wall_clock(),
        })
        .collect()
}

/// Saves the offer and announces it (SLOTS_OFFERED) so conversations can send it.
pub(super) async fn remember(
    state: &AppState,
    offer: &StoredOffer,
    result: &SearchResult,
) -> Result<(), BookingError> {
    offers::save(state.state.as_ref(), offer, state.booking.offer_ttl).await?;
    let envelope = events::slots_offered(
        offer.conversation_id,
        offer.patient_id,
        &offer.department,
        &result.views,
        &result.locations,
        &result.message,
    );
    let txn = state.store.begin().await?;
    events::OUTBOX
        .enqueue(&txn, &envelope, prm_bus::current_traceparent())
        .await?;
    txn.commit().await.map_err(prm_store::StoreError::from)?;
    state.notify_outbox();
    Ok(())
}
