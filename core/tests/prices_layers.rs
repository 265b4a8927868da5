//! Price overrides in two layers, a file and an inline table, each replaced only
//! when named again: setting one keeps the other. One test, since the pricing is
//! process-wide.

use std::str::FromStr;

use costline_core::catalog;
use rust_decimal::Decimal;
use serde_json::json;

fn input_rate(model: &str) -> Option<Decimal> {
    catalog::current().get(model).map(|r| r.price.input_rate())
}

#[test]
fn each_layer_survives_changes_to_the_other_and_a_bad_source_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prices.json");
    std::fs::write(
        &file,
        r#"{"layer-file-model": {"input": "1", "output": "1"}, "both": {"input": "1", "output": "1"}}"#,
    )
    .unwrap();
    let d = |text: &str| Some(Decimal::from_str(text).unwrap());

    catalog::set_inline_prices(Some(
        &json!({"layer-inline-model": {"input": "2", "output": "2"}, "both": {"input": "2", "output": "2"}}),
    ))
    .unwrap();
    catalog::set_price_file(Some(&file)).unwrap();
    assert_eq!(input_rate("layer-inline-model"), d("2"), "the inline table survives a new file");
    assert_eq!(input_rate("layer-file-model"), d("1"));
    assert_eq!(input_rate("both"), d("2"), "inline wins over the file");

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"layer-file-model": {"input": "x", "output": "1"}}"#).unwrap();
    let version = catalog::current().version().to_string();
    assert!(catalog::set_price_file(Some(&bad)).is_err());
    assert!(catalog::set_inline_prices(Some(&json!({"m": {"input": "1"}}))).is_err());
    assert_eq!(catalog::current().version(), version, "a bad source changes nothing");
    assert_eq!(input_rate("layer-file-model"), d("1"));
    assert_eq!(input_rate("layer-inline-model"), d("2"));

    catalog::set_inline_prices(Some(&json!({"layer-inline-2": {"input": "3", "output": "3"}}))).unwrap();
    assert_eq!(input_rate("layer-file-model"), d("1"), "the file survives a new inline table");
    assert_eq!(input_rate("layer-inline-model"), None, "a new inline table replaces the old one");
    assert_eq!(input_rate("both"), d("1"));

    catalog::set_price_file(None).unwrap();
    assert_eq!(input_rate("layer-file-model"), None);
    assert_eq!(input_rate("layer-inline-2"), d("3"));
    catalog::set_inline_prices(None).unwrap();
    assert_eq!(catalog::current().version(), catalog::catalog_version());
}
