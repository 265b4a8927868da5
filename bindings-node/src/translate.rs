//! Fallback chains (issue 10): the core's translation between the chat APIs and
//! a chain's policy, for the npm layer. Conversions and error mapping only; the
//! same functions the Python binding exposes (bindings-python/src/translate.rs).

use costline_core::fallback;
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

/// Check a chain's policy options without starting a call (throws `costline:config: ...`).
#[napi]
pub fn check_fallback_options(options: Value) -> Result<()> {
    guard::call(|| fallback::Policy::from_value(&options).map(|_| ()).map_err(map_err))
}
