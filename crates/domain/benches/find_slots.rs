//! Find-slots core on a clinic of P practitioners (see `support/workload.rs` for the workload).
//!
//! Run: `cargo bench -p prm-domain --bench find_slots`. Throughput is reported in
//! practitioner-days (P × 14, weekends included). Before measuring each P the bench
//! prints the number of available slots, checked against the booking rule (P = 1 has
//! exactly 112), and the peak heap one search allocates (peak_alloc's counting allocator).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use peak_alloc::PeakAlloc;
use prm_domain::scheduling::{BusyInterval, Clinic, SlotPreferences, SlotQuery, find_slots};
use prm_domain::{Location, Practitioner, PractitionerSchedule, Weekday};

// Shared with the unit tests, which also use its counting helpers.
#[allow(dead_code)]
#[path = "support/workload.rs"]
mod workload;

/// The system allocator, counting live and peak bytes (two relaxed atomics per call,
/// included in the measured times, so they are slightly pessimistic).
#[global_allocator]
static ALLOCATOR: PeakAlloc = PeakAlloc;

fn find_slots_bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("find_slots");
    for practitioners in [1u64, 10, 100, 1000] {
        let w = workload::Workload::new(practitioners);
        let query = w.query();
        let clinic = w.clinic();

        // Correctness and memory, once per P, before measuring.
        ALLOCATOR.reset_peak_usage();
        let before = ALLOCATOR.current_usage();
        let offer = find_slots(&clinic, &query);
        let peak = ALLOCATOR.peak_usage().saturating_sub(before);
        let expected = workload::expected_available(practitioners);
        assert_eq!(
            offer.available, expected,
            "P = {practitioners}: available slots differ from the booking rule"
        );
        if practitioners == 1 {
            assert_eq!(offer.available, 112, "P = 1: 160 slots − 48 booked");
        }
        assert_eq!(offer.slots.len(), 5, "P = {practitioners}: top 5");
        let input: usize = std::mem::size_of_val(w.practitioners.as_slice())
            + std::mem::size_of_val(w.schedules.as_slice())
            + std::mem::size_of_val(w.busy.as_slice());
        println!(
            "find_slots P = {practitioners}: {} available slots (rule: {expected}); \
             peak heap of one search {peak} bytes ({} per practitioner; input rows {input} bytes)",
            offer.available,
            peak / practitioners as usize,
        );

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
