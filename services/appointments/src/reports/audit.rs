//! `GET /api/v1/prm/audit`: the audit trail, newest first. Read only: there is no route
//! that changes or removes an entry (and the database refuses to).

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, FixedOffset, Utc};
use prm_platform::{
    ApiError,
    fields::FieldErrors,
    list::{ListResponse, Paging},
};
use prm_store::audit::{AuditEntry, AuditFilter};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;

use crate::{AppState, error::api_error, store_page};

/// The entity types entries name.
pub const ENTITY_TYPES: [&str; 7] = [
    "appointment",
    "conversation",
    "message",
    "location",
    "practitioner",
    "schedule",
    "patient",
];

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// `appointment`, `conversation`, `message`, `location`, `practitioner`, `schedule` or `patient`.
    #[param(
        example = "appointment",
        pattern = "^(appointment|conversation|message|location|practitioner|schedule|patient)$"
    )]
    pub entity_type: Option<String>,
    /// Only entries about this record.
    #[param(example = "0193a5e4-4444-7000-8000-000000000001")]
    pub entity_id: Option<Uuid>,
    /// Only changes made with this API key (its id, `key_` and 12 hex characters).
    #[param(example = "key_0b20e0781328", pattern = "^key_[0-9a-f]{12}$")]
    pub actor: Option<String>,
    /// At or after (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime, example = "2026-12-01T00:00:00Z")]
    pub from: Option<DateTime<FixedOffset>>,
    /// Before (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime, example = "2026-12-31T00:00:00Z")]
    pub to: Option<DateTime<FixedOffset>>,
}

/// `key_` and 12 lowercase hex characters, as `prm_platform::auth` names a key.
fn is_key_id(s: &str) -> bool {
    s.strip_prefix("key_").is_some_and(|hex| {
        hex.len() == 12
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// An entry as documented (a rescheduling).
fn audit_example() -> Value {
    serde_json::json!({
        "id": "0193a5e4-9999-7000-8000-000000000001",
        "occurred_at": "2026-12-07T15:04:05.123Z",
        "actor": "key_0b20e0781328",
        "action": "appointment.updated",
        "entity_type": "appointment",
        "entity_id": "0193a5e4-4444-7000-8000-000000000001",
        "before": {"id": "0193a5e4-4444-7000-8000-000000000001", "status": "booked", "start": "2026-12-07T15:00:00Z", "end": "2026-12-07T15:30:00Z", "has_notes": false},
        "after": {"id": "0193a5e4-4444-7000-8000-000000000001", "status": "booked", "start": "2026-12-09T16:00:00Z", "end": "2026-12-09T16:30:00Z", "has_notes": true},
        "request_id": "3f2c1b7e-8f7d-4a8e-9a55-0d5b8f0c1e2a"
    })
}

/// One change made through the clinic API.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = audit_example)]
pub struct AuditEntryView {
    /// The entry's id (UUID v7).
    pub id: Uuid,
    /// When the change was committed (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: DateTime<Utc>,
    /// The API key's id (`key_` + the first 12 hex characters of its SHA-256), never the key.
    pub actor: String,
    /// `<entity type>.<verb>`: `appointment.created|updated|cancelled`,
    /// `conversation.created|updated|state_initialized`, `message.sent`,
    /// `location|practitioner|patient.created|updated|deleted`, `practitioner.deactivated`,
    /// `schedule.created|updated|deleted`.
    pub action: String,
    /// `appointment`, `conversation`, `message`, `location`, `practitioner`, `schedule` or `patient`.
    pub entity_type: String,
    /// The changed record's id.
    pub entity_id: Uuid,
    /// The record before the change (appointments and conversations; ids, statuses,
    /// times and flags only: no names, phones, message bodies or health data); null otherwise.
    #[schema(value_type = Option<Object>)]
    pub before: Option<Value>,
    /// The record after the change, as `before`.
    #[schema(value_type = Option<Object>)]
    pub after: Option<Value>,
    /// The request's `X-Request-Id`.
    pub request_id: Option<String>,
}

impl From<AuditEntry> for AuditEntryView {
    fn from(e: AuditEntry) -> Self {
        Self {
            id: e.id,
            occurred_at: e.occurred_at,
            actor: e.actor,
            action: e.action,
            entity_type: e.entity_type,
            entity_id: e.entity_id,
            before: e.before,
            after: e.after,
            request_id: e.request_id,
        }
    }
}

/// The audit trail
///
/// Every change made through the clinic API, newest first: who (the API key's id), what,
/// when, and for appointments and conversations the record before and after.
#[utoipa::path(get, operation_id = "list_audit_entries", path = "/api/v1/prm/audit", tag = "reports",
    params(AuditQuery, Paging), security(("api_key" = [])),
    responses((status = 200, description = "One page of entries, newest first", body = ListResponse<AuditEntryView>, example = json!({"items": [audit_example()], "total": 1, "limit": 20, "offset": 0})),
        (status = 401, body = prm_platform::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A filter is invalid", body = prm_platform::error::Problem, content_type = "application/problem+json")))]
#[get("")]
pub async fn list(
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
    paging: web::Query<Paging>,
) -> Result<HttpResponse, ApiError> {
    let page = paging.page()?;
    let mut errors = FieldErrors::default();
    let entity_type = query.entity_type.as_deref();
    if let Some(t) = entity_type
        && !ENTITY_TYPES.contains(&t)
    {
        errors.push(
            "entity_type",
            format!("must be one of {}", ENTITY_TYPES.join(", ")),
        );
    }
    let actor = query.actor.as_deref();
    if let Some(a) = actor
        && !is_key_id(a)
    {
        errors.push("actor", "must be an API key id such as key_0b20e0781328");
    }
    let from = query
        .from
        .and_then(|t| errors.check("from", prm_domain::calendar::instant(&t)));
    let to = query
        .to
        .and_then(|t| errors.check("to", prm_domain::calendar::instant(&t)));
    errors.finish()?;
    let filter = AuditFilter {
        entity_type: entity_type.map(str::to_owned),
        entity_id: query.entity_id,
        actor: actor.map(str::to_owned),
        from,
        to,
    };
    let paged = state
        .store
        .list_audit(&filter, store_page(page))
        .await
        .map_err(api_error)?;
    let items = paged.items.into_iter().map(AuditEntryView::from).collect();
    Ok(HttpResponse::Ok().json(ListResponse::new(items, paged.total, page)))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list);
}

#[derive(OpenApi)]
#[openapi(paths(list), components(schemas(AuditEntryView)))]
pub struct Doc;
