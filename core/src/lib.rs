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
/// environment's price overrides (`COSTLINE_PRICES`) and parse the catalog on
/// a background thread so the first call does not pay for it. A bad price
/// file is logged, not fatal: loading costline must never break the host;
/// `configure(prices=...)` is where a bad file raises.
pub fn init_from_env() {
    std::thread::Builder::new()
        .name("costline-init".into())
        .spawn(|| {
            let prices = match config::Config::from_env() {
                Ok(cfg) => cfg.prices_path,
                Err(e) => {
                    log::error!("costline: {e}");
                    None
                }
            };
            if let Some(path) = prices {
                if let Err(e) = catalog::configure(Some(&path), None) {
                    log::error!("costline: {e}; prices from the catalog only");
                }
            }
            catalog::prewarm();
        })
        .map(|_| ())
        .unwrap_or_else(|e| log::warn!("costline: could not start the init thread: {e}"));
}
