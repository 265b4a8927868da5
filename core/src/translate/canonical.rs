//! The one chat representation every reader produces and every writer consumes.
//! Readers keep only what a request or response means; writers refuse (never drop)
//! what their API cannot express: `unsupported(feature, target)`.

use serde_json::Value;

/// One message part. Tool calls live on assistant messages, tool results on user/tool ones.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Text(String),
    /// An image by URL (http(s) or a `data:` URL as OpenAI accepts it).
    ImageUrl(String),
    /// An image inline: media type (`image/png`) and base64 data.
    ImageBase64 {
        media_type: String,
        data: String,
    },
    /// `arguments` is the JSON text of the arguments object, as OpenAI carries it.
    ToolCall {
        id: String,
        name: String,
        arguments: String,
    },
    /// `content` is text (JSON text when the tool answered an object).
    ToolResult {
        id: String,
        name: Option<String>,
        content: String,
        is_error: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub role: Role,
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    pub name: String,
    pub description: Option<String>,
    /// JSON schema of the arguments (an object; `{"type":"object"}` when the source gave none).
    pub parameters: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ToolChoice {
    Auto,
    None,
    /// Some tool must be called.
    Required,
    /// This tool must be called.
    Named(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum ResponseFormat {
    /// Any JSON object (OpenAI `json_object`).
    JsonObject,
    JsonSchema {
        name: String,
        schema: Value,
        strict: Option<bool>,
        description: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Request {
    pub model: Option<String>,
    /// System prompts, in order (several system messages stay several).
    pub system: Vec<String>,
    pub messages: Vec<Message>,
    pub tools: Vec<Tool>,
    pub tool_choice: Option<ToolChoice>,
    pub response_format: Option<ResponseFormat>,
    pub stop: Vec<String>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub max_tokens: Option<u64>,
    pub stream: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    Stop,
    StopSequence,
    Length,
    ToolCalls,
    ContentFilter,
    Other,
}

/// Token counts in one shape: `input` includes cache reads and writes (OpenAI's
/// convention); writers subtract for APIs that report them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    pub reasoning: u64,
}

impl Usage {
    /// Input tokens neither read from nor written to a cache (Anthropic's, Bedrock's `input`).
    pub fn uncached_input(&self) -> u64 {
        self.input.saturating_sub(self.cache_read + self.cache_write)
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Response {
    pub id: Option<String>,
    pub model: Option<String>,
    pub created: Option<i64>,
    /// Text and tool calls of the one choice, in order.
    pub parts: Vec<Part>,
    pub finish: Option<Finish>,
    pub stop_sequence: Option<String>,
    pub usage: Usage,
}

/// What a stream reader emits per target event and a stream writer turns into source chunks.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    Start {
        id: Option<String>,
        model: Option<String>,
    },
    Text(String),
    /// A tool call begins; `index` counts tool calls from 0.
    ToolStart {
        index: usize,
        id: String,
        name: String,
    },
    /// More of the arguments' JSON text of tool call `index`.
    ToolArgs {
        index: usize,
        json: String,
    },
    Finish {
        reason: Finish,
        stop_sequence: Option<String>,
    },
    /// Usage so far (cumulative: the last one wins).
    Usage(Usage),
}

/// Values a response writer cannot find in the target's response: the caller passes them.
#[derive(Debug, Clone, Default)]
pub struct ResponseContext {
    pub id: Option<String>,
    pub model: Option<String>,
    pub created: Option<i64>,
    /// OpenAI streams: end with a usage chunk (the source asked `stream_options.include_usage`).
    pub include_usage: bool,
}
