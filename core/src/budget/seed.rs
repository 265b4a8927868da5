//! What a budget already spent this period, counted from the ledger's events:
//! a store that first sees a counter starts from here, so a restarted process
//! does not forget the month's spend.

use std::ops::ControlFlow;
use std::path::Path;

use super::store::Seed;
use super::units;
use crate::ledger::Ledger;
use crate::Result;

/// Sum of the costs of the ledger's events that `seed.budget` matches since
/// `seed.start_ms`, in nano-dollars. A missing ledger has spent nothing.
pub fn spent_in_ledger(path: &Path, seed: &Seed) -> Result<i64> {
    if !path.is_file() {
        return Ok(0);
    }
    let ledger = Ledger::open(path)?;
    spent_in(&ledger, seed)
}

pub fn spent_in(ledger: &Ledger, seed: &Seed) -> Result<i64> {
    let mut total: i64 = 0;
    let since = (seed.start_ms > i64::MIN).then_some(seed.start_ms);
    ledger.for_each_event(since, |event| {
        if let Some(cost) = event.cost_usd {
            if seed.budget.matches(&event.agent_path, &event.tags) {
                total = total.saturating_add(units::to_nanos_ceil(cost).unwrap_or(0));
            }
        }
        ControlFlow::Continue(())
    })?;
    Ok(total)
}
