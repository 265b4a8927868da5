//! The process's budget settings as the language layers give them: each
//! `configure(...)` call's budget arguments laid over the earlier ones (code
//! wins, later calls keep what they do not set), plus the operators'
//! `COSTLINE_BUDGETS` file and `COSTLINE_REDIS_URL`, then installed.

use std::path::PathBuf;
use std::sync::Mutex;

use super::engine::{self, FailMode, Settings, StoreChoice};
use super::file;
use super::spec::Budget;
use crate::{Error, Result};

/// What one `configure(...)` call says about budgets; `None`: unchanged.
#[derive(Debug, Clone, Default)]
pub struct Requested {
    pub budgets: Option<Vec<Budget>>,
    pub fail_mode: Option<FailMode>,
    /// `memory`, `ledger` or `redis` (empty: the default for the settings).
    pub store: Option<String>,
    pub redis_url: Option<String>,
}

static STATE: Mutex<Option<Requested>> = Mutex::new(None);

/// Lay `requested` over the settings so far and install the result. The
/// budgets file's bad entries are logged (naming their lines) and left out;
/// everything else still applies.
pub fn apply(requested: Requested, ledger: Option<PathBuf>) -> Result<()> {
    let mut state = STATE.lock().unwrap_or_else(|p| p.into_inner());
    let mut merged = state.clone().unwrap_or_default();
    if let Some(b) = requested.budgets {
        merged.budgets = Some(b);
    }
    if let Some(m) = requested.fail_mode {
        merged.fail_mode = Some(m);
    }
    if let Some(s) = requested.store {
        merged.store = Some(s);
    }
    if let Some(u) = requested.redis_url {
        merged.redis_url = Some(u);
    }
    let settings = settings_for(&merged, ledger)?;
    engine::configure(settings)?;
    *state = Some(merged);
    Ok(())
}

/// Budgets from the environment alone (no code yet): at load, and for the CLI.
pub fn from_env(ledger: Option<PathBuf>) -> Result<Settings> {
    settings_for(&Requested::default(), ledger)
}

fn settings_for(r: &Requested, ledger: Option<PathBuf>) -> Result<Settings> {
    let mut budgets = r.budgets.clone().unwrap_or_default();
    if let Some(path) = file::env_path() {
        let (from_file, errors) = file::load(&path);
        for e in errors {
            crate::log_once::warn(&format!("budgets-file\u{0}{e}"), || format!("costline: {e}"));
        }
        budgets.extend(from_file);
    }
    let env_url = std::env::var("COSTLINE_REDIS_URL").ok().filter(|u| !u.trim().is_empty());
    let redis_url = r.redis_url.clone().filter(|u| !u.is_empty()).or(env_url);
    let store = match r.store.as_deref().map(str::trim).unwrap_or("") {
        "" => StoreChoice::default_for(redis_url.as_deref(), ledger.as_ref()),
        "memory" => StoreChoice::Memory,
        "ledger" => StoreChoice::Ledger,
        "redis" => StoreChoice::Redis(redis_url.clone().ok_or_else(|| {
            Error::Config("budget_store=\"redis\" needs redis_url or COSTLINE_REDIS_URL".into())
        })?),
        other => {
            return Err(Error::Config(format!("budget_store must be memory, ledger or redis, not {other:?}")))
        }
    };
    Ok(Settings { budgets, store, fail_mode: r.fail_mode.unwrap_or(FailMode::Open), ledger })
}
