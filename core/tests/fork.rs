//! A child process after fork() gets a working pipeline of its own and
//! nothing deadlocks (gunicorn --preload, multiprocessing with fork).
//! Its own test binary: it forks, and it uses the process-wide pipeline.

mod support;

use std::path::Path;
use std::time::Duration;

use costline_core::config::{Config, LedgerSetting};
use costline_core::ledger::Ledger;
use costline_core::pipeline;
use support::{event, wait_for_child};

const PATIENCE: Duration = Duration::from_secs(60);

fn rows(path: &Path) -> u64 {
    Ledger::open(path).unwrap().count_events().unwrap()
}

#[test]
fn child_after_fork_records_its_events() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    pipeline::configure(&Config { ledger: LedgerSetting::Path(path.clone()), ..Config::default() }).unwrap();
    for _ in 0..10 {
        assert!(pipeline::enqueue(event()));
    }
    assert!(pipeline::flush(PATIENCE));

    // SAFETY: the child only runs the code below and leaves with _exit,
    // never returning into the test harness.
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork failed");
    if child == 0 {
        pipeline::after_fork_child();
        let recorded = (0..5).all(|_| pipeline::enqueue(event())) && pipeline::flush(PATIENCE);
        let code = if recorded && pipeline::shutdown(PATIENCE) { 0 } else { 1 };
        // SAFETY: leave the child at once, without the parent's atexit handlers.
        unsafe { libc::_exit(code) };
    }

    assert_eq!(wait_for_child(child), 0, "the child could not record its events");
    // The parent's pipeline still works too.
    assert!(pipeline::enqueue(event()));
    assert!(pipeline::flush(PATIENCE));
    assert_eq!(rows(&path), 16);
}
