//! The routed client's walk over candidates: the next candidate after a failure, a user
//! router's pick, the policy's say, `r.costline`'s reason and the routed failure.

use std::time::{Duration, Instant};

use costline_core::fallback::{Failure, Policy};
use costline_core::routing::{Prefer, RouteInput, Walk};
use serde_json::json;

/// Three priced OpenAI models and one Anthropic: lowest_cost takes them cheapest first.
fn input() -> RouteInput {
    RouteInput {
        request: json!({"model": "auto", "max_tokens": 20, "messages": [{"role": "user", "content": "Hi"}]}),
        prefer: Prefer::LowestCost,
        candidates: serde_json::from_value(json!([
            {"model": "gpt-4.1-nano", "provider": "openai", "quality": 40.0},
            {"model": "gpt-4o-mini", "provider": "openai", "quality": 55.0},
            {"model": "claude-haiku-4-5", "provider": "anthropic", "quality": 60.0},
            {"model": "gpt-4o", "provider": "openai", "quality": 72.0},
        ]))
        .unwrap(),
        ..Default::default()
    }
}

fn next_model(walk: &mut Walk) -> Option<String> {
    walk.next_pick().map(|p| p.model.clone())
}

#[test]
fn a_failure_that_falls_back_goes_to_the_cheapest_candidate_not_tried() {
    let mut walk = Walk::routed(input(), Some(Policy::default())).unwrap();
    assert_eq!(next_model(&mut walk).as_deref(), Some("gpt-4.1-nano"));
    walk.begin_attempt().unwrap();
    walk.failed(Failure::Status(503));
    assert_eq!(next_model(&mut walk).as_deref(), Some("gpt-4o-mini"));
    walk.begin_attempt().unwrap();
    walk.failed(Failure::Connection);
    assert_eq!(next_model(&mut walk).as_deref(), Some("claude-haiku-4-5"));
    walk.begin_attempt().unwrap();
    let info = walk.info().unwrap();
    assert_eq!(
        (info.routed_to.as_str(), info.provider.as_str(), info.attempts),
        ("claude-haiku-4-5", "anthropic", 3)
    );
    assert!(
        info.reason
            .starts_with("fell back after gpt-4.1-nano, gpt-4o-mini failed: claude-haiku-4-5 (anthropic): "),
        "{}",
        info.reason
    );
    assert_eq!(info.call_id, walk.call_id());
}

#[test]
fn the_pool_is_the_first_decisions_eligible_rows() {
    // Over max_cost_usd, gpt-4o is not eligible: it is never a fallback.
    let mut input = input();
    let first = Walk::routed(input.clone(), None).unwrap();
    let cost = |m: &str| {
        first.decision().unwrap().candidates.iter().find(|r| r.model == m).unwrap().cost_usd.unwrap()
    };
    input.max_cost_usd = Some(cost("claude-haiku-4-5").to_string());
    let mut walk = Walk::routed(input, Some(Policy::default())).unwrap();
    let mut served = Vec::new();
    while let Some(model) = next_model(&mut walk) {
        served.push(model);
        walk.failed(Failure::Status(500));
    }
    assert_eq!(served, ["gpt-4.1-nano", "gpt-4o-mini", "claude-haiku-4-5"]);
}

#[test]
fn a_caller_error_or_no_policy_ends_the_walk_after_one_attempt() {
    let mut walk = Walk::routed(input(), Some(Policy::default())).unwrap();
    walk.next_pick().unwrap();
    walk.failed(Failure::Status(400));
    assert!(walk.next_pick().is_none());

    let mut one = Walk::routed(input(), None).unwrap();
    one.next_pick().unwrap();
    one.failed(Failure::Status(503));
    assert!(one.next_pick().is_none());
    assert!(!one.unsupported(), "without a policy an unsupported request is raised");
}

#[test]
fn a_candidate_that_cannot_express_the_request_is_passed_over() {
    let mut walk = Walk::routed(input(), Some(Policy::default())).unwrap();
    walk.next_pick().unwrap();
    assert!(walk.unsupported());
    assert_eq!(next_model(&mut walk).as_deref(), Some("gpt-4o-mini"));
    assert_eq!(walk.tried(), ["gpt-4.1-nano", "gpt-4o-mini"]);
}

#[test]
fn a_named_model_falls_back_into_the_routing_pool_and_says_so() {
    let mut walk = Walk::named(input(), "openai", "gpt-4o", Some(Policy::default()));
    assert!(walk.decision().is_none());
    let first = walk.next_pick().unwrap();
    assert_eq!(
        (first.provider.as_str(), first.model.as_str(), first.decision.is_none()),
        ("openai", "gpt-4o", true)
    );
    walk.begin_attempt().unwrap();
    assert_eq!(walk.info().unwrap().reason, "the model the caller named");
    walk.failed(Failure::Timeout);
    assert_eq!(next_model(&mut walk).as_deref(), Some("gpt-4.1-nano"));
    walk.begin_attempt().unwrap();
    let info = walk.info().unwrap();
    assert!(info.reason.starts_with("fell back from gpt-4o: gpt-4.1-nano (openai)"), "{}", info.reason);
    assert!(info.estimated_cost_usd.is_some() && info.confidence.is_some());
}

#[test]
fn a_routers_pick_replaces_the_cores_when_it_is_a_priced_candidate_not_tried() {
    let mut walk = Walk::routed(input(), Some(Policy::default())).unwrap();
    walk.next_pick().unwrap();
    assert_eq!(walk.router_rows().len(), 4);
    let picked = walk.choose("gpt-4o").unwrap();
    assert_eq!(picked.model, "gpt-4o");
    let reason = &picked.decision.as_ref().unwrap().reason;
    assert_eq!(reason, "gpt-4o (openai): chosen by the router; core's pick gpt-4.1-nano");
    assert_eq!(walk.tried(), ["gpt-4o"]);
    walk.failed(Failure::Status(429));
    walk.next_pick().unwrap();
    // The failed one is not offered again.
    let rows: Vec<&str> = walk.router_rows().iter().map(|r| r.model.as_str()).collect();
    assert!(!rows.contains(&"gpt-4o"), "{rows:?}");
    let err = walk.choose("gpt-4o").unwrap_err();
    assert_eq!(err.code, "invalid_router_pick");
    assert_eq!(err.details["picked"], "gpt-4o");
}

#[test]
fn a_routers_pick_over_max_cost_is_refused() {
    let mut input = input();
    input.max_cost_usd = Some("1".into());
    let mut walk = Walk::routed(input, None).unwrap();
    walk.next_pick().unwrap();
    let cheap = walk.router_rows()[0].cost_usd.unwrap();
    let mut tight = self::input();
    tight.max_cost_usd = Some(cheap.to_string());
    let mut walk = Walk::routed(tight, None).unwrap();
    walk.next_pick().unwrap();
    assert_eq!(walk.choose("gpt-4o").unwrap_err().code, "invalid_router_pick");
    assert_eq!(walk.choose("unknown-model").unwrap_err().code, "invalid_router_pick");
}

#[test]
fn no_attempt_starts_after_the_deadline() {
    let policy = Policy::from_value(&json!({"deadline_s": 1})).unwrap();
    let start = Instant::now();
    let mut walk = Walk::new(input(), false, Some(policy), start);
    assert!(walk.next_pick().is_none(), "a walk made by new() has no pick of its own");
    let mut walk =
        Walk::routed(input(), Some(Policy::from_value(&json!({"deadline_s": 1})).unwrap())).unwrap();
    walk.next_pick().unwrap();
    walk.begin_attempt_at(Instant::now()).unwrap();
    walk.failed(Failure::Status(503));
    walk.next_pick().unwrap();
    let err = walk.begin_attempt_at(Instant::now() + Duration::from_secs(5)).unwrap_err();
    assert_eq!(err.code(), "fallback_deadline");
}

#[test]
fn the_routed_failure_names_the_last_candidate_and_everything_tried() {
    let mut walk = Walk::routed(input(), Some(Policy::default())).unwrap();
    walk.next_pick().unwrap();
    walk.begin_attempt().unwrap();
    walk.failed(Failure::Status(503));
    walk.next_pick().unwrap();
    walk.begin_attempt().unwrap();
    walk.failed(Failure::Status(401));
    assert!(walk.next_pick().is_none());
    let long = "x".repeat(400);
    let failed = walk.failure("AuthenticationError", &long, Some(401));
    assert_eq!(
        failed.message,
        format!(
            "the routed call failed: openai/gpt-4o-mini answered AuthenticationError: {} (attempts: 2)",
            "x".repeat(300)
        )
    );
    assert_eq!(
        failed.details,
        json!({"provider": "openai", "model": "gpt-4o-mini", "status": 401, "error_type": "AuthenticationError",
               "attempts": 2, "tried": ["gpt-4.1-nano", "gpt-4o-mini"], "call_id": walk.call_id()})
    );
}
