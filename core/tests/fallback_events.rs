//! Events of a fallback chain carry `call_id` and `attempt` (issue 10) through the wire
//! format and the ledger, including a ledger written before those fields existed.

mod support;

use std::ops::ControlFlow;

use costline_core::event::Event;
use costline_core::ledger::Ledger;

fn read_all(ledger: &Ledger) -> Vec<Event> {
    let mut out = Vec::new();
    ledger
        .for_each_event(None, |e| {
            out.push(e);
            ControlFlow::Continue(())
        })
        .unwrap();
    out
}

fn attempt(n: u32) -> Event {
    Event {
        call_id: Some("0193a5c0-0000-7000-8000-000000000001".into()),
        attempt: Some(n),
        ..support::event_costing(Some("0.001"))
    }
}

#[test]
fn call_id_and_attempt_are_on_the_wire_only_when_set() {
    let json: serde_json::Value = serde_json::from_str(&attempt(2).to_json()).unwrap();
    assert_eq!(json["call_id"], "0193a5c0-0000-7000-8000-000000000001");
    assert_eq!(json["attempt"], 2);
    let plain: serde_json::Value = serde_json::from_str(&support::event_costing(None).to_json()).unwrap();
    assert!(plain.get("call_id").is_none() && plain.get("attempt").is_none());
    let second = attempt(2);
    assert_eq!(Event::from_json(&second.to_json()).unwrap(), second);
}

#[test]
fn attempt_zero_and_empty_call_ids_are_invalid() {
    assert!(Event { attempt: Some(0), ..attempt(1) }.validate().is_err());
    assert!(Event { call_id: Some(String::new()), ..attempt(1) }.validate().is_err());
}

#[test]
fn the_ledger_keeps_call_id_and_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(&dir.path().join("l.db")).unwrap();
    let events = [attempt(1), attempt(2), support::event_costing(None)];
    ledger.insert(&events, false).unwrap();
    let back = read_all(&ledger);
    assert_eq!(back.len(), 3);
    for e in &events {
        assert!(back.contains(e), "{e:?}");
    }
}

#[test]
fn a_ledger_from_before_call_ids_gains_the_columns_and_keeps_its_events() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        // Schema version 1 as the first releases wrote it.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_version (version INTEGER NOT NULL);
             INSERT INTO schema_version (version) VALUES (1);
             CREATE TABLE events (
               seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, timestamp TEXT NOT NULL,
               timestamp_ms INTEGER NOT NULL, provider TEXT NOT NULL, operation TEXT NOT NULL,
               model TEXT NOT NULL, resolved_model TEXT, input_tokens INTEGER NOT NULL,
               output_tokens INTEGER NOT NULL, cached_input_tokens INTEGER NOT NULL,
               cache_write_input_tokens INTEGER NOT NULL, reasoning_tokens INTEGER NOT NULL,
               usage_source TEXT NOT NULL, cost_usd TEXT, cost_source TEXT NOT NULL,
               catalog_version TEXT NOT NULL, price_key TEXT, latency_ms INTEGER NOT NULL,
               stream INTEGER NOT NULL, status TEXT NOT NULL, error_type TEXT, run_id TEXT, agent TEXT,
               agent_path TEXT NOT NULL, tags TEXT NOT NULL, sdk TEXT NOT NULL, export_status TEXT);
             CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE,
               claimed_until_ms INTEGER NOT NULL DEFAULT 0);
             INSERT INTO events (event_id, timestamp, timestamp_ms, provider, operation, model,
               input_tokens, output_tokens, cached_input_tokens, cache_write_input_tokens, reasoning_tokens,
               usage_source, cost_source, catalog_version, latency_ms, stream, status, agent_path, tags, sdk)
             VALUES ('old-1', '2026-01-02T03:04:05.000Z', 1767323045000, 'openai', 'chat', 'gpt-4o',
               1, 1, 0, 0, 0, 'provider', 'unknown', 'v', 1, 0, 'ok', '[]', '{}',
               '{\"lang\":\"python\",\"version\":\"0\"}');",
        )
        .unwrap();
    }
    let mut ledger = Ledger::open(&path).unwrap();
    let first = attempt(1);
    ledger.insert(std::slice::from_ref(&first), false).unwrap();
    let back = read_all(&ledger);
    assert_eq!(back.len(), 2);
    assert_eq!((back[0].event_id.as_str(), back[0].call_id.as_ref(), back[0].attempt), ("old-1", None, None));
    assert!(back.contains(&first));
}
