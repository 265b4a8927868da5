//! `Meter`: one metered call in flight. The npm layer creates it just before
//! the request is sent (latency is timed from then), passes every chunk of
//! the response body through `feed` on its way to the SDK, and calls `finish`
//! once when the body ends, fails or is abandoned, or when the request failed.
//! Usage is read from the bytes by the core (`usage::meter::BodyMeter`): the
//! TypeScript layer knows nothing of any provider's usage shape.

use std::collections::HashMap;
use std::time::Instant;

use costline_core::event::Status;
use costline_core::recorder::{self, Call, CallUsage};
use costline_core::usage::meter::BodyMeter;
use napi::bindgen_prelude::{Uint8Array, Unknown};
use napi::{Env, Result};
use napi_derive::napi;
use serde_json::Value;

use crate::{guard, sdk};

/// Who made a call: the run frames and agent in force, and the tag layers.
#[napi(object)]
#[derive(Default)]
pub struct Attribution {
    pub run_id: Option<String>,
    pub agent: Option<String>,
    pub agent_path: Option<Vec<String>>,
    /// The run frames' merged tags (and the call's own).
    pub tags: Option<HashMap<String, String>>,
    /// Beneath `tags`: the client's own tags (`new OpenAI({}, { tags })`).
    pub base_tags: Option<HashMap<String, String>>,
}

impl Attribution {
    pub fn apply(self, call: &mut Call) {
        call.run_id = self.run_id;
        call.agent = self.agent;
        call.agent_path = self.agent_path.unwrap_or_default();
        call.tags = self.tags.map(|t| t.into_iter().collect()).unwrap_or_default();
        call.base_tags = self.base_tags.map(|t| t.into_iter().collect()).unwrap_or_default();
    }
}

#[napi]
pub struct Meter {
    call: Option<Call>,
    started: Instant,
    body: Option<BodyMeter>,
    fed: bool,
}

#[napi]
impl Meter {
    /// `stream`: the body is an event stream. `hide_usage`: costline asked for
    /// the stream's usage chunk itself, so it is removed before the SDK sees it.
    #[napi(constructor)]
    pub fn new(
        provider: String,
        operation: String,
        model: String,
        stream: bool,
        hide_usage: bool,
        attribution: Option<Attribution>,
    ) -> Meter {
        let body = BodyMeter::new(&provider, stream, hide_usage);
        let mut call = Call { stream, ..Call::new(provider, operation, model, sdk()) };
        attribution.unwrap_or_default().apply(&mut call);
        Meter { call: Some(call), started: Instant::now(), body: Some(body), fed: false }
    }

    /// The bytes to pass on for `chunk`, or undefined to pass `chunk` itself.
    #[napi]
    pub fn feed(&mut self, chunk: Uint8Array) -> Result<Option<Uint8Array>> {
        guard::call(|| {
            self.fed = true;
            Ok(self.body.as_mut().and_then(|b| b.feed(&chunk)).map(Uint8Array::from))
        })
    }

    /// A whole body the SDK read as text (`response.json()`, `text()`): one
    /// call instead of one per chunk.
    #[napi]
    pub fn feed_text(&mut self, text: String) -> Result<()> {
        guard::call(|| {
            self.fed = true;
            if let Some(body) = self.body.as_mut() {
                body.feed(text.as_bytes());
            }
            Ok(())
        })
    }

    /// Bytes held back until the end of the body, if any.
    #[napi]
    pub fn tail(&mut self) -> Result<Option<Uint8Array>> {
        guard::call(|| {
            let rest = self.body.as_mut().map(BodyMeter::tail).unwrap_or_default();
            Ok((!rest.is_empty()).then(|| Uint8Array::from(rest)))
        })
    }

    /// Record the call, once (later calls return undefined). `error_type`: the
    /// name of the error the call ended with. `request`: the request body, read
    /// only when the response carried no usage (then tokens are estimated from
    /// it and the output that passed). `need_cost`: a run waits for the cost;
    /// otherwise the event is built on the core's writer thread. Returns the
    /// cost as a decimal string, or undefined.
    #[napi]
    pub fn finish(
        &mut self,
        env: Env,
        error_type: Option<String>,
        request: Option<Unknown<'_>>,
        need_cost: bool,
    ) -> Result<Option<String>> {
        guard::call(|| {
            let Some(mut call) = self.call.take() else {
                return Ok(None);
            };
            call.latency_ms =
                recorder::counted_latency(self.started.elapsed().as_millis() as i128).unwrap_or(0);
            if error_type.is_some() {
                call.status = Status::Error;
                call.error_type = error_type;
            }
            let scanned = self.body.take().filter(|_| self.fed).map(BodyMeter::finish);
            call.usage = match scanned {
                Some(s) if !s.parts.is_empty() => {
                    call.resolved_model = s.resolved_model;
                    CallUsage::Raw(s.parts)
                }
                // A body without usage (a stream cut short, a compressed body):
                // the tokens were still spent, so estimate them.
                Some(s) => {
                    call.resolved_model = s.resolved_model;
                    let request: Value = match request {
                        Some(r) => env.from_js_value(r).unwrap_or(Value::Null),
                        None => Value::Null,
                    };
                    CallUsage::Estimate { request, output_text: s.output_text }
                }
                None => CallUsage::None,
            };
            if !need_cost {
                recorder::record_deferred(call);
                return Ok(None);
            }
            Ok(recorder::record(call).cost_usd.map(|c| c.to_string()))
        })
    }
}

/// A run's running total: exact decimal sums, kept natively so that no money
/// arithmetic happens in JavaScript floats.
#[napi]
#[derive(Default)]
pub struct Total {
    value: rust_decimal::Decimal,
    calls: u32,
    unpriced_calls: u32,
}

#[napi]
impl Total {
    #[napi(constructor)]
    pub fn new() -> Total {
        Total::default()
    }

    /// Add one recorded call: its cost (a decimal string) or none when unpriced.
    #[napi]
    pub fn add(&mut self, cost: Option<String>) {
        self.calls += 1;
        match cost.as_deref().map(str::parse::<rust_decimal::Decimal>) {
            Some(Ok(c)) => self.value += c,
            _ => self.unpriced_calls += 1,
        }
    }

    #[napi(getter)]
    pub fn value(&self) -> String {
        self.value.normalize().to_string()
    }

    #[napi(getter)]
    pub fn calls(&self) -> u32 {
        self.calls
    }

    #[napi(getter)]
    pub fn unpriced_calls(&self) -> u32 {
        self.unpriced_calls
    }
}
