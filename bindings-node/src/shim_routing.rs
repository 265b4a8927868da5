//! TEMPORARY local shim (not committed): the lead's routing.rs / translate.rs replace it.
use costline_core::translate::{self as core_translate, Api, ResponseContext, StreamTranslator};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::Value;

use crate::guard;

#[napi]
pub fn decide(input_json: String) -> Result<String> {
    guard::call(|| {
        costline_core::routing::decide_json(&input_json)
            .map_err(|e| Error::new(Status::GenericFailure, format!("costline:routing: {e}")))
    })
}

#[napi]
pub fn translate(
    kind: String,
    source: String,
    target: String,
    input: Value,
    options: Option<Value>,
) -> Result<Value> {
    guard::call(|| {
        core_translate::translate(&kind, &source, &target, &input, &options.unwrap_or(Value::Null))
            .map_err(guard::to_js)
    })
}

#[napi]
pub struct FallbackStream {
    inner: StreamTranslator,
}

#[napi]
impl FallbackStream {
    #[napi(constructor)]
    pub fn new(source: String, target: String, options: Option<Value>) -> Result<FallbackStream> {
        guard::call(|| {
            let ctx = ResponseContext::from_value(&options.unwrap_or(Value::Null)).map_err(guard::to_js)?;
            let (s, t) =
                (Api::parse(&source).map_err(guard::to_js)?, Api::parse(&target).map_err(guard::to_js)?);
            Ok(FallbackStream { inner: StreamTranslator::new(s, t, ctx) })
        })
    }

    #[napi]
    pub fn push(&mut self, event: Value) -> Result<Vec<Value>> {
        guard::call(|| self.inner.push(&event).map_err(guard::to_js))
    }

    #[napi]
    pub fn finish(&mut self) -> Result<Vec<Value>> {
        guard::call(|| Ok(self.inner.finish()))
    }
}
