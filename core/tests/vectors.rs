//! Replays the cross-language vectors in `tests/vectors/` (the Python and Node suites
//! replay the same files): usage payload -> tokens and cost, model name -> price key.

use std::path::PathBuf;
use std::str::FromStr;

use costline_core::{catalog, cost, usage};
use rust_decimal::Decimal;
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// When a vector fails after the catalog was regenerated, say so.
fn catalog_hint(file: &Value) -> String {
    let computed_for = file["catalog_version"].as_str().unwrap_or("?");
    let current = catalog::current().version().to_string();
    if computed_for == current {
        String::new()
    } else {
        format!(" (vectors were computed for catalog {computed_for}, the catalog is now {current}: re-check them)")
    }
}

/// A field the vector must have (`null` is a value; a missing key is an error,
/// never read as null).
fn field<'a>(value: &'a Value, name: &str) -> &'a Value {
    value.get(name).unwrap_or_else(|| panic!("{name} missing in {value}"))
}

fn text<'a>(value: &'a Value, name: &str) -> &'a str {
    field(value, name).as_str().unwrap_or_else(|| panic!("{name} is not a string in {value}"))
}

/// A string field that may be `null`, but must be there.
fn nullable_text<'a>(value: &'a Value, name: &str) -> Option<&'a str> {
    match field(value, name) {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => panic!("{name} is neither a string nor null: {other}"),
    }
}

#[test]
fn a_missing_expectation_fails_instead_of_reading_as_null() {
    let vector = serde_json::json!({"expected": {"cost_usd": null}});
    assert_eq!(nullable_text(&vector["expected"], "cost_usd"), None);
    let missing = std::panic::catch_unwind(|| nullable_text(&vector["expected"], "price_key").map(str::len));
    assert!(missing.is_err());
}

#[test]
fn usage_cost_vectors() {
    let file = load("usage_cost.json");
    let hint = catalog_hint(&file);
    let vectors = file["vectors"].as_array().expect("vectors list");
    assert!(vectors.len() >= 12);
    let mut failures = Vec::new();
    for vector in vectors {
        let name = text(vector, "name");
        let provider = text(vector, "provider");
        let model = text(vector, "model");
        let parts = vector["usage_parts"].as_array().expect("usage_parts list");
        let expected = &vector["expected"];

        let normalized = usage::normalize(provider, parts);
        let usage = normalized.usage;
        // A malformed payload is sanitised, and its event marked an estimate.
        let want_source = expected["usage_source"].as_str().unwrap_or("provider");
        let got_source = if normalized.problems.is_empty() { "provider" } else { "estimate" };
        if got_source != want_source {
            failures.push(format!(
                "{name}: usage_source = {got_source}, expected {want_source} (problems: {:?})",
                normalized.problems
            ));
        }
        let tokens = [
            ("input_tokens", usage.input_tokens),
            ("output_tokens", usage.output_tokens),
            ("cached_input_tokens", usage.cached_input_tokens),
            ("cache_write_input_tokens", usage.cache_write_input_tokens()),
            ("reasoning_tokens", usage.reasoning_tokens),
        ];
        for (field, got) in tokens {
            let want = expected[field].as_u64().unwrap_or_else(|| panic!("{name}: expected.{field}"));
            if got != want {
                failures.push(format!("{name}: {field} = {got}, expected {want}"));
            }
        }

        let priced = cost::cost_for(Some(provider), model, &usage);
        let (got_cost, got_source, got_key) = match &priced {
            Some((cost, source, key)) => (Some(*cost), source.as_str(), Some(key.as_str())),
            None => (None, "unknown", None),
        };
        let want_cost =
            nullable_text(expected, "cost_usd").map(|c| Decimal::from_str(c).expect("decimal cost_usd"));
        if got_cost != want_cost {
            failures
                .push(format!("{name}: cost_usd = {got_cost:?}, expected {want_cost:?}; {}", vector["note"]));
        }
        if got_source != text(expected, "cost_source") {
            failures
                .push(format!("{name}: cost_source = {got_source}, expected {}", expected["cost_source"]));
        }
        if got_key != nullable_text(expected, "price_key") {
            failures.push(format!("{name}: price_key = {got_key:?}, expected {}", expected["price_key"]));
        }
    }
    assert!(failures.is_empty(), "{} failures{hint}:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn model_resolution_vectors() {
    let file = load("model_resolution.json");
    let hint = catalog_hint(&file);
    let pricing = catalog::current();
    let mut failures = Vec::new();
    for case in file["cases"].as_array().expect("cases list") {
        let (model, provider) = (text(case, "model"), text(case, "provider"));
        let want = nullable_text(case, "expected_price_key");
        let got = pricing.resolve(provider, model).map(|r| r.key);
        if got != want {
            failures.push(format!(
                "{model:?} via {provider:?}: got {got:?}, expected {want:?} ({})",
                case["step"]
            ));
        }
    }
    assert!(failures.is_empty(), "{} failures{hint}:\n{}", failures.len(), failures.join("\n"));
}
