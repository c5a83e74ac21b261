//! One delivery contract, run against both adapters: the in-process bus and RabbitMQ.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use common::*;
use prm_bus::{
    BusConfig, DeadLetter, Delivery, EventBus, HandlerError, InProcessBus, OutgoingMessage,
    RabbitBus, RetryPolicy, Subscription, handler_fn,
};
use prm_domain::events::{AppointmentCreated, Envelope, EventData, EventType, MessageSent};

const WAIT: Duration = Duration::from_secs(15);

enum Backend {
    Memory(InProcessBus),
    Rabbit { bus: RabbitBus, prefix: String },
}

impl Backend {
    fn memory() -> Self {
        Self::Memory(InProcessBus::new(test_config("")))
    }

    async fn rabbit() -> Self {
        Self::rabbit_with(|config| config).await
    }

    fn memory_with(adjust: impl FnOnce(BusConfig) -> BusConfig) -> Self {
        Self::Memory(InProcessBus::new(adjust(test_config(""))))
    }

    async fn rabbit_with(adjust: impl FnOnce(BusConfig) -> BusConfig) -> Self {
        let url = rabbit().await;
        let prefix = unique_prefix();
        let bus = RabbitBus::connect(url, adjust(test_config(&prefix)))
            .await
            .expect("connect to RabbitMQ");
        Self::Rabbit { bus, prefix }
    }

    /// The same kind of backend with other settings (and the same prefix).
    async fn reconfigured(self, adjust: impl FnOnce(BusConfig) -> BusConfig) -> Self {
        match self {
            Self::Memory(_) => Self::memory_with(adjust),
            Self::Rabbit { bus, prefix } => {
                bus.close().await;
                let bus = RabbitBus::connect(AMQP_URL, adjust(test_config(&prefix)))
                    .await
                    .expect("connect to RabbitMQ");
                Self::Rabbit { bus, prefix }
            }
        }
    }

    fn bus(&self) -> Arc<dyn EventBus> {
        match self {
            Self::Memory(bus) => Arc::new(bus.clone()),
            Self::Rabbit { bus, .. } => Arc::new(bus.clone()),
        }
    }

    /// Waits until `consumer` has dead-lettered `count` messages and returns them.
    async fn dead_letters(&self, consumer: &str, count: usize) -> Vec<DeadLetter> {
        let found = Arc::new(Mutex::new(Vec::new()));
        eventually(WAIT, "dead letters", || {
            let found = found.clone();
            async move {
                match self {
                    Self::Memory(bus) => *found.lock().unwrap() = bus.dead_letters(consumer),
                    Self::Rabbit { bus, .. } => {
                        let taken = bus
                            .take_dead_letters(consumer, 100)
                            .await
                            .expect("read dlq");
                        found.lock().unwrap().extend(taken);
                    }
                }
                found.lock().unwrap().len() >= count
            }
        })
        .await;
        let found = found.lock().unwrap().clone();
        assert_eq!(
            found.len(),
            count,
            "exactly {count} dead letters: {found:?}"
        );
        found
    }

    async fn finish(self, consumers: &[&str]) {
        if let Self::Rabbit { bus, prefix } = self {
            bus.close().await;
            delete_topology(&prefix, consumers).await;
        }
    }
}

type Seen = Arc<Mutex<Vec<Delivery>>>;

fn recorder() -> (Seen, impl prm_bus::EventHandler) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let handler = handler_fn(move |d: Delivery| {
        let s = s.clone();
        async move {
            s.lock().unwrap().push(d);
            Ok(())
        }
    });
    (seen, handler)
}

/// A handler that finishes each delivery only once `gate` gives it a permit.
fn gated(gate: Arc<tokio::sync::Semaphore>) -> impl prm_bus::EventHandler {
    handler_fn(move |_d: Delivery| {
        let gate = gate.clone();
        async move {
            let _permit = gate.acquire().await.unwrap();
            Ok(())
        }
    })
}

async fn delivers_matching_events_with_the_envelope_intact(backend: Backend) {
    let bus = backend.bus();
    let (seen, handler) = recorder();
    let consumer = "prm.journeys.reminders";
    let sub = bus
        .subscribe(Subscription::to_events(
            consumer,
            [EventType::AppointmentCreated],
            handler,
        ))
        .await
        .unwrap();

    let other = Envelope::new("conversations", MessageSent::example());
    bus.publish(&other).await.unwrap();
    let envelope = Envelope::new("appointments", AppointmentCreated::example());
    bus.publish(&envelope).await.unwrap();

    eventually(WAIT, "the appointment event", || async {
        !seen.lock().unwrap().is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "only the bound routing key is delivered");
    assert_eq!(seen[0].envelope, envelope);
    assert_eq!(seen[0].consumer, consumer);
    assert_eq!(seen[0].attempt, 1);
    assert_eq!(
        seen[0].envelope.data_as::<AppointmentCreated>().unwrap(),
        AppointmentCreated::example()
    );
    sub.shutdown().await;
    backend.finish(&[consumer]).await;
}

async fn every_consumer_gets_its_own_copy_and_wildcards_bind(backend: Backend) {
    let bus = backend.bus();
    let (a, ha) = recorder();
    let (b, hb) = recorder();
    let sa = bus
        .subscribe(Subscription::new(
            "prm.test.exact",
            ["appointment.created"],
            ha,
        ))
        .await
        .unwrap();
    let sb = bus
        .subscribe(Subscription::new(
            "prm.test.wildcard",
            ["appointment.*", "message.#"],
            hb,
        ))
        .await
        .unwrap();

    bus.publish(&Envelope::new(
        "appointments",
        AppointmentCreated::example(),
    ))
    .await
    .unwrap();
    bus.publish(&Envelope::new("conversations", MessageSent::example()))
        .await
        .unwrap();

    eventually(WAIT, "both copies", || async {
        a.lock().unwrap().len() == 1 && b.lock().unwrap().len() == 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(a.lock().unwrap().len(), 1);
    assert_eq!(b.lock().unwrap().len(), 2);
    sa.shutdown().await;
    sb.shutdown().await;
    backend
        .finish(&["prm.test.exact", "prm.test.wildcard"])
        .await;
}

async fn competing_replicas_share_one_queue(backend: Backend) {
    let bus = backend.bus();
    let (seen1, h1) = recorder();
    let (seen2, h2) = recorder();
    let consumer = "prm.test.shared";
    let s1 = bus
        .subscribe(Subscription::new(consumer, ["message.sent"], h1))
        .await
        .unwrap();
    let s2 = bus
        .subscribe(Subscription::new(consumer, ["message.sent"], h2))
        .await
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..20 {
        let e = Envelope::new("conversations", MessageSent::example());
        ids.push(e.id);
        bus.publish(&e).await.unwrap();
    }
    let total = || seen1.lock().unwrap().len() + seen2.lock().unwrap().len();
    eventually(WAIT, "20 deliveries", || async { total() >= 20 }).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(total(), 20, "each event once across the replicas");
    let mut got: Vec<_> = seen1
        .lock()
        .unwrap()
        .iter()
        .chain(seen2.lock().unwrap().iter())
        .map(|d| d.envelope.id)
        .collect();
    got.sort();
    ids.sort();
    assert_eq!(got, ids);
    s1.shutdown().await;
    s2.shutdown().await;
    backend.finish(&[consumer]).await;
}

async fn transient_failures_are_retried_until_the_handler_succeeds(backend: Backend) {
    let bus = backend.bus();
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let a = attempts.clone();
    let handler = handler_fn(move |d: Delivery| {
        let a = a.clone();
        async move {
            a.lock().unwrap().push(d.attempt);
            if d.attempt < 3 {
                Err(HandlerError::transient("database busy"))
            } else {
                Ok(())
            }
        }
    });
    let consumer = "prm.test.flaky";
    let sub = bus
        .subscribe(Subscription::new(
            consumer,
            ["appointment.created"],
            handler,
        ))
        .await
        .unwrap();
    bus.publish(&Envelope::new(
        "appointments",
        AppointmentCreated::example(),
    ))
    .await
    .unwrap();
    eventually(WAIT, "third attempt", || async {
        attempts.lock().unwrap().len() >= 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(*attempts.lock().unwrap(), vec![1, 2, 3]);
    sub.shutdown().await;
    match &backend {
        Backend::Memory(bus) => assert!(bus.dead_letters(consumer).is_empty()),
        Backend::Rabbit { bus, .. } => assert!(
            bus.take_dead_letters(consumer, 10)
                .await
                .unwrap()
                .is_empty()
        ),
    }
    backend.finish(&[consumer]).await;
}

async fn a_handler_that_keeps_failing_is_dead_lettered_with_the_reason(backend: Backend) {
    let bus = backend.bus();
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let handler = handler_fn(move |_d: Delivery| {
        c.fetch_add(1, Ordering::SeqCst);
        async { Err(HandlerError::transient("practitioner calendar unavailable")) }
    });
    let consumer = "prm.test.failing";
    let sub = bus
        .subscribe(Subscription::new(
            consumer,
            ["appointment.created"],
            handler,
        ))
        .await
        .unwrap();
    let envelope = Envelope::new("appointments", AppointmentCreated::example());
    bus.publish(&envelope).await.unwrap();
    let dead = backend.dead_letters(consumer, 1).await;
    assert_eq!(calls.load(Ordering::SeqCst), 3, "max_attempts = 3");
    assert_eq!(dead[0].attempts, 3);
    assert!(
        dead[0].reason.contains("practitioner calendar unavailable"),
        "{}",
        dead[0].reason
    );
    assert_eq!(
        dead[0].message_id.as_deref(),
        Some(envelope.id.to_string().as_str())
    );
    assert_eq!(dead[0].event_type.as_deref(), Some("APPOINTMENT_CREATED"));
    assert_eq!(
        serde_json::from_slice::<Envelope>(&dead[0].body).unwrap(),
        envelope
    );
    assert_eq!(dead[0].consumer, consumer);
    sub.shutdown().await;
    backend.finish(&[consumer]).await;
}

async fn permanent_errors_and_panics_are_handled(backend: Backend) {
    let bus = backend.bus();
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let handler = handler_fn(move |d: Delivery| {
        c.fetch_add(1, Ordering::SeqCst);
        async move {
            if d.envelope.event_type == "MESSAGE_SENT" {
                panic!("bug in handler");
            }
            Err(HandlerError::permanent(
                "appointment belongs to another clinic",
            ))
        }
    });
    let consumer = "prm.test.rejecting";
    let sub = bus
        .subscribe(Subscription::new(
            consumer,
            ["appointment.created", "message.sent"],
            handler,
        ))
        .await
        .unwrap();
    bus.publish(&Envelope::new(
        "appointments",
        AppointmentCreated::example(),
    ))
    .await
    .unwrap();
    let dead = backend.dead_letters(consumer, 1).await;
    assert_eq!(dead[0].attempts, 1, "permanent errors are not retried");
    assert_eq!(dead[0].reason, "appointment belongs to another clinic");

    bus.publish(&Envelope::new("conversations", MessageSent::example()))
        .await
        .unwrap();
    let dead = backend
        .dead_letters(
            consumer,
            match backend {
                Backend::Memory(_) => 2,
                _ => 1,
            },
        )
        .await;
    let last = dead.last().unwrap();
    assert!(last.reason.contains("handler panicked"), "{}", last.reason);
    assert_eq!(last.attempts, 3, "a panic counts as a transient failure");
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    sub.shutdown().await;
    backend.finish(&[consumer]).await;
}

async fn malformed_messages_go_straight_to_the_dead_letters(backend: Backend) {
    let bus = backend.bus();
    let (seen, handler) = recorder();
    let consumer = "prm.test.poison";
    let sub = bus
        .subscribe(Subscription::new(
            consumer,
            ["appointment.created"],
            handler,
        ))
        .await
        .unwrap();
    let poison = OutgoingMessage {
        message_id: uuid::Uuid::new_v4(),
        event_type: "APPOINTMENT_CREATED".into(),
        routing_key: "appointment.created".into(),
        body: b"{\"id\": not json".to_vec(),
        traceparent: None,
    };
    bus.publish_message(poison.clone()).await.unwrap();
    let dead = backend.dead_letters(consumer, 1).await;
    assert!(
        dead[0].reason.starts_with("malformed envelope"),
        "{}",
        dead[0].reason
    );
    assert_eq!(dead[0].attempts, 0);
    assert_eq!(dead[0].body, poison.body);

    // The consumer is still alive and well.
    let envelope = Envelope::new("appointments", AppointmentCreated::example());
    bus.publish(&envelope).await.unwrap();
    eventually(WAIT, "the good event", || async {
        seen.lock().unwrap().len() == 1
    })
    .await;
    assert_eq!(seen.lock().unwrap()[0].envelope, envelope);
    sub.shutdown().await;
    backend.finish(&[consumer]).await;
}

async fn shutdown_finishes_in_flight_work_and_the_queue_survives(backend: Backend) {
    let bus = backend.bus();
    let finished = Arc::new(AtomicU32::new(0));
    let f = finished.clone();
    let handler = handler_fn(move |_d: Delivery| {
        let f = f.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            f.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    });
    let consumer = "prm.test.graceful";
    let sub = bus
        .subscribe(Subscription::new(
            consumer,
            ["appointment.created"],
            handler,
        ))
        .await
        .unwrap();
    bus.publish(&Envelope::new(
        "appointments",
        AppointmentCreated::example(),
    ))
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    tokio::time::timeout(WAIT, sub.shutdown())
        .await
        .expect("shutdown is bounded");
    assert_eq!(
        finished.load(Ordering::SeqCst),
        1,
        "the in-flight handler completed before shutdown returned"
    );

    // Published while nobody consumes: kept in the consumer's queue, delivered once back.
    let later = Envelope::new("appointments", AppointmentCreated::example());
    bus.publish(&later).await.unwrap();
    let (seen, handler) = recorder();
    let sub = bus
        .subscribe(Subscription::new(
            consumer,
            ["appointment.created"],
            handler,
        ))
        .await
        .unwrap();
    eventually(WAIT, "the queued event", || async {
        !seen.lock().unwrap().is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.len(),
        1,
        "the first event was acknowledged, only the later one is delivered"
    );
    assert_eq!(seen[0].envelope.id, later.id);
    sub.shutdown().await;
    backend.finish(&[consumer]).await;
}

async fn rejects_badly_named_consumers(backend: Backend) {
    let (_, handler) = recorder();
    let err = backend
        .bus()
        .subscribe(Subscription::new("reminders", ["#"], handler))
        .await
        .unwrap_err();
    assert!(
        matches!(err, prm_bus::BusError::InvalidConsumerName(_)),
        "{err}"
    );
    backend.finish(&[]).await;
}

/// A transient failure's backoff must not block the consumer: with one prefetch slot,
/// events published after the failing one are handled while it waits for its retry.
async fn a_retry_waits_out_its_backoff_without_holding_a_prefetch_slot(backend: Backend) {
    let backend = backend
        .reconfigured(|config| BusConfig {
            prefetch: 1,
            retry: RetryPolicy {
                max_attempts: 3,
                backoff: prm_bus::Backoff {
                    initial: Duration::from_millis(1500),
                    max: Duration::from_millis(1500),
                },
            },
            ..config
        })
        .await;
    let bus = backend.bus();
    let start = tokio::time::Instant::now();
    let log: Arc<Mutex<Vec<(uuid::Uuid, u32, Duration)>>> = Arc::default();
    let l = log.clone();
    let failing = Envelope::new("appointments", AppointmentCreated::example());
    let failing_id = failing.id;
    let handler = handler_fn(move |d: Delivery| {
        let l = l.clone();
        async move {
            l.lock()
                .unwrap()
                .push((d.envelope.id, d.attempt, start.elapsed()));
            if d.envelope.id == failing_id && d.attempt == 1 {
                Err(HandlerError::transient("calendar busy"))
            } else {
                Ok(())
            }
        }
    });
    let consumer = "prm.test.backoff";
    let sub = bus
        .subscribe(Subscription::new(
            consumer,
            ["appointment.created"],
            handler,
        ))
        .await
        .unwrap();
    // In-process, a publish returns once handled (retries included): do not wait on it.
    let publish = |e: Envelope| {
        let bus = bus.clone();
        tokio::spawn(async move { bus.publish(&e).await })
    };
    publish(failing.clone());
    eventually(WAIT, "the first attempt to fail", || async {
        !log.lock().unwrap().is_empty()
    })
    .await;
    let mut others = Vec::new();
    for _ in 0..3 {
        let e = Envelope::new("appointments", AppointmentCreated::example());
        others.push(e.id);
        publish(e);
    }
    eventually(WAIT, "the retry to succeed", || async {
        log.lock()
            .unwrap()
            .iter()
            .any(|(id, attempt, _)| *id == failing_id && *attempt == 2)
    })
    .await;
    let log = log.lock().unwrap().clone();
    let retried_at = log
        .iter()
        .find(|(id, attempt, _)| *id == failing_id && *attempt == 2)
        .map(|(_, _, at)| *at)
        .unwrap();
    assert!(
        retried_at >= Duration::from_millis(1100),
        "the retry waited its backoff: {retried_at:?}"
    );
    for id in &others {
        let (_, _, at) = log
            .iter()
            .find(|(seen, _, _)| seen == id)
            .unwrap_or_else(|| panic!("{id} handled: {log:?}"));
        assert!(
            *at < retried_at,
            "later events are handled during the backoff, not after it: {log:?}"
        );
    }
    sub.shutdown().await;
    backend.finish(&[consumer]).await;
}

/// No more deliveries in flight than the prefetch (AMQP `basic.qos`).
async fn prefetch_bounds_the_handlers_in_flight(backend: Backend) {
    let backend = backend
        .reconfigured(|config| BusConfig {
            prefetch: 2,
            ..config
        })
        .await;
    let bus = backend.bus();
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let (running, most, done) = (
        Arc::new(AtomicU32::new(0)),
        Arc::new(AtomicU32::new(0)),
        Arc::new(AtomicU32::new(0)),
    );
    let (g, r, m, d) = (gate.clone(), running.clone(), most.clone(), done.clone());
    let handler = handler_fn(move |_d: Delivery| {
        let (g, r, m, d) = (g.clone(), r.clone(), m.clone(), d.clone());
        async move {
            let now = r.fetch_add(1, Ordering::SeqCst) + 1;
            m.fetch_max(now, Ordering::SeqCst);
            let _permit = g.acquire().await.unwrap();
            r.fetch_sub(1, Ordering::SeqCst);
            d.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    });
    let consumer = "prm.test.prefetch";
    let sub = bus
        .subscribe(Subscription::new(consumer, ["message.sent"], handler))
        .await
        .unwrap();
    for _ in 0..6 {
        let e = Envelope::new("conversations", MessageSent::example());
        let bus = bus.clone();
        tokio::spawn(async move { bus.publish(&e).await });
    }
    eventually(WAIT, "two handlers busy", || async {
        running.load(Ordering::SeqCst) == 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        most.load(Ordering::SeqCst),
        2,
        "never more than the prefetch"
    );
    if let Backend::Rabbit { prefix, .. } = &backend {
        assert_eq!(
            ready_messages(&format!("{prefix}{consumer}")).await,
            4,
            "the broker holds back what exceeds the prefetch"
        );
    }
    gate.add_permits(6);
    eventually(WAIT, "all six handled", || async {
        done.load(Ordering::SeqCst) == 6
    })
    .await;
    assert_eq!(most.load(Ordering::SeqCst), 2);
    sub.shutdown().await;
    backend.finish(&[consumer]).await;
}

/// The in-process bus has no broker to persist a message: its publish is confirmed only
/// once every subscribed consumer finished with it, so the outbox keeps the event until
/// then.
mod in_process_confirms {
    use super::*;

    fn bus() -> InProcessBus {
        InProcessBus::new(test_config(""))
    }

    #[tokio::test(start_paused = true)]
    async fn a_publish_is_confirmed_only_after_the_handler_finished() {
        let bus = bus();
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let finished = Arc::new(AtomicU32::new(0));
        let (g, f) = (gate.clone(), finished.clone());
        let sub = bus
            .subscribe(Subscription::new(
                "prm.test.confirm",
                ["appointment.created"],
                handler_fn(move |_d: Delivery| {
                    let (g, f) = (g.clone(), f.clone());
                    async move {
                        let _permit = g.acquire().await.unwrap();
                        f.fetch_add(1, Ordering::SeqCst);
                        Ok(())
                    }
                }),
            ))
            .await
            .unwrap();
        let envelope = Envelope::new("appointments", AppointmentCreated::example());
        let publish = {
            let bus = bus.clone();
            tokio::spawn(async move { bus.publish(&envelope).await })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !publish.is_finished(),
            "not confirmed while the handler runs"
        );
        gate.add_permits(1);
        tokio::time::timeout(WAIT, publish)
            .await
            .unwrap()
            .unwrap()
            .expect("confirmed");
        assert_eq!(
            finished.load(Ordering::SeqCst),
            1,
            "the handler finished before the confirm"
        );
        sub.shutdown().await;
    }

    #[tokio::test(start_paused = true)]
    async fn every_subscribed_consumer_and_every_retry_is_waited_for() {
        let bus = bus();
        let (fast, fast_handler) = recorder();
        let attempts = Arc::new(AtomicU32::new(0));
        let a = attempts.clone();
        let sub_fast = bus
            .subscribe(Subscription::new("prm.test.fast", ["#"], fast_handler))
            .await
            .unwrap();
        let sub_flaky = bus
            .subscribe(Subscription::new(
                "prm.test.flaky-confirm",
                ["#"],
                handler_fn(move |d: Delivery| {
                    a.fetch_add(1, Ordering::SeqCst);
                    async move {
                        if d.attempt < 3 {
                            Err(HandlerError::transient("not yet"))
                        } else {
                            Ok(())
                        }
                    }
                }),
            ))
            .await
            .unwrap();
        tokio::time::timeout(
            WAIT,
            bus.publish(&Envelope::new("conversations", MessageSent::example())),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(fast.lock().unwrap().len(), 1);
        assert_eq!(
            attempts.load(Ordering::SeqCst),
            3,
            "confirmed after the retries succeeded, not before"
        );
        sub_fast.shutdown().await;
        sub_flaky.shutdown().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_dead_lettered_message_is_confirmed_once_given_up() {
        let bus = bus();
        let sub = bus
            .subscribe(Subscription::new(
                "prm.test.hopeless",
                ["#"],
                handler_fn(|_d: Delivery| async { Err(HandlerError::transient("down")) }),
            ))
            .await
            .unwrap();
        tokio::time::timeout(
            WAIT,
            bus.publish(&Envelope::new("conversations", MessageSent::example())),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(
            bus.dead_letters("prm.test.hopeless").len(),
            1,
            "dead-lettered before the confirm"
        );
        sub.shutdown().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_consumer_that_stops_first_fails_the_publish_and_keeps_the_message() {
        // One slot: while a handler runs, the next message waits in the queue.
        let bus = InProcessBus::new(BusConfig {
            prefetch: 1,
            ..test_config("")
        });
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let g = gate.clone();
        let first = bus
            .subscribe(Subscription::new(
                "prm.test.stopping",
                ["#"],
                gated(g.clone()),
            ))
            .await
            .unwrap();
        let envelope = Envelope::new("conversations", MessageSent::example());
        let publish = {
            let (bus, envelope) = (bus.clone(), envelope.clone());
            tokio::spawn(async move { bus.publish(&envelope).await })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Stopping waits for the in-flight handler: let it go, then the queue has no
        // consumer left for later messages.
        gate.add_permits(1);
        first.shutdown().await;
        tokio::time::timeout(WAIT, publish)
            .await
            .unwrap()
            .unwrap()
            .expect("the in-flight message was handled, so confirmed");

        // Now nobody consumes: the publish is not waited for, the message waits in the
        // queue for the next subscriber.
        let later = Envelope::new("conversations", MessageSent::example());
        tokio::time::timeout(WAIT, bus.publish(&later))
            .await
            .unwrap()
            .unwrap();
        let (seen, handler) = recorder();
        let again = bus
            .subscribe(Subscription::new("prm.test.stopping", ["#"], handler))
            .await
            .unwrap();
        eventually(WAIT, "the queued message", || async {
            seen.lock().unwrap().len() == 1
        })
        .await;
        assert_eq!(seen.lock().unwrap()[0].envelope.id, later.id);

        // A publish waiting on a consumer that stops before taking it is not confirmed.
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let g = gate.clone();
        again.shutdown().await;
        let blocking = bus
            .subscribe(Subscription::new(
                "prm.test.stopping",
                ["#"],
                gated(g.clone()),
            ))
            .await
            .unwrap();
        let busy = {
            let bus = bus.clone();
            tokio::spawn(async move {
                bus.publish(&Envelope::new("conversations", MessageSent::example()))
                    .await
            })
        };
        let queued = {
            let bus = bus.clone();
            tokio::spawn(async move {
                bus.publish(&Envelope::new("conversations", MessageSent::example()))
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        let stopping = tokio::spawn(blocking.shutdown());
        tokio::time::sleep(Duration::from_millis(100)).await;
        gate.add_permits(10);
        stopping.await.unwrap();
        let results = [busy.await.unwrap(), queued.await.unwrap()];
        assert!(
            results.iter().any(Result::is_ok),
            "the in-flight one was handled: {results:?}"
        );
        assert!(
            results
                .iter()
                .any(|r| matches!(r, Err(prm_bus::BusError::ConsumerStopped(c)) if c == "prm.test.stopping")),
            "the one still queued is reported unconfirmed: {results:?}"
        );
    }
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        // Nothing in process waits on the outside world: on paused time the backoffs and
        // the settling pauses take no real time, and their order is kept.
        mod in_process {
            $(
                #[tokio::test(start_paused = true)]
                async fn $case() {
                    tokio::time::timeout(std::time::Duration::from_secs(60), super::$case(super::Backend::memory()))
                        .await
                        .expect("test timed out");
                }
            )*
        }
        mod rabbitmq {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let backend = super::Backend::rabbit().await;
                    tokio::time::timeout(std::time::Duration::from_secs(60), super::$case(backend))
                        .await
                        .expect("test timed out");
                }
            )*
        }
    };
}

contract!(
    delivers_matching_events_with_the_envelope_intact,
    every_consumer_gets_its_own_copy_and_wildcards_bind,
    competing_replicas_share_one_queue,
    transient_failures_are_retried_until_the_handler_succeeds,
    a_handler_that_keeps_failing_is_dead_lettered_with_the_reason,
    permanent_errors_and_panics_are_handled,
    malformed_messages_go_straight_to_the_dead_letters,
    shutdown_finishes_in_flight_work_and_the_queue_survives,
    rejects_badly_named_consumers,
    a_retry_waits_out_its_backoff_without_holding_a_prefetch_slot,
    prefetch_bounds_the_handlers_in_flight,
);
