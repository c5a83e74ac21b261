//! Outbound pacing (`OUTBOUND_RATE_PER_MINUTE`, default 60): bulk sends (reminders,
//! follow-ups, no-show notes) leave each sender number at most that many a minute,
//! evenly spaced, so a morning's reminders do not trip the provider's or WhatsApp's
//! limits. Replies in a live conversation are never paced.
//!
//! A message the limiter holds back is not held by the sender: it goes back to
//! `pending` with its next-attempt time (not counted as an attempt), so it waits in the
//! database, survives a restart, and the sweeper sends it when its turn comes. Nothing
//! is dropped and nothing fails for being paced. Decision: `docs/templates.md`.

use std::{num::NonZeroU32, time::Duration};

use chrono::{DateTime, Utc};
use governor::{
    Quota, RateLimiter, clock::Clock, middleware::NoOpMiddleware,
    state::keyed::DefaultKeyedStateStore,
};
use prm_domain::{clock::SharedClock, conversation::Provider, templates::TemplatePurpose};

/// The purposes sent in bulk, and so paced: the one list.
pub const BULK_PURPOSES: [TemplatePurpose; 3] = [
    TemplatePurpose::Reminder,
    TemplatePurpose::FollowUp,
    TemplatePurpose::NoShow,
];

/// Whether a message with this `purpose` is a bulk send.
pub fn is_bulk(purpose: Option<&str>) -> bool {
    purpose
        .and_then(TemplatePurpose::from_message_purpose)
        .is_some_and(|p| BULK_PURPOSES.contains(&p))
}

/// The application's clock as governor reads it (time since the Unix epoch), so pacing
/// follows the same "now" as the messages' next-attempt times (and tests' clocks).
#[derive(Clone, Debug)]
struct AppClock(SharedClock);

impl Clock for AppClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        (self.0.now() - DateTime::<Utc>::UNIX_EPOCH)
            .to_std()
            .unwrap_or_default()
    }
}

/// One token bucket per sender (GCRA): `rate` a minute, a burst of one second's worth
/// (at least one message).
pub struct Pacer {
    limiter:
        RateLimiter<String, DefaultKeyedStateStore<String>, AppClock, NoOpMiddleware<Duration>>,
    clock: AppClock,
}

impl Pacer {
    pub fn new(rate_per_minute: NonZeroU32, clock: SharedClock) -> Self {
        let burst = NonZeroU32::new(rate_per_minute.get() / 60).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_minute(rate_per_minute).allow_burst(burst);
        let clock = AppClock(clock);
        Self {
            limiter: RateLimiter::new(quota, DefaultKeyedStateStore::default(), clock.clone()),
            clock,
        }
    }

    /// Takes a turn for a bulk message through `provider`'s number, or says how long to
    /// wait for one. Each provider sends from one number per deployment, so the
    /// provider names the number.
    pub fn check(&self, provider: Provider) -> Result<(), Duration> {
        self.limiter
            .check_key(&provider.as_str().to_owned())
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

impl std::fmt::Debug for Pacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pacer").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::TimeDelta;
    use prm_domain::clock::ManualClock;

    use super::*;

    #[test]
    fn bulk_purposes_are_reminders_follow_ups_and_no_shows() {
        assert!(is_bulk(Some("appointment_reminder")));
        assert!(is_bulk(Some("appointment_follow_up")));
        assert!(is_bulk(Some("appointment_no_show")));
        assert!(!is_bulk(Some("appointment_confirmation")));
        assert!(!is_bulk(Some("intake_question")));
        assert!(!is_bulk(None));
    }

    #[test]
    fn sends_are_spaced_on_the_applications_clock_per_sender() {
        let start = DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock = Arc::new(ManualClock::new(start));
        let pacer = Pacer::new(NonZeroU32::new(6).unwrap(), clock.clone());
        assert_eq!(pacer.check(Provider::Twilio), Ok(()));
        assert_eq!(pacer.check(Provider::Twilio), Err(Duration::from_secs(10)));
        // Another sender number has its own turn.
        assert_eq!(pacer.check(Provider::Meta), Ok(()));
        clock.advance(TimeDelta::seconds(4));
        assert_eq!(pacer.check(Provider::Twilio), Err(Duration::from_secs(6)));
        clock.advance(TimeDelta::seconds(6));
        assert_eq!(pacer.check(Provider::Twilio), Ok(()));
    }
}
