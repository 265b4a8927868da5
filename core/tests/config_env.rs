//! The environment's settings: one bad variable is rejected alone, and
//! `COSTLINE_DISABLED` has one reading for every language layer.

use std::collections::HashMap;
use std::path::PathBuf;

use costline_core::config::{self, Config, LedgerSetting};

fn from(vars: &[(&str, &str)]) -> (Config, Vec<String>) {
    let env: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let (config, rejected) = Config::from_lookup(|k| env.get(k).cloned());
    (config, rejected.iter().map(|e| e.to_string()).collect())
}

#[test]
fn a_bad_queue_size_is_rejected_alone_and_the_other_variables_apply() {
    let (config, rejected) = from(&[
        ("COSTLINE_QUEUE_SIZE", "abc"),
        ("COSTLINE_LEDGER", "/srv/app/costline.db"),
        ("COSTLINE_BASE_URL", "http://127.0.0.1:9/"),
        ("COSTLINE_DISABLED", "1"),
    ]);
    assert_eq!(config.ledger, LedgerSetting::Path(PathBuf::from("/srv/app/costline.db")));
    assert_eq!(config.base_url.as_deref(), Some("http://127.0.0.1:9"));
    assert!(config.disabled);
    assert_eq!(config.queue_size, Config::default().queue_size);
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert!(rejected[0].contains("COSTLINE_QUEUE_SIZE") && rejected[0].contains("abc"), "{rejected:?}");
}

#[test]
fn a_bad_disabled_value_is_rejected_alone_and_leaves_costline_on() {
    let (config, rejected) =
        from(&[("COSTLINE_DISABLED", "maybe"), ("COSTLINE_QUEUE_SIZE", "7"), ("COSTLINE_LEDGER", "off")]);
    assert!(!config.disabled);
    assert_eq!(config.queue_size, 7);
    assert_eq!(config.ledger, LedgerSetting::Off);
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert!(rejected[0].contains("COSTLINE_DISABLED") && rejected[0].contains("maybe"), "{rejected:?}");
}

#[test]
fn every_bad_variable_is_named_and_a_clean_environment_rejects_nothing() {
    let (_, rejected) = from(&[("COSTLINE_DISABLED", "2"), ("COSTLINE_QUEUE_SIZE", "0")]);
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    assert!(rejected.iter().any(|r| r.contains("COSTLINE_DISABLED")));
    assert!(rejected.iter().any(|r| r.contains("COSTLINE_QUEUE_SIZE")));
    let (config, rejected) = from(&[]);
    assert!(rejected.is_empty());
    assert_eq!(config.queue_size, Config::default().queue_size);
}

/// The table the Python suite checks too (tests/python/test_config.py): one
/// reading of the switch, defined in the core.
#[test]
fn disabled_spellings_are_read_one_way() {
    for on in ["1", "true", "TRUE", " yes ", "On"] {
        assert!(config::parse_disabled(on).unwrap(), "{on:?}");
    }
    for off in ["", " ", "0", "false", "No", "OFF"] {
        assert!(!config::parse_disabled(off).unwrap(), "{off:?}");
    }
    for bad in ["2", "disable", "y", "enabled"] {
        let message = config::parse_disabled(bad).unwrap_err().to_string();
        assert!(message.contains("COSTLINE_DISABLED") && message.contains(bad), "{message}");
    }
}
