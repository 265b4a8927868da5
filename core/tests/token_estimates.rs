//! Usage estimated from request bodies (OpenAI chat, Responses, embeddings; Anthropic
//! messages), checked against the accounting documented in src/tokens/estimate.rs with the
//! stock tiktoken-rs encoders doing the counting.

use costline_core::borrowed_json::BorrowedJson;
use costline_core::tokens::{self, Encoding};
use costline_core::usage::Usage;
use serde_json::{json, Value};
use tiktoken_rs::CoreBPE;

/// The estimate of a body, which must be the same read as a `Value` or as the
/// borrowed form a guarded Python call measures.
fn estimate(provider: &str, operation: &str, model: &str, request: &Value, output: &str) -> Usage {
    let usage = tokens::estimate_usage(provider, operation, model, request, output);
    let borrowed = tokens::estimate_usage(provider, operation, model, &BorrowedJson::of(request), output);
    assert_eq!(usage, borrowed, "{request}");
    usage
}

fn stock(encoding: Encoding) -> &'static CoreBPE {
    match encoding {
        Encoding::O200kBase => tiktoken_rs::o200k_base_singleton(),
        Encoding::Cl100kBase => tiktoken_rs::cl100k_base_singleton(),
    }
}

fn o200k(text: &str) -> u64 {
    stock(Encoding::O200kBase).encode_ordinary(text).len() as u64
}

fn cl100k(text: &str) -> u64 {
    stock(Encoding::Cl100kBase).encode_ordinary(text).len() as u64
}

#[test]
fn chat_estimate_follows_openais_message_accounting() {
    let request = json!({
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "name": "ann", "content": "What is 2+2?"},
        ],
    });
    let usage = estimate("openai", "chat", "gpt-4o", &request, "4");
    let expected = (3 + o200k("system") + o200k("You are terse."))
        + (3 + o200k("user") + o200k("What is 2+2?") + o200k("ann") + 1)
        + 3;
    assert_eq!(usage.input_tokens, expected);
    assert_eq!(usage.output_tokens, 1);
    assert_eq!(usage.cached_input_tokens, 0);
}

#[test]
fn chat_estimate_counts_text_parts_and_ignores_images() {
    let with_image = json!({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "Describe this picture."},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    ]}]});
    let text_only = json!({"messages": [{"role": "user", "content": "Describe this picture."}]});
    let a = estimate("openai", "chat", "gpt-4o-mini", &with_image, "");
    let b = estimate("openai", "chat", "gpt-4o-mini", &text_only, "");
    assert_eq!(a.input_tokens, b.input_tokens);
    assert_eq!(a.input_tokens, 3 + o200k("user") + o200k("Describe this picture.") + 3);
}

#[test]
fn chat_estimate_counts_tool_definitions_and_calls() {
    let request = json!({
        "model": "gpt-4",
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18C, cloudy"},
        ],
        "tools": [{"type": "function", "function": {
            "name": "get_weather",
            "description": "Get the weather.",
            "parameters": {"type": "object", "properties": {
                "city": {"type": "string", "description": "City name."},
                "unit": {"type": "string", "enum": ["c", "f"]},
            }},
        }}],
    });
    let usage = estimate("openai", "chat", "", &request, "");
    let messages = (3 + cl100k("user") + cl100k("Weather in Paris?"))
        + (3 + cl100k("assistant") + cl100k("get_weather") + cl100k("{\"city\":\"Paris\"}"))
        + (3 + cl100k("tool") + cl100k("18C, cloudy"))
        + 3;
    // gpt-4 is a cl100k model: 10 per function; then the cookbook's formula: 3 for the
    // properties, 3 per property, an enum adds -3 and 3 per item, 12 at the end.
    let enum_tokens = (3 + cl100k("c")) + (3 + cl100k("f")) - 3;
    let tools = 10
        + cl100k("get_weather:Get the weather")
        + 3
        + (3 + cl100k("city:string:City name"))
        + (3 + enum_tokens + cl100k("unit:string:"))
        + 12;
    assert_eq!(usage.input_tokens, messages + tools);
}

#[test]
fn responses_estimate_counts_instructions_input_and_items() {
    let plain = json!({"model": "gpt-4.1", "instructions": "Be brief.", "input": "Hi there"});
    let usage = estimate("openai", "responses", "gpt-4.1", &plain, "Hello!");
    assert_eq!(
        usage.input_tokens,
        3 + (3 + o200k("developer") + o200k("Be brief.")) + (3 + o200k("user") + o200k("Hi there"))
    );
    assert_eq!(usage.output_tokens, o200k("Hello!"));

    let items = json!({"input": [
        {"role": "user", "content": [{"type": "input_text", "text": "Look:"}, {"type": "input_image", "image_url": "x"}]},
        {"type": "function_call", "call_id": "c1", "name": "lookup", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "found"},
    ], "tools": [
        {"type": "function", "name": "lookup", "description": "Look up", "parameters": {"type": "object", "properties": {}}},
        {"type": "web_search"},
    ]});
    let usage = estimate("openai", "responses", "gpt-5", &items, "");
    let expected = 3
        + (3 + o200k("user") + o200k("Look:"))
        + (3 + o200k("lookup") + o200k("{}"))
        + (3 + o200k("found"))
        + (7 + o200k("lookup:Look up") + 12);
    assert_eq!(usage.input_tokens, expected);
}

#[test]
fn embeddings_estimate_counts_strings_and_token_ids_without_framing() {
    let model = "text-embedding-3-small";
    let one = json!({"model": model, "input": "embed me"});
    assert_eq!(estimate("openai", "embeddings", model, &one, "").input_tokens, cl100k("embed me"));
    let many = json!({"input": ["one", "two words"]});
    assert_eq!(
        estimate("openai", "embeddings", model, &many, "").input_tokens,
        cl100k("one") + cl100k("two words")
    );
    let ids = json!({"input": [[1, 2, 3], [4, 5]]});
    assert_eq!(estimate("openai", "embeddings", model, &ids, "").input_tokens, 5);
    let flat_ids = json!({"input": [10, 11, 12, 13]});
    assert_eq!(estimate("openai", "embeddings", model, &flat_ids, "").input_tokens, 4);
}

#[test]
fn anthropic_estimate_counts_system_blocks_and_tools() {
    let request = json!({
        "model": "claude-sonnet-4-5",
        "system": [{"type": "text", "text": "You are a poet."}],
        "messages": [
            {"role": "user", "content": "Write a haiku."},
            {"role": "assistant", "content": [{"type": "text", "text": "Leaves fall."}, {"type": "tool_use", "id": "t1", "name": "rhyme", "input": {"word": "fall"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ball, call"}, {"type": "image", "source": {"type": "base64", "data": "AAAA"}}]},
        ],
        "tools": [{"name": "rhyme", "description": "Find rhymes", "input_schema": {"type": "object"}}],
    });
    let usage = estimate("anthropic", "messages", "claude-sonnet-4-5", &request, "ok");
    let expected = 3
        + (3 + o200k("You are a poet."))
        + (3 + o200k("user") + o200k("Write a haiku."))
        + (3 + o200k("assistant") + o200k("Leaves fall.") + o200k("rhyme") + o200k("{\"word\":\"fall\"}"))
        + (3 + o200k("user") + o200k("ball, call"))
        + 346
        + o200k("rhyme")
        + o200k("Find rhymes")
        + o200k("{\"type\":\"object\"}");
    assert_eq!(usage.input_tokens, expected);
    assert_eq!(usage.output_tokens, o200k("ok"));

    let forced =
        json!({"system": "s", "messages": [], "tools": [{"name": "t"}], "tool_choice": {"type": "any"}});
    let usage = estimate("anthropic", "messages", "claude-opus-4-1", &forced, "");
    assert_eq!(usage.input_tokens, 3 + (3 + o200k("s")) + 313 + o200k("t"));
}

#[test]
fn estimate_of_an_unexpected_body_is_zero_input_not_an_error() {
    for body in [
        json!(null),
        json!("text"),
        json!([1, 2]),
        json!({"messages": "not a list"}),
        json!({"messages": [7, null]}),
    ] {
        let usage = estimate("openai", "chat", "gpt-4o", &body, "out");
        assert!(usage.input_tokens <= 3 + 2 * 3, "{body}");
        assert_eq!(usage.output_tokens, o200k("out"));
    }
}

#[test]
fn completions_estimate_counts_the_prompt_for_either_provider() {
    let legacy = json!({"model": "claude-2.1", "prompt": "\n\nHuman: Hi\n\nAssistant:"});
    let usage = estimate("anthropic", "completions", "claude-2.1", &legacy, "Hello");
    assert_eq!(usage.input_tokens, o200k("\n\nHuman: Hi\n\nAssistant:"));
    let openai = json!({"model": "gpt-3.5-turbo-instruct", "prompt": ["Say hi", "Say bye"]});
    let usage = estimate("openai", "completions", "gpt-3.5-turbo-instruct", &openai, "");
    assert_eq!(usage.input_tokens, cl100k("Say hi") + cl100k("Say bye"));
}

#[test]
fn gemini_estimate_counts_the_text_parts_of_contents_and_the_system_instruction() {
    let request = json!({
        "contents": [{"role": "user", "parts": [{"text": "What is 2+2?"}, {"inlineData": {"data": "AAAA"}}]}],
        "systemInstruction": {"parts": [{"text": "You are terse."}]},
        "generationConfig": {"temperature": 0.5},
    });
    let usage = estimate("google", "generate_content", "gemini-2.5-flash", &request, "4");
    assert_eq!(usage.input_tokens, 3 + o200k("What is 2+2?") + 3 + o200k("You are terse."));
    assert_eq!(usage.output_tokens, 1);
    let embed = json!({"requests": [{"model": "models/text-embedding-004", "content": {"parts": [{"text": "hello"}]}}]});
    let usage = estimate("google", "embeddings", "text-embedding-004", &embed, "");
    assert_eq!(usage.input_tokens, 3 + o200k("hello"));
}

#[test]
fn bedrock_converse_estimate_counts_text_blocks_and_the_system_list() {
    let request = json!({
        "messages": [{"role": "user", "content": [{"text": "What is 2+2?"}]}],
        "system": [{"text": "You are terse."}],
    });
    let model = "anthropic.claude-3-5-haiku-20241022-v1:0";
    let usage = estimate("bedrock", "converse", model, &request, "4");
    assert_eq!(usage.input_tokens, (3 + o200k("user") + o200k("What is 2+2?")) + 3 + o200k("You are terse."));
}
