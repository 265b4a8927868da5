//! Stream writers: canonical stream events → the source API's chunks.

use once_cell::sync::Lazy;
use serde_json::{json, Map, Value};

use super::canonical::{Finish, ResponseContext, StreamEvent, Usage};
use super::json::object;
use super::openai::Flavor;
use super::{anthropic, bedrock, gemini, new_id, openai, Api};

pub trait StreamWriter {
    fn write(&mut self, event: StreamEvent, out: &mut Vec<Value>);
    fn finish(&mut self, out: &mut Vec<Value>);
}

pub fn writer_for(source: Api, ctx: ResponseContext) -> Box<dyn StreamWriter + Send + Sync> {
    let common = Common {
        ctx,
        id: String::new(),
        model: String::new(),
        finish: None,
        stop_sequence: None,
        usage: None,
    };
    match source {
        Api::OpenAi => Box::new(OpenAiWriter::new(common, Flavor::OpenAi)),
        Api::Mistral => Box::new(OpenAiWriter::new(common, Flavor::Mistral)),
        Api::Anthropic => Box::new(AnthropicWriter { c: common, open: None, next_block: 0 }),
        Api::Gemini => Box::new(GeminiWriter { c: common, tools: Vec::new() }),
        Api::Bedrock => Box::new(BedrockWriter { c: common, open: None, next_block: 0 }),
    }
}

/// What every writer keeps: ids, and the end of the stream until `finish`.
struct Common {
    ctx: ResponseContext,
    id: String,
    model: String,
    finish: Option<Finish>,
    stop_sequence: Option<String>,
    usage: Option<Usage>,
}

impl Common {
    fn start(&mut self, id: Option<String>, model: Option<String>, prefix: &str) {
        self.id = self.ctx.id.clone().or(id).unwrap_or_else(|| new_id(prefix));
        self.model = model.or_else(|| self.ctx.model.clone()).unwrap_or_default();
    }

    /// Events other than the ones every writer handles alike; `None` when handled here.
    fn keep(&mut self, event: StreamEvent) -> Option<StreamEvent> {
        match event {
            StreamEvent::Finish { reason, stop_sequence } => {
                self.finish = Some(reason);
                self.stop_sequence = stop_sequence;
                None
            }
            StreamEvent::Usage(u) => {
                self.usage = Some(u);
                None
            }
            other => Some(other),
        }
    }
}

struct OpenAiWriter {
    c: Common,
    flavor: Flavor,
    created: i64,
    /// Mistral sends each tool call whole: (id, name, arguments) until the end.
    tools: Vec<(String, String, String)>,
}

/// The keys every chunk of a flavor has with the same value, made once per process: a chunk
/// starts as a copy. Copying a map pushes its keys in order; inserting searches the map
/// first, which was a third of a chunk's cost. (choice: index, `finish_reason: null`,
/// logprobs; envelope: object, and `usage: null` where the caller asked for usage.)
struct ChunkTemplates {
    choice: [Map<String, Value>; 2],
    /// [OpenAI without usage, OpenAI with `usage: null`, Mistral]
    envelope: [Map<String, Value>; 3],
}

static CHUNK_TEMPLATES: Lazy<ChunkTemplates> = Lazy::new(|| {
    let choice = |logprobs: bool| {
        let mut m = Map::new();
        m.insert("index".into(), 0.into());
        m.insert("finish_reason".into(), Value::Null);
        if logprobs {
            m.insert("logprobs".into(), Value::Null);
        }
        m
    };
    let envelope = |usage: bool| {
        let mut m = Map::new();
        m.insert("object".into(), "chat.completion.chunk".into());
        if usage {
            m.insert("usage".into(), Value::Null);
        }
        m
    };
    ChunkTemplates {
        choice: [choice(true), choice(false)],
        envelope: [envelope(false), envelope(true), envelope(false)],
    }
});

impl OpenAiWriter {
    fn new(c: Common, flavor: Flavor) -> OpenAiWriter {
        OpenAiWriter { c, flavor, created: 0, tools: Vec::new() }
    }

    fn chunk(&self, delta: Value, finish_reason: Value) -> Value {
        let t = &*CHUNK_TEMPLATES;
        let mut choice = t.choice[usize::from(self.flavor == Flavor::Mistral)].clone();
        choice.insert("delta".into(), delta);
        if !finish_reason.is_null() {
            choice.insert("finish_reason".into(), finish_reason);
        }
        self.envelope(vec![Value::Object(choice)], None)
    }

    /// A chunk around `choices`; `usage` given: the usage chunk, else `usage: null` where
    /// the caller asked for usage.
    fn envelope(&self, choices: Vec<Value>, usage: Option<Value>) -> Value {
        let kind = match self.flavor {
            Flavor::OpenAi => usize::from(self.c.ctx.include_usage),
            Flavor::Mistral => 2,
        };
        let mut c = CHUNK_TEMPLATES.envelope[kind].clone();
        c.insert("id".into(), self.c.id.clone().into());
        c.insert("created".into(), self.created.into());
        c.insert("model".into(), self.c.model.clone().into());
        c.insert("choices".into(), Value::Array(choices));
        if let Some(usage) = usage {
            c.insert("usage".into(), usage);
        }
        Value::Object(c)
    }
}

impl StreamWriter for OpenAiWriter {
    fn write(&mut self, event: StreamEvent, out: &mut Vec<Value>) {
        let Some(event) = self.c.keep(event) else { return };
        match event {
            StreamEvent::Start { id, model } => {
                self.c.start(id, model, "chatcmpl-");
                self.created = self.c.ctx.created.unwrap_or_else(openai::now);
                let delta = if self.flavor == Flavor::OpenAi {
                    json!({"role": "assistant", "content": "", "refusal": null})
                } else {
                    json!({"role": "assistant", "content": ""})
                };
                out.push(self.chunk(delta, Value::Null));
            }
            StreamEvent::Text(t) => out.push(self.chunk(object([("content", t.into())]), Value::Null)),
            StreamEvent::ToolStart { index, id, name } => {
                if self.flavor == Flavor::Mistral {
                    self.tools.push((openai::tool_id(&id, Flavor::Mistral), name, String::new()));
                } else {
                    out.push(self.chunk(
                        json!({"tool_calls": [{"index": index, "id": id, "type": "function",
                                               "function": {"name": name, "arguments": ""}}]}),
                        Value::Null,
                    ));
                }
            }
            StreamEvent::ToolArgs { index, json } => {
                if self.flavor == Flavor::Mistral {
                    if let Some(t) = self.tools.get_mut(index) {
                        t.2.push_str(&json);
                    }
                } else {
                    out.push(self.chunk(
                        json!({"tool_calls": [{"index": index, "function": {"arguments": json}}]}),
                        Value::Null,
                    ));
                }
            }
            StreamEvent::Finish { .. } | StreamEvent::Usage(_) => {}
        }
    }

    fn finish(&mut self, out: &mut Vec<Value>) {
        let reason =
            self.c.finish.map(|f| Value::from(openai::finish_to(f, self.flavor))).unwrap_or(Value::Null);
        if self.flavor == Flavor::Mistral {
            if !self.tools.is_empty() {
                let calls: Vec<Value> = self
                    .tools
                    .drain(..)
                    .enumerate()
                    .map(|(i, (id, name, args))| {
                        json!({"index": i, "id": id, "type": "function", "function": {"name": name, "arguments": args}})
                    })
                    .collect();
                out.push(self.chunk(json!({"tool_calls": calls}), Value::Null));
            }
            let mut last = self.chunk(json!({"content": ""}), reason);
            if let Some(u) = &self.c.usage {
                last["usage"] = openai::usage_to(u, Flavor::Mistral);
            }
            out.push(last);
            return;
        }
        if !reason.is_null() {
            out.push(self.chunk(json!({}), reason));
        }
        if self.c.ctx.include_usage {
            let usage = openai::usage_to(&self.c.usage.unwrap_or_default(), Flavor::OpenAi);
            out.push(self.envelope(Vec::new(), Some(usage)));
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Block {
    Text,
    Tool,
}

struct AnthropicWriter {
    c: Common,
    open: Option<(usize, Block)>,
    next_block: usize,
}

/// A text delta's constant keys (`type` outside and in the delta), copied per chunk (see
/// `CHUNK_TEMPLATES`).
static TEXT_DELTA: Lazy<Map<String, Value>> = Lazy::new(|| {
    let mut m = Map::new();
    m.insert("type".into(), "content_block_delta".into());
    m.insert("delta".into(), object([("type", "text_delta".into())]));
    m
});

impl AnthropicWriter {
    fn open(&mut self, kind: Block, start: Value, out: &mut Vec<Value>) -> usize {
        self.close(out);
        let index = self.next_block;
        self.next_block += 1;
        self.open = Some((index, kind));
        // `object`, not `json!`: the macro would serialise `start` into a copy.
        out.push(object([
            ("type", "content_block_start".into()),
            ("index", index.into()),
            ("content_block", start),
        ]));
        index
    }

    fn close(&mut self, out: &mut Vec<Value>) {
        if let Some((index, _)) = self.open.take() {
            out.push(object([("type", "content_block_stop".into()), ("index", index.into())]));
        }
    }
}

impl StreamWriter for AnthropicWriter {
    fn write(&mut self, event: StreamEvent, out: &mut Vec<Value>) {
        let Some(event) = self.c.keep(event) else { return };
        match event {
            StreamEvent::Start { id, model } => {
                self.c.start(id, model, "msg_");
                let mut message = Map::new();
                message.insert("id".into(), self.c.id.clone().into());
                message.insert("type".into(), "message".into());
                message.insert("role".into(), "assistant".into());
                message.insert("model".into(), self.c.model.clone().into());
                message.insert("content".into(), Value::Array(Vec::new()));
                message.insert("stop_reason".into(), Value::Null);
                message.insert("stop_sequence".into(), Value::Null);
                message.insert("usage".into(), anthropic::usage_to(&self.c.usage.unwrap_or_default()));
                out.push(object([("type", "message_start".into()), ("message", Value::Object(message))]));
            }
            StreamEvent::Text(t) => {
                let index = match self.open {
                    Some((i, Block::Text)) => i,
                    _ => self.open(Block::Text, json!({"type": "text", "text": ""}), out),
                };
                let mut chunk = TEXT_DELTA.clone();
                chunk.insert("index".into(), index.into());
                if let Some(Value::Object(delta)) = chunk.get_mut("delta") {
                    delta.insert("text".into(), t.into());
                }
                out.push(Value::Object(chunk));
            }
            StreamEvent::ToolStart { id, name, .. } => {
                self.open(Block::Tool, json!({"type": "tool_use", "id": id, "name": name, "input": {}}), out);
            }
            StreamEvent::ToolArgs { json, .. } => {
                if let Some((index, Block::Tool)) = self.open {
                    let delta = object([("type", "input_json_delta".into()), ("partial_json", json.into())]);
                    out.push(object([
                        ("type", "content_block_delta".into()),
                        ("index", index.into()),
                        ("delta", delta),
                    ]));
                }
            }
            StreamEvent::Finish { .. } | StreamEvent::Usage(_) => {}
        }
    }

    fn finish(&mut self, out: &mut Vec<Value>) {
        self.close(out);
        let finish = self.c.finish.unwrap_or(Finish::Stop);
        let stop_sequence = if finish == Finish::StopSequence { self.c.stop_sequence.clone() } else { None };
        let delta = object([
            ("stop_reason", anthropic::finish_to(finish).into()),
            ("stop_sequence", stop_sequence.into()),
        ]);
        out.push(object([
            ("type", "message_delta".into()),
            ("delta", delta),
            ("usage", anthropic::usage_to(&self.c.usage.unwrap_or_default())),
        ]));
        out.push(object([("type", "message_stop".into())]));
    }
}

struct GeminiWriter {
    c: Common,
    /// Gemini sends each function call whole: (id, name, arguments) until the end.
    tools: Vec<(String, String, String)>,
}

impl GeminiWriter {
    fn chunk(&self, parts: Vec<Value>) -> Value {
        let content = object([("role", "model".into()), ("parts", Value::Array(parts))]);
        object([
            ("candidates", Value::Array(vec![object([("content", content), ("index", 0.into())])])),
            ("modelVersion", self.c.model.clone().into()),
            ("responseId", self.c.id.clone().into()),
        ])
    }
}

impl StreamWriter for GeminiWriter {
    fn write(&mut self, event: StreamEvent, out: &mut Vec<Value>) {
        let Some(event) = self.c.keep(event) else { return };
        match event {
            StreamEvent::Start { id, model } => self.c.start(id, model, ""),
            StreamEvent::Text(t) => out.push(self.chunk(vec![object([("text", t.into())])])),
            StreamEvent::ToolStart { id, name, .. } => self.tools.push((id, name, String::new())),
            StreamEvent::ToolArgs { index, json } => {
                if let Some(t) = self.tools.get_mut(index) {
                    t.2.push_str(&json);
                }
            }
            StreamEvent::Finish { .. } | StreamEvent::Usage(_) => {}
        }
    }

    fn finish(&mut self, out: &mut Vec<Value>) {
        let parts: Vec<Value> = self
            .tools
            .drain(..)
            .map(|(id, name, args)| {
                let args = serde_json::from_str::<Value>(&args).unwrap_or_else(|_| json!({}));
                json!({"functionCall": {"id": id, "name": name, "args": args}})
            })
            .collect();
        let mut last = self.chunk(parts);
        last["candidates"][0]["finishReason"] =
            gemini::finish_to(self.c.finish.unwrap_or(Finish::Stop)).into();
        last["usageMetadata"] = gemini::usage_to(&self.c.usage.unwrap_or_default());
        out.push(last);
    }
}

struct BedrockWriter {
    c: Common,
    open: Option<(usize, Block)>,
    next_block: usize,
}

impl BedrockWriter {
    fn close(&mut self, out: &mut Vec<Value>) {
        if let Some((index, _)) = self.open.take() {
            out.push(json!({"contentBlockStop": {"contentBlockIndex": index}}));
        }
    }

    fn open(&mut self, kind: Block, out: &mut Vec<Value>) -> usize {
        self.close(out);
        let index = self.next_block;
        self.next_block += 1;
        self.open = Some((index, kind));
        index
    }
}

impl StreamWriter for BedrockWriter {
    fn write(&mut self, event: StreamEvent, out: &mut Vec<Value>) {
        let Some(event) = self.c.keep(event) else { return };
        match event {
            StreamEvent::Start { .. } => out.push(json!({"messageStart": {"role": "assistant"}})),
            StreamEvent::Text(t) => {
                let index = match self.open {
                    Some((i, Block::Text)) => i,
                    _ => self.open(Block::Text, out),
                };
                let delta =
                    object([("delta", object([("text", t.into())])), ("contentBlockIndex", index.into())]);
                out.push(object([("contentBlockDelta", delta)]));
            }
            StreamEvent::ToolStart { id, name, .. } => {
                let index = self.open(Block::Tool, out);
                out.push(json!({"contentBlockStart": {
                    "start": {"toolUse": {"toolUseId": id, "name": name}}, "contentBlockIndex": index,
                }}));
            }
            StreamEvent::ToolArgs { json, .. } => {
                if let Some((index, Block::Tool)) = self.open {
                    let tool = object([("toolUse", object([("input", json.into())]))]);
                    let delta = object([("delta", tool), ("contentBlockIndex", index.into())]);
                    out.push(object([("contentBlockDelta", delta)]));
                }
            }
            StreamEvent::Finish { .. } | StreamEvent::Usage(_) => {}
        }
    }

    fn finish(&mut self, out: &mut Vec<Value>) {
        self.close(out);
        out.push(
            json!({"messageStop": {"stopReason": bedrock::finish_to(self.c.finish.unwrap_or(Finish::Stop))}}),
        );
        // `object`, not `json!`: the macro would serialise the usage into a copy.
        let metadata = object([
            ("usage", bedrock::usage_to(&self.c.usage.unwrap_or_default())),
            ("metrics", object([("latencyMs", 0.into())])),
        ]);
        out.push(object([("metadata", metadata)]));
    }
}
