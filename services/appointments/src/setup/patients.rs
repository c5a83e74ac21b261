//! `/api/v1/prm/patients`

use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::NaiveDate;
use prm_domain::{Locale, Patient, PhoneNumber};
use prm_platform::{
    ApiError, ValidatedJson,
    auth::Caller,
    fields::{FieldErrors, non_blank, text_filter},
    limits::NAME_CHARS,
    list::{ListResponse, Paging},
};
use prm_store::PatientFilter;
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::examples;
use crate::{AppState, error::api_error, reports::actor};

/// A patient as clinics send it, for create and replace.
///
/// Text fields are trimmed of surrounding whitespace before they are checked and stored,
/// and must not contain control characters.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"name": "María Pérez", "phone": "300 123 4567", "birth_date": "1988-04-12", "locale": "es"}))]
pub struct PatientRequest {
    /// Full name.
    #[schema(
        max_length = 200,
        pattern = r"^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000](?:[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub name: String,
    /// Any common notation; stored as E.164 (`DEFAULT_COUNTRY_CODE` for local numbers).
    #[schema(
        pattern = r"^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*(?:\+[1-9](?:[ .()\u00A0-]*[0-9]){7,14}|[1-9](?:[ .()\u00A0-]*[0-9]){7,11})[ .()\u00A0-]*[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub phone: String,
    /// Date of birth, `YYYY-MM-DD`; omit or null when not known.
    pub birth_date: Option<NaiveDate>,
    /// `es` or `en`.
    #[schema(pattern = r"^([eE][sS]|[eE][nN])$")]
    pub locale: Option<String>,
}

impl PatientRequest {
    /// `today` (the service clock's date in UTC) bounds the birth date.
    pub(crate) fn into_patient(
        self,
        id: Uuid,
        country_code: &str,
        today: NaiveDate,
    ) -> Result<Patient, ApiError> {
        let mut errors = FieldErrors::default();
        let name = errors.check("name", non_blank(&self.name, NAME_CHARS));
        let phone = errors.check("phone", PhoneNumber::parse(&self.phone, country_code));
        let locale = errors.check(
            "locale",
            self.locale.as_deref().map(str::parse::<Locale>).transpose(),
        );
        if let Some(birth_date) = self.birth_date
            && errors
                .check("birth_date", prm_domain::calendar::date(birth_date))
                .is_some()
            && birth_date > today
        {
            errors.push("birth_date", "must not be in the future");
        }
        errors.finish()?;
        match (name, phone, locale) {
            (Some(name), Some(phone), Some(locale)) => Ok(Patient {
                id,
                name,
                phone,
                birth_date: self.birth_date,
                locale,
            }),
            _ => Err(ApiError::internal(anyhow::anyhow!(
                "field errors were not collected"
            ))),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PatientQuery {
    /// Case-insensitive part of the name.
    #[param(example = "pérez")]
    #[param(
        max_length = 200,
        pattern = r"^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*(?:[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000](?:[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?)?[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub name: Option<String>,
    /// Phone number in any common notation.
    #[param(example = "300 123 4567")]
    #[param(
        pattern = r"^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*(?:\+[1-9](?:[ .()\u00A0-]*[0-9]){7,14}|[1-9](?:[ .()\u00A0-]*[0-9]){7,11})[ .()\u00A0-]*[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub phone: Option<String>,
}

/// Register a patient. 409 `duplicate_phone` when the number is taken.
#[utoipa::path(post, operation_id = "create_patient", path = "/api/v1/prm/patients", tag = "clinic set-up", request_body = PatientRequest,
    security(("api_key" = [])),
    responses((status = 201, description = "The patient as created; `Location` header has its URL", body = Patient), (status = 409, body = prm_platform::error::Problem, example = json!(examples::duplicate_phone())), (status = 422, body = prm_platform::error::Problem)))]
#[post("")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: ValidatedJson<PatientRequest>,
) -> Result<HttpResponse, ApiError> {
    let patient = body.into_inner().into_patient(
        Uuid::now_v7(),
        &state.default_country_code,
        state.clock.now().date_naive(),
    )?;
    let created = state
        .store
        .audited(&actor(caller))
        .insert_patient(&patient)
        .await
        .map_err(api_error)?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/prm/patients/{}", created.id)))
        .json(created))
}

/// List patients.
#[utoipa::path(get, operation_id = "list_patients", path = "/api/v1/prm/patients", tag = "clinic set-up", params(PatientQuery, Paging),
    security(("api_key" = [])), responses((status = 200, description = "One page of patients, by name", body = ListResponse<Patient>, example = json!(examples::patient_list())),
        (status = 422, description = "limit, offset or a filter out of range (the problem names it)", body = prm_platform::error::Problem)))]
#[get("")]
pub async fn list(
    state: web::Data<AppState>,
    filter: web::Query<PatientQuery>,
    paging: web::Query<Paging>,
) -> Result<HttpResponse, ApiError> {
    let page = paging.page()?;
    let phone = filter
        .phone
        .as_deref()
        .map(|p| PhoneNumber::parse(p, &state.default_country_code))
        .transpose()
        .map_err(|e| ApiError::invalid_field("phone", e.to_string()))?;
    let filter = PatientFilter {
        name: text_filter("name", filter.name.as_deref())?,
        phone,
    };
    let paged = state
        .store
        .list_patients(&filter, crate::store_page(page))
        .await
        .map_err(api_error)?;
    Ok(HttpResponse::Ok().json(ListResponse::new(paged.items, paged.total, page)))
}

/// Get a patient.
#[utoipa::path(get, operation_id = "get_patient", path = "/api/v1/prm/patients/{id}", tag = "clinic set-up", params(("id" = Uuid, Path, description = "Patient id", example = "0193a5e4-2222-7000-8000-000000000001")), security(("api_key" = [])),
    responses((status = 200, description = "The patient", body = Patient), (status = 404, body = prm_platform::error::Problem, example = json!(examples::patient_not_found()))))]
#[get("/{id}")]
pub async fn get_one(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.store.get_patient(*id).await.map_err(api_error)?))
}

/// Replace a patient.
#[utoipa::path(put, operation_id = "update_patient", path = "/api/v1/prm/patients/{id}", tag = "clinic set-up", params(("id" = Uuid, Path, description = "Patient id", example = "0193a5e4-2222-7000-8000-000000000001")), request_body = PatientRequest,
    security(("api_key" = [])),
    responses((status = 200, description = "The patient as replaced", body = Patient), (status = 404, body = prm_platform::error::Problem, example = json!(examples::patient_not_found())),
        (status = 409, body = prm_platform::error::Problem, example = json!(examples::duplicate_phone())), (status = 422, body = prm_platform::error::Problem)))]
#[put("/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: ValidatedJson<PatientRequest>,
) -> Result<HttpResponse, ApiError> {
    let patient = body.into_inner().into_patient(
        *id,
        &state.default_country_code,
        state.clock.now().date_naive(),
    )?;
    Ok(HttpResponse::Ok().json(
        state
            .store
            .audited(&actor(caller))
            .update_patient(&patient)
            .await
            .map_err(api_error)?,
    ))
}

/// Delete a patient without appointments (409 `in_use` otherwise).
#[utoipa::path(delete, operation_id = "delete_patient", path = "/api/v1/prm/patients/{id}", tag = "clinic set-up", params(("id" = Uuid, Path, description = "Patient id", example = "0193a5e4-2222-7000-8000-000000000001")), security(("api_key" = [])),
    responses((status = 204, description = "Deleted; no body"), (status = 404, body = prm_platform::error::Problem, example = json!(examples::patient_not_found())), (status = 409, body = prm_platform::error::Problem, example = json!(examples::patient_in_use()))))]
#[delete("/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state
        .store
        .audited(&actor(caller))
        .delete_patient(*id)
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
    components(schemas(PatientRequest, Patient))
)]
pub struct Doc;
