//! A malformed COSTLINE_PRICES at start-up: ignored (prices from the catalog), its
//! error kept for the language layer to log, and no poisoned state: other overrides
//! still install; naming the file again returns the error. Its own test binary,
//! because the variable is read when the process's pricing is first built.

use costline_core::catalog;
use serde_json::json;

#[test]
fn a_bad_env_price_file_is_ignored_reported_once_and_poisons_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("env-prices.json");
    std::fs::write(&path, "{\n  \"env-model\": {\n    \"input\": \"1\",\n    \"output\": \"free\"\n  }\n}\n")
        .unwrap();
    std::env::set_var("COSTLINE_PRICES", &path);

    catalog::prewarm();
    let pricing = catalog::current();
    assert_eq!(pricing.version(), catalog::catalog_version(), "catalog only");
    assert!(pricing.get("gpt-4o").is_some());

    let reported = catalog::take_startup_error().expect("the start-up error is kept").to_string();
    for part in [path.display().to_string().as_str(), "line 4, column 5", "\"env-model\"", "field output"] {
        assert!(reported.contains(part), "{part:?} in {reported}");
    }
    assert!(catalog::take_startup_error().is_none(), "reported once");

    catalog::set_inline_prices(Some(&json!({"inline-model": {"input": "1", "output": "1"}}))).unwrap();
    assert!(catalog::current().get("inline-model").is_some());
    let again = catalog::set_price_file(Some(&path)).unwrap_err().to_string();
    assert!(again.contains("line 4, column 5"), "{again}");
    assert!(catalog::current().get("inline-model").is_some());
    std::env::remove_var("COSTLINE_PRICES");
}
