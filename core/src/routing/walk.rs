//! The routed client's walk over candidates (issue 11): one logical call, from the first
//! pick to the answer or the last failure. Which candidate is next when an attempt fails
//! (the core's pick among the first decision's eligible rows not tried yet), a user
//! router's pick checked against the table, the fallback policy's attempt numbers and
//! clock, what `r.costline` says and what a routed call that failed raises.
//!
//! The bindings drive it; the languages only send (and call a user's router, which may be
//! async in Node). One walk for Python and Node alike.

use std::time::Instant;

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{json, Value};

use super::{decide, Decision, RouteInput, RoutingError, Row};
use crate::fallback::{self, Attempt, Failure, Policy};

/// Who serves the next attempt, and the decision behind it (`None`: the model the caller
/// named, before any fallback).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pick {
    pub provider: String,
    pub model: String,
    pub decision: Option<Decision>,
}

impl Pick {
    fn of(decision: Decision) -> Pick {
        Pick { provider: decision.provider.clone(), model: decision.model.clone(), decision: Some(decision) }
    }
}

/// `r.costline` of the served attempt, but its cost (the language layer's meter has it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Info {
    pub routed_to: String,
    pub provider: String,
    /// The decision's worst case for the pick; `None` for a model the caller named.
    pub estimated_cost_usd: Option<Decimal>,
    pub confidence: Option<f64>,
    /// Why this model, in one line (with the candidates that failed before it).
    pub reason: String,
    pub attempts: u32,
    pub call_id: String,
}

/// What a routed call raises when no attempt served: `CostlineError("provider_error")`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failed {
    pub message: String,
    pub details: Value,
}

/// One call through the routed client.
#[derive(Debug)]
pub struct Walk {
    input: RouteInput,
    /// `model="auto"`: the core decides; otherwise the caller named the first model.
    routed: bool,
    /// A fallback policy was given: a failed attempt may go on to another candidate.
    fallback: bool,
    call: fallback::Call,
    first: Option<Decision>,
    /// The next candidates come from here: the first decision's eligible models.
    pool: Option<Vec<String>>,
    tried: Vec<String>,
    pending: Option<Pick>,
    current: Option<Pick>,
    /// An attempt failed (or its candidate could not express the request)...
    failed: bool,
    /// ...and the policy says that failure goes on to another candidate.
    goes_on: bool,
}

impl Walk {
    /// `model="auto"`: decide now, so that a `RoutingError` (every candidate over
    /// `max_cost_usd`...) is raised before anything is sent. `policy`: `None` for one attempt.
    pub fn routed(input: RouteInput, policy: Option<Policy>) -> Result<Walk, RoutingError> {
        let first = decide(&input)?;
        let pool = eligible(&first);
        let mut walk = Walk::new(input, true, policy, Instant::now());
        walk.pool = Some(pool);
        walk.pending = Some(Pick::of(first.clone()));
        walk.first = Some(first);
        Ok(walk)
    }

    /// A model the caller named (its provider found by the language layer); a failure falls
    /// back to the pool `input` describes.
    pub fn named(input: RouteInput, provider: &str, model: &str, policy: Option<Policy>) -> Walk {
        let mut walk = Walk::new(input, false, policy, Instant::now());
        walk.pending =
            Some(Pick { provider: provider.to_string(), model: model.to_string(), decision: None });
        walk
    }

    /// A walk whose clock started at `started` (tests move the clock this way).
    pub fn new(input: RouteInput, routed: bool, policy: Option<Policy>, started: Instant) -> Walk {
        Walk {
            input,
            routed,
            fallback: policy.is_some(),
            call: fallback::Call::started_at(policy.unwrap_or_default(), started),
            first: None,
            pool: None,
            tried: Vec::new(),
            pending: None,
            current: None,
            failed: false,
            goes_on: true,
        }
    }

    /// The first decision (`client.route()`); `None` for a model the caller named.
    pub fn decision(&self) -> Option<&Decision> {
        self.first.as_ref()
    }

    pub fn call_id(&self) -> &str {
        &self.call.call_id
    }

    pub fn attempts(&self) -> u32 {
        self.call.attempts()
    }

    /// The models tried so far, the current one last.
    pub fn tried(&self) -> &[String] {
        &self.tried
    }

    pub fn current(&self) -> Option<&Pick> {
        self.current.as_ref()
    }

    /// The next candidate, now the current one; `None` when none is left, fallback is off,
    /// or the last failure does not fall back (raise [`Walk::failure`]). A pick with a
    /// decision may be replaced by a user's router ([`Walk::router_rows`], [`Walk::choose`]).
    pub fn next_pick(&mut self) -> Option<&Pick> {
        if self.failed && !self.goes_on {
            return None;
        }
        let pick = match self.pending.take() {
            Some(pick) => pick,
            None if self.failed => self.fallback_pick()?,
            None => return None,
        };
        self.tried.push(pick.model.clone());
        self.current = Some(pick);
        self.current.as_ref()
    }

    /// The core's pick among the pool's candidates not tried yet (the routing pool, for a
    /// model the caller named: decided once, on the first failure).
    fn fallback_pick(&mut self) -> Option<Pick> {
        if !self.fallback {
            return None;
        }
        let pool =
            self.pool.get_or_insert_with(|| decide(&self.input).map(|d| eligible(&d)).unwrap_or_default());
        let remaining: Vec<String> = pool.iter().filter(|m| !self.tried.contains(m)).cloned().collect();
        if remaining.is_empty() {
            return None;
        }
        let mut input = self.input.clone();
        input.models = Some(remaining);
        decide(&input).ok().map(Pick::of)
    }

    /// The rows a user's router chooses among: the current decision's candidates not
    /// tried before it.
    pub fn router_rows(&self) -> Vec<&Row> {
        let before = &self.tried[..self.tried.len().saturating_sub(1)];
        match self.current.as_ref().and_then(|p| p.decision.as_ref()) {
            Some(d) => d.candidates.iter().filter(|r| !before.contains(&r.model)).collect(),
            None => Vec::new(),
        }
    }

    /// A user's router named `chosen` for the current pick: it must be a priced candidate
    /// within `max_cost_usd`, else `invalid_router_pick` (nothing is sent).
    pub fn choose(&mut self, chosen: &str) -> Result<&Pick, RoutingError> {
        let rows = self.router_rows();
        let names: Vec<&str> = rows.iter().map(|r| r.model.as_str()).collect();
        let limit = self.input.max_cost_usd.as_deref().and_then(|t| t.trim().parse::<Decimal>().ok());
        let row = rows
            .iter()
            .find(|r| r.model == chosen)
            .filter(|r| r.cost_usd.is_some_and(|c| limit.is_none_or(|max| c <= max)))
            .map(|r| (*r).clone());
        let Some(row) = row else {
            return Err(RoutingError {
                code: "invalid_router_pick",
                message: format!(
                    "the router picked {chosen:?}, which is not a priced candidate within max_cost_usd"
                ),
                details: json!({"picked": chosen, "candidates": names}),
            });
        };
        let current = self.current.as_mut().expect("choose() follows next()");
        let mut decision = current.decision.clone().expect("a router chooses over a decision");
        decision.reason =
            format!("{} ({}): chosen by the router; core's pick {}", row.model, row.provider, decision.model);
        decision.model = row.model.clone();
        decision.provider = row.provider.clone();
        decision.cost_usd = row.cost_usd.unwrap_or_default();
        *current = Pick::of(decision);
        *self.tried.last_mut().expect("choose() follows next()") = row.model;
        Ok(current)
    }

    /// The current candidate cannot express the request (`FallbackUnsupported`): try
    /// another (true) or raise it (false: no fallback policy).
    pub fn unsupported(&mut self) -> bool {
        self.failed = true;
        self.fallback
    }

    /// Start the current candidate's attempt: its number and timeout, or
    /// `FallbackDeadline` once the call's deadline passed.
    pub fn begin_attempt(&mut self) -> crate::Result<Attempt> {
        self.call.begin_attempt()
    }

    pub fn begin_attempt_at(&mut self, now: Instant) -> crate::Result<Attempt> {
        self.call.begin_attempt_at(now)
    }

    /// The current attempt failed this way (after the SDK's own retries).
    pub fn failed(&mut self, failure: Failure) {
        self.failed = true;
        self.goes_on = self.fallback && self.call.should_fall_back(failure, true);
    }

    /// `r.costline` of the current (served) attempt.
    pub fn info(&self) -> Option<Info> {
        let pick = self.current.as_ref()?;
        let reason = match &pick.decision {
            None => "the model the caller named".to_string(),
            Some(d) if self.routed && self.tried.len() > 1 => {
                format!(
                    "fell back after {} failed: {}",
                    self.tried[..self.tried.len() - 1].join(", "),
                    d.reason
                )
            }
            Some(d) if !self.routed => format!("fell back from {}: {}", self.tried[0], d.reason),
            Some(d) => d.reason.clone(),
        };
        Some(Info {
            routed_to: pick.model.clone(),
            provider: pick.provider.clone(),
            estimated_cost_usd: pick.decision.as_ref().map(|d| d.cost_usd),
            confidence: pick.decision.as_ref().map(|d| d.confidence),
            reason,
            attempts: self.attempts(),
            call_id: self.call_id().to_string(),
        })
    }

    /// The error a routed call raises when its last attempt failed with `error_type:
    /// message` (the provider's `status`, if it answered); its cause is that error.
    pub fn failure(&self, error_type: &str, message: &str, status: Option<u16>) -> Failed {
        let (provider, model) = match &self.current {
            Some(p) => (p.provider.as_str(), p.model.as_str()),
            None => ("", ""),
        };
        let attempts = self.attempts();
        let short: String = message.chars().take(300).collect();
        Failed {
            message: format!(
                "the routed call failed: {provider}/{model} answered {error_type}: {short} (attempts: {attempts})"
            ),
            details: json!({
                "provider": provider,
                "model": model,
                "status": status,
                "error_type": error_type,
                "attempts": attempts,
                "tried": self.tried,
                "call_id": self.call_id(),
            }),
        }
    }
}

fn eligible(decision: &Decision) -> Vec<String> {
    decision.candidates.iter().filter(|r| r.eligible).map(|r| r.model.clone()).collect()
}
