//! One error type for every HTTP API of the suite, rendered as RFC 9457
//! `application/problem+json` with a stable machine-readable `code`.
//!
//! 5xx bodies are deliberately opaque: the cause chain goes to the log (with the
//! request id), never to the client.

mod codes;

use std::{fmt, time::Duration};

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
pub use codes::{ErrorCode, Family};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// A field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    /// Path of the field in the request, e.g. `timezone` or `preferences.time_of_day`.
    #[schema(example = "timezone")]
    pub field: String,
    /// What is wrong with it, in English.
    #[schema(example = "`Mars/Olympus` is not an IANA time-zone name (e.g. America/Bogota)")]
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// RFC 9457 problem details, as every error response body looks.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = problem_example)]
pub struct Problem {
    /// `urn:prm:problem:<code>`: the same for every answer with this code.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short English summary of the code (e.g. `Conflict`), the same for every answer with it.
    pub title: String,
    /// The HTTP status of the response, repeated.
    pub status: u16,
    /// What went wrong in this request, in English; safe to show to staff.
    pub detail: String,
    /// Stable machine-readable error code.
    pub code: String,
    /// Each invalid field (`validation_failed`); absent on other problems.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// A 422 naming a field, as the server sends it.
fn problem_example() -> serde_json::Value {
    ApiError::invalid_field(
        "timezone",
        "`Mars/Olympus` is not an IANA time-zone name (e.g. America/Bogota)",
    )
    .example()
}

/// An API failure: an [`ErrorCode`] from the table, plus what this answer adds to it
/// (a specific detail, the failing fields, a `Retry-After`, the logged cause).
pub struct ApiError {
    code: ErrorCode,
    detail: String,
    errors: Vec<FieldError>,
    source: Option<anyhow::Error>,
    /// Whole seconds for a `Retry-After` header.
    retry_after: Option<u64>,
}

impl From<ErrorCode> for ApiError {
    fn from(code: ErrorCode) -> Self {
        Self::new(code)
    }
}

impl ApiError {
    /// The code's answer with its default detail.
    pub fn new(code: ErrorCode) -> Self {
        Self {
            code,
            detail: code.default_detail().to_owned(),
            errors: Vec::new(),
            source: None,
            retry_after: None,
        }
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        Self::new(ErrorCode::ValidationFailed).with_errors(errors)
    }

    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, message)])
    }

    pub fn malformed_json(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::MalformedJson).with_detail(detail)
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest).with_detail(detail)
    }

    /// 404 `not_found`: "`resource` not found."
    pub fn not_found(resource: &str) -> Self {
        Self::new(ErrorCode::NotFound).with_detail(format!("{resource} not found."))
    }

    pub fn route_not_found() -> Self {
        Self::new(ErrorCode::RouteNotFound)
    }

    pub fn method_not_allowed() -> Self {
        Self::new(ErrorCode::MethodNotAllowed)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized).with_detail(detail)
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(ErrorCode::PayloadTooLarge).with_detail(format!(
            "The request body exceeds the limit of {limit} bytes."
        ))
    }

    pub fn unsupported_media_type(expected: &str) -> Self {
        Self::new(ErrorCode::UnsupportedMediaType)
            .with_detail(format!("Send the body as {expected}."))
    }

    /// 429 with `Retry-After`, rounded up to whole seconds (at least 1).
    pub fn too_many_requests(retry_after: Duration) -> Self {
        let seconds = whole_seconds(retry_after);
        Self::new(ErrorCode::RateLimited)
            .with_detail(format!(
                "Too many requests from this client. Retry in {seconds} s."
            ))
            .with_retry_after(retry_after)
    }

    /// 503 `unavailable`; add [`ApiError::with_retry_after`] when the wait is known.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable).with_detail(detail)
    }

    /// `/ready`: a dependency does not answer.
    pub fn not_ready(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotReady).with_detail(detail)
    }

    /// An unexpected failure. The client sees an opaque 500; the cause is logged.
    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        Self::new(ErrorCode::InternalError).with_source(source)
    }

    /// Replaces the human-readable detail, keeping code and status.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }

    /// The fields that failed (`errors` of the problem).
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    /// A `Retry-After` header, rounded up to whole seconds (at least 1).
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(whole_seconds(after));
        self
    }

    /// The cause, logged with a 5xx (never sent to the client).
    pub fn with_source(mut self, source: impl Into<anyhow::Error>) -> Self {
        self.source = Some(source.into());
        self
    }

    pub fn error_code(&self) -> ErrorCode {
        self.code
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        self.code.as_str()
    }

    pub fn detail(&self) -> &str {
        &self.detail
    }

    pub fn field_errors(&self) -> &[FieldError] {
        &self.errors
    }

    /// Seconds of the `Retry-After` header, if any.
    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }

    pub fn problem(&self) -> Problem {
        Problem {
            problem_type: format!("urn:prm:problem:{}", self.code),
            title: self.code.title().to_owned(),
            status: self.status().as_u16(),
            detail: self.detail.clone(),
            code: self.code.as_str().to_owned(),
            errors: self.errors.clone(),
        }
    }

    /// The body this error is sent with, as JSON: what OpenAPI examples show.
    pub fn example(&self) -> serde_json::Value {
        serde_json::to_value(self.problem()).unwrap_or_default()
    }
}

/// Whole seconds, rounded up, at least 1: a client told 0 would retry at once.
fn whole_seconds(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status().as_u16(),
            self.code,
            self.detail
        )?;
        if let Some(source) = &self.source {
            write!(f, "\nCaused by: {source:?}")?;
        }
        Ok(())
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

impl std::error::Error for ApiError {}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status();
        if status.is_server_error() {
            match &self.source {
                // The cause chain by Display, not Debug: a database error's Debug carries
                // the server's `detail`, which for a CHECK or NOT NULL failure is "Failing
                // row contains (…)" — a patient's name and phone.
                Some(source) => {
                    tracing::error!(code = self.code(), error = %format_args!("{source:#}"), "request failed")
                }
                None => tracing::error!(code = self.code(), "request failed"),
            }
        }
        let mut response = HttpResponse::build(status);
        response.content_type(PROBLEM_JSON);
        if status == StatusCode::UNAUTHORIZED {
            response.insert_header(("WWW-Authenticate", "Bearer"));
        }
        if let Some(seconds) = self.retry_after {
            response.insert_header((actix_web::http::header::RETRY_AFTER, seconds));
        }
        response.json(self.problem())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    /// An error shaped like a database one: its message is safe, its Debug is not.
    struct RowError;
    impl fmt::Display for RowError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("new row violates check constraint \"patients_check\"")
        }
    }
    impl fmt::Debug for RowError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(
                "RowError { detail: \"Failing row contains (María Pérez, +573001234567)\" }",
            )
        }
    }
    impl std::error::Error for RowError {}

    #[test]
    fn a_500_logs_the_cause_chain_without_the_rows_it_carries() {
        #[derive(Clone, Default)]
        struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Captured {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let error = ApiError::internal(anyhow::Error::new(RowError).context("saving the patient"));
        let response = tracing::subscriber::with_default(subscriber, || error.error_response());
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let logged = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(
            logged.contains("saving the patient: new row violates check constraint"),
            "{logged}"
        );
        assert!(
            !logged.contains("María") && !logged.contains("+5730"),
            "{logged}"
        );
    }

    #[actix_web::test]
    async fn renders_rfc9457_problem_json() {
        let err = ApiError::invalid_field("timezone", "bad zone");
        let response = err.error_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            response.headers().get("content-type").unwrap(),
            PROBLEM_JSON
        );
        let body: serde_json::Value =
            serde_json::from_slice(&to_bytes(response.into_body()).await.unwrap()).unwrap();
        assert_eq!(body["type"], "urn:prm:problem:validation_failed");
        assert_eq!(body["status"], 422);
        assert_eq!(body["code"], "validation_failed");
        assert_eq!(body["errors"][0]["field"], "timezone");
        assert!(body["title"].is_string() && body["detail"].is_string());
    }

    #[actix_web::test]
    async fn internal_errors_are_opaque() {
        let err = ApiError::internal(anyhow::anyhow!(
            "connection refused to db at 10.0.0.3 password=x"
        ));
        let response = err.error_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = to_bytes(response.into_body()).await.unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(
            !text.contains("10.0.0.3") && !text.contains("password"),
            "{text}"
        );
        assert!(
            format!("{err:?}").contains("connection refused"),
            "Debug keeps the cause chain"
        );
    }

    #[actix_web::test]
    async fn unavailable_can_say_when_to_retry() {
        let response = ApiError::unavailable("The database is not reachable; retry shortly.")
            .with_retry_after(Duration::from_millis(300))
            .error_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers().get("retry-after").unwrap(), "1");
        let response = ApiError::too_many_requests(Duration::from_millis(2100)).error_response();
        assert_eq!(response.headers().get("retry-after").unwrap(), "3");
        assert!(
            ApiError::unavailable("off")
                .error_response()
                .headers()
                .get("retry-after")
                .is_none()
        );
    }

    #[actix_web::test]
    async fn unauthorized_asks_for_bearer() {
        let response = ApiError::unauthorized("missing key").error_response();
        assert_eq!(
            response.headers().get("www-authenticate").unwrap(),
            "Bearer"
        );
    }
}
