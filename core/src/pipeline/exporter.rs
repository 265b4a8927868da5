//! The exporter thread: takes batches from the outbox (the ledger's, or the
//! in-memory one when the ledger is off), posts them to the collector, and
//! settles them only on the collector's answer. A failed attempt waits out the
//! backoff while the writer keeps storing new events; a hanging collector
//! therefore never slows the ledger.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::event::Event;
use crate::ledger::{ExportOutcome, Outgoing};

use super::fork::PAUSE_POLL;
use super::http::{retry_delay, Collector, Delivery};
use super::shared::{Counters, FlushTicket, LazyLedger, Shared, Unavailable};

/// How often an idle exporter looks at a shared ledger's outbox for events
/// other processes left behind.
const IDLE_POLL: Duration = Duration::from_secs(30);

/// How often a waiting flush looks at the outbox again. It may wait on rows
/// another process's exporter has claimed, and nothing tells this one when
/// that exporter settles them.
const FLUSH_POLL: Duration = Duration::from_millis(100);

/// How long a claim on outbox rows keeps other exporters away, beyond the
/// attempt's own timeout.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// How long recording the collector's answer waits for a fork to end. Past
/// it the claim lapses and the batch is sent again (the collector dedupes).
const RECORD_AFTER_FORK_WAIT: Duration = Duration::from_secs(5);

pub(crate) enum ExportSignal {
    /// New events were stored.
    Wake,
    /// Complete this flush once the outbox is settled through this position.
    Ticket(FlushTicket, i64),
}

pub(crate) fn run(signals: Receiver<ExportSignal>, shared: Arc<Shared>, _done: Sender<()>) {
    let config = &shared.config;
    let Some(base_url) = config.base_url.clone() else {
        return;
    };
    let collector = Collector::new(&base_url, config.api_key.clone(), config.timeout);
    let outbox = match config.ledger.path() {
        Some(path) => Outbox::Ledger(LazyLedger::new(path)),
        None => Outbox::Memory,
    };
    Exporter {
        shared,
        outbox,
        collector,
        tickets: Vec::new(),
        failures: 0,
        next_attempt: Instant::now(),
        maybe_pending: true,
    }
    .run(&signals);
}

struct Exporter {
    shared: Arc<Shared>,
    outbox: Outbox,
    collector: Collector,
    tickets: Vec<(FlushTicket, i64)>,
    /// Consecutive failed attempts (0 while the collector answers).
    failures: usize,
    next_attempt: Instant,
    /// The outbox may hold something: set by signals and polls, cleared when a claim comes back empty.
    maybe_pending: bool,
}

impl Exporter {
    fn run(&mut self, signals: &Receiver<ExportSignal>) {
        loop {
            let mut wait = if self.maybe_pending {
                self.next_attempt.saturating_duration_since(Instant::now())
            } else {
                IDLE_POLL
            };
            if !self.tickets.is_empty() {
                wait = wait.min(FLUSH_POLL);
            }
            match signals.recv_timeout(wait) {
                Ok(signal) => self.receive(signal),
                Err(RecvTimeoutError::Timeout) => self.maybe_pending = true,
                // The writer exited: the pipeline is stopping or dropped.
                Err(RecvTimeoutError::Disconnected) => return,
            }
            while let Ok(signal) = signals.try_recv() {
                self.receive(signal);
            }
            if self.shared.stopping() {
                return;
            }
            if self.maybe_pending && Instant::now() >= self.next_attempt {
                self.export_one_batch();
            }
            self.answer_tickets();
        }
    }

    fn receive(&mut self, signal: ExportSignal) {
        self.maybe_pending = true;
        if let ExportSignal::Ticket(ticket, target) = signal {
            self.tickets.push((ticket, target));
        }
    }

    fn export_one_batch(&mut self) {
        let config = &self.shared.config;
        let lease = config.timeout + LEASE_MARGIN;
        let batch = match self.outbox.claim(&self.shared, config.batch_size, lease) {
            Ok(batch) => batch,
            Err(Unavailable::PausedForFork) => {
                self.next_attempt = Instant::now() + PAUSE_POLL;
                return;
            }
            // The writer reports a failing ledger; the collector is not at fault.
            Err(Unavailable::Failed(e)) => {
                log::debug!("costline: could not read the outbox: {e}");
                if !self.export_held() {
                    let wait = self.shared.config.backoff.first().copied().unwrap_or(Duration::from_secs(1));
                    self.next_attempt = Instant::now() + wait;
                }
                return;
            }
        };
        if batch.is_empty() {
            if self.export_held() {
                return;
            }
            self.maybe_pending = false;
            self.update_pending_gauge();
            return;
        }
        let seqs: Vec<i64> = batch.iter().map(|o| o.seq).collect();
        let events: Vec<Event> = batch.into_iter().map(|o| o.event).collect();
        match self.collector.post(&events) {
            Delivery::Acknowledged => {
                self.settle(&seqs, ExportOutcome::Exported);
                Counters::add(&self.shared.counters.exported, seqs.len());
                if self.failures > 0 {
                    log::info!("costline: collector reachable again after {} failed attempts", self.failures);
                }
                self.failures = 0;
                self.next_attempt = Instant::now();
            }
            Delivery::Retry { after, reason } => {
                if let Err(e) = self.outbox.release(&seqs) {
                    log::debug!("costline: could not release outbox claims: {e}");
                }
                self.failed(after, &reason);
            }
            Delivery::Rejected { status } => {
                self.settle(&seqs, ExportOutcome::Rejected);
                Counters::add(&self.shared.counters.failed_batches, 1);
                Counters::add(&self.shared.counters.rejected, seqs.len());
                log::warn!(
                    "costline: the collector rejected a batch of {} events (HTTP {status}); they are marked \
                     rejected in the ledger and will not be sent again",
                    seqs.len()
                );
            }
        }
        self.update_pending_gauge();
    }

    /// Send events the writer holds in memory because the ledger cannot take
    /// them; the ledger stores them as settled once it can. False when there
    /// were none.
    fn export_held(&mut self) -> bool {
        if !matches!(self.outbox, Outbox::Ledger(_)) {
            return false;
        }
        let events = self.shared.held_for_export(self.shared.config.batch_size);
        if events.is_empty() {
            return false;
        }
        let ids: Vec<String> = events.iter().map(|e| e.event_id.clone()).collect();
        let outcome = match self.collector.post(&events) {
            Delivery::Acknowledged => {
                self.failures = 0;
                self.next_attempt = Instant::now();
                ExportOutcome::Exported
            }
            Delivery::Retry { after, reason } => {
                self.failed(after, &reason);
                return true;
            }
            Delivery::Rejected { status } => {
                Counters::add(&self.shared.counters.failed_batches, 1);
                Counters::add(&self.shared.counters.rejected, ids.len());
                log::warn!(
                    "costline: the collector rejected a batch of {} events (HTTP {status}); they will not be sent again",
                    ids.len()
                );
                ExportOutcome::Rejected
            }
        };
        // Remembered first: the writer looks here again after each write, and
        // events it stored before that are settled in the ledger right below.
        let count = ids.len();
        self.shared.settle_in_memory(ids.clone(), outcome);
        if let Outbox::Ledger(ledger) = &mut self.outbox {
            let _ = ledger.with(|ledger| ledger.settle_events(&ids, outcome));
        }
        if outcome == ExportOutcome::Exported {
            Counters::add(&self.shared.counters.exported, count);
        }
        true
    }

    fn settle(&mut self, seqs: &[i64], outcome: ExportOutcome) {
        if let Err(e) = self.outbox.finish(&self.shared, seqs, outcome) {
            // The claim lapses and the events are sent again later; the
            // collector dedupes on event_id.
            log::warn!("costline: could not record the collector's answer in the ledger: {e}");
        }
    }

    /// One failed attempt: log the first of an outage, then back off.
    fn failed(&mut self, retry_after: Option<Duration>, reason: &str) {
        self.failures += 1;
        Counters::add(&self.shared.counters.failed_batches, 1);
        self.shared.counters.set_last_error(format_args!("collector: {reason}"));
        let wait = retry_delay(&self.shared.config.backoff, self.failures, retry_after);
        if self.failures == 1 {
            log::warn!(
                "costline: could not deliver events to the collector ({reason}); they are kept and retried \
                 (next attempt in {:.1}s)",
                wait.as_secs_f64()
            );
        }
        self.next_attempt = Instant::now() + wait;
    }

    fn answer_tickets(&mut self) {
        self.tickets.retain(|(ticket, _)| !ticket.expired());
        let mut unanswered = Vec::new();
        for (ticket, target) in self.tickets.drain(..) {
            match self.outbox.settled_through(&self.shared, target) {
                Ok(true) => ticket.complete(),
                _ => unanswered.push((ticket, target)),
            }
        }
        self.tickets = unanswered;
    }

    fn update_pending_gauge(&mut self) {
        if let Ok(pending) = self.outbox.pending(&self.shared) {
            self.shared.counters.pending_export.store(pending, Ordering::Relaxed);
        }
    }
}

/// Where unacknowledged events wait.
enum Outbox {
    /// The ledger's outbox table, read through this thread's own connection.
    Ledger(LazyLedger),
    /// `Shared::memory_outbox` (ledger off).
    Memory,
}

type Result<T> = std::result::Result<T, Unavailable>;

impl Outbox {
    fn claim(&mut self, shared: &Shared, limit: usize, lease: Duration) -> Result<Vec<Outgoing>> {
        match self {
            Outbox::Ledger(ledger) => ledger.with(|ledger| ledger.claim_for_export(limit, lease)),
            // One exporter per memory outbox: no lease needed.
            Outbox::Memory => Ok(shared
                .memory_outbox()
                .items
                .peek(limit)
                .into_iter()
                .map(|(seq, event)| Outgoing { seq, event })
                .collect()),
        }
    }

    /// The collector has answered: recording it is worth waiting out a fork.
    fn finish(&mut self, shared: &Shared, seqs: &[i64], outcome: ExportOutcome) -> Result<()> {
        match self {
            Outbox::Ledger(ledger) => ledger
                .with_after_pause(Instant::now() + RECORD_AFTER_FORK_WAIT, |ledger| {
                    ledger.finish_export(seqs, outcome)
                }),
            Outbox::Memory => {
                shared.memory_outbox().items.remove(seqs);
                Ok(())
            }
        }
    }

    /// Give a failed batch back for the next attempt (memory events never left).
    fn release(&mut self, seqs: &[i64]) -> Result<()> {
        match self {
            Outbox::Ledger(ledger) => ledger
                .with_after_pause(Instant::now() + RECORD_AFTER_FORK_WAIT, |ledger| {
                    ledger.release_claims(seqs)
                }),
            Outbox::Memory => Ok(()),
        }
    }

    fn settled_through(&mut self, shared: &Shared, target: i64) -> Result<bool> {
        match self {
            Outbox::Ledger(ledger) => ledger.with(|ledger| ledger.outbox_settled_through(target)),
            Outbox::Memory => Ok(shared.memory_outbox().items.settled_through(target)),
        }
    }

    fn pending(&mut self, shared: &Shared) -> Result<u64> {
        match self {
            Outbox::Ledger(ledger) => ledger.with(|ledger| ledger.pending_export()),
            Outbox::Memory => Ok(shared.memory_outbox().items.len() as u64),
        }
    }
}
