//! A drop-in's fallback chain walked by the core (`fallback::ChainWalk`), for
//! `npm/src/fallback.ts`; the same class the Python binding exposes
//! (bindings-python/src/fallback_walk.rs). Conversions and error mapping only.

use costline_core::fallback::{ChainWalk, Failure, Policy, Step};
use napi::Result;
use napi_derive::napi;
use serde_json::Value;

use super::{map_err, options_or_null};
use crate::guard;

/// The next target: its index in the chain, its attempt number and timeout
/// (ms; undefined: the SDK's own).
#[napi(object)]
pub struct FallbackStep {
    pub index: u32,
    pub number: u32,
    pub timeout_ms: Option<f64>,
}

fn failure(kind: &str, status: Option<u32>) -> Failure {
    Failure::parse(kind, status.and_then(|s| u16::try_from(s).ok()))
}

/// One logical call walking its chain: `primaryFailed(kind, status)`,
/// `nextStep()`, `unsupported()`, `budgetSkipped(reason)`, `failed(kind,
/// status)`, `served()`, `exhausted(lastType)`.
#[napi]
pub struct FallbackWalk {
    inner: ChainWalk,
}

#[napi]
impl FallbackWalk {
    /// `options`: the chain's policy in the core's names; `targets`:
    /// "provider/model" of each; `elapsed_ms`: how long ago the primary attempt
    /// started (the deadline counts it).
    #[napi(constructor)]
    pub fn new(
        options: Option<Value>,
        targets: Vec<String>,
        elapsed_ms: Option<f64>,
    ) -> Result<FallbackWalk> {
        guard::call(|| {
            let policy = Policy::from_value(&options_or_null(options)).map_err(map_err)?;
            let now = std::time::Instant::now();
            let ms = elapsed_ms.filter(|ms| ms.is_finite()).unwrap_or(0.0);
            let elapsed = std::time::Duration::from_secs_f64((ms / 1000.0).clamp(0.0, 86_400.0));
            let started = now.checked_sub(elapsed).unwrap_or(now);
            Ok(FallbackWalk { inner: ChainWalk::new(policy, targets, started) })
        })
    }

    #[napi(getter)]
    pub fn call_id(&self) -> String {
        self.inner.call_id().to_string()
    }

    #[napi(getter)]
    pub fn attempts(&self) -> u32 {
        self.inner.attempts()
    }

    /// true: the primary is attempt 1 of the chain; false: throw its error as it is.
    #[napi]
    pub fn primary_failed(&mut self, kind: String, status: Option<u32>) -> bool {
        self.inner.primary_failed(failure(&kind, status))
    }

    /// The next target, or null: throw `exhausted()`'s error or the last failure.
    /// Throws `costline:fallback_deadline: ...` once the deadline passed.
    #[napi]
    pub fn next_step(&mut self) -> Result<Option<FallbackStep>> {
        guard::call(|| match self.inner.next_step().map_err(map_err)? {
            Step::Try { index, attempt } => Ok(Some(FallbackStep {
                index: index as u32,
                number: attempt.number,
                timeout_ms: attempt.timeout.map(|t| t.as_secs_f64() * 1000.0),
            })),
            Step::RaiseLast | Step::Exhausted => Ok(None),
        })
    }

    /// The current target cannot express the request: true, skip it.
    #[napi]
    pub fn unsupported(&mut self) -> bool {
        self.inner.unsupported()
    }

    #[napi]
    pub fn budget_skipped(&mut self, reason: String) {
        self.inner.budget_skipped(&reason);
    }

    /// `kind`: "status" (with `status`), "connection", "timeout" or anything else.
    #[napi]
    pub fn failed(&mut self, kind: String, status: Option<u32>) {
        self.inner.failed(failure(&kind, status));
    }

    /// `{served_by, attempts, call_id}` of the current target's answer.
    #[napi]
    pub fn served(&self) -> Value {
        serde_json::to_value(self.inner.served()).unwrap_or(Value::Null)
    }

    /// `{message, skipped: [{target, reason}]}` when budgets skipped targets;
    /// null: throw the last failure.
    #[napi]
    pub fn exhausted(&self, last_type: Option<String>) -> Value {
        serde_json::to_value(self.inner.exhausted(last_type.as_deref())).unwrap_or(Value::Null)
    }
}
