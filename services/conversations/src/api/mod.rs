//! `/api/v1/prm/conversations` (ARCHITECTURE §8): handlers extract, call one
//! application function and render.

mod stream;
pub mod templates;
pub mod views;

use std::sync::Arc;

use actix_web::{HttpResponse, get, middleware::from_fn, patch, post, web};
use prm_domain::{Channel, PhoneNumber, conversation::ConversationStatus};
use prm_platform::{
    ApiError, FieldError, ValidatedJson,
    auth::{Caller, require_api_key},
    list::{ListResponse, Page, Paging},
};
use prm_store::{Paged, audit::Actor, conversations::ConversationFilter};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::app::{App, ConversationChanges, NewConversationRequest};
use views::*;

pub const BASE_PATH: &str = "/api/v1/prm/conversations";
/// The latest messages `GET …/{id}` includes.
const DETAIL_MESSAGES: u64 = 50;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // Before the scope, whose `/{id}` would otherwise take `stream` for an id; the
    // stream also takes `?api_key=` (browsers' EventSource cannot set headers).
    cfg.service(stream::stream)
        .service(
            web::scope(BASE_PATH)
                .wrap(from_fn(require_api_key))
                .service(create)
                .service(list)
                .service(get_one)
                .service(change)
                .service(messages)
                .service(post_message)
                .service(state)
                .service(initialize_state),
        )
        .configure(templates::configure);
}

#[derive(OpenApi)]
#[openapi(
    paths(create, list, get_one, change, messages, post_message, state, initialize_state, stream::stream),
    components(schemas(
        ConversationView, MessageView, ConversationDetail, CreateConversationRequest,
        PatchConversationRequest, StaffMessageRequest, InitializeStateRequest, StateResponse,
        ListResponse<ConversationView>, ListResponse<MessageView>
    )),
    tags((name = "conversations", description = "One conversation per patient phone: messages in and out, the booking journey's state, staff takeover and a live inbox."))
)]
pub struct Doc;

/// The store's view of a page.
fn store_page(page: Page) -> prm_store::Page {
    prm_store::Page {
        limit: page.limit,
        offset: page.offset,
    }
}

/// One page of conversations.
pub type ConversationList = ListResponse<ConversationView>;
/// One page of messages, oldest first.
pub type MessageList = ListResponse<MessageView>;

fn list_of<T, V: From<T> + ToSchema>(paged: Paged<T>, page: Page) -> ListResponse<V> {
    ListResponse::new(
        paged.items.into_iter().map(V::from).collect(),
        paged.total,
        page,
    )
}

type AppData = web::Data<Arc<App>>;

/// The problems these routes document, rendered by the same code that answers them.
mod problems {
    use prm_platform::ApiError;
    use serde_json::Value;
    use uuid::Uuid;

    use crate::app::ConversationError;

    fn render(e: ConversationError) -> Value {
        serde_json::to_value(ApiError::from(e).problem()).unwrap_or(Value::Null)
    }

    pub fn not_found() -> Value {
        render(ConversationError::NotFound)
    }

    pub fn conversation_exists() -> Value {
        render(ConversationError::Exists {
            existing: Uuid::parse_str(super::examples::CONVERSATION).ok(),
        })
    }

    pub fn conversation_closed() -> Value {
        render(ConversationError::Closed)
    }
}

/// Open a conversation for a phone
///
/// 409 `conversation_exists` (naming it) when the phone already has one that is not
/// closed.
#[utoipa::path(post, operation_id = "create_conversation", path = "/api/v1/prm/conversations", tag = "conversations",
    request_body = CreateConversationRequest, security(("api_key" = [])),
    responses(
        (status = 201, description = "Opened (CONVERSATION_OPENED is published)", body = ConversationView),
        (status = 409, description = "The phone already has an open conversation", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(problems::conversation_exists())),
        (status = 422, description = "A field is invalid", body = prm_platform::error::Problem, content_type = "application/problem+json")))]
#[post("")]
async fn create(
    app: AppData,
    caller: Caller,
    body: ValidatedJson<CreateConversationRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner();
    let c = app
        .create_conversation(
            NewConversationRequest {
                phone: req.phone,
                channel: req.channel,
                patient_id: req.patient_id,
                locale: req.locale,
            },
            &actor(caller),
        )
        .await?;
    Ok(HttpResponse::Created().json(ConversationView::from(c)))
}

/// List conversations, newest `last_message_at` first.
#[utoipa::path(get, operation_id = "list_conversations", path = "/api/v1/prm/conversations", tag = "conversations",
    params(ConversationQuery, Paging), security(("api_key" = [])),
    responses((status = 200, description = "One page of conversations", body = ListResponse<ConversationView>,
            example = json!({"items": [examples::conversation()], "total": 1, "limit": 20, "offset": 0})),
        (status = 422, description = "A filter is invalid", body = prm_platform::error::Problem, content_type = "application/problem+json")))]
#[get("")]
async fn list(
    app: AppData,
    query: web::Query<ConversationQuery>,
    paging: web::Query<Paging>,
) -> Result<HttpResponse, ApiError> {
    let page = paging.page()?;
    let filter = filter_of(&query, &app.config.default_country_code)?;
    let paged = app
        .store
        .list_conversations(&filter, store_page(page))
        .await
        .map_err(crate::app::ConversationError::from)?;
    Ok(HttpResponse::Ok().json(list_of::<_, ConversationView>(paged, page)))
}

fn filter_of(q: &ConversationQuery, country_code: &str) -> Result<ConversationFilter, ApiError> {
    let mut errors = Vec::new();
    let mut filter = ConversationFilter {
        patient_id: q.patient_id,
        ..ConversationFilter::default()
    };
    if let Some(phone) = q.phone.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        match PhoneNumber::parse(phone, country_code) {
            Ok(p) => filter.phone = Some(p),
            Err(e) => errors.push(FieldError::new("phone", e.to_string())),
        }
    }
    if let Some(status) = q.status.as_deref() {
        match status.parse::<ConversationStatus>() {
            Ok(s) => filter.status = Some(s),
            Err(e) => errors.push(FieldError::new("status", e)),
        }
    }
    if let Some(stage) = q.stage.as_deref() {
        match stage.parse() {
            Ok(s) => filter.stage = Some(s),
            Err(e) => errors.push(FieldError::new("stage", e)),
        }
    }
    if let Some(channel) = q.channel.as_deref() {
        match channel.parse::<Channel>() {
            Ok(c) => filter.channel = Some(c),
            Err(e) => errors.push(FieldError::new("channel", e)),
        }
    }
    if let Some(paused) = q.bot_paused.as_deref() {
        match paused {
            "true" => filter.bot_paused = Some(true),
            "false" => filter.bot_paused = Some(false),
            _ => errors.push(FieldError::new("bot_paused", "must be true or false")),
        }
    }
    if errors.is_empty() {
        Ok(filter)
    } else {
        Err(ApiError::validation(errors))
    }
}

/// A conversation with its latest 50 messages, oldest first.
#[utoipa::path(get, operation_id = "get_conversation", path = "/api/v1/prm/conversations/{id}", tag = "conversations",
    params(("id" = Uuid, Path, description = "Conversation id", example = "0193a5e4-4444-7000-8000-000000000001")), security(("api_key" = [])),
    responses((status = 200, description = "The conversation and its latest messages", body = ConversationDetail),
        (status = 404, description = "No such conversation", body = prm_platform::error::Problem, content_type = "application/problem+json", example = json!(problems::not_found()))))]
#[get("/{id}")]
async fn get_one(app: AppData, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let c = app.conversation(*id).await?;
    let latest = app
        .store
        .latest_messages(c.id, DETAIL_MESSAGES)
        .await
        .map_err(crate::app::ConversationError::from)?;
    Ok(HttpResponse::Ok().json(ConversationDetail {
        conversation: c.into(),
        messages: latest.into_iter().map(MessageView::from).collect(),
    }))
}

/// Change status, bot pause, locale, patient or assignee
///
/// Closing publishes CONVERSATION_CLOSED; resuming the bot of an escalated conversation returns the
/// journey to where it stood.
#[utoipa::path(patch, operation_id = "update_conversation", path = "/api/v1/prm/conversations/{id}", tag = "conversations",
    params(("id" = Uuid, Path, description = "Conversation id", example = "0193a5e4-4444-7000-8000-000000000001")), request_body = PatchConversationRequest, security(("api_key" = [])),
    responses((status = 200, description = "The conversation as changed", body = ConversationView),
        (status = 404, description = "No such conversation", body = prm_platform::error::Problem, content_type = "application/problem+json", example = json!(problems::not_found())),
        (status = 409, description = "Reopening would give the phone two open conversations", body = prm_platform::error::Problem, content_type = "application/problem+json", example = json!(problems::conversation_exists())),
        (status = 422, description = "A field is invalid", body = prm_platform::error::Problem, content_type = "application/problem+json")))]
#[patch("/{id}")]
async fn change(
    app: AppData,
    caller: Caller,
    id: web::Path<Uuid>,
    body: ValidatedJson<PatchConversationRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner();
    let c = app
        .change_conversation(
            *id,
            ConversationChanges {
                status: req.status,
                bot_paused: req.bot_paused,
                locale: req.locale,
                patient_id: req.patient_id,
                assignee: req.assignee,
            },
            &actor(caller),
        )
        .await?;
    Ok(HttpResponse::Ok().json(ConversationView::from(c)))
}

/// The conversation's messages, oldest first.
#[utoipa::path(get, operation_id = "list_conversation_messages", path = "/api/v1/prm/conversations/{id}/messages", tag = "conversations",
    params(("id" = Uuid, Path, description = "Conversation id", example = "0193a5e4-4444-7000-8000-000000000001"), Paging), security(("api_key" = [])),
    responses((status = 200, description = "One page of messages", body = ListResponse<MessageView>,
            example = json!({"items": [examples::inbound_message(), examples::outbound_message()], "total": 2, "limit": 20, "offset": 0})),
        (status = 404, description = "No such conversation", body = prm_platform::error::Problem, content_type = "application/problem+json", example = json!(problems::not_found()))))]
#[get("/{id}/messages")]
async fn messages(
    app: AppData,
    id: web::Path<Uuid>,
    paging: web::Query<Paging>,
) -> Result<HttpResponse, ApiError> {
    let page = paging.page()?;
    let c = app.conversation(*id).await?;
    let paged = app
        .store
        .list_messages(c.id, store_page(page))
        .await
        .map_err(crate::app::ConversationError::from)?;
    Ok(HttpResponse::Ok().json(list_of::<_, MessageView>(paged, page)))
}

/// Send a message written by staff
///
/// Recorded, then sent to the patient on the conversation's channel (also while the bot
/// is paused).
#[utoipa::path(post, operation_id = "send_staff_message", path = "/api/v1/prm/conversations/{id}/messages", tag = "conversations",
    params(("id" = Uuid, Path, description = "Conversation id", example = "0193a5e4-4444-7000-8000-000000000001")), request_body = StaffMessageRequest, security(("api_key" = [])),
    responses((status = 201, description = "Recorded and handed to the sender", body = MessageView, example = json!(examples::staff_message())),
        (status = 404, description = "No such conversation", body = prm_platform::error::Problem, content_type = "application/problem+json", example = json!(problems::not_found())),
        (status = 409, description = "The conversation is closed (`conversation_closed`)", body = prm_platform::error::Problem, content_type = "application/problem+json", example = json!(problems::conversation_closed())),
        (status = 422, description = "A field is invalid", body = prm_platform::error::Problem, content_type = "application/problem+json")))]
#[post("/{id}/messages")]
async fn post_message(
    app: AppData,
    caller: Caller,
    id: web::Path<Uuid>,
    body: ValidatedJson<StaffMessageRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner();
    let m = app
        .staff_message(*id, req.body, req.media, &actor(caller))
        .await?;
    Ok(HttpResponse::Created().json(MessageView::from(m)))
}

/// The conversation state of the journey
///
/// Rebuilt from the database (`rebuilt: true`) when Redis has none.
#[utoipa::path(get, operation_id = "get_conversation_state", path = "/api/v1/prm/conversations/{id}/state", tag = "conversations",
    params(("id" = Uuid, Path, description = "Conversation id", example = "0193a5e4-4444-7000-8000-000000000001")), security(("api_key" = [])),
    responses((status = 200, description = "The state", body = StateResponse),
        (status = 404, description = "No such conversation", body = prm_platform::error::Problem, content_type = "application/problem+json", example = json!(problems::not_found()))))]
#[get("/{id}/state")]
async fn state(app: AppData, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let view = app.state(*id).await?;
    Ok(HttpResponse::Ok().json(StateResponse::from(view)))
}

/// (Re)start the intake.
#[utoipa::path(post, operation_id = "initialize_conversation_state", path = "/api/v1/prm/conversations/{id}/state/initialize", tag = "conversations",
    params(("id" = Uuid, Path, description = "Conversation id", example = "0193a5e4-4444-7000-8000-000000000001")), request_body(content = Option<InitializeStateRequest>, description = "Optional"), security(("api_key" = [])),
    responses((status = 201, description = "The intake (re)started", body = StateResponse),
        (status = 404, description = "No such conversation", body = prm_platform::error::Problem, content_type = "application/problem+json", example = json!(problems::not_found())),
        (status = 409, description = "The conversation is closed", body = prm_platform::error::Problem, content_type = "application/problem+json", example = json!(problems::conversation_closed())),
        (status = 422, description = "A field name is not an intake field", body = prm_platform::error::Problem, content_type = "application/problem+json")))]
#[post("/{id}/state/initialize")]
async fn initialize_state(
    app: AppData,
    caller: Caller,
    id: web::Path<Uuid>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    // The body is optional (absent or `null`); when there is one it must be valid JSON.
    let req = if body.iter().all(u8::is_ascii_whitespace) {
        InitializeStateRequest::default()
    } else {
        prm_platform::extract::parse_json::<Option<InitializeStateRequest>>(&body)?
            .unwrap_or_default()
    };
    let view = app
        .initialize_state(*id, req.required_fields, &actor(caller))
        .await?;
    Ok(HttpResponse::Created().json(StateResponse::from(view)))
}

/// The audit trail's actor of a clinic API request.
fn actor(caller: Caller) -> Actor {
    Actor {
        key_id: caller.key_id.as_str().to_owned(),
        request_id: caller.request_id,
    }
}
