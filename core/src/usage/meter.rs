//! One response body metered as it passes to the SDK: the usage-chunk filter
//! (when costline asked for a stream's usage itself) followed by the body
//! scanner. A language layer that sees response bytes (Node's drop-ins wrap
//! the fetch `Response` body) feeds every chunk here and passes on what comes
//! back; the usage the filter removed joins the scanner's parts at the end.

use super::body::{BodyScanner, Scanned, UsageChunkFilter};

#[derive(Debug)]
pub struct BodyMeter {
    filter: Option<UsageChunkFilter>,
    scanner: BodyScanner,
}

impl BodyMeter {
    /// `sse`: an event stream, else one JSON document. `hide_usage`: remove the
    /// usage-only chunk the caller did not ask for (OpenAI chat streams).
    pub fn new(provider: &str, sse: bool, hide_usage: bool) -> BodyMeter {
        BodyMeter {
            filter: (sse && hide_usage).then(UsageChunkFilter::new),
            scanner: BodyScanner::new(provider, sse),
        }
    }

    /// The bytes to pass on for `chunk`; `None` means `chunk` itself.
    pub fn feed(&mut self, chunk: &[u8]) -> Option<Vec<u8>> {
        match self.filter.as_mut() {
            None => {
                self.scanner.feed(chunk);
                None
            }
            Some(filter) => {
                let out = filter.feed(chunk);
                self.scanner.feed(out.as_deref().unwrap_or(chunk));
                out
            }
        }
    }

    /// Bytes the filter still held at the end of the body (pass them on).
    pub fn tail(&mut self) -> Vec<u8> {
        let rest = self.filter.as_mut().map(UsageChunkFilter::finish).unwrap_or_default();
        self.scanner.feed(&rest);
        rest
    }

    /// What the body yielded, the removed chunk's usage included.
    pub fn finish(self) -> Scanned {
        let mut scanned = self.scanner.finish();
        if let Some(usage) = self.filter.as_ref().and_then(UsageChunkFilter::usage) {
            scanned.parts.push(usage.clone());
        }
        scanned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHUNK: &str = "data: {\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}],\"usage\":null}\n\n";
    const USAGE: &str = "data: {\"model\":\"gpt-4o-2024-08-06\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\ndata: [DONE]\n\n";

    #[test]
    fn a_hidden_usage_chunk_is_removed_from_the_bytes_and_kept_for_the_event() {
        let mut meter = BodyMeter::new("openai", true, true);
        let mut passed = Vec::new();
        for chunk in [CHUNK, USAGE] {
            match meter.feed(chunk.as_bytes()) {
                Some(out) => passed.extend(out),
                None => passed.extend_from_slice(chunk.as_bytes()),
            }
        }
        passed.extend(meter.tail());
        let passed = String::from_utf8(passed).unwrap();
        assert!(!passed.contains("prompt_tokens"), "{passed}");
        assert!(passed.contains("[DONE]"), "{passed}");
        let scanned = meter.finish();
        assert_eq!(scanned.parts.len(), 1, "{scanned:?}");
        assert_eq!(scanned.parts[0]["prompt_tokens"], 9);
        assert_eq!(scanned.resolved_model.as_deref(), Some("gpt-4o-2024-08-06"));
    }

    #[test]
    fn without_hiding_every_byte_passes_and_the_usage_is_scanned() {
        let mut meter = BodyMeter::new("openai", true, false);
        assert!(meter.feed(USAGE.as_bytes()).is_none());
        assert!(meter.tail().is_empty());
        assert_eq!(meter.finish().parts[0]["completion_tokens"], 2);
    }
}
