//! Property test (issue acceptance point 1): random sequences of sends, flushes, receives,
//! deletes (by the latest and by stale handles), visibility changes, clock advances,
//! purges, compaction steps, index syncs and crash+reopen, run against a small in-memory
//! model of SQS semantics, for standard and FIFO queues with one or more partitions.
//!
//! Properties checked on every delivery and at the end of each case:
//! - (a) a message whose delete was acknowledged (delete, then flush), a purged message,
//!   or an expired one (sent_at + retention <= now) is never delivered, and a message is
//!   never delivered again while its visibility timeout runs;
//! - (b) nothing is delivered that was not sent and acknowledged (flushed), and a send
//!   dropped by FIFO deduplication is never delivered;
//! - (c) no acknowledged message is lost: at the end, after every visibility timeout ran
//!   out, draining the queue returns every acknowledged, undeleted, unexpired message
//!   (and, along the way, a receive never comes back empty while such a message is surely
//!   available);
//! - (d) FIFO: when a message of a group is delivered, every earlier acknowledged message
//!   of its group is gone (deleted, durably or not, purged or expired) or was delivered
//!   before it in the same receive call, and no other message of the group is in flight
//!   from an earlier call (one receive may return several messages of a group, in order,
//!   as SQS's does).
//!
//! The model and the harness live in `common/queue_model.rs`, shared with the
//! `engine_model` fuzz target; this file holds the proptest strategies.
//!
//! A "crash" drops the engine without flushing: staged sends are lost (they were never
//! acknowledged), in-flight messages become visible again, receipt handles go stale, and
//! deletes not yet flushed may or may not survive.

#[path = "common/queue_model.rs"]
mod queue_model;

use proptest::prelude::*;
use queue_model::{run_case, Case, Op, SendSpec, GROUPS};

fn send_spec() -> impl Strategy<Value = SendSpec> {
    (
        0..GROUPS,
        prop_oneof![3 => 0u16..200, 1 => 200u16..3000, 1 => 3000u16..3500],
        prop::option::weighted(0.15, any::<usize>()),
    )
        .prop_map(|(group, pad, reuse_dedup)| SendSpec {
            group,
            pad,
            reuse_dedup,
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        16 => prop::collection::vec(send_spec(), 1..=5).prop_map(Op::Send),
        10 => Just(Op::Flush),
        16 => (1usize..=10, prop_oneof![1 => Just(0u32), 4 => 1u32..=60])
            .prop_map(|(max, vis_s)| Op::Receive { max, vis_s, delete: false }),
        8 => (1usize..=10, prop_oneof![1 => Just(0u32), 4 => 1u32..=60])
            .prop_map(|(max, vis_s)| Op::Receive { max, vis_s, delete: true }),
        14 => any::<usize>().prop_map(Op::DeleteLatest),
        2 => any::<usize>().prop_map(Op::DeleteStale),
        4 => (any::<usize>(), prop_oneof![Just(0u32), 1u32..=60])
            .prop_map(|(pick, secs)| Op::ChangeVis { pick, secs }),
        2 => any::<usize>().prop_map(Op::ChangeVisStale),
        12 => prop_oneof![
            6 => 0u64..5_000,
            3 => 5_000u64..70_000,
            1 => 70_000u64..7_200_000,
        ]
        .prop_map(Op::Advance),
        1 => Just(Op::Purge),
        4 => Just(Op::Crash),
        5 => (any::<bool>(), 1u8..=4, 1usize..=64).prop_map(|(flush_first, steps, budget)| {
            Op::Compact {
                flush_first,
                steps,
                budget,
            }
        }),
        2 => Just(Op::SyncIndex),
        2 => Just(Op::Counters),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop_oneof![Just(1u16), 2u16..=3],
        any::<bool>(),
        prop::bool::weighted(0.35),
        any::<bool>(),
        prop::collection::vec(op(), 1..=60),
    )
        .prop_map(
            |(partitions, tiny_segments, short_retention, content_dedup, ops)| Case {
                partitions,
                tiny_segments,
                short_retention,
                content_dedup,
                ops,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig {
        // PROPTEST_CASES overrides, for longer runs.
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(256),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn standard_queue_matches_model(c in case()) {
        run_case(false, &c);
    }

    #[test]
    fn fifo_queue_matches_model(c in case()) {
        run_case(true, &c);
    }
}
