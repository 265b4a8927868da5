//! Model name resolution: which price entry a model name stands for.
//!
//! In this order, the first match wins (overrides before the catalog at every step):
//!
//! 1. The exact name, the caller's provider's own entry first: with provider "azure",
//!    `gpt-4o` is `azure/gpt-4o` when the table has it, else `gpt-4o`. A dated snapshot
//!    with an entry of its own (`gpt-4o-2024-05-13`) keeps its own price.
//! 2. A provider prefix stripped (`openai/`, `azure/`, `anthropic/`, `gemini/`,
//!    `vertex_ai/`, `mistral/`, `bedrock/`...), then step 1 for that provider; repeated
//!    while the name starts with a provider prefix.
//! 3. A fine-tuned name `ft:BASE:org:suffix:id` is priced by the entry `ft:BASE`, else
//!    `ft:BASE` without its date suffix. Never by the base model's entry: fine-tuned
//!    inference is priced differently, so without an `ft:` entry the name is unknown.
//! 4. A date suffix (`-2024-08-06`, `-20241022`, `@20241022`) stripped, then step 1.
//! 5. Provider-specific spellings of a model id, then step 1: Gemini's `models/NAME`
//!    (the REST resource name) as `NAME`; a Bedrock ARN
//!    (`arn:aws:bedrock:...:inference-profile/ID`) as its `ID`, and a Bedrock
//!    cross-region inference profile (`us.`, `eu.`, `apac.`, `global.`, `us-gov.`,
//!    `au.`, `jp.`, `ca.` before the model id) without an entry of its own as the base
//!    model id (a profile that has its own entry, often priced differently, keeps it
//!    at step 1).
//!
//! Steps 2-4 run only for names that miss step 1; `Pricing::resolve` caches their outcome.

use super::{Hit, Pricing};

/// Provider families: the caller's provider and the prefixes of qualified catalog keys
/// (`azure/...`, `gemini/...`) map to these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    OpenAi = 0,
    Azure = 1,
    Anthropic = 2,
    Google = 3,
    Mistral = 4,
    Bedrock = 5,
    Groq = 6,
    Together = 7,
    Fireworks = 8,
    DeepSeek = 9,
    Xai = 10,
    OpenRouter = 11,
}

impl Family {
    pub const COUNT: usize = 12;

    /// The family of a provider name or key prefix; `None` for providers without
    /// entries of their own in the catalog.
    pub fn parse(name: &str) -> Option<Family> {
        Some(match name {
            "openai" => Family::OpenAi,
            "azure" | "azure_ai" | "azure_text" | "azure_openai" => Family::Azure,
            "anthropic" => Family::Anthropic,
            "google" | "gemini" | "vertex_ai" | "vertex" | "vertexai" => Family::Google,
            "mistral" | "mistralai" => Family::Mistral,
            "bedrock" | "bedrock_converse" | "aws" => Family::Bedrock,
            // OpenAI-compatible services (`usage::provider_for_base_url` names them).
            "groq" => Family::Groq,
            "together_ai" | "together" => Family::Together,
            "fireworks_ai" | "fireworks" => Family::Fireworks,
            "deepseek" => Family::DeepSeek,
            "xai" => Family::Xai,
            "openrouter" => Family::OpenRouter,
            _ => return None,
        })
    }
}

/// Key of the fallback cache: the family matters, the raw provider name does not.
pub(super) fn cache_key(family: Option<Family>, model: &str) -> String {
    let mut key = String::with_capacity(model.len() + 2);
    key.push(match family {
        Some(family) => char::from(b'0' + family as u8),
        None => '-',
    });
    key.push('\u{0}');
    key.push_str(model);
    key
}

/// Which rule found a name's price entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Step 1: an entry with exactly this name, or the provider's own entry for it
    /// (`gpt-4o` called through Azure priced as `azure/gpt-4o`).
    Exact,
    /// Step 3: `ft:BASE:org:suffix:id` priced by the entry `ft:BASE`.
    FineTuned,
    /// Step 3: priced by `ft:BASE` without the base's date suffix.
    FineTunedUndated,
    /// Step 4: a date suffix stripped.
    DateSuffix,
    /// Step 5: a provider's spelling of a model id (`models/...`, an ARN, an
    /// inference profile prefix) read as the id.
    ProviderId,
}

/// How a name found its price entry: what `costline prices` explains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolution<'n> {
    /// The provider prefixes step 2 stripped from the front of the name (`openai/`,
    /// `azure/openai/`); empty when none were.
    pub stripped_prefix: &'n str,
    pub rule: Rule,
}

/// Steps 2-4 for a name that missed the exact lookup, with the rule that matched.
pub(super) fn fallback<'n>(
    pricing: &Pricing,
    family: Option<Family>,
    model: &'n str,
) -> Option<(Hit, Resolution<'n>)> {
    let (mut family, mut name) = (family, model);
    let found =
        |rule: Rule, name: &str| Resolution { stripped_prefix: &model[..model.len() - name.len()], rule };
    // A loop rather than recursion: a hostile name may repeat prefixes many times.
    while let Some((prefix, rest)) = name.split_once('/') {
        match Family::parse(prefix) {
            Some(prefixed) if !rest.is_empty() => {
                family = Some(prefixed);
                name = rest;
                if let Some(hit) = pricing.exact(family, name) {
                    return Some((hit, found(Rule::Exact, name)));
                }
            }
            _ => break,
        }
    }
    if let Some(fine_tuned) = name.strip_prefix("ft:") {
        return fine_tuned_entry(pricing, family, fine_tuned).map(|(hit, rule)| (hit, found(rule, name)));
    }
    if let Some(hit) = strip_date_suffix(name).and_then(|base| pricing.exact(family, base)) {
        return Some((hit, found(Rule::DateSuffix, name)));
    }
    let (id, base) = provider_model_ids(family, name)?;
    [id, base]
        .into_iter()
        .flatten()
        .find_map(|candidate| pricing.exact(family, candidate))
        .map(|hit| (hit, found(Rule::ProviderId, name)))
}

/// Step 5: the model id inside a provider's own spelling of it (the id an ARN
/// names), then that id without a Bedrock inference profile prefix; `None` when
/// the name has no such spelling.
fn provider_model_ids(family: Option<Family>, name: &str) -> Option<(Option<&str>, Option<&str>)> {
    match family? {
        Family::Google => Some((name.strip_prefix("models/").filter(|id| !id.is_empty()), None)),
        Family::Bedrock => {
            let id = if name.starts_with("arn:") {
                name.rsplit('/').next().filter(|id| !id.is_empty())
            } else {
                None
            };
            let profiled = id.unwrap_or(name);
            let base = INFERENCE_PROFILE_PREFIXES
                .iter()
                .find_map(|prefix| profiled.strip_prefix(prefix))
                .filter(|base| !base.is_empty());
            Some((id, base))
        }
        _ => None,
    }
}

/// Bedrock's cross-region inference profile prefixes.
const INFERENCE_PROFILE_PREFIXES: [&str; 8] =
    ["us.", "eu.", "apac.", "global.", "us-gov.", "au.", "jp.", "ca."];

fn fine_tuned_entry(pricing: &Pricing, family: Option<Family>, rest: &str) -> Option<(Hit, Rule)> {
    let base = rest.split(':').next().filter(|base| !base.is_empty())?;
    if let Some(hit) = pricing.exact(family, &format!("ft:{base}")) {
        return Some((hit, Rule::FineTuned));
    }
    let undated = strip_date_suffix(base)?;
    pricing.exact(family, &format!("ft:{undated}")).map(|hit| (hit, Rule::FineTunedUndated))
}

/// `name` without a trailing date (`-2024-08-06`, `-20241022`, `@20241022`), when it has one.
pub(crate) fn strip_date_suffix(name: &str) -> Option<&str> {
    let bytes = name.as_bytes();
    let len = bytes.len();
    // -YYYY-MM-DD
    if len > 11 {
        let tail = &bytes[len - 11..];
        if tail[0] == b'-' && tail[5] == b'-' && tail[8] == b'-' {
            let digits: Vec<u8> = [&tail[1..5], &tail[6..8], &tail[9..11]].concat();
            if is_date(&digits) {
                return Some(&name[..len - 11]);
            }
        }
    }
    // -YYYYMMDD or @YYYYMMDD
    if len > 9 {
        let tail = &bytes[len - 9..];
        if (tail[0] == b'-' || tail[0] == b'@') && is_date(&tail[1..]) {
            return Some(&name[..len - 9]);
        }
    }
    None
}

/// Eight ASCII digits forming a plausible date 20YYMMDD.
fn is_date(digits: &[u8]) -> bool {
    if digits.len() != 8 || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let number =
        |range: std::ops::Range<usize>| digits[range].iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
    let (century, month, day) = (number(0..2), number(4..6), number(6..8));
    century == 20 && (1..=12).contains(&month) && (1..=31).contains(&day)
}

/// FNV-1a, 64 bits: a stable fingerprint of override contents for the catalog version
/// (std's hasher may change between Rust releases).
pub(super) struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    pub fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    pub fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_suffixes_in_three_spellings_are_stripped() {
        assert_eq!(strip_date_suffix("gpt-4o-2024-08-06"), Some("gpt-4o"));
        assert_eq!(strip_date_suffix("claude-sonnet-4-5-20250929"), Some("claude-sonnet-4-5"));
        assert_eq!(strip_date_suffix("claude-sonnet-4-5@20250929"), Some("claude-sonnet-4-5"));
    }

    #[test]
    fn things_that_are_not_dates_are_kept() {
        assert_eq!(strip_date_suffix("gpt-4o"), None);
        assert_eq!(strip_date_suffix("gpt-3.5-turbo-0125"), None);
        assert_eq!(strip_date_suffix("model-2024-13-06"), None);
        assert_eq!(strip_date_suffix("model-19991231"), None);
        assert_eq!(strip_date_suffix("-20241022"), None);
        assert_eq!(strip_date_suffix("ünïcødé-2024-08-06"), Some("ünïcødé"));
        assert_eq!(strip_date_suffix("x-2024-08-0é"), None);
    }

    #[test]
    fn provider_names_map_to_families() {
        assert_eq!(Family::parse("azure_ai"), Some(Family::Azure));
        assert_eq!(Family::parse("gemini"), Some(Family::Google));
        assert_eq!(Family::parse("vertex_ai"), Some(Family::Google));
        assert_eq!(Family::parse("groq"), Some(Family::Groq));
        assert_eq!(Family::parse("together_ai"), Some(Family::Together));
        assert_eq!(Family::parse("ollama"), None);
    }
}
