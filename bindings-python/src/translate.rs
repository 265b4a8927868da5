//! Fallback chains (issue 10): translation between the chat APIs and the chain's policy,
//! as the core has them. Conversions and error mapping only.

use costline_core::fallback;
use costline_core::translate::{self as core_translate, Api, ResponseContext, StreamTranslator};
use costline_core::Error;
use pyo3::create_exception;
use pyo3::prelude::*;

use crate::errors::{to_py, CostlineError};
use crate::{convert, guard};

#[path = "fallback_walk.rs"]
mod walk;

create_exception!(
    costline,
    FallbackUnsupportedError,
    CostlineError,
    "A fallback target cannot express a feature of the request (`feature`, `target`)."
);
create_exception!(
    costline,
    FallbackDeadlineError,
    CostlineError,
    "A fallback chain's total deadline passed before another attempt could start."
);

pub(crate) fn map_err(err: Error) -> PyErr {
    match &err {
        Error::FallbackUnsupported { feature, target } => {
            let (feature, target) = (feature.clone(), target.clone());
            let e = FallbackUnsupportedError::new_err(err.to_string());
            Python::attach(|py| {
                let value = e.value(py);
                let _ = value.setattr("feature", feature);
                let _ = value.setattr("target", target);
            });
            e
        }
        Error::FallbackDeadline { .. } => FallbackDeadlineError::new_err(err.to_string()),
        _ => to_py(err),
    }
}

pub(crate) fn to_python<'py>(py: Python<'py>, value: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    pythonize::pythonize(py, value).map_err(|e| CostlineError::new_err(format!("translate: {e}")))
}

/// `kind` "request" (options {"model"}), "response" or "stream" (options: id, model,
/// created, include_usage): `input` in one API's wire shape, the answer in the other's.
/// The one function the shared vectors (tests/vectors/translate) are replayed through.
#[pyfunction]
#[pyo3(signature = (kind, source, target, input, options=None))]
pub fn translate<'py>(
    py: Python<'py>,
    kind: &str,
    source: &str,
    target: &str,
    input: &Bound<'py, PyAny>,
    options: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    guard::call(|| {
        let input = convert::json_value(input)?;
        let options = options.map(convert::json_value).transpose()?.unwrap_or(serde_json::Value::Null);
        let out = py
            .detach(|| core_translate::translate(kind, source, target, &input, &options))
            .map_err(map_err)?;
        to_python(py, &out)
    })
}

/// `(answer, usage, resolved_model)` of `translate_body`.
type TranslatedBody<'py> = (Bound<'py, PyAny>, Option<Bound<'py, PyAny>>, Option<String>);

/// A target's raw JSON response body (bytes) translated into the source's response:
/// `(answer, usage, resolved_model)`, the usage and model as the target sent them (for
/// metering), the body parsed once by the core. `options` as `translate`'s "response".
#[pyfunction]
#[pyo3(signature = (source, target, body, options=None))]
pub fn translate_body<'py>(
    py: Python<'py>,
    source: &str,
    target: &str,
    body: &[u8],
    options: Option<&Bound<'py, PyAny>>,
) -> PyResult<TranslatedBody<'py>> {
    guard::call(|| {
        let options = options.map(convert::json_value).transpose()?.unwrap_or(serde_json::Value::Null);
        let ctx = ResponseContext::from_value(&options).map_err(map_err)?;
        let (s, t) = (Api::parse(source).map_err(map_err)?, Api::parse(target).map_err(map_err)?);
        let run = || core_translate::translate_response_body(s, t, body, &ctx);
        // Releasing the GIL costs more than translating a short answer.
        let out = if body.len() > 64 * 1024 { py.detach(run) } else { run() }.map_err(map_err)?;
        let usage = out.usage.as_ref().map(|u| to_python(py, u)).transpose()?;
        Ok((to_python(py, &out.answer)?, usage, out.resolved_model))
    })
}

/// Translates one target stream into the source's chunks: `push(event)` per target event
/// (a dict), `finish()` when the target's stream ended; both return lists of dicts.
#[pyclass(module = "costline._native")]
pub struct FallbackStream {
    inner: StreamTranslator,
}

#[pymethods]
impl FallbackStream {
    #[new]
    #[pyo3(signature = (source, target, options=None))]
    fn new(source: &str, target: &str, options: Option<&Bound<'_, PyAny>>) -> PyResult<FallbackStream> {
        guard::call(|| {
            let options = options.map(convert::json_value).transpose()?.unwrap_or(serde_json::Value::Null);
            let ctx = ResponseContext::from_value(&options).map_err(map_err)?;
            let (s, t) = (Api::parse(source).map_err(map_err)?, Api::parse(target).map_err(map_err)?);
            Ok(FallbackStream { inner: StreamTranslator::new(s, t, ctx) })
        })
    }

    fn push<'py>(&mut self, py: Python<'py>, event: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        guard::call(|| {
            let event = convert::json_value(event)?;
            let out = self.inner.push(&event).map_err(map_err)?;
            to_python(py, &serde_json::Value::Array(out))
        })
    }

    fn finish<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard::call(|| to_python(py, &serde_json::Value::Array(self.inner.finish())))
    }
}

/// Check a chain's policy options without starting a call (raises ConfigError).
#[pyfunction]
pub fn check_fallback_options(options: &Bound<'_, PyAny>) -> PyResult<()> {
    guard::call(|| {
        fallback::Policy::from_value(&convert::json_value(options)?).map_err(map_err)?;
        Ok(())
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("FallbackUnsupportedError", py.get_type::<FallbackUnsupportedError>())?;
    m.add("FallbackDeadlineError", py.get_type::<FallbackDeadlineError>())?;
    py.get_type::<FallbackUnsupportedError>().setattr("code", "fallback_unsupported")?;
    py.get_type::<FallbackDeadlineError>().setattr("code", "fallback_deadline")?;
    m.add_function(wrap_pyfunction!(translate, m)?)?;
    m.add_function(wrap_pyfunction!(translate_body, m)?)?;
    m.add_function(wrap_pyfunction!(check_fallback_options, m)?)?;
    m.add_class::<FallbackStream>()?;
    m.add_class::<walk::FallbackWalk>()?;
    Ok(())
}
