//! Usage normalisation: each provider reports tokens its own way; this module
//! turns a raw usage payload (the provider's JSON, as the SDK parsed it) into
//! one `Usage` with costline's conventions:
//!
//! - `input_tokens` includes cached reads and cache writes;
//! - `output_tokens` includes reasoning tokens;
//! - cache writes are split by TTL (5 minutes / 1 hour) because they price differently.

pub mod anthropic;
pub mod body;
pub mod meter;
pub mod openai;

use serde::{Deserialize, Serialize};
use serde_json::Value;

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
        self.cache_write_5m_tokens
            .saturating_add(self.cache_write_1h_tokens)
            .saturating_add(self.cache_write_12h_tokens)
    }
}

/// A normalised usage and what had to be fixed to get it. A malformed
/// payload (a negative, string, float or missing count, a part larger than
/// its total, a details field that is not an object) never loses the call's
/// event: each bad value is replaced (by 0, its integer part, or clamped to its
/// total) and named in `problems`; the event is then marked
/// `usage_source = "estimate"`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Normalized {
    pub usage: Usage,
    /// One line per problem, naming the provider and field, never a value
    /// beyond a number: bounded, so that each distinct problem can be logged once.
    pub problems: Vec<String>,
}

/// Normalise a provider's raw usage. `parts` are the usage payloads the call
/// produced, in order: one for a plain response; for an Anthropic stream the
/// `message_start` usage then the last `message_delta` usage. Later parts win
/// field by field (a null or absent field does not erase an earlier value).
pub fn normalize(provider: &str, parts: &[Value]) -> Normalized {
    let merged = merge_parts(parts);
    let mut fields = Fields { provider: family(provider), problems: Vec::new() };
    let usage = match &merged {
        Value::Object(_) => match provider {
            "anthropic" => anthropic::normalize(&merged, &mut fields),
            // OpenAI's shapes are the lingua franca of compatible servers.
            _ => openai::normalize(&merged, &mut fields),
        },
        other => {
            fields.problem(format!("the usage payload is {}, expected an object", type_name(other)));
            Usage::default()
        }
    };
    let usage = fields.clamp_parts(usage);
    Normalized { usage, problems: fields.problems }
}

/// The provider name used in problem reports: one of the known ones, so that a
/// caller-chosen name cannot make every report distinct.
fn family(provider: &str) -> &'static str {
    match provider {
        "anthropic" => "anthropic",
        _ => "openai",
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

/// Reads fields of one usage payload leniently, noting each value it had to replace.
pub(crate) struct Fields {
    provider: &'static str,
    problems: Vec<String>,
}

impl Fields {
    pub(crate) fn problem(&mut self, what: String) {
        let line = format!("{} usage: {what}", self.provider);
        if !self.problems.contains(&line) {
            self.problems.push(line);
        }
    }

    /// A non-negative integer field; absent or null is 0. An integral float
    /// (`12.0`) is taken as is. Anything else is replaced and reported: a
    /// negative number or a non-number by 0, a fractional float by its integer
    /// part, a numeric string by its number.
    pub(crate) fn count(&mut self, obj: &Value, path: &[&str]) -> u64 {
        let mut cur = obj;
        for key in path {
            match cur.get(key) {
                Some(v) => cur = v,
                None => return 0,
            }
        }
        let name = path.join(".");
        match cur {
            Value::Null => 0,
            Value::Number(n) => {
                if let Some(v) = n.as_u64() {
                    return v.min(MAX_TOKENS);
                }
                match n.as_f64() {
                    Some(f) if f.is_finite() && f >= 0.0 && f <= MAX_TOKENS as f64 => {
                        if f.fract() != 0.0 {
                            self.problem(format!("{name} is not an integer (taken as its integer part)"));
                        }
                        f as u64
                    }
                    _ => {
                        self.problem(format!("{name} is negative or out of range (taken as 0)"));
                        0
                    }
                }
            }
            Value::String(s) => match s.trim().parse::<u64>() {
                Ok(v) => {
                    self.problem(format!("{name} is a string (its number was used)"));
                    v.min(MAX_TOKENS)
                }
                Err(_) => {
                    self.problem(format!("{name} is a non-numeric string (taken as 0)"));
                    0
                }
            },
            other => {
                self.problem(format!("{name} is {} (taken as 0)", type_name(other)));
                0
            }
        }
    }

    /// A nested details object: absent, null or an object; anything else is
    /// reported and read as absent.
    pub(crate) fn object<'v>(&mut self, obj: &'v Value, key: &str) -> &'v Value {
        match obj.get(key) {
            None | Some(Value::Null) => &Value::Null,
            Some(v @ Value::Object(_)) => v,
            Some(other) => {
                self.problem(format!("{key} is {}, expected an object (ignored)", type_name(other)));
                &Value::Null
            }
        }
    }

    /// The optional `service_tier` string.
    pub(crate) fn service_tier(&mut self, obj: &Value) -> Option<String> {
        match obj.get("service_tier") {
            None | Some(Value::Null) => None,
            Some(Value::String(tier)) => Some(tier.clone()),
            Some(other) => {
                self.problem(format!("service_tier is {}, expected a string (ignored)", type_name(other)));
                None
            }
        }
    }

    /// Cache writes as (default TTL, long TTL) from a total and its optional
    /// split: the larger of the total and the split's sum counts, any
    /// remainder at the default TTL.
    pub(crate) fn split_cache_writes(total: u64, default_part: u64, long_part: u64) -> (u64, u64) {
        let split_sum = default_part.saturating_add(long_part);
        (default_part.saturating_add(total.saturating_sub(split_sum)), long_part)
    }

    pub(crate) fn add(&mut self, a: u64, b: u64) -> u64 {
        a.checked_add(b).filter(|v| *v <= MAX_TOKENS).unwrap_or_else(|| {
            self.problem("token counts overflow (capped)".to_string());
            MAX_TOKENS
        })
    }

    /// Parts cannot exceed the totals they are part of: cached reads, cache
    /// writes and input audio are clamped to the input count, reasoning and
    /// output audio to the output count. Each clamp is reported.
    fn clamp_parts(&mut self, mut u: Usage) -> Usage {
        let input = u.input_tokens;
        let mut room = input;
        for (name, slot) in [
            ("cached input tokens", &mut u.cached_input_tokens),
            ("cache write tokens", &mut u.cache_write_5m_tokens),
            ("cache write tokens", &mut u.cache_write_1h_tokens),
            ("cache write tokens", &mut u.cache_write_12h_tokens),
        ] {
            if *slot > room {
                self.problem(format!("{name} exceed the input tokens they are part of (clamped)"));
                *slot = room;
            }
            room -= *slot;
        }
        if u.input_audio_tokens > input {
            self.problem("input audio tokens exceed the input tokens (clamped)".to_string());
            u.input_audio_tokens = input;
        }
        if u.reasoning_tokens > u.output_tokens {
            self.problem("reasoning tokens exceed the output tokens they are part of (clamped)".to_string());
            u.reasoning_tokens = u.output_tokens;
        }
        if u.output_audio_tokens > u.output_tokens {
            self.problem("output audio tokens exceed the output tokens (clamped)".to_string());
            u.output_audio_tokens = u.output_tokens;
        }
        u
    }
}

/// The largest token count costline stores: the ledger's integers are signed
/// 64-bit, and no real call comes near it.
pub const MAX_TOKENS: u64 = i64::MAX as u64;
