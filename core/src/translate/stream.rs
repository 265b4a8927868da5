//! Stream translation: a reader per target turns its stream events (one parsed JSON per
//! SSE event, or per Bedrock event as boto3 yields it) into `StreamEvent`s, a writer per
//! source turns those into the source's chunks. State lives in the translator, one per
//! stream; `finish` emits what a source sends at the end (usage, stop events).

use serde_json::Value;

use super::canonical::{Finish, ResponseContext, StreamEvent, Usage};
use super::stream_write::{writer_for, StreamWriter};
use super::{anthropic, bedrock, gemini, malformed, openai, Api};
use crate::Result;

pub struct StreamTranslator {
    /// Source and target speak the same API: events pass as they are.
    passthrough: bool,
    reader: Reader,
    writer: Box<dyn StreamWriter + Send + Sync>,
    events: Vec<StreamEvent>,
    /// The tool call begun last, while no arguments came for it. Anthropic streams a call
    /// without arguments as one empty `input_json_delta`: a source whose callers parse the
    /// arguments' JSON text (OpenAI, Mistral, Bedrock) must get `{}`, never "".
    argless_tool: Option<usize>,
}

impl StreamTranslator {
    /// A translator of `target`'s stream into `source`'s chunks.
    pub fn new(source: Api, target: Api, ctx: ResponseContext) -> StreamTranslator {
        StreamTranslator {
            passthrough: source == target,
            reader: Reader::new(target),
            writer: writer_for(source, ctx),
            events: Vec::with_capacity(4),
            argless_tool: None,
        }
    }

    /// One target event in; the source chunks it makes (often one, sometimes none or two).
    pub fn push(&mut self, event: &Value) -> Result<Vec<Value>> {
        if self.passthrough {
            return Ok(vec![event.clone()]);
        }
        self.reader.read(event, &mut self.events)?;
        let mut out = Vec::with_capacity(self.events.len() + 1);
        for e in self.events.drain(..) {
            match &e {
                StreamEvent::ToolArgs { index, json } if Some(*index) == self.argless_tool => {
                    if !json.is_empty() {
                        self.argless_tool = None;
                    }
                }
                StreamEvent::ToolArgs { .. } | StreamEvent::Usage(_) | StreamEvent::Start { .. } => {}
                // Text, another call or the finish: the call's arguments are complete.
                _ => close_argless(&mut self.argless_tool, &mut *self.writer, &mut out),
            }
            if let StreamEvent::ToolStart { index, .. } = &e {
                self.argless_tool = Some(*index);
            }
            self.writer.write(e, &mut out);
        }
        Ok(out)
    }

    /// The target's stream ended: the source's closing chunks.
    pub fn finish(&mut self) -> Vec<Value> {
        if self.passthrough {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(3);
        close_argless(&mut self.argless_tool, &mut *self.writer, &mut out);
        self.writer.finish(&mut out);
        out
    }
}

/// A tool call that ended with no arguments gets `{}` (what its target meant by none).
fn close_argless(
    argless: &mut Option<usize>,
    writer: &mut (dyn StreamWriter + Send + Sync),
    out: &mut Vec<Value>,
) {
    if let Some(index) = argless.take() {
        writer.write(StreamEvent::ToolArgs { index, json: "{}".to_string() }, out);
    }
}

struct Reader {
    api: Api,
    started: bool,
    /// Tool calls seen so far (the next tool's index).
    tools: usize,
    /// (the target's index for a tool call or block, ours)
    index_map: Vec<(u64, usize)>,
    usage: Usage,
    call_prefix: String,
}

impl Reader {
    fn new(api: Api) -> Reader {
        Reader {
            api,
            started: false,
            tools: 0,
            index_map: Vec::new(),
            usage: Usage::default(),
            call_prefix: String::new(),
        }
    }

    fn start_tool(
        &mut self,
        target_index: u64,
        id: String,
        name: String,
        out: &mut Vec<StreamEvent>,
    ) -> usize {
        let ours = self.tools;
        self.tools += 1;
        self.index_map.push((target_index, ours));
        out.push(StreamEvent::ToolStart { index: ours, id, name });
        ours
    }

    fn ours(&self, target_index: u64) -> usize {
        self.index_map
            .iter()
            .rev()
            .find(|(t, _)| *t == target_index)
            .map(|(_, o)| *o)
            .unwrap_or(self.tools.saturating_sub(1))
    }

    fn read(&mut self, ev: &Value, out: &mut Vec<StreamEvent>) -> Result<()> {
        if let Some(err) = ev.get("error").filter(|e| !e.is_null()) {
            return Err(malformed(self.api, format!("stream error event: {}", error_message(err))));
        }
        match self.api {
            Api::OpenAi | Api::Mistral => self.read_openai(ev, out),
            Api::Anthropic => self.read_anthropic(ev, out),
            Api::Gemini => self.read_gemini(ev, out),
            Api::Bedrock => self.read_bedrock(ev, out),
        }
    }

    fn read_openai(&mut self, ev: &Value, out: &mut Vec<StreamEvent>) -> Result<()> {
        if !self.started {
            self.started = true;
            out.push(StreamEvent::Start { id: text(ev, "id"), model: text(ev, "model") });
        }
        if let Some(choice) = ev.get("choices").and_then(|c| c.get(0)) {
            let delta = choice.get("delta").unwrap_or(&Value::Null);
            if let Some(t) = delta.get("content").and_then(Value::as_str).filter(|t| !t.is_empty()) {
                out.push(StreamEvent::Text(t.to_string()));
            }
            for tc in delta.get("tool_calls").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]) {
                let target_index = tc.get("index").and_then(Value::as_u64).unwrap_or(0);
                let f = tc.get("function").unwrap_or(&Value::Null);
                let index = match tc.get("id").and_then(Value::as_str) {
                    Some(id) => {
                        let name = f.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
                        self.start_tool(target_index, id.to_string(), name, out)
                    }
                    None => self.ours(target_index),
                };
                let args = match f.get("arguments") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                };
                if !args.is_empty() {
                    out.push(StreamEvent::ToolArgs { index, json: args });
                }
            }
            if let Some(f) = choice.get("finish_reason").and_then(Value::as_str) {
                out.push(StreamEvent::Finish { reason: openai::finish_from(f), stop_sequence: None });
            }
        }
        if let Some(u) = ev.get("usage").and_then(Value::as_object) {
            out.push(StreamEvent::Usage(openai::usage_from(u)));
        }
        Ok(())
    }

    fn read_anthropic(&mut self, ev: &Value, out: &mut Vec<StreamEvent>) -> Result<()> {
        match ev.get("type").and_then(Value::as_str) {
            Some("message_start") => {
                let msg = ev.get("message").unwrap_or(&Value::Null);
                out.push(StreamEvent::Start { id: text(msg, "id"), model: text(msg, "model") });
                if let Some(u) = msg.get("usage").and_then(Value::as_object) {
                    self.usage = anthropic::usage_from(u);
                    out.push(StreamEvent::Usage(self.usage));
                }
            }
            Some("content_block_start") => {
                let block = ev.get("content_block").unwrap_or(&Value::Null);
                if block.get("type").and_then(Value::as_str) == Some("tool_use") {
                    let index = ev.get("index").and_then(Value::as_u64).unwrap_or(0);
                    let id = text(block, "id").unwrap_or_default();
                    self.start_tool(index, id, text(block, "name").unwrap_or_default(), out);
                } else if let Some(t) = block.get("text").and_then(Value::as_str).filter(|t| !t.is_empty()) {
                    out.push(StreamEvent::Text(t.to_string()));
                }
            }
            Some("content_block_delta") => {
                let delta = ev.get("delta").unwrap_or(&Value::Null);
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        out.push(StreamEvent::Text(text(delta, "text").unwrap_or_default()))
                    }
                    Some("input_json_delta") => {
                        let index = self.ours(ev.get("index").and_then(Value::as_u64).unwrap_or(0));
                        let json = text(delta, "partial_json").unwrap_or_default();
                        if !json.is_empty() {
                            out.push(StreamEvent::ToolArgs { index, json });
                        }
                    }
                    _ => {} // thinking and signatures: no place in the source's chunks
                }
            }
            Some("message_delta") => {
                let delta = ev.get("delta").unwrap_or(&Value::Null);
                if let Some(r) = delta.get("stop_reason").and_then(Value::as_str) {
                    out.push(StreamEvent::Finish {
                        reason: anthropic::finish_from(r),
                        stop_sequence: text(delta, "stop_sequence"),
                    });
                }
                if let Some(u) = ev.get("usage").and_then(Value::as_object) {
                    // Cumulative; input fields appear here only on newer API versions.
                    let mut merged = self.usage;
                    let later = anthropic::usage_from(u);
                    merged.output = later.output;
                    if u.contains_key("input_tokens") {
                        merged.input = later.input;
                        merged.cache_read = later.cache_read;
                        merged.cache_write = later.cache_write;
                    }
                    self.usage = merged;
                    out.push(StreamEvent::Usage(merged));
                }
            }
            _ => {} // ping, content_block_stop, message_stop
        }
        Ok(())
    }

    fn read_gemini(&mut self, ev: &Value, out: &mut Vec<StreamEvent>) -> Result<()> {
        if !self.started {
            self.started = true;
            let id = text(ev, "responseId");
            self.call_prefix = gemini::call_prefix(id.as_deref());
            out.push(StreamEvent::Start { id, model: text(ev, "modelVersion") });
        }
        let candidate = ev.get("candidates").and_then(|c| c.get(0)).unwrap_or(&Value::Null);
        let mut parts = Vec::new();
        gemini::read_parts(candidate, &self.call_prefix, self.tools, &mut parts)?;
        for p in parts {
            match p {
                super::canonical::Part::Text(t) if !t.is_empty() => out.push(StreamEvent::Text(t)),
                super::canonical::Part::ToolCall { id, name, arguments } => {
                    let index = self.start_tool(0, id, name, out);
                    out.push(StreamEvent::ToolArgs { index, json: arguments });
                }
                _ => {}
            }
        }
        if let Some(f) = candidate.get("finishReason").and_then(Value::as_str) {
            let mut reason = gemini::finish_from(f);
            if reason == Finish::Stop && self.tools > 0 {
                reason = Finish::ToolCalls;
            }
            out.push(StreamEvent::Finish { reason, stop_sequence: None });
        }
        if let Some(u) = ev.get("usageMetadata").and_then(Value::as_object) {
            out.push(StreamEvent::Usage(gemini::usage_from(u)));
        }
        Ok(())
    }

    fn read_bedrock(&mut self, ev: &Value, out: &mut Vec<StreamEvent>) -> Result<()> {
        let Some((kind, body)) = ev.as_object().and_then(|m| m.iter().next()) else {
            return Err(malformed(Api::Bedrock, "stream event is not an object with one key"));
        };
        match kind.as_str() {
            "messageStart" => out.push(StreamEvent::Start { id: None, model: None }),
            "contentBlockStart" => {
                if let Some(tu) = body.get("start").and_then(|s| s.get("toolUse")) {
                    let index = body.get("contentBlockIndex").and_then(Value::as_u64).unwrap_or(0);
                    self.start_tool(
                        index,
                        text(tu, "toolUseId").unwrap_or_default(),
                        text(tu, "name").unwrap_or_default(),
                        out,
                    );
                }
            }
            "contentBlockDelta" => {
                let delta = body.get("delta").unwrap_or(&Value::Null);
                if let Some(t) = delta.get("text").and_then(Value::as_str) {
                    out.push(StreamEvent::Text(t.to_string()));
                } else if let Some(input) =
                    delta.get("toolUse").and_then(|t| t.get("input")).and_then(Value::as_str)
                {
                    let index = self.ours(body.get("contentBlockIndex").and_then(Value::as_u64).unwrap_or(0));
                    out.push(StreamEvent::ToolArgs { index, json: input.to_string() });
                }
            }
            "messageStop" => {
                let reason = body
                    .get("stopReason")
                    .and_then(Value::as_str)
                    .map(bedrock::finish_from)
                    .unwrap_or(Finish::Stop);
                out.push(StreamEvent::Finish { reason, stop_sequence: None });
            }
            "metadata" => {
                if let Some(u) = body.get("usage").and_then(Value::as_object) {
                    out.push(StreamEvent::Usage(bedrock::usage_from(u)));
                }
            }
            "contentBlockStop" => {}
            other if other.ends_with("Exception") => {
                return Err(malformed(
                    Api::Bedrock,
                    format!("stream error event {other}: {}", error_message(body)),
                ))
            }
            _ => {}
        }
        Ok(())
    }
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn error_message(err: &Value) -> String {
    err.get("message").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| err.to_string())
}
