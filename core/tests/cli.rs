//! The `costline` command line and the reports behind it, run in-process
//! against temporary ledgers.

mod support;

use std::io::{self, Write};
use std::path::Path;

use costline_core::cli;
use costline_core::event::{Event, Status};
use costline_core::ledger::Ledger;
use costline_core::report::{GroupBy, Report};
use rust_decimal::Decimal;
use support::event_costing;

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

fn costing(cost: Option<&str>, agent: &str, model: &str) -> Event {
    let mut e = event_costing(cost);
    e.agent = Some(agent.into());
    e.agent_path = vec![agent.into()];
    e.model = model.into();
    e
}

fn ledger_with(path: &Path, events: &[Event]) {
    Ledger::open(path).unwrap().insert(events, false).unwrap();
}

#[test]
fn report_totals_are_exact_decimal_sums() {
    let events: Vec<Event> = (0..3).map(|_| costing(Some("0.1"), "triage", "gpt-4o")).collect();
    let report = Report::build(vec![GroupBy::Agent], None, events);
    assert_eq!(report.totals.cost_usd(), Some(Decimal::new(3, 1)));
    assert_eq!(report.totals.cost_usd().unwrap().to_string(), "0.3");
    assert_eq!(report.to_json()["totals"]["cost_usd"], "0.3");
}

#[test]
fn unpriced_calls_are_counted_and_never_shown_as_zero() {
    let events = vec![
        costing(None, "lookup", "mystery-model"),
        costing(None, "lookup", "mystery-model"),
        costing(Some("0.25"), "triage", "gpt-4o"),
    ];
    let report = Report::build(vec![GroupBy::Model], None, events);
    let mystery = report.rows.iter().find(|r| r.key == vec![Some("mystery-model".to_string())]).unwrap();
    assert_eq!(mystery.totals.cost_usd(), None);
    assert_eq!(mystery.totals.unpriced_calls, 2);
    assert_eq!(report.totals.cost_usd().unwrap().to_string(), "0.25");
    assert_eq!(report.totals.unpriced_calls, 2);

    let table = report.render_table();
    let line = table.lines().find(|l| l.starts_with("mystery-model")).unwrap();
    assert!(line.contains("unknown") && !line.contains('$'), "{line}");
    assert!(table.lines().next().unwrap().contains("unpriced"));
    let json = report.to_json();
    let row =
        json["rows"].as_array().unwrap().iter().find(|r| r["group"]["model"] == "mystery-model").unwrap();
    assert!(row["cost_usd"].is_null());
}

#[test]
fn report_groups_by_combinations_and_prints_an_aligned_table_with_totals() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let mut failed = costing(Some("0.002"), "triage", "gpt-4o");
    failed.status = Status::Error;
    failed.input_tokens = 0;
    failed.cached_input_tokens = 0;
    failed.output_tokens = 0;
    ledger_with(
        &path,
        &[
            costing(Some("0.00725"), "triage", "gpt-4o"),
            costing(Some("0.00725"), "triage", "gpt-4o"),
            failed,
            costing(Some("0.0003"), "summarizer", "gpt-4o-mini"),
        ],
    );
    let out = costline(&["report", "--ledger", path.to_str().unwrap(), "--by", "agent,model"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", out.stdout);
    assert!(lines[0].starts_with("agent") && lines[0].contains("model") && lines[0].contains("cost (USD)"));
    assert!(lines[1].starts_with("triage") && lines[1].contains("$0.0165"), "{}", lines[1]);
    assert!(lines[2].starts_with("summarizer") && lines[2].contains("$0.0003"));
    assert!(lines[3].starts_with("total") && lines[3].contains("$0.0168"), "{}", lines[3]);
    assert!(
        lines[1].contains("2,000") && lines[3].contains("3,000"),
        "tokens with separators: {}",
        out.stdout
    );
    // Every line ends where its cost column ends: right-aligned figures.
    let width = lines[0].len();
    assert!(lines.iter().all(|l| l.len() == width), "{}", out.stdout);

    let out = costline(&["report", "--ledger", path.to_str().unwrap(), "--by", "tag:customer", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["by"], serde_json::json!(["tag:customer"]));
    assert_eq!(json["rows"][0]["group"]["tag:customer"], "acme");
    assert_eq!(json["totals"]["calls"], 4);
    assert_eq!(json["totals"]["errors"], 1);
    assert_eq!(json["totals"]["cost_usd"], "0.0168");
}

#[test]
fn since_filters_out_older_calls() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let mut old = costing(Some("1"), "triage", "gpt-4o");
    old.timestamp = "2020-01-01T00:00:00.000Z".into();
    ledger_with(&path, &[old, costing(Some("0.5"), "triage", "gpt-4o")]);
    for since in ["7d", "2021-01-01", "2021-01-01T00:00:00Z"] {
        let out = costline(&["report", "--ledger", path.to_str().unwrap(), "--since", since, "--json"]);
        let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(json["totals"]["calls"], 1, "--since {since}");
        assert_eq!(json["totals"]["cost_usd"], "0.5");
    }
    let out = costline(&["report", "--ledger", path.to_str().unwrap(), "--by", "day"]);
    assert!(
        out.stdout.lines().nth(1).unwrap().starts_with("2020-01-01"),
        "days in time order: {}",
        out.stdout
    );
}

#[test]
fn export_jsonl_is_the_wire_format_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let events = vec![costing(Some("0.00725"), "triage", "gpt-4o"), costing(None, "lookup", "mystery")];
    ledger_with(&path, &events);
    let out = costline(&["export", "--ledger", path.to_str().unwrap(), "--format", "jsonl"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines, events.iter().map(Event::to_json).collect::<Vec<_>>());
    let parsed: Vec<Event> = lines.iter().map(|l| Event::from_json(l).unwrap()).collect();
    assert_eq!(parsed, events);
}

#[test]
fn export_csv_has_a_header_and_one_row_per_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let mut tagged = costing(Some("0.1"), "triage", "gpt-4o");
    tagged.tags.insert("note".into(), "has, a comma and \"quotes\"".into());
    ledger_with(&path, &[tagged.clone()]);
    let out = costline(&["export", "--ledger", path.to_str().unwrap(), "--format", "csv"]);
    assert_eq!(out.code, 0, "{}", out.stderr);

    let mut reader = csv::Reader::from_reader(out.stdout.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, cli::CSV_COLUMNS);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    let cell = |name: &str| rows[0][header.iter().position(|h| h == name).unwrap()].to_string();
    assert_eq!(cell("event_id"), tagged.event_id);
    assert_eq!(cell("cost_usd"), "0.1");
    assert_eq!(cell("stream"), "false");
    let tags: std::collections::BTreeMap<String, String> = serde_json::from_str(&cell("tags")).unwrap();
    assert_eq!(tags, tagged.tags);
}

#[test]
fn csv_columns_are_exactly_the_wire_fields() {
    // With the fields only a fallback chain's events carry.
    let event = Event { call_id: Some("c".into()), attempt: Some(1), ..costing(Some("1"), "a", "m") };
    let wire = serde_json::to_value(event).unwrap();
    let mut fields: Vec<&str> = wire.as_object().unwrap().keys().map(String::as_str).collect();
    let mut columns = cli::CSV_COLUMNS.to_vec();
    fields.sort_unstable();
    columns.sort_unstable();
    assert_eq!(fields, columns);
}

#[test]
fn missing_ledger_is_a_clear_message_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nothing-here.db");
    for command in ["report", "export"] {
        let out = costline(&[command, "--ledger", path.to_str().unwrap()]);
        assert_eq!(out.code, 1);
        assert!(out.stderr.contains("no ledger file"), "{}", out.stderr);
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn usage_errors_exit_2_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    ledger_with(&path, &[]);
    let ledger = path.to_str().unwrap();
    for (args, needle) in [
        (vec!["report", "--ledger", ledger, "--by", "colour"], "cannot group by \"colour\""),
        (vec!["report", "--ledger", ledger, "--since", "yesterday"], "--since \"yesterday\""),
        (vec!["export", "--ledger", ledger, "--format", "xml"], "xml"),
        (vec!["frobnicate"], "frobnicate"),
        (vec![], "Usage"),
    ] {
        let out = costline(&args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(needle), "{args:?}: {}", out.stderr);
    }
    let help = costline(&["--help"]);
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("report"));
}

#[test]
fn empty_ledger_reports_no_calls() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    ledger_with(&path, &[]);
    let out = costline(&["report", "--ledger", path.to_str().unwrap()]);
    assert_eq!(out.code, 0);
    assert_eq!(out.stdout, "No calls recorded.\n");
}

/// A stdout whose reader went away (`costline export | head -1`).
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
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    ledger_with(&path, &(0..10).map(|_| costing(Some("0.1"), "a", "m")).collect::<Vec<_>>());
    for args in [["export", "--format", "jsonl"], ["export", "--format", "csv"], ["report", "--by", "agent"]]
    {
        let mut err = Vec::new();
        let mut full_args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        full_args.extend(["--ledger".to_string(), path.to_str().unwrap().to_string()]);
        let code = cli::run(full_args, &mut ClosedPipe, &mut err);
        assert_eq!(code, 0, "{args:?}");
        assert!(err.is_empty(), "{}", String::from_utf8_lossy(&err));
    }
}
