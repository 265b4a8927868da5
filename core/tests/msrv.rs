//! The minimum Rust version the workspace states is the true one: the newest
//! `rust-version` among the dependencies locked for this platform, and every
//! package of the workspace states it.

use std::process::Command;

use serde_json::Value;

fn version(text: &str) -> Vec<u64> {
    let mut parts: Vec<u64> = text.split('.').map(|p| p.parse().expect("a numeric version")).collect();
    parts.resize(3, 0);
    parts
}

fn host_triple(cargo: &str) -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc).arg("-vV").output().unwrap_or_else(|e| panic!("rustc -vV ({cargo}): {e}"));
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines().find_map(|l| l.strip_prefix("host: ")).expect("rustc -vV names its host").to_string()
}

#[test]
fn the_stated_rust_version_is_the_newest_a_locked_dependency_requires() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // Not `--offline`: `cargo test -p costline-core` on a fresh machine has downloaded only
    // the core's crates, and the bindings' (napi's, pyo3's) are read here too. Cargo goes to
    // the registry only for what its cache lacks.
    let out = Command::new(&cargo)
        .args(["metadata", "--format-version", "1", "--locked", "--filter-platform"])
        .arg(host_triple(&cargo))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let metadata: Value = serde_json::from_slice(&out.stdout).unwrap();
    let used: Vec<&str> =
        metadata["resolve"]["nodes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap()).collect();
    let members: Vec<&str> =
        metadata["workspace_members"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();

    let mut newest: Option<(Vec<u64>, String)> = None;
    let mut stated = Vec::new();
    for package in metadata["packages"].as_array().unwrap() {
        let id = package["id"].as_str().unwrap();
        let name = package["name"].as_str().unwrap();
        let rust_version = package["rust_version"].as_str();
        if members.contains(&id) {
            stated.push((name.to_string(), rust_version.map(version)));
        } else if let (true, Some(v)) = (used.contains(&id), rust_version) {
            if newest.as_ref().is_none_or(|(n, _)| version(v) > *n) {
                newest = Some((version(v), format!("{name} {}", package["version"])));
            }
        }
    }
    let (needed, by) = newest.expect("some dependency states a rust-version");
    for (name, version) in stated {
        assert_eq!(
            version.as_ref(),
            Some(&needed),
            "{name} must state rust-version {needed:?} (required by {by})"
        );
    }
}
