//! The committed specs under `openapi/` must be exactly what the code generates.
//! `make openapi` (UPDATE_OPENAPI=1) rewrites them.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::path::PathBuf;

use prm_platform::openapi::to_pretty_json;
use serde_json::Value;

/// `prm.json` and one document per service `prm` hosts, named after the service: a
/// service added to `prm::SERVICES` gets its document with no other list to edit.
fn specs() -> Vec<(String, utoipa::openapi::OpenApi)> {
    let mut specs = vec![("prm.json".to_owned(), prm::api_doc())];
    for service in prm::SERVICES {
        let doc = prm_runtime::api_doc(service.title, service.description, &[service]);
        specs.push((format!("{}.json", service.name), doc));
    }
    specs
}

fn folder() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../openapi")
}

#[test]
fn committed_openapi_matches_the_code() {
    let update = std::env::var_os("UPDATE_OPENAPI").is_some();
    let mut stale = Vec::new();
    for (file, doc) in specs() {
        let path = folder().join(&file);
        let generated = to_pretty_json(&doc);
        if update {
            std::fs::write(&path, &generated)
                .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != generated {
            stale.push(file);
        }
    }
    assert!(
        stale.is_empty(),
        "openapi/{stale:?} differ from the code: run `make openapi` and commit the result"
    );
    // And nothing else: a document of a service `prm` no longer hosts is not current.
    let generated: Vec<String> = specs().into_iter().map(|(file, _)| file).collect();
    let mut committed: Vec<String> = std::fs::read_dir(folder())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".json"))
        .collect();
    committed.sort();
    let mut expected = generated.clone();
    expected.sort();
    assert_eq!(committed, expected, "openapi/*.json against prm::SERVICES");
}

#[test]
fn every_operation_is_documented_with_responses_and_the_combined_spec_has_every_service() {
    let doc = prm::api_doc();
    let json = serde_json::to_value(&doc).unwrap();
    let paths = json["paths"].as_object().unwrap();
    for required in [
        "/health",
        "/ready",
        "/api/v1/prm/locations",
        "/api/v1/prm/practitioners/{id}/schedules",
        "/api/v1/prm/patients",
        "/api/v1/prm/appointments/find-slots",
        "/api/v1/prm/appointments/select-slot",
        "/api/v1/prm/appointments/{id}/cancel",
        "/api/v1/prm/webhooks/twilio",
        "/api/v1/prm/webhooks/twilio/status",
        "/api/v1/prm/webhooks/voice-agent",
        "/api/v1/prm/webhooks/whatsapp",
        "/api/v1/prm/webhooks/health",
        "/api/v1/prm/n8n/intake-response",
        "/api/v1/prm/n8n/triage-response",
        "/api/v1/prm/n8n/booking-response",
        "/api/v1/prm/n8n/health",
    ] {
        assert!(
            paths.contains_key(required),
            "{required} missing from the combined spec"
        );
    }
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path} has no responses"
            );
            assert!(
                op["summary"].is_string() || op["description"].is_string(),
                "{method} {path} is undocumented"
            );
            if path.starts_with("/api/v1/prm/")
                && !path.starts_with("/api/v1/prm/webhooks")
                && !path.starts_with("/api/v1/prm/n8n")
            {
                assert!(
                    op["security"].is_array(),
                    "{method} {path} does not declare its API key"
                );
            }
        }
    }
}

#[test]
fn request_bodies_carry_examples() {
    let json = serde_json::to_value(prm::api_doc()).unwrap();
    for (name, schema) in json["components"]["schemas"].as_object().unwrap() {
        if name.ends_with("Request") && name != "PreferencesRequest" {
            assert!(
                schema.get("example").is_some() || schema.get("examples").is_some(),
                "{name} has no example"
            );
        }
    }
}

/// A spec as JSON, with `$ref`s resolvable.
struct Spec(Value);

impl Spec {
    fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let mut target = &self.0;
                for part in reference.trim_start_matches("#/").split('/') {
                    target = &target[part];
                }
                assert!(!target.is_null(), "{reference} does not resolve");
                self.resolve(target)
            }
            None => value,
        }
    }

    /// `(method path, operation)` of every operation.
    fn operations(&self) -> Vec<(String, &Value)> {
        let mut ops = Vec::new();
        for (path, item) in self.0["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if [
                    "get", "put", "post", "delete", "patch", "head", "options", "trace",
                ]
                .contains(&method.as_str())
                {
                    ops.push((format!("{} {path}", method.to_uppercase()), op));
                }
            }
        }
        ops
    }

    fn has_example(&self, value: &Value) -> bool {
        let value = self.resolve(value);
        value.get("example").is_some()
            || value.get("examples").is_some_and(|e| {
                e.as_object().is_some_and(|m| !m.is_empty())
                    || e.as_array().is_some_and(|a| !a.is_empty())
            })
    }
}

fn specs_as_json() -> Vec<(String, Spec)> {
    specs()
        .into_iter()
        .map(|(file, doc)| (file, Spec(serde_json::to_value(&doc).unwrap())))
        .collect()
}

fn is_json(content_type: &str) -> bool {
    let mime = content_type.split(';').next().unwrap_or("").trim();
    mime == "application/json" || mime.ends_with("+json")
}

/// The platform's own answers are documented wherever they can happen: 401 where the API
/// key is required, 400/413/415/422 where a JSON body is read (provider webhooks check
/// a signature over the raw body instead of the content type, so no 415 there), 413
/// wherever there is a body, 429 on every rate-limited path.
#[test]
fn every_operation_documents_the_platform_errors_it_can_answer() {
    let mut missing = Vec::new();
    for (file, spec) in specs_as_json() {
        for (name, op) in spec.operations() {
            let path = name.split_once(' ').unwrap().1;
            let responses = op["responses"].as_object().unwrap();
            let mut need = |status: &str, why: &str| {
                if !responses.contains_key(status) {
                    missing.push(format!("{file}: {name} lacks {status} ({why})"));
                }
            };
            let protected = op["security"]
                .as_array()
                .is_some_and(|reqs| reqs.iter().any(|r| r.get("api_key").is_some()));
            if protected {
                need("401", "it requires the API key");
            }
            if path.starts_with("/api/v1/prm/") {
                need("429", "it is rate limited");
            }
            if let Some(body) = op.get("requestBody") {
                need("413", "it takes a body");
                let content = body["content"].as_object().unwrap();
                if content.keys().any(|ct| is_json(ct)) {
                    need("400", "it reads a JSON body");
                    need("422", "it validates a JSON body");
                    if !path.starts_with("/api/v1/prm/webhooks/")
                        && !path.starts_with("/api/v1/prm/n8n/")
                    {
                        need("415", "it insists on application/json");
                    }
                }
            }
        }
    }
    assert!(missing.is_empty(), "\n{}", missing.join("\n"));
}

/// Swagger UI shows examples, and clinic developers copy them: every response body and
/// every parameter has one, and a problem's example is a problem of that status.
#[test]
fn every_response_and_parameter_has_an_example() {
    let mut missing = std::collections::BTreeSet::new();
    for (_, spec) in specs_as_json() {
        for (name, op) in spec.operations() {
            for (status, response) in op["responses"].as_object().unwrap() {
                let response = spec.resolve(response);
                let Some(content) = response.get("content").and_then(Value::as_object) else {
                    continue;
                };
                for (content_type, media) in content {
                    if content_type == "application/problem+json" {
                        // The schema's own example counts only when it is of this status
                        // (Problem's is a 422, NotReadyProblem's a 503).
                        let own = media.get("example");
                        let example = own.or_else(|| {
                            media
                                .get("schema")
                                .and_then(|s| spec.resolve(s).get("example"))
                        });
                        let gap = match example.map(|e| &e["status"]) {
                            Some(Value::Number(n)) if n.to_string() == *status => continue,
                            Some(other) if own.is_some() => {
                                format!("{name} {status}: the problem example has status {other}")
                            }
                            _ => format!("{name} {status}: the problem has no example"),
                        };
                        missing.insert(gap);
                        continue;
                    }
                    let schema_example = media.get("schema").is_some_and(|s| spec.has_example(s));
                    if !(spec.has_example(media) || schema_example) {
                        missing.insert(format!("{name} {status} {content_type}: no example"));
                    }
                }
            }
            for parameter in op["parameters"].as_array().into_iter().flatten() {
                let parameter = spec.resolve(parameter);
                let schema_example = parameter.get("schema").is_some_and(|s| spec.has_example(s));
                if !(spec.has_example(parameter) || schema_example) {
                    missing.insert(format!(
                        "{name}: parameter `{}` has no example",
                        parameter["name"].as_str().unwrap_or("?")
                    ));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "{} response(s) or parameter(s) without an example:\n{}",
        missing.len(),
        missing
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// What Swagger UI shows a clinic developer reads as a finished product: every response
/// and parameter says what it means, summaries fit on one line (the rest goes in the description),
/// every tag is explained, every schema property is described, and the document says
/// where it is served. A `$ref`-only property is described by the schema it names.
#[test]
fn every_response_summary_tag_and_property_is_described() {
    const MAX_SUMMARY_CHARS: usize = 80;
    let mut gaps = std::collections::BTreeSet::new();
    for (file, spec) in specs_as_json() {
        let json = &spec.0;
        if json["servers"]
            .as_array()
            .is_none_or(|servers| servers.is_empty())
        {
            gaps.insert(format!("{file}: no `servers`"));
        }
        let described: Vec<&str> = json["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|tag| {
                tag["description"]
                    .as_str()
                    .is_some_and(|d| !d.trim().is_empty())
            })
            .filter_map(|tag| tag["name"].as_str())
            .collect();
        for (name, op) in spec.operations() {
            let summary = op["summary"].as_str().unwrap_or_default();
            if summary.chars().count() > MAX_SUMMARY_CHARS {
                gaps.insert(format!(
                    "{file}: {name}: summary over {MAX_SUMMARY_CHARS} characters ({}): end the doc comment's first paragraph sooner",
                    summary.chars().count()
                ));
            }
            for tag in op["tags"].as_array().into_iter().flatten() {
                let tag = tag.as_str().unwrap_or_default();
                if !described.contains(&tag) {
                    gaps.insert(format!("{file}: tag `{tag}` has no description"));
                }
            }
            for parameter in op["parameters"].as_array().into_iter().flatten() {
                let parameter = spec.resolve(parameter);
                if parameter["description"]
                    .as_str()
                    .is_none_or(|d| d.trim().is_empty())
                {
                    gaps.insert(format!(
                        "{file}: {name}: parameter `{}` has no description",
                        parameter["name"].as_str().unwrap_or("?")
                    ));
                }
            }
            for (status, response) in op["responses"].as_object().unwrap() {
                let response = spec.resolve(response);
                if response["description"]
                    .as_str()
                    .is_none_or(|d| d.trim().is_empty())
                {
                    gaps.insert(format!("{file}: {name} {status}: empty description"));
                }
            }
        }
        for (schema_name, schema) in json["components"]["schemas"].as_object().unwrap() {
            undescribed_properties(&file, schema_name, schema, &mut gaps);
        }
    }
    assert!(
        gaps.is_empty(),
        "{} gap(s) in the OpenAPI documents:\n{}",
        gaps.len(),
        gaps.iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Properties of `schema` (and of the schemas it combines inline) without a description.
fn undescribed_properties(
    file: &str,
    schema_name: &str,
    schema: &Value,
    gaps: &mut std::collections::BTreeSet<String>,
) {
    for (property, definition) in schema["properties"].as_object().into_iter().flatten() {
        let ref_only = definition
            .as_object()
            .is_some_and(|d| d.len() == 1 && d.contains_key("$ref"));
        let described = definition["description"]
            .as_str()
            .is_some_and(|d| !d.trim().is_empty());
        if !ref_only && !described {
            gaps.insert(format!(
                "{file}: {schema_name}.{property} has no description (add a `///` line on the field)"
            ));
        }
    }
    for combinator in ["allOf", "oneOf", "anyOf"] {
        for part in schema[combinator].as_array().into_iter().flatten() {
            undescribed_properties(file, schema_name, part, gaps);
        }
    }
}

/// The request schemas state the limits the server enforces (`prm_platform::limits`,
/// `prm_platform::fields`), so that schema-valid input is accepted: `make check-api`
/// (schemathesis) sends such input and fails on a refusal. The attributes repeat the
/// constants (JSON Schema has no way to name them); this keeps them equal.
#[test]
fn request_schemas_state_the_limits_the_server_enforces() {
    use prm_platform::{fields::*, limits::*};
    let doc = serde_json::to_value(prm::api_doc()).unwrap();
    let field = |schema: &str, field: &str| -> Value {
        doc["components"]["schemas"][schema]["properties"][field].clone()
    };
    // (schema, field, maxLength, minLength, pattern)
    let text: &[(&str, &str, usize, Option<usize>, &str)] = &[
        ("PatientRequest", "name", NAME_CHARS, None, LINE_PATTERN),
        ("PatientRequest", "phone", 0, None, PHONE_PATTERN),
        (
            "PractitionerRequest",
            "name",
            NAME_CHARS,
            None,
            LINE_PATTERN,
        ),
        (
            "PractitionerRequest",
            "specialty",
            DEPARTMENT_CHARS,
            Some(1),
            LINE_PATTERN,
        ),
        (
            "PractitionerRequest",
            "phone",
            PHONE_CHARS,
            None,
            OPTIONAL_PHONE_PATTERN,
        ),
        ("LocationRequest", "name", NAME_CHARS, None, LINE_PATTERN),
        (
            "LocationRequest",
            "address",
            ADDRESS_CHARS,
            None,
            OPTIONAL_LINE_PATTERN,
        ),
        (
            "LocationRequest",
            "city",
            NAME_CHARS,
            None,
            OPTIONAL_LINE_PATTERN,
        ),
        (
            "LocationRequest",
            "phone",
            PHONE_CHARS,
            None,
            OPTIONAL_PHONE_PATTERN,
        ),
        ("ScheduleRequest", "start_time", 0, None, HHMM_PATTERN),
        ("ScheduleRequest", "end_time", 0, None, HHMM_PATTERN),
        ("PreferencesRequest", "time_of_day", 0, None, HHMM_PATTERN),
        (
            "FindSlotsRequest",
            "department",
            DEPARTMENT_CHARS,
            Some(1),
            LINE_PATTERN,
        ),
        (
            "BookAppointmentRequest",
            "reason",
            REASON_CHARS,
            None,
            OPTIONAL_TEXT_PATTERN,
        ),
        (
            "BookAppointmentRequest",
            "notes",
            NOTES_CHARS,
            None,
            OPTIONAL_TEXT_PATTERN,
        ),
        (
            "UpdateAppointmentRequest",
            "notes",
            NOTES_CHARS,
            None,
            OPTIONAL_TEXT_PATTERN,
        ),
        (
            "CancelAppointmentRequest",
            "reason",
            REASON_CHARS,
            None,
            OPTIONAL_TEXT_PATTERN,
        ),
        ("CreateConversationRequest", "phone", 0, None, PHONE_PATTERN),
    ];
    for (schema, name, max, min, pattern) in text {
        let f = field(schema, name);
        assert_eq!(f["pattern"], *pattern, "{schema}.{name} pattern");
        if *max > 0 {
            assert_eq!(f["maxLength"], *max, "{schema}.{name} maxLength");
        }
        if let Some(min) = min {
            assert_eq!(f["minLength"], *min, "{schema}.{name} minLength");
        }
    }
    assert_eq!(
        field("SelectSlotRequest", "text")["maxLength"],
        SELECTION_TEXT_CHARS
    );
    for (schema, name) in [
        ("ScheduleRequest", "day_of_week"),
        ("PreferencesRequest", "day_of_week"),
    ] {
        let f = field(schema, name);
        assert_eq!(
            (f["minimum"].as_f64(), f["maximum"].as_f64()),
            (Some(0.0), Some(6.0)),
            "{schema}.{name}"
        );
    }
    // The time zones are the names the server parses.
    let zones = field("LocationRequest", "timezone")["enum"].clone();
    assert!(
        zones
            .as_array()
            .is_some_and(|z| z.iter().any(|n| n == "America/Bogota") && z.len() > 300),
        "{zones}"
    );
}
