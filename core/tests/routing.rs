//! The routing decision beyond the vectors: the table it returns, the default pool, the
//! error's fields, the worst-case cost.

use costline_core::routing::{self, quality, CandidateSpec, Prefer, RouteInput};
use costline_core::{catalog, tokens};
use rust_decimal::Decimal;
use serde_json::{json, Value};

fn request(text: &str) -> Value {
    json!({"model": "auto", "messages": [{"role": "user", "content": text}]})
}

fn spec(model: &str, provider: &str, quality: f64) -> CandidateSpec {
    CandidateSpec {
        model: model.into(),
        provider: Some(provider.into()),
        quality: Some(quality),
        latency_ms: None,
    }
}

#[test]
fn without_candidates_the_pool_is_the_sourced_quality_table() {
    let input = RouteInput {
        request: request("Tell me about the weather in Lisbon in May, briefly."),
        ..Default::default()
    };
    let decision = routing::decide(&input).unwrap();
    let mut pool: Vec<&str> = decision.candidates.iter().map(|r| r.model.as_str()).collect();
    let mut table: Vec<&str> = quality::table().models.iter().map(|e| e.model.as_str()).collect();
    pool.sort();
    table.sort();
    assert_eq!(pool, table);
    assert!(decision.candidates.iter().all(|r| r.quality_source == Some("table")));
    assert_eq!(decision.prefer, Prefer::LowestCostThatMeetsQuality);
}

#[test]
fn worst_case_is_prompt_at_input_price_plus_the_catalog_maximum_at_output_price() {
    let input = RouteInput {
        request: request("Hello there, how are you today?"),
        candidates: vec![spec("gpt-4o", "openai", 70.0)],
        ..Default::default()
    };
    let decision = routing::decide(&input).unwrap();
    let row = &decision.candidates[0];
    let pricing = catalog::current();
    let price = pricing.resolve("openai", "gpt-4o").unwrap().price;
    let prompt = tokens::estimate_usage("openai", "chat", "gpt-4o", &input.request, "").input_tokens;
    assert_eq!(row.prompt_tokens, prompt);
    assert_eq!(row.max_output_tokens, price.max_output_tokens.unwrap());
    let expected = price.input_rate() * Decimal::from(prompt)
        + price.output_rate() * Decimal::from(row.max_output_tokens);
    assert_eq!(row.cost_usd, Some(expected));
    assert_eq!(decision.cost_usd, expected);
}

#[test]
fn the_table_says_why_each_other_candidate_was_not_picked() {
    let mut body = request("Why?\n```\nlet x = 1;\n```");
    body["max_tokens"] = json!(50);
    let input = RouteInput {
        request: body,
        candidates: vec![
            spec("gpt-4.1-nano", "openai", 40.0),
            spec("gpt-4o-mini", "openai", 55.0),
            spec("gpt-4o", "openai", 72.0),
        ],
        ..Default::default()
    };
    let d = routing::decide(&input).unwrap();
    assert_eq!(d.model, "gpt-4o-mini");
    let why: Vec<(bool, Option<&str>)> =
        d.candidates.iter().map(|r| (r.eligible, r.why_not.as_deref())).collect();
    assert_eq!(
        why,
        [
            (false, Some("quality 40 below the standard bar (score >= 50)")),
            (true, None),
            (true, Some("costs more than gpt-4o-mini")),
        ]
    );
    assert!(
        d.reason.starts_with("gpt-4o-mini (openai): cheapest candidate meeting the standard bar"),
        "{}",
        d.reason
    );
    assert!(!d.reason.contains('\n'));
}

#[test]
fn the_prompt_is_counted_with_each_candidates_own_encoding() {
    let input = RouteInput {
        request: request("Count me: naïve café résumé 東京 🚀 with some ordinary words too."),
        candidates: vec![spec("gpt-4", "openai", 60.0), spec("gpt-4o", "openai", 70.0)],
        ..Default::default()
    };
    let d = routing::decide(&input).unwrap();
    for row in &d.candidates {
        let expected = tokens::estimate_usage("openai", "chat", &row.model, &input.request, "").input_tokens;
        assert_eq!(row.prompt_tokens, expected, "{}", row.model);
    }
    assert_ne!(d.candidates[0].prompt_tokens, d.candidates[1].prompt_tokens);
}

#[test]
fn an_error_as_json_carries_code_message_and_details() {
    let input = json!({
        "request": request("hi"),
        "candidates": [{"model": "gpt-4o", "provider": "openai", "quality": 70}],
        "max_cost_usd": "0.000001",
    });
    let error: Value = serde_json::from_str(&routing::decide_json(&input.to_string()).unwrap_err()).unwrap();
    assert_eq!(error["code"], "over_max_cost");
    assert_eq!(error["details"]["cheapest_model"], "gpt-4o");
    assert_eq!(error["details"]["max_cost_usd"], "0.000001");
    assert!(error["message"].as_str().unwrap().contains("max_cost_usd"));
}

#[test]
fn bad_input_is_an_invalid_input_error() {
    for bad in [
        json!({"request": {"input": "no messages"}}),
        json!({"request": request("hi"), "max_cost_usd": "-1"}),
        json!({"request": request("hi"), "max_cost_usd": "lots"}),
        json!({"request": request("hi"), "min_confidence": 2.0}),
        json!({"request": request("hi"), "prefer": "fastest"}),
        json!({"request": request("hi"), "unknown_option": 1}),
    ] {
        let error: Value =
            serde_json::from_str(&routing::decide_json(&bad.to_string()).unwrap_err()).unwrap();
        assert_eq!(error["code"], "invalid_input", "{bad}");
    }
}
