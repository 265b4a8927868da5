//! Budgets for Node: `configureBudgets`, `budgetReserve` (before a call is
//! sent; a cap it would pass is an error carrying the details, and the
//! blocked call is recorded), the `Reservation` a call settles through
//! `recordText` / `Meter.finish` (or releases), `budgetStatus` and the alert
//! hook. All the rules are in core/src/budget/.

use std::collections::HashMap;
use std::sync::Mutex;

use costline_core::attribution::Tags;
use costline_core::borrowed_json::BorrowedJson;
use costline_core::budget::{self, estimate, Exceeded, FailMode, Requested, RunCap, Subject};
use costline_core::recorder::Call;
use napi::bindgen_prelude::{Function, Unknown};
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::{Env, Error, Result, Status};
use napi_derive::napi;
use serde_json::{json, Value};

use crate::meter::Attribution;
use crate::{guard, sdk};

/// `budgets_json`: an array of budgets with the budgets file's field names
/// (`limit_usd`, `period`, `agent`, `tags`, `action`, ...); undefined keeps them.
#[napi]
pub fn configure_budgets(
    budgets_json: Option<String>,
    fail_mode: Option<String>,
    store: Option<String>,
    redis_url: Option<String>,
) -> Result<()> {
    guard::call(|| {
        let budgets = match budgets_json {
            Some(text) => {
                let entries: Vec<Value> = serde_json::from_str(&text).map_err(guard::config_error)?;
                Some(budget::file::from_json(&entries).map_err(guard::to_js)?)
            }
            None => None,
        };
        let fail_mode = fail_mode.map(|m| FailMode::parse(&m)).transpose().map_err(guard::to_js)?;
        let requested = Requested { budgets, fail_mode, store, redis_url };
        let ledger = costline_core::settings::effective().ledger.path();
        budget::apply(requested, ledger).map_err(guard::to_js)
    })
}

#[napi]
pub fn budgets_active() -> bool {
    budget::is_active()
}

/// A call's hold on its budgets, settled when the call is recorded.
#[napi]
pub struct Reservation {
    inner: Mutex<Option<budget::Reservation>>,
}

impl Reservation {
    pub fn take(&self) -> Option<budget::Reservation> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    pub fn put_back(&self, held: budget::Reservation) {
        *self.inner.lock().unwrap_or_else(|p| p.into_inner()) = Some(held);
    }
}

#[napi]
impl Reservation {
    /// Give the reservation back (the call was never sent).
    #[napi]
    pub fn release(&self) -> Result<()> {
        guard::call(|| {
            if let Some(r) = self.take() {
                r.release();
            }
            Ok(())
        })
    }

    #[napi(getter)]
    pub fn amount_usd(&self) -> Option<String> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|r| r.amount_usd().to_string())
    }
}

pub(crate) fn exceeded_error(e: &Exceeded) -> Error {
    let details = json!({
        "message": e.to_string(),
        "scope": e.scope,
        "period": e.period,
        "limit_usd": e.limit_usd.normalize().to_string(),
        "spent_usd": e.spent_usd.normalize().to_string(),
        "reserved_usd": e.reserved_usd.normalize().to_string(),
        "attempted_usd": e.attempted_usd.normalize().to_string(),
        "agent": e.agent,
        "budget_name": e.budget_name,
        "store_error": e.store_error,
    });
    Error::new(Status::GenericFailure, format!("costline:budget_exceeded: {details}"))
}

#[napi(object)]
pub struct RunCapInput {
    pub id: String,
    pub limit_usd: String,
}

/// Reserve a call's worst case against every budget and run cap it matches;
/// undefined when none applies. A cap it would pass throws
/// `costline:budget_exceeded: {details}` and records the call as blocked.
/// `request_json`, when given, is the request as JSON text and stands for
/// `request`: one string crosses the boundary instead of a walk of the
/// object, property by property (a dozen N-API calls per message), which
/// was most of a guarded call's added time.
#[napi]
#[allow(clippy::too_many_arguments)]
pub fn budget_reserve(
    env: Env,
    provider: String,
    operation: String,
    model: String,
    request: Option<Unknown<'_>>,
    stream: bool,
    attribution: Option<Attribution>,
    caps: Vec<RunCapInput>,
    request_json: Option<String>,
) -> Result<Option<Reservation>> {
    guard::call(|| {
        let caps = caps
            .into_iter()
            .map(|c| {
                budget::spec::parse_usd("maxCostUsd", &c.limit_usd)
                    .map(|limit_usd| RunCap { id: c.id, limit_usd })
            })
            .collect::<costline_core::Result<Vec<_>>>()
            .map_err(guard::to_js)?;
        let a = attribution.as_ref();
        let agent_path: Vec<&str> = a
            .and_then(|a| a.agent_path.as_ref())
            .map_or_else(Vec::new, |p| p.iter().map(String::as_str).collect());
        let layer = |t: Option<&HashMap<String, String>>| -> Tags {
            t.map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default()
        };
        let tags = || [layer(a.and_then(|a| a.base_tags.as_ref())), layer(a.and_then(|a| a.tags.as_ref()))];
        let subject = Subject {
            provider: &provider,
            operation: &operation,
            model: &model,
            stream,
            run_id: a.and_then(|a| a.run_id.as_deref()),
            agent: a.and_then(|a| a.agent.as_deref()),
            agent_path: &agent_path,
            tags: &tags,
        };
        // The request is read only when a budget applies to the call; its JSON
        // text straight into a `BorrowedJson` (strings borrowed, no tree of maps).
        let measure = |encoding| match &request_json {
            Some(text) => {
                let body: Option<BorrowedJson> = serde_json::from_str(text).ok();
                estimate::measure_in(encoding, &provider, &operation, body.as_ref())
            }
            None => {
                let body: Option<Value> = request.and_then(|r| env.from_js_value(r).ok());
                estimate::measure_in(encoding, &provider, &operation, body.as_ref())
            }
        };
        let reserved = budget::reserve_for(&subject, measure, &caps);
        match reserved {
            Ok(Some(r)) => Ok(Some(Reservation { inner: Mutex::new(Some(r)) })),
            Ok(None) => Ok(None),
            Err(exceeded) => {
                let mut call = Call { stream, ..Call::new(provider, operation, model, sdk()) };
                if let Some(a) = attribution {
                    a.apply(&mut call);
                }
                budget::record_blocked(call);
                Err(exceeded_error(&exceeded))
            }
        }
    })
}

/// A run with caps ended: its counters go.
#[napi]
pub fn budget_forget_run(run_id: String, caps: Vec<String>) {
    budget::forget_run(&run_id, &caps);
}

/// Each budget's period, limit, spent, reserved and remaining, as JSON.
#[napi]
pub fn budget_status() -> Result<String> {
    guard::call(|| Ok(serde_json::to_string(&budget::status()).expect("statuses serialise")))
}

/// `onBudgetAlert`: each alert, as JSON, on the JavaScript thread (a weak
/// threadsafe function: never keeps the process alive). None clears it.
#[napi]
pub fn set_budget_alert_hook(dispatch: Option<Function<'_, String, ()>>) -> Result<()> {
    let Some(dispatch) = dispatch else {
        budget::clear_alert_hook();
        return Ok(());
    };
    let tsfn =
        dispatch.build_threadsafe_function::<String>().callee_handled::<false>().weak::<true>().build()?;
    budget::set_alert_hook(Box::new(move |alert| {
        let payload = json!({
            "message": alert.to_string(),
            "budget_name": alert.budget_name,
            "scope": alert.scope,
            "period": alert.period,
            "period_label": alert.period_label,
            "threshold_percent": alert.threshold_percent,
            "limit_usd": alert.limit_usd.normalize().to_string(),
            "spent_usd": alert.spent_usd.normalize().to_string(),
            "action": alert.action,
            "agent": alert.agent,
            "exceeded": alert.exceeded,
        });
        tsfn.call(payload.to_string(), ThreadsafeFunctionCallMode::NonBlocking);
    }));
    Ok(())
}
