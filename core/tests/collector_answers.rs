//! What the exporter does with each kind of collector answer: configuration
//! problems keep events, 413 splits, named invalid events are dead-lettered,
//! redirects are not followed, batches go out in parallel.

mod support;

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use costline_core::config::Config;
use costline_core::event::Event;
use costline_core::ledger::Ledger;
use costline_core::pipeline::Pipeline;
use support::{enqueue_all, event, Reply, TestCollector};

const PATIENCE: Duration = Duration::from_secs(60);

fn with_collector(ledger: &Path, base_url: &str) -> Config {
    Config {
        config_error_backoff: vec![Duration::from_millis(50)],
        ..support::with_collector(ledger, base_url, &[10])
    }
}

fn status_of(path: &Path, id: &str) -> Option<String> {
    Ledger::open(path).unwrap().export_status(id).unwrap()
}

#[test]
fn auth_and_path_errors_keep_events_until_the_collector_accepts_them() {
    for code in [401, 403, 404] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.db");
        // Refused twice (a wrong key or path), then fixed on the collector's side.
        let collector =
            TestCollector::start(move |n| if n < 2 { Reply::Status(code) } else { Reply::Status(200) });
        let pipeline = Pipeline::start(with_collector(&path, &collector.base_url)).unwrap();
        let ids = enqueue_all(&pipeline, 3);

        assert!(pipeline.flush(PATIENCE), "HTTP {code}: events are kept and delivered once accepted");
        let expected: HashSet<String> = ids.iter().cloned().collect();
        assert_eq!(collector.delivered_ids(), expected, "HTTP {code}");
        assert!(ids.iter().all(|id| status_of(&path, id).as_deref() == Some("exported")), "HTTP {code}");
        assert_eq!(Ledger::open(&path).unwrap().dead_letter_count().unwrap(), 0);
    }
}

#[test]
fn configuration_errors_wait_the_long_backoff_not_the_short_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let collector = TestCollector::always(401);
    let config = Config {
        backoff: vec![Duration::from_millis(1)],
        config_error_backoff: vec![Duration::from_secs(3600)],
        ..with_collector(&path, &collector.base_url)
    };
    let pipeline = Pipeline::start(config).unwrap();
    let ids = enqueue_all(&pipeline, 2);
    assert!(!pipeline.flush(Duration::from_secs(1)), "nothing is settled while the key is wrong");
    assert_eq!(collector.received().len(), 1, "one attempt, then the hour-long wait");
    assert!(ids.iter().all(|id| status_of(&path, id).as_deref() == Some("pending")));
    assert_eq!(Ledger::open(&path).unwrap().pending_export().unwrap(), 2);
}

#[test]
fn a_bad_request_naming_nothing_keeps_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let collector = TestCollector::start(|n| if n < 1 { Reply::Status(400) } else { Reply::Status(200) });
    let pipeline = Pipeline::start(with_collector(&path, &collector.base_url)).unwrap();
    let ids = enqueue_all(&pipeline, 3);
    assert!(pipeline.flush(PATIENCE));
    assert_eq!(collector.delivered_ids(), ids.into_iter().collect::<HashSet<_>>());
    assert_eq!(Ledger::open(&path).unwrap().dead_letter_count().unwrap(), 0);
}

#[test]
fn a_bad_request_naming_events_dead_letters_only_those() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let bad = event();
    let bad_id = bad.event_id.clone();
    let named = bad_id.clone();
    let collector = TestCollector::start_reading(move |_, ids| {
        if ids.contains(&named) {
            let body = format!(
                r#"{{"rejected": [{{"event_id": "{named}", "reason": "tags.customer: too long"}}]}}"#
            );
            Reply::StatusWithBody(400, body)
        } else {
            Reply::Status(200)
        }
    });
    let pipeline = Pipeline::start(with_collector(&path, &collector.base_url)).unwrap();
    let mut good = enqueue_all(&pipeline, 2);
    assert!(pipeline.enqueue(bad));
    good.extend(enqueue_all(&pipeline, 2));

    assert!(pipeline.flush(PATIENCE));
    assert_eq!(
        collector.delivered_ids(),
        good.iter().cloned().collect::<HashSet<_>>(),
        "the rest is delivered"
    );
    let ledger = Ledger::open(&path).unwrap();
    assert_eq!(ledger.export_status(&bad_id).unwrap().as_deref(), Some("rejected"));
    assert!(good.iter().all(|id| ledger.export_status(id).unwrap().as_deref() == Some("exported")));
    let letters = ledger.dead_letters(10).unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].event_id, bad_id);
    assert_eq!(letters[0].reason, "tags.customer: too long");
    assert!(letters[0].time.ends_with('Z'), "{}", letters[0].time);
    assert_eq!(ledger.dead_letter_count().unwrap(), 1);
    assert_eq!(ledger.pending_export().unwrap(), 0);
}

#[test]
fn payload_too_large_splits_the_batch_down_to_single_events() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    // One event the collector never takes, whatever it is sent with.
    let mut huge: Event = event();
    huge.tags.insert("note".into(), "x".repeat(100));
    let huge_id = huge.event_id.clone();
    let too_big = huge_id.clone();
    let collector = TestCollector::start_reading(move |_, ids| {
        if ids.len() > 2 || ids.contains(&too_big) {
            Reply::Status(413)
        } else {
            Reply::Status(200)
        }
    });
    // One batch of all seven: the collector takes at most two at a time.
    let config = Config { batch_size: 100, ..with_collector(&path, &collector.base_url) };
    let ledger = Ledger::open(&path).unwrap();
    let mut events: Vec<Event> = (0..6).map(|_| event()).collect();
    events.insert(3, huge);
    ledger.insert_for_test(&events);
    let pipeline = Pipeline::start(config).unwrap();

    assert!(pipeline.flush(PATIENCE));
    let expected: HashSet<String> =
        events.iter().map(|e| e.event_id.clone()).filter(|id| *id != huge_id).collect();
    assert_eq!(collector.delivered_ids(), expected);
    let letters = ledger.dead_letters(10).unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].event_id, huge_id);
    assert!(letters[0].reason.contains("413"), "{}", letters[0].reason);
}

#[test]
fn redirects_are_not_followed_and_events_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let elsewhere = TestCollector::always(200);
    let location = format!("{}/v1/events", elsewhere.base_url);
    let collector =
        TestCollector::start(
            move |n| if n < 2 { Reply::Redirect(307, location.clone()) } else { Reply::Status(200) },
        );
    let pipeline = Pipeline::start(with_collector(&path, &collector.base_url)).unwrap();
    let ids = enqueue_all(&pipeline, 2);

    assert!(pipeline.flush(PATIENCE));
    assert!(elsewhere.received().is_empty(), "the redirect was not followed (the key stays home)");
    assert_eq!(collector.delivered_ids(), ids.into_iter().collect::<HashSet<_>>());
}

#[test]
fn batches_are_posted_in_parallel_up_to_max_concurrent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    // Each answer waits until four requests are in flight together: a
    // one-at-a-time exporter only gets there through the gate's time limit.
    let collector = TestCollector::start(|_| Reply::AfterConcurrent(4, 200));
    let events: Vec<Event> = (0..12).map(|_| event()).collect();
    Ledger::open(&path).unwrap().insert_for_test(&events);
    let config = Config { batch_size: 1, max_concurrent: 4, ..with_collector(&path, &collector.base_url) };
    let pipeline = Pipeline::start(config).unwrap();

    assert!(pipeline.flush(PATIENCE));
    assert_eq!(collector.delivered_ids().len(), 12);
    assert_eq!(collector.peak_in_flight(), 4, "four batches in flight at once, never more");
    assert_eq!(collector.received().len(), 12, "each batch was posted once");
}

/// Writing events straight into the ledger's outbox, as a previous process
/// that could not reach the collector would have left them.
trait InsertForTest {
    fn insert_for_test(&self, events: &[Event]);
}

impl InsertForTest for Ledger {
    fn insert_for_test(&self, events: &[Event]) {
        let mut ledger = Ledger::open(self.path()).unwrap();
        assert_eq!(ledger.insert(events, true).unwrap(), events.len());
    }
}
