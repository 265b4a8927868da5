//! `configure`: the npm layer sends the settings as JSON with the core's
//! (snake_case) names; core/src/settings.rs checks and applies them.

use costline_core::settings::{self, Settings};
use napi::Result;
use napi_derive::napi;

use crate::guard;

#[napi]
pub fn configure(settings_json: String) -> Result<()> {
    guard::call(|| {
        let settings: Settings = serde_json::from_str(&settings_json).map_err(guard::config_error)?;
        settings::configure(settings).map_err(guard::to_js)
    })
}

/// The settings in force as JSON, secrets masked.
#[napi]
pub fn settings() -> Result<String> {
    guard::call(|| Ok(serde_json::to_string(&settings::view()).expect("settings always serialise")))
}

/// Whether `COSTLINE_DISABLED` turns costline off (read once by the npm layer).
#[napi]
pub fn disabled_from_env() -> bool {
    costline_core::config::disabled_from_env()
}
