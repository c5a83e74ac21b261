//! The booking rules: one function per use case. Handlers call these and only render.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use prm_domain::{
    Appointment, AppointmentStatus, Channel, Locale, Location, Practitioner, Weekday, calendar,
    hhmm,
    scheduling::{
        BusyInterval, Clinic, RankedSlot, Selection, SlotKey, SlotPreferences, SlotQuery,
        clarify_message, find_slots as search_slots, no_slots_message, parse_selection,
        rejection_message, render_offer, schedule_slot_at,
    },
};
use prm_platform::{ApiError, FieldError};
use prm_store::{AppointmentFilter, Conflict, NewAppointment, Page, Paged, StoreError, outbox};
use uuid::Uuid;

use super::{
    events::{self, Parties},
    offers::{self, OfferedSlotRecord, StoredOffer},
    views::*,
};
use crate::{
    AppState,
    error::api_error,
    setup::{FieldErrors, no_control_characters, optional_multiline_text},
};

fn state_error(e: prm_state::StateError) -> ApiError {
    if e.is_unavailable() {
        ApiError::unavailable("Conversation state is not reachable; retry shortly.")
    } else {
        ApiError::internal(e)
    }
}

fn outbox_error(e: outbox::OutboxError) -> ApiError {
    match e {
        outbox::OutboxError::Db(db) => api_error(StoreError::from(db)),
        other => ApiError::internal(other),
    }
}

// ---------------------------------------------------------------- search

struct SearchInput {
    department: String,
    preferences: SlotPreferences,
    limit: usize,
    from_date: Option<NaiveDate>,
    locale: Locale,
    exclude: Vec<SlotKey>,
}

struct SearchResult {
    slots: Vec<RankedSlot>,
    views: Vec<SlotView>,
    message: String,
    locations: Vec<Location>,
    location_fallback: bool,
}

async fn search(state: &AppState, input: SearchInput) -> Result<SearchResult, ApiError> {
    let store = &state.store;
    let practitioners = store
        .practitioners_in_department(&input.department)
        .await
        .map_err(api_error)?;
    let ids: Vec<Uuid> = practitioners.iter().map(|p| p.id).collect();
    let schedules = store.schedules_of(&ids).await.map_err(api_error)?;
    let location_ids: Vec<Uuid> = schedules
        .iter()
        .map(|s| s.location_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let locations = store
        .locations_by_ids(&location_ids)
        .await
        .map_err(api_error)?;

    let now = Utc::now();
    // Busy time is fetched with a day of margin each side: zones are at most ±14 h from UTC.
    let window_start = input
        .from_date
        .map_or(now, |d| d.and_time(chrono::NaiveTime::MIN).and_utc())
        .min(now);
    let busy_from = window_start - TimeDelta::days(1);
    let busy_to = input
        .from_date
        .map_or(now, |d| d.and_time(chrono::NaiveTime::MIN).and_utc())
        .max(now)
        + TimeDelta::days(i64::from(state.booking.window_days) + 2);
    let mut busy: Vec<BusyInterval> = store
        .active_appointments_between(&ids, busy_from, busy_to)
        .await
        .map_err(api_error)?
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
    query.limit = input.limit;
    query.from_date = input.from_date;
    query.window_days = state.booking.window_days;
    query.min_notice = state.booking.min_notice;
    query.exclude = input.exclude;
    let offer = search_slots(&clinic, &query);

    let (views, message) = render_slots(input.locale, &offer.slots, &clinic);
    Ok(SearchResult {
        slots: offer.slots,
        views,
        message,
        locations,
        location_fallback: offer.location_fallback,
    })
}

/// The slots as the API shows them, and the WhatsApp message listing them.
pub(crate) fn render_slots(
    locale: Locale,
    slots: &[RankedSlot],
    clinic: &Clinic<'_>,
) -> (Vec<SlotView>, String) {
    let rendered = render_offer(locale, slots, clinic);
    let views = slots
        .iter()
        .zip(rendered.texts)
        .enumerate()
        .filter_map(|(i, (slot, text))| {
            let practitioner = clinic
                .practitioners
                .iter()
                .find(|p| p.id == slot.slot.practitioner_id)?;
            let location = clinic
                .locations
                .iter()
                .find(|l| l.id == slot.slot.location_id)?;
            Some(SlotView {
                index: u32::try_from(i + 1).unwrap_or(u32::MAX),
                start: slot.local_start,
                end: slot.local_end,
                practitioner: SlotPractitioner {
                    id: practitioner.id,
                    name: practitioner.name.clone(),
                    specialty: practitioner.specialty.clone(),
                },
                location: SlotLocation {
                    id: location.id,
                    name: location.name.clone(),
                },
                score: slot.score,
                text,
            })
        })
        .collect();
    let message = if slots.is_empty() {
        no_slots_message(locale)
    } else {
        rendered.message
    };
    (views, message)
}

fn parse_preferences(
    p: Option<PreferencesRequest>,
    errors: &mut Vec<FieldError>,
) -> SlotPreferences {
    let p = p.unwrap_or_default();
    let day_of_week = p.day_of_week.and_then(|d| {
        Weekday::new(d)
            .map_err(|e| errors.push(FieldError::new("preferences.day_of_week", e.to_string())))
            .ok()
    });
    let time_of_day = p.time_of_day.as_deref().and_then(|t| {
        hhmm::parse(t.trim())
            .map_err(|e| errors.push(FieldError::new("preferences.time_of_day", e)))
            .ok()
    });
    SlotPreferences {
        location_id: p.location_id,
        day_of_week,
        time_of_day,
        practitioner_id: p.practitioner_id,
    }
}

fn parse_locale(raw: Option<&str>, default: Locale, errors: &mut Vec<FieldError>) -> Locale {
    match raw.map(str::parse::<Locale>) {
        None => default,
        Some(Ok(l)) => l,
        Some(Err(e)) => {
            errors.push(FieldError::new("locale", e));
            default
        }
    }
}

/// A referenced record: `Some` when found, `None` (with a field error) when unknown.
fn found<T>(
    result: Result<T, StoreError>,
    field: &str,
    what: &str,
    errors: &mut Vec<FieldError>,
) -> Result<Option<T>, ApiError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(StoreError::NotFound(_)) => {
            errors.push(FieldError::new(field, format!("no {what} has this id")));
            Ok(None)
        }
        Err(e) => Err(api_error(e)),
    }
}

/// A search window must lie in the calendar the suite stores (years 1 to 9999), with
/// the day of margin each side that busy time is fetched with.
fn check_window_start(from_date: NaiveDate, window_days: u32, errors: &mut Vec<FieldError>) {
    use prm_domain::calendar::{FIRST_DAY, LAST_DAY};
    let first = FIRST_DAY + TimeDelta::days(1);
    let last = LAST_DAY - TimeDelta::days(i64::from(window_days) + 2);
    if !(first..=last).contains(&from_date) {
        errors.push(FieldError::new(
            "from_date",
            format!("must be between {first} and {last}"),
        ));
    }
}

/// `find-slots`: ranked free slots, remembered for the conversation when one is given.
pub async fn find_slots(
    state: &AppState,
    req: FindSlotsRequest,
) -> Result<FindSlotsResponse, ApiError> {
    let mut errors = Vec::new();
    let department = req.department.trim().to_owned();
    if department.is_empty() || department.chars().count() > 100 {
        errors.push(FieldError::new("department", "must be 1 to 100 characters"));
    } else if let Err(e) = no_control_characters(&department, false) {
        errors.push(FieldError::new("department", e));
    }
    let limit = match req.limit {
        None => prm_domain::scheduling::DEFAULT_LIMIT,
        Some(l) if (1..=prm_domain::scheduling::MAX_LIMIT as i64).contains(&l) => l as usize,
        Some(_) => {
            errors.push(FieldError::new(
                "limit",
                format!(
                    "must be between 1 and {}",
                    prm_domain::scheduling::MAX_LIMIT
                ),
            ));
            prm_domain::scheduling::DEFAULT_LIMIT
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
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }

    let result = search(
        state,
        SearchInput {
            department: department.clone(),
            preferences,
            limit,
            from_date: req.from_date,
            locale,
            exclude: vec![],
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
                created_at: Utc::now(),
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

fn records(slots: &[RankedSlot]) -> Vec<OfferedSlotRecord> {
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
async fn remember(
    state: &AppState,
    offer: &StoredOffer,
    result: &SearchResult,
) -> Result<(), ApiError> {
    offers::save(state.state.as_ref(), offer, state.booking.offer_ttl)
        .await
        .map_err(state_error)?;
    let envelope = events::slots_offered(
        offer.conversation_id,
        offer.patient_id,
        &offer.department,
        &result.views,
        &result.locations,
        &result.message,
    );
    let txn = state.store.begin().await.map_err(api_error)?;
    events::OUTBOX
        .enqueue(&txn, &envelope, prm_bus::current_traceparent())
        .await
        .map_err(outbox_error)?;
    txn.commit().await.map_err(|e| api_error(e.into()))?;
    state.notify_outbox();
    Ok(())
}

// ---------------------------------------------------------------- selection

/// What `select-slot` did.
pub enum Selected {
    /// Booked now (`replayed = false`) or earlier for the same offer (`true`).
    Booked {
        appointment: AppointmentView,
        replayed: bool,
    },
    Reply(SelectionReply),
}

pub async fn select_slot(state: &AppState, req: SelectSlotRequest) -> Result<Selected, ApiError> {
    let offer = offers::load(state.state.as_ref(), req.conversation_id)
        .await
        .map_err(state_error)?
        .ok_or_else(no_current_offer)?;
    let offered: Vec<_> = offer.slots.iter().map(|s| s.local_start).collect();
    match parse_selection(&req.text, &offered) {
        Selection::Chosen(index) => {
            let Some(slot) = offer.slots.get(index.saturating_sub(1)) else {
                return Ok(Selected::Reply(clarify(&offer)));
            };
            let patient_id = offer.patient_id.ok_or_else(|| {
                ApiError::unprocessable(
                    "patient_required",
                    "The offer was made without a patient_id; it cannot be booked.",
                )
            })?;
            let booking_key = format!("offer:{}", offer.offer_id);
            if let Some(existing) = state
                .store
                .appointment_by_booking_key(&booking_key)
                .await
                .map_err(api_error)?
            {
                return Ok(Selected::Booked {
                    appointment: view(state, existing).await?,
                    replayed: true,
                });
            }
            let input = BookingInput {
                patient_id,
                practitioner_id: slot.practitioner_id,
                location_id: slot.location_id,
                start: slot.start,
                conversation_id: Some(offer.conversation_id),
                channel: Some(Channel::Whatsapp),
                reason: None,
                notes: None,
                booking_key: Some(booking_key.clone()),
            };
            match book(state, input).await {
                Ok(appointment) => Ok(Selected::Booked {
                    appointment,
                    replayed: false,
                }),
                Err(e) if e.status().as_u16() == 409 => {
                    // A concurrent identical request may have won: return its appointment.
                    match state
                        .store
                        .appointment_by_booking_key(&booking_key)
                        .await
                        .map_err(api_error)?
                    {
                        Some(existing) => Ok(Selected::Booked {
                            appointment: view(state, existing).await?,
                            replayed: true,
                        }),
                        None => Err(e),
                    }
                }
                Err(e) => Err(e),
            }
        }
        Selection::Rejected => {
            let result = search(
                state,
                SearchInput {
                    department: offer.department.clone(),
                    preferences: offer.preferences,
                    limit: offer.slots.len().max(1),
                    from_date: offer.from_date,
                    locale: offer.locale,
                    exclude: offer.offered.clone(),
                },
            )
            .await?;
            let mut offered = offer.offered.clone();
            offered.extend(result.slots.iter().map(RankedSlot::key));
            let next = StoredOffer {
                offer_id: Uuid::now_v7(),
                slots: records(&result.slots),
                offered,
                created_at: Utc::now(),
                ..offer
            };
            remember(state, &next, &result).await?;
            let message = format!("{}\n{}", rejection_message(next.locale), result.message);
            Ok(Selected::Reply(SelectionReply {
                outcome: SelectionOutcome::Rejected,
                message,
                slots: Some(result.views),
            }))
        }
        Selection::Clarify => Ok(Selected::Reply(clarify(&offer))),
    }
}

fn clarify(offer: &StoredOffer) -> SelectionReply {
    SelectionReply {
        outcome: SelectionOutcome::Clarify,
        message: clarify_message(offer.locale, offer.slots.len()),
        slots: None,
    }
}

// ---------------------------------------------------------------- booking

/// Longest booking or cancellation reason (the column's width).
const MAX_REASON_CHARS: usize = 1000;
/// Longest notes (the column's width).
const MAX_NOTES_CHARS: usize = 4000;

pub struct BookingInput {
    pub patient_id: Uuid,
    pub practitioner_id: Uuid,
    pub location_id: Uuid,
    pub start: DateTime<Utc>,
    pub conversation_id: Option<Uuid>,
    pub channel: Option<Channel>,
    pub reason: Option<String>,
    pub notes: Option<String>,
    pub booking_key: Option<String>,
}

/// Loads patient, practitioner and location, naming the request field of any that is unknown.
async fn parties(
    state: &AppState,
    patient_id: Uuid,
    practitioner_id: Uuid,
    location_id: Uuid,
) -> Result<Parties, ApiError> {
    let mut errors = Vec::new();
    let patient = found(
        state.store.get_patient(patient_id).await,
        "patient_id",
        "patient",
        &mut errors,
    )?;
    let practitioner = found(
        state.store.get_practitioner(practitioner_id).await,
        "practitioner_id",
        "practitioner",
        &mut errors,
    )?;
    let location = found(
        state.store.get_location(location_id).await,
        "location_id",
        "location",
        &mut errors,
    )?;
    match (patient, practitioner, location) {
        (Some(patient), Some(practitioner), Some(location)) if errors.is_empty() => Ok(Parties {
            patient,
            practitioner,
            location,
        }),
        _ => Err(ApiError::validation(errors)),
    }
}

/// Checks that `start` is a bookable slot of the practitioner at the location and
/// returns its end.
async fn bookable_slot(
    state: &AppState,
    practitioner: &Practitioner,
    location: &Location,
    start: DateTime<Utc>,
) -> Result<DateTime<Utc>, ApiError> {
    if !practitioner.active {
        return Err(ApiError::unprocessable(
            "inactive_practitioner",
            "The practitioner is not taking appointments.",
        ));
    }
    let schedules = state
        .store
        .schedules_of(&[practitioner.id])
        .await
        .map_err(api_error)?;
    let slot = schedule_slot_at(&schedules, location, practitioner.id, start)
        .filter(|slot| slot.location_id == location.id)
        .ok_or_else(|| {
            ApiError::unprocessable(
                "outside_schedule",
                "The start is not one of the practitioner's slots at this location (see find-slots).",
            )
        })?;
    if slot.start < Utc::now() + state.booking.min_notice {
        return Err(ApiError::unprocessable(
            "too_soon",
            format!(
                "The slot is in the past or within the minimum notice of {} minutes.",
                state.booking.min_notice.num_minutes()
            ),
        ));
    }
    Ok(slot.end)
}

/// Books a slot: validations first, then one transaction that writes the
/// appointment and its APPOINTMENT_CREATED event. The schema decides races.
pub async fn book(state: &AppState, input: BookingInput) -> Result<AppointmentView, ApiError> {
    let parties = parties(
        state,
        input.patient_id,
        input.practitioner_id,
        input.location_id,
    )
    .await?;
    let end = bookable_slot(state, &parties.practitioner, &parties.location, input.start).await?;
    let new = NewAppointment {
        id: Uuid::now_v7(),
        status: AppointmentStatus::Booked,
        start: input.start,
        end,
        patient_id: parties.patient.id,
        practitioner_id: parties.practitioner.id,
        location_id: parties.location.id,
        conversation_id: input.conversation_id,
        channel: input.channel,
        reason: input.reason,
        notes: input.notes,
        booking_key: input.booking_key,
    };
    let txn = state.store.begin().await.map_err(api_error)?;
    let appointment = state
        .store
        .insert_appointment(&txn, &new)
        .await
        .map_err(api_error)?;
    events::OUTBOX
        .enqueue(
            &txn,
            &events::created(&appointment, &parties),
            prm_bus::current_traceparent(),
        )
        .await
        .map_err(outbox_error)?;
    txn.commit().await.map_err(|e| api_error(e.into()))?;
    state.notify_outbox();
    tracing::info!(appointment_id = %appointment.id, practitioner_id = %appointment.practitioner_id, "appointment booked");
    Ok(AppointmentView::new(appointment, Some(&parties.location)))
}

pub async fn book_explicit(
    state: &AppState,
    req: BookAppointmentRequest,
) -> Result<AppointmentView, ApiError> {
    let mut errors = FieldErrors::default();
    let start = errors.check("start", calendar::instant(&req.start));
    let reason = errors.check(
        "reason",
        optional_multiline_text(req.reason.as_deref(), MAX_REASON_CHARS),
    );
    let notes = errors.check(
        "notes",
        optional_multiline_text(req.notes.as_deref(), MAX_NOTES_CHARS),
    );
    errors.finish()?;
    let Some(start) = start else {
        return Err(ApiError::internal(anyhow::anyhow!(
            "field errors were not collected"
        )));
    };
    book(
        state,
        BookingInput {
            patient_id: req.patient_id,
            practitioner_id: req.practitioner_id,
            location_id: req.location_id,
            start,
            conversation_id: req.conversation_id,
            channel: req.channel,
            reason: reason.flatten(),
            notes: notes.flatten(),
            booking_key: None,
        },
    )
    .await
}

// ---------------------------------------------------------------- reading and changing

async fn view(state: &AppState, a: Appointment) -> Result<AppointmentView, ApiError> {
    // The location gives the times their offset; a database that fails here fails the
    // request rather than answer in UTC as if nothing happened.
    let location = state
        .store
        .get_location(a.location_id)
        .await
        .map_err(api_error)?;
    Ok(AppointmentView::new(a, Some(&location)))
}

pub async fn get(state: &AppState, id: Uuid) -> Result<AppointmentView, ApiError> {
    let a = state.store.get_appointment(id).await.map_err(api_error)?;
    view(state, a).await
}

pub async fn list(
    state: &AppState,
    filter: &AppointmentFilter,
    page: Page,
) -> Result<Paged<AppointmentView>, ApiError> {
    let paged = state
        .store
        .list_appointments(filter, page)
        .await
        .map_err(api_error)?;
    let ids: Vec<Uuid> = paged
        .items
        .iter()
        .map(|a| a.location_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let locations = state
        .store
        .locations_by_ids(&ids)
        .await
        .map_err(api_error)?;
    let items = paged
        .items
        .into_iter()
        .map(|a| {
            let location = locations.iter().find(|l| l.id == a.location_id);
            AppointmentView::new(a, location)
        })
        .collect();
    Ok(Paged {
        items,
        total: paged.total,
    })
}

/// `select-slot` for a conversation whose offer expired or never existed.
pub(crate) fn no_current_offer() -> ApiError {
    ApiError::not_found("Slot offer").with_detail(
        "This conversation has no current slot offer: it expired (offers last 15 minutes) or was never made. Search again with find-slots.",
    )
}

pub(crate) fn invalid_transition(from: AppointmentStatus, to: &str) -> ApiError {
    ApiError::conflict(
        "invalid_transition",
        format!("A {from} appointment cannot be {to}."),
    )
}

/// How often a change is decided again when the appointment changed between its read
/// and its write (`Conflict::Stale`) before the client is told to retry.
///
/// Every stale refusal means another change to the row was committed in between, so a
/// request can lose only as often as there are competing writes. With 5 attempts, one of
/// ten simultaneous cancellations racing five notes edits (six writes) was sometimes told
/// `concurrent_update` instead of `invalid_transition`; 16 covers any realistic crowd on
/// one appointment (front desk, patient, journeys), and an attempt costs a read.
const FRESH_READ_ATTEMPTS: usize = 16;

/// Runs `attempt` (read, decide, write under a check that the row is as read) until it
/// is not refused as stale. Each attempt sees the appointment as the competing change
/// left it: a second concurrent cancellation then gets the 409 a later one would.
async fn on_fresh_read<T, F, Fut>(mut attempt: F) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreOrApi>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt().await {
            Ok(done) => return Ok(done),
            Err(StoreOrApi::Store(StoreError::Conflict(Conflict::Stale)))
                if tries < FRESH_READ_ATTEMPTS =>
            {
                continue;
            }
            Err(StoreOrApi::Store(e)) => return Err(api_error(e)),
            Err(StoreOrApi::Api(e)) => return Err(e),
        }
    }
}

/// An attempt's failure: a storage error, which [`on_fresh_read`] may retry, or a
/// decided API answer.
enum StoreOrApi {
    Store(StoreError),
    Api(ApiError),
}

impl From<ApiError> for StoreOrApi {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

impl From<StoreError> for StoreOrApi {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

pub async fn update(
    state: &AppState,
    id: Uuid,
    req: UpdateAppointmentRequest,
) -> Result<AppointmentView, ApiError> {
    if let Some(start) = &req.start {
        calendar::instant(start).map_err(|e| ApiError::invalid_field("start", e.to_string()))?;
    }
    let saved = on_fresh_read(|| update_once(state, id, &req)).await?;
    view(state, saved).await
}

async fn update_once(
    state: &AppState,
    id: Uuid,
    req: &UpdateAppointmentRequest,
) -> Result<Appointment, StoreOrApi> {
    let current = state.store.get_appointment(id).await?;
    let mut next = current.clone();
    let mut rescheduled_parties = None;
    if req.status == Some(AppointmentStatus::Cancelled) {
        return Err(ApiError::invalid_field(
            "status",
            "use POST /api/v1/prm/appointments/{id}/cancel to cancel",
        )
        .into());
    }
    if let Some(start) = req.start {
        if !current.status.can_be_rescheduled() {
            return Err(invalid_transition(current.status, "rescheduled").into());
        }
        let location_id = req.location_id.unwrap_or(current.location_id);
        let parties = parties(
            state,
            current.patient_id,
            current.practitioner_id,
            location_id,
        )
        .await?;
        let start = start.with_timezone(&Utc);
        next.end = bookable_slot(state, &parties.practitioner, &parties.location, start).await?;
        next.start = start;
        next.location_id = location_id;
        rescheduled_parties = Some(parties);
    } else if req.location_id.is_some() {
        return Err(ApiError::invalid_field(
            "location_id",
            "give a new start together with the location",
        )
        .into());
    }
    if let Some(status) = req.status {
        if !current.status.can_become(status) {
            return Err(invalid_transition(current.status, status.as_str()).into());
        }
        next.status = status;
    }
    if let Some(notes) = req.notes.as_deref() {
        // Blank notes clear them.
        next.notes = optional_multiline_text(Some(notes), MAX_NOTES_CHARS)
            .map_err(|e| ApiError::invalid_field("notes", e))?;
    }
    // Everything the event needs is read before the transaction: inside it, only
    // the transaction's own connection may be used.
    let previous_location = match &rescheduled_parties {
        Some(_) => Some(
            state
                .store
                .get_location(current.location_id)
                .await
                .map_err(api_error)?,
        ),
        None => None,
    };
    let txn = state.store.begin().await?;
    let saved = state
        .store
        .update_appointment(&txn, &current, &next, None)
        .await?;
    if let (Some(parties), Some(previous_location)) = (&rescheduled_parties, &previous_location) {
        events::OUTBOX
            .enqueue(
                &txn,
                &events::rescheduled(&current, &saved, parties, previous_location),
                prm_bus::current_traceparent(),
            )
            .await
            .map_err(outbox_error)?;
    }
    txn.commit().await.map_err(StoreError::from)?;
    state.notify_outbox();
    Ok(saved)
}

pub async fn cancel(
    state: &AppState,
    id: Uuid,
    req: CancelAppointmentRequest,
) -> Result<AppointmentView, ApiError> {
    let (saved, location) = on_fresh_read(|| cancel_once(state, id, &req)).await?;
    tracing::info!(appointment_id = %saved.id, "appointment cancelled");
    Ok(AppointmentView::new(saved, Some(&location)))
}

async fn cancel_once(
    state: &AppState,
    id: Uuid,
    req: &CancelAppointmentRequest,
) -> Result<(Appointment, Location), StoreOrApi> {
    let current = state.store.get_appointment(id).await?;
    if !current.status.can_become(AppointmentStatus::Cancelled) {
        return Err(invalid_transition(current.status, "cancelled").into());
    }
    let by = req.cancelled_by.as_deref().unwrap_or("clinic");
    if !["patient", "clinic", "system"].contains(&by) {
        return Err(
            ApiError::invalid_field("cancelled_by", "must be patient, clinic or system").into(),
        );
    }
    let reason = optional_multiline_text(req.reason.as_deref(), MAX_REASON_CHARS)
        .map_err(|e| ApiError::invalid_field("reason", e))?;
    let parties = parties(
        state,
        current.patient_id,
        current.practitioner_id,
        current.location_id,
    )
    .await?;
    let mut next = current.clone();
    next.status = AppointmentStatus::Cancelled;
    let txn = state.store.begin().await?;
    let saved = state
        .store
        .update_appointment(&txn, &current, &next, reason.clone())
        .await?;
    events::OUTBOX
        .enqueue(
            &txn,
            &events::cancelled(&saved, &parties, reason, by),
            prm_bus::current_traceparent(),
        )
        .await
        .map_err(outbox_error)?;
    txn.commit().await.map_err(StoreError::from)?;
    state.notify_outbox();
    Ok((saved, parties.location))
}
