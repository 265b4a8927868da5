//! `Ledger::p50_latencies`: what routing's `lowest_latency` reads from the ledger.

mod support;

use costline_core::event::Status;
use costline_core::ledger::Ledger;
use support::event;

fn call(model: &str, latency_ms: u64, timestamp_ms: i64, status: Status) -> costline_core::event::Event {
    let mut e = event();
    e.model = model.into();
    e.latency_ms = latency_ms;
    e.status = status;
    e.timestamp = chrono::DateTime::from_timestamp_millis(timestamp_ms).unwrap().to_rfc3339();
    e
}

#[test]
fn p50_is_the_median_of_each_models_newest_successful_calls() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(&dir.path().join("ledger.db")).unwrap();
    let t = 1_780_000_000_000;
    ledger
        .insert(
            &[
                call("fast", 100, t, Status::Ok),
                call("fast", 300, t + 1, Status::Ok),
                call("fast", 200, t + 2, Status::Ok),
                call("fast", 9_000, t + 3, Status::Error),
                call("slow", 5_000, t - 10_000, Status::Ok),
                call("slow", 900, t + 4, Status::Ok),
                call("slow", 1_100, t + 5, Status::Ok),
            ],
            false,
        )
        .unwrap();
    let all = ledger.p50_latencies(None, 100).unwrap();
    assert_eq!(all.get("fast"), Some(&200));
    assert_eq!(all.get("slow"), Some(&1_100));
    // Only the newest two of each: fast 200, 300 -> 200; slow 1100, 900 -> 900.
    let newest = ledger.p50_latencies(None, 2).unwrap();
    assert_eq!((newest["fast"], newest["slow"]), (200, 900));
    // Since t: the old slow call is left out.
    let recent = ledger.p50_latencies(Some(t), 100).unwrap();
    assert_eq!(recent["slow"], 900);
}
