//! The appointments service on prm-testkit: the app alone, on the matrix's backends.

pub use prm_testkit::{
    API_KEY, Spawn, TestApp, clinic::Clinic, eventually, fields, problem, spawn, time,
};

pub async fn spawn_app() -> TestApp {
    spawn_with(Spawn::new()).await
}

/// Extra variables override the test defaults; an empty value unsets one.
pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    spawn_with(Spawn::new().vars(extra)).await
}

pub async fn spawn_with(options: Spawn) -> TestApp {
    spawn(&[&prm_appointments::SERVICE], options).await
}

/// Percent-encodes a query-string value.
pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
