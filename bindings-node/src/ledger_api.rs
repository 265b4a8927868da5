//! Reading the ledger in-process through the core's own SQLite: `report` and
//! `events` (they first flush what was recorded, within the timeout) and
//! `status`. They run on the libuv thread pool: the event loop never waits.

use std::time::Duration;

use costline_core::pipeline;
use costline_core::report::{parse_since_now, GroupBy};
use napi::bindgen_prelude::AsyncTask;
use napi::{Env, Result, Task};
use napi_derive::napi;

use crate::guard;

pub struct ReadReport {
    by: Vec<String>,
    since: Option<String>,
    timeout: Duration,
}

impl Task for ReadReport {
    type Output = String;
    type JsValue = String;

    fn compute(&mut self) -> Result<String> {
        guard::call(|| {
            let by = self
                .by
                .iter()
                .map(|b| GroupBy::parse(b))
                .collect::<costline_core::Result<Vec<_>>>()
                .map_err(guard::to_js)?;
            let since = self.since.as_deref().map(parse_since_now).transpose().map_err(guard::to_js)?;
            let report = pipeline::report(by, since, self.timeout).map_err(guard::to_js)?;
            Ok(report.to_json().to_string())
        })
    }

    fn resolve(&mut self, _: Env, output: String) -> Result<String> {
        Ok(output)
    }
}

/// The report as JSON (rows with decimal-string costs).
#[napi]
pub fn read_report(by: Vec<String>, since: Option<String>, timeout_ms: u32) -> AsyncTask<ReadReport> {
    AsyncTask::new(ReadReport { by, since, timeout: Duration::from_millis(timeout_ms.into()) })
}

pub struct ReadEvents {
    since: Option<String>,
    limit: Option<u32>,
    timeout: Duration,
}

impl Task for ReadEvents {
    type Output = String;
    type JsValue = String;

    fn compute(&mut self) -> Result<String> {
        guard::call(|| {
            let since = self.since.as_deref().map(parse_since_now).transpose().map_err(guard::to_js)?;
            let events = pipeline::events(since, self.limit.map(|l| l as usize), self.timeout)
                .map_err(guard::to_js)?;
            Ok(serde_json::to_string(&events).expect("events always serialise"))
        })
    }

    fn resolve(&mut self, _: Env, output: String) -> Result<String> {
        Ok(output)
    }
}

/// Wire-format events as a JSON array, oldest first.
#[napi]
pub fn read_events(since: Option<String>, limit: Option<u32>, timeout_ms: u32) -> AsyncTask<ReadEvents> {
    AsyncTask::new(ReadEvents { since, limit, timeout: Duration::from_millis(timeout_ms.into()) })
}

/// What this process's pipeline has done, as JSON.
#[napi]
pub fn status() -> String {
    serde_json::to_string(&pipeline::status()).expect("a status always serialises")
}
