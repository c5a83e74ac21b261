//! Per-request tracing: a request id (taken from `X-Request-Id` or generated),
//! a server span that continues the caller's W3C trace, one completion log line,
//! and the id echoed back in the response.
//!
//! Only the route pattern is logged, never the concrete path or query: they can
//! carry phone numbers.

use std::time::Instant;

use actix_web::{
    Error, HttpMessage,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::header::{HeaderName, HeaderValue},
    middleware::Next,
};
use opentelemetry::propagation::Extractor;
use tracing::{Instrument, field::Empty};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use uuid::Uuid;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the current request, available from request extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

struct HeaderExtractor<'a>(&'a actix_web::http::header::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

fn incoming_request_id(req: &ServiceRequest) -> Option<String> {
    let value = req.headers().get(&REQUEST_ID_HEADER)?.to_str().ok()?;
    let ok = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    ok.then(|| value.to_owned())
}

pub async fn trace_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let request_id = incoming_request_id(&req).unwrap_or_else(|| Uuid::new_v4().to_string());
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let span = tracing::info_span!(
        "http.request",
        otel.name = %format!("{} {}", req.method(), route),
        otel.kind = "server",
        request_id = %request_id,
        http.request.method = %req.method(),
        http.route = %route,
        http.response.status_code = Empty,
    );
    let parent = opentelemetry::global::get_text_map_propagator(|p| {
        p.extract(&HeaderExtractor(req.headers()))
    });
    span.set_parent(parent);
    req.extensions_mut().insert(RequestId(request_id.clone()));

    let method = req.method().to_string();
    let started = Instant::now();
    let result = next.call(req).instrument(span.clone()).await;
    let elapsed = started.elapsed().as_secs_f64();
    let elapsed_ms = elapsed * 1000.0;
    match result {
        Ok(mut response) => {
            let status = response.status().as_u16();
            crate::metrics::record_request(&method, &route, status, elapsed);
            span.record("http.response.status_code", status);
            if let Ok(value) = HeaderValue::from_str(&request_id) {
                response.headers_mut().insert(REQUEST_ID_HEADER, value);
            }
            span.in_scope(|| {
                if status >= 500 {
                    tracing::error!(status, elapsed_ms, "request completed");
                } else {
                    tracing::info!(status, elapsed_ms, "request completed");
                }
            });
            Ok(response)
        }
        Err(err) => {
            span.in_scope(|| tracing::error!(elapsed_ms, error = %err, "request failed"));
            Err(err)
        }
    }
}
