//! Splitting text into pre-tokens (the pieces BPE runs on), as tiktoken does, faster.
//!
//! tiktoken's split patterns need one look-ahead, `\s+(?!\S)`, so tiktoken-rs runs them on
//! fancy-regex's backtracking VM: about 25-40 MB/s here, the larger part of its encode time.
//! The same split can be had from the `regex` engines, which have no look-around but run a lazy
//! DFA (over 100 MB/s), by dropping that branch and restoring what it did afterwards:
//!
//! In both patterns the whitespace branches come last: `\s*[\r\n]+` (o200k) or `\s+$|\s*[\r\n]`
//! (cl100k), then `\s+(?!\S)`, then `\s+` (o200k) or `\s` (cl100k). At a position where the
//! earlier branches fail, the whitespace run ahead holds no newline and does not reach the end
//! of the text, or reaches it. `\s+(?!\S)` takes the whole run if it ends the text, and
//! otherwise all of it but its last character, leaving that one to join the next word
//! (" world"); with a run of one character followed by a non-space it fails and the final branch
//! takes that one character. So: match the run with a plain `\s+`, and when it is followed by
//! text and is longer than one character, give its last character back. A match that came from
//! the plain `\s+` branch is recognisable without knowing the branch: it is the only one that
//! ends in whitespace other than '\r' or '\n' and is followed by more text.
//!
//! cl100k's possessive quantifiers (`?+`, `++`, `{1,3}+`) become greedy ones: in each place
//! the possessive form cannot give anything back that would let the branch match differently,
//! so the split is the same. The tests compare the result with the stock tiktoken-rs encoders
//! token for token on varied and randomly generated text.
//!
//! Pieces of ASCII text skip the regex: `ascii_split.rs` evaluates the same patterns by hand
//! there (4x faster on an English prompt) and hands any piece that reaches a non-ASCII byte
//! back to the regex; a test checks both paths give the same pieces.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use regex_automata::meta::{Cache, Regex};
use regex_automata::{Anchored, Input};

use super::ascii_split;
use super::model::Encoding;

/// o200k_base's split pattern (tiktoken-rs `O200K_BASE_PAT_STR`) without its
/// `\s+(?!\S)` branch; a test checks that this is exactly that pattern minus the branch.
pub(crate) const O200K_PATTERN: &str = concat!(
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"|\p{N}{1,3}",
    r"| ?[^\s\p{L}\p{N}]+[\r\n/]*",
    r"|\s*[\r\n]+",
    r"|\s+",
);

/// cl100k_base's split pattern, which tiktoken-rs writes as
/// `'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s`,
/// with greedy quantifiers for possessive ones and `\s+` for `\s+(?!\S)|\s`.
pub(crate) const CL100K_PATTERN: &str = concat!(
    r"'(?i:[sdmt]|ll|ve|re)",
    r"|[^\r\n\p{L}\p{N}]?\p{L}+",
    r"|\p{N}{1,3}",
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*",
    r"|\s+$",
    r"|\s*[\r\n]",
    r"|\s+",
);

/// A compiled split pattern.
pub(crate) struct Splitter {
    encoding: Encoding,
    regex: Regex,
    /// Tells this splitter's search caches apart from other splitters' in the thread-local
    /// cache list (a cache only works with the regex that made it).
    id: u64,
}

static NEXT_SPLITTER_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// Each thread's lazy-DFA caches, kept across calls so the DFA stays warm. Per thread, so
    /// counting takes no lock (and a child after fork finds nothing held by a vanished thread).
    static SEARCH_CACHES: RefCell<Vec<(u64, Cache)>> = const { RefCell::new(Vec::new()) };
}

impl Splitter {
    pub(crate) fn new(encoding: Encoding) -> Result<Self, String> {
        let pattern = match encoding {
            Encoding::O200kBase => O200K_PATTERN,
            Encoding::Cl100kBase => CL100K_PATTERN,
        };
        let regex = Regex::new(pattern).map_err(|e| format!("{} split pattern: {e}", encoding.name()))?;
        Ok(Self { encoding, regex, id: NEXT_SPLITTER_ID.fetch_add(1, Ordering::Relaxed) })
    }

    /// Call `piece` with each pre-token of `text`, in order; together they cover `text`.
    pub(crate) fn for_each_piece(&self, text: &str, piece: impl FnMut(&str)) {
        let mut piece = piece;
        let cached = SEARCH_CACHES.try_with(|caches| {
            let Ok(mut caches) = caches.try_borrow_mut() else {
                return false;
            };
            let slot = match caches.iter().position(|(id, _)| *id == self.id) {
                Some(slot) => slot,
                None => {
                    caches.push((self.id, self.regex.create_cache()));
                    caches.len() - 1
                }
            };
            self.split_with(&mut caches[slot].1, text, &mut piece);
            true
        });
        // During thread teardown (or re-entry) there is no cached DFA: use a fresh one.
        if cached != Ok(true) {
            self.split_with(&mut self.regex.create_cache(), text, &mut piece);
        }
    }

    fn split_with(&self, cache: &mut Cache, text: &str, piece: &mut impl FnMut(&str)) {
        let mut start = 0;
        while start < text.len() {
            // ASCII pieces are split by hand (ascii_split.rs), the rest by the regex.
            let end = match ascii_split::piece_end(self.encoding, text.as_bytes(), start) {
                Some(end) => give_back_last_space(text, start, end),
                None => self.regex_piece_end(cache, text, start),
            };
            piece(&text[start..end]);
            start = end;
        }
    }

    /// Where the piece at `start` ends, by the regex.
    fn regex_piece_end(&self, cache: &mut Cache, text: &str, start: usize) -> usize {
        let input = Input::new(text).range(start..).anchored(Anchored::Yes);
        match self.regex.search_with(cache, &input) {
            Some(m) if m.end() > start => give_back_last_space(text, start, m.end()),
            // Unreachable with these patterns (every character matches a branch), but a
            // split must always advance: take one character as its own piece.
            _ => start + text[start..].chars().next().map_or(1, char::len_utf8),
        }
    }
}

/// Where a match ends once `\s+(?!\S)` is restored (see the module documentation).
fn give_back_last_space(text: &str, start: usize, end: usize) -> usize {
    if end >= text.len() {
        return end;
    }
    match text[start..end].chars().next_back() {
        Some(last) if last.is_whitespace() && last != '\r' && last != '\n' => {
            let shorter = end - last.len_utf8();
            if shorter > start {
                shorter
            } else {
                end
            }
        }
        _ => end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(encoding: Encoding, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        Splitter::new(encoding).unwrap().for_each_piece(text, |p| out.push(p.to_string()));
        out
    }

    /// The pieces the regex alone makes (the path every non-ASCII piece takes).
    fn regex_pieces(splitter: &Splitter, cache: &mut Cache, text: &str) -> Vec<String> {
        let (mut out, mut start) = (Vec::new(), 0);
        while start < text.len() {
            let end = splitter.regex_piece_end(cache, text, start);
            out.push(text[start..end].to_string());
            start = end;
        }
        out
    }

    #[test]
    fn ascii_pieces_split_by_hand_equal_the_regex_pieces() {
        // Every ASCII byte and some ASCII sequences; then the non-ASCII characters that would
        // change an ASCII piece if the hand split misjudged where to stop: letters and marks
        // after a word, `ſ` (which case-folds to the `s` of `'s`), the Kelvin sign, non-ASCII
        // digits, spaces and punctuation.
        let mut ascii: Vec<String> = (0u8..128).map(|b| char::from(b).to_string()).collect();
        for s in [
            "'s", "'S", "'re", "'Ve", "'ll", "'LL", "'d", "'m", "'t", "  ", "\r\n", " a", " A", "ab", "AB",
            "123", "12", " !", "//", "\n/",
        ] {
            ascii.push(s.to_string());
        }
        let mut mixed = ascii.clone();
        for s in [
            "é", "É", "\u{301}", "ſ", "\u{212a}", "٣", "½", "\u{a0}", "\u{85}", "\u{3000}", "\u{2028}", "€",
            "«", "😀", "中",
        ] {
            mixed.push(s.to_string());
        }
        let splitters: Vec<(Splitter, Cache)> = Encoding::ALL
            .into_iter()
            .map(|encoding| {
                let splitter = Splitter::new(encoding).unwrap();
                let cache = splitter.regex.create_cache();
                (splitter, cache)
            })
            .collect();
        let mut splitters = splitters;
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = |n: usize| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_F491_4F6C_DD1D) % n as u64) as usize
        };
        for round in 0..10_000 {
            let length = 1 + next(if round % 10 == 0 { 120 } else { 16 });
            // Mostly ASCII (the hand split's ground), one round in four with anything.
            let fragments = if round % 4 == 0 { &mixed } else { &ascii };
            let text: String = (0..length).map(|_| fragments[next(fragments.len())].as_str()).collect();
            for (splitter, cache) in &mut splitters {
                let mut by_hand = Vec::new();
                splitter.for_each_piece(&text, |p| by_hand.push(p.to_string()));
                let by_regex = regex_pieces(splitter, cache, &text);
                assert_eq!(by_hand, by_regex, "{:?} {text:?}", splitter.encoding);
            }
        }
    }

    #[test]
    fn o200k_pattern_is_tiktoken_rs_pattern_without_the_lookahead_branch() {
        assert_eq!(tiktoken_rs::O200K_BASE_PAT_STR.replace(r"|\s+(?!\S)", ""), O200K_PATTERN);
    }

    #[test]
    fn a_space_run_gives_its_last_space_to_the_next_word() {
        assert_eq!(pieces(Encoding::O200kBase, "a   b"), ["a", "  ", " b"]);
        assert_eq!(pieces(Encoding::Cl100kBase, "a   b"), ["a", "  ", " b"]);
        assert_eq!(pieces(Encoding::O200kBase, "a b"), ["a", " b"]);
    }

    #[test]
    fn a_space_run_at_the_end_stays_whole() {
        assert_eq!(pieces(Encoding::O200kBase, "a   "), ["a", "   "]);
        assert_eq!(pieces(Encoding::Cl100kBase, "a   "), ["a", "   "]);
    }

    #[test]
    fn newlines_end_their_own_piece() {
        assert_eq!(pieces(Encoding::O200kBase, "a \n\n  b"), ["a", " \n\n", " ", " b"]);
        assert_eq!(pieces(Encoding::Cl100kBase, "a \n\n  b"), ["a", " \n\n", " ", " b"]);
    }

    #[test]
    fn one_space_before_a_digit_is_its_own_piece() {
        assert_eq!(pieces(Encoding::O200kBase, "x 2024"), ["x", " ", "202", "4"]);
    }

    #[test]
    fn multibyte_whitespace_is_given_back_whole() {
        assert_eq!(pieces(Encoding::O200kBase, "a\u{3000}\u{3000}b"), ["a", "\u{3000}", "\u{3000}b"]);
    }
}
