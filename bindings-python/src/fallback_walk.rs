//! A drop-in's fallback chain walked by the core (`fallback::ChainWalk`), for
//! `_fallback.py`. Conversions and error mapping only.

use costline_core::fallback::{ChainWalk, Failure, Policy, Step};
use pyo3::prelude::*;

use super::map_err;
use crate::routing::to_python;
use crate::{convert, guard};

/// One logical call walking its chain: `primary_failed(kind, status)`, `next_step()` →
/// (index, number, timeout in seconds or None) or None, `unsupported()`,
/// `budget_skipped(reason)`, `failed(kind, status)`, `served()`, `exhausted(last_type)`.
#[pyclass(module = "costline._native")]
pub struct FallbackWalk {
    inner: ChainWalk,
}

#[pymethods]
impl FallbackWalk {
    /// `policy`: the chain's options; `targets`: "provider/model" of each target;
    /// `elapsed_s`: how long ago the primary attempt started (the deadline counts it).
    #[new]
    #[pyo3(signature = (policy, targets, elapsed_s=0.0))]
    fn new(policy: &Bound<'_, PyAny>, targets: Vec<String>, elapsed_s: f64) -> PyResult<FallbackWalk> {
        guard::call(|| {
            let policy = Policy::from_value(&convert::json_value(policy)?).map_err(map_err)?;
            let now = std::time::Instant::now();
            let elapsed = std::time::Duration::from_secs_f64(elapsed_s.clamp(0.0, 86_400.0));
            let started = now.checked_sub(elapsed).unwrap_or(now);
            Ok(FallbackWalk { inner: ChainWalk::new(policy, targets, started) })
        })
    }

    #[getter]
    fn call_id(&self) -> &str {
        self.inner.call_id()
    }

    #[getter]
    fn attempts(&self) -> u32 {
        self.inner.attempts()
    }

    /// True: the primary is attempt 1 of the chain; False: raise its error as it is.
    #[pyo3(signature = (kind, status))]
    fn primary_failed(&mut self, kind: &str, status: Option<u16>) -> bool {
        self.inner.primary_failed(Failure::parse(kind, status))
    }

    /// The next target (index, attempt number, timeout) or None: raise `exhausted()` or
    /// the last failure. Raises FallbackDeadlineError.
    fn next_step(&mut self) -> PyResult<Option<(usize, u32, Option<f64>)>> {
        guard::call(|| match self.inner.next_step().map_err(map_err)? {
            Step::Try { index, attempt } => {
                Ok(Some((index, attempt.number, attempt.timeout.map(|t| t.as_secs_f64()))))
            }
            Step::RaiseLast | Step::Exhausted => Ok(None),
        })
    }

    /// The current target cannot express the request: True, skip it.
    fn unsupported(&mut self) -> bool {
        self.inner.unsupported()
    }

    fn budget_skipped(&mut self, reason: &str) {
        self.inner.budget_skipped(reason);
    }

    /// `kind`: "status" (with `status`), "connection", "timeout" or anything else.
    #[pyo3(signature = (kind, status))]
    fn failed(&mut self, kind: &str, status: Option<u16>) {
        self.inner.failed(Failure::parse(kind, status));
    }

    /// {"served_by", "attempts", "call_id"} of the current target's answer.
    fn served<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &serde_json::to_value(self.inner.served()).unwrap_or_default())
    }

    /// {"message", "skipped": [{"target", "reason"}]} when budgets skipped targets; None:
    /// raise the last failure.
    #[pyo3(signature = (last_type=None))]
    fn exhausted<'py>(&self, py: Python<'py>, last_type: Option<&str>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &serde_json::to_value(self.inner.exhausted(last_type)).unwrap_or_default())
    }
}
