//! Anthropic usage shape (`Usage` / `MessageDeltaUsage` of the Messages API).
//!
//! Anthropic's `input_tokens` excludes cache reads and cache writes, so costline's
//! `input_tokens` = `input_tokens` + `cache_read_input_tokens` + `cache_creation_input_tokens`.
//! Cache writes are split by TTL from `cache_creation.ephemeral_5m_input_tokens` and
//! `ephemeral_1h_input_tokens`; without `cache_creation` every write is a 5-minute write
//! (the default TTL). When the split and the total disagree, the larger wins and any
//! remainder counts as 5-minute writes. Thinking tokens are part of `output_tokens`;
//! `output_tokens_details.thinking_tokens`, where reported, is `reasoning_tokens`.
//! `service_tier` is "standard", "priority" or "batch".
//!
//! A stream reports usage twice: in `message_start` and, cumulatively, in the last
//! `message_delta` (its `output_tokens` is the running total, its other counts null or
//! repeated). `usage::normalize` merges the two parts, later non-null values winning,
//! which gives the final totals.

use serde_json::Value;

use super::openai::{check_parts, expect_object_or_null, service_tier, split_cache_writes};
use super::{count, Usage};
use crate::{Error, Result};

const PROVIDER: &str = "anthropic";

pub fn normalize(obj: &Value) -> Result<Usage> {
    let uncached_input = count(obj, &["input_tokens"], PROVIDER)?;
    let cache_read = count(obj, &["cache_read_input_tokens"], PROVIDER)?;
    let cache_creation = count(obj, &["cache_creation_input_tokens"], PROVIDER)?;
    expect_object_or_null(obj, "cache_creation", PROVIDER)?;
    expect_object_or_null(obj, "output_tokens_details", PROVIDER)?;
    let (write_5m, write_1h) = split_cache_writes(
        cache_creation,
        count(obj, &["cache_creation", "ephemeral_5m_input_tokens"], PROVIDER)?,
        count(obj, &["cache_creation", "ephemeral_1h_input_tokens"], PROVIDER)?,
        PROVIDER,
    )?;
    let usage = Usage {
        input_tokens: add(add(uncached_input, cache_read)?, add(write_5m, write_1h)?)?,
        output_tokens: count(obj, &["output_tokens"], PROVIDER)?,
        reasoning_tokens: count(obj, &["output_tokens_details", "thinking_tokens"], PROVIDER)?,
        cached_input_tokens: cache_read,
        cache_write_5m_tokens: write_5m,
        cache_write_1h_tokens: write_1h,
        service_tier: service_tier(obj, PROVIDER)?,
        ..Usage::default()
    };
    check_parts(&usage, PROVIDER)?;
    Ok(usage)
}

fn add(a: u64, b: u64) -> Result<u64> {
    a.checked_add(b).ok_or_else(|| usage_error(format!("token counts {a} + {b} overflow")))
}

fn usage_error(message: String) -> Error {
    Error::Usage { provider: PROVIDER.to_string(), message }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn cache_reads_and_writes_are_added_to_input() {
        let usage = normalize(&json!({
            "input_tokens": 50, "output_tokens": 20,
            "cache_read_input_tokens": 1000, "cache_creation_input_tokens": 300,
            "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200},
            "service_tier": "standard"
        }))
        .unwrap();
        assert_eq!(
            usage,
            Usage {
                input_tokens: 1350,
                output_tokens: 20,
                cached_input_tokens: 1000,
                cache_write_5m_tokens: 100,
                cache_write_1h_tokens: 200,
                service_tier: Some("standard".into()),
                ..Usage::default()
            }
        );
    }

    #[test]
    fn writes_without_a_breakdown_are_five_minute_writes() {
        let usage =
            normalize(&json!({"input_tokens": 10, "output_tokens": 1, "cache_creation_input_tokens": 40}))
                .unwrap();
        assert_eq!(
            (usage.input_tokens, usage.cache_write_5m_tokens, usage.cache_write_1h_tokens),
            (50, 40, 0)
        );
    }

    #[test]
    fn breakdown_and_total_that_disagree_keep_the_larger() {
        let short = normalize(&json!({"input_tokens": 0, "cache_creation_input_tokens": 50,
            "cache_creation": {"ephemeral_5m_input_tokens": 10, "ephemeral_1h_input_tokens": 30}}))
        .unwrap();
        assert_eq!((short.cache_write_5m_tokens, short.cache_write_1h_tokens), (20, 30));
        let long = normalize(&json!({"input_tokens": 0, "cache_creation_input_tokens": 0,
            "cache_creation": {"ephemeral_5m_input_tokens": 10, "ephemeral_1h_input_tokens": 30}}))
        .unwrap();
        assert_eq!((long.input_tokens, long.cache_write_5m_tokens, long.cache_write_1h_tokens), (40, 10, 30));
    }

    #[test]
    fn thinking_tokens_are_reasoning_tokens() {
        let usage = normalize(&json!({"input_tokens": 10, "output_tokens": 900,
            "output_tokens_details": {"thinking_tokens": 700}}))
        .unwrap();
        assert_eq!((usage.output_tokens, usage.reasoning_tokens), (900, 700));
    }

    #[test]
    fn stream_parts_merge_to_the_final_cumulative_totals() {
        let start = json!({"input_tokens": 472, "output_tokens": 2, "cache_read_input_tokens": 100,
            "cache_creation_input_tokens": 0, "service_tier": "standard"});
        let delta = json!({"output_tokens": 503, "input_tokens": null, "cache_read_input_tokens": null});
        let usage = crate::usage::normalize("anthropic", &[start, delta]).unwrap();
        assert_eq!((usage.input_tokens, usage.cached_input_tokens, usage.output_tokens), (572, 100, 503));
    }

    #[test]
    fn bad_values_are_usage_errors_not_panics() {
        let bad = [
            json!({"input_tokens": -5}),
            json!({"input_tokens": "5"}),
            json!({"input_tokens": 1, "cache_creation": [1]}),
            json!({"input_tokens": 1, "cache_creation": {"ephemeral_1h_input_tokens": -1}}),
            json!({"input_tokens": u64::MAX, "cache_read_input_tokens": 1}),
            json!({"input_tokens": 1, "service_tier": {"name": "batch"}}),
            json!({"input_tokens": 1, "output_tokens": 5, "output_tokens_details": {"thinking_tokens": 6}}),
            json!({"input_tokens": 1, "output_tokens_details": "many"}),
        ];
        for payload in bad {
            match normalize(&payload) {
                Err(Error::Usage { .. }) => {}
                other => panic!("{payload} gave {other:?}"),
            }
        }
        assert!(crate::usage::normalize("anthropic", &[json!("text")]).is_err());
    }
}
