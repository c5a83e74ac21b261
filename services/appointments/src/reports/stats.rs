//! `GET /api/v1/prm/stats`: the clinic's numbers over a range of local days.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Days, NaiveDate, TimeDelta, TimeZone as _, Utc};
use prm_domain::TimeZone;
use prm_platform::{ApiError, fields::FieldErrors};
use prm_store::stats::{ClinicStats, StatsQuery};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::{AppState, error::api_error};

/// The longest range one request may cover.
pub const MAX_DAYS: u64 = 366;
/// The range when none is given: the last 30 days, today included.
pub const DEFAULT_DAYS: u64 = 30;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// First day counted (in `timezone`); default: 29 days before `to`.
    #[param(value_type = Option<String>, format = Date, example = "2026-11-08")]
    pub from: Option<NaiveDate>,
    /// Last day counted, included (in `timezone`); default: today.
    #[param(value_type = Option<String>, format = Date, example = "2026-12-07")]
    pub to: Option<NaiveDate>,
    /// IANA time zone of the days; default `UTC`.
    #[param(example = "America/Bogota")]
    pub timezone: Option<String>,
}

/// Messages of one day on one channel.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DailyMessagesView {
    /// The day, in the request's time zone.
    #[schema(value_type = String, format = Date, example = "2026-12-07")]
    pub date: NaiveDate,
    /// `whatsapp`, `sms`, `email`, `phone` or `webchat`.
    #[schema(example = "whatsapp")]
    pub channel: String,
    /// From patients.
    pub inbound: u64,
    /// To patients (bot and staff).
    pub outbound: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MessageStats {
    /// Messages from patients in the range.
    pub inbound: u64,
    /// Messages to patients (bot and staff) in the range.
    pub outbound: u64,
    /// Days without messages are left out; ordered by date, then channel.
    pub per_day: Vec<DailyMessagesView>,
}

/// Distinct phones that wrote, relative to now (not to the range).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ActivePatients {
    /// Phones with a message in the last 24 hours.
    pub last_24h: u64,
    /// Phones with a message in the last 7 days.
    pub last_7d: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BotResponseStats {
    /// Median seconds from a patient's (first unanswered) message to the bot's next
    /// message in the conversation; null when the bot answered nothing in the range.
    pub median_seconds: Option<f64>,
    /// How many answers the median is over.
    pub responses: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IntakeStats {
    /// Conversations opened in the range.
    pub conversations_opened: u64,
    /// Of those, the ones now at stage `triage`, `offering` or `booked`.
    pub reached_triage: u64,
    /// `reached_triage / conversations_opened`, 0 to 1; null when none was opened.
    pub completion_rate: Option<f64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AppointmentStats {
    /// Appointments created in the range (any channel, whatever became of them).
    pub bookings: u64,
    /// Appointments now cancelled whose last change (the cancellation, unless notes were
    /// edited after it) is in the range.
    pub cancellations: u64,
    /// Appointments marked `noshow` that start in the range.
    pub no_shows: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReminderStats {
    /// Reminders (the one before the appointment, not follow-ups) sent in the range.
    pub sent: Option<u64>,
    /// Of the reminded appointments, those the patient confirmed (answered "1").
    pub confirmed: Option<u64>,
    /// `confirmed / sent`; null when nothing was sent.
    pub confirm_rate: Option<f64>,
}

/// The clinic's numbers over `[from, to]` (local days in `timezone`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "from": "2026-11-08", "to": "2026-12-07", "timezone": "America/Bogota",
    "messages": {"inbound": 120, "outbound": 150, "per_day": [
        {"date": "2026-12-07", "channel": "whatsapp", "inbound": 12, "outbound": 15}]},
    "active_patients": {"last_24h": 4, "last_7d": 19},
    "bot_response": {"median_seconds": 2.5, "responses": 98},
    "intake": {"conversations_opened": 30, "reached_triage": 21, "completion_rate": 0.7},
    "appointments": {"bookings": 18, "cancellations": 2, "no_shows": 1},
    "reminders": {"sent": 15, "confirmed": 12, "confirm_rate": 0.8}
}))]
pub struct StatsResponse {
    /// First day counted.
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    /// Last day counted (included).
    #[schema(value_type = String, format = Date)]
    pub to: NaiveDate,
    /// The IANA time zone the days are in.
    pub timezone: String,
    pub messages: MessageStats,
    pub active_patients: ActivePatients,
    pub bot_response: BotResponseStats,
    pub intake: IntakeStats,
    pub appointments: AppointmentStats,
    pub reminders: ReminderStats,
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

impl StatsResponse {
    fn new(from: NaiveDate, to: NaiveDate, timezone: &TimeZone, s: ClinicStats) -> Self {
        Self {
            from,
            to,
            timezone: timezone.name().to_owned(),
            messages: MessageStats {
                inbound: s.inbound_messages,
                outbound: s.outbound_messages,
                per_day: s
                    .messages_per_day
                    .into_iter()
                    .map(|d| DailyMessagesView {
                        date: d.date,
                        channel: d.channel,
                        inbound: d.inbound,
                        outbound: d.outbound,
                    })
                    .collect(),
            },
            active_patients: ActivePatients {
                last_24h: s.active_patients_24h,
                last_7d: s.active_patients_7d,
            },
            bot_response: BotResponseStats {
                median_seconds: s.median_bot_response_seconds,
                responses: s.bot_responses,
            },
            intake: IntakeStats {
                conversations_opened: s.conversations_opened,
                reached_triage: s.conversations_triaged,
                completion_rate: ratio(s.conversations_triaged, s.conversations_opened),
            },
            appointments: AppointmentStats {
                bookings: s.bookings,
                cancellations: s.cancellations,
                no_shows: s.no_shows,
            },
            reminders: ReminderStats {
                sent: Some(s.reminders_sent),
                confirmed: Some(s.reminders_confirmed),
                confirm_rate: ratio(s.reminders_confirmed, s.reminders_sent),
            },
        }
    }
}

/// The first instant of `day` in `tz` (the first after a gap when midnight is skipped).
fn start_of(day: NaiveDate, tz: &TimeZone) -> DateTime<Utc> {
    let midnight = day.and_time(chrono::NaiveTime::MIN);
    let tz = tz.tz();
    (0..=3)
        .find_map(|h| {
            tz.from_local_datetime(&(midnight + TimeDelta::hours(h)))
                .earliest()
        })
        .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc))
}

/// The clinic's numbers
///
/// Messages per day and channel, active patients, the bot's median response time,
/// intake completion, bookings, cancellations and no-shows over a range of days
/// (default: the last 30, in UTC), and how many reminded patients confirmed.
#[utoipa::path(get, operation_id = "clinic_stats", path = "/api/v1/prm/stats", tag = "reports",
    params(StatsParams), security(("api_key" = [])),
    responses((status = 200, description = "The figures", body = StatsResponse),
        (status = 401, body = prm_platform::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown time zone, `from` after `to`, or more than 366 days", body = prm_platform::error::Problem, content_type = "application/problem+json")))]
#[get("")]
pub async fn stats(
    state: web::Data<AppState>,
    params: web::Query<StatsParams>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let mut errors = FieldErrors::default();
    let timezone: Option<TimeZone> = match params.timezone.as_deref().map(str::trim) {
        None | Some("") => Some(chrono_tz::UTC.into()),
        Some(name) => errors.check("timezone", name.parse()),
    };
    errors.finish()?;
    let timezone = timezone.unwrap_or_else(|| chrono_tz::UTC.into());
    let today = now.with_timezone(&timezone.tz()).date_naive();
    let to = params.to.unwrap_or(today);
    let from = params
        .from
        .or_else(|| to.checked_sub_days(Days::new(DEFAULT_DAYS - 1)))
        .unwrap_or(to);
    let mut errors = FieldErrors::default();
    let end = to.checked_add_days(Days::new(1));
    if end.is_none() {
        errors.push("to", "is out of range");
    }
    if from > to {
        errors.push("from", "must not be after `to`");
    } else if (to - from).num_days() >= MAX_DAYS as i64 {
        errors.push("from", format!("the range is at most {MAX_DAYS} days"));
    }
    errors.finish()?;
    let Some(end) = end else {
        return Err(ApiError::internal(anyhow::anyhow!(
            "field errors were not collected"
        )));
    };
    let figures = state
        .store
        .clinic_stats(&StatsQuery {
            from: start_of(from, &timezone),
            to: start_of(end, &timezone),
            timezone,
            now,
        })
        .await
        .map_err(api_error)?;
    Ok(HttpResponse::Ok().json(StatsResponse::new(from, to, &timezone, figures)))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(stats);
}

#[derive(OpenApi)]
#[openapi(
    paths(stats),
    components(schemas(
        StatsResponse,
        MessageStats,
        DailyMessagesView,
        ActivePatients,
        BotResponseStats,
        IntakeStats,
        AppointmentStats,
        ReminderStats
    )),
    tags((name = "reports", description = "What the clinic reads out: appointments as CSV, the journey's numbers, and the audit trail of changes made through the clinic API."))
)]
pub struct Doc;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_starts_at_local_midnight() {
        let bogota: TimeZone = chrono_tz::America::Bogota.into();
        let day = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap_or_default();
        assert_eq!(
            start_of(day, &bogota).to_rfc3339(),
            "2026-12-07T05:00:00+00:00"
        );
        // Santiago skipped midnight on 2026-09-06: the day starts at 01:00 local.
        let santiago: TimeZone = chrono_tz::America::Santiago.into();
        let day = NaiveDate::from_ymd_opt(2026, 9, 6).unwrap_or_default();
        assert_eq!(
            start_of(day, &santiago).to_rfc3339(),
            "2026-09-06T04:00:00+00:00"
        );
    }
}
