//! Configuration: environment first, then `configure(...)` in code (code wins).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::{secrets, Error, Result};

/// Where the local ledger lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerSetting {
    /// The per-user data directory (`<data dir>/costline/ledger.db`).
    Default,
    Path(PathBuf),
    Off,
}

impl LedgerSetting {
    pub fn parse(value: &str) -> LedgerSetting {
        match value.trim() {
            "" => LedgerSetting::Default,
            v if v.eq_ignore_ascii_case("off") => LedgerSetting::Off,
            v => LedgerSetting::Path(PathBuf::from(v)),
        }
    }

    /// The file this setting points at, or `None` when the ledger is off.
    pub fn path(&self) -> Option<PathBuf> {
        match self {
            LedgerSetting::Off => None,
            LedgerSetting::Path(p) => Some(p.clone()),
            LedgerSetting::Default => Some(default_ledger_path()),
        }
    }
}

pub fn default_ledger_path() -> PathBuf {
    dirs::data_local_dir()
        .or_else(dirs::home_dir)
        .unwrap_or_else(std::env::temp_dir)
        .join("costline")
        .join("ledger.db")
}

/// `Debug` is written by hand (below) so the API key and credentials in the
/// base URL never reach a log or a panic message.
#[derive(Clone)]
pub struct Config {
    pub ledger: LedgerSetting,
    /// Collector base URL; events go to `{base_url}/v1/events`.
    pub base_url: Option<String>,
    pub api_key: Option<String>,
    pub otlp_endpoint: Option<String>,
    /// A price file that overrides or extends the catalog.
    pub prices_path: Option<PathBuf>,
    /// Process-wide tags, the outermost layer of attribution.
    pub tags: BTreeMap<String, String>,
    /// Per-attempt timeout of an export request.
    pub timeout: Duration,
    /// Waits between export retries; the last one repeats.
    pub backoff: Vec<Duration>,
    /// Waits between attempts while the collector refuses us for a reason
    /// only a person can fix (401, 403, 404, a redirect...); the last repeats.
    pub config_error_backoff: Vec<Duration>,
    /// Extra CA certificates (PEM) trusted for the collector, beside the system roots.
    pub ca_bundle: Option<PathBuf>,
    pub max_concurrent: usize,
    /// Bound of the in-memory queue; when full, events are dropped and counted.
    pub queue_size: usize,
    /// Most events written or posted in one batch.
    pub batch_size: usize,
    /// Deadline of the flush that runs at interpreter exit.
    pub exit_timeout: Duration,
    pub disabled: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            ledger: LedgerSetting::Default,
            base_url: None,
            api_key: None,
            otlp_endpoint: None,
            prices_path: None,
            tags: BTreeMap::new(),
            timeout: Duration::from_secs(10),
            backoff: [1, 2, 4, 8, 16].iter().map(|s| Duration::from_secs(*s)).collect(),
            config_error_backoff: vec![Duration::from_secs(60), Duration::from_secs(300)],
            ca_bundle: None,
            max_concurrent: 50,
            queue_size: 10_000,
            batch_size: 500,
            exit_timeout: Duration::from_secs(2),
            disabled: false,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("ledger", &self.ledger)
            .field("base_url", &self.base_url.as_deref().map(secrets::mask_url))
            .field("api_key", &secrets::mask_key(self.api_key.as_deref()))
            .field("otlp_endpoint", &self.otlp_endpoint.as_deref().map(secrets::mask_url))
            .field("prices_path", &self.prices_path)
            .field("tags", &self.tags)
            .field("timeout", &self.timeout)
            .field("backoff", &self.backoff)
            .field("config_error_backoff", &self.config_error_backoff)
            .field("ca_bundle", &self.ca_bundle)
            .field("max_concurrent", &self.max_concurrent)
            .field("queue_size", &self.queue_size)
            .field("batch_size", &self.batch_size)
            .field("exit_timeout", &self.exit_timeout)
            .field("disabled", &self.disabled)
            .finish()
    }
}

impl Config {
    /// Defaults overlaid with the `COSTLINE_*` environment variables. A variable
    /// with a bad value is logged (once per process) and ignored: its setting keeps
    /// its default and every other variable still applies.
    pub fn from_env() -> Config {
        let (config, rejected) = Self::from_lookup(|k| std::env::var(k).ok());
        report_rejected(rejected);
        config
    }

    /// Defaults overlaid with the variables `get` finds, and one error per variable
    /// whose value was rejected (the error names it). A bad variable never costs the
    /// others: one typo must not send events to the default ledger.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> (Config, Vec<Error>) {
        let mut c = Config::default();
        let mut rejected = Vec::new();
        let non_empty = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        if let Some(v) = get("COSTLINE_LEDGER") {
            c.ledger = LedgerSetting::parse(&v);
        }
        c.base_url = non_empty("COSTLINE_BASE_URL").map(|v| v.trim_end_matches('/').to_string());
        c.api_key = non_empty("COSTLINE_API_KEY");
        c.otlp_endpoint = non_empty("COSTLINE_OTLP_ENDPOINT");
        c.prices_path = non_empty(PRICES_VAR).map(PathBuf::from);
        c.ca_bundle = non_empty("COSTLINE_CA_BUNDLE").map(PathBuf::from);
        if let Some(v) = non_empty(DISABLED_VAR) {
            match parse_disabled(&v) {
                Ok(disabled) => c.disabled = disabled,
                Err(e) => rejected.push(e),
            }
        }
        if let Some(v) = non_empty("COSTLINE_QUEUE_SIZE") {
            match v.trim().parse() {
                Ok(n) if n > 0 => c.queue_size = n,
                _ => rejected.push(Error::Config(format!(
                    "COSTLINE_QUEUE_SIZE={v:?} is not a positive integer; the queue keeps {} events",
                    c.queue_size
                ))),
            }
        }
        (c, rejected)
    }
}

const PRICES_VAR: &str = "COSTLINE_PRICES";
const DISABLED_VAR: &str = "COSTLINE_DISABLED";

/// The price file `COSTLINE_PRICES` names, if any.
pub fn env_prices_path() -> Option<PathBuf> {
    std::env::var_os(PRICES_VAR).filter(|v| !v.to_string_lossy().trim().is_empty()).map(PathBuf::from)
}

/// The one reading of `COSTLINE_DISABLED`, for every language layer: `1`, `true`,
/// `yes`, `on` (any case, spaces around ignored) disable costline; `0`, `false`,
/// `no`, `off` and empty do not. Anything else is an error naming the variable.
pub fn parse_disabled(value: &str) -> Result<bool> {
    parse_bool(DISABLED_VAR, value)
}

/// Whether `COSTLINE_DISABLED` turns costline off in this process. An unrecognised
/// value is logged once and leaves costline on (the default), like any other bad
/// variable: the switch must be spelled as documented to take effect.
pub fn disabled_from_env() -> bool {
    let value = std::env::var(DISABLED_VAR).unwrap_or_default();
    match parse_disabled(&value) {
        Ok(disabled) => disabled,
        Err(e) => {
            report_rejected(vec![e]);
            false
        }
    }
}

/// Most distinct rejections remembered (and so logged once each); there are only a
/// handful of variables, this only bounds a pathological environment.
const REPORTED_LIMIT: usize = 32;

/// Log each rejected variable once per process (the environment is read at import,
/// at the pipeline's start and by the CLI: one warning is enough). No lock is held
/// while logging: a log call may wait for the host's interpreter.
fn report_rejected(rejected: Vec<Error>) {
    static REPORTED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let fresh: Vec<String> = {
        let mut reported = REPORTED.lock().unwrap_or_else(|p| p.into_inner());
        rejected
            .into_iter()
            .map(|e| e.to_string())
            .filter(|message| {
                let new = !reported.contains(message);
                if new && reported.len() < REPORTED_LIMIT {
                    reported.push(message.clone());
                }
                new
            })
            .collect()
    };
    for message in fresh {
        log::warn!("costline: {message}; ignored, the other settings apply");
    }
}

pub fn parse_bool(name: &str, value: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => {
            Err(Error::Config(format!("{name}={value:?} is not one of 1, true, yes, on, 0, false, no, off")))
        }
    }
}

/// Seconds given by a user (float) as a Duration, rejecting negatives and NaN.
pub fn seconds(name: &str, value: f64) -> Result<Duration> {
    if value.is_finite() && value >= 0.0 {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(Error::Config(format!("{name} must be a non-negative number of seconds, got {value}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_masks_the_api_key_and_url_credentials() {
        let config = Config {
            base_url: Some("https://user:hunter2@collector.example/base?token=tok123".into()),
            api_key: Some("sk-live-secret".into()),
            ..Config::default()
        };
        let printed = format!("{config:?}");
        for secret in ["sk-live-secret", "hunter2", "tok123", "user:"] {
            assert!(!printed.contains(secret), "{secret:?} leaked into {printed}");
        }
        assert!(printed.contains("collector.example"), "{printed}");
        assert!(printed.contains("api_key: Some(\"***\")"), "{printed}");
    }
}
