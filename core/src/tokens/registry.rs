//! The process's encoders: built once, lazily on first use or ahead of it by `prewarm()`.
//!
//! Requirements: `prewarm()` returns at once and builds on a background thread; a `count()`
//! that arrives meanwhile waits for that build instead of starting a second one; and a child
//! process forked while a build was in flight must not wait forever for a thread that does not
//! exist in it (fork copies only the forking thread, and with it any "being initialised" state).
//!
//! Design: each encoding has a slot holding a pointer to a `Build`: the pid of the process
//! that created it and a `OnceLock` with the encoder. Whoever builds (the prewarm thread, or a
//! caller) runs `OnceLock::get_or_init`, so a concurrent caller in the same process blocks on
//! that same build rather than duplicating it. A caller that finds a finished build uses it,
//! whoever made it (a child inherits its parent's finished encoders for free, copy-on-write).
//! A caller that finds an unfinished build made by another pid is in a forked child: that
//! build's thread is gone, so it installs a fresh `Build` for its own pid and builds in the
//! calling thread. The inherited one is never touched again.
//!
//! The slot is a plain atomic pointer, not a lock: a lock held by a parent thread at the
//! moment of fork would stay held forever in the child. Builds are leaked on purpose: a
//! replaced one may still be read by another thread, and there is at most one per encoding
//! per fork generation. Counting with a finished encoder takes no lock at all (the regex
//! search caches are per thread, see `pretokenize.rs`).

use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::thread;

use super::encoder::Encoder;
use super::model::Encoding;

struct Build {
    pid: u32,
    encoder: OnceLock<Result<Encoder, String>>,
    /// Set once a prewarm thread has taken this build on, so a second `prewarm()` does not
    /// start another thread for it.
    prewarm_claimed: AtomicBool,
}

impl Build {
    fn new(pid: u32) -> Self {
        Self { pid, encoder: OnceLock::new(), prewarm_claimed: AtomicBool::new(false) }
    }
}

/// One slot per encoding, indexed by `Encoding::index`.
static SLOTS: [AtomicPtr<Build>; Encoding::ALL.len()] = [const { AtomicPtr::new(ptr::null_mut()) }; 2];

/// What `prewarm()` builds, in order: o200k first, as every current model and every
/// approximation uses it.
const PREWARMED: [Encoding; 2] = [Encoding::O200kBase, Encoding::Cl100kBase];

/// The encoder for `encoding`, building it in this thread or waiting for the build in flight.
/// `Err` only if the embedded vocabulary is corrupt (or building panicked).
pub(crate) fn encoder(encoding: Encoding) -> Result<&'static Encoder, &'static str> {
    let build = current_build(encoding);
    let result = build.encoder.get_or_init(|| build_encoder(encoding));
    result.as_ref().map_err(String::as_str)
}

/// True when `encoding`'s encoder is built in this process (counting is then fast).
pub(crate) fn is_built(encoding: Encoding) -> bool {
    let build = SLOTS[encoding.index()].load(Ordering::Acquire);
    // SAFETY: slots only ever hold leaked `Build`s, never freed (see `current_build`). A
    // finished build is usable whoever made it (a forked child inherits it).
    unsafe { build.as_ref() }.is_some_and(|build| build.encoder.get().is_some())
}

/// Start building the encoders on a background thread and return. Idempotent: encodings
/// built or being built by this process are left alone, and no thread starts if none remains.
pub(crate) fn prewarm() {
    let pending: Vec<(Encoding, &'static Build)> = PREWARMED
        .into_iter()
        .map(|encoding| (encoding, current_build(encoding)))
        .filter(|(_, build)| {
            build.encoder.get().is_none() && !build.prewarm_claimed.swap(true, Ordering::AcqRel)
        })
        .collect();
    if pending.is_empty() {
        return;
    }
    let spawned = thread::Builder::new().name("costline-tokens-prewarm".into()).spawn(move || {
        for (encoding, build) in pending {
            build.encoder.get_or_init(|| build_encoder(encoding));
        }
    });
    if let Err(e) = spawned {
        // Not fatal: the first count builds in its own thread instead.
        log::debug!("costline: could not start the token prewarm thread: {e}");
    }
}

/// The build this process should use for `encoding`: the current one if it is finished or
/// belongs to this process, otherwise a fresh one installed for this process.
fn current_build(encoding: Encoding) -> &'static Build {
    let slot = &SLOTS[encoding.index()];
    let mut seen = slot.load(Ordering::Acquire);
    // SAFETY (both derefs): every non-null pointer stored in a slot comes from `Box::leak`
    // below and is never freed, so it is valid for the rest of the process.
    if let Some(build) = unsafe { seen.as_ref() } {
        // The common case, checked before asking for the pid (a system call).
        if build.encoder.get().is_some() {
            return build;
        }
    }
    let pid = std::process::id();
    loop {
        // SAFETY: as above.
        if let Some(build) = unsafe { seen.as_ref() } {
            if build.encoder.get().is_some() || build.pid == pid {
                return build;
            }
        }
        let fresh: &'static mut Build = Box::leak(Box::new(Build::new(pid)));
        let fresh_ptr: *mut Build = fresh;
        match slot.compare_exchange(seen, fresh_ptr, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return fresh,
            Err(current) => {
                // Another thread of this process installed one first: use that. Ours was never
                // shared, so it can be freed.
                // SAFETY: `fresh_ptr` came from `Box::leak` just above and was not published.
                drop(unsafe { Box::from_raw(fresh_ptr) });
                seen = current;
            }
        }
    }
}

/// How many encoder builds each encoding has started in this process (inherited across fork).
static BUILDS_STARTED: [AtomicUsize; Encoding::ALL.len()] = [const { AtomicUsize::new(0) }; 2];

/// How many times this process started building `encoding` (tests check that builds are not
/// duplicated; a forked child also counts the builds its parent had started).
pub(crate) fn builds_started(encoding: Encoding) -> usize {
    BUILDS_STARTED[encoding.index()].load(Ordering::Relaxed)
}

fn build_encoder(encoding: Encoding) -> Result<Encoder, String> {
    BUILDS_STARTED[encoding.index()].fetch_add(1, Ordering::Relaxed);
    // A panic here would be a bug; it must not reach the caller of `count` (which promises never
    // to panic) nor leave later callers waiting, so it becomes an error like any other.
    panic::catch_unwind(AssertUnwindSafe(|| Encoder::build(encoding)))
        .unwrap_or_else(|_| Err(format!("building {} panicked", encoding.name())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoder_is_built_once_and_shared() {
        let a = encoder(Encoding::Cl100kBase).unwrap();
        let b = encoder(Encoding::Cl100kBase).unwrap();
        assert!(ptr::eq(a, b));
    }

    #[test]
    fn a_build_left_unfinished_by_another_process_is_replaced_not_awaited() {
        // What a forked child sees: the parent's build in the slot, never to be finished
        // (its thread did not survive the fork), stamped with the parent's pid.
        let slot = &SLOTS[Encoding::O200kBase.index()];
        let orphan: &'static mut Build = Box::leak(Box::new(Build::new(std::process::id().wrapping_add(1))));
        let orphan_ptr: *mut Build = orphan;
        let before = slot.swap(orphan_ptr, Ordering::AcqRel);
        let encoder = encoder(Encoding::O200kBase).expect("built in the calling thread");
        assert_eq!(encoder.count("hello world"), 2);
        assert!(!ptr::eq(slot.load(Ordering::Acquire), orphan_ptr), "the orphan was replaced");
        // Leave the slot as other tests expect it: a finished build either way.
        if !before.is_null() {
            slot.store(before, Ordering::Release);
        }
    }
}
