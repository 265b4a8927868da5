//! Native state that lives for one call (a budget reservation, a stream's
//! meter), kept here and named to JavaScript by a number instead of a napi
//! class instance. napi-rs registers every instance it wraps in a map keyed
//! by the instance's address with an identity hash; addresses of one size
//! class share their low bits, so with thousands of instances awaiting the
//! garbage collector every insert probes far (measured: a stream's `Meter`
//! cost 14 µs to create, 41% of it in napi-rs's `add_ref`, 13% in its
//! finalizer). A handle costs a lock and a hash of a counter. The npm layer
//! ends every call it starts (its calls in flight are a bounded set, ended at
//! exit), so every handle is taken back; nothing is left to the collector.

use std::sync::{Mutex, MutexGuard};

use rustc_hash::FxHashMap;

/// A table of `T` by handle. Process-wide: worker threads load the addon
/// into the same process and share it.
pub(crate) struct Handles<T> {
    table: Mutex<Table<T>>,
}

struct Table<T> {
    next: u32,
    by_handle: Option<FxHashMap<u32, T>>,
}

impl<T> Handles<T> {
    pub(crate) const fn new() -> Handles<T> {
        Handles { table: Mutex::new(Table { next: 0, by_handle: None }) }
    }

    fn table(&self) -> MutexGuard<'_, Table<T>> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keep `value`; its handle (never 0) goes to JavaScript.
    pub(crate) fn hold(&self, value: T) -> u32 {
        let mut table = self.table();
        let Table { next, by_handle } = &mut *table;
        let map = by_handle.get_or_insert_with(FxHashMap::default);
        // Handles wrap after 2^32 holds; one still held is skipped, never shared.
        loop {
            *next = next.wrapping_add(1);
            if *next != 0 && !map.contains_key(next) {
                break;
            }
        }
        map.insert(*next, value);
        *next
    }

    /// The value, out of the table (None: already taken, or never held).
    pub(crate) fn take(&self, handle: u32) -> Option<T> {
        self.table().by_handle.as_mut()?.remove(&handle)
    }

    /// Give a value taken out with `take` back to its handle.
    pub(crate) fn put_back(&self, handle: u32, value: T) {
        self.table().by_handle.get_or_insert_with(FxHashMap::default).insert(handle, value);
    }

    /// `f` of the value held under `handle`, with the table locked.
    pub(crate) fn read<R>(&self, handle: u32, f: impl FnOnce(&T) -> R) -> Option<R> {
        self.table().by_handle.as_ref()?.get(&handle).map(f)
    }

    /// How many values are held (tests: nothing is left behind).
    pub(crate) fn len(&self) -> usize {
        self.table().by_handle.as_ref().map_or(0, FxHashMap::len)
    }
}
