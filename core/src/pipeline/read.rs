//! Reading the ledger from inside the process that records into it, through
//! costline's own SQLite library and connection.
//!
//! This is the supported way for a host app to read its spend: a second
//! SQLite library in the process (the app's `sqlite3` module) cannot share
//! lock state with ours, and closing its connections unlinks files our
//! connections use (see `ledger::files`). Reads first wait (bounded) until
//! what was recorded so far is in the ledger.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use once_cell::sync::Lazy;
use serde::Serialize;

use crate::event::Event;
use crate::ledger::Ledger;
use crate::report::{GroupBy, Report};
use crate::{Error, Result};

use super::shared::{LazyLedger, Unavailable};
use super::{config_from_env, fork, Stats, CONFIGURED, CURRENT};

/// The process's reader connection, kept between reads like the writer's.
/// Behind an atomic pointer so a child after fork can drop the parent's
/// (whose lock a vanished parent thread may hold) without touching it.
type Reader = Mutex<Option<LazyLedger>>;
static READER: Lazy<ArcSwap<Reader>> = Lazy::new(|| ArcSwap::from_pointee(Mutex::new(None)));

/// How long a read waits for a pause for fork to end.
const PAUSE_WAIT: Duration = Duration::from_secs(5);

/// The ledger file this process records into; `None` when the ledger is off.
pub fn ledger_path() -> Option<PathBuf> {
    if let Some(pipeline) = CURRENT.load().as_ref() {
        return pipeline.config().ledger.path();
    }
    match CONFIGURED.load_full() {
        Some(config) => config.ledger.path(),
        None => config_from_env().ledger.path(),
    }
}

/// Wait (at most `timeout`) until the events recorded so far are in the
/// ledger; not for the collector. False at the deadline.
pub fn flush_to_ledger(timeout: Duration) -> bool {
    match CURRENT.load_full() {
        Some(pipeline) => pipeline.flush_to_ledger(timeout),
        None => true,
    }
}

/// A report over the process's ledger, after waiting at most `flush_timeout`
/// for what was recorded so far to reach it.
pub fn report(by: Vec<GroupBy>, since: Option<DateTime<Utc>>, flush_timeout: Duration) -> Result<Report> {
    flush_to_ledger(flush_timeout);
    let report = with_ledger(|ledger| Report::from_ledger(ledger, by.clone(), since))?;
    Ok(report.unwrap_or_else(|| Report::build(by, since, Vec::new())))
}

/// The ledger's events at or after `since`, oldest first, at most `limit`,
/// after waiting at most `flush_timeout` for what was recorded so far.
pub fn events(
    since: Option<DateTime<Utc>>,
    limit: Option<usize>,
    flush_timeout: Duration,
) -> Result<Vec<Event>> {
    flush_to_ledger(flush_timeout);
    let limit = limit.unwrap_or(usize::MAX);
    let events = with_ledger(|ledger| {
        let mut events = Vec::new();
        if limit > 0 {
            ledger.for_each_event(since.map(|t| t.timestamp_millis()), |event| {
                events.push(event);
                if events.len() >= limit {
                    std::ops::ControlFlow::Break(())
                } else {
                    std::ops::ControlFlow::Continue(())
                }
            })?;
        }
        Ok(events)
    })?;
    Ok(events.unwrap_or_default())
}

/// Each model's p50 latency over its newest `per_model` successful calls at or after
/// `since_ms` in the process's ledger (what `prefer: lowest_latency` routes on), after
/// waiting at most `flush_timeout` for what was recorded so far. Empty when the ledger
/// has no file yet; an error when the ledger is off.
pub fn p50_latencies(
    since_ms: Option<i64>,
    per_model: usize,
    flush_timeout: Duration,
) -> Result<std::collections::BTreeMap<String, u64>> {
    flush_to_ledger(flush_timeout);
    Ok(with_ledger(|ledger| ledger.p50_latencies(since_ms, per_model))?.unwrap_or_default())
}

/// This process's view of its pipeline, for `costline.status()`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessStatus {
    /// The ledger file; `None` when the ledger is off.
    pub ledger: Option<String>,
    /// Events kept in memory because the ledger cannot take them now.
    pub held: u64,
    #[serde(flatten)]
    pub stats: Stats,
}

/// The process's counters (over its whole life), its ledger and what it holds.
pub fn status() -> ProcessStatus {
    let held = CURRENT.load().as_ref().map_or(0, |pipeline| pipeline.held() as u64);
    ProcessStatus { ledger: ledger_path().map(|p| p.display().to_string()), held, stats: super::stats() }
}

/// Run `read` on the reader connection. `Ok(None)` when no ledger file
/// exists yet (nothing recorded): reads never create one.
pub(crate) fn with_ledger<T>(mut read: impl FnMut(&mut Ledger) -> Result<T>) -> Result<Option<T>> {
    let path = ledger_path().ok_or_else(ledger_off)?;
    if !path.is_file() {
        return Ok(None);
    }
    let reader = READER.load_full();
    let mut slot = lock(&reader);
    let fresh = match slot.as_ref() {
        Some(lazy) => lazy.path() != path.as_path() || !lazy.uses_gate(&fork::gate()),
        None => true,
    };
    if fresh {
        *slot = Some(LazyLedger::new(path));
    }
    let lazy = slot.as_mut().expect("set above");
    match lazy.with_after_pause(Instant::now() + PAUSE_WAIT, &mut read) {
        Ok(value) => Ok(Some(value)),
        Err(Unavailable::Failed(e)) => Err(e),
        Err(Unavailable::PausedForFork) => Err(Error::Ledger {
            path: lazy.path().display().to_string(),
            message: "a fork in progress kept the ledger closed; try again".into(),
        }),
    }
}

/// In a child after fork: a fresh reader (the parent's is abandoned as it is).
pub(crate) fn reset_in_child() {
    std::mem::forget(READER.swap(Arc::new(Mutex::new(None))));
}

fn ledger_off() -> Error {
    Error::Ledger {
        path: "off".into(),
        message: "nothing is recorded locally (COSTLINE_LEDGER=off or configure(ledger=\"off\"))".into(),
    }
}

fn lock(reader: &Reader) -> MutexGuard<'_, Option<LazyLedger>> {
    reader.lock().unwrap_or_else(|p| p.into_inner())
}
