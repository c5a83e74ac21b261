//! `GET /metrics` counts what operators watch: bookings, conflicts, the outbox backlog.
//! The recorder is per process and tests run concurrently, so counters are compared
//! before and after, and only ever grow.

use std::time::Duration;

use crate::helpers::{Clinic, TestApp, eventually, spawn_app};

/// The sum of every sample of `metric` (all label sets) in the exposition.
async fn sum(app: &TestApp, metric: &str) -> f64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with(metric) && l[metric.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn a_booking_and_a_conflict_are_counted_and_the_outbox_is_measured() {
    let app = spawn_app().await;
    let clinic = Clinic::plan().round_the_clock().open(&app).await;
    let start = app.bogota_in(2, "10:00");
    let (booked, conflicts) = (
        sum(&app, "prm_bookings_total").await,
        sum(&app, "prm_booking_conflicts_total").await,
    );

    let first = app
        .post("/api/v1/prm/appointments", clinic.booking(&start))
        .await;
    assert_eq!(first.status(), 201);
    // The same slot again: refused by the schema, counted as a conflict.
    let second = app
        .post("/api/v1/prm/appointments", clinic.booking(&start))
        .await;
    assert_eq!(second.status(), 409);

    assert!(sum(&app, "prm_bookings_total").await > booked);
    assert!(sum(&app, "prm_booking_conflicts_total").await > conflicts);
    let exposition = app.get("/metrics").await.text().await.unwrap();
    assert!(
        exposition.contains("prm_bookings_total{channel=\"api\"}"),
        "{exposition}"
    );
    eventually(Duration::from_secs(10), "the outbox gauges", || async {
        let text = app.get("/metrics").await.text().await.unwrap();
        text.contains("prm_outbox_backlog{outbox=\"appointments_outbox\"}")
            && text.contains("prm_outbox_oldest_age_seconds{outbox=\"appointments_outbox\"}")
    })
    .await;
}
