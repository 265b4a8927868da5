//! Settling off the caller's thread: with a shared store (the ledger, Redis)
//! a settlement is I/O, and the call's result is already in the caller's
//! hands, so it goes to one background thread per process. Only the
//! reservation (before sending) makes the caller wait for the store.
//! `status()` first waits for the settlements in flight, so it always shows
//! every finished call.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crossbeam_channel::{unbounded, Sender};
use rust_decimal::Decimal;

use super::engine::Reservation;

struct Settler {
    /// The process that started the thread: a forked child starts its own.
    pid: u32,
    tx: Sender<(Reservation, Option<Decimal>)>,
}

static SETTLER: Mutex<Option<Settler>> = Mutex::new(None);
static PENDING: Mutex<usize> = Mutex::new(0);
static SETTLED: Condvar = Condvar::new();

fn done() {
    let mut pending = PENDING.lock().unwrap_or_else(|p| p.into_inner());
    *pending = pending.saturating_sub(1);
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
            for (r, actual) in rx {
                r.settle(actual);
                done();
            }
        });
        if started.is_err() {
            drop(slot);
            reservation.settle(actual);
            return;
        }
        // In a forked child the parent's settlements in flight never arrive.
        *PENDING.lock().unwrap_or_else(|p| p.into_inner()) = 0;
        *slot = Some(Settler { pid, tx });
    }
    *PENDING.lock().unwrap_or_else(|p| p.into_inner()) += 1;
    let tx = slot.as_ref().expect("started above").tx.clone();
    drop(slot);
    if let Err(failed) = tx.send((reservation, actual)) {
        let (r, actual) = failed.into_inner();
        r.settle(actual);
        done();
    }
}

/// Wait (up to `timeout`) until every background settlement has been made.
pub fn wait_settled(timeout: Duration) -> bool {
    let pending = PENDING.lock().unwrap_or_else(|p| p.into_inner());
    let (pending, _) =
        SETTLED.wait_timeout_while(pending, timeout, |n| *n > 0).unwrap_or_else(|p| p.into_inner());
    *pending == 0
}
