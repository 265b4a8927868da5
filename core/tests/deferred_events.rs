//! Calls whose event the writer thread builds (`recorder::record_deferred`):
//! the same event as one built on the caller's thread, stamped with the time
//! of the call, not of the write. Global pipeline: its own test binary.

use std::time::Duration;

use costline_core::config::{Config, LedgerSetting};
use costline_core::event::{Sdk, UsageSource};
use costline_core::ledger::Ledger;
use costline_core::pipeline;
use costline_core::recorder::{self, Call, CallUsage};
use serde_json::json;

fn call(parts: serde_json::Value) -> Call {
    Call {
        usage: CallUsage::Raw(vec![parts]),
        resolved_model: Some("gpt-4o-2024-08-06".into()),
        ..Call::new(
            "openai".into(),
            "chat".into(),
            "gpt-4o".into(),
            Sdk { lang: "test".into(), version: "0".into() },
        )
    }
}

#[test]
fn deferred_calls_become_the_same_events_as_built_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deferred.db");
    pipeline::configure(&Config { ledger: LedgerSetting::Path(path.clone()), ..Config::default() }).unwrap();

    let usage = json!({"prompt_tokens": 1000, "completion_tokens": 500,
                       "prompt_tokens_details": {"cached_tokens": 200}});
    let before = chrono::Utc::now();
    assert!(recorder::record_deferred(call(usage.clone())));
    let after = chrono::Utc::now();
    assert!(recorder::record_deferred(call(json!({"prompt_tokens": -3, "completion_tokens": 2}))));
    std::thread::sleep(Duration::from_millis(30));
    assert!(pipeline::flush(Duration::from_secs(60)));

    let ledger = Ledger::open(&path).unwrap();
    let mut events = Vec::new();
    ledger
        .for_each_event(None, |e| {
            events.push(e);
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(events.len(), 2);
    let reference = recorder::build_event(call(usage));
    let (priced, sanitised) = (&events[0], &events[1]);
    assert_eq!(priced.cost_usd, reference.cost_usd);
    assert_eq!(priced.cost_usd.map(|c| c.to_string()).as_deref(), Some("0.00725"));
    assert_eq!((priced.input_tokens, priced.cached_input_tokens), (1000, 200));
    assert_eq!(priced.usage_source, UsageSource::Provider);
    assert_eq!(sanitised.usage_source, UsageSource::Estimate);
    // Stamped when the call was recorded, not when the writer got to it.
    let stamped = chrono::DateTime::parse_from_rfc3339(&priced.timestamp).unwrap();
    assert!(stamped >= before - chrono::Duration::milliseconds(1));
    assert!(stamped <= after, "{stamped} is after the call ({before} .. {after})");
    assert!(pipeline::shutdown(Duration::from_secs(10)));
}

#[test]
fn a_body_read_where_the_event_is_built_gives_the_same_event_as_its_usage_parts() {
    let body = json!({"model": "gpt-4o-2024-08-06", "service_tier": "default",
                      "choices": [{"message": {"content": "Hello there"}}],
                      "usage": {"prompt_tokens": 1000, "completion_tokens": 500,
                                "prompt_tokens_details": {"cached_tokens": 200}}});
    let from_body = recorder::build_event(Call {
        usage: CallUsage::Body { sse: false, bytes: body.to_string().into_bytes(), parts: vec![] },
        resolved_model: None,
        ..call(json!({}))
    });
    let from_parts = recorder::build_event(call(json!({"prompt_tokens": 1000, "completion_tokens": 500,
        "prompt_tokens_details": {"cached_tokens": 200}, "service_tier": "default"})));
    assert_eq!(from_body.cost_usd, from_parts.cost_usd);
    assert_eq!(from_body.resolved_model.as_deref(), Some("gpt-4o-2024-08-06"));
    assert_eq!(from_body.usage_source, UsageSource::Provider);

    // A body without usage is estimated from its output text (no request kept).
    let bare = recorder::build_event(Call {
        usage: CallUsage::Body {
            parts: vec![],
            sse: false,
            bytes: br#"{"choices":[{"message":{"content":"Hello there, friend"}}]}"#.to_vec(),
        },
        ..call(json!({}))
    });
    assert_eq!(bare.usage_source, UsageSource::Estimate);
    assert!(bare.output_tokens > 0);

    // A stream read later: its usage, the parts costline hid from the caller,
    // and an error event inside it are all taken into account.
    let hidden = json!({"prompt_tokens": 9, "completion_tokens": 2});
    let sse = recorder::build_event(Call {
        usage: CallUsage::Body {
            sse: true,
            bytes:
                b"data: {\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n"
                    .to_vec(),
            parts: vec![hidden],
        },
        resolved_model: None,
        ..call(json!({}))
    });
    assert_eq!((sse.input_tokens, sse.output_tokens), (9, 2));
    assert_eq!(sse.resolved_model.as_deref(), Some("gpt-4o-2024-08-06"));
    let failed = recorder::build_event(Call {
        usage: CallUsage::Body {
            sse: true,
            bytes: b"data: {\"error\":{\"message\":\"boom\"}}\n\n".to_vec(),
            parts: vec![],
        },
        ..call(json!({}))
    });
    assert_eq!(failed.status, costline_core::event::Status::Error);
    assert_eq!(failed.error_type.as_deref(), Some("APIError"));
}
