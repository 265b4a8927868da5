//! A ledger in a read-only directory with a collector configured: events reach
//! the collector from memory. Root ignores directory permissions, so as root
//! the scenario runs in a forked child that becomes `nobody`. Its own test
//! binary, because it forks (no other test's thread may hold a lock at fork).

mod support;

use std::time::Duration;

use costline_core::pipeline::Pipeline;
use support::{event, eventually, TestCollector};

const PATIENCE: Duration = Duration::from_secs(60);

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
    let config = support::with_collector(&path, &collector.base_url, &[20]);

    let held_and_sent = as_unprivileged_user(move || {
        if std::fs::write(locked.join("probe"), b"").is_ok() {
            eprintln!("the directory is writable for this user");
            return false;
        }
        let pipeline = Pipeline::start(config).unwrap();
        (0..4).for_each(|_| assert!(pipeline.enqueue(event())));
        let sent = eventually(PATIENCE, || pipeline.stats().exported == 4);
        let stats = pipeline.stats();
        let explained = stats.last_error.is_some_and(|e| e.contains("locked/ledger.db"));
        sent && explained && stats.written == 0 && !path.exists()
    });
    assert!(held_and_sent, "the events were not delivered while the ledger was unwritable");
    assert_eq!(collector.delivered_ids().len(), 4);
}
