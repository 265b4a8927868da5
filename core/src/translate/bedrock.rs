//! Bedrock Converse: the request as boto3's `converse(**kwargs)` takes it (and the REST
//! body), image bytes as base64 text (the Python layer decodes them for boto3).

use serde_json::{json, Map, Value};

use super::canonical::*;
use super::json::*;
use super::{malformed, unsupported, Api};
use crate::Result;

const API: Api = Api::Bedrock;

const KNOWN: &[&str] = &["modelId", "messages", "system", "inferenceConfig", "toolConfig", "outputConfig"];
const IGNORED: &[&str] = &["requestMetadata", "performanceConfig", "serviceTier"];

pub fn read_request(v: &Value, target: Api) -> Result<Request> {
    let m = obj(v, API, "request")?;
    check_fields(m, KNOWN, IGNORED, target)?;
    let mut req = Request { model: str_of(m, "modelId").map(str::to_string), ..Request::default() };
    for s in arr(m.get("system").unwrap_or(&json!([])), API, "system")? {
        let sm = obj(s, API, "system block")?;
        if let Some(t) = str_of(sm, "text") {
            req.system.push(t.to_string());
        } else if !sm.contains_key("cachePoint") {
            return Err(unsupported("non-text system blocks", target));
        }
    }
    for msg in arr(m.get("messages").unwrap_or(&Value::Null), API, "messages")? {
        let mm = obj(msg, API, "message")?;
        let role = match req_str(mm, "role", API)? {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            other => return Err(malformed(API, format!("role {other}"))),
        };
        let mut parts = Vec::new();
        for b in arr(mm.get("content").unwrap_or(&Value::Null), API, "content")? {
            let bm = obj(b, API, "content block")?;
            if let Some(t) = str_of(bm, "text") {
                parts.push(Part::Text(t.to_string()));
            } else if let Some(img) = bm.get("image").and_then(Value::as_object) {
                let format = req_str(img, "format", API)?;
                let data = img
                    .get("source")
                    .and_then(|s| s.get("bytes"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| unsupported("images not given as bytes", target))?;
                parts.push(Part::ImageBase64 {
                    media_type: format!("image/{format}"),
                    data: data.to_string(),
                });
            } else if let Some(tu) = bm.get("toolUse").and_then(Value::as_object) {
                parts.push(Part::ToolCall {
                    id: req_str(tu, "toolUseId", API)?.to_string(),
                    name: req_str(tu, "name", API)?.to_string(),
                    arguments: tu.get("input").map(Value::to_string).unwrap_or_else(|| "{}".into()),
                });
            } else if let Some(tr) = bm.get("toolResult").and_then(Value::as_object) {
                let id = req_str(tr, "toolUseId", API)?.to_string();
                let mut content = String::new();
                for c in arr(tr.get("content").unwrap_or(&json!([])), API, "toolResult.content")? {
                    if let Some(t) = c.get("text").and_then(Value::as_str) {
                        content.push_str(t);
                    } else if let Some(j) = c.get("json") {
                        content.push_str(&j.to_string());
                    } else {
                        return Err(unsupported("non-text tool results", target));
                    }
                }
                parts.push(Part::ToolResult {
                    name: tool_name_for(&req.messages, &id),
                    id,
                    content,
                    is_error: str_of(tr, "status") == Some("error"),
                });
            } else if !bm.contains_key("cachePoint") {
                let kind = bm.keys().next().map(String::as_str).unwrap_or("empty");
                return Err(unsupported(format!("{kind} blocks"), target));
            }
        }
        req.messages.push(Message { role, parts });
    }
    if let Some(ic) = m.get("inferenceConfig").filter(|i| !i.is_null()) {
        let ic = obj(ic, API, "inferenceConfig")?;
        req.max_tokens = ic.get("maxTokens").and_then(Value::as_u64);
        req.temperature = f64_of(ic, "temperature");
        req.top_p = f64_of(ic, "topP");
        req.stop = stop_list(ic.get("stopSequences"), API)?;
    }
    if let Some(tc) = m.get("toolConfig").filter(|t| !t.is_null()) {
        let tc = obj(tc, API, "toolConfig")?;
        for t in arr(tc.get("tools").unwrap_or(&json!([])), API, "tools")? {
            let Some(spec) = t.get("toolSpec").and_then(Value::as_object) else {
                if t.get("cachePoint").is_some() {
                    continue;
                }
                return Err(unsupported("non-toolSpec tools", target));
            };
            req.tools.push(Tool {
                name: req_str(spec, "name", API)?.to_string(),
                description: str_of(spec, "description").map(str::to_string),
                parameters: spec
                    .get("inputSchema")
                    .and_then(|s| s.get("json"))
                    .cloned()
                    .unwrap_or_else(|| json!({"type": "object"})),
            });
        }
        if let Some(choice) = tc.get("toolChoice").and_then(Value::as_object) {
            req.tool_choice = Some(if choice.contains_key("auto") {
                ToolChoice::Auto
            } else if choice.contains_key("any") {
                ToolChoice::Required
            } else if let Some(t) = choice.get("tool").and_then(Value::as_object) {
                ToolChoice::Named(req_str(t, "name", API)?.to_string())
            } else {
                return Err(malformed(API, "toolChoice"));
            });
        }
    }
    if let Some(tf) = m.get("outputConfig").and_then(|o| o.get("textFormat")).filter(|t| !t.is_null()) {
        let js = tf
            .get("structure")
            .and_then(|s| s.get("jsonSchema"))
            .and_then(Value::as_object)
            .ok_or_else(|| malformed(API, "outputConfig.textFormat.structure.jsonSchema"))?;
        let schema = match js.get("schema") {
            Some(Value::String(s)) => serde_json::from_str::<Value>(s)
                .map_err(|e| malformed(API, format!("jsonSchema.schema: {e}")))?,
            Some(v) => v.clone(),
            None => return Err(malformed(API, "jsonSchema.schema missing")),
        };
        req.response_format = Some(ResponseFormat::JsonSchema {
            name: str_of(js, "name").unwrap_or("response").to_string(),
            schema,
            strict: None,
            description: str_of(js, "description").map(str::to_string),
        });
    }
    Ok(req)
}

fn image_format(media_type: &str) -> Result<&'static str> {
    Ok(match media_type {
        "image/png" => "png",
        "image/jpeg" | "image/jpg" => "jpeg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        other => return Err(unsupported(format!("{other} images"), API)),
    })
}

pub fn write_request(req: &Request, model: &str) -> Result<Value> {
    let mut turns: Vec<(Role, Vec<Value>)> = Vec::with_capacity(req.messages.len());
    for msg in &req.messages {
        let mut blocks = Vec::with_capacity(msg.parts.len());
        for part in &msg.parts {
            blocks.push(match part {
                Part::Text(t) if t.is_empty() => continue, // Bedrock rejects blank text blocks
                Part::Text(t) => json!({"text": t}),
                Part::ImageUrl(_) => {
                    return Err(unsupported("image_url (Bedrock takes image bytes only)", API))
                }
                Part::ImageBase64 { media_type, data } => {
                    json!({"image": {"format": image_format(media_type)?, "source": {"bytes": data}}})
                }
                Part::ToolCall { id, name, arguments } => {
                    let mut tool = json!({"toolUseId": id, "name": name});
                    tool["input"] = args_object(arguments, API)?;
                    object([("toolUse", tool)])
                }
                Part::ToolResult { id, content, is_error, .. } => json!({"toolResult": {
                    "toolUseId": id, "content": [{"text": content}],
                    "status": if *is_error { "error" } else { "success" },
                }}),
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
    out.insert("modelId".into(), model.into());
    out.insert("messages".into(), messages.into());
    if !req.system.is_empty() {
        let system: Vec<Value> = req.system.iter().map(|s| json!({"text": s})).collect();
        out.insert("system".into(), system.into());
    }
    let mut ic = Map::new();
    if let Some(n) = req.max_tokens {
        ic.insert("maxTokens".into(), n.into());
    }
    if let Some(t) = req.temperature {
        ic.insert("temperature".into(), t.into());
    }
    if let Some(p) = req.top_p {
        ic.insert("topP".into(), p.into());
    }
    if !req.stop.is_empty() {
        ic.insert("stopSequences".into(), json!(req.stop));
    }
    if !ic.is_empty() {
        out.insert("inferenceConfig".into(), ic.into());
    }
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                let schema = object([("json", t.parameters.clone())]);
                let mut spec = object([("name", t.name.as_str().into()), ("inputSchema", schema)]);
                if let Some(d) = &t.description {
                    spec["description"] = d.as_str().into();
                }
                object([("toolSpec", spec)])
            })
            .collect();
        let mut tc = object([("tools", Value::Array(tools))]);
        match &req.tool_choice {
            None | Some(ToolChoice::Auto) => {}
            Some(ToolChoice::None) => return Err(unsupported("tool_choice none", API)),
            Some(ToolChoice::Required) => tc["toolChoice"] = json!({"any": {}}),
            Some(ToolChoice::Named(name)) => tc["toolChoice"] = json!({"tool": {"name": name}}),
        }
        out.insert("toolConfig".into(), tc);
    } else if matches!(req.tool_choice, Some(ToolChoice::Required | ToolChoice::Named(_))) {
        return Err(malformed(API, "tool_choice without tools"));
    }
    match &req.response_format {
        None => {}
        Some(ResponseFormat::JsonObject) => {
            return Err(unsupported("response_format json_object (JSON mode)", API))
        }
        Some(ResponseFormat::JsonSchema { name, schema, description, .. }) => {
            let mut js = json!({"schema": schema.to_string(), "name": name});
            if let Some(d) = description {
                js["description"] = d.as_str().into();
            }
            out.insert(
                "outputConfig".into(),
                json!({"textFormat": {"type": "json_schema", "structure": {"jsonSchema": js}}}),
            );
        }
    }
    Ok(Value::Object(out))
}

pub fn finish_from(s: &str) -> Finish {
    match s {
        "end_turn" => Finish::Stop,
        "stop_sequence" => Finish::StopSequence,
        "max_tokens" | "model_context_window_exceeded" => Finish::Length,
        "tool_use" => Finish::ToolCalls,
        "guardrail_intervened" | "content_filtered" => Finish::ContentFilter,
        _ => Finish::Other,
    }
}

pub fn finish_to(f: Finish) -> &'static str {
    match f {
        Finish::Stop | Finish::Other => "end_turn",
        Finish::StopSequence => "stop_sequence",
        Finish::Length => "max_tokens",
        Finish::ToolCalls => "tool_use",
        Finish::ContentFilter => "content_filtered",
    }
}

pub fn usage_from(u: &Map<String, Value>) -> Usage {
    let cache_read = u64_of(u, "cacheReadInputTokens");
    let cache_write = u64_of(u, "cacheWriteInputTokens");
    Usage {
        input: u64_of(u, "inputTokens") + cache_read + cache_write,
        output: u64_of(u, "outputTokens"),
        cache_read,
        cache_write,
        reasoning: 0,
    }
}

pub fn usage_to(u: &Usage) -> Value {
    let mut v = json!({"inputTokens": u.uncached_input(), "outputTokens": u.output, "totalTokens": u.input + u.output});
    if u.cache_read > 0 {
        v["cacheReadInputTokens"] = u.cache_read.into();
    }
    if u.cache_write > 0 {
        v["cacheWriteInputTokens"] = u.cache_write.into();
    }
    v
}

pub fn read_response(v: &Value) -> Result<Response> {
    let m = obj(v, API, "response")?;
    let content = m
        .get("output")
        .and_then(|o| o.get("message"))
        .and_then(|msg| msg.get("content"))
        .ok_or_else(|| malformed(API, "output.message.content missing"))?;
    let mut parts = Vec::new();
    for b in arr(content, API, "content")? {
        let bm = obj(b, API, "content block")?;
        if let Some(t) = str_of(bm, "text") {
            parts.push(Part::Text(t.to_string()));
        } else if let Some(tu) = bm.get("toolUse").and_then(Value::as_object) {
            parts.push(Part::ToolCall {
                id: req_str(tu, "toolUseId", API)?.to_string(),
                name: req_str(tu, "name", API)?.to_string(),
                arguments: tu.get("input").map(Value::to_string).unwrap_or_else(|| "{}".into()),
            });
        }
        // reasoningContent: no place in the source's shape; its tokens stay in usage.
    }
    Ok(Response {
        id: None,
        model: None,
        created: None,
        parts,
        finish: str_of(m, "stopReason").map(finish_from),
        stop_sequence: None,
        usage: m.get("usage").and_then(Value::as_object).map(usage_from).unwrap_or_default(),
    })
}

pub fn content_json(parts: &[Part]) -> Vec<Value> {
    parts
        .iter()
        .filter_map(|p| match p {
            Part::Text(t) => Some(json!({"text": t})),
            Part::ToolCall { id, name, arguments } => {
                let mut tool = json!({"toolUseId": id, "name": name});
                tool["input"] = serde_json::from_str::<Value>(arguments).unwrap_or_else(|_| json!({}));
                Some(object([("toolUse", tool)]))
            }
            _ => None,
        })
        .collect()
}

pub fn write_response(r: &Response) -> Value {
    let message = object([("role", "assistant".into()), ("content", Value::Array(content_json(&r.parts)))]);
    object([
        ("output", object([("message", message)])),
        ("stopReason", finish_to(r.finish.unwrap_or(Finish::Stop)).into()),
        ("usage", usage_to(&r.usage)),
        ("metrics", json!({"latencyMs": 0})),
    ])
}
