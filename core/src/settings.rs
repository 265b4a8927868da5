//! `configure(...)` for every language layer: settings given in code, laid over
//! the environment's (code wins, and a later call keeps what an earlier one
//! set unless it sets it again). The bindings only convert their language's
//! arguments into [`Settings`]; the checks and the layering live here once.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::{self, Config, LedgerSetting};
use crate::{catalog, pipeline, recorder, secrets, Error, Result};

/// Prices given to `configure`: a price file, or an inline table (the same
/// shape as a price file). An empty path removes the file layer.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PricesSetting {
    File(PathBuf),
    Inline(Value),
}

/// One `configure(...)` call: `None` leaves a setting as it is. Field names are
/// the wire/Python names; the Node layer sends the same names.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub ledger: Option<String>,
    pub base_url: Option<String>,
    pub api_key: Option<String>,
    pub otlp_endpoint: Option<String>,
    pub prices: Option<PricesSetting>,
    pub tags: Option<BTreeMap<String, String>>,
    pub timeout_s: Option<f64>,
    pub backoff_s: Option<Vec<f64>>,
    pub max_concurrent: Option<usize>,
    pub queue_size: Option<usize>,
    pub batch_size: Option<usize>,
    pub exit_timeout_s: Option<f64>,
    pub disabled: Option<bool>,
    pub ca_bundle: Option<PathBuf>,
}

/// The settings in force, without secrets (the API key and credentials in
/// URLs are masked): what `settings()` returns in both languages.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SettingsView {
    pub ledger: Option<String>,
    pub base_url: Option<String>,
    pub api_key: Option<String>,
    pub otlp_endpoint: Option<String>,
    pub ca_bundle: Option<String>,
    pub max_concurrent: usize,
    pub queue_size: usize,
    pub timeout_s: f64,
    pub exit_timeout_s: f64,
    pub disabled: bool,
    pub tags: BTreeMap<String, String>,
}

/// The settings once `configure` has run: the environment's with each call's
/// arguments laid over them.
static CONFIGURED: Mutex<Option<Config>> = Mutex::new(None);

pub fn effective() -> Config {
    match CONFIGURED.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
        Some(cfg) => cfg.clone(),
        None => Config::from_env(),
    }
}

/// Check `settings`, lay them over the settings in force and restart the
/// pipeline with the result. Nothing changes when any setting is rejected.
/// Blocking (it may parse a price file and waits for the pipeline to switch):
/// bindings call it with their interpreter's lock released.
pub fn configure(settings: Settings) -> Result<()> {
    let mut cfg = effective();
    apply(&mut cfg, &settings)?;
    match settings.prices {
        None => {}
        Some(PricesSetting::Inline(table)) => catalog::set_inline_prices(Some(&table))?,
        Some(PricesSetting::File(path)) => {
            let path = Some(path).filter(|p| !p.as_os_str().is_empty());
            catalog::set_price_file(path.as_deref())?;
            cfg.prices_path = path;
        }
    }
    pipeline::configure(&cfg)?;
    if let Some(tags) = settings.tags {
        recorder::set_process_tags(tags);
    }
    *CONFIGURED.lock().unwrap_or_else(|p| p.into_inner()) = Some(cfg);
    Ok(())
}

/// The checks and the layering, apart from their effects (tested alone).
fn apply(cfg: &mut Config, s: &Settings) -> Result<()> {
    if let Some(v) = &s.ledger {
        cfg.ledger = LedgerSetting::parse(v);
    }
    if let Some(v) = &s.base_url {
        cfg.base_url = Some(v.trim_end_matches('/').to_string()).filter(|s| !s.is_empty());
    }
    if let Some(v) = &s.api_key {
        cfg.api_key = Some(v.clone());
    }
    if let Some(v) = &s.otlp_endpoint {
        cfg.otlp_endpoint = Some(v.clone());
    }
    if let Some(v) = s.timeout_s {
        cfg.timeout = config::seconds("timeout_s", v)?;
    }
    if let Some(v) = &s.backoff_s {
        if v.is_empty() {
            return Err(Error::Config("backoff_s must not be empty".into()));
        }
        cfg.backoff = v.iter().map(|s| config::seconds("backoff_s", *s)).collect::<Result<_>>()?;
    }
    if let Some(v) = s.max_concurrent {
        cfg.max_concurrent = v.max(1);
    }
    if let Some(v) = s.queue_size {
        if v == 0 {
            return Err(Error::Config("queue_size must be positive".into()));
        }
        cfg.queue_size = v;
    }
    if let Some(v) = s.batch_size {
        cfg.batch_size = v.max(1);
    }
    if let Some(v) = s.exit_timeout_s {
        cfg.exit_timeout = config::seconds("exit_timeout_s", v)?;
    }
    if let Some(v) = s.disabled {
        cfg.disabled = v;
    }
    if let Some(v) = &s.ca_bundle {
        cfg.ca_bundle = Some(v.clone()).filter(|p| !p.as_os_str().is_empty());
    }
    Ok(())
}

pub fn view() -> SettingsView {
    let cfg = effective();
    SettingsView {
        ledger: cfg.ledger.path().map(|p| p.display().to_string()),
        base_url: cfg.base_url.as_deref().map(secrets::mask_url),
        api_key: secrets::mask_key(cfg.api_key.as_deref()).map(str::to_string),
        otlp_endpoint: cfg.otlp_endpoint.as_deref().map(secrets::mask_url),
        ca_bundle: cfg.ca_bundle.map(|p| p.display().to_string()),
        max_concurrent: cfg.max_concurrent,
        queue_size: cfg.queue_size,
        timeout_s: cfg.timeout.as_secs_f64(),
        exit_timeout_s: cfg.exit_timeout.as_secs_f64(),
        disabled: cfg.disabled,
        tags: recorder::process_tags(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rejected_setting_names_itself() {
        let mut cfg = Config::default();
        let bad = Settings { backoff_s: Some(vec![1.0, -2.0]), ..Settings::default() };
        assert!(apply(&mut cfg, &bad).unwrap_err().to_string().contains("backoff_s"));
        let bad = Settings { queue_size: Some(0), ..Settings::default() };
        assert!(apply(&mut cfg, &bad).unwrap_err().to_string().contains("queue_size"));
    }

    #[test]
    fn settings_from_json_reject_unknown_names_and_take_either_kind_of_prices() {
        let err = serde_json::from_value::<Settings>(serde_json::json!({"ledgr": "x"})).unwrap_err();
        assert!(err.to_string().contains("ledgr"), "{err}");
        let s: Settings = serde_json::from_value(serde_json::json!({"prices": "/p.json"})).unwrap();
        assert!(matches!(s.prices, Some(PricesSetting::File(_))));
        let s: Settings = serde_json::from_value(serde_json::json!({"prices": {"m": {}}})).unwrap();
        assert!(matches!(s.prices, Some(PricesSetting::Inline(_))));
    }

    #[test]
    fn later_settings_keep_what_earlier_ones_set() {
        let mut cfg = Config::default();
        apply(&mut cfg, &Settings { queue_size: Some(7), ..Settings::default() }).unwrap();
        apply(&mut cfg, &Settings { batch_size: Some(3), ..Settings::default() }).unwrap();
        assert_eq!((cfg.queue_size, cfg.batch_size), (7, 3));
    }
}
