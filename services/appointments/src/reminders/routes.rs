//! `GET /api/v1/prm/appointments/{id}/reminders`: the appointment's reminder jobs, for
//! staff who want to know what was (or will be) sent and why not.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use prm_domain::events::ReminderKind;
use prm_platform::{ApiError, error::Problem};
use prm_store::reminders::ReminderJob;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::{
    AppState,
    booking::{BookingError, examples},
};

/// One scheduled message of an appointment.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReminderJobView {
    /// The job's id; REMINDER_DUE's `job_id`, and the id of the message conversations sends.
    pub id: Uuid,
    /// `reminder`, `follow_up` or `no_show`.
    pub kind: ReminderKind,
    /// The rule a reminder came from (`1d@10:00`, `30m`); null for the other kinds.
    #[schema(example = "1d@10:00")]
    pub rule: Option<String>,
    /// When it is (or was) due, UTC.
    #[schema(value_type = String, example = "2026-12-06T15:00:00Z")]
    pub due_at: DateTime<Utc>,
    /// `scheduled`, `sent`, `skipped` or `cancelled`.
    #[schema(
        example = "scheduled",
        pattern = "^(scheduled|sent|skipped|cancelled)$"
    )]
    pub status: String,
    /// Why it was not sent (`late`, `appointment_cancelled`, `rescheduled`, `replaced`,
    /// `appointment_<status>`); null while scheduled and when sent.
    #[schema(example = json!(null))]
    pub outcome: Option<String>,
    /// How often a runner picked it up.
    pub attempts: u32,
    /// When it last changed, UTC.
    #[schema(value_type = String)]
    pub updated_at: DateTime<Utc>,
}

impl From<ReminderJob> for ReminderJobView {
    fn from(j: ReminderJob) -> Self {
        Self {
            id: j.id,
            kind: j.kind,
            rule: j.rule,
            due_at: j.due_at,
            status: j.status.as_str().to_owned(),
            outcome: j.outcome,
            attempts: j.attempts,
            updated_at: j.updated_at,
        }
    }
}

/// The appointment's reminder jobs, by due time.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReminderJobList {
    /// The jobs, earliest due first.
    pub items: Vec<ReminderJobView>,
}

/// The 200 example: a reminder sent, a follow-up scheduled.
fn example() -> serde_json::Value {
    serde_json::json!({"items": [
        {"id": "0193a5e4-5555-7000-8000-000000000001", "kind": "reminder", "rule": "1d@10:00",
         "due_at": "2026-12-06T15:00:00Z", "status": "sent", "outcome": null, "attempts": 1,
         "updated_at": "2026-12-06T15:00:02Z"},
        {"id": "0193a5e4-5555-7000-8000-000000000002", "kind": "follow_up", "rule": null,
         "due_at": "2026-12-21T14:00:00Z", "status": "scheduled", "outcome": null, "attempts": 0,
         "updated_at": "2026-12-07T16:05:00Z"}
    ]})
}

/// The reminders, follow-up and no-show messages of an appointment
///
/// What is scheduled, what was sent, and why a job was skipped or called off.
#[utoipa::path(get, operation_id = "list_appointment_reminders", path = "/api/v1/prm/appointments/{id}/reminders", tag = "booking",
    params(("id" = Uuid, Path, description = "Appointment id", example = "0193a5e4-4444-7000-8000-000000000001")), security(("api_key" = [])),
    responses((status = 200, description = "The appointment's jobs, by due time", body = ReminderJobList, example = json!(example())), (status = 404, description = "No appointment has this id", body = Problem, example = json!(examples::appointment_not_found()))))]
#[get("/{id}/reminders")]
pub async fn list(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = *id;
    state
        .store
        .get_appointment(id)
        .await
        .map_err(BookingError::from)?;
    let jobs = state
        .store
        .reminders_of(id)
        .await
        .map_err(BookingError::from)?;
    Ok(HttpResponse::Ok().json(ReminderJobList {
        items: jobs.into_iter().map(ReminderJobView::from).collect(),
    }))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list);
}

#[derive(OpenApi)]
#[openapi(
    paths(list),
    components(schemas(ReminderJobView, ReminderJobList, ReminderKind))
)]
pub struct Doc;
