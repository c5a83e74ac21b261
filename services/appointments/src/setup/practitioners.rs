//! `/api/v1/prm/practitioners`

use actix_web::{HttpResponse, delete, get, post, put, web};
use prm_domain::{PhoneNumber, Practitioner};
use prm_platform::{
    ApiError, ValidatedJson,
    auth::Caller,
    fields::{FieldErrors, non_blank, optional_text, text_filter},
    limits::{DEPARTMENT_CHARS, NAME_CHARS, PHONE_CHARS},
    list::{ListResponse, Paging},
};
use prm_store::PractitionerFilter;
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::examples;
use crate::{AppState, error::api_error, reports::actor};

/// A practitioner as clinics send it, for create and replace.
///
/// Text fields are trimmed of surrounding whitespace before they are checked and stored,
/// and must not contain control characters.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"name": "Dr. Ana Gómez", "specialty": "Cardiology", "phone": "+573001112233", "active": true}))]
pub struct PractitionerRequest {
    /// Display name, as patients see it in offers.
    #[schema(
        max_length = 200,
        pattern = r"^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000](?:[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub name: String,
    /// The department patients are triaged to, e.g. Cardiology.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000](?:[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub specialty: String,
    /// Any common notation; stored as E.164 (`DEFAULT_COUNTRY_CODE` for local numbers). Omit or null for none.
    #[schema(
        max_length = 40,
        pattern = r"^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*(?:(?:\+[1-9](?:[ .()\u00A0-]*[0-9]){7,14}|[1-9](?:[ .()\u00A0-]*[0-9]){7,11})[ .()\u00A0-]*)?[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub phone: Option<String>,
    /// Defaults to true.
    pub active: Option<bool>,
}

impl PractitionerRequest {
    fn into_practitioner(self, id: Uuid, country_code: &str) -> Result<Practitioner, ApiError> {
        let mut errors = FieldErrors::default();
        let name = errors.check("name", non_blank(&self.name, NAME_CHARS));
        let specialty = errors.check("specialty", non_blank(&self.specialty, DEPARTMENT_CHARS));
        let phone = errors.check(
            "phone",
            optional_text(self.phone.as_deref(), PHONE_CHARS).and_then(|p| {
                p.map(|p| PhoneNumber::parse(&p, country_code).map_err(|e| e.to_string()))
                    .transpose()
            }),
        );
        errors.finish()?;
        match (name, specialty, phone) {
            (Some(name), Some(specialty), Some(phone)) => Ok(Practitioner {
                id,
                name,
                specialty,
                phone,
                active: self.active.unwrap_or(true),
            }),
            _ => Err(ApiError::internal(anyhow::anyhow!(
                "field errors were not collected"
            ))),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PractitionerQuery {
    /// Case-insensitive part of the name.
    #[param(example = "gómez")]
    #[param(
        max_length = 200,
        pattern = r"^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*(?:[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000](?:[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?)?[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub name: Option<String>,
    /// Specialty / department, matched as find-slots matches departments: trimmed and
    /// case-insensitive (Unicode: `PEDIATRÍA` finds `Pediatría`).
    #[param(example = "cardiology")]
    #[param(
        max_length = 200,
        pattern = r"^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*(?:[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000](?:[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?)?[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub specialty: Option<String>,
    /// `true`: only active practitioners; `false`: only deactivated ones.
    #[param(example = true)]
    pub active: Option<bool>,
    /// Only practitioners with a schedule at this location.
    #[param(example = "01930000-0000-7000-8000-000000000001")]
    pub location_id: Option<Uuid>,
}

/// Create a practitioner.
#[utoipa::path(post, operation_id = "create_practitioner", path = "/api/v1/prm/practitioners", tag = "clinic set-up", request_body = PractitionerRequest,
    security(("api_key" = [])),
    responses((status = 201, description = "The practitioner as created; `Location` header has its URL", body = Practitioner), (status = 422, body = prm_platform::error::Problem)))]
#[post("")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: ValidatedJson<PractitionerRequest>,
) -> Result<HttpResponse, ApiError> {
    let practitioner = body
        .into_inner()
        .into_practitioner(Uuid::now_v7(), &state.default_country_code)?;
    let created = state
        .store
        .audited(&actor(caller))
        .insert_practitioner(&practitioner)
        .await
        .map_err(api_error)?;
    Ok(HttpResponse::Created()
        .insert_header((
            "Location",
            format!("/api/v1/prm/practitioners/{}", created.id),
        ))
        .json(created))
}

/// List practitioners.
#[utoipa::path(get, operation_id = "list_practitioners", path = "/api/v1/prm/practitioners", tag = "clinic set-up", params(PractitionerQuery, Paging),
    security(("api_key" = [])), responses((status = 200, description = "One page of practitioners, by name", body = ListResponse<Practitioner>, example = json!(examples::practitioner_list())),
        (status = 422, description = "limit, offset or a filter out of range (the problem names it)", body = prm_platform::error::Problem)))]
#[get("")]
pub async fn list(
    state: web::Data<AppState>,
    filter: web::Query<PractitionerQuery>,
    paging: web::Query<Paging>,
) -> Result<HttpResponse, ApiError> {
    let page = paging.page()?;
    let filter = PractitionerFilter {
        name: text_filter("name", filter.name.as_deref())?,
        specialty: text_filter("specialty", filter.specialty.as_deref())?,
        active: filter.active,
        location_id: filter.location_id,
    };
    let paged = state
        .store
        .list_practitioners(&filter, crate::store_page(page))
        .await
        .map_err(api_error)?;
    Ok(HttpResponse::Ok().json(ListResponse::new(paged.items, paged.total, page)))
}

/// Get a practitioner.
#[utoipa::path(get, operation_id = "get_practitioner", path = "/api/v1/prm/practitioners/{id}", tag = "clinic set-up", params(("id" = Uuid, Path, description = "Practitioner id", example = "01930000-0000-7000-8000-000000000101")), security(("api_key" = [])),
    responses((status = 200, description = "The practitioner", body = Practitioner), (status = 404, body = prm_platform::error::Problem, example = json!(examples::practitioner_not_found()))))]
#[get("/{id}")]
pub async fn get_one(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.store.get_practitioner(*id).await.map_err(api_error)?))
}

/// Replace a practitioner.
#[utoipa::path(put, operation_id = "update_practitioner", path = "/api/v1/prm/practitioners/{id}", tag = "clinic set-up", params(("id" = Uuid, Path, description = "Practitioner id", example = "01930000-0000-7000-8000-000000000101")), request_body = PractitionerRequest,
    security(("api_key" = [])),
    responses((status = 200, description = "The practitioner as replaced", body = Practitioner), (status = 404, body = prm_platform::error::Problem, example = json!(examples::practitioner_not_found())), (status = 422, body = prm_platform::error::Problem)))]
#[put("/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: ValidatedJson<PractitionerRequest>,
) -> Result<HttpResponse, ApiError> {
    let practitioner = body
        .into_inner()
        .into_practitioner(*id, &state.default_country_code)?;
    Ok(HttpResponse::Ok().json(
        state
            .store
            .audited(&actor(caller))
            .update_practitioner(&practitioner)
            .await
            .map_err(api_error)?,
    ))
}

/// Deactivate a practitioner
///
/// No new bookings; history kept. Returns the practitioner.
#[utoipa::path(delete, operation_id = "deactivate_practitioner", path = "/api/v1/prm/practitioners/{id}", tag = "clinic set-up", params(("id" = Uuid, Path, description = "Practitioner id", example = "01930000-0000-7000-8000-000000000101")), security(("api_key" = [])),
    responses((status = 200, description = "The practitioner, now inactive (`active: false`)", body = Practitioner), (status = 404, body = prm_platform::error::Problem, example = json!(examples::practitioner_not_found()))))]
#[delete("/{id}")]
pub async fn deactivate(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(
        state
            .store
            .audited(&actor(caller))
            .deactivate_practitioner(*id)
            .await
            .map_err(api_error)?,
    ))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create)
        .service(list)
        .service(get_one)
        .service(update)
        .service(deactivate);
}

#[derive(OpenApi)]
#[openapi(
    paths(create, list, get_one, update, deactivate),
    components(schemas(PractitionerRequest, Practitioner))
)]
pub struct Doc;
