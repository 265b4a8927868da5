use std::io::Write;
use std::path::Path;
use std::str::FromStr;

use serde_json::{json, Value};

use super::overrides::build_pricing;
use super::*;

fn d(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

fn catalog_only() -> Pricing {
    build_pricing(None, None).unwrap()
}

fn with_inline(value: Value) -> Result<Pricing> {
    build_pricing(None, Some(&value))
}

fn key_of(pricing: &Pricing, provider: &str, model: &str) -> Option<String> {
    pricing.resolve(provider, model).map(|r| r.key.to_string())
}

fn prices_error_message(result: Result<Pricing>) -> (String, String) {
    match result {
        Err(Error::Prices { source_name, message }) => (source_name, message),
        Err(other) => panic!("expected Error::Prices, got {other:?}"),
        Ok(_) => panic!("expected Error::Prices, got a pricing"),
    }
}

#[test]
fn embedded_catalog_parses_with_a_litellm_version() {
    let embedded = load_embedded().expect("the embedded catalog must parse");
    assert!(embedded.index.len() > 1000);
    let version = embedded.version.as_str();
    assert!(version.starts_with("litellm-"), "{version}");
    let (_, hash) = version.split_once('+').expect("litellm-<version>+<hash>");
    assert_eq!(hash.len(), 8);
    assert_eq!(catalog_version(), version);
}

#[test]
fn embedded_prices_are_exact_decimals() {
    let pricing = catalog_only();
    let gpt_4o = pricing.get("gpt-4o").unwrap();
    assert_eq!(gpt_4o.source, CostSource::Catalog);
    assert_eq!(gpt_4o.price.input_rate(), d("0.0000025"));
    assert_eq!(gpt_4o.price.standard.rates.cache_read, Some(d("0.00000125")));
    assert_eq!(gpt_4o.price.output_rate(), d("0.00001"));
}

#[test]
fn exact_dated_snapshot_keeps_its_own_price() {
    let pricing = catalog_only();
    let snapshot = pricing.resolve("openai", "gpt-4o-2024-05-13").unwrap();
    assert_eq!(snapshot.key, "gpt-4o-2024-05-13");
    assert_ne!(snapshot.price.input_rate(), pricing.get("gpt-4o").unwrap().price.input_rate());
}

#[test]
fn provider_prefix_is_stripped() {
    let pricing = catalog_only();
    assert_eq!(key_of(&pricing, "openai", "openai/gpt-4o").as_deref(), Some("gpt-4o"));
    assert_eq!(
        key_of(&pricing, "anthropic", "anthropic/claude-sonnet-4-5").as_deref(),
        Some("claude-sonnet-4-5")
    );
    assert_eq!(key_of(&pricing, "openai", "openai/openai/gpt-4o-mini").as_deref(), Some("gpt-4o-mini"));
}

#[test]
fn provider_qualified_entry_is_chosen_for_its_provider() {
    let pricing = catalog_only();
    assert_eq!(key_of(&pricing, "azure", "gpt-4o").as_deref(), Some("azure/gpt-4o"));
    assert_eq!(key_of(&pricing, "openai", "gpt-4o").as_deref(), Some("gpt-4o"));
    assert_eq!(key_of(&pricing, "", "gpt-4o").as_deref(), Some("gpt-4o"));
    assert_eq!(key_of(&pricing, "openai", "azure/gpt-4o").as_deref(), Some("azure/gpt-4o"));
    // A prefix in the name names the provider whose entry is wanted.
    assert_eq!(key_of(&pricing, "openai", "gemini/gemini-2.5-pro").as_deref(), Some("gemini/gemini-2.5-pro"));
}

#[test]
fn fine_tuned_name_uses_the_fine_tuning_entry() {
    let pricing = catalog_only();
    let resolved = pricing.resolve("openai", "ft:gpt-4o-2024-08-06:acme:support:9xYz1").unwrap();
    assert_eq!(resolved.key, "ft:gpt-4o-2024-08-06");
    assert_ne!(resolved.price.input_rate(), pricing.get("gpt-4o-2024-08-06").unwrap().price.input_rate());
    assert_eq!(
        key_of(&pricing, "openai", "ft:gpt-3.5-turbo-0125:acme::abc123").as_deref(),
        Some("ft:gpt-3.5-turbo-0125")
    );
}

#[test]
fn fine_tuned_name_without_fine_tuning_price_is_unknown_never_the_base_price() {
    let pricing = catalog_only();
    // gpt-4o-2024-05-13 and gpt-4o-mini have catalog entries, but no ft: entries.
    assert_eq!(key_of(&pricing, "openai", "ft:gpt-4o-2024-05-13:acme::x1"), None);
    assert_eq!(key_of(&pricing, "openai", "ft:gpt-4o-mini:acme::x1"), None);
    assert_eq!(key_of(&pricing, "openai", "ft:"), None);
    assert_eq!(key_of(&pricing, "openai", "ft::::"), None);
}

#[test]
fn fine_tuned_base_falls_back_to_its_undated_fine_tuning_entry() {
    let pricing = with_inline(json!({"ft:my-base": {"input": "1", "output": "2"}})).unwrap();
    assert_eq!(key_of(&pricing, "openai", "ft:my-base-2031-02-03:acme::x").as_deref(), Some("ft:my-base"));
    let (_, resolution) = pricing.resolve_explained("openai", "ft:my-base-2031-02-03:acme::x").unwrap();
    assert_eq!(resolution.rule, Rule::FineTunedUndated);
}

#[test]
fn date_suffix_is_stripped_to_the_base_model() {
    let pricing = catalog_only();
    assert_eq!(
        key_of(&pricing, "anthropic", "claude-haiku-4-5-20991231").as_deref(),
        Some("claude-haiku-4-5")
    );
    assert_eq!(
        key_of(&pricing, "anthropic", "claude-sonnet-4-6@20990101").as_deref(),
        Some("claude-sonnet-4-6")
    );
    assert_eq!(key_of(&pricing, "openai", "gpt-4o-mini-2099-01-01").as_deref(), Some("gpt-4o-mini"));
    assert_eq!(key_of(&pricing, "openai", "openai/gpt-4o-mini-2099-01-01").as_deref(), Some("gpt-4o-mini"));
}

#[test]
fn unknown_model_resolves_to_nothing_and_stays_so() {
    let pricing = catalog_only();
    assert!(pricing.resolve("openai", "no-such-model-xyz").is_none());
    assert!(pricing.resolve("openai", "no-such-model-xyz").is_none(), "cached miss");
    assert!(pricing.resolve("openai", "").is_none());
}

#[test]
fn fallback_resolutions_are_cached_per_provider_family() {
    let pricing = catalog_only();
    for _ in 0..2 {
        assert_eq!(key_of(&pricing, "openai", "openai/gpt-4o").as_deref(), Some("gpt-4o"));
        assert_eq!(key_of(&pricing, "azure", "gpt-4o-2099-01-01").as_deref(), Some("azure/gpt-4o"));
        assert_eq!(key_of(&pricing, "openai", "gpt-4o-2099-01-01").as_deref(), Some("gpt-4o"));
    }
    assert_eq!(pricing.fallback_cache.read().unwrap().len(), 3);
}

#[test]
fn simple_override_per_million_adds_a_model() {
    let pricing =
        with_inline(json!({"my-model": {"input_per_million": "1.5", "output_per_million": 3}})).unwrap();
    let resolved = pricing.resolve("openai", "my-model").unwrap();
    assert_eq!(resolved.source, CostSource::Override);
    assert_eq!(resolved.price.input_rate(), d("0.0000015"));
    assert_eq!(resolved.price.output_rate(), d("0.000003"));
    assert!(pricing.version().starts_with(&format!("{}.ovr-", catalog_version())));
    assert_eq!(catalog_only().version(), catalog_version());
}

#[test]
fn override_wins_over_the_catalog_and_through_fallbacks() {
    let pricing = with_inline(json!({"gpt-4o": {"input": "0.000001", "output": "0.000002"}})).unwrap();
    let exact = pricing.resolve("openai", "gpt-4o").unwrap();
    assert_eq!((exact.source, exact.price.input_rate()), (CostSource::Override, d("0.000001")));
    // Overrides also beat the provider's own qualified catalog entry.
    assert_eq!(pricing.resolve("azure", "gpt-4o").unwrap().source, CostSource::Override);
    assert_eq!(pricing.resolve("openai", "openai/gpt-4o").unwrap().source, CostSource::Override);
    assert_eq!(pricing.entries().filter(|e| e.key == "gpt-4o").count(), 1);
    assert_eq!(pricing.len(), catalog_only().len());
}

#[test]
fn override_in_the_catalog_shape_with_tiers_is_accepted() {
    let pricing = with_inline(json!({"models": {"tiered": {
        "input": 0.0000025, "output": "1e-5", "cache_read": "0.00000125",
        "cache_write_5m": "0.000003", "cache_write_1h": "0.000005", "cache_write_1h_derived": false,
        "input_audio": "0.00004", "output_audio": "0.00008", "provider": "acme", "mode": "chat",
        "max_input_tokens": 1000, "max_output_tokens": 10,
        "context_tiers": [{"above_input_tokens": 200000, "input": "0.000005"},
                          {"above_input_tokens": 100000, "input_per_million": "4"}],
        "service_tiers": {"flex": {"input": "0.000001", "output": "0.000005",
            "context_tiers": [{"above_input_tokens": 100000, "input": "0.000002"}]}}
    }}}))
    .unwrap();
    let price = pricing.get("tiered").unwrap().price;
    assert_eq!(price.input_rate(), d("0.0000025"), "a JSON number is read by its literal text");
    assert_eq!(price.output_rate(), d("0.00001"));
    let thresholds: Vec<u64> = price.standard.context_tiers.iter().map(|t| t.above_input_tokens).collect();
    assert_eq!(thresholds, [100_000, 200_000], "tiers are sorted");
    assert_eq!(price.standard.tier_for(150_000).unwrap().input, Some(d("0.000004")));
    assert_eq!(price.flex.as_ref().unwrap().context_tiers.len(), 1);
    assert_eq!(price.max_output_tokens, Some(10));
}

#[test]
fn inline_overrides_win_over_the_file() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    write!(file, r#"{{"m1": {{"input": "1", "output": "1"}}, "m2": {{"input": "2", "output": "2"}}}}"#)
        .unwrap();
    let inline = json!({"m2": {"input": "3", "output": "3"}});
    let pricing = build_pricing(Some(file.path()), Some(&inline)).unwrap();
    assert_eq!(pricing.get("m1").unwrap().price.input_rate(), d("1"));
    assert_eq!(pricing.get("m2").unwrap().price.input_rate(), d("3"));
}

#[test]
fn bad_json_file_names_the_file() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    write!(file, r#"{{"m": {{"input": "1",}}"#).unwrap();
    let (source, message) = prices_error_message(build_pricing(Some(file.path()), None));
    assert_eq!(source, file.path().display().to_string());
    assert!(message.contains("invalid JSON"), "{message}");
}

fn file_with(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

#[test]
fn a_bad_value_in_a_file_names_its_line_column_model_and_field() {
    let file = file_with(
        "{\n  \"good-model\": {\"input\": \"1\", \"output\": \"1\"},\n  \"my-model\": {\n    \"output\": \"1\",\n    \"input_per_million\": \"cheap\"\n  }\n}\n",
    );
    let (source, message) = prices_error_message(build_pricing(Some(file.path()), None));
    assert_eq!(source, file.path().display().to_string());
    assert!(message.starts_with("line 5, column 5: "), "{message}");
    assert!(message.contains("model \"my-model\", field input_per_million: \"cheap\""), "{message}");
}

#[test]
fn a_bad_value_deep_in_a_wrapped_file_names_its_line_and_path() {
    let file = file_with(
        r#"{"catalog_version": "mine", "models": {
  "m": {"input": "1", "output": "1", "service_tiers": {"flex": {"input": "1", "output": "1",
    "context_tiers": [
      {"above_input_tokens": 10, "input": "2"},
      {"above_input_tokens": 20, "input": "-2"}
    ]}}}
}}"#,
    );
    let (_, message) = prices_error_message(build_pricing(Some(file.path()), None));
    assert!(message.starts_with("line 5, column 34: "), "{message}");
    assert!(message.contains("field service_tiers.flex.context_tiers[1].input: negative price"), "{message}");
}

#[test]
fn an_entry_level_error_points_at_the_model() {
    let file = file_with("{\n\n  \"half-priced\": {\"input\": \"1\"}}");
    let (_, message) = prices_error_message(build_pricing(Some(file.path()), None));
    assert!(message.starts_with("line 3, column 3: model \"half-priced\": no output price"), "{message}");
}

#[test]
fn invalid_json_in_a_file_names_its_line_and_column() {
    let file = file_with("{\n  \"m\": {\"input\": \"1\",}\n}");
    let (_, message) = prices_error_message(build_pricing(Some(file.path()), None));
    assert!(message.starts_with("line 2, column 22: invalid JSON: trailing comma"), "{message}");
}

#[test]
fn inline_errors_name_model_and_field_without_a_line() {
    let (source, message) =
        prices_error_message(with_inline(json!({"m": {"input": "1", "output": "1", "cache_read": "x"}})));
    assert_eq!(source, "inline prices");
    assert!(message.starts_with("model \"m\", field cache_read: "), "{message}");
}

#[test]
fn missing_file_is_a_prices_error() {
    let (source, message) =
        prices_error_message(build_pricing(Some(Path::new("/no/such/prices.json")), None));
    assert_eq!(source, "/no/such/prices.json");
    assert!(message.contains("cannot read"), "{message}");
}

#[test]
fn negative_price_is_rejected() {
    let (source, message) = prices_error_message(with_inline(json!({"m": {"input": "-0.1", "output": "1"}})));
    assert_eq!(source, "inline prices");
    assert!(
        message.contains("\"m\"") && message.contains("input") && message.contains("negative"),
        "{message}"
    );
    let (_, message) = prices_error_message(with_inline(json!({"m": {"input": 1, "output": -2}})));
    assert!(message.contains("negative"), "{message}");
}

#[test]
fn non_numeric_price_is_rejected() {
    for bad in [json!("cheap"), json!("1,5"), json!("1_000"), json!(""), json!(true), json!(null), json!([1])]
    {
        let (_, message) = prices_error_message(with_inline(json!({"m": {"input": bad, "output": "1"}})));
        assert!(message.contains("input"), "{message}");
    }
}

#[test]
fn unknown_field_is_rejected_with_its_path() {
    let (_, message) =
        prices_error_message(with_inline(json!({"m": {"input": "1", "output": "1", "inptu": "1"}})));
    assert!(message.contains("inptu") && message.contains("unknown field"), "{message}");
    let (_, message) = prices_error_message(with_inline(
        json!({"m": {"input": "1", "output": "1", "service_tiers": {"flex": {"input": "1", "speed": 2}}}}),
    ));
    assert!(message.contains("service_tiers.flex.speed"), "{message}");
    let (_, message) = prices_error_message(with_inline(
        json!({"m": {"input": "1", "output": "1", "service_tiers": {"turbo": {"input": "1"}}}}),
    ));
    assert!(message.contains("turbo"), "{message}");
}

#[test]
fn incomplete_or_contradictory_entries_are_rejected() {
    let cases = [
        json!({"m": {"input": "1"}}),
        json!({"m": {"output": "1"}}),
        json!({"m": {"input": "1", "input_per_million": "1", "output": "1"}}),
        json!({"m": "1.5"}),
        json!({"m": {"input": "1", "output": "1", "context_tiers": [{"input": "2"}]}}),
        json!({"m": {"input": "1", "output": "1", "context_tiers": [
            {"above_input_tokens": 5, "input": "2"}, {"above_input_tokens": 5, "input": "3"}]}}),
        json!({"m": {"input": "1", "output": "1", "max_output_tokens": -1}}),
        json!({"m": {"input": "2000000", "output": "1"}}),
        json!({"m": {"input": 1e300, "output": "1"}}),
        json!([1, 2]),
        json!({"": {"input": "1", "output": "1"}}),
    ];
    for case in cases {
        prices_error_message(with_inline(case));
    }
}

#[test]
fn configure_keeps_previous_overrides_when_the_new_file_is_bad() {
    let good = json!({"costline-test-configure-model": {"input": "1", "output": "2"}});
    configure(None, Some(&good)).unwrap();
    assert_eq!(current().resolve("", "costline-test-configure-model").unwrap().source, CostSource::Override);

    let bad = json!({"costline-test-configure-model": {"input": "-1", "output": "2"}});
    assert!(configure(None, Some(&bad)).is_err());
    let still = current();
    let resolved = still.resolve("", "costline-test-configure-model").unwrap();
    assert_eq!(resolved.price.input_rate(), d("1"));

    configure(None, None).unwrap();
    assert!(current().resolve("", "costline-test-configure-model").is_none());
    assert_eq!(current().version(), catalog_version());
}

#[test]
fn resolve_explained_finds_what_resolve_finds_and_names_the_rule() {
    let pricing = catalog_only();
    for (provider, model, key, stripped, rule) in [
        ("openai", "gpt-4o", "gpt-4o", "", Rule::Exact),
        ("azure", "gpt-4o", "azure/gpt-4o", "", Rule::Exact),
        ("openai", "openai/gpt-4o", "gpt-4o", "openai/", Rule::Exact),
        ("openai", "gpt-4o-2099-01-01", "gpt-4o", "", Rule::DateSuffix),
        ("", "openai/gpt-4o-2099-01-01", "gpt-4o", "openai/", Rule::DateSuffix),
        ("openai", "ft:gpt-4o-2024-08-06:acme:support:9xYz1", "ft:gpt-4o-2024-08-06", "", Rule::FineTuned),
    ] {
        let (resolved, resolution) = pricing.resolve_explained(provider, model).unwrap();
        assert_eq!(resolved.key, key, "{model}");
        assert_eq!(pricing.resolve(provider, model).unwrap().key, key, "{model}");
        assert_eq!(resolution, Resolution { stripped_prefix: stripped, rule }, "{model}");
    }
    assert!(pricing.resolve_explained("openai", "no-such-model-xyz").is_none());
}
