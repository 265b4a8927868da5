//! The routed client's walk over candidates, `routing::Walk`, for `costline.Costline`
//! (`_routed.py`). Conversions and error mapping only.

use costline_core::fallback::{Failure, Policy};
use costline_core::routing::Walk;
use pyo3::prelude::*;

use super::{parse_input, routing_error, serialised, to_python};
use crate::translate::map_err;
use crate::{convert, guard};

type PickTuple<'py> = (String, String, Option<Bound<'py, PyAny>>);

/// One call through the routed client: `next()` → (provider, model, decision or None) or
/// None, `choose(model)` for a user router's pick, `unsupported()`, `begin_attempt()`,
/// `failed(kind, status)`, `info()`, `failure(error_type, message, status)`.
#[pyclass(module = "costline._native")]
pub struct RoutedWalk {
    inner: Walk,
}

fn pick_tuple<'py>(py: Python<'py>, walk: &Walk) -> PyResult<Option<PickTuple<'py>>> {
    let Some(pick) = walk.current() else { return Ok(None) };
    let decision = pick.decision.as_ref().map(|d| serialised(py, d)).transpose()?;
    Ok(Some((pick.provider.clone(), pick.model.clone(), decision)))
}

#[pymethods]
impl RoutedWalk {
    /// `input`: the routing input (a dict, as `decide` takes). `policy`: the fallback
    /// policy's options, None for one attempt. `provider` and `model`: the model the
    /// caller named (else `model="auto"`: decided now; raises `RoutingError`).
    #[new]
    #[pyo3(signature = (input, policy=None, provider=None, model=None))]
    fn new(
        py: Python<'_>,
        input: &Bound<'_, PyAny>,
        policy: Option<&Bound<'_, PyAny>>,
        provider: Option<&str>,
        model: Option<&str>,
    ) -> PyResult<RoutedWalk> {
        guard::call(|| {
            let input = parse_input(py, input)?;
            let policy = match policy {
                None => None,
                Some(p) => Some(Policy::from_value(&convert::json_value(p)?).map_err(map_err)?),
            };
            let inner = match (provider, model) {
                (Some(provider), Some(model)) => Walk::named(input, provider, model, policy),
                _ => py.detach(|| Walk::routed(input, policy)).map_err(|e| routing_error(py, &e))?,
            };
            Ok(RoutedWalk { inner })
        })
    }

    /// The first decision (model="auto"), None for a model the caller named.
    #[getter]
    fn decision<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.inner.decision().map(|d| serialised(py, d)).transpose()
    }

    #[getter]
    fn call_id(&self) -> &str {
        self.inner.call_id()
    }

    #[getter]
    fn attempts(&self) -> u32 {
        self.inner.attempts()
    }

    #[getter]
    fn tried(&self) -> Vec<String> {
        self.inner.tried().to_vec()
    }

    /// The next candidate (provider, model, decision or None), or None: none is left.
    fn next<'py>(&mut self, py: Python<'py>) -> PyResult<Option<PickTuple<'py>>> {
        guard::call(|| match py.detach(|| self.inner.next_pick().is_some()) {
            true => pick_tuple(py, &self.inner),
            false => Ok(None),
        })
    }

    /// The rows a user's router chooses among.
    fn router_rows<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serialised(py, &self.inner.router_rows())
    }

    /// A user's router named `model`: the current pick becomes it (raises RoutingError
    /// `invalid_router_pick` when it is not a priced candidate within max_cost_usd).
    fn choose<'py>(&mut self, py: Python<'py>, model: &str) -> PyResult<Option<PickTuple<'py>>> {
        guard::call(|| {
            self.inner.choose(model).map_err(|e| routing_error(py, &e))?;
            pick_tuple(py, &self.inner)
        })
    }

    /// The current candidate cannot express the request: True, try another.
    fn unsupported(&mut self) -> bool {
        self.inner.unsupported()
    }

    /// (number, timeout in seconds or None); raises FallbackDeadlineError.
    fn begin_attempt(&mut self) -> PyResult<(u32, Option<f64>)> {
        guard::call(|| {
            let a = self.inner.begin_attempt().map_err(map_err)?;
            Ok((a.number, a.timeout.map(|t| t.as_secs_f64())))
        })
    }

    /// `kind`: "status" (with `status`), "connection", "timeout" or anything else.
    #[pyo3(signature = (kind, status))]
    fn failed(&mut self, kind: &str, status: Option<u16>) {
        self.inner.failed(Failure::parse(kind, status));
    }

    /// `r.costline`'s fields but the cost (money as a decimal string).
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serialised(py, &self.inner.info())
    }

    /// (message, details) of the CostlineError a routed call raises when it failed.
    #[pyo3(signature = (error_type, message, status))]
    fn failure<'py>(
        &self,
        py: Python<'py>,
        error_type: &str,
        message: &str,
        status: Option<u16>,
    ) -> PyResult<(String, Bound<'py, PyAny>)> {
        let failed = self.inner.failure(error_type, message, status);
        Ok((failed.message, to_python(py, &failed.details)?))
    }
}
