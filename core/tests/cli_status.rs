//! `costline status` from another process: what the ledger knows.

mod support;

use std::time::Duration;

use costline_core::cli;
use costline_core::ledger::{ExportOutcome, Ledger};
use support::event;

fn costline(args: &[&str]) -> (i32, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = cli::run(args.iter().map(|s| s.to_string()).collect(), &mut out, &mut err);
    (code, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
}

/// 2 events never owed to a collector, then 5 queued: 2 exported, 1 rejected, 2 pending.
fn ledger_with_export_history(path: &std::path::Path) {
    let mut ledger = Ledger::open(path).unwrap();
    ledger.insert(&[event(), event()], false).unwrap();
    ledger.insert(&(0..5).map(|_| event()).collect::<Vec<_>>(), true).unwrap();
    let claimed = ledger.claim_for_export(3, Duration::from_secs(60)).unwrap();
    let seqs: Vec<i64> = claimed.iter().map(|o| o.seq).collect();
    ledger.finish_export(&seqs[..2], ExportOutcome::Exported).unwrap();
    ledger.finish_export(&seqs[2..], ExportOutcome::Rejected).unwrap();
}

#[test]
fn status_shows_written_pending_exported_and_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    ledger_with_export_history(&path);
    let path_text = path.display().to_string();

    let (code, out, err) = costline(&["status", "--ledger", &path_text]);
    assert_eq!(code, 0, "{err}");
    let line = |label: &str| {
        out.lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no {label} in {out}"))
            .to_string()
    };
    assert!(line("ledger").ends_with(&path_text));
    assert!(line("written").ends_with(" 7"), "{out}");
    assert!(line("pending export").ends_with(" 2"), "{out}");
    assert!(line("exported").ends_with(" 2"), "{out}");
    assert!(line("rejected").ends_with(" 1"), "{out}");
    assert!(line("dead letters").ends_with(" 0"), "{out}");
    assert!(!out.contains("latest dead letters"), "{out}");

    let (code, out, _) = costline(&["status", "--ledger", &path_text, "--json"]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["ledger"], path_text.as_str());
    assert_eq!(json["written"], 7);
    assert_eq!(json["pending_export"], 2);
    assert_eq!(json["exported"], 2);
    assert_eq!(json["rejected"], 1);
    assert_eq!(json["dead_letters"], 0);
    assert_eq!(json["latest_dead_letters"], serde_json::json!([]));
    assert!(json["last_event_at"].is_string());
}

#[test]
fn status_counts_dead_letters_and_shows_the_latest_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let mut ledger = Ledger::open(&path).unwrap();
    ledger.insert(&[event(), event(), event()], true).unwrap();
    let claimed = ledger.claim_for_export(3, Duration::from_secs(60)).unwrap();
    let refused: Vec<(i64, String)> =
        claimed.iter().map(|o| (o.seq, format!("model must not be empty ({})", o.seq))).collect();
    ledger.dead_letter(&refused).unwrap();
    drop(ledger);
    let path_text = path.display().to_string();

    let (code, out, _) = costline(&["status", "--ledger", &path_text]);
    assert_eq!(code, 0);
    assert!(out.lines().any(|l| l.starts_with("dead letters") && l.ends_with(" 3")), "{out}");
    assert!(out.lines().any(|l| l.starts_with("rejected") && l.ends_with(" 3")), "{out}");
    assert!(out.contains("latest dead letters") && out.contains("model must not be empty"), "{out}");
    let (_, out, _) = costline(&["status", "--ledger", &path_text, "--json"]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["dead_letters"], 3);
    assert_eq!(json["latest_dead_letters"].as_array().unwrap().len(), 3);
    assert!(json["latest_dead_letters"][0]["reason"]
        .as_str()
        .unwrap()
        .starts_with("model must not be empty"));
}

#[test]
fn status_of_a_missing_ledger_is_a_clear_message_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.db");
    let (code, _, err) = costline(&["status", "--ledger", &path.display().to_string()]);
    assert_eq!(code, 1);
    assert!(err.contains("no ledger file") && err.contains("absent.db"), "{err}");
}
