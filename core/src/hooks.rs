//! Hooks a language layer registers to hear about errors that never raise:
//! export failures (from the exporter thread) and instrumentation errors
//! reported by the core. Python's `configure(on_error=...)` registers one;
//! the Node binding can register the same.
//!
//! A hook runs on whichever thread hit the error (often a background thread),
//! and never while the core holds one of its own locks: the hook may take a
//! language runtime's lock (Python's GIL), and a thread holding that lock may
//! be waiting on the core. A hook that panics is caught and logged.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use arc_swap::ArcSwapOption;

use crate::event::Event;
use crate::Error;

/// Receives an error and, when the error concerns one event (a collector
/// refused it for good), that event.
pub type ErrorHook = Box<dyn Fn(&Error, Option<&Event>) + Send + Sync>;

static ERROR_HOOK: ArcSwapOption<ErrorHook> = ArcSwapOption::const_empty();

/// Register the process's error hook, replacing any earlier one.
pub fn set_error_hook(hook: ErrorHook) {
    ERROR_HOOK.store(Some(Arc::new(hook)));
}

/// Remove the error hook (errors are then only logged).
pub fn clear_error_hook() {
    ERROR_HOOK.store(None);
}

pub fn has_error_hook() -> bool {
    ERROR_HOOK.load().is_some()
}

/// Tell the registered hook, if any. Callers must hold no lock of their own.
pub fn report_error(error: &Error, event: Option<&Event>) {
    // A clone of the Arc: the hook may replace itself while it runs.
    let Some(hook) = ERROR_HOOK.load_full() else {
        return;
    };
    if catch_unwind(AssertUnwindSafe(|| hook(error, event))).is_err() {
        log::warn!("costline: the error hook panicked; the error it was given: {error}");
    }
}
