//! OpenAI chat completions, and Mistral chat (the same shape with a few differences:
//! `tool_choice: "any"`, nine-character tool call ids, `max_tokens` only).

use serde_json::{json, Map, Value};

use super::canonical::*;
use super::json::*;
use super::{malformed, new_id, unsupported, Api};
use crate::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    OpenAi,
    Mistral,
}

impl Flavor {
    pub fn api(self) -> Api {
        match self {
            Flavor::OpenAi => Api::OpenAi,
            Flavor::Mistral => Api::Mistral,
        }
    }
}

const KNOWN: &[&str] = &[
    "model",
    "messages",
    "tools",
    "tool_choice",
    "response_format",
    "stop",
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "stream",
    "n",
];
// Fields without meaning for the answer (ids, storage, delivery) travel nowhere.
const IGNORED: &[&str] =
    &["user", "store", "metadata", "service_tier", "parallel_tool_calls", "stream_options", "safe_prompt"];

pub fn read_request(v: &Value, flavor: Flavor, target: Api) -> Result<Request> {
    let api = flavor.api();
    let m = obj(v, api, "request")?;
    check_fields(m, KNOWN, IGNORED, target)?;
    if m.get("n").and_then(Value::as_u64).is_some_and(|n| n != 1) {
        return Err(unsupported("n (several choices)", target));
    }
    if m.get("safe_prompt").and_then(Value::as_bool) == Some(true) {
        return Err(unsupported("safe_prompt", target));
    }
    let mut req = Request {
        model: str_of(m, "model").map(str::to_string),
        stop: stop_list(m.get("stop"), api)?,
        temperature: f64_of(m, "temperature"),
        top_p: f64_of(m, "top_p"),
        max_tokens: m.get("max_completion_tokens").or(m.get("max_tokens")).and_then(Value::as_u64),
        stream: m.get("stream").and_then(Value::as_bool).unwrap_or(false),
        ..Request::default()
    };
    for msg in arr(m.get("messages").unwrap_or(&Value::Null), api, "messages")? {
        read_message(msg, api, target, &mut req)?;
    }
    if let Some(tools) = m.get("tools").filter(|t| !t.is_null()) {
        for tool in arr(tools, api, "tools")? {
            let t = obj(tool, api, "tool")?;
            if str_of(t, "type").unwrap_or("function") != "function" {
                return Err(unsupported(format!("{} tools", str_of(t, "type").unwrap_or("")), target));
            }
            let f = obj(t.get("function").unwrap_or(&Value::Null), api, "tool function")?;
            req.tools.push(Tool {
                name: req_str(f, "name", api)?.to_string(),
                description: str_of(f, "description").map(str::to_string),
                parameters: f.get("parameters").cloned().unwrap_or_else(|| json!({"type": "object"})),
            });
        }
    }
    req.tool_choice = match m.get("tool_choice") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(match s.as_str() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" | "any" => ToolChoice::Required,
            other => return Err(malformed(api, format!("tool_choice {other:?}"))),
        }),
        Some(other) => {
            let f = other.get("function").and_then(Value::as_object);
            let name = f.and_then(|f| str_of(f, "name")).ok_or_else(|| malformed(api, "tool_choice"))?;
            Some(ToolChoice::Named(name.to_string()))
        }
    };
    req.response_format = match m.get("response_format") {
        None | Some(Value::Null) => None,
        Some(rf) => {
            let rf = obj(rf, api, "response_format")?;
            match str_of(rf, "type") {
                Some("text") => None,
                Some("json_object") => Some(ResponseFormat::JsonObject),
                Some("json_schema") => {
                    let js = obj(rf.get("json_schema").unwrap_or(&Value::Null), api, "json_schema")?;
                    Some(ResponseFormat::JsonSchema {
                        name: str_of(js, "name").unwrap_or("response").to_string(),
                        schema: js.get("schema").cloned().unwrap_or_else(|| json!({})),
                        strict: js.get("strict").and_then(Value::as_bool),
                        description: str_of(js, "description").map(str::to_string),
                    })
                }
                _ => return Err(malformed(api, "response_format type")),
            }
        }
    };
    Ok(req)
}

fn read_message(msg: &Value, api: Api, target: Api, req: &mut Request) -> Result<()> {
    let m = obj(msg, api, "message")?;
    let content = m.get("content").unwrap_or(&Value::Null);
    match req_str(m, "role", api)? {
        "system" | "developer" => req.system.push(text_content(content, api, target)?),
        "user" => {
            let parts = match content {
                Value::String(s) => vec![Part::Text(s.clone())],
                Value::Array(items) => {
                    items.iter().map(|i| user_part(i, api, target)).collect::<Result<_>>()?
                }
                _ => return Err(malformed(api, "user content")),
            };
            req.messages.push(Message { role: Role::User, parts });
        }
        "assistant" => {
            if m.get("audio").is_some_and(|a| !a.is_null()) {
                return Err(unsupported("assistant audio", target));
            }
            let mut parts = Vec::new();
            let text = text_content(content, api, target)?;
            if !text.is_empty() {
                parts.push(Part::Text(text));
            }
            if let Some(calls) = m.get("tool_calls").filter(|c| !c.is_null()) {
                for call in arr(calls, api, "tool_calls")? {
                    let c = obj(call, api, "tool call")?;
                    let f = obj(c.get("function").unwrap_or(&Value::Null), api, "tool call function")?;
                    let arguments = match f.get("arguments") {
                        Some(Value::String(s)) => s.clone(),
                        Some(Value::Null) | None => String::new(),
                        Some(other) => other.to_string(), // Mistral accepts an object
                    };
                    parts.push(Part::ToolCall {
                        id: req_str(c, "id", api)?.to_string(),
                        name: req_str(f, "name", api)?.to_string(),
                        arguments,
                    });
                }
            }
            req.messages.push(Message { role: Role::Assistant, parts });
        }
        "tool" => {
            let id = req_str(m, "tool_call_id", api)?.to_string();
            let name = str_of(m, "name").map(str::to_string).or_else(|| tool_name_for(&req.messages, &id));
            let part =
                Part::ToolResult { id, name, content: text_content(content, api, target)?, is_error: false };
            // Consecutive tool results (and a user turn after them) form one user turn.
            match req.messages.last_mut() {
                Some(last)
                    if last.role == Role::User
                        && matches!(last.parts.last(), Some(Part::ToolResult { .. })) =>
                {
                    last.parts.push(part)
                }
                _ => req.messages.push(Message { role: Role::User, parts: vec![part] }),
            }
        }
        other => return Err(unsupported(format!("{other} messages"), target)),
    }
    Ok(())
}

fn user_part(item: &Value, api: Api, target: Api) -> Result<Part> {
    let m = obj(item, api, "content part")?;
    match str_of(m, "type") {
        Some("text") => Ok(Part::Text(req_str(m, "text", api)?.to_string())),
        Some("image_url") => {
            let url = match m.get("image_url") {
                Some(Value::String(s)) => s.as_str(), // Mistral's short form
                Some(Value::Object(o)) => req_str(o, "url", api)?,
                _ => return Err(malformed(api, "image_url")),
            };
            Ok(image_from_url(url))
        }
        Some(other) => Err(unsupported(format!("{other} content"), target)),
        None => Err(malformed(api, "content part without type")),
    }
}

pub fn write_request(req: &Request, model: &str, flavor: Flavor) -> Result<Value> {
    let mut messages = Vec::with_capacity(req.messages.len() + req.system.len());
    for s in &req.system {
        messages.push(object([("role", "system".into()), ("content", s.as_str().into())]));
    }
    for msg in &req.messages {
        match msg.role {
            Role::Assistant => {
                let text: String = msg
                    .parts
                    .iter()
                    .filter_map(|p| if let Part::Text(t) = p { Some(t.as_str()) } else { None })
                    .collect();
                let calls: Vec<Value> = msg
                    .parts
                    .iter()
                    .filter_map(|p| match p {
                        Part::ToolCall { id, name, arguments } => Some(json!({
                            "id": tool_id(id, flavor), "type": "function",
                            "function": {"name": name, "arguments": if arguments.is_empty() { "{}" } else { arguments }},
                        })),
                        _ => None,
                    })
                    .collect();
                let mut m = Map::new();
                m.insert("role".into(), "assistant".into());
                m.insert(
                    "content".into(),
                    if text.is_empty() && !calls.is_empty() { Value::Null } else { text.into() },
                );
                if !calls.is_empty() {
                    m.insert("tool_calls".into(), calls.into());
                }
                messages.push(Value::Object(m));
            }
            Role::User => {
                let mut content = Vec::new();
                for part in &msg.parts {
                    match part {
                        Part::ToolResult { id, name, content: text, .. } => {
                            let mut m = json!({"role": "tool", "tool_call_id": tool_id(id, flavor), "content": text});
                            if let (Flavor::Mistral, Some(name)) = (flavor, name) {
                                m["name"] = name.as_str().into();
                            }
                            messages.push(m);
                        }
                        Part::Text(t) => content.push(json!({"type": "text", "text": t})),
                        Part::ImageUrl(url) => content.push(json!({"type": "image_url", "image_url": {"url": url}})),
                        Part::ImageBase64 { media_type, data } => content.push(
                            json!({"type": "image_url", "image_url": {"url": format!("data:{media_type};base64,{data}")}}),
                        ),
                        Part::ToolCall { .. } => return Err(malformed(flavor.api(), "tool call in a user turn")),
                    }
                }
                if content.len() == 1 && content[0]["type"] == "text" {
                    let text = content.pop().and_then(|mut c| c.get_mut("text").map(Value::take));
                    messages.push(object([("role", "user".into()), ("content", text.unwrap_or_default())]));
                } else if !content.is_empty() {
                    messages.push(object([("role", "user".into()), ("content", Value::Array(content))]));
                }
            }
        }
    }
    let mut out = Map::new();
    out.insert("model".into(), model.into());
    out.insert("messages".into(), messages.into());
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                let mut f = object([("name", t.name.as_str().into()), ("parameters", t.parameters.clone())]);
                if let Some(d) = &t.description {
                    f["description"] = d.as_str().into();
                }
                object([("type", "function".into()), ("function", f)])
            })
            .collect();
        out.insert("tools".into(), tools.into());
    }
    if let Some(choice) = &req.tool_choice {
        let v = match choice {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::None => json!("none"),
            ToolChoice::Required if flavor == Flavor::Mistral => json!("any"),
            ToolChoice::Required => json!("required"),
            ToolChoice::Named(name) => json!({"type": "function", "function": {"name": name}}),
        };
        out.insert("tool_choice".into(), v);
    }
    match &req.response_format {
        None => {}
        Some(ResponseFormat::JsonObject) => {
            out.insert("response_format".into(), json!({"type": "json_object"}));
        }
        Some(ResponseFormat::JsonSchema { name, schema, strict, description }) => {
            let mut js = object([("name", name.as_str().into()), ("schema", schema.clone())]);
            if let Some(s) = strict {
                js["strict"] = (*s).into();
            }
            if let Some(d) = description {
                js["description"] = d.as_str().into();
            }
            out.insert(
                "response_format".into(),
                object([("type", "json_schema".into()), ("json_schema", js)]),
            );
        }
    }
    if !req.stop.is_empty() {
        out.insert("stop".into(), json!(req.stop));
    }
    if let Some(t) = req.temperature {
        out.insert("temperature".into(), t.into());
    }
    if let Some(p) = req.top_p {
        out.insert("top_p".into(), p.into());
    }
    if let Some(n) = req.max_tokens {
        let key = if flavor == Flavor::OpenAi { "max_completion_tokens" } else { "max_tokens" };
        out.insert(key.into(), n.into());
    }
    if req.stream {
        out.insert("stream".into(), true.into());
        if flavor == Flavor::OpenAi {
            // Fallback meters the target: ask for the usage chunk.
            out.insert("stream_options".into(), json!({"include_usage": true}));
        }
    }
    Ok(Value::Object(out))
}

/// Mistral accepts only tool call ids of nine letters or digits; other ids map to one,
/// the same for a call and its result.
pub fn tool_id(id: &str, flavor: Flavor) -> String {
    if flavor == Flavor::OpenAi || (id.len() == 9 && id.bytes().all(|b| b.is_ascii_alphanumeric())) {
        return id.to_string();
    }
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325; // FNV-1a
    for b in id.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    (0..9)
        .map(|_| {
            let c = ALPHABET[(h % 62) as usize] as char;
            h /= 62;
            c
        })
        .collect()
}

pub fn finish_from(s: &str) -> Finish {
    match s {
        "stop" => Finish::Stop,
        "length" | "model_length" => Finish::Length,
        "tool_calls" | "function_call" => Finish::ToolCalls,
        "content_filter" => Finish::ContentFilter,
        _ => Finish::Other,
    }
}

pub fn finish_to(f: Finish, flavor: Flavor) -> &'static str {
    match f {
        Finish::Stop | Finish::StopSequence => "stop",
        Finish::Length => "length",
        Finish::ToolCalls => "tool_calls",
        Finish::ContentFilter if flavor == Flavor::OpenAi => "content_filter",
        Finish::ContentFilter | Finish::Other => {
            if flavor == Flavor::OpenAi {
                "stop"
            } else {
                "error"
            }
        }
    }
}

pub fn usage_from(u: &Map<String, Value>) -> Usage {
    let detail = |outer: &str, inner: &str| {
        u.get(outer).and_then(Value::as_object).map(|d| u64_of(d, inner)).unwrap_or(0)
    };
    Usage {
        input: u64_of(u, "prompt_tokens"),
        output: u64_of(u, "completion_tokens"),
        cache_read: detail("prompt_tokens_details", "cached_tokens"),
        cache_write: 0,
        reasoning: detail("completion_tokens_details", "reasoning_tokens"),
    }
}

pub fn usage_to(u: &Usage, flavor: Flavor) -> Value {
    let mut v = Map::new();
    v.insert("prompt_tokens".into(), u.input.into());
    v.insert("completion_tokens".into(), u.output.into());
    v.insert("total_tokens".into(), (u.input + u.output).into());
    if flavor == Flavor::OpenAi || u.cache_read > 0 {
        v.insert("prompt_tokens_details".into(), object([("cached_tokens", u.cache_read.into())]));
    }
    if flavor == Flavor::OpenAi {
        v.insert("completion_tokens_details".into(), object([("reasoning_tokens", u.reasoning.into())]));
    }
    Value::Object(v)
}

pub fn read_response(v: &Value, api: Api) -> Result<Response> {
    let m = obj(v, api, "response")?;
    let choice = m.get("choices").and_then(|c| c.get(0)).ok_or_else(|| malformed(api, "no choices"))?;
    let msg = obj(choice.get("message").unwrap_or(&Value::Null), api, "message")?;
    let mut parts = Vec::new();
    let text = text_content(msg.get("content").unwrap_or(&Value::Null), api, api)?;
    if !text.is_empty() {
        parts.push(Part::Text(text));
    }
    if let Some(calls) = msg.get("tool_calls").filter(|c| !c.is_null()) {
        for call in arr(calls, api, "tool_calls")? {
            let c = obj(call, api, "tool call")?;
            let f = obj(c.get("function").unwrap_or(&Value::Null), api, "function")?;
            let arguments = match f.get("arguments") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            let id = str_of(c, "id").map(str::to_string).unwrap_or_else(|| new_id("call_"));
            parts.push(Part::ToolCall { id, name: req_str(f, "name", api)?.to_string(), arguments });
        }
    }
    Ok(Response {
        id: str_of(m, "id").map(str::to_string),
        model: str_of(m, "model").map(str::to_string),
        created: m.get("created").and_then(Value::as_i64),
        parts,
        finish: choice.get("finish_reason").and_then(Value::as_str).map(finish_from),
        stop_sequence: None,
        usage: m.get("usage").and_then(Value::as_object).map(usage_from).unwrap_or_default(),
    })
}

/// Tool calls as the message carries them; Mistral callers get ids Mistral accepts back.
pub fn tool_calls_json(parts: &[Part], flavor: Flavor) -> Vec<Value> {
    parts
        .iter()
        .filter_map(|p| match p {
            Part::ToolCall { id, name, arguments } => Some(json!({
                "id": tool_id(id, flavor), "type": "function", "function": {"name": name, "arguments": arguments},
            })),
            _ => None,
        })
        .collect()
}

pub fn write_response(r: &Response, ctx: &ResponseContext, flavor: Flavor) -> Value {
    let text: String =
        r.parts.iter().filter_map(|p| if let Part::Text(t) = p { Some(t.as_str()) } else { None }).collect();
    let calls = tool_calls_json(&r.parts, flavor);
    let mut message = json!({"role": "assistant", "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { text.into() }});
    if !calls.is_empty() {
        message["tool_calls"] = calls.into();
    }
    if flavor == Flavor::OpenAi {
        message["refusal"] = Value::Null;
    }
    let finish = r.finish.unwrap_or(Finish::Stop);
    let mut choice = object([
        ("index", 0.into()),
        ("message", message),
        ("finish_reason", finish_to(finish, flavor).into()),
    ]);
    if flavor == Flavor::OpenAi {
        choice["logprobs"] = Value::Null;
    }
    object([
        ("id", response_id(r, ctx).into()),
        ("object", "chat.completion".into()),
        ("created", ctx.created.or(r.created).unwrap_or_else(now).into()),
        ("model", response_model(r, ctx).into()),
        ("choices", Value::Array(vec![choice])),
        ("usage", usage_to(&r.usage, flavor)),
    ])
}

pub fn response_id(r: &Response, ctx: &ResponseContext) -> String {
    ctx.id.clone().or_else(|| r.id.clone()).unwrap_or_else(|| new_id("chatcmpl-"))
}

pub fn response_model(r: &Response, ctx: &ResponseContext) -> String {
    r.model.clone().or_else(|| ctx.model.clone()).unwrap_or_default()
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
