//! `costline prices`: one model's rates and how its name resolved, the table of all
//! models, and their JSON forms, against the embedded catalog.

use std::io::{self, Write};
use std::str::FromStr;

use costline_core::{catalog, cli};
use rust_decimal::Decimal;
use serde_json::Value;

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

fn costline(args: &[&str]) -> Output {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = cli::run(args.iter().map(|s| s.to_string()).collect(), &mut out, &mut err);
    Output { code, stdout: String::from_utf8(out).unwrap(), stderr: String::from_utf8(err).unwrap() }
}

fn prices_ok(args: &[&str]) -> String {
    let mut full = vec!["prices"];
    full.extend_from_slice(args);
    let out = costline(&full);
    assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    out.stdout
}

fn prices_json(args: &[&str]) -> Value {
    let mut full = args.to_vec();
    full.push("--json");
    serde_json::from_str(&prices_ok(&full)).expect("--json prints one JSON document")
}

/// The cells after a row's label in the rate table: `label` then one value per column.
/// The first row with that label, or the first after `section` when one is given.
fn row<'a>(text: &'a str, section: Option<&str>, label: &str) -> Vec<&'a str> {
    let mut lines = text.lines();
    if let Some(section) = section {
        lines.find(|l| l.starts_with(section)).unwrap_or_else(|| panic!("no section {section:?}:\n{text}"));
    }
    let line = lines
        .find(|l| l.strip_prefix(label).is_some_and(|rest| rest.starts_with("  ")))
        .unwrap_or_else(|| panic!("no row {label:?}:\n{text}"));
    line[label.len()..].split_whitespace().collect()
}

fn header(text: &str) -> Vec<&str> {
    text.lines().find(|l| l.starts_with("USD per 1M tokens")).unwrap()["USD per 1M tokens".len()..]
        .split_whitespace()
        .collect()
}

#[test]
fn gpt_4o_shows_its_rates_per_million_tokens_with_its_service_tiers() {
    let text = prices_ok(&["gpt-4o"]);
    assert!(text.starts_with("gpt-4o → priced as gpt-4o (exact name)\n"), "{text}");
    assert!(text.contains("source           catalog"), "{text}");
    assert!(text.contains(&format!("catalog version  {}", catalog::catalog_version())), "{text}");
    assert_eq!(header(&text), ["standard", "batch", "priority"]);
    assert_eq!(row(&text, None, "input"), ["2.5", "1.25", "4.25"]);
    assert_eq!(row(&text, None, "output"), ["10", "5", "17"]);
    assert_eq!(row(&text, None, "cached read"), ["1.25", "—", "2.125"]);
    assert_eq!(row(&text, None, "cache write 1h"), ["—", "—", "—"], "rates the catalog lacks");
    assert!(text.contains("—  not in the price list"), "the dash is explained: {text}");

    let json = prices_json(&["gpt-4o"]);
    assert_eq!(json["price_key"], "gpt-4o");
    assert_eq!(json["cost_source"], "catalog");
    assert_eq!(json["provider"], "openai");
    assert_eq!(json["unit"], "USD per 1M tokens");
    assert_eq!(json["rates"]["input"], "2.5");
    assert_eq!(json["rates"]["output"], "10");
    assert_eq!(json["rates"]["cache_read"], "1.25");
    assert!(json["rates"]["cache_write_5m"].is_null());
    assert_eq!(json["service_tiers"]["batch"]["rates"]["input"], "1.25");
    assert_eq!(json["service_tiers"]["priority"]["rates"]["output"], "17");
    assert!(json["service_tiers"].get("flex").is_none(), "gpt-4o has no flex price");
}

#[test]
fn anthropic_model_shows_its_5_minute_and_1_hour_cache_writes() {
    let text = prices_ok(&["claude-sonnet-4-5", "--provider", "anthropic"]);
    assert!(text.contains("looked up for    anthropic"), "{text}");
    assert_eq!(row(&text, None, "cache write 5m"), ["3.75", "1.875"]);
    // The batch 1-hour price is derived, not published: marked and explained.
    assert_eq!(row(&text, None, "cache write 1h"), ["6", "3*"]);
    assert!(text.contains("*  not published"), "{text}");

    let json = prices_json(&["claude-sonnet-4-5"]);
    assert_eq!(json["rates"]["cache_write_5m"], "3.75");
    assert_eq!(json["rates"]["cache_write_1h"], "6");
    assert_eq!(json["cache_write_1h_derived"], false);
    assert_eq!(json["service_tiers"]["batch"]["cache_write_1h_derived"], true);
}

#[test]
fn long_context_tier_is_shown_beside_the_base_rates() {
    let text = prices_ok(&["gemini/gemini-2.5-pro"]);
    assert_eq!(header(&text), ["standard", "batch", "flex", "priority"]);
    assert_eq!(row(&text, None, "input"), ["1.25", "0.625", "0.625", "2.25"]);
    let tier = Some("above 200k input tokens");
    assert_eq!(row(&text, tier, "input"), ["2.5", "1.25", "—", "4.5"], "{text}");
    assert_eq!(row(&text, tier, "output"), ["15", "7.5", "—", "27"]);

    let json = prices_json(&["gemini/gemini-2.5-pro"]);
    assert_eq!(json["context_tiers"][0]["above_input_tokens"], 200_000);
    assert_eq!(json["context_tiers"][0]["rates"]["input"], "2.5");
    assert_eq!(json["service_tiers"]["priority"]["context_tiers"][0]["rates"]["output"], "27");
}

#[test]
fn dated_prefixed_and_fine_tuned_names_say_which_entry_prices_them() {
    let text = prices_ok(&["gpt-4o-2099-01-01"]);
    assert!(text.starts_with("gpt-4o-2099-01-01 → priced as gpt-4o (date suffix stripped)\n"), "{text}");
    assert_eq!(row(&text, None, "input")[0], "2.5");

    let text = prices_ok(&["openai/gpt-4o-2099-01-01"]);
    assert!(
        text.starts_with("openai/gpt-4o-2099-01-01 → priced as gpt-4o (provider prefix \"openai/\" stripped, date suffix stripped)"),
        "{text}"
    );

    let fine_tuned = "ft:gpt-4o-2024-08-06:acme:support:9xYz1";
    let text = prices_ok(&[fine_tuned]);
    assert!(
        text.starts_with(&format!("{fine_tuned} → priced as ft:gpt-4o-2024-08-06 (fine-tuned")),
        "{text}"
    );
    assert_eq!(row(&text, None, "input")[0], "3.75", "the fine-tuning price, not gpt-4o's");

    let text = prices_ok(&["gpt-4o", "--provider", "azure"]);
    assert!(text.starts_with("gpt-4o → priced as azure/gpt-4o (the provider's own entry)"), "{text}");

    let json = prices_json(&["gpt-4o-2099-01-01"]);
    assert_eq!(json["model"], "gpt-4o-2099-01-01");
    assert_eq!(json["price_key"], "gpt-4o");
    assert_eq!(json["resolution"]["rule"], "date_suffix");
    let json = prices_json(&[fine_tuned]);
    assert_eq!(json["resolution"]["rule"], "fine_tuned");
    assert_eq!(json["price_key"], "ft:gpt-4o-2024-08-06");
    let json = prices_json(&["openai/gpt-4o"]);
    assert_eq!(json["resolution"]["stripped_prefix"], "openai/");
}

#[test]
fn unknown_model_exits_1_and_suggests_keys_containing_its_name() {
    let out = costline(&["prices", "sonnet-4-5"]);
    assert_eq!(out.code, 1);
    assert!(out.stdout.is_empty());
    assert!(out.stderr.contains("no price for model \"sonnet-4-5\""), "{}", out.stderr);
    let suggested =
        out.stderr.split("did you mean ").nth(1).expect("suggestions").trim_end().trim_end_matches('?');
    let keys: Vec<&str> = suggested.split(", ").collect();
    assert!(keys.contains(&"claude-sonnet-4-5"), "{keys:?}");
    assert!(keys.len() <= 5 && keys.iter().all(|k| k.contains("sonnet-4-5")), "{keys:?}");

    let out = costline(&["prices", "no-such-model-xyz", "--json"]);
    assert_eq!(out.code, 1);
    assert!(out.stdout.is_empty());
    assert!(!out.stderr.contains("did you mean"), "{}", out.stderr);
    assert!(out.stderr.contains("--search"), "points at the search: {}", out.stderr);
}

#[test]
fn table_lists_every_model_sorted_and_aligned() {
    let text = prices_ok(&[]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["model", "provider", "input", "$/1M", "output", "$/1M", "cached", "$/1M"]
    );
    let rows: Vec<&str> = lines[1..].iter().take_while(|l| !l.is_empty()).copied().collect();
    assert_eq!(rows.len(), catalog::current().len());
    let keys: Vec<&str> = rows.iter().map(|r| r.split_whitespace().next().unwrap()).collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "sorted by key");
    // Right-aligned rates: every row ends where the header does.
    let width = lines[0].chars().count();
    assert!(rows.iter().all(|r| r.chars().count() == width));
    let gpt_4o = rows.iter().find(|r| r.starts_with("gpt-4o ")).unwrap();
    assert_eq!(gpt_4o.split_whitespace().collect::<Vec<_>>(), ["gpt-4o", "openai", "2.5", "10", "1.25"]);
    assert!(lines
        .last()
        .unwrap()
        .contains(&format!("models, catalog version {}", catalog::catalog_version())));
}

#[test]
fn table_filters_by_provider_and_search() {
    let text = prices_ok(&["--provider", "anthropic"]);
    let rows: Vec<Vec<&str>> =
        text.lines().skip(1).take_while(|l| !l.is_empty()).map(|l| l.split_whitespace().collect()).collect();
    assert!(rows.iter().any(|r| r[0] == "claude-sonnet-4-5"));
    assert!(rows.iter().all(|r| r[1] == "anthropic"), "{text}");

    // A family covers litellm's variants of a provider's name.
    let json = prices_json(&["--provider", "google"]);
    let providers: Vec<&str> =
        json.as_array().unwrap().iter().map(|e| e["provider"].as_str().unwrap()).collect();
    assert!(providers.contains(&"gemini") && providers.contains(&"vertex_ai-language-models"));
    assert!(providers.iter().all(|p| *p == "gemini" || p.starts_with("vertex_ai")), "{providers:?}");

    let json = prices_json(&["--search", "4O-MINI", "--provider", "openai"]);
    let keys: Vec<&str> = json.as_array().unwrap().iter().map(|e| e["key"].as_str().unwrap()).collect();
    assert!(keys.contains(&"gpt-4o-mini"), "{keys:?}");
    assert!(keys.iter().all(|k| k.contains("4o-mini")), "{keys:?}");
    assert!(json.as_array().unwrap().iter().all(|e| e["provider"] == "openai"));

    let text = prices_ok(&["--search", "no-such-model-xyz"]);
    assert!(text.starts_with("No models match"), "{text}");
    assert_eq!(prices_json(&["--search", "no-such-model-xyz"]), serde_json::json!([]));
}

#[test]
fn table_json_rates_are_exact_decimal_strings_per_million_tokens() {
    let json = prices_json(&[]);
    let entries = json.as_array().expect("an array");
    let pricing = catalog::current();
    assert_eq!(entries.len(), pricing.len());
    let million = Decimal::from(1_000_000);
    for entry in entries {
        let key = entry["key"].as_str().unwrap();
        let price = pricing.get(key).unwrap().price;
        let shown = entry["rates"]["input"].as_str().expect("a decimal string");
        assert_eq!(Decimal::from_str(shown).unwrap(), price.input_rate() * million, "{key}");
        let trailing_zero = shown.contains('.') && shown.ends_with('0');
        assert!(!shown.contains('e') && !trailing_zero, "normalised, no exponent: {key}: {shown}");
        match (entry["rates"]["cache_read"].as_str(), price.standard.rates.cache_read) {
            (Some(shown), Some(rate)) => assert_eq!(Decimal::from_str(shown).unwrap(), rate * million),
            (None, None) => {}
            other => panic!("{key}: {other:?}"),
        }
    }
    let gpt_4o = entries.iter().find(|e| e["key"] == "gpt-4o").unwrap();
    assert_eq!(gpt_4o["rates"]["input"], "2.5");
    assert_eq!(gpt_4o["cost_source"], "catalog");
}

#[test]
fn search_is_for_the_table_only() {
    let out = costline(&["prices", "gpt-4o", "--search", "mini"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--search"), "{}", out.stderr);
}

/// A stdout whose reader went away (`costline prices | head -1`).
struct ClosedPipe;

impl Write for ClosedPipe {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::from(io::ErrorKind::BrokenPipe))
    }
    fn flush(&mut self) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::BrokenPipe))
    }
}

#[test]
fn closed_stdout_ends_quietly() {
    for args in [vec!["prices"], vec!["prices", "--json"], vec!["prices", "gpt-4o"]] {
        let mut err = Vec::new();
        let code = cli::run(args.iter().map(|s| s.to_string()).collect(), &mut ClosedPipe, &mut err);
        assert_eq!(code, 0, "{args:?}");
        assert!(err.is_empty(), "{}", String::from_utf8_lossy(&err));
    }
}
