//! Which methods each path of the API has, taken once at start from the OpenAPI document,
//! so that a request the router cannot match is told apart: a known path asked with a
//! method it does not have answers 405 `method_not_allowed` with `Allow`, anything else
//! 404 `route_not_found`.

use actix_web::{
    HttpRequest, HttpResponse, ResponseError,
    http::{
        Method,
        header::{ALLOW, HeaderValue},
    },
};
use utoipa::openapi::{self, PathItem};

use crate::error::ApiError;

/// One segment of a path template: a literal, or a `{parameter}` matching any non-empty
/// segment (as actix's `{name}` matches `[^/]+`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Parameter,
}

#[derive(Debug, Clone)]
struct Route {
    segments: Vec<Segment>,
    methods: Vec<Method>,
}

impl Route {
    /// How many literal segments matched, when the path matches the template.
    fn matches(&self, path: &[&str]) -> Option<usize> {
        if self.segments.len() != path.len() {
            return None;
        }
        let mut literals = 0;
        for (segment, part) in self.segments.iter().zip(path) {
            match segment {
                Segment::Literal(literal) if literal == part => literals += 1,
                Segment::Parameter if !part.is_empty() => {}
                _ => return None,
            }
        }
        Some(literals)
    }
}

/// The path → methods table of a server.
#[derive(Debug, Clone, Default)]
pub struct RouteMethods {
    routes: Vec<Route>,
}

impl RouteMethods {
    /// Every path of `doc` with the methods it has operations for.
    pub fn from_openapi(doc: &openapi::OpenApi) -> Self {
        let mut table = Self::default();
        for (path, item) in &doc.paths.paths {
            table = table.with(path, methods(item));
        }
        table
    }

    /// Adds (or extends) `template` with `methods`: routes served outside the document.
    pub fn with(mut self, template: &str, methods: impl IntoIterator<Item = Method>) -> Self {
        let segments = split(template)
            .into_iter()
            .map(|s| {
                if s.starts_with('{') && s.ends_with('}') {
                    Segment::Parameter
                } else {
                    Segment::Literal(s.to_owned())
                }
            })
            .collect::<Vec<_>>();
        let index = match self.routes.iter().position(|r| r.segments == segments) {
            Some(index) => index,
            None => {
                self.routes.push(Route {
                    segments,
                    methods: Vec::new(),
                });
                self.routes.len() - 1
            }
        };
        let route = &mut self.routes[index];
        for method in methods {
            if !route.methods.contains(&method) {
                route.methods.push(method);
            }
        }
        route.methods.sort_by_key(method_order);
        self
    }

    /// The methods of the template that matches `path` most specifically (most literal
    /// segments: `/appointments/find-slots` before `/appointments/{id}`), or `None` for
    /// a path the server does not have.
    pub fn allowed(&self, path: &str) -> Option<&[Method]> {
        let parts = split(path);
        self.routes
            .iter()
            .filter_map(|route| route.matches(&parts).map(|literals| (literals, route)))
            .max_by_key(|(literals, _)| *literals)
            .map(|(_, route)| route.methods.as_slice())
            .filter(|methods| !methods.is_empty())
    }

    /// The 405 for `req` when its path is one of the table's and the method is not one
    /// of that path's.
    pub fn method_not_allowed(&self, req: &HttpRequest) -> Option<HttpResponse> {
        let methods = self.allowed(req.path())?;
        if methods.contains(req.method()) {
            return None;
        }
        let allow = join(methods);
        let mut response = ApiError::method_not_allowed()
            .with_detail(format!(
                "{} is not one of the methods of this path: {allow}.",
                req.method()
            ))
            .error_response();
        if let Ok(value) = HeaderValue::from_str(&allow) {
            response.headers_mut().insert(ALLOW, value);
        }
        Some(response)
    }

    /// `allowed` as the value of an `Allow` header: `GET, POST`.
    pub fn allow_header(&self, path: &str) -> Option<String> {
        self.allowed(path).map(join)
    }
}

fn join(methods: &[Method]) -> String {
    methods
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

fn split(path: &str) -> Vec<&str> {
    path.strip_prefix('/').unwrap_or(path).split('/').collect()
}

fn methods(item: &PathItem) -> Vec<Method> {
    [
        (item.get.is_some(), Method::GET),
        (item.put.is_some(), Method::PUT),
        (item.post.is_some(), Method::POST),
        (item.delete.is_some(), Method::DELETE),
        (item.options.is_some(), Method::OPTIONS),
        (item.head.is_some(), Method::HEAD),
        (item.patch.is_some(), Method::PATCH),
        (item.trace.is_some(), Method::TRACE),
    ]
    .into_iter()
    .filter_map(|(present, method)| present.then_some(method))
    .collect()
}

fn method_order(method: &Method) -> usize {
    [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
        Method::TRACE,
    ]
    .iter()
    .position(|m| m == method)
    .unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use utoipa::openapi::{
        ResponseBuilder,
        path::{HttpMethod, OperationBuilder, PathItem},
    };

    use super::*;

    fn doc(paths: &[(&str, &[HttpMethod])]) -> openapi::OpenApi {
        let mut doc = openapi::OpenApi::default();
        for (path, methods) in paths {
            let mut item = PathItem::default();
            for method in *methods {
                let op = OperationBuilder::new()
                    .response("200", ResponseBuilder::new().description("ok"))
                    .build();
                item.merge_operations(PathItem::new(method.clone(), op));
            }
            doc.paths.paths.insert((*path).to_owned(), item);
        }
        doc
    }

    fn table() -> RouteMethods {
        RouteMethods::from_openapi(&doc(&[
            (
                "/api/v1/prm/appointments",
                &[HttpMethod::Get, HttpMethod::Post],
            ),
            ("/api/v1/prm/appointments/find-slots", &[HttpMethod::Post]),
            (
                "/api/v1/prm/appointments/{id}",
                &[HttpMethod::Patch, HttpMethod::Get],
            ),
            (
                "/api/v1/prm/practitioners/{id}/schedules/{schedule_id}",
                &[HttpMethod::Get, HttpMethod::Put, HttpMethod::Delete],
            ),
            ("/health", &[HttpMethod::Get]),
        ]))
        .with("/metrics", [Method::GET])
    }

    #[test]
    fn a_known_path_lists_its_methods_in_a_stable_order() {
        let table = table();
        assert_eq!(
            table.allow_header("/api/v1/prm/appointments").as_deref(),
            Some("GET, POST")
        );
        assert_eq!(
            table
                .allow_header("/api/v1/prm/appointments/5d1e0c9e-0000-4000-8000-000000000000")
                .as_deref(),
            Some("GET, PATCH")
        );
        assert_eq!(
            table
                .allow_header("/api/v1/prm/practitioners/a/schedules/b")
                .as_deref(),
            Some("GET, PUT, DELETE")
        );
        assert_eq!(table.allow_header("/metrics").as_deref(), Some("GET"));
        assert_eq!(table.allow_header("/health").as_deref(), Some("GET"));
    }

    #[test]
    fn a_literal_segment_wins_over_a_parameter() {
        assert_eq!(
            table()
                .allow_header("/api/v1/prm/appointments/find-slots")
                .as_deref(),
            Some("POST")
        );
    }

    #[test]
    fn unknown_paths_have_no_methods() {
        let table = table();
        for path in [
            "/",
            "/nope",
            "/api/v1/prm",
            "/api/v1/prm/appointments/",
            "/api/v1/prm/appointments/x/y",
            "/api/v1/prm/practitioners//schedules/b",
            "/health/",
            "/api/v1/prm/appointmentsX",
        ] {
            assert_eq!(table.allowed(path), None, "{path}");
        }
    }

    #[test]
    fn extending_a_path_merges_methods_without_repeating_them() {
        let table = RouteMethods::default()
            .with("/x/{a}", [Method::POST])
            .with("/x/{b}", [Method::GET, Method::POST]);
        assert_eq!(table.allow_header("/x/1").as_deref(), Some("GET, POST"));
    }
}
