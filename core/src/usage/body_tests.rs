//! Tests of `usage::body`: the body scanner and the usage-chunk filter.

use serde_json::json;

use super::*;

#[test]
fn only_a_usage_object_counts_as_usage_in_a_body() {
    assert!(has_usage_object(br#"{"model":"m","usage": {"prompt_tokens":1}}"#));
    assert!(has_usage_object(br#"{"usage":null,"x":{"usage" :{}}}"#));
    assert!(!has_usage_object(br#"{"model":"m","usage":null}"#));
    assert!(!has_usage_object(br#"{"text":"the \"usage\" of words"}"#));
}

#[test]
fn an_error_event_inside_a_stream_is_reported_as_the_sdks_api_error() {
    for (provider, body) in [
        ("openai", "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: {\"error\":{\"message\":\"boom\"}}\n\n"),
        ("anthropic", "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"}}\n\n"),
        ("openai", "event: error\ndata: {\"type\":\"error\",\"code\":\"server_error\"}\n\n"),
    ] {
        let mut scanner = BodyScanner::new(provider, true);
        scanner.feed(body.as_bytes());
        assert_eq!(scanner.finish().error_type.as_deref(), Some("APIError"), "{provider}: {body}");
    }
    let mut clean = BodyScanner::new("openai", true);
    clean.feed(b"data: {\"choices\":[],\"usage\":null}\n\n");
    assert_eq!(clean.finish().error_type, None);
}

#[test]
fn a_whole_body_without_usage_yields_its_output_text_for_an_estimate() {
    for (provider, body, text) in [
        ("openai", json!({"choices": [{"message": {"content": "Hello there"}}]}), "Hello there"),
        (
            "openai",
            json!({"output": [{"content": [{"text": "From responses"}]}], "usage": null}),
            "From responses",
        ),
        ("anthropic", json!({"content": [{"type": "text", "text": "From Claude"}]}), "From Claude"),
    ] {
        let mut scanner = BodyScanner::new(provider, false);
        scanner.feed(body.to_string().as_bytes());
        let scanned = scanner.finish();
        assert!(scanned.parts.is_empty());
        assert_eq!(scanned.output_text, text);
    }
}

#[test]
fn gemini_stream_and_body_yield_the_last_usage_metadata_model_and_text() {
    let chunk = |text: &str, usage: &str| {
        format!("data: {{\"candidates\":[{{\"content\":{{\"parts\":[{{\"text\":\"{text}\"}}],\"role\":\"model\"}}}}],{usage}\"modelVersion\":\"gemini-2.5-flash\"}}\r\n\r\n")
    };
    let body = chunk("Hel", "\"usageMetadata\":{\"promptTokenCount\":4,\"totalTokenCount\":4},")
        + &chunk(
            "lo",
            "\"usageMetadata\":{\"promptTokenCount\":4,\"candidatesTokenCount\":2,\"totalTokenCount\":6},",
        );
    for size in [1, 9, 4096] {
        let s = scan("google", true, &body, size);
        assert_eq!(
            s.parts,
            vec![json!({"promptTokenCount": 4, "candidatesTokenCount": 2, "totalTokenCount": 6})]
        );
        assert_eq!(
            (s.resolved_model.as_deref(), s.output_text.as_str()),
            (Some("gemini-2.5-flash"), "Hello")
        );
    }
    let whole = json!({"candidates": [{"content": {"parts": [{"text": "thinking", "thought": true}, {"text": "Hi"}]}}],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1}, "modelVersion": "gemini-2.5-pro"});
    let s = scan("google", false, &whole.to_string(), 4096);
    assert_eq!(
        (s.parts.len(), s.resolved_model.as_deref(), s.output_text.as_str()),
        (1, Some("gemini-2.5-pro"), "Hi")
    );
}

#[test]
fn gemini_openai_compatible_chunks_are_read_as_openai_chunks() {
    let body = "data: {\"object\":\"chat.completion.chunk\",\"model\":\"gemini-2.5-flash\",\"choices\":[{\"delta\":{\"content\":\"ok\"}}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1}}\n\n";
    let s = scan("google", true, body, 4096);
    assert_eq!(s.parts, vec![json!({"prompt_tokens": 5, "completion_tokens": 1})]);
    assert_eq!(s.output_text, "ok");
    let whole = json!({"object": "chat.completion", "model": "gemini-2.5-flash",
        "choices": [{"message": {"content": "hi"}}], "usage": {"prompt_tokens": 2, "completion_tokens": 1}});
    let s = scan("google", false, &whole.to_string(), 4096);
    assert_eq!(s.parts, vec![json!({"prompt_tokens": 2, "completion_tokens": 1})]);
}

#[test]
fn mistral_streams_are_read_as_openai_chat_chunks() {
    let body = "data: {\"model\":\"mistral-small-latest\",\"choices\":[{\"delta\":{\"content\":\"ok\"}}]}\n\n\
                data: {\"model\":\"mistral-small-latest\",\"choices\":[{\"delta\":{\"content\":\"\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1,\"total_tokens\":6}}\n\n\
                data: [DONE]\n\n";
    let s = scan("mistral", true, body, 7);
    assert_eq!(s.parts, vec![json!({"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6})]);
    assert_eq!(s.output_text, "ok");
}

fn scan(provider: &str, sse: bool, body: &str, chunk: usize) -> Scanned {
    let mut scanner = BodyScanner::new(provider, sse);
    for piece in body.as_bytes().chunks(chunk) {
        scanner.feed(piece);
    }
    scanner.finish()
}

#[test]
fn chat_stream_usage_model_and_text_across_chunk_boundaries() {
    let body = "data: {\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"delta\":{\"content\":\"Hi \"}}],\"usage\":null}\n\n\
                data: {\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"delta\":{\"content\":\"there\"}}]}\r\n\r\n\
                data: {\"choices\":[],\"service_tier\":\"flex\",\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2}}\n\n\
                data: [DONE]\n\n";
    for chunk in [1, 7, 4096] {
        let s = scan("openai", true, body, chunk);
        assert_eq!(s.resolved_model.as_deref(), Some("gpt-4o-2024-08-06"));
        assert_eq!(s.output_text, "Hi there");
        assert_eq!(
            s.parts,
            vec![json!({"prompt_tokens": 9, "completion_tokens": 2, "service_tier": "flex"})]
        );
    }
}

#[test]
fn anthropic_stream_keeps_start_and_last_delta() {
    let body = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-x\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n\
                event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"ok\"}}\n\n\
                event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":7}}\n\n";
    let s = scan("anthropic", true, body, 3);
    assert_eq!(s.parts, vec![json!({"input_tokens": 5, "output_tokens": 1}), json!({"output_tokens": 7})]);
    assert_eq!((s.resolved_model.as_deref(), s.output_text.as_str()), (Some("claude-x"), "ok"));
}

#[test]
fn responses_stream_usage_from_the_completed_event() {
    let body = "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"yo\"}\n\n\
                event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"model\":\"gpt-4o\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n";
    let s = scan("openai", true, body, 5);
    assert_eq!(s.parts, vec![json!({"input_tokens": 3, "output_tokens": 1})]);
    assert_eq!(s.output_text, "yo");
}

#[test]
fn the_usage_only_chunk_is_removed_and_kept_whatever_the_chunking() {
    let body = "data: {\"choices\":[{\"delta\":{\"content\":\"a \\\"usage\\\": {\"}}],\"usage\":null}\n\n\
                data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3}}\n\n\
                data: [DONE]\n\n";
    let expected = "data: {\"choices\":[{\"delta\":{\"content\":\"a \\\"usage\\\": {\"}}]}\n\n\
                    data: [DONE]\n\n";
    for size in [1, 5, 13, 4096] {
        let mut filter = UsageChunkFilter::new();
        let mut out = Vec::new();
        for piece in body.as_bytes().chunks(size) {
            match filter.feed(piece) {
                Some(bytes) => out.extend(bytes),
                None => out.extend_from_slice(piece),
            }
        }
        out.extend(filter.finish());
        assert_eq!(String::from_utf8(out).unwrap(), expected, "chunks of {size}");
        assert_eq!(filter.usage(), Some(&json!({"prompt_tokens": 3})));
    }
}

#[test]
fn null_usage_members_are_removed_at_the_top_level_only() {
    let cases = [
        (r#"data: {"id":"c","choices":[],"usage":null}"#, r#"data: {"id":"c","choices":[]}"#),
        (r#"data: {"usage": null, "id":"c"}"#, r#"data: {"id":"c"}"#),
        (r#"data: {"usage":null}"#, r#"data: {}"#),
        (r#"data: {"id":"c" , "usage" : null , "x":1}"#, r#"data: {"id":"c"  , "x":1}"#),
    ];
    for (line, expected) in cases {
        assert_eq!(without_null_usage(line.as_bytes()).as_deref(), Some(expected.as_bytes()), "{line}");
    }
    for untouched in [
        r#"data: {"choices":[{"delta":{"content":""usage":null"}}]}"#,
        r#"data: {"choices":[{"usage":null}]}"#,
        r#"data: {"usage":{"prompt_tokens":1},"choices":[{}]}"#,
        r#"data: {"note":"a \","usage":1}"#,
    ] {
        assert_eq!(without_null_usage(untouched.as_bytes()), None, "{untouched}");
    }
}

#[test]
fn a_usage_chunk_with_choices_passes_through() {
    let body = "data: {\"choices\":[{\"delta\":{}}],\"usage\":{\"prompt_tokens\":3}}\n\n";
    let mut filter = UsageChunkFilter::new();
    let out = filter.feed(body.as_bytes()).unwrap_or_else(|| body.as_bytes().to_vec());
    assert_eq!(out, body.as_bytes());
    assert!(filter.usage().is_none());
}

#[test]
fn json_body_is_read_whole_and_garbage_yields_nothing() {
    let s = scan("openai", false, "{\"model\":\"m\",\"usage\":{\"prompt_tokens\":1}}", 2);
    assert_eq!(s.parts, vec![json!({"prompt_tokens": 1})]);
    assert_eq!(scan("openai", true, "data: {not json\n\n", 4), Scanned::default());
    assert_eq!(scan("openai", false, "<html>", 4), Scanned::default());
}
