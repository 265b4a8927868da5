//! `costline._native`: the pyo3 adapter over `costline_core`. It converts
//! arguments, maps errors, keeps panics out of Python and releases the GIL
//! around blocking work; every rule lives in the core. One file per concern:
//! `record` (calls in), `pricing` (cost and tokens), `lifecycle` (flush,
//! shutdown, exit and fork hooks), `settings` (configure), `export` (the
//! on_error hook), `convert`,
//! `errors`, `guard`.

mod body;
mod budget;
mod convert;
mod env;
mod errors;
mod export;
mod guard;
mod in_place;
mod ledger_api;
mod lifecycle;
mod observe;
mod pricing;
mod providers;
mod record;
mod routing;
mod settings;
mod sse_translate;
mod translate;

use costline_core::event::Sdk;
use pyo3::prelude::*;

const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

fn sdk() -> Sdk {
    Sdk { lang: "python".to_string(), version: SDK_VERSION.to_string() }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Core log records go to Python's logging under "costline." (a child of the
    // `costline` logger users configure); dependencies' chatter stays out.
    if let Ok(logger) = pyo3_log::Logger::new(m.py(), pyo3_log::Caching::LoggersAndLevels) {
        let _ = logger
            .set_prefix("costline")
            .filter(log::LevelFilter::Warn)
            .filter_target("costline_core".to_owned(), log::LevelFilter::Debug)
            .install();
    }
    costline_core::init_from_env();
    errors::register(m)?;
    translate::register(m)?;
    routing::register(m)?;
    m.add("__version__", SDK_VERSION)?;
    m.add_function(wrap_pyfunction!(record::record, m)?)?;
    m.add_function(wrap_pyfunction!(record::track, m)?)?;
    m.add_function(wrap_pyfunction!(record::preview_event, m)?)?;
    m.add_function(wrap_pyfunction!(record::merge_tags, m)?)?;
    m.add_function(wrap_pyfunction!(pricing::cost_of, m)?)?;
    m.add_function(wrap_pyfunction!(pricing::count_tokens, m)?)?;
    m.add_function(wrap_pyfunction!(pricing::operation_for_path, m)?)?;
    m.add_function(wrap_pyfunction!(pricing::catalog_version, m)?)?;
    m.add_function(wrap_pyfunction!(providers::provider_for_base_url, m)?)?;
    m.add_function(wrap_pyfunction!(providers::model_for_path, m)?)?;
    m.add_function(wrap_pyfunction!(providers::bedrock_invoke_usage, m)?)?;
    m.add_function(wrap_pyfunction!(providers::bedrock_invoke_chunk_usage, m)?)?;
    m.add_function(wrap_pyfunction!(pricing::price_key, m)?)?;
    m.add_function(wrap_pyfunction!(lifecycle::prewarm, m)?)?;
    m.add_function(wrap_pyfunction!(lifecycle::new_id, m)?)?;
    m.add_function(wrap_pyfunction!(lifecycle::flush, m)?)?;
    m.add_function(wrap_pyfunction!(lifecycle::shutdown, m)?)?;
    m.add_function(wrap_pyfunction!(lifecycle::after_fork, m)?)?;
    m.add_function(wrap_pyfunction!(lifecycle::before_fork, m)?)?;
    m.add_function(wrap_pyfunction!(lifecycle::after_fork_parent, m)?)?;
    m.add_function(wrap_pyfunction!(lifecycle::exit_shutdown, m)?)?;
    m.add_function(wrap_pyfunction!(lifecycle::stats, m)?)?;
    m.add_function(wrap_pyfunction!(lifecycle::cli_main, m)?)?;
    m.add_function(wrap_pyfunction!(lifecycle::_test_panic, m)?)?;
    m.add_class::<body::BodyScanner>()?;
    m.add_class::<observe::StreamObserver>()?;
    m.add_class::<body::UsageChunkFilter>()?;
    m.add_class::<sse_translate::SseFallbackStream>()?;
    m.add_function(wrap_pyfunction!(settings::configure, m)?)?;
    m.add_function(wrap_pyfunction!(settings::current_settings, m)?)?;
    m.add_function(wrap_pyfunction!(env::disabled_from_env, m)?)?;
    m.add_function(wrap_pyfunction!(env::parse_disabled, m)?)?;
    m.add_function(wrap_pyfunction!(export::set_error_hook, m)?)?;
    m.add_function(wrap_pyfunction!(ledger_api::read_report, m)?)?;
    m.add_function(wrap_pyfunction!(ledger_api::read_events, m)?)?;
    m.add_function(wrap_pyfunction!(ledger_api::status, m)?)?;
    budget::register(m)?;
    Ok(())
}
