//! The start-up price thread (`init_from_env`) never undoes a price file installed
//! after it started, however long it takes. Its own test binary, because
//! COSTLINE_PRICES is read when the process's pricing is first built.

use std::time::{Duration, Instant};

use costline_core::catalog;

/// Names of this process's threads (Linux).
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .map(|name| name.trim().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_price_file_set_right_after_start_up_wins_over_the_environments() {
    let dir = tempfile::tempdir().unwrap();
    // A large environment file: the start-up thread is still reading it when the
    // application installs its own prices.
    let mut big = String::from("{");
    for i in 0..40_000 {
        big.push_str(&format!("\"filler-{i}\": {{\"input\": \"0.000001\", \"output\": \"0.000002\"}},\n"));
    }
    big.push_str("\"race-model\": {\"input\": \"1\", \"output\": \"1\"}}");
    let env_file = dir.path().join("env.json");
    std::fs::write(&env_file, big).unwrap();
    let app_file = dir.path().join("app.json");
    std::fs::write(&app_file, r#"{"race-model": {"input": "2", "output": "2"}}"#).unwrap();
    std::env::set_var("COSTLINE_PRICES", &env_file);

    costline_core::init_from_env();
    catalog::set_price_file(Some(&app_file)).unwrap();

    let deadline = Instant::now() + Duration::from_secs(60);
    while thread_names().iter().any(|n| n == "costline-init") {
        assert!(Instant::now() < deadline, "the start-up thread never finished");
        std::thread::sleep(Duration::from_millis(10));
    }
    let pricing = catalog::current();
    assert_eq!(pricing.get("race-model").unwrap().price.input_rate().to_string(), "2");
    assert!(pricing.get("filler-1").is_none(), "the application's file replaced the environment's");
    std::env::remove_var("COSTLINE_PRICES");
}
