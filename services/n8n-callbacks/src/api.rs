//! `/api/v1/prm/n8n` (ARCHITECTURE §5 "n8n"): the workflows' answers. Each handler
//! takes the signed body, reads and checks its fields, calls [`Callbacks::accept`] and
//! answers 202 with the event's id.
//!
//! Authentication is the platform's [`SignedBody`]: `X-PRM-Signature: sha256=<hex
//! HMAC-SHA256 of the raw body>` keyed with `N8N_CALLBACK_SECRET`, or `Authorization:
//! Bearer <N8N_CALLBACK_SECRET>`, refused as every signed webhook of the suite is
//! (400 without either, 403 for a signature that does not match, 401 for a wrong bearer
//! secret, 503 while the secret is not configured).

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use prm_ai::IntakeField;
use prm_domain::events::{
    BookingAction, BookingActionKind, IntakeUpdated, TriageProposed, Urgency,
};
use prm_platform::{
    ApiError,
    fields::{FieldErrors, non_blank, optional_multiline_text},
    signed::{SIGNATURE_HEADER, SignatureSecret, SignedBody, invalid_signature_example},
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::app::{Accepted, Callback, Callbacks};

/// Where every callback route lives.
pub const BASE_PATH: &str = "/api/v1/prm/n8n";

/// The 503's detail while `N8N_CALLBACK_SECRET` is unset.
pub const OFF: &str = "The n8n callbacks are off: N8N_CALLBACK_SECRET is not configured.";

/// Longest texts taken: a question for the patient, a department, a reason.
const QUESTION_CHARS: usize = 1_000;
const DEPARTMENT_CHARS: usize = 100;
const REASONING_CHARS: usize = 2_000;
const REASON_CHARS: usize = 500;

type AppData = web::Data<Arc<Callbacks>>;

/// `N8N_CALLBACK_SECRET` keys `X-PRM-Signature`; the bearer token is the same secret.
pub struct CallbackSecret;

impl SignatureSecret for CallbackSecret {
    const ACCEPTS_BEARER: bool = true;
    const REJECTED: &'static str = "n8n callback rejected";

    fn secret(req: &HttpRequest) -> Result<SecretString, &'static str> {
        req.app_data::<AppData>()
            .and_then(|app| app.config.secret.clone())
            .ok_or(OFF)
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health))
        .route("/intake-response", web::post().to(intake_response))
        .route("/triage-response", web::post().to(triage_response))
        .route("/booking-response", web::post().to(booking_response));
}

#[derive(OpenApi)]
#[openapi(
    paths(health, intake_response, triage_response, booking_response),
    components(schemas(
        CallbacksHealth,
        IntakeResponseRequest,
        TriageResponseRequest,
        BookingResponseRequest,
        CallbackAccepted,
        Urgency,
        BookingActionKind
    )),
    tags((name = "n8n", description = "The n8n workflows' answers (intake, triage, booking), authenticated with N8N_CALLBACK_SECRET and turned into events."))
)]
pub struct Doc;

/// n8n's intake-response: what the workflow extracted from the patient's message.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "conversation_id": "0193a5b2-7c40-7000-8000-000000000001",
    "extracted_data": {"name": "María Pérez", "date_of_birth": "1985-04-12"},
    "next_question": "¿Cuál es el motivo de su consulta?",
    "intake_complete": false
}))]
pub struct IntakeResponseRequest {
    /// The conversation the intake request was about (from the workflow's input).
    pub conversation_id: Uuid,
    /// Intake field → value, only fields of §8 (`name`, `date_of_birth`,
    /// `chief_complaint`, `symptoms`, `allergies`, `medications`, `preferred_location`,
    /// `preferred_day_time`).
    #[schema(value_type = Object)]
    pub extracted_data: Map<String, Value>,
    /// The next question for the patient; null once nothing is missing.
    pub next_question: Option<String>,
    /// True when every required intake field is known: the journey moves on to triage.
    pub intake_complete: bool,
}

/// n8n's triage-response: the department and urgency the workflow proposes.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "conversation_id": "0193a5b2-7c40-7000-8000-000000000001",
    "department": "Cardiology",
    "confidence": 0.86,
    "urgency": "routine",
    "reasoning": "Chest pain on exertion for two weeks, no red flags."
}))]
pub struct TriageResponseRequest {
    /// The conversation the triage request was about (from the workflow's input).
    pub conversation_id: Uuid,
    /// One of the practitioners' specialties (conversations checks it, and triages
    /// with its built-in rules when the clinic has no such department).
    pub department: String,
    /// 0 – 1.
    pub confidence: Option<f64>,
    /// How soon the patient should be seen; null: not assessed.
    pub urgency: Option<Urgency>,
    /// Why, in a sentence or two, for staff; null when not given.
    pub reasoning: Option<String>,
}

/// n8n's booking-response: an action on the conversation's appointment.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "conversation_id": "0193a5b2-7c40-7000-8000-000000000001",
    "action": "cancel",
    "appointment_id": "0193a5b2-7c40-7000-8000-0000000000a1",
    "reason": "The patient cannot come"
}))]
pub struct BookingResponseRequest {
    /// The conversation the action is about.
    pub conversation_id: Uuid,
    pub action: BookingActionKind,
    /// The appointment to act on, one booked in this conversation; without it appointments ignores the action.
    pub appointment_id: Option<Uuid>,
    /// Why (e.g. for a cancellation), as the workflow gives it; null when not given.
    pub reason: Option<String>,
}

impl IntakeResponseRequest {
    fn into_callback(self) -> Result<Callback, ApiError> {
        let mut errors = FieldErrors::default();
        for field in self.extracted_data.keys() {
            if field.parse::<IntakeField>().is_err() {
                errors.push(
                    &format!("extracted_data.{}", loggable(field)),
                    "is not an intake field (name, date_of_birth, chief_complaint, symptoms, allergies, medications, preferred_location, preferred_day_time)",
                );
            }
        }
        let next_question = match self.next_question.as_deref() {
            Some(question) => errors.check(
                "next_question",
                non_blank(question, QUESTION_CHARS).map(Some),
            ),
            None => Some(None),
        };
        errors.finish()?;
        Ok(Callback::Intake(IntakeUpdated {
            conversation_id: self.conversation_id,
            extracted_data: self.extracted_data,
            next_question: next_question.flatten(),
            intake_complete: self.intake_complete,
            extracted_by: "n8n".to_owned(),
        }))
    }
}

impl TriageResponseRequest {
    fn into_callback(self) -> Result<Callback, ApiError> {
        let mut errors = FieldErrors::default();
        let department = errors.check("department", non_blank(&self.department, DEPARTMENT_CHARS));
        if let Some(confidence) = self.confidence
            && !(0.0..=1.0).contains(&confidence)
        {
            errors.push("confidence", "must be between 0 and 1");
        }
        let reasoning = errors.check(
            "reasoning",
            optional_multiline_text(self.reasoning.as_deref(), REASONING_CHARS),
        );
        errors.finish()?;
        Ok(Callback::Triage(TriageProposed {
            conversation_id: self.conversation_id,
            department: department.unwrap_or_default(),
            confidence: self.confidence,
            urgency: self.urgency,
            reasoning: reasoning.flatten(),
            proposed_by: "n8n".to_owned(),
        }))
    }
}

impl BookingResponseRequest {
    fn into_callback(self) -> Result<Callback, ApiError> {
        let mut errors = FieldErrors::default();
        let reason = errors.check(
            "reason",
            optional_multiline_text(self.reason.as_deref(), REASON_CHARS),
        );
        errors.finish()?;
        Ok(Callback::Booking(BookingAction {
            conversation_id: self.conversation_id,
            action: self.action,
            appointment_id: self.appointment_id,
            reason: reason.flatten(),
            // n8n names the conversation; its appointment must be of that conversation.
            patient_id: None,
        }))
    }
}

/// A field name from the request, as a 422 may repeat it: at most 64 characters,
/// without control characters.
fn loggable(field: &str) -> String {
    field.chars().filter(|c| !c.is_control()).take(64).collect()
}

/// The answer to an accepted callback.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "accepted", "event_id": "5b0f3c1e-8d2a-5e47-9c61-2f4a7b9d0e13"}))]
pub struct CallbackAccepted {
    /// `accepted`, or `duplicate` when the same callback (the same bytes) was accepted
    /// before: nothing new is published.
    #[schema(example = "accepted")]
    pub status: &'static str,
    /// The published event's id: the same for every retry of the same callback.
    pub event_id: Uuid,
}

impl From<Accepted> for CallbackAccepted {
    fn from(accepted: Accepted) -> Self {
        Self {
            status: if accepted.duplicate {
                "duplicate"
            } else {
                "accepted"
            },
            event_id: accepted.event_id,
        }
    }
}

/// The documented refusals, as the routes send them.
mod examples {
    use prm_domain::conversation::{ConversationStatus, Stage};
    use prm_platform::{ApiError, FieldError};
    use serde_json::Value;

    use crate::app::{CallbackError, CallbackKind};

    pub fn off() -> Value {
        ApiError::unavailable(super::OFF).example()
    }

    pub fn wrong_bearer() -> Value {
        ApiError::unauthorized("The bearer secret is not valid.").example()
    }

    pub fn missing() -> Value {
        ApiError::bad_request(format!(
            "The {} header is missing (or send Authorization: Bearer <secret>).",
            super::SIGNATURE_HEADER
        ))
        .example()
    }

    pub fn not_found() -> Value {
        ApiError::from(CallbackError::NotFound).example()
    }

    pub fn stage_passed(kind: CallbackKind) -> Value {
        ApiError::from(CallbackError::StagePassed {
            kind,
            stage: Stage::Offering,
            status: ConversationStatus::Open,
        })
        .example()
    }

    pub fn stage_passed_intake() -> Value {
        stage_passed(CallbackKind::Intake)
    }

    pub fn stage_passed_triage() -> Value {
        stage_passed(CallbackKind::Triage)
    }

    pub fn invalid_field(field: &str, message: &str) -> Value {
        ApiError::validation(vec![FieldError::new(field, message)]).example()
    }
}

/// What the callbacks accept right now (no secrets).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "ok", "service": "n8n-callbacks", "callbacks": true}))]
pub struct CallbacksHealth {
    /// Always `ok`: the service answers.
    pub status: &'static str,
    /// Always `n8n-callbacks`.
    pub service: &'static str,
    /// False while `N8N_CALLBACK_SECRET` is not configured: every callback gets 503.
    pub callbacks: bool,
}

/// The n8n callbacks are up, and whether they take callbacks (no authentication).
#[utoipa::path(
    get,
    operation_id = "n8n_health",
    path = "/api/v1/prm/n8n/health",
    tag = "n8n",
    responses((status = 200, description = "The callbacks are up, and whether N8N_CALLBACK_SECRET is configured", body = CallbacksHealth))
)]
pub async fn health(app: AppData) -> HttpResponse {
    HttpResponse::Ok().json(CallbacksHealth {
        status: "ok",
        service: "n8n-callbacks",
        callbacks: app.config.secret.is_some(),
    })
}

async fn accept(
    app: &Callbacks,
    callback: Result<Callback, ApiError>,
    body: &[u8],
) -> Result<HttpResponse, ApiError> {
    let accepted = app.accept(&callback?, body).await.map_err(ApiError::from)?;
    Ok(HttpResponse::Accepted().json(CallbackAccepted::from(accepted)))
}

/// n8n's intake-response → INTAKE_UPDATED (`extracted_by: "n8n"`).
///
/// Taken while the conversation is at stage `intake` or `triage` and not closed. The
/// same bytes sent again answer the same `event_id` (status `duplicate`), whatever the
/// conversation's stage by then.
#[utoipa::path(
    post,
    operation_id = "n8n_intake_response",
    path = "/api/v1/prm/n8n/intake-response",
    tag = "n8n",
    security(("prm_signature" = []), ("n8n_bearer" = [])),
    params(("X-PRM-Signature" = Option<String>, Header, description = "sha256=<hex HMAC-SHA256 of the raw body keyed with N8N_CALLBACK_SECRET>; or send `Authorization: Bearer <N8N_CALLBACK_SECRET>`",
        example = "sha256=3f1c0e4b9a7d2c5e8f6a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e")),
    request_body = IntakeResponseRequest,
    responses(
        (status = 202, description = "Accepted (INTAKE_UPDATED is published), or a duplicate of an accepted callback", body = CallbackAccepted),
        (status = 400, description = "No signature and no bearer secret, or malformed JSON", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(examples::missing())),
        (status = 401, description = "Wrong bearer secret", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(examples::wrong_bearer())),
        (status = 403, description = "The signature does not match the body", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(invalid_signature_example(SIGNATURE_HEADER))),
        (status = 404, description = "No such conversation", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(examples::not_found())),
        (status = 409, description = "The conversation is past the intake and triage (`stage_passed`)", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(examples::stage_passed_intake())),
        (status = 422, description = "Invalid fields (an unknown intake field, a blank question…)", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(examples::invalid_field("extracted_data.favourite_colour", "is not an intake field (name, date_of_birth, chief_complaint, symptoms, allergies, medications, preferred_location, preferred_day_time)"))),
        (status = 503, description = "N8N_CALLBACK_SECRET is not configured", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(examples::off())),
    )
)]
pub async fn intake_response(
    body: SignedBody<CallbackSecret>,
    app: AppData,
) -> Result<HttpResponse, ApiError> {
    let callback = body
        .json::<IntakeResponseRequest>()
        .and_then(IntakeResponseRequest::into_callback);
    accept(&app, callback, &body).await
}

/// n8n's triage-response → TRIAGE_PROPOSED (`proposed_by: "n8n"`)
///
/// Conversations turns a department the clinic has into TRIAGE_COMPLETED.
///
/// Taken while the conversation is at stage `intake` or `triage` and not closed. The
/// same bytes sent again answer the same `event_id` (status `duplicate`).
#[utoipa::path(
    post,
    operation_id = "n8n_triage_response",
    path = "/api/v1/prm/n8n/triage-response",
    tag = "n8n",
    security(("prm_signature" = []), ("n8n_bearer" = [])),
    params(("X-PRM-Signature" = Option<String>, Header, description = "sha256=<hex HMAC-SHA256 of the raw body keyed with N8N_CALLBACK_SECRET>; or send `Authorization: Bearer <N8N_CALLBACK_SECRET>`",
        example = "sha256=3f1c0e4b9a7d2c5e8f6a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e")),
    request_body = TriageResponseRequest,
    responses(
        (status = 202, description = "Accepted (TRIAGE_PROPOSED is published), or a duplicate of an accepted callback", body = CallbackAccepted),
        (status = 400, description = "No signature and no bearer secret, or malformed JSON", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(examples::missing())),
        (status = 401, description = "Wrong bearer secret", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(examples::wrong_bearer())),
        (status = 403, description = "The signature does not match the body", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(invalid_signature_example(SIGNATURE_HEADER))),
        (status = 404, description = "No such conversation", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(examples::not_found())),
        (status = 409, description = "The conversation is past the intake and triage (`stage_passed`)", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(examples::stage_passed_triage())),
        (status = 422, description = "Invalid fields (a blank department, a confidence outside 0–1, an unknown urgency…)", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(examples::invalid_field("confidence", "must be between 0 and 1"))),
        (status = 503, description = "N8N_CALLBACK_SECRET is not configured", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(examples::off())),
    )
)]
pub async fn triage_response(
    body: SignedBody<CallbackSecret>,
    app: AppData,
) -> Result<HttpResponse, ApiError> {
    let callback = body
        .json::<TriageResponseRequest>()
        .and_then(TriageResponseRequest::into_callback);
    accept(&app, callback, &body).await
}

/// n8n's booking-response → BOOKING_ACTION.
///
/// Taken for any conversation that exists; whether the appointment can be confirmed,
/// cancelled or moved is for appointments to decide. The same bytes sent again answer
/// the same `event_id` (status `duplicate`).
#[utoipa::path(
    post,
    operation_id = "n8n_booking_response",
    path = "/api/v1/prm/n8n/booking-response",
    tag = "n8n",
    security(("prm_signature" = []), ("n8n_bearer" = [])),
    params(("X-PRM-Signature" = Option<String>, Header, description = "sha256=<hex HMAC-SHA256 of the raw body keyed with N8N_CALLBACK_SECRET>; or send `Authorization: Bearer <N8N_CALLBACK_SECRET>`",
        example = "sha256=3f1c0e4b9a7d2c5e8f6a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e")),
    request_body = BookingResponseRequest,
    responses(
        (status = 202, description = "Accepted (BOOKING_ACTION is published), or a duplicate of an accepted callback", body = CallbackAccepted),
        (status = 400, description = "No signature and no bearer secret, or malformed JSON", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(examples::missing())),
        (status = 401, description = "Wrong bearer secret", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(examples::wrong_bearer())),
        (status = 403, description = "The signature does not match the body", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(invalid_signature_example(SIGNATURE_HEADER))),
        (status = 404, description = "No such conversation", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(examples::not_found())),
        (status = 422, description = "Invalid fields (an unknown action…)", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(examples::invalid_field("action", "unknown variant `postpone`, expected one of `confirm`, `cancel`, `reschedule`"))),
        (status = 503, description = "N8N_CALLBACK_SECRET is not configured", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(examples::off())),
    )
)]
pub async fn booking_response(
    body: SignedBody<CallbackSecret>,
    app: AppData,
) -> Result<HttpResponse, ApiError> {
    let callback = body
        .json::<BookingResponseRequest>()
        .and_then(BookingResponseRequest::into_callback);
    accept(&app, callback, &body).await
}
