//! Fork safety for the pipeline's SQLite connections.
//!
//! SQLite must not carry an open connection across `fork()`: its unix VFS
//! keeps process-wide lock bookkeeping per database file (and per WAL shared
//! memory file). A child inherits that bookkeeping from the parent's open
//! connections but not the kernel's fcntl locks behind it, so the child's own
//! connection to the same file can see "database is locked" forever.
//!
//! So every background thread keeps its connection in a [`ParkedLedger`]
//! registered with the process's [`ForkGate`], and takes it out only for the
//! length of one ledger operation. `before_fork` pauses the gate, waits until
//! no thread is inside an operation (bounded), then closes every parked
//! connection itself. A thread busy elsewhere (the exporter waiting on the
//! collector) therefore does not delay the fork. While paused, threads open no
//! connection and keep their events in memory; `after_fork_parent` ends the
//! pause and they reopen the ledger on their next batch. A child replaces the
//! gate with a fresh one (`reset_in_child`): nothing paused or locked by the
//! parent's threads, which do not exist there, carries over.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use once_cell::sync::Lazy;

use crate::ledger::files::Sentinel;
use crate::ledger::{FileId, Ledger, LedgerFiles};

/// How often a thread holding events (or a flush) looks whether a pause for
/// fork has ended. A pause lasts as long as a `fork()`: milliseconds.
pub(crate) const PAUSE_POLL: Duration = Duration::from_millis(10);

/// A thread's ledger connection between two operations; `None` when closed.
pub(crate) type ParkedLedger = Mutex<Option<Ledger>>;

/// The process's gate. Behind an atomic pointer so a child can replace it
/// without touching the parent's (possibly locked, forever) state.
static GATE: Lazy<ArcSwap<ForkGate>> = Lazy::new(|| ArcSwap::from_pointee(ForkGate::default()));

/// Set once a `before_fork` gave up waiting, so the warning is logged once per process.
static SLOW_RELEASE_WARNED: AtomicBool = AtomicBool::new(false);

pub(crate) fn gate() -> Arc<ForkGate> {
    GATE.load_full()
}

/// In a child right after fork: a fresh gate, not paused, with no connections.
/// The old one is leaked, never dropped: it may hold the parent's connections,
/// and closing those in the child would touch the parent's locks.
pub(crate) fn reset_in_child() {
    std::mem::forget(GATE.swap(Arc::new(ForkGate::default())));
}

#[derive(Default)]
pub(crate) struct ForkGate {
    /// `pause` calls not yet matched by `resume` (two threads may fork at once).
    pauses: AtomicUsize,
    /// Threads inside a ledger operation right now, connection taken out.
    in_use: AtomicUsize,
    /// Every thread's parking place, so `pause` can close what they hold.
    /// Locked only by `pause` and by threads registering at their start.
    parked: Mutex<Vec<Weak<ParkedLedger>>>,
    /// Per database (by its file's identity): the WAL and shared-memory files
    /// the process's connections opened. SQLite shares one mapping of the
    /// shared-memory file between all connections of the process to a
    /// database, so a connection opened while others still hold a replaced
    /// one would pair that stale mapping with the new WAL. See `recycle`.
    /// Each with the number of connections open on it, and the locks that
    /// keep another SQLite library in the process from deleting its files
    /// while they are (see `ledger::files::Sentinel`).
    known: Mutex<HashMap<FileId, Known>>,
}

struct Known {
    files: LedgerFiles,
    open: usize,
    _sentinel: Option<Sentinel>,
}

/// One open connection, counted in `ForkGate::known` until dropped.
pub(crate) struct OpenConnection {
    gate: Arc<ForkGate>,
    db: FileId,
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        let mut known = lock(&self.gate.known);
        if let Some(entry) = known.get_mut(&self.db) {
            entry.open = entry.open.saturating_sub(1);
            if entry.open == 0 {
                known.remove(&self.db);
            }
        }
    }
}

/// Proof that the gate was open when a ledger operation began; the operation
/// counts as in use until this is dropped.
pub(crate) struct InUse<'a>(&'a ForkGate);

impl Drop for InUse<'_> {
    fn drop(&mut self) {
        self.0.in_use.fetch_sub(1, Ordering::SeqCst);
    }
}

impl ForkGate {
    pub fn paused(&self) -> bool {
        self.pauses.load(Ordering::SeqCst) > 0
    }

    /// A parking place for one thread's connection, known to `pause`.
    pub fn register(&self) -> Arc<ParkedLedger> {
        let place = Arc::new(Mutex::new(None));
        let mut places = lock(&self.parked);
        places.retain(|p| p.strong_count() > 0);
        places.push(Arc::downgrade(&place));
        place
    }

    /// Enter a ledger operation; `None` while paused for fork. The counter is
    /// raised before the pause is read and `pause` raises the pause before it
    /// reads the counter (both sequentially consistent), so either the thread
    /// sees the pause or `pause` waits for the thread.
    pub fn enter(&self) -> Option<InUse<'_>> {
        self.in_use.fetch_add(1, Ordering::SeqCst);
        let entered = InUse(self);
        (!self.paused()).then_some(entered)
    }

    /// Wait for the operations in progress (at most `patience`), then close
    /// every parked connection. Returns false when some thread still had its
    /// connection out at the deadline (it closes it itself when done).
    pub fn pause(&self, patience: Duration) -> bool {
        self.pauses.fetch_add(1, Ordering::SeqCst);
        let deadline = Instant::now() + patience;
        let released = loop {
            if self.in_use.load(Ordering::SeqCst) == 0 {
                break true;
            }
            if Instant::now() >= deadline {
                break false;
            }
            thread::sleep(Duration::from_millis(1));
        };
        let closing: Vec<Ledger> = {
            let mut places = lock(&self.parked);
            places.retain(|p| p.strong_count() > 0);
            places.iter().filter_map(Weak::upgrade).filter_map(|place| lock(&place).take()).collect()
        };
        drop(closing);
        released
    }

    /// Close every connection of the process (waiting at most `patience` for
    /// those in use), so that the next ones start on the files the paths name
    /// now: for files replaced under the process (`ledger::files`). Threads
    /// asking for their connection meanwhile are told to wait, as for a fork.
    /// False when a connection was still in use at the deadline: opening a
    /// new one now is not safe.
    pub fn recycle(&self, patience: Duration) -> bool {
        let released = self.pause(patience);
        self.resume();
        released
    }

    /// Before opening a connection to the ledger at `path`: true when the
    /// process has connections to it open that work on other files than the
    /// ones on disk now; they must be recycled first.
    pub fn others_work_on_replaced_files(&self, path: &Path) -> bool {
        let on_disk = LedgerFiles::on_disk(path);
        let Some(db) = on_disk.db else { return false };
        lock(&self.known).get(&db).is_some_and(|known| known.files != on_disk)
    }

    /// A connection was opened on `files`; it counts as open on them until
    /// the returned value is dropped (keep it with the connection).
    pub fn remember(self: &Arc<Self>, path: &Path, files: LedgerFiles) -> Option<OpenConnection> {
        let db = files.db?;
        let mut known = lock(&self.known);
        let entry =
            known.entry(db).or_insert_with(|| Known { files, open: 0, _sentinel: Sentinel::hold(path) });
        entry.files = files;
        entry.open += 1;
        Some(OpenConnection { gate: Arc::clone(self), db })
    }

    /// Databases with connections open, as `known` counts them.
    #[cfg(test)]
    pub fn databases_open(&self) -> usize {
        lock(&self.known).len()
    }

    /// End one pause; extra calls are harmless.
    pub fn resume(&self) {
        let _ = self.pauses.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    }

    /// Wait (at most until `deadline`) for a pause to end. True if not paused.
    pub fn wait_until_resumed(&self, deadline: Instant) -> bool {
        while self.paused() {
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(PAUSE_POLL);
        }
        true
    }
}

/// `before_fork` for the process's gate.
pub(crate) fn pause_process(patience: Duration) {
    if !gate().pause(patience) && !SLOW_RELEASE_WARNED.swap(true, Ordering::Relaxed) {
        log::warn!(
            "costline: before fork, a ledger write did not finish within {:.1}s; forking anyway \
             (a child process may find the ledger locked)",
            patience.as_secs_f64()
        );
    }
}

/// A poisoned lock here only means a thread panicked while moving a
/// connection in or out; the `Option` inside is still sound.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::shared::{LazyLedger, Unavailable};
    use std::sync::mpsc;

    fn ledger_in(dir: &tempfile::TempDir, gate: &Arc<ForkGate>) -> LazyLedger {
        LazyLedger::with_gate(dir.path().join("ledger.db"), Arc::clone(gate))
    }

    #[test]
    fn pause_closes_parked_connections_and_blocks_reopening_until_resume() {
        let dir = tempfile::tempdir().unwrap();
        let gate = Arc::new(ForkGate::default());
        let mut ledger = ledger_in(&dir, &gate);
        ledger.with(|l| l.count_events()).unwrap();
        assert!(ledger.is_parked());

        assert!(gate.pause(Duration::from_secs(2)));
        assert!(!ledger.is_parked(), "the connection was closed");
        assert!(matches!(ledger.with(|l| l.count_events()), Err(Unavailable::PausedForFork)));
        assert!(!ledger.is_parked(), "nothing reopened while paused");

        gate.resume();
        assert_eq!(ledger.with(|l| l.count_events()).ok(), Some(0));
        assert!(ledger.is_parked());
    }

    #[test]
    fn pause_waits_for_the_operation_in_progress_then_closes_its_connection() {
        let dir = tempfile::tempdir().unwrap();
        let gate = Arc::new(ForkGate::default());
        let mut ledger = ledger_in(&dir, &gate);
        let (started, wait_started) = mpsc::channel();
        let worker = thread::spawn(move || {
            let result = ledger.with(|l| {
                started.send(()).unwrap();
                thread::sleep(Duration::from_millis(300));
                l.count_events()
            });
            (result.is_ok(), ledger)
        });
        wait_started.recv().unwrap();
        let began = Instant::now();
        assert!(gate.pause(Duration::from_secs(2)));
        assert!(began.elapsed() >= Duration::from_millis(200));
        let (finished, ledger) = worker.join().unwrap();
        assert!(finished, "the operation in progress completed");
        assert!(!ledger.is_parked(), "and its connection is closed");
    }

    #[test]
    fn pause_gives_up_at_its_deadline_and_the_late_thread_closes_its_own_connection() {
        let dir = tempfile::tempdir().unwrap();
        let gate = Arc::new(ForkGate::default());
        let mut ledger = ledger_in(&dir, &gate);
        let (started, wait_started) = mpsc::channel();
        let worker = thread::spawn(move || {
            let _ = ledger.with(|l| {
                started.send(()).unwrap();
                thread::sleep(Duration::from_millis(800));
                l.count_events()
            });
            ledger
        });
        wait_started.recv().unwrap();
        let began = Instant::now();
        assert!(!gate.pause(Duration::from_millis(100)));
        assert!(began.elapsed() < Duration::from_millis(600));
        let ledger = worker.join().unwrap();
        assert!(!ledger.is_parked(), "not parked again while paused");
    }

    #[test]
    fn nested_pauses_need_as_many_resumes_and_extra_resumes_are_harmless() {
        let gate = ForkGate::default();
        assert!(gate.pause(Duration::from_secs(1)));
        assert!(gate.pause(Duration::from_secs(1)));
        gate.resume();
        assert!(gate.paused());
        gate.resume();
        assert!(!gate.paused());
        gate.resume();
        assert!(!gate.paused());
        assert!(gate.enter().is_some());
        assert_eq!(gate.in_use.load(Ordering::SeqCst), 0);
    }
}
