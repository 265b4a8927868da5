//! The Node addon: a napi-rs adapter over `costline_core`, loaded by the npm
//! package `costline` (npm/). Like the Python binding it converts arguments,
//! maps errors and keeps panics out of JavaScript; every rule lives in the
//! core. One file per concern: `meter` (a call in flight), `record` (track,
//! previews), `pricing` (cost and tokens), `lifecycle` (flush, shutdown, exit,
//! CLI), `settings` (configure), `ledger_api` (report and events), `guard`
//! (errors and panics), `logging` (core log records to stderr), `translate`
//! (fallback translation and policy), `routing` (the routing decision).

// Under clippy, napi-derive leaves out the registration code that uses the
// exported functions, so they look unused; a real build registers them all.
#![cfg_attr(clippy, allow(dead_code))]

mod bedrock;
mod blocking;
mod budget;
mod export;
mod guard;
mod handles;
mod latency;
mod ledger_api;
mod lifecycle;
mod logging;
mod meter;
mod pricing;
mod providers;
mod record;
mod routing;
mod settings;
mod translate;

use costline_core::event::Sdk;

/// The addon's Rust allocations: events are built on the caller's thread and
/// freed on the core's writer thread, which glibc's allocator pays for in
/// contention and consolidation (measured: most of the native time of a
/// recorded call); mimalloc's per-thread free lists do not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

fn sdk() -> Sdk {
    Sdk { lang: "node".to_string(), version: SDK_VERSION.to_string() }
}

/// Runs once per process when the addon first loads (worker threads load it
/// again, into the same process-wide core).
#[napi_derive::module_init]
fn init() {
    logging::install();
    costline_core::init_from_env();
}

/// The addon's version (the core's).
#[napi_derive::napi]
pub fn version() -> &'static str {
    SDK_VERSION
}
