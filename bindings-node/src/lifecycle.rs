//! The pipeline's life in a Node process. `flush` and `shutdown` wait on the
//! libuv thread pool and resolve a promise: the event loop never blocks, and
//! the core's threads hold no libuv handle, so they never keep a process
//! alive. `exitFlush` is the one blocking call, for `process.on("exit")`,
//! where nothing asynchronous can run any more.

use std::time::Duration;

use costline_core::pipeline;
use napi::bindgen_prelude::AsyncTask;
use napi::Result;
use napi_derive::napi;

use crate::blocking::{spawn, Blocking};
use crate::guard;

/// Resolves true when everything recorded so far was handled within the timeout.
#[napi(ts_return_type = "Promise<boolean>")]
pub fn flush(timeout_ms: u32) -> AsyncTask<Blocking<bool>> {
    spawn(move || Ok(pipeline::flush(Duration::from_millis(timeout_ms.into()))))
}

#[napi(ts_return_type = "Promise<boolean>")]
pub fn shutdown(timeout_ms: u32) -> AsyncTask<Blocking<bool>> {
    spawn(move || Ok(pipeline::shutdown(Duration::from_millis(timeout_ms.into()))))
}

/// Flush within `timeout_ms`, blocking (process exit only).
#[napi]
pub fn exit_flush(timeout_ms: u32) -> Result<bool> {
    guard::call(|| Ok(pipeline::exit_flush(Duration::from_millis(timeout_ms.into()))))
}

#[napi(object)]
pub struct Stats {
    pub enqueued: f64,
    pub written: f64,
    pub exported: f64,
    pub dropped: f64,
    pub failed_batches: f64,
    pub pending_export: f64,
}

#[napi]
pub fn stats() -> Stats {
    let s = pipeline::stats();
    Stats {
        enqueued: s.enqueued as f64,
        written: s.written as f64,
        exported: s.exported as f64,
        dropped: s.dropped as f64,
        failed_batches: s.failed_batches as f64,
        pending_export: s.pending_export as f64,
    }
}

/// The `costline` command (`npx costline ...`); returns its exit code. It
/// prints to this process's stdout and stderr.
#[napi]
pub fn cli_main(args: Vec<String>) -> Result<i32> {
    guard::call(|| Ok(costline_core::cli::main(args)))
}

/// Panics on purpose, to prove that no panic crosses into JavaScript (tests only).
#[napi]
pub fn test_panic() -> Result<()> {
    guard::call(|| panic!("deliberate test panic"))
}
