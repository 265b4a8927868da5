//! `BodyScanner`: usage read from a response's raw bytes as they pass (see
//! `costline_core::usage::body`), for responses the caller reads itself.

use costline_core::usage::body;
use pyo3::prelude::*;
use pyo3::types::PyList;

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
