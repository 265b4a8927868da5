//! Reading the ledger in-process through the core's own SQLite: `report` and
//! `events` (they first flush what was recorded, within the timeout) and
//! `status`. They run on the libuv thread pool: the event loop never waits.

use std::time::Duration;

use costline_core::pipeline;
use costline_core::report::{parse_since_now, GroupBy};
use napi::bindgen_prelude::AsyncTask;
use napi_derive::napi;

use crate::blocking::{spawn, Blocking};
use crate::guard;

/// The report as JSON (rows with decimal-string costs).
#[napi(ts_return_type = "Promise<string>")]
pub fn read_report(by: Vec<String>, since: Option<String>, timeout_ms: u32) -> AsyncTask<Blocking<String>> {
    spawn(move || {
        let by = by
            .iter()
            .map(|b| GroupBy::parse(b))
            .collect::<costline_core::Result<Vec<_>>>()
            .map_err(guard::to_js)?;
        let since = since.as_deref().map(parse_since_now).transpose().map_err(guard::to_js)?;
        let report =
            pipeline::report(by, since, Duration::from_millis(timeout_ms.into())).map_err(guard::to_js)?;
        Ok(report.to_json().to_string())
    })
}

/// Wire-format events as a JSON array, oldest first.
#[napi(ts_return_type = "Promise<string>")]
pub fn read_events(
    since: Option<String>,
    limit: Option<u32>,
    timeout_ms: u32,
) -> AsyncTask<Blocking<String>> {
    spawn(move || {
        let since = since.as_deref().map(parse_since_now).transpose().map_err(guard::to_js)?;
        let events =
            pipeline::events(since, limit.map(|l| l as usize), Duration::from_millis(timeout_ms.into()))
                .map_err(guard::to_js)?;
        Ok(serde_json::to_string(&events).expect("events always serialise"))
    })
}

/// What this process's pipeline has done, as JSON.
#[napi]
pub fn status() -> String {
    serde_json::to_string(&pipeline::status()).expect("a status always serialises")
}
