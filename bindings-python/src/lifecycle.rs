//! The pipeline's life in a Python process: prewarm, flush, shutdown, the exit
//! hook, the fork hooks, stats, and the CLI entry. Everything that waits
//! releases the GIL.

use std::time::Duration;

use costline_core::{catalog, config, pipeline};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::{errors, guard};

/// Parse the price catalog on a background thread (called when the first
/// metered client is built).
#[pyfunction]
pub fn prewarm() {
    costline_core::prewarm();
}

/// A new time-ordered id (UUIDv7) for runs.
#[pyfunction]
pub fn new_id() -> String {
    costline_core::event::new_event_id()
}

#[pyfunction]
pub fn flush(py: Python<'_>, timeout_s: f64) -> PyResult<bool> {
    guard::call(|| {
        let timeout = config::seconds("timeout", timeout_s).map_err(errors::to_py)?;
        Ok(py.detach(|| pipeline::flush(timeout)))
    })
}

#[pyfunction]
pub fn shutdown(py: Python<'_>, timeout_s: f64) -> PyResult<bool> {
    guard::call(|| {
        let timeout = config::seconds("timeout", timeout_s).map_err(errors::to_py)?;
        Ok(py.detach(|| pipeline::shutdown(timeout)))
    })
}

/// The interpreter's exit hook: flush within the exit deadline, then stop
/// logging into Python (a thread still retrying must not call into an
/// interpreter that is finalising). The pipeline keeps accepting: events
/// recorded by atexit handlers that run after this one are written by the
/// core's own process-exit hook, within the same deadline.
#[pyfunction]
pub fn exit_shutdown(py: Python<'_>, timeout_s: f64) -> PyResult<bool> {
    guard::call(|| {
        let timeout = Duration::from_secs_f64(if timeout_s.is_finite() { timeout_s.max(0.0) } else { 0.0 });
        let done = py.detach(|| pipeline::exit_flush(timeout));
        log::set_max_level(log::LevelFilter::Off);
        Ok(done)
    })
}

/// Called in the parent just before `os.fork()`: the pipeline's threads close
/// their SQLite connections (SQLite must not be carried across fork).
/// Bounded (2 s); the GIL is released while it waits.
#[pyfunction]
pub fn before_fork(py: Python<'_>) -> PyResult<()> {
    guard::call(|| {
        py.detach(|| {
            // A catalog parse in flight on the prewarm thread would leave the
            // child waiting on a lazy value no thread of its own will finish:
            // finish it here, in the parent, first (about 10 ms, once).
            catalog::prewarm();
            pipeline::before_fork();
        });
        Ok(())
    })
}

/// Called in the parent right after `os.fork()`: the threads resume.
#[pyfunction]
pub fn after_fork_parent() -> PyResult<()> {
    guard::call(|| {
        pipeline::after_fork_parent();
        Ok(())
    })
}

/// Called in a child right after `os.fork()`: a fresh pipeline for the child,
/// and budget counters of its own (the parent's reservations stay the parent's).
#[pyfunction]
pub fn after_fork() -> PyResult<()> {
    guard::call(|| {
        pipeline::after_fork_child();
        costline_core::budget::after_fork_child();
        Ok(())
    })
}

#[pyfunction]
pub fn stats(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
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
pub fn cli_main(py: Python<'_>, args: Vec<String>) -> PyResult<i32> {
    guard::call(|| Ok(py.detach(|| costline_core::cli::main(args))))
}

/// Panics on purpose, to prove that no panic crosses into Python (tests only).
#[pyfunction]
pub fn _test_panic() -> PyResult<()> {
    guard::call(|| panic!("deliberate test panic"))
}
