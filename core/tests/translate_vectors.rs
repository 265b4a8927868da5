//! Replays tests/vectors/translate/*.json, the vectors the Python and Node suites replay
//! too (one binding function each: `translate(kind, source, target, input, options)`).
//! `COSTLINE_BLESS=1` rewrites the `expected` fields from the current code: review the diff.

use std::path::PathBuf;

use costline_core::translate::translate;
use serde_json::Value;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/translate")
}

fn replay(file: &str) {
    let path = dir().join(file);
    let text = std::fs::read_to_string(&path).expect("vector file");
    let mut doc: Value = serde_json::from_str(&text).expect("vector JSON");
    let bless = std::env::var("COSTLINE_BLESS").as_deref() == Ok("1");
    let mut failures = Vec::new();
    let cases = doc["cases"].as_array_mut().expect("cases");
    assert!(!cases.is_empty(), "{file}: no cases");
    for case in cases.iter_mut() {
        let name = case["name"].as_str().unwrap_or("?").to_string();
        let got = translate(
            case["kind"].as_str().unwrap(),
            case["source"].as_str().unwrap(),
            case["target"].as_str().unwrap(),
            &case["input"],
            &case["options"],
        );
        match (got, case.get("error").cloned()) {
            (Ok(v), None) => {
                if bless {
                    case["expected"] = v;
                } else if v != case["expected"] {
                    failures.push(format!(
                        "{name}:\n  got      {}\n  expected {}",
                        serde_json::to_string(&v).unwrap(),
                        serde_json::to_string(&case["expected"]).unwrap()
                    ));
                }
            }
            (Err(e), Some(want)) => {
                let ok = match &e {
                    costline_core::Error::FallbackUnsupported { feature, target } => {
                        e.code() == want["code"] && feature == &want["feature"] && target == &want["target"]
                    }
                    _ => false,
                };
                if !ok {
                    failures.push(format!("{name}: got error {e:?}, expected {want}"));
                }
            }
            (Ok(v), Some(want)) => failures.push(format!("{name}: expected error {want}, got {v}")),
            (Err(e), None) => failures.push(format!("{name}: unexpected error {e}")),
        }
    }
    if bless {
        std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap() + "\n").unwrap();
    }
    assert!(failures.is_empty(), "{file}: {} failing cases\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn request_vectors_translate_every_pair() {
    replay("requests.json");
}

#[test]
fn response_vectors_come_back_in_the_source_shape() {
    replay("responses.json");
}

#[test]
fn stream_vectors_become_source_chunks() {
    replay("streams.json");
}

#[test]
fn unsupported_features_name_the_feature_and_target() {
    replay("unsupported.json");
}
