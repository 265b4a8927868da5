//! Token counting and usage estimation, offline.
//!
//! Counts are tiktoken's, token for token, for OpenAI's two current vocabularies (o200k_base,
//! cl100k_base; which model uses which: [`encoding_for_model`]); other providers' models are
//! approximated with o200k_base. The vocabularies are embedded in the binary (no download, no
//! network), pre-decoded so that building an encoder takes tens of milliseconds instead of
//! tiktoken-rs's ~300 ms; see `vocab.rs`, `pretokenize.rs` and `merge.rs` for how the pieces
//! stay exact while being faster, and `core/benches/tokens.rs` for the figures.
//!
//! The one place a count may differ from tiktoken's: a single pre-token longer than
//! [`MAX_PRETOKEN_BYTES`] (in practice only pathological input such as 100 KB of one repeated
//! character) is merged in chunks of that size, which keeps the time linear; such a pre-token
//! can come out a token or so per chunk off. Text made of ordinary words, numbers, code or CJK
//! sentences has no pre-token near that long.
//!
//! Nothing here panics or returns an error: if an encoder could not be built (only possible
//! with a corrupt binary), counts fall back to one token per four bytes with one warning.

mod ascii_split;
mod encoder;
mod estimate;
mod memo;
mod merge;
mod model;
mod pretokenize;
mod registry;
mod vocab;

use std::sync::atomic::{AtomicBool, Ordering};

use crate::borrowed_json::Json;

use crate::usage::Usage;

pub use encoder::Encoder;
pub use estimate::ONE_TOKEN_ROLES;
pub use memo::set_enabled as set_memo_enabled;
pub use model::{encoding_for_model, Encoding};
pub use vocab::{tokens_in_rank_order, Rank};

/// Pre-tokens longer than this many bytes are counted in chunks of at most this size.
pub const MAX_PRETOKEN_BYTES: usize = merge::MAX_PIECE_BYTES;

/// Number of tokens of `text` under the encoding `model` uses (see [`encoding_for_model`]),
/// counted as ordinary text (`<|endoftext|>` in the text is counted as its characters).
/// The first call for an encoding builds it, unless [`prewarm`] already did or is doing so.
pub fn count(text: &str, model: &str) -> usize {
    count_with(encoding_for_model(model), text)
}

/// [`count_with`], remembered: a text counted recently (a system prompt, a conversation's
/// history resent on each turn) is not tokenized again (see `memo.rs`).
pub fn count_remembered(encoding: Encoding, text: &str) -> usize {
    if text.is_empty() {
        return 0;
    }
    memo::count(encoding, text, |t| count_with(encoding, t))
}

/// Number of tokens of `text` under `encoding`.
pub fn count_with(encoding: Encoding, text: &str) -> usize {
    if text.is_empty() {
        return 0;
    }
    match registry::encoder(encoding) {
        Ok(encoder) => encoder.count(text),
        Err(message) => {
            static WARNED: AtomicBool = AtomicBool::new(false);
            if !WARNED.swap(true, Ordering::Relaxed) {
                log::warn!("costline: token counts are rough estimates: {message}");
            }
            text.len().div_ceil(4)
        }
    }
}

/// True when counting for `model` needs no encoder build first.
pub fn is_ready(model: &str) -> bool {
    registry::is_built(encoding_for_model(model))
}

/// The process's encoder for `encoding` (built on first use), or `None` if it cannot be built.
pub fn encoder(encoding: Encoding) -> Option<&'static Encoder> {
    registry::encoder(encoding).ok()
}

/// Usage estimated from a request body as the SDK sent it and the output text the caller
/// received, for a call whose provider reported no usage. Input and output tokens only; the
/// body shapes understood, the framing overheads added and what is left out are described in
/// `estimate.rs`. `model` picks the encoding (the body's own `model` when empty).
pub fn estimate_usage<J: Json>(
    provider: &str,
    operation: &str,
    model: &str,
    request: &J,
    output_text: &str,
) -> Usage {
    estimate::estimate_usage(provider, operation, model, request, output_text)
}

/// The encoding [`estimate_usage`] counts a request in: `model`'s, or with an empty
/// `model` the body's own.
pub fn request_encoding<J: Json>(model: &str, request: &J) -> Encoding {
    estimate::request_encoding(model, request)
}

/// The input tokens of a request body, as [`estimate_usage`] counts them, in `encoding`
/// (a caller that knows the model's encoding already: a budget's plan).
pub fn estimate_prompt_tokens<J: Json>(
    encoding: Encoding,
    provider: &str,
    operation: &str,
    request: &J,
) -> u64 {
    estimate::prompt_tokens(encoding, provider, operation, request)
}

/// How many times this process has started building `encoding`'s encoder: once, normally.
/// For tests of the build-once and fork behaviour.
#[doc(hidden)]
pub fn encoder_builds_started(encoding: Encoding) -> usize {
    registry::builds_started(encoding)
}

/// Start building the encoders (o200k_base, then cl100k_base) on a background thread and return
/// immediately. A count that needs one meanwhile waits for that build rather than repeating it.
/// Idempotent, and safe across fork: a child forked while the build was in flight builds in its
/// own calling thread instead of waiting for a thread it does not have (see `registry.rs`).
pub fn prewarm() {
    registry::prewarm()
}
