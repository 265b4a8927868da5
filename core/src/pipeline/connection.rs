//! A background thread's own ledger connection: opened on first use, kept
//! between operations (parked where a fork can close it, see `fork`), and
//! checked before and after each operation against the files on disk (see
//! `ledger::files`): when another SQLite library in the process deleted them
//! under it, every connection of the process is closed and the operation
//! runs again on a fresh one. While any is open, the process also holds the
//! locks of `ledger::files::Sentinel` (Linux), which keep that library from
//! deleting them in the first place (counted in `fork::ForkGate::remember`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::ledger::Ledger;
use crate::{Error, Result};

use super::fork::{self, ForkGate, ParkedLedger};
use super::shared::Unavailable;

/// How many times one operation is tried when the ledger's files are found
/// replaced; more means something keeps replacing them.
const REPLACED_ATTEMPTS: usize = 3;

/// How long closing every connection waits for operations in progress.
const RECYCLE_WAIT: Duration = Duration::from_secs(5);

static REPLACED_WARNED: AtomicBool = AtomicBool::new(false);

/// Said once per process: it is the host app's doing, and it has a fix.
fn warn_replaced(path: &Path) {
    if !REPLACED_WARNED.swap(true, Ordering::Relaxed) {
        log::warn!(
            "costline: ledger {}: its WAL was deleted under costline's connection, most likely by another \
             SQLite library in this process (such as Python's sqlite3) closing its own connection to the \
             ledger; costline reopened the ledger and wrote again. Read the ledger in-process with \
             costline.report() or costline.events(), which use costline's own connection.",
            path.display()
        );
    }
}

/// A thread's own ledger connection, opened on first use and kept between
/// operations, except across a fork: it waits in a place the fork gate can
/// close it from (see `fork`). A failed open (unwritable path) is retried on
/// the next use.
pub(crate) struct LazyLedger {
    path: PathBuf,
    gate: Arc<ForkGate>,
    parked: Arc<ParkedLedger>,
}

impl LazyLedger {
    pub fn new(path: PathBuf) -> LazyLedger {
        LazyLedger::with_gate(path, fork::gate())
    }

    pub fn with_gate(path: PathBuf, gate: Arc<ForkGate>) -> LazyLedger {
        let parked = gate.register();
        LazyLedger { path, gate, parked }
    }

    #[cfg(test)]
    pub fn opened(ledger: Ledger) -> LazyLedger {
        let lazy = LazyLedger::new(ledger.path().to_path_buf());
        *fork::lock(&lazy.parked) = Some(ledger);
        lazy
    }

    /// Run one operation on the connection, opening it first when needed.
    ///
    /// The connection is checked before and after the operation: if the
    /// ledger's files were replaced under it (another SQLite library in the
    /// process deleted the WAL, see `ledger::files`), every connection of the
    /// process is closed, a new one opened, and the operation run again.
    /// Operations must therefore be repeatable: inserts are idempotent on
    /// `event_id`, claims and settlements on outbox positions.
    pub fn with<T>(
        &mut self,
        mut op: impl FnMut(&mut Ledger) -> Result<T>,
    ) -> std::result::Result<T, Unavailable> {
        for _ in 0..REPLACED_ATTEMPTS {
            if let Some(result) = self.attempt(&mut op)? {
                return result.map_err(Unavailable::Failed);
            }
            warn_replaced(&self.path);
            if !self.gate.recycle(RECYCLE_WAIT) {
                break;
            }
        }
        Err(Unavailable::Failed(Error::Ledger {
            path: self.path.display().to_string(),
            message: "its files keep being replaced under costline's connection (another SQLite library in \
                      this process closing its own connection to the ledger); retrying later"
                .into(),
        }))
    }

    /// One try of `with`: `Ok(None)` when the connection turned out to work on
    /// replaced files (dropped here, without a checkpoint).
    fn attempt<T>(
        &mut self,
        op: &mut impl FnMut(&mut Ledger) -> Result<T>,
    ) -> std::result::Result<Option<Result<T>>, Unavailable> {
        // Dropped last: the connection counts as in use until it is parked or closed.
        let _in_use = self.gate.enter().ok_or(Unavailable::PausedForFork)?;
        let parked = fork::lock(&self.parked).take();
        let mut ledger = match parked {
            Some(ledger) if !ledger.files_replaced() => ledger,
            Some(_replaced) => return Ok(None),
            None => {
                if self.gate.others_work_on_replaced_files(&self.path) {
                    return Ok(None);
                }
                let mut ledger = Ledger::open(&self.path).map_err(Unavailable::Failed)?;
                if let Some(open) = self.gate.remember(&self.path, ledger.files()) {
                    ledger.keep_until_closed(Box::new(open));
                }
                ledger
            }
        };
        let result = op(&mut ledger);
        // Replaced during the operation: what it wrote went to a WAL nobody
        // will read. Do it again on a new connection.
        if ledger.files_replaced() {
            return Ok(None);
        }
        // The files are ours: checkpoint here, never inside a commit (see `Ledger::open`).
        if let Err(e) = ledger.checkpoint_if_due() {
            log::debug!("costline: checkpoint skipped: {e}");
        }
        // A pause began during the operation: close the connection here (the
        // pause counts it in use until then) rather than park it across the fork.
        if !self.gate.paused() {
            *fork::lock(&self.parked) = Some(ledger);
        }
        Ok(Some(result))
    }

    /// Like `with`, but first wait (until `deadline`) for a pause for fork to
    /// end: for work that cannot simply be retried later.
    pub fn with_after_pause<T>(
        &mut self,
        deadline: Instant,
        op: impl FnMut(&mut Ledger) -> Result<T>,
    ) -> std::result::Result<T, Unavailable> {
        self.gate.wait_until_resumed(deadline);
        self.with(op)
    }

    pub fn paused_for_fork(&self) -> bool {
        self.gate.paused()
    }

    /// Wait (until `deadline`) for a pause to end. True if not paused.
    pub fn wait_until_resumed(&self, deadline: Instant) -> bool {
        self.gate.wait_until_resumed(deadline)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Registered with `gate` (a child after fork has a new gate).
    pub fn uses_gate(&self, gate: &Arc<ForkGate>) -> bool {
        Arc::ptr_eq(&self.gate, gate)
    }

    #[cfg(test)]
    pub fn is_parked(&self) -> bool {
        fork::lock(&self.parked).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::ledger::files::sibling;

    fn event(n: usize) -> Event {
        crate::event::test_event(n)
    }

    /// What another SQLite library's last connection does as it closes: it
    /// checkpoints (done here through ours: same effect on the files) and
    /// unlinks the WAL and the shared-memory file.
    fn foreign_close(path: &Path) {
        Ledger::open(path).unwrap().checkpoint().unwrap();
        std::fs::remove_file(sibling(path, "-wal")).unwrap();
        std::fs::remove_file(sibling(path, "-shm")).unwrap();
    }

    /// The events another process finds at `path`: a copy of the files there
    /// now, opened fresh (a connection of this process to the same files
    /// would share its state with ours).
    fn seen_from_outside(path: &Path) -> u64 {
        let elsewhere = tempfile::tempdir().unwrap();
        let copy = elsewhere.path().join("copy.db");
        std::fs::copy(path, &copy).unwrap();
        if sibling(path, "-wal").exists() {
            std::fs::copy(sibling(path, "-wal"), sibling(&copy, "-wal")).unwrap();
        }
        Ledger::open(&copy).unwrap().count_events().unwrap()
    }

    fn lazy_ledger(dir: &tempfile::TempDir, gate: &Arc<ForkGate>) -> LazyLedger {
        LazyLedger::with_gate(dir.path().join("ledger.db"), Arc::clone(gate))
    }

    #[test]
    fn a_write_after_the_wal_was_deleted_under_the_connection_reaches_the_files_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let gate = Arc::new(ForkGate::default());
        let mut ledger = lazy_ledger(&dir, &gate);
        ledger.with(|l| l.insert(&[event(1)], false)).unwrap();
        foreign_close(&dir.path().join("ledger.db"));

        ledger.with(|l| l.insert(&[event(2)], false)).unwrap();
        assert_eq!(seen_from_outside(&dir.path().join("ledger.db")), 2);
    }

    #[test]
    fn a_write_whose_wal_was_deleted_during_it_is_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let gate = Arc::new(ForkGate::default());
        let mut ledger = lazy_ledger(&dir, &gate);
        ledger.with(|l| l.insert(&[event(1)], false)).unwrap();

        let mut runs = 0;
        let inserted = ledger
            .with(|l| {
                runs += 1;
                let inserted = l.insert(&[event(2), event(3)], false)?;
                if runs == 1 {
                    // The app's connection closes right after our commit, before
                    // the checkpoint reached it: the commit is in the unlinked WAL only.
                    std::fs::remove_file(sibling(l.path(), "-wal")).unwrap();
                    std::fs::remove_file(sibling(l.path(), "-shm")).unwrap();
                }
                Ok(inserted)
            })
            .unwrap();
        assert_eq!(runs, 2, "the batch was written again through a new connection");
        assert_eq!(inserted, 2);
        let path = dir.path().join("ledger.db");
        assert_eq!(seen_from_outside(&path), 2, "event 1 was lost with the WAL (never checkpointed)");
    }

    #[test]
    fn a_new_connection_waits_until_every_connection_on_replaced_files_is_closed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.db");
        let gate = Arc::new(ForkGate::default());
        let mut reader = lazy_ledger(&dir, &gate);
        reader.with(|l| l.insert(&[event(1)], false)).unwrap();
        foreign_close(&path);
        assert!(reader.is_parked(), "the reader's connection is still open, on the replaced files");

        // A thread's first connection (the exporter starting, a read from the app).
        let mut writer = lazy_ledger(&dir, &gate);
        writer.with(|l| l.insert(&[event(2)], false)).unwrap();
        // Closed before the writer's connection opened: SQLite would have
        // paired that with the reader's mapping of the deleted shared-memory file.
        assert!(!reader.is_parked(), "the stale connection was closed first");
        assert_eq!(reader.with(|l| l.count_events()).unwrap(), 2);
        assert_eq!(seen_from_outside(&path), 2);
    }

    /// A ledger file deleted and created anew can reuse the old one's inode:
    /// connections long closed must not make it look replaced (closing every
    /// connection of the process for nothing).
    #[test]
    fn a_database_is_forgotten_once_its_last_connection_closes() {
        let dir = tempfile::tempdir().unwrap();
        let gate = Arc::new(ForkGate::default());
        let mut first = lazy_ledger(&dir, &gate);
        let mut second = lazy_ledger(&dir, &gate);
        first.with(|l| l.count_events()).unwrap();
        second.with(|l| l.count_events()).unwrap();
        assert_eq!(gate.databases_open(), 1);
        drop(first);
        assert_eq!(gate.databases_open(), 1, "the second connection is still open");
        assert!(gate.pause(Duration::from_secs(2)));
        gate.resume();
        assert_eq!(gate.databases_open(), 0);
        second.with(|l| l.count_events()).unwrap();
        drop(second);
        assert_eq!(gate.databases_open(), 0);
    }

    #[test]
    fn checked_connections_checkpoint_and_keep_the_wal_small() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.db");
        let gate = Arc::new(ForkGate::default());
        let mut ledger = lazy_ledger(&dir, &gate);
        let wide = |n: usize| Event { tags: [("pad".to_string(), "x".repeat(1000))].into(), ..event(n) };
        for batch in 0..40 {
            let events: Vec<Event> = (0..250).map(|i| wide(batch * 250 + i)).collect();
            ledger.with(|l| l.insert(&events, false)).unwrap();
        }
        let wal = std::fs::metadata(sibling(&path, "-wal")).unwrap().len();
        assert!(wal < 8 * 1024 * 1024, "the WAL grew to {wal} bytes");
        // Most events are in the database file itself, not only in the WAL.
        let copy = dir.path().join("copy.db");
        std::fs::copy(&path, &copy).unwrap();
        assert!(Ledger::open(&copy).unwrap().count_events().unwrap() >= 5000);
    }

    /// What another SQLite library in the process tries as its last connection
    /// closes (to checkpoint and delete the WAL) or its first one opens (to
    /// rebuild the shared memory): a POSIX write lock, which never conflicts
    /// with the process's own POSIX locks.
    #[cfg(target_os = "linux")]
    fn foreign_exclusive_lock(path: &Path, start: i64, len: i64) -> bool {
        let file = std::fs::OpenOptions::new().read(true).write(true).open(path).unwrap();
        crate::ledger::files::byte_range_lock(&file, libc::F_SETLK, libc::F_WRLCK, start, len)
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn another_library_in_the_process_cannot_take_the_ledger_for_itself_while_costline_uses_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.db");
        let gate = Arc::new(ForkGate::default());
        let mut ledger = lazy_ledger(&dir, &gate);
        ledger.with(|l| l.insert(&[event(1)], false)).unwrap();
        let (shared_range, dead_man_switch) = ((0x4000_0000 + 2, 510), ((22 + 8) * 4 + 8, 1));
        assert!(
            !foreign_exclusive_lock(&path, shared_range.0, shared_range.1),
            "its close would delete the WAL"
        );
        let shm = sibling(&path, "-shm");
        assert!(
            !foreign_exclusive_lock(&shm, dead_man_switch.0, dead_man_switch.1),
            "its open would rebuild the index"
        );

        drop(ledger);
        assert_eq!(gate.databases_open(), 0);
        assert!(
            foreign_exclusive_lock(&path, shared_range.0, shared_range.1),
            "released with the last connection"
        );
    }
}
