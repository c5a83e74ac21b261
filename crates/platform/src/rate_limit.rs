//! Per-client rate limits: one token bucket (GCRA, from `governor`) per client
//! address and class of route, so a flood from one client is answered with 429
//! before it costs a signature check, a database round trip or a Redis call, and
//! never slows other clients.
//!
//! Two classes, configured in [`RateLimitSettings`]: provider webhooks
//! ([`WEBHOOKS_PREFIX`]) and the clinic API ([`API_PREFIX`]). Health, readiness and
//! docs are never limited: orchestrators probe them.
//!
//! The client is the peer address, or, behind `TRUSTED_PROXY_HOPS` reverse proxies,
//! the address the outermost trusted proxy saw (counted from the right of
//! `X-Forwarded-For`, the only part a client cannot forge).

use std::{
    net::{IpAddr, SocketAddr},
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use actix_web::{
    Error,
    body::{EitherBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    middleware::Next,
    web,
};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};

use crate::{
    ApiError,
    config::{RateLimit, RateLimitSettings},
};

/// Clinic endpoints.
pub const API_PREFIX: &str = "/api/v1/prm/";
/// Provider webhooks (Twilio, Meta, voice agent).
pub const WEBHOOKS_PREFIX: &str = "/api/v1/prm/webhooks/";

/// Forget clients idle long enough to have a full bucket again every this many
/// checks, so memory follows the clients of the last moments, not all time.
const SWEEP_EVERY: u64 = 4096;

struct Class {
    prefix: &'static str,
    /// `None`: this class is configured off (it still shadows shorter prefixes).
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
}

/// The limits a server enforces; built once from [`RateLimitSettings`].
pub struct RateLimits {
    classes: Vec<Class>,
    trusted_proxy_hops: usize,
    checks: AtomicU64,
}

impl RateLimits {
    pub fn from_settings(settings: &RateLimitSettings) -> Self {
        let limiter = |limit: Option<RateLimit>| {
            limit.and_then(|l| {
                Quota::with_period(l.period).map(|q| RateLimiter::keyed(q.allow_burst(l.burst)))
            })
        };
        Self {
            classes: vec![
                Class {
                    prefix: WEBHOOKS_PREFIX,
                    limiter: limiter(settings.webhooks),
                },
                Class {
                    prefix: API_PREFIX,
                    limiter: limiter(settings.api),
                },
            ],
            trusted_proxy_hops: settings.trusted_proxy_hops,
            checks: AtomicU64::new(0),
        }
    }

    /// No limits at all.
    pub fn disabled() -> Self {
        Self::from_settings(&RateLimitSettings {
            api: None,
            webhooks: None,
            trusted_proxy_hops: 0,
        })
    }

    /// Counts one request of `client` to `path`; `Err` carries how long until the
    /// client may send again.
    pub fn check(&self, path: &str, client: IpAddr) -> Result<(), Duration> {
        let Some(limiter) = self
            .classes
            .iter()
            .filter(|c| path.starts_with(c.prefix))
            .max_by_key(|c| c.prefix.len())
            .and_then(|c| c.limiter.as_ref())
        else {
            return Ok(());
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        limiter
            .check_key(&client)
            .map_err(|not_until| not_until.wait_time_from(limiter.clock().now()))
    }

    /// The address that identifies the caller (see the module docs).
    pub fn client_address(&self, req: &ServiceRequest) -> Option<IpAddr> {
        let peer = req.peer_addr().map(|a| a.ip());
        if self.trusted_proxy_hops == 0 {
            return peer;
        }
        let forwarded: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect();
        forwarded_client(&forwarded, self.trusted_proxy_hops).or(peer)
    }
}

/// With `hops` trusted proxies each appending the address it saw, the client is the
/// `hops`-th entry from the right; with fewer entries, the leftmost one.
fn forwarded_client(entries: &[&str], hops: usize) -> Option<IpAddr> {
    let index = entries.len().saturating_sub(hops);
    let entry = entries.get(index)?;
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|a| a.ip()))
        .ok()
}

/// Middleware: 429 problem+json with `Retry-After` once a client's bucket is empty.
pub async fn enforce_rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    if let Some(limits) = req.app_data::<web::Data<RateLimits>>()
        && let Some(client) = limits.client_address(&req)
        && let Err(wait) = limits.check(req.path(), client)
    {
        // Debug only: a flood would otherwise flood the logs too.
        tracing::debug!(%client, path = req.path(), "rate limited");
        let class = if req.path().starts_with(WEBHOOKS_PREFIX) {
            "webhooks"
        } else {
            "api"
        };
        metrics::counter!("prm_http_rate_limited_total", "class" => class).increment(1);
        return Ok(req
            .error_response(ApiError::too_many_requests(wait))
            .map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;

    fn limit(per_second: u32, burst: u32) -> Option<RateLimit> {
        RateLimit::new(f64::from(per_second), NonZeroU32::new(burst).unwrap())
    }

    fn limits(api: Option<RateLimit>, webhooks: Option<RateLimit>) -> RateLimits {
        RateLimits::from_settings(&RateLimitSettings {
            api,
            webhooks,
            trusted_proxy_hops: 0,
        })
    }

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 7));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 8));

    #[test]
    fn a_client_gets_its_burst_then_waits() {
        let limits = limits(limit(1, 3), None);
        for _ in 0..3 {
            assert_eq!(limits.check("/api/v1/prm/patients", A), Ok(()));
        }
        let wait = limits.check("/api/v1/prm/patients", A).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        // Another client has a bucket of its own.
        assert_eq!(limits.check("/api/v1/prm/patients", B), Ok(()));
    }

    #[test]
    fn classes_have_separate_buckets_and_the_longest_prefix_wins() {
        let limits = limits(limit(1, 1), limit(1, 2));
        assert_eq!(limits.check("/api/v1/prm/patients", A), Ok(()));
        assert!(limits.check("/api/v1/prm/locations", A).is_err());
        // Webhooks still have their own two.
        assert_eq!(limits.check("/api/v1/prm/webhooks/twilio", A), Ok(()));
        assert_eq!(limits.check("/api/v1/prm/webhooks/whatsapp", A), Ok(()));
        assert!(limits.check("/api/v1/prm/webhooks/twilio", A).is_err());
    }

    #[test]
    fn probes_docs_and_disabled_classes_are_never_limited() {
        let limits = limits(limit(1, 1), None);
        for _ in 0..50 {
            assert_eq!(limits.check("/health", A), Ok(()));
            assert_eq!(limits.check("/ready", A), Ok(()));
            assert_eq!(limits.check("/docs/", A), Ok(()));
            assert_eq!(limits.check("/openapi.json", A), Ok(()));
            // Webhooks off: not counted against the API class either.
            assert_eq!(limits.check("/api/v1/prm/webhooks/twilio", A), Ok(()));
        }
        assert!(
            RateLimits::disabled()
                .check("/api/v1/prm/patients", A)
                .is_ok()
        );
    }

    #[test]
    fn the_forwarded_client_is_counted_from_the_right() {
        // Client-supplied entries on the left cannot move the key.
        let entries = ["1.1.1.1", "198.51.100.4", "10.0.0.2"];
        assert_eq!(
            forwarded_client(&entries, 1),
            Some("10.0.0.2".parse().unwrap())
        );
        assert_eq!(
            forwarded_client(&entries, 2),
            Some("198.51.100.4".parse().unwrap())
        );
        assert_eq!(
            forwarded_client(&entries, 5),
            Some("1.1.1.1".parse().unwrap())
        );
        assert_eq!(
            forwarded_client(&["[2001:db8::1]:443"], 1),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(
            forwarded_client(&["198.51.100.4:5060"], 1),
            Some("198.51.100.4".parse().unwrap())
        );
        assert_eq!(forwarded_client(&["not-an-address"], 1), None);
        assert_eq!(forwarded_client(&[], 1), None);
    }
}
