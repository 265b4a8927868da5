//! The local ledger: one SQLite file that every process on the machine may share
//! (WAL journal, busy timeout). Events are written here first. The `outbox`
//! table lists the events still owed to a collector, so a collector outage
//! loses nothing and any later process using the same file sends what an
//! earlier one could not. Several exporters may work one outbox: each claims
//! its rows for a lease before posting them, so they rarely send twice (and
//! the collector dedupes on `event_id` when they do).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use rusqlite::config::DbConfig;
use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, Row};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;

use crate::event::{Event, Sdk};
use crate::{Error, Result};

mod dead_letters;
pub(crate) mod files;
mod summary;

pub use dead_letters::DeadLetter;
pub use files::{FileId, LedgerFiles};
pub use summary::LedgerSummary;

/// The schema this code writes. A file with a higher version was written by a
/// newer costline; we refuse it rather than guess at its columns.
pub const SCHEMA_VERSION: i64 = 1;

/// How long a statement waits for another process's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The WAL size past which a writer checkpoints: SQLite's default of 1000
/// pages of 4 KiB.
const WAL_CHECKPOINT_BYTES: u64 = 1000 * 4096;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    seq                      INTEGER PRIMARY KEY,
    event_id                 TEXT    NOT NULL UNIQUE,
    timestamp                TEXT    NOT NULL,
    timestamp_ms             INTEGER NOT NULL,
    provider                 TEXT    NOT NULL,
    operation                TEXT    NOT NULL,
    model                    TEXT    NOT NULL,
    resolved_model           TEXT,
    input_tokens             INTEGER NOT NULL,
    output_tokens            INTEGER NOT NULL,
    cached_input_tokens      INTEGER NOT NULL,
    cache_write_input_tokens INTEGER NOT NULL,
    reasoning_tokens         INTEGER NOT NULL,
    usage_source             TEXT    NOT NULL,
    cost_usd                 TEXT,
    cost_source              TEXT    NOT NULL,
    catalog_version          TEXT    NOT NULL,
    price_key                TEXT,
    latency_ms               INTEGER NOT NULL,
    stream                   INTEGER NOT NULL,
    status                   TEXT    NOT NULL,
    error_type               TEXT,
    run_id                   TEXT,
    agent                    TEXT,
    agent_path               TEXT    NOT NULL,
    tags                     TEXT    NOT NULL,
    sdk                      TEXT    NOT NULL,
    export_status            TEXT,
    call_id                  TEXT,
    attempt                  INTEGER
);
CREATE INDEX IF NOT EXISTS events_timestamp ON events (timestamp_ms);
CREATE INDEX IF NOT EXISTS events_run_id ON events (run_id);
CREATE TABLE IF NOT EXISTS outbox (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id         TEXT    NOT NULL UNIQUE,
    claimed_until_ms INTEGER NOT NULL DEFAULT 0
);
";

/// The wire fields in column order; `event_from_row` reads them in this order.
const EVENT_COLUMNS: &str = "event_id, timestamp, provider, operation, model, resolved_model, \
    input_tokens, output_tokens, cached_input_tokens, cache_write_input_tokens, reasoning_tokens, \
    usage_source, cost_usd, cost_source, catalog_version, price_key, latency_ms, stream, status, \
    error_type, run_id, agent, agent_path, tags, sdk, call_id, attempt";

/// `events.export_status` values. NULL means the event was written while no
/// collector was configured: it was never owed to one.
const EXPORT_PENDING: &str = "pending";
const EXPORT_DONE: &str = "exported";
const EXPORT_REJECTED: &str = "rejected";

/// An event claimed from the outbox, with its outbox position.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub seq: i64,
    pub event: Event,
}

/// How an export attempt ended for the events it carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportOutcome {
    /// The collector acknowledged them (2xx).
    Exported,
    /// The collector refused them for good (a 4xx that retrying cannot fix).
    Rejected,
}

pub struct Ledger {
    conn: Connection,
    path: PathBuf,
    /// The files this connection works on (see `files`).
    files: LedgerFiles,
    /// Whatever must live exactly as long as the connection (dropped after it).
    companion: Option<Box<dyn Send>>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").field("path", &self.path).finish()
    }
}

impl Ledger {
    /// Open (creating the file, its parent directories and the schema when
    /// needed) a ledger for reading and writing.
    pub fn open(path: &Path) -> Result<Ledger> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| ledger_error(path, e))?;
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let before = LedgerFiles::on_disk(path);
        let conn = Connection::open_with_flags(path, flags).map_err(|e| ledger_error(path, e))?;
        let mut ledger = Ledger { conn, path: path.to_path_buf(), files: before, companion: None };
        ledger.prepare_connection()?;
        ledger.ensure_schema()?;
        // The connection has its WAL open now: its identity comes from the
        // descriptor (see `files`). Without one (another VFS), from the path:
        // a file that existed before the open must still be the same one.
        let after = LedgerFiles::on_disk(path);
        ledger.files = LedgerFiles {
            db: before.db.or(after.db),
            wal: files::open_wal(&ledger.conn).or(before.wal).or(after.wal),
            shm: after.shm,
        };
        Ok(ledger)
    }

    /// Open a ledger that must already exist (the CLI's readers): a missing
    /// file is a clear error, not a new empty ledger.
    pub fn open_existing(path: &Path) -> Result<Ledger> {
        if !path.is_file() {
            return Err(ledger_error(
                path,
                "no ledger file here (nothing recorded yet? pass --ledger PATH or set COSTLINE_LEDGER)",
            ));
        }
        Ledger::open(path)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection itself, for the budget store's own tables (budget/sqlite.rs).
    pub(crate) fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// The identities of the files this connection opened.
    pub fn files(&self) -> LedgerFiles {
        self.files
    }

    /// Keep `companion` until this connection is closed (the pipeline counts
    /// the process's open connections with it).
    pub(crate) fn keep_until_closed(&mut self, companion: Box<dyn Send>) {
        self.companion = Some(companion);
    }

    /// True when the ledger's paths no longer name the files this connection
    /// works on: another SQLite library in the process deleted the WAL (see
    /// `files`), or the ledger was moved or deleted. What this connection
    /// writes from then on is invisible to everyone else; it must be closed
    /// and the writes done again through a new one.
    pub fn files_replaced(&self) -> bool {
        LedgerFiles::on_disk(&self.path) != self.files
    }

    /// `checkpoint` once the WAL holds about what SQLite's automatic
    /// checkpoint would let it (1000 pages). Call only after checking that
    /// `files_replaced` is false.
    pub fn checkpoint_if_due(&self) -> Result<bool> {
        let wal_size = std::fs::metadata(files::sibling(&self.path, "-wal")).map_or(0, |m| m.len());
        if wal_size < WAL_CHECKPOINT_BYTES {
            return Ok(false);
        }
        self.checkpoint().map(|()| true)
    }

    /// Copy what the WAL holds into the database file without waiting for
    /// readers or writers (`PASSIVE`). Connections never checkpoint on close
    /// (see `prepare_connection`), so a writer does it when it stops.
    pub fn checkpoint(&self) -> Result<()> {
        self.conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())).map_err(|e| self.error(e))
    }

    fn prepare_connection(&mut self) -> Result<()> {
        // Closing a connection must never checkpoint and delete the WAL: our
        // library cannot see another SQLite library's connections in this
        // process (the host app's), so "the last connection" may be wrong
        // and the WAL still in use. Writers checkpoint explicitly instead.
        self.conn
            .set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .map_err(|e| self.error(e))?;
        self.conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| self.error(e))?;
        // Changing the journal mode can report "busy" without consulting the
        // busy handler while another process is creating the same file, so
        // retry it for as long as any other statement would wait.
        let started = Instant::now();
        loop {
            let mode: rusqlite::Result<String> =
                self.conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0));
            match mode {
                Ok(_) => break,
                Err(e) if is_busy(&e) && started.elapsed() < BUSY_TIMEOUT => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Err(e) => return Err(self.error(e)),
            }
        }
        // WAL with synchronous=NORMAL stays consistent after a crash and only
        // the last commits can be lost on power failure; it avoids an fsync per batch.
        self.conn.pragma_update(None, "synchronous", "NORMAL").map_err(|e| self.error(e))?;
        // No automatic checkpoint inside a commit: a connection whose WAL was
        // deleted under it (see `files`) would copy that dead WAL into the live
        // database. `checkpoint_if_due` runs once the files were checked. A
        // WAL restarted after a checkpoint is truncated, so its size says how
        // much it holds.
        self.conn.pragma_update(None, "wal_autocheckpoint", 0).map_err(|e| self.error(e))?;
        self.conn.pragma_update(None, "journal_size_limit", 0).map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Create the tables on first use. An existing ledger is only read here,
    /// so opening one (a report, a new process) never waits for a writer.
    fn ensure_schema(&mut self) -> Result<()> {
        let version = match schema_version(&self.conn) {
            Some(version) => version,
            None => self.in_write_transaction(|tx| {
                // Another process may have created it while we waited for the lock.
                if let Some(version) = schema_version(tx) {
                    return Ok(version);
                }
                tx.execute_batch(SCHEMA)?;
                tx.execute("INSERT INTO schema_version (version) VALUES (?1)", [SCHEMA_VERSION])?;
                Ok(SCHEMA_VERSION)
            })?,
        };
        if version > SCHEMA_VERSION {
            return Err(self.error(format!(
                "schema version {version} was written by a newer costline (this one reads up to {SCHEMA_VERSION})"
            )));
        }
        self.ensure_call_columns()?;
        self.ensure_dead_letters_table()
    }

    /// `call_id` and `attempt` came after schema version 1: a ledger written before gets
    /// the two nullable columns added. Not a new version: older writers name their columns
    /// and leave these null, older readers never select them.
    fn ensure_call_columns(&mut self) -> Result<()> {
        let has = |conn: &Connection| -> rusqlite::Result<bool> {
            conn.query_row(
                "SELECT count(*) > 0 FROM pragma_table_info('events') WHERE name = 'call_id'",
                [],
                |r| r.get(0),
            )
        };
        if has(&self.conn).map_err(|e| self.error(e))? {
            return Ok(());
        }
        self.in_write_transaction(|tx| {
            if !has(tx)? {
                tx.execute_batch("ALTER TABLE events ADD COLUMN call_id TEXT; ALTER TABLE events ADD COLUMN attempt INTEGER;")?;
            }
            Ok(())
        })
    }

    /// Run `work` in one write transaction, taken at its start so that
    /// concurrent writers wait on the busy timeout instead of failing later.
    fn in_write_transaction<T>(
        &mut self,
        work: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| ledger_error(path, e))?;
        let value = work(&tx).map_err(|e| ledger_error(path, e))?;
        tx.commit().map_err(|e| ledger_error(path, e))?;
        Ok(value)
    }

    /// Write events in one transaction. `for_export` also queues them in the
    /// outbox for the collector. Idempotent on `event_id`: an event already in
    /// the ledger is skipped. Returns how many rows were new.
    pub fn insert(&mut self, events: &[Event], for_export: bool) -> Result<usize> {
        self.insert_settled(events, for_export, &HashMap::new())
    }

    /// `insert`, where the collector already answered for some events (sent
    /// from memory while the ledger could not take them): those are stored
    /// with that outcome and not queued for export again.
    pub fn insert_settled(
        &mut self,
        events: &[Event],
        for_export: bool,
        settled: &HashMap<String, ExportOutcome>,
    ) -> Result<usize> {
        self.in_write_transaction(|tx| {
            let mut insert_event = tx.prepare_cached(&format!(
                "INSERT OR IGNORE INTO events ({EVENT_COLUMNS}, timestamp_ms, export_status) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
                 ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29)"
            ))?;
            let mut insert_outbox =
                tx.prepare_cached("INSERT OR IGNORE INTO outbox (event_id) VALUES (?1)")?;
            let mut inserted = 0;
            for e in events {
                let answered = settled.get(&e.event_id).copied();
                let export_status = match answered {
                    Some(outcome) => Some(outcome_status(outcome)),
                    None => for_export.then_some(EXPORT_PENDING),
                };
                let changed = insert_event.execute(params![
                    e.event_id,
                    e.timestamp,
                    e.provider,
                    e.operation,
                    e.model,
                    e.resolved_model,
                    int(e.input_tokens),
                    int(e.output_tokens),
                    int(e.cached_input_tokens),
                    int(e.cache_write_input_tokens),
                    int(e.reasoning_tokens),
                    e.usage_source.as_str(),
                    e.cost_usd.map(|c| c.to_string()),
                    e.cost_source.as_str(),
                    e.catalog_version,
                    e.price_key,
                    int(e.latency_ms),
                    e.stream,
                    e.status.as_str(),
                    e.error_type,
                    e.run_id,
                    e.agent,
                    json_text(&e.agent_path),
                    json_text(&e.tags),
                    json_text(&e.sdk),
                    e.call_id,
                    e.attempt,
                    timestamp_millis(&e.timestamp),
                    export_status,
                ])?;
                if changed == 1 {
                    inserted += 1;
                    if for_export && answered.is_none() {
                        insert_outbox.execute([&e.event_id])?;
                    }
                }
            }
            Ok(inserted)
        })
    }

    /// The newest outbox position, or `None` when nothing was ever queued.
    pub fn last_outbox_seq(&self) -> Result<Option<i64>> {
        self.conn.query_row("SELECT max(seq) FROM outbox", [], |r| r.get(0)).map_err(|e| self.error(e))
    }

    /// True when no event at or before outbox position `seq` is still owed
    /// to the collector (by this process or any other sharing the file).
    pub fn outbox_settled_through(&self, seq: i64) -> Result<bool> {
        let oldest: Option<i64> = self
            .conn
            .query_row("SELECT min(seq) FROM outbox", [], |r| r.get(0))
            .map_err(|e| self.error(e))?;
        Ok(match oldest {
            Some(oldest) => oldest > seq,
            None => true,
        })
    }

    /// How many events are still owed to the collector.
    pub fn pending_export(&self) -> Result<u64> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))
            .map_err(|e| self.error(e))?;
        Ok(n.max(0) as u64)
    }

    /// Claim up to `limit` unclaimed outbox events (oldest first) for `lease`:
    /// other exporters skip them until the lease ends or they are finished.
    /// Rows that cannot be read back as events are settled as rejected so they
    /// never block the outbox.
    pub fn claim_for_export(&mut self, limit: usize, lease: Duration) -> Result<Vec<Outgoing>> {
        let now = now_millis();
        let until = now.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let (claimed, unreadable) = self.in_write_transaction(|tx| {
            let mut select = tx.prepare_cached(&format!(
                "SELECT o.seq, e.event_id IS NULL, {} FROM outbox o \
                 LEFT JOIN events e ON e.event_id = o.event_id \
                 WHERE o.claimed_until_ms <= ?1 ORDER BY o.seq LIMIT ?2",
                prefixed_columns("e.")
            ))?;
            let mut claimed = Vec::new();
            let mut unreadable = Vec::new();
            let mut rows = select.query(params![now, limit])?;
            while let Some(row) = rows.next()? {
                let seq: i64 = row.get(0)?;
                let missing: bool = row.get(1)?;
                if missing {
                    unreadable.push((seq, "its event row is missing".to_string()));
                    continue;
                }
                match event_from_row(row, 2) {
                    Ok(event) => claimed.push(Outgoing { seq, event }),
                    Err(message) => unreadable.push((seq, message)),
                }
            }
            let mut claim = tx.prepare_cached("UPDATE outbox SET claimed_until_ms = ?1 WHERE seq = ?2")?;
            for item in &claimed {
                claim.execute(params![until, item.seq])?;
            }
            let unreadable_seqs: Vec<i64> = unreadable.iter().map(|(seq, _)| *seq).collect();
            settle(tx, &unreadable_seqs, ExportOutcome::Rejected)?;
            Ok((claimed, unreadable))
        })?;
        for (seq, message) in unreadable {
            log::warn!(
                "costline: ledger {}: outbox entry {seq} is unreadable ({message}); not exported",
                self.path.display()
            );
        }
        Ok(claimed)
    }

    /// Settle claimed events: they leave the outbox, and the event rows
    /// remember whether the collector took them.
    pub fn finish_export(&mut self, seqs: &[i64], outcome: ExportOutcome) -> Result<()> {
        self.in_write_transaction(|tx| settle(tx, seqs, outcome))
    }

    /// Settle events by id, wherever they are: the collector answered for
    /// events sent from memory (the ledger was failing), which may have been
    /// written as pending since. Unknown ids are skipped.
    pub fn settle_events(&mut self, event_ids: &[String], outcome: ExportOutcome) -> Result<()> {
        self.in_write_transaction(|tx| {
            let mut mark = tx.prepare_cached("UPDATE events SET export_status = ?1 WHERE event_id = ?2")?;
            let mut remove = tx.prepare_cached("DELETE FROM outbox WHERE event_id = ?1")?;
            for id in event_ids {
                mark.execute(params![outcome_status(outcome), id])?;
                remove.execute([id])?;
            }
            Ok(())
        })
    }

    /// Give claimed events back (the attempt failed and will be retried), so
    /// any exporter may take them at once.
    pub fn release_claims(&mut self, seqs: &[i64]) -> Result<()> {
        self.in_write_transaction(|tx| {
            let mut release = tx.prepare_cached("UPDATE outbox SET claimed_until_ms = 0 WHERE seq = ?1")?;
            for seq in seqs {
                release.execute([seq])?;
            }
            Ok(())
        })
    }

    /// Visit the events at or after `since_ms` (Unix milliseconds), oldest
    /// first, without loading them all at once. The visitor may stop early.
    pub fn for_each_event(
        &self,
        since_ms: Option<i64>,
        mut visit: impl FnMut(Event) -> ControlFlow<()>,
    ) -> Result<()> {
        let mut select = self
            .conn
            .prepare(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE timestamp_ms >= ?1 ORDER BY timestamp_ms, seq"
            ))
            .map_err(|e| self.error(e))?;
        let mut rows = select.query([since_ms.unwrap_or(i64::MIN)]).map_err(|e| self.error(e))?;
        while let Some(row) = rows.next().map_err(|e| self.error(e))? {
            let event = event_from_row(row, 0).map_err(|m| self.error(m))?;
            if visit(event).is_break() {
                break;
            }
        }
        Ok(())
    }

    pub fn count_events(&self) -> Result<u64> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .map_err(|e| self.error(e))?;
        Ok(n.max(0) as u64)
    }

    /// The collector status of one event: `None` when it was never owed to a
    /// collector, else "pending", "exported" or "rejected".
    pub fn export_status(&self, event_id: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT export_status FROM events WHERE event_id = ?1", [event_id], |r| r.get(0))
            .optional()
            .map(Option::flatten)
            .map_err(|e| self.error(e))
    }

    /// Cap this connection's file size at `pages` pages (SQLite's
    /// `max_page_count`); writes past it fail as on a full disk. Returns the
    /// cap in effect, which is never below the file's current size.
    pub fn set_max_page_count(&self, pages: u64) -> Result<u64> {
        self.conn
            .pragma_update_and_check(None, "max_page_count", pages, |r| r.get::<_, i64>(0))
            .map(|n| n.max(0) as u64)
            .map_err(|e| self.error(e))
    }

    fn error(&self, e: impl Display) -> Error {
        ledger_error(&self.path, e)
    }
}

/// The recorded schema version; `None` for a new, empty file.
fn schema_version(conn: &Connection) -> Option<i64> {
    conn.query_row("SELECT max(version) FROM schema_version", [], |r| r.get(0)).ok().flatten()
}

fn outcome_status(outcome: ExportOutcome) -> &'static str {
    match outcome {
        ExportOutcome::Exported => EXPORT_DONE,
        ExportOutcome::Rejected => EXPORT_REJECTED,
    }
}

fn settle(tx: &rusqlite::Transaction<'_>, seqs: &[i64], outcome: ExportOutcome) -> rusqlite::Result<()> {
    let status = outcome_status(outcome);
    let mut mark = tx.prepare_cached(
        "UPDATE events SET export_status = ?1 WHERE event_id = (SELECT event_id FROM outbox WHERE seq = ?2)",
    )?;
    let mut remove = tx.prepare_cached("DELETE FROM outbox WHERE seq = ?1")?;
    for seq in seqs {
        mark.execute(params![status, seq])?;
        remove.execute([seq])?;
    }
    Ok(())
}

fn ledger_error(path: &Path, e: impl Display) -> Error {
    Error::Ledger { path: path.display().to_string(), message: e.to_string() }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked))
}

fn prefixed_columns(prefix: &str) -> String {
    EVENT_COLUMNS.split(", ").map(|c| format!("{prefix}{c}")).collect::<Vec<_>>().join(", ")
}

fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Unix milliseconds of an RFC 3339 timestamp, for range queries. Events are
/// validated before they reach the ledger, so the fallback is never expected.
fn timestamp_millis(timestamp: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(timestamp).map(|t| t.timestamp_millis()).unwrap_or(0)
}

/// SQLite integers are signed; token counts beyond i64 are not real usage.
fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn json_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("strings, lists and maps always serialise")
}

/// Read the event whose `EVENT_COLUMNS` start at column `at`.
fn event_from_row(row: &Row<'_>, at: usize) -> std::result::Result<Event, String> {
    let col = |i: usize| at + i;
    let s = |i: usize| row.get::<_, String>(col(i)).map_err(|e| e.to_string());
    let opt = |i: usize| row.get::<_, Option<String>>(col(i)).map_err(|e| e.to_string());
    let count = |i: usize| {
        let n: i64 = row.get(col(i)).map_err(|e| e.to_string())?;
        u64::try_from(n).map_err(|_| format!("negative count {n} in column {}", col(i)))
    };
    let cost_usd = match opt(12)? {
        None => None,
        Some(text) => Some(Decimal::from_str(&text).map_err(|e| format!("cost_usd {text:?}: {e}"))?),
    };
    Ok(Event {
        event_id: s(0)?,
        timestamp: s(1)?,
        provider: s(2)?,
        operation: s(3)?,
        model: s(4)?,
        resolved_model: opt(5)?,
        input_tokens: count(6)?,
        output_tokens: count(7)?,
        cached_input_tokens: count(8)?,
        cache_write_input_tokens: count(9)?,
        reasoning_tokens: count(10)?,
        usage_source: enum_from_text(&s(11)?)?,
        cost_usd,
        cost_source: enum_from_text(&s(13)?)?,
        catalog_version: s(14)?,
        price_key: opt(15)?,
        latency_ms: count(16)?,
        stream: row.get::<_, i64>(col(17)).map_err(|e| e.to_string())? != 0,
        status: enum_from_text(&s(18)?)?,
        error_type: opt(19)?,
        run_id: opt(20)?,
        agent: opt(21)?,
        agent_path: from_json_text(&s(22)?)?,
        tags: from_json_text::<BTreeMap<String, String>>(&s(23)?)?,
        sdk: from_json_text::<Sdk>(&s(24)?)?,
        call_id: opt(25)?,
        attempt: row.get::<_, Option<u32>>(col(26)).map_err(|e| e.to_string())?,
    })
}

/// The wire enums (usage_source, cost_source, status) are stored as their
/// wire strings; serde already knows the mapping back.
fn enum_from_text<T: DeserializeOwned>(text: &str) -> std::result::Result<T, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).map_err(|e| format!("{text:?}: {e}"))
}

fn from_json_text<T: DeserializeOwned>(text: &str) -> std::result::Result<T, String> {
    serde_json::from_str(text).map_err(|e| format!("{text:?}: {e}"))
}
