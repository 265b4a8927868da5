//! `configure(...)`: converts Python arguments into the core's `Settings`
//! (core/src/settings.rs holds the checks and the layering over the
//! environment).

use std::path::PathBuf;

use costline_core::settings::{self, PricesSetting, Settings};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use crate::{convert, errors};

#[pyfunction]
#[pyo3(signature = (*, ledger=None, base_url=None, api_key=None, otlp_endpoint=None, prices=None, tags=None,
                    timeout_s=None, backoff_s=None, max_concurrent=None, queue_size=None, batch_size=None,
                    exit_timeout_s=None, disabled=None, ca_bundle=None))]
#[allow(clippy::too_many_arguments)]
pub fn configure(
    py: Python<'_>,
    ledger: Option<String>,
    base_url: Option<String>,
    api_key: Option<String>,
    otlp_endpoint: Option<String>,
    prices: Option<&Bound<'_, PyAny>>,
    tags: Option<&Bound<'_, PyDict>>,
    timeout_s: Option<f64>,
    backoff_s: Option<Vec<f64>>,
    max_concurrent: Option<usize>,
    queue_size: Option<usize>,
    batch_size: Option<usize>,
    exit_timeout_s: Option<f64>,
    disabled: Option<bool>,
    ca_bundle: Option<PathBuf>,
) -> PyResult<()> {
    // No panic into Python (see guard.rs).
    crate::guard::call(|| {
        // Prices: an inline table (dict), or a path (str / os.PathLike; "" for none).
        let prices = match prices {
            None => None,
            Some(p) if p.is_instance_of::<PyDict>() => Some(PricesSetting::Inline(convert::json_value(p)?)),
            Some(p) if p.is_instance_of::<PyString>() => {
                Some(PricesSetting::File(PathBuf::from(p.extract::<String>()?)))
            }
            Some(p) => Some(PricesSetting::File(p.extract()?)),
        };
        let tags = match tags {
            Some(t) => Some(convert::tags(Some(t))?),
            None => None,
        };
        let settings = Settings {
            ledger,
            base_url,
            api_key,
            otlp_endpoint,
            prices,
            tags,
            timeout_s,
            backoff_s,
            max_concurrent,
            queue_size,
            batch_size,
            exit_timeout_s,
            disabled,
            ca_bundle,
        };
        py.detach(|| settings::configure(settings)).map_err(errors::to_py)
    })
}

/// The settings in force, for `costline.settings()` (no secrets).
#[pyfunction]
pub fn current_settings(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    crate::guard::call(|| {
        pythonize::pythonize(py, &settings::view())
            .map_err(|e| crate::errors::CostlineError::new_err(format!("settings: {e}")))
    })
}
