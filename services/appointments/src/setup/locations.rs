//! `/api/v1/prm/locations`

use actix_web::{HttpResponse, delete, get, post, put, web};
use prm_domain::{Location, PhoneNumber};
use prm_platform::{
    ApiError, ValidatedJson,
    auth::Caller,
    fields::{FieldErrors, non_blank, optional_text, text_filter},
    limits::{ADDRESS_CHARS, NAME_CHARS, PHONE_CHARS},
    list::{ListResponse, Paging},
};
use prm_store::LocationFilter;
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::examples;
use crate::{AppState, error::api_error, reports::actor};

/// A location as clinics send it, for create and replace.
///
/// Text fields are trimmed of surrounding whitespace before they are checked and stored,
/// and must not contain control characters.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"name": "Sede Norte", "timezone": "America/Bogota", "address": "Calle 100 # 15-20", "city": "Bogotá", "phone": "+5716012345"}))]
pub struct LocationRequest {
    /// Display name, as patients see it in offers.
    #[schema(
        max_length = 200,
        pattern = r"^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000](?:[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub name: String,
    /// IANA time-zone name.
    pub timezone: String,
    /// Street address; omit or null for none.
    #[schema(
        max_length = 500,
        pattern = r"^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*(?:[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000](?:[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?)?[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub address: Option<String>,
    /// City; omit or null for none.
    #[schema(
        max_length = 200,
        pattern = r"^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*(?:[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000](?:[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?)?[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub city: Option<String>,
    /// Any common notation; stored as E.164 (`DEFAULT_COUNTRY_CODE` for local numbers). Omit or null for none.
    #[schema(
        max_length = 40,
        pattern = r"^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*(?:(?:\+[1-9](?:[ .()\u00A0-]*[0-9]){7,14}|[1-9](?:[ .()\u00A0-]*[0-9]){7,11})[ .()\u00A0-]*)?[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub phone: Option<String>,
}

impl LocationRequest {
    fn into_location(self, id: Uuid, country_code: &str) -> Result<Location, ApiError> {
        let mut errors = FieldErrors::default();
        let name = errors.check("name", non_blank(&self.name, NAME_CHARS));
        let timezone = errors.check("timezone", self.timezone.trim().parse());
        let address = errors.check(
            "address",
            optional_text(self.address.as_deref(), ADDRESS_CHARS),
        );
        let city = errors.check("city", optional_text(self.city.as_deref(), NAME_CHARS));
        let phone = errors.check(
            "phone",
            optional_text(self.phone.as_deref(), PHONE_CHARS).and_then(|p| {
                p.map(|p| PhoneNumber::parse(&p, country_code).map_err(|e| e.to_string()))
                    .transpose()
            }),
        );
        errors.finish()?;
        match (name, timezone, address, city, phone) {
            (Some(name), Some(timezone), Some(address), Some(city), Some(phone)) => Ok(Location {
                id,
                name,
                timezone,
                address,
                city,
                phone,
            }),
            _ => Err(ApiError::internal(anyhow::anyhow!(
                "field errors were not collected"
            ))),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LocationQuery {
    /// Case-insensitive part of the name.
    #[param(example = "norte")]
    #[param(
        max_length = 200,
        pattern = r"^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*(?:[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000](?:[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?)?[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub name: Option<String>,
    /// City (case-insensitive).
    #[param(example = "Bogotá")]
    #[param(
        max_length = 200,
        pattern = r"^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*(?:[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000](?:[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?)?[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub city: Option<String>,
}

/// Create a location.
#[utoipa::path(post, operation_id = "create_location", path = "/api/v1/prm/locations", tag = "clinic set-up", request_body = LocationRequest,
    security(("api_key" = [])),
    responses((status = 201, description = "The location as created; `Location` header has its URL", body = Location), (status = 422, description = "Invalid field (e.g. unknown time zone)", body = prm_platform::error::Problem),
        (status = 401, body = prm_platform::error::Problem)))]
#[post("")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: ValidatedJson<LocationRequest>,
) -> Result<HttpResponse, ApiError> {
    let location = body
        .into_inner()
        .into_location(Uuid::now_v7(), &state.default_country_code)?;
    let created = state
        .store
        .audited(&actor(caller))
        .insert_location(&location)
        .await
        .map_err(api_error)?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/prm/locations/{}", created.id)))
        .json(created))
}

/// List locations.
#[utoipa::path(get, operation_id = "list_locations", path = "/api/v1/prm/locations", tag = "clinic set-up", params(LocationQuery, Paging),
    security(("api_key" = [])), responses((status = 200, description = "One page of locations, by name", body = ListResponse<Location>, example = json!(examples::location_list())),
        (status = 422, description = "limit, offset or a filter out of range (the problem names it)", body = prm_platform::error::Problem)))]
#[get("")]
pub async fn list(
    state: web::Data<AppState>,
    filter: web::Query<LocationQuery>,
    paging: web::Query<Paging>,
) -> Result<HttpResponse, ApiError> {
    let page = paging.page()?;
    let filter = LocationFilter {
        name: text_filter("name", filter.name.as_deref())?,
        city: text_filter("city", filter.city.as_deref())?,
    };
    let paged = state
        .store
        .list_locations(&filter, crate::store_page(page))
        .await
        .map_err(api_error)?;
    Ok(HttpResponse::Ok().json(ListResponse::new(paged.items, paged.total, page)))
}

/// Get a location.
#[utoipa::path(get, operation_id = "get_location", path = "/api/v1/prm/locations/{id}", tag = "clinic set-up", params(("id" = Uuid, Path, description = "Location id", example = "01930000-0000-7000-8000-000000000001")), security(("api_key" = [])),
    responses((status = 200, description = "The location", body = Location), (status = 404, body = prm_platform::error::Problem, example = json!(examples::location_not_found()))))]
#[get("/{id}")]
pub async fn get_one(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.store.get_location(*id).await.map_err(api_error)?))
}

/// Replace a location.
#[utoipa::path(put, operation_id = "update_location", path = "/api/v1/prm/locations/{id}", tag = "clinic set-up", params(("id" = Uuid, Path, description = "Location id", example = "01930000-0000-7000-8000-000000000001")), request_body = LocationRequest,
    security(("api_key" = [])),
    responses((status = 200, description = "The location as replaced", body = Location), (status = 404, body = prm_platform::error::Problem, example = json!(examples::location_not_found())), (status = 422, body = prm_platform::error::Problem)))]
#[put("/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: ValidatedJson<LocationRequest>,
) -> Result<HttpResponse, ApiError> {
    let location = body
        .into_inner()
        .into_location(*id, &state.default_country_code)?;
    Ok(HttpResponse::Ok().json(
        state
            .store
            .audited(&actor(caller))
            .update_location(&location)
            .await
            .map_err(api_error)?,
    ))
}

/// Delete a location
///
/// Only a location that has no schedules or appointments (409 `in_use` otherwise).
#[utoipa::path(delete, operation_id = "delete_location", path = "/api/v1/prm/locations/{id}", tag = "clinic set-up", params(("id" = Uuid, Path, description = "Location id", example = "01930000-0000-7000-8000-000000000001")), security(("api_key" = [])),
    responses((status = 204, description = "Deleted; no body"), (status = 404, body = prm_platform::error::Problem, example = json!(examples::location_not_found())), (status = 409, body = prm_platform::error::Problem, example = json!(examples::location_in_use()))))]
#[delete("/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state
        .store
        .audited(&actor(caller))
        .delete_location(*id)
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
    components(schemas(LocationRequest, Location)),
    // Declared once for the four set-up documents (locations, practitioners, schedules,
    // patients) that `crate::openapi` merges.
    tags((name = "clinic set-up", description = "The clinic's records the journey books against: locations, practitioners and their weekly schedules, patients.")),
    modifiers(&TimeZoneNames)
)]
pub struct Doc;

/// `LocationRequest.timezone` lists the names the server accepts, so that every
/// schema-valid time zone is one (the server trims it first).
struct TimeZoneNames;

impl utoipa::Modify for TimeZoneNames {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{RefOr, Schema};
        let Some(RefOr::T(Schema::Object(request))) = doc
            .components
            .as_mut()
            .and_then(|c| c.schemas.get_mut("LocationRequest"))
        else {
            return;
        };
        if let Some(RefOr::T(Schema::Object(timezone))) = request.properties.get_mut("timezone") {
            timezone.enum_values = Some(
                prm_domain::TimeZone::names()
                    .map(serde_json::Value::from)
                    .collect(),
            );
        }
    }
}
