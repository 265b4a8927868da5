//! The ledger as a budget store: counters in the ledger's SQLite file, shared
//! by every process using it. Each reservation, settlement or release is one
//! short `BEGIN IMMEDIATE` transaction: SQLite's write lock makes the check
//! and the addition one atomic step across processes.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, OptionalExtension};

use super::alert::Alert;
use super::seed;
use super::store::{first_over, BudgetStore, Charge, Reserved, Settlement};
use crate::ledger::Ledger;
use crate::{Error, Result};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS budget_counters (
    key           TEXT    PRIMARY KEY,
    spent         INTEGER NOT NULL,
    reserved      INTEGER NOT NULL,
    expires_at_ms INTEGER
);
CREATE TABLE IF NOT EXISTS budget_alerts (
    key       TEXT    NOT NULL,
    percent   INTEGER NOT NULL,
    at        TEXT    NOT NULL,
    budget    TEXT,
    scope     TEXT,
    period    TEXT,
    limit_usd TEXT,
    spent_usd TEXT,
    exceeded  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key, percent)
);
";

pub struct SqliteStore {
    path: PathBuf,
    /// One connection per process (reopened after a fork), used by one thread at a time.
    conn: Mutex<Option<(u32, Ledger)>>,
}

impl SqliteStore {
    pub fn new(path: PathBuf) -> SqliteStore {
        SqliteStore { path, conn: Mutex::new(None) }
    }

    fn with<T>(&self, work: impl FnOnce(&mut Ledger) -> Result<T>) -> Result<T> {
        let mut slot = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let pid = std::process::id();
        if !matches!(&*slot, Some((owner, _)) if *owner == pid) {
            if let Some((_, inherited)) = slot.take() {
                // A connection copied by fork() belongs to the parent: never use nor close it here.
                std::mem::forget(inherited);
            }
            let mut ledger = Ledger::open(&self.path)?;
            ledger.connection().execute_batch(SCHEMA).map_err(|e| error(&self.path, e))?;
            *slot = Some((pid, ledger));
        }
        let (_, ledger) = slot.as_mut().expect("opened above");
        let result = work(ledger);
        if result.is_err() {
            *slot = None;
        }
        result
    }

    /// Counters `charges` name that do not exist yet, with what the ledger
    /// says they already spent (read before the write transaction, so that
    /// the lock is held only for the additions).
    fn seeds(ledger: &mut Ledger, charges: &[Charge]) -> Result<Vec<(usize, i64)>> {
        let mut out = Vec::new();
        for (i, c) in charges.iter().enumerate() {
            let exists = ledger
                .connection()
                .query_row("SELECT 1 FROM budget_counters WHERE key = ?1", [&c.key], |_| Ok(()))
                .optional()
                .map_err(|e| error(ledger.path(), e))?
                .is_some();
            if !exists {
                let spent = match &c.seed {
                    Some(s) => seed::spent_in(ledger, s)?,
                    None => 0,
                };
                out.push((i, spent));
            }
        }
        Ok(out)
    }
}

fn error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Ledger { path: path.display().to_string(), message: format!("budget store: {e}") }
}

/// Replace one call's reservation with what it spent; each counter's spend after.
fn settle_in(tx: &rusqlite::Transaction<'_>, s: &Settlement<'_>) -> rusqlite::Result<Vec<i64>> {
    let mut spent = Vec::with_capacity(s.charges.len());
    for c in s.charges {
        let now: Option<i64> = tx
            .query_row(
                "UPDATE budget_counters SET reserved = max(reserved - ?2, 0), spent = spent + ?3 WHERE key = ?1 RETURNING spent",
                params![c.key, s.reserved, s.actual],
                |r| r.get(0),
            )
            .optional()?;
        let now = match now {
            Some(n) => n,
            None => {
                tx.execute(
                    "INSERT INTO budget_counters (key, spent, reserved, expires_at_ms) VALUES (?1, ?2, 0, ?3)",
                    params![c.key, s.actual, c.expires_at_ms],
                )?;
                s.actual
            }
        };
        spent.push(now);
    }
    Ok(spent)
}

/// A counter's (spent, reserved); `None` when it does not exist yet.
fn read_counter(tx: &rusqlite::Transaction<'_>, key: &str) -> rusqlite::Result<Option<(i64, i64)>> {
    tx.query_row("SELECT spent, reserved FROM budget_counters WHERE key = ?1", [key], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .optional()
}

impl BudgetStore for SqliteStore {
    fn kind(&self) -> &'static str {
        "ledger"
    }

    fn reserve(&self, charges: &[Charge], amount: i64) -> Result<Reserved> {
        self.with(|ledger| {
            // The counters are assumed to exist (one query fewer per call);
            // the transaction finds out, and a counter seen for the first
            // time is seeded before the transaction is run again.
            let mut seeds = Vec::new();
            for first in [true, false] {
                let path = ledger.path().to_path_buf();
                let tx = ledger
                    .connection()
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .map_err(|e| error(&path, e))?;
                let run = || -> rusqlite::Result<Option<Reserved>> {
                    if !seeds.is_empty() {
                        let now = chrono::Utc::now().timestamp_millis();
                        tx.execute("DELETE FROM budget_counters WHERE expires_at_ms < ?1", [now])?;
                        for (i, spent) in &seeds {
                            let c: &Charge = &charges[*i];
                            tx.execute(
                                "INSERT OR IGNORE INTO budget_counters (key, spent, reserved, expires_at_ms) VALUES (?1, ?2, 0, ?3)",
                                params![c.key, spent, c.expires_at_ms],
                            )?;
                        }
                    }
                    let found = charges.iter().map(|c| read_counter(&tx, &c.key)).collect::<rusqlite::Result<Vec<_>>>()?;
                    if first && found.iter().any(Option::is_none) {
                        return Ok(None);
                    }
                    let current: Vec<(i64, i64)> = found.into_iter().map(|v| v.unwrap_or((0, 0))).collect();
                    if let Some(index) = first_over(charges, &current, amount) {
                        let (spent, reserved) = current[index];
                        return Ok(Some(Reserved::Over { index, spent, reserved }));
                    }
                    for c in charges {
                        tx.execute("UPDATE budget_counters SET reserved = reserved + ?2 WHERE key = ?1", params![c.key, amount])?;
                    }
                    Ok(Some(Reserved::Taken(current)))
                };
                let outcome = run().map_err(|e| error(&path, e))?;
                if let Some(outcome) = outcome {
                    tx.commit().map_err(|e| error(&path, e))?;
                    return Ok(outcome);
                }
                drop(tx); // rolled back: nothing was written
                seeds = Self::seeds(ledger, charges)?;
            }
            unreachable!("the second pass always decides")
        })
    }

    fn settle(&self, charges: &[Charge], reserved: i64, actual: i64) -> Result<Vec<i64>> {
        let mut out = self.settle_many(&[Settlement { charges, reserved, actual }]);
        out.pop().expect("one result per settlement")
    }

    /// One transaction for the whole batch (one commit, one lock taken).
    fn settle_many(&self, items: &[Settlement<'_>]) -> Vec<Result<Vec<i64>>> {
        let done = self.with(|ledger| {
            let path = ledger.path().to_path_buf();
            let tx = ledger
                .connection()
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(|e| error(&path, e))?;
            let spent = items
                .iter()
                .map(|s| settle_in(&tx, s).map_err(|e| error(&path, e)))
                .collect::<Result<Vec<_>>>()?;
            tx.commit().map_err(|e| error(&path, e))?;
            Ok(spent)
        });
        match done {
            Ok(spent) => spent.into_iter().map(Ok).collect(),
            Err(e) => items.iter().map(|_| Err(e.clone())).collect(),
        }
    }

    fn release(&self, charges: &[Charge], reserved: i64) -> Result<()> {
        self.with(|ledger| {
            let path = ledger.path().to_path_buf();
            let tx = ledger
                .connection()
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(|e| error(&path, e))?;
            for c in charges {
                tx.execute(
                    "UPDATE budget_counters SET reserved = max(reserved - ?2, 0) WHERE key = ?1",
                    params![c.key, reserved],
                )
                .map_err(|e| error(&path, e))?;
            }
            tx.commit().map_err(|e| error(&path, e))
        })
    }

    fn read(&self, charge: &Charge) -> Result<(i64, i64)> {
        self.with(|ledger| {
            let path = ledger.path().to_path_buf();
            let row: Option<(i64, i64)> = ledger
                .connection()
                .query_row("SELECT spent, reserved FROM budget_counters WHERE key = ?1", [&charge.key], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()
                .map_err(|e| error(&path, e))?;
            match (row, &charge.seed) {
                (Some(v), _) => Ok(v),
                (None, Some(s)) => Ok((seed::spent_in(ledger, s)?, 0)),
                (None, None) => Ok((0, 0)),
            }
        })
    }

    fn claim_alert(&self, charge: &Charge, percent: u32) -> Result<bool> {
        self.with(|ledger| {
            let path = ledger.path().to_path_buf();
            let claimed = ledger
                .connection()
                .execute(
                    "INSERT OR IGNORE INTO budget_alerts (key, percent, at) VALUES (?1, ?2, ?3)",
                    params![charge.key, percent, crate::event::now_rfc3339()],
                )
                .map_err(|e| error(&path, e))?;
            Ok(claimed == 1)
        })
    }
}

/// Record an alert in the ledger's `budget_alerts` table (the row the ledger
/// store claimed is completed; other stores' alerts are added).
pub fn record_alert(path: &Path, key: &str, alert: &Alert) -> Result<()> {
    let percent = if alert.exceeded { 1000 + alert.threshold_percent } else { alert.threshold_percent };
    let mut ledger = Ledger::open(path)?;
    let conn = ledger.connection();
    conn.execute_batch(SCHEMA).map_err(|e| error(path, e))?;
    conn.execute(
        "INSERT INTO budget_alerts (key, percent, at, budget, scope, period, limit_usd, spent_usd, exceeded) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
         ON CONFLICT (key, percent) DO UPDATE SET budget = ?4, scope = ?5, period = ?6, limit_usd = ?7, \
         spent_usd = ?8, exceeded = ?9",
        params![
            key,
            percent,
            crate::event::now_rfc3339(),
            alert.budget_name,
            alert.scope,
            alert.period_label,
            alert.limit_usd.to_string(),
            alert.spent_usd.to_string(),
            alert.exceeded
        ],
    )
    .map_err(|e| error(path, e))?;
    Ok(())
}

/// The alerts recorded in a ledger: (budget, period, percent, spent), oldest first.
pub fn recorded_alerts(path: &Path) -> Result<Vec<(String, String, u32, String)>> {
    let mut ledger = Ledger::open(path)?;
    let conn = ledger.connection();
    conn.execute_batch(SCHEMA).map_err(|e| error(path, e))?;
    let mut stmt = conn
        .prepare("SELECT coalesce(budget, key), coalesce(period, ''), percent % 1000, coalesce(spent_usd, '') FROM budget_alerts ORDER BY at")
        .map_err(|e| error(path, e))?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .map_err(|e| error(path, e))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|e| error(path, e))?;
    Ok(rows)
}
