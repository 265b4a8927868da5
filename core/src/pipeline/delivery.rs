//! Delivering claimed batches: several at once (up to `max_concurrent`), each
//! split on 413 and trimmed of events the collector refuses one by one. What
//! comes back says, per outbox position, what to record; the exporter thread
//! records it (only it touches the outbox, and only it calls hooks).

use std::thread;
use std::time::Duration;

use crate::event::Event;
use crate::ledger::Outgoing;

use super::http::{Collector, Delivery, Refusal};

/// Why part of a round was kept for a later attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// No answer, 408, 429, 5xx: the configured backoff.
    Transient { after: Option<Duration>, reason: String },
    /// 401, 403, 404, a redirect...: only a person can fix it; the long backoff.
    Misconfigured { status: u16, fix: String },
}

/// One event refused for good: it is dead-lettered with the collector's reason.
pub(crate) struct Refused {
    pub seq: i64,
    pub reason: String,
    pub status: u16,
    pub event: Event,
}

/// What a round of deliveries leaves to record.
#[derive(Default)]
pub(crate) struct Outcome {
    /// Acknowledged by the collector.
    pub exported: Vec<i64>,
    pub refused: Vec<Refused>,
    /// Not delivered: released for the next attempt.
    pub kept: Vec<i64>,
    /// The first failure of each kind met (a configuration problem outranks
    /// a transient one: it decides the backoff and what is logged).
    pub failure: Option<Failure>,
    /// Posts that failed (each counts in `stats().failed_batches`).
    pub failed_posts: usize,
}

impl Outcome {
    fn absorb(&mut self, other: Outcome) {
        self.exported.extend(other.exported);
        self.refused.extend(other.refused);
        self.kept.extend(other.kept);
        self.failed_posts += other.failed_posts;
        self.failure = match (self.failure.take(), other.failure) {
            (Some(mine @ Failure::Misconfigured { .. }), _) => Some(mine),
            (_, Some(theirs @ Failure::Misconfigured { .. })) => Some(theirs),
            (mine, theirs) => mine.or(theirs),
        };
    }
}

/// Deliver `batches` at once, one thread each (the caller bounds how many),
/// and merge what they report. One batch is posted on the calling thread.
pub(crate) fn deliver_all(collector: &Collector, mut batches: Vec<Vec<Outgoing>>) -> Outcome {
    if batches.len() <= 1 {
        return batches.pop().map(|batch| deliver(collector, batch)).unwrap_or_default();
    }
    let mut outcome = Outcome::default();
    thread::scope(|scope| {
        let workers: Vec<_> = batches
            .into_iter()
            .map(|batch| {
                let seqs: Vec<i64> = batch.iter().map(|o| o.seq).collect();
                let worker = thread::Builder::new()
                    .name("costline-export".into())
                    .spawn_scoped(scope, move || deliver(collector, batch));
                (seqs, worker)
            })
            .collect();
        for (seqs, worker) in workers {
            let delivered = match worker {
                Ok(handle) => handle.join().ok(),
                Err(e) => {
                    log::debug!("costline: could not start an export thread: {e}");
                    None
                }
            };
            outcome.absorb(delivered.unwrap_or_else(|| Outcome {
                kept: seqs,
                failure: Some(Failure::Transient { after: None, reason: "export thread failed".into() }),
                failed_posts: 1,
                ..Outcome::default()
            }));
        }
    });
    outcome
}

/// Deliver one batch: split it while the collector answers 413, drop what it
/// refuses by name and send the rest again, stop at the first failure.
pub(crate) fn deliver(collector: &Collector, batch: Vec<Outgoing>) -> Outcome {
    let mut outcome = Outcome::default();
    // Parts still to send, the next one last.
    let mut parts = vec![batch];
    while let Some(mut part) = parts.pop() {
        if part.is_empty() {
            continue;
        }
        if outcome.failure.is_some() {
            outcome.kept.extend(part.iter().map(|o| o.seq));
            continue;
        }
        let events: Vec<&Event> = part.iter().map(|o| &o.event).collect();
        match collector.post(&events) {
            Delivery::Acknowledged { refused } => {
                let refused_part = take_refused(&mut part, refused, 200);
                outcome.refused.extend(refused_part);
                outcome.exported.extend(part.iter().map(|o| o.seq));
            }
            Delivery::Invalid { refused } => {
                // The collector stored none of this part: the rest goes again
                // (strictly smaller, since `refused` named some of it).
                outcome.refused.extend(take_refused(&mut part, refused, 400));
                parts.push(part);
            }
            Delivery::TooLarge if part.len() == 1 => {
                let o = part.pop().expect("one event");
                outcome.refused.push(Refused {
                    seq: o.seq,
                    reason: "too large for the collector (HTTP 413), even sent alone".into(),
                    status: 413,
                    event: o.event,
                });
            }
            Delivery::TooLarge => {
                let second = part.split_off(part.len() / 2);
                parts.push(second);
                parts.push(part);
            }
            Delivery::Retry { after, reason } => {
                outcome.kept.extend(part.iter().map(|o| o.seq));
                outcome.failure = Some(Failure::Transient { after, reason });
                outcome.failed_posts += 1;
            }
            Delivery::Misconfigured { status, fix } => {
                outcome.kept.extend(part.iter().map(|o| o.seq));
                outcome.failure = Some(Failure::Misconfigured { status, fix });
                outcome.failed_posts += 1;
            }
        }
    }
    outcome
}

/// Remove the refused events from `part`, returning them with their reasons.
fn take_refused(part: &mut Vec<Outgoing>, refused: Vec<Refusal>, status: u16) -> Vec<Refused> {
    if refused.is_empty() {
        return Vec::new();
    }
    let mut taken = Vec::new();
    part.retain(|o| match refused.iter().find(|r| r.event_id == o.event.event_id) {
        Some(r) => {
            taken.push(Refused { seq: o.seq, reason: r.reason.clone(), status, event: o.event.clone() });
            false
        }
        None => true,
    });
    taken
}
