//! The budget engine: which budgets a call matches, its worst case, the
//! reservation against every matching counter, settling, alerts, the fail
//! mode when the shared store is unreachable, and the status report.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;
use rust_decimal::Decimal;
use serde_json::Value;

use super::alert::{self, Alert};
use super::estimate;
use super::memory::MemoryStore;
use super::period::{self, Period, Zone};
use super::redis::RedisStore;
use super::spec::{Action, Budget};
use super::sqlite::{self, SqliteStore};
use super::store::{BudgetStore, Charge, Reserved, Seed};
use super::units;
use crate::attribution;
use crate::event::Status;
use crate::recorder::{self, Call, CallUsage};
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
    /// Each budget's current period and counter key, computed once per period
    /// (formatting the label is most of a window's cost).
    windows: Vec<ArcSwapOption<(period::Window, String)>>,
    pub(super) store: Arc<dyn BudgetStore>,
    /// Run caps and `run` budgets.
    runs: Arc<MemoryStore>,
    fail_mode: FailMode,
    ledger: Option<PathBuf>,
    /// Set while the store is failing: the outage is logged once.
    outage: AtomicBool,
    /// Alerts this process already saw claimed (no store round trip for them again).
    alerted: Mutex<HashSet<(String, u32)>>,
}

pub(super) static ENGINE: ArcSwapOption<Engine> = ArcSwapOption::const_empty();

/// Install budgets (replacing any before). With none, only run caps
/// (`RunCap`) are checked, and [`is_active`] is false so that the language
/// layers skip budget work for calls outside capped runs.
pub fn configure(settings: Settings) -> Result<()> {
    ENGINE.store(Some(Arc::new(build(settings)?)));
    Ok(())
}

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
    let engine = Engine {
        windows: budgets.iter().map(|_| ArcSwapOption::const_empty()).collect(),
        budgets,
        store,
        runs: Arc::new(MemoryStore::new(None)),
        fail_mode: settings.fail_mode,
        ledger: settings.ledger,
        outage: AtomicBool::new(false),
        alerted: Mutex::new(HashSet::new()),
    };
    Ok(engine)
}

/// Turn budgets off.
pub fn clear() {
    ENGINE.store(None);
}

/// True when budgets are configured (the hot path asks once per call).
pub fn is_active() -> bool {
    ENGINE.load().as_ref().is_some_and(|e| !e.budgets.is_empty())
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
pub(super) struct Target {
    pub(super) budget: Arc<Budget>,
    pub(super) label: String,
    pub(super) charge: Charge,
}

/// A call's hold on its budgets. Settle it with the actual cost or release
/// it; dropping it releases it.
pub struct Reservation {
    engine: Arc<Engine>,
    shared: Vec<Target>,
    local: Vec<Target>,
    amount: i64,
    /// Set for a stream whose budgets all meter streams as they go
    /// (`enforce_stream`): it reserved its prompt and a first step of output,
    /// and grows the reservation as output arrives.
    stream: Option<StreamMeter>,
    /// False when the store was down and the fail mode let the call through.
    shared_held: bool,
    done: bool,
}

impl std::fmt::Debug for Reservation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reservation").field("amount_nanos", &self.amount).field("done", &self.done).finish()
    }
}

impl Reservation {
    /// The worst case reserved.
    pub fn amount_usd(&self) -> Decimal {
        units::to_usd(self.amount)
    }

    /// True when a budget this call counts against wants streams stopped
    /// before their running cost passes it.
    pub fn enforce_stream(&self) -> bool {
        self.stream.is_some()
    }

    /// [`settle`](Self::settle) without making the caller wait for a shared
    /// store: in memory it is done at once, with the ledger or Redis on a
    /// background thread ([`super::wait_settled`] waits for it).
    pub fn settle_soon(self, actual: Option<Decimal>) {
        if self.shared_held && self.engine.store.kind() != "memory" {
            super::background::settle(self, actual);
        } else {
            self.settle(actual);
        }
    }

    /// Replace the reservation with what the call cost (`None`: no price, the
    /// reservation is released). Fires the alerts it crosses.
    pub fn settle(mut self, actual: Option<Decimal>) {
        self.done = true;
        let Some(actual) = actual.and_then(units::to_nanos_ceil) else {
            self.give_back();
            return;
        };
        let engine = self.engine.clone();
        let mut crossed = Vec::new();
        let local: Vec<Charge> = self.local.iter().map(|t| t.charge.clone()).collect();
        if let Ok(spent) = engine.runs.settle(&local, self.amount, actual) {
            crossed.extend(self.local.iter().zip(spent));
        }
        if self.shared_held || actual > 0 {
            let shared: Vec<Charge> = self.shared.iter().map(|t| t.charge.clone()).collect();
            let reserved = if self.shared_held { self.amount } else { 0 };
            match engine.store.settle(&shared, reserved, actual) {
                Ok(spent) => {
                    engine.store_ok();
                    crossed.extend(self.shared.iter().zip(spent));
                }
                Err(e) => engine.store_failed(&e),
            }
        }
        for (target, spent) in crossed {
            engine.alert_if_crossed(target, spent, false);
        }
    }

    /// What the writer thread runs with a deferred call's cost
    /// (`recorder::record_deferred_then`): settle with it. If the event is
    /// dropped unbuilt (a full queue), the call still happened: it settles at
    /// its worst case rather than counting nothing.
    pub fn settle_when_built(self) -> crate::recorder::AfterBuild {
        struct Pending(Option<Reservation>);
        impl Drop for Pending {
            fn drop(&mut self) {
                if let Some(r) = self.0.take() {
                    let worst = r.amount_usd();
                    r.settle_soon(Some(worst));
                }
            }
        }
        let mut pending = Pending(Some(self));
        Box::new(move |cost| {
            if let Some(r) = pending.0.take() {
                r.settle_soon(cost);
            }
        })
    }

    /// Give the reservation back: the call cost nothing or never happened.
    pub fn release(mut self) {
        self.done = true;
        self.give_back();
    }

    fn give_back(&mut self) {
        let local: Vec<Charge> = self.local.iter().map(|t| t.charge.clone()).collect();
        let _ = self.engine.runs.release(&local, self.amount);
        if self.shared_held {
            let shared: Vec<Charge> = self.shared.iter().map(|t| t.charge.clone()).collect();
            match self.engine.store.release(&shared, self.amount) {
                Ok(()) => self.engine.store_ok(),
                Err(e) => self.engine.store_failed(&e),
            }
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.done {
            self.done = true;
            self.give_back();
        }
    }
}

const RUN_CAP_ALERTS: [u32; 0] = [];

/// Output tokens a metered stream reserves ahead of what it has produced.
pub const STREAM_STEP_TOKENS: u64 = 256;

/// Output a metered stream keeps in hand near its cap: about one chunk.
pub const STREAM_MARGIN_TOKENS: u64 = 16;

#[derive(Debug, Clone, Copy)]
struct StreamMeter {
    input: i64,
    /// Nano-dollars per output token (fractional: kept as a decimal).
    output_rate: Decimal,
}

impl StreamMeter {
    fn cost(&self, output_tokens: u64) -> i64 {
        let output =
            units::to_nanos_ceil(self.output_rate * Decimal::from(output_tokens)).unwrap_or(i64::MAX / 4);
        self.input.saturating_add(output)
    }
}

impl Reservation {
    /// A metered stream has produced `output_tokens` so far: grow the
    /// reservation ahead of them, or say which cap the stream's running cost
    /// would pass (the caller then closes the stream). Free for streams that
    /// reserved their worst case.
    pub fn stream_progress(&mut self, output_tokens: u64) -> std::result::Result<(), Box<Exceeded>> {
        let Some(meter) = self.stream else {
            return Ok(());
        };
        let running = meter.cost(output_tokens);
        if running <= self.amount {
            return Ok(());
        }
        // Reserve a step ahead; near the cap, what was produced and a margin
        // for the chunk already on its way (the stream stops before the cap,
        // not one chunk after it).
        let ahead = meter.cost(output_tokens + STREAM_STEP_TOKENS);
        let close = meter.cost(output_tokens + STREAM_MARGIN_TOKENS);
        match self.grow(ahead, running) {
            Err(refused) if refused.store_error.is_none() => self.grow(close, close),
            other => other,
        }
    }

    /// Grow the reservation to `wanted`; refused, say which cap `running` passes.
    fn grow(&mut self, wanted: i64, running: i64) -> std::result::Result<(), Box<Exceeded>> {
        let extra = wanted - self.amount;
        let engine = self.engine.clone();
        let local: Vec<Charge> = self.local.iter().map(|t| t.charge.clone()).collect();
        if let Ok(Reserved::Over { index, spent, reserved }) = engine.runs.reserve(&local, extra) {
            let others = (reserved - self.amount).max(0);
            return Err(Box::new(Engine::exceeded(&self.local[index], spent, others, running)));
        }
        if self.shared_held {
            let shared: Vec<Charge> = self.shared.iter().map(|t| t.charge.clone()).collect();
            match engine.store.reserve(&shared, extra) {
                Ok(Reserved::Taken(_)) => engine.store_ok(),
                Ok(Reserved::Over { index, spent, reserved }) => {
                    let _ = engine.runs.release(&local, extra);
                    let others = (reserved - self.amount).max(0);
                    return Err(Box::new(Engine::exceeded(&self.shared[index], spent, others, running)));
                }
                Err(e) => {
                    engine.store_failed(&e);
                    let _ = engine.runs.release(&local, extra);
                    if engine.fail_mode == FailMode::Closed {
                        let mut refused = Engine::exceeded(&self.shared[0], 0, 0, running);
                        refused.store_error = Some(e.to_string());
                        return Err(Box::new(refused));
                    }
                    return Ok(());
                }
            }
        }
        self.amount = wanted;
        Ok(())
    }
}

impl Engine {
    fn targets(
        &self,
        call: &Call,
        tags: &attribution::Tags,
        run_caps: &[RunCap],
        now_ms: i64,
    ) -> (Vec<Target>, Vec<Target>) {
        let mut shared = Vec::new();
        let mut local = Vec::new();
        for (index, budget) in self.budgets.iter().enumerate() {
            if !budget.matches(&call.agent_path, tags) {
                continue;
            }
            if budget.period == Period::Run {
                let Some(run_id) = call.run_id.as_deref() else { continue };
                let w = period::window(Period::Run, budget.zone, now_ms, Some(run_id));
                let key = format!("@run:{run_id}/{}", budget.name);
                local.push(self.target(budget.clone(), key, w, false));
                continue;
            }
            let (w, key) = self.window(index, now_ms);
            shared.push(self.target(budget.clone(), key, w, true));
        }
        for cap in run_caps {
            let budget = Arc::new(Budget {
                name: format!("run {}", call.run_id.as_deref().unwrap_or("-")),
                agent: call.agent.clone(),
                alerts: RUN_CAP_ALERTS.to_vec(),
                ..Budget::new(cap.limit_usd, Period::Run)
            });
            let w = period::window(Period::Run, Zone::utc(), now_ms, call.run_id.as_deref());
            local.push(self.target(budget, format!("cap:{}", cap.id), w, false));
        }
        (shared, local)
    }

    /// Budget `index`'s period holding `now_ms` and its counter key.
    pub(super) fn window(&self, index: usize, now_ms: i64) -> (period::Window, String) {
        if let Some(cached) = self.windows[index].load_full() {
            let (w, key) = cached.as_ref();
            if w.start_ms <= now_ms && w.end_ms.is_none_or(|end| now_ms < end) {
                return (w.clone(), key.clone());
            }
        }
        let b = &self.budgets[index];
        let w = period::window(b.period, b.zone, now_ms, None);
        let key = format!("{}@{}", b.name, w.label);
        self.windows[index].store(Some(Arc::new((w.clone(), key.clone()))));
        (w, key)
    }

    pub(super) fn target(&self, budget: Arc<Budget>, key: String, w: period::Window, seeded: bool) -> Target {
        let charge = Charge {
            key,
            limit: units::to_nanos_ceil(budget.limit_usd).unwrap_or(i64::MAX),
            block: budget.action == Action::Block,
            expires_at_ms: w.end_ms,
            seed: seeded.then(|| Seed { budget: budget.clone(), start_ms: w.start_ms }),
        };
        Target { budget, label: w.label, charge }
    }

    fn exceeded(target: &Target, spent: i64, reserved: i64, amount: i64) -> Exceeded {
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

    fn store_failed(&self, e: &Error) {
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

    fn store_ok(&self) {
        if self.outage.load(Ordering::Relaxed) && self.outage.swap(false, Ordering::Relaxed) {
            log::warn!(
                "costline: the {} budget store answers again; budgets are enforced",
                self.store.kind()
            );
        }
    }

    /// Fire the thresholds `spent` reached, each once per period.
    fn alert_if_crossed(&self, target: &Target, spent: i64, exceeded: bool) {
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
                period_label: target.label.clone(),
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
    let tags = match engine.budgets.iter().any(|b| !b.tags.is_empty()) {
        true => attribution::merge_tags([&recorder::process_tags(), &call.base_tags, &call.tags]),
        false => attribution::Tags::new(),
    };
    let now_ms = chrono::Utc::now().timestamp_millis();
    let (shared, local) = engine.targets(call, &tags, run_caps, now_ms);
    if shared.is_empty() && local.is_empty() {
        return Ok(None);
    }
    let worst = estimate::worst_case(&call.provider, &call.operation, &call.model, request);
    // A stream under blocking budgets that all meter streams as they go
    // reserves its prompt and a first step of output, not its worst case.
    let blocking = || shared.iter().chain(&local).filter(|t| t.charge.block);
    let metered = call.stream && blocking().next().is_some() && blocking().all(|t| t.budget.enforce_stream);
    let stream = match (metered, worst.input_cost_usd.and_then(units::to_nanos_ceil), worst.output_rate) {
        (true, Some(input), Some(output_rate)) => Some(StreamMeter { input, output_rate }),
        _ => None,
    };
    let amount = match worst.cost_usd {
        Some(_) if stream.is_some() => stream.map_or(0, |m| m.cost(STREAM_STEP_TOKENS)),
        Some(cost) => units::to_nanos_ceil(cost).unwrap_or(i64::MAX / 4),
        None => {
            let (p, m) = (call.provider.as_str(), call.model.as_str());
            log_once::warn(&format!("budget-unpriced\u{0}{p}\u{0}{m}"), || {
                format!("costline: model {m:?} (provider {p}) has no price: its calls reserve nothing against budgets")
            });
            0
        }
    };
    let local_charges: Vec<Charge> = local.iter().map(|t| t.charge.clone()).collect();
    match engine.runs.reserve(&local_charges, amount) {
        Ok(Reserved::Over { index, spent, reserved }) => {
            return Err(Box::new(Engine::exceeded(&local[index], spent, reserved, amount)))
        }
        Ok(Reserved::Taken(before)) => warn_passed(&engine, &local, &before, amount),
        Err(_) => {}
    }
    let mut reservation = Reservation {
        engine: engine.clone(),
        shared,
        local,
        amount,
        stream,
        shared_held: false,
        done: false,
    };
    if reservation.shared.is_empty() {
        return Ok(Some(reservation));
    }
    let shared_charges: Vec<Charge> = reservation.shared.iter().map(|t| t.charge.clone()).collect();
    match engine.store.reserve(&shared_charges, amount) {
        Ok(Reserved::Taken(before)) => {
            engine.store_ok();
            reservation.shared_held = true;
            warn_passed(&engine, &reservation.shared, &before, amount);
            Ok(Some(reservation))
        }
        Ok(Reserved::Over { index, spent, reserved }) => {
            engine.store_ok();
            Err(Box::new(Engine::exceeded(&reservation.shared[index], spent, reserved, amount)))
        }
        Err(e) => {
            engine.store_failed(&e);
            match engine.fail_mode {
                FailMode::Open => Ok(Some(reservation)),
                FailMode::Closed => {
                    let first =
                        reservation.shared.iter().find(|t| t.charge.block).unwrap_or(&reservation.shared[0]);
                    let mut refused = Engine::exceeded(first, 0, 0, amount);
                    refused.store_error = Some(e.to_string());
                    Err(Box::new(refused))
                }
            }
        }
    }
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
