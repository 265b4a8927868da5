//! The split patterns evaluated by hand on ASCII text, where they reduce to a few byte
//! classes: the regex search (the lazy DFA behind `pretokenize.rs`) costs ~40 ns per
//! pre-token in setup alone, which was half the time of counting an English prompt.
//!
//! [`piece_end`] returns where the regex's leftmost-first match starting at `start` ends
//! (before `pretokenize::give_back_last_space`, which applies to both paths alike), or `None`
//! as soon as it would have to look at a byte outside ASCII: there Unicode classes decide
//! (a letter or a mark may continue a word, `\u{a0}` a space run, `ſ` may be the `s` of `'s`,
//! `½` a number), so the caller asks the regex instead. Bailing on every non-ASCII byte it
//! reads, rather than reasoning about which ones matter, keeps this exact by construction; a
//! test compares the two paths piece for piece on random mixed text.
//!
//! In ASCII the classes are: `\p{L}` = `[A-Za-z]` (`\p{Lu}` upper, `\p{Ll}` lower; the other
//! letter and mark classes are empty), `\p{N}` = `[0-9]`, `\s` = `[\t\n\x0B\x0C\r ]`. Each
//! function below follows its pattern's branches in order; the comments say why the greedy
//! choices need no backtracking there.

use super::model::Encoding;

const LOWER: u8 = 1;
const UPPER: u8 = 2;
const DIGIT: u8 = 4;
/// `\s` other than `\r` and `\n`.
const SPACE: u8 = 8;
const NEWLINE: u8 = 16;
/// Neither `\s`, a letter nor a digit: punctuation, symbols, control characters.
const OTHER: u8 = 32;
const NON_ASCII: u8 = 64;

const LETTER: u8 = LOWER | UPPER;
const WHITESPACE: u8 = SPACE | NEWLINE;
/// `[^\r\n\p{L}\p{N}]`: the optional character before a word.
const PREFIX: u8 = SPACE | OTHER;

static CLASS: [u8; 256] = {
    let mut table = [NON_ASCII; 256];
    let mut b = 0;
    while b < 128 {
        table[b] = match b as u8 {
            b'a'..=b'z' => LOWER,
            b'A'..=b'Z' => UPPER,
            b'0'..=b'9' => DIGIT,
            b'\r' | b'\n' => NEWLINE,
            b'\t' | 0x0B | 0x0C | b' ' => SPACE,
            _ => OTHER,
        };
        b += 1;
    }
    table
};

/// The class of the byte at `i`; past the end, 0 (no class: every run stops there).
#[inline(always)]
fn class(bytes: &[u8], i: usize) -> u8 {
    bytes.get(i).map_or(0, |&b| CLASS[b as usize])
}

/// The end of the run of bytes in `classes` from `i`, or `None` if it stops at a non-ASCII
/// byte (which Unicode might count in the run).
#[inline(always)]
fn run(bytes: &[u8], mut i: usize, classes: u8) -> Option<usize> {
    while class(bytes, i) & classes != 0 {
        i += 1;
    }
    (class(bytes, i) != NON_ASCII).then_some(i)
}

/// Where the split pattern's match at `start` ends; `None`: ask the regex.
#[inline]
pub(crate) fn piece_end(encoding: Encoding, bytes: &[u8], start: usize) -> Option<usize> {
    match encoding {
        Encoding::O200kBase => o200k(bytes, start),
        Encoding::Cl100kBase => cl100k(bytes, start),
    }
}

/// The start of the letters of a word at `i` (`[^\r\n\p{L}\p{N}]?` then a letter): `i` or
/// `i + 1`; `Some(None)` when no word starts here.
#[inline(always)]
fn word_start(bytes: &[u8], i: usize) -> Option<Option<usize>> {
    let c = class(bytes, i);
    if c & LETTER != 0 {
        return Some(Some(i));
    }
    if c & PREFIX != 0 {
        return match class(bytes, i + 1) {
            NON_ASCII => None,
            next if next & LETTER != 0 => Some(Some(i + 1)),
            _ => Some(None),
        };
    }
    Some(None)
}

/// `\p{N}{1,3}` at a digit.
#[inline(always)]
fn digits(bytes: &[u8], i: usize) -> Option<usize> {
    let mut end = i + 1;
    while end < i + 3 && class(bytes, end) == DIGIT {
        end += 1;
    }
    if end < i + 3 && class(bytes, end) == NON_ASCII {
        return None;
    }
    Some(end)
}

/// ` ?[^\s\p{L}\p{N}]+` then any of `trailing`, at `i`; `Some(None)` when it does not match.
#[inline(always)]
fn punctuation(bytes: &[u8], i: usize, trailing: &[u8]) -> Option<Option<usize>> {
    let first = if bytes[i] == b' ' { i + 1 } else { i };
    match class(bytes, first) {
        NON_ASCII => return None,
        OTHER => {}
        // With the space: not punctuation after it; without: a space is `\s`.
        _ => return Some(None),
    }
    let mut end = run(bytes, first, OTHER)?;
    // The run stopped at ASCII that is not punctuation, so the trailing set (ASCII) decides.
    while end < bytes.len() && trailing.contains(&bytes[end]) {
        end += 1;
    }
    Some(Some(end))
}

/// One past the last newline in `bytes[i..end]`, if any.
#[inline(always)]
fn after_last_newline(bytes: &[u8], i: usize, end: usize) -> Option<usize> {
    bytes[i..end].iter().rposition(|&b| b == b'\r' || b == b'\n').map(|p| i + p + 1)
}

/// o200k_base: `[^\r\n\p{L}\p{N}]?[\p{Lu}..]*[\p{Ll}..]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?`
/// `|[^\r\n\p{L}\p{N}]?[\p{Lu}..]+[\p{Ll}..]*(?i:...)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*`
/// `|\s*[\r\n]+|\s+` (the look-ahead branch handled by the caller).
fn o200k(bytes: &[u8], i: usize) -> Option<usize> {
    let c = class(bytes, i);
    if c == NON_ASCII {
        return None;
    }
    if let Some(letters) = word_start(bytes, i)? {
        // Upper and lower are disjoint in ASCII: the first branch matches upper* lower+, the
        // second (tried when there is no lowercase letter) upper+; together: upper* lower*,
        // never empty (a letter starts here).
        let upper_end = run(bytes, letters, UPPER)?;
        let end = run(bytes, upper_end, LOWER)?;
        return contraction(bytes, end);
    }
    if c == DIGIT {
        return digits(bytes, i);
    }
    if c & (OTHER | SPACE) != 0 {
        if let Some(end) = punctuation(bytes, i, b"\r\n/")? {
            return Some(end);
        }
    }
    // Whitespace. `\s*[\r\n]+`: `\s*` takes the whole run, then gives back to its last
    // newline, after which `[\r\n]+` can take nothing more (the run ends, or a space
    // follows); with no newline, `\s+` takes the run.
    let end = run(bytes, i, WHITESPACE)?;
    Some(after_last_newline(bytes, i, end).unwrap_or(end))
}

/// The end of the contraction at `end` (`end` itself when there is none): o200k's optional
/// `(?i:'s|'t|'re|'ve|'m|'ll|'d)?` after a word, or cl100k's `'(?i:[sdmt]|ll|ve|re)` branch
/// (the same set: `'s 't 'm 'd 're 've 'll` in any case).
#[inline(always)]
fn contraction(bytes: &[u8], end: usize) -> Option<usize> {
    if bytes.get(end) != Some(&b'\'') {
        return Some(end);
    }
    let at = |k: usize| -> Option<u8> {
        match class(bytes, end + k) {
            NON_ASCII => None,
            0 => Some(0),
            _ => Some(bytes[end + k].to_ascii_lowercase()),
        }
    };
    let length = match at(1)? {
        b's' | b't' | b'm' | b'd' => 2,
        first @ (b'r' | b'v' | b'l') => {
            let second = if first == b'l' { b'l' } else { b'e' };
            if at(2)? == second {
                3
            } else {
                0
            }
        }
        _ => 0,
    };
    Some(end + length)
}

/// cl100k_base: `'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}`
/// `| ?[^\s\p{L}\p{N}]+[\r\n]*|\s+$|\s*[\r\n]|\s+`.
fn cl100k(bytes: &[u8], i: usize) -> Option<usize> {
    let c = class(bytes, i);
    if c == NON_ASCII {
        return None;
    }
    if bytes[i] == b'\'' {
        let end = contraction(bytes, i)?;
        if end > i {
            return Some(end);
        }
    }
    if let Some(letters) = word_start(bytes, i)? {
        return run(bytes, letters, LETTER);
    }
    if c == DIGIT {
        return digits(bytes, i);
    }
    if c & (OTHER | SPACE) != 0 {
        if let Some(end) = punctuation(bytes, i, b"\r\n")? {
            return Some(end);
        }
    }
    // `\s+$` takes a run that ends the text; `\s*[\r\n]` a run up to its last newline (as in
    // o200k); else `\s+` the run.
    let end = run(bytes, i, WHITESPACE)?;
    if end == bytes.len() {
        return Some(end);
    }
    Some(after_last_newline(bytes, i, end).unwrap_or(end))
}
