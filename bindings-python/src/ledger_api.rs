//! Reading the ledger in-process (`costline.report`, `costline.events`) and
//! the process's status (`costline.status`): conversions only; the core reads
//! through its own SQLite connection.

use costline_core::report::{parse_since_now, GroupBy};
use costline_core::{pipeline, Error};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::errors;

/// Bad arguments (`by`, `since`) are the caller's mistake: `ValueError`.
fn to_py(err: Error) -> PyErr {
    match err {
        Error::Cli(message) => PyValueError::new_err(message),
        other => errors::to_py(other),
    }
}

fn timeout(timeout_s: f64) -> PyResult<std::time::Duration> {
    costline_core::config::seconds("timeout", timeout_s).map_err(errors::to_py)
}

/// The report as JSON text (costs as decimal strings).
#[pyfunction]
#[pyo3(signature = (by, since, timeout_s))]
pub fn read_report(
    py: Python<'_>,
    by: Vec<String>,
    since: Option<String>,
    timeout_s: f64,
) -> PyResult<String> {
    let by = by.iter().map(|b| GroupBy::parse(b)).collect::<Result<Vec<_>, _>>().map_err(to_py)?;
    let since = since.as_deref().map(parse_since_now).transpose().map_err(to_py)?;
    let timeout = timeout(timeout_s)?;
    let report = py.detach(|| pipeline::report(by, since, timeout)).map_err(to_py)?;
    Ok(report.to_json().to_string())
}

/// The events as a JSON array in the wire format.
#[pyfunction]
#[pyo3(signature = (since, limit, timeout_s))]
pub fn read_events(
    py: Python<'_>,
    since: Option<String>,
    limit: Option<usize>,
    timeout_s: f64,
) -> PyResult<String> {
    let since = since.as_deref().map(parse_since_now).transpose().map_err(to_py)?;
    let timeout = timeout(timeout_s)?;
    let events = py.detach(|| pipeline::events(since, limit, timeout)).map_err(to_py)?;
    Ok(serde_json::to_string(&events).expect("events always serialise"))
}

/// `costline.status()` as JSON text.
#[pyfunction]
pub fn status() -> String {
    serde_json::to_string(&pipeline::status()).expect("a status always serialises")
}
