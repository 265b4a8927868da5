//! AWS Bedrock usage shapes. Bedrock reports tokens differently per API and, for
//! `InvokeModel`, per model family; `normalize` recognises each by its keys:
//!
//! - **Converse / ConverseStream** (`usage` of the response, of the stream's `metadata`
//!   event): `inputTokens`, `outputTokens`, `cacheReadInputTokens`,
//!   `cacheWriteInputTokens`. As at Anthropic, `inputTokens` **excludes** cache reads
//!   and writes (`totalTokens` = input + output + reads + writes), so costline's
//!   input is their sum. Cache writes are priced at the default (5-minute) write rate:
//!   these fields do not split them by TTL.
//! - **Invocation metrics** (`amazon-bedrock-invocationMetrics` on the last chunk of an
//!   `InvokeModelWithResponseStream`, and the `X-Amzn-Bedrock-*-Token-Count` headers of
//!   `InvokeModel`, which the language layer turns into this shape): `inputTokenCount`,
//!   `outputTokenCount`, `cacheReadInputTokenCount`, `cacheWriteInputTokenCount`; same
//!   convention as Converse.
//! - **InvokeModel bodies**: Anthropic's Messages body (`usage.input_tokens`...: the
//!   Anthropic shape, normalised by `anthropic`), Meta Llama (`prompt_token_count`,
//!   `generation_token_count`), Amazon Titan text (`inputTextTokenCount`, and
//!   `results[].tokenCount` summed as output) and Titan embeddings
//!   (`inputTextTokenCount` only). [`usage_from_invoke_body`] picks these counts out of
//!   a whole body, so that no output text travels further.
//!
//! When an Anthropic stream's own usage and the invocation metrics both arrive, the
//! Anthropic counts win (they carry the cache split).

use serde_json::{Map, Value};

use super::{anthropic, Fields, Usage};

pub(crate) fn normalize(obj: &Value, f: &mut Fields) -> Usage {
    let has = |key: &str| obj.get(key).is_some_and(|v| !v.is_null());
    if has("input_tokens") || has("output_tokens") {
        return anthropic::normalize(obj, f);
    }
    if has("prompt_tokens") || has("completion_tokens") {
        // OpenAI-style models (gpt-oss) answer in OpenAI's shape.
        return super::openai::normalize(obj, f);
    }
    if has("prompt_token_count") || has("generation_token_count") {
        return Usage {
            input_tokens: f.count(obj, &["prompt_token_count"]),
            output_tokens: f.count(obj, &["generation_token_count"]),
            ..Usage::default()
        };
    }
    if has("inputTextTokenCount") {
        let mut output = f.count(obj, &["outputTokenCount"]);
        if let Some(results) = obj.get("results").and_then(Value::as_array) {
            for result in results {
                let tokens = f.count(result, &["tokenCount"]);
                output = f.add(output, tokens);
            }
        }
        return Usage {
            input_tokens: f.count(obj, &["inputTextTokenCount"]),
            output_tokens: output,
            ..Usage::default()
        };
    }
    let (input, output, read, write) = if has("inputTokens") || has("outputTokens") {
        ("inputTokens", "outputTokens", "cacheReadInputTokens", "cacheWriteInputTokens")
    } else if has("inputTokenCount") || has("outputTokenCount") {
        ("inputTokenCount", "outputTokenCount", "cacheReadInputTokenCount", "cacheWriteInputTokenCount")
    } else {
        f.problem("no token counts at all (taken as 0)".to_string());
        return Usage::default();
    };
    let uncached = f.count(obj, &[input]);
    let cache_read = f.count(obj, &[read]);
    let cache_write = f.count(obj, &[write]);
    let cached_and_written = f.add(cache_read, cache_write);
    Usage {
        input_tokens: f.add(uncached, cached_and_written),
        output_tokens: f.count(obj, &[output]),
        cached_input_tokens: cache_read,
        cache_write_5m_tokens: cache_write,
        ..Usage::default()
    }
}

/// The usage counts of a whole `InvokeModel` response body (any model family), or
/// `None` when the body has none (the caller then uses the response headers'
/// counts, or estimates). Only counts are copied: never output text.
pub fn usage_from_invoke_body(body: &Value) -> Option<Value> {
    let mut out = Map::new();
    if let Some(usage) = body.get("usage").filter(|u| u.is_object()) {
        // Anthropic Messages, Amazon Nova, and OpenAI-style bodies.
        return Some(usage.clone());
    }
    if let Some(metrics) = body.get("amazon-bedrock-invocationMetrics").filter(|m| m.is_object()) {
        return Some(metrics.clone());
    }
    for key in ["prompt_token_count", "generation_token_count", "inputTextTokenCount"] {
        if let Some(v) = body.get(key).filter(|v| !v.is_null()) {
            out.insert(key.to_string(), v.clone());
        }
    }
    if out.contains_key("inputTextTokenCount") {
        if let Some(results) = body.get("results").and_then(Value::as_array) {
            let counts: Vec<Value> = results
                .iter()
                .filter_map(|r| r.get("tokenCount").cloned())
                .map(|count| Value::Object(Map::from_iter([("tokenCount".to_string(), count)])))
                .collect();
            out.insert("results".to_string(), Value::Array(counts));
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// The `X-Amzn-Bedrock-*-Token-Count` headers of an `InvokeModel` response as
/// the invocation-metrics shape (`inputTokenCount`...), or `None` when none is
/// there. `headers` are (name, value) pairs, names in any case; a value that is
/// not a whole number is left out.
pub fn usage_from_invoke_headers<'h>(headers: impl IntoIterator<Item = (&'h str, &'h str)>) -> Option<Value> {
    const COUNTS: [(&str, &str); 4] = [
        ("x-amzn-bedrock-input-token-count", "inputTokenCount"),
        ("x-amzn-bedrock-output-token-count", "outputTokenCount"),
        ("x-amzn-bedrock-cache-read-input-token-count", "cacheReadInputTokenCount"),
        ("x-amzn-bedrock-cache-write-input-token-count", "cacheWriteInputTokenCount"),
    ];
    let mut out = Map::new();
    for (name, value) in headers {
        let Some((_, field)) = COUNTS.iter().find(|(header, _)| name.eq_ignore_ascii_case(header)) else {
            continue;
        };
        if let Ok(count) = value.trim().parse::<u64>() {
            out.insert((*field).to_string(), Value::from(count));
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// The usage part of one decoded `InvokeModelWithResponseStream` chunk: an
/// Anthropic `message_start` / `message_delta` usage, or the final chunk's
/// invocation metrics; `None` for chunks without counts.
pub fn usage_from_invoke_chunk(chunk: &Value) -> Option<Value> {
    match chunk.get("type").and_then(Value::as_str) {
        Some("message_start") => {
            chunk.get("message").and_then(|m| m.get("usage")).filter(|u| u.is_object()).cloned()
        }
        Some("message_delta") => chunk.get("usage").filter(|u| u.is_object()).cloned(),
        _ => {
            let metrics = chunk.get("amazon-bedrock-invocationMetrics").filter(|m| m.is_object())?;
            // Only the counts: latencies are not usage.
            let counts: Map<String, Value> = metrics
                .as_object()?
                .iter()
                .filter(|(k, _)| k.ends_with("TokenCount"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Some(Value::Object(counts))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn usage(parts: &[Value]) -> Usage {
        let n = crate::usage::normalize("bedrock", parts);
        assert!(n.problems.is_empty(), "{:?}", n.problems);
        n.usage
    }

    #[test]
    fn converse_cache_reads_and_writes_are_added_to_the_uncached_input() {
        let u = usage(&[json!({"inputTokens": 4, "outputTokens": 200, "totalTokens": 1710,
            "cacheReadInputTokens": 500, "cacheWriteInputTokens": 1006})]);
        assert_eq!((u.input_tokens, u.cached_input_tokens, u.cache_write_input_tokens()), (1510, 500, 1006));
        assert_eq!(u.output_tokens, 200);
    }

    #[test]
    fn invoke_bodies_of_each_family_yield_their_counts() {
        let anthropic = json!({"content": [{"type": "text", "text": "secret"}],
            "usage": {"input_tokens": 10, "output_tokens": 3, "cache_read_input_tokens": 5}});
        let llama = json!({"generation": "secret", "prompt_token_count": 12, "generation_token_count": 7});
        let titan = json!({"inputTextTokenCount": 6, "results": [{"tokenCount": 9, "outputText": "secret"}]});
        let titan_embed = json!({"embedding": [0.1], "inputTextTokenCount": 8});
        for (body, want) in [(anthropic, (15, 3)), (llama, (12, 7)), (titan, (6, 9)), (titan_embed, (8, 0))] {
            let part = usage_from_invoke_body(&body).unwrap();
            assert!(!part.to_string().contains("secret"), "{part}");
            let u = usage(&[part]);
            assert_eq!((u.input_tokens, u.output_tokens), want, "{body}");
        }
    }

    #[test]
    fn an_anthropic_stream_takes_its_own_counts_over_the_invocation_metrics() {
        let chunks = [
            json!({"type": "message_start", "message": {"usage": {"input_tokens": 10, "output_tokens": 1,
                "cache_read_input_tokens": 90}}}),
            json!({"type": "content_block_delta", "delta": {"text": "hi"}}),
            json!({"type": "message_delta", "usage": {"output_tokens": 30}}),
            json!({"type": "message_stop", "amazon-bedrock-invocationMetrics": {"inputTokenCount": 10,
                "outputTokenCount": 30, "invocationLatency": 500, "firstByteLatency": 100}}),
        ];
        let parts: Vec<Value> = chunks.iter().filter_map(usage_from_invoke_chunk).collect();
        assert_eq!(parts.len(), 3);
        let u = usage(&parts);
        assert_eq!((u.input_tokens, u.cached_input_tokens, u.output_tokens), (100, 90, 30));
    }

    #[test]
    fn invocation_metrics_alone_price_other_families() {
        let last = json!({"generation": "", "amazon-bedrock-invocationMetrics": {"inputTokenCount": 21,
            "outputTokenCount": 4, "invocationLatency": 1}});
        let u = usage(&[usage_from_invoke_chunk(&last).unwrap()]);
        assert_eq!((u.input_tokens, u.output_tokens), (21, 4));
    }

    #[test]
    fn invoke_count_headers_become_invocation_metrics() {
        let headers = [
            ("X-Amzn-Bedrock-Input-Token-Count", "1000"),
            ("x-amzn-bedrock-output-token-count", "100"),
            ("x-amzn-bedrock-cache-read-input-token-count", "2000"),
            ("X-Amzn-Bedrock-Cache-Write-Input-Token-Count", "500"),
            ("content-type", "application/json"),
        ];
        let u = usage(&[usage_from_invoke_headers(headers).unwrap()]);
        assert_eq!(
            (u.input_tokens, u.cached_input_tokens, u.cache_write_input_tokens(), u.output_tokens),
            (3500, 2000, 500, 100)
        );
        assert_eq!(
            usage_from_invoke_headers([("content-type", "x"), ("x-amzn-bedrock-input-token-count", "n/a")]),
            None
        );
    }

    #[test]
    fn no_counts_is_a_problem() {
        assert!(!crate::usage::normalize("bedrock", &[json!({"foo": 1})]).problems.is_empty());
    }
}
