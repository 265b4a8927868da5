//! Gemini generate_content, in the REST body's camelCase shape (what google-genai sends).
//! Function calls may lack ids: readers give them `call_<response id>_<n>`, and a function
//! response without id answers the latest unanswered call of its name.

use serde_json::{json, Map, Value};

use super::canonical::*;
use super::json::*;
use super::{malformed, new_id, unsupported, Api};
use crate::Result;

const API: Api = Api::Gemini;

const KNOWN: &[&str] = &["model", "contents", "systemInstruction", "tools", "toolConfig", "generationConfig"];
const GEN_KNOWN: &[&str] = &[
    "temperature",
    "topP",
    "maxOutputTokens",
    "stopSequences",
    "responseMimeType",
    "responseSchema",
    "responseJsonSchema",
    "candidateCount",
];

pub fn read_request(v: &Value, target: Api) -> Result<Request> {
    let m = obj(v, API, "request")?;
    check_fields(m, KNOWN, &["labels"], target)?;
    let mut req = Request { model: str_of(m, "model").map(str::to_string), ..Request::default() };
    if let Some(si) = m.get("systemInstruction").filter(|s| !s.is_null()) {
        for p in arr(si.get("parts").unwrap_or(&Value::Null), API, "systemInstruction.parts")? {
            req.system.push(req_str(obj(p, API, "part")?, "text", API)?.to_string());
        }
    }
    let mut calls = 0usize;
    for c in arr(m.get("contents").unwrap_or(&Value::Null), API, "contents")? {
        let cm = obj(c, API, "content")?;
        let role = match str_of(cm, "role").unwrap_or("user") {
            "user" => Role::User,
            "model" => Role::Assistant,
            other => return Err(malformed(API, format!("role {other}"))),
        };
        let mut parts = Vec::new();
        for p in arr(cm.get("parts").unwrap_or(&Value::Null), API, "parts")? {
            let pm = obj(p, API, "part")?;
            if let Some(t) = str_of(pm, "text") {
                if pm.get("thought").and_then(Value::as_bool) == Some(true) {
                    return Err(unsupported("thought parts", target));
                }
                parts.push(Part::Text(t.to_string()));
            } else if let Some(d) = pm.get("inlineData").and_then(Value::as_object) {
                let mime = req_str(d, "mimeType", API)?;
                if !mime.starts_with("image/") {
                    return Err(unsupported(format!("{mime} inline data"), target));
                }
                parts.push(Part::ImageBase64 {
                    media_type: mime.to_string(),
                    data: req_str(d, "data", API)?.to_string(),
                });
            } else if let Some(d) = pm.get("fileData").and_then(Value::as_object) {
                if !str_of(d, "mimeType").is_some_and(|t| t.starts_with("image/")) {
                    return Err(unsupported("non-image file data", target));
                }
                parts.push(Part::ImageUrl(req_str(d, "fileUri", API)?.to_string()));
            } else if let Some(f) = pm.get("functionCall").and_then(Value::as_object) {
                let id = str_of(f, "id").map(str::to_string).unwrap_or_else(|| format!("call_{calls}"));
                calls += 1;
                parts.push(Part::ToolCall {
                    id,
                    name: req_str(f, "name", API)?.to_string(),
                    arguments: f.get("args").map(Value::to_string).unwrap_or_else(|| "{}".into()),
                });
            } else if let Some(f) = pm.get("functionResponse").and_then(Value::as_object) {
                let name = req_str(f, "name", API)?.to_string();
                let id = match str_of(f, "id") {
                    Some(id) => id.to_string(),
                    None => unanswered_call(&req.messages, &parts, &name)
                        .ok_or_else(|| malformed(API, format!("functionResponse {name} answers no call")))?,
                };
                let response = f.get("response").cloned().unwrap_or(Value::Null);
                let content = match response.get("result").or(response.get("output")) {
                    Some(Value::String(s)) if response.as_object().is_some_and(|o| o.len() == 1) => s.clone(),
                    _ => response.to_string(),
                };
                parts.push(Part::ToolResult {
                    id,
                    name: Some(name),
                    content,
                    is_error: response.get("error").is_some(),
                });
            } else {
                let kind = pm.keys().next().map(String::as_str).unwrap_or("empty");
                return Err(unsupported(format!("{kind} parts"), target));
            }
        }
        req.messages.push(Message { role, parts });
    }
    for tool in arr(m.get("tools").unwrap_or(&json!([])), API, "tools")? {
        let t = obj(tool, API, "tool")?;
        for (k, decls) in t {
            if k != "functionDeclarations" {
                return Err(unsupported(format!("{k} tools"), target));
            }
            for d in arr(decls, API, "functionDeclarations")? {
                let dm = obj(d, API, "function declaration")?;
                req.tools.push(Tool {
                    name: req_str(dm, "name", API)?.to_string(),
                    description: str_of(dm, "description").map(str::to_string),
                    parameters: dm
                        .get("parametersJsonSchema")
                        .or(dm.get("parameters"))
                        .cloned()
                        .unwrap_or_else(|| json!({"type": "object"})),
                });
            }
        }
    }
    if let Some(fc) =
        m.get("toolConfig").and_then(|t| t.get("functionCallingConfig")).and_then(Value::as_object)
    {
        let allowed: Vec<&str> = fc
            .get("allowedFunctionNames")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        req.tool_choice = match str_of(fc, "mode") {
            None | Some("AUTO") | Some("MODE_UNSPECIFIED") => Some(ToolChoice::Auto),
            Some("NONE") => Some(ToolChoice::None),
            Some("ANY") if allowed.len() == 1 => Some(ToolChoice::Named(allowed[0].to_string())),
            Some("ANY") if allowed.is_empty() => Some(ToolChoice::Required),
            Some("ANY") => return Err(unsupported("allowedFunctionNames with several names", target)),
            Some(other) => return Err(unsupported(format!("function calling mode {other}"), target)),
        };
    }
    if let Some(g) = m.get("generationConfig").filter(|g| !g.is_null()) {
        let g = obj(g, API, "generationConfig")?;
        check_fields(g, GEN_KNOWN, &[], target)?;
        if g.get("candidateCount").and_then(Value::as_u64).is_some_and(|n| n != 1) {
            return Err(unsupported("candidateCount (several candidates)", target));
        }
        req.temperature = f64_of(g, "temperature");
        req.top_p = f64_of(g, "topP");
        req.max_tokens = g.get("maxOutputTokens").and_then(Value::as_u64);
        req.stop = stop_list(g.get("stopSequences"), API)?;
        let schema = g.get("responseJsonSchema").or(g.get("responseSchema")).filter(|s| !s.is_null());
        req.response_format = match (str_of(g, "responseMimeType"), schema) {
            (Some("application/json"), Some(schema)) => Some(ResponseFormat::JsonSchema {
                name: "response".into(),
                schema: schema.clone(),
                strict: None,
                description: None,
            }),
            (Some("application/json"), None) => Some(ResponseFormat::JsonObject),
            (None, None) | (Some("text/plain"), None) => None,
            (Some(other), _) if other != "application/json" => {
                return Err(unsupported(format!("responseMimeType {other}"), target))
            }
            _ => return Err(unsupported("responseSchema without responseMimeType application/json", target)),
        };
    }
    Ok(req)
}

/// The id of the latest call named `name` that no result answers yet.
fn unanswered_call(messages: &[Message], current: &[Part], name: &str) -> Option<String> {
    let all: Vec<&Part> = messages.iter().flat_map(|m| m.parts.iter()).chain(current.iter()).collect();
    all.iter().rev().find_map(|p| match p {
        Part::ToolCall { id, name: n, .. }
            if n == name && !all.iter().any(|q| matches!(q, Part::ToolResult { id: r, .. } if r == id)) =>
        {
            Some(id.clone())
        }
        _ => None,
    })
}

pub fn write_request(req: &Request, model: &str) -> Result<Value> {
    let mut turns: Vec<(Role, Vec<Value>)> = Vec::with_capacity(req.messages.len());
    for msg in &req.messages {
        let mut parts = Vec::with_capacity(msg.parts.len());
        for part in &msg.parts {
            parts.push(match part {
                Part::Text(t) => json!({"text": t}),
                Part::ImageBase64 { media_type, data } => {
                    json!({"inlineData": {"mimeType": media_type, "data": data}})
                }
                Part::ImageUrl(url) => match media_type_from_url(url) {
                    Some(mime) => json!({"fileData": {"mimeType": mime, "fileUri": url}}),
                    None => return Err(unsupported("image_url without an image file extension", API)),
                },
                Part::ToolCall { id, name, arguments } => {
                    let mut call = json!({"id": id, "name": name});
                    call["args"] = args_object(arguments, API)?;
                    object([("functionCall", call)])
                }
                Part::ToolResult { id, name, content, .. } => {
                    let name = name
                        .clone()
                        .ok_or_else(|| malformed(API, format!("tool result {id} answers no known call")))?;
                    let mut response = json!({"id": id, "name": name});
                    response["response"] = result_object(content);
                    object([("functionResponse", response)])
                }
            });
        }
        push_merged(&mut turns, msg.role, parts);
    }
    let contents: Vec<Value> = turns
        .into_iter()
        .map(|(role, parts)| {
            let role = if role == Role::User { "user" } else { "model" };
            object([("role", role.into()), ("parts", Value::Array(parts))])
        })
        .collect();
    let mut out = Map::new();
    out.insert("model".into(), model.into());
    out.insert("contents".into(), contents.into());
    if !req.system.is_empty() {
        let parts: Vec<Value> = req.system.iter().map(|s| object([("text", s.as_str().into())])).collect();
        out.insert("systemInstruction".into(), object([("parts", Value::Array(parts))]));
    }
    if !req.tools.is_empty() {
        let decls: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                let mut d = object([
                    ("name", t.name.as_str().into()),
                    ("parametersJsonSchema", t.parameters.clone()),
                ]);
                if let Some(desc) = &t.description {
                    d["description"] = desc.as_str().into();
                }
                d
            })
            .collect();
        out.insert(
            "tools".into(),
            Value::Array(vec![object([("functionDeclarations", Value::Array(decls))])]),
        );
    }
    if let Some(choice) = &req.tool_choice {
        let fc = match choice {
            ToolChoice::Auto => json!({"mode": "AUTO"}),
            ToolChoice::None => json!({"mode": "NONE"}),
            ToolChoice::Required => json!({"mode": "ANY"}),
            ToolChoice::Named(name) => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
        };
        out.insert("toolConfig".into(), json!({"functionCallingConfig": fc}));
    }
    let mut g = Map::new();
    if let Some(t) = req.temperature {
        g.insert("temperature".into(), t.into());
    }
    if let Some(p) = req.top_p {
        g.insert("topP".into(), p.into());
    }
    if let Some(n) = req.max_tokens {
        g.insert("maxOutputTokens".into(), n.into());
    }
    if !req.stop.is_empty() {
        g.insert("stopSequences".into(), json!(req.stop));
    }
    match &req.response_format {
        None => {}
        Some(ResponseFormat::JsonObject) => {
            g.insert("responseMimeType".into(), "application/json".into());
        }
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            g.insert("responseMimeType".into(), "application/json".into());
            g.insert("responseJsonSchema".into(), schema.clone());
        }
    }
    if !g.is_empty() {
        out.insert("generationConfig".into(), g.into());
    }
    Ok(Value::Object(out))
}

pub fn finish_from(s: &str) -> Finish {
    match s {
        "STOP" => Finish::Stop,
        "MAX_TOKENS" => Finish::Length,
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            Finish::ContentFilter
        }
        _ => Finish::Other,
    }
}

pub fn finish_to(f: Finish) -> &'static str {
    match f {
        Finish::Stop | Finish::StopSequence | Finish::ToolCalls => "STOP",
        Finish::Length => "MAX_TOKENS",
        Finish::ContentFilter => "SAFETY",
        Finish::Other => "OTHER",
    }
}

pub fn usage_from(u: &Map<String, Value>) -> Usage {
    let reasoning = u64_of(u, "thoughtsTokenCount");
    Usage {
        input: u64_of(u, "promptTokenCount") + u64_of(u, "toolUsePromptTokenCount"),
        output: u64_of(u, "candidatesTokenCount") + reasoning,
        cache_read: u64_of(u, "cachedContentTokenCount"),
        cache_write: 0,
        reasoning,
    }
}

pub fn usage_to(u: &Usage) -> Value {
    let mut v = json!({
        "promptTokenCount": u.input,
        "candidatesTokenCount": u.output.saturating_sub(u.reasoning),
        "totalTokenCount": u.input + u.output,
    });
    if u.cache_read > 0 {
        v["cachedContentTokenCount"] = u.cache_read.into();
    }
    if u.reasoning > 0 {
        v["thoughtsTokenCount"] = u.reasoning.into();
    }
    v
}

/// The parts of one candidate's content: text (thoughts left out) and function calls.
pub fn read_parts(
    candidate: &Value,
    call_prefix: &str,
    first_call: usize,
    out: &mut Vec<Part>,
) -> Result<()> {
    let Some(parts) = candidate.get("content").and_then(|c| c.get("parts")).and_then(Value::as_array) else {
        return Ok(());
    };
    let mut n = first_call;
    for p in parts {
        let pm = obj(p, API, "part")?;
        if let Some(f) = pm.get("functionCall").and_then(Value::as_object) {
            let id = str_of(f, "id").map(str::to_string).unwrap_or_else(|| format!("{call_prefix}{n}"));
            n += 1;
            out.push(Part::ToolCall {
                id,
                name: req_str(f, "name", API)?.to_string(),
                arguments: f.get("args").map(Value::to_string).unwrap_or_else(|| "{}".into()),
            });
        } else if let Some(t) = str_of(pm, "text") {
            if pm.get("thought").and_then(Value::as_bool) != Some(true) {
                out.push(Part::Text(t.to_string()));
            }
        }
    }
    Ok(())
}

/// Prefix for ids of function calls without one: unique per response when it has an id.
pub fn call_prefix(response_id: Option<&str>) -> String {
    match response_id {
        Some(id) => format!("call_{id}_"),
        None => format!("{}_", new_id("call_")),
    }
}

pub fn read_response(v: &Value) -> Result<Response> {
    let m = obj(v, API, "response")?;
    let id = str_of(m, "responseId");
    let candidate = m.get("candidates").and_then(|c| c.get(0)).unwrap_or(&Value::Null);
    let mut parts = Vec::new();
    read_parts(candidate, &call_prefix(id), 0, &mut parts)?;
    let mut finish = candidate.get("finishReason").and_then(Value::as_str).map(finish_from);
    if finish == Some(Finish::Stop) && parts.iter().any(|p| matches!(p, Part::ToolCall { .. })) {
        finish = Some(Finish::ToolCalls);
    }
    if candidate.is_null() {
        // A prompt blocked before any candidate.
        finish = Some(Finish::ContentFilter);
    }
    Ok(Response {
        id: id.map(str::to_string),
        model: str_of(m, "modelVersion").map(str::to_string),
        created: None,
        parts,
        finish,
        stop_sequence: None,
        usage: m.get("usageMetadata").and_then(Value::as_object).map(usage_from).unwrap_or_default(),
    })
}

pub fn parts_json(parts: &[Part]) -> Vec<Value> {
    parts
        .iter()
        .filter_map(|p| match p {
            Part::Text(t) => Some(json!({"text": t})),
            Part::ToolCall { id, name, arguments } => {
                let mut call = json!({"id": id, "name": name});
                call["args"] = serde_json::from_str::<Value>(arguments).unwrap_or_else(|_| json!({}));
                Some(object([("functionCall", call)]))
            }
            _ => None,
        })
        .collect()
}

pub fn write_response(r: &Response, ctx: &ResponseContext) -> Value {
    let content = object([("role", "model".into()), ("parts", Value::Array(parts_json(&r.parts)))]);
    let candidate = object([
        ("content", content),
        ("finishReason", finish_to(r.finish.unwrap_or(Finish::Stop)).into()),
        ("index", 0.into()),
    ]);
    object([
        ("candidates", Value::Array(vec![candidate])),
        ("usageMetadata", usage_to(&r.usage)),
        ("modelVersion", r.model.clone().or_else(|| ctx.model.clone()).unwrap_or_default().into()),
        ("responseId", ctx.id.clone().or_else(|| r.id.clone()).unwrap_or_else(|| new_id("")).into()),
    ])
}
