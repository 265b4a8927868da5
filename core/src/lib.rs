//! costline's core: everything both language layers need, written once.
//!
//! The modules follow the flow of one call (see DESIGN.md):
//! `usage` normalises what a provider reported, `catalog` + `cost` price it,
//! `tokens` estimates when the provider reported nothing, `event` is the wire
//! format, `recorder` turns one call into one event, `pipeline` moves events to
//! the `ledger` and a collector in the background, `report` and `cli` read them back.

pub mod catalog;
pub mod cli;
pub mod config;
pub mod cost;
pub mod error;
pub mod event;
pub mod ledger;
pub mod pipeline;
pub mod recorder;
pub mod report;
pub mod tokens;
pub mod usage;

pub use error::{Error, Result};

/// Start-up work a language layer runs once when it loads: apply the
/// environment's price overrides (`COSTLINE_PRICES`), on a background thread.
/// A bad price file is logged, not fatal: loading costline must never break
/// the host; `configure(prices=...)` is where a bad file raises. The catalog
/// itself is parsed by `prewarm` (first client) or on first use, not here:
/// work at import showed up as ~25 ms on `import` in short-lived processes.
pub fn init_from_env() {
    if std::env::var_os("COSTLINE_PRICES").is_none_or(|v| v.is_empty()) {
        return;
    }
    std::thread::Builder::new()
        .name("costline-init".into())
        .spawn(|| {
            if let Some(path) = config::env_prices_path() {
                if let Err(e) = catalog::configure(Some(&path), None) {
                    log::error!("costline: {e}; prices from the catalog only");
                }
            }
        })
        .map(|_| ())
        .unwrap_or_else(|e| log::warn!("costline: could not start the init thread: {e}"));
}

/// Parse the price catalog off the call path, once (a client was created:
/// calls are coming). Token encoders stay lazy: most calls never estimate.
pub fn prewarm() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let _ = std::thread::Builder::new().name("costline-prewarm".into()).spawn(catalog::prewarm);
    });
}
