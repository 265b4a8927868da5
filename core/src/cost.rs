//! Cost of one call from normalised usage and a catalog price, exactly, in Decimal.
//!
//! `Usage::input_tokens` includes cached reads, cache writes and input audio, so they
//! are split out before pricing: every input token is priced once, at its own rate.

use rust_decimal::Decimal;

use crate::catalog::{self, Price, Rates, ServiceTier};
use crate::event::CostSource;
use crate::usage::Usage;

/// The per-token rates that price one call, after tiers and fallbacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EffectiveRates {
    pub input: Decimal,
    pub output: Decimal,
    pub cache_read: Decimal,
    pub cache_write_5m: Decimal,
    pub cache_write_1h: Decimal,
    pub cache_write_12h: Decimal,
    pub input_audio: Decimal,
    pub output_audio: Decimal,
}

/// The rates for a call with `input_tokens` of input in `tier`.
///
/// Each rate is taken from the first of these that has it: the service tier's
/// long-context tier, the service tier's base rates, the standard long-context tier,
/// the standard base rates (a service tier's own price is what the provider bills;
/// within a rate set, a long-context tier beats the base). A long-context tier applies
/// to the whole call once `input_tokens` exceeds its threshold. Then the rates the
/// price list does not give at all fall back: cache reads, cache writes (every TTL)
/// and input audio to the input rate, output audio to the output rate.
pub fn effective_rates(price: &Price, input_tokens: u64, tier: ServiceTier) -> EffectiveRates {
    let standard = &price.standard;
    let service = match tier {
        ServiceTier::Standard => None,
        other => price.service_tier(other),
    };
    let layers: [Option<&Rates>; 4] = [
        service.and_then(|set| set.tier_for(input_tokens)),
        service.map(|set| &set.rates),
        standard.tier_for(input_tokens),
        Some(&standard.rates),
    ];
    let pick = |rate: fn(&Rates) -> Option<Decimal>| layers.iter().flatten().find_map(|rates| rate(rates));
    let input = pick(|r| r.input).unwrap_or_default();
    let output = pick(|r| r.output).unwrap_or_default();
    EffectiveRates {
        input,
        output,
        cache_read: pick(|r| r.cache_read).unwrap_or(input),
        cache_write_5m: pick(|r| r.cache_write_5m).unwrap_or(input),
        cache_write_1h: pick(|r| r.cache_write_1h).unwrap_or(input),
        cache_write_12h: pick(|r| r.cache_write_12h).unwrap_or(input),
        input_audio: pick(|r| r.input_audio).unwrap_or(input),
        output_audio: pick(|r| r.output_audio).unwrap_or(output),
    }
}

/// Cost in USD of one call: uncached text input at the input rate, cached reads at the
/// cache-read rate, cache writes at their TTL's rate, input audio at the audio rate;
/// output (reasoning included) at the output rate, output audio at its rate. The
/// service tier comes from `usage.service_tier`. Counts that do not add up (more
/// cached than input) never make a token count negative: the uncached share stops at 0.
pub fn price_usage(price: &Price, usage: &Usage) -> Decimal {
    let rates =
        effective_rates(price, usage.input_tokens, ServiceTier::from_name(usage.service_tier.as_deref()));
    let uncached_input = usage
        .input_tokens
        .saturating_sub(usage.cached_input_tokens)
        .saturating_sub(usage.cache_write_5m_tokens)
        .saturating_sub(usage.cache_write_1h_tokens)
        .saturating_sub(usage.cache_write_12h_tokens)
        .saturating_sub(usage.input_audio_tokens);
    let text_output = usage.output_tokens.saturating_sub(usage.output_audio_tokens);
    let parts = [
        (uncached_input, rates.input),
        (usage.cached_input_tokens, rates.cache_read),
        (usage.cache_write_5m_tokens, rates.cache_write_5m),
        (usage.cache_write_1h_tokens, rates.cache_write_1h),
        (usage.cache_write_12h_tokens, rates.cache_write_12h),
        (usage.input_audio_tokens, rates.input_audio),
        (text_output, rates.output),
        (usage.output_audio_tokens, rates.output_audio),
    ];
    let mut total = Decimal::ZERO;
    for (tokens, rate) in parts {
        if tokens == 0 || rate.is_zero() {
            continue;
        }
        // Rates are bounded by catalog::MAX_RATE_PER_TOKEN, so this cannot overflow;
        // saturate rather than panic should that bound ever be lifted.
        total = rate
            .checked_mul(Decimal::from(tokens))
            .and_then(|part| total.checked_add(part))
            .unwrap_or(Decimal::MAX);
    }
    total.normalize()
}

/// Cost of a call for `costline.cost(...)`: resolve `model` (through `provider`'s own
/// entries when given) and price `usage`. Returns the cost, where its price came from
/// and the price key, or `None` for a model without a price.
pub fn cost_for(provider: Option<&str>, model: &str, usage: &Usage) -> Option<(Decimal, CostSource, String)> {
    catalog::with_current(|pricing| {
        let resolved = pricing.resolve(provider.unwrap_or(""), model)?;
        Some((price_usage(resolved.price, usage), resolved.source, resolved.key.to_string()))
    })
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::catalog::{ContextTier, RateSet};

    fn d(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    fn rates(input: &str, output: &str) -> Rates {
        Rates { input: Some(d(input)), output: Some(d(output)), ..Rates::default() }
    }

    /// A model with a long-context tier above 1000 tokens and flex rates.
    fn tiered_price() -> Price {
        Price {
            standard: RateSet {
                rates: Rates { cache_read: Some(d("0.1")), ..rates("1", "10") },
                context_tiers: vec![ContextTier { above_input_tokens: 1000, rates: rates("2", "20") }],
            },
            flex: Some(RateSet { rates: rates("0.5", "5"), context_tiers: vec![] }),
            priority: Some(RateSet {
                rates: rates("3", "30"),
                context_tiers: vec![ContextTier {
                    above_input_tokens: 1000,
                    rates: Rates { input: Some(d("6")), ..Rates::default() },
                }],
            }),
            ..Price::default()
        }
    }

    #[test]
    fn cached_tokens_are_priced_once_at_the_cache_rate() {
        let usage =
            Usage { input_tokens: 100, cached_input_tokens: 40, output_tokens: 5, ..Usage::default() };
        // 60 x 1 + 40 x 0.1 + 5 x 10
        assert_eq!(price_usage(&tiered_price(), &usage), d("114"));
    }

    #[test]
    fn missing_cache_and_audio_rates_fall_back_to_input_and_output() {
        let price = Price {
            standard: RateSet { rates: rates("1", "10"), context_tiers: vec![] },
            ..Price::default()
        };
        let usage = Usage {
            input_tokens: 11,
            cached_input_tokens: 2,
            cache_write_5m_tokens: 3,
            cache_write_1h_tokens: 1,
            cache_write_12h_tokens: 1,
            input_audio_tokens: 1,
            output_tokens: 4,
            output_audio_tokens: 1,
            ..Usage::default()
        };
        assert_eq!(price_usage(&price, &usage), d("51"));
    }

    #[test]
    fn long_context_tier_applies_to_the_whole_call_only_above_its_threshold() {
        let at = Usage { input_tokens: 1000, output_tokens: 1, ..Usage::default() };
        let above = Usage { input_tokens: 1001, output_tokens: 1, ..Usage::default() };
        assert_eq!(price_usage(&tiered_price(), &at), d("1010"));
        assert_eq!(price_usage(&tiered_price(), &above), d("2022"));
    }

    #[test]
    fn long_context_tier_without_a_cache_rate_uses_the_base_cache_rate() {
        let usage = Usage { input_tokens: 2000, cached_input_tokens: 1000, ..Usage::default() };
        // 1000 x 2 (tier input) + 1000 x 0.1 (base cache read: the tier has none)
        assert_eq!(price_usage(&tiered_price(), &usage), d("2100"));
    }

    #[test]
    fn service_tier_rates_apply_when_the_model_has_them() {
        let flex = Usage {
            input_tokens: 10,
            output_tokens: 1,
            service_tier: Some("flex".into()),
            ..Usage::default()
        };
        assert_eq!(price_usage(&tiered_price(), &flex), d("10"));
        let batch = Usage { service_tier: Some("batch".into()), ..flex.clone() };
        assert_eq!(price_usage(&tiered_price(), &batch), d("20"), "no batch rates: standard");
        let default = Usage { service_tier: Some("default".into()), ..flex };
        assert_eq!(price_usage(&tiered_price(), &default), d("20"));
    }

    #[test]
    fn service_tier_with_long_context_takes_its_own_tier_then_its_base() {
        let usage = Usage {
            input_tokens: 2000,
            output_tokens: 1,
            service_tier: Some("priority".into()),
            ..Usage::default()
        };
        // input 2000 x 6 (priority's long-context tier), output 1 x 30 (priority base)
        assert_eq!(price_usage(&tiered_price(), &usage), d("12030"));
    }

    #[test]
    fn inconsistent_counts_never_go_negative() {
        let usage = Usage { input_tokens: 1, cached_input_tokens: 5, ..Usage::default() };
        assert_eq!(price_usage(&tiered_price(), &usage), d("0.5"));
    }

    #[test]
    fn huge_counts_do_not_panic() {
        let price = Price {
            standard: RateSet { rates: rates("1000000", "1000000"), context_tiers: vec![] },
            ..Price::default()
        };
        let usage = Usage { input_tokens: u64::MAX, output_tokens: u64::MAX, ..Usage::default() };
        assert!(price_usage(&price, &usage) > Decimal::ZERO);
    }
}
