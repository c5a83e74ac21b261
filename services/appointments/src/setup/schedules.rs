//! `/api/v1/prm/practitioners/{id}/schedules`

use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::NaiveDate;
use prm_domain::{PractitionerSchedule, Weekday, hhmm};
use prm_platform::{
    ApiError, ValidatedJson,
    auth::Caller,
    fields::FieldErrors,
    list::{ListResponse, Paging},
};
use prm_store::ScheduleFilter;
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::examples;
use crate::{AppState, error::api_error, reports::actor};

/// Weekly working hours of a practitioner at a location.
///
/// `start_time` and `end_time` are trimmed of surrounding whitespace before they are read.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"location_id": "0193a5e4-0000-7000-8000-000000000001", "day_of_week": 0, "start_time": "09:00", "end_time": "17:00", "slot_minutes": 30, "valid_from": "2026-12-01", "valid_to": null}))]
pub struct ScheduleRequest {
    /// Where the practitioner works these hours.
    pub location_id: Uuid,
    /// 0 = Monday … 6 = Sunday.
    #[schema(minimum = 0, maximum = 6)]
    pub day_of_week: i64,
    /// Local time at the location, HH:MM (24-hour).
    #[schema(
        pattern = r"^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*([01][0-9]|2[0-3]):[0-5][0-9][\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub start_time: String,
    /// Local time at the location, HH:MM (24-hour); after `start_time`.
    #[schema(
        pattern = r"^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*([01][0-9]|2[0-3]):[0-5][0-9][\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub end_time: String,
    /// Slot length in minutes (5–480); must divide the working period exactly.
    #[schema(minimum = 5, maximum = 480)]
    pub slot_minutes: i64,
    /// First day the schedule applies (inclusive), `YYYY-MM-DD`; omit for no start date.
    pub valid_from: Option<NaiveDate>,
    /// Last day the schedule applies (inclusive), `YYYY-MM-DD`; omit for no end.
    pub valid_to: Option<NaiveDate>,
}

impl ScheduleRequest {
    fn into_schedule(
        self,
        id: Uuid,
        practitioner_id: Uuid,
    ) -> Result<PractitionerSchedule, ApiError> {
        let mut errors = FieldErrors::default();
        let day = errors.check("day_of_week", Weekday::new(self.day_of_week));
        let start = errors.check("start_time", hhmm::parse(self.start_time.trim()));
        let end = errors.check("end_time", hhmm::parse(self.end_time.trim()));
        let slot = errors.check(
            "slot_minutes",
            u32::try_from(self.slot_minutes).map_err(|_| "slot_minutes must be between 5 and 480"),
        );
        errors.finish()?;
        let (Some(day_of_week), Some(start_time), Some(end_time), Some(slot_minutes)) =
            (day, start, end, slot)
        else {
            return Err(ApiError::internal(anyhow::anyhow!(
                "field errors were not collected"
            )));
        };
        PractitionerSchedule::validate(
            start_time,
            end_time,
            slot_minutes,
            self.valid_from,
            self.valid_to,
        )
        .map_err(|e| ApiError::invalid_field(e.field(), e.to_string()))?;
        Ok(PractitionerSchedule {
            id,
            practitioner_id,
            location_id: self.location_id,
            day_of_week,
            start_time,
            end_time,
            slot_minutes,
            valid_from: self.valid_from,
            valid_to: self.valid_to,
        })
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ScheduleQuery {
    /// Only schedules at this location.
    #[param(example = "01930000-0000-7000-8000-000000000001")]
    pub location_id: Option<Uuid>,
    /// 0 = Monday … 6 = Sunday.
    #[param(example = 0)]
    #[param(minimum = 0, maximum = 6)]
    pub day_of_week: Option<i64>,
}

fn unknown_location(e: prm_store::StoreError) -> ApiError {
    match e {
        prm_store::StoreError::MissingReference => {
            ApiError::invalid_field("location_id", "no location has this id")
        }
        other => api_error(other),
    }
}

/// Add a weekly schedule
///
/// 409 `schedule_overlap` when it overlaps another of the practitioner's.
#[utoipa::path(post, operation_id = "create_schedule", path = "/api/v1/prm/practitioners/{id}/schedules", tag = "clinic set-up",
    params(("id" = Uuid, Path, description = "Practitioner id", example = "01930000-0000-7000-8000-000000000101")), request_body = ScheduleRequest, security(("api_key" = [])),
    responses((status = 201, description = "The schedule as created; `Location` header has its URL", body = PractitionerSchedule), (status = 404, body = prm_platform::error::Problem, example = json!(examples::practitioner_not_found())),
        (status = 409, body = prm_platform::error::Problem, example = json!(examples::schedule_overlap())), (status = 422, body = prm_platform::error::Problem)))]
#[post("/{id}/schedules")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: ValidatedJson<ScheduleRequest>,
) -> Result<HttpResponse, ApiError> {
    let schedule = body.into_inner().into_schedule(Uuid::now_v7(), *id)?;
    let created = state
        .store
        .audited(&actor(caller))
        .save_schedule(&schedule, false)
        .await
        .map_err(unknown_location)?;
    Ok(HttpResponse::Created()
        .insert_header((
            "Location",
            format!("/api/v1/prm/practitioners/{}/schedules/{}", id, created.id),
        ))
        .json(created))
}

/// List a practitioner's schedules.
#[utoipa::path(get, operation_id = "list_schedules", path = "/api/v1/prm/practitioners/{id}/schedules", tag = "clinic set-up",
    params(("id" = Uuid, Path, description = "Practitioner id", example = "01930000-0000-7000-8000-000000000101"), ScheduleQuery, Paging), security(("api_key" = [])),
    responses((status = 200, description = "One page of the practitioner's schedules, by weekday and start time", body = ListResponse<PractitionerSchedule>, example = json!(examples::schedule_list())), (status = 404, body = prm_platform::error::Problem, example = json!(examples::practitioner_not_found())),
        (status = 422, description = "limit, offset or day_of_week out of range (the problem names it)", body = prm_platform::error::Problem)))]
#[get("/{id}/schedules")]
pub async fn list(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    filter: web::Query<ScheduleQuery>,
    paging: web::Query<Paging>,
) -> Result<HttpResponse, ApiError> {
    let page = paging.page()?;
    let day_of_week = filter
        .day_of_week
        .map(Weekday::new)
        .transpose()
        .map_err(|e| ApiError::invalid_field("day_of_week", e.to_string()))?;
    let filter = ScheduleFilter {
        location_id: filter.location_id,
        day_of_week,
    };
    let paged = state
        .store
        .list_schedules(*id, &filter, crate::store_page(page))
        .await
        .map_err(api_error)?;
    Ok(HttpResponse::Ok().json(ListResponse::new(paged.items, paged.total, page)))
}

/// Get one schedule.
#[utoipa::path(get, operation_id = "get_schedule", path = "/api/v1/prm/practitioners/{id}/schedules/{schedule_id}", tag = "clinic set-up",
    params(("id" = Uuid, Path, description = "Practitioner id", example = "01930000-0000-7000-8000-000000000101"), ("schedule_id" = Uuid, Path, description = "Schedule id", example = "01930000-0000-7000-8001-000000000101")), security(("api_key" = [])),
    responses((status = 200, description = "The schedule", body = PractitionerSchedule), (status = 404, body = prm_platform::error::Problem, example = json!(examples::schedule_not_found()))))]
#[get("/{id}/schedules/{schedule_id}")]
pub async fn get_one(
    state: web::Data<AppState>,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (practitioner_id, schedule_id) = *path;
    Ok(HttpResponse::Ok().json(
        state
            .store
            .get_schedule(practitioner_id, schedule_id)
            .await
            .map_err(api_error)?,
    ))
}

/// Replace a schedule.
#[utoipa::path(put, operation_id = "update_schedule", path = "/api/v1/prm/practitioners/{id}/schedules/{schedule_id}", tag = "clinic set-up",
    params(("id" = Uuid, Path, description = "Practitioner id", example = "01930000-0000-7000-8000-000000000101"), ("schedule_id" = Uuid, Path, description = "Schedule id", example = "01930000-0000-7000-8001-000000000101")), request_body = ScheduleRequest, security(("api_key" = [])),
    responses((status = 200, description = "The schedule as replaced", body = PractitionerSchedule), (status = 404, body = prm_platform::error::Problem, example = json!(examples::schedule_not_found())),
        (status = 409, body = prm_platform::error::Problem, example = json!(examples::schedule_overlap())), (status = 422, body = prm_platform::error::Problem)))]
#[put("/{id}/schedules/{schedule_id}")]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    body: ValidatedJson<ScheduleRequest>,
) -> Result<HttpResponse, ApiError> {
    let (practitioner_id, schedule_id) = *path;
    let schedule = body
        .into_inner()
        .into_schedule(schedule_id, practitioner_id)?;
    Ok(HttpResponse::Ok().json(
        state
            .store
            .audited(&actor(caller))
            .save_schedule(&schedule, true)
            .await
            .map_err(unknown_location)?,
    ))
}

/// Delete a schedule. Booked appointments are not affected.
#[utoipa::path(delete, operation_id = "delete_schedule", path = "/api/v1/prm/practitioners/{id}/schedules/{schedule_id}", tag = "clinic set-up",
    params(("id" = Uuid, Path, description = "Practitioner id", example = "01930000-0000-7000-8000-000000000101"), ("schedule_id" = Uuid, Path, description = "Schedule id", example = "01930000-0000-7000-8001-000000000101")), security(("api_key" = [])),
    responses((status = 204, description = "Deleted; no body"), (status = 404, body = prm_platform::error::Problem, example = json!(examples::schedule_not_found()))))]
#[delete("/{id}/schedules/{schedule_id}")]
pub async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (practitioner_id, schedule_id) = *path;
    state
        .store
        .audited(&actor(caller))
        .delete_schedule(practitioner_id, schedule_id)
        .await
        .map_err(api_error)?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create)
        .service(list)
        .service(get_one)
        .service(update)
        .service(remove);
}

#[derive(OpenApi)]
#[openapi(
    paths(create, list, get_one, update, remove),
    components(schemas(ScheduleRequest, PractitionerSchedule))
)]
pub struct Doc;
