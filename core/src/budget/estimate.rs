//! A call's worst-case cost, before it is sent: its prompt counted offline,
//! priced at the input rate, plus the most output it may produce (the
//! request's own limit, else the model's maximum from the catalog) at the
//! output rate.

use rust_decimal::Decimal;
use serde_json::Value;

use crate::borrowed_json::Json;
use crate::catalog;
use crate::cost;
use crate::tokens::{self, Encoding};

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
pub fn requested_max_output<J: Json>(request: Option<&J>) -> Option<u64> {
    let body = request.filter(|b| b.is_object())?;
    MAX_OUTPUT_FIELDS
        .iter()
        .find_map(|f| body.get(f).and_then(J::as_u64))
        .or_else(|| NESTED_MAX_OUTPUT.iter().find_map(|(config, field)| body.at(&[config, field])?.as_u64()))
}

/// What the worst case needs from a request: its prompt's tokens and its own output limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Measured {
    pub input_tokens: u64,
    pub max_output_tokens: Option<u64>,
}

/// Measure a request body as the SDK sends it (a `Value`, or a `Body` borrowed from the caller's objects).
pub fn measure<J: Json>(provider: &str, operation: &str, model: &str, request: Option<&J>) -> Measured {
    let encoding = match request {
        Some(body) => tokens::request_encoding(model, body),
        None => tokens::encoding_for_model(model),
    };
    measure_in(encoding, provider, operation, request)
}

/// [`measure`] with the model's vocabulary already known (a budget plan holds it).
pub fn measure_in<J: Json>(
    encoding: Encoding,
    provider: &str,
    operation: &str,
    request: Option<&J>,
) -> Measured {
    let max_output_tokens = match operation {
        "embeddings" => Some(0),
        _ => requested_max_output(request),
    };
    let input_tokens =
        request.map_or(0, |body| tokens::estimate_prompt_tokens(encoding, provider, operation, body));
    Measured { input_tokens, max_output_tokens }
}

/// The worst case of one call of `model` through `provider` for `operation`.
pub fn worst_case(provider: &str, operation: &str, model: &str, request: Option<&Value>) -> WorstCase {
    worst_case_of(provider, model, measure(provider, operation, model, request))
}

/// The worst case of a measured request: the prompt at the input rate, plus
/// its output limit (else the model's maximum, else [`FALLBACK_MAX_OUTPUT`])
/// at the output rate. One rate lookup, two products.
pub fn worst_case_of(provider: &str, model: &str, measured: Measured) -> WorstCase {
    let pricing = catalog::current();
    let resolved = pricing.resolve(provider, model);
    let input_tokens = measured.input_tokens;
    let max_output_tokens = measured
        .max_output_tokens
        .or_else(|| resolved.and_then(|r| r.price.max_output_tokens))
        .unwrap_or(FALLBACK_MAX_OUTPUT);
    let Some(resolved) = resolved else {
        return WorstCase {
            cost_usd: None,
            input_tokens,
            max_output_tokens,
            input_cost_usd: None,
            output_rate: None,
        };
    };
    let rates = cost::effective_rates(resolved.price, input_tokens, crate::catalog::ServiceTier::Standard);
    // Rates are bounded by the catalog's maximum rate: saturate rather than panic should that change.
    let times = |rate: Decimal, tokens: u64| rate.checked_mul(Decimal::from(tokens)).unwrap_or(Decimal::MAX);
    let input_cost = times(rates.input, input_tokens);
    let cost = input_cost.checked_add(times(rates.output, max_output_tokens)).unwrap_or(Decimal::MAX);
    WorstCase {
        cost_usd: Some(cost),
        input_tokens,
        max_output_tokens,
        input_cost_usd: Some(input_cost),
        output_rate: Some(rates.output),
    }
}

/// A model's worst-case rates as whole femto-dollars (1e-15 USD) per token,
/// for models whose catalog rates are that exact and flat (no context tiers,
/// as nearly all are): a reservation is then two integer products, with no
/// catalog lookup and no decimal arithmetic on the call's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlatRates {
    input: u128,
    output: u128,
    max_output_tokens: Option<u64>,
}

const FEMTOS_PER_NANO: u128 = 1_000_000;

impl FlatRates {
    /// `model`'s flat rates through `provider`, if it has a price and the price has them.
    pub fn of(provider: &str, model: &str) -> Option<FlatRates> {
        let pricing = catalog::current();
        let price = pricing.resolve(provider, model)?.price;
        if !price.standard.context_tiers.is_empty() {
            return None;
        }
        let femtos = |rate: Option<Decimal>| -> Option<u128> {
            let scaled = rate.unwrap_or_default().checked_mul(Decimal::from(1_000_000_000_000_000u64))?;
            (scaled.fract().is_zero() && !scaled.is_sign_negative())
                .then(|| scaled.trunc().try_into().ok())?
        };
        let rates = &price.standard.rates;
        Some(FlatRates {
            input: femtos(rates.input)?,
            output: femtos(rates.output)?,
            max_output_tokens: price.max_output_tokens,
        })
    }

    /// The worst case of `measured` in nano-dollars, rounded up, as [`worst_case_of`]
    /// prices it; `None` past what a counter holds.
    pub fn worst_case_nanos(&self, measured: Measured) -> Option<i64> {
        let output = measured.max_output_tokens.or(self.max_output_tokens).unwrap_or(FALLBACK_MAX_OUTPUT);
        let femtos = self
            .input
            .checked_mul(u128::from(measured.input_tokens))?
            .checked_add(self.output.checked_mul(u128::from(output))?)?;
        // Nearly always within 64 bits (a worst case under $18,000): a division by a
        // constant there is a multiplication; a 128-bit one is a call into compiler-rt.
        let nanos = match u64::try_from(femtos) {
            Ok(small) => u128::from(small.div_ceil(FEMTOS_PER_NANO as u64)),
            Err(_) => femtos.div_ceil(FEMTOS_PER_NANO),
        };
        i64::try_from(nanos).ok().filter(|n| *n < (1i64 << 53))
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
    fn flat_rates_reserve_what_the_decimal_worst_case_does() {
        let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi there"}], "max_tokens": 77});
        for (provider, model) in
            [("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4-5")]
        {
            let measured = measure(provider, "chat", model, Some(&body));
            let flat = FlatRates::of(provider, model).expect("flat, exact rates");
            let decimal = worst_case_of(provider, model, measured)
                .cost_usd
                .and_then(crate::budget::units::to_nanos_ceil);
            assert_eq!(flat.worst_case_nanos(measured), decimal, "{model}");
            // Without a limit in the request, the catalog's maximum output.
            let open = Measured { max_output_tokens: None, ..measured };
            let decimal =
                worst_case_of(provider, model, open).cost_usd.and_then(crate::budget::units::to_nanos_ceil);
            assert_eq!(flat.worst_case_nanos(open), decimal, "{model}");
        }
        assert_eq!(FlatRates::of("openai", "no-such-model-xyz"), None);
    }

    #[test]
    fn an_unpriced_model_has_no_worst_case_cost() {
        let w = worst_case("openai", "chat", "no-such-model-xyz", None);
        assert_eq!(w.cost_usd, None);
        assert_eq!(w.max_output_tokens, FALLBACK_MAX_OUTPUT);
    }
}
