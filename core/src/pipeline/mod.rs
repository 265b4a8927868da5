//! The background pipeline: events leave the call path through a bounded,
//! non-blocking queue; a writer thread stores them in the ledger; an exporter
//! thread sends them from the ledger to a collector when one is configured.
//!
//! The functions here are the process-wide pipeline the bindings use, a thin
//! layer over one [`Pipeline`] held in an atomic pointer (the hot path loads it
//! without a lock). Lifecycle:
//! - the first `enqueue` starts the pipeline lazily (last `configure`d config,
//!   else the environment);
//! - `configure` starts a new pipeline, then stops the old one after it wrote
//!   what it had (bounded wait) and carries over anything still only in memory;
//! - `shutdown` flushes and stops it; a later `enqueue` starts a new one, so a
//!   library that calls `shutdown` cannot break metering for the application;
//! - around `fork()`: `before_fork` closes the threads' SQLite connections
//!   (SQLite must not carry an open connection across fork) and holds them
//!   closed; `after_fork_parent` lets the threads reopen them on their next
//!   batch; `after_fork_child` abandons the parent's pipeline (its threads do
//!   not exist in the child) without running its destructors; the child's
//!   first `enqueue` starts a fresh one.

mod connection;
mod delivery;
mod exit;
mod exporter;
mod fork;
mod http;
mod queue;
mod read;
mod shared;
mod writer;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use arc_swap::{ArcSwap, ArcSwapOption};
use once_cell::sync::Lazy;
use serde::Serialize;

use crate::config::Config;
use crate::event::Event;
use crate::recorder::Deferred;
use crate::Result;

pub use exit::exit_flush;
pub use queue::{Pipeline, Queued};
pub use read::{events, ledger_path, p50_latencies, report, status, ProcessStatus};
pub use shared::Counters;

use queue::Offer;

/// Counters of the process's pipeline, across reconfigurations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Events accepted into the queue.
    pub enqueued: u64,
    /// Events written to the ledger.
    pub written: u64,
    /// Events the collector acknowledged.
    pub exported: u64,
    /// Events dropped: queue full, or memory bound reached while the ledger or collector was failing.
    pub dropped: u64,
    /// Failed ledger writes and failed or rejected export attempts.
    pub failed_batches: u64,
    /// Events waiting for the collector's acknowledgement (as last seen by the exporter).
    pub pending_export: u64,
    /// Events the collector refused for good.
    pub rejected: u64,
    /// The latest failure of the ledger or the collector ("<RFC 3339 time> <message>").
    pub last_error: Option<String>,
}

/// The longest `configure` waits for the old pipeline to write what it holds.
/// Collector delivery is not waited for: the ledger's outbox keeps those.
const RECONFIGURE_WAIT: Duration = Duration::from_secs(5);

/// The process's pipeline; `None` before the first use and after `shutdown`.
static CURRENT: ArcSwapOption<Pipeline> = ArcSwapOption::const_empty();
/// The last configuration given to `configure`, for lazy restarts.
static CONFIGURED: ArcSwapOption<Config> = ArcSwapOption::const_empty();
static COUNTERS: Lazy<ArcSwap<Counters>> = Lazy::new(|| ArcSwap::from_pointee(Counters::default()));
/// Serialises starting and stopping (never taken on the hot path). Behind an
/// atomic pointer so that a child process after fork can replace a lock a
/// vanished parent thread might hold.
static CONTROL: Lazy<ArcSwap<Mutex<()>>> = Lazy::new(|| ArcSwap::from_pointee(Mutex::new(())));

fn control() -> Arc<Mutex<()>> {
    CONTROL.load_full()
}

fn lock(mutex: &Mutex<()>) -> MutexGuard<'_, ()> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// (Re)start the process's pipeline with `config`. What the previous pipeline
/// queued is written first (bounded wait) and nothing it held is lost: events
/// still only in memory are carried over to the new one.
pub fn configure(config: &Config) -> Result<()> {
    let control = control();
    let guard = lock(&control);
    let fresh = Arc::new(Pipeline::start_with_counters(config.clone(), COUNTERS.load_full())?);
    CONFIGURED.store(Some(Arc::new(config.clone())));
    let previous = CURRENT.swap(Some(Arc::clone(&fresh)));
    drop(guard);
    exit::install();
    if let Some(previous) = previous {
        let stopped = previous.stop(Instant::now() + RECONFIGURE_WAIT, false);
        fresh.adopt(stopped.leftovers);
    }
    Ok(())
}

/// Queue one event for the ledger (and collector). Never blocks; starts the
/// pipeline on first use. False when the event was dropped (queue full); drops
/// are counted in `stats().dropped` and logged once per overload.
pub fn enqueue(event: Event) -> bool {
    enqueue_item(Box::new(Queued::Built(event)))
}

/// Queue a call whose event the writer thread builds (see `recorder::Deferred`).
pub fn enqueue_deferred(call: Deferred) -> bool {
    enqueue_item(Box::new(Queued::Deferred(call)))
}

fn enqueue_item(mut event: Box<Queued>) -> bool {
    // A pipeline can close between the load and the send (reconfigured or
    // shut down concurrently); the next attempt finds its successor.
    for _ in 0..3 {
        let current = CURRENT.load();
        let Some(pipeline) = current.as_ref() else {
            drop(current);
            if !start_lazily() {
                break;
            }
            continue;
        };
        match pipeline.offer(event) {
            Offer::Accepted => return true,
            Offer::Full => return false,
            Offer::Closed(back) => {
                event = back;
                let closed = Arc::clone(pipeline);
                drop(current);
                replace_if_current(&closed);
            }
        }
    }
    COUNTERS.load().dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    false
}

/// Wait until every event enqueued before this call is in the ledger and, if
/// a collector is configured, acknowledged (or rejected for good) by it, and
/// the budget settlements those calls made are in their store. Returns false
/// at the deadline; always returns within `timeout`.
pub fn flush(timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let written = match CURRENT.load_full() {
        Some(pipeline) => pipeline.flush(timeout),
        None => true,
    };
    written && settled_by(deadline)
}

/// Flush (within `timeout`), then stop the background threads. Idempotent. A
/// later `enqueue` starts a new pipeline with the same configuration.
pub fn shutdown(timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let previous = {
        let control = control();
        let _guard = lock(&control);
        CURRENT.swap(None)
    };
    let written = match previous {
        Some(pipeline) => pipeline.shutdown(timeout),
        None => true,
    };
    written && settled_by(deadline)
}

/// Budget settlements (ledger, Redis stores) are made off the writer thread,
/// once a call's event is built: a flush, and an exit, wait for them too, or
/// a process that ends leaves its last calls' worst cases reserved.
fn settled_by(deadline: Instant) -> bool {
    crate::budget::wait_settled(deadline.saturating_duration_since(Instant::now()))
}

/// The longest `before_fork` waits for ledger operations in progress.
const BEFORE_FORK_WAIT: Duration = Duration::from_secs(2);

/// Call right before `fork()` (Python: `os.register_at_fork(before=...)`),
/// then `after_fork_parent` in the parent and `after_fork_child` in the child.
///
/// SQLite must not carry an open connection across fork: a child inheriting
/// the parent's open connections finds the ledger "locked" forever. So this
/// waits for the ledger operation in progress, if any, and closes every
/// connection the pipeline's threads hold; until the matching
/// `after_fork_parent` they open none and keep new events in memory (a
/// `flush` that needs the ledger meanwhile waits for the resume). Waits at
/// most 2 s for a write in progress, then proceeds anyway and logs once. Takes no lock `enqueue` takes, and returns at once
/// when no pipeline runs. Calls may nest (two threads forking at once).
pub fn before_fork() {
    fork::pause_process(BEFORE_FORK_WAIT);
}

/// Call in the parent right after `fork()` (also when it failed): the
/// pipeline's threads reopen the ledger on their next batch and write what
/// they kept during the fork.
pub fn after_fork_parent() {
    fork::gate().resume();
    if let Some(pipeline) = CURRENT.load().as_ref() {
        pipeline.wake();
    }
}

/// Call in a child process right after `fork()`. The parent's threads do not
/// exist here and its locks may be held forever, so the parent's pipeline is
/// abandoned as it is (leaked: its destructors could block on those locks or
/// close the parent's SQLite connection) and the child starts its own on its
/// first event. Events the parent had queued are the parent's to write. The
/// pause of `before_fork` stays with the parent: the child's pipeline starts
/// unpaused. Nothing here waits for the parent's threads.
pub fn after_fork_child() {
    fork::reset_in_child();
    read::reset_in_child();
    std::mem::forget(CONTROL.swap(Arc::new(Mutex::new(()))));
    std::mem::forget(COUNTERS.swap(Arc::new(Counters::default())));
    std::mem::forget(CURRENT.swap(None));
}

/// The configured exit deadline (`exit_timeout`), for the process-exit hook.
fn exit_timeout() -> Duration {
    match CURRENT.load().as_ref() {
        Some(pipeline) => pipeline.config().exit_timeout,
        None => Duration::from_secs(2),
    }
}

pub fn stats() -> Stats {
    COUNTERS.load().snapshot()
}

/// Start the process's pipeline if none is running. False if it cannot be.
///
/// Nothing is logged while the control lock is held: logging may need the
/// host's interpreter lock (Python's GIL), which a thread waiting for this
/// lock may hold.
fn start_lazily() -> bool {
    if CURRENT.load().is_some() {
        return true;
    }
    // Read (and report problems with) the environment before taking the lock.
    let config = match CONFIGURED.load_full() {
        Some(config) => config.as_ref().clone(),
        None => config_from_env(),
    };
    let export = collector_usable(&config);
    let started = {
        let control = control();
        let _guard = lock(&control);
        if CURRENT.load().is_some() {
            return true;
        }
        start_keeping_exports(config, export).map(|pipeline| CURRENT.store(Some(Arc::new(pipeline))))
    };
    match started {
        Ok(()) => {
            exit::install();
            true
        }
        Err(e) => {
            log::warn!("costline: could not start the event pipeline ({e}); events are dropped");
            false
        }
    }
}

/// Whether `config`'s collector settings are usable; logs why not. Call with
/// no lock held (logging may need the host's interpreter lock).
fn collector_usable(config: &Config) -> bool {
    match queue::validate_collector(config) {
        Ok(()) => true,
        Err(e) => {
            log::error!(
                "costline: {e}; events are kept in the outbox and sent once a valid collector is configured"
            );
            false
        }
    }
}

/// Start a pipeline even when its collector settings are unusable (a bad
/// base URL or CA bundle in the environment; `export` false): events are
/// still stored and queued in the outbox, so a later configuration (or
/// process) with a usable collector sends them. Only the export waits.
fn start_keeping_exports(config: Config, export: bool) -> Result<Pipeline> {
    queue::validate_queue(&config)?;
    Pipeline::start_unchecked(config, COUNTERS.load_full(), export)
}

/// A pipeline whose writer died (it should not, but a panic in SQLite code is
/// not ours to rule out) is replaced so that metering continues.
fn replace_if_current(closed: &Arc<Pipeline>) {
    let export = collector_usable(closed.config());
    let control = control();
    let guard = lock(&control);
    let is_current = CURRENT.load().as_ref().is_some_and(|p| Arc::ptr_eq(p, closed));
    if !is_current {
        return;
    }
    match start_keeping_exports(closed.config().clone(), export) {
        Ok(fresh) => {
            let fresh = Arc::new(fresh);
            CURRENT.store(Some(Arc::clone(&fresh)));
            drop(guard);
            fresh.adopt(closed.stop(Instant::now(), false).leftovers);
        }
        Err(e) => {
            drop(guard); // never log under the control lock (see start_lazily)
            log::warn!("costline: could not restart the event pipeline ({e})");
        }
    }
}

/// The environment's configuration for a lazy start. A bad value must not stop
/// metering: it is reported and that one setting ignored (`Config::from_env`).
fn config_from_env() -> Config {
    // A bad collector URL is kept: `start_keeping_exports` stores and queues
    // events for export without sending them until a valid URL is configured.
    Config::from_env()
}
