//! The overrides in force and where they come from. Two layers lie over the
//! embedded catalog: a price file and an inline table (inline wins for a model in
//! both). Each layer is replaced only when it is named again (a new file replaces
//! the file, a new inline table the inline table), so setting anything else keeps
//! both.
//!
//! The environment's price file (`COSTLINE_PRICES`) is read once, while the first
//! pricing is built: no call can be priced, and no override installed, before it
//! is applied, so that start-up read can neither race with nor undo a later
//! choice. A bad file there must not break the host that loads costline: it is
//! ignored (prices come from the catalog), and its error waits in
//! [`take_startup_error`] for the language layer to log; naming that file again
//! ([`set_price_file`]) returns the error.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use arc_swap::ArcSwap;
use once_cell::sync::Lazy;
use serde_json::Value;

use super::{parse, resolve::Fnv1a, Index, Price, Pricing, EMBEDDED, INLINE_NAME};
use crate::{config, Error, Result};

/// One source of overrides, parsed.
struct Layer {
    models: Vec<(String, Price)>,
    /// Of the source's text: part of the `catalog_version` events carry.
    fingerprint: u64,
}

#[derive(Default)]
struct Layers {
    file: Option<Layer>,
    inline: Option<Layer>,
}

impl Layers {
    fn pricing(&self) -> Pricing {
        let mut merged: BTreeMap<String, Price> = BTreeMap::new();
        let mut fingerprint = Fnv1a::default();
        for layer in [&self.file, &self.inline].into_iter().flatten() {
            merged.extend(layer.models.iter().cloned());
            fingerprint.write(&layer.fingerprint.to_le_bytes());
        }
        let embedded = &*EMBEDDED;
        let version = if merged.is_empty() {
            embedded.version.clone()
        } else {
            format!("{}.ovr-{:08x}", embedded.version, fingerprint.finish() as u32)
        };
        Pricing::new(embedded.index.clone(), Index::build(merged), version)
    }
}

struct State {
    /// Taken only to replace a layer (never on the hot path, never while logging).
    layers: Mutex<Layers>,
    pricing: ArcSwap<Pricing>,
    startup_error: Mutex<Option<Error>>,
}

static STATE: Lazy<State> = Lazy::new(|| {
    let mut layers = Layers::default();
    // No logging here: a thread waiting for this value may hold the host's
    // interpreter lock, which a log call can need.
    let startup_error = config::env_prices_path().and_then(|path| match read_file(&path) {
        Ok(layer) => {
            layers.file = Some(layer);
            None
        }
        Err(e) => Some(e),
    });
    let pricing = ArcSwap::from_pointee(layers.pricing());
    State { layers: Mutex::new(layers), pricing, startup_error: Mutex::new(startup_error) }
});

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// True once the pricing is built (the catalog parsed).
pub(super) fn is_built() -> bool {
    Lazy::get(&STATE).is_some()
}

/// Bumped each time the pricing is replaced: what was worked out from one pricing
/// (a budget plan's rates) knows it is stale with one load, without taking the pricing.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// The pricing's generation (see [`GENERATION`]).
pub(super) fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

/// The active pricing, built (with the environment's price file) on first use.
pub(super) fn pricing() -> &'static ArcSwap<Pricing> {
    &STATE.pricing
}

/// Why the environment's price file (`COSTLINE_PRICES`) was ignored, once: the
/// language layer logs it after start-up (builds the pricing if not yet built).
pub fn take_startup_error() -> Option<Error> {
    lock(&STATE.startup_error).take()
}

/// Replace the price-file layer with the file at `path` (`None` removes it); the
/// inline table stays. The file is read and checked first: on error nothing changes.
pub fn set_price_file(path: Option<&Path>) -> Result<()> {
    let layer = path.map(read_file).transpose()?;
    replace(|layers| layers.file = layer);
    Ok(())
}

/// Replace the inline layer with `table` (`None` removes it); the price file stays.
/// Checked first: on error nothing changes.
pub fn set_inline_prices(table: Option<&Value>) -> Result<()> {
    let layer = table.map(read_inline).transpose()?;
    replace(|layers| layers.inline = layer);
    Ok(())
}

/// Replace both layers: the entries of the file at `prices_path` and of `inline`
/// (inline wins over the file for a model in both). `(None, None)` removes every
/// override. Everything is read and checked before anything changes: on error the
/// previous overrides stay in force.
pub fn configure(prices_path: Option<&Path>, inline: Option<&Value>) -> Result<()> {
    let file = prices_path.map(read_file).transpose()?;
    let inline = inline.map(read_inline).transpose()?;
    replace(|layers| *layers = Layers { file, inline });
    Ok(())
}

fn replace(update: impl FnOnce(&mut Layers)) {
    let state = &*STATE;
    let mut layers = lock(&state.layers);
    update(&mut layers);
    // Stored under the lock: two replacements in a row install in that order.
    state.pricing.store(Arc::new(layers.pricing()));
    GENERATION.fetch_add(1, Ordering::Release);
}

fn read_file(path: &Path) -> Result<Layer> {
    let source_name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| Error::Prices {
        source_name: source_name.clone(),
        message: format!("cannot read: {e}"),
    })?;
    let models = parse::parse_text(&source_name, &text)?.models;
    Ok(Layer { models, fingerprint: fingerprint(text.as_bytes()) })
}

fn read_inline(table: &Value) -> Result<Layer> {
    let models = parse::parse_value(INLINE_NAME, table)?.models;
    Ok(Layer { models, fingerprint: fingerprint(table.to_string().as_bytes()) })
}

fn fingerprint(bytes: &[u8]) -> u64 {
    let mut hash = Fnv1a::default();
    hash.write(bytes);
    hash.finish()
}

/// The pricing `configure` would install, without installing it.
#[cfg(test)]
pub(super) fn build_pricing(prices_path: Option<&Path>, inline: Option<&Value>) -> Result<Pricing> {
    let file = prices_path.map(read_file).transpose()?;
    let inline = inline.map(read_inline).transpose()?;
    Ok(Layers { file, inline }.pricing())
}
