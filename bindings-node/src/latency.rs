//! Observed latencies for the routed client's `prefer: "lowest_latency"`
//! (issue 11): each model's p50 over its newest successful calls in the
//! ledger, read on the libuv thread pool (the event loop never waits).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use costline_core::pipeline;
use napi::bindgen_prelude::AsyncTask;
use napi_derive::napi;

use crate::blocking::{spawn, Blocking};
use crate::guard;

/// `{model: p50 ms}` as JSON, over each model's newest `per_model` successful
/// calls of the last `window_ms`, after waiting at most `timeout_ms` for
/// events still queued (0: read what the ledger has).
#[napi(ts_return_type = "Promise<string>")]
pub fn p50_latencies(window_ms: f64, per_model: u32, timeout_ms: u32) -> AsyncTask<Blocking<String>> {
    spawn(move || {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let window = Duration::from_millis(if window_ms.is_finite() && window_ms > 0.0 {
            window_ms as u64
        } else {
            0
        });
        let since_ms = now.saturating_sub(window).as_millis() as i64;
        let found = pipeline::p50_latencies(
            Some(since_ms),
            per_model as usize,
            Duration::from_millis(timeout_ms.into()),
        )
        .map_err(guard::to_js)?;
        Ok(serde_json::to_string(&found).expect("latencies always serialise"))
    })
}
