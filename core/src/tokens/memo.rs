//! Counts of texts seen recently. A conversation is resent whole on every turn (system
//! prompt, history, tool definitions), and a budget counts each request's prompt before it
//! is sent: remembering the count of each text makes that cost a hash of the text instead of
//! a tokenization, and keeps the vocabulary's tables (megabytes, cold after the SDK's own
//! work) out of the caller's path.
//!
//! A small table, direct-mapped, in shards behind `try_lock`: a busy shard (another thread,
//! or a lock a `fork()` left held in a child) means counting the text again, never waiting.
//! A text is found by its 64-bit hash and its length; two different texts would have to
//! collide on both to share a count.

use std::hash::BuildHasher;

use rustc_hash::FxBuildHasher;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use super::model::Encoding;

const SHARDS: usize = 16;
const SLOTS_PER_SHARD: usize = 256;

#[derive(Clone, Copy, Default)]
struct Slot {
    hash: u64,
    len: usize,
    count: usize,
}

static TABLE: [Mutex<[Slot; SLOTS_PER_SHARD]>; SHARDS] =
    [const { Mutex::new([Slot { hash: 0, len: 0, count: 0 }; SLOTS_PER_SHARD]) }; SHARDS];

static DISABLED: AtomicBool = AtomicBool::new(false);

/// Benches measure the tokenizer itself: they turn the memo off.
#[doc(hidden)]
pub fn set_enabled(enabled: bool) {
    DISABLED.store(!enabled, Ordering::Relaxed);
}

fn hash(encoding: Encoding, text: &str) -> u64 {
    // rustc-hash's: a few instructions per 8 bytes and little code (the lookup runs cold, on
    // every guarded call's path), the same in every process (no state to seed). It is no
    // defence against texts made to collide, and neither is any hash with keys that cannot be
    // secret (SipHash with fixed keys included): a collision needs the same length as well.
    let h = FxBuildHasher.hash_one((encoding as u8, text));
    // 0 marks an empty slot.
    h.max(1)
}

/// `count(text)`, remembered for `text` under `encoding`.
pub fn count(encoding: Encoding, text: &str, count: impl FnOnce(&str) -> usize) -> usize {
    if DISABLED.load(Ordering::Relaxed) {
        return count(text);
    }
    let h = hash(encoding, text);
    let shard = &TABLE[(h as usize) % SHARDS];
    let slot = (h as usize / SHARDS) % SLOTS_PER_SHARD;
    if let Ok(table) = shard.try_lock() {
        let seen = table[slot];
        if seen.hash == h && seen.len == text.len() {
            return seen.count;
        }
    }
    let n = count(text);
    if let Ok(mut table) = shard.try_lock() {
        table[slot] = Slot { hash: h, len: text.len(), count: n };
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn a_text_is_counted_once_then_remembered_per_encoding() {
        let calls = Cell::new(0);
        let counter = |t: &str| {
            calls.set(calls.get() + 1);
            t.len()
        };
        let text = "memo test: a text no other test counts 7f3a";
        assert_eq!(count(Encoding::O200kBase, text, counter), text.len());
        assert_eq!(count(Encoding::O200kBase, text, counter), text.len());
        assert_eq!(calls.get(), 1);
        // Another vocabulary counts it again; another text too.
        count(Encoding::Cl100kBase, text, counter);
        count(Encoding::O200kBase, "memo test: a different text 7f3a", counter);
        assert_eq!(calls.get(), 3);
    }
}
