//! OpenAPI document assembly and Swagger UI mounting.

use actix_web::{HttpResponse, web};
use utoipa::{
    Modify, OpenApi,
    openapi::{
        self, Content, HeaderBuilder, ObjectBuilder, Ref, ResponseBuilder, Type,
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};
use utoipa_swagger_ui::SwaggerUi;

use crate::{
    error::{FieldError, Problem},
    health::HealthDoc,
    rate_limit::API_PREFIX,
};

/// Name of the security scheme every clinic endpoint refers to.
pub const API_KEY_SCHEME: &str = "api_key";

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

#[derive(OpenApi)]
#[openapi(
    info(license(name = "Apache-2.0")),
    components(schemas(Problem, FieldError)),
    modifiers(&SecuritySchemes),
)]
struct BaseDoc;

/// Builds a service's document: the shared parts (health, problem schema, security)
/// merged with the service's own paths.
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
    document_rate_limits(&mut doc);
    doc.info.title = title.to_owned();
    doc.info.description = Some(description.to_owned());
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// Name of the shared 429 response every rate-limited operation refers to.
pub const RATE_LIMITED_RESPONSE: &str = "RateLimited";

/// Every operation under [`API_PREFIX`] can answer 429 (see [`crate::rate_limit`]):
/// one shared response, referenced from each of them.
fn document_rate_limits(doc: &mut openapi::OpenApi) {
    let mut limited = false;
    for (path, item) in doc.paths.paths.iter_mut() {
        if !path.starts_with(API_PREFIX) {
            continue;
        }
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            operation
                .responses
                .responses
                .entry("429".to_owned())
                .or_insert_with(|| Ref::from_response_name(RATE_LIMITED_RESPONSE).into());
            limited = true;
        }
    }
    if limited {
        let retry_after = HeaderBuilder::new()
            .schema(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1)),
            )
            .description(Some("Seconds to wait before sending again."))
            .build();
        let response = ResponseBuilder::new()
            .description(
                "Too many requests from this client (`rate_limited`); retry after `Retry-After` seconds.",
            )
            .header("Retry-After", retry_after)
            .content(
                "application/problem+json",
                Content::new(Some(Ref::from_schema_name("Problem"))),
            )
            .build();
        doc.components
            .get_or_insert_with(Default::default)
            .responses
            .insert(RATE_LIMITED_RESPONSE.to_owned(), response.into());
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
    use utoipa::openapi::{PathItem, RefOr, path::HttpMethod, path::OperationBuilder};

    use super::*;

    fn part(path: &str) -> openapi::OpenApi {
        let mut doc = openapi::OpenApi::default();
        doc.paths.paths.insert(
            path.to_owned(),
            PathItem::new(HttpMethod::Post, OperationBuilder::new().build()),
        );
        doc
    }

    fn has_429(doc: &openapi::OpenApi, path: &str) -> bool {
        doc.paths.paths[path]
            .post
            .as_ref()
            .or(doc.paths.paths[path].get.as_ref())
            .is_some_and(|op| op.responses.responses.contains_key("429"))
    }

    #[test]
    fn every_api_operation_documents_the_shared_429_and_probes_do_not() {
        let doc = document(
            "t",
            "d",
            [
                part("/api/v1/prm/locations"),
                part("/api/v1/prm/webhooks/twilio"),
            ],
        );
        assert!(has_429(&doc, "/api/v1/prm/locations"));
        assert!(has_429(&doc, "/api/v1/prm/webhooks/twilio"));
        assert!(!has_429(&doc, "/health"));
        let components = doc.components.as_ref().unwrap();
        let Some(RefOr::T(response)) = components.responses.get(RATE_LIMITED_RESPONSE) else {
            panic!("shared 429 response missing");
        };
        assert!(response.headers.contains_key("Retry-After"));
        assert!(response.content.contains_key("application/problem+json"));
    }
}
