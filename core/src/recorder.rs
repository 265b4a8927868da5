//! One call in, one event out: normalise the usage, price it, attribute it,
//! validate it and hand it to the pipeline. This is the whole hot path of the
//! core; it does no I/O and takes no lock that I/O holds.

use std::collections::BTreeMap;

use arc_swap::ArcSwap;
use once_cell::sync::Lazy;
use rust_decimal::Decimal;
use serde_json::Value;

use crate::attribution::{self, Tags};
use crate::catalog;
use crate::cost;
use crate::event::{self, CostSource, Event, Sdk, Status, UsageSource};
use crate::log_once;
use crate::pipeline;
use crate::tokens;
use crate::usage::{self, Usage};
use crate::{Error, Result};

/// What the language layer knows about one call.
#[derive(Debug, Clone)]
pub struct Call {
    pub provider: String,
    pub operation: String,
    pub model: String,
    pub resolved_model: Option<String>,
    pub usage: CallUsage,
    pub latency_ms: u64,
    pub stream: bool,
    pub status: Status,
    pub error_type: Option<String>,
    pub run_id: Option<String>,
    pub agent: Option<String>,
    pub agent_path: Vec<String>,
    /// The call's own tags (run frames merged, or `track(tags=...)`): they win.
    pub tags: Tags,
    /// Tags beneath `tags` (the client's `costline={"tags": ...}`); process
    /// tags are merged beneath both.
    pub base_tags: Tags,
    pub sdk: Sdk,
    /// A fallback chain's shared id and this attempt's number (`fallback::Call`).
    pub call_id: Option<String>,
    pub attempt: Option<u32>,
}

impl Call {
    /// A successful call with no usage, timing or attribution yet; the
    /// language layers fill in what they know with struct update syntax.
    pub fn new(provider: String, operation: String, model: String, sdk: Sdk) -> Call {
        Call {
            provider,
            operation,
            model,
            resolved_model: None,
            usage: CallUsage::None,
            latency_ms: 0,
            stream: false,
            status: Status::Ok,
            error_type: None,
            run_id: None,
            agent: None,
            agent_path: Vec::new(),
            tags: Tags::new(),
            base_tags: Tags::new(),
            sdk,
            call_id: None,
            attempt: None,
        }
    }
}

#[derive(Debug, Clone)]
pub enum CallUsage {
    /// No usage (the call failed or was blocked): zero tokens.
    None,
    /// The provider's usage payload parts, as `usage::normalize` takes them.
    Raw(Vec<Value>),
    /// Counts given directly (`track()`).
    Counted(Usage),
    /// No usage from the provider: estimate from the request body and the
    /// streamed output text. The text is counted and dropped, never stored.
    Estimate { request: Value, output_text: String },
    /// A whole response body (and usage parts not in it), read for its usage where the event is built
    /// (on the writer thread for a deferred call: parsing it there keeps it
    /// off the caller's thread). For bodies that carry usage: without it, the
    /// estimate has no request to count (callers keep `Estimate` for those).
    Body { sse: bool, bytes: Vec<u8>, parts: Vec<Value> },
}

/// Read a `CallUsage::Body` into usage parts (or an estimate from its output
/// text) and the model the provider answered with.
fn read_body(call: &mut Call) {
    if !matches!(call.usage, CallUsage::Body { .. }) {
        return;
    }
    if let CallUsage::Body { sse, bytes, parts } = std::mem::replace(&mut call.usage, CallUsage::None) {
        let mut meter = usage::meter::BodyMeter::new(&call.provider, sse, false);
        meter.feed(&bytes);
        let mut scanned = meter.finish();
        scanned.parts.extend(parts);
        if call.resolved_model.is_none() {
            call.resolved_model = scanned.resolved_model;
        }
        // An error event inside a stream: the SDK raised it from iteration.
        if call.status == Status::Ok && scanned.error_type.is_some() {
            call.status = Status::Error;
            call.error_type = scanned.error_type;
        }
        call.usage = if scanned.parts.is_empty() {
            CallUsage::Estimate { request: Value::Null, output_text: scanned.output_text }
        } else {
            CallUsage::Raw(scanned.parts)
        };
    }
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub event_id: String,
    pub cost_usd: Option<Decimal>,
    /// False when the queue was full and the event was dropped (and counted).
    pub queued: bool,
}

/// Process-wide tags (`configure(tags=...)` / later layers win over them).
static PROCESS_TAGS: Lazy<ArcSwap<Tags>> = Lazy::new(|| ArcSwap::from_pointee(BTreeMap::new()));

pub fn set_process_tags(tags: Tags) {
    PROCESS_TAGS.store(std::sync::Arc::new(tags));
}

pub fn process_tags() -> Tags {
    PROCESS_TAGS.load().as_ref().clone()
}

/// A call whose event the writer thread builds: the hot path only takes the
/// time (`record_deferred`), and the event id, the timestamp's formatting, the
/// usage normalisation, the pricing and the bounds are done off the caller's
/// thread. Used when the caller does not need the cost now (no enclosing run).
pub struct Deferred {
    call: Call,
    at: chrono::DateTime<chrono::Utc>,
    /// Told the cost once the event is built (a budget reservation settles).
    then: Option<AfterBuild>,
}

/// What runs on the writer thread with a deferred call's cost.
pub type AfterBuild = Box<dyn FnOnce(Option<Decimal>) + Send>;

impl Deferred {
    pub fn build(self) -> Event {
        let event = build_event_at(self.call, self.at);
        if let Some(then) = self.then {
            then(event.cost_usd);
        }
        event
    }
}

/// Build the event for one call without enqueuing it. Never fails: a
/// malformed usage payload is sanitised (`usage_source = "estimate"`), and
/// attribution beyond the wire format's bounds is truncated; each distinct
/// problem is logged once per process.
pub fn build_event(call: Call) -> Event {
    build_event_at(call, chrono::Utc::now())
}

/// [`build_event`] for a call that ended at `at`.
fn build_event_at(mut call: Call, at: chrono::DateTime<chrono::Utc>) -> Event {
    read_body(&mut call);
    let mut notes = Vec::new();
    let (usage, usage_source) = match &call.usage {
        CallUsage::None => (Usage::default(), UsageSource::Provider),
        CallUsage::Raw(parts) => {
            let normalized = usage::normalize(&call.provider, parts);
            let source =
                if normalized.problems.is_empty() { UsageSource::Provider } else { UsageSource::Estimate };
            notes.extend(normalized.problems);
            (normalized.usage, source)
        }
        CallUsage::Counted(u) => (u.clone(), UsageSource::Provider),
        CallUsage::Estimate { request, output_text } => (
            tokens::estimate_usage(&call.provider, &call.operation, &call.model, request, output_text),
            UsageSource::Estimate,
        ),
        CallUsage::Body { .. } => unreachable!("read_body resolved it"),
    };

    let Call {
        mut provider,
        mut operation,
        mut model,
        mut resolved_model,
        latency_ms,
        stream,
        status,
        mut error_type,
        mut run_id,
        mut agent,
        mut agent_path,
        tags,
        base_tags,
        sdk,
        mut call_id,
        attempt,
        ..
    } = call;
    for (field, value) in [("provider", &mut provider), ("operation", &mut operation), ("model", &mut model)]
    {
        if value.trim().is_empty() {
            notes.push(format!("{field} was empty (recorded as \"unknown\")"));
            *value = "unknown".to_string();
        }
        attribution::sanitize_name(field, value, &mut notes);
    }
    for (field, value) in [
        ("resolved_model", &mut resolved_model),
        ("error_type", &mut error_type),
        ("run_id", &mut run_id),
        ("agent", &mut agent),
        ("call_id", &mut call_id),
    ] {
        if let Some(v) = value {
            attribution::sanitize_name(field, v, &mut notes);
        }
    }
    attribution::sanitize_path(&mut agent_path, &mut notes);

    let pricing = catalog::current();
    let priced_name = resolved_model.as_deref().unwrap_or(&model);
    let resolved = pricing.resolve(&provider, priced_name).or_else(|| pricing.resolve(&provider, &model));
    let (cost_usd, cost_source, price_key) = match resolved {
        Some(r) => (Some(cost::price_usage(r.price, &usage)), r.source, Some(r.key.to_string())),
        None => {
            let (p, m) = (provider.as_str(), priced_name);
            log_once::warn(&format!("unknown-model\u{0}{p}\u{0}{m}"), || {
                format!(
                    "costline: no price for model {m:?} (provider {p}); its events have cost_usd=null, \
                     cost_source=\"unknown\". Add it with COSTLINE_PRICES or configure(prices=...)."
                )
            });
            (None, CostSource::Unknown, None)
        }
    };

    let mut tags = {
        let process = PROCESS_TAGS.load();
        if process.is_empty() && base_tags.is_empty() {
            tags
        } else {
            attribution::merge_tags([process.as_ref(), &base_tags, &tags])
        }
    };
    attribution::sanitize_tags(&mut tags, &mut notes);

    for note in &notes {
        log_once::warn(note, || format!("costline: {note}; the event was recorded with the value fixed"));
    }

    Event {
        event_id: event::new_event_id(),
        timestamp: event::rfc3339(at),
        provider,
        operation,
        model,
        resolved_model,
        input_tokens: usage.input_tokens,
        output_tokens: usage.output_tokens,
        cached_input_tokens: usage.cached_input_tokens,
        cache_write_input_tokens: usage.cache_write_input_tokens(),
        reasoning_tokens: usage.reasoning_tokens,
        usage_source,
        cost_usd,
        cost_source,
        catalog_version: pricing.version().to_string(),
        price_key,
        latency_ms,
        stream,
        status,
        error_type,
        run_id,
        agent,
        agent_path,
        tags,
        sdk,
        call_id,
        attempt: attempt.map(|a| a.max(1)),
    }
}

/// Build the event for one call and enqueue it (never blocks, never fails).
pub fn record(call: Call) -> Recorded {
    let event = build_event(call);
    let recorded = Recorded { event_id: event.event_id.clone(), cost_usd: event.cost_usd, queued: false };
    let queued = pipeline::enqueue(event);
    Recorded { queued, ..recorded }
}

/// Enqueue a call whose event the writer builds (never blocks, never fails).
/// False when the queue was full (the drop is counted).
pub fn record_deferred(call: Call) -> bool {
    pipeline::enqueue_deferred(Deferred { call, at: chrono::Utc::now(), then: None })
}

/// [`record_deferred`], then `then(cost)` on the writer thread once the event
/// is built. Dropped unrun when the event is (a full queue).
pub fn record_deferred_then(call: Call, then: AfterBuild) -> bool {
    pipeline::enqueue_deferred(Deferred { call, at: chrono::Utc::now(), then: Some(then) })
}

/// A latency given by a user (`track()`), in milliseconds: an integer from 0
/// to what the ledger stores, else a clear error.
pub fn counted_latency(latency_ms: i128) -> Result<u64> {
    u64::try_from(latency_ms).ok().filter(|n| *n <= usage::MAX_TOKENS).ok_or_else(|| {
        Error::InvalidEvent(format!("latency_ms must be a non-negative integer, got {latency_ms}"))
    })
}

/// Token counts given by a user (`track()`, `cost()`): every count within
/// bounds and the parts within their totals, else a clear error naming the
/// problem (the bindings raise it as a `ValueError`).
pub fn counted_usage(
    input_tokens: i128,
    output_tokens: i128,
    cached_input_tokens: i128,
    cache_write_input_tokens: i128,
    reasoning_tokens: i128,
) -> Result<Usage> {
    let check = |name: &str, n: i128| -> Result<u64> {
        u64::try_from(n).ok().filter(|n| *n <= usage::MAX_TOKENS).ok_or_else(|| {
            Error::InvalidEvent(format!("{name} must be an integer from 0 to {}, got {n}", usage::MAX_TOKENS))
        })
    };
    let usage = Usage {
        input_tokens: check("input_tokens", input_tokens)?,
        output_tokens: check("output_tokens", output_tokens)?,
        cached_input_tokens: check("cached_input_tokens", cached_input_tokens)?,
        cache_write_5m_tokens: check("cache_write_input_tokens", cache_write_input_tokens)?,
        reasoning_tokens: check("reasoning_tokens", reasoning_tokens)?,
        ..Usage::default()
    };
    event::check_token_parts(
        usage.input_tokens,
        usage.output_tokens,
        usage.cached_input_tokens,
        usage.cache_write_input_tokens(),
        usage.reasoning_tokens,
    )
    .map_err(Error::InvalidEvent)?;
    Ok(usage)
}
