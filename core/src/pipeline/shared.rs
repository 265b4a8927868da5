//! State one pipeline's producers, writer thread and exporter thread share.
//! Only the background threads and `Pipeline::stop` take these locks; the
//! hot path (`Pipeline::offer`) touches atomics only.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use crate::config::Config;
use crate::event::Event;
use crate::ledger::{ExportOutcome, Ledger};
use crate::{Error, Result};

use super::fork::{self, ForkGate, ParkedLedger};
use super::Stats;

/// Process-wide counters, carried from one pipeline to the next when the
/// pipeline is reconfigured, so `stats()` covers the life of the process.
#[derive(Debug, Default)]
pub struct Counters {
    pub(crate) enqueued: AtomicU64,
    pub(crate) written: AtomicU64,
    pub(crate) exported: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) failed_batches: AtomicU64,
    /// A gauge, set by the exporter after each look at its outbox.
    pub(crate) pending_export: AtomicU64,
    /// Events the collector refused for good.
    pub(crate) rejected: AtomicU64,
    /// The latest failure of the ledger or the collector, for `status`.
    /// Written by the background threads only, never on the hot path.
    pub(crate) last_error: Mutex<Option<String>>,
}

impl Counters {
    pub fn snapshot(&self) -> Stats {
        Stats {
            enqueued: self.enqueued.load(Ordering::Relaxed),
            written: self.written.load(Ordering::Relaxed),
            exported: self.exported.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            failed_batches: self.failed_batches.load(Ordering::Relaxed),
            pending_export: self.pending_export.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            last_error: self.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }

    /// Remember `error` as the latest failure, with the time it happened.
    pub(crate) fn set_last_error(&self, error: impl std::fmt::Display) {
        let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(format!("{at} {error}"));
    }

    pub(crate) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// A `flush` waiting on the background threads. The waiter holds the other
/// end of `done`; completing a ticket whose waiter gave up is harmless.
pub(crate) struct FlushTicket {
    done: Sender<()>,
    pub deadline: Instant,
    /// Also wait for the collector's acknowledgement, not only the ledger write.
    pub through_export: bool,
}

impl FlushTicket {
    pub fn new(done: Sender<()>, deadline: Instant, through_export: bool) -> FlushTicket {
        FlushTicket { done, deadline, through_export }
    }

    pub fn complete(self) {
        let _ = self.done.try_send(());
    }

    pub fn expired(&self) -> bool {
        Instant::now() >= self.deadline
    }
}

pub(crate) struct Shared {
    pub config: Config,
    pub counters: Arc<Counters>,
    /// Set by `stop`: the threads finish what is queued and exit.
    pub stopping: AtomicBool,
    /// A warning about a full queue was logged; cleared once the queue drains,
    /// so each overload logs one warning, not one per dropped event.
    pub full_warned: AtomicBool,
    /// Events received but not yet stored (the ledger is failing, or they were
    /// carried over from a previous pipeline).
    pub backlog: Mutex<Held<VecDeque<Event>>>,
    /// With the ledger off and a collector set: events not yet acknowledged.
    pub memory_outbox: Mutex<Held<MemoryOutbox>>,
    /// Backlog events the collector already answered for while the ledger
    /// could not take them: stored as settled, not queued again, once it can.
    /// Locked after `backlog` when both are needed.
    pub settled_in_memory: Mutex<HashMap<String, ExportOutcome>>,
}

/// A store whose contents can be handed over to a successor pipeline. Once
/// handed over, anything put back is counted as dropped instead of kept where
/// nobody will look.
#[derive(Default)]
pub(crate) struct Held<T> {
    pub items: T,
    pub handed_over: bool,
}

impl Shared {
    pub fn new(config: Config, counters: Arc<Counters>) -> Shared {
        Shared {
            config,
            counters,
            stopping: AtomicBool::new(false),
            full_warned: AtomicBool::new(false),
            backlog: Mutex::new(Held::default()),
            memory_outbox: Mutex::new(Held::default()),
            settled_in_memory: Mutex::new(HashMap::new()),
        }
    }

    fn settled_in_memory(&self) -> MutexGuard<'_, HashMap<String, ExportOutcome>> {
        self.settled_in_memory.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Copies of the oldest backlog events (kept in memory while the ledger
    /// cannot take them) the collector has not answered for yet, so that a
    /// failing ledger does not hold up the collector.
    pub fn held_for_export(&self, limit: usize) -> Vec<Event> {
        let held = self.backlog();
        let settled = self.settled_in_memory();
        held.items.iter().filter(|e| !settled.contains_key(&e.event_id)).take(limit).cloned().collect()
    }

    /// The collector answered for backlog events: remember it until they are
    /// written (entries for events no longer held are pruned as it grows).
    pub fn settle_in_memory(&self, event_ids: Vec<String>, outcome: ExportOutcome) {
        let held = self.backlog();
        let mut settled = self.settled_in_memory();
        settled.extend(event_ids.into_iter().map(|id| (id, outcome)));
        if settled.len() > self.memory_bound() {
            let kept: HashSet<&str> = held.items.iter().map(|e| e.event_id.as_str()).collect();
            settled.retain(|id, _| kept.contains(id.as_str()));
        }
    }

    /// How the collector answered for each of `events` that it already has;
    /// these entries are forgotten (the caller is writing the events now).
    pub fn take_settled(&self, events: &[Event]) -> HashMap<String, ExportOutcome> {
        let mut settled = self.settled_in_memory();
        if settled.is_empty() {
            return HashMap::new();
        }
        events.iter().filter_map(|e| settled.remove_entry(&e.event_id)).collect()
    }

    /// Put back what `take_settled` returned when the write failed.
    pub fn restore_settled(&self, outcomes: HashMap<String, ExportOutcome>) {
        self.settled_in_memory().extend(outcomes);
    }

    pub fn backlog(&self) -> MutexGuard<'_, Held<VecDeque<Event>>> {
        self.backlog.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn memory_outbox(&self) -> MutexGuard<'_, Held<MemoryOutbox>> {
        self.memory_outbox.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// The most events kept in memory while the ledger or the collector is
    /// failing: the queue's size, and never less than one batch.
    pub fn memory_bound(&self) -> usize {
        self.config.queue_size.max(self.config.batch_size)
    }

    /// Append events to the backlog (newest last), up to the memory bound.
    /// Returns how many did not fit and were dropped.
    pub fn hold(&self, events: Vec<Event>) -> usize {
        let mut held = self.backlog();
        if held.handed_over {
            return self.count_dropped(events.len());
        }
        let room = self.memory_bound().saturating_sub(held.items.len());
        let overflow = events.len().saturating_sub(room);
        held.items.extend(events.into_iter().take(room));
        self.count_dropped(overflow)
    }

    /// Put events that could not be written back at the front of the backlog
    /// (they are older than anything received since).
    pub fn hold_again(&self, events: Vec<Event>) -> usize {
        let mut held = self.backlog();
        if held.handed_over {
            return self.count_dropped(events.len());
        }
        for event in events.into_iter().rev() {
            held.items.push_front(event);
        }
        let overflow = held.items.len().saturating_sub(self.memory_bound());
        held.items.truncate(self.memory_bound());
        self.count_dropped(overflow)
    }

    pub fn take_backlog(&self) -> Vec<Event> {
        self.backlog().items.drain(..).collect()
    }

    pub fn backlog_is_empty(&self) -> bool {
        self.backlog().items.is_empty()
    }

    /// Everything this pipeline still holds in memory, for a successor. From
    /// here on the stores refuse new items (counted as dropped).
    pub fn hand_over(&self) -> Leftovers {
        let mut events: Vec<Event> = {
            let mut outbox = self.memory_outbox();
            outbox.handed_over = true;
            outbox.items.take_all()
        };
        let mut backlog = self.backlog();
        backlog.handed_over = true;
        events.extend(backlog.items.drain(..));
        drop(backlog);
        let settled = self.take_settled(&events);
        Leftovers { events, settled }
    }

    pub fn count_dropped(&self, n: usize) -> usize {
        if n > 0 {
            Counters::add(&self.counters.dropped, n);
        }
        n
    }
}

/// What a stopped pipeline still held in memory, for its successor.
#[derive(Default)]
pub(crate) struct Leftovers {
    pub events: Vec<Event>,
    /// How the collector answered for some of them (sent while the ledger failed).
    pub settled: HashMap<String, ExportOutcome>,
}

impl Leftovers {
    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

/// Unacknowledged events when there is no ledger to keep them in. Each gets a
/// position so a flush can wait for "everything up to here".
#[derive(Default)]
pub(crate) struct MemoryOutbox {
    items: VecDeque<(i64, Event)>,
    last_seq: i64,
}

impl MemoryOutbox {
    /// Add events up to `capacity`; returns how many did not fit.
    pub fn push(&mut self, events: Vec<Event>, capacity: usize) -> usize {
        let room = capacity.saturating_sub(self.items.len());
        let overflow = events.len().saturating_sub(room);
        for event in events.into_iter().take(room) {
            self.last_seq += 1;
            self.items.push_back((self.last_seq, event));
        }
        overflow
    }

    pub fn last_seq(&self) -> Option<i64> {
        (self.last_seq > 0).then_some(self.last_seq)
    }

    /// Copies of the oldest `limit` events; they stay until acknowledged.
    pub fn peek(&self, limit: usize) -> Vec<(i64, Event)> {
        self.items.iter().take(limit).cloned().collect()
    }

    /// Drop the acknowledged (or rejected) events; `seqs` is ascending, as `peek` returned it.
    pub fn remove(&mut self, seqs: &[i64]) {
        self.items.retain(|(seq, _)| seqs.binary_search(seq).is_err());
    }

    pub fn settled_through(&self, seq: i64) -> bool {
        match self.items.front() {
            Some((oldest, _)) => *oldest > seq,
            None => true,
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    fn take_all(&mut self) -> Vec<Event> {
        self.items.drain(..).map(|(_, event)| event).collect()
    }
}

/// Why a thread could not use its ledger connection just now.
#[derive(Debug)]
pub(crate) enum Unavailable {
    /// `before_fork` closed the connections and the fork is not over: keep
    /// events in memory, try again shortly. Not a failure.
    PausedForFork,
    /// Opening the ledger or the operation failed.
    Failed(Error),
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unavailable::PausedForFork => f.write_str("paused for fork"),
            Unavailable::Failed(e) => e.fmt(f),
        }
    }
}

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
            "costline: ledger {}: its WAL was deleted under costline's connection, by another SQLite library \
             in this process (such as Python's sqlite3) closing its own connection to the ledger; costline \
             reopened the ledger and wrote again. Read the ledger in-process with costline.report() or \
             costline.events(), which use costline's own connection.",
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
                if let Some(open) = self.gate.remember(ledger.files()) {
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
    use crate::event::{CostSource, Sdk, Status, UsageSource};
    use crate::ledger::files::sibling;

    fn event(n: usize) -> Event {
        Event {
            event_id: format!("evt-{n:06}"),
            timestamp: "2026-01-02T03:04:05.000Z".into(),
            provider: "openai".into(),
            operation: "chat".into(),
            model: "gpt-4o".into(),
            resolved_model: None,
            input_tokens: 10,
            output_tokens: 5,
            cached_input_tokens: 0,
            cache_write_input_tokens: 0,
            reasoning_tokens: 0,
            usage_source: UsageSource::Provider,
            cost_usd: None,
            cost_source: CostSource::Unknown,
            catalog_version: "test".into(),
            price_key: None,
            latency_ms: 1,
            stream: false,
            status: Status::Ok,
            error_type: None,
            run_id: None,
            agent: None,
            agent_path: vec![],
            tags: Default::default(),
            sdk: Sdk { lang: "python".into(), version: "0".into() },
        }
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
}
