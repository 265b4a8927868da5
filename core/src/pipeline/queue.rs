//! One pipeline instance: a bounded queue in front of a writer thread (queue →
//! ledger) and, when a collector is configured, an exporter thread (ledger
//! outbox → collector). The global functions in `pipeline` are a thin layer
//! over one of these; tests start their own.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, SendTimeoutError, Sender, TrySendError};

use crate::config::Config;
use crate::event::Event;
use crate::recorder::Deferred;
use crate::{Error, Result};

use super::http::load_ca_bundle;
use super::shared::{Counters, FlushTicket, Leftovers, Shared};
use super::{exporter, writer, Stats};
use crate::secrets::mask_url;

/// One item for the writer: an event, or a call whose event the writer
/// builds, off the caller's thread (its id, timestamp formatting, usage
/// normalisation, pricing and bounds: `recorder::Deferred`).
pub enum Queued {
    Built(Event),
    Deferred(Deferred),
}

impl Queued {
    pub(crate) fn into_event(self) -> Event {
        match self {
            Queued::Built(event) => event,
            Queued::Deferred(call) => call.build(),
        }
    }
}

/// What travels through the queue.
pub(crate) enum Message {
    /// Boxed so that the queue's preallocated slots stay small.
    Event(Box<Queued>),
    /// Everything queued before this marker must be stored (and exported).
    Flush(FlushTicket),
    /// Look at the stop flag and the backlog now.
    Wake,
}

/// The result of offering one event to the queue.
pub(crate) enum Offer {
    Accepted,
    /// The queue was full: the event was dropped and counted.
    Full,
    /// The pipeline is stopping or its writer is gone: try another one.
    Closed(Box<Queued>),
}

/// What `stop` leaves behind.
pub(crate) struct Stopped {
    /// Everything was stored (and exported, when asked) before the deadline,
    /// and the threads have exited.
    pub clean: bool,
    /// Events held only in memory (unwritten, or unacknowledged with the
    /// ledger off), for a successor pipeline.
    pub leftovers: Leftovers,
}

pub struct Pipeline {
    queue: Sender<Message>,
    /// Wakes the writer. Events do not: the writer collects them on its
    /// batch interval, because waking a thread per event costs the caller
    /// ~15 µs on a busy core (wake-up preemption). Flushes, stops, a queue
    /// half full and the end of a pause for fork ring it.
    doorbell: Sender<()>,
    shared: Arc<Shared>,
    /// Producers inside `offer` right now. `stop` closes the pipeline, then
    /// waits for this to reach zero, so no event can enter the queue after the
    /// final flush marker.
    producers: AtomicUsize,
    closed: AtomicBool,
    /// Disconnects once both threads have exited (each holds a sender).
    threads_done: Receiver<()>,
    stopped: Mutex<Option<bool>>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline").field("stats", &self.stats()).finish_non_exhaustive()
    }
}

impl Pipeline {
    /// Start a pipeline with its own counters.
    pub fn start(config: Config) -> Result<Pipeline> {
        Pipeline::start_with_counters(config, Arc::new(Counters::default()))
    }

    /// Start a pipeline that adds to existing counters (the global pipeline
    /// keeps one set across reconfigurations).
    pub fn start_with_counters(config: Config, counters: Arc<Counters>) -> Result<Pipeline> {
        validate(&config)?;
        Pipeline::start_unchecked(config, counters, true)
    }

    /// Start with the collector validated already (or known bad: then
    /// `export` is false and events only queue up in the outbox, to be sent
    /// by a later pipeline or process with a usable collector).
    pub(crate) fn start_unchecked(config: Config, counters: Arc<Counters>, export: bool) -> Result<Pipeline> {
        let (queue, queue_rx) = crossbeam_channel::bounded(config.queue_size);
        let (doorbell, doorbell_rx) = crossbeam_channel::bounded(1);
        let (done_tx, threads_done) = crossbeam_channel::bounded::<()>(0);
        let exports = export && config.base_url.is_some();
        let shared = Arc::new(Shared::new(config, counters));

        let export_signals = if exports {
            let (signals, signals_rx) = crossbeam_channel::unbounded();
            let (shared, done) = (Arc::clone(&shared), done_tx.clone());
            spawn("costline-exporter", move || exporter::run(signals_rx, shared, done))?;
            Some(signals)
        } else {
            None
        };
        let writer_shared = Arc::clone(&shared);
        spawn("costline-writer", move || {
            writer::run(queue_rx, doorbell_rx, writer_shared, export_signals, done_tx)
        })?;

        Ok(Pipeline {
            queue,
            doorbell,
            shared,
            producers: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            threads_done,
            stopped: Mutex::new(None),
        })
    }

    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    pub fn stats(&self) -> Stats {
        self.shared.counters.snapshot()
    }

    /// Events kept in memory because the ledger could not take them yet.
    pub fn held(&self) -> usize {
        self.shared.backlog().items.len()
    }

    /// Queue one event without blocking. False when it was dropped (queue
    /// full, or the pipeline stopped); drops are counted.
    pub fn enqueue(&self, event: Event) -> bool {
        match self.offer(Box::new(Queued::Built(event))) {
            Offer::Accepted => true,
            Offer::Full => false,
            Offer::Closed(_) => {
                self.shared.count_dropped(1);
                false
            }
        }
    }

    /// The hot path: two atomic increments, one `try_send`, no lock.
    pub(crate) fn offer(&self, event: Box<Queued>) -> Offer {
        self.producers.fetch_add(1, Ordering::SeqCst);
        if self.closed.load(Ordering::SeqCst) {
            self.producers.fetch_sub(1, Ordering::SeqCst);
            return Offer::Closed(event);
        }
        let sent = self.queue.try_send(Message::Event(event));
        self.producers.fetch_sub(1, Ordering::SeqCst);
        match sent {
            Ok(()) => {
                Counters::add(&self.shared.counters.enqueued, 1);
                if self.queue.len() * 2 >= self.shared.config.queue_size {
                    self.ring();
                }
                Offer::Accepted
            }
            Err(TrySendError::Full(_)) => {
                self.shared.count_dropped(1);
                if !self.shared.full_warned.swap(true, Ordering::Relaxed) {
                    log::warn!(
                        "costline: event queue is full ({} events); dropping events until the writer catches up \
                         (see costline stats: dropped)",
                        self.shared.config.queue_size
                    );
                }
                Offer::Full
            }
            Err(TrySendError::Disconnected(Message::Event(event))) => Offer::Closed(event),
            Err(TrySendError::Disconnected(_)) => unreachable!("offer only sends events"),
        }
    }

    /// Wait until every event queued before this call is in the ledger and,
    /// when a collector is configured, acknowledged (or rejected for good) by
    /// it. False at the deadline. Never waits longer than `timeout`.
    pub fn flush(&self, timeout: Duration) -> bool {
        self.flush_until(deadline_after(timeout), true)
    }

    /// Like `flush`, but only until the events are in the ledger: for readers
    /// of the ledger, who need not wait for the collector.
    pub fn flush_to_ledger(&self, timeout: Duration) -> bool {
        self.flush_until(deadline_after(timeout), false)
    }

    fn flush_until(&self, deadline: Instant, through_export: bool) -> bool {
        if let Some(clean) = *self.stopped.lock().unwrap_or_else(|p| p.into_inner()) {
            return clean;
        }
        let (done, finished) = crossbeam_channel::bounded(1);
        let ticket = FlushTicket::new(done, deadline, through_export);
        // Blocking here is allowed (flush is a wait), and bounded by the deadline.
        let sent = self.queue.send_deadline(Message::Flush(ticket), deadline);
        self.ring();
        match sent {
            Ok(()) => finished.recv_deadline(deadline).is_ok(),
            Err(SendTimeoutError::Timeout(_)) => false,
            // The writer exited: nothing queued can still be stored.
            Err(SendTimeoutError::Disconnected(_)) => self.shared.backlog_is_empty(),
        }
    }

    /// Flush until the deadline, then stop the threads. Idempotent. Events
    /// still held only in memory afterwards (ledger failing, or ledger off
    /// with the collector unreachable) are counted as dropped.
    pub fn shutdown(&self, timeout: Duration) -> bool {
        let stopped = self.stop(deadline_after(timeout), true);
        let lost = self.shared.count_dropped(stopped.leftovers.len());
        if lost > 0 {
            log::warn!(
                "costline: shutdown left {lost} events that could not be stored or exported; they are lost"
            );
        }
        stopped.clean
    }

    /// Close the queue, flush what it holds (through the collector when
    /// `through_export`), stop both threads and hand over what is left in
    /// memory. Waits no longer than `deadline`.
    pub(crate) fn stop(&self, deadline: Instant, through_export: bool) -> Stopped {
        if let Some(clean) = *self.stopped.lock().unwrap_or_else(|p| p.into_inner()) {
            return Stopped { clean, leftovers: Leftovers::default() };
        }
        self.closed.store(true, Ordering::SeqCst);
        // Producers never block inside `offer`, so this wait is a few instructions long.
        while self.producers.load(Ordering::SeqCst) != 0 {
            thread::yield_now();
        }
        let flushed = self.flush_until(deadline, through_export);
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.wake();
        let exited = matches!(self.threads_done.recv_deadline(deadline), Err(RecvTimeoutError::Disconnected));
        let leftovers = self.shared.hand_over();
        let clean = flushed && exited && leftovers.is_empty();
        *self.stopped.lock().unwrap_or_else(|p| p.into_inner()) = Some(clean);
        Stopped { clean, leftovers }
    }

    /// Have the writer look at its backlog now (after a pause for fork).
    pub(crate) fn wake(&self) {
        let _ = self.queue.try_send(Message::Wake);
        self.ring();
    }

    /// Ring the writer's doorbell (a no-op when it is already ringing).
    fn ring(&self) {
        let _ = self.doorbell.try_send(());
    }

    /// Take over events a previous pipeline could not store; they are written
    /// (and exported) ahead of anything newer.
    pub(crate) fn adopt(&self, leftovers: Leftovers) {
        if leftovers.is_empty() {
            return;
        }
        self.shared.restore_settled(leftovers.settled);
        let dropped = self.shared.hold(leftovers.events);
        if dropped > 0 {
            log::warn!("costline: {dropped} events carried over from the previous configuration did not fit in the queue");
        }
        self.wake();
    }
}

fn spawn(name: &str, work: impl FnOnce() + Send + 'static) -> Result<()> {
    thread::Builder::new()
        .name(name.to_owned())
        .spawn(work)
        .map(drop)
        .map_err(|e| Error::Config(format!("could not start the {name} thread: {e}")))
}

/// `now + timeout`, saturating for absurdly long timeouts.
pub(crate) fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout).unwrap_or(now + Duration::from_secs(86_400 * 365))
}

/// Reject settings the pipeline cannot run with, with a message naming them.
pub(crate) fn validate(config: &Config) -> Result<()> {
    validate_queue(config)?;
    validate_collector(config)
}

pub(crate) fn validate_queue(config: &Config) -> Result<()> {
    if config.queue_size == 0 {
        return Err(Error::Config("queue_size must be at least 1".into()));
    }
    if config.batch_size == 0 {
        return Err(Error::Config("batch_size must be at least 1".into()));
    }
    Ok(())
}

/// The collector settings: a base URL that is an http(s) URL, and a CA bundle
/// that holds certificates. (Shown masked: the URL may carry credentials.)
pub(crate) fn validate_collector(config: &Config) -> Result<()> {
    if let Some(base) = &config.base_url {
        let shown = mask_url(base);
        let url = reqwest::Url::parse(base)
            .map_err(|e| Error::Config(format!("collector base URL {shown:?} is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::Config(format!(
                "collector base URL {shown:?} must start with http:// or https://"
            )));
        }
    }
    if let Some(path) = &config.ca_bundle {
        load_ca_bundle(path)?;
    }
    Ok(())
}
