//! AWS Bedrock for Node (`costline/bedrock`). The AWS SDK parses Bedrock's
//! responses itself (JSON, or the binary event stream) before any middleware
//! sees them, so the npm layer cannot pass bytes through a `Meter` as it does
//! for OpenAI and Anthropic. Instead it hands the core what the SDK parsed:
//! Converse's `usage` (of the response, or of the stream's `metadata` event),
//! an `InvokeModel` body and its count headers, each decoded
//! `InvokeModelWithResponseStream` chunk. Which fields are counts, per API and
//! model family, is the core's (`usage::bedrock`); this file only converts.

use std::collections::HashMap;

use costline_core::recorder::Call;
use costline_core::usage::{self, body::Scanned};
use napi::bindgen_prelude::{Uint8ArraySlice, Unknown};
use napi::{Env, Result};
use napi_derive::napi;
use serde_json::Value;

use crate::meter::{self, Attribution, Outcome};
use crate::{guard, sdk};

const PROVIDER: &str = "bedrock";

/// What a Bedrock request path is: the operation costline meters it as, the
/// model id it names (percent-decoded) and whether its response is a stream.
#[napi(object)]
pub struct BedrockRoute {
    pub operation: String,
    pub model: String,
    pub stream: bool,
}

/// The route of a request path (`/model/{modelId}/converse-stream`...), or
/// undefined for calls that do not bill (`count-tokens`, ...).
#[napi]
pub fn bedrock_route(path: String) -> Option<BedrockRoute> {
    let operation = usage::operation_for_path(PROVIDER, &path)?;
    let model = usage::model_for_path(PROVIDER, &path).unwrap_or_else(|| "unknown".to_string());
    // Both streaming actions end so: `converse-stream`, `invoke-with-response-stream`.
    let stream = path.split(['?', '#']).next().unwrap_or(&path).trim_end_matches('/').ends_with("-stream");
    Some(BedrockRoute { operation: operation.to_string(), model, stream })
}

/// One Bedrock call's usage as it arrives, then its event (`finish`, once).
#[napi]
pub struct BedrockUsage {
    call: Option<Call>,
    parts: Vec<Value>,
}

#[napi]
impl BedrockUsage {
    #[napi(constructor)]
    pub fn new(operation: String, model: String, stream: bool) -> BedrockUsage {
        let call = Call { stream, ..Call::new(PROVIDER.to_string(), operation, model, sdk()) };
        BedrockUsage { call: Some(call), parts: Vec::new() }
    }

    /// Converse's `usage` object (of the response, or of the stream's
    /// `metadata` event): the call's whole count.
    #[napi]
    pub fn converse(&mut self, usage: Value) {
        self.parts = vec![usage];
    }

    /// An `InvokeModel` response: its body's own counts (any model family),
    /// else its `X-Amzn-Bedrock-*-Token-Count` headers. True when either had counts.
    #[napi]
    pub fn invoke(
        &mut self,
        body: Uint8ArraySlice,
        headers: Option<HashMap<String, String>>,
    ) -> Result<bool> {
        guard::call(|| {
            let from_body = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|body| usage::bedrock::usage_from_invoke_body(&body));
            let part = from_body.or_else(|| {
                let headers = headers.as_ref()?;
                usage::bedrock::usage_from_invoke_headers(
                    headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                )
            });
            self.parts = part.into_iter().collect();
            Ok(!self.parts.is_empty())
        })
    }

    /// One decoded `InvokeModelWithResponseStream` chunk (its `bytes`): an
    /// Anthropic usage, or the last chunk's invocation metrics, when it has
    /// one (then true).
    #[napi]
    pub fn invoke_chunk(&mut self, bytes: Uint8ArraySlice) -> Result<bool> {
        guard::call(|| {
            let part = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|chunk| usage::bedrock::usage_from_invoke_chunk(&chunk));
            let found = part.is_some();
            self.parts.extend(part);
            Ok(found)
        })
    }

    /// Record the call, once (later calls return undefined). `responded`: a
    /// response came (else no tokens are counted); `complete`: it was read to
    /// its end. A stream cut short has at most its opening counts (an Anthropic
    /// `message_start`), so it is estimated instead, from the request and
    /// `output_text`, and labelled so. Returns the cost when `need_cost`.
    #[napi]
    #[allow(clippy::too_many_arguments)]
    pub fn finish(
        &mut self,
        env: Env,
        responded: bool,
        complete: bool,
        latency_ms: u32,
        error_type: Option<String>,
        output_text: Option<String>,
        attribution: Option<Attribution>,
        request: Option<Unknown<'_>>,
        need_cost: bool,
        reservation: Option<u32>,
    ) -> Result<Option<String>> {
        guard::call(|| {
            let reservation = crate::budget::take(reservation);
            let Some(call) = self.call.take() else {
                return Ok(None);
            };
            let parts = if complete { std::mem::take(&mut self.parts) } else { Vec::new() };
            let scanned = responded.then(|| Scanned {
                parts,
                resolved_model: None,
                output_text: output_text.unwrap_or_default(),
                error_type: None,
            });
            let outcome = Outcome { latency_ms, error_type, attribution, request, need_cost, reservation };
            Ok(meter::record(&env, call, scanned, outcome))
        })
    }
}
