//! Money in the stores: whole nano-dollars (1e-9 USD) in an i64. Every store
//! (memory, SQLite, Redis's Lua, where numbers are doubles exact to 2^53, i.e.
//! about $9M per counter) can add and compare them exactly. Reservations round
//! up, so a worst case is never under-reserved by a rounding.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

pub const SCALE: u32 = 9;

/// `usd` in nano-dollars, rounded up; `None` past what a counter holds.
pub fn to_nanos_ceil(usd: Decimal) -> Option<i64> {
    let scaled = usd.checked_mul(Decimal::from(1_000_000_000u64))?;
    scaled
        .round_dp_with_strategy(0, RoundingStrategy::AwayFromZero)
        .to_i64()
        .filter(|n| n.abs() < (1i64 << 53))
}

/// Now, in Unix milliseconds: the clock read straight (a reservation's only
/// date arithmetic is comparing this with its period's cached bounds).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Nano-dollars as an exact decimal ("0.010000000" prints as "0.01").
pub fn to_usd(nanos: i64) -> Decimal {
    Decimal::new(nanos, SCALE).normalize()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn amounts_round_up_to_a_whole_nano_dollar_and_print_exactly() {
        assert_eq!(to_nanos_ceil(Decimal::from_str("0.01").unwrap()), Some(10_000_000));
        assert_eq!(to_nanos_ceil(Decimal::from_str("0.0000000001").unwrap()), Some(1));
        assert_eq!(to_usd(10_000_000).to_string(), "0.01");
        assert_eq!(to_usd(0).to_string(), "0");
        assert_eq!(to_nanos_ceil(Decimal::from(100_000_000u64)), None);
    }
}
