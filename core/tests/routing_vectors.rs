//! Replays tests/vectors/routing/decisions.json through `routing::decide_json`, the one
//! function both bindings will call: the Python and Node suites can replay the same file.

use std::path::PathBuf;

use costline_core::{catalog, routing};
use serde_json::Value;

#[test]
fn routing_vectors_pick_the_expected_model_or_error() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/routing/decisions.json");
    let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    catalog::set_inline_prices(Some(&file["prices"])).unwrap();
    let mut failures = Vec::new();
    for case in file["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let expected = &case["expected"];
        let outcome = routing::decide_json(&case["input"].to_string());
        let got: Value = match &outcome {
            Ok(text) | Err(text) => serde_json::from_str(text).unwrap(),
        };
        let ok = match (&outcome, expected.get("error_code")) {
            (Err(_), Some(code)) => got["code"] == *code,
            (Ok(_), None) => {
                got["model"] == expected["model"]
                    && ["required_level", "level_raised"]
                        .iter()
                        .all(|k| expected.get(*k).is_none_or(|v| got[*k] == *v))
            }
            _ => false,
        };
        if !ok {
            failures.push(format!("{name}: expected {expected}, got {}", got.get("reason").unwrap_or(&got)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
