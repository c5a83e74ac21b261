//! Request extractors that answer bad input with problem+json instead of
//! actix-web's plain-text errors.

use std::{future::Future, ops::Deref, pin::Pin};

use actix_web::{
    FromRequest, HttpMessage, HttpRequest,
    dev::Payload,
    error::{JsonPayloadError, PathError, QueryPayloadError},
    http::{StatusCode, header},
    web,
};
use serde::de::DeserializeOwned;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

use crate::error::{ApiError, FieldError};

/// JSON body that is deserialized with field paths and then checked with `validator`.
///
/// Malformed JSON → 400 `malformed_json`; wrong types or missing fields → 422
/// naming the field; rule violations → 422 with every failing field; a body over
/// the configured limit → 413; a non-JSON content type → 415.
#[derive(Debug)]
pub struct ValidatedJson<T>(pub T);

impl<T> ValidatedJson<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for ValidatedJson<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + Validate + 'static> FromRequest for ValidatedJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type_ok = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| {
                let mime = ct
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                mime == "application/json" || mime.ends_with("+json")
            })
            .unwrap_or(true);
        let limit = body_limit(req);
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !content_type_ok {
                return Err(ApiError::unsupported_media_type("application/json"));
            }
            let bytes = bytes.await.map_err(|e| {
                if e.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::payload_too_large(limit)
                } else {
                    ApiError::bad_request("The request body could not be read.")
                }
            })?;
            if bytes.len() > limit {
                return Err(ApiError::payload_too_large(limit));
            }
            let value = parse_json::<T>(&bytes)?;
            validate(&value)?;
            Ok(ValidatedJson(value))
        })
    }
}

/// The body-size limit in force, stored as app data by the server builder.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// The limit of this request's route, set per request by the server's body-limit
/// middleware (per path prefix), else the server's default.
pub fn body_limit(req: &HttpRequest) -> usize {
    req.extensions()
        .get::<BodyLimit>()
        .copied()
        .or_else(|| req.app_data::<BodyLimit>().copied())
        .map_or(crate::config::DEFAULT_MAX_BODY_BYTES, |l| l.0)
}

/// Reads the whole raw body (signatures are computed over the exact bytes), refusing
/// more than the route's limit with 413, also for chunked bodies that declare no length.
pub async fn read_body<P>(req: &HttpRequest, mut payload: P) -> Result<web::Bytes, ApiError>
where
    P: futures::Stream<Item = Result<web::Bytes, actix_web::error::PayloadError>> + Unpin,
{
    use futures::StreamExt;
    let limit = body_limit(req);
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|_| ApiError::bad_request("The request body could not be read."))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::payload_too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Deserializes JSON, telling syntax errors (400) from shape errors (422 naming the field).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::malformed_json(
            "The request body is empty; a JSON object was expected.",
        ));
    }
    // Syntax first, so truncated or broken JSON is always 400 whatever its shape.
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).map_err(|e| {
        ApiError::malformed_json(format!("The request body is not valid JSON: {e}"))
    })?;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        json_error(&path, &inner)
    })?;
    de.end().map_err(|e| {
        ApiError::malformed_json(format!("Unexpected data after the JSON value: {e}"))
    })?;
    Ok(value)
}

fn json_error(path: &str, err: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match err.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::malformed_json(format!("The request body is not valid JSON: {err}"))
        }
        Category::Data => {
            // A non-object body fails at `[0]` or `.`; report it as the body itself.
            let at_root = path == "." || path.is_empty() || path.starts_with('[');
            // serde reports a missing field at its parent's path; name the field itself.
            let field = match (missing_field(err), at_root) {
                (Some(name), false) => format!("{path}.{name}"),
                (Some(name), true) => name,
                (None, false) => path.to_owned(),
                (None, true) => "body".to_owned(),
            };
            ApiError::invalid_field(field, strip_position(&err.to_string()))
        }
    }
}

fn missing_field(err: &serde_json::Error) -> Option<String> {
    // serde_json formats this as "missing field `name` at line …"; there is no typed accessor.
    let text = err.to_string();
    let start = text.find("missing field `")? + "missing field `".len();
    let end = text[start..].find('`')? + start;
    Some(text[start..end].to_owned())
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// Runs `validator` rules, flattening nested errors into `path.to.field` entries.
pub fn validate<T: Validate>(value: &T) -> Result<(), ApiError> {
    value.validate().map_err(|errors| {
        let mut fields = Vec::new();
        flatten("", &errors, &mut fields);
        fields.sort_by(|a, b| a.field.cmp(&b.field));
        ApiError::validation(fields)
    })
}

fn flatten(prefix: &str, errors: &ValidationErrors, out: &mut Vec<FieldError>) {
    for (field, kind) in errors.errors() {
        let path = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                for e in list {
                    let message = e
                        .message
                        .as_ref()
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| describe(e));
                    out.push(FieldError::new(path.clone(), message));
                }
            }
            ValidationErrorsKind::Struct(inner) => flatten(&path, inner, out),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    flatten(&format!("{path}[{index}]"), inner, out);
                }
            }
        }
    }
}

fn describe(e: &validator::ValidationError) -> String {
    let param = |name: &str| e.params.get(name).map(|v| v.to_string());
    match e.code.as_ref() {
        "length" => match (param("min"), param("max")) {
            (Some(min), Some(max)) => format!("length must be between {min} and {max}"),
            (Some(min), None) => format!("length must be at least {min}"),
            (None, Some(max)) => format!("length must be at most {max}"),
            _ => "invalid length".to_owned(),
        },
        "range" => match (param("min"), param("max")) {
            (Some(min), Some(max)) => format!("must be between {min} and {max}"),
            (Some(min), None) => format!("must be at least {min}"),
            (None, Some(max)) => format!("must be at most {max}"),
            _ => "out of range".to_owned(),
        },
        "required" => "is required".to_owned(),
        code => format!("is invalid ({code})"),
    }
}

/// actix-web's own `Json`, `Query` and `Path` extractors, answering in problem+json.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(move |err, _| {
            match err {
                JsonPayloadError::Overflow { .. }
                | JsonPayloadError::OverflowKnownLength { .. } => {
                    ApiError::payload_too_large(limit)
                }
                JsonPayloadError::ContentType => {
                    ApiError::unsupported_media_type("application/json")
                }
                JsonPayloadError::Deserialize(e) => json_error("", &e),
                other => ApiError::bad_request(other.to_string()),
            }
            .into()
        })
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _| {
        let detail = match &err {
            QueryPayloadError::Deserialize(e) => e.to_string(),
            other => other.to_string(),
        };
        ApiError::invalid_field("query", detail).into()
    })
}

/// A path whose parameter does not parse is 404, or 405 with `Allow` when the path
/// is literally another route's that lacks the method (`PATCH /appointments/find-slots`
/// reaches `PATCH /appointments/{id}` first).
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, req| {
        if let Some(response) = req
            .app_data::<web::Data<crate::routes::RouteMethods>>()
            .and_then(|routes| routes.method_not_allowed(req))
        {
            return actix_web::error::InternalError::from_response(err, response).into();
        }
        let detail = match &err {
            PathError::Deserialize(e) => e.to_string(),
            other => other.to_string(),
        };
        ApiError::not_found("Resource")
            .with_detail(format!("No resource at this path ({detail})."))
            .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, Validate)]
    struct Inner {
        #[validate(range(min = 1, max = 5))]
        n: u32,
    }

    #[derive(Debug, Deserialize, Validate)]
    struct Req {
        #[validate(length(min = 1, max = 10))]
        name: String,
        #[validate(nested)]
        inner: Inner,
    }

    #[test]
    fn syntax_errors_are_400() {
        for body in [
            "{",
            "not json",
            "{\"name\": }",
            "",
            "   ",
            "{\"name\":\"a\",\"inner\":{\"n\":1}} trailing",
        ] {
            let err = parse_json::<Req>(body.as_bytes()).unwrap_err();
            assert_eq!(err.status(), StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(err.code(), "malformed_json");
        }
    }

    #[test]
    fn type_errors_and_missing_fields_name_the_field() {
        let err = parse_json::<Req>(br#"{"name": 5, "inner": {"n": 1}}"#).unwrap_err();
        assert_eq!(err.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err.field_errors()[0].field, "name");

        let err = parse_json::<Req>(br#"{"inner": {"n": 1}}"#).unwrap_err();
        assert_eq!(err.field_errors()[0].field, "name");

        let err = parse_json::<Req>(br#"{"name": "a", "inner": {}}"#).unwrap_err();
        assert_eq!(err.field_errors()[0].field, "inner.n");

        let err = parse_json::<Req>(br#"{"name": "a", "inner": {"n": "x"}}"#).unwrap_err();
        assert_eq!(err.field_errors()[0].field, "inner.n");
    }

    #[test]
    fn validation_lists_every_failing_field() {
        let req: Req = parse_json(br#"{"name": "", "inner": {"n": 9}}"#).unwrap();
        let err = validate(&req).unwrap_err();
        let fields: Vec<_> = err
            .field_errors()
            .iter()
            .map(|f| f.field.as_str())
            .collect();
        assert_eq!(fields, ["inner.n", "name"]);
        assert_eq!(err.field_errors()[0].message, "must be between 1 and 5");
    }
}
