//! Peak memory of `GET /api/v1/prm/appointments/export.csv` over N appointments.
//!
//! Seeds N appointments (multi-row inserts, 5 000 at a time) in a throwaway database
//! (SQLite, or PostgreSQL with `PRM_TEST_DATABASE=postgres`, as the tests pick it),
//! starts the real appointments service on port 0 in this process, streams the export
//! over HTTP counting rows as they arrive (nothing is kept), and prints the process's
//! resident memory: before the export, and its peak during the export (the kernel's
//! high-water mark, reset through `/proc/self/clear_refs` once seeding is done, so the
//! seeding's own allocations do not count). Server and client are both in this process.
//!
//! ```text
//! cargo run -p prm-appointments --example export_rss -- 10000
//! cargo run -p prm-appointments --example export_rss -- 100000
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)] // a measurement: fail loudly

use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use futures::StreamExt;
use prm_domain::{Locale, Patient, PhoneNumber};
use prm_store::seeding::{self, SeedAppointment};
use prm_testkit::{API_KEY, clinic::Clinic};
use uuid::Uuid;

const PATIENTS: usize = 1_000;
const BATCH: usize = 5_000;

/// A field of `/proc/self/status`, in kB.
fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("the number of appointments"))
        .unwrap_or(100_000);
    let app = prm_testkit::spawn(&[&prm_appointments::SERVICE], prm_testkit::Spawn::new()).await;
    let clinic = Clinic::open(&app).await;
    let id = |v: &serde_json::Value| -> Uuid { v["id"].as_str().unwrap().parse().unwrap() };
    let (practitioner, location) = (id(&clinic.practitioner), id(&clinic.location));

    let seeding_started = Instant::now();
    let patients: Vec<Patient> = (0..PATIENTS)
        .map(|i| Patient {
            id: Uuid::now_v7(),
            name: format!("Paciente {i:04}, \"de prueba\""),
            phone: PhoneNumber::parse(&format!("+5730{i:08}"), "57").unwrap(),
            birth_date: None,
            locale: Some(Locale::Es),
        })
        .collect();
    seeding::patients(&app.store, &patients).await.unwrap();
    let first = Utc.with_ymd_and_hms(2031, 1, 6, 13, 0, 0).unwrap();
    // Latest first: SQLite's no-overlap trigger then finds no later appointment to
    // compare each insert with (in time order it would scan every earlier one).
    let mut done = 0;
    while done < n {
        let batch: Vec<SeedAppointment> = (done..(done + BATCH).min(n))
            .map(|k| n - 1 - k)
            .map(|i| {
                let start = first + Duration::minutes(30 * i as i64);
                SeedAppointment {
                    id: Uuid::now_v7(),
                    status: if i % 10 == 0 { "cancelled" } else { "booked" },
                    start,
                    end: start + Duration::minutes(30),
                    patient_id: patients[i % PATIENTS].id,
                    practitioner_id: practitioner,
                    location_id: location,
                    channel: Some("whatsapp"),
                    reason: Some("Control de presión arterial".to_owned()),
                    notes: None,
                    created_at: Utc::now(),
                    updated_at: Utc::now(),
                }
            })
            .collect();
        seeding::appointments(&app.store, &batch).await.unwrap();
        done += batch.len();
    }
    drop(patients);
    let seeding_took = seeding_started.elapsed();

    // From here on VmHWM is the peak of the export alone (Linux ≥ 4.0).
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the RSS high-water mark");
    let before_kb = status_kb("VmRSS:");
    let started = Instant::now();
    let response = app
        .client
        .get(app.url("/api/v1/prm/appointments/export.csv"))
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut stream = response.bytes_stream();
    let (mut lines, mut bytes, mut chunks) = (0_usize, 0_usize, 0_usize);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        chunks += 1;
        bytes += chunk.len();
        lines += chunk.iter().filter(|b| **b == b'\n').count();
    }
    let took = started.elapsed();
    let peak_kb = status_kb("VmHWM:");
    let rows = lines - 1;
    assert_eq!(rows, n, "every appointment exported once");
    println!(
        "export_rss n={n} database={} rows={rows} bytes={bytes} chunks={chunks} \
         seed={:.1}s export={:.2}s rss_before_export={:.1}MiB peak_rss_during_export={:.1}MiB \
         (+{:.1}MiB)",
        if app.database_url().starts_with("postgres") {
            "postgres"
        } else {
            "sqlite"
        },
        seeding_took.as_secs_f64(),
        took.as_secs_f64(),
        before_kb as f64 / 1024.0,
        peak_kb as f64 / 1024.0,
        peak_kb.saturating_sub(before_kb) as f64 / 1024.0,
    );
}
