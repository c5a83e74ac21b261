//! The booking rules that come from configuration: this service's own section of it.

use std::time::Duration;

use chrono::TimeDelta;
use prm_domain::Locale;
use prm_platform::{ConfigError, Settings};

/// Booking rules that come from configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct BookingSettings {
    /// `MIN_BOOKING_NOTICE_MINUTES`: nothing is offered or booked sooner than this.
    pub min_notice: TimeDelta,
    /// `SLOT_SEARCH_WINDOW_DAYS`.
    pub window_days: u32,
    /// `DEFAULT_LOCALE`, for offers that do not name one.
    pub default_locale: Locale,
    /// How long an offer is remembered (`CONVERSATION_STATE_TTL_SECS`).
    pub offer_ttl: Duration,
}

impl Default for BookingSettings {
    fn default() -> Self {
        Self {
            min_notice: TimeDelta::minutes(60),
            window_days: 14,
            default_locale: Locale::Es,
            offer_ttl: Duration::from_secs(900),
        }
    }
}

impl BookingSettings {
    /// `MIN_BOOKING_NOTICE_MINUTES` (default 60, at most 30 days), `SLOT_SEARCH_WINDOW_DAYS`
    /// (default 14, 1 to 90), `DEFAULT_LOCALE` and `CONVERSATION_STATE_TTL_SECS`.
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        let env = settings.env();
        let min_notice_minutes: i64 = env.parse_or("MIN_BOOKING_NOTICE_MINUTES", 60)?;
        if !(0..=60 * 24 * 30).contains(&min_notice_minutes) {
            return Err(ConfigError::new(
                "MIN_BOOKING_NOTICE_MINUTES",
                "must be between 0 and 43200",
            ));
        }
        let window_days: u32 = env.parse_or("SLOT_SEARCH_WINDOW_DAYS", 14)?;
        if !(1..=90).contains(&window_days) {
            return Err(ConfigError::new(
                "SLOT_SEARCH_WINDOW_DAYS",
                "must be between 1 and 90",
            ));
        }
        Ok(Self {
            min_notice: TimeDelta::minutes(min_notice_minutes),
            window_days,
            default_locale: settings.default_locale,
            offer_ttl: settings.conversation_state_ttl,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn booking(vars: &[(&str, &str)]) -> Result<BookingSettings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        BookingSettings::from_settings(&Settings::from_map(8003, &map)?)
    }

    #[test]
    fn defaults_and_limits() {
        assert_eq!(booking(&[]), Ok(BookingSettings::default()));
        let custom = booking(&[
            ("MIN_BOOKING_NOTICE_MINUTES", "0"),
            ("SLOT_SEARCH_WINDOW_DAYS", "30"),
        ]);
        assert_eq!(
            custom.map(|b| (b.min_notice, b.window_days)),
            Ok((TimeDelta::zero(), 30))
        );
        for (vars, variable) in [
            (
                &[("MIN_BOOKING_NOTICE_MINUTES", "-5")][..],
                "MIN_BOOKING_NOTICE_MINUTES",
            ),
            (
                &[("MIN_BOOKING_NOTICE_MINUTES", "soon")],
                "MIN_BOOKING_NOTICE_MINUTES",
            ),
            (
                &[("SLOT_SEARCH_WINDOW_DAYS", "0")],
                "SLOT_SEARCH_WINDOW_DAYS",
            ),
            (
                &[("SLOT_SEARCH_WINDOW_DAYS", "91")],
                "SLOT_SEARCH_WINDOW_DAYS",
            ),
        ] {
            assert_eq!(
                booking(vars).map_err(|e| e.variable),
                Err(variable),
                "{vars:?}"
            );
        }
    }
}
