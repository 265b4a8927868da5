//! Byte-pair merging of one pre-token: repeatedly merge the adjacent pair whose merged bytes
//! have the lowest rank (the leftmost among equals) until no adjacent pair is a token. This is
//! tiktoken's rule, and these functions give tiktoken's tokens exactly (the tests compare them
//! with the stock tiktoken-rs encoders token for token).
//!
//! Why costline merges itself instead of calling tiktoken-rs: the crate's only public merge,
//! `byte_pair_split`, is its quadratic variant, allocates per call and wants a
//! `HashMap<Vec<u8>, Rank>`, which takes 30-50 ms to build; its heap-based variant for long
//! pieces is reachable only through `CoreBPE`, whose constructor alone takes 80-145 ms here even
//! from a ready map, against a 100 ms target for the whole build. (tiktoken-rs 0.12.1; the
//! bench in core/benches/tokens.rs shows the totals.)
//!
//! Two strategies, same result: a linear scan for short pieces (almost all of them; the scan
//! is cache-friendly and allocation-free), and from 100 bytes on, as in tiktoken, a heap of
//! candidate merges, where the scan's O(n²) starts to show (measured: 250-byte pieces merge
//! 2.5x faster with the heap).
//!
//! Pathological input: a long run of one character (`"a" * 100_000`) is a single pre-token,
//! and even an O(n log n) merge over 100 KB takes 20-40 ms. So a pre-token longer than
//! [`MAX_PIECE_BYTES`] is cut into consecutive chunks of at most that many bytes (backing up
//! to a character boundary), each merged on its own, which bounds the work per byte. Such a
//! run then consists of identical chunks, and identical bytes merge into identical tokens, so
//! a chunk equal to the one before it replays that one's tokens instead of merging again:
//! 100 KB of one character costs about a millisecond. Only pre-tokens over the cap can be
//! counted differently from tiktoken, typically by a token or so per cut (the tests hold long
//! runs to at most one per chunk); ordinary text (words, numbers, punctuation, indentation,
//! CJK sentences) has no pre-token that long and is counted exactly.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::vocab::{Rank, Ranks};

/// Pre-tokens longer than this are merged in chunks of at most this many bytes.
pub(crate) const MAX_PIECE_BYTES: usize = 4096;

/// Pieces at least this long use the heap-based merge.
const HEAP_MERGE_MIN_BYTES: usize = 100;

/// "No pair here": ranks are dense from 0, far below this.
const NO_RANK: Rank = Rank::MAX;

/// Receives the tokens of a text, in order. Counting ignores what encoding needs.
pub(crate) trait TokenSink {
    /// One token: its bytes, and its rank when the caller already knows it.
    fn token(&mut self, ranks: &Ranks, bytes: &[u8], rank: Option<Rank>);
}

/// Counts tokens.
#[derive(Default)]
pub(crate) struct Counter(pub usize);

impl TokenSink for Counter {
    #[inline]
    fn token(&mut self, _: &Ranks, _: &[u8], _: Option<Rank>) {
        self.0 += 1;
    }
}

/// Collects token ranks (for tests and tools; counting never needs them).
#[derive(Default)]
pub(crate) struct Collector(pub Vec<Rank>);

impl TokenSink for Collector {
    fn token(&mut self, ranks: &Ranks, bytes: &[u8], rank: Option<Rank>) {
        // Every final part of a merge is a token (single bytes all are); NO_RANK cannot occur.
        self.0.push(rank.or_else(|| ranks.get(bytes).copied()).unwrap_or(NO_RANK));
    }
}

/// Working memory reused across the pieces of one text.
#[derive(Default)]
pub(crate) struct Scratch {
    /// Linear merge: (start of part, rank of merging it with the next part).
    parts: Vec<(usize, Rank)>,
    /// Heap merge: end of the part starting at i (parts are identified by their start).
    ends: Vec<u32>,
    /// Heap merge: start of the part before the part starting at i.
    prevs: Vec<u32>,
    /// Heap merge: rank of merging the part starting at i with the next one, NO_RANK if none
    /// (or if i is no longer the start of a part).
    pair_ranks: Vec<Rank>,
    /// Long pieces: token lengths of the last chunk, replayed for an identical next chunk.
    chunk_token_lengths: Vec<usize>,
    /// Heap merge: candidate merges keyed by `heap_key`.
    heap: BinaryHeap<Reverse<u64>>,
}

/// Emit the tokens of one pre-token.
pub(crate) fn encode_piece(ranks: &Ranks, piece: &[u8], scratch: &mut Scratch, sink: &mut impl TokenSink) {
    if piece.len() <= MAX_PIECE_BYTES {
        return encode_chunk(ranks, piece, scratch, sink);
    }
    // A pre-token this long is nearly always one character (or a short pattern) repeated, so
    // consecutive chunks are often byte-identical. Identical bytes merge into identical tokens:
    // replay the previous chunk's token lengths instead of merging again.
    let mut previous: &[u8] = &[];
    let mut lengths = std::mem::take(&mut scratch.chunk_token_lengths);
    lengths.clear();
    let mut rest = piece;
    while !rest.is_empty() {
        let mut cut = rest.len().min(MAX_PIECE_BYTES);
        // Back up to a character boundary (a byte that is not a UTF-8 continuation byte); a
        // character is at most 4 bytes, so this stays well above 0.
        while cut < rest.len() && cut > 1 && rest[cut] & 0xC0 == 0x80 {
            cut -= 1;
        }
        let (chunk, tail) = rest.split_at(cut);
        if chunk == previous {
            let mut start = 0;
            for &len in &lengths {
                sink.token(ranks, &chunk[start..start + len], None);
                start += len;
            }
        } else {
            lengths.clear();
            encode_chunk(ranks, chunk, scratch, &mut Recording { inner: sink, lengths: &mut lengths });
            previous = chunk;
        }
        rest = tail;
    }
    scratch.chunk_token_lengths = lengths;
}

/// Passes tokens on and notes their lengths, for replaying an identical chunk.
struct Recording<'a, S> {
    inner: &'a mut S,
    lengths: &'a mut Vec<usize>,
}

impl<S: TokenSink> TokenSink for Recording<'_, S> {
    fn token(&mut self, ranks: &Ranks, bytes: &[u8], rank: Option<Rank>) {
        self.lengths.push(bytes.len());
        self.inner.token(ranks, bytes, rank);
    }
}

fn encode_chunk(ranks: &Ranks, chunk: &[u8], scratch: &mut Scratch, sink: &mut impl TokenSink) {
    if let Some(&rank) = ranks.get(chunk) {
        sink.token(ranks, chunk, Some(rank));
    } else if chunk.len() < HEAP_MERGE_MIN_BYTES {
        merge_linear(ranks, chunk, scratch, sink);
    } else {
        merge_with_heap(ranks, chunk, scratch, sink);
    }
}

#[inline]
fn rank_of(ranks: &Ranks, bytes: &[u8]) -> Rank {
    ranks.get(bytes).copied().unwrap_or(NO_RANK)
}

/// The linear-scan merge: each step scans the candidate pairs for the lowest rank. O(n·merges),
/// fastest for the short pieces that make up almost all text.
fn merge_linear(ranks: &Ranks, piece: &[u8], scratch: &mut Scratch, sink: &mut impl TokenSink) {
    if piece.len() < 2 {
        for byte in piece.chunks(1) {
            sink.token(ranks, byte, None);
        }
        return;
    }
    let parts = &mut scratch.parts;
    parts.clear();
    for start in 0..piece.len() - 1 {
        parts.push((start, rank_of(ranks, &piece[start..start + 2])));
    }
    // Two sentinels: the last byte (no pair after it) and the end of the piece.
    parts.push((piece.len() - 1, NO_RANK));
    parts.push((piece.len(), NO_RANK));

    // Rank of merging part i with part i + 1 once part i + 1 has absorbed part i + 2 (the
    // parts vector still holds the absorbed part, hence i + 3).
    let merged_rank = |parts: &[(usize, Rank)], i: usize| -> Rank {
        if i + 3 < parts.len() {
            rank_of(ranks, &piece[parts[i].0..parts[i + 3].0])
        } else {
            NO_RANK
        }
    };

    loop {
        let mut best = (NO_RANK, 0);
        for (i, &(_, rank)) in parts[..parts.len() - 1].iter().enumerate() {
            if rank < best.0 {
                best = (rank, i);
            }
        }
        let (rank, i) = best;
        if rank == NO_RANK {
            break;
        }
        // Merge part i with part i + 1: part i now ends where part i + 2 starts.
        if i > 0 {
            parts[i - 1].1 = merged_rank(parts, i - 1);
        }
        parts[i].1 = merged_rank(parts, i);
        parts.remove(i + 1);
    }
    for pair in parts.windows(2) {
        sink.token(ranks, &piece[pair[0].0..pair[1].0], None);
    }
}

/// The heap merge: candidate merges in a min-heap by (rank, start), stale entries skipped
/// when popped. O(n log n); the same merges in the same order as the linear scan.
fn merge_with_heap(ranks: &Ranks, piece: &[u8], scratch: &mut Scratch, sink: &mut impl TokenSink) {
    // Positions fit in u32: pieces reaching this function are at most MAX_PIECE_BYTES long.
    let n = piece.len() as u32;
    let Scratch { ends, prevs, pair_ranks, heap, .. } = scratch;
    ends.clear();
    prevs.clear();
    pair_ranks.clear();
    let mut candidates = std::mem::take(heap).into_vec();
    candidates.clear();
    for i in 0..n {
        ends.push(i + 1);
        prevs.push(i.wrapping_sub(1));
        let rank = if i + 1 < n { rank_of(ranks, &piece[i as usize..i as usize + 2]) } else { NO_RANK };
        pair_ranks.push(rank);
        if rank != NO_RANK {
            candidates.push(Reverse(heap_key(rank, i)));
        }
    }
    *heap = BinaryHeap::from(candidates); // heapify: O(n), cheaper than n pushes

    while let Some(Reverse(key)) = heap.pop() {
        let (rank, left) = ((key >> 32) as Rank, key as u32);
        if pair_ranks[left as usize] != rank {
            continue; // stale: the part changed (or was absorbed) since this was pushed
        }
        let right = ends[left as usize];
        let right_end = ends[right as usize];
        ends[left as usize] = right_end;
        pair_ranks[right as usize] = NO_RANK; // `right` no longer starts a part
        if right_end < n {
            prevs[right_end as usize] = left;
        }
        // The merged part's pair with its new right neighbour...
        let next_rank = if right_end < n {
            rank_of(ranks, &piece[left as usize..ends[right_end as usize] as usize])
        } else {
            NO_RANK
        };
        pair_ranks[left as usize] = next_rank;
        if next_rank != NO_RANK {
            heap.push(Reverse(heap_key(next_rank, left)));
        }
        // ...and its left neighbour's pair with it.
        if left > 0 {
            let prev = prevs[left as usize];
            let prev_rank = rank_of(ranks, &piece[prev as usize..right_end as usize]);
            pair_ranks[prev as usize] = prev_rank;
            if prev_rank != NO_RANK {
                heap.push(Reverse(heap_key(prev_rank, prev)));
            }
        }
    }

    let mut start = 0;
    while start < n {
        let end = ends[start as usize];
        sink.token(ranks, &piece[start as usize..end as usize], None);
        start = end;
    }
}

/// Heap order is (rank, start): the lowest rank first, the leftmost among equal ranks. One u64
/// compares faster than a tuple, and the heap moves half the bytes.
#[inline]
fn heap_key(rank: Rank, start: u32) -> u64 {
    (u64::from(rank) << 32) | u64::from(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy_ranks() -> Ranks {
        let mut ranks = Ranks::default();
        for (i, token) in
            [&b"a"[..], b"b", b"c", b"ab", b"bc", b"abc", b"aa", b"aaaa"].into_iter().enumerate()
        {
            ranks.insert(token, i as Rank);
        }
        ranks
    }

    fn split(piece: &[u8], heap: bool) -> Vec<Vec<u8>> {
        struct Parts(Vec<Vec<u8>>);
        impl TokenSink for Parts {
            fn token(&mut self, _: &Ranks, bytes: &[u8], _: Option<Rank>) {
                self.0.push(bytes.to_vec());
            }
        }
        let ranks = toy_ranks();
        let mut parts = Parts(Vec::new());
        if heap {
            merge_with_heap(&ranks, piece, &mut Scratch::default(), &mut parts);
        } else {
            merge_linear(&ranks, piece, &mut Scratch::default(), &mut parts);
        }
        parts.0
    }

    #[test]
    fn lowest_rank_pair_merges_first() {
        // "ab" (3) beats "bc" (4), then "abc" (5) forms from "ab" + "c".
        assert_eq!(split(b"abc", false), [b"abc".to_vec()]);
        assert_eq!(split(b"abc", true), [b"abc".to_vec()]);
        assert_eq!(split(b"cab", false), [b"c".to_vec(), b"ab".to_vec()]);
    }

    #[test]
    fn equal_ranks_merge_leftmost_first() {
        for heap in [false, true] {
            assert_eq!(split(b"aaa", heap), [b"aa".to_vec(), b"a".to_vec()]);
            assert_eq!(split(b"aaaaa", heap), [b"aaaa".to_vec(), b"a".to_vec()]);
        }
    }

    #[test]
    fn heap_and_linear_merges_agree_on_every_short_string() {
        // All strings over {a, b, c} up to length 7.
        let mut strings = vec![Vec::new()];
        for _ in 0..7 {
            let longer: Vec<Vec<u8>> = strings
                .iter()
                .flat_map(|s| [b'a', b'b', b'c'].map(|c| [s.clone(), vec![c]].concat()))
                .collect();
            for s in &longer {
                assert_eq!(split(s, false), split(s, true), "{}", String::from_utf8_lossy(s));
            }
            strings = longer;
        }
    }

    #[test]
    fn long_pieces_are_cut_at_character_boundaries() {
        struct Lengths(Vec<usize>);
        impl TokenSink for Lengths {
            fn token(&mut self, _: &Ranks, bytes: &[u8], _: Option<Rank>) {
                self.0.push(bytes.len());
            }
        }
        // '€' is three bytes and merges into one token; MAX_PIECE_BYTES is not a multiple of
        // three, so a cut at exactly that length would split a character into partial tokens.
        let text = "\u{20ac}".repeat(2000);
        let mut ranks = Ranks::default();
        for (i, token) in
            [&b"\xe2"[..], b"\x82", b"\xac", b"\xe2\x82", "\u{20ac}".as_bytes()].into_iter().enumerate()
        {
            ranks.insert(token, i as Rank);
        }
        let mut lengths = Lengths(Vec::new());
        encode_piece(&ranks, text.as_bytes(), &mut Scratch::default(), &mut lengths);
        assert_eq!(lengths.0, vec![3; 2000]);
    }
}
