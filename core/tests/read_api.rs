//! The in-process read API (`pipeline::report`, `pipeline::events`): the
//! process's own ledger read through costline's connection, after the events
//! recorded so far reached it. Global state: one test, in its own binary.

mod support;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use costline_core::config::{Config, LedgerSetting};
use costline_core::pipeline;
use costline_core::report::GroupBy;
use costline_core::Error;
use rust_decimal::Decimal;
use support::event_costing;

const PATIENCE: Duration = Duration::from_secs(60);

fn configure(ledger: LedgerSetting) {
    pipeline::configure(&Config { ledger, ..Config::default() }).unwrap();
}

fn record(agent: &str, cost: &str, timestamp: &str) -> String {
    let mut event = event_costing(Some(cost));
    event.agent = Some(agent.into());
    event.agent_path = vec![agent.into()];
    event.timestamp = timestamp.into();
    let id = event.event_id.clone();
    assert!(pipeline::enqueue(event));
    id
}

fn at(text: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&chrono::Utc)
}

#[test]
fn the_process_reads_its_own_ledger_without_a_flush_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    configure(LedgerSetting::Path(path.clone()));

    // Nothing recorded yet: empty answers, and no file created by reading.
    let empty = pipeline::report(vec![GroupBy::Agent], None, PATIENCE).unwrap();
    assert_eq!(empty.totals.calls, 0);
    assert!(pipeline::events(None, None, PATIENCE).unwrap().is_empty());
    assert!(!Path::new(&path).exists());

    let first = record("triage", "0.10", "2026-11-01T10:00:00Z");
    record("writer", "0.25", "2026-11-02T10:00:00Z");
    let third = record("writer", "0.000125", "2026-11-03T10:00:00Z");

    // The reads wait for the queue themselves: no flush before them.
    let report = pipeline::report(vec![GroupBy::Agent], None, PATIENCE).unwrap();
    assert_eq!(report.totals.calls, 3);
    assert_eq!(report.totals.cost_usd(), Some(Decimal::from_str("0.350125").unwrap()));
    let writer = report.rows.iter().find(|r| r.key == vec![Some("writer".to_string())]).unwrap();
    assert_eq!(writer.totals.cost_usd(), Some(Decimal::from_str("0.250125").unwrap()));

    let since = pipeline::report(vec![], Some(at("2026-11-02T00:00:00Z")), PATIENCE).unwrap();
    assert_eq!(since.totals.calls, 2);

    let all = pipeline::events(None, None, PATIENCE).unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].event_id, first, "oldest first");
    let limited = pipeline::events(Some(at("2026-11-02T12:00:00Z")), Some(5), PATIENCE).unwrap();
    assert_eq!(limited.iter().map(|e| e.event_id.clone()).collect::<Vec<_>>(), vec![third]);
    assert_eq!(pipeline::events(None, Some(2), PATIENCE).unwrap().len(), 2);
    assert!(pipeline::events(None, Some(0), PATIENCE).unwrap().is_empty());

    let status = pipeline::status();
    assert_eq!(status.ledger, Some(path.display().to_string()));
    assert_eq!((status.stats.written, status.held, status.stats.last_error), (3, 0, None));

    // A reconfigured ledger is read from then on.
    let other = dir.path().join("other.db");
    configure(LedgerSetting::Path(other));
    record("triage", "1", "2026-11-04T10:00:00Z");
    assert_eq!(pipeline::events(None, None, PATIENCE).unwrap().len(), 1);

    configure(LedgerSetting::Off);
    assert_eq!(pipeline::status().ledger, None);
    match pipeline::report(vec![], None, PATIENCE) {
        Err(Error::Ledger { message, .. }) => assert!(message.contains("COSTLINE_LEDGER=off"), "{message}"),
        other => panic!("expected a ledger error, got {other:?}"),
    }
    assert!(pipeline::shutdown(PATIENCE));
}
