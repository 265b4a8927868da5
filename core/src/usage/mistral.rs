//! Mistral usage shape: OpenAI's chat shape (`prompt_tokens`, `completion_tokens`,
//! `total_tokens`), with cached prompt tokens, where reported, either as OpenAI's
//! `prompt_tokens_details.cached_tokens` or as Mistral's own top-level
//! `num_cached_tokens`; both are part of `prompt_tokens` (counted once, billed at the
//! cache-read rate). Embeddings report `prompt_tokens` and `total_tokens` only.

use serde_json::Value;

use super::{openai, Fields, Usage};

pub(crate) fn normalize(obj: &Value, f: &mut Fields) -> Usage {
    let mut usage = openai::normalize(obj, f);
    if usage.cached_input_tokens == 0 {
        usage.cached_input_tokens = f.count(obj, &["num_cached_tokens"]);
    }
    usage
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn cached_tokens_in_either_spelling_are_part_of_the_prompt() {
        for payload in [
            json!({"prompt_tokens": 100, "completion_tokens": 5, "num_cached_tokens": 40}),
            json!({"prompt_tokens": 100, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 40}}),
        ] {
            let n = crate::usage::normalize("mistral", std::slice::from_ref(&payload));
            assert!(n.problems.is_empty(), "{:?}", n.problems);
            assert_eq!(
                (n.usage.input_tokens, n.usage.cached_input_tokens, n.usage.output_tokens),
                (100, 40, 5)
            );
        }
    }

    #[test]
    fn problems_name_mistral() {
        let n = crate::usage::normalize("mistral", &[json!({"prompt_tokens": -1})]);
        assert!(n.problems.iter().all(|p| p.starts_with("mistral usage:")), "{:?}", n.problems);
    }
}
