//! `configure(...)`: settings from code laid over the environment's.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use costline_core::config::{self, Config, LedgerSetting};
use costline_core::{catalog, pipeline, recorder, secrets};
use once_cell::sync::Lazy;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use crate::{convert, errors};

/// The settings in force once `configure` has run: the environment's, with
/// each `configure` call's arguments laid over them (code wins, and a later
/// call keeps what an earlier one set unless it sets it again).
static CONFIGURED: Lazy<Mutex<Option<Config>>> = Lazy::new(|| Mutex::new(None));

pub(crate) fn effective() -> Config {
    match CONFIGURED.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
        Some(cfg) => cfg.clone(),
        None => Config::from_env(),
    }
}

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
        let mut cfg = effective();
        if let Some(v) = ledger {
            cfg.ledger = LedgerSetting::parse(&v);
        }
        if let Some(v) = base_url {
            cfg.base_url = Some(v.trim_end_matches('/').to_string()).filter(|s| !s.is_empty());
        }
        if let Some(v) = api_key {
            cfg.api_key = Some(v);
        }
        if let Some(v) = otlp_endpoint {
            cfg.otlp_endpoint = Some(v);
        }
        if let Some(v) = timeout_s {
            cfg.timeout = config::seconds("timeout_s", v).map_err(errors::to_py)?;
        }
        if let Some(v) = backoff_s {
            if v.is_empty() {
                return Err(errors::to_py(costline_core::Error::Config(
                    "backoff_s must not be empty".into(),
                )));
            }
            cfg.backoff = v
                .into_iter()
                .map(|s| config::seconds("backoff_s", s))
                .collect::<Result<_, _>>()
                .map_err(errors::to_py)?;
        }
        if let Some(v) = max_concurrent {
            cfg.max_concurrent = v.max(1);
        }
        if let Some(v) = queue_size {
            if v == 0 {
                return Err(errors::to_py(costline_core::Error::Config(
                    "queue_size must be positive".into(),
                )));
            }
            cfg.queue_size = v;
        }
        if let Some(v) = batch_size {
            cfg.batch_size = v.max(1);
        }
        if let Some(v) = exit_timeout_s {
            cfg.exit_timeout = config::seconds("exit_timeout_s", v).map_err(errors::to_py)?;
        }
        if let Some(v) = disabled {
            cfg.disabled = v;
        }
        if let Some(v) = ca_bundle {
            cfg.ca_bundle = Some(v).filter(|p| !p.as_os_str().is_empty());
        }
        let process_tags: Option<BTreeMap<String, String>> = match tags {
            Some(t) => Some(convert::tags(Some(t))?),
            None => None,
        };

        // Prices: an inline table (dict) replaces the inline layer, a path (str /
        // os.PathLike; "" for none) the price-file layer; without prices= both stay
        // as they are (catalog::overrides).
        match prices {
            None => {}
            Some(p) if p.is_instance_of::<PyDict>() => {
                let table = convert::json_value(p)?;
                py.detach(|| catalog::set_inline_prices(Some(&table))).map_err(errors::to_py)?;
            }
            Some(p) => {
                let path: PathBuf = if p.is_instance_of::<PyString>() {
                    PathBuf::from(p.extract::<String>()?)
                } else {
                    p.extract()?
                };
                let path = Some(path).filter(|p| !p.as_os_str().is_empty());
                py.detach(|| catalog::set_price_file(path.as_deref())).map_err(errors::to_py)?;
                cfg.prices_path = path;
            }
        }

        py.detach(|| pipeline::configure(&cfg)).map_err(errors::to_py)?;
        if let Some(t) = process_tags {
            recorder::set_process_tags(t);
        }
        *CONFIGURED.lock().unwrap_or_else(|p| p.into_inner()) = Some(cfg);
        Ok(())
    })
}

/// The settings in force, for `costline.settings()` (no secrets: the API key
/// and credentials in URLs are masked).
#[pyfunction]
pub fn current_settings(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    crate::guard::call(|| current_settings_unguarded(py))
}

fn current_settings_unguarded(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let cfg = effective();
    let d = PyDict::new(py);
    d.set_item("ledger", cfg.ledger.path().map(|p| p.display().to_string()))?;
    d.set_item("base_url", cfg.base_url.as_deref().map(secrets::mask_url))?;
    d.set_item("api_key", secrets::mask_key(cfg.api_key.as_deref()))?;
    d.set_item("otlp_endpoint", cfg.otlp_endpoint.as_deref().map(secrets::mask_url))?;
    d.set_item("ca_bundle", cfg.ca_bundle.map(|p| p.display().to_string()))?;
    d.set_item("max_concurrent", cfg.max_concurrent)?;
    d.set_item("queue_size", cfg.queue_size)?;
    d.set_item("timeout_s", cfg.timeout.as_secs_f64())?;
    d.set_item("exit_timeout_s", cfg.exit_timeout.as_secs_f64())?;
    d.set_item("disabled", cfg.disabled)?;
    d.set_item("tags", recorder::process_tags())?;
    Ok(d)
}
