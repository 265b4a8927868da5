//! Anthropic usage shapes. STUB: replaced by the catalog helper.
use serde_json::Value;

use super::{count, Usage};
use crate::Result;

pub fn normalize(obj: &Value) -> Result<Usage> {
    Ok(Usage {
        input_tokens: count(obj, &["input_tokens"], "anthropic")?,
        output_tokens: count(obj, &["output_tokens"], "anthropic")?,
        ..Usage::default()
    })
}
