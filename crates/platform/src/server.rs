//! The HTTP server every PRM binary runs: shared middleware (request tracing,
//! per-client rate limits, body limits), problem+json for extractor failures, unknown
//! routes (404) and methods a known path does not have (405 with `Allow`), health,
//! readiness and docs. Services contribute their routes through `configure`.
//! Binding is separate from serving so tests can bind port 0 and learn the port.

use std::{net::TcpListener, sync::Arc};

use actix_web::{
    App, Error, HttpMessage, HttpRequest, HttpResponse, HttpServer, ResponseError,
    body::{EitherBody, MessageBody},
    dev::{Server, ServiceRequest, ServiceResponse},
    http::{Method, header::CONTENT_LENGTH},
    middleware::{Next, from_fn},
    web,
};

use crate::{
    auth::ApiKeys,
    error::ApiError,
    extract::{BodyLimit, json_config, path_config, query_config},
    health::{Readiness, health, ready},
    openapi::configure_docs,
    rate_limit::{RateLimits, enforce_rate_limit},
    routes::RouteMethods,
};

/// Body-size limits: one default, with larger limits for path prefixes that need
/// them (Meta batches webhook deliveries up to several MiB).
#[derive(Debug, Clone)]
pub struct BodyLimits {
    pub default: usize,
    pub overrides: Vec<(&'static str, usize)>,
}

impl BodyLimits {
    pub fn new(default: usize) -> Self {
        Self {
            default,
            overrides: Vec::new(),
        }
    }

    pub fn with_override(mut self, path_prefix: &'static str, limit: usize) -> Self {
        self.overrides.push((path_prefix, limit));
        self
    }

    pub fn for_path(&self, path: &str) -> usize {
        self.overrides
            .iter()
            .filter(|(prefix, _)| path.starts_with(prefix))
            .max_by_key(|(prefix, _)| prefix.len())
            .map_or(self.default, |(_, limit)| *limit)
    }

    fn largest(&self) -> usize {
        self.overrides
            .iter()
            .map(|(_, l)| *l)
            .chain([self.default])
            .max()
            .unwrap_or(self.default)
    }
}

/// What the shared server needs besides the service's own routes.
#[derive(Clone)]
pub struct HttpSetup {
    pub api_keys: ApiKeys,
    pub readiness: Readiness,
    pub openapi: utoipa::openapi::OpenApi,
    pub body_limits: BodyLimits,
    pub rate_limits: Arc<RateLimits>,
}

/// The configured API keys; with none configured (development only: production
/// refuses to start without keys) a random key is generated and returned so the
/// binary can print it.
pub fn api_keys(settings: &crate::Settings) -> (ApiKeys, Option<secrecy::SecretString>) {
    if settings.api_keys.is_empty() {
        let key = crate::auth::generate_dev_key();
        (ApiKeys::new([&key]), Some(key))
    } else {
        (ApiKeys::new(&settings.api_keys), None)
    }
}

pub fn bind(host: &str, port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind((host, port))
}

/// Rejects a declared body over the route's limit before reading it (413).
/// Chunked bodies are bounded by the extractors' own limits.
async fn enforce_body_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let limit = req
        .app_data::<web::Data<BodyLimits>>()
        .map_or(crate::config::DEFAULT_MAX_BODY_BYTES, |l| {
            l.for_path(req.path())
        });
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Ok(req
            .error_response(ApiError::payload_too_large(limit))
            .map_into_right_body());
    }
    req.extensions_mut().insert(BodyLimit(limit));
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// A request no route took: 405 `method_not_allowed` with `Allow` when the path is one
/// the server has (with other methods), 404 `route_not_found` otherwise.
async fn unknown_route(req: HttpRequest, routes: web::Data<RouteMethods>) -> HttpResponse {
    routes
        .method_not_allowed(&req)
        .unwrap_or_else(|| ApiError::route_not_found().error_response())
}

/// The path → methods table of the server: the document's paths, plus the routes the
/// platform serves outside it (the document itself, Swagger UI's entry).
fn route_methods(doc: &utoipa::openapi::OpenApi) -> RouteMethods {
    RouteMethods::from_openapi(doc)
        .with("/openapi.json", [Method::GET])
        .with("/docs", [Method::GET])
}

/// Starts serving on `listener`. Shutdown is graceful on SIGINT/SIGTERM: in-flight
/// requests get up to 30 s to finish.
pub fn serve<F>(listener: TcpListener, setup: HttpSetup, configure: F) -> std::io::Result<Server>
where
    F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
{
    crate::metrics::install();
    let api_keys = web::Data::new(setup.api_keys);
    let readiness = web::Data::new(setup.readiness);
    let limits = web::Data::new(setup.body_limits.clone());
    let rate_limits = web::Data::from(setup.rate_limits);
    let largest = setup.body_limits.largest();
    let default_limit = setup.body_limits.default;
    let doc = setup.openapi;
    let routes = web::Data::new(route_methods(&doc));
    let server = HttpServer::new(move || {
        App::new()
            .wrap(from_fn(enforce_body_limit))
            .wrap(from_fn(enforce_rate_limit))
            .wrap(from_fn(crate::request_id::trace_requests))
            .app_data(api_keys.clone())
            .app_data(readiness.clone())
            .app_data(limits.clone())
            .app_data(rate_limits.clone())
            .app_data(BodyLimit(default_limit))
            .app_data(web::PayloadConfig::new(largest))
            .app_data(json_config(default_limit))
            .app_data(query_config())
            .app_data(path_config())
            .app_data(routes.clone())
            .service(health)
            .service(ready)
            .service(crate::metrics::metrics_endpoint)
            .configure(|cfg| configure_docs(cfg, doc.clone()))
            .configure(configure.clone())
            .default_service(web::to(unknown_route))
    })
    .listen(listener)?
    .shutdown_timeout(30)
    .run();
    Ok(server)
}
