//! No panic crosses into Python. pyo3 would raise `PanicException`, a
//! `BaseException` that `except Exception` (and costline's own guard in the
//! Python layer) does not catch: one bug in the core could take the host app
//! down. Every entry point runs inside [`call`], which turns a panic into
//! `costline.CostlineError`.

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::PyResult;

use crate::errors::CostlineError;

/// Run `f`; a panic becomes `CostlineError("internal error: ...")`.
pub fn call<T>(f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => Err(CostlineError::new_err(format!(
            "internal error in costline's core: {}",
            costline_core::panic_message(&*payload)
        ))),
    }
}
