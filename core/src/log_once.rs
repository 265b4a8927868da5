//! Log a message the first time its key is seen in this process, and never
//! while holding a lock.
//!
//! The Python binding forwards core logs to Python's `logging` (pyo3-log),
//! which needs the GIL. A thread that logged while holding a mutex could wait
//! for the GIL while the thread holding the GIL waits for that mutex: the host
//! app would hang. So the set is consulted under its lock, and the message is
//! logged after the lock is released. The set is bounded: past `LIMIT` keys,
//! one last message says so and further new keys are not logged.

use std::collections::HashSet;
use std::sync::Mutex;

use once_cell::sync::Lazy;

/// The most distinct keys remembered.
pub const LIMIT: usize = 1024;

static SEEN: Lazy<Mutex<HashSet<String>>> = Lazy::new(|| Mutex::new(HashSet::new()));

enum First {
    Yes,
    No,
    /// The set just filled up: say so, once.
    Full,
}

fn first_time(key: &str) -> First {
    let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
    if seen.contains(key) {
        return First::No;
    }
    match seen.len() {
        n if n < LIMIT => {
            seen.insert(key.to_owned());
            First::Yes
        }
        n if n == LIMIT => {
            seen.insert(String::new());
            First::Full
        }
        _ => First::No,
    }
    // The lock is released here, before any logging.
}

/// Log `message()` at warning level the first time `key` is seen.
pub fn warn(key: &str, message: impl FnOnce() -> String) {
    match first_time(key) {
        First::Yes => log::warn!("{}", message()),
        First::Full => log::warn!(
            "costline: {LIMIT} distinct warnings were logged; further new ones are not (see costline.status())"
        ),
        First::No => {}
    }
}

/// How many distinct keys were seen (for tests).
pub fn seen_count() -> usize {
    SEEN.lock().unwrap_or_else(|p| p.into_inner()).len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_set_stays_bounded() {
        for i in 0..(LIMIT * 2) {
            warn(&format!("bounded-test-{i}"), || "x".into());
        }
        assert!(seen_count() <= LIMIT + 1);
    }
}
