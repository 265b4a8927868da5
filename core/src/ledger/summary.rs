//! What a ledger knows about its own state, for `costline status` in any
//! process: events stored, owed to the collector, settled, refused.

use serde::Serialize;

use super::{Ledger, EXPORT_DONE, EXPORT_REJECTED};
use crate::Result;

/// The dead-letter table, when this ledger has one (written by a costline
/// that sets aside events the collector refused one by one).
const DEAD_LETTERS: &str = "dead_letters";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerSummary {
    pub ledger: String,
    /// Events stored.
    pub written: u64,
    /// Events still owed to the collector (the outbox).
    pub pending_export: u64,
    /// Events the collector acknowledged.
    pub exported: u64,
    /// Events the collector refused for good.
    pub rejected: u64,
    /// Rows of the dead-letter table; `None` when this ledger has none.
    pub dead_letters: Option<u64>,
    /// The newest event's timestamp.
    pub last_event_at: Option<String>,
}

impl Ledger {
    pub fn summary(&self) -> Result<LedgerSummary> {
        let count = |sql: &str| -> Result<u64> {
            let n: i64 = self.conn.query_row(sql, [], |r| r.get(0)).map_err(|e| self.error(e))?;
            Ok(n.max(0) as u64)
        };
        let by_status = |status: &str| -> Result<u64> {
            let n: i64 = self
                .conn
                .query_row("SELECT count(*) FROM events WHERE export_status = ?1", [status], |r| r.get(0))
                .map_err(|e| self.error(e))?;
            Ok(n.max(0) as u64)
        };
        let has_dead_letters = count(&format!(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '{DEAD_LETTERS}'"
        ))? > 0;
        let dead_letters = if has_dead_letters {
            Some(count(&format!("SELECT count(*) FROM {DEAD_LETTERS}"))?)
        } else {
            None
        };
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
        Ok(LedgerSummary {
            ledger: self.path.display().to_string(),
            written: count("SELECT count(*) FROM events")?,
            pending_export: count("SELECT count(*) FROM outbox")?,
            exported: by_status(EXPORT_DONE)?,
            rejected: by_status(EXPORT_REJECTED)?,
            dead_letters,
            last_event_at,
        })
    }
}
