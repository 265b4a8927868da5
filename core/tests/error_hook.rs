//! The error hook (what Python's `on_error` rides on): export problems and
//! refused events reach it, without secrets, and a panicking hook harms
//! nothing. The hook is process-wide: its own test binary.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use costline_core::config::{Config, LedgerSetting};
use costline_core::hooks;
use costline_core::pipeline::Pipeline;
use costline_core::Error;
use support::{event, eventually, Reply, TestCollector};

const PATIENCE: Duration = Duration::from_secs(60);

type Heard = Arc<Mutex<Vec<(String, Option<u16>, Option<String>)>>>;

fn listen() -> Heard {
    let heard: Heard = Arc::default();
    let sink = Arc::clone(&heard);
    hooks::set_error_hook(Box::new(move |error, event| {
        let status = match error {
            Error::Export { status, .. } => *status,
            _ => None,
        };
        sink.lock().unwrap().push((error.to_string(), status, event.map(|e| e.event_id.clone())));
    }));
    heard
}

#[test]
fn export_errors_and_refused_events_reach_the_hook() {
    let heard = listen();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let bad = event();
    let bad_id = bad.event_id.clone();
    let named = bad_id.clone();
    let collector = TestCollector::start_reading(move |n, ids| match n {
        0 => Reply::Status(401),
        _ if ids.contains(&named) => Reply::StatusWithBody(
            400,
            format!(r#"{{"rejected": [{{"event_id": "{named}", "reason": "bad tag"}}]}}"#),
        ),
        _ => Reply::Status(200),
    });
    let config = Config {
        ledger: LedgerSetting::Path(path),
        base_url: Some(format!("{}/?token=url-secret", collector.base_url)),
        api_key: Some("sk-very-secret".into()),
        config_error_backoff: vec![Duration::from_millis(20)],
        ..Config::default()
    };
    let pipeline = Pipeline::start(config).unwrap();
    assert!(pipeline.enqueue(event()));
    assert!(pipeline.enqueue(bad));
    assert!(pipeline.flush(PATIENCE));

    let heard = heard.lock().unwrap().clone();
    let (unauthorized, status, event_id) = &heard[0];
    assert_eq!(*status, Some(401));
    assert!(unauthorized.contains("check COSTLINE_API_KEY"), "{unauthorized}");
    assert!(event_id.is_none(), "a batch-wide error concerns no one event");
    let refused: Vec<_> = heard.iter().filter(|(_, _, id)| id.is_some()).collect();
    assert_eq!(refused.len(), 1, "{heard:?}");
    assert_eq!(refused[0].2.as_deref(), Some(bad_id.as_str()));
    assert!(refused[0].0.contains("bad tag"));
    for (message, _, _) in &heard {
        assert!(!message.contains("sk-very-secret") && !message.contains("url-secret"), "{message}");
    }
    drop(pipeline);

    // A hook that panics is contained: the exporter carries on.
    hooks::set_error_hook(Box::new(|_, _| panic!("a faulty hook")));
    let dir = tempfile::tempdir().unwrap();
    let collector = TestCollector::start(|n| if n == 0 { Reply::Status(503) } else { Reply::Status(200) });
    let config = Config {
        ledger: LedgerSetting::Path(dir.path().join("ledger.db")),
        base_url: Some(collector.base_url.clone()),
        backoff: vec![Duration::from_millis(10)],
        ..Config::default()
    };
    let pipeline = Pipeline::start(config).unwrap();
    assert!(pipeline.enqueue(event()));
    assert!(pipeline.flush(PATIENCE), "the exporter survived its hook");
    assert!(eventually(PATIENCE, || collector.delivered_ids().len() == 1));
    hooks::clear_error_hook();
}
