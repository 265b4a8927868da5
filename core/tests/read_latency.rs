//! `pipeline::p50_latencies`: what the routed clients' `prefer: lowest_latency` reads, the
//! process's own ledger after the events recorded so far reached it. Global state: one
//! test, in its own binary.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use costline_core::config::{Config, LedgerSetting};
use costline_core::event::Status;
use costline_core::pipeline;
use support::event_costing;

const PATIENCE: Duration = Duration::from_secs(60);

fn record(model: &str, latency_ms: u64, status: Status) {
    let mut event = event_costing(Some("0.001"));
    event.model = model.into();
    event.latency_ms = latency_ms;
    event.status = status;
    assert!(pipeline::enqueue(event));
}

#[test]
fn the_process_reads_each_models_p50_latency_from_its_own_ledger() {
    let dir = tempfile::tempdir().unwrap();
    pipeline::configure(&Config {
        ledger: LedgerSetting::Path(dir.path().join("l.db")),
        ..Config::default()
    })
    .unwrap();
    // No ledger file yet: no latencies, and no error.
    assert!(pipeline::p50_latencies(None, 100, PATIENCE).unwrap().is_empty());

    for ms in [300, 100, 200] {
        record("gpt-4o", ms, Status::Ok);
    }
    record("gpt-4o", 5, Status::Error); // a failure says nothing of speed
    record("claude-haiku-4-5", 700, Status::Ok);

    // The read waits for the queue itself: no flush before it.
    let got = pipeline::p50_latencies(None, 100, PATIENCE).unwrap();
    let want = BTreeMap::from([("claude-haiku-4-5".to_string(), 700), ("gpt-4o".to_string(), 200)]);
    assert_eq!(got, want);
    // A window after every event: nothing.
    assert!(pipeline::p50_latencies(Some(i64::MAX), 100, PATIENCE).unwrap().is_empty());

    pipeline::configure(&Config { ledger: LedgerSetting::Off, ..Config::default() }).unwrap();
    assert!(pipeline::p50_latencies(None, 100, PATIENCE).is_err(), "the ledger is off");
    assert!(pipeline::shutdown(PATIENCE));
}
