//! A ledger that cannot be written (corrupt file, read-only directory; a full
//! disk is in `pipeline::writer`'s unit tests): events still reach the
//! collector from memory, are held up to the queue bound (dropped beyond it,
//! counted), and are stored as already exported once the ledger recovers.

mod support;

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use costline_core::config::{Config, LedgerSetting};
use costline_core::ledger::Ledger;
use costline_core::pipeline::Pipeline;
use support::{event, eventually, TestCollector};

const PATIENCE: Duration = Duration::from_secs(60);

fn with_collector(ledger: &Path, base_url: &str) -> Config {
    Config {
        ledger: LedgerSetting::Path(ledger.to_path_buf()),
        base_url: Some(base_url.to_string()),
        api_key: Some("test-key".into()),
        backoff: vec![Duration::from_millis(20)],
        queue_size: 20,
        batch_size: 5,
        ..Config::default()
    }
}

fn enqueue_all(pipeline: &Pipeline, n: usize) -> HashSet<String> {
    (0..n)
        .map(|_| {
            let e = event();
            let id = e.event_id.clone();
            assert!(pipeline.enqueue(e));
            id
        })
        .collect()
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

/// Run `body` as an unprivileged user: root ignores directory permissions.
/// A forked child when the tests run as root; `body`'s answer is its exit code.
fn as_unprivileged_user(body: impl FnOnce() -> bool) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return body();
    }
    // SAFETY: the child runs `body` and leaves with _exit, never returning into the harness.
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork failed");
    if child == 0 {
        const NOBODY: libc::uid_t = 65534;
        // SAFETY: dropping privileges in our own child process.
        let dropped = unsafe { libc::setgid(NOBODY) == 0 && libc::setuid(NOBODY) == 0 };
        let code = if dropped && body() { 0 } else { 1 };
        // SAFETY: leave at once, without the harness's handlers.
        unsafe { libc::_exit(code) };
    }
    support::wait_for_child(child) == 0
}

#[test]
fn a_read_only_directory_still_lets_events_reach_the_collector() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
    let path = locked.join("ledger.db");
    let collector = TestCollector::always(200);
    let config = with_collector(&path, &collector.base_url);

    let held_and_sent = as_unprivileged_user(move || {
        if std::fs::write(locked.join("probe"), b"").is_ok() {
            eprintln!("the directory is writable for this user");
            return false;
        }
        let pipeline = Pipeline::start(config).unwrap();
        enqueue_all(&pipeline, 4);
        let sent = eventually(PATIENCE, || pipeline.stats().exported == 4);
        let stats = pipeline.stats();
        let explained = stats.last_error.is_some_and(|e| e.contains("locked/ledger.db"));
        sent && explained && stats.written == 0 && !path.exists()
    });
    assert!(held_and_sent, "the events were not delivered while the ledger was unwritable");
    assert_eq!(collector.delivered_ids().len(), 4);
}
