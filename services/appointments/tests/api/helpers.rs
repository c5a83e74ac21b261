//! The appointments service on prm-testkit: the app alone, on the matrix's backends.

pub use prm_testkit::{
    API_KEY, Spawn, TestApp, clinic::Clinic, eventually, fields, problem, spawn, time,
};

/// When the suite's apps stand unless a test picks another instant: a Sunday at 23:15
/// in Bogotá, already Monday in UTC, the last half hour of the day gone. Tests count
/// days from the app's today, so they hold at any instant; this one is where date
/// arithmetic goes wrong first.
pub const NOW: &str = "2030-01-13 23:15";

/// The app alone, its clock at [`NOW`].
pub fn at_now() -> Spawn {
    Spawn::new().at(time::bogota(NOW))
}

pub async fn spawn_app() -> TestApp {
    spawn_with(at_now()).await
}

/// Extra variables override the test defaults; an empty value unsets one.
pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    spawn_with(at_now().vars(extra)).await
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
