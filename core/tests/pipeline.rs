//! The pipeline instance: queue → ledger → collector, with failures on each side.
//! Every test starts its own `Pipeline`; none depends on timing to pass
//! (generous timeouts; elapsed time is asserted only where it IS the behaviour).

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use costline_core::config::{Config, LedgerSetting};
use costline_core::ledger::Ledger;
use costline_core::pipeline::Pipeline;
use support::{enqueue_all, event, eventually, unreachable_base_url, with_collector, Reply, TestCollector};

const PATIENCE: Duration = Duration::from_secs(60);
/// Slack over a flush timeout for a slow, shared machine.
const MARGIN: Duration = Duration::from_secs(5);

fn config(ledger: &Path) -> Config {
    Config { ledger: LedgerSetting::Path(ledger.to_path_buf()), ..Config::default() }
}

fn count_rows(path: &Path) -> u64 {
    Ledger::open(path).unwrap().count_events().unwrap()
}

#[test]
fn enqueued_events_are_in_the_ledger_after_flush() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dirs/ledger.db");
    let pipeline = Pipeline::start(config(&path)).unwrap();
    enqueue_all(&pipeline, 50);
    assert!(pipeline.flush(PATIENCE));
    assert_eq!(count_rows(&path), 50);
    let stats = pipeline.stats();
    assert_eq!((stats.enqueued, stats.written, stats.dropped), (50, 50, 0));
}

#[test]
fn events_reach_the_ledger_without_a_flush() {
    // The writer is not woken per event; its batch interval still stores them.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let pipeline = Pipeline::start(config(&path)).unwrap();
    enqueue_all(&pipeline, 3);
    assert!(eventually(PATIENCE, || path.exists() && count_rows(&path) == 3));
}

#[test]
fn a_burst_past_half_the_queue_is_written_in_full() {
    // A half-full queue rings the writer at once instead of waiting for the interval.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let mut cfg = config(&path);
    cfg.queue_size = 1_000;
    let pipeline = Pipeline::start(cfg).unwrap();
    let accepted = (0..900).filter(|_| pipeline.enqueue(event())).count();
    assert_eq!(accepted, 900);
    assert!(pipeline.flush(PATIENCE));
    assert_eq!(count_rows(&path), 900);
    assert_eq!(pipeline.stats().dropped, 0);
}

#[test]
fn flush_returns_within_timeout_when_collector_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let pipeline = Pipeline::start(with_collector(&path, &unreachable_base_url(), &[50])).unwrap();
    let ids = enqueue_all(&pipeline, 3);

    let started = Instant::now();
    assert!(!pipeline.flush(Duration::from_secs(1)), "nothing can be acknowledged");
    assert!(started.elapsed() < Duration::from_secs(1) + MARGIN);

    // Written first, still owed to the collector.
    let ledger = Ledger::open(&path).unwrap();
    assert_eq!(ledger.count_events().unwrap(), 3);
    for id in &ids {
        assert_eq!(ledger.export_status(id).unwrap().as_deref(), Some("pending"));
    }
    let started = Instant::now();
    assert!(!pipeline.shutdown(Duration::from_secs(1)));
    assert!(started.elapsed() < Duration::from_secs(1) + MARGIN);
}

#[test]
fn flush_and_shutdown_return_within_timeout_when_collector_never_answers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let collector = TestCollector::start(|_| Reply::Hang);
    let config =
        Config { timeout: Duration::from_secs(120), ..with_collector(&path, &collector.base_url, &[50]) };
    let pipeline = Pipeline::start(config).unwrap();
    enqueue_all(&pipeline, 3);

    let started = Instant::now();
    assert!(!pipeline.flush(Duration::from_secs(1)));
    assert!(started.elapsed() < Duration::from_secs(1) + MARGIN);
    let started = Instant::now();
    assert!(!pipeline.shutdown(Duration::from_secs(1)));
    assert!(started.elapsed() < Duration::from_secs(1) + MARGIN);
    assert_eq!(count_rows(&path), 3, "the ledger write does not wait for the collector");
}

#[test]
fn collector_outage_then_recovery_delivers_every_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let collector = TestCollector::start(|n| if n < 3 { Reply::Status(503) } else { Reply::Status(200) });
    let config = Config { batch_size: 7, ..with_collector(&path, &collector.base_url, &[10, 20]) };
    let pipeline = Pipeline::start(config).unwrap();
    let ids = enqueue_all(&pipeline, 100);

    assert!(pipeline.flush(PATIENCE));
    assert_eq!(collector.delivered_ids(), ids, "zero loss: every event acknowledged");
    let stats = pipeline.stats();
    assert_eq!(stats.exported, 100);
    assert_eq!(stats.pending_export, 0);
    assert!(stats.failed_batches >= 3);
    let ledger = Ledger::open(&path).unwrap();
    assert!(ids.iter().all(|id| ledger.export_status(id).unwrap().as_deref() == Some("exported")));
}

#[test]
fn requests_carry_bearer_key_and_json_body() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let collector = TestCollector::always(202);
    let pipeline = Pipeline::start(with_collector(&path, &collector.base_url, &[10])).unwrap();
    let ids = enqueue_all(&pipeline, 2);
    assert!(pipeline.flush(PATIENCE));

    let received = collector.received();
    assert!(!received.is_empty());
    for request in &received {
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/v1/events");
        assert_eq!(request.authorization.as_deref(), Some("Bearer test-key"));
        assert_eq!(request.content_type.as_deref(), Some("application/json"));
    }
    assert_eq!(collector.delivered_ids(), ids);
}

#[test]
fn retry_after_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let collector =
        TestCollector::start(
            |n| {
                if n == 0 {
                    Reply::StatusWithRetryAfter(429, "1")
                } else {
                    Reply::Status(200)
                }
            },
        );
    // The backoff alone would retry after 10 ms; the server asks for 1 s.
    let pipeline = Pipeline::start(with_collector(&path, &collector.base_url, &[10, 5_000])).unwrap();
    let ids = enqueue_all(&pipeline, 1);
    assert!(pipeline.flush(PATIENCE));

    let received = collector.received();
    assert_eq!(received.len(), 2);
    assert!(received[1].at - received[0].at >= Duration::from_millis(900), "retried before Retry-After");
    assert_eq!(collector.delivered_ids(), ids);
}

#[test]
fn retry_after_is_capped_at_the_longest_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let collector = TestCollector::start(|n| {
        if n == 0 {
            Reply::StatusWithRetryAfter(503, "3600")
        } else {
            Reply::Status(200)
        }
    });
    let pipeline = Pipeline::start(with_collector(&path, &collector.base_url, &[10, 200])).unwrap();
    let ids = enqueue_all(&pipeline, 1);
    assert!(pipeline.flush(PATIENCE), "an hour-long Retry-After must be capped");
    assert_eq!(collector.delivered_ids(), ids);
}

#[test]
fn full_queue_drops_and_counts_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    drop(Ledger::open(&path).unwrap());
    // Another "process" holds the write lock: the writer is stuck behind it.
    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();

    let config = Config { queue_size: 10, batch_size: 10, ..config(&path) };
    let pipeline = Pipeline::start(config).unwrap();
    let started = Instant::now();
    let refused = (0..1000).filter(|_| !pipeline.enqueue(event())).count();
    assert!(started.elapsed() < Duration::from_secs(5), "enqueue must never wait for the writer");
    assert!(refused > 0);
    assert!(pipeline.stats().dropped >= refused as u64);

    blocker.execute_batch("COMMIT").unwrap();
    assert!(pipeline.flush(PATIENCE));
    let stats = pipeline.stats();
    assert_eq!(count_rows(&path) + stats.dropped, 1000, "each event is either written or counted as dropped");
}

#[test]
fn every_accepted_event_is_written_even_when_batches_outgrow_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let pipeline = Pipeline::start(Config { queue_size: 8, batch_size: 256, ..config(&path) }).unwrap();
    let accepted: usize = std::thread::scope(|s| {
        let producers: Vec<_> =
            (0..2).map(|_| s.spawn(|| (0..2000).filter(|_| pipeline.enqueue(event())).count())).collect();
        producers.into_iter().map(|p| p.join().unwrap()).sum()
    });
    assert!(pipeline.flush(PATIENCE));
    assert_eq!(count_rows(&path), accepted as u64);
    assert_eq!(pipeline.stats().dropped, 4000 - accepted as u64);
}

#[test]
fn unwritable_ledger_path_keeps_events_until_it_becomes_writable() {
    let dir = tempfile::tempdir().unwrap();
    // A file where a directory must be: no one, not even root, can create the ledger.
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"").unwrap();
    let path = blocker.join("ledger.db");
    let pipeline = Pipeline::start(config(&path)).unwrap();
    enqueue_all(&pipeline, 5);

    assert!(!pipeline.flush(Duration::from_millis(500)));
    assert!(pipeline.stats().failed_batches >= 1);
    assert_eq!(pipeline.stats().written, 0);

    std::fs::remove_file(&blocker).unwrap();
    assert!(pipeline.flush(PATIENCE));
    assert_eq!(count_rows(&path), 5);
}

#[test]
fn two_pipelines_share_one_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let first = Pipeline::start(config(&path)).unwrap();
    let second = Pipeline::start(config(&path)).unwrap();
    std::thread::scope(|s| {
        s.spawn(|| enqueue_all(&first, 300));
        s.spawn(|| enqueue_all(&second, 300));
    });
    assert!(first.flush(PATIENCE));
    assert!(second.flush(PATIENCE));
    assert_eq!(count_rows(&path), 600);
}

#[test]
fn a_later_pipeline_exports_what_an_earlier_one_could_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let earlier = Pipeline::start(with_collector(&path, &unreachable_base_url(), &[50])).unwrap();
    let mut ids = enqueue_all(&earlier, 10);
    assert!(!earlier.shutdown(Duration::from_millis(500)));

    let collector = TestCollector::always(200);
    let later = Pipeline::start(with_collector(&path, &collector.base_url, &[10])).unwrap();
    ids.extend(enqueue_all(&later, 1));
    assert!(later.flush(PATIENCE), "flush covers the older outbox entries too");
    assert_eq!(collector.delivered_ids(), ids);
}

#[test]
fn ledger_off_keeps_unacknowledged_events_in_memory_and_retries() {
    let collector = TestCollector::start(|n| if n < 2 { Reply::Status(500) } else { Reply::Status(200) });
    let config = Config {
        ledger: LedgerSetting::Off,
        base_url: Some(collector.base_url.clone()),
        backoff: vec![Duration::from_millis(10)],
        ..Config::default()
    };
    let pipeline = Pipeline::start(config).unwrap();
    let ids = enqueue_all(&pipeline, 20);
    assert!(pipeline.flush(PATIENCE));
    assert_eq!(collector.delivered_ids(), ids);
    assert_eq!(pipeline.stats().written, 0);
}

#[test]
fn shutdown_is_idempotent_and_later_enqueues_are_dropped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let pipeline = Pipeline::start(config(&path)).unwrap();
    enqueue_all(&pipeline, 3);
    assert!(pipeline.shutdown(PATIENCE));
    assert!(pipeline.shutdown(PATIENCE));
    assert_eq!(count_rows(&path), 3, "shutdown flushed");
    assert!(!pipeline.enqueue(event()), "a stopped instance takes nothing");
    assert_eq!(pipeline.stats().dropped, 1);
}

#[test]
fn dropping_a_pipeline_still_writes_what_it_queued() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let pipeline = Pipeline::start(config(&path)).unwrap();
    enqueue_all(&pipeline, 25);
    drop(pipeline);
    assert!(eventually(PATIENCE, || count_rows(&path) == 25));
}

#[test]
fn invalid_settings_are_refused_with_a_clear_error() {
    for (config, needle) in [
        (Config { queue_size: 0, ..Config::default() }, "queue_size"),
        (Config { batch_size: 0, ..Config::default() }, "batch_size"),
        (Config { base_url: Some("ftp://example.invalid".into()), ..Config::default() }, "http://"),
        (Config { base_url: Some("not a url".into()), ..Config::default() }, "not a URL"),
        (Config { ca_bundle: Some("/nonexistent/ca.pem".into()), ..Config::default() }, "ca.pem"),
    ] {
        let error = Pipeline::start(config).unwrap_err().to_string();
        assert!(error.contains(needle), "{error:?} should mention {needle:?}");
    }
}
