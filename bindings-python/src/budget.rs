//! Budgets for Python: `configure(budgets=...)`, the hook's reserve and
//! settle, `budget_status()`, the alert hook and `BudgetExceededError`. Only
//! conversions here; the rules are in `costline_core::budget`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Mutex;

use costline_core::borrowed_json::BorrowedJson;
use costline_core::budget::{
    self, estimate, Action, Budget, Exceeded, FailMode, Period, Requested, RunCap, Subject, Zone,
};
use costline_core::recorder::Call;
use costline_core::Error;
use pyo3::create_exception;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::errors::{self, CostlineError};
use crate::observe::StreamObserver;
use crate::{convert, guard, in_place, sdk};

create_exception!(
    costline,
    BudgetExceededError,
    CostlineError,
    "A call would pass a budget's hard cap: nothing was sent. Fields: scope, period, limit_usd, spent_usd, \
     reserved_usd, attempted_usd, agent, budget_name."
);

fn config_error(message: String) -> PyErr {
    errors::to_py(Error::Config(message))
}

fn decimal<'py>(py: Python<'py>, value: impl ToString) -> PyResult<Bound<'py, PyAny>> {
    py.import("decimal")?.getattr("Decimal")?.call1((value.to_string(),))
}

/// One `costline.Budget` (as the dict `Budget._native()` gives) as the core's.
fn budget_from(d: &Bound<'_, PyDict>) -> PyResult<Budget> {
    let get = |k: &str| d.get_item(k);
    let text = |k: &str| -> PyResult<Option<String>> {
        match get(k)? {
            Some(v) if !v.is_none() => Ok(Some(v.extract()?)),
            _ => Ok(None),
        }
    };
    let limit = text("limit_usd")?.ok_or_else(|| config_error("Budget needs limit_usd".into()))?;
    let limit = budget::spec::parse_usd("limit_usd", &limit).map_err(errors::to_py)?;
    let period = Period::parse(&text("period")?.unwrap_or_else(|| "month".into())).map_err(errors::to_py)?;
    let mut b = Budget::new(limit, period);
    b.name = text("name")?.unwrap_or_default();
    if let Some(z) = text("timezone")? {
        b.zone = Zone::parse(&z).map_err(errors::to_py)?;
    }
    b.agent = text("agent")?;
    if let Some(a) = text("action")? {
        b.action = Action::parse(&a).map_err(errors::to_py)?;
    }
    if let Some(tags) = get("tags")? {
        if let Ok(tags) = tags.cast::<PyDict>() {
            b.tags = convert::tags(Some(tags))?;
        }
    }
    if let Some(alerts) = get("alerts")? {
        if !alerts.is_none() {
            let values: Vec<f64> = alerts.extract()?;
            b.alerts = budget::file::alert_percents(&values).map_err(errors::to_py)?;
        }
    }
    if let Some(v) = get("enforce_stream")? {
        b.enforce_stream = v.is_truthy()?;
    }
    b.validated().map_err(errors::to_py)
}

/// Lay budget settings over the earlier ones and install them (see
/// `costline_core::budget::apply`); None leaves a setting as it was.
#[pyfunction]
#[pyo3(signature = (budgets=None, fail_mode=None, store=None, redis_url=None))]
pub fn configure_budgets(
    py: Python<'_>,
    budgets: Option<Vec<Bound<'_, PyDict>>>,
    fail_mode: Option<String>,
    store: Option<String>,
    redis_url: Option<String>,
) -> PyResult<()> {
    guard::call(|| {
        let budgets =
            budgets.map(|list| list.iter().map(budget_from).collect::<PyResult<Vec<_>>>()).transpose()?;
        let fail_mode = fail_mode.map(|m| FailMode::parse(&m)).transpose().map_err(errors::to_py)?;
        let requested = Requested { budgets, fail_mode, store, redis_url };
        let ledger = costline_core::settings::effective().ledger.path();
        py.detach(|| budget::apply(requested, ledger)).map_err(errors::to_py)
    })
}

/// True when budgets are configured.
#[pyfunction]
pub fn budgets_active() -> bool {
    budget::is_active()
}

/// True when a reservation may wait on I/O (budgets in the ledger or Redis).
#[pyfunction]
pub fn budget_store_waits() -> bool {
    budget::store_waits()
}

/// True when the next reservation may wait long (the store slow, failing or
/// not heard from yet): the async drop-ins then reserve off the event loop.
#[pyfunction]
pub fn budget_reserve_may_wait() -> bool {
    budget::reserve_may_wait()
}

/// A call's hold on its budgets; settle it with the cost or release it
/// (garbage collected unsettled, it is released).
#[pyclass(module = "costline._native")]
pub struct Reservation {
    inner: Mutex<Option<Held>>,
    #[pyo3(get)]
    enforce_stream: bool,
}

/// A stream whose budgets meter it as it goes holds its reservation through
/// the core's `StreamBudget`, which counts the output (the same rule as Node's).
enum Held {
    Call(budget::Reservation),
    Stream(budget::StreamBudget),
}

impl Reservation {
    fn new(reservation: budget::Reservation, model: &str) -> Reservation {
        let held = match budget::StreamBudget::new(reservation, model) {
            Ok(stream) => Held::Stream(stream),
            Err(reservation) => Held::Call(reservation),
        };
        Reservation { enforce_stream: matches!(held, Held::Stream(_)), inner: Mutex::new(Some(held)) }
    }

    pub(crate) fn take(&self) -> Option<budget::Reservation> {
        match self.inner.lock().unwrap_or_else(|p| p.into_inner()).take()? {
            Held::Call(r) => Some(r),
            Held::Stream(s) => Some(s.into_reservation()),
        }
    }
}

#[pymethods]
impl Reservation {
    /// Replace the reservation with the call's cost (a decimal string; None: unpriced).
    #[pyo3(signature = (cost))]
    fn settle(&self, cost: Option<String>) -> PyResult<()> {
        guard::call(|| {
            let cost = cost.and_then(|c| c.parse().ok());
            if let Some(r) = self.take() {
                r.settle_soon(cost);
            }
            Ok(())
        })
    }

    fn release(&self, py: Python<'_>) -> PyResult<()> {
        guard::call(|| {
            if let Some(r) = self.take() {
                py.detach(|| r.release());
            }
            Ok(())
        })
    }

    /// A metered stream's observer saw more output: the core counts what is
    /// new and grows the reservation, or raises BudgetExceededError (the
    /// caller closes the stream). Nothing for a call that reserved its worst case.
    fn stream_check(&self, py: Python<'_>, observer: PyRef<'_, StreamObserver>) -> PyResult<()> {
        guard::call(|| {
            let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            let Some(Held::Stream(stream)) = inner.as_mut() else {
                return Ok(());
            };
            let output = observer.text();
            match py.detach(|| stream.check(output)) {
                Ok(()) => Ok(()),
                Err(exceeded) => Err(exceeded_error(py, &exceeded)?),
            }
        })
    }

    #[getter]
    fn amount_usd(&self) -> Option<String> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|held| {
            match held {
                Held::Call(r) => r.amount_usd(),
                Held::Stream(s) => s.reservation().amount_usd(),
            }
            .to_string()
        })
    }
}

fn exceeded_error(py: Python<'_>, e: &Exceeded) -> PyResult<PyErr> {
    let err = BudgetExceededError::new_err(e.to_string());
    let value = err.value(py);
    value.setattr("scope", e.scope)?;
    value.setattr("period", e.period)?;
    value.setattr("limit_usd", decimal(py, e.limit_usd)?)?;
    value.setattr("spent_usd", decimal(py, e.spent_usd)?)?;
    value.setattr("reserved_usd", decimal(py, e.reserved_usd)?)?;
    value.setattr("attempted_usd", decimal(py, e.attempted_usd)?)?;
    value.setattr("agent", e.agent.clone())?;
    value.setattr("budget_name", e.budget_name.clone())?;
    value.setattr("store_error", e.store_error.clone())?;
    Ok(err)
}

/// Reserve a call's worst case before it is sent. Returns a `Reservation`,
/// or None when no budget applies; raises `BudgetExceededError` (after
/// recording the blocked call) when a cap would be passed. The call's
/// attribution is read in place (no copies); with counters in memory the GIL
/// stays held (nothing waits), with the ledger or Redis it is released.
#[pyfunction]
#[pyo3(signature = (provider, operation, model, request, stream, run_id, agent, agent_path, tags, base_tags, caps, call_id=None, attempt=None))]
#[allow(clippy::too_many_arguments)]
pub fn budget_reserve(
    py: Python<'_>,
    provider: &Bound<'_, PyAny>,
    operation: &Bound<'_, PyAny>,
    model: &Bound<'_, PyAny>,
    request: Option<&Bound<'_, PyAny>>,
    stream: bool,
    run_id: Option<&Bound<'_, PyAny>>,
    agent: Option<&Bound<'_, PyAny>>,
    agent_path: &Bound<'_, PyAny>,
    tags: Option<&Bound<'_, PyDict>>,
    base_tags: Option<&Bound<'_, PyDict>>,
    caps: &Bound<'_, PyAny>,
    call_id: Option<String>,
    attempt: Option<u32>,
) -> PyResult<Option<Reservation>> {
    guard::call(|| {
        let (provider, operation, model) =
            (convert::str_arg(provider)?, convert::str_arg(operation)?, convert::str_arg(model)?);
        let run_id = run_id.filter(|o| !o.is_none()).map(convert::str_arg).transpose()?;
        let agent = agent.filter(|o| !o.is_none()).map(convert::str_arg).transpose()?;
        let path_items: Vec<Bound<'_, PyAny>> = match agent_path.cast::<PyList>() {
            Ok(list) => list.iter().collect(),
            Err(_) => agent_path.try_iter()?.collect::<PyResult<_>>()?,
        };
        let path_texts = path_items.iter().map(convert::str_arg).collect::<PyResult<Vec<_>>>()?;
        let path: Vec<&str> = path_texts.iter().map(|t| t.as_ref()).collect();
        let caps = run_caps(caps)?;
        // Tags decide only which budgets match: read when a budget filters on them.
        let layers =
            || [convert::tags(base_tags).unwrap_or_default(), convert::tags(tags).unwrap_or_default()];
        let reserved = if budget::store_waits() {
            // The ledger or Redis may take a while: read what the core needs, then let go of the GIL.
            let layers = layers();
            let held = convert::Held::new();
            let body = request.map(|r| convert::request_json(r, &held));
            py.detach(|| {
                let layers = || layers.clone();
                let subject = subject(&provider, &operation, &model, stream, &run_id, &agent, &path, &layers);
                budget::reserve_for(
                    &subject,
                    |encoding| {
                        estimate::measure_in(encoding, subject.provider, subject.operation, body.as_ref())
                    },
                    &caps,
                )
            })
        } else {
            let subject = subject(&provider, &operation, &model, stream, &run_id, &agent, &path, &layers);
            // The GIL stays held to the end: the body is read in place, its strings borrowed
            // with no reference of their own, unless it holds more than plain JSON types.
            let measure = |encoding| {
                let (provider, operation) = (subject.provider, subject.operation);
                let Some(request) = request else {
                    return estimate::measure_in::<BorrowedJson>(encoding, provider, operation, None);
                };
                if let Some(body) = in_place::request_json(request) {
                    return estimate::measure_in(encoding, provider, operation, Some(&body));
                }
                let held = convert::Held::new();
                let body = convert::request_json(request, &held);
                estimate::measure_in(encoding, provider, operation, Some(&body))
            };
            budget::reserve_for(&subject, measure, &caps)
        };
        match reserved {
            Ok(Some(r)) => Ok(Some(Reservation::new(r, &model))),
            Ok(None) => Ok(None),
            Err(exceeded) => {
                let call = Call {
                    stream,
                    run_id: run_id.map(Cow::into_owned),
                    agent: agent.map(Cow::into_owned),
                    agent_path: path.iter().map(|s| s.to_string()).collect(),
                    tags: convert::tags(tags)?,
                    base_tags: convert::tags(base_tags)?,
                    // A fallback attempt a budget blocks is recorded with its chain's id.
                    call_id,
                    attempt,
                    ..Call::new(provider.into_owned(), operation.into_owned(), model.into_owned(), sdk())
                };
                py.detach(|| budget::record_blocked(call));
                Err(exceeded_error(py, &exceeded)?)
            }
        }
    })
}

/// The run caps of the call's enclosing runs: `[(cap id, max_cost_usd)]`, nearly always empty.
fn run_caps(caps: &Bound<'_, PyAny>) -> PyResult<Vec<RunCap>> {
    if caps.cast::<PyList>().is_ok_and(|list| list.is_empty()) {
        return Ok(Vec::new());
    }
    let pairs: Vec<(String, String)> = caps.extract()?;
    pairs
        .into_iter()
        .map(|(id, limit)| {
            budget::spec::parse_usd("max_cost_usd", &limit).map(|limit_usd| RunCap { id, limit_usd })
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(errors::to_py)
}

#[allow(clippy::too_many_arguments)]
fn subject<'a>(
    provider: &'a str,
    operation: &'a str,
    model: &'a str,
    stream: bool,
    run_id: &'a Option<Cow<'a, str>>,
    agent: &'a Option<Cow<'a, str>>,
    agent_path: &'a [&'a str],
    tags: &'a dyn Fn() -> [costline_core::attribution::Tags; 2],
) -> Subject<'a> {
    Subject {
        provider,
        operation,
        model,
        stream,
        run_id: run_id.as_deref(),
        agent: agent.as_deref(),
        agent_path,
        tags,
    }
}

/// Wait up to `timeout_s` for the settlements made in the background (shared
/// stores); False if some are still in flight.
#[pyfunction]
pub fn budget_wait_settled(py: Python<'_>, timeout_s: f64) -> bool {
    let timeout = std::time::Duration::from_secs_f64(timeout_s.clamp(0.0, 3600.0));
    py.detach(|| budget::wait_settled(timeout))
}

/// Forget a finished run's counters.
#[pyfunction]
pub fn budget_forget_run(run_id: String, caps: Vec<String>) {
    budget::forget_run(&run_id, &caps);
}

fn status_dict<'py>(py: Python<'py>, s: &budget::BudgetStatus) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", &s.name)?;
    d.set_item("scope", s.scope)?;
    d.set_item("period", s.period)?;
    d.set_item("period_label", &s.period_label)?;
    d.set_item("timezone", &s.timezone)?;
    d.set_item("action", s.action)?;
    d.set_item("agent", &s.agent)?;
    d.set_item("tags", s.tags.clone().into_iter().collect::<BTreeMap<_, _>>())?;
    d.set_item("limit_usd", decimal(py, s.limit_usd)?)?;
    for (k, v) in
        [("spent_usd", s.spent_usd), ("reserved_usd", s.reserved_usd), ("remaining_usd", s.remaining_usd)]
    {
        match v {
            Some(v) => d.set_item(k, decimal(py, v)?)?,
            None => d.set_item(k, py.None())?,
        }
    }
    d.set_item("store", s.store)?;
    d.set_item("error", &s.error)?;
    Ok(d)
}

/// Each budget with its current period's spent, reserved and remaining.
#[pyfunction]
pub fn budget_status(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    guard::call(|| {
        let rows = py.detach(budget::status);
        let list = PyList::empty(py);
        for s in &rows {
            list.append(status_dict(py, s)?)?;
        }
        Ok(list)
    })
}

/// Register `dispatch(alert_dict)` for budget alerts (None removes it). It
/// runs on the thread that settled the call, with the GIL taken there.
#[pyfunction]
#[pyo3(signature = (dispatch))]
pub fn set_budget_alert_hook(dispatch: Option<Py<PyAny>>) {
    let Some(dispatch) = dispatch else {
        budget::clear_alert_hook();
        return;
    };
    budget::set_alert_hook(Box::new(move |alert| {
        Python::attach(|py| {
            let result = (|| -> PyResult<()> {
                let d = PyDict::new(py);
                d.set_item("budget_name", &alert.budget_name)?;
                d.set_item("scope", alert.scope)?;
                d.set_item("period", alert.period)?;
                d.set_item("period_label", &alert.period_label)?;
                d.set_item("threshold_percent", alert.threshold_percent)?;
                d.set_item("limit_usd", decimal(py, alert.limit_usd)?)?;
                d.set_item("spent_usd", decimal(py, alert.spent_usd)?)?;
                d.set_item("action", alert.action)?;
                d.set_item("agent", &alert.agent)?;
                d.set_item("exceeded", alert.exceeded)?;
                d.set_item("message", alert.to_string())?;
                dispatch.call1(py, (d,))?;
                Ok(())
            })();
            if let Err(e) = result {
                log::warn!("costline: the budget alert dispatcher failed: {e}");
            }
        })
    }));
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("BudgetExceededError", m.py().get_type::<BudgetExceededError>())?;
    m.py().get_type::<BudgetExceededError>().setattr("code", "budget_exceeded")?;
    m.add_class::<Reservation>()?;
    m.add_function(wrap_pyfunction!(configure_budgets, m)?)?;
    m.add_function(wrap_pyfunction!(budgets_active, m)?)?;
    m.add_function(wrap_pyfunction!(budget_store_waits, m)?)?;
    m.add_function(wrap_pyfunction!(budget_reserve_may_wait, m)?)?;
    m.add_function(wrap_pyfunction!(budget_reserve, m)?)?;
    m.add_function(wrap_pyfunction!(budget_forget_run, m)?)?;
    m.add_function(wrap_pyfunction!(budget_wait_settled, m)?)?;
    m.add_function(wrap_pyfunction!(budget_status, m)?)?;
    m.add_function(wrap_pyfunction!(set_budget_alert_hook, m)?)?;
    Ok(())
}
