//! One ready-to-use encoding: its rank map and its split pattern.

use super::merge::{self, Collector, Counter, Scratch, TokenSink};
use super::model::Encoding;
use super::pretokenize::Splitter;
use super::vocab::{self, Rank, Ranks};

/// Counts (and, for tests and tools, encodes) text with one vocabulary. Text is encoded as
/// ordinary text: a special-token string such as `<|endoftext|>` in it is counted as the
/// characters it is made of, as tiktoken's `encode_ordinary` does.
pub struct Encoder {
    encoding: Encoding,
    ranks: Ranks,
    splitter: Splitter,
}

impl Encoder {
    /// Build `encoding` from its embedded table. Errors only if the embedded data is corrupt.
    pub fn build(encoding: Encoding) -> Result<Self, String> {
        Ok(Self { encoding, ranks: vocab::load(encoding)?, splitter: Splitter::new(encoding)? })
    }

    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Number of tokens of `text`.
    pub fn count(&self, text: &str) -> usize {
        let mut counter = Counter::default();
        self.encode_into(text, &mut counter);
        counter.0
    }

    /// The token ranks of `text` (what tiktoken's `encode_ordinary` returns).
    pub fn encode(&self, text: &str) -> Vec<Rank> {
        let mut collector = Collector::default();
        self.encode_into(text, &mut collector);
        collector.0
    }

    fn encode_into(&self, text: &str, sink: &mut impl TokenSink) {
        let mut scratch = Scratch::default();
        self.splitter.for_each_piece(text, |piece| {
            let piece = piece.as_bytes();
            // Most pre-tokens of ordinary text are a token as they stand.
            match self.ranks.get(piece) {
                Some(&rank) => sink.token(&self.ranks, piece, Some(rank)),
                None => merge::encode_piece(&self.ranks, piece, &mut scratch, sink),
            }
        });
    }
}
