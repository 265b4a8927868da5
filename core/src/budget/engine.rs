//! The budget engine: which budgets a call matches, its worst case, the
//! reservation against every matching counter, settling, alerts, the fail
//! mode when the shared store is unreachable, and the status report.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;
use rust_decimal::Decimal;
use rustc_hash::FxHashSet;
use serde_json::Value;

use super::alert::{self, Alert};
use super::estimate;
use super::memory::MemoryStore;
use super::period::{self, Period, Zone};
use super::plan::Plans;
use super::redis::RedisStore;
pub use super::reservation::Reservation;
use super::reservation::{StreamMeter, STREAM_STEP_TOKENS};
use super::spec::{Action, Budget};
use super::sqlite::{self, SqliteStore};
use super::store::{BudgetStore, Charge, Reserved, Seed};
use super::units;
use crate::attribution;
use crate::event::Status;
use crate::recorder::{self, Call, CallUsage};
use crate::tokens::Encoding;
use crate::{log_once, Error, Result};

/// What to do when the shared store (Redis) cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailMode {
    /// Let calls through (logged once per outage).
    Open,
    /// Refuse calls with `BudgetExceededError` while the store is down.
    Closed,
}

impl FailMode {
    pub fn parse(text: &str) -> Result<FailMode> {
        match text.trim().to_ascii_lowercase().as_str() {
            "open" | "" => Ok(FailMode::Open),
            "closed" => Ok(FailMode::Closed),
            other => Err(Error::Config(format!("budget_fail_mode must be open or closed, not {other:?}"))),
        }
    }
}

/// Where the counters live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    /// This process only, seeded from the ledger.
    Memory,
    /// The SQLite ledger: every process on the machine using the same file.
    Ledger,
    /// Redis at this URL: a fleet.
    Redis(String),
}

impl StoreChoice {
    /// The default: Redis when a URL is set, else the ledger when there is
    /// one (other processes may share it), else memory.
    pub fn default_for(redis_url: Option<&str>, ledger: Option<&PathBuf>) -> StoreChoice {
        match (redis_url.filter(|u| !u.is_empty()), ledger) {
            (Some(url), _) => StoreChoice::Redis(url.to_string()),
            (None, Some(_)) => StoreChoice::Ledger,
            (None, None) => StoreChoice::Memory,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub budgets: Vec<Budget>,
    pub store: StoreChoice,
    pub fail_mode: FailMode,
    /// The ledger file: seeds new counters, holds the `ledger` store and the alert records.
    pub ledger: Option<PathBuf>,
}

/// A cap on one run (`run(max_cost_usd=...)`): `id` is unique to the run frame.
#[derive(Debug, Clone)]
pub struct RunCap {
    pub id: String,
    pub limit_usd: Decimal,
}

pub(super) struct Engine {
    pub(super) budgets: Vec<Arc<Budget>>,
    /// Each budget's current period as a ready target (counter key, limit),
    /// built once per period: calls in the period share it, copying nothing.
    windows: Vec<ArcSwapOption<Window>>,
    /// True when some budget filters on tags (only then are a call's tags merged).
    filters_tags: bool,
    pub(super) store: Arc<dyn BudgetStore>,
    /// Run caps and `run` budgets.
    pub(super) runs: Arc<MemoryStore>,
    pub(super) fail_mode: FailMode,
    ledger: Option<PathBuf>,
    /// Set while the store is failing: the outage is logged once.
    outage: AtomicBool,
    /// Alerts this process already saw claimed (no store round trip for them again).
    alerted: Mutex<FxHashSet<(Arc<str>, u32)>>,
    /// What each call shape is charged against, at what rates (see `plan.rs`).
    pub(super) plans: Plans,
}

/// A budget's target for the period from `start_ms` to `end_ms`.
struct Window {
    start_ms: i64,
    end_ms: Option<i64>,
    target: Target,
}

pub(super) static ENGINE: ArcSwapOption<Engine> = ArcSwapOption::const_empty();

/// Install budgets (replacing any before). With none, only run caps
/// (`RunCap`) are checked, and [`is_active`] is false so that the language
/// layers skip budget work for calls outside capped runs.
pub fn configure(settings: Settings) -> Result<()> {
    let engine = build(settings)?;
    STORE_WAITS.store(!engine.budgets.is_empty() && engine.store.kind() != "memory", Ordering::Relaxed);
    STORE_QUICK.store(false, Ordering::Relaxed);
    ENGINE.store(Some(Arc::new(engine)));
    Ok(())
}

/// See [`store_waits`]: set with the engine, read on every call without loading it.
static STORE_WAITS: AtomicBool = AtomicBool::new(false);

/// See [`reserve_may_wait`]: the last reservation from the store came within [`QUICK`].
static STORE_QUICK: AtomicBool = AtomicBool::new(false);
/// A store reservation slower than this (the Redis client's polling window)
/// sends the next ones off an event loop.
const QUICK: std::time::Duration = super::resp::SPIN;

pub(super) fn build(settings: Settings) -> Result<Engine> {
    let budgets =
        settings.budgets.into_iter().map(|b| b.validated().map(Arc::new)).collect::<Result<Vec<_>>>()?;
    let store: Arc<dyn BudgetStore> = match &settings.store {
        _ if budgets.is_empty() => Arc::new(MemoryStore::new(None)),
        StoreChoice::Memory => Arc::new(MemoryStore::new(settings.ledger.clone())),
        StoreChoice::Ledger => match &settings.ledger {
            Some(path) => Arc::new(SqliteStore::new(path.clone())),
            None => {
                return Err(Error::Config(
                    "budget_store=\"ledger\" needs a ledger (COSTLINE_LEDGER is off)".into(),
                ))
            }
        },
        StoreChoice::Redis(url) => Arc::new(RedisStore::new(url)?),
    };
    Ok(Engine::assemble(budgets, store, settings.fail_mode, settings.ledger))
}

/// Turn budgets off.
pub fn clear() {
    ENGINE.store(None);
    STORE_WAITS.store(false, Ordering::Relaxed);
    STORE_QUICK.store(false, Ordering::Relaxed);
}

/// True when budgets are configured (the hot path asks once per call).
pub fn is_active() -> bool {
    ENGINE.load().as_ref().is_some_and(|e| !e.budgets.is_empty())
}

/// True when a reservation may wait on I/O (budgets held in the ledger or
/// Redis): the language layers then release their interpreter lock around it.
/// In memory (or with only run caps) a reservation is a few additions.
pub fn store_waits() -> bool {
    STORE_WAITS.load(Ordering::Relaxed)
}

/// True when the next reservation may wait long: the store is the ledger or
/// Redis and its last reservation was slow or failed, or none was made yet.
/// An event loop (Node) then reserves on a worker thread. While the store
/// answers within [`QUICK`] (a Redis on loopback or in the same rack), the
/// reservation is made inline: handing it to a worker and back costs more.
pub fn reserve_may_wait() -> bool {
    store_waits() && !STORE_QUICK.load(Ordering::Relaxed)
}

/// Call in a child process right after `fork()`. Counters kept in memory are the
/// process's own: the parent's reservations in flight settle in the parent,
/// never here, and a lock one of its threads held at the fork would never be
/// released. The child gets an engine of its own with the same budgets, fresh
/// counters in memory (seeded from the ledger on first use, as in a new
/// process) and the same shared store (the ledger and Redis stores reconnect
/// after a fork). The parent's engine is abandoned as it is (leaked: its
/// destructors could block on those locks or close the parent's connections).
pub fn after_fork_child() {
    let Some(parent) = ENGINE.load_full() else { return };
    ENGINE.store(Some(Arc::new(parent.for_child())));
    std::mem::forget(parent);
}

/// Forget a finished run's counters (its caps and `run` budgets).
pub fn forget_run(run_id: &str, caps: &[String]) {
    if let Some(engine) = ENGINE.load_full() {
        engine.runs.forget(&format!("@run:{run_id}"));
        for cap in caps {
            engine.runs.forget(&format!("cap:{cap}"));
        }
    }
}

/// Why a call was refused: the cap it would pass, and by how much.
#[derive(Debug, Clone, PartialEq)]
pub struct Exceeded {
    pub scope: &'static str,
    pub period: &'static str,
    pub limit_usd: Decimal,
    pub spent_usd: Decimal,
    pub reserved_usd: Decimal,
    pub attempted_usd: Decimal,
    pub agent: Option<String>,
    pub budget_name: String,
    /// Set when the store was unreachable and `budget_fail_mode` is closed.
    pub store_error: Option<String>,
}

impl std::fmt::Display for Exceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(e) = &self.store_error {
            return write!(
                f,
                "budget {} ({} {}, limit ${}) cannot be checked: the budget store is unreachable ({e}); \
                 budget_fail_mode=closed blocks the call",
                self.budget_name, self.scope, self.period, self.limit_usd
            );
        }
        let over = self.spent_usd + self.reserved_usd + self.attempted_usd - self.limit_usd;
        write!(
            f,
            "budget {} ({} {}) would be exceeded by ${}: limit ${}, spent ${}, reserved by calls in flight ${}, \
             this call's worst case ${}",
            self.budget_name,
            self.scope,
            self.period,
            over.normalize(),
            self.limit_usd.normalize(),
            self.spent_usd.normalize(),
            self.reserved_usd.normalize(),
            self.attempted_usd.normalize()
        )
    }
}

/// A budget or run cap one call is charged against.
#[derive(Clone)]
pub(super) struct Target {
    pub(super) budget: Arc<Budget>,
    pub(super) label: Arc<str>,
    pub(super) charge: Charge,
}

const RUN_CAP_ALERTS: [u32; 0] = [];

/// Who a call is, as budgets match it: borrowed from the language layer, so
/// that a call's reservation copies none of its attribution.
pub struct Subject<'a> {
    pub provider: &'a str,
    pub operation: &'a str,
    pub model: &'a str,
    pub stream: bool,
    pub run_id: Option<&'a str>,
    pub agent: Option<&'a str>,
    pub agent_path: &'a [&'a str],
    /// The call's tag layers, lowest precedence first (client and run, then
    /// the call's own), laid over the process's. Asked for only when a budget
    /// filters on tags.
    pub tags: &'a dyn Fn() -> [attribution::Tags; 2],
}

impl Engine {
    /// This engine for a forked child (see [`after_fork_child`]).
    fn for_child(&self) -> Engine {
        let store: Arc<dyn BudgetStore> = match self.store.kind() {
            "memory" if self.budgets.is_empty() => Arc::new(MemoryStore::new(None)),
            "memory" => Arc::new(MemoryStore::new(self.ledger.clone())),
            _ => self.store.clone(),
        };
        Engine::assemble(self.budgets.clone(), store, self.fail_mode, self.ledger.clone())
    }

    /// An engine over `store`, with its own run counters, caches and outage state.
    fn assemble(
        budgets: Vec<Arc<Budget>>,
        store: Arc<dyn BudgetStore>,
        fail_mode: FailMode,
        ledger: Option<PathBuf>,
    ) -> Engine {
        Engine {
            windows: budgets.iter().map(|_| ArcSwapOption::const_empty()).collect(),
            filters_tags: budgets.iter().any(|b| !b.tags.is_empty()),
            budgets,
            store,
            runs: Arc::new(MemoryStore::new(None)),
            fail_mode,
            ledger,
            outage: AtomicBool::new(false),
            alerted: Mutex::new(FxHashSet::default()),
            plans: Plans::default(),
        }
    }

    /// The run budgets and run caps `call` is charged against: counted in memory, per run.
    fn local_targets(
        &self,
        call: &Subject<'_>,
        tags: Option<&attribution::Tags>,
        run_caps: &[RunCap],
    ) -> Vec<Target> {
        let mut local = Vec::new();
        let untagged = attribution::Tags::new();
        if let Some(run_id) = call.run_id {
            for budget in &self.budgets {
                if budget.period != Period::Run || !budget.matches(call.agent_path, tags.unwrap_or(&untagged))
                {
                    continue;
                }
                // A run's window is the run's, whatever the time.
                let w = period::window(Period::Run, budget.zone, 0, Some(run_id));
                let key = format!("@run:{run_id}/{}", budget.name);
                local.push(self.target(budget.clone(), key, w, false));
            }
        }
        for cap in run_caps {
            let budget = Arc::new(Budget {
                name: format!("run {}", call.run_id.unwrap_or("-")),
                agent: call.agent.map(str::to_string),
                alerts: RUN_CAP_ALERTS.to_vec(),
                ..Budget::new(cap.limit_usd, Period::Run)
            });
            let w = period::window(Period::Run, Zone::utc(), 0, call.run_id);
            local.push(self.target(budget, format!("cap:{}", cap.id), w, false));
        }
        local
    }

    /// Budget `index`'s target for the period holding `now_ms`.
    pub(super) fn period_target(&self, index: usize, now_ms: i64) -> Target {
        self.period_window(index, now_ms).0
    }

    /// [`period_target`](Self::period_target), with the period's start and end.
    pub(super) fn period_window(&self, index: usize, now_ms: i64) -> (Target, i64, Option<i64>) {
        let cached = self.windows[index].load();
        if let Some(w) = cached.as_deref() {
            if w.start_ms <= now_ms && w.end_ms.is_none_or(|end| now_ms < end) {
                return (w.target.clone(), w.start_ms, w.end_ms);
            }
        }
        let b = &self.budgets[index];
        let w = period::window(b.period, b.zone, now_ms, None);
        let key = format!("{}@{}", b.name, w.label);
        let (start_ms, end_ms) = (w.start_ms, w.end_ms);
        let target = self.target(b.clone(), key, w, true);
        self.windows[index].store(Some(Arc::new(Window { start_ms, end_ms, target: target.clone() })));
        (target, start_ms, end_ms)
    }

    pub(super) fn target(&self, budget: Arc<Budget>, key: String, w: period::Window, seeded: bool) -> Target {
        let charge = Charge {
            key: key.into(),
            limit: units::to_nanos_ceil(budget.limit_usd).unwrap_or(i64::MAX),
            block: budget.action == Action::Block,
            expires_at_ms: w.end_ms,
            seed: seeded.then(|| Seed { budget: budget.clone(), start_ms: w.start_ms }),
        };
        Target { budget, label: w.label.into(), charge }
    }

    pub(super) fn exceeded(target: &Target, spent: i64, reserved: i64, amount: i64) -> Exceeded {
        let b = &target.budget;
        Exceeded {
            scope: b.scope(),
            period: b.period.as_str(),
            limit_usd: b.limit_usd,
            spent_usd: units::to_usd(spent),
            reserved_usd: units::to_usd(reserved),
            attempted_usd: units::to_usd(amount),
            agent: b.agent.clone(),
            budget_name: b.name.clone(),
            store_error: None,
        }
    }

    pub(super) fn store_failed(&self, e: &Error) {
        if !self.outage.swap(true, Ordering::Relaxed) {
            let mode = match self.fail_mode {
                FailMode::Open => "calls are let through unchecked (budget_fail_mode=open)",
                FailMode::Closed => "calls with budgets are blocked (budget_fail_mode=closed)",
            };
            log::warn!(
                "costline: the {} budget store failed: {e}; until it answers again {mode}",
                self.store.kind()
            );
        }
    }

    pub(super) fn store_ok(&self) {
        if self.outage.load(Ordering::Relaxed) && self.outage.swap(false, Ordering::Relaxed) {
            log::warn!(
                "costline: the {} budget store answers again; budgets are enforced",
                self.store.kind()
            );
        }
    }

    /// Fire the thresholds `spent` reached, each once per period.
    pub(super) fn alert_if_crossed(&self, target: &Target, spent: i64, exceeded: bool) {
        let b = &target.budget;
        let limit = target.charge.limit as i128;
        let percents: Vec<u32> = if exceeded {
            vec![100]
        } else {
            b.alerts.iter().copied().filter(|p| (spent as i128) * 100 >= limit * (*p as i128)).collect()
        };
        for percent in percents {
            let id = (target.charge.key.clone(), if exceeded { 1000 + percent } else { percent });
            {
                let mut seen = self.alerted.lock().unwrap_or_else(|p| p.into_inner());
                if !seen.insert(id.clone()) {
                    continue;
                }
            }
            let claimed = if target.charge.seed.is_some() {
                self.store.claim_alert(&target.charge, id.1)
            } else {
                self.runs.claim_alert(&target.charge, id.1)
            };
            if !matches!(claimed, Ok(true)) {
                continue;
            }
            let alert = Alert {
                budget_name: b.name.clone(),
                scope: b.scope(),
                period: b.period.as_str(),
                period_label: target.label.to_string(),
                threshold_percent: percent,
                limit_usd: b.limit_usd,
                spent_usd: units::to_usd(spent),
                action: b.action.as_str(),
                agent: b.agent.clone(),
                exceeded,
            };
            if let Some(path) = &self.ledger {
                if let Err(e) = sqlite::record_alert(path, &target.charge.key, &alert) {
                    log_once::warn(&format!("budget-alert-record\u{0}{e}"), || {
                        format!("costline: a budget alert could not be recorded in the ledger: {e}")
                    });
                }
            }
            alert::fire(&alert);
        }
    }
}

/// Reserve `call`'s worst case against every budget and run cap it matches.
/// `Ok(None)`: no budget applies (nothing to settle). `Err`: a blocking cap
/// would be passed, or the store is down and the fail mode is closed; send
/// nothing and record the blocked call ([`record_blocked`]).
pub fn reserve(
    call: &Call,
    request: Option<&Value>,
    run_caps: &[RunCap],
) -> std::result::Result<Option<Reservation>, Box<Exceeded>> {
    let agent_path: Vec<&str> = call.agent_path.iter().map(String::as_str).collect();
    let tags = || [call.base_tags.clone(), call.tags.clone()];
    let subject = Subject {
        provider: &call.provider,
        operation: &call.operation,
        model: &call.model,
        stream: call.stream,
        run_id: call.run_id.as_deref(),
        agent: call.agent.as_deref(),
        agent_path: &agent_path,
        tags: &tags,
    };
    reserve_for(
        &subject,
        |encoding| estimate::measure_in(encoding, &call.provider, &call.operation, request),
        run_caps,
    )
}

/// [`reserve`] for a call the language layer describes without building a
/// [`Call`]: `measure` reads the request (its prompt's tokens in the model's
/// vocabulary, its output limit) and runs only when some budget or cap applies.
pub fn reserve_for(
    call: &Subject<'_>,
    measure: impl FnOnce(Encoding) -> estimate::Measured,
    run_caps: &[RunCap],
) -> std::result::Result<Option<Reservation>, Box<Exceeded>> {
    let engine = match ENGINE.load_full() {
        Some(engine) => engine,
        None if run_caps.is_empty() => return Ok(None),
        // A capped run in a process that never configured budgets: the run
        // caps need an engine (no budgets, counters in memory) all the same.
        None => {
            let fresh = Arc::new(
                build(Settings {
                    budgets: Vec::new(),
                    store: StoreChoice::Memory,
                    fail_mode: FailMode::Open,
                    ledger: None,
                })
                .expect("an engine without budgets always builds"),
            );
            let before = ENGINE.compare_and_swap(&None::<Arc<Engine>>, Some(fresh.clone()));
            before.as_ref().map_or(fresh, Arc::clone)
        }
    };
    // Tags only decide which budgets match: merged only when a budget filters on them.
    let tags = engine.filters_tags.then(|| {
        let [base, own] = (call.tags)();
        attribution::merge_tags([&recorder::process_tags(), &base, &own])
    });
    let plan = engine.plan(call, tags.as_ref(), units::now_ms());
    let local = match (call.run_id, run_caps) {
        (None, []) => Vec::new(),
        _ => engine.local_targets(call, tags.as_ref(), run_caps),
    };
    if plan.shared.is_empty() && local.is_empty() {
        return Ok(None);
    }
    let measured = measure(plan.encoding);
    // A stream under blocking budgets that all meter streams as they go
    // reserves its prompt and a first step of output, not its worst case.
    let local_blocking = || local.iter().filter(|t| t.charge.block);
    let metered = call.stream
        && (plan.blocks || local_blocking().next().is_some())
        && plan.all_blocking_meter_streams
        && local_blocking().all(|t| t.budget.enforce_stream);
    let (amount, stream) = match plan.flat.filter(|_| !metered) {
        Some(rates) => (rates.worst_case_nanos(measured).unwrap_or(i64::MAX / 4), None),
        None => priced_in_decimals(call, measured, metered),
    };
    let local_charges: Vec<Charge> = local.iter().map(|t| t.charge.clone()).collect();
    if !local_charges.is_empty() {
        match engine.runs.reserve(&local_charges, amount) {
            Ok(Reserved::Over { index, spent, reserved }) => {
                return Err(Box::new(Engine::exceeded(&local[index], spent, reserved, amount)))
            }
            Ok(Reserved::Taken(before)) => warn_passed(&engine, &local, &before, amount),
            Err(_) => {}
        }
    }
    let mut reservation = Reservation {
        engine: engine.clone(),
        plan,
        local,
        local_charges,
        amount,
        stream,
        shared_held: false,
        done: false,
    };
    if reservation.plan.shared.is_empty() {
        return Ok(Some(reservation));
    }
    let began = store_waits().then(std::time::Instant::now);
    let outcome = engine.store.reserve(&reservation.plan.charges, amount);
    if let Some(began) = began {
        STORE_QUICK.store(outcome.is_ok() && began.elapsed() < QUICK, Ordering::Relaxed);
    }
    let shared = &reservation.plan.shared;
    match outcome {
        Ok(Reserved::Taken(before)) => {
            engine.store_ok();
            warn_passed(&engine, shared, &before, amount);
            reservation.shared_held = true;
            Ok(Some(reservation))
        }
        Ok(Reserved::Over { index, spent, reserved }) => {
            engine.store_ok();
            Err(Box::new(Engine::exceeded(&shared[index], spent, reserved, amount)))
        }
        Err(e) => {
            engine.store_failed(&e);
            match engine.fail_mode {
                FailMode::Open => Ok(Some(reservation)),
                FailMode::Closed => {
                    let first = shared.iter().find(|t| t.charge.block).unwrap_or(&shared[0]);
                    let mut refused = Engine::exceeded(first, 0, 0, amount);
                    refused.store_error = Some(e.to_string());
                    Err(Box::new(refused))
                }
            }
        }
    }
}

/// The amount to reserve, priced from the catalog's decimal rates: for models
/// with tiered or finer-than-femto-dollar rates, and for metered streams
/// (which also need the prompt's cost and the output rate).
fn priced_in_decimals(
    call: &Subject<'_>,
    measured: estimate::Measured,
    metered: bool,
) -> (i64, Option<StreamMeter>) {
    let worst = estimate::worst_case_of(call.provider, call.model, measured);
    let stream = match (metered, worst.input_cost_usd.and_then(units::to_nanos_ceil), worst.output_rate) {
        (true, Some(input), Some(output_rate)) => Some(StreamMeter { input, output_rate }),
        _ => None,
    };
    let amount = match worst.cost_usd {
        Some(_) if stream.is_some() => stream.map_or(0, |m| m.cost(STREAM_STEP_TOKENS)),
        Some(cost) => units::to_nanos_ceil(cost).unwrap_or(i64::MAX / 4),
        None => {
            let (p, m) = (call.provider, call.model);
            log_once::warn(&format!("budget-unpriced\u{0}{p}\u{0}{m}"), || {
                format!("costline: model {m:?} (provider {p}) has no price: its calls reserve nothing against budgets")
            });
            0
        }
    };
    (amount, stream)
}

/// A `warn` budget this call takes past its limit: alert (once per period).
fn warn_passed(engine: &Engine, targets: &[Target], before: &[(i64, i64)], amount: i64) {
    for (target, (spent, reserved)) in targets.iter().zip(before) {
        if !target.charge.block && spent + reserved + amount > target.charge.limit {
            engine.alert_if_crossed(target, spent + reserved + amount, true);
        }
    }
}

/// Record a call that a budget refused: `status = "blocked"`, nothing spent.
pub fn record_blocked(call: Call) -> recorder::Recorded {
    recorder::record(Call {
        status: Status::Blocked,
        error_type: Some("BudgetExceededError".to_string()),
        usage: CallUsage::None,
        latency_ms: 0,
        ..call
    })
}
