//! A ledger that cannot be written (a corrupt file here; a read-only directory
//! in `failing_ledger_read_only.rs`, a full disk in `pipeline::writer`'s unit
//! tests): events still reach the
//! collector from memory, are held up to the queue bound (dropped beyond it,
//! counted), and are stored as already exported once the ledger recovers.

mod support;

use std::path::Path;
use std::time::Duration;

use costline_core::config::Config;
use costline_core::ledger::Ledger;
use costline_core::pipeline::Pipeline;
use support::{enqueue_all, eventually, TestCollector};

const PATIENCE: Duration = Duration::from_secs(60);

fn with_collector(ledger: &Path, base_url: &str) -> Config {
    Config { queue_size: 20, batch_size: 5, ..support::with_collector(ledger, base_url, &[20]) }
}

/// Every event id the collector acknowledged, as often as it did.
fn deliveries(collector: &TestCollector) -> Vec<String> {
    collector
        .received()
        .into_iter()
        .filter(|r| r.status.is_some_and(|s| (200..300).contains(&s)))
        .flat_map(|r| r.event_ids)
        .collect()
}

#[test]
fn a_corrupt_ledger_file_still_lets_events_reach_the_collector_and_recovery_stores_them_as_exported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    std::fs::write(&path, "this is not an SQLite database\n".repeat(300)).unwrap();
    let collector = TestCollector::always(200);
    let pipeline = Pipeline::start(with_collector(&path, &collector.base_url)).unwrap();

    let ids = enqueue_all(&pipeline, 20);
    assert!(eventually(PATIENCE, || collector.delivered_ids() == ids), "held events reach the collector");
    let stats = pipeline.stats();
    assert_eq!(stats.written, 0);
    let last_error = stats.last_error.expect("the failure is remembered for status");
    assert!(last_error.contains(&path.display().to_string()), "{last_error}");

    // The memory bound is the queue's size (20): all of it is taken.
    enqueue_all(&pipeline, 15);
    assert!(eventually(PATIENCE, || pipeline.stats().dropped == 15), "{:?}", pipeline.stats());
    assert_eq!(collector.delivered_ids(), ids, "dropped events were never held, so never sent");

    // The file is fixed: the held events are stored, as exported, and not sent again.
    std::fs::remove_file(&path).unwrap();
    assert!(pipeline.flush(PATIENCE));
    let ledger = Ledger::open(&path).unwrap();
    assert_eq!(ledger.count_events().unwrap(), 20);
    assert_eq!(ledger.pending_export().unwrap(), 0);
    for id in &ids {
        assert_eq!(ledger.export_status(id).unwrap().as_deref(), Some("exported"));
    }
    assert_eq!(deliveries(&collector).len(), 20, "each event was delivered once");
    assert!(pipeline.shutdown(PATIENCE));
}
