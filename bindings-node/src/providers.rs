//! What the Node drop-ins for Gemini, Mistral and OpenAI-compatible hosts ask
//! the core about a request before it is sent: the provider behind a base URL
//! and the model a request path names. Conversions only: the knowledge is the
//! core's (`usage::hosts`, `usage::paths`).

use costline_core::usage;
use napi_derive::napi;

/// The provider serving `baseUrl` (`groq`, `azure`, `together_ai`...), or
/// undefined for a host costline does not know (self-hosted, a gateway).
#[napi]
pub fn provider_for_base_url(base_url: String) -> Option<&'static str> {
    usage::hosts::provider_for_base_url(&base_url)
}

/// The model a request path names (Gemini's `.../models/{model}:{method}`,
/// Bedrock's `/model/{id}/...`), or undefined.
#[napi]
pub fn model_for_path(provider: String, path: String) -> Option<String> {
    usage::paths::model_for_path(&provider, &path)
}
