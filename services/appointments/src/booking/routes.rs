//! `/api/v1/prm/appointments`: find-slots, select-slot, booking, reading, changing, cancelling.

use actix_web::{
    HttpResponse, get,
    http::header::{HeaderName, HeaderValue},
    patch, post, web,
};
use chrono::{DateTime, FixedOffset};
use prm_domain::AppointmentStatus;
use prm_platform::{
    ApiError, ValidatedJson,
    auth::Caller,
    error::Problem,
    fields::FieldErrors,
    list::{ListResponse, Paging},
};
use prm_store::AppointmentFilter;
use serde::Deserialize;
use utoipa::{
    IntoParams, Modify, OpenApi,
    openapi::{RefOr, Schema, schema::ArrayItems},
};
use uuid::Uuid;

use super::{app, examples, views::*};
use crate::{AppState, reports::actor};

/// Ranked free slots of a department, with a WhatsApp-ready message
///
/// With `conversation_id` the offer is remembered for 15 minutes for `select-slot`.
#[utoipa::path(post, operation_id = "find_slots", path = "/api/v1/prm/appointments/find-slots", tag = "booking", request_body = FindSlotsRequest,
    security(("api_key" = [])),
    responses((status = 200, description = "The ranked slots (possibly none) and the message offering them", body = FindSlotsResponse, example = json!(examples::find_slots_response())),
        (status = 422, body = Problem)))]
#[post("/find-slots")]
pub async fn find_slots(
    state: web::Data<AppState>,
    body: ValidatedJson<FindSlotsRequest>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(app::find_slots(&state, body.into_inner()).await?))
}

/// Read the patient's answer to the conversation's current offer
///
/// Books the chosen slot (201; a repeat for the same offer returns the same appointment, again 201, with
/// `Idempotent-Replayed: true`),
/// offers the next best slots (`rejected`), or asks again (`clarify`).
#[utoipa::path(post, operation_id = "select_slot", path = "/api/v1/prm/appointments/select-slot", tag = "booking", request_body = SelectSlotRequest,
    security(("api_key" = [])),
    responses((status = 201, description = "Booked. A repeat of a booked selection answers the same appointment with the header `Idempotent-Replayed: true`.", body = AppointmentView,
            headers(("Location" = String, description = "The appointment's URL"),
                ("Idempotent-Replayed" = String, description = "`true` when this answers a repeat of a selection already booked")),
            example = json!(examples::booked_appointment())),
        (status = 200, description = "Rejected (with new slots) or clarification needed", body = SelectionReply,
            examples(
                ("rejected" = (summary = "\"none of these\": the next best slots", value = json!(examples::rejected_reply()))),
                ("clarify" = (summary = "An answer that names no slot", value = json!(examples::clarify_reply()))),
            )),
        (status = 404, description = "No current offer (expired or unknown)", body = Problem, example = json!(examples::offer_not_found())),
        (status = 409, description = "The slot was taken meanwhile", body = Problem, example = json!(examples::slot_taken())), (status = 422, body = Problem)))]
#[post("/select-slot")]
pub async fn select_slot(
    state: web::Data<AppState>,
    caller: Caller,
    body: ValidatedJson<SelectSlotRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = actor(caller);
    Ok(
        match app::select_slot(&state, body.into_inner(), Some(&actor)).await? {
            app::Selected::Booked {
                appointment,
                replayed: false,
            } => created(appointment),
            app::Selected::Booked {
                appointment,
                replayed: true,
            } => {
                let mut response = created(appointment);
                response.headers_mut().insert(
                    HeaderName::from_static("idempotent-replayed"),
                    HeaderValue::from_static("true"),
                );
                response
            }
            app::Selected::Reply(reply) => HttpResponse::Ok().json(reply),
        },
    )
}

fn created(a: AppointmentView) -> HttpResponse {
    HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/prm/appointments/{}", a.id)))
        .json(a)
}

/// Book an explicit slot (front desk).
#[utoipa::path(post, operation_id = "book_appointment", path = "/api/v1/prm/appointments", tag = "booking", request_body = BookAppointmentRequest,
    security(("api_key" = [])),
    responses((status = 201, description = "The appointment as booked", body = AppointmentView, example = json!(examples::front_desk_appointment())),
        (status = 409, description = "slot_taken: the practitioner is no longer free", body = Problem, example = json!(examples::slot_taken())),
        (status = 422, description = "Unknown patient, inactive practitioner, outside the schedule, in the past", body = Problem)))]
#[post("")]
pub async fn book(
    state: web::Data<AppState>,
    caller: Caller,
    body: ValidatedJson<BookAppointmentRequest>,
) -> Result<HttpResponse, ApiError> {
    Ok(created(
        app::book_explicit(&state, body.into_inner(), &actor(caller)).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AppointmentQuery {
    /// Only this patient's appointments.
    #[param(example = "0193a5e4-2222-7000-8000-000000000001")]
    pub patient_id: Option<Uuid>,
    /// Only appointments with this practitioner.
    #[param(example = "01930000-0000-7000-8000-000000000101")]
    pub practitioner_id: Option<Uuid>,
    /// Only appointments at this location.
    #[param(example = "01930000-0000-7000-8000-000000000001")]
    pub location_id: Option<Uuid>,
    /// FHIR status, e.g. `booked`.
    #[param(value_type = Option<AppointmentStatus>, example = "booked")]
    pub status: Option<AppointmentStatus>,
    /// Starting at or after (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime, example = "2026-12-01T00:00:00-05:00")]
    pub from: Option<DateTime<FixedOffset>>,
    /// Starting before (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime, example = "2026-12-31T00:00:00-05:00")]
    pub to: Option<DateTime<FixedOffset>>,
}

/// List appointments.
#[utoipa::path(get, operation_id = "list_appointments", path = "/api/v1/prm/appointments", tag = "booking", params(AppointmentQuery, Paging),
    security(("api_key" = [])), responses((status = 200, description = "One page of appointments, by start time", body = ListResponse<AppointmentView>, example = json!(examples::appointment_list())), (status = 422, body = Problem)))]
#[get("")]
pub async fn list(
    state: web::Data<AppState>,
    query: web::Query<AppointmentQuery>,
    paging: web::Query<Paging>,
) -> Result<HttpResponse, ApiError> {
    let page = paging.page()?;
    let filter = filter_of(&query)?;
    let paged = app::list(&state, &filter, page).await?;
    Ok(HttpResponse::Ok().json(ListResponse::new(paged.items, paged.total, page)))
}

/// The list's filters (also the CSV export's).
pub fn filter_of(query: &AppointmentQuery) -> Result<AppointmentFilter, ApiError> {
    let mut errors = FieldErrors::default();
    let from = query
        .from
        .and_then(|t| errors.check("from", prm_domain::calendar::instant(&t)));
    let to = query
        .to
        .and_then(|t| errors.check("to", prm_domain::calendar::instant(&t)));
    errors.finish()?;
    Ok(AppointmentFilter {
        patient_id: query.patient_id,
        practitioner_id: query.practitioner_id,
        location_id: query.location_id,
        status: query.status,
        from,
        to,
    })
}

/// Get an appointment.
#[utoipa::path(get, operation_id = "get_appointment", path = "/api/v1/prm/appointments/{id}", tag = "booking", params(("id" = Uuid, Path, description = "Appointment id", example = "0193a5e4-4444-7000-8000-000000000001")), security(("api_key" = [])),
    responses((status = 200, description = "The appointment", body = AppointmentView, example = json!(examples::booked_appointment())), (status = 404, body = Problem, example = json!(examples::appointment_not_found()))))]
#[get("/{id}")]
pub async fn get_one(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(app::get(&state, *id).await?))
}

/// Reschedule an appointment, change its notes or move its status on
///
/// Reschedule to another free slot, change notes, or move the FHIR status on
/// (`arrived`, `fulfilled`, `noshow`, `entered-in-error`). Invalid transitions → 409.
#[utoipa::path(patch, operation_id = "update_appointment", path = "/api/v1/prm/appointments/{id}", tag = "booking", request_body = UpdateAppointmentRequest,
    params(("id" = Uuid, Path, description = "Appointment id", example = "0193a5e4-4444-7000-8000-000000000001")), security(("api_key" = [])),
    responses((status = 200, description = "The appointment as changed", body = AppointmentView, example = json!(examples::rescheduled_appointment())), (status = 404, body = Problem, example = json!(examples::appointment_not_found())),
        (status = 409, description = "invalid_transition or slot_taken", body = Problem, example = json!(examples::rescheduled_after_cancelling())), (status = 422, body = Problem)))]
#[patch("/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: ValidatedJson<UpdateAppointmentRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = actor(caller);
    Ok(HttpResponse::Ok().json(app::update(&state, *id, body.into_inner(), Some(&actor)).await?))
}

/// Cancel an appointment (409 when it is already cancelled or past cancelling).
#[utoipa::path(post, operation_id = "cancel_appointment", path = "/api/v1/prm/appointments/{id}/cancel", tag = "booking", request_body = CancelAppointmentRequest,
    params(("id" = Uuid, Path, description = "Appointment id", example = "0193a5e4-4444-7000-8000-000000000001")), security(("api_key" = [])),
    responses((status = 200, description = "The appointment, now cancelled", body = AppointmentView, example = json!(examples::cancelled_appointment())), (status = 404, body = Problem, example = json!(examples::appointment_not_found())),
        (status = 409, description = "invalid_transition: already cancelled, or past cancelling", body = Problem, example = json!(examples::cancelled_twice())), (status = 422, body = Problem)))]
#[post("/{id}/cancel")]
pub async fn cancel(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: ValidatedJson<CancelAppointmentRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = actor(caller);
    Ok(HttpResponse::Ok().json(app::cancel(&state, *id, body.into_inner(), Some(&actor)).await?))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(find_slots)
        .service(select_slot)
        .service(book)
        .service(list)
        .service(get_one)
        .service(update)
        .service(cancel);
}

#[derive(OpenApi)]
#[openapi(
    paths(find_slots, select_slot, book, list, get_one, update, cancel),
    components(schemas(
        FindSlotsRequest,
        PreferencesRequest,
        FindSlotsResponse,
        SlotView,
        SlotPractitioner,
        SlotLocation,
        SelectSlotRequest,
        SelectionReply,
        SelectionOutcome,
        BookAppointmentRequest,
        UpdateAppointmentRequest,
        CancelAppointmentRequest,
        AppointmentView
    )),
    modifiers(&SchemaExamples),
    tags((name = "booking", description = "Free slots, the patient's choice among them, and appointments: booked by the journey or the front desk, rescheduled, moved through their status, cancelled."))
)]
pub struct Doc;

/// The response schemas' examples, from `examples` (kept out of `views`, which the
/// examples are built from).
struct SchemaExamples;

impl Modify for SchemaExamples {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let Some(components) = doc.components.as_mut() else {
            return;
        };
        for (name, example) in [
            ("FindSlotsResponse", examples::find_slots_response()),
            ("SelectionReply", examples::clarify_reply()),
            ("AppointmentView", examples::booked_appointment()),
        ] {
            if let Some(RefOr::T(Schema::Object(schema))) = components.schemas.get_mut(name) {
                schema.example = Some(example);
            }
        }
        // The list's schema carries its items' schema inline.
        if let Some(RefOr::T(Schema::Object(page))) =
            components.schemas.get_mut("ListResponse_AppointmentView")
            && let Some(RefOr::T(Schema::Array(items))) = page.properties.get_mut("items")
            && let ArrayItems::RefOrSchema(item) = &mut items.items
            && let RefOr::T(Schema::Object(item)) = item.as_mut()
        {
            item.example = Some(examples::booked_appointment());
        }
    }
}
