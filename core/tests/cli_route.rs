//! `costline route --explain FILE.json`: the table of candidates and the pick.

mod support;

use std::path::Path;

use costline_core::cli;
use costline_core::event::Status;
use costline_core::ledger::Ledger;
use serde_json::{json, Value};

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

fn write(dir: &Path, value: &Value) -> String {
    let path = dir.join("request.json");
    std::fs::write(&path, value.to_string()).unwrap();
    path.display().to_string()
}

fn routing_input() -> Value {
    json!({
        "request": {"model": "auto", "max_tokens": 100, "messages": [{"role": "user", "content":
            "Summarise the customer's message below in two friendly sentences, keeping the facts exact."}]},
        "candidates": [
            {"model": "gpt-4o-mini", "provider": "openai", "quality": 55},
            {"model": "gpt-4o", "provider": "openai", "quality": 72},
            {"model": "claude-sonnet-4-5", "provider": "anthropic", "quality": 78},
        ],
    })
}

/// The table's row for `model` (the pick is marked `*`).
fn row<'a>(stdout: &'a str, model: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.trim_start_matches(['*', ' ']).starts_with(&format!("{model} ")))
        .unwrap_or_else(|| panic!("no row for {model}:\n{stdout}"))
}

#[test]
fn a_bare_chat_request_is_explained_against_the_sourced_quality_table() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        &json!({"model": "auto", "messages": [{"role": "user", "content": "Hi, what is a refund?"}]}),
    );
    let out = costline(&["route", "--explain", &file]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for header in
        ["model", "provider", "prompt", "max out", "worst case $", "quality", "p50 ms", "eligible", "why not"]
    {
        assert!(out.stdout.contains(header), "{header}:\n{}", out.stdout);
    }
    for entry in &costline_core::routing::quality::table().models {
        row(&out.stdout, &entry.model);
    }
    assert!(out.stdout.contains("prefer: lowest_cost_that_meets_quality"), "{}", out.stdout);
    let pick = out.stdout.lines().find(|l| l.starts_with("pick: ")).expect("a pick line");
    let picked = pick["pick: ".len()..].split(' ').next().unwrap();
    assert!(row(&out.stdout, picked).starts_with("* "), "{}", out.stdout);
}

#[test]
fn prefer_max_cost_and_models_change_the_pick() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), &routing_input());
    let pick = |args: &[&str]| -> String {
        let mut full = vec!["route", "--explain", &file, "--json"];
        full.extend_from_slice(args);
        let out = costline(&full);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        let decision: Value = serde_json::from_str(&out.stdout).unwrap();
        decision["model"].as_str().unwrap().to_string()
    };
    assert_eq!(pick(&[]), "gpt-4o-mini");
    assert_eq!(pick(&["--prefer", "highest_quality"]), "claude-sonnet-4-5");
    assert_eq!(pick(&["--prefer", "highest_quality", "--max-cost-usd", "0.0012"]), "gpt-4o");
    assert_eq!(pick(&["--prefer", "lowest_cost", "--models", "gpt-4o,claude-sonnet-4-5"]), "gpt-4o");
}

#[test]
fn the_table_shows_costs_quality_and_why_not() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), &routing_input());
    let out =
        costline(&["route", "--explain", &file, "--prefer", "highest_quality", "--max-cost-usd", "0.0012"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let sonnet = row(&out.stdout, "claude-sonnet-4-5");
    assert!(sonnet.contains("worst case $0.00"), "{sonnet}");
    assert!(sonnet.contains(" no "), "{sonnet}");
    assert!(row(&out.stdout, "gpt-4o").starts_with("* gpt-4o "), "{}", out.stdout);
    assert!(row(&out.stdout, "gpt-4o").contains("72 (user)"), "{}", out.stdout);
    assert!(row(&out.stdout, "gpt-4o-mini").contains("lower quality than gpt-4o"), "{}", out.stdout);
    assert!(
        out.stdout.contains("pick: gpt-4o (openai): highest quality of 2 candidates within budget"),
        "{}",
        out.stdout
    );
}

#[test]
fn every_candidate_over_the_max_cost_fails_with_the_routing_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), &routing_input());
    let out = costline(&["route", "--explain", &file, "--max-cost-usd", "0.000001"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("cannot route (over_max_cost)"), "{}", out.stderr);
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_arguments_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), &routing_input());
    let bad_prefer = costline(&["route", "--explain", &file, "--prefer", "fastest"]);
    assert_eq!(bad_prefer.code, 2);
    assert!(bad_prefer.stderr.contains("lowest_cost_that_meets_quality"), "{}", bad_prefer.stderr);
    assert_eq!(costline(&["route", "--explain", &file, "--max-cost-usd", "abc"]).code, 2);
    assert_eq!(costline(&["route", "--explain", "/no/such/file.json"]).code, 2);
}

#[test]
fn lowest_latency_reads_p50_latencies_from_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let ledger_path = dir.path().join("ledger.db");
    let mut ledger = Ledger::open(&ledger_path).unwrap();
    let now = chrono::Utc::now();
    let events: Vec<_> = [("gpt-4o-mini", 800), ("gpt-4o", 300), ("claude-sonnet-4-5", 1200)]
        .into_iter()
        .map(|(model, latency)| {
            let mut e = support::event();
            e.model = model.into();
            e.latency_ms = latency;
            e.status = Status::Ok;
            e.timestamp = now.to_rfc3339();
            e
        })
        .collect();
    ledger.insert(&events, false).unwrap();
    drop(ledger);
    let file = write(dir.path(), &routing_input());
    let ledger_arg = ledger_path.display().to_string();
    let out = costline(&["route", "--explain", &file, "--prefer", "lowest_latency", "--ledger", &ledger_arg]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("pick: gpt-4o (openai): fastest of 3 candidates within budget (p50 300 ms)"),
        "{}",
        out.stdout
    );
}
