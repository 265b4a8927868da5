//! Fork safety on the parent's side: `before_fork` closes the pipeline's
//! SQLite connections, so children forked while it holds (multiprocessing's
//! workers) open the parent's ledger cleanly; `after_fork_parent` lets the
//! parent go on writing. Without it, a child inherits SQLite's per-file lock
//! bookkeeping from the parent's open connections and sees "database is
//! locked" forever.
//! Its own test binary: it forks, and it uses the process-wide pipeline.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use costline_core::config::{Config, LedgerSetting};
use costline_core::ledger::Ledger;
use costline_core::pipeline;
use support::{event, wait_for_child, TestCollector};

const PATIENCE: Duration = Duration::from_secs(60);
/// A child's flush; without fork safety it never succeeds, so keep it short.
const CHILD_PATIENCE: Duration = Duration::from_secs(15);
/// `before_fork` waits at most 2 s for the background threads.
const BEFORE_FORK_BOUND: Duration = Duration::from_millis(2500);
const EVENTS_PER_CHILD: usize = 5;
/// Enough events that the parent's writer is still storing them when it
/// forks. Forking amid a write transaction is what reliably breaks the
/// children without fork safety (an idle connection often gets away with it).
const BURST: usize = 3_000;

fn rows(path: &Path) -> u64 {
    Ledger::open(path).unwrap().count_events().unwrap()
}

/// This process's open file descriptors on the ledger or its WAL and
/// shared-memory files (Linux: /proc/self/fd; elsewhere nothing is known: 0).
fn open_descriptors_on(path: &Path) -> usize {
    let Ok(fds) = std::fs::read_dir("/proc/self/fd") else { return 0 };
    fds.filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter(|target: &PathBuf| target.as_os_str().to_string_lossy().starts_with(&*path.to_string_lossy()))
        .count()
}

fn enqueue_all(n: usize) -> bool {
    (0..n).all(|_| pipeline::enqueue(event()))
}

/// Fork a child that records `EVENTS_PER_CHILD` events through its own
/// pipeline and exits 0 when they were flushed.
fn fork_recording_child() -> libc::pid_t {
    // SAFETY: the child only runs the code below and leaves with _exit,
    // never returning into the test harness.
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork failed");
    if child == 0 {
        pipeline::after_fork_child();
        let recorded = enqueue_all(EVENTS_PER_CHILD) && pipeline::flush(CHILD_PATIENCE);
        let code = if recorded && pipeline::shutdown(CHILD_PATIENCE) { 0 } else { 1 };
        // SAFETY: leave the child at once, without the parent's atexit handlers.
        unsafe { libc::_exit(code) };
    }
    child
}

fn timed_before_fork() {
    let started = Instant::now();
    pipeline::before_fork();
    assert!(started.elapsed() < BEFORE_FORK_BOUND, "before_fork took {:?}", started.elapsed());
}

/// The multiprocessing pattern: the parent is busy writing, pauses, forks two
/// workers that each record and flush, resumes and keeps writing meanwhile.
/// Returns how many events this round added to the ledger.
fn fork_two_recording_children_and_keep_writing(path: &Path) -> u64 {
    assert!(enqueue_all(BURST));
    timed_before_fork();
    // The visible sign that the pipeline let go of the ledger: no descriptor
    // on its files is left open.
    let left_open = open_descriptors_on(path);
    // Events the parent records while paused are kept for after the fork.
    assert!(enqueue_all(3));
    let children = [fork_recording_child(), fork_recording_child()];
    pipeline::after_fork_parent();

    assert!(enqueue_all(10));
    assert!(pipeline::flush(PATIENCE), "the parent's pipeline resumes");
    for child in children {
        assert_eq!(wait_for_child(child), 0, "a child could not record its events in the shared ledger");
    }
    assert_eq!(left_open, 0, "before_fork left a connection to the ledger open");
    (BURST + 3 + 10 + 2 * EVENTS_PER_CHILD) as u64
}

#[test]
fn workers_forked_between_before_fork_and_after_fork_parent_write_to_the_parents_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    pipeline::configure(&Config { ledger: LedgerSetting::Path(path.clone()), ..Config::default() }).unwrap();
    assert!(enqueue_all(10));
    assert!(pipeline::flush(PATIENCE));
    let mut expected = 10;

    // The hooks twice in a row, and nested (two threads forking at once), leave
    // a working pipeline.
    for _ in 0..2 {
        timed_before_fork();
        pipeline::after_fork_parent();
    }
    timed_before_fork();
    timed_before_fork();
    pipeline::after_fork_parent();
    pipeline::after_fork_parent();
    assert!(enqueue_all(2));
    assert!(pipeline::flush(PATIENCE));
    expected += 2;
    assert_eq!(rows(&path), expected);

    // Writer thread only.
    expected += fork_two_recording_children_and_keep_writing(&path);
    assert_eq!(rows(&path), expected);

    // With a collector the exporter thread holds a connection of its own.
    // The children inherit the configuration and the collector's listening
    // socket, so the parent's collector receives their events too.
    let collector = TestCollector::always(200);
    pipeline::configure(&Config {
        ledger: LedgerSetting::Path(path.clone()),
        base_url: Some(collector.base_url.clone()),
        ..Config::default()
    })
    .unwrap();
    assert!(enqueue_all(4));
    assert!(pipeline::flush(PATIENCE));
    let exported_before = 4;
    expected += exported_before;

    let added = fork_two_recording_children_and_keep_writing(&path);
    expected += added;
    assert_eq!(rows(&path), expected);
    assert_eq!(
        collector.delivered_ids().len() as u64,
        exported_before + added,
        "every event recorded with the collector set was delivered"
    );
    assert!(pipeline::shutdown(PATIENCE));
}
