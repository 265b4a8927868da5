//! One response body metered as it passes to the SDK: the usage-chunk filter
//! (when costline asked for a stream's usage itself) followed by the body
//! scanner. A language layer that sees response bytes (Node's drop-ins wrap
//! the fetch `Response` body) feeds every chunk here and passes on what comes
//! back; the usage the filter removed joins the scanner's parts at the end.

use serde_json::Value;

use super::body::{has_usage_object, BodyScanner, Scanned, UsageChunkFilter, MAX_KEPT_BYTES};

#[derive(Debug)]
pub struct BodyMeter {
    filter: Option<UsageChunkFilter>,
    scanner: BodyScanner,
    /// The bytes passed on, kept unscanned: the body is read for usage once,
    /// at the end, where the event is built (the writer thread, when nobody
    /// waits for the cost) rather than chunk by chunk on the caller's thread.
    /// Past `MAX_KEPT_BYTES` they go through the scanner as they come.
    kept: Option<Vec<u8>>,
    /// The reader left before the end of a body whose usage is a running
    /// count: that usage is not the call's, which is estimated instead.
    abandoned: bool,
}

/// A body handed over whole, for its usage to be read where the event is built.
#[derive(Debug, Clone, PartialEq)]
pub struct KeptBody {
    pub bytes: Vec<u8>,
    /// Usage that is not in `bytes` (the stream's usage chunk costline hid).
    pub parts: Vec<Value>,
}

impl BodyMeter {
    /// `sse`: an event stream, else one JSON document. `hide_usage`: remove the
    /// usage-only chunk the caller did not ask for (OpenAI chat streams).
    pub fn new(provider: &str, sse: bool, hide_usage: bool) -> BodyMeter {
        BodyMeter {
            filter: (sse && hide_usage).then(UsageChunkFilter::new),
            scanner: BodyScanner::new(provider, sse),
            kept: Some(Vec::new()),
            abandoned: false,
        }
    }

    /// The reader left before the body's end (a `break` out of a stream). A
    /// stream whose usage is a running count (Gemini's) then yields no usage
    /// parts: what arrived lacks the output to come, so the call is estimated
    /// from its request and the text that arrived, as an estimate.
    pub fn abandon(&mut self) {
        if self.scanner.usage_is_running() {
            self.abandoned = true;
        }
    }

    fn pass(&mut self, bytes: &[u8]) {
        match self.kept.as_mut() {
            Some(kept) if kept.len() + bytes.len() <= MAX_KEPT_BYTES => kept.extend_from_slice(bytes),
            Some(_) => {
                let kept = self.kept.take().unwrap_or_default();
                self.scanner.feed(&kept);
                self.scanner.feed(bytes);
            }
            None => self.scanner.feed(bytes),
        }
    }

    /// The bytes to pass on for `chunk`; `None` means `chunk` itself.
    pub fn feed(&mut self, chunk: &[u8]) -> Option<Vec<u8>> {
        let out = self.filter.as_mut().and_then(|f| f.feed(chunk));
        self.pass(out.as_deref().unwrap_or(chunk));
        out
    }

    /// [`feed`](Self::feed), a line at a time, asking `check` about the output
    /// text after each (a stream metered against a budget, after
    /// [`watch_output`](Self::watch_output)). Returns the bytes to pass on
    /// (`None`: `chunk` itself) and, when `check` refused a line, its error:
    /// the bytes then stop before that line, so the caller never sees output
    /// past the cap. The refused line stays in the output text: the provider
    /// produced it, and a line is far smaller than the stream margin.
    pub fn feed_checked<E>(
        &mut self,
        chunk: &[u8],
        mut check: impl FnMut(&str) -> Result<(), E>,
    ) -> (Option<Vec<u8>>, Option<E>) {
        let mut passed = Vec::with_capacity(chunk.len());
        let mut changed = false;
        for line in chunk.split_inclusive(|b| *b == b'\n') {
            let before = self.scanner.output_text().len();
            match self.feed(line) {
                Some(out) => {
                    changed = true;
                    passed.extend_from_slice(&out);
                }
                None => passed.extend_from_slice(line),
            }
            if self.scanner.output_text().len() == before {
                continue;
            }
            if let Err(refused) = check(self.scanner.output_text()) {
                passed.truncate(passed.len() - line.len().min(passed.len()));
                return (Some(passed), Some(refused));
            }
        }
        (changed.then_some(passed), None)
    }

    /// Bytes the filter still held at the end of the body (pass them on).
    pub fn tail(&mut self) -> Vec<u8> {
        let rest = self.filter.as_mut().map(UsageChunkFilter::finish).unwrap_or_default();
        self.pass(&rest);
        rest
    }

    /// The body as it stands, to read later, when it carries usage (then no
    /// request is needed for an estimate); `None` leaves it to `finish`.
    pub fn take_with_usage(&mut self) -> Option<KeptBody> {
        if self.abandoned {
            return None;
        }
        let hidden: Vec<Value> =
            self.filter.as_ref().and_then(UsageChunkFilter::usage).cloned().into_iter().collect();
        let kept = self.kept.as_ref()?;
        if hidden.is_empty() && !has_usage_object(kept) {
            return None;
        }
        Some(KeptBody { bytes: self.kept.take().unwrap_or_default(), parts: hidden })
    }

    /// Scan the body as it comes rather than at the end, so that
    /// [`output_text`](Self::output_text) grows with it (a stream metered
    /// against a budget as it goes).
    pub fn watch_output(&mut self) {
        if let Some(kept) = self.kept.take() {
            self.scanner.feed(&kept);
        }
    }

    /// The output text scanned so far (all of it after `watch_output`).
    pub fn output_text(&self) -> &str {
        self.scanner.output_text()
    }

    /// What the body yielded, the removed chunk's usage included.
    pub fn finish(mut self) -> Scanned {
        if let Some(kept) = self.kept.take() {
            self.scanner.feed(&kept);
        }
        let mut scanned = self.scanner.finish();
        if self.abandoned {
            scanned.parts.clear();
        }
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

    const GEMINI_FIRST: &str = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hel\"}]}}],\"usageMetadata\":{\"promptTokenCount\":40,\"totalTokenCount\":40}}\r\n\r\n";

    #[test]
    fn a_gemini_stream_left_early_yields_no_usage_but_its_text() {
        let mut meter = BodyMeter::new("google", true, false);
        assert!(meter.feed(GEMINI_FIRST.as_bytes()).is_none());
        meter.abandon();
        assert!(meter.take_with_usage().is_none());
        let scanned = meter.finish();
        assert!(scanned.parts.is_empty(), "{scanned:?}");
        assert_eq!(scanned.output_text, "Hel");
    }

    #[test]
    fn a_gemini_stream_read_to_its_end_keeps_its_usage() {
        let mut meter = BodyMeter::new("google", true, false);
        meter.feed(GEMINI_FIRST.as_bytes());
        assert!(meter.tail().is_empty());
        assert_eq!(meter.finish().parts[0]["promptTokenCount"], 40);
    }

    #[test]
    fn an_openai_stream_left_early_keeps_what_usage_came() {
        let mut meter = BodyMeter::new("openai", true, false);
        meter.feed(USAGE.as_bytes());
        meter.abandon();
        assert_eq!(meter.finish().parts.len(), 1);
    }

    #[test]
    fn a_watched_body_yields_its_output_text_chunk_by_chunk() {
        let mut meter = BodyMeter::new("openai", true, true);
        meter.watch_output();
        meter.feed(CHUNK.as_bytes());
        assert_eq!(meter.output_text(), "Hi");
        meter.feed(CHUNK.as_bytes());
        assert_eq!(meter.output_text(), "HiHi");
        meter.feed(USAGE.as_bytes());
        assert!(meter.take_with_usage().is_none(), "a watched body is scanned, not kept");
        assert_eq!(meter.finish().parts[0]["completion_tokens"], 2);
    }

    #[test]
    fn a_checked_feed_stops_before_the_line_that_is_refused() {
        let mut meter = BodyMeter::new("openai", true, false);
        meter.watch_output();
        let two = format!("{CHUNK}{CHUNK}");
        let (out, refused) =
            meter.feed_checked(two.as_bytes(), |text| if text.len() > 2 { Err(text.len()) } else { Ok(()) });
        assert_eq!(refused, Some(4));
        assert_eq!(String::from_utf8(out.unwrap()).unwrap(), CHUNK, "only the first event passes");
        let (out, refused) =
            BodyMeter::new("openai", true, false).feed_checked(two.as_bytes(), |_| Ok::<(), ()>(()));
        assert_eq!((out, refused), (None, None), "nothing refused: the chunk itself passes");
    }

    #[test]
    fn without_hiding_every_byte_passes_and_the_usage_is_scanned() {
        let mut meter = BodyMeter::new("openai", true, false);
        assert!(meter.feed(USAGE.as_bytes()).is_none());
        assert!(meter.tail().is_empty());
        assert_eq!(meter.finish().parts[0]["completion_tokens"], 2);
    }
}
