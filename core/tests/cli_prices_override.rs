//! `costline prices` with COSTLINE_PRICES set: overrides are shown as such. Its own test
//! binary with one test, because it sets a process-wide environment variable.

use costline_core::cli;

fn costline(args: &[&str]) -> (i32, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = cli::run(args.iter().map(|s| s.to_string()).collect(), &mut out, &mut err);
    (code, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
}

#[test]
fn price_file_entries_are_shown_as_overrides_and_a_bad_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prices.json");
    std::fs::write(
        &path,
        r#"{"costline-test-model": {"input_per_million": "1.5", "output_per_million": "3", "provider": "acme"}}"#,
    )
    .unwrap();
    std::env::set_var("COSTLINE_PRICES", &path);

    let (code, text, err) = costline(&["prices", "costline-test-model"]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("source           override"), "{text}");
    assert!(text.contains(".ovr-"), "the catalog version says overrides are in force: {text}");
    let (code, text, _) = costline(&["prices", "--provider", "acme"]);
    assert_eq!(code, 0);
    let row = text.lines().nth(1).unwrap();
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        ["costline-test-model", "(override)", "acme", "1.5", "3", "—"]
    );
    let (_, json, _) = costline(&["prices", "costline-test-model", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["cost_source"], "override");
    assert_eq!(json["rates"]["input"], "1.5");

    std::fs::write(&path, "{\n  \"costline-test-model\": {\"output\": \"1\",\n    \"input\": \"-1\"}\n}")
        .unwrap();
    let (code, text, err) = costline(&["prices", "costline-test-model"]);
    assert_eq!(code, 1);
    assert!(text.is_empty());
    // The file, the line and column, the model and the field: enough to fix it.
    for part in [
        &path.display().to_string(),
        "line 3, column 5",
        "\"costline-test-model\"",
        "field input",
        "negative price",
    ] {
        assert!(err.contains(part), "{part:?} in {err}");
    }
    std::env::remove_var("COSTLINE_PRICES");
}
