//! One call in, one event out: normalise the usage, price it, attribute it,
//! validate it and hand it to the pipeline. This is the whole hot path of the
//! core; it does no I/O and takes no lock that I/O holds.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use arc_swap::ArcSwap;
use once_cell::sync::Lazy;
use rust_decimal::Decimal;
use serde_json::Value;

use crate::catalog;
use crate::cost;
use crate::event::{self, CostSource, Event, Sdk, Status, UsageSource};
use crate::pipeline;
use crate::tokens;
use crate::usage::{self, Usage};
use crate::Result;

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
    /// Tags of the run frames and the call; process tags are merged beneath.
    pub tags: BTreeMap<String, String>,
    pub sdk: Sdk,
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
            tags: BTreeMap::new(),
            sdk,
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
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub event_id: String,
    pub cost_usd: Option<Decimal>,
    /// False when the queue was full and the event was dropped (and counted).
    pub queued: bool,
}

/// Process-wide tags (`configure(tags=...)` / later layers win over them).
static PROCESS_TAGS: Lazy<ArcSwap<BTreeMap<String, String>>> =
    Lazy::new(|| ArcSwap::from_pointee(BTreeMap::new()));

pub fn set_process_tags(tags: BTreeMap<String, String>) {
    PROCESS_TAGS.store(std::sync::Arc::new(tags));
}

pub fn process_tags() -> BTreeMap<String, String> {
    PROCESS_TAGS.load().as_ref().clone()
}

/// Models already warned about as unknown: one warning per model per process.
static WARNED_UNKNOWN: Lazy<Mutex<HashSet<String>>> = Lazy::new(|| Mutex::new(HashSet::new()));

/// Build and validate the event for one call without enqueuing it.
pub fn build_event(call: Call) -> Result<Event> {
    let (usage, usage_source) = match &call.usage {
        CallUsage::None => (Usage::default(), UsageSource::Provider),
        CallUsage::Raw(parts) => (usage::normalize(&call.provider, parts)?, UsageSource::Provider),
        CallUsage::Counted(u) => (u.clone(), UsageSource::Provider),
        CallUsage::Estimate { request, output_text } => (
            tokens::estimate_usage(&call.provider, &call.operation, &call.model, request, output_text),
            UsageSource::Estimate,
        ),
    };

    let pricing = catalog::current();
    let priced_name = call.resolved_model.as_deref().unwrap_or(&call.model);
    let resolved =
        pricing.resolve(&call.provider, priced_name).or_else(|| pricing.resolve(&call.provider, &call.model));
    let (cost_usd, cost_source, price_key) = match resolved {
        Some(r) => (Some(cost::price_usage(r.price, &usage).normalize()), r.source, Some(r.key.to_string())),
        None => {
            warn_unknown_once(&call.provider, priced_name);
            (None, CostSource::Unknown, None)
        }
    };

    let tags = {
        let process = PROCESS_TAGS.load();
        if process.is_empty() {
            call.tags
        } else {
            let mut merged = process.as_ref().clone();
            merged.extend(call.tags);
            merged
        }
    };

    let event = Event {
        event_id: event::new_event_id(),
        timestamp: event::now_rfc3339(),
        provider: call.provider,
        operation: call.operation,
        model: call.model,
        resolved_model: call.resolved_model,
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
        latency_ms: call.latency_ms,
        stream: call.stream,
        status: call.status,
        error_type: call.error_type,
        run_id: call.run_id,
        agent: call.agent,
        agent_path: call.agent_path,
        tags,
        sdk: call.sdk,
    };
    event.validate()?;
    Ok(event)
}

/// Build the event for one call and enqueue it (never blocks).
pub fn record(call: Call) -> Result<Recorded> {
    let event = build_event(call)?;
    let recorded = Recorded { event_id: event.event_id.clone(), cost_usd: event.cost_usd, queued: false };
    let queued = pipeline::enqueue(event);
    Ok(Recorded { queued, ..recorded })
}

fn warn_unknown_once(provider: &str, model: &str) {
    let key = format!("{provider}/{model}");
    let mut warned = WARNED_UNKNOWN.lock().unwrap_or_else(|p| p.into_inner());
    if warned.insert(key) {
        log::warn!(
            "costline: no price for model {model:?} (provider {provider}); its events have cost_usd=null, \
             cost_source=\"unknown\". Add it with COSTLINE_PRICES or configure(prices=...)."
        );
    }
}
