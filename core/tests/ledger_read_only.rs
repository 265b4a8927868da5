//! A ledger in a directory the process may not write to: events wait in memory
//! and reach the ledger once the directory becomes writable. Root ignores
//! directory permissions, so as root the scenario runs in a forked child that
//! becomes `nobody` first: the test runs for real whoever runs it. Its own test
//! binary, because it forks (no other test's thread may hold a lock at fork).

mod support;

use std::os::unix::fs::{chown, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use costline_core::config::{Config, LedgerSetting};
use costline_core::ledger::Ledger;
use costline_core::pipeline::Pipeline;
use support::{event, wait_for_child};

const PATIENCE: Duration = Duration::from_secs(60);
const NOBODY: u32 = 65534;

/// Exit codes of the scenario, so that a failure in the child says which step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Passed = 0,
    Panicked = 1,
    DirectoryWritable = 2,
    FlushedWhileLocked = 3,
    CouldNotUnlock = 4,
    NotFlushedAfterUnlock = 5,
    WrongRowCount = 6,
}

fn scenario(locked: &Path) -> Outcome {
    if std::fs::write(locked.join("probe"), b"").is_ok() {
        return Outcome::DirectoryWritable;
    }
    let path = locked.join("ledger.db");
    let pipeline =
        Pipeline::start(Config { ledger: LedgerSetting::Path(path.clone()), ..Config::default() }).unwrap();
    for _ in 0..4 {
        assert!(pipeline.enqueue(event()));
    }
    if pipeline.flush(Duration::from_millis(500)) {
        return Outcome::FlushedWhileLocked;
    }
    if std::fs::set_permissions(locked, std::fs::Permissions::from_mode(0o755)).is_err() {
        return Outcome::CouldNotUnlock;
    }
    if !pipeline.flush(PATIENCE) {
        return Outcome::NotFlushedAfterUnlock;
    }
    if Ledger::open(&path).unwrap().count_events().unwrap() != 4 {
        return Outcome::WrongRowCount;
    }
    Outcome::Passed
}

#[test]
fn read_only_directory_keeps_events_until_it_becomes_writable() {
    let dir = tempfile::tempdir().unwrap();
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();

    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert_eq!(scenario(&locked), Outcome::Passed);
        return;
    }
    // As root: `nobody` owns the locked directory (so it can unlock it later) and
    // may pass through the temporary directory above it.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    chown(&locked, Some(NOBODY), Some(NOBODY)).unwrap();
    // SAFETY: the child runs the scenario and leaves with _exit, never returning
    // into the test harness; this binary has no other test thread at fork.
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork failed");
    if child == 0 {
        // SAFETY: dropping privileges in the child; group first, while still root.
        let dropped = unsafe { libc::setgid(NOBODY) == 0 && libc::setuid(NOBODY) == 0 };
        let outcome = if dropped {
            std::panic::catch_unwind(|| scenario(&locked)).unwrap_or(Outcome::Panicked)
        } else {
            Outcome::Panicked
        };
        // SAFETY: leave the child at once, without the parent's atexit handlers.
        unsafe { libc::_exit(outcome as i32) };
    }
    let code = wait_for_child(child);
    assert_eq!(code, Outcome::Passed as i32, "the scenario failed in the child as nobody (see Outcome)");
}
