//! What pinging every pooled connection before use would cost (sqlx's
//! `test_before_acquire(true)`), against the store's choice of pinging only connections
//! that may have died unseen. Measures a booking-sized write transaction (BEGIN, one
//! INSERT, COMMIT) and a one-row read, each from 8 concurrent tasks, on PostgreSQL.
//!
//! `cargo bench -p prm-store --bench acquire_ping` (needs PostgreSQL at
//! `PRM_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark fails loudly

use std::time::{Duration, Instant};

use sea_orm::sqlx::{
    self, Executor,
    postgres::{PgPool, PgPoolOptions},
};

const TASKS: usize = 8;
const PER_TASK: usize = 500;

async fn pool(url: &str, ping: bool) -> PgPool {
    PgPoolOptions::new()
        .max_connections(TASKS as u32)
        .test_before_acquire(ping)
        .connect(url)
        .await
        .expect("PostgreSQL is needed for this benchmark")
}

async fn run(pool: &PgPool, write: bool) -> Duration {
    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                for i in 0..PER_TASK {
                    if write {
                        let mut tx = pool.begin().await.unwrap();
                        sqlx::query("INSERT INTO bench_rows (n) VALUES ($1)")
                            .bind(i as i64)
                            .execute(&mut *tx)
                            .await
                            .unwrap();
                        tx.commit().await.unwrap();
                    } else {
                        sqlx::query("SELECT n FROM bench_rows LIMIT 1")
                            .fetch_optional(&pool)
                            .await
                            .unwrap();
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    started.elapsed() / (TASKS * PER_TASK) as u32
}

#[tokio::main]
async fn main() {
    let admin = std::env::var("PRM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let name = format!("prm_bench_{}", std::process::id());
    let setup = pool(&admin, false).await;
    setup
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    let url = prm_store::testing::with_database(&admin, &name);
    {
        let db = pool(&url, false).await;
        db.execute("CREATE TABLE bench_rows (id bigserial PRIMARY KEY, n bigint)")
            .await
            .unwrap();
        for (label, write) in [("write transaction", true), ("one-row read", false)] {
            let plain = pool(&url, false).await;
            let pinged = pool(&url, true).await;
            // Warm both, then alternate so that neither gets the quieter moment.
            run(&plain, write).await;
            run(&pinged, write).await;
            let (mut without, mut with) = (Duration::ZERO, Duration::ZERO);
            for _ in 0..3 {
                without += run(&plain, write).await;
                with += run(&pinged, write).await;
            }
            let (without, with) = (without / 3, with / 3);
            println!(
                "{label}: {:.0} µs without pings, {:.0} µs pinging every acquire (+{:.0} %)",
                without.as_secs_f64() * 1e6,
                with.as_secs_f64() * 1e6,
                (with.as_secs_f64() / without.as_secs_f64() - 1.0) * 100.0
            );
            plain.close().await;
            pinged.close().await;
        }
        db.close().await;
    }
    setup
        .execute(format!("DROP DATABASE {name} WITH (FORCE)").as_str())
        .await
        .unwrap();
}
