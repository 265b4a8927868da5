//! Prices and tokens: `cost`, `count_tokens`, catalog lookups.

use costline_core::{catalog, recorder, tokens, usage};
use pyo3::prelude::*;

use crate::{convert, errors, guard};

/// Cost of a call from token counts, as a decimal string; None if unknown.
/// Bad numbers raise `InvalidEventError` (a `ValueError`).
#[pyfunction(name = "cost")]
#[pyo3(signature = (model, input_tokens, output_tokens, cached_input_tokens=None, cache_write_input_tokens=None,
                    reasoning_tokens=None, provider=None))]
#[allow(clippy::too_many_arguments)]
pub fn cost_of(
    py: Python<'_>,
    model: &str,
    input_tokens: &Bound<'_, PyAny>,
    output_tokens: &Bound<'_, PyAny>,
    cached_input_tokens: Option<&Bound<'_, PyAny>>,
    cache_write_input_tokens: Option<&Bound<'_, PyAny>>,
    reasoning_tokens: Option<&Bound<'_, PyAny>>,
    provider: Option<&str>,
) -> PyResult<Option<String>> {
    guard::call(|| {
        let optional =
            |name, obj: Option<&Bound<'_, PyAny>>| obj.map_or(Ok(0), |o| convert::integer(name, o));
        let usage = recorder::counted_usage(
            convert::integer("input_tokens", input_tokens)?,
            convert::integer("output_tokens", output_tokens)?,
            optional("cached_input_tokens", cached_input_tokens)?,
            optional("cache_write_input_tokens", cache_write_input_tokens)?,
            optional("reasoning_tokens", reasoning_tokens)?,
        )
        .map_err(errors::to_py)?;
        let price = || costline_core::cost::cost_for(provider, model, &usage).map(|(c, _, _)| c.to_string());
        Ok(if catalog::is_loaded() { price() } else { py.detach(price) })
    })
}

#[pyfunction]
pub fn count_tokens(py: Python<'_>, text: &str, model: &str) -> PyResult<usize> {
    guard::call(|| {
        // Short texts with a built encoder take microseconds; anything else
        // (a long text, the first use of an encoder) runs without the GIL.
        Ok(if text.len() < 4096 && tokens::is_ready(model) {
            tokens::count(text, model)
        } else {
            py.detach(|| tokens::count(text, model))
        })
    })
}

#[pyfunction]
pub fn operation_for_path(provider: &str, path: &str) -> Option<&'static str> {
    usage::operation_for_path(provider, path)
}

/// The catalog entry that would price `model` for `provider`, or None.
#[pyfunction]
pub fn price_key(py: Python<'_>, provider: &str, model: &str) -> PyResult<Option<String>> {
    guard::call(|| Ok(py.detach(|| catalog::current().resolve(provider, model).map(|r| r.key.to_string()))))
}

#[pyfunction]
pub fn catalog_version(py: Python<'_>) -> PyResult<String> {
    guard::call(|| Ok(py.detach(|| catalog::current().version().to_string())))
}
