//! Small accessors shared by the readers and writers.

use serde_json::{Map, Value};

use super::canonical::{Message, Part, Role};
use super::{malformed, unsupported, Api};
use crate::Result;

pub fn obj<'a>(v: &'a Value, api: Api, what: &str) -> Result<&'a Map<String, Value>> {
    v.as_object().ok_or_else(|| malformed(api, format!("{what} is not an object")))
}

pub fn arr<'a>(v: &'a Value, api: Api, what: &str) -> Result<&'a [Value]> {
    v.as_array().map(Vec::as_slice).ok_or_else(|| malformed(api, format!("{what} is not a list")))
}

pub fn str_of<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    m.get(key).and_then(Value::as_str)
}

pub fn req_str<'a>(m: &'a Map<String, Value>, key: &str, api: Api) -> Result<&'a str> {
    str_of(m, key).ok_or_else(|| malformed(api, format!("{key} missing or not a string")))
}

pub fn u64_of(m: &Map<String, Value>, key: &str) -> u64 {
    m.get(key).and_then(Value::as_u64).unwrap_or(0)
}

pub fn f64_of(m: &Map<String, Value>, key: &str) -> Option<f64> {
    m.get(key).and_then(Value::as_f64)
}

/// Refuse any non-null field that is neither `known` (the reader handles it) nor
/// `ignored` (no meaning for the answer: user ids, store flags, metadata).
pub fn check_fields(m: &Map<String, Value>, known: &[&str], ignored: &[&str], target: Api) -> Result<()> {
    for (k, v) in m {
        if v.is_null() || known.contains(&k.as_str()) || ignored.contains(&k.as_str()) {
            continue;
        }
        return Err(unsupported(k.as_str(), target));
    }
    Ok(())
}

/// `stop` as a string or a list of strings.
pub fn stop_list(v: Option<&Value>, api: Api) -> Result<Vec<String>> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str().map(str::to_string).ok_or_else(|| malformed(api, "stop item is not a string"))
            })
            .collect(),
        Some(_) => Err(malformed(api, "stop is neither a string nor a list")),
    }
}

/// Split a `data:` URL into (media type, base64 data).
pub fn parse_data_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("data:")?;
    let (head, data) = rest.split_once(',')?;
    let media_type = head.strip_suffix(";base64")?;
    Some((media_type.to_string(), data.to_string()))
}

/// An image part from a URL, inline when it is a base64 `data:` URL.
pub fn image_from_url(url: &str) -> Part {
    match parse_data_url(url) {
        Some((media_type, data)) => Part::ImageBase64 { media_type, data },
        None => Part::ImageUrl(url.to_string()),
    }
}

/// The name of the tool call `id` among earlier messages (OpenAI, Anthropic and Bedrock
/// tool results carry only the id; Gemini needs the name).
pub fn tool_name_for(messages: &[Message], id: &str) -> Option<String> {
    messages.iter().rev().flat_map(|m| m.parts.iter()).find_map(|p| match p {
        Part::ToolCall { id: call, name, .. } if call == id => Some(name.clone()),
        _ => None,
    })
}

/// Append parts to the last message when it has the same role (APIs that demand
/// alternating roles), else start a new message.
pub fn push_merged(out: &mut Vec<(Role, Vec<Value>)>, role: Role, blocks: Vec<Value>) {
    if blocks.is_empty() {
        return;
    }
    match out.last_mut() {
        Some((last, items)) if *last == role => items.extend(blocks),
        _ => out.push((role, blocks)),
    }
}

/// A tool call's arguments text as a JSON object (APIs that carry objects, not text).
pub fn args_object(arguments: &str, target: Api) -> Result<Value> {
    if arguments.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    let v: Value = serde_json::from_str(arguments)
        .map_err(|e| malformed(target, format!("tool call arguments are not JSON: {e}")))?;
    if v.is_object() {
        Ok(v)
    } else {
        Err(unsupported("tool call arguments that are not a JSON object", target))
    }
}

/// A tool result's text as the object Gemini wants: the JSON object itself when the text
/// is one, else `{"result": text}`.
pub fn result_object(content: &str) -> Value {
    match serde_json::from_str::<Value>(content) {
        Ok(v @ Value::Object(_)) => v,
        _ => serde_json::json!({ "result": content }),
    }
}

/// Text of content given as a string or as a list of `{"type": "text", "text"}` parts.
pub fn text_content(v: &Value, api: Api, target: Api) -> Result<String> {
    match v {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        Value::Array(items) => {
            let mut out = String::new();
            for item in items {
                let m = obj(item, api, "content part")?;
                match str_of(m, "type") {
                    Some("text") => out.push_str(req_str(m, "text", api)?),
                    Some(other) => return Err(unsupported(format!("{other} content here"), target)),
                    None => return Err(malformed(api, "content part without type")),
                }
            }
            Ok(out)
        }
        _ => Err(malformed(api, "content is neither text nor a list")),
    }
}

/// The image media type for a URL's file extension (Gemini needs one beside the URI).
pub fn media_type_from_url(url: &str) -> Option<&'static str> {
    let path = url.split(['?', '#']).next().unwrap_or(url).to_ascii_lowercase();
    let ext = path.rsplit('.').next()?;
    Some(match ext {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        _ => return None,
    })
}

/// An object from owned values, moved in. `json!` would serialise each embedded `Value`
/// again (it takes expressions by reference), which doubles the work at every level of
/// nesting: the writers build with this where they embed values they made.
pub fn object<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    let mut m = Map::new();
    for (k, v) in pairs {
        m.insert(k.to_string(), v);
    }
    Value::Object(m)
}
