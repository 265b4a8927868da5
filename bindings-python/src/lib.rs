//! `costline._native`: the pyo3 adapter over `costline_core`. It converts
//! arguments, maps errors and releases the GIL around blocking work; every
//! rule lives in the core.

use std::time::Duration;

mod convert;
mod env;
mod errors;
mod settings;

use costline_core::event::{Sdk, Status};
use costline_core::recorder::{self, Call, CallUsage};
use costline_core::usage::Usage;
use costline_core::{catalog, pipeline, tokens, usage};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

fn sdk() -> Sdk {
    Sdk { lang: "python".to_string(), version: SDK_VERSION.to_string() }
}

fn status(name: &str) -> PyResult<Status> {
    match name {
        "ok" => Ok(Status::Ok),
        "error" => Ok(Status::Error),
        "blocked" => Ok(Status::Blocked),
        other => Err(PyValueError::new_err(format!("status must be ok, error or blocked, not {other:?}"))),
    }
}

/// Record one metered call. Returns the cost as a decimal string, or None
/// when the model has no price. Never blocks: the event is enqueued.
#[pyfunction]
#[pyo3(signature = (provider, operation, model, resolved_model, usage_parts, latency_ms, stream, status_name,
                    error_type, run_id, agent, agent_path, tags, estimate_request=None, estimate_output=None))]
#[allow(clippy::too_many_arguments)]
fn record(
    provider: String,
    operation: String,
    model: String,
    resolved_model: Option<String>,
    usage_parts: Option<&Bound<'_, PyList>>,
    latency_ms: u64,
    stream: bool,
    status_name: &str,
    error_type: Option<String>,
    run_id: Option<String>,
    agent: Option<String>,
    agent_path: Vec<String>,
    tags: Option<&Bound<'_, PyDict>>,
    estimate_request: Option<&Bound<'_, PyAny>>,
    estimate_output: Option<String>,
) -> PyResult<Option<String>> {
    let usage = match (usage_parts, estimate_request) {
        (Some(parts), _) if !parts.is_empty() => CallUsage::Raw(convert::json_parts(parts)?),
        (_, Some(request)) => CallUsage::Estimate {
            request: convert::request_value(request),
            output_text: estimate_output.unwrap_or_default(),
        },
        _ => CallUsage::None,
    };
    let call = Call {
        resolved_model,
        usage,
        latency_ms,
        stream,
        status: status(status_name)?,
        error_type,
        run_id,
        agent,
        agent_path,
        tags: convert::tags(tags)?,
        ..Call::new(provider, operation, model, sdk())
    };
    let recorded = recorder::record(call).map_err(errors::to_py)?;
    Ok(recorded.cost_usd.map(|c| c.to_string()))
}

/// The event a call would produce, as wire-format JSON, without recording it
/// (used to replay the shared test vectors, and handy for dry runs).
#[pyfunction]
#[pyo3(signature = (provider, operation, model, resolved_model, usage_parts))]
fn preview_event(
    provider: String,
    operation: String,
    model: String,
    resolved_model: Option<String>,
    usage_parts: &Bound<'_, PyList>,
) -> PyResult<String> {
    let call = Call {
        resolved_model,
        usage: CallUsage::Raw(convert::json_parts(usage_parts)?),
        ..Call::new(provider, operation, model, sdk())
    };
    Ok(recorder::build_event(call).map_err(errors::to_py)?.to_json())
}

/// `costline.track(...)`: an event for a call no drop-in made. Returns
/// (event_id, cost or None). Bad input raises.
#[pyfunction]
#[pyo3(signature = (provider, model, operation, input_tokens, output_tokens, cached_input_tokens,
                    cache_write_input_tokens, reasoning_tokens, latency_ms, stream, status_name, error_type,
                    resolved_model, run_id, agent, agent_path, tags))]
#[allow(clippy::too_many_arguments)]
fn track(
    provider: String,
    model: String,
    operation: String,
    input_tokens: u64,
    output_tokens: u64,
    cached_input_tokens: u64,
    cache_write_input_tokens: u64,
    reasoning_tokens: u64,
    latency_ms: u64,
    stream: bool,
    status_name: &str,
    error_type: Option<String>,
    resolved_model: Option<String>,
    run_id: Option<String>,
    agent: Option<String>,
    agent_path: Vec<String>,
    tags: Option<&Bound<'_, PyDict>>,
) -> PyResult<(String, Option<String>)> {
    let counted = Usage {
        input_tokens,
        output_tokens,
        cached_input_tokens,
        cache_write_5m_tokens: cache_write_input_tokens,
        reasoning_tokens,
        ..Usage::default()
    };
    let call = Call {
        resolved_model,
        usage: CallUsage::Counted(counted),
        latency_ms,
        stream,
        status: status(status_name)?,
        error_type,
        run_id,
        agent,
        agent_path,
        tags: convert::tags(tags)?,
        ..Call::new(provider, operation, model, sdk())
    };
    let recorded = recorder::record(call).map_err(errors::to_py)?;
    Ok((recorded.event_id, recorded.cost_usd.map(|c| c.to_string())))
}

/// Cost of a call from token counts, as a decimal string; None if unknown.
#[pyfunction(name = "cost")]
#[pyo3(signature = (model, input_tokens, output_tokens, cached_input_tokens=0, cache_write_input_tokens=0,
                    reasoning_tokens=0, provider=None))]
fn cost_of(
    model: &str,
    input_tokens: u64,
    output_tokens: u64,
    cached_input_tokens: u64,
    cache_write_input_tokens: u64,
    reasoning_tokens: u64,
    provider: Option<&str>,
) -> PyResult<Option<String>> {
    if cached_input_tokens + cache_write_input_tokens > input_tokens {
        return Err(errors::to_py(costline_core::Error::InvalidEvent(
            "cached_input_tokens + cache_write_input_tokens exceed input_tokens (input includes cached)"
                .into(),
        )));
    }
    let usage = Usage {
        input_tokens,
        output_tokens,
        cached_input_tokens,
        cache_write_5m_tokens: cache_write_input_tokens,
        reasoning_tokens,
        ..Usage::default()
    };
    Ok(costline_core::cost::cost_for(provider, model, &usage).map(|(c, _, _)| c.to_string()))
}

#[pyfunction]
fn count_tokens(py: Python<'_>, text: &str, model: &str) -> usize {
    if text.len() < 4096 {
        tokens::count(text, model)
    } else {
        py.detach(|| tokens::count(text, model))
    }
}

/// A new time-ordered id (UUIDv7) for runs.
#[pyfunction]
fn new_id() -> String {
    costline_core::event::new_event_id()
}

/// Parse the price catalog on a background thread (called when the first
/// metered client is built).
#[pyfunction]
fn prewarm() {
    costline_core::prewarm();
}

#[pyfunction]
fn operation_for_path(provider: &str, path: &str) -> Option<&'static str> {
    usage::operation_for_path(provider, path)
}

/// The catalog entry that would price `model` for `provider`, or None.
#[pyfunction]
fn price_key(provider: &str, model: &str) -> Option<String> {
    catalog::current().resolve(provider, model).map(|r| r.key.to_string())
}

#[pyfunction]
fn catalog_version() -> String {
    catalog::current().version().to_string()
}

#[pyfunction]
fn flush(py: Python<'_>, timeout_s: f64) -> PyResult<bool> {
    let timeout = costline_core::config::seconds("timeout", timeout_s).map_err(errors::to_py)?;
    Ok(py.detach(|| pipeline::flush(timeout)))
}

#[pyfunction]
fn shutdown(py: Python<'_>, timeout_s: f64) -> PyResult<bool> {
    let timeout = costline_core::config::seconds("timeout", timeout_s).map_err(errors::to_py)?;
    Ok(py.detach(|| pipeline::shutdown(timeout)))
}

/// The exit hook: flush with a deadline, stop the thread, then stop logging
/// into Python (a thread still retrying must not call into an interpreter
/// that is finalising).
#[pyfunction]
fn exit_shutdown(py: Python<'_>, timeout_s: f64) -> bool {
    let timeout = Duration::from_secs_f64(timeout_s.max(0.0));
    let done = py.detach(|| pipeline::shutdown(timeout));
    log::set_max_level(log::LevelFilter::Off);
    done
}

/// Called in the parent just before `os.fork()`: the pipeline's threads close
/// their SQLite connections (SQLite must not be carried across fork).
/// Bounded (2 s); the GIL is released while it waits.
#[pyfunction]
fn before_fork(py: Python<'_>) {
    py.detach(|| {
        // A catalog parse in flight on the prewarm thread would leave the
        // child waiting on a lazy value no thread of its own will finish:
        // finish it here, in the parent, first (about 10 ms, once).
        catalog::prewarm();
        pipeline::before_fork();
    });
}

/// Called in the parent right after `os.fork()`: the threads resume.
#[pyfunction]
fn after_fork_parent() {
    pipeline::after_fork_parent();
}

/// Called in a child right after `os.fork()`: a fresh pipeline for the child.
#[pyfunction]
fn after_fork() {
    pipeline::after_fork_child();
}

#[pyfunction]
fn stats(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let s = pipeline::stats();
    let d = PyDict::new(py);
    d.set_item("enqueued", s.enqueued)?;
    d.set_item("written", s.written)?;
    d.set_item("exported", s.exported)?;
    d.set_item("dropped", s.dropped)?;
    d.set_item("failed_batches", s.failed_batches)?;
    d.set_item("pending_export", s.pending_export)?;
    Ok(d)
}

/// The `costline` command; returns its exit code.
#[pyfunction]
fn cli_main(py: Python<'_>, args: Vec<String>) -> i32 {
    py.detach(|| costline_core::cli::main(args))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Core log records go to Python's `logging` under the "costline" logger.
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
    m.add("__version__", SDK_VERSION)?;
    m.add_function(wrap_pyfunction!(record, m)?)?;
    m.add_function(wrap_pyfunction!(track, m)?)?;
    m.add_function(wrap_pyfunction!(preview_event, m)?)?;
    m.add_function(wrap_pyfunction!(cost_of, m)?)?;
    m.add_function(wrap_pyfunction!(count_tokens, m)?)?;
    m.add_function(wrap_pyfunction!(prewarm, m)?)?;
    m.add_function(wrap_pyfunction!(new_id, m)?)?;
    m.add_function(wrap_pyfunction!(operation_for_path, m)?)?;
    m.add_function(wrap_pyfunction!(catalog_version, m)?)?;
    m.add_function(wrap_pyfunction!(price_key, m)?)?;
    m.add_function(wrap_pyfunction!(flush, m)?)?;
    m.add_function(wrap_pyfunction!(shutdown, m)?)?;
    m.add_function(wrap_pyfunction!(after_fork, m)?)?;
    m.add_function(wrap_pyfunction!(before_fork, m)?)?;
    m.add_function(wrap_pyfunction!(after_fork_parent, m)?)?;
    m.add_function(wrap_pyfunction!(exit_shutdown, m)?)?;
    m.add_function(wrap_pyfunction!(stats, m)?)?;
    m.add_function(wrap_pyfunction!(cli_main, m)?)?;
    m.add_function(wrap_pyfunction!(settings::configure, m)?)?;
    m.add_function(wrap_pyfunction!(settings::current_settings, m)?)?;
    m.add_function(wrap_pyfunction!(env::disabled_from_env, m)?)?;
    m.add_function(wrap_pyfunction!(env::parse_disabled, m)?)?;
    Ok(())
}
