//! `/api/v1/prm/templates`: the clinic's message templates, one per purpose and locale.
//! Handlers extract, call one application function and render.

use std::sync::Arc;

use actix_web::{HttpResponse, delete, get, middleware::from_fn, put, web};
use chrono::{DateTime, Utc};
use prm_domain::{
    Locale,
    templates::{self, TemplatePurpose},
};
use prm_platform::{ApiError, ValidatedJson, auth::require_api_key};
use prm_store::templates::{MetaTemplate, TwilioContent};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{OpenApi, ToSchema};
use validator::Validate;

use crate::app::{
    App,
    templates::{EffectiveTemplate, TemplateChange, template_key},
};

pub const BASE_PATH: &str = "/api/v1/prm/templates";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(BASE_PATH)
            .wrap(from_fn(require_api_key))
            .service(list)
            .service(get_one)
            .service(put_one)
            .service(delete_one),
    );
}

#[derive(OpenApi)]
#[openapi(
    paths(list, get_one, put_one, delete_one),
    components(schemas(
        TemplateView, TemplateList, TemplateRequest, TwilioTemplate, MetaTemplateRef,
        TemplatePurpose
    )),
    tags((name = "templates", description = "The clinic's message templates: the confirmation, reminder, follow-up, cancellation, reschedule and no-show texts in Spanish and English, each switchable off and able to name the provider's approved template used outside WhatsApp's 24-hour window."))
)]
pub struct Doc;

type AppData = web::Data<Arc<App>>;

/// A Twilio Content API template and the placeholders filling its numbered variables.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"content_sid": "HX0123456789abcdef0123456789abcdef", "variables": ["patient_name", "date", "time"]}))]
pub struct TwilioTemplate {
    /// `HX` and 32 hexadecimal digits.
    #[schema(pattern = r"^HX[0-9a-fA-F]{32}$")]
    pub content_sid: String,
    /// Placeholder names filling `{{1}}`, `{{2}}`… in order (`ContentVariables`);
    /// absent or null: every placeholder in the order `patient_name`, `doctor_name`,
    /// `date`, `time`, `location`, `department`, `clinic_phone`.
    #[schema(max_items = 20)]
    pub variables: Option<Vec<String>>,
}

/// A template approved in Meta's WhatsApp Manager and the placeholders filling its
/// body's `{{1}}`, `{{2}}`….
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"name": "recordatorio_cita", "language": "es", "variables": ["patient_name", "date", "time", "doctor_name"]}))]
pub struct MetaTemplateRef {
    /// Lowercase letters, digits and underscores.
    #[schema(pattern = r"^[a-z0-9_]{1,512}$")]
    pub name: String,
    /// The language it was approved in (`es`, `en_US`…).
    #[schema(pattern = r"^[a-z]{2,3}(_[A-Z]{2})?$")]
    pub language: String,
    /// As for Twilio: absent or null means every placeholder in order.
    #[schema(max_items = 20)]
    pub variables: Option<Vec<String>>,
}

/// The template in effect for one purpose and locale.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!(examples::confirmation()))]
pub struct TemplateView {
    pub purpose: TemplatePurpose,
    pub locale: Locale,
    /// The text, with `{placeholder}`s.
    pub body: String,
    /// False: messages of this purpose are not sent.
    pub enabled: bool,
    /// True: the built-in text (the clinic has not written one); `DELETE` returns to it.
    pub is_default: bool,
    /// The placeholders the body uses, in order of appearance.
    pub placeholders: Vec<String>,
    /// Sent instead of the text outside WhatsApp's 24-hour window through Twilio.
    pub twilio: Option<TwilioTemplate>,
    /// Sent instead of the text outside WhatsApp's 24-hour window through Meta.
    pub meta: Option<MetaTemplateRef>,
    /// When the clinic last wrote it (UTC); null for the built-in text.
    pub updated_at: Option<DateTime<Utc>>,
}

/// Every purpose in every locale, as in effect.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"items": [examples::confirmation()], "total": 12}))]
pub struct TemplateList {
    /// Every purpose × locale (`es`, `en`), purposes in the order confirmation, reminder,
    /// follow_up, cancellation, reschedule, no_show.
    pub items: Vec<TemplateView>,
    /// How many there are (12: six purposes in two locales).
    pub total: usize,
}

impl From<EffectiveTemplate> for TemplateView {
    fn from(e: EffectiveTemplate) -> Self {
        let t = e.template;
        Self {
            purpose: t.purpose,
            locale: t.locale,
            placeholders: templates::placeholders(&t.body)
                .map(|names| names.into_iter().map(str::to_owned).collect())
                .unwrap_or_default(),
            body: t.body,
            enabled: t.enabled,
            is_default: e.is_default,
            twilio: t.twilio.map(|x| TwilioTemplate {
                content_sid: x.content_sid,
                variables: x.variables,
            }),
            meta: t.meta.map(|x| MetaTemplateRef {
                name: x.name,
                language: x.language,
                variables: x.variables,
            }),
            updated_at: (!e.is_default).then_some(t.updated_at),
        }
    }
}

/// A template the clinic writes for one purpose and locale (replacing any before it).
///
/// Placeholders: `{patient_name}`, `{doctor_name}`, `{date}`, `{time}`, `{location}`,
/// `{department}`, `{clinic_phone}`; `{{` and `}}` are literal braces. Any other name
/// is refused (422 naming it).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({
    "body": "Hola {patient_name}, tu cita de {department} quedó para el {date} a las {time} con {doctor_name} en {location}. Dudas: {clinic_phone}.",
    "enabled": true,
    "twilio": {"content_sid": "HX0123456789abcdef0123456789abcdef", "variables": ["patient_name", "date", "time"]},
    "meta": {"name": "confirmacion_cita", "language": "es", "variables": ["patient_name", "date", "time"]}
}))]
pub struct TemplateRequest {
    /// At most 1600 characters; lines may break, no other control characters.
    #[schema(
        max_length = 1600,
        min_length = 1,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub body: String,
    /// False switches the purpose off (nothing is sent); default true.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// The Twilio template used outside the 24-hour window; null or absent: none.
    pub twilio: Option<TwilioTemplate>,
    /// The Meta template used outside the 24-hour window; null or absent: none.
    pub meta: Option<MetaTemplateRef>,
}

fn enabled_by_default() -> bool {
    true
}

mod examples {
    use super::*;

    pub fn confirmation() -> Value {
        json!({
            "purpose": "confirmation", "locale": "es",
            "body": "Hola {patient_name}, tu cita de {department} quedó para el {date} a las {time} con {doctor_name} en {location}.",
            "enabled": true, "is_default": false,
            "placeholders": ["patient_name", "department", "date", "time", "doctor_name", "location"],
            "twilio": {"content_sid": "HX0123456789abcdef0123456789abcdef", "variables": ["patient_name", "date", "time"]},
            "meta": null,
            "updated_at": "2026-12-07T09:30:00Z"
        })
    }
}

/// The problems these routes document, rendered by the same code that answers them.
mod problems {
    use prm_platform::{ApiError, FieldError};
    use serde_json::Value;

    use crate::app::ConversationError;

    fn render(e: ConversationError) -> Value {
        serde_json::to_value(ApiError::from(e).problem()).unwrap_or(Value::Null)
    }

    pub fn not_found() -> Value {
        render(ConversationError::TemplateNotFound(
            "unknown template purpose `reminders` (one of confirmation, reminder, follow_up, cancellation, reschedule, no_show)".to_owned(),
        ))
    }

    pub fn unknown_placeholder() -> Value {
        render(ConversationError::Invalid(vec![FieldError::new(
            "body",
            "unknown placeholder `{doctor}` (known: patient_name, doctor_name, date, time, location, department, clinic_phone)",
        )]))
    }
}

/// Every template in effect
///
/// Every purpose in Spanish and English: the clinic's text where it wrote one
/// (`is_default: false`), else the built-in text.
#[utoipa::path(get, operation_id = "list_templates", path = "/api/v1/prm/templates", tag = "templates",
    security(("api_key" = [])),
    responses((status = 200, description = "Every purpose × locale", body = TemplateList)))]
#[get("")]
async fn list(app: AppData) -> Result<HttpResponse, ApiError> {
    let items: Vec<TemplateView> = app
        .templates()
        .await?
        .into_iter()
        .map(TemplateView::from)
        .collect();
    Ok(HttpResponse::Ok().json(TemplateList {
        total: items.len(),
        items,
    }))
}

/// The template in effect for a purpose and locale
#[utoipa::path(get, operation_id = "get_template", path = "/api/v1/prm/templates/{purpose}/{locale}", tag = "templates",
    params(
        ("purpose" = TemplatePurpose, Path, description = "What the template is for", example = "confirmation"),
        ("locale" = Locale, Path, description = "`es` or `en`", example = "es")),
    security(("api_key" = [])),
    responses((status = 200, description = "The clinic's template, or the built-in one", body = TemplateView),
        (status = 404, description = "No such purpose or locale", body = prm_platform::error::Problem, content_type = "application/problem+json", example = json!(problems::not_found()))))]
#[get("/{purpose}/{locale}")]
async fn get_one(
    app: AppData,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (purpose, locale) = template_key(&path.0, &path.1)?;
    let t = app.template(purpose, locale).await?;
    Ok(HttpResponse::Ok().json(TemplateView::from(t)))
}

/// Write the clinic's template for a purpose and locale
///
/// Replaces the template in effect. The body is checked before anything is stored: an
/// unknown placeholder, an unclosed brace or an empty text is a 422 naming the field
/// and what is wrong (`{doctor}`); so are a malformed Twilio Content SID, Meta template
/// name or language, and an unknown placeholder among the provider variables.
#[utoipa::path(put, operation_id = "put_template", path = "/api/v1/prm/templates/{purpose}/{locale}", tag = "templates",
    params(
        ("purpose" = TemplatePurpose, Path, description = "What the template is for", example = "confirmation"),
        ("locale" = Locale, Path, description = "`es` or `en`", example = "es")),
    request_body = TemplateRequest, security(("api_key" = [])),
    responses((status = 200, description = "Stored; now in effect", body = TemplateView),
        (status = 404, description = "No such purpose or locale", body = prm_platform::error::Problem, content_type = "application/problem+json", example = json!(problems::not_found())),
        (status = 422, description = "A field is invalid (nothing was stored)", body = prm_platform::error::Problem, content_type = "application/problem+json", example = json!(problems::unknown_placeholder()))))]
#[put("/{purpose}/{locale}")]
async fn put_one(
    app: AppData,
    path: web::Path<(String, String)>,
    body: ValidatedJson<TemplateRequest>,
) -> Result<HttpResponse, ApiError> {
    let (purpose, locale) = template_key(&path.0, &path.1)?;
    let req = body.into_inner();
    let change = TemplateChange {
        body: req.body,
        enabled: req.enabled,
        twilio: req.twilio.map(|t| TwilioContent {
            content_sid: t.content_sid,
            variables: t.variables,
        }),
        meta: req.meta.map(|t| MetaTemplate {
            name: t.name,
            language: t.language,
            variables: t.variables,
        }),
    };
    let t = app.save_template(purpose, locale, change).await?;
    Ok(HttpResponse::Ok().json(TemplateView::from(t)))
}

/// Return a purpose and locale to the built-in template
///
/// Forgets the clinic's template (switched off or not); answers with the built-in one
/// now in effect. Deleting a template the clinic never wrote changes nothing.
#[utoipa::path(delete, operation_id = "delete_template", path = "/api/v1/prm/templates/{purpose}/{locale}", tag = "templates",
    params(
        ("purpose" = TemplatePurpose, Path, description = "What the template is for", example = "confirmation"),
        ("locale" = Locale, Path, description = "`es` or `en`", example = "es")),
    security(("api_key" = [])),
    responses((status = 200, description = "The built-in template, now in effect", body = TemplateView),
        (status = 404, description = "No such purpose or locale", body = prm_platform::error::Problem, content_type = "application/problem+json", example = json!(problems::not_found()))))]
#[delete("/{purpose}/{locale}")]
async fn delete_one(
    app: AppData,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (purpose, locale) = template_key(&path.0, &path.1)?;
    let t = app.reset_template(purpose, locale).await?;
    Ok(HttpResponse::Ok().json(TemplateView::from(t)))
}
