//! What `costline prices` shows: one model's rates and how its name found them, or a
//! table of every model in force. Rates are shown in USD per 1M tokens, computed exactly
//! from the per-token decimals (never through floating point).

use std::fmt;

use rust_decimal::Decimal;
use serde_json::{json, Map, Value};

use crate::catalog::{Family, Price, Pricing, RateSet, Rates, Resolution, Resolved, Rule};
use crate::report::{align, thousands};

/// Providers a lookup without `--provider` tries, in order: none first (the name as a
/// plain catalog key), then each family with entries of its own (`gemini-2.5-pro` is
/// only in the catalog as `gemini/gemini-2.5-pro`).
const LOOKUP_PROVIDERS: [&str; 7] = ["", "openai", "anthropic", "google", "mistral", "bedrock", "azure"];

const MAX_SUGGESTIONS: usize = 5;

/// A rate the catalog does not give.
const MISSING: &str = "—";

/// Marks a 1-hour cache write price the catalog derived rather than copied.
const DERIVED: &str = "*";

const UNIT: &str = "USD per 1M tokens";

/// One kind of rate: its label in the table, its field in JSON.
struct Kind {
    label: &'static str,
    field: &'static str,
    rate: fn(&Rates) -> Option<Decimal>,
    /// Shown even when the catalog lacks it (as "—"): the kinds every user asks about.
    always: bool,
}

const KINDS: [Kind; 8] = [
    Kind { label: "input", field: "input", rate: |r| r.input, always: true },
    Kind { label: "output", field: "output", rate: |r| r.output, always: true },
    Kind { label: "cached read", field: "cache_read", rate: |r| r.cache_read, always: true },
    Kind { label: "cache write 5m", field: "cache_write_5m", rate: |r| r.cache_write_5m, always: true },
    Kind { label: "cache write 1h", field: "cache_write_1h", rate: |r| r.cache_write_1h, always: true },
    Kind { label: "cache write 12h", field: "cache_write_12h", rate: |r| r.cache_write_12h, always: false },
    Kind { label: "input audio", field: "input_audio", rate: |r| r.input_audio, always: false },
    Kind { label: "output audio", field: "output_audio", rate: |r| r.output_audio, always: false },
];

/// `rate` (USD per token) as USD per 1M tokens, exactly, without trailing zeros.
/// `None` only when the result does not fit a `Decimal`, which no parsed price reaches
/// (rates are at most `MAX_RATE_PER_TOKEN`).
pub fn per_million(rate: Decimal) -> Option<Decimal> {
    // Shift the decimal point on the mantissa: exact, where multiplying could round.
    let (mantissa, scale) = (rate.mantissa(), rate.scale());
    let shifted = if scale >= 6 {
        Decimal::try_from_i128_with_scale(mantissa, scale - 6).ok()?
    } else {
        Decimal::try_from_i128_with_scale(mantissa.checked_mul(10i128.pow(6 - scale))?, 0).ok()?
    };
    Some(shifted.normalize())
}

/// A rate as shown: per 1M tokens, or per token in the (unreachable) overflow case.
fn shown(rate: Decimal) -> String {
    per_million(rate).map_or_else(|| format!("{rate} per token"), |d| d.to_string())
}

/// A name the catalog has no price for, with catalog keys that contain it.
#[derive(Debug)]
pub struct UnknownModel {
    pub model: String,
    pub provider: Option<String>,
    pub catalog_version: String,
    pub suggestions: Vec<String>,
}

impl fmt::Display for UnknownModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no price for model {:?}", self.model)?;
        if let Some(provider) = &self.provider {
            write!(f, " (provider {provider})")?;
        }
        write!(f, " in catalog version {}", self.catalog_version)?;
        if self.suggestions.is_empty() {
            write!(f, "; `costline prices --search TEXT` lists the models whose name contains TEXT")
        } else {
            write!(f, "; did you mean {}?", self.suggestions.join(", "))
        }
    }
}

/// A model name resolved to its price, with how it got there.
pub struct ModelPrice<'p, 'n> {
    /// The name as the user gave it.
    pub requested: &'n str,
    /// `--provider`, or the provider whose lookup found the name when none was given
    /// (`None` when the name matched as a plain key).
    pub lookup_provider: Option<&'n str>,
    pub resolved: Resolved<'p>,
    pub resolution: Resolution<'n>,
    pub catalog_version: &'p str,
}

/// The price of `model` as `Pricing::resolve` finds it for `provider`; without a
/// provider, the first of [`LOOKUP_PROVIDERS`] that finds one.
pub fn lookup<'p, 'n>(
    pricing: &'p Pricing,
    model: &'n str,
    provider: Option<&'n str>,
) -> Result<ModelPrice<'p, 'n>, UnknownModel> {
    let providers = provider.map_or_else(|| LOOKUP_PROVIDERS.to_vec(), |p| vec![p]);
    let found = providers.into_iter().find_map(|p| pricing.resolve_explained(p, model).map(|r| (p, r)));
    match found {
        Some((lookup_provider, (resolved, resolution))) => Ok(ModelPrice {
            requested: model,
            lookup_provider: Some(lookup_provider).filter(|p| !p.is_empty()),
            resolved,
            resolution,
            catalog_version: pricing.version(),
        }),
        None => Err(UnknownModel {
            model: model.to_string(),
            provider: provider.map(str::to_string),
            catalog_version: pricing.version().to_string(),
            suggestions: suggestions(pricing, model),
        }),
    }
}

/// Up to [`MAX_SUGGESTIONS`] keys containing the name (without any `provider/`
/// qualifier), case-insensitively; shortest first, the likeliest intended.
fn suggestions(pricing: &Pricing, model: &str) -> Vec<String> {
    let needle = model.rsplit('/').next().unwrap_or(model).trim().to_lowercase();
    if needle.is_empty() {
        return Vec::new();
    }
    let mut keys: Vec<&str> =
        pricing.entries().map(|e| e.key).filter(|key| key.to_lowercase().contains(&needle)).collect();
    keys.sort_unstable_by_key(|key| (key.len(), *key));
    keys.dedup();
    keys.into_iter().take(MAX_SUGGESTIONS).map(str::to_string).collect()
}

impl ModelPrice<'_, '_> {
    fn price(&self) -> &Price {
        self.resolved.price
    }

    /// The rule that priced the name: a stable code (JSON) and in words (`None` for
    /// an exact name).
    fn rule(&self) -> (&'static str, Option<&'static str>) {
        match self.resolution.rule {
            Rule::Exact if self.resolved.key != self.base_name() => {
                ("provider_entry", Some("the provider's own entry"))
            }
            Rule::Exact => ("exact", None),
            Rule::FineTuned => ("fine_tuned", Some("fine-tuned: its base model's fine-tuning price")),
            Rule::FineTunedUndated => {
                ("fine_tuned_undated", Some("fine-tuned: the fine-tuning price of its base without the date"))
            }
            Rule::DateSuffix => ("date_suffix", Some("date suffix stripped")),
            Rule::ProviderId => (
                "provider_id",
                Some("the provider's spelling of the id (models/, ARN, inference profile) read as the id"),
            ),
        }
    }

    /// The requested name without the provider prefixes resolution stripped.
    fn base_name(&self) -> &str {
        &self.requested[self.resolution.stripped_prefix.len()..]
    }

    /// Why the name is priced by its key, in words.
    pub fn explanation(&self) -> String {
        let mut reasons = Vec::new();
        if !self.resolution.stripped_prefix.is_empty() {
            reasons.push(format!("provider prefix \"{}\" stripped", self.resolution.stripped_prefix));
        }
        reasons.extend(self.rule().1.map(str::to_string));
        if reasons.is_empty() {
            "exact name".to_string()
        } else {
            reasons.join(", ")
        }
    }

    /// The rate sets shown as columns: standard, then each service tier the model has.
    fn columns(&self) -> Vec<(&'static str, &RateSet)> {
        let price = self.price();
        let tiers = [("batch", &price.batch), ("flex", &price.flex), ("priority", &price.priority)];
        std::iter::once(("standard", &price.standard))
            .chain(tiers.into_iter().filter_map(|(name, set)| set.as_ref().map(|set| (name, set))))
            .collect()
    }

    pub fn to_text(&self) -> String {
        let price = self.price();
        let mut out =
            format!("{} → priced as {} ({})\n", self.requested, self.resolved.key, self.explanation());
        let mut facts = vec![
            vec!["source".to_string(), self.resolved.source.as_str().to_string()],
            vec!["catalog version".to_string(), self.catalog_version.to_string()],
            vec!["provider".to_string(), price.provider.clone().unwrap_or_else(|| MISSING.to_string())],
        ];
        if let Some(lookup) = self.lookup_provider {
            facts.push(vec!["looked up for".to_string(), lookup.to_string()]);
        }
        facts.push(vec!["mode".to_string(), price.mode.clone().unwrap_or_else(|| MISSING.to_string())]);
        if price.max_input_tokens.is_some() || price.max_output_tokens.is_some() {
            let limit = |n: Option<u64>| n.map_or_else(|| MISSING.to_string(), thousands);
            facts.push(vec![
                "max tokens".to_string(),
                format!("{} input, {} output", limit(price.max_input_tokens), limit(price.max_output_tokens)),
            ]);
        }
        out.push_str(&align(&facts, 2));
        out.push('\n');
        out.push_str(&self.rate_table());
        out
    }

    /// Rate kinds as rows, rate sets as columns: the base rates, then one section per
    /// long-context threshold; then what "—" and "*" mean, when they appear.
    fn rate_table(&self) -> String {
        let columns = self.columns();
        let mut header = vec![UNIT.to_string()];
        header.extend(columns.iter().map(|(name, _)| name.to_string()));
        let all_sets: Vec<&Rates> = columns
            .iter()
            .flat_map(|(_, set)| {
                std::iter::once(&set.rates).chain(set.context_tiers.iter().map(|t| &t.rates))
            })
            .collect();
        let base: Vec<Option<&Rates>> = columns.iter().map(|(_, set)| Some(&set.rates)).collect();
        let mut lines = vec![header];
        lines.extend(rows(&base, |kind| kind.always || all_sets.iter().any(|r| (kind.rate)(r).is_some())));

        let mut thresholds: Vec<u64> = columns
            .iter()
            .flat_map(|(_, set)| set.context_tiers.iter().map(|t| t.above_input_tokens))
            .collect();
        thresholds.sort_unstable();
        thresholds.dedup();
        for threshold in thresholds {
            let tier: Vec<Option<&Rates>> = columns
                .iter()
                .map(|(_, set)| {
                    set.context_tiers.iter().find(|t| t.above_input_tokens == threshold).map(|t| &t.rates)
                })
                .collect();
            lines.push(Vec::new());
            let mut heading = vec![format!("above {} input tokens", short_count(threshold))];
            heading.extend(columns.iter().map(|(name, _)| name.to_string()));
            lines.push(heading);
            // Input and output always; other kinds where some column's tier sets them.
            lines.extend(rows(&tier, |kind| {
                kind.field == "input"
                    || kind.field == "output"
                    || tier.iter().flatten().any(|r| (kind.rate)(r).is_some())
            }));
        }
        let mut out = align(&lines, 1);
        let cells: String = lines.iter().flat_map(|line| line.iter().skip(1)).map(String::as_str).collect();
        let mut notes = Vec::new();
        if cells.contains(MISSING) {
            notes.push(format!(
                "{MISSING}  not in the price list: costline uses the rate set's base rate, then the\n   \
                 standard tier's, then the input rate (the output rate for audio output)."
            ));
        }
        if cells.contains(DERIVED) {
            notes.push(format!(
                "{DERIVED}  not published: 2 × input, Anthropic's rule for 1-hour cache writes."
            ));
        }
        if !notes.is_empty() {
            out.push('\n');
            out.push_str(&notes.join("\n"));
            out.push('\n');
        }
        out
    }

    pub fn to_json(&self) -> Value {
        let price = self.price();
        let mut answer = json!({
            "model": self.requested,
            "price_key": self.resolved.key,
            "resolution": {
                "rule": self.rule().0,
                "stripped_prefix": Some(self.resolution.stripped_prefix).filter(|p| !p.is_empty()),
                "explanation": self.explanation(),
            },
            "cost_source": self.resolved.source.as_str(),
            "catalog_version": self.catalog_version,
            "provider": price.provider,
            "lookup_provider": self.lookup_provider,
            "mode": price.mode,
            "max_input_tokens": price.max_input_tokens,
            "max_output_tokens": price.max_output_tokens,
            "unit": UNIT,
        });
        let map = answer.as_object_mut().expect("built as an object");
        map.extend(rate_set_json(&price.standard));
        let service_tiers: Map<String, Value> = self
            .columns()
            .into_iter()
            .skip(1)
            .map(|(name, set)| (name.to_string(), Value::Object(rate_set_json(set))))
            .collect();
        map.insert("service_tiers".to_string(), Value::Object(service_tiers));
        answer
    }
}

/// One table row per kind that `show` accepts: its label, then each column's rate.
fn rows(columns: &[Option<&Rates>], show: impl Fn(&Kind) -> bool) -> Vec<Vec<String>> {
    KINDS
        .iter()
        .filter(|kind| show(kind))
        .map(|kind| {
            let mut row = vec![kind.label.to_string()];
            row.extend(columns.iter().map(|rates| cell(*rates, kind)));
            row
        })
        .collect()
}

fn cell(rates: Option<&Rates>, kind: &Kind) -> String {
    match rates.and_then(|r| (kind.rate)(r).map(|rate| (r, rate))) {
        None => MISSING.to_string(),
        Some((r, rate)) if kind.field == "cache_write_1h" && r.cache_write_1h_derived => {
            format!("{}{DERIVED}", shown(rate))
        }
        Some((_, rate)) => shown(rate),
    }
}

/// Every kind of rate as a decimal string per 1M tokens, `null` where the catalog lacks it.
fn rates_json(rates: &Rates) -> Value {
    let map: Map<String, Value> = KINDS
        .iter()
        .map(|kind| {
            (kind.field.to_string(), (kind.rate)(rates).map_or(Value::Null, |r| Value::String(shown(r))))
        })
        .collect();
    Value::Object(map)
}

fn rate_set_json(set: &RateSet) -> Map<String, Value> {
    let tiers: Vec<Value> = set
        .context_tiers
        .iter()
        .map(|tier| {
            json!({
                "above_input_tokens": tier.above_input_tokens,
                "rates": rates_json(&tier.rates),
                "cache_write_1h_derived": tier.rates.cache_write_1h_derived,
            })
        })
        .collect();
    let mut map = Map::new();
    map.insert("rates".to_string(), rates_json(&set.rates));
    map.insert("cache_write_1h_derived".to_string(), Value::Bool(set.rates.cache_write_1h_derived));
    map.insert("context_tiers".to_string(), Value::Array(tiers));
    map
}

/// A token threshold as people write it: 200k, 1M, else with separators.
fn short_count(n: u64) -> String {
    match n {
        0 => "0".to_string(),
        n if n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => thousands(n),
    }
}

/// Which models `costline prices` (no model) lists.
#[derive(Debug, Default, Clone, Copy)]
pub struct ListFilter<'a> {
    /// Models billed by this provider: an exact provider name (`azure_ai`), or a family
    /// that covers several (`google`: `gemini`, `vertex_ai`...; `bedrock`: `bedrock_converse`).
    pub provider: Option<&'a str>,
    /// Models whose key contains this, case-insensitively.
    pub search: Option<&'a str>,
}

impl ListFilter<'_> {
    fn accepts(&self, entry: &Resolved<'_>) -> bool {
        let provider_ok = match self.provider {
            Some(wanted) => provider_matches(wanted, entry.price.provider.as_deref()),
            None => true,
        };
        let search_ok = match self.search {
            Some(text) => entry.key.to_lowercase().contains(&text.trim().to_lowercase()),
            None => true,
        };
        provider_ok && search_ok
    }
}

fn provider_matches(wanted: &str, provider: Option<&str>) -> bool {
    let Some(provider) = provider else { return false };
    if provider.eq_ignore_ascii_case(wanted) {
        return true;
    }
    // litellm's provider names qualify a family: "vertex_ai-anthropic_models".
    let family_of = |name: &str| {
        Family::parse(name).or_else(|| name.split_once('-').and_then(|(head, _)| Family::parse(head)))
    };
    match (family_of(&wanted.to_ascii_lowercase()), family_of(provider)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// The entries in force that `filter` accepts, sorted by key.
pub fn list<'p>(pricing: &'p Pricing, filter: ListFilter<'_>) -> Vec<Resolved<'p>> {
    let mut entries: Vec<Resolved<'p>> = pricing.entries().filter(|e| filter.accepts(e)).collect();
    entries.sort_unstable_by_key(|e| e.key);
    entries
}

/// An aligned table of `entries`: key, provider, input, output and cached-read rates.
pub fn list_text(entries: &[Resolved<'_>], catalog_version: &str) -> String {
    if entries.is_empty() {
        return format!("No models match (catalog version {catalog_version}).\n");
    }
    let rate = |r: Option<Decimal>| r.map_or_else(|| MISSING.to_string(), shown);
    let mut lines =
        vec![["model", "provider", "input $/1M", "output $/1M", "cached $/1M"].map(String::from).to_vec()];
    lines.extend(entries.iter().map(|e| {
        let rates = &e.price.standard.rates;
        let key = match e.source {
            crate::event::CostSource::Override => format!("{} (override)", e.key),
            _ => e.key.to_string(),
        };
        vec![
            key,
            e.price.provider.clone().unwrap_or_else(|| MISSING.to_string()),
            rate(rates.input),
            rate(rates.output),
            rate(rates.cache_read),
        ]
    }));
    let mut out = align(&lines, 2);
    let noun = if entries.len() == 1 { "model" } else { "models" };
    out.push_str(&format!(
        "\n{} {noun}, catalog version {catalog_version}\n",
        thousands(entries.len() as u64)
    ));
    out
}

/// `entries` as a JSON array: key, provider, mode, source and every rate per 1M tokens.
pub fn list_json(entries: &[Resolved<'_>]) -> Value {
    Value::Array(
        entries
            .iter()
            .map(|e| {
                json!({
                    "key": e.key,
                    "provider": e.price.provider,
                    "mode": e.price.mode,
                    "cost_source": e.source.as_str(),
                    "rates": rates_json(&e.price.standard.rates),
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn per_million_of(text: &str) -> String {
        per_million(Decimal::from_str(text).unwrap()).unwrap().to_string()
    }

    #[test]
    fn per_million_is_exact_and_has_no_trailing_zeros() {
        assert_eq!(per_million_of("0.0000025"), "2.5");
        assert_eq!(per_million_of("0.00001"), "10");
        assert_eq!(per_million_of("0.000000075"), "0.075");
        assert_eq!(per_million_of("0.00000013125"), "0.13125");
        assert_eq!(per_million_of("0.0000000000000000000000000001"), "0.0000000000000000000001");
        assert_eq!(per_million_of("3"), "3000000");
        assert_eq!(per_million_of("0"), "0");
        assert_eq!(per_million_of("1.500"), "1500000");
    }

    #[test]
    fn per_million_of_an_unrepresentable_rate_is_none_not_a_panic() {
        assert_eq!(per_million(Decimal::MAX), None);
    }

    #[test]
    fn thresholds_read_as_people_write_them() {
        assert_eq!(short_count(200_000), "200k");
        assert_eq!(short_count(1_000_000), "1M");
        assert_eq!(short_count(128_500), "128,500");
    }

    #[test]
    fn provider_filter_matches_exact_names_and_families() {
        assert!(provider_matches("openai", Some("openai")));
        assert!(provider_matches("google", Some("vertex_ai-language-models")));
        assert!(provider_matches("Google", Some("gemini")));
        assert!(provider_matches("bedrock", Some("bedrock_converse")));
        assert!(provider_matches("text-completion-openai", Some("text-completion-openai")));
        assert!(!provider_matches("anthropic", Some("vertex_ai-anthropic_models")));
        assert!(!provider_matches("groq", Some("openai")));
        assert!(!provider_matches("openai", None));
    }
}
