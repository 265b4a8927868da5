//! The writer thread: drains the queue in batches into the store (the ledger,
//! or the in-memory outbox when the ledger is off), keeps a batch it could not
//! write for retry, answers flush markers, and tells the exporter when there
//! is something new to send.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError};

use crate::event::Event;

use super::exporter::ExportSignal;
use super::fork::PAUSE_POLL;
use super::queue::Message;
use super::shared::{Counters, FlushTicket, LazyLedger, Shared, Unavailable};

/// How long the writer sleeps when idle before looking at the stop flag again.
/// Only a safety net: a stop sends a wake-up, and dropping the pipeline
/// disconnects the queue.
const IDLE_WAKE: Duration = Duration::from_secs(30);

/// How long an event may wait in the queue before the writer stores it
/// without being asked (a flush, a stop or a half-full queue asks at once).
const BATCH_INTERVAL: Duration = Duration::from_millis(100);

/// The longest an exiting writer waits for a pause to end to write what it holds.
const EXIT_PAUSE_WAIT: Duration = Duration::from_secs(2);

/// Waits between attempts to write to a failing ledger; the last repeats. A
/// flush retries at once regardless.
const RETRY_WAITS: [Duration; 4] =
    [Duration::from_millis(250), Duration::from_secs(1), Duration::from_secs(5), Duration::from_secs(15)];

pub(crate) fn run(
    queue: Receiver<Message>,
    doorbell: Receiver<()>,
    shared: Arc<Shared>,
    exporter: Option<Sender<ExportSignal>>,
    _done: Sender<()>,
) {
    let store = Store::for_config(&shared);
    let mut writer = Writer::new(shared, store, exporter);
    writer.run(&queue, &doorbell);
    writer.store.checkpoint();
}

/// Where received events go.
pub(crate) enum Store {
    Ledger {
        ledger: LazyLedger,
        for_export: bool,
    },
    /// Ledger off, collector set: keep events in memory until acknowledged.
    /// `overflowing`: events are being dropped for lack of room (warned once).
    Memory {
        overflowing: bool,
    },
    /// Ledger off, no collector: nothing to keep.
    Discard,
}

impl Store {
    fn for_config(shared: &Shared) -> Store {
        let for_export = shared.config.base_url.is_some();
        match shared.config.ledger.path() {
            Some(path) => Store::Ledger { ledger: LazyLedger::new(path), for_export },
            None if for_export => Store::Memory { overflowing: false },
            None => Store::Discard,
        }
    }

    /// Move the WAL's content into the database file as the writer stops:
    /// connections never checkpoint on close (see `Ledger::open`).
    fn checkpoint(&mut self) {
        if let Store::Ledger { ledger, .. } = self {
            if let Err(e) = ledger.with(|ledger| ledger.checkpoint()) {
                log::debug!("costline: no checkpoint as the writer stops: {e}");
            }
        }
    }

    /// Paused for fork: the ledger's connection must stay closed for now.
    fn paused_for_fork(&self) -> bool {
        match self {
            Store::Ledger { ledger, .. } => ledger.paused_for_fork(),
            // Nothing here touches SQLite.
            Store::Memory { .. } | Store::Discard => false,
        }
    }

    fn write(&mut self, shared: &Shared, events: Vec<Event>) -> Result<(), (Unavailable, Vec<Event>)> {
        match self {
            Store::Ledger { ledger, for_export } => {
                let settled = shared.settled_for(&events);
                let written = ledger.with(|ledger| {
                    let inserted = ledger.insert_settled(&events, *for_export, &settled)?;
                    // The collector answered for some while they were being written.
                    for (id, outcome) in shared.settled_for(&events) {
                        if !settled.contains_key(&id) {
                            ledger.settle_events(&[id], outcome)?;
                        }
                    }
                    Ok(inserted)
                });
                match written {
                    Ok(_) => {
                        Counters::add(&shared.counters.written, events.len());
                        Ok(())
                    }
                    Err(e) => Err((e, events)),
                }
            }
            Store::Memory { overflowing } => {
                let overflow = {
                    let mut outbox = shared.memory_outbox();
                    if outbox.handed_over {
                        events.len()
                    } else {
                        outbox.items.push(events, shared.memory_bound())
                    }
                };
                let was_overflowing = std::mem::replace(overflowing, shared.count_dropped(overflow) > 0);
                if *overflowing && !was_overflowing {
                    log::warn!(
                        "costline: dropping events: the ledger is off and {} unacknowledged events already \
                         wait for the collector (see stats: dropped)",
                        shared.memory_bound()
                    );
                }
                Ok(())
            }
            Store::Discard => Ok(()),
        }
    }

    /// The outbox position a flush must see settled, after everything it
    /// covers was written. `None`: nothing is owed to a collector. The ledger
    /// is opened if this pipeline has not written yet: its outbox may hold
    /// events an earlier configuration or process could not deliver.
    fn export_target(&mut self, shared: &Shared) -> Result<Option<i64>, Unavailable> {
        match self {
            Store::Ledger { ledger, for_export: true } => ledger.with(|ledger| ledger.last_outbox_seq()),
            Store::Memory { .. } => Ok(shared.memory_outbox().items.last_seq()),
            _ => Ok(None),
        }
    }
}

/// The ledger is failing: when to try again, and how many tries so far.
struct Failing {
    retry_at: Instant,
    attempts: usize,
}

pub(crate) struct Writer {
    shared: Arc<Shared>,
    store: Store,
    exporter: Option<Sender<ExportSignal>>,
    tickets: Vec<FlushTicket>,
    failing: Option<Failing>,
}

impl Writer {
    pub(crate) fn new(shared: Arc<Shared>, store: Store, exporter: Option<Sender<ExportSignal>>) -> Writer {
        Writer { shared, store, exporter, tickets: Vec::new(), failing: None }
    }

    fn run(&mut self, queue: &Receiver<Message>, doorbell: &Receiver<()>) {
        let batch_size = self.shared.config.batch_size;
        loop {
            let mut wait = self
                .failing
                .as_ref()
                .map_or(IDLE_WAKE, |f| f.retry_at.saturating_duration_since(Instant::now()));
            // Held back by a fork: write as soon as the pause ends, even if
            // `after_fork_parent`'s wake-up went to another pipeline.
            if self.store.paused_for_fork() && !(self.tickets.is_empty() && self.shared.backlog_is_empty()) {
                wait = wait.min(PAUSE_POLL);
            }
            if queue.is_empty() {
                // Sleep until the batch interval ends or the doorbell rings;
                // a new event alone does not wake the writer.
                let _ = doorbell.recv_timeout(wait.min(BATCH_INTERVAL));
            }
            let mut batch = Vec::new();
            let mut urgent = false;
            let mut disconnected = false;
            while batch.len() < batch_size {
                match queue.try_recv() {
                    Ok(message) => urgent |= self.receive(message, &mut batch),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        disconnected = true;
                        break;
                    }
                }
            }
            if queue.is_empty() {
                self.shared.full_warned.store(false, Ordering::Relaxed);
            }
            self.write_or_hold(batch, urgent);
            self.answer_tickets();
            if disconnected || (self.shared.stopping() && queue.is_empty()) {
                self.write_held_after_pause();
                return;
            }
        }
    }

    /// Exiting with events held back by a pause (a fork, or connections being
    /// recycled): a pause lasts milliseconds, so wait for it (bounded) and
    /// write them rather than leave them behind.
    fn write_held_after_pause(&mut self) {
        if let Store::Ledger { ledger, .. } = &self.store {
            if self.shared.backlog_is_empty() || !ledger.wait_until_resumed(Instant::now() + EXIT_PAUSE_WAIT)
            {
                return;
            }
            if self.failing.is_none() {
                self.write_or_hold(Vec::new(), true);
            }
        }
    }

    /// Returns true when the message asks for an immediate retry of a failing ledger.
    fn receive(&mut self, message: Message, batch: &mut Vec<Event>) -> bool {
        match message {
            Message::Event(item) => {
                // Building a deferred event runs core code on this thread: a bug
                // there must cost one event, not the writer.
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| item.into_event())) {
                    Ok(event) => batch.push(event),
                    Err(_) => {
                        self.shared.count_dropped(1);
                        crate::log_once::warn("writer-build-panic", || {
                            "costline: building an event failed (a bug in costline); it was dropped"
                                .to_string()
                        });
                    }
                }
                false
            }
            Message::Flush(ticket) => {
                self.tickets.push(ticket);
                true
            }
            Message::Wake => true,
        }
    }

    /// Write the backlog and then `batch`, if the ledger is healthy, its
    /// retry time has come, or `urgent` (a flush is waiting). Otherwise, or if
    /// the write fails, or while paused for fork, the events wait in the backlog.
    pub(crate) fn write_or_hold(&mut self, batch: Vec<Event>, urgent: bool) {
        let due = match &self.failing {
            Some(failing) => urgent || Instant::now() >= failing.retry_at,
            None => true,
        } && !self.store.paused_for_fork();
        if !due {
            let arrived = !batch.is_empty();
            self.shared.hold(batch);
            if let (true, Some(exporter)) = (arrived, &self.exporter) {
                let _ = exporter.send(ExportSignal::Wake);
            }
            return;
        }
        // Held events stay in the backlog until written: a pipeline stopped
        // meanwhile hands them over instead of losing them (the successor's
        // insert is idempotent on event_id).
        let mut events = self.shared.backlog_copy();
        let held = events.len();
        events.extend(batch);
        if events.is_empty() {
            return;
        }
        match self.store.write(&self.shared, events) {
            Ok(()) => {
                self.shared.forget_held(held);
                if let Some(failing) = self.failing.take() {
                    log::info!("costline: ledger writable again after {} failed attempts", failing.attempts);
                }
                if let Some(exporter) = &self.exporter {
                    let _ = exporter.send(ExportSignal::Wake);
                }
            }
            // The pause began after the check above; not a failure either.
            Err((Unavailable::PausedForFork, mut events)) => {
                self.shared.hold(events.split_off(held));
            }
            Err((Unavailable::Failed(error), mut events)) => {
                let kept = events.len();
                let dropped = self.shared.hold(events.split_off(held));
                Counters::add(&self.shared.counters.failed_batches, 1);
                self.shared.counters.set_last_error(&error);
                let attempts = self.failing.as_ref().map_or(0, |f| f.attempts) + 1;
                if attempts == 1 {
                    // Once per outage, like the log; no lock is held here.
                    crate::hooks::report_error(&error, None);
                    log::warn!(
                        "costline: the ledger cannot be written: {error}. Keeping up to {} events in memory{} and \
                         retrying; {} held now{}. See costline status.",
                        self.shared.memory_bound(),
                        if self.exporter.is_some() { " (the collector still gets them)" } else { "" },
                        kept - dropped,
                        if dropped > 0 { format!(", {dropped} dropped (memory bound reached)") } else { String::new() }
                    );
                }
                // The collector need not wait for the ledger: it sends held events from memory.
                if let Some(exporter) = &self.exporter {
                    let _ = exporter.send(ExportSignal::Wake);
                }
                let wait = RETRY_WAITS[(attempts - 1).min(RETRY_WAITS.len() - 1)];
                self.failing = Some(Failing { retry_at: Instant::now() + wait, attempts });
            }
        }
    }

    /// Flush tickets are answered once nothing received before them is still
    /// unwritten; those waiting for the collector move on to the exporter.
    fn answer_tickets(&mut self) {
        self.tickets.retain(|t| !t.expired());
        if self.tickets.is_empty() || !self.shared.backlog_is_empty() {
            return;
        }
        let target = match self.store.export_target(&self.shared) {
            Ok(target) => target,
            // Answered once the fork is over and the ledger can be read.
            Err(Unavailable::PausedForFork) => return,
            Err(Unavailable::Failed(e)) => {
                log::debug!("costline: could not read the outbox position: {e}");
                return;
            }
        };
        for ticket in self.tickets.drain(..) {
            match (&self.exporter, target) {
                (Some(exporter), Some(target)) if ticket.through_export => {
                    if let Err(unsent) = exporter.send(ExportSignal::Ticket(ticket, target)) {
                        // The exporter is gone (stopping): it cannot settle anything more.
                        drop(unsent);
                    }
                }
                _ => ticket.complete(),
            }
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::config::{Config, LedgerSetting};
    use crate::ledger::Ledger;

    pub(crate) fn event(n: usize) -> Event {
        // Wide rows so that a few hundred need new pages.
        Event {
            tags: [("padding".to_string(), "x".repeat(500))].into_iter().collect(),
            ..crate::event::test_event(n)
        }
    }

    #[test]
    fn full_disk_keeps_batch_in_memory_until_space_returns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.db");
        let ledger = Ledger::open(&path).unwrap();
        let pages_now = ledger.set_max_page_count(1).unwrap();
        assert!(pages_now >= 1);

        let config = Config { ledger: LedgerSetting::Path(path.clone()), ..Config::default() };
        let shared = Arc::new(Shared::new(config, Arc::new(Counters::default())));
        let store = Store::Ledger { ledger: LazyLedger::opened(ledger), for_export: false };
        let mut writer = Writer::new(Arc::clone(&shared), store, None);

        writer.write_or_hold((0..300).map(event).collect(), true);
        assert!(writer.failing.is_some(), "the write must fail on a full file");
        assert_eq!(shared.backlog().items.len(), 300, "the failed batch is kept in memory");
        assert_eq!(shared.counters.snapshot().failed_batches, 1);
        assert_eq!(Ledger::open(&path).unwrap().count_events().unwrap(), 0);

        if let Store::Ledger { ledger, .. } = &mut writer.store {
            ledger.with(|ledger| ledger.set_max_page_count(1_000_000)).unwrap();
        }
        writer.write_or_hold(Vec::new(), true);
        assert!(writer.failing.is_none());
        assert!(shared.backlog_is_empty());
        assert_eq!(Ledger::open(&path).unwrap().count_events().unwrap(), 300);
        assert_eq!(shared.counters.snapshot().written, 300);
    }
}

#[cfg(test)]
mod held_export_tests {
    use std::collections::HashMap;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::Mutex;

    use super::tests::event;
    use super::*;
    use crate::config::{Config, LedgerSetting};
    use crate::ledger::Ledger;
    use crate::pipeline::exporter;

    /// A collector on 127.0.0.1 that acknowledges everything and counts each event id it got.
    fn collector() -> (String, Arc<Mutex<HashMap<String, usize>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(HashMap::new()));
        let counts = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                for e in body["events"].as_array().into_iter().flatten() {
                    *counts
                        .lock()
                        .unwrap()
                        .entry(e["event_id"].as_str().unwrap().to_string())
                        .or_insert(0) += 1;
                }
                let mut stream = stream;
                let _ =
                    stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
            }
        });
        (url, seen)
    }

    fn eventually(mut condition: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if condition() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    #[test]
    fn full_disk_events_reach_the_collector_from_memory_and_are_stored_as_exported_later() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.db");
        let ledger = Ledger::open(&path).unwrap();
        ledger.set_max_page_count(1).unwrap();
        let (url, seen) = collector();
        let config = Config {
            ledger: LedgerSetting::Path(path.clone()),
            base_url: Some(url),
            backoff: vec![Duration::from_millis(20)],
            ..Config::default()
        };
        let shared = Arc::new(Shared::new(config, Arc::new(Counters::default())));
        let (signals, signals_rx) = crossbeam_channel::unbounded();
        let (done, _finished) = crossbeam_channel::bounded(0);
        let exporter_shared = Arc::clone(&shared);
        let exporter = std::thread::spawn(move || exporter::run(signals_rx, exporter_shared, done));
        let store = Store::Ledger { ledger: LazyLedger::opened(ledger), for_export: true };
        let mut writer = Writer::new(Arc::clone(&shared), store, Some(signals));

        writer.write_or_hold((0..300).map(event).collect(), true);
        assert!(writer.failing.is_some(), "the disk is full");
        assert!(eventually(|| shared.counters.snapshot().exported == 300), "held events reach the collector");
        assert_eq!(seen.lock().unwrap().len(), 300);

        if let Store::Ledger { ledger, .. } = &mut writer.store {
            ledger.with(|ledger| ledger.set_max_page_count(1_000_000)).unwrap();
        }
        writer.write_or_hold(Vec::new(), true);
        assert!(writer.failing.is_none());
        let ledger = Ledger::open(&path).unwrap();
        assert_eq!(ledger.count_events().unwrap(), 300);
        assert_eq!(ledger.pending_export().unwrap(), 0, "not queued for export again");
        assert_eq!(ledger.export_status("evt-000007").unwrap().as_deref(), Some("exported"));
        assert!(seen.lock().unwrap().values().all(|n| *n == 1), "each event sent once");

        shared.stopping.store(true, Ordering::SeqCst);
        drop(writer);
        exporter.join().unwrap();
    }
}
