//! Which vocabulary a model's tokens are counted with.
//!
//! OpenAI models resolve through tiktoken-rs's own model table (exact names first, then
//! prefixes, `ft:BASE:...` to its base), which mirrors Python tiktoken's `model.py`; this
//! module only adds what costline sees in practice around it: provider prefixes
//! (`openai/gpt-4o`, `azure/...`, `openrouter/openai/...`), stray case and whitespace, and a
//! default for everything tiktoken does not know.
//!
//! Models of other providers (Anthropic `claude-*`, Google Gemini, Mistral, Llama...) use
//! vocabularies that are not public or not shipped here; they are counted with o200k_base as an
//! approximation. Claude's and Gemini's tokenizers produce counts of the same order as o200k's
//! on English text (within roughly 10-30%); a count for those models is an estimate, which is
//! what `usage_source = "estimate"` says on the event.

use std::borrow::Cow;

use tiktoken_rs::tokenizer::{get_tokenizer, Tokenizer};

/// A vocabulary costline can count with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// GPT-4o, GPT-4.1, GPT-4.5, GPT-5, o1/o3/o4, chatgpt-4o, gpt-oss; the default.
    O200kBase,
    /// GPT-4, GPT-3.5, text-embedding-3-*, text-embedding-ada-002.
    Cl100kBase,
}

impl Encoding {
    /// Every encoding, in the order their slots are kept.
    pub const ALL: [Encoding; 2] = [Encoding::O200kBase, Encoding::Cl100kBase];

    /// tiktoken's name for the encoding.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::O200kBase => "o200k_base",
            Encoding::Cl100kBase => "cl100k_base",
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Encoding::O200kBase => 0,
            Encoding::Cl100kBase => 1,
        }
    }
}

/// The encoding `model`'s tokens are counted with. Never fails: a model nobody knows is
/// counted with o200k_base (see the module documentation).
pub fn encoding_for_model(model: &str) -> Encoding {
    let name = normalized_name(model);
    match get_tokenizer(&name) {
        Some(Tokenizer::Cl100kBase) => Encoding::Cl100kBase,
        // gpt-2/gpt-3 era models (r50k, p50k): long retired, and their vocabularies are not
        // shipped here; cl100k is their closest successor.
        Some(Tokenizer::P50kBase | Tokenizer::P50kEdit | Tokenizer::R50kBase | Tokenizer::Gpt2) => {
            Encoding::Cl100kBase
        }
        // o200k_harmony is o200k_base plus special tokens; ordinary text counts the same.
        Some(Tokenizer::O200kBase | Tokenizer::O200kHarmony) => Encoding::O200kBase,
        None => Encoding::O200kBase,
    }
}

/// `model` without provider routing prefixes, trimmed and lower-cased (tiktoken's table is
/// lower-case; a deployment that spells `GPT-4o` still means gpt-4o). Fine-tune names keep
/// their `ft:` form: tiktoken-rs maps `ft:BASE:org:suffix:id` to BASE itself.
fn normalized_name(model: &str) -> Cow<'_, str> {
    let trimmed = model.trim();
    // `openai/gpt-4o`, `azure/gpt-4o`, `openrouter/openai/gpt-4o`: the model is the last
    // segment. Fine-tuned names use ':' and never '/', so this cannot cut one apart.
    let last = trimmed.rsplit('/').next().unwrap_or(trimmed);
    if last.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(last.to_ascii_lowercase())
    } else {
        Cow::Borrowed(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_openai_models_use_o200k() {
        for model in [
            "gpt-4o",
            "gpt-4o-mini",
            "gpt-4o-2024-08-06",
            "chatgpt-4o-latest",
            "gpt-4.1",
            "gpt-4.1-mini",
            "gpt-4.5-preview",
            "gpt-5",
            "gpt-5-mini",
            "gpt-5.1-codex",
            "o1",
            "o1-mini",
            "o3",
            "o3-mini",
            "o4-mini",
            "o4-mini-2025-04-16",
            "gpt-oss-120b",
        ] {
            assert_eq!(encoding_for_model(model), Encoding::O200kBase, "{model}");
        }
    }

    #[test]
    fn older_openai_models_use_cl100k() {
        for model in [
            "gpt-4",
            "gpt-4-0613",
            "gpt-4-turbo",
            "gpt-4-32k",
            "gpt-3.5-turbo",
            "gpt-3.5-turbo-0125",
            "gpt-35-turbo",
            "text-embedding-3-small",
            "text-embedding-3-large",
            "text-embedding-ada-002",
        ] {
            assert_eq!(encoding_for_model(model), Encoding::Cl100kBase, "{model}");
        }
    }

    #[test]
    fn provider_prefixes_and_case_are_ignored() {
        assert_eq!(encoding_for_model("openai/gpt-4"), Encoding::Cl100kBase);
        assert_eq!(encoding_for_model("azure/gpt-3.5-turbo"), Encoding::Cl100kBase);
        assert_eq!(encoding_for_model("openrouter/openai/gpt-4-turbo"), Encoding::Cl100kBase);
        assert_eq!(encoding_for_model("  GPT-4  "), Encoding::Cl100kBase);
        assert_eq!(encoding_for_model("openai/gpt-4o"), Encoding::O200kBase);
    }

    #[test]
    fn fine_tuned_models_use_their_base_encoding() {
        assert_eq!(encoding_for_model("ft:gpt-3.5-turbo-0125:acme::9abc"), Encoding::Cl100kBase);
        assert_eq!(encoding_for_model("ft:gpt-4o-mini-2024-07-18:acme:support:AbC123"), Encoding::O200kBase);
        assert_eq!(encoding_for_model("openai/ft:gpt-4-0613:acme::x1"), Encoding::Cl100kBase);
    }

    #[test]
    fn other_providers_and_unknown_models_approximate_with_o200k() {
        for model in [
            "claude-sonnet-4-5",
            "claude-3-5-haiku-20241022",
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
            "gemini-2.5-pro",
            "models/gemini-1.5-flash",
            "mistral-large-latest",
            "my-azure-deployment",
            "",
        ] {
            assert_eq!(encoding_for_model(model), Encoding::O200kBase, "{model:?}");
        }
    }
}
