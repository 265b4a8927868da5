//! Request, response and stream translation between the five chat APIs, for fallback
//! chains (issue 10): a source drop-in's request goes to a target provider, and the
//! target's answer comes back in the source's shape.
//!
//! Data in, data out: every function takes and returns `serde_json::Value` in the wire
//! shape of an API (Bedrock: the Converse body, as boto3's kwargs, with image bytes as
//! base64 text). Each API has a reader into `canonical` and a writer out of it, so
//! 5 readers × 5 writers give the 20 directional pairs. A feature the target cannot
//! express is `Error::FallbackUnsupported { feature, target }`, never dropped.

pub mod canonical;
mod eventstream;
mod json;
mod sse;
mod stream;
mod stream_write;

mod anthropic;
mod bedrock;
mod gemini;
mod openai;

use serde_json::Value;

pub use canonical::{Request, Response, ResponseContext, StreamEvent};
pub use sse::SseTranslator;
pub use stream::StreamTranslator;

use crate::{Error, Result};

/// One of the five chat APIs translation speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    /// OpenAI chat completions.
    OpenAi,
    /// Anthropic messages.
    Anthropic,
    /// Gemini generate_content (REST body, camelCase).
    Gemini,
    /// Mistral chat.
    Mistral,
    /// Bedrock Converse.
    Bedrock,
}

impl Api {
    pub const ALL: [Api; 5] = [Api::OpenAi, Api::Anthropic, Api::Gemini, Api::Mistral, Api::Bedrock];

    /// The provider name events use (`google` for Gemini); `gemini` is accepted too.
    pub fn parse(name: &str) -> Result<Api> {
        match name {
            "openai" => Ok(Api::OpenAi),
            "anthropic" => Ok(Api::Anthropic),
            "google" | "gemini" => Ok(Api::Gemini),
            "mistral" => Ok(Api::Mistral),
            "bedrock" => Ok(Api::Bedrock),
            other => Err(Error::Config(format!(
                "fallback provider {other:?}: expected openai, anthropic, google, mistral or bedrock"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Api::OpenAi => "openai",
            Api::Anthropic => "anthropic",
            Api::Gemini => "google",
            Api::Mistral => "mistral",
            Api::Bedrock => "bedrock",
        }
    }
}

/// The error for a feature `target` cannot express.
pub(crate) fn unsupported(feature: impl Into<String>, target: Api) -> Error {
    Error::FallbackUnsupported { feature: feature.into(), target: target.name().to_string() }
}

/// The error for an input of an unexpected shape.
pub(crate) fn malformed(api: Api, message: impl Into<String>) -> Error {
    Error::Translate { api: api.name().to_string(), message: message.into() }
}

/// Read a request in `source`'s shape; `target` names the API in errors for what it
/// cannot carry (a reader refuses fields canonical has no place for).
pub fn read_request(source: Api, request: &Value, target: Api) -> Result<Request> {
    match source {
        Api::OpenAi => openai::read_request(request, openai::Flavor::OpenAi, target),
        Api::Mistral => openai::read_request(request, openai::Flavor::Mistral, target),
        Api::Anthropic => anthropic::read_request(request, target),
        Api::Gemini => gemini::read_request(request, target),
        Api::Bedrock => bedrock::read_request(request, target),
    }
}

/// Write a canonical request in `target`'s shape, for `model`. Gemini's body carries
/// `model` and Bedrock's `modelId` (the SDKs take them beside the body).
pub fn write_request(target: Api, request: &Request, model: &str) -> Result<Value> {
    match target {
        Api::OpenAi => openai::write_request(request, model, openai::Flavor::OpenAi),
        Api::Mistral => openai::write_request(request, model, openai::Flavor::Mistral),
        Api::Anthropic => anthropic::write_request(request, model),
        Api::Gemini => gemini::write_request(request, model),
        Api::Bedrock => bedrock::write_request(request, model),
    }
}

pub fn read_response(api: Api, response: &Value) -> Result<Response> {
    match api {
        Api::OpenAi | Api::Mistral => openai::read_response(response, api),
        Api::Anthropic => anthropic::read_response(response),
        Api::Gemini => gemini::read_response(response),
        Api::Bedrock => bedrock::read_response(response),
    }
}

pub fn write_response(api: Api, response: &Response, ctx: &ResponseContext) -> Value {
    match api {
        Api::OpenAi => openai::write_response(response, ctx, openai::Flavor::OpenAi),
        Api::Mistral => openai::write_response(response, ctx, openai::Flavor::Mistral),
        Api::Anthropic => anthropic::write_response(response, ctx),
        Api::Gemini => gemini::write_response(response, ctx),
        Api::Bedrock => bedrock::write_response(response),
    }
}

/// `source`'s request → `target`'s request for `model`.
pub fn translate_request(source: Api, target: Api, request: &Value, model: &str) -> Result<Value> {
    if source == target {
        // Another client of the same API (another account, region or proxy): the body as
        // it is, nothing lost to translation, for the target's model.
        let mut out = request.clone();
        let key = if target == Api::Bedrock { "modelId" } else { "model" };
        match out.as_object_mut() {
            Some(m) => m.insert(key.to_string(), model.into()),
            None => return Err(malformed(source, "request is not an object")),
        };
        return Ok(out);
    }
    let canonical = read_request(source, request, target)?;
    write_request(target, &canonical, model)
}

/// `target`'s response → `source`'s response. `ctx` fills what the target's response
/// lacks (Bedrock has no id or model; a missing id is generated).
pub fn translate_response(
    source: Api,
    target: Api,
    response: &Value,
    ctx: &ResponseContext,
) -> Result<Value> {
    if source == target {
        return Ok(response.clone());
    }
    let canonical = read_response(target, response)?;
    Ok(write_response(source, &canonical, ctx))
}

/// A target's answer read from its raw body (`translate_response_body`): the source's
/// response, and what metering reads of the target's, so that the body is parsed once.
#[derive(Debug, Clone, PartialEq)]
pub struct TranslatedBody {
    pub answer: Value,
    /// The target's usage object as it sent it (`usage`, Gemini `usageMetadata`).
    pub usage: Option<Value>,
    /// The model the target answered with (`model`, Gemini `modelVersion`).
    pub resolved_model: Option<String>,
}

/// `translate_response` of a target's raw JSON body: a language layer that can read the
/// body's bytes hands them here instead of letting the target's SDK build its objects
/// only for them to be turned back into JSON.
pub fn translate_response_body(
    source: Api,
    target: Api,
    body: &[u8],
    ctx: &ResponseContext,
) -> Result<TranslatedBody> {
    let response: Value = serde_json::from_slice(body)
        .map_err(|e| malformed(target, format!("a response body that is not JSON: {e}")))?;
    let usage_key = if target == Api::Gemini { "usageMetadata" } else { "usage" };
    let usage = response.get(usage_key).filter(|u| u.is_object()).cloned();
    let resolved_model = ["model", "modelVersion"]
        .iter()
        .find_map(|k| response.get(*k).and_then(Value::as_str).filter(|m| !m.is_empty()))
        .map(str::to_string);
    let answer = if source == target {
        response
    } else {
        write_response(source, &read_response(target, &response)?, ctx)
    };
    Ok(TranslatedBody { answer, usage, resolved_model })
}

impl ResponseContext {
    /// From a JSON object `{"id", "model", "created", "include_usage"}` (all optional),
    /// as the bindings pass it.
    pub fn from_value(value: &Value) -> Result<ResponseContext> {
        if value.is_null() {
            return Ok(ResponseContext::default());
        }
        let bad = |what: &str| Error::Config(format!("translate context: {what}"));
        let obj = value.as_object().ok_or_else(|| bad("not an object"))?;
        let text = |k: &str| -> Result<Option<String>> {
            match obj.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(bad(&format!("{k} is not a string"))),
            }
        };
        Ok(ResponseContext {
            id: text("id")?,
            model: text("model")?,
            created: match obj.get("created") {
                None | Some(Value::Null) => None,
                Some(v) => Some(v.as_i64().ok_or_else(|| bad("created is not an integer"))?),
            },
            include_usage: obj.get("include_usage").and_then(Value::as_bool).unwrap_or(false),
        })
    }
}

/// A fresh id with `prefix`, for responses whose target gave none.
pub(crate) fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::now_v7().simple())
}

/// One entry point for the bindings and the shared vectors (tests/vectors/translate):
/// `kind` is `request` (options `{"model"}`), `response`, `stream` (options: a
/// `ResponseContext`; a stream's input is the list of target events and its output
/// the source chunks, the stream's end included) or `sse` (a stream whose input is the
/// target's raw event-stream body as text, as `SseTranslator` reads it).
pub fn translate(kind: &str, source: &str, target: &str, input: &Value, options: &Value) -> Result<Value> {
    let (source, target) = (Api::parse(source)?, Api::parse(target)?);
    match kind {
        "request" => {
            let model = options
                .get("model")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::Config("translate request: options.model missing".into()))?;
            translate_request(source, target, input, model)
        }
        "response" => translate_response(source, target, input, &ResponseContext::from_value(options)?),
        "stream" => {
            let events = input
                .as_array()
                .ok_or_else(|| Error::Config("translate stream: input is not a list".into()))?;
            let mut t = StreamTranslator::new(source, target, ResponseContext::from_value(options)?);
            let mut out = Vec::new();
            for e in events {
                out.extend(t.push(e)?);
            }
            out.extend(t.finish());
            Ok(Value::Array(out))
        }
        "sse" => {
            // The target's raw event-stream body, as `SseTranslator` reads it from the wire.
            let body =
                input.as_str().ok_or_else(|| Error::Config("translate sse: input is not a string".into()))?;
            let mut t = SseTranslator::new(source, target, ResponseContext::from_value(options)?);
            let mut out = t.feed(body.as_bytes())?;
            out.extend(t.finish()?);
            if let Some(event) = t.error_event() {
                return Err(malformed(target, format!("the stream carried an error event: {event}")));
            }
            Ok(Value::Array(out))
        }
        other => {
            Err(Error::Config(format!("translate: kind {other:?} is not request, response, stream or sse")))
        }
    }
}

#[cfg(test)]
mod tests;
