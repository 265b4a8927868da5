//! `SseFallbackStream`: a fallback target's raw event-stream bytes translated into the
//! source's chunks by the core (`translate::SseTranslator`), read for metering on the way.
//! Conversions and error mapping only.

use costline_core::translate::{Api, ResponseContext, SseTranslator};
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::translate::{map_err, to_python};
use crate::{convert, guard};

#[pyclass(module = "costline._native")]
pub struct SseFallbackStream {
    inner: SseTranslator,
}

#[pymethods]
impl SseFallbackStream {
    /// `options` as `FallbackStream`'s (model, id, created, include_usage).
    #[new]
    #[pyo3(signature = (source, target, options=None))]
    fn new(source: &str, target: &str, options: Option<&Bound<'_, PyAny>>) -> PyResult<SseFallbackStream> {
        guard::call(|| {
            let options = options.map(convert::json_value).transpose()?.unwrap_or(serde_json::Value::Null);
            let ctx = ResponseContext::from_value(&options).map_err(map_err)?;
            let (s, t) = (Api::parse(source).map_err(map_err)?, Api::parse(target).map_err(map_err)?);
            Ok(SseFallbackStream { inner: SseTranslator::new(s, t, ctx) })
        })
    }

    /// Bytes of the target's body; the source's chunks (dicts) of the events they complete.
    fn feed<'py>(&mut self, py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyAny>> {
        guard::call(|| {
            let out = self.inner.feed(data).map_err(map_err)?;
            to_python(py, &serde_json::Value::Array(out))
        })
    }

    /// The body ended: the last chunks.
    fn finish<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard::call(|| {
            let out = self.inner.finish().map_err(map_err)?;
            to_python(py, &serde_json::Value::Array(out))
        })
    }

    /// The error event (a dict) that ended the stream, if one did: the language layer
    /// raises it as the target's SDK does.
    #[getter]
    fn error_event<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        guard::call(|| self.inner.error_event().map(|e| to_python(py, e)).transpose())
    }

    /// (usage parts, resolved model, output text) of what was fed; once. (An error
    /// event is raised as the target's SDK error, which names the failure.)
    fn metered<'py>(&mut self, py: Python<'py>) -> PyResult<(Bound<'py, PyList>, Option<String>, String)> {
        guard::call(|| {
            let scanned = self.inner.metered();
            let parts = PyList::empty(py);
            for part in &scanned.parts {
                parts.append(to_python(py, part)?)?;
            }
            Ok((parts, scanned.resolved_model, scanned.output_text))
        })
    }
}
