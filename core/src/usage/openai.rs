//! OpenAI usage shapes. STUB: replaced by the catalog helper.
use serde_json::Value;

use super::{count, Usage};
use crate::Result;

pub fn normalize(obj: &Value) -> Result<Usage> {
    Ok(Usage {
        input_tokens: count(obj, &["prompt_tokens"], "openai")?,
        output_tokens: count(obj, &["completion_tokens"], "openai")?,
        ..Usage::default()
    })
}
