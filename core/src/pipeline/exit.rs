//! The exit deadline, shared by the language layer's exit hook and a
//! process-exit hook of the core's own.
//!
//! A Python program's atexit handlers run last-registered first, so a
//! handler registered before costline was imported runs after costline's
//! exit flush; an event it records would be lost. So the language layer's
//! hook only flushes (and starts the exit deadline); the pipeline keeps
//! accepting, and a C `atexit` handler, which runs after the interpreter has
//! finished (every Python atexit handler included), writes what came later
//! and stops the pipeline, within what is left of the same deadline.

use std::sync::Mutex;
use std::sync::Once;
use std::time::{Duration, Instant};

static DEADLINE: Mutex<Option<Instant>> = Mutex::new(None);

/// The language layer's exit hook: flush within `timeout`, which starts the
/// exit deadline, and make sure the final flush runs at process exit.
pub fn exit_flush(timeout: Duration) -> bool {
    *DEADLINE.lock().unwrap_or_else(|p| p.into_inner()) = Some(super::queue::deadline_after(timeout));
    install();
    // A quarter of the deadline stays for the final flush: a collector that
    // does not answer must not leave nothing for events recorded later.
    super::flush(timeout.mul_f64(0.75))
}

/// Register the process-exit hook, once. Called when a pipeline starts.
pub fn install() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        #[cfg(unix)]
        // SAFETY: `at_process_exit` is a plain `extern "C" fn()` that never unwinds.
        unsafe {
            libc::atexit(at_process_exit);
        }
    });
}

#[cfg(unix)]
extern "C" fn at_process_exit() {
    let _ = std::panic::catch_unwind(|| {
        let deadline = *DEADLINE.lock().unwrap_or_else(|p| p.into_inner());
        let remaining = match deadline {
            Some(deadline) => deadline.saturating_duration_since(Instant::now()),
            // No language hook ran (or none exists): the configured deadline.
            None => super::exit_timeout(),
        };
        // Nothing may log into an interpreter that has finished.
        log::set_max_level(log::LevelFilter::Off);
        super::shutdown(remaining.max(Duration::from_millis(1)));
    });
}
