//! Fallback chains (issue 10): the core's translation between the chat APIs and
//! a chain's policy, for the npm layer. Conversions and error mapping only; the
//! same functions the Python binding exposes (bindings-python/src/translate.rs).

use costline_core::fallback::{self, Failure, OnUnsupported};
use costline_core::translate::{self as core_translate, Api, ResponseContext, StreamTranslator};
use napi::{Error, Result, Status};
use napi_derive::napi;
use serde_json::{json, Value};

use crate::guard;

#[path = "fallback_walk.rs"]
mod walk;

/// `FallbackUnsupported` carries its feature and target as JSON after the code
/// (`costline:fallback_unsupported: {"message", "feature", "target"}`), as
/// `budget_exceeded` does, so the npm layer can set them as fields.
pub(crate) fn map_err(err: costline_core::Error) -> Error {
    match &err {
        costline_core::Error::FallbackUnsupported { feature, target } => {
            let details = json!({"message": err.to_string(), "feature": feature, "target": target});
            Error::new(Status::GenericFailure, format!("costline:fallback_unsupported: {details}"))
        }
        _ => guard::to_js(err),
    }
}

fn options_or_null(options: Option<Value>) -> Value {
    options.unwrap_or(Value::Null)
}

/// `kind` "request" (options {model}), "response" or "stream" (options: id,
/// model, created, include_usage): `input` in `source`'s wire shape for a
/// request, in `target`'s for a response or stream; the answer in the other's.
/// The one function the shared vectors (tests/vectors/translate) replay through.
#[napi]
pub fn translate(
    kind: String,
    source: String,
    target: String,
    input: Value,
    options: Option<Value>,
) -> Result<Value> {
    guard::call(|| {
        core_translate::translate(&kind, &source, &target, &input, &options_or_null(options)).map_err(map_err)
    })
}

/// Translates one target stream into the source's chunks: `push(event)` per
/// target event (the parsed JSON of one SSE event; Bedrock: `{eventType: body}`),
/// `finish()` when the target's stream ended; both return arrays of chunks.
#[napi]
pub struct FallbackStream {
    inner: StreamTranslator,
}

#[napi]
impl FallbackStream {
    #[napi(constructor)]
    pub fn new(source: String, target: String, options: Option<Value>) -> Result<FallbackStream> {
        guard::call(|| {
            let ctx = ResponseContext::from_value(&options_or_null(options)).map_err(map_err)?;
            let (s, t) = (Api::parse(&source).map_err(map_err)?, Api::parse(&target).map_err(map_err)?);
            Ok(FallbackStream { inner: StreamTranslator::new(s, t, ctx) })
        })
    }

    #[napi]
    pub fn push(&mut self, event: Value) -> Result<Vec<Value>> {
        guard::call(|| self.inner.push(&event).map_err(map_err))
    }

    #[napi]
    pub fn finish(&mut self) -> Result<Vec<Value>> {
        guard::call(|| Ok(self.inner.finish()))
    }
}

/// One attempt's number and timeout (ms; undefined: the SDK's own).
#[napi(object)]
pub struct FallbackAttempt {
    pub number: u32,
    pub timeout_ms: Option<f64>,
}

/// One logical call walking a chain: `callId`, `beginAttempt()`,
/// `fallsBack(kind, status, targetsLeft)`, `skipUnsupported`.
#[napi]
pub struct FallbackCall {
    inner: fallback::Call,
}

#[napi]
impl FallbackCall {
    /// `options`: { retry_on, attempt_timeout_s, deadline_s, on_unsupported }
    /// (the core's names; the npm layer converts its camelCase options).
    /// `elapsed_ms`: how long ago the logical call started (its primary
    /// attempt), so that the total deadline counts the primary's time too.
    #[napi(constructor)]
    pub fn new(options: Option<Value>, elapsed_ms: Option<f64>) -> Result<FallbackCall> {
        guard::call(|| {
            let policy = fallback::Policy::from_value(&options_or_null(options)).map_err(map_err)?;
            let now = std::time::Instant::now();
            let ms = elapsed_ms.filter(|ms| ms.is_finite()).unwrap_or(0.0);
            let elapsed = std::time::Duration::from_secs_f64((ms / 1000.0).clamp(0.0, 86_400.0));
            let started = now.checked_sub(elapsed).unwrap_or(now);
            Ok(FallbackCall { inner: fallback::Call::started_at(policy, started) })
        })
    }

    #[napi(getter)]
    pub fn call_id(&self) -> String {
        self.inner.call_id.clone()
    }

    #[napi(getter)]
    pub fn attempts(&self) -> u32 {
        self.inner.attempts()
    }

    #[napi(getter)]
    pub fn skip_unsupported(&self) -> bool {
        self.inner.policy().on_unsupported == OnUnsupported::Skip
    }

    /// The next attempt; throws `costline:fallback_deadline: ...` once the
    /// chain's deadline has passed.
    #[napi]
    pub fn begin_attempt(&mut self) -> Result<FallbackAttempt> {
        guard::call(|| {
            let a = self.inner.begin_attempt().map_err(map_err)?;
            Ok(FallbackAttempt { number: a.number, timeout_ms: a.timeout.map(|t| t.as_secs_f64() * 1000.0) })
        })
    }

    /// `kind`: "status" (with `status`), "connection", "timeout" or anything else.
    #[napi]
    pub fn falls_back(&self, kind: String, status: Option<u32>, targets_left: bool) -> bool {
        let status = status.and_then(|s| u16::try_from(s).ok());
        self.inner.should_fall_back(Failure::parse(&kind, status), targets_left)
    }
}

/// Check a chain's policy options without starting a call (throws `costline:config: ...`).
#[napi]
pub fn check_fallback_options(options: Value) -> Result<()> {
    guard::call(|| fallback::Policy::from_value(&options).map(|_| ()).map_err(map_err))
}
