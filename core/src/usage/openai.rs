//! OpenAI usage shapes (also spoken by OpenAI-compatible servers):
//!
//! - Chat Completions and legacy Completions: `prompt_tokens`, `completion_tokens`,
//!   `prompt_tokens_details.{cached_tokens, audio_tokens}`,
//!   `completion_tokens_details.{reasoning_tokens, audio_tokens}`;
//! - Responses API: `input_tokens`, `output_tokens`, `input_tokens_details.cached_tokens`,
//!   `output_tokens_details.reasoning_tokens`;
//! - Embeddings: `prompt_tokens`, `total_tokens`, no output.
//!
//! Cache writes (newer models bill them): `prompt_tokens_details.cache_write_tokens` or
//! `input_tokens_details.cache_write_tokens`, split by retention in
//! `input_tokens_details.cache_write_tokens_details.{ttl_30m_tokens, ttl_12h_tokens}`.
//! 30-minute (default) writes go to `cache_write_5m_tokens`, the default-TTL slot, and
//! 12-hour writes to `cache_write_12h_tokens`; without a split every write is a
//! default-TTL write, and when split and total disagree the larger wins, any remainder
//! being default-TTL writes.
//!
//! In every shape the input count already includes cached, written and audio tokens,
//! and the output count includes reasoning and audio tokens: costline's conventions.
//! OpenAI reports the service tier on the response, not in `usage`: the language layer
//! copies the response's `service_tier` into the usage payload as `"service_tier"`.

use serde_json::Value;

use super::{count, Usage};
use crate::{Error, Result};

const PROVIDER: &str = "openai";

pub fn normalize(obj: &Value) -> Result<Usage> {
    let is_chat_shape = has(obj, "prompt_tokens") || has(obj, "completion_tokens");
    let (input_key, output_key, input_details, output_details) = if is_chat_shape {
        ("prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details")
    } else {
        ("input_tokens", "output_tokens", "input_tokens_details", "output_tokens_details")
    };
    expect_object_or_null(obj, input_details, PROVIDER)?;
    expect_object_or_null(obj, output_details, PROVIDER)?;

    let output_tokens = count(obj, &[output_key], PROVIDER)?;
    let input_tokens = if has(obj, input_key) {
        count(obj, &[input_key], PROVIDER)?
    } else {
        // Some compatible servers send only a total for embeddings.
        count(obj, &["total_tokens"], PROVIDER)?.saturating_sub(output_tokens)
    };
    expect_object_or_null(
        obj.get(input_details).unwrap_or(&Value::Null),
        "cache_write_tokens_details",
        PROVIDER,
    )?;
    let written = count(obj, &[input_details, "cache_write_tokens"], PROVIDER)?;
    let written_30m = count(obj, &[input_details, "cache_write_tokens_details", "ttl_30m_tokens"], PROVIDER)?;
    let written_12h = count(obj, &[input_details, "cache_write_tokens_details", "ttl_12h_tokens"], PROVIDER)?;
    let (default_ttl_writes, long_ttl_writes) =
        split_cache_writes(written, written_30m, written_12h, PROVIDER)?;
    let usage = Usage {
        input_tokens,
        output_tokens,
        cached_input_tokens: count(obj, &[input_details, "cached_tokens"], PROVIDER)?,
        cache_write_5m_tokens: default_ttl_writes,
        cache_write_12h_tokens: long_ttl_writes,
        input_audio_tokens: count(obj, &[input_details, "audio_tokens"], PROVIDER)?,
        reasoning_tokens: count(obj, &[output_details, "reasoning_tokens"], PROVIDER)?,
        output_audio_tokens: count(obj, &[output_details, "audio_tokens"], PROVIDER)?,
        service_tier: service_tier(obj, PROVIDER)?,
        ..Usage::default()
    };
    check_parts(&usage, PROVIDER)?;
    Ok(usage)
}

fn has(obj: &Value, key: &str) -> bool {
    obj.get(key).is_some_and(|v| !v.is_null())
}

/// A nested details object may be absent or null; anything but an object is an error.
pub(crate) fn expect_object_or_null(obj: &Value, key: &str, provider: &str) -> Result<()> {
    match obj.get(key) {
        None | Some(Value::Null) | Some(Value::Object(_)) => Ok(()),
        Some(other) => Err(Error::Usage {
            provider: provider.to_string(),
            message: format!("{key} is {other}, expected an object"),
        }),
    }
}

/// The optional `service_tier` string of a usage payload.
pub(crate) fn service_tier(obj: &Value, provider: &str) -> Result<Option<String>> {
    match obj.get("service_tier") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(tier)) => Ok(Some(tier.clone())),
        Some(other) => Err(Error::Usage {
            provider: provider.to_string(),
            message: format!("service_tier is {other}, expected a string"),
        }),
    }
}

/// Cache writes as (default TTL, long TTL) from a total and its optional split: the
/// larger of the total and the split's sum counts, any remainder at the default TTL.
pub(crate) fn split_cache_writes(
    total: u64,
    default_part: u64,
    long_part: u64,
    provider: &str,
) -> Result<(u64, u64)> {
    let split_sum = default_part.checked_add(long_part).ok_or_else(|| Error::Usage {
        provider: provider.to_string(),
        message: format!("cache write counts {default_part} + {long_part} overflow"),
    })?;
    Ok((default_part + total.saturating_sub(split_sum), long_part))
}

/// Parts (cached, written, audio, reasoning) cannot exceed the totals they are part of.
pub(crate) fn check_parts(usage: &Usage, provider: &str) -> Result<()> {
    let cached_and_written = usage.cached_input_tokens.saturating_add(usage.cache_write_input_tokens());
    let checks = [
        ("cached and cache-written input tokens", cached_and_written, "input tokens", usage.input_tokens),
        ("input audio tokens", usage.input_audio_tokens, "input tokens", usage.input_tokens),
        ("reasoning tokens", usage.reasoning_tokens, "output tokens", usage.output_tokens),
        ("output audio tokens", usage.output_audio_tokens, "output tokens", usage.output_tokens),
    ];
    for (part_name, part, total_name, total) in checks {
        if part > total {
            return Err(Error::Usage {
                provider: provider.to_string(),
                message: format!("{part} {part_name} exceed the {total} {total_name} they are part of"),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn chat_completion_details_are_read() {
        let usage = normalize(&json!({
            "prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500,
            "prompt_tokens_details": {"cached_tokens": 200, "audio_tokens": 10},
            "completion_tokens_details": {"reasoning_tokens": 300, "audio_tokens": 20,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
        }))
        .unwrap();
        assert_eq!(
            usage,
            Usage {
                input_tokens: 1000,
                output_tokens: 500,
                cached_input_tokens: 200,
                input_audio_tokens: 10,
                reasoning_tokens: 300,
                output_audio_tokens: 20,
                ..Usage::default()
            }
        );
    }

    #[test]
    fn responses_api_shape_is_read() {
        let usage = normalize(&json!({
            "input_tokens": 300, "output_tokens": 120, "total_tokens": 420,
            "input_tokens_details": {"cached_tokens": 100},
            "output_tokens_details": {"reasoning_tokens": 64}
        }))
        .unwrap();
        assert_eq!((usage.input_tokens, usage.cached_input_tokens), (300, 100));
        assert_eq!((usage.output_tokens, usage.reasoning_tokens), (120, 64));
    }

    #[test]
    fn cache_writes_are_split_by_retention() {
        let usage = normalize(&json!({
            "input_tokens": 5000, "output_tokens": 10,
            "input_tokens_details": {"cached_tokens": 1000, "cache_write_tokens": 3000,
                "cache_write_tokens_details": {"ttl_30m_tokens": 1000, "ttl_12h_tokens": 1500}},
            "output_tokens_details": {"reasoning_tokens": 0}
        }))
        .unwrap();
        assert_eq!((usage.cache_write_5m_tokens, usage.cache_write_12h_tokens), (1500, 1500));
        assert_eq!(usage.cache_write_input_tokens(), 3000);
        let chat = normalize(&json!({"prompt_tokens": 100, "completion_tokens": 1,
            "prompt_tokens_details": {"cache_write_tokens": 60}}))
        .unwrap();
        assert_eq!((chat.cache_write_5m_tokens, chat.cache_write_12h_tokens), (60, 0));
    }

    #[test]
    fn embeddings_have_no_output() {
        let usage = normalize(&json!({"prompt_tokens": 8, "total_tokens": 8})).unwrap();
        assert_eq!((usage.input_tokens, usage.output_tokens), (8, 0));
        let total_only = normalize(&json!({"total_tokens": 8})).unwrap();
        assert_eq!(total_only.input_tokens, 8);
    }

    #[test]
    fn null_details_count_as_zero() {
        let usage = normalize(&json!({"prompt_tokens": 5, "completion_tokens": 1,
            "prompt_tokens_details": null, "completion_tokens_details": {"reasoning_tokens": null}}))
        .unwrap();
        assert_eq!(usage.cached_input_tokens + usage.reasoning_tokens, 0);
    }

    #[test]
    fn service_tier_copied_into_the_payload_is_kept() {
        let usage =
            normalize(&json!({"prompt_tokens": 5, "completion_tokens": 1, "service_tier": "flex"})).unwrap();
        assert_eq!(usage.service_tier.as_deref(), Some("flex"));
    }

    #[test]
    fn bad_values_are_usage_errors_not_panics() {
        let bad = [
            json!({"prompt_tokens": -1}),
            json!({"prompt_tokens": "12"}),
            json!({"prompt_tokens": 1.5}),
            json!({"prompt_tokens": 10, "prompt_tokens_details": 3}),
            json!({"prompt_tokens": 10, "prompt_tokens_details": {"cached_tokens": "all"}}),
            json!({"prompt_tokens": 10, "prompt_tokens_details": {"cached_tokens": 11}}),
            json!({"prompt_tokens": 10, "prompt_tokens_details": {"cached_tokens": 6, "cache_write_tokens": 5}}),
            json!({"input_tokens": 10, "input_tokens_details": {"cache_write_tokens_details": [1]}}),
            json!({"input_tokens": 10, "input_tokens_details": {"cache_write_tokens_details":
                {"ttl_30m_tokens": u64::MAX, "ttl_12h_tokens": 1}}}),
            json!({"prompt_tokens": 10, "completion_tokens": 2,
                   "completion_tokens_details": {"reasoning_tokens": 3}}),
            json!({"input_tokens": 10, "output_tokens": true}),
            json!({"prompt_tokens": 10, "service_tier": 1}),
            json!({"prompt_tokens": 1e30}),
        ];
        for payload in bad {
            match normalize(&payload) {
                Err(Error::Usage { .. }) => {}
                other => panic!("{payload} gave {other:?}"),
            }
        }
    }
}
