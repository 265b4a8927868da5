//! State one pipeline's producers, writer thread and exporter thread share.
//! Only the background threads and `Pipeline::stop` take these locks; the
//! hot path (`Pipeline::offer`) touches atomics only.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crossbeam_channel::Sender;

use crate::config::Config;
use crate::event::Event;
use crate::ledger::ExportOutcome;
use crate::Error;

use super::Stats;

pub(crate) use super::connection::LazyLedger;

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

    /// How the collector answered for each of `events` that it already has.
    /// The answers stay until the events leave the backlog (`forget_held`): were
    /// they dropped here, the exporter would find the events held and unanswered
    /// while the writer stores them, and send them a second time.
    pub fn settled_for(&self, events: &[Event]) -> HashMap<String, ExportOutcome> {
        let settled = self.settled_in_memory();
        if settled.is_empty() {
            return HashMap::new();
        }
        events
            .iter()
            .filter_map(|e| settled.get_key_value(&e.event_id))
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    /// Answers a previous pipeline had for the events it hands over.
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

    /// Copies of the held events, oldest first, for a write attempt; they
    /// stay held until `forget_held` (a stop meanwhile hands them over).
    pub fn backlog_copy(&self) -> Vec<Event> {
        self.backlog().items.iter().cloned().collect()
    }

    /// The oldest `n` held events were written.
    /// The oldest `n` held events were written: drop them, and the collector's
    /// answers for them (backlog locked before settled, as everywhere).
    pub fn forget_held(&self, n: usize) {
        let mut held = self.backlog();
        let n = n.min(held.items.len());
        let mut settled = self.settled_in_memory();
        for event in held.items.drain(..n) {
            if !settled.is_empty() {
                settled.remove(&event.event_id);
            }
        }
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
        let settled = std::mem::take(&mut *self.settled_in_memory());
        drop(backlog);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::writer::tests::event;

    fn shared() -> Shared {
        Shared::new(Config::default(), Arc::new(Counters::default()))
    }

    /// The race behind a duplicate POST: the writer reads the collector's answers for
    /// held events to store them, and the exporter looks for held events to send
    /// before the writer has dropped them from the backlog.
    #[test]
    fn held_events_the_collector_has_are_not_offered_again_while_being_written() {
        let shared = shared();
        shared.hold((0..3).map(event).collect());
        let ids: Vec<String> = shared.held_for_export(10).into_iter().map(|e| e.event_id).collect();
        assert_eq!(ids.len(), 3);
        shared.settle_in_memory(ids, ExportOutcome::Exported);

        let writing = shared.backlog_copy();
        let outcomes = shared.settled_for(&writing);
        assert_eq!(outcomes.len(), 3, "the writer stores them as exported");
        assert!(shared.held_for_export(10).is_empty(), "nothing is sent a second time mid-write");

        shared.forget_held(writing.len());
        assert!(shared.backlog_is_empty());
        assert!(shared.settled_in_memory().is_empty(), "answers are forgotten with the events they were for");
    }

    #[test]
    fn answers_stay_when_the_write_fails() {
        let shared = shared();
        shared.hold((0..2).map(event).collect());
        shared.settle_in_memory(vec![event(0).event_id], ExportOutcome::Exported);
        let writing = shared.backlog_copy();
        assert_eq!(shared.settled_for(&writing).len(), 1);
        // No forget_held: the write failed, the events stay held with their answer.
        assert_eq!(shared.held_for_export(10).len(), 1, "only the unanswered one is sent");
        assert_eq!(shared.settled_for(&writing).len(), 1);
    }
}
