//! `cost`, `countTokens` and the lookups the drop-ins need. All synchronous:
//! each is microseconds once the catalog is loaded (the first call may parse
//! it, about 10 ms, once; `prewarm` does that off the main thread).

use costline_core::{catalog, recorder, tokens, usage};
use napi::Result;
use napi_derive::napi;

use crate::guard;
use crate::record::integer;

/// The exact cost (decimal string) of a call, or undefined when the model has
/// no price. Positional arguments: converting an options object field by
/// field cost more than the pricing itself (measured ~1.5 µs against ~0.5).
#[napi]
pub fn cost(
    model: String,
    input_tokens: f64,
    output_tokens: f64,
    cached_input_tokens: Option<f64>,
    cache_write_input_tokens: Option<f64>,
    reasoning_tokens: Option<f64>,
    provider: Option<String>,
) -> Result<Option<String>> {
    guard::call(|| {
        let usage = recorder::counted_usage(
            integer("inputTokens", Some(input_tokens))?,
            integer("outputTokens", Some(output_tokens))?,
            integer("cachedInputTokens", cached_input_tokens)?,
            integer("cacheWriteInputTokens", cache_write_input_tokens)?,
            integer("reasoningTokens", reasoning_tokens)?,
        )
        .map_err(guard::to_js)?;
        Ok(costline_core::cost::cost_for(provider.as_deref(), &model, &usage).map(|(c, _, _)| c.to_string()))
    })
}

#[napi]
pub fn count_tokens(text: String, model: String) -> Result<u32> {
    guard::call(|| Ok(tokens::count(&text, &model) as u32))
}

/// The operation a request path is (chat, responses, messages, embeddings...),
/// or undefined when costline does not meter it.
#[napi]
pub fn operation_for_path(provider: String, path: String) -> Option<&'static str> {
    usage::operation_for_path(&provider, &path)
}

#[napi]
pub fn price_key(provider: String, model: String) -> Result<Option<String>> {
    guard::call(|| Ok(catalog::current().resolve(&provider, &model).map(|r| r.key.to_string())))
}

#[napi]
pub fn catalog_version() -> Result<String> {
    guard::call(|| Ok(catalog::current().version().to_string()))
}

/// Parse the price catalog on a background thread (a client was created).
#[napi]
pub fn prewarm() {
    costline_core::prewarm();
}

/// A new time-ordered id (UUIDv7), for runs.
#[napi]
pub fn new_id() -> String {
    costline_core::event::new_event_id()
}
