//! OpenAPI document assembly and Swagger UI mounting.

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};
use utoipa::{
    Modify, OpenApi,
    openapi::{
        self, Content, HeaderBuilder, ObjectBuilder, PathItem, Ref, RefOr, Response,
        ResponseBuilder, Schema, Type,
        path::Operation,
        security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
        },
        server::ServerBuilder,
    },
};
use utoipa_swagger_ui::SwaggerUi;

use crate::{
    error::{ApiError, ErrorCode, FieldError, PROBLEM_JSON, Problem},
    extract::parse_json,
    health::HealthDoc,
    rate_limit::{API_PREFIX, WEBHOOKS_PREFIX},
};

/// Name of the security scheme every clinic endpoint refers to.
pub const API_KEY_SCHEME: &str = "api_key";
/// Twilio's `X-Twilio-Signature` (the Twilio webhooks).
pub const TWILIO_SIGNATURE_SCHEME: &str = "twilio_signature";
/// Meta's `X-Hub-Signature-256` (WhatsApp Cloud API deliveries).
pub const META_SIGNATURE_SCHEME: &str = "meta_signature";
/// The suite's own `X-PRM-Signature` (the voice agent, the n8n callbacks).
pub const PRM_SIGNATURE_SCHEME: &str = "prm_signature";
/// `Authorization: Bearer <N8N_CALLBACK_SECRET>`, which the n8n callbacks also accept.
pub const N8N_BEARER_SCHEME: &str = "n8n_bearer";
/// The n8n callbacks: like the provider webhooks, signed over their raw body, so no
/// content-type check.
pub const N8N_CALLBACKS_PREFIX: &str = "/api/v1/prm/n8n/";

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            API_KEY_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key from PRM_API_KEYS (the all-in-one binary prints a development key at start)."))
                    .build(),
            ),
        );
    }
}

/// The schemes of the signed webhooks and callbacks: a document declares those its
/// operations name in their `security` (the clinic API's document has none of them).
struct SignatureSchemes;

impl SignatureSchemes {
    fn scheme(name: &str) -> Option<SecurityScheme> {
        let header = |header: &str, description: &str| {
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                header,
                description,
            )))
        };
        Some(match name {
            TWILIO_SIGNATURE_SCHEME => header(
                "X-Twilio-Signature",
                "Twilio's request signature: base64 of the HMAC-SHA1, keyed with \
                 `TWILIO_AUTH_TOKEN`, of `PUBLIC_BASE_URL` + path + query followed by every \
                 posted parameter's name and value, sorted by name (a JSON body is covered by \
                 its `bodySHA256` query parameter instead). A missing signature is 400, a \
                 wrong one 403. Checked unless `TWILIO_VALIDATE_SIGNATURE=false`.",
            ),
            META_SIGNATURE_SCHEME => header(
                "X-Hub-Signature-256",
                "Meta's delivery signature: `sha256=` followed by the hex HMAC-SHA256 of the \
                 raw body, keyed with `WHATSAPP_APP_SECRET`. A missing signature is 400, a \
                 wrong one 403; 503 while the secret is not configured.",
            ),
            PRM_SIGNATURE_SCHEME => header(
                crate::signed::SIGNATURE_HEADER,
                "The suite's signature: `sha256=` followed by the hex HMAC-SHA256 of the raw \
                 body, keyed with the route's shared secret (`VOICE_AGENT_SECRET` for the \
                 voice agent, `N8N_CALLBACK_SECRET` for the n8n callbacks). A missing \
                 signature is 400, a wrong one 403; 503 while the secret is not configured.",
            ),
            N8N_BEARER_SCHEME => SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "For senders that cannot compute an HMAC (n8n's HTTP node): \
                         `Authorization: Bearer <N8N_CALLBACK_SECRET>`. A wrong secret is 401; \
                         a signature, when sent as well, is checked first.",
                    ))
                    .build(),
            ),
            _ => return None,
        })
    }
}

impl Modify for SignatureSchemes {
    fn modify(&self, doc: &mut openapi::OpenApi) {
        let mut used = std::collections::BTreeSet::new();
        for item in doc.paths.paths.values_mut() {
            for (_, operation) in operations(item) {
                for requirement in operation.security.iter().flatten() {
                    if let Ok(Value::Object(names)) = serde_json::to_value(requirement) {
                        used.extend(names.keys().cloned());
                    }
                }
            }
        }
        let components = doc.components.get_or_insert_with(Default::default);
        for name in used {
            if let Some(scheme) = Self::scheme(&name) {
                components.add_security_scheme(name, scheme);
            }
        }
    }
}

/// utoipa documents an `Option<T>` field of a schema type as `oneOf: [null, $ref]` and
/// puts the field's doc comment on the `$ref`, where Swagger UI does not show it: the
/// description moves up to the property itself.
struct NullableRefDescriptions;

impl NullableRefDescriptions {
    fn hoist(schema: &mut Schema) {
        match schema {
            Schema::Object(object) => {
                for property in object.properties.values_mut() {
                    let RefOr::T(Schema::OneOf(one_of)) = property else {
                        continue;
                    };
                    if one_of.description.is_some() {
                        continue;
                    }
                    for item in &mut one_of.items {
                        if let RefOr::Ref(reference) = item
                            && !reference.description.is_empty()
                        {
                            one_of.description = Some(std::mem::take(&mut reference.description));
                            break;
                        }
                    }
                }
            }
            Schema::AllOf(all_of) => {
                for item in &mut all_of.items {
                    if let RefOr::T(schema) = item {
                        Self::hoist(schema);
                    }
                }
            }
            _ => {}
        }
    }
}

impl Modify for NullableRefDescriptions {
    fn modify(&self, doc: &mut openapi::OpenApi) {
        let Some(components) = doc.components.as_mut() else {
            return;
        };
        for schema in components.schemas.values_mut() {
            if let RefOr::T(schema) = schema {
                Self::hoist(schema);
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(license(name = "Apache-2.0")),
    components(schemas(Problem, FieldError)),
    modifiers(&SecuritySchemes),
)]
struct BaseDoc;

/// Builds a service's document: the shared parts (health, problem schema, security)
/// merged with the service's own paths, then [`StandardResponses`] added to them, the
/// webhook signature schemes its operations name declared, and the server it is
/// served from (`/`, relative: Swagger UI sends requests to the host it was loaded from).
pub fn document(
    title: &str,
    description: &str,
    parts: impl IntoIterator<Item = openapi::OpenApi>,
) -> openapi::OpenApi {
    let mut doc = BaseDoc::openapi();
    doc.merge(HealthDoc::openapi());
    for part in parts {
        doc.merge(part);
    }
    StandardResponses.modify(&mut doc);
    SignatureSchemes.modify(&mut doc);
    NullableRefDescriptions.modify(&mut doc);
    doc.servers = Some(vec![
        ServerBuilder::new()
            .url("/")
            .description(Some("This server"))
            .build(),
    ]);
    doc.info.title = title.to_owned();
    doc.info.description = Some(description.to_owned());
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// Shared response of Bearer-protected operations without a valid key.
pub const UNAUTHORIZED_RESPONSE: &str = "Unauthorized";
/// Shared response of operations with a JSON body that is not JSON.
pub const MALFORMED_JSON_RESPONSE: &str = "MalformedJson";
/// Shared response of operations with a body over the limit.
pub const PAYLOAD_TOO_LARGE_RESPONSE: &str = "PayloadTooLarge";
/// Shared response of operations with a JSON body sent as something else.
pub const UNSUPPORTED_MEDIA_TYPE_RESPONSE: &str = "UnsupportedMediaType";
/// Name of the shared 429 response every rate-limited operation refers to.
pub const RATE_LIMITED_RESPONSE: &str = "RateLimited";
/// Shared 503 of the API's operations: a dependency (database, state store) is down.
pub const UNAVAILABLE_RESPONSE: &str = "Unavailable";
/// Shared 409 of the clinic API's writes: a concurrent transaction collided with this one.
pub const CONCURRENT_UPDATE_RESPONSE: &str = "ConcurrentUpdate";
/// Shared 500 of the API's operations.
pub const INTERNAL_ERROR_RESPONSE: &str = "InternalError";

/// The responses the platform itself gives, documented on every operation they apply
/// to, so that no route repeats them:
///
/// - 401 (`unauthorized`) on operations that require the Bearer key ([`API_KEY_SCHEME`]);
/// - 400 (`malformed_json`) and 422 (`validation_failed`) on operations with a JSON body;
/// - 422 (`validation_failed`) on operations with query parameters (see
///   [`crate::extract::query_config`] and [`crate::list::Paging`]);
/// - 413 (`payload_too_large`) on every operation with a body (the body-limit middleware
///   sees them all);
/// - 415 (`unsupported_media_type`) on operations with a JSON body, except the provider
///   webhooks ([`WEBHOOKS_PREFIX`]) and the n8n callbacks ([`N8N_CALLBACKS_PREFIX`]):
///   they read the raw body to check its signature and do not insist on a content type;
/// - 429 (`rate_limited`, with `Retry-After`) on everything under [`API_PREFIX`];
/// - 503 (`unavailable`, with `Retry-After` when the wait is known) and 500
///   (`internal_error`) on everything under [`API_PREFIX`]: every handler there reads or
///   writes the database or the state store, and answers 503 while one does not answer
///   (the probes, docs and metrics outside it touch neither);
/// - 409 (`concurrent_update`) on the writes (PUT, POST, PATCH, DELETE) that require the
///   key: another transaction collided with this one and nothing was saved. A route with
///   conflicts of its own documents them in its own 409, which it keeps.
///
/// Each comes with a problem+json example built from the error the platform really
/// sends. A route that documents one of these statuses itself keeps its description;
/// it gets the example when it has none. Responses whose body is the [`Problem`] schema
/// are documented as `application/problem+json`, the type they are served with.
/// Applied by [`document`]; services that assemble a document otherwise can list it in
/// `#[openapi(modifiers(&StandardResponses))]`.
pub struct StandardResponses;

const JSON: &str = "application/json";
const INVALID_QUERY: &str = "Invalid query parameters (`validation_failed`): one has the wrong type or breaks a rule; `errors` names each one.";
const VALIDATION_FAILED: &str = "Invalid fields (`validation_failed`): a field is missing, has the wrong type or breaks a rule; `errors` names each one.";

impl Modify for StandardResponses {
    fn modify(&self, doc: &mut openapi::OpenApi) {
        let global_security = doc.security.clone();
        let schemas = doc
            .components
            .as_ref()
            .map(|c| c.schemas.clone())
            .unwrap_or_default();
        let mut used = Vec::new();
        for (path, item) in doc.paths.paths.iter_mut() {
            for (writes, operation) in operations(item) {
                let applies = Applies::to(path, operation, global_security.as_deref());
                serve_problems_as_problem_json(operation);
                let validation = if applies.json_body {
                    Some((VALIDATION_FAILED, validation_example(operation, &schemas)))
                } else if applies.query {
                    Some((INVALID_QUERY, examples::invalid_query()))
                } else {
                    None
                };
                let responses = &mut operation.responses.responses;
                let shared = [
                    (applies.protected, "401", UNAUTHORIZED_RESPONSE),
                    (applies.json_body, "400", MALFORMED_JSON_RESPONSE),
                    (
                        applies.json_body && !applies.raw_body,
                        "415",
                        UNSUPPORTED_MEDIA_TYPE_RESPONSE,
                    ),
                    (applies.rate_limited, "429", RATE_LIMITED_RESPONSE),
                    (applies.rate_limited, "503", UNAVAILABLE_RESPONSE),
                    (applies.rate_limited, "500", INTERNAL_ERROR_RESPONSE),
                    (
                        writes && applies.protected,
                        "409",
                        CONCURRENT_UPDATE_RESPONSE,
                    ),
                ];
                for (_, status, name) in shared.into_iter().filter(|(applies, ..)| *applies) {
                    match responses.get_mut(status) {
                        Some(RefOr::T(own)) => adopt(own, &shared_response(name)),
                        Some(RefOr::Ref(_)) => {}
                        None => {
                            responses
                                .insert(status.to_owned(), Ref::from_response_name(name).into());
                            used.push(name);
                        }
                    }
                }
                // The limit differs per route, so a route's own 413 keeps its own words.
                if applies.body && !responses.contains_key("413") {
                    responses.insert(
                        "413".to_owned(),
                        Ref::from_response_name(PAYLOAD_TOO_LARGE_RESPONSE).into(),
                    );
                    used.push(PAYLOAD_TOO_LARGE_RESPONSE);
                }
                if let Some((description, example)) = validation {
                    let standard = problem_response(description, example);
                    match responses.get_mut("422") {
                        Some(RefOr::T(own)) => adopt(own, &standard),
                        Some(RefOr::Ref(_)) => {}
                        None => {
                            responses.insert("422".to_owned(), standard.into());
                        }
                    }
                }
                for (status, response) in responses.iter_mut() {
                    if let RefOr::T(response) = response
                        && response.description.trim().is_empty()
                        && let Some(description) = problem_description(status, response)
                    {
                        response.description = description;
                    }
                }
            }
        }
        let components = doc.components.get_or_insert_with(Default::default);
        for name in used {
            components
                .responses
                .entry(name.to_owned())
                .or_insert_with(|| shared_response(name).into());
        }
    }
}

/// Which of the standard responses an operation can give.
struct Applies {
    protected: bool,
    body: bool,
    json_body: bool,
    raw_body: bool,
    query: bool,
    rate_limited: bool,
}

impl Applies {
    fn to(path: &str, operation: &Operation, global: Option<&[SecurityRequirement]>) -> Self {
        let security = operation.security.as_deref().or(global).unwrap_or_default();
        let protected = security.iter().any(|requirement| {
            serde_json::to_value(requirement)
                .ok()
                .is_some_and(|value| value.get(API_KEY_SCHEME).is_some())
        });
        let body = operation.request_body.as_ref();
        Self {
            protected,
            body: body.is_some(),
            json_body: body.is_some_and(|b| b.content.keys().any(|ct| is_json(ct))),
            raw_body: path.starts_with(WEBHOOKS_PREFIX) || path.starts_with(N8N_CALLBACKS_PREFIX),
            query: operation
                .parameters
                .iter()
                .flatten()
                .any(|p| matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Query)),
            rate_limited: path.starts_with(API_PREFIX),
        }
    }
}

fn is_json(content_type: &str) -> bool {
    let mime = content_type.split(';').next().unwrap_or("").trim();
    mime == JSON || mime.ends_with("+json")
}

/// Each operation, and whether it writes (PUT, POST, DELETE, PATCH).
fn operations(item: &mut PathItem) -> impl Iterator<Item = (bool, &mut Operation)> {
    [
        (false, &mut item.get),
        (true, &mut item.put),
        (true, &mut item.post),
        (true, &mut item.delete),
        (false, &mut item.options),
        (false, &mut item.head),
        (true, &mut item.patch),
        (false, &mut item.trace),
    ]
    .into_iter()
    .filter_map(|(writes, operation)| operation.as_mut().map(|op| (writes, op)))
}

fn is_problem_schema(schema: Option<&RefOr<Schema>>) -> bool {
    matches!(schema, Some(RefOr::Ref(r)) if r.ref_location == "#/components/schemas/Problem")
}

/// `body = Problem` without a content type documents `application/json`; the body is
/// really sent as `application/problem+json` (see [`crate::error`]).
fn serve_problems_as_problem_json(operation: &mut Operation) {
    for response in operation.responses.responses.values_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        if response.content.contains_key(PROBLEM_JSON)
            || !is_problem_schema(response.content.get(JSON).and_then(|c| c.schema.as_ref()))
        {
            continue;
        }
        if let Some(content) = response.content.shift_remove(JSON) {
            response.content.insert(PROBLEM_JSON.to_owned(), content);
        }
    }
}

/// A route's own response for a standard status: it keeps what it says, and gets the
/// standard description and example where it gives none.
fn adopt(own: &mut Response, standard: &Response) {
    if own.description.trim().is_empty() {
        own.description = standard.description.clone();
    }
    let Some(example) = standard
        .content
        .get(PROBLEM_JSON)
        .and_then(|c| c.example.clone())
    else {
        return;
    };
    let content = own
        .content
        .entry(PROBLEM_JSON.to_owned())
        .or_insert_with(|| Content::new(Some(Ref::from_schema_name("Problem"))));
    if content.example.is_none() && content.examples.is_empty() {
        content.example = Some(example);
    }
}

/// The words for a route's own problem response that gives none: its example's title,
/// code and detail (the code's default detail from the [`ErrorCode`] table when the
/// example has none), or the status's usual words.
fn problem_description(status: &str, response: &Response) -> Option<String> {
    let example = response
        .content
        .get(PROBLEM_JSON)
        .and_then(|c| c.example.as_ref());
    let example_code = example
        .and_then(|e| e.get("code"))
        .and_then(Value::as_str)
        .and_then(|code| ErrorCode::ALL.iter().find(|c| c.as_str() == code));
    if let Some(code) = example_code
        && code.status().as_str() == status
    {
        let detail = example
            .and_then(|e| e.get("detail"))
            .and_then(Value::as_str)
            .filter(|d| !d.trim().is_empty())
            .unwrap_or(code.default_detail());
        return Some(format!("{} (`{}`): {detail}", code.title(), code.as_str()));
    }
    let text = match status {
        "400" => "The request could not be read (`bad_request`); `detail` says why.",
        "403" => "Refused (`invalid_signature`): the signature does not match the body.",
        "404" => "Not found (`not_found`): no record with this id.",
        "409" => {
            "Conflict with the records as they are; `code` names which (e.g. `duplicate_phone`, \
             `in_use`, `slot_taken`, `concurrent_update`) and nothing was changed."
        }
        "422" => {
            "Request cannot be processed: a field is invalid (`validation_failed`, with \
             `errors`) or breaks a rule of the clinic (`code` names it)."
        }
        "503" => {
            "Service unavailable (`unavailable`): a dependency does not answer or is not \
             configured; retry shortly."
        }
        _ => return None,
    };
    Some(text.to_owned())
}

fn problem_response(description: &str, example: Value) -> Response {
    let mut content = Content::new(Some(Ref::from_schema_name("Problem")));
    content.example = Some(example);
    let mut response = ResponseBuilder::new().description(description).build();
    response.content.insert(PROBLEM_JSON.to_owned(), content);
    response
}

fn shared_response(name: &str) -> Response {
    match name {
        UNAUTHORIZED_RESPONSE => {
            let mut response = problem_response(
                "No API key, or not one of `PRM_API_KEYS` (`unauthorized`). Send `Authorization: Bearer <key>`.",
                examples::unauthorized(),
            );
            response.headers.insert(
                "WWW-Authenticate".to_owned(),
                HeaderBuilder::new()
                    .schema(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .examples([json!("Bearer")]),
                    )
                    .description(Some("Always `Bearer`."))
                    .build(),
            );
            response
        }
        MALFORMED_JSON_RESPONSE => problem_response(
            "The body is not JSON (`malformed_json`): empty, truncated or not valid syntax.",
            examples::malformed_json(),
        ),
        PAYLOAD_TOO_LARGE_RESPONSE => problem_response(
            "The body is over the limit (`payload_too_large`): `PRM_MAX_BODY_BYTES`, 1 MiB by default.",
            examples::payload_too_large(),
        ),
        UNSUPPORTED_MEDIA_TYPE_RESPONSE => problem_response(
            "The body is not sent as `application/json` (`unsupported_media_type`).",
            examples::unsupported_media_type(),
        ),
        UNAVAILABLE_RESPONSE => {
            let mut response = problem_response(
                "A service this request needs (the database, or the state store holding conversations and slot offers) is not reachable (`unavailable`); nothing was changed. Retry after `Retry-After` seconds when given, else shortly.",
                examples::unavailable(),
            );
            response.headers.insert(
                "Retry-After".to_owned(),
                HeaderBuilder::new()
                    .schema(
                        ObjectBuilder::new()
                            .schema_type(Type::Integer)
                            .minimum(Some(1))
                            .examples([json!(1)]),
                    )
                    .description(Some("Seconds to wait before sending again, when known."))
                    .build(),
            );
            response
        }
        CONCURRENT_UPDATE_RESPONSE => problem_response(
            "Another request changed the same records at the same moment (`concurrent_update`); nothing was saved. Send the request again.",
            examples::concurrent_update(),
        ),
        INTERNAL_ERROR_RESPONSE => problem_response(
            "Our own failure (`internal_error`); it is logged. The body names no cause.",
            examples::internal_error(),
        ),
        _ => {
            let mut response = problem_response(
                "Too many requests from this client (`rate_limited`); retry after `Retry-After` seconds.",
                examples::rate_limited(),
            );
            response.headers.insert(
                "Retry-After".to_owned(),
                HeaderBuilder::new()
                    .schema(
                        ObjectBuilder::new()
                            .schema_type(Type::Integer)
                            .minimum(Some(1))
                            .examples([json!(1)]),
                    )
                    .description(Some("Seconds to wait before sending again."))
                    .build(),
            );
            response
        }
    }
}

/// A 422 for this operation's body: its first required field missing, as
/// [`crate::extract::parse_json`] reports it.
fn validation_example(operation: &Operation, schemas: &Schemas) -> Value {
    let schema = operation
        .request_body
        .as_ref()
        .and_then(|body| body.content.iter().find(|(ct, _)| is_json(ct)))
        .and_then(|(_, content)| content.schema.as_ref());
    let object = match schema {
        Some(RefOr::T(Schema::Object(object))) => Some(object),
        Some(RefOr::Ref(r)) => r
            .ref_location
            .strip_prefix("#/components/schemas/")
            .and_then(|name| schemas.get(name))
            .and_then(|schema| match schema {
                RefOr::T(Schema::Object(object)) => Some(object),
                _ => None,
            }),
        _ => None,
    };
    let error = match object.and_then(|o| o.required.first()) {
        Some(field) => ApiError::invalid_field(field, format!("missing field `{field}`")),
        None => parse_json::<serde_json::Map<String, Value>>(b"[]")
            .err()
            .unwrap_or_else(|| ApiError::invalid_field("body", "expected a JSON object")),
    };
    examples::problem(&error)
}

type Schemas = std::collections::BTreeMap<String, RefOr<Schema>>;

/// The bodies the platform sends, built by the code that sends them.
mod examples {
    use serde_json::Value;

    use crate::{
        auth::MISSING_KEY_DETAIL,
        config::DEFAULT_MAX_BODY_BYTES,
        error::{ApiError, ErrorCode},
        extract::parse_json,
    };

    pub fn problem(error: &ApiError) -> Value {
        error.example()
    }

    pub fn unauthorized() -> Value {
        problem(&ApiError::unauthorized(MISSING_KEY_DETAIL))
    }

    pub fn malformed_json() -> Value {
        let error = parse_json::<serde::de::IgnoredAny>(b"{\"name\": ")
            .err()
            .unwrap_or_else(|| ApiError::new(ErrorCode::MalformedJson));
        problem(&error)
    }

    pub fn payload_too_large() -> Value {
        problem(&ApiError::payload_too_large(DEFAULT_MAX_BODY_BYTES))
    }

    pub fn unsupported_media_type() -> Value {
        problem(&ApiError::unsupported_media_type("application/json"))
    }

    pub fn unavailable() -> Value {
        problem(&ApiError::new(ErrorCode::Unavailable))
    }

    pub fn concurrent_update() -> Value {
        problem(&ApiError::new(ErrorCode::ConcurrentUpdate))
    }

    pub fn internal_error() -> Value {
        problem(&ApiError::new(ErrorCode::InternalError))
    }

    pub fn invalid_query() -> Value {
        let error = crate::list::Paging {
            limit: Some("0".to_owned()),
            offset: None,
        }
        .page()
        .err()
        .unwrap_or_else(|| ApiError::invalid_field("limit", "must be a whole number"));
        problem(&error)
    }

    pub fn rate_limited() -> Value {
        problem(&ApiError::too_many_requests(
            std::time::Duration::from_secs(1),
        ))
    }
}

/// Serves `/openapi.json` and Swagger UI at `/docs` (assets vendored: no internet needed).
pub fn configure_docs(cfg: &mut web::ServiceConfig, doc: openapi::OpenApi) {
    cfg.route(
        "/docs",
        web::get().to(|| async {
            HttpResponse::PermanentRedirect()
                .insert_header(("Location", "/docs/"))
                .finish()
        }),
    )
    .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", doc));
}

/// Pretty JSON with a trailing newline, as committed under `openapi/`.
pub fn to_pretty_json(doc: &openapi::OpenApi) -> String {
    let mut json = doc
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    json.push('\n');
    json
}

#[cfg(test)]
mod tests {
    use utoipa::{
        ToSchema,
        openapi::{
            Required,
            path::{HttpMethod, OperationBuilder},
            request_body::RequestBodyBuilder,
        },
    };

    use super::*;

    #[derive(ToSchema)]
    #[allow(dead_code)]
    struct WidgetRequest {
        name: String,
        size: Option<u32>,
    }

    fn body(content_type: &str, schema: RefOr<Schema>) -> openapi::request_body::RequestBody {
        RequestBodyBuilder::new()
            .content(content_type, Content::new(Some(schema)))
            .required(Some(Required::True))
            .build()
    }

    fn json_body() -> openapi::request_body::RequestBody {
        body(JSON, Ref::from_schema_name("WidgetRequest").into())
    }

    /// One operation per path; `protected` ones require the API key.
    fn spec(
        ops: Vec<(
            &str,
            HttpMethod,
            bool,
            Option<openapi::request_body::RequestBody>,
        )>,
    ) -> openapi::OpenApi {
        let mut part = openapi::OpenApi::default();
        for (path, method, protected, request_body) in ops {
            let mut op = OperationBuilder::new()
                .summary(Some("op"))
                .response("200", ResponseBuilder::new().description("ok"));
            if protected {
                op = op.security(SecurityRequirement::new(
                    API_KEY_SCHEME,
                    Vec::<String>::new(),
                ));
            }
            let mut op = op.build();
            op.request_body = request_body;
            part.paths
                .paths
                .insert(path.to_owned(), PathItem::new(method, op));
        }
        part.components
            .get_or_insert_with(Default::default)
            .schemas
            .insert(
                "WidgetRequest".to_owned(),
                <WidgetRequest as utoipa::PartialSchema>::schema(),
            );
        document("t", "d", [part])
    }

    fn op<'a>(doc: &'a openapi::OpenApi, path: &str) -> &'a Operation {
        let item = &doc.paths.paths[path];
        item.post
            .as_ref()
            .or(item.get.as_ref())
            .or(item.put.as_ref())
            .unwrap_or_else(|| panic!("no operation at {path}"))
    }

    fn statuses(doc: &openapi::OpenApi, path: &str) -> Vec<String> {
        op(doc, path).responses.responses.keys().cloned().collect()
    }

    /// The response for `status`, resolving a shared one.
    fn response<'a>(doc: &'a openapi::OpenApi, path: &str, status: &str) -> &'a Response {
        match &op(doc, path).responses.responses[status] {
            RefOr::T(response) => response,
            RefOr::Ref(r) => {
                let name = r.ref_location.trim_start_matches("#/components/responses/");
                match &doc.components.as_ref().unwrap().responses[name] {
                    RefOr::T(response) => response,
                    RefOr::Ref(_) => panic!("nested ref"),
                }
            }
        }
    }

    fn example<'a>(doc: &'a openapi::OpenApi, path: &str, status: &str) -> &'a Value {
        response(doc, path, status).content[PROBLEM_JSON]
            .example
            .as_ref()
            .unwrap_or_else(|| panic!("{path} {status} has no example"))
    }

    #[test]
    fn each_operation_gets_the_responses_that_apply_to_it() {
        let doc = spec(vec![
            (
                "/api/v1/prm/widgets",
                HttpMethod::Post,
                true,
                Some(json_body()),
            ),
            ("/api/v1/prm/widgets/{id}", HttpMethod::Get, true, None),
            (
                "/api/v1/prm/webhooks/provider",
                HttpMethod::Post,
                false,
                Some(body(
                    "application/x-www-form-urlencoded",
                    ObjectBuilder::new().into(),
                )),
            ),
            (
                "/api/v1/prm/webhooks/signed-json",
                HttpMethod::Post,
                false,
                Some(body(JSON, ObjectBuilder::new().into())),
            ),
        ]);
        assert_eq!(
            statuses(&doc, "/api/v1/prm/widgets"),
            [
                "200", "400", "401", "409", "413", "415", "422", "429", "500", "503"
            ]
        );
        assert_eq!(
            statuses(&doc, "/api/v1/prm/widgets/{id}"),
            ["200", "401", "429", "500", "503"]
        );
        // Signature-checked webhooks: no key, and no content-type check on their raw body.
        assert_eq!(
            statuses(&doc, "/api/v1/prm/webhooks/provider"),
            ["200", "413", "429", "500", "503"]
        );
        assert_eq!(
            statuses(&doc, "/api/v1/prm/webhooks/signed-json"),
            ["200", "400", "413", "422", "429", "500", "503"]
        );
        // Probes are neither protected nor limited.
        assert_eq!(statuses(&doc, "/health"), ["200"]);
        assert_eq!(statuses(&doc, "/ready"), ["200", "503"]);
    }

    #[test]
    fn the_examples_are_the_problems_the_platform_sends() {
        let doc = spec(vec![(
            "/api/v1/prm/widgets",
            HttpMethod::Post,
            true,
            Some(json_body()),
        )]);
        let path = "/api/v1/prm/widgets";
        for (status, code) in [
            ("400", "malformed_json"),
            ("401", "unauthorized"),
            ("413", "payload_too_large"),
            ("415", "unsupported_media_type"),
            ("422", "validation_failed"),
            ("429", "rate_limited"),
            ("409", "concurrent_update"),
            ("500", "internal_error"),
            ("503", "unavailable"),
        ] {
            let example = example(&doc, path, status);
            assert_eq!(example["code"], code, "{status}");
            assert_eq!(example["status"].to_string(), status);
            assert_eq!(example["type"], format!("urn:prm:problem:{code}"));
        }
        assert_eq!(
            example(&doc, path, "422")["errors"],
            json!([{"field": "name", "message": "missing field `name`"}]),
            "the first required field of the body"
        );
        assert!(
            response(&doc, path, "401")
                .headers
                .contains_key("WWW-Authenticate")
        );
        assert!(
            response(&doc, path, "429")
                .headers
                .contains_key("Retry-After")
        );
    }

    #[test]
    fn a_route_keeps_its_own_description_and_gets_the_example() {
        let mut part = openapi::OpenApi::default();
        let op = OperationBuilder::new()
            .security(SecurityRequirement::new(
                API_KEY_SCHEME,
                Vec::<String>::new(),
            ))
            .response(
                "401",
                ResponseBuilder::new()
                    .description("Key of another clinic")
                    .content(JSON, Content::new(Some(Ref::from_schema_name("Problem")))),
            )
            .response(
                "413",
                ResponseBuilder::new().description("Over 4 MiB").content(
                    PROBLEM_JSON,
                    Content::new(Some(Ref::from_schema_name("Problem"))),
                ),
            )
            .response(
                "422",
                ResponseBuilder::new()
                    .content(JSON, Content::new(Some(Ref::from_schema_name("Problem")))),
            )
            .build();
        let mut op = op;
        op.request_body = Some(json_body());
        part.paths.paths.insert(
            "/api/v1/prm/x".to_owned(),
            PathItem::new(HttpMethod::Post, op),
        );
        part.components
            .get_or_insert_with(Default::default)
            .schemas
            .insert(
                "WidgetRequest".to_owned(),
                <WidgetRequest as utoipa::PartialSchema>::schema(),
            );
        let doc = document("t", "d", [part]);
        let own = response(&doc, "/api/v1/prm/x", "401");
        assert_eq!(own.description, "Key of another clinic");
        assert!(!own.content.contains_key(JSON), "a problem is problem+json");
        assert_eq!(
            example(&doc, "/api/v1/prm/x", "401")["code"],
            "unauthorized"
        );
        // A route that only names the status gets the standard words and example.
        let own = response(&doc, "/api/v1/prm/x", "422");
        assert!(
            own.description.contains("validation_failed"),
            "{}",
            own.description
        );
        assert_eq!(
            example(&doc, "/api/v1/prm/x", "422")["errors"][0]["field"],
            "name"
        );
        // A route's own 413 names its own limit; no generic example is forced on it.
        let own = response(&doc, "/api/v1/prm/x", "413");
        assert_eq!(own.description, "Over 4 MiB");
        assert!(own.content[PROBLEM_JSON].example.is_none());
    }

    #[test]
    fn the_document_names_its_server_and_the_signature_schemes_its_operations_use() {
        let mut part = openapi::OpenApi::default();
        let signed = OperationBuilder::new()
            .summary(Some("signed"))
            .response("200", ResponseBuilder::new().description("ok"))
            .security(SecurityRequirement::new(
                PRM_SIGNATURE_SCHEME,
                Vec::<String>::new(),
            ))
            .security(SecurityRequirement::new(
                N8N_BEARER_SCHEME,
                Vec::<String>::new(),
            ))
            .build();
        part.paths.paths.insert(
            "/api/v1/prm/n8n/x".to_owned(),
            PathItem::new(HttpMethod::Post, signed),
        );
        let doc = document("t", "d", [part]);
        let json = serde_json::to_value(&doc).unwrap();
        assert_eq!(
            json["servers"],
            json!([{"url": "/", "description": "This server"}])
        );
        let schemes = &json["components"]["securitySchemes"];
        assert_eq!(schemes[PRM_SIGNATURE_SCHEME]["type"], "apiKey");
        assert_eq!(schemes[PRM_SIGNATURE_SCHEME]["in"], "header");
        assert_eq!(schemes[PRM_SIGNATURE_SCHEME]["name"], "X-PRM-Signature");
        assert_eq!(schemes[N8N_BEARER_SCHEME]["scheme"], "bearer");
        assert!(
            schemes.get(TWILIO_SIGNATURE_SCHEME).is_none()
                && schemes.get(META_SIGNATURE_SCHEME).is_none(),
            "a scheme no operation uses is not declared: {schemes}"
        );
    }

    #[test]
    fn a_problem_response_without_words_gets_those_of_its_example_or_its_status() {
        let mut part = openapi::OpenApi::default();
        let mut in_use = Content::new(Some(Ref::from_schema_name("Problem")));
        in_use.example = Some(ApiError::new(ErrorCode::InUse).example());
        let op = OperationBuilder::new()
            .response("204", ResponseBuilder::new().description("Deleted"))
            .response("409", ResponseBuilder::new().content(PROBLEM_JSON, in_use))
            .response(
                "404",
                ResponseBuilder::new()
                    .content(JSON, Content::new(Some(Ref::from_schema_name("Problem")))),
            )
            .build();
        part.paths.paths.insert(
            "/things/{id}".to_owned(),
            PathItem::new(HttpMethod::Delete, op),
        );
        let doc = document("t", "d", [part]);
        let operation = doc.paths.paths["/things/{id}"].delete.as_ref().unwrap();
        let description = |status: &str| match &operation.responses.responses[status] {
            RefOr::T(response) => response.description.clone(),
            RefOr::Ref(_) => panic!("{status} is shared"),
        };
        assert_eq!(description("204"), "Deleted");
        assert_eq!(
            description("409"),
            format!("Conflict (`in_use`): {}", ErrorCode::InUse.default_detail())
        );
        assert!(
            description("404").contains("`not_found`"),
            "{}",
            description("404")
        );
    }

    #[derive(ToSchema)]
    #[allow(dead_code)]
    struct Gadget {
        /// Where it is kept; null when nowhere.
        place: Option<WidgetRequest>,
    }

    #[test]
    fn a_nullable_reference_shows_its_description_on_the_property() {
        let mut part = openapi::OpenApi::default();
        let schemas = &mut part.components.get_or_insert_with(Default::default).schemas;
        schemas.insert(
            "Gadget".to_owned(),
            <Gadget as utoipa::PartialSchema>::schema(),
        );
        let json = serde_json::to_value(document("t", "d", [part])).unwrap();
        let place = &json["components"]["schemas"]["Gadget"]["properties"]["place"];
        assert_eq!(
            place["description"], "Where it is kept; null when nowhere.",
            "{place}"
        );
    }
}
