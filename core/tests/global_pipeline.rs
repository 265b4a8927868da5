//! The process-wide pipeline (what the bindings call). Its state is global, so
//! the whole lifecycle is one test, in its own test binary.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use costline_core::config::{Config, LedgerSetting};
use costline_core::ledger::Ledger;
use costline_core::pipeline;
use support::{event, unreachable_base_url};

const PATIENCE: Duration = Duration::from_secs(60);

fn config(ledger: &Path) -> Config {
    Config { ledger: LedgerSetting::Path(ledger.to_path_buf()), ..Config::default() }
}

/// The fork hooks twice in a row: with no pipeline running there is nothing
/// to wait for, and the next pipeline must not start paused.
fn fork_hooks_twice_return_at_once() {
    let started = Instant::now();
    for _ in 0..2 {
        pipeline::before_fork();
        pipeline::after_fork_parent();
    }
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "the fork hooks waited {:?} with no pipeline",
        started.elapsed()
    );
}

fn rows(path: &Path) -> u64 {
    Ledger::open(path).map(|l| l.count_events().unwrap()).unwrap_or(0)
}

#[test]
fn process_pipeline_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("first.db"), dir.path().join("second.db"));

    // Nothing configured yet: flush and shutdown have nothing to wait for.
    assert!(pipeline::flush(Duration::from_millis(100)));
    assert!(pipeline::shutdown(Duration::from_millis(100)));
    fork_hooks_twice_return_at_once();

    pipeline::configure(&config(&first)).unwrap();
    for _ in 0..20 {
        assert!(pipeline::enqueue(event()));
    }
    // Reconfiguring writes what the old configuration queued before switching.
    pipeline::configure(&config(&second)).unwrap();
    assert_eq!(rows(&first), 20);
    for _ in 0..5 {
        assert!(pipeline::enqueue(event()));
    }
    assert!(pipeline::flush(PATIENCE));
    assert_eq!(rows(&second), 5);

    // Shutdown is idempotent; a later event restarts the pipeline with the
    // last configuration instead of being lost.
    assert!(pipeline::shutdown(PATIENCE));
    assert!(pipeline::shutdown(PATIENCE));
    fork_hooks_twice_return_at_once();
    assert!(pipeline::enqueue(event()));
    assert!(pipeline::flush(PATIENCE));
    assert_eq!(rows(&second), 6);

    let stats = pipeline::stats();
    assert_eq!((stats.enqueued, stats.written, stats.dropped), (26, 26, 0), "counters span reconfigurations");

    // As in a child after fork(): the old pipeline is abandoned, a fresh one
    // (own thread, own connection) starts on the next event.
    pipeline::after_fork_child();
    assert_eq!(pipeline::stats().enqueued, 0, "the child counts its own events");
    assert!(pipeline::enqueue(event()));
    assert!(pipeline::flush(PATIENCE));
    assert_eq!(rows(&second), 7);

    // A bad configuration is refused and leaves the running pipeline alone.
    let bad = Config { base_url: Some("not a url".into()), ..config(&first) };
    assert!(pipeline::configure(&bad).is_err());
    assert!(pipeline::enqueue(event()));
    assert!(pipeline::shutdown(PATIENCE));
    assert_eq!(rows(&second), 8);

    // Reconfiguring loses nothing: events waiting in memory for an
    // unreachable collector (ledger off) move to the new pipeline.
    let third = dir.path().join("third.db");
    let memory_only = Config {
        ledger: LedgerSetting::Off,
        base_url: Some(unreachable_base_url()),
        backoff: vec![Duration::from_millis(50)],
        ..Config::default()
    };
    pipeline::configure(&memory_only).unwrap();
    for _ in 0..5 {
        assert!(pipeline::enqueue(event()));
    }
    assert!(!pipeline::flush(Duration::from_millis(500)));
    pipeline::configure(&config(&third)).unwrap();
    assert!(pipeline::flush(PATIENCE));
    assert_eq!(rows(&third), 5);
    assert!(pipeline::shutdown(PATIENCE));
}
