//! The core's one `Error` enum mapped once to Python's exception hierarchy:
//! `CostlineError` and a subclass per error kind. The Python package
//! re-exports these from `costline`.
//!
//! `InvalidEventError` is also a `ValueError`: it is what `track()` and
//! `cost()` raise for bad numbers, and callers reasonably catch `ValueError`
//! for that. pyo3's `create_exception!` takes one base, so that class is made
//! with Python's `type()` when the module loads.

use costline_core::Error;
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

create_exception!(costline, CostlineError, PyException, "Base class of every costline error.");
create_exception!(costline, PricesError, CostlineError, "A price file or price table is malformed.");
create_exception!(costline, UsageError, CostlineError, "A provider usage payload had an unexpected shape.");
create_exception!(costline, ConfigError, CostlineError, "A configuration value is invalid.");
create_exception!(costline, LedgerError, CostlineError, "The ledger could not be read or written.");
create_exception!(
    costline,
    ExportError,
    CostlineError,
    "Events could not be delivered to the collector (given to on_error)."
);

static INVALID_EVENT: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn invalid_event_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    INVALID_EVENT
        .get_or_try_init(py, || {
            let bases = PyTuple::new(py, [py.get_type::<CostlineError>(), py.get_type::<PyValueError>()])?;
            let namespace = PyDict::new(py);
            namespace.set_item("__module__", "costline")?;
            namespace
                .set_item("__doc__", "An event or a call's numbers failed validation (also a ValueError).")?;
            let made = py.get_type::<PyType>().call1(("InvalidEventError", bases, namespace))?;
            Ok(made.cast_into::<PyType>()?.unbind())
        })
        .map(|t| t.bind(py))
}

pub fn to_py(err: Error) -> PyErr {
    let message = err.to_string();
    match err {
        Error::Prices { .. } => PricesError::new_err(message),
        Error::InvalidEvent(_) => Python::attach(|py| match invalid_event_type(py) {
            Ok(ty) => PyErr::from_type(ty.clone(), message),
            Err(e) => e,
        }),
        Error::Usage { .. } => UsageError::new_err(message),
        Error::Config(_) => ConfigError::new_err(message),
        Error::Ledger { .. } => LedgerError::new_err(message),
        Error::Export { .. } => ExportError::new_err(message),
        _ => CostlineError::new_err(message),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    // Every costline error carries `code` (stable, for programs), `details` (a dict or None)
    // and `request_id` (the provider's, when a provider call failed); class defaults here,
    // instances set their own.
    let base = py.get_type::<CostlineError>();
    for name in ["code", "details", "request_id"] {
        base.setattr(name, py.None())?;
    }
    py.get_type::<PricesError>().setattr("code", "prices")?;
    invalid_event_type(py)?.setattr("code", "invalid_event")?;
    py.get_type::<UsageError>().setattr("code", "usage")?;
    py.get_type::<ConfigError>().setattr("code", "config")?;
    py.get_type::<LedgerError>().setattr("code", "ledger")?;
    py.get_type::<ExportError>().setattr("code", "export")?;
    m.add("CostlineError", py.get_type::<CostlineError>())?;
    m.add("PricesError", py.get_type::<PricesError>())?;
    m.add("InvalidEventError", invalid_event_type(py)?)?;
    m.add("UsageError", py.get_type::<UsageError>())?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add("LedgerError", py.get_type::<LedgerError>())?;
    m.add("ExportError", py.get_type::<ExportError>())?;
    Ok(())
}
