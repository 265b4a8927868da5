//! The one interface every budget store implements: in-memory (one process),
//! the SQLite ledger (processes on one machine), Redis (a fleet); a collector
//! policy feed can slot in later. Amounts are nano-dollars (see `units`).
//!
//! Stores hold counters only: per budget and period, what was spent and what
//! is reserved by calls in flight. Which counters a call touches, and what the
//! amounts are, is decided by the engine (`mod.rs`).

use std::sync::Arc;

use super::spec::Budget;
use crate::Result;

/// One budget counter a call is charged against.
#[derive(Debug, Clone)]
pub struct Charge {
    /// Unique per budget and period (`<budget name>@<period label>`); shared, not
    /// copied, by every call charged in the period.
    pub key: Arc<str>,
    pub limit: i64,
    /// A blocking budget refuses a reservation that would pass its limit; a
    /// warning one takes it anyway.
    pub block: bool,
    /// When the period ends (Unix ms): counters may be dropped after it.
    pub expires_at_ms: Option<i64>,
    /// How to count what was already spent in this period before the store
    /// first saw the counter (stores seeded from the ledger use it).
    pub seed: Option<Seed>,
}

#[derive(Debug, Clone)]
pub struct Seed {
    pub budget: Arc<Budget>,
    pub start_ms: i64,
}

/// What a reservation found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reserved {
    /// Taken: each counter's (spent, reserved) before it.
    Taken(Vec<(i64, i64)>),
    /// Refused (nothing changed): the first blocking counter it would pass.
    Over { index: usize, spent: i64, reserved: i64 },
}

/// One call's settlement: its reservation of `reserved` on `charges` replaced by `actual`.
#[derive(Debug, Clone, Copy)]
pub struct Settlement<'a> {
    pub charges: &'a [Charge],
    pub reserved: i64,
    pub actual: i64,
}

pub trait BudgetStore: Send + Sync {
    /// `memory`, `ledger` or `redis`.
    fn kind(&self) -> &'static str;

    /// Atomically, across every process sharing the store: when no blocking
    /// counter would pass its limit (spent + reserved + amount > limit), add
    /// `amount` to every counter's reserved; otherwise change nothing.
    fn reserve(&self, charges: &[Charge], amount: i64) -> Result<Reserved>;

    /// Replace a reservation of `reserved` with the actual spend; returns each
    /// counter's spend afterwards (for alerts).
    fn settle(&self, charges: &[Charge], reserved: i64, actual: i64) -> Result<Vec<i64>>;

    /// Several settlements at once (the background settler's batch), each with
    /// its own result: one round trip or one transaction where the store can.
    fn settle_many(&self, items: &[Settlement<'_>]) -> Vec<Result<Vec<i64>>> {
        items.iter().map(|s| self.settle(s.charges, s.reserved, s.actual)).collect()
    }

    /// Give back a reservation (the call cost nothing, or never happened).
    fn release(&self, charges: &[Charge], reserved: i64) -> Result<()>;

    /// (spent, reserved) of one counter.
    fn read(&self, charge: &Charge) -> Result<(i64, i64)>;

    /// True the first time an alert at `percent` is claimed for this counter
    /// (once per period, across everyone sharing the store).
    fn claim_alert(&self, charge: &Charge, percent: u32) -> Result<bool>;
}

/// The check every store makes, in one place: the first blocking counter that
/// `amount` more would take past its limit.
pub fn first_over(charges: &[Charge], current: &[(i64, i64)], amount: i64) -> Option<usize> {
    charges.iter().zip(current).position(|(c, (spent, reserved))| would_pass(c, *spent, *reserved, amount))
}

/// True when `amount` more would take a blocking counter past its limit.
pub fn would_pass(charge: &Charge, spent: i64, reserved: i64, amount: i64) -> bool {
    charge.block && spent.saturating_add(reserved).saturating_add(amount) > charge.limit
}
