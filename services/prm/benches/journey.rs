//! The whole booking conversation across the four service processes (release builds,
//! real PostgreSQL, Redis and RabbitMQ on 127.0.0.1, a fake Twilio): for each patient
//! message, the time from the signed webhook post to the bot's first reply reaching the
//! fake Twilio. Prints p50, p90, p99 and the maximum; docs/performance.md has figures.
//! Patients writing at the same time all answer "1" to the same soonest slot; all but one
//! are told it was just taken and answer "1" to the new offer, as people would.
//!
//! `cargo bench -p prm --bench journey` (PATIENTS, default 24; CONCURRENCY, default 4).

#[path = "../tests/support/journey.rs"]
mod journey;

use std::time::Duration;

use journey::{Suite, phone, spanish_intake};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this too, without
    // it, and then there is nothing to check that tests/processes.rs does not.
    if !std::env::args().any(|a| a == "--bench") {
        println!("journey: a benchmark; run it with `cargo bench -p prm --bench journey`");
        return;
    }
    let patients = env_or("PATIENTS", 24);
    let concurrency = env_or("CONCURRENCY", 4).max(1);
    let suite = std::sync::Arc::new(Suite::start().await);
    // One conversation first, unmeasured: connections, caches, the first search.
    let warm = phone();
    spanish_intake(&suite, &warm).await;
    suite.book_the_first_slot(&warm).await;

    let started = std::time::Instant::now();
    let mut latencies = Vec::new();
    let mut remaining = patients;
    while remaining > 0 {
        let wave = remaining.min(concurrency);
        remaining -= wave;
        let mut tasks = Vec::new();
        for _ in 0..wave {
            let suite = suite.clone();
            tasks.push(tokio::spawn(async move {
                let patient = phone();
                let mut times = spanish_intake(&suite, &patient).await;
                times.extend(suite.book_the_first_slot(&patient).await);
                times
            }));
        }
        for task in tasks {
            latencies.extend(task.await.expect("a conversation"));
        }
    }
    let elapsed = started.elapsed();
    latencies.sort();
    println!(
        "journey: {patients} conversations ({concurrency} at a time), {} messages in {:.1} s",
        latencies.len(),
        elapsed.as_secs_f64()
    );
    println!(
        "journey: message → reply at the fake Twilio: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 50.0).as_secs_f64() * 1e3,
        percentile(&latencies, 90.0).as_secs_f64() * 1e3,
        percentile(&latencies, 99.0).as_secs_f64() * 1e3,
        latencies[latencies.len() - 1].as_secs_f64() * 1e3,
    );
    let complaints = suite.processes.complaints();
    if !complaints.is_empty() {
        eprintln!(
            "journey: the processes logged warnings:\n{}",
            complaints.join("\n")
        );
    }
}
