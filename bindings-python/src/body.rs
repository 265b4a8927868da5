//! `BodyScanner`: usage read from a response's raw bytes as they pass (see
//! `costline_core::usage::body`), for responses the caller reads itself.

use costline_core::usage::body;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

use crate::guard;

#[pyclass(module = "costline._native")]
pub struct BodyScanner {
    inner: Option<body::BodyScanner>,
}

#[pymethods]
impl BodyScanner {
    #[new]
    fn new(provider: &str, sse: bool) -> BodyScanner {
        BodyScanner { inner: Some(body::BodyScanner::new(provider, sse)) }
    }

    fn feed(&mut self, chunk: &[u8]) -> PyResult<()> {
        guard::call(|| {
            if let Some(scanner) = self.inner.as_mut() {
                scanner.feed(chunk);
            }
            Ok(())
        })
    }

    /// (usage parts as dicts, resolved model, output text); once.
    fn finish<'py>(&mut self, py: Python<'py>) -> PyResult<(Bound<'py, PyList>, Option<String>, String)> {
        guard::call(|| {
            let scanned = self.inner.take().map(body::BodyScanner::finish).unwrap_or_default();
            let parts = PyList::empty(py);
            for part in scanned.parts {
                parts.append(
                    pythonize::pythonize(py, &part)
                        .map_err(|e| crate::errors::CostlineError::new_err(format!("usage part: {e}")))?,
                )?;
            }
            Ok((parts, scanned.resolved_model, scanned.output_text))
        })
    }
}

/// Removes the usage-only chunk costline asked for from a chat event stream's
/// bytes, before the SDK parses them (see `costline_core::usage::body`).
#[pyclass(module = "costline._native")]
pub struct UsageChunkFilter {
    inner: body::UsageChunkFilter,
}

#[pymethods]
impl UsageChunkFilter {
    #[new]
    fn new() -> UsageChunkFilter {
        UsageChunkFilter { inner: body::UsageChunkFilter::new() }
    }

    /// The bytes to pass on for `chunk`, or None to pass `chunk` itself.
    fn feed<'py>(&mut self, py: Python<'py>, chunk: &[u8]) -> PyResult<Option<Bound<'py, PyBytes>>> {
        guard::call(|| Ok(self.inner.feed(chunk).map(|out| PyBytes::new(py, &out))))
    }

    /// Bytes still held at the end of the body.
    fn finish<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        guard::call(|| Ok(PyBytes::new(py, &self.inner.finish())))
    }

    /// The removed chunk's usage (a dict, with the service tier), or None.
    #[getter]
    fn usage<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        guard::call(|| {
            self.inner
                .usage()
                .map(|u| {
                    pythonize::pythonize(py, u)
                        .map_err(|e| crate::errors::CostlineError::new_err(format!("usage: {e}")))
                })
                .transpose()
        })
    }
}
