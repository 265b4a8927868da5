//! The in-process store: counters behind one mutex, held only for the few
//! additions of a reservation (no I/O under it). Counters a process has not
//! seen yet start from what the ledger recorded in their period.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rustc_hash::{FxHashMap, FxHashSet};

use super::seed;
use super::store::{would_pass, BudgetStore, Charge, Reserved};
use crate::Result;

#[derive(Debug, Default, Clone, Copy)]
struct Counter {
    spent: i64,
    reserved: i64,
    expires_at_ms: Option<i64>,
}

#[derive(Default)]
struct State {
    counters: FxHashMap<Arc<str>, Counter>,
    alerts: FxHashSet<(Arc<str>, u32)>,
}

pub struct MemoryStore {
    /// Where to seed new counters from; `None` starts them at zero.
    ledger: Option<PathBuf>,
    state: Mutex<State>,
}

impl MemoryStore {
    pub fn new(ledger: Option<PathBuf>) -> MemoryStore {
        MemoryStore { ledger, state: Mutex::new(State::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Create the counters `charges` name that do not exist yet, seeded from
    /// the ledger outside the lock.
    fn ensure(&self, charges: &[Charge]) -> Result<()> {
        let missing: Vec<&Charge> = {
            let state = self.lock();
            charges.iter().filter(|c| !state.counters.contains_key(&*c.key)).collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let mut seeded = Vec::with_capacity(missing.len());
        for charge in missing {
            let spent = match (&self.ledger, &charge.seed) {
                (Some(path), Some(s)) => seed::spent_in_ledger(path, s).unwrap_or_else(|e| {
                    crate::log_once::warn(&format!("budget-seed\u{0}{e}"), || {
                        format!(
                            "costline: budget {} starts from zero: the ledger could not be read: {e}",
                            charge.key
                        )
                    });
                    0
                }),
                _ => 0,
            };
            seeded.push((charge, spent));
        }
        let now = chrono::Utc::now().timestamp_millis();
        let mut state = self.lock();
        // Counters of periods that are over are never charged again.
        state.counters.retain(|_, c| c.expires_at_ms.is_none_or(|end| end > now));
        for (charge, spent) in seeded {
            state.counters.entry(charge.key.clone()).or_insert(Counter {
                spent,
                reserved: 0,
                expires_at_ms: charge.expires_at_ms,
            });
        }
        Ok(())
    }

    /// Forget counters (a run that ended).
    pub fn forget(&self, key_prefix: &str) {
        self.lock().counters.retain(|k, _| !k.starts_with(key_prefix));
    }
}

/// Reserve `amount` on every counter of `charges` in one pass (one lookup per
/// counter), undoing what was taken when one would pass its limit. `None`: a
/// counter does not exist yet and `create` is false (nothing changed).
fn take(state: &mut State, charges: &[Charge], amount: i64, create: bool) -> Option<Reserved> {
    let mut before = Vec::with_capacity(charges.len());
    for (index, charge) in charges.iter().enumerate() {
        let counter = match state.counters.get_mut(&*charge.key) {
            Some(counter) => counter,
            None if create => state
                .counters
                .entry(charge.key.clone())
                .or_insert(Counter { expires_at_ms: charge.expires_at_ms, ..Counter::default() }),
            None => {
                undo(state, &charges[..index], &before);
                return None;
            }
        };
        let (spent, reserved) = (counter.spent, counter.reserved);
        if would_pass(charge, spent, reserved, amount) {
            undo(state, &charges[..index], &before);
            return Some(Reserved::Over { index, spent, reserved });
        }
        counter.reserved = reserved.saturating_add(amount);
        before.push((spent, reserved));
    }
    Some(Reserved::Taken(before))
}

/// Put back what `take` reserved on `charges` (their reserved amounts before it).
fn undo(state: &mut State, charges: &[Charge], before: &[(i64, i64)]) {
    for (charge, (_, reserved)) in charges.iter().zip(before) {
        if let Some(counter) = state.counters.get_mut(&*charge.key) {
            counter.reserved = *reserved;
        }
    }
}

impl BudgetStore for MemoryStore {
    fn kind(&self) -> &'static str {
        "memory"
    }

    fn reserve(&self, charges: &[Charge], amount: i64) -> Result<Reserved> {
        if let Some(done) = take(&mut self.lock(), charges, amount, false) {
            return Ok(done);
        }
        // A counter seen for the first time: seed it without the lock held.
        self.ensure(charges)?;
        Ok(take(&mut self.lock(), charges, amount, true).unwrap_or(Reserved::Taken(Vec::new())))
    }

    fn settle(&self, charges: &[Charge], reserved: i64, actual: i64) -> Result<Vec<i64>> {
        let mut state = self.lock();
        Ok(charges
            .iter()
            .map(|c| {
                let counter = state.counters.entry(c.key.clone()).or_default();
                counter.reserved = (counter.reserved - reserved).max(0);
                counter.spent = counter.spent.saturating_add(actual);
                counter.spent
            })
            .collect())
    }

    fn release(&self, charges: &[Charge], reserved: i64) -> Result<()> {
        let mut state = self.lock();
        for c in charges {
            if let Some(counter) = state.counters.get_mut(&*c.key) {
                counter.reserved = (counter.reserved - reserved).max(0);
            }
        }
        Ok(())
    }

    fn read(&self, charge: &Charge) -> Result<(i64, i64)> {
        self.ensure(std::slice::from_ref(charge))?;
        Ok(self.lock().counters.get(&*charge.key).map_or((0, 0), |c| (c.spent, c.reserved)))
    }

    fn claim_alert(&self, charge: &Charge, percent: u32) -> Result<bool> {
        Ok(self.lock().alerts.insert((charge.key.clone(), percent)))
    }
}
