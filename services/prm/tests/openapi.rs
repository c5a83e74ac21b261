//! The committed specs under `openapi/` must be exactly what the code generates.
//! `make openapi` (UPDATE_OPENAPI=1) rewrites them.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::path::PathBuf;

use prm_platform::openapi::to_pretty_json;

fn specs() -> Vec<(&'static str, utoipa::openapi::OpenApi)> {
    vec![
        ("prm.json", prm::api_doc()),
        ("appointments.json", prm_appointments::api_doc()),
        ("webhooks.json", prm_webhooks::api_doc()),
    ]
}

fn folder() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../openapi")
}

#[test]
fn committed_openapi_matches_the_code() {
    let update = std::env::var_os("UPDATE_OPENAPI").is_some();
    let mut stale = Vec::new();
    for (file, doc) in specs() {
        let path = folder().join(file);
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
