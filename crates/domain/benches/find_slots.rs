//! Find-slots core on a clinic of P practitioners (see `support/workload.rs` for the workload).
//!
//! Run: `cargo bench -p prm-domain --bench find_slots`. Throughput is reported in
//! practitioner-days (P × 14, weekends included).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use prm_domain::scheduling::{BusyInterval, Clinic, SlotPreferences, SlotQuery, find_slots};
use prm_domain::{Location, Practitioner, PractitionerSchedule, Weekday};

// Shared with the unit tests, which also use its counting helpers.
#[allow(dead_code)]
#[path = "support/workload.rs"]
mod workload;

fn find_slots_bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("find_slots");
    for practitioners in [1u64, 10, 100, 1000] {
        let w = workload::Workload::new(practitioners);
        let query = w.query();
        let clinic = w.clinic();
        group.throughput(Throughput::Elements(
            practitioners * u64::from(workload::WINDOW_DAYS),
        ));
        group.bench_with_input(
            BenchmarkId::from_parameter(practitioners),
            &practitioners,
            |b, _| {
                b.iter(|| {
                    let offer = find_slots(black_box(&clinic), black_box(&query));
                    black_box(offer.slots.len() + offer.available)
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, find_slots_bench);
criterion_main!(benches);
