//! Usage read from a response's raw bytes, for callers that read a response
//! themselves (`with_streaming_response` read as bytes or lines, never
//! parsed by the SDK). Fed the bytes as they pass, it keeps only what
//! metering needs: the usage payload parts, the model the provider answered
//! with, and (for an estimate when no usage comes) the output text, bounded.
//!
//! Two body kinds: a server-sent-event stream (`data: {...}` lines; OpenAI
//! chat/completions chunks, Responses API events, Anthropic message events)
//! and a plain JSON body (read whole at the end, up to a bound).

use serde_json::Value;

/// The most body bytes kept for a JSON body, and the most output text kept
/// for an estimate. Past them, the body is not parsed (the call is estimated)
/// and the text stops growing: metering never holds a large response.
pub const MAX_KEPT_BYTES: usize = 4 << 20;

#[derive(Debug)]
pub struct BodyScanner {
    provider: String,
    sse: bool,
    pending: Vec<u8>,
    overflowed: bool,
    /// OpenAI: the last usage seen. Anthropic: `message_start`'s usage, then
    /// the last `message_delta`'s (merged by `usage::normalize`).
    start: Option<Value>,
    last: Option<Value>,
    model: Option<String>,
    text: String,
    /// The stream carried an error event (chat `data: {"error": ...}`,
    /// `event: error`): the SDKs raise it from iteration.
    stream_error: bool,
}

/// What a scanned body yielded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scanned {
    /// Usage payload parts, as `usage::normalize` takes them; empty when none came.
    pub parts: Vec<Value>,
    pub resolved_model: Option<String>,
    pub output_text: String,
    /// The error the SDKs raise for an error event inside a stream (their
    /// `APIError`), when the stream carried one.
    pub error_type: Option<String>,
}

impl BodyScanner {
    /// `sse`: the body is an event stream; else one JSON document.
    pub fn new(provider: &str, sse: bool) -> BodyScanner {
        BodyScanner {
            provider: provider.to_string(),
            sse,
            pending: Vec::new(),
            overflowed: false,
            start: None,
            last: None,
            model: None,
            text: String::new(),
            stream_error: false,
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        if self.overflowed {
            return;
        }
        self.pending.extend_from_slice(bytes);
        if !self.sse {
            if self.pending.len() > MAX_KEPT_BYTES {
                self.overflowed = true;
                self.pending = Vec::new();
            }
            return;
        }
        let mut consumed = 0;
        while let Some(offset) = memchr::memchr(b'\n', &self.pending[consumed..]) {
            let line = self.pending[consumed..consumed + offset].to_vec();
            consumed += offset + 1;
            self.line(&line);
        }
        self.pending.drain(..consumed);
        if self.pending.len() > MAX_KEPT_BYTES {
            // A single line this long is not an event we can use.
            self.pending.clear();
        }
    }

    /// Whether the usage this body carries before its end is a running count
    /// that lacks the output still to come: a Gemini stream repeats
    /// `usageMetadata` on every chunk, its output counts only on the last.
    /// (OpenAI-shaped and Anthropic streams give their output counts at the end.)
    pub fn usage_is_running(&self) -> bool {
        self.sse && self.provider == "google"
    }

    /// The output text of the events scanned so far (streams).
    pub fn output_text(&self) -> &str {
        &self.text
    }

    /// The body ended (or was abandoned): what it yielded.
    pub fn finish(mut self) -> Scanned {
        if self.sse {
            let rest = std::mem::take(&mut self.pending);
            self.line(&rest);
        } else if !self.overflowed {
            // Only the fields metering reads are built; the rest of the body
            // (the output, often most of it) is skipped without allocating.
            let gemini = (self.provider == "google")
                .then(|| serde_json::from_slice::<Value>(&self.pending).ok())
                .flatten()
                .filter(is_gemini_response);
            if let Some(body) = gemini {
                // A Gemini body is one `GenerateContentResponse`, like a stream chunk.
                self.gemini_response(&body);
            } else if let Ok(body) = serde_json::from_slice::<JsonBody>(&self.pending) {
                self.model = body.model.as_ref().and_then(Value::as_str).map(str::to_string);
                match body.usage {
                    Some(Value::Object(mut usage)) => {
                        if let Some(tier @ Value::String(_)) = body.service_tier {
                            usage.insert("service_tier".to_string(), tier);
                        }
                        self.last = Some(Value::Object(usage));
                    }
                    // No usage (some compatible servers): the output text, for
                    // an estimate. Rare, so the whole body is parsed only then.
                    _ => {
                        if let Ok(whole) = serde_json::from_slice::<Value>(&self.pending) {
                            self.collect_output_text(&whole);
                        }
                    }
                }
            }
        }
        let parts: Vec<Value> = [self.start, self.last].into_iter().flatten().collect();
        let error_type = self.stream_error.then(|| "APIError".to_string());
        Scanned { parts, resolved_model: self.model, output_text: self.text, error_type }
    }

    fn line(&mut self, line: &[u8]) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(data) = line.strip_prefix(b"data:") else {
            return;
        };
        let data = data.trim_ascii();
        if data.is_empty() || data == b"[DONE]" {
            return;
        }
        let Ok(event) = serde_json::from_slice::<Value>(data) else {
            return;
        };
        self.event(&event);
    }

    /// One event of an SSE body, already parsed (a caller that parses the stream's
    /// events itself, as the fallback's stream translation does, reads each once).
    pub fn event(&mut self, event: &Value) {
        if event.get("error").is_some_and(|e| !e.is_null())
            || event.get("type").and_then(Value::as_str) == Some("error")
        {
            self.stream_error = true;
        }
        match self.provider.as_str() {
            "anthropic" => self.anthropic_event(event),
            "bedrock" => self.bedrock_event(event),
            "google" if is_gemini_response(event) => self.gemini_response(event),
            _ => self.openai_event(event),
        }
    }

    fn openai_event(&mut self, event: &Value) {
        match event.get("type").and_then(Value::as_str) {
            // Responses API events.
            Some("response.output_text.delta") => self.push_text(event.get("delta")),
            Some("response.created" | "response.completed" | "response.incomplete" | "response.failed") => {
                if let Some(response) = event.get("response") {
                    self.note_model(response.get("model"));
                    if let Some(usage) = response.get("usage").filter(|u| u.is_object()) {
                        self.last = Some(with_service_tier(usage, response));
                    }
                }
            }
            Some(_) => {}
            // Chat completion (and legacy completion) chunks.
            None => {
                self.note_model(event.get("model"));
                if let Some(usage) = event.get("usage").filter(|u| u.is_object()) {
                    self.last = Some(with_service_tier(usage, event));
                }
                for choice in event.get("choices").and_then(Value::as_array).into_iter().flatten() {
                    match choice.get("delta") {
                        Some(delta) => self.push_text(delta.get("content")),
                        None => self.push_text(choice.get("text")),
                    }
                }
            }
        }
    }

    fn anthropic_event(&mut self, event: &Value) {
        match event.get("type").and_then(Value::as_str) {
            Some("message_start") => {
                if let Some(message) = event.get("message") {
                    self.note_model(message.get("model"));
                    self.start = message.get("usage").filter(|u| u.is_object()).cloned();
                }
            }
            Some("message_delta") => {
                if let Some(usage) = event.get("usage").filter(|u| u.is_object()) {
                    self.last = Some(usage.clone());
                }
            }
            Some("content_block_delta") => {
                if let Some(delta) = event.get("delta") {
                    if delta.get("type").and_then(Value::as_str) == Some("text_delta") {
                        self.push_text(delta.get("text"));
                    }
                }
            }
            _ => {}
        }
    }

    /// A Bedrock ConverseStream event as boto3 yields it (`{"<eventType>": body}`): the
    /// usage comes in `metadata`, the text in `contentBlockDelta`.
    fn bedrock_event(&mut self, event: &Value) {
        if let Some(usage) = event.get("metadata").and_then(|m| m.get("usage")).filter(|u| u.is_object()) {
            self.last = Some(usage.clone());
        }
        if let Some(delta) = event.get("contentBlockDelta").and_then(|d| d.get("delta")) {
            self.push_text(delta.get("text"));
        }
    }

    /// A Gemini `GenerateContentResponse` (a whole body, or one chunk of
    /// `streamGenerateContent?alt=sse`): `usageMetadata` is cumulative, so the
    /// last one seen wins; `modelVersion` is the model that answered.
    fn gemini_response(&mut self, response: &Value) {
        self.note_model(response.get("modelVersion"));
        if let Some(usage) = response.get("usageMetadata").filter(|u| u.is_object()) {
            self.last = Some(usage.clone());
        }
        let candidates = response.get("candidates").and_then(Value::as_array).into_iter().flatten();
        for candidate in candidates {
            let parts = candidate.get("content").and_then(|c| c.get("parts")).and_then(Value::as_array);
            for part in parts.into_iter().flatten() {
                // Thought summaries are not the answer's text.
                if part.get("thought").and_then(Value::as_bool) != Some(true) {
                    self.push_text(part.get("text"));
                }
            }
        }
        if response.get("error").is_some_and(|e| !e.is_null()) {
            self.stream_error = true;
        }
    }

    /// The text of a whole response: chat `choices[].message.content` (or
    /// legacy `choices[].text`), Responses `output[].content[].text`,
    /// Anthropic `content[].text`.
    fn collect_output_text(&mut self, body: &Value) {
        fn items(v: Option<&Value>) -> impl Iterator<Item = &Value> {
            v.and_then(Value::as_array).into_iter().flatten()
        }
        for choice in items(body.get("choices")) {
            match choice.get("message") {
                Some(message) => self.push_text(message.get("content")),
                None => self.push_text(choice.get("text")),
            }
        }
        for output in items(body.get("output")) {
            for part in items(output.get("content")) {
                self.push_text(part.get("text"));
            }
        }
        for block in items(body.get("content")) {
            self.push_text(block.get("text"));
        }
    }

    fn note_model(&mut self, model: Option<&Value>) {
        if self.model.is_none() {
            self.model = model.and_then(Value::as_str).filter(|m| !m.is_empty()).map(str::to_string);
        }
    }

    fn push_text(&mut self, text: Option<&Value>) {
        if let Some(text) = text.and_then(Value::as_str) {
            if self.text.len() + text.len() <= MAX_KEPT_BYTES {
                self.text.push_str(text);
            }
        }
    }
}

/// Removes, from an OpenAI chat event stream, the usage-only chunk costline
/// asked for on the caller's behalf (`stream_options.include_usage` the caller
/// did not set), and keeps its usage. The SDK then never parses that chunk:
/// the caller gets exactly the events an unmetered client would, and the
/// parse is not paid for. Only lines that can be that chunk are parsed (a
/// `"usage"` key followed by an object); every other byte passes unchanged.
#[derive(Debug, Default)]
pub struct UsageChunkFilter {
    pending: Vec<u8>,
    /// The dropped chunk's blank line (the end of its event) is dropped too.
    skip_blank: bool,
    usage: Option<Value>,
}

impl UsageChunkFilter {
    pub fn new() -> UsageChunkFilter {
        UsageChunkFilter::default()
    }

    /// The bytes to pass on for `chunk` (complete lines only: a partial last
    /// line is held until its end arrives). `None` means "pass `chunk` as is".
    pub fn feed(&mut self, chunk: &[u8]) -> Option<Vec<u8>> {
        if self.pending.is_empty() && !self.skip_blank && !mentions_usage(chunk) && chunk.ends_with(b"\n") {
            return None; // nothing to look at, nothing held
        }
        self.pending.extend_from_slice(chunk);
        let mut out = Vec::with_capacity(self.pending.len());
        let mut start = 0;
        while let Some(offset) = memchr::memchr(b'\n', &self.pending[start..]) {
            let end = start + offset + 1;
            let line = &self.pending[start..end];
            start = end;
            let content = line.strip_suffix(b"\n").unwrap_or(line);
            let content = content.strip_suffix(b"\r").unwrap_or(content);
            if self.skip_blank {
                self.skip_blank = false;
                if content.is_empty() {
                    continue;
                }
            }
            if let Some(usage) = usage_only_chunk(content) {
                self.usage = Some(usage);
                self.skip_blank = true;
                continue;
            }
            match without_null_usage(line) {
                Some(stripped) => out.extend_from_slice(&stripped),
                None => out.extend_from_slice(line),
            }
        }
        self.pending.drain(..start);
        if self.pending.len() > MAX_KEPT_BYTES {
            // A line this long is no usage chunk: let it through.
            out.append(&mut self.pending);
        }
        Some(out)
    }

    /// Bytes still held at the end of the body (a last line without newline).
    pub fn finish(&mut self) -> Vec<u8> {
        let rest = std::mem::take(&mut self.pending);
        match usage_only_chunk(rest.strip_suffix(b"\r").unwrap_or(&rest)) {
            Some(usage) => {
                self.usage = Some(usage);
                Vec::new()
            }
            None => rest,
        }
    }

    /// The usage (with the service tier) of the chunk that was removed.
    pub fn usage(&self) -> Option<&Value> {
        self.usage.as_ref()
    }
}

const USAGE_KEY: &[u8] = b"\"usage\"";
/// A SIMD search for `USAGE_KEY`: every chunk of a metered stream is searched for it.
static USAGE_FINDER: once_cell::sync::Lazy<memchr::memmem::Finder<'static>> =
    once_cell::sync::Lazy::new(|| memchr::memmem::Finder::new(USAGE_KEY));

/// Whether `bytes` hold a `"usage"` key whose value is an object (not
/// `null`): a body worth reading for usage later, without its request.
pub fn has_usage_object(bytes: &[u8]) -> bool {
    let mut rest = bytes;
    while let Some(at) = USAGE_FINDER.find(rest) {
        rest = &rest[at + USAGE_KEY.len()..];
        let after = rest.trim_ascii_start();
        if let Some(value) = after.strip_prefix(b":") {
            if value.trim_ascii_start().starts_with(b"{") {
                return true;
            }
        }
    }
    false
}

fn mentions_usage(bytes: &[u8]) -> bool {
    USAGE_FINDER.find(bytes).is_some()
}

/// The line without its chunk's top-level `"usage": null` member (which the
/// API adds to every chunk once usage is asked for), or `None` when it has
/// none. Strings are skipped as JSON strings, so text that merely contains
/// those characters is never touched.
fn without_null_usage(line: &[u8]) -> Option<Vec<u8>> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    let mut i = 0;
    while i < line.len() {
        let b = line[i];
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        match b {
            b'"' => {
                if depth == 1 && line[i..].starts_with(USAGE_KEY) {
                    if let Some(range) = null_member(line, i) {
                        let mut out = line[..range.0].to_vec();
                        out.extend_from_slice(&line[range.1..]);
                        return Some(out);
                    }
                }
                in_string = true;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// For a `"usage"` key at `key`, the byte range to cut if its value is null:
/// the member and one comma beside it.
fn null_member(line: &[u8], key: usize) -> Option<(usize, usize)> {
    let skip_ws = |mut at: usize| {
        while line.get(at).is_some_and(u8::is_ascii_whitespace) {
            at += 1;
        }
        at
    };
    let colon = skip_ws(key + USAGE_KEY.len());
    if line.get(colon) != Some(&b':') {
        return None;
    }
    let value = skip_ws(colon + 1);
    if !line[value..].starts_with(b"null") {
        return None;
    }
    let after = skip_ws(value + 4);
    let before = line[..key].iter().rposition(|b| !b.is_ascii_whitespace())?;
    match (line[before], line.get(after)) {
        // `, "usage": null` then `}` or `,`: cut from the comma before.
        (b',', Some(b'}' | b',')) => Some((before, value + 4)),
        // `{"usage": null, ...`: cut through the comma after.
        (b'{', Some(b',')) => Some((key, skip_ws(after + 1))),
        // `{"usage": null}`: cut the member alone.
        (b'{', Some(b'}')) => Some((key, value + 4)),
        _ => None,
    }
}

/// A cheap first look: does this text contain `"usage"` followed by an object?
fn may_hold_usage(bytes: &[u8]) -> bool {
    let key = USAGE_KEY;
    let mut at = 0;
    while let Some(offset) = USAGE_FINDER.find(&bytes[at..]) {
        let after = &bytes[at + offset + key.len()..];
        let value = after.iter().skip_while(|b| b.is_ascii_whitespace() || **b == b':');
        if value.clone().next() == Some(&b'{') {
            return true;
        }
        at += offset + key.len();
    }
    false
}

/// The usage of a `data:` line that is a usage-only chat chunk (`choices` empty).
fn usage_only_chunk(line: &[u8]) -> Option<Value> {
    let data = line.strip_prefix(b"data:")?.trim_ascii();
    if !may_hold_usage(data) {
        return None;
    }
    let chunk: Value = serde_json::from_slice(data).ok()?;
    let no_choices = chunk.get("choices").and_then(Value::as_array).is_none_or(|c| c.is_empty());
    let usage = chunk.get("usage").filter(|u| u.is_object())?;
    no_choices.then(|| with_service_tier(usage, &chunk))
}

/// OpenAI reports the service tier beside `usage`, not in it: carry it along
/// as the language layers do for parsed responses.
/// The fields of a whole JSON response that metering reads.
#[derive(serde::Deserialize)]
struct JsonBody {
    #[serde(default)]
    model: Option<Value>,
    #[serde(default)]
    usage: Option<Value>,
    #[serde(default)]
    service_tier: Option<Value>,
}

/// A Gemini `GenerateContentResponse`, not an OpenAI-shaped chunk from Gemini's
/// OpenAI-compatible endpoint (the OpenAI SDK pointed at Google).
fn is_gemini_response(v: &Value) -> bool {
    v.get("choices").is_none() && v.get("object").is_none()
}

fn with_service_tier(usage: &Value, holder: &Value) -> Value {
    match (usage, holder.get("service_tier")) {
        (Value::Object(map), Some(tier @ Value::String(_))) => {
            let mut map = map.clone();
            map.insert("service_tier".to_string(), tier.clone());
            Value::Object(map)
        }
        _ => usage.clone(),
    }
}

#[cfg(test)]
#[path = "body_tests.rs"]
mod tests;
