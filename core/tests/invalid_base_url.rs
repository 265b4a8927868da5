//! Events recorded while the environment's collector URL is unusable still
//! get their outbox rows, so they are sent once a valid URL is configured.
//! Sets process environment variables: its own test binary.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use costline_core::config::{Config, LedgerSetting};
use costline_core::ledger::Ledger;
use costline_core::pipeline;
use support::{event, TestCollector};

const PATIENCE: Duration = Duration::from_secs(60);

#[test]
fn events_recorded_while_the_base_url_is_invalid_are_exported_once_it_is_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    // The only test in this binary: no other thread reads the environment.
    std::env::set_var("COSTLINE_LEDGER", &path);
    std::env::set_var("COSTLINE_BASE_URL", "collector.internal:8080");
    std::env::set_var("COSTLINE_API_KEY", "test-key");
    let ids: HashSet<String> = (0..3)
        .map(|_| {
            let e = event();
            let id = e.event_id.clone();
            assert!(pipeline::enqueue(e), "metering goes on with a bad collector URL");
            id
        })
        .collect();
    assert!(pipeline::flush(PATIENCE), "nothing can be exported: flush waits for the ledger only");
    let ledger = Ledger::open(&path).unwrap();
    assert_eq!(ledger.count_events().unwrap(), 3);
    assert_eq!(ledger.pending_export().unwrap(), 3, "each event is owed to the collector");

    let collector = TestCollector::always(200);
    let fixed = Config {
        ledger: LedgerSetting::Path(path.clone()),
        base_url: Some(collector.base_url.clone()),
        ..Config::default()
    };
    pipeline::configure(&fixed).unwrap();
    assert!(pipeline::flush(PATIENCE));
    assert_eq!(collector.delivered_ids(), ids);
    assert_eq!(ledger.pending_export().unwrap(), 0);
    assert!(pipeline::shutdown(PATIENCE));
}
