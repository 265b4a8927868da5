//! A call's worst-case cost, before it is sent: its prompt counted offline,
//! priced at the input rate, plus the most output it may produce (the
//! request's own limit, else the model's maximum from the catalog) at the
//! output rate.

use rust_decimal::Decimal;
use serde_json::Value;

use crate::catalog;
use crate::cost;
use crate::tokens;
use crate::usage::Usage;

/// Output the request allows when neither it nor the catalog says: generous,
/// so that an unknown limit errs on the side of the cap.
pub const FALLBACK_MAX_OUTPUT: u64 = 8192;

/// The request fields that limit output, by API (chat, chat's older name,
/// responses / Gemini-style).
const MAX_OUTPUT_FIELDS: [&str; 3] = ["max_completion_tokens", "max_tokens", "max_output_tokens"];

#[derive(Debug, Clone, PartialEq)]
pub struct WorstCase {
    /// `None` when the model has no price: nothing can be reserved.
    pub cost_usd: Option<Decimal>,
    pub input_tokens: u64,
    pub max_output_tokens: u64,
    /// The prompt's cost alone and the price of one output token, for a
    /// stream metered as it goes (`enforce_stream`).
    pub input_cost_usd: Option<Decimal>,
    pub output_rate: Option<Decimal>,
}

/// Limits nested in a config object: Gemini's REST body (`generationConfig`) and
/// Bedrock Converse's (`inferenceConfig`).
const NESTED_MAX_OUTPUT: [(&str, &str); 2] =
    [("generationConfig", "maxOutputTokens"), ("inferenceConfig", "maxTokens")];

/// The request's own output limit, if it sets one.
pub fn requested_max_output(request: Option<&Value>) -> Option<u64> {
    let body = request?.as_object()?;
    MAX_OUTPUT_FIELDS.iter().find_map(|f| body.get(*f).and_then(Value::as_u64)).or_else(|| {
        NESTED_MAX_OUTPUT.iter().find_map(|(config, field)| body.get(*config)?.get(*field)?.as_u64())
    })
}

/// The worst case of one call of `model` through `provider` for `operation`.
pub fn worst_case(provider: &str, operation: &str, model: &str, request: Option<&Value>) -> WorstCase {
    let pricing = catalog::current();
    let resolved = pricing.resolve(provider, model);
    let input_tokens = match request {
        Some(body) => tokens::estimate_usage(provider, operation, model, body, "").input_tokens,
        None => 0,
    };
    let max_output_tokens = if operation == "embeddings" {
        0
    } else {
        requested_max_output(request)
            .or_else(|| resolved.and_then(|r| r.price.max_output_tokens))
            .unwrap_or(FALLBACK_MAX_OUTPUT)
    };
    let usage = Usage { input_tokens, output_tokens: max_output_tokens, ..Usage::default() };
    let prompt = Usage { input_tokens, ..Usage::default() };
    WorstCase {
        cost_usd: resolved.map(|r| cost::price_usage(r.price, &usage)),
        input_tokens,
        max_output_tokens,
        input_cost_usd: resolved.map(|r| cost::price_usage(r.price, &prompt)),
        output_rate: resolved.map(|r| {
            cost::effective_rates(r.price, input_tokens, crate::catalog::ServiceTier::Standard).output
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_request_limit_wins_over_the_catalog_maximum() {
        let body =
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100});
        let w = worst_case("openai", "chat", "gpt-4o", Some(&body));
        assert_eq!(w.max_output_tokens, 100);
        assert!(w.input_tokens > 0);
        let pricing = catalog::current();
        let price = pricing.resolve("openai", "gpt-4o").unwrap().price;
        let expected =
            price.input_rate() * Decimal::from(w.input_tokens) + price.output_rate() * Decimal::from(100);
        assert_eq!(w.cost_usd, Some(expected));
    }

    #[test]
    fn without_a_request_limit_the_catalog_maximum_is_assumed() {
        let body = json!({"model": "gpt-4o", "input": "hi"});
        let w = worst_case("openai", "responses", "gpt-4o", Some(&body));
        let pricing = catalog::current();
        let catalog_max = pricing.resolve("openai", "gpt-4o").unwrap().price.max_output_tokens.unwrap();
        assert_eq!(w.max_output_tokens, catalog_max);
        let limited = json!({"model": "gpt-4o", "input": "hi", "max_output_tokens": 7});
        assert_eq!(worst_case("openai", "responses", "gpt-4o", Some(&limited)).max_output_tokens, 7);
    }

    #[test]
    fn gemini_and_bedrock_limits_nested_in_their_configs_are_read() {
        let gemini = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "generationConfig": {"maxOutputTokens": 50}});
        assert_eq!(
            worst_case("google", "generate_content", "gemini-2.5-flash", Some(&gemini)).max_output_tokens,
            50
        );
        let bedrock = json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}],
            "inferenceConfig": {"maxTokens": 60}});
        let model = "us.anthropic.claude-haiku-4-5-20251001-v1:0";
        assert_eq!(worst_case("bedrock", "converse", model, Some(&bedrock)).max_output_tokens, 60);
    }

    #[test]
    fn an_unpriced_model_has_no_worst_case_cost() {
        let w = worst_case("openai", "chat", "no-such-model-xyz", None);
        assert_eq!(w.cost_usd, None);
        assert_eq!(w.max_output_tokens, FALLBACK_MAX_OUTPUT);
    }
}
