//! OpenAPI document assembly and Swagger UI mounting.

use actix_web::{HttpResponse, web};
use utoipa::{
    Modify, OpenApi,
    openapi::{
        self,
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};
use utoipa_swagger_ui::SwaggerUi;

use crate::{
    error::{FieldError, Problem},
    health::HealthDoc,
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
    doc.info.title = title.to_owned();
    doc.info.description = Some(description.to_owned());
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
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
