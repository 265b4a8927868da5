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
