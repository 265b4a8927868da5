//! Provider knowledge the drop-ins ask for before or after a call: which
//! provider an OpenAI-compatible `base_url` belongs to, the model a Gemini or
//! Bedrock URL names, and the usage counts of Bedrock `InvokeModel` bodies and
//! stream chunks. All of it is the core's (`usage::hosts`, `usage::paths`,
//! `usage::bedrock`); this file only converts.

use costline_core::usage;
use pyo3::prelude::*;
use serde_json::Value;

use crate::guard;

#[pyfunction]
pub fn provider_for_base_url(base_url: &str) -> Option<&'static str> {
    usage::provider_for_base_url(base_url)
}

#[pyfunction]
pub fn model_for_path(provider: &str, path: &str) -> Option<String> {
    usage::model_for_path(provider, path)
}

/// The usage counts of a whole `InvokeModel` response body (bytes), as a dict,
/// or None (a body that is not JSON, or has no counts).
#[pyfunction]
pub fn bedrock_invoke_usage<'py>(py: Python<'py>, body: &[u8]) -> PyResult<Option<Bound<'py, PyAny>>> {
    guard::call(|| {
        let Ok(body) = serde_json::from_slice::<Value>(body) else {
            return Ok(None);
        };
        to_py(py, usage::bedrock::usage_from_invoke_body(&body))
    })
}

/// The usage part of one decoded `InvokeModelWithResponseStream` chunk (its
/// `bytes`), as a dict, or None.
#[pyfunction]
pub fn bedrock_invoke_chunk_usage<'py>(py: Python<'py>, chunk: &[u8]) -> PyResult<Option<Bound<'py, PyAny>>> {
    guard::call(|| {
        let Ok(chunk) = serde_json::from_slice::<Value>(chunk) else {
            return Ok(None);
        };
        to_py(py, usage::bedrock::usage_from_invoke_chunk(&chunk))
    })
}

fn to_py(py: Python<'_>, value: Option<Value>) -> PyResult<Option<Bound<'_, PyAny>>> {
    match value {
        None => Ok(None),
        Some(value) => pythonize::pythonize(py, &value)
            .map(Some)
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string())),
    }
}
