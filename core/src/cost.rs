//! Cost of one call from normalised usage and a catalog price. STUB: replaced by the catalog helper.
use rust_decimal::Decimal;

use crate::catalog::Price;
use crate::usage::Usage;

pub fn price_usage(price: &Price, usage: &Usage) -> Decimal {
    price.input * Decimal::from(usage.input_tokens) + price.output * Decimal::from(usage.output_tokens)
}

pub fn cost_for(
    _provider: Option<&str>,
    _model: &str,
    _usage: &Usage,
) -> Option<(Decimal, crate::event::CostSource, String)> {
    None
}
