//! The core's one `Error` enum mapped once to Python's exception hierarchy:
//! `CostlineError` and a subclass per error kind. The Python package
//! re-exports these from `costline.errors`.

use costline_core::Error;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(costline, CostlineError, PyException, "Base class of every costline error.");
create_exception!(costline, PricesError, CostlineError, "A price file or price table is malformed.");
create_exception!(costline, InvalidEventError, CostlineError, "An event failed validation.");
create_exception!(costline, UsageError, CostlineError, "A provider usage payload had an unexpected shape.");
create_exception!(costline, ConfigError, CostlineError, "A configuration value is invalid.");
create_exception!(costline, LedgerError, CostlineError, "The ledger could not be read or written.");

pub fn to_py(err: Error) -> PyErr {
    let message = err.to_string();
    match err {
        Error::Prices { .. } => PricesError::new_err(message),
        Error::InvalidEvent(_) => InvalidEventError::new_err(message),
        Error::Usage { .. } => UsageError::new_err(message),
        Error::Config(_) => ConfigError::new_err(message),
        Error::Ledger { .. } => LedgerError::new_err(message),
        Error::Cli(_) | Error::Tokens(_) => CostlineError::new_err(message),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("CostlineError", py.get_type::<CostlineError>())?;
    m.add("PricesError", py.get_type::<PricesError>())?;
    m.add("InvalidEventError", py.get_type::<InvalidEventError>())?;
    m.add("UsageError", py.get_type::<UsageError>())?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add("LedgerError", py.get_type::<LedgerError>())?;
    Ok(())
}
