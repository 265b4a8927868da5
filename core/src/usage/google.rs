//! Google Gemini usage shape (`usageMetadata` of `generateContent`, in the REST API's
//! camelCase or the `google-genai` SDK's snake_case field names):
//!
//! - `promptTokenCount`: the whole prompt, **including** `cachedContentTokenCount`;
//! - `cachedContentTokenCount`: prompt tokens read from a context cache, billed at the
//!   cache-read rate. They are part of the prompt count, so they are counted once:
//!   costline's `cached_input_tokens` is a part of `input_tokens`, never added to it;
//! - `toolUsePromptTokenCount`: tokens of tool results fed back as input, **not** in
//!   `promptTokenCount`: added to the input;
//! - `candidatesTokenCount`: the answer, **excluding** thinking;
//! - `thoughtsTokenCount`: thinking, billed as output: added to the output and
//!   reported as `reasoning_tokens`.
//!
//! Gemini has no cache writes billed per call (a context cache is created, and its
//! storage billed, through a separate API). The >200k prompt tier is the catalog's
//! long-context tier, which `cost::effective_rates` applies to the whole call once the
//! input exceeds it. A stream repeats `usageMetadata` on its chunks, cumulatively: the
//! last chunk's wins (`usage::normalize` merges parts, later values winning).
//!
//! Gemini's OpenAI-compatible endpoint answers in OpenAI's shape (`prompt_tokens`...),
//! which is read as OpenAI's.

use serde_json::Value;

use super::{Fields, Usage};

/// (camelCase REST name, snake_case SDK name) of each field read.
const PROMPT: [&str; 2] = ["promptTokenCount", "prompt_token_count"];
const CACHED: [&str; 2] = ["cachedContentTokenCount", "cached_content_token_count"];
const TOOL_USE: [&str; 2] = ["toolUsePromptTokenCount", "tool_use_prompt_token_count"];
const CANDIDATES: [&str; 2] = ["candidatesTokenCount", "candidates_token_count"];
const THOUGHTS: [&str; 2] = ["thoughtsTokenCount", "thoughts_token_count"];
const TOTAL: [&str; 2] = ["totalTokenCount", "total_token_count"];

pub(crate) fn normalize(obj: &Value, f: &mut Fields) -> Usage {
    if ["prompt_tokens", "completion_tokens"].iter().any(|k| obj.get(k).is_some_and(|v| !v.is_null())) {
        // Gemini's OpenAI-compatible endpoint (the OpenAI SDK with Gemini's
        // base_url) answers in OpenAI's shape.
        return super::openai::normalize(obj, f);
    }
    let present = |names: [&str; 2]| names.iter().any(|n| obj.get(n).is_some_and(|v| !v.is_null()));
    if !present(PROMPT) && !present(CANDIDATES) && !present(TOTAL) {
        f.problem("no token counts at all (taken as 0)".to_string());
        return Usage::default();
    }
    let mut read = |names: [&str; 2]| {
        let key = names.iter().find(|n| obj.get(**n).is_some_and(|v| !v.is_null())).unwrap_or(&names[0]);
        f.count(obj, &[key])
    };
    let prompt = read(PROMPT);
    let cached = read(CACHED);
    let tool_use = read(TOOL_USE);
    let candidates = read(CANDIDATES);
    let thoughts = read(THOUGHTS);
    let total = read(TOTAL);
    // Some responses (a stream's first chunks) carry only a total: what is not
    // output is prompt.
    let prompt =
        if present(PROMPT) { prompt } else { total.saturating_sub(candidates.saturating_add(thoughts)) };
    Usage {
        input_tokens: f.add(prompt, tool_use),
        output_tokens: f.add(candidates, thoughts),
        cached_input_tokens: cached,
        reasoning_tokens: thoughts,
        ..Usage::default()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn normalize(payload: serde_json::Value) -> Usage {
        let n = crate::usage::normalize("google", std::slice::from_ref(&payload));
        assert!(n.problems.is_empty(), "{:?}", n.problems);
        n.usage
    }

    #[test]
    fn cached_tokens_are_part_of_the_prompt_not_added_to_it() {
        let usage = normalize(json!({"promptTokenCount": 1000, "cachedContentTokenCount": 600,
            "candidatesTokenCount": 50, "totalTokenCount": 1050}));
        assert_eq!((usage.input_tokens, usage.cached_input_tokens, usage.output_tokens), (1000, 600, 50));
    }

    #[test]
    fn thoughts_are_output_and_reasoning_and_tool_use_is_input() {
        let usage = normalize(json!({"prompt_token_count": 100, "tool_use_prompt_token_count": 30,
            "candidates_token_count": 20, "thoughts_token_count": 80}));
        assert_eq!((usage.input_tokens, usage.output_tokens, usage.reasoning_tokens), (130, 100, 80));
    }

    #[test]
    fn a_stream_takes_its_last_chunks_cumulative_counts() {
        let first = json!({"promptTokenCount": 10, "totalTokenCount": 10});
        let last = json!({"promptTokenCount": 10, "candidatesTokenCount": 42, "totalTokenCount": 52});
        let usage = crate::usage::normalize("google", &[first, last]).usage;
        assert_eq!((usage.input_tokens, usage.output_tokens), (10, 42));
    }

    #[test]
    fn bad_values_are_reported() {
        for bad in [
            json!({"promptTokenCount": -1}),
            json!({"promptTokenCount": 10, "cachedContentTokenCount": 11}),
            json!({"promptTokenCount": "x"}),
            json!({}),
        ] {
            assert!(
                !crate::usage::normalize("google", std::slice::from_ref(&bad)).problems.is_empty(),
                "{bad}"
            );
        }
    }
}
