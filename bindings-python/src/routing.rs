//! Routing (issue 11): the core's decision, `routing::decide`, over a dict (or JSON text).
//! Conversions and error mapping only: the routed client (`costline.Costline`) calls this.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use costline_core::pipeline;
use costline_core::routing::{self, RouteInput};
use pyo3::create_exception;
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::errors::{self, CostlineError};

#[path = "routing_walk.rs"]
mod walk;
use crate::{convert, guard};

create_exception!(
    costline,
    RoutingError,
    CostlineError,
    "No candidate could serve a routed request; nothing was sent (`code`, `details`)."
);

pub(crate) fn to_python<'py>(py: Python<'py>, value: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    pythonize::pythonize(py, value).map_err(|e| CostlineError::new_err(format!("routing: {e}")))
}

pub(crate) fn routing_error(py: Python<'_>, err: &routing::RoutingError) -> PyErr {
    let e = RoutingError::new_err(err.message.clone());
    let value = e.value(py);
    let _ = value.setattr("code", err.code);
    if let Ok(details) = to_python(py, &err.details) {
        let _ = value.setattr("details", details);
    }
    e
}

/// The decision for one routing input (`tests/vectors/routing/decisions.json`'s `input`,
/// as a dict or JSON text): the pick (`model`, `provider`), `reason`, `confidence`,
/// `difficulty`, `required_level` and the `candidates` table; money as decimal strings.
/// Raises `RoutingError` (`code`, `details`) when nothing can be picked.
pub(crate) fn parse_input(py: Python<'_>, input: &Bound<'_, PyAny>) -> PyResult<RouteInput> {
    let parsed = if input.is_instance_of::<PyString>() {
        serde_json::from_str::<RouteInput>(&input.extract::<String>()?)
    } else {
        serde_json::from_value::<RouteInput>(convert::json_value(input)?)
    };
    parsed.map_err(|e| {
        let err = routing::RoutingError {
            code: "invalid_input",
            message: format!("routing input: {e}"),
            details: serde_json::json!({}),
        };
        routing_error(py, &err)
    })
}

pub(crate) fn serialised<'py, T: serde::Serialize>(
    py: Python<'py>,
    value: &T,
) -> PyResult<Bound<'py, PyAny>> {
    to_python(py, &serde_json::to_value(value).map_err(|e| CostlineError::new_err(e.to_string()))?)
}

/// The decision for one routing input (`tests/vectors/routing/decisions.json`'s `input`,
/// as a dict or JSON text): the pick (`model`, `provider`), `reason`, `confidence`,
/// `difficulty`, `required_level` and the `candidates` table; money as decimal strings.
/// Raises `RoutingError` (`code`, `details`) when nothing can be picked.
#[pyfunction]
pub fn decide<'py>(py: Python<'py>, input: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    guard::call(|| {
        let input = parse_input(py, input)?;
        match py.detach(|| routing::decide(&input)) {
            Ok(decision) => serialised(py, &decision),
            Err(err) => Err(routing_error(py, &err)),
        }
    })
}

/// Each model's p50 latency (ms) in the process's ledger over its newest `per_model`
/// successful calls of the last `window_s` seconds: what `prefer: lowest_latency` routes on.
#[pyfunction]
#[pyo3(signature = (window_s, per_model, timeout_s))]
pub fn p50_latencies(
    py: Python<'_>,
    window_s: f64,
    per_model: usize,
    timeout_s: f64,
) -> PyResult<BTreeMap<String, u64>> {
    guard::call(|| {
        let timeout = costline_core::config::seconds("timeout", timeout_s).map_err(errors::to_py)?;
        let window = costline_core::config::seconds("window", window_s).map_err(errors::to_py)?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let since_ms = now.saturating_sub(window).as_millis() as i64;
        py.detach(|| pipeline::p50_latencies(Some(since_ms), per_model, timeout)).map_err(errors::to_py)
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let ty = py.get_type::<RoutingError>();
    ty.setattr("code", "routing")?;
    m.add("RoutingError", ty)?;
    m.add_function(wrap_pyfunction!(decide, m)?)?;
    m.add_function(wrap_pyfunction!(p50_latencies, m)?)?;
    m.add_class::<walk::RoutedWalk>()?;
    Ok(())
}
