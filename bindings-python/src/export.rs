//! The exporter's side of the Python API: `configure(on_error=...)` registers
//! a core error hook that hands each error to Python as an exception object
//! (a `CostlineError` subclass) and, when it concerns one event, that event
//! as a wire-format dict.

use costline_core::event::Event;
use costline_core::{hooks, Error};
use pyo3::prelude::*;

use crate::errors;

/// Register `dispatch(exc, event_or_None)` as the core's error hook, or
/// remove the hook with None. `dispatch` runs on the thread that met the
/// error (often the exporter's), with the GIL taken there; the core holds
/// none of its locks while it runs.
#[pyfunction]
#[pyo3(signature = (dispatch))]
pub fn set_error_hook(dispatch: Option<Py<PyAny>>) {
    let Some(dispatch) = dispatch else {
        hooks::clear_error_hook();
        return;
    };
    hooks::set_error_hook(Box::new(move |error, event| {
        Python::attach(|py| {
            if let Err(e) = call(py, &dispatch, error, event) {
                // The dispatcher guards the user's function; this is its own failure.
                log::warn!("costline: the on_error dispatcher failed: {e}");
            }
        })
    }));
}

fn call(py: Python<'_>, dispatch: &Py<PyAny>, error: &Error, event: Option<&Event>) -> PyResult<()> {
    let exc = exception(py, error);
    let event = match event {
        Some(event) => py.import("json")?.call_method1("loads", (event.to_json(),))?.unbind(),
        None => py.None(),
    };
    dispatch.call1(py, (exc, event))?;
    Ok(())
}

/// The exception object `error` maps to, with the collector's HTTP status as
/// `.status` for export errors (None when it did not answer).
fn exception(py: Python<'_>, error: &Error) -> Py<PyAny> {
    let status = match error {
        Error::Export { status, .. } => *status,
        _ => None,
    };
    let value = errors::to_py(error.clone()).into_value(py);
    let _ = value.bind(py).setattr("status", status);
    value.into_any()
}
