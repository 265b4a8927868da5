//! Routing: which model should serve a request, and why.
//!
//! [`decide`] takes everything as input (the OpenAI-shaped request, the candidate pool, the
//! caller's scores and latencies, the options) and returns the pick, a one-line reason and
//! the whole table. It sends nothing and reads no ledger: a binding passes user data in and
//! calls a user's own router itself when one is plugged in, and the routed client (issue 11,
//! not built yet) calls [`decide_json`], one function for Python and Node alike.
//!
//! Steps: build the pool ([`pool`]), count the prompt once per encoding and price each
//! candidate's worst case ([`cost`]), classify the task ([`classify`]), pick ([`pick`]).

pub mod classify;
mod cost;
mod pick;
mod pool;
pub mod quality;
pub mod walk;

use std::collections::HashMap;
use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub use classify::{classify, Difficulty};
pub use pick::money;
pub use walk::{Info as WalkInfo, Pick, Walk};

/// How to choose among the candidates that fit the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prefer {
    LowestCost,
    #[default]
    LowestCostThatMeetsQuality,
    HighestQuality,
    LowestLatency,
}

impl Prefer {
    pub const ALL: [Prefer; 4] = [
        Prefer::LowestCost,
        Prefer::LowestCostThatMeetsQuality,
        Prefer::HighestQuality,
        Prefer::LowestLatency,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Prefer::LowestCost => "lowest_cost",
            Prefer::LowestCostThatMeetsQuality => "lowest_cost_that_meets_quality",
            Prefer::HighestQuality => "highest_quality",
            Prefer::LowestLatency => "lowest_latency",
        }
    }

    pub fn parse(name: &str) -> Option<Prefer> {
        Prefer::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// One candidate the caller names: a model, the provider it is called through, and
/// optionally its quality score and observed latency.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CandidateSpec {
    pub model: String,
    /// `openai`, `anthropic`, `google`, `mistral`, `bedrock`...; inferred from the catalog
    /// (or the quality table) when absent.
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub quality: Option<f64>,
    #[serde(default)]
    pub latency_ms: Option<u64>,
}

/// Everything a decision needs; the JSON form is what [`decide_json`] and the vectors in
/// tests/vectors/routing/ take.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteInput {
    /// The OpenAI-shaped chat request (messages, tools, response_format, max_tokens...).
    pub request: Value,
    #[serde(default)]
    pub prefer: Prefer,
    /// A decimal string (money never crosses as a float).
    #[serde(default)]
    pub max_cost_usd: Option<String>,
    /// Below this classifier confidence the required level goes one up. 0: never.
    #[serde(default)]
    pub min_confidence: f64,
    /// The caller's pool; empty: the shipped quality table's models.
    #[serde(default)]
    pub candidates: Vec<CandidateSpec>,
    /// Pin the pool to these models (from `candidates`, the quality table or the catalog).
    #[serde(default)]
    pub models: Option<Vec<String>>,
    /// Keep only candidates of these providers (the clients the caller has).
    #[serde(default)]
    pub providers: Option<Vec<String>>,
    /// Scores that override or add to the table's, by model, on the table's scale.
    #[serde(default)]
    pub scores: HashMap<String, f64>,
    /// Observed p50 latencies by model (see `Ledger::p50_latencies`).
    #[serde(default)]
    pub latencies_ms: HashMap<String, u64>,
    /// The lowest score meeting each level 1..4; default [`quality::DEFAULT_LEVEL_SCORES`].
    #[serde(default)]
    pub level_scores: Option<[f64; 4]>,
}

/// One candidate in the decision's table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub model: String,
    pub provider: String,
    /// The catalog entry that priced it; `None`: no price.
    pub price_key: Option<String>,
    pub prompt_tokens: u64,
    pub max_output_tokens: u64,
    /// Worst case: prompt × input price + max output × output price.
    pub cost_usd: Option<Decimal>,
    pub quality: Option<f64>,
    /// `user` (the caller's scores or candidate) or `table` (core/data/quality.json).
    pub quality_source: Option<&'static str>,
    pub latency_ms: Option<u64>,
    pub eligible: bool,
    pub why_not: Option<String>,
}

/// The pick, why, and the whole table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub model: String,
    pub provider: String,
    /// One line: why this model.
    pub reason: String,
    pub prefer: Prefer,
    /// The pick's worst-case cost.
    pub cost_usd: Decimal,
    pub difficulty: Difficulty,
    /// The level the pick had to meet: the classifier's, one up when its confidence was
    /// below `min_confidence`.
    pub required_level: u8,
    pub required_score: f64,
    pub level_raised: bool,
    /// The classifier's confidence.
    pub confidence: f64,
    pub candidates: Vec<Row>,
}

/// Why nothing could be picked; nothing was sent. `code` is stable (bindings map it to
/// `RoutingError.code`), `details` says what the caller needs to act.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoutingError {
    /// `invalid_input`, `no_candidates`, `no_priced_candidate`, `over_max_cost`.
    pub code: &'static str,
    pub message: String,
    pub details: Value,
}

impl fmt::Display for RoutingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for RoutingError {}

impl RoutingError {
    fn invalid(message: impl Into<String>) -> RoutingError {
        RoutingError { code: "invalid_input", message: message.into(), details: json!({}) }
    }
}

/// Decide which candidate serves `input.request`.
pub fn decide(input: &RouteInput) -> Result<Decision, RoutingError> {
    if !input.request.get("messages").is_some_and(Value::is_array) {
        return Err(RoutingError::invalid("the request needs a `messages` list (an OpenAI chat request)"));
    }
    let max_cost = match &input.max_cost_usd {
        None => None,
        Some(text) => {
            Some(text.trim().parse::<Decimal>().ok().filter(|d| !d.is_sign_negative()).ok_or_else(|| {
                RoutingError::invalid(format!("max_cost_usd {text:?} is not a decimal >= 0"))
            })?)
        }
    };
    if !(0.0..=1.0).contains(&input.min_confidence) {
        return Err(RoutingError::invalid("min_confidence must be between 0 and 1"));
    }
    let pool = pool::build(input);
    if pool.is_empty() {
        return Err(RoutingError {
            code: "no_candidates",
            message: "no candidate model to route to".into(),
            details: json!({"models": input.models, "providers": input.providers}),
        });
    }
    let (rows, classify_tokens) = cost::price(&pool, &input.request);
    let difficulty = classify(&input.request, classify_tokens);
    pick::pick(input, rows, difficulty, max_cost)
}

/// [`decide`] on JSON text, answering JSON text: the one function both bindings call.
/// `Err` carries the [`RoutingError`] as JSON (`code`, `message`, `details`).
pub fn decide_json(input: &str) -> Result<String, String> {
    let outcome = serde_json::from_str::<RouteInput>(input)
        .map_err(|e| RoutingError::invalid(format!("routing input: {e}")))
        .and_then(|input| decide(&input));
    match outcome {
        Ok(decision) => Ok(serde_json::to_string(&decision).expect("a decision always serialises")),
        Err(error) => Err(serde_json::to_string(&error).expect("an error always serialises")),
    }
}
