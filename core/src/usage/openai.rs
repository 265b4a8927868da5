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

use super::{Fields, Usage};

pub(crate) fn normalize(obj: &Value, f: &mut Fields) -> Usage {
    let is_chat_shape = has(obj, "prompt_tokens") || has(obj, "completion_tokens");
    let (input_key, output_key, input_details, output_details) = if is_chat_shape {
        ("prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details")
    } else {
        ("input_tokens", "output_tokens", "input_tokens_details", "output_tokens_details")
    };
    if !has(obj, input_key) && !has(obj, output_key) && !has(obj, "total_tokens") {
        f.problem("no token counts at all (taken as 0)".to_string());
    }
    let inputs = f.object(obj, input_details);
    let outputs = f.object(obj, output_details);

    let output_tokens = f.count(obj, &[output_key]);
    let input_tokens = if has(obj, input_key) {
        f.count(obj, &[input_key])
    } else {
        // Some compatible servers send only a total for embeddings.
        f.count(obj, &["total_tokens"]).saturating_sub(output_tokens)
    };
    let write_split = f.object(inputs, "cache_write_tokens_details");
    let written = f.count(inputs, &["cache_write_tokens"]);
    let written_30m = f.count(write_split, &["ttl_30m_tokens"]);
    let written_12h = f.count(write_split, &["ttl_12h_tokens"]);
    let (default_ttl_writes, long_ttl_writes) = Fields::split_cache_writes(written, written_30m, written_12h);
    Usage {
        input_tokens,
        output_tokens,
        cached_input_tokens: f.count(inputs, &["cached_tokens"]),
        cache_write_5m_tokens: default_ttl_writes,
        cache_write_12h_tokens: long_ttl_writes,
        input_audio_tokens: f.count(inputs, &["audio_tokens"]),
        reasoning_tokens: f.count(outputs, &["reasoning_tokens"]),
        output_audio_tokens: f.count(outputs, &["audio_tokens"]),
        service_tier: f.service_tier(obj),
        ..Usage::default()
    }
}

fn has(obj: &Value, key: &str) -> bool {
    obj.get(key).is_some_and(|v| !v.is_null())
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    /// The payload normalised alone; `Err` lists the problems sanitising fixed.
    fn normalize(payload: &Value) -> Result<Usage, Vec<String>> {
        let n = crate::usage::normalize("openai", std::slice::from_ref(payload));
        if n.problems.is_empty() {
            Ok(n.usage)
        } else {
            Err(n.problems)
        }
    }

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
    fn bad_values_are_sanitised_and_reported_not_panics() {
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
                Err(problems) => assert!(!problems.is_empty()),
                other => panic!("{payload} gave {other:?}"),
            }
        }
    }
}
