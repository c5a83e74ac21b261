use std::time::Duration;

/// Settings shared by both adapters. `Default` is what production uses.
#[derive(Debug, Clone)]
pub struct BusConfig {
    /// Prepended to the exchange, dead-letter exchange and queue names. Empty in
    /// production; tests use a unique prefix so they never consume each other's messages.
    pub prefix: String,
    /// Unacknowledged deliveries per consumer (AMQP `basic.qos`), and so its concurrency.
    pub prefetch: u16,
    pub retry: RetryPolicy,
    /// Between reconnection attempts to RabbitMQ.
    pub reconnect: Backoff,
    /// How long a publish waits for the broker's confirm.
    pub confirm_timeout: Duration,
    /// How long [`crate::RabbitBus::connect`] waits for the first connection.
    pub connect_timeout: Duration,
    /// The type of the consumers' queues (`AMQP_QUEUE_TYPE`).
    pub queue_type: QueueType,
}

/// RabbitMQ queue type of the consumers' queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueType {
    /// Replicated, durable through a node's loss, with a delivery limit that
    /// dead-letters a message the broker redelivered too often. Production.
    #[default]
    Quorum,
    /// One node's queue, no delivery limit: far cheaper to declare and delete, for test
    /// suites that declare thousands of short-lived queues on a small broker.
    Classic,
}

impl QueueType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Quorum => "quorum",
            Self::Classic => "classic",
        }
    }
}

impl std::str::FromStr for QueueType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "quorum" => Ok(Self::Quorum),
            "classic" => Ok(Self::Classic),
            other => Err(format!("`{other}` is neither `quorum` nor `classic`")),
        }
    }
}

impl Default for BusConfig {
    fn default() -> Self {
        Self {
            prefix: String::new(),
            prefetch: 16,
            retry: RetryPolicy::default(),
            // Capped low so that the bus is back within seconds of the broker, however
            // long the outage was; a refused TCP connect every few seconds costs nothing.
            reconnect: Backoff {
                initial: Duration::from_millis(200),
                max: Duration::from_secs(5),
            },
            confirm_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            queue_type: QueueType::Quorum,
        }
    }
}

impl BusConfig {
    /// A configuration whose names start with `prefix` (tests: `test-<uuid>.`).
    pub fn with_prefix(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            ..Self::default()
        }
    }

    /// The topic exchange every event is published to: `prm.events`.
    pub fn exchange(&self) -> String {
        format!("{}prm.events", self.prefix)
    }

    /// The dead-letter exchange: `prm.events.dlx`.
    pub fn dead_letter_exchange(&self) -> String {
        format!("{}prm.events.dlx", self.prefix)
    }

    /// The consumer's queue: its name, e.g. `prm.appointments.triage`.
    pub fn queue(&self, consumer: &str) -> String {
        format!("{}{consumer}", self.prefix)
    }

    /// The consumer's dead-letter queue: `<queue>.dlq`.
    pub fn dead_letter_queue(&self, consumer: &str) -> String {
        format!("{}{consumer}.dlq", self.prefix)
    }

    /// Where the consumer's failed messages wait out their backoff: `<queue>.retry`
    /// (per-message TTL, then dead-lettered back to the consumer's queue).
    pub fn retry_queue(&self, consumer: &str) -> String {
        format!("{}{consumer}.retry", self.prefix)
    }
}

/// Exponential backoff with jitter.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Backoff {
    /// Delay before retry number `n` (0-based): `initial · 2ⁿ`, capped, ±20 % jitter so
    /// that replicas do not reconnect in lockstep.
    pub fn delay(&self, n: u32) -> Duration {
        let base = self
            .initial
            .saturating_mul(2u32.saturating_pow(n.min(20)))
            .min(self.max);
        let jitter: f64 = rand::random_range(0.8..1.2);
        base.mul_f64(jitter).min(self.max)
    }
}

/// How often a failing handler is tried before its event is dead-lettered.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Total attempts, the first included. At least 1.
    pub max_attempts: u32,
    pub backoff: Backoff,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            backoff: Backoff {
                initial: Duration::from_millis(500),
                max: Duration::from_secs(30),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn queue_types_parse_and_production_is_quorum() {
        assert_eq!(BusConfig::default().queue_type, QueueType::Quorum);
        assert_eq!(" Classic ".parse::<QueueType>(), Ok(QueueType::Classic));
        assert_eq!("quorum".parse::<QueueType>(), Ok(QueueType::Quorum));
        let err = "stream".parse::<QueueType>().unwrap_err();
        assert!(err.contains("`stream`"), "{err}");
    }

    use super::*;

    #[test]
    fn names_carry_the_prefix() {
        let c = BusConfig::with_prefix("t1.");
        assert_eq!(c.exchange(), "t1.prm.events");
        assert_eq!(c.dead_letter_exchange(), "t1.prm.events.dlx");
        assert_eq!(c.queue("prm.a.b"), "t1.prm.a.b");
        assert_eq!(c.dead_letter_queue("prm.a.b"), "t1.prm.a.b.dlq");
        assert_eq!(c.retry_queue("prm.a.b"), "t1.prm.a.b.retry");
        assert_eq!(BusConfig::default().exchange(), "prm.events");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        assert!(b.delay(0) <= Duration::from_millis(120));
        assert!(b.delay(0) >= Duration::from_millis(80));
        assert!(b.delay(2) >= Duration::from_millis(320));
        assert!(b.delay(30) <= Duration::from_secs(1));
    }
}
