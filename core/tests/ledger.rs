//! The SQLite ledger on its own: storage fidelity, idempotence, sharing,
//! a full disk, the outbox, and events that must be refused.

mod support;

use std::ops::ControlFlow;
use std::time::Duration;

use costline_core::event::Event;
use costline_core::ledger::{ExportOutcome, Ledger};
use costline_core::Error;
use support::{event, event_costing};

fn read_all(ledger: &Ledger) -> Vec<Event> {
    let mut events = Vec::new();
    ledger
        .for_each_event(None, |e| {
            events.push(e);
            ControlFlow::Continue(())
        })
        .unwrap();
    events
}

#[test]
fn stored_events_read_back_identical() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(&dir.path().join("ledger.db")).unwrap();
    let mut unpriced = event_costing(None);
    unpriced.agent = None;
    unpriced.agent_path.clear();
    unpriced.tags.clear();
    unpriced.resolved_model = None;
    unpriced.error_type = Some("RateLimitError".into());
    let priced = event_costing(Some("0.000012500"));
    // Reads come back in time order, then insertion order: give both one timestamp.
    unpriced.timestamp = priced.timestamp.clone();
    ledger.insert(&[priced.clone(), unpriced.clone()], false).unwrap();

    let back = read_all(&ledger);
    assert_eq!(back, vec![priced.clone(), unpriced]);
    assert_eq!(back[0].cost_usd.unwrap().to_string(), "0.000012500", "the decimal is stored exactly");
}

#[test]
fn inserting_the_same_event_twice_keeps_one_row() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(&dir.path().join("ledger.db")).unwrap();
    let e = event();
    assert_eq!(ledger.insert(std::slice::from_ref(&e), true).unwrap(), 1);
    assert_eq!(ledger.insert(&[e.clone(), e.clone()], true).unwrap(), 0);
    assert_eq!(ledger.count_events().unwrap(), 1);
    assert_eq!(ledger.pending_export().unwrap(), 1);
}

#[test]
fn two_connections_write_one_file_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let mut ledger = Ledger::open(&path).unwrap();
                for _ in 0..50 {
                    ledger.insert(&[event(), event()], false).unwrap();
                }
            });
        }
    });
    assert_eq!(Ledger::open(&path).unwrap().count_events().unwrap(), 200);
}

#[test]
fn full_disk_fails_the_write_cleanly_and_space_lets_it_through() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let mut ledger = Ledger::open(&path).unwrap();
    ledger.set_max_page_count(1).unwrap();
    let batch: Vec<Event> = (0..500).map(|_| event()).collect();

    let error = ledger.insert(&batch, true).unwrap_err();
    assert!(matches!(error, Error::Ledger { .. }), "{error:?}");
    assert_eq!(ledger.count_events().unwrap(), 0, "a failed batch leaves nothing half-written");

    ledger.set_max_page_count(1_000_000).unwrap();
    assert_eq!(ledger.insert(&batch, true).unwrap(), 500);
}

#[test]
fn missing_ledger_is_a_clear_error_not_a_new_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.db");
    let error = Ledger::open_existing(&path).unwrap_err().to_string();
    assert!(error.contains("no ledger file"), "{error}");
    assert!(!path.exists());
}

#[test]
fn ledger_from_a_newer_costline_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    drop(Ledger::open(&path).unwrap());
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute("UPDATE schema_version SET version = 99", []).unwrap();
    drop(raw);
    let error = Ledger::open(&path).unwrap_err().to_string();
    assert!(error.contains("newer costline"), "{error}");
}

#[test]
fn claimed_outbox_events_are_invisible_to_other_exporters_until_released() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let mut first = Ledger::open(&path).unwrap();
    let mut second = Ledger::open(&path).unwrap();
    first.insert(&[event(), event(), event()], true).unwrap();
    let last = first.last_outbox_seq().unwrap().unwrap();

    let claimed = first.claim_for_export(2, Duration::from_secs(600)).unwrap();
    assert_eq!(claimed.len(), 2);
    let rest = second.claim_for_export(10, Duration::from_secs(600)).unwrap();
    assert_eq!(rest.len(), 1, "the other exporter only sees the unclaimed event");

    first.release_claims(&[claimed[1].seq]).unwrap();
    first.finish_export(&[claimed[0].seq], ExportOutcome::Exported).unwrap();
    second.finish_export(&[rest[0].seq], ExportOutcome::Rejected).unwrap();
    assert!(!first.outbox_settled_through(last).unwrap());
    let again = second.claim_for_export(10, Duration::from_secs(600)).unwrap();
    assert_eq!(again.len(), 1);
    second.finish_export(&[again[0].seq], ExportOutcome::Exported).unwrap();
    assert!(first.outbox_settled_through(last).unwrap());
    assert_eq!(first.export_status(&claimed[0].event.event_id).unwrap().as_deref(), Some("exported"));
    assert_eq!(first.export_status(&rest[0].event.event_id).unwrap().as_deref(), Some("rejected"));
}

#[test]
fn events_written_without_a_collector_are_not_owed_to_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(&dir.path().join("ledger.db")).unwrap();
    let e = event();
    ledger.insert(std::slice::from_ref(&e), false).unwrap();
    assert_eq!(ledger.export_status(&e.event_id).unwrap(), None);
    assert_eq!(ledger.pending_export().unwrap(), 0);
}

#[test]
fn malformed_events_are_rejected_with_a_clear_error() {
    let good = event().to_json();
    assert!(Event::from_json(&good).is_ok());

    let mut missing_field: serde_json::Value = serde_json::from_str(&good).unwrap();
    missing_field.as_object_mut().unwrap().remove("model");
    let cases = [
        ("{not json", "key must be a string"),
        (missing_field.to_string().as_str(), "missing field `model`"),
        (good.replace("\"ok\"", "\"fine\"").as_str(), "unknown variant `fine`"),
        (good.replace("\"input_tokens\":1000", "\"input_tokens\":10").as_str(), "exceed input_tokens"),
    ]
    .map(|(text, needle)| (text.to_string(), needle));
    for (text, needle) in cases {
        match Event::from_json(&text) {
            Err(Error::InvalidEvent(message)) => {
                assert!(message.contains(needle), "{message:?} lacks {needle:?}")
            }
            other => panic!("expected InvalidEvent for {text:?}, got {other:?}"),
        }
    }
}

/// The WAL is shared with connections our SQLite library cannot see (another
/// library in the process, the host app's): closing ours must leave it alone.
#[test]
fn closing_a_connection_never_checkpoints_or_deletes_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let wal = dir.path().join("ledger.db-wal");
    let mut ledger = Ledger::open(&path).unwrap();
    ledger.insert(&[event(), event()], false).unwrap();
    let wal_size = std::fs::metadata(&wal).unwrap().len();
    drop(ledger);
    assert_eq!(std::fs::metadata(&wal).map(|m| m.len()).ok(), Some(wal_size), "the WAL is untouched");

    // An explicit checkpoint moves the events into the database file itself.
    Ledger::open(&path).unwrap().checkpoint().unwrap();
    let copy = dir.path().join("copy.db");
    std::fs::copy(&path, &copy).unwrap();
    assert_eq!(Ledger::open(&copy).unwrap().count_events().unwrap(), 2);
}

/// A commit never checkpoints by itself: on a connection whose WAL was deleted
/// under it, that would copy the dead WAL into the live database. Checkpoints
/// are explicit, once the connection's files were checked.
#[test]
fn commits_never_checkpoint_into_the_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let mut ledger = Ledger::open(&path).unwrap();
    ledger.insert(&[event()], false).unwrap();
    ledger.checkpoint().unwrap();
    let database_before = std::fs::read(&path).unwrap();

    // Far past SQLite's automatic checkpoint (1000 pages of 4 KiB).
    for _ in 0..40 {
        let batch: Vec<Event> = (0..250)
            .map(|_| {
                let mut e = event();
                e.tags.insert("pad".into(), "x".repeat(1000));
                e
            })
            .collect();
        ledger.insert(&batch, false).unwrap();
    }
    assert_eq!(std::fs::read(&path).unwrap(), database_before, "the database file was written by a commit");
    assert!(ledger.checkpoint_if_due().unwrap(), "an explicit checkpoint is due");
    assert_ne!(std::fs::read(&path).unwrap(), database_before);
}
