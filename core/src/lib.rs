//! costline's core: everything both language layers need, written once.
//!
//! The modules follow the flow of one call (see DESIGN.md):
//! `usage` normalises what a provider reported, `catalog` + `cost` price it,
//! `tokens` estimates when the provider reported nothing, `event` is the wire
//! format, `recorder` turns one call into one event, `pipeline` moves events to
//! the `ledger` and a collector in the background, `report` and `cli` read them back.

pub mod attribution;
pub mod borrowed_json;
pub mod budget;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod cost;
pub mod error;
pub mod event;
pub mod fallback;
pub mod hooks;
pub mod ledger;
pub mod log_once;
pub mod pipeline;
pub mod recorder;
pub mod report;
pub mod routing;
pub mod secrets;
pub mod settings;
pub mod tokens;
pub mod translate;
pub mod usage;

pub use error::{Error, Result};

/// What a caught panic said, for the error a binding raises instead of it.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}

/// Start-up work a language layer runs once when it loads: with `COSTLINE_PRICES`
/// set, build the pricing (catalog + that file) on a background thread, and log
/// there, clearly, a file that cannot be used. A bad price file is not fatal:
/// loading costline must never break the host; it is ignored (prices from the
/// catalog), and `configure(prices=...)` naming it raises the same error. Without
/// it, nothing is parsed here: work at import showed up as ~25 ms on `import` in
/// short-lived processes; `prewarm` (first client) or first use parses the catalog.
pub fn init_from_env() {
    if config::env_prices_path().is_none() {
        return;
    }
    std::thread::Builder::new()
        .name("costline-init".into())
        .spawn(build_pricing)
        .map(|_| ())
        .unwrap_or_else(|e| log::warn!("costline: could not start the init thread: {e}"));
}

/// Parse the price catalog off the call path, once (a client was created:
/// calls are coming). Token encoders stay lazy: most calls never estimate.
pub fn prewarm() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let _ = std::thread::Builder::new().name("costline-prewarm".into()).spawn(build_pricing);
    });
}

/// Build the pricing (catalog + the environment's price file), then log why
/// that file was ignored, if it was: here, on a background thread holding no
/// lock, never inside the build (a caller waiting for it may hold the host's
/// interpreter lock, which logging can need).
fn build_pricing() {
    catalog::prewarm();
    if let Some(e) = catalog::take_startup_error() {
        log::error!("costline: COSTLINE_PRICES ignored, prices come from the catalog: {e}");
    }
}
