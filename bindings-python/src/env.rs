//! What the environment says, read by the core's one parser so that the Python
//! layer never reads a `COSTLINE_*` variable its own way.

use costline_core::config;
use pyo3::prelude::*;

use crate::{errors, guard};

/// Whether `COSTLINE_DISABLED` turns costline off (an unrecognised value is
/// logged once and leaves it on).
#[pyfunction]
pub fn disabled_from_env() -> PyResult<bool> {
    guard::call(|| Ok(config::disabled_from_env()))
}

/// The core's reading of one `COSTLINE_DISABLED` value; `ConfigError` when it
/// is not one of the accepted spellings.
#[pyfunction]
pub fn parse_disabled(value: &str) -> PyResult<bool> {
    guard::call(|| config::parse_disabled(value).map_err(errors::to_py))
}
