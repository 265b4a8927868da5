//! The exporter thread: takes batches from the outbox (the ledger's, or the
//! in-memory one when the ledger is off), posts up to `max_concurrent` of them
//! at once (`delivery`), and settles each event only on the collector's
//! answer: exported, dead-lettered (refused by name), or kept for a later
//! attempt. A failed attempt waits out the backoff (the long one when only a
//! person can fix the cause: a wrong key or URL) while the writer keeps
//! storing new events; a hanging collector therefore never slows the ledger.
//! This thread alone records outcomes and calls the error hook, holding no
//! lock of its own while the hook runs.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::ledger::{ExportOutcome, Outgoing};
use crate::{hooks, Error};

use super::delivery::{deliver_all, Failure, Outcome, Refused};
use super::fork::PAUSE_POLL;
use super::http::{retry_delay, Collector};
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
    let collector = Collector::new(config, &base_url);
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
        misconfigured: None,
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
    /// The collector's last configuration complaint (status), while it lasts:
    /// logged loudly once, not on every attempt.
    misconfigured: Option<u16>,
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
                self.export_round();
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

    /// Claim up to `max_concurrent` batches, post them at once, and record
    /// what the collector answered for each event.
    fn export_round(&mut self) {
        let config = &self.shared.config;
        // All batches of a round are posted at once, so one attempt's timeout
        // covers them (a batch split on 413 may outlast it: another exporter
        // may then send a part again, which the collector dedupes).
        let lease = config.timeout + LEASE_MARGIN;
        let batch_size = config.batch_size;
        let parallel = batches_per_round(config.max_concurrent, self.failures > 0);
        let claimed = match self.outbox.claim(&self.shared, batch_size.saturating_mul(parallel), lease) {
            Ok(claimed) => claimed,
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
        if claimed.is_empty() {
            if self.export_held() {
                return;
            }
            self.maybe_pending = false;
            self.update_pending_gauge();
            return;
        }
        let mut batches = Vec::new();
        let mut claimed = claimed.into_iter().peekable();
        while claimed.peek().is_some() {
            batches.push(claimed.by_ref().take(batch_size).collect::<Vec<_>>());
        }
        let outcome = deliver_all(&self.collector, batches);
        self.record(outcome);
        self.update_pending_gauge();
    }

    /// Record a round's outcome in the outbox, then tell the logs and the
    /// error hook (after every outbox lock is released: a hook may block).
    fn record(&mut self, outcome: Outcome) {
        let Outcome { mut exported, refused, mut kept, failure, failed_posts } = outcome;
        Counters::add(&self.shared.counters.failed_batches, failed_posts);
        if !exported.is_empty() {
            exported.sort_unstable();
            self.settle(&exported, ExportOutcome::Exported);
            Counters::add(&self.shared.counters.exported, exported.len());
        }
        if !refused.is_empty() {
            self.dead_letter(&refused);
        }
        if !kept.is_empty() {
            kept.sort_unstable();
            if let Err(e) = self.outbox.release(&kept) {
                log::debug!("costline: could not release outbox claims: {e}");
            }
        }
        match failure {
            None => self.delivered(),
            Some(Failure::Transient { after, reason }) => self.failed_transiently(after, &reason),
            Some(Failure::Misconfigured { status, fix }) => self.misconfigured(status, &fix, kept.len()),
        }
    }

    /// Send events the writer holds in memory because the ledger cannot take
    /// them (one batch); the ledger stores them with the collector's answer
    /// once it can, instead of queueing them again. False when there were none.
    fn export_held(&mut self) -> bool {
        if !matches!(self.outbox, Outbox::Ledger(_)) {
            return false;
        }
        let held = self.shared.held_for_export(self.shared.config.batch_size);
        if held.is_empty() {
            return false;
        }
        // Positions in this batch stand in for outbox positions.
        let batch: Vec<Outgoing> =
            held.into_iter().enumerate().map(|(i, event)| Outgoing { seq: i as i64, event }).collect();
        let ids: Vec<String> = batch.iter().map(|o| o.event.event_id.clone()).collect();
        let Outcome { exported, refused, kept, failure, failed_posts } =
            deliver_all(&self.collector, vec![batch]);
        Counters::add(&self.shared.counters.failed_batches, failed_posts);
        let exported: Vec<String> = exported.iter().map(|&i| ids[i as usize].clone()).collect();
        // Refused one by one: the ledger, failing, has no dead-letter table to
        // take them; they are stored as rejected. Kept ones stay held.
        let rejected: Vec<String> = refused.iter().map(|r| r.event.event_id.clone()).collect();
        if !refused.is_empty() {
            log::warn!(
                "costline: the collector refused {} event(s) as invalid (first: {}); they are marked rejected and \
                 not sent again",
                refused.len(),
                refused[0].reason
            );
            Counters::add(&self.shared.counters.rejected, refused.len());
            for r in &refused {
                let error = Error::Export {
                    status: Some(r.status),
                    message: format!("the collector refused event {}: {}", r.event.event_id, r.reason),
                };
                hooks::report_error(&error, Some(&r.event));
            }
        }
        for (ids, outcome) in [(exported, ExportOutcome::Exported), (rejected, ExportOutcome::Rejected)] {
            if ids.is_empty() {
                continue;
            }
            let count = ids.len();
            // Remembered first: the writer looks here again after each write, and
            // events it stored before that are settled in the ledger right below.
            self.shared.settle_in_memory(ids.clone(), outcome);
            if let Outbox::Ledger(ledger) = &mut self.outbox {
                let _ = ledger.with(|ledger| ledger.settle_events(&ids, outcome));
            }
            if outcome == ExportOutcome::Exported {
                Counters::add(&self.shared.counters.exported, count);
            }
        }
        match failure {
            None => self.delivered(),
            Some(Failure::Transient { after, reason }) => self.failed_transiently(after, &reason),
            Some(Failure::Misconfigured { status, fix }) => self.misconfigured(status, &fix, kept.len()),
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

    /// Events the collector refused one by one: out of the outbox for good,
    /// kept with the reason in the ledger's dead letters.
    fn dead_letter(&mut self, refused: &[Refused]) {
        let letters: Vec<(i64, String)> = refused.iter().map(|r| (r.seq, r.reason.clone())).collect();
        if let Err(e) = self.outbox.dead_letter(&self.shared, &letters) {
            log::warn!("costline: could not record the collector's answer in the ledger: {e}");
        }
        Counters::add(&self.shared.counters.failed_batches, 1);
        Counters::add(&self.shared.counters.rejected, refused.len());
        log::warn!(
            "costline: the collector refused {} event(s) as invalid (first: {}); they are dead-lettered and not \
             sent again (see costline status)",
            refused.len(),
            refused[0].reason
        );
        for r in refused {
            let error = Error::Export {
                status: Some(r.status),
                message: format!("the collector refused event {}: {}", r.event.event_id, r.reason),
            };
            hooks::report_error(&error, Some(&r.event));
        }
    }

    /// The collector took what it was sent: end any outage.
    fn delivered(&mut self) {
        if self.failures > 0 {
            log::info!("costline: collector reachable again after {} failed attempts", self.failures);
        }
        self.failures = 0;
        self.misconfigured = None;
        self.next_attempt = Instant::now();
    }

    /// One failed attempt: log the first of an outage, then back off.
    fn failed_transiently(&mut self, retry_after: Option<Duration>, reason: &str) {
        self.failures += 1;
        self.shared.counters.set_last_error(format_args!("collector: {reason}"));
        let wait = retry_delay(&self.shared.config.backoff, self.failures, retry_after);
        if self.failures == 1 {
            let message = format!(
                "could not deliver events to the collector ({reason}); they are kept and retried (next attempt \
                 in {:.1}s)",
                wait.as_secs_f64()
            );
            log::warn!("costline: {message}");
            hooks::report_error(&Error::Export { status: None, message }, None);
        }
        self.next_attempt = Instant::now() + wait;
    }

    /// The collector refuses us for a reason only a person can fix: keep
    /// every event, say what to fix once (loudly), and retry rarely.
    fn misconfigured(&mut self, status: u16, fix: &str, kept: usize) {
        self.shared.counters.set_last_error(format_args!("collector: HTTP {status}: {fix}"));
        if self.misconfigured != Some(status) {
            self.misconfigured = Some(status);
            self.failures = 0;
            let message = format!(
                "{fix}. {kept} event(s) are kept in the outbox and sent once the collector accepts them \
                 (next attempt in {:.0}s)",
                retry_delay(&self.shared.config.config_error_backoff, 1, None).as_secs_f64()
            );
            log::error!("costline: {message}");
            hooks::report_error(&Error::Export { status: Some(status), message }, None);
        }
        self.failures += 1;
        self.next_attempt =
            Instant::now() + retry_delay(&self.shared.config.config_error_backoff, self.failures, None);
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

/// How many batches a round posts at once: `max_concurrent`, except while
/// the collector is failing, when one batch probes it (a collector that is
/// down or refusing us gains nothing from fifty requests at each retry).
fn batches_per_round(max_concurrent: usize, failing: bool) -> usize {
    if failing {
        1
    } else {
        max_concurrent.max(1)
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

    /// Settle events the collector refused for good, with its reasons.
    fn dead_letter(&mut self, shared: &Shared, letters: &[(i64, String)]) -> Result<()> {
        match self {
            Outbox::Ledger(ledger) => ledger
                .with_after_pause(Instant::now() + RECORD_AFTER_FORK_WAIT, |ledger| {
                    ledger.dead_letter(letters)
                }),
            // No ledger to keep them in: the warning and the error hook are all there is.
            Outbox::Memory => {
                let mut seqs: Vec<i64> = letters.iter().map(|(seq, _)| *seq).collect();
                seqs.sort_unstable();
                shared.memory_outbox().items.remove(&seqs);
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

#[cfg(test)]
mod tests {
    use super::batches_per_round;

    #[test]
    fn a_failing_collector_is_probed_with_one_batch_then_gets_max_concurrent() {
        assert_eq!(batches_per_round(50, false), 50);
        assert_eq!(batches_per_round(0, false), 1);
        assert_eq!(batches_per_round(50, true), 1);
    }
}
