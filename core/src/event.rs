//! The usage event, wire format v1 (DESIGN.md). One JSON object per call.
//! Never carries prompts, outputs, message content or API keys: there is no
//! field for them, and `validate` bounds the free-form strings that exist.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageSource {
    Provider,
    Estimate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CostSource {
    Catalog,
    Override,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Error,
    Blocked,
}

impl UsageSource {
    pub fn as_str(self) -> &'static str {
        match self {
            UsageSource::Provider => "provider",
            UsageSource::Estimate => "estimate",
        }
    }
}

impl CostSource {
    pub fn as_str(self) -> &'static str {
        match self {
            CostSource::Catalog => "catalog",
            CostSource::Override => "override",
            CostSource::Unknown => "unknown",
        }
    }
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Error => "error",
            Status::Blocked => "blocked",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sdk {
    pub lang: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub event_id: String,
    pub timestamp: String,
    pub provider: String,
    pub operation: String,
    pub model: String,
    pub resolved_model: Option<String>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_input_tokens: u64,
    pub cache_write_input_tokens: u64,
    pub reasoning_tokens: u64,
    pub usage_source: UsageSource,
    /// Exact decimal, serialised as a string; `None` when the model is unknown.
    pub cost_usd: Option<Decimal>,
    pub cost_source: CostSource,
    pub catalog_version: String,
    pub price_key: Option<String>,
    pub latency_ms: u64,
    pub stream: bool,
    pub status: Status,
    pub error_type: Option<String>,
    pub run_id: Option<String>,
    pub agent: Option<String>,
    pub agent_path: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub sdk: Sdk,
    /// One logical call across fallback attempts: the id its attempts share
    /// (absent on events of calls without a fallback chain, and from older writers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// Which attempt of `call_id` this is, from 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
}

/// Upper bounds that keep a mistaken caller from pushing payloads (or prompt
/// text) through attribution fields.
pub const MAX_NAME_LEN: usize = 256;
pub const MAX_TAG_VALUE_LEN: usize = 1024;
pub const MAX_TAGS: usize = 64;
pub const MAX_AGENT_DEPTH: usize = 32;

impl Event {
    /// Check an event before it enters the pipeline: required fields present,
    /// counts consistent, strings bounded.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidEvent(m));
        for (name, value) in [
            ("event_id", &self.event_id),
            ("timestamp", &self.timestamp),
            ("provider", &self.provider),
            ("operation", &self.operation),
            ("model", &self.model),
        ] {
            if value.trim().is_empty() {
                return bad(format!("{name} must not be empty"));
            }
            if value.len() > MAX_NAME_LEN {
                return bad(format!("{name} is longer than {MAX_NAME_LEN} characters"));
            }
        }
        if chrono::DateTime::parse_from_rfc3339(&self.timestamp).is_err() {
            return bad(format!("timestamp {:?} is not RFC 3339", self.timestamp));
        }
        check_token_parts(
            self.input_tokens,
            self.output_tokens,
            self.cached_input_tokens,
            self.cache_write_input_tokens,
            self.reasoning_tokens,
        )
        .map_err(Error::InvalidEvent)?;
        if let Some(cost) = self.cost_usd {
            if cost.is_sign_negative() && !cost.is_zero() {
                return bad(format!("cost_usd is negative: {cost}"));
            }
        }
        if self.cost_usd.is_none() != (self.cost_source == CostSource::Unknown) {
            return bad("cost_usd is null exactly when cost_source is \"unknown\"".into());
        }
        if self.agent_path.len() > MAX_AGENT_DEPTH {
            return bad(format!("agent_path is deeper than {MAX_AGENT_DEPTH}"));
        }
        for name in self.agent_path.iter().chain(self.agent.iter()).chain(self.run_id.iter()) {
            if name.len() > MAX_NAME_LEN {
                return bad(format!("agent or run_id longer than {MAX_NAME_LEN} characters"));
            }
        }
        if let Some(id) = &self.call_id {
            if id.is_empty() || id.len() > MAX_NAME_LEN {
                return bad(format!("call_id must be 1..={MAX_NAME_LEN} characters"));
            }
        }
        if self.attempt == Some(0) {
            return bad("attempt counts from 1".into());
        }
        if self.tags.len() > MAX_TAGS {
            return bad(format!("more than {MAX_TAGS} tags"));
        }
        for (k, v) in &self.tags {
            if k.is_empty() || k.len() > MAX_NAME_LEN {
                return bad(format!("tag key {k:?} must be 1..={MAX_NAME_LEN} characters"));
            }
            if v.len() > MAX_TAG_VALUE_LEN {
                return bad(format!("tag {k:?} value longer than {MAX_TAG_VALUE_LEN} characters"));
            }
        }
        Ok(())
    }

    /// The wire format: one JSON object, money as a decimal string.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an event always serialises")
    }

    /// Parse and validate one wire-format event.
    pub fn from_json(text: &str) -> Result<Event> {
        let event: Event = serde_json::from_str(text).map_err(|e| Error::InvalidEvent(e.to_string()))?;
        event.validate()?;
        Ok(event)
    }
}

/// The one rule on token counts: cached reads and cache writes are part of
/// the input, reasoning part of the output, so neither may exceed its total.
/// Checked without overflow.
pub fn check_token_parts(
    input: u64,
    output: u64,
    cached: u64,
    cache_write: u64,
    reasoning: u64,
) -> std::result::Result<(), String> {
    if cached.checked_add(cache_write).is_none_or(|sum| sum > input) {
        return Err(format!(
            "cached_input_tokens ({cached}) + cache_write_input_tokens ({cache_write}) exceed input_tokens \
             ({input}): input includes cached tokens"
        ));
    }
    if reasoning > output {
        return Err(format!("reasoning_tokens ({reasoning}) exceed output_tokens ({output})"));
    }
    Ok(())
}

/// A new time-ordered event id (UUIDv7).
pub fn new_event_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Now, RFC 3339 in UTC with millisecond precision.
pub fn now_rfc3339() -> String {
    rfc3339(chrono::Utc::now())
}

/// A time as the wire format writes it: RFC 3339, UTC, milliseconds.
pub fn rfc3339(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A plain event for the core's unit tests: `evt-NNNNNN`, gpt-4o, 10 in, 5 out.
#[cfg(test)]
pub(crate) fn test_event(n: usize) -> Event {
    Event {
        event_id: format!("evt-{n:06}"),
        timestamp: "2026-01-02T03:04:05.000Z".into(),
        provider: "openai".into(),
        operation: "chat".into(),
        model: "gpt-4o".into(),
        resolved_model: None,
        input_tokens: 10,
        output_tokens: 5,
        cached_input_tokens: 0,
        cache_write_input_tokens: 0,
        reasoning_tokens: 0,
        usage_source: UsageSource::Provider,
        cost_usd: None,
        cost_source: CostSource::Unknown,
        catalog_version: "test".into(),
        price_key: None,
        latency_ms: 1,
        stream: false,
        status: Status::Ok,
        error_type: None,
        run_id: None,
        agent: None,
        agent_path: vec![],
        tags: BTreeMap::new(),
        sdk: Sdk { lang: "python".into(), version: "0".into() },
        call_id: None,
        attempt: None,
    }
}
