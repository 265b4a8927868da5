//! A call shape's plan: what every call of one model, through one provider, by
//! one agent path needs from the engine, worked out on the first such call of a
//! period and shared by the rest: the budgets it is charged against in their
//! current periods (with their counters as the store takes them), the model's
//! flat rates and its vocabulary. A reservation is then one lookup, a count of
//! the prompt and a few additions.
//!
//! Why a cache for what is only a few comparisons: a reservation runs right
//! after the caller's own work has pushed costline's code and data out of the
//! CPU caches, so what it costs is mostly how much of both it touches. Matching
//! budgets, finding their periods, looking the model's rates and vocabulary up,
//! and copying the counters each call read code and data from all over; a plan
//! is one small list read under one lock.
//!
//! Plans are not kept when some budget filters on tags: which budgets match
//! then depends on each call's tags, and a plan is built for the call alone.

use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

use super::engine::{Engine, Subject, Target};
use super::estimate::FlatRates;
use super::period::Period;
use super::spec::Action;
use super::store::Charge;
use crate::attribution::Tags;
use crate::tokens::{self, Encoding};

pub(super) struct Plan {
    provider: Box<str>,
    model: Box<str>,
    agent_path: Box<[Box<str>]>,
    /// The catalog generation the rates were read in.
    catalog: u64,
    /// While the clock is in `[from_ms, until_ms)`, every budget is in the period planned for.
    from_ms: i64,
    until_ms: i64,
    /// The budgets whose counters are in the shared store, in their current periods.
    pub(super) shared: Vec<Target>,
    /// Their counters, as the store takes them.
    pub(super) charges: Vec<Charge>,
    /// Some shared budget blocks, and every blocking one meters streams as they go.
    pub(super) blocks: bool,
    pub(super) all_blocking_meter_streams: bool,
    /// `None`: the model has tiered or unknown rates (priced in decimals per call).
    pub(super) flat: Option<FlatRates>,
    pub(super) encoding: Encoding,
}

/// Plans kept; past it the list starts over (an app has a handful of models and agents).
const PLANS_KEPT: usize = 64;

/// The plans of the call shapes seen, newest last.
#[derive(Default)]
pub(super) struct Plans(Mutex<Vec<Arc<Plan>>>);

impl Plans {
    /// The list, unless another thread holds it: the caller then works its plan out
    /// alone rather than wait (a lock that `fork()` left held in a child is never
    /// released, and a plan is only ever a shortcut).
    fn try_lock(&self) -> Option<MutexGuard<'_, Vec<Arc<Plan>>>> {
        match self.0.try_lock() {
            Ok(guard) => Some(guard),
            Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }
}

impl Plan {
    fn fits(&self, call: &Subject<'_>, now_ms: i64, catalog: u64) -> bool {
        self.from_ms <= now_ms
            && now_ms < self.until_ms
            && self.catalog == catalog
            && *self.model == *call.model
            && *self.provider == *call.provider
            && self.agent_path.len() == call.agent_path.len()
            && self.agent_path.iter().zip(call.agent_path).all(|(kept, given)| **kept == **given)
    }
}

impl Engine {
    /// The plan for `call` at `now_ms`. `tags`: the call's merged tags, given
    /// when some budget filters on them (the plan is then the call's alone).
    pub(super) fn plan(&self, call: &Subject<'_>, tags: Option<&Tags>, now_ms: i64) -> Arc<Plan> {
        // Read before the catalog itself: prices replaced meanwhile make the plan stale, never wrong.
        let catalog = crate::catalog::generation();
        if tags.is_some() {
            return Arc::new(self.build_plan(call, tags, now_ms, catalog));
        }
        let found = self
            .plans
            .try_lock()
            .and_then(|plans| plans.iter().rev().find(|p| p.fits(call, now_ms, catalog)).cloned());
        if let Some(plan) = found {
            return plan;
        }
        let plan = Arc::new(self.build_plan(call, None, now_ms, catalog));
        if let Some(mut plans) = self.plans.try_lock() {
            plans.retain(|p| p.catalog == catalog && now_ms < p.until_ms);
            if plans.len() >= PLANS_KEPT {
                plans.clear();
            }
            plans.push(plan.clone());
        }
        plan
    }

    fn build_plan(&self, call: &Subject<'_>, tags: Option<&Tags>, now_ms: i64, catalog: u64) -> Plan {
        let untagged = Tags::new();
        let mut shared = Vec::new();
        let (mut from_ms, mut until_ms) = (i64::MIN, i64::MAX);
        for (index, budget) in self.budgets.iter().enumerate() {
            if budget.period == Period::Run || !budget.matches(call.agent_path, tags.unwrap_or(&untagged)) {
                continue;
            }
            let (target, start_ms, end_ms) = self.period_window(index, now_ms);
            from_ms = from_ms.max(start_ms);
            until_ms = until_ms.min(end_ms.unwrap_or(i64::MAX));
            shared.push(target);
        }
        let blocking = || shared.iter().filter(|t| t.budget.action == Action::Block);
        Plan {
            provider: call.provider.into(),
            model: call.model.into(),
            agent_path: call.agent_path.iter().map(|&a| a.into()).collect(),
            catalog,
            from_ms,
            until_ms,
            charges: shared.iter().map(|t| t.charge.clone()).collect(),
            blocks: blocking().next().is_some(),
            all_blocking_meter_streams: blocking().all(|t| t.budget.enforce_stream),
            shared,
            flat: FlatRates::of(call.provider, call.model),
            encoding: tokens::encoding_for_model(call.model),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::engine::{build, FailMode, Settings, StoreChoice};
    use crate::budget::spec::Budget;
    use rust_decimal::Decimal;

    fn call<'a>(agent_path: &'a [&'a str], tags: &'a dyn Fn() -> [Tags; 2]) -> Subject<'a> {
        Subject {
            provider: "openai",
            operation: "chat",
            model: "gpt-4o",
            stream: false,
            run_id: None,
            agent: agent_path.last().copied(),
            agent_path,
            tags,
        }
    }

    #[test]
    fn a_plan_serves_its_period_and_the_next_period_gets_its_own() {
        let hourly = Budget::new(Decimal::from(5), Period::Hour);
        let settings = Settings {
            budgets: vec![hourly],
            store: StoreChoice::Memory,
            fail_mode: FailMode::Open,
            ledger: None,
        };
        let engine = build(settings).unwrap();
        let no_tags = || [Tags::new(), Tags::new()];
        let subject = call(&[], &no_tags);
        // 2026-12-02 10:59:59.000 UTC, then one and two seconds later (the next hour).
        let before = 1_796_209_199_000;
        let first = engine.plan(&subject, None, before);
        assert!(Arc::ptr_eq(&first, &engine.plan(&subject, None, before + 500)));
        let next = engine.plan(&subject, None, before + 1_000);
        assert!(!Arc::ptr_eq(&first, &next));
        assert_eq!(&*first.shared[0].label, "2026-12-02T10");
        assert_eq!(&*next.shared[0].label, "2026-12-02T11");
        assert_ne!(first.charges[0].key, next.charges[0].key);
        assert!(Arc::ptr_eq(&next, &engine.plan(&subject, None, before + 2_000)));
    }
}
