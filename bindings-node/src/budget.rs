//! Budgets for Node: `configureBudgets`, `budgetReserve` (before a call is
//! sent; a cap it would pass is an error carrying the details, and the
//! blocked call is recorded), the handle of the reservation a call settles
//! through `recordText` / `Meter.finish` (or `budgetRelease`), `budgetStatus`
//! and the alert hook. All the rules are in core/src/budget/.

use std::collections::HashMap;

use costline_core::attribution::Tags;
use costline_core::borrowed_json::BorrowedJson;
use costline_core::budget::{self, estimate, Exceeded, FailMode, Requested, RunCap, Subject};
use costline_core::recorder::Call;
use napi::bindgen_prelude::{AsyncTask, Function, Unknown};
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::{Env, Error, Result, Status};
use napi_derive::napi;
use serde_json::{json, Value};

use crate::blocking::{spawn, Blocking};
use crate::handles::Handles;
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

/// The reservations of calls in flight, by handle (`handles`: measured, a
/// class instance's reference and finalizer were most of what a guarded call
/// added). Every handle is settled or released.
static HELD: Handles<budget::Reservation> = Handles::new();

/// Keep `reservation` for its call; its handle goes to JavaScript.
fn hold(reservation: budget::Reservation) -> u32 {
    HELD.hold(reservation)
}

/// The call's reservation, out of the table (None: already settled or released).
pub(crate) fn take(handle: Option<u32>) -> Option<budget::Reservation> {
    HELD.take(handle?)
}

/// Give a reservation taken out with `take` back to its handle.
pub(crate) fn put_back(handle: u32, reservation: budget::Reservation) {
    HELD.put_back(handle, reservation);
}

/// Give the reservation back (the call was never sent, or its record failed).
#[napi]
pub fn budget_release(handle: u32) -> Result<()> {
    guard::call(|| {
        if let Some(r) = take(Some(handle)) {
            r.release();
        }
        Ok(())
    })
}

/// What the reservation holds, in USD (None once it is settled or released).
#[napi]
pub fn budget_reserved_usd(handle: u32) -> Option<String> {
    HELD.read(handle, |r| r.amount_usd().to_string())
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
/// was most of a guarded call's added time. For budgets in memory: a few
/// additions, done here; `budgetReserveAsync` when the store may wait.
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
) -> Result<Option<u32>> {
    guard::call(|| {
        let body = Body::of(&env, request, request_json);
        reserve(Reserving { provider, operation, model, stream, attribution, caps, body })
    })
}

/// `budgetReserve` for a store that may wait (the ledger, Redis): the
/// reservation runs on the libuv thread pool and resolves to the handle (or
/// rejects with the budget error), so the event loop never waits for the
/// store (a Redis that stops answering holds a call up to its read timeout).
#[napi(ts_return_type = "Promise<number | null>")]
#[allow(clippy::too_many_arguments)]
pub fn budget_reserve_async(
    env: Env,
    provider: String,
    operation: String,
    model: String,
    request: Option<Unknown<'_>>,
    stream: bool,
    attribution: Option<Attribution>,
    caps: Vec<RunCapInput>,
    request_json: Option<String>,
) -> AsyncTask<Blocking<Option<u32>>> {
    let body = Body::of(&env, request, request_json);
    spawn(move || reserve(Reserving { provider, operation, model, stream, attribution, caps, body }))
}

/// Whether a reservation may wait on I/O (budgets in the ledger or Redis).
#[napi]
pub fn budget_store_waits() -> bool {
    budget::store_waits()
}

/// Whether the next reservation may wait long (see `budget::reserve_may_wait`):
/// the drop-ins then use `budgetReserveAsync`.
#[napi]
pub fn budget_reserve_may_wait() -> bool {
    budget::reserve_may_wait()
}

/// The request a reservation counts: its JSON text (the drop-ins' way), or
/// the object read into a tree here, on the JavaScript thread.
enum Body {
    Text(String),
    Tree(Value),
    None,
}

impl Body {
    fn of(env: &Env, request: Option<Unknown<'_>>, request_json: Option<String>) -> Body {
        match (request_json, request) {
            (Some(text), _) => Body::Text(text),
            (None, Some(r)) => env.from_js_value(r).map_or(Body::None, Body::Tree),
            (None, None) => Body::None,
        }
    }
}

/// Everything a reservation needs, owned: it may run on another thread.
struct Reserving {
    provider: String,
    operation: String,
    model: String,
    stream: bool,
    attribution: Option<Attribution>,
    caps: Vec<RunCapInput>,
    body: Body,
}

fn reserve(r: Reserving) -> Result<Option<u32>> {
    let Reserving { provider, operation, model, stream, attribution, caps, body } = r;
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
    let measure = |encoding| match &body {
        Body::Text(text) => {
            let body: Option<BorrowedJson> = serde_json::from_str(text).ok();
            estimate::measure_in(encoding, &provider, &operation, body.as_ref())
        }
        Body::Tree(tree) => estimate::measure_in(encoding, &provider, &operation, Some(tree)),
        Body::None => estimate::measure_in::<Value>(encoding, &provider, &operation, None),
    };
    match budget::reserve_for(&subject, measure, &caps) {
        Ok(Some(r)) => Ok(Some(hold(r))),
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
