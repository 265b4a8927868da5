//! `track` (a call no drop-in made), `previewEvent` (the event a usage
//! payload produces, for the shared vectors) and `mergeTags`.

use std::collections::HashMap;

use costline_core::event::Status;
use costline_core::recorder::{self, Call, CallUsage};
use napi::Result;
use napi_derive::napi;
use serde_json::Value;

use crate::meter::Attribution;
use crate::{guard, sdk};

/// A JavaScript number given as a count: an integer, or an `InvalidEventError`.
pub fn integer(name: &str, value: Option<f64>) -> Result<i128> {
    match value {
        None => Ok(0),
        Some(v) if v.is_finite() && v.fract() == 0.0 => Ok(v as i128),
        Some(v) => Err(guard::to_js(costline_core::Error::InvalidEvent(format!(
            "{name} must be an integer, got {v}"
        )))),
    }
}

fn status(name: Option<&str>) -> Result<Status> {
    match name.unwrap_or("ok") {
        "ok" => Ok(Status::Ok),
        "error" => Ok(Status::Error),
        "blocked" => Ok(Status::Blocked),
        other => Err(guard::to_js(costline_core::Error::InvalidEvent(format!(
            "status must be ok, error or blocked, not {other:?}"
        )))),
    }
}

#[napi(object)]
pub struct TrackInput {
    pub provider: String,
    pub model: String,
    pub operation: Option<String>,
    pub input_tokens: Option<f64>,
    pub output_tokens: Option<f64>,
    pub cached_input_tokens: Option<f64>,
    pub cache_write_input_tokens: Option<f64>,
    pub reasoning_tokens: Option<f64>,
    pub latency_ms: Option<f64>,
    pub stream: Option<bool>,
    pub status: Option<String>,
    pub error_type: Option<String>,
    pub resolved_model: Option<String>,
}

#[napi(object)]
pub struct Tracked {
    pub event_id: String,
    pub cost_usd: Option<String>,
}

/// An event for a call no drop-in made. Bad numbers are an `InvalidEventError`.
#[napi]
pub fn track(input: TrackInput, attribution: Option<Attribution>) -> Result<Tracked> {
    guard::call(|| {
        let counted = recorder::counted_usage(
            integer("inputTokens", input.input_tokens)?,
            integer("outputTokens", input.output_tokens)?,
            integer("cachedInputTokens", input.cached_input_tokens)?,
            integer("cacheWriteInputTokens", input.cache_write_input_tokens)?,
            integer("reasoningTokens", input.reasoning_tokens)?,
        )
        .map_err(guard::to_js)?;
        let latency_ms =
            recorder::counted_latency(integer("latencyMs", input.latency_ms)?).map_err(guard::to_js)?;
        let operation = input.operation.unwrap_or_else(|| "chat".to_string());
        let mut call = Call {
            resolved_model: input.resolved_model,
            usage: CallUsage::Counted(counted),
            latency_ms,
            stream: input.stream.unwrap_or(false),
            status: status(input.status.as_deref())?,
            error_type: input.error_type,
            ..Call::new(input.provider, operation, input.model, sdk())
        };
        attribution.unwrap_or_default().apply(&mut call);
        let recorded = recorder::record(call);
        Ok(Tracked { event_id: recorded.event_id, cost_usd: recorded.cost_usd.map(|c| c.to_string()) })
    })
}

/// The event (wire JSON) a usage payload produces, without recording it.
#[napi]
pub fn preview_event(
    provider: String,
    operation: String,
    model: String,
    resolved_model: Option<String>,
    usage_parts_json: String,
) -> Result<String> {
    guard::call(|| {
        let parts: Vec<Value> = serde_json::from_str(&usage_parts_json)
            .map_err(|e| guard::to_js(costline_core::Error::InvalidEvent(format!("usage parts: {e}"))))?;
        let call = Call {
            resolved_model,
            usage: CallUsage::Raw(parts),
            ..Call::new(provider, operation, model, sdk())
        };
        Ok(recorder::build_event(call).to_json())
    })
}

/// The event a body (the bytes an SDK would read) produces, without recording
/// it: the Node suite replays the shared vectors through the same byte path
/// the drop-ins use.
#[napi]
pub fn preview_body_event(
    provider: String,
    operation: String,
    model: String,
    stream: bool,
    body: String,
) -> Result<String> {
    guard::call(|| {
        let mut meter = costline_core::usage::meter::BodyMeter::new(&provider, stream, false);
        meter.feed(body.as_bytes());
        let scanned = meter.finish();
        let call = Call {
            resolved_model: scanned.resolved_model,
            usage: CallUsage::Raw(scanned.parts),
            stream,
            ..Call::new(provider, operation, model, sdk())
        };
        Ok(recorder::build_event(call).to_json())
    })
}

/// Merge tag layers (lowest precedence first) the way events merge them.
#[napi]
pub fn merge_tags(layers: Vec<HashMap<String, String>>) -> Result<HashMap<String, String>> {
    guard::call(|| {
        let layers: Vec<costline_core::attribution::Tags> =
            layers.into_iter().map(|l| l.into_iter().collect()).collect();
        Ok(costline_core::attribution::merge_tags(layers.iter()).into_iter().collect())
    })
}
