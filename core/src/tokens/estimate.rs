//! Usage estimated from a request body, for calls whose provider reported none (a stream
//! without its usage chunk). The body is the JSON the SDK sent; the output is the text the
//! caller received.
//!
//! What is counted: the text of every message (string contents and text parts), names, tool
//! calls and tool results carried in the conversation, system prompts / instructions, and tool
//! definitions; plus the framing the chat format adds around them, with OpenAI's published
//! numbers (the OpenAI cookbook "How to count tokens with tiktoken", which matches the API's
//! `prompt_tokens` exactly for plain messages on gpt-3.5/gpt-4/gpt-4o):
//!
//! - every message: 3 tokens (`<|start|>{role}\n ... <|end|>`) plus the tokens of its role;
//!   1 more when it has a `name`;
//! - every reply is primed with 3 tokens (`<|start|>assistant<|message|>`);
//! - function tools, as the cookbook's `num_tokens_for_tools`: 7 tokens per function
//!   (10 on cl100k models), then the tokens of `name:description`; 3 if it has properties,
//!   3 per property plus the tokens of `key:type:description`, -3 if it has an enum plus 3 and
//!   the item's tokens per enum item; 12 once after all functions. Nested schemas (object or
//!   array properties) add the tokens of their compact JSON, an approximation.
//!
//! Responses API bodies are counted the same way: `instructions` as a developer message, a
//! string `input` as a user message, input items as messages (function calls and their outputs
//! get the 3-token framing too), function tools as above. Embeddings `input` and completions
//! `prompt` are plain text with no framing; arrays of token ids count one token per id. Output
//! tokens are the tokens of the output text. Cached, cache-write and reasoning tokens cannot be
//! told apart from a body and stay 0.
//!
//! Anthropic's chat format is not published; its messages get the same per-message framing,
//! and a request with tools adds the tool-use system prompt Anthropic documents for Claude 4
//! models: 346 tokens (tool_choice auto or none), 313 (any or tool). Anthropic counts are
//! approximations anyway (o200k stands in for Claude's vocabulary).
//!
//! Not counted: images, audio, files and other non-text inputs (their price depends on sizes
//! and detail settings the body does not fully carry), built-in tools (web search...), ids.
//! An estimate therefore errs low for multimodal requests.

use crate::borrowed_json::Json;

use super::model::Encoding;
use crate::usage::Usage;

const TOKENS_PER_MESSAGE: i64 = 3;

/// Roles that are one token in o200k_base and cl100k_base alike.
pub const ONE_TOKEN_ROLES: [&str; 6] = ["user", "assistant", "system", "developer", "tool", "function"];
const TOKENS_PER_NAME: i64 = 1;
const REPLY_PRIMING: i64 = 3;

const FUNCTION_INIT_O200K: i64 = 7;
const FUNCTION_INIT_CL100K: i64 = 10;
const PROPERTIES_INIT: i64 = 3;
const PROPERTY_KEY: i64 = 3;
const ENUM_INIT: i64 = -3;
const ENUM_ITEM: i64 = 3;
const FUNCTIONS_END: i64 = 12;

const ANTHROPIC_TOOL_PROMPT_AUTO: i64 = 346;
const ANTHROPIC_TOOL_PROMPT_FORCED: i64 = 313;

/// Estimate a call's usage; see the module documentation for what is counted.
pub(crate) fn estimate_usage<J: Json>(
    provider: &str,
    operation: &str,
    model: &str,
    request: &J,
    output_text: &str,
) -> Usage {
    let encoding = request_encoding(model, request);
    Usage {
        input_tokens: prompt_tokens(encoding, provider, operation, request),
        output_tokens: super::count_remembered(encoding, output_text) as u64,
        ..Usage::default()
    }
}

/// The encoding `model` uses; an empty `model` is the body's own `model`.
pub(crate) fn request_encoding<J: Json>(model: &str, request: &J) -> Encoding {
    let model = match model {
        "" => request.get("model").and_then(J::as_str).unwrap_or(""),
        named => named,
    };
    super::encoding_for_model(model)
}

/// The input tokens of a request body, counted in `encoding`.
pub(crate) fn prompt_tokens<J: Json>(
    encoding: Encoding,
    provider: &str,
    operation: &str,
    request: &J,
) -> u64 {
    match request.is_object() {
        true => RequestCounter { encoding }.request(provider, operation, request).max(0) as u64,
        false => 0,
    }
}

/// Counts the tokens of one request body with one encoding.
struct RequestCounter {
    encoding: Encoding,
}

impl RequestCounter {
    fn text(&self, text: &str) -> i64 {
        super::count_remembered(self.encoding, text) as i64
    }

    /// A message's role: the chat roles are one token in both vocabularies
    /// (`tests/tokens.rs` checks it), counted without a look at the memo.
    fn role<J: Json>(&self, role: Option<&J>) -> i64 {
        match role.and_then(J::as_str) {
            Some(role) if ONE_TOKEN_ROLES.contains(&role) => 1,
            other => other.map_or(0, |s| self.text(s)),
        }
    }

    fn value_text<J: Json>(&self, value: Option<&J>) -> i64 {
        value.and_then(J::as_str).map_or(0, |s| self.text(s))
    }

    /// A JSON value as the model sees it when it is not text (tool inputs, nested schemas).
    fn json<J: Json>(&self, value: &J) -> i64 {
        match value.as_str() {
            Some(s) => self.text(s),
            None if value.is_null() => 0,
            None => self.text(&value.compact()),
        }
    }

    fn request<J: Json>(&self, provider: &str, operation: &str, body: &J) -> i64 {
        match (provider, operation) {
            ("google", _) if !body.contains_key("messages") && !body.contains_key("input") => {
                self.gemini(body)
            }
            // OpenAI embeddings and completions, and Anthropic's legacy text completions.
            (_, "embeddings") | (_, "completions") => {
                self.prompt(body.get("input").or_else(|| body.get("prompt")))
            }
            ("anthropic", _) | (_, "messages") => self.anthropic_messages(body),
            // Bedrock Converse: chat messages, and a `system` list of `{"text": ...}` blocks.
            ("bedrock", "converse") => self.chat(body) + self.content(body.get("system")),
            (_, "responses") => self.responses(body),
            (_, "chat") => self.chat(body),
            // An operation this module does not know: go by the body's shape.
            _ if body.contains_key("messages") => self.chat(body),
            _ if body.contains_key("input") => self.responses(body),
            _ => self.prompt(body.get("prompt")),
        }
    }

    /// Gemini `generateContent` / `embedContent` / `batchEmbedContents` bodies (REST
    /// camelCase or the SDK's snake_case): the text parts of `contents`, the system
    /// instruction and embedding `content` / `requests`, each content with the chat
    /// framing of 3 tokens (Gemini's framing is not published: an approximation).
    fn gemini<J: Json>(&self, body: &J) -> i64 {
        let mut total = 0;
        for key in ["contents", "systemInstruction", "system_instruction", "content", "requests"] {
            if let Some(value) = body.get(key) {
                total += self.gemini_texts(value, 0);
            }
        }
        total
    }

    fn gemini_texts<J: Json>(&self, value: &J, depth: usize) -> i64 {
        if depth > 16 {
            return 0;
        }
        if let Some(s) = value.as_str() {
            return self.text(s);
        }
        if let Some(items) = value.as_array() {
            return items.iter().map(|item| self.gemini_texts(item, depth + 1)).sum();
        }
        if !value.is_object() {
            return 0;
        }
        let framing = if value.contains_key("parts") { 3 } else { 0 };
        framing
            + value
                .fields()
                .filter(|(k, _)| matches!(*k, "text" | "parts" | "content" | "contents"))
                .map(|(_, v)| self.gemini_texts(v, depth + 1))
                .sum::<i64>()
    }

    /// Embeddings `input` / completions `prompt`: a string, strings, or token ids.
    fn prompt<J: Json>(&self, value: Option<&J>) -> i64 {
        let Some(value) = value else { return 0 };
        if let Some(s) = value.as_str() {
            return self.text(s);
        }
        let items = value.as_array().unwrap_or_default();
        items
            .iter()
            .map(|item| match (item.as_str(), item.as_array()) {
                (Some(s), _) => self.text(s),
                (_, Some(ids)) => ids.len() as i64,
                _ if item.is_number() => 1,
                _ => 0,
            })
            .sum()
    }

    // ---- OpenAI Chat Completions -------------------------------------------------------

    fn chat<J: Json>(&self, body: &J) -> i64 {
        let messages = body.get("messages").and_then(J::as_array);
        let mut total: i64 = messages.into_iter().flatten().map(|m| self.chat_message(m)).sum();
        total += REPLY_PRIMING;
        let tools = body.get("tools").and_then(J::as_array).into_iter().flatten();
        // Chat tools nest the function: {"type": "function", "function": {...}}; the legacy
        // `functions` parameter lists the functions themselves.
        let functions = tools
            .filter_map(|tool| tool.get("function"))
            .chain(body.get("functions").and_then(J::as_array).into_iter().flatten());
        total + self.openai_functions(functions)
    }

    fn chat_message<J: Json>(&self, message: &J) -> i64 {
        let mut total = TOKENS_PER_MESSAGE + self.role(message.get("role"));
        total += self.content(message.get("content"));
        total += self.value_text(message.get("refusal"));
        if let Some(name) = message.get("name").and_then(J::as_str) {
            total += self.text(name) + TOKENS_PER_NAME;
        }
        let calls = message.get("tool_calls").and_then(J::as_array).into_iter().flatten();
        for function in calls.filter_map(|call| call.get("function")).chain(message.get("function_call")) {
            total += self.value_text(function.get("name")) + self.value_text(function.get("arguments"));
        }
        total
    }

    /// A message content: a string, or parts of which the text ones count.
    fn content<J: Json>(&self, content: Option<&J>) -> i64 {
        let Some(content) = content else { return 0 };
        match (content.as_str(), content.as_array()) {
            (Some(s), _) => self.text(s),
            (_, Some(parts)) => parts.iter().map(|part| self.content_part(part)).sum(),
            _ => 0,
        }
    }

    fn content_part<J: Json>(&self, part: &J) -> i64 {
        if let Some(s) = part.as_str() {
            return self.text(s);
        }
        if !part.is_object() {
            return 0;
        }
        match part.get("type").and_then(J::as_str) {
            // Chat "text", Responses "input_text"/"output_text", "refusal".
            Some("text" | "input_text" | "output_text") => self.value_text(part.get("text")),
            Some("refusal") => self.value_text(part.get("refusal")),
            // Bedrock Converse content blocks: `{"text": ...}`, no type.
            None => self.value_text(part.get("text")),
            _ => 0,
        }
    }

    /// Function definitions, per the cookbook's `num_tokens_for_tools`.
    fn openai_functions<'a, J: Json + 'a>(&self, functions: impl Iterator<Item = &'a J>) -> i64 {
        let function_init = match self.encoding {
            Encoding::Cl100kBase => FUNCTION_INIT_CL100K,
            Encoding::O200kBase => FUNCTION_INIT_O200K,
        };
        let mut total = 0;
        let mut any = false;
        for function in functions {
            any = true;
            total += function_init;
            let name = function.get("name").and_then(J::as_str).unwrap_or("");
            let description = function.get("description").and_then(J::as_str).unwrap_or("");
            total += self.text(&format!("{name}:{}", description.strip_suffix('.').unwrap_or(description)));
            let properties = function.at(&["parameters", "properties"]).filter(|p| p.is_object());
            if let Some(properties) = properties.filter(|p| p.fields().next().is_some()) {
                total += PROPERTIES_INIT;
                for (key, schema) in properties.fields() {
                    total += PROPERTY_KEY + self.openai_property(key, schema);
                }
            }
        }
        if any {
            total += FUNCTIONS_END;
        }
        total
    }

    fn openai_property<J: Json>(&self, key: &str, schema: &J) -> i64 {
        let mut total = 0;
        if let Some(items) = schema.get("enum").and_then(J::as_array) {
            total += ENUM_INIT;
            for item in items {
                total += ENUM_ITEM + self.json(item);
            }
        }
        let kind = match schema.get("type").map(|t| (t.as_str(), t.as_array())) {
            Some((Some(s), _)) => s.to_string(),
            Some((_, Some(kinds))) => kinds.iter().filter_map(J::as_str).collect::<Vec<_>>().join(" | "),
            _ => String::new(),
        };
        let description = schema.get("description").and_then(J::as_str).unwrap_or("");
        total += self.text(&format!("{key}:{kind}:{}", description.strip_suffix('.').unwrap_or(description)));
        for nested in ["properties", "items", "anyOf", "oneOf", "allOf"] {
            if let Some(value) = schema.get(nested) {
                total += self.json(value);
            }
        }
        total
    }

    // ---- OpenAI Responses ---------------------------------------------------------------

    fn responses<J: Json>(&self, body: &J) -> i64 {
        let mut total = REPLY_PRIMING;
        if let Some(instructions) = body.get("instructions").and_then(J::as_str) {
            total += TOKENS_PER_MESSAGE + self.text("developer") + self.text(instructions);
        }
        match body.get("input").map(|i| (i.as_str(), i.as_array())) {
            Some((Some(text), _)) => total += TOKENS_PER_MESSAGE + self.text("user") + self.text(text),
            Some((_, Some(items))) => {
                total += items.iter().map(|item| self.responses_item(item)).sum::<i64>()
            }
            _ => {}
        }
        // Responses tools are flat: {"type": "function", "name", "description", "parameters"}.
        let tools = body.get("tools").and_then(J::as_array).into_iter().flatten();
        total + self.openai_functions(tools.filter(|t| t.get("type").and_then(J::as_str) == Some("function")))
    }

    fn responses_item<J: Json>(&self, item: &J) -> i64 {
        match item.get("type").and_then(J::as_str) {
            Some("function_call") => {
                TOKENS_PER_MESSAGE
                    + self.value_text(item.get("name"))
                    + self.value_text(item.get("arguments"))
            }
            Some("function_call_output") => TOKENS_PER_MESSAGE + self.content(item.get("output")),
            Some("reasoning") => {
                let summary = item.get("summary").and_then(J::as_array).into_iter().flatten();
                summary.map(|part| self.value_text(part.get("text"))).sum()
            }
            Some("message") | None if item.get("role").is_some() => {
                TOKENS_PER_MESSAGE + self.role(item.get("role")) + self.content(item.get("content"))
            }
            _ => 0,
        }
    }

    // ---- Anthropic Messages -------------------------------------------------------------

    fn anthropic_messages<J: Json>(&self, body: &J) -> i64 {
        let mut total = REPLY_PRIMING;
        if let Some(system) = body.get("system") {
            total += TOKENS_PER_MESSAGE + self.anthropic_content(system);
        }
        for message in body.get("messages").and_then(J::as_array).into_iter().flatten() {
            total += TOKENS_PER_MESSAGE + self.role(message.get("role"));
            total += message.get("content").map_or(0, |c| self.anthropic_content(c));
        }
        let tools = body.get("tools").and_then(J::as_array).unwrap_or_default();
        if !tools.is_empty() {
            let forced =
                matches!(body.at(&["tool_choice", "type"]).and_then(J::as_str), Some("any" | "tool"));
            total += if forced { ANTHROPIC_TOOL_PROMPT_FORCED } else { ANTHROPIC_TOOL_PROMPT_AUTO };
            for tool in tools {
                total += self.value_text(tool.get("name")) + self.value_text(tool.get("description"));
                total += tool.get("input_schema").map_or(0, |schema| self.json(schema));
            }
        }
        total
    }

    /// A system prompt or message content: a string, or content blocks.
    fn anthropic_content<J: Json>(&self, content: &J) -> i64 {
        match (content.as_str(), content.as_array()) {
            (Some(s), _) => self.text(s),
            (_, Some(blocks)) => blocks.iter().map(|block| self.anthropic_block(block)).sum(),
            _ => 0,
        }
    }

    fn anthropic_block<J: Json>(&self, block: &J) -> i64 {
        match block.get("type").and_then(J::as_str) {
            Some("text") => self.value_text(block.get("text")),
            Some("thinking") => self.value_text(block.get("thinking")),
            Some("tool_use") => {
                self.value_text(block.get("name")) + block.get("input").map_or(0, |i| self.json(i))
            }
            Some("tool_result") => block.get("content").map_or(0, |c| self.anthropic_content(c)),
            // A plain-text document is text; PDFs, images and the like are not counted.
            Some("document") if block.at(&["source", "type"]).and_then(J::as_str) == Some("text") => {
                self.value_text(block.at(&["source", "data"]))
            }
            _ => 0,
        }
    }
}
