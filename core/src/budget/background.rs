//! Settling off the caller's thread: with a shared store (the ledger, Redis)
//! a settlement is I/O, and the call's result is already in the caller's
//! hands, so it goes to one background thread per process. Only the
//! reservation (before sending) makes the caller wait for the store.
//! `status()` first waits for the settlements in flight, so it always shows
//! every finished call.
//!
//! The settler gathers what arrives over [`GATHER`] and settles it in one go
//! (`BudgetStore::settle_many`: one Redis round trip, one ledger
//! transaction). One wake-up and one trip per call, on 2 cores, competed with
//! the callers for a core: a Node call guarded by Redis added 95 to 140 µs
//! where the same call without its settlement added 50 to 85.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crossbeam_channel::{unbounded, Sender};
use rust_decimal::Decimal;

use super::engine::Reservation;

/// How long the settler gathers settlements before making them (a waiter in
/// `wait_settled` cuts it short). Only the figures others read lag by it.
const GATHER: Duration = Duration::from_millis(1);
/// At most this many settlements in one go.
const BATCH_MAX: usize = 256;

struct Settler {
    /// The process that started the thread: a forked child starts its own.
    pid: u32,
    tx: Sender<(Reservation, Option<Decimal>)>,
    thread: std::thread::Thread,
}

static SETTLER: Mutex<Option<Settler>> = Mutex::new(None);

thread_local! {
    /// True on the settler thread: an alert hook runs there, and what it calls
    /// (`status()`) must not wait for the settlements that thread is making.
    static ON_SETTLER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}
static PENDING: Mutex<usize> = Mutex::new(0);
static SETTLED: Condvar = Condvar::new();

fn done(settled: usize) {
    let mut pending = PENDING.lock().unwrap_or_else(|p| p.into_inner());
    *pending = pending.saturating_sub(settled);
    if *pending == 0 {
        SETTLED.notify_all();
    }
}

/// Settle `reservation` on the background thread; inline if it cannot start.
pub(super) fn settle(reservation: Reservation, actual: Option<Decimal>) {
    let mut slot = SETTLER.lock().unwrap_or_else(|p| p.into_inner());
    let pid = std::process::id();
    if slot.as_ref().is_none_or(|s| s.pid != pid) {
        let (tx, rx) = unbounded::<(Reservation, Option<Decimal>)>();
        let started = std::thread::Builder::new().name("costline-budget".into()).spawn(move || {
            // Nobody waits for a settlement: no spinning for Redis's replies here.
            super::resp::poll_on_this_thread(false);
            ON_SETTLER.with(|on| on.set(true));
            while let Ok(first) = rx.recv() {
                std::thread::park_timeout(GATHER);
                let mut batch = vec![first];
                batch.extend(rx.try_iter().take(BATCH_MAX - 1));
                let settled = batch.len();
                Reservation::settle_batch(batch);
                done(settled);
            }
        });
        let Ok(handle) = started else {
            drop(slot);
            reservation.settle(actual);
            return;
        };
        // In a forked child the parent's settlements in flight never arrive.
        *PENDING.lock().unwrap_or_else(|p| p.into_inner()) = 0;
        *slot = Some(Settler { pid, tx, thread: handle.thread().clone() });
    }
    *PENDING.lock().unwrap_or_else(|p| p.into_inner()) += 1;
    let tx = slot.as_ref().expect("started above").tx.clone();
    drop(slot);
    if let Err(failed) = tx.send((reservation, actual)) {
        let (r, actual) = failed.into_inner();
        r.settle(actual);
        done(1);
    }
}

/// Wait (up to `timeout`) until every background settlement has been made.
/// On the settler thread itself (an alert hook's call), returns false at once.
pub fn wait_settled(timeout: Duration) -> bool {
    if ON_SETTLER.with(|on| on.get()) {
        return false;
    }
    // Someone waits: the settler stops gathering.
    if let Some(s) = SETTLER.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
        if s.pid == std::process::id() {
            s.thread.unpark();
        }
    }
    let pending = PENDING.lock().unwrap_or_else(|p| p.into_inner());
    let (pending, _) =
        SETTLED.wait_timeout_while(pending, timeout, |n| *n > 0).unwrap_or_else(|p| p.into_inner());
    *pending == 0
}
