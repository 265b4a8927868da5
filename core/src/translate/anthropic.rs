//! Anthropic messages.

use serde_json::{json, Map, Value};

use super::canonical::*;
use super::json::*;
use super::{malformed, new_id, unsupported, Api};
use crate::Result;

const API: Api = Api::Anthropic;
/// Anthropic requires `max_tokens`; a source that set none gets this (docs/fallback.md).
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

const KNOWN: &[&str] = &[
    "model",
    "max_tokens",
    "system",
    "messages",
    "tools",
    "tool_choice",
    "stop_sequences",
    "temperature",
    "top_p",
    "stream",
    "output_config",
];
const IGNORED: &[&str] = &["metadata", "service_tier"];

pub fn read_request(v: &Value, target: Api) -> Result<Request> {
    let m = obj(v, API, "request")?;
    check_fields(m, KNOWN, IGNORED, target)?;
    let mut req = Request {
        model: str_of(m, "model").map(str::to_string),
        stop: stop_list(m.get("stop_sequences"), API)?,
        temperature: f64_of(m, "temperature"),
        top_p: f64_of(m, "top_p"),
        max_tokens: m.get("max_tokens").and_then(Value::as_u64),
        stream: m.get("stream").and_then(Value::as_bool).unwrap_or(false),
        ..Request::default()
    };
    match m.get("system") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => req.system.push(s.clone()),
        Some(Value::Array(blocks)) => {
            for b in blocks {
                req.system.push(req_str(obj(b, API, "system block")?, "text", API)?.to_string());
            }
        }
        Some(_) => return Err(malformed(API, "system")),
    }
    for msg in arr(m.get("messages").unwrap_or(&Value::Null), API, "messages")? {
        let mm = obj(msg, API, "message")?;
        let role = match req_str(mm, "role", API)? {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            other => return Err(malformed(API, format!("role {other}"))),
        };
        let parts = match mm.get("content").unwrap_or(&Value::Null) {
            Value::String(s) => vec![Part::Text(s.clone())],
            Value::Array(blocks) => {
                let mut parts = Vec::with_capacity(blocks.len());
                for b in blocks {
                    parts.push(read_block(b, &req.messages, target)?);
                }
                parts
            }
            _ => return Err(malformed(API, "content")),
        };
        req.messages.push(Message { role, parts });
    }
    if let Some(tools) = m.get("tools").filter(|t| !t.is_null()) {
        for tool in arr(tools, API, "tools")? {
            let t = obj(tool, API, "tool")?;
            if let Some(kind) = str_of(t, "type").filter(|k| *k != "custom") {
                return Err(unsupported(format!("{kind} tools"), target));
            }
            req.tools.push(Tool {
                name: req_str(t, "name", API)?.to_string(),
                description: str_of(t, "description").map(str::to_string),
                parameters: t.get("input_schema").cloned().unwrap_or_else(|| json!({"type": "object"})),
            });
        }
    }
    if let Some(tc) = m.get("tool_choice").filter(|t| !t.is_null()) {
        let tc = obj(tc, API, "tool_choice")?;
        req.tool_choice = Some(match str_of(tc, "type") {
            Some("auto") => ToolChoice::Auto,
            Some("any") => ToolChoice::Required,
            Some("none") => ToolChoice::None,
            Some("tool") => ToolChoice::Named(req_str(tc, "name", API)?.to_string()),
            _ => return Err(malformed(API, "tool_choice type")),
        });
    }
    if let Some(oc) = m.get("output_config").filter(|o| !o.is_null()) {
        let oc = obj(oc, API, "output_config")?;
        check_fields(oc, &["format"], &[], target)?;
        if let Some(f) = oc.get("format").filter(|f| !f.is_null()) {
            req.response_format = Some(ResponseFormat::JsonSchema {
                name: "response".to_string(),
                schema: f
                    .get("schema")
                    .cloned()
                    .ok_or_else(|| malformed(API, "output_config.format.schema"))?,
                strict: Some(true),
                description: None,
            });
        }
    }
    Ok(req)
}

fn read_block(b: &Value, earlier: &[Message], target: Api) -> Result<Part> {
    let m = obj(b, API, "content block")?;
    match str_of(m, "type") {
        Some("text") => Ok(Part::Text(req_str(m, "text", API)?.to_string())),
        Some("image") => {
            let s = obj(m.get("source").unwrap_or(&Value::Null), API, "image source")?;
            match str_of(s, "type") {
                Some("base64") => Ok(Part::ImageBase64 {
                    media_type: req_str(s, "media_type", API)?.to_string(),
                    data: req_str(s, "data", API)?.to_string(),
                }),
                Some("url") => Ok(Part::ImageUrl(req_str(s, "url", API)?.to_string())),
                other => Err(unsupported(format!("{} image source", other.unwrap_or("?")), target)),
            }
        }
        Some("tool_use") => Ok(Part::ToolCall {
            id: req_str(m, "id", API)?.to_string(),
            name: req_str(m, "name", API)?.to_string(),
            arguments: m.get("input").map(Value::to_string).unwrap_or_else(|| "{}".into()),
        }),
        Some("tool_result") => {
            let id = req_str(m, "tool_use_id", API)?.to_string();
            Ok(Part::ToolResult {
                name: tool_name_for(earlier, &id),
                id,
                content: text_content(m.get("content").unwrap_or(&Value::Null), API, target)?,
                is_error: m.get("is_error").and_then(Value::as_bool).unwrap_or(false),
            })
        }
        Some(other) => Err(unsupported(format!("{other} blocks"), target)),
        None => Err(malformed(API, "content block without type")),
    }
}

pub fn write_request(req: &Request, model: &str) -> Result<Value> {
    let mut turns: Vec<(Role, Vec<Value>)> = Vec::with_capacity(req.messages.len());
    for msg in &req.messages {
        let mut blocks = Vec::with_capacity(msg.parts.len());
        for part in &msg.parts {
            blocks.push(match part {
                Part::Text(t) if t.is_empty() => continue, // Anthropic rejects empty text blocks
                Part::Text(t) => json!({"type": "text", "text": t}),
                Part::ImageUrl(url) => json!({"type": "image", "source": {"type": "url", "url": url}}),
                Part::ImageBase64 { media_type, data } => {
                    json!({"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}})
                }
                Part::ToolCall { id, name, arguments } => {
                    let mut b = json!({"type": "tool_use", "id": id, "name": name});
                    b["input"] = args_object(arguments, API)?;
                    b
                }
                Part::ToolResult { id, content, is_error, .. } => {
                    let mut b = json!({"type": "tool_result", "tool_use_id": id, "content": content});
                    if *is_error {
                        b["is_error"] = true.into();
                    }
                    b
                }
            });
        }
        push_merged(&mut turns, msg.role, blocks);
    }
    let messages: Vec<Value> = turns
        .into_iter()
        .map(|(role, content)| {
            let role = if role == Role::User { "user" } else { "assistant" };
            object([("role", role.into()), ("content", Value::Array(content))])
        })
        .collect();
    let mut out = Map::new();
    out.insert("model".into(), model.into());
    out.insert("max_tokens".into(), req.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS).into());
    match req.system.len() {
        0 => {}
        1 => {
            out.insert("system".into(), req.system[0].clone().into());
        }
        _ => {
            let blocks: Vec<Value> = req.system.iter().map(|s| json!({"type": "text", "text": s})).collect();
            out.insert("system".into(), blocks.into());
        }
    }
    out.insert("messages".into(), messages.into());
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                let mut v =
                    object([("name", t.name.as_str().into()), ("input_schema", t.parameters.clone())]);
                if let Some(d) = &t.description {
                    v["description"] = d.as_str().into();
                }
                v
            })
            .collect();
        out.insert("tools".into(), tools.into());
    }
    if let Some(choice) = &req.tool_choice {
        out.insert(
            "tool_choice".into(),
            match choice {
                ToolChoice::Auto => json!({"type": "auto"}),
                ToolChoice::None => json!({"type": "none"}),
                ToolChoice::Required => json!({"type": "any"}),
                ToolChoice::Named(name) => json!({"type": "tool", "name": name}),
            },
        );
    }
    match &req.response_format {
        None => {}
        Some(ResponseFormat::JsonObject) => {
            return Err(unsupported("response_format json_object (JSON mode)", API))
        }
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            let format = object([("type", "json_schema".into()), ("schema", schema.clone())]);
            out.insert("output_config".into(), object([("format", format)]));
        }
    }
    if !req.stop.is_empty() {
        out.insert("stop_sequences".into(), json!(req.stop));
    }
    if let Some(t) = req.temperature {
        if t > 1.0 {
            return Err(unsupported("temperature above 1", API));
        }
        out.insert("temperature".into(), t.into());
    }
    if let Some(p) = req.top_p {
        out.insert("top_p".into(), p.into());
    }
    if req.stream {
        out.insert("stream".into(), true.into());
    }
    Ok(Value::Object(out))
}

pub fn finish_from(s: &str) -> Finish {
    match s {
        "end_turn" => Finish::Stop,
        "stop_sequence" => Finish::StopSequence,
        "max_tokens" | "model_context_window_exceeded" => Finish::Length,
        "tool_use" => Finish::ToolCalls,
        "refusal" => Finish::ContentFilter,
        _ => Finish::Other,
    }
}

pub fn finish_to(f: Finish) -> &'static str {
    match f {
        Finish::Stop | Finish::Other => "end_turn",
        Finish::StopSequence => "stop_sequence",
        Finish::Length => "max_tokens",
        Finish::ToolCalls => "tool_use",
        Finish::ContentFilter => "refusal",
    }
}

pub fn usage_from(u: &Map<String, Value>) -> Usage {
    let cache_read = u64_of(u, "cache_read_input_tokens");
    let cache_write = u64_of(u, "cache_creation_input_tokens");
    Usage {
        input: u64_of(u, "input_tokens") + cache_read + cache_write,
        output: u64_of(u, "output_tokens"),
        cache_read,
        cache_write,
        reasoning: 0,
    }
}

pub fn usage_to(u: &Usage) -> Value {
    json!({
        "input_tokens": u.uncached_input(),
        "output_tokens": u.output,
        "cache_creation_input_tokens": u.cache_write,
        "cache_read_input_tokens": u.cache_read,
    })
}

pub fn read_response(v: &Value) -> Result<Response> {
    let m = obj(v, API, "response")?;
    let mut parts = Vec::new();
    for b in arr(m.get("content").unwrap_or(&Value::Null), API, "content")? {
        let bm = obj(b, API, "content block")?;
        match str_of(bm, "type") {
            Some("text") => parts.push(Part::Text(req_str(bm, "text", API)?.to_string())),
            Some("tool_use") => parts.push(Part::ToolCall {
                id: req_str(bm, "id", API)?.to_string(),
                name: req_str(bm, "name", API)?.to_string(),
                arguments: bm.get("input").map(Value::to_string).unwrap_or_else(|| "{}".into()),
            }),
            // Reasoning the source's shape has no place for; its tokens stay in usage.
            Some("thinking") | Some("redacted_thinking") => {}
            other => return Err(malformed(API, format!("content block {other:?}"))),
        }
    }
    Ok(Response {
        id: str_of(m, "id").map(str::to_string),
        model: str_of(m, "model").map(str::to_string),
        created: None,
        parts,
        finish: str_of(m, "stop_reason").map(finish_from),
        stop_sequence: str_of(m, "stop_sequence").map(str::to_string),
        usage: m.get("usage").and_then(Value::as_object).map(usage_from).unwrap_or_default(),
    })
}

pub fn write_response(r: &Response, ctx: &ResponseContext) -> Value {
    let content: Vec<Value> = r
        .parts
        .iter()
        .filter_map(|p| match p {
            Part::Text(t) => Some(json!({"type": "text", "text": t})),
            Part::ToolCall { id, name, arguments } => {
                let mut b = json!({"type": "tool_use", "id": id, "name": name});
                b["input"] = serde_json::from_str::<Value>(arguments).unwrap_or_else(|_| json!({}));
                Some(b)
            }
            _ => None,
        })
        .collect();
    let finish = r.finish.unwrap_or(Finish::Stop);
    let stop_sequence = match (finish, &r.stop_sequence) {
        (Finish::StopSequence, Some(s)) => Value::from(s.as_str()),
        _ => Value::Null,
    };
    object([
        ("id", ctx.id.clone().or_else(|| r.id.clone()).unwrap_or_else(|| new_id("msg_")).into()),
        ("type", "message".into()),
        ("role", "assistant".into()),
        ("model", r.model.clone().or_else(|| ctx.model.clone()).unwrap_or_default().into()),
        ("content", Value::Array(content)),
        ("stop_reason", finish_to(finish).into()),
        ("stop_sequence", stop_sequence),
        ("usage", usage_to(&r.usage)),
    ])
}
