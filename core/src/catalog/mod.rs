//! The price catalog. STUB: the catalog helper replaces this file (contract below).
//!
//! Contract used by the rest of the core:
//! - `current() -> Arc<Pricing>`: embedded catalog + active overrides, swapped atomically.
//! - `Pricing::resolve(provider, model) -> Option<Resolved>` (exact name, then fallbacks).
//! - `Pricing::version() -> &str`: the catalog_version stamped on events.
//! - `configure(prices_path, inline_json) -> Result<()>`: install overrides (bad file = clear error, old overrides kept).

use std::sync::Arc;

use rust_decimal::Decimal;

use crate::event::CostSource;
use crate::Result;

#[derive(Debug, Clone, Default)]
pub struct Price {
    pub input: Decimal,
    pub output: Decimal,
}

pub struct Resolved<'a> {
    pub key: &'a str,
    pub price: &'a Price,
    pub source: CostSource,
}

#[derive(Default)]
pub struct Pricing {}

impl Pricing {
    pub fn resolve(&self, _provider: &str, _model: &str) -> Option<Resolved<'_>> {
        None
    }
    pub fn version(&self) -> &str {
        "stub"
    }
}

pub fn current() -> Arc<Pricing> {
    Arc::new(Pricing::default())
}

pub fn configure(_prices_path: Option<&std::path::Path>, _inline: Option<&serde_json::Value>) -> Result<()> {
    Ok(())
}
