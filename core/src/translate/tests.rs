//! Behaviours of translation stated one by one; tests/vectors/translate holds the full pairs.

use serde_json::{json, Value};

use super::*;

fn req(source: Api, target: Api, v: Value, model: &str) -> Value {
    translate_request(source, target, &v, model).expect("translates")
}

fn stream(source: Api, target: Api, events: &[Value], ctx: ResponseContext) -> Vec<Value> {
    let mut t = StreamTranslator::new(source, target, ctx);
    let mut out = Vec::new();
    for e in events {
        out.extend(t.push(e).expect("event translates"));
    }
    out.extend(t.finish());
    out
}

#[test]
fn openai_system_and_tool_messages_become_anthropic_system_and_tool_result_blocks() {
    let out = req(
        Api::OpenAi,
        Api::Anthropic,
        json!({"model": "gpt-4o", "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "w", "arguments": "{\"c\":\"P\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
        ]}),
        "claude-haiku-4-5",
    );
    assert_eq!(out["system"], "Be brief.");
    assert_eq!(out["max_tokens"], anthropic::DEFAULT_MAX_TOKENS);
    assert_eq!(
        out["messages"][1]["content"][0],
        json!({"type": "tool_use", "id": "call_1", "name": "w", "input": {"c": "P"}})
    );
    assert_eq!(
        out["messages"][2],
        json!({"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"}]})
    );
}

#[test]
fn unknown_request_fields_are_refused_by_name_never_dropped() {
    let err = translate_request(
        Api::OpenAi,
        Api::Gemini,
        &json!({"model": "gpt-4o", "messages": [], "presence_penalty": 1.0}),
        "gemini-2.5-flash",
    )
    .unwrap_err();
    assert_eq!(err.code(), "fallback_unsupported");
    assert_eq!(err.to_string(), "fallback to google cannot express presence_penalty");
}

#[test]
fn mistral_gets_nine_character_tool_ids_the_same_for_call_and_result() {
    let out = req(
        Api::OpenAi,
        Api::Mistral,
        json!({"model": "gpt-4o", "messages": [
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "tool_calls": [
                {"id": "call_abcdefghijkl", "type": "function", "function": {"name": "w", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_abcdefghijkl", "content": "18C"},
        ]}),
        "mistral-small-latest",
    );
    let call_id = out["messages"][1]["tool_calls"][0]["id"].as_str().unwrap();
    assert_eq!(call_id.len(), 9);
    assert!(call_id.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(out["messages"][2]["tool_call_id"], call_id);
    assert_eq!(out["messages"][2]["name"], "w");
}

#[test]
fn gemini_function_response_without_id_answers_the_call_of_its_name() {
    let out = req(
        Api::Gemini,
        Api::OpenAi,
        json!({"contents": [
            {"role": "user", "parts": [{"text": "Weather?"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "w", "args": {"c": "P"}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "w", "response": {"result": "18C"}}}]},
        ]}),
        "gpt-4o",
    );
    let id = out["messages"][1]["tool_calls"][0]["id"].clone();
    assert_eq!(out["messages"][2], json!({"role": "tool", "tool_call_id": id, "content": "18C"}));
}

#[test]
fn anthropic_usage_comes_back_to_openai_with_cached_tokens_inside_the_prompt() {
    let out = translate_response(
        Api::OpenAi,
        Api::Anthropic,
        &json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-haiku-4-5-20251001",
                "content": [{"type": "text", "text": "Hi"}], "stop_reason": "end_turn", "stop_sequence": null,
                "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 100,
                          "cache_creation_input_tokens": 20}}),
        &ResponseContext { created: Some(1), ..Default::default() },
    )
    .unwrap();
    assert_eq!(out["usage"]["prompt_tokens"], 130);
    assert_eq!(out["usage"]["prompt_tokens_details"]["cached_tokens"], 100);
    assert_eq!(out["usage"]["total_tokens"], 135);
    assert_eq!(out["choices"][0]["finish_reason"], "stop");
    assert_eq!(out["model"], "claude-haiku-4-5-20251001");
}

#[test]
fn openai_usage_goes_to_anthropic_with_input_excluding_cache_reads() {
    let out = translate_response(
        Api::Anthropic,
        Api::OpenAi,
        &json!({"id": "c", "object": "chat.completion", "created": 1, "model": "gpt-4o",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "length"}],
                "usage": {"prompt_tokens": 120, "completion_tokens": 3, "total_tokens": 123,
                          "prompt_tokens_details": {"cached_tokens": 100}}}),
        &ResponseContext::default(),
    )
    .unwrap();
    assert_eq!(out["usage"]["input_tokens"], 20);
    assert_eq!(out["usage"]["cache_read_input_tokens"], 100);
    assert_eq!(out["stop_reason"], "max_tokens");
}

#[test]
fn gemini_stop_with_a_function_call_is_a_tool_calls_finish() {
    let out = translate_response(
        Api::OpenAi,
        Api::Gemini,
        &json!({"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": "w", "args": {}}}]},
                "finishReason": "STOP"}], "responseId": "r1"}),
        &ResponseContext::default(),
    )
    .unwrap();
    assert_eq!(out["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(out["choices"][0]["message"]["tool_calls"][0]["id"], "call_r1_0");
    assert_eq!(out["choices"][0]["message"]["content"], Value::Null);
}

#[test]
fn bedrock_response_without_id_takes_the_context_id_and_model() {
    let out = translate_response(
        Api::OpenAi,
        Api::Bedrock,
        &json!({"output": {"message": {"role": "assistant", "content": [{"text": "Hi"}]}}, "stopReason": "end_turn",
                "usage": {"inputTokens": 3, "outputTokens": 1, "totalTokens": 4}}),
        &ResponseContext { id: Some("x-1".into()), model: Some("m".into()), created: Some(5), include_usage: false },
    )
    .unwrap();
    assert_eq!(
        (out["id"].as_str(), out["model"].as_str(), out["created"].as_i64()),
        (Some("x-1"), Some("m"), Some(5))
    );
}

#[test]
fn anthropic_tool_stream_becomes_openai_tool_call_deltas_then_a_usage_chunk() {
    let chunks = stream(
        Api::OpenAi,
        Api::Anthropic,
        &[
            json!({"type": "message_start", "message": {"id": "msg_1", "model": "claude", "usage": {"input_tokens": 7, "output_tokens": 1}}}),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "w", "input": {}}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{\"c\":"}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "1}"}}),
            json!({"type": "content_block_stop", "index": 0}),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 4}}),
            json!({"type": "message_stop"}),
        ],
        ResponseContext { created: Some(1), include_usage: true, ..Default::default() },
    );
    let deltas: Vec<&Value> =
        chunks.iter().filter_map(|c| c["choices"].get(0)).map(|c| &c["delta"]).collect();
    assert_eq!(deltas[1]["tool_calls"][0]["id"], "toolu_1");
    assert_eq!(deltas[1]["tool_calls"][0]["function"]["name"], "w");
    assert_eq!(deltas[2]["tool_calls"][0]["function"]["arguments"], "{\"c\":");
    assert_eq!(deltas[3]["tool_calls"][0]["function"]["arguments"], "1}");
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(
        last["usage"],
        json!({"prompt_tokens": 7, "completion_tokens": 4, "total_tokens": 11,
        "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}})
    );
    assert!(chunks.iter().all(|c| c["id"] == "msg_1" && c["object"] == "chat.completion.chunk"));
}

#[test]
fn openai_text_stream_becomes_the_anthropic_event_sequence() {
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let events = stream(
        Api::Anthropic,
        Api::OpenAi,
        &[
            chunk(json!({"role": "assistant", "content": ""}), Value::Null),
            chunk(json!({"content": "Hi"}), Value::Null),
            chunk(json!({}), json!("stop")),
            json!({"id": "c1", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}}),
        ],
        ResponseContext::default(),
    );
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(events[2]["delta"], json!({"type": "text_delta", "text": "Hi"}));
    assert_eq!(events[4]["delta"]["stop_reason"], "end_turn");
    assert_eq!(events[4]["usage"]["input_tokens"], 5);
    assert_eq!(events[4]["usage"]["output_tokens"], 1);
}

#[test]
fn a_stream_error_event_is_an_error_not_a_chunk() {
    let mut t = StreamTranslator::new(Api::OpenAi, Api::Anthropic, ResponseContext::default());
    let err = t
        .push(&json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))
        .unwrap_err();
    assert_eq!(err.code(), "translate");
    assert!(err.to_string().contains("Overloaded"));
}

#[test]
fn the_same_api_on_both_sides_passes_through_with_the_target_model() {
    let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}], "logprobs": true});
    let out = req(Api::OpenAi, Api::OpenAi, body, "gpt-4o-mini");
    assert_eq!(out["model"], "gpt-4o-mini");
    assert_eq!(out["logprobs"], true);
}

#[test]
fn mistral_callers_get_tool_call_ids_mistral_accepts_back() {
    let out = translate_response(
        Api::Mistral,
        Api::Gemini,
        &json!({"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": "w", "args": {}}}]},
                "finishReason": "STOP"}], "responseId": "r-1"}),
        &ResponseContext::default(),
    )
    .unwrap();
    let id = out["choices"][0]["message"]["tool_calls"][0]["id"].as_str().unwrap();
    assert!(id.len() == 9 && id.bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
}

#[test]
fn a_raw_response_body_translates_as_its_parsed_json_and_gives_what_metering_reads() {
    let body = json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-haiku-4-5-20251001",
        "content": [{"type": "text", "text": "Hi"}], "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 10, "output_tokens": 5}});
    let ctx = ResponseContext::from_value(&json!({"model": "claude-haiku-4-5"})).unwrap();
    let bytes = serde_json::to_vec(&body).unwrap();
    let got = translate_response_body(Api::OpenAi, Api::Anthropic, &bytes, &ctx).unwrap();
    let mut expected = translate_response(Api::OpenAi, Api::Anthropic, &body, &ctx).unwrap();
    // The ids and timestamps a writer makes up differ between two calls; the rest is equal.
    expected["created"] = got.answer["created"].clone();
    assert_eq!(got.answer, expected);
    assert_eq!(got.usage, Some(json!({"input_tokens": 10, "output_tokens": 5})));
    assert_eq!(got.resolved_model.as_deref(), Some("claude-haiku-4-5-20251001"));

    // Gemini: its usage and model under their own keys.
    let gemini = json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Hi"}]},
        "finishReason": "STOP"}], "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1},
        "modelVersion": "gemini-2.5-flash-001"});
    let got = translate_response_body(Api::OpenAi, Api::Gemini, &serde_json::to_vec(&gemini).unwrap(), &ctx)
        .unwrap();
    assert_eq!(got.usage, Some(json!({"promptTokenCount": 3, "candidatesTokenCount": 1})));
    assert_eq!(got.resolved_model.as_deref(), Some("gemini-2.5-flash-001"));

    // The same API: the body as it is.
    let same = translate_response_body(Api::Anthropic, Api::Anthropic, &bytes, &ctx).unwrap();
    assert_eq!(same.answer, body);
}

#[test]
fn a_raw_response_body_that_is_not_json_is_an_error() {
    let err = translate_response_body(Api::OpenAi, Api::Anthropic, b"<html>", &ResponseContext::default());
    assert!(err.is_err());
}
