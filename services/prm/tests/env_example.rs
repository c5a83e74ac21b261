//! `.env.example` documents every variable the suite reads, and copying it to `.env`
//! changes nothing: its uncommented lines only spell out the defaults, for every binary.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::{
    collections::{BTreeSet, HashMap},
    path::{Path, PathBuf},
};

use prm_platform::Settings;
use secrecy::ExposeSecret;

/// ARCHITECTURE §7, the configuration contract.
const CONTRACT: &[&str] = &[
    "HOST",
    "PORT",
    "DATABASE_URL",
    "REDIS_URL",
    "REDIS_KEY_PREFIX",
    "CONVERSATION_STATE_TTL_SECS",
    "AMQP_URL",
    "PRM_API_KEYS",
    "PUBLIC_BASE_URL",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_WHATSAPP_NUMBER",
    "TWILIO_API_BASE",
    "WHATSAPP_VERIFY_TOKEN",
    "WHATSAPP_APP_SECRET",
    "WHATSAPP_ACCESS_TOKEN",
    "WHATSAPP_PHONE_NUMBER_ID",
    "WHATSAPP_GRAPH_API_BASE",
    "N8N_WEBHOOK_URL",
    "N8N_CALLBACK_SECRET",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_MODEL",
    "OPENAI_TRANSCRIPTION_MODEL",
    "VOICE_AGENT_SECRET",
    "DEFAULT_COUNTRY_CODE",
    "DEFAULT_LOCALE",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_SERVICE_NAME",
    "RUST_LOG",
];

/// Every binary's default port (ARCHITECTURE §5).
const PORTS: &[u16] = &[8001, 8002, 8003, 8004, 8080];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn env_example() -> String {
    std::fs::read_to_string(root().join(".env.example")).unwrap()
}

/// A variable name at the start of a line, commented out or not.
fn name_of(line: &str) -> Option<&str> {
    let line = line.trim_start().trim_start_matches('#').trim_start();
    let (name, _) = line.split_once('=')?;
    (!name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'))
    .then_some(name)
}

fn documented() -> BTreeSet<String> {
    env_example()
        .lines()
        .filter_map(name_of)
        .map(str::to_owned)
        .collect()
}

/// The lines `.env` would set if `.env.example` were copied to it.
fn assignments() -> HashMap<String, String> {
    env_example()
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| {
            let name = name_of(line)?;
            let (_, value) = line.split_once('=')?;
            Some((name.to_owned(), value.trim().to_owned()))
        })
        .collect()
}

/// The names a source file reads from the environment: its upper-case string literals
/// outside its tests (`var("PORT")`, `parse_or(&var, "PRM_MAX_BODY_BYTES", …)`, consts).
fn names_read_by(source: &str) -> BTreeSet<String> {
    let code = source.split("#[cfg(test)]").next().unwrap_or(source);
    code.split('"')
        .skip(1)
        .step_by(2)
        .filter(|literal| {
            literal.len() >= 3
                && literal.starts_with(|c: char| c.is_ascii_uppercase())
                && literal
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        })
        .map(str::to_owned)
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_contract_variable_is_documented() {
    let documented = documented();
    let missing: Vec<_> = CONTRACT
        .iter()
        .filter(|name| !documented.contains(**name))
        .collect();
    assert!(missing.is_empty(), ".env.example lacks {missing:?}");
}

/// Settings (crates/platform/src/config.rs) and every other library that reads its own
/// configuration from the environment (e.g. the outbox relay). Test support
/// (`testing.rs`: PRM_TEST_DATABASE…) is documented in the README instead.
#[test]
fn every_variable_the_code_reads_is_documented() {
    let config = std::fs::read_to_string(root().join("crates/platform/src/config.rs")).unwrap();
    let settings = names_read_by(&config);
    for expected in [
        "PORT",
        "DATABASE_URL",
        "PRM_API_KEYS",
        "RATE_LIMIT_API_BURST",
    ] {
        assert!(settings.contains(expected), "the scan misses {expected}");
    }
    let mut read: BTreeSet<(String, String)> = settings
        .into_iter()
        .map(|name| (name, "crates/platform/src/config.rs".to_owned()))
        .collect();
    let mut files = Vec::new();
    for dir in ["crates", "services", "migrations"] {
        rust_files(&root().join(dir), &mut files);
    }
    for file in files {
        let relative = file.strip_prefix(root()).unwrap().display().to_string();
        let in_library = relative.contains("/src/") && !relative.ends_with("/testing.rs");
        if !in_library {
            continue;
        }
        let source = std::fs::read_to_string(&file).unwrap();
        let code = source.split("#[cfg(test)]").next().unwrap_or(&source);
        // Services parse their own sections through `Settings::env()`.
        if code.contains("std::env::var")
            || code.contains("fn from_lookup")
            || code.contains(".env()")
        {
            read.extend(
                names_read_by(&source)
                    .into_iter()
                    .map(|name| (name, relative.clone())),
            );
        }
    }
    let documented = documented();
    let missing: Vec<String> = read
        .into_iter()
        .filter(|(name, _)| !documented.contains(name))
        .map(|(name, file)| format!("{name} (read in {file})"))
        .collect();
    assert!(missing.is_empty(), ".env.example lacks {missing:#?}");
}

/// What a binary's configuration amounts to, secrets included (this is a test): the
/// platform's settings and every section a service or adapter parses from them.
fn fingerprint(s: &Settings) -> String {
    let expose = |secret: &Option<secrecy::SecretString>| {
        secret.as_ref().map(|s| s.expose_secret().to_owned())
    };
    let lookup = |name: &str| s.var(name);
    let webhooks = prm_webhooks::WebhooksConfig::from_settings(s).map(|w| {
        format!(
            "{:?}",
            (
                (w.validate_twilio_signature, w.twilio_validator.is_some()),
                w.clinic_number,
                (
                    expose(&w.whatsapp_verify_token),
                    expose(&w.whatsapp_app_secret),
                    expose(&w.voice_agent_secret),
                ),
                (
                    w.voice_notes.twilio.map(|(sid, token, base)| (
                        sid,
                        token.expose_secret().to_owned(),
                        base
                    )),
                    expose(&w.voice_notes.meta_access_token),
                    w.voice_notes.graph_api_base,
                ),
                (
                    expose(&w.voice_notes.openai_api_key),
                    w.voice_notes.openai_base_url,
                    w.voice_notes.transcription_model,
                ),
            )
        )
    });
    let ai = prm_ai::AiSettings::from_lookup(lookup).map(|a| {
        format!(
            "{:?}",
            (
                a.engine(),
                expose(&a.n8n_callback_secret),
                expose(&a.openai_api_key),
                a
            )
        )
    });
    let meta = prm_meta::MetaConfig::from_lookup(lookup).map(|m| format!("{m:?}"));
    format!(
        "{:?}",
        (
            (
                &s.host,
                s.port,
                s.environment,
                s.database_url.expose_secret()
            ),
            (
                expose(&s.redis_url),
                &s.redis_key_prefix,
                s.conversation_state_ttl
            ),
            (expose(&s.amqp_url), &s.amqp_name_prefix, s.api_keys.len()),
            (
                &s.public_base_url,
                &s.default_country_code,
                s.default_locale
            ),
            (&s.otel_endpoint, &s.otel_service_name, s.max_body_bytes),
            (s.rate_limits, s.log_format),
            prm_appointments::BookingSettings::from_settings(s),
            (webhooks, ai, meta),
        )
    )
}

#[test]
fn copied_to_env_it_parses_and_changes_nothing_for_any_binary() {
    let set = assignments();
    assert!(!set.is_empty(), "the scan found no uncommented lines");
    for port in PORTS {
        let from_example = Settings::from_map(*port, &set)
            .unwrap_or_else(|e| panic!(".env.example does not parse: {e}"));
        let defaults = Settings::from_map(*port, &HashMap::new()).unwrap();
        assert_eq!(from_example.port, *port, "PORT is set in .env.example");
        assert_eq!(
            fingerprint(&from_example),
            fingerprint(&defaults),
            "an uncommented line of .env.example is not the default (binary on {port})"
        );
    }
    // The outbox relay reads its own variables.
    let relay = prm_bus::RelayConfig::from_lookup(|name| set.get(name).cloned())
        .unwrap_or_else(|e| panic!(".env.example does not parse: {e}"));
    assert_eq!(
        relay.retention,
        prm_bus::RelayConfig::default().retention,
        "OUTBOX_RETENTION_HOURS in .env.example is not the default"
    );
    // Per-binary or per-environment defaults stay commented.
    for name in [
        "RUST_LOG",
        "PORT",
        "PUBLIC_BASE_URL",
        "OTEL_SERVICE_NAME",
        "LOG_FORMAT",
    ] {
        assert!(
            !set.contains_key(name),
            "{name} is set in .env.example; its default differs per binary or environment"
        );
    }
}

#[test]
fn the_scan_understands_the_file() {
    assert_eq!(name_of("PORT=8080"), Some("PORT"));
    assert_eq!(name_of("# PORT=8080"), Some("PORT"));
    assert_eq!(name_of("#REDIS_URL=redis://x"), Some("REDIS_URL"));
    assert_eq!(
        name_of("# Listen address of a binary. Default 0.0.0.0"),
        None
    );
    assert_eq!(name_of("# e.g. a=b"), None);
    assert_eq!(
        names_read_by("let x = var(\"PORT\"); f(\"not this\"); #[cfg(test)] \"TEST_ONLY\""),
        BTreeSet::from(["PORT".to_owned()])
    );
}
