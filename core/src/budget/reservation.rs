//! A call's hold on its budgets, from the reservation taken before it is sent
//! to its settlement with what it cost (or its release), including a metered
//! stream's growing reservation.

use std::sync::Arc;

use rust_decimal::Decimal;

use super::engine::{Engine, Exceeded, FailMode, Target};
use super::plan::Plan;
use super::store::{BudgetStore, Charge, Reserved, Settlement};
use super::units;

/// A call's hold on its budgets. Settle it with the actual cost or release
/// it; dropping it releases it.
pub struct Reservation {
    pub(super) engine: Arc<Engine>,
    /// The budgets in the shared store (with their counters), shared by the calls of one shape.
    pub(super) plan: Arc<Plan>,
    /// Run budgets and run caps (counted in memory) and their counters.
    pub(super) local: Vec<Target>,
    pub(super) local_charges: Vec<Charge>,
    pub(super) amount: i64,
    /// Set for a stream whose budgets all meter streams as they go
    /// (`enforce_stream`): it reserved its prompt and a first step of output,
    /// and grows the reservation as output arrives.
    pub(super) stream: Option<StreamMeter>,
    /// False when the store was down and the fail mode let the call through.
    pub(super) shared_held: bool,
    pub(super) done: bool,
}

/// What a settlement leaves for the shared store: replace `reserved` with
/// `actual`. `priced`: the call had a price (its spend can cross alerts).
struct StorePart {
    reserved: i64,
    actual: i64,
    priced: bool,
}

impl std::fmt::Debug for Reservation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reservation").field("amount_nanos", &self.amount).field("done", &self.done).finish()
    }
}

impl Reservation {
    /// The worst case reserved.
    pub fn amount_usd(&self) -> Decimal {
        units::to_usd(self.amount)
    }

    /// True when a budget this call counts against wants streams stopped
    /// before their running cost passes it.
    pub fn enforce_stream(&self) -> bool {
        self.stream.is_some()
    }

    /// [`settle`](Self::settle) without making the caller wait for a shared
    /// store: in memory it is done at once, with the ledger or Redis on a
    /// background thread ([`super::wait_settled`] waits for it).
    pub fn settle_soon(self, actual: Option<Decimal>) {
        // A call let through while the store was down still records its spend there.
        if self.waits_for_store() || (self.engine.store.kind() != "memory" && !self.plan.shared.is_empty()) {
            super::background::settle(self, actual);
        } else {
            self.settle(actual);
        }
    }

    /// Replace the reservation with what the call cost (`None`: no price, the
    /// reservation is released). Fires the alerts it crosses.
    pub fn settle(mut self, actual: Option<Decimal>) {
        if let Some(part) = self.settle_runs(actual) {
            let result = self.engine.store.settle(&self.plan.charges, part.reserved, part.actual);
            self.settled_in_store(&part, result);
        }
    }

    /// Settle many at once (the background settler's batch): as `settle` does
    /// each, with one `settle_many` of its store per engine for the lot.
    pub(super) fn settle_batch(mut batch: Vec<(Reservation, Option<Decimal>)>) {
        while !batch.is_empty() {
            // Reservations of one engine share its store; a reconfiguration
            // between two calls gives them different ones.
            let engine = batch[0].0.engine.clone();
            let same =
                batch.iter().position(|(r, _)| !Arc::ptr_eq(&r.engine, &engine)).unwrap_or(batch.len());
            let rest = batch.split_off(same);
            let parts: Vec<(usize, StorePart)> = batch
                .iter_mut()
                .enumerate()
                .filter_map(|(i, (r, actual))| r.settle_runs(actual.take()).map(|part| (i, part)))
                .collect();
            let items: Vec<Settlement<'_>> = parts
                .iter()
                .map(|(i, part)| Settlement {
                    charges: &batch[*i].0.plan.charges,
                    reserved: part.reserved,
                    actual: part.actual,
                })
                .collect();
            let results = engine.store.settle_many(&items);
            for ((i, part), result) in parts.iter().zip(results) {
                batch[*i].0.settled_in_store(part, result);
            }
            batch = rest;
        }
    }

    /// Settle the counters kept in memory (run budgets and caps), firing the
    /// alerts they cross, and say what is left for the shared store.
    fn settle_runs(&mut self, actual: Option<Decimal>) -> Option<StorePart> {
        self.done = true;
        let Some(actual) = actual.and_then(units::to_nanos_ceil) else {
            // No price: the reservation is given back.
            let _ = self.engine.runs.release(&self.local_charges, self.amount);
            return self.shared_held.then_some(StorePart { reserved: self.amount, actual: 0, priced: false });
        };
        if let Ok(spent) = self.engine.runs.settle(&self.local_charges, self.amount, actual) {
            for (target, spent) in self.local.iter().zip(spent) {
                self.engine.alert_if_crossed(target, spent, false);
            }
        }
        let reserved = if self.shared_held { self.amount } else { 0 };
        (self.shared_held || actual > 0).then_some(StorePart { reserved, actual, priced: true })
    }

    /// The shared store's answer to `part`: the alerts it crosses, or the outage.
    fn settled_in_store(&self, part: &StorePart, result: crate::Result<Vec<i64>>) {
        match result {
            Ok(spent) => {
                self.engine.store_ok();
                if part.priced {
                    for (target, spent) in self.plan.shared.iter().zip(spent) {
                        self.engine.alert_if_crossed(target, spent, false);
                    }
                }
            }
            Err(e) => self.engine.store_failed(&e),
        }
    }

    /// What the writer thread runs with a deferred call's cost
    /// (`recorder::record_deferred_then`): settle with it. If the event is
    /// dropped unbuilt (a full queue), the call still happened: it settles at
    /// its worst case rather than counting nothing.
    pub fn settle_when_built(self) -> crate::recorder::AfterBuild {
        struct Pending(Option<Reservation>);
        impl Drop for Pending {
            fn drop(&mut self) {
                if let Some(r) = self.0.take() {
                    let worst = r.amount_usd();
                    r.settle_soon(Some(worst));
                }
            }
        }
        let mut pending = Pending(Some(self));
        Box::new(move |cost| {
            if let Some(r) = pending.0.take() {
                r.settle_soon(cost);
            }
        })
    }

    /// Give the reservation back: the call cost nothing or never happened.
    /// With the ledger or Redis, on the background thread, as `settle_soon`
    /// does: a store that stopped answering must not hold the caller (an
    /// event loop, a failed call's cleanup) for its timeout.
    pub fn release(mut self) {
        if self.waits_for_store() {
            super::background::settle(self, None);
            return;
        }
        self.done = true;
        self.give_back();
    }

    /// True when the shared store holds part of this reservation and talking to
    /// it may wait on I/O (the ledger, Redis).
    fn waits_for_store(&self) -> bool {
        self.shared_held && self.engine.store.kind() != "memory"
    }

    fn give_back(&mut self) {
        let _ = self.engine.runs.release(&self.local_charges, self.amount);
        if self.shared_held {
            match self.engine.store.release(&self.plan.charges, self.amount) {
                Ok(()) => self.engine.store_ok(),
                Err(e) => self.engine.store_failed(&e),
            }
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        if !self.waits_for_store() {
            self.give_back();
            return;
        }
        // Released as `release` does, off this thread: what is left of this one moves.
        let rest = Reservation {
            engine: self.engine.clone(),
            plan: self.plan.clone(),
            local: std::mem::take(&mut self.local),
            local_charges: std::mem::take(&mut self.local_charges),
            amount: self.amount,
            stream: self.stream.take(),
            shared_held: true,
            done: false,
        };
        super::background::settle(rest, None);
    }
}

/// Output tokens a metered stream reserves ahead of what it has produced.
pub const STREAM_STEP_TOKENS: u64 = 256;

/// Output a metered stream keeps in hand near its cap: about one chunk.
pub const STREAM_MARGIN_TOKENS: u64 = 16;

#[derive(Debug, Clone, Copy)]
pub(super) struct StreamMeter {
    pub(super) input: i64,
    /// Nano-dollars per output token (fractional: kept as a decimal).
    pub(super) output_rate: Decimal,
}

impl StreamMeter {
    pub(super) fn cost(&self, output_tokens: u64) -> i64 {
        let output =
            units::to_nanos_ceil(self.output_rate * Decimal::from(output_tokens)).unwrap_or(i64::MAX / 4);
        self.input.saturating_add(output)
    }
}

impl Reservation {
    /// A metered stream has produced `output_tokens` so far: grow the
    /// reservation ahead of them, or say which cap the stream's running cost
    /// would pass (the caller then closes the stream). Free for streams that
    /// reserved their worst case.
    pub fn stream_progress(&mut self, output_tokens: u64) -> std::result::Result<(), Box<Exceeded>> {
        let Some(meter) = self.stream else {
            return Ok(());
        };
        let running = meter.cost(output_tokens);
        if running <= self.amount {
            return Ok(());
        }
        // Reserve a step ahead; near the cap, what was produced and a margin
        // for the chunk already on its way (the stream stops before the cap,
        // not one chunk after it).
        let ahead = meter.cost(output_tokens + STREAM_STEP_TOKENS);
        let close = meter.cost(output_tokens + STREAM_MARGIN_TOKENS);
        match self.grow(ahead, running) {
            Err(refused) if refused.store_error.is_none() => self.grow(close, close),
            other => other,
        }
    }

    /// Grow the reservation to `wanted`; refused, say which cap `running` passes.
    fn grow(&mut self, wanted: i64, running: i64) -> std::result::Result<(), Box<Exceeded>> {
        let extra = wanted - self.amount;
        let engine = self.engine.clone();
        let local = &self.local_charges;
        if let Ok(Reserved::Over { index, spent, reserved }) = engine.runs.reserve(local, extra) {
            let others = (reserved - self.amount).max(0);
            return Err(Box::new(Engine::exceeded(&self.local[index], spent, others, running)));
        }
        if self.shared_held {
            match engine.store.reserve(&self.plan.charges, extra) {
                Ok(Reserved::Taken(_)) => engine.store_ok(),
                Ok(Reserved::Over { index, spent, reserved }) => {
                    let _ = engine.runs.release(local, extra);
                    let others = (reserved - self.amount).max(0);
                    return Err(Box::new(Engine::exceeded(&self.plan.shared[index], spent, others, running)));
                }
                Err(e) => {
                    engine.store_failed(&e);
                    let _ = engine.runs.release(local, extra);
                    if engine.fail_mode == FailMode::Closed {
                        let mut refused = Engine::exceeded(&self.plan.shared[0], 0, 0, running);
                        refused.store_error = Some(e.to_string());
                        return Err(Box::new(refused));
                    }
                    return Ok(());
                }
            }
        }
        self.amount = wanted;
        Ok(())
    }
}
