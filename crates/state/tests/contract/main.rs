//! One contract suite, run against both adapters: the in-memory store (with
//! tokio's paused clock, so TTL waits are instant) and the real Redis on
//! 127.0.0.1 (`REDIS_TEST_URL`/`REDIS_URL`), each test under its own random
//! key prefix that is deleted afterwards; and again against both through the
//! encrypting decorator, which must not change any rule. An unreachable Redis fails the Redis
//! tests (with how to start it), whatever the environment: they never skip.
#![allow(clippy::unwrap_used)]

mod cases;
mod harness;

/// Expands to one `#[tokio::test]` per contract case. `timed` is the test
/// attribute for ordinary cases, `concurrent` the one for the race test
/// (which needs a multi-threaded runtime to race for real).
macro_rules! contract_suite {
    (open = $open:path, timed = #[$timed:meta], concurrent = #[$concurrent:meta] $(,)?) => {
        contract_suite!(@cases $open, #[$timed],
            get_set_round_trip,
            set_overwrites_value_and_ttl,
            ttl_reports_remaining_time,
            string_expires_after_ttl,
            hash_and_list_expire_after_ttl,
            writes_refresh_ttl,
            writes_set_ttl_to_the_given_value,
            expire_sets_ttl_of_existing_keys_only,
            set_if_absent_first_writer_wins,
            delete_removes_any_kind_and_reports_existence,
            hash_set_all_merges_fields,
            list_push_capped_keeps_the_newest,
            list_replace_replaces_the_whole_list,
            wrong_kind_of_value_is_a_backend_error,
            keys_carry_the_prefix,
            prefixes_isolate_stores,
            json_helpers_round_trip_and_report_bad_data,
            ping_answers,
        );
        contract_suite!(@cases $open, #[$concurrent],
            set_if_absent_is_atomic_under_concurrency,
        );
    };
    (@cases $open:path, #[$attr:meta], $($case:ident),+ $(,)?) => {
        $(
            #[$attr]
            async fn $case() {
                crate::harness::run($open, crate::cases::$case).await;
            }
        )+
    };
}

mod memory {
    contract_suite!(
        open = crate::harness::memory,
        timed = #[tokio::test(start_paused = true)],
        concurrent = #[tokio::test(flavor = "multi_thread", worker_threads = 4)],
    );
}

mod redis {
    contract_suite!(
        open = crate::harness::redis,
        timed = #[tokio::test],
        concurrent = #[tokio::test(flavor = "multi_thread", worker_threads = 4)],
    );
}

mod memory_encrypted {
    contract_suite!(
        open = crate::harness::memory_encrypted,
        timed = #[tokio::test(start_paused = true)],
        concurrent = #[tokio::test(flavor = "multi_thread", worker_threads = 4)],
    );
}

mod redis_encrypted {
    contract_suite!(
        open = crate::harness::redis_encrypted,
        timed = #[tokio::test],
        concurrent = #[tokio::test(flavor = "multi_thread", worker_threads = 4)],
    );
}
