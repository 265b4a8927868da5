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

use super::{Fields, Usage};

pub(crate) fn normalize(obj: &Value, f: &mut Fields) -> Usage {
    if obj.get("input_tokens").is_none_or(Value::is_null)
        && obj.get("output_tokens").is_none_or(Value::is_null)
    {
        f.problem("no token counts at all (taken as 0)".to_string());
    }
    let uncached_input = f.count(obj, &["input_tokens"]);
    let cache_read = f.count(obj, &["cache_read_input_tokens"]);
    let cache_creation = f.count(obj, &["cache_creation_input_tokens"]);
    let split = f.object(obj, "cache_creation");
    let details = f.object(obj, "output_tokens_details");
    let write_5m = f.count(split, &["ephemeral_5m_input_tokens"]);
    let write_1h = f.count(split, &["ephemeral_1h_input_tokens"]);
    let (write_5m, write_1h) = Fields::split_cache_writes(cache_creation, write_5m, write_1h);
    let cached_and_written = f.add(cache_read, write_5m.saturating_add(write_1h));
    Usage {
        input_tokens: f.add(uncached_input, cached_and_written),
        output_tokens: f.count(obj, &["output_tokens"]),
        reasoning_tokens: f.count(details, &["thinking_tokens"]),
        cached_input_tokens: cache_read,
        cache_write_5m_tokens: write_5m,
        cache_write_1h_tokens: write_1h,
        service_tier: f.service_tier(obj),
        ..Usage::default()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    /// The payload normalised alone; `Err` lists the problems sanitising fixed.
    fn normalize(payload: &Value) -> Result<Usage, Vec<String>> {
        let n = crate::usage::normalize("anthropic", std::slice::from_ref(payload));
        if n.problems.is_empty() {
            Ok(n.usage)
        } else {
            Err(n.problems)
        }
    }

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
        let usage = crate::usage::normalize("anthropic", &[start, delta]).usage;
        assert_eq!((usage.input_tokens, usage.cached_input_tokens, usage.output_tokens), (572, 100, 503));
    }

    #[test]
    fn bad_values_are_sanitised_and_reported_not_panics() {
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
                Err(problems) => assert!(!problems.is_empty()),
                other => panic!("{payload} gave {other:?}"),
            }
        }
        assert!(!crate::usage::normalize("anthropic", &[json!("text")]).problems.is_empty());
    }
}
