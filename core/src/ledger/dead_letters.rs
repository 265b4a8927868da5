//! Dead letters: events a collector refused for good, one by one (a 400 that
//! named them as invalid, or one event too large even alone), with the
//! collector's reason. They leave the outbox (marked `rejected`) and are kept
//! here so `costline status` can show what was refused and why.
//!
//! The table is an additive change: a ledger written before it existed gets
//! it on open. `SCHEMA_VERSION` is not raised for it, because an older
//! costline still reads and writes such a file correctly (it just ignores the
//! table); the version only moves when old code could no longer use a file.

use rusqlite::params;

use super::{now_millis, settle, ExportOutcome, Ledger};
use crate::Result;

const DEAD_LETTERS_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS dead_letters (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id   TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    time       TEXT    NOT NULL,
    time_ms    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_event_id ON dead_letters (event_id);
";

/// One event a collector refused for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub event_id: String,
    /// The collector's reason, as it gave it.
    pub reason: String,
    /// When it was refused (RFC 3339, UTC).
    pub time: String,
}

impl Ledger {
    /// Create the dead-letter table in a ledger that predates it. Only
    /// writes when the table is missing, so opening a current ledger never
    /// waits for a writer.
    pub(super) fn ensure_dead_letters_table(&mut self) -> Result<()> {
        let exists: bool = self
            .conn
            .query_row(
                "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'dead_letters'",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.error(e))?;
        if exists {
            return Ok(());
        }
        self.in_write_transaction(|tx| tx.execute_batch(DEAD_LETTERS_SCHEMA))
    }

    /// Settle claimed outbox events as refused for good, each with the
    /// collector's reason: they leave the outbox, are marked `rejected`, and
    /// are listed in `dead_letters`.
    pub fn dead_letter(&mut self, refused: &[(i64, String)]) -> Result<()> {
        let now = chrono::Utc::now();
        let time = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let time_ms = now_millis();
        self.in_write_transaction(|tx| {
            let mut insert = tx.prepare_cached(
                "INSERT INTO dead_letters (event_id, reason, time, time_ms) \
                 SELECT event_id, ?2, ?3, ?4 FROM outbox WHERE seq = ?1",
            )?;
            for (seq, reason) in refused {
                insert.execute(params![seq, reason, time, time_ms])?;
            }
            let seqs: Vec<i64> = refused.iter().map(|(seq, _)| *seq).collect();
            settle(tx, &seqs, ExportOutcome::Rejected)
        })
    }

    /// The newest `limit` dead letters, newest first.
    pub fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut select = self
            .conn
            .prepare("SELECT event_id, reason, time FROM dead_letters ORDER BY seq DESC LIMIT ?1")
            .map_err(|e| self.error(e))?;
        let rows = select
            .query_map([limit], |r| {
                Ok(DeadLetter { event_id: r.get(0)?, reason: r.get(1)?, time: r.get(2)? })
            })
            .map_err(|e| self.error(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.error(e))
    }

    /// How many events were dead-lettered, ever.
    pub fn dead_letter_count(&self) -> Result<u64> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM dead_letters", [], |r| r.get(0))
            .map_err(|e| self.error(e))?;
        Ok(n.max(0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::SCHEMA_VERSION;

    #[test]
    fn a_ledger_from_before_dead_letters_gets_the_table_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.db");
        drop(Ledger::open(&path).unwrap());
        // As a costline without dead letters left it.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("DROP TABLE dead_letters").unwrap();
        drop(conn);

        let ledger = Ledger::open(&path).unwrap();
        assert_eq!(ledger.dead_letter_count().unwrap(), 0);
        assert!(ledger.dead_letters(5).unwrap().is_empty());
        let version: i64 =
            ledger.conn.query_row("SELECT max(version) FROM schema_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, SCHEMA_VERSION, "an additive table leaves the version alone");
    }
}
