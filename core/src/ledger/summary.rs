//! What a ledger knows about its own state, for `costline status` in any
//! process: events stored, owed to the collector, settled, refused.

use serde::Serialize;

use super::{Ledger, EXPORT_DONE, EXPORT_REJECTED};
use crate::Result;

/// How many of the newest dead letters a summary lists.
const LATEST_DEAD_LETTERS: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerSummary {
    pub ledger: String,
    /// Events stored.
    pub written: u64,
    /// Events still owed to the collector (the outbox).
    pub pending_export: u64,
    /// Events the collector acknowledged.
    pub exported: u64,
    /// Events the collector refused for good (dead letters included).
    pub rejected: u64,
    /// Events the collector refused one by one, with its reasons.
    pub dead_letters: u64,
    /// The newest dead letters, newest first.
    pub latest_dead_letters: Vec<DeadLetterSummary>,
    /// The newest event's timestamp.
    pub last_event_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetterSummary {
    pub event_id: String,
    pub reason: String,
    pub time: String,
}

impl Ledger {
    pub fn summary(&self) -> Result<LedgerSummary> {
        let count = |sql: &str, status: Option<&str>| -> Result<u64> {
            let n: i64 = match status {
                Some(status) => self.conn.query_row(sql, [status], |r| r.get(0)),
                None => self.conn.query_row(sql, [], |r| r.get(0)),
            }
            .map_err(|e| self.error(e))?;
            Ok(n.max(0) as u64)
        };
        let by_status = "SELECT count(*) FROM events WHERE export_status = ?1";
        let last_event_at: Option<String> = self
            .conn
            .query_row("SELECT timestamp FROM events ORDER BY timestamp_ms DESC, seq DESC LIMIT 1", [], |r| {
                r.get(0)
            })
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
            .map_err(|e| self.error(e))?;
        let latest_dead_letters = self
            .dead_letters(LATEST_DEAD_LETTERS)?
            .into_iter()
            .map(|d| DeadLetterSummary { event_id: d.event_id, reason: d.reason, time: d.time })
            .collect();
        Ok(LedgerSummary {
            ledger: self.path.display().to_string(),
            written: count("SELECT count(*) FROM events", None)?,
            pending_export: count("SELECT count(*) FROM outbox", None)?,
            exported: count(by_status, Some(EXPORT_DONE))?,
            rejected: count(by_status, Some(EXPORT_REJECTED))?,
            dead_letters: self.dead_letter_count()?,
            latest_dead_letters,
            last_event_at,
        })
    }
}
