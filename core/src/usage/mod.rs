//! Usage normalisation: each provider reports tokens its own way; this module
//! turns a raw usage payload (the provider's JSON, as the SDK parsed it) into
//! one `Usage` with costline's conventions:
//!
//! - `input_tokens` includes cached reads and cache writes;
//! - `output_tokens` includes reasoning tokens;
//! - cache writes are split by TTL (5 minutes / 1 hour) because they price differently.

pub mod anthropic;
pub mod openai;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Error, Result};

/// Normalised token counts of one call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Usage {
    /// All input tokens, cached reads and cache writes included.
    pub input_tokens: u64,
    /// All output tokens, reasoning included.
    pub output_tokens: u64,
    /// Input tokens read from the provider's prompt cache.
    pub cached_input_tokens: u64,
    /// Input tokens written to the cache with the default TTL (Anthropic: 5 minutes;
    /// OpenAI: 30 minutes), priced at the catalog's default cache-write rate.
    pub cache_write_5m_tokens: u64,
    /// Input tokens written to the cache with a 1-hour TTL.
    pub cache_write_1h_tokens: u64,
    /// Input tokens written to the cache with a 12-hour TTL (OpenAI extended retention).
    pub cache_write_12h_tokens: u64,
    /// Output tokens spent on reasoning (part of `output_tokens`).
    pub reasoning_tokens: u64,
    /// Input tokens that were audio (part of `input_tokens`).
    pub input_audio_tokens: u64,
    /// Output tokens that were audio (part of `output_tokens`).
    pub output_audio_tokens: u64,
    /// Service tier the provider says it used ("flex", "priority", "batch"...);
    /// `None` or "default"/"standard" price at the standard rates.
    pub service_tier: Option<String>,
}

impl Usage {
    /// Cache writes of every TTL: the wire format's `cache_write_input_tokens`.
    pub fn cache_write_input_tokens(&self) -> u64 {
        self.cache_write_5m_tokens + self.cache_write_1h_tokens + self.cache_write_12h_tokens
    }
}

/// Normalise a provider's raw usage. `parts` are the usage payloads the call
/// produced, in order: one for a plain response; for an Anthropic stream the
/// `message_start` usage then the last `message_delta` usage. Later parts win
/// field by field (a null or absent field does not erase an earlier value).
pub fn normalize(provider: &str, parts: &[Value]) -> Result<Usage> {
    let merged = merge_parts(parts);
    let obj = match &merged {
        Value::Object(_) => &merged,
        other => {
            return Err(Error::Usage {
                provider: provider.to_string(),
                message: format!("expected an object, got {}", type_name(other)),
            })
        }
    };
    match provider {
        "anthropic" => anthropic::normalize(obj),
        // OpenAI's shapes are the lingua franca of compatible servers.
        _ => openai::normalize(obj),
    }
}

/// The operation a request path stands for, or `None` for paths that are not
/// metered (listing models, files, `messages/count_tokens`...).
pub fn operation_for_path(provider: &str, path: &str) -> Option<&'static str> {
    let path = path.split('?').next().unwrap_or(path).trim_end_matches('/');
    let last = |suffix: &str| path.ends_with(suffix);
    match provider {
        "anthropic" => {
            if last("/messages/count_tokens") {
                None
            } else if last("/messages") {
                Some("messages")
            } else if last("/complete") {
                Some("completions")
            } else {
                None
            }
        }
        _ => {
            if last("/chat/completions") {
                Some("chat")
            } else if last("/responses") {
                Some("responses")
            } else if last("/embeddings") {
                Some("embeddings")
            } else if last("/completions") {
                Some("completions")
            } else {
                None
            }
        }
    }
}

fn merge_parts(parts: &[Value]) -> Value {
    if parts.len() == 1 {
        return parts[0].clone();
    }
    let mut out = serde_json::Map::new();
    for part in parts {
        if let Value::Object(map) = part {
            merge_into(&mut out, map);
        }
    }
    Value::Object(out)
}

fn merge_into(out: &mut serde_json::Map<String, Value>, map: &serde_json::Map<String, Value>) {
    for (k, v) in map {
        match (out.get_mut(k), v) {
            (_, Value::Null) => {}
            (Some(Value::Object(existing)), Value::Object(inner)) => merge_into(existing, inner),
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Read a non-negative integer field; absent or null is 0. Negative or
/// non-integer numbers are rejected rather than guessed.
pub(crate) fn count(obj: &Value, path: &[&str], provider: &str) -> Result<u64> {
    let mut cur = obj;
    for key in path {
        match cur.get(key) {
            Some(v) => cur = v,
            None => return Ok(0),
        }
    }
    match cur {
        Value::Null => Ok(0),
        Value::Number(n) => n.as_u64().ok_or_else(|| Error::Usage {
            provider: provider.to_string(),
            message: format!("{} is not a non-negative integer: {n}", path.join(".")),
        }),
        other => Err(Error::Usage {
            provider: provider.to_string(),
            message: format!("{} is {}, expected an integer", path.join("."), type_name(other)),
        }),
    }
}
