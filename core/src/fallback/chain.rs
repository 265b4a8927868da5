//! A drop-in's fallback chain, walked (issue 10): after the primary attempt failed, which
//! target comes next or whether the caller gets the failure, the attempt numbers and each
//! attempt's timeout, the targets a budget skipped and the error naming them, and the
//! summary an answer carries (`response.costline`). The sending, the translation and
//! the metering stay in the language layers, which drive this state machine.

use std::time::Instant;

use serde::Serialize;

use super::{Attempt, Call, Failure, OnUnsupported, Policy};
use crate::Result;

/// What the language layer does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Translate for target `index` and send it as `attempt`.
    Try { index: usize, attempt: Attempt },
    /// The last failure does not fall back: the caller gets it as it is.
    RaiseLast,
    /// No target is left: raise [`ChainWalk::exhausted`]'s error, else the last failure.
    Exhausted,
}

/// `response.costline` of a served answer, but its cost (the language's meter has it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Served {
    /// "provider/model" of the target that answered.
    pub served_by: String,
    /// Attempts made, the primary's included.
    pub attempts: u32,
    pub call_id: String,
}

/// A target a budget skipped, and the budget's refusal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub target: String,
    pub reason: String,
}

/// What a chain raises when no target served and budgets skipped some.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BudgetSkips {
    pub message: String,
    pub skipped: Vec<Skipped>,
}

/// One logical call walking its chain, from the primary's failure to an answer.
#[derive(Debug)]
pub struct ChainWalk {
    call: Call,
    /// "provider/model" of each target, in the chain's order.
    targets: Vec<String>,
    /// The next target to consider.
    next: usize,
    /// The target of the attempt in flight.
    current: Option<usize>,
    last: Failure,
    skipped: Vec<Skipped>,
    /// The walk stopped on a failure that does not fall back ([`Step::RaiseLast`]).
    stopped: bool,
}

impl ChainWalk {
    /// A chain over `targets` ("provider/model"), for a logical call whose primary
    /// attempt started at `started` (the deadline counts the primary's time too).
    pub fn new(policy: Policy, targets: Vec<String>, started: Instant) -> ChainWalk {
        ChainWalk {
            call: Call::started_at(policy, started),
            targets,
            next: 0,
            current: None,
            last: Failure::Other,
            skipped: Vec::new(),
            stopped: false,
        }
    }

    pub fn call_id(&self) -> &str {
        &self.call.call_id
    }

    pub fn attempts(&self) -> u32 {
        self.call.attempts()
    }

    /// The primary attempt failed this way: true, it is attempt 1 of a chain (linked by
    /// `call_id`) and the walk begins; false, a failure that never falls back (a 400...):
    /// one attempt, recorded and raised as it is.
    pub fn primary_failed(&mut self, failure: Failure) -> bool {
        if !self.call.should_fall_back(failure, !self.targets.is_empty()) {
            return false;
        }
        self.last = failure;
        self.call.begin_attempt().expect("the first attempt always starts");
        true
    }

    /// The next step; `Err(FallbackDeadline)` once the chain's deadline has passed.
    pub fn next_step(&mut self) -> Result<Step> {
        self.next_step_at(Instant::now())
    }

    pub fn next_step_at(&mut self, now: Instant) -> Result<Step> {
        self.current = None;
        if self.next >= self.targets.len() {
            return Ok(Step::Exhausted);
        }
        if !self.call.policy().falls_back(self.last) {
            self.stopped = true;
            return Ok(Step::RaiseLast);
        }
        // The number is the target's even when it is skipped below: a budget's refusal
        // is recorded as that attempt (blocked).
        let attempt = self.call.begin_attempt_at(now)?;
        let index = self.next;
        self.next += 1;
        self.current = Some(index);
        Ok(Step::Try { index, attempt })
    }

    /// The current target cannot express the request: true, skip it (as configured);
    /// false, raise `FallbackUnsupported`.
    pub fn unsupported(&mut self) -> bool {
        self.call.policy().on_unsupported == OnUnsupported::Skip
    }

    /// A budget refused the current target's worst case (`reason`): skip it. Whether the
    /// chain goes on is still the last provider failure's to say.
    pub fn budget_skipped(&mut self, reason: &str) {
        if let Some(index) = self.current {
            self.skipped.push(Skipped { target: self.targets[index].clone(), reason: reason.to_string() });
        }
    }

    /// The current attempt failed this way.
    pub fn failed(&mut self, failure: Failure) {
        self.last = failure;
    }

    /// The current target answered.
    pub fn served(&self) -> Option<Served> {
        self.current.map(|index| Served {
            served_by: self.targets[index].clone(),
            attempts: self.attempts(),
            call_id: self.call_id().to_string(),
        })
    }

    /// No target served: the error naming the targets budgets skipped (the first skip's
    /// figures are the language's to copy), or `None`: raise the last failure (always so
    /// after [`Step::RaiseLast`]). `last_type`: the last failure's error type, named in
    /// the message.
    pub fn exhausted(&self, last_type: Option<&str>) -> Option<BudgetSkips> {
        if self.skipped.is_empty() || self.stopped {
            return None;
        }
        let reasons: Vec<String> =
            self.skipped.iter().map(|s| format!("{}: {}", s.target, s.reason)).collect();
        let mut message =
            format!("no fallback target could serve within the budgets (skipped {})", reasons.join("; "));
        if let Some(last) = last_type {
            message.push_str(&format!("; the last failure: {last}"));
        }
        Some(BudgetSkips { message, skipped: self.skipped.clone() })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;

    fn chain(policy: Policy) -> ChainWalk {
        ChainWalk::new(
            policy,
            vec!["anthropic/claude-haiku-4-5".into(), "google/gemini-2.5-flash".into()],
            Instant::now(),
        )
    }

    fn tried(step: Step) -> (usize, u32) {
        match step {
            Step::Try { index, attempt } => (index, attempt.number),
            other => panic!("expected a target, got {other:?}"),
        }
    }

    #[test]
    fn a_caller_error_on_the_primary_is_one_attempt_and_no_chain() {
        let mut walk = chain(Policy::default());
        assert!(!walk.primary_failed(Failure::Status(400)));
        assert_eq!(walk.attempts(), 0);
    }

    #[test]
    fn targets_come_in_order_numbered_after_the_primary() {
        let mut walk = chain(Policy::default());
        assert!(walk.primary_failed(Failure::Status(503)));
        assert_eq!(walk.attempts(), 1);
        assert_eq!(tried(walk.next_step().unwrap()), (0, 2));
        walk.failed(Failure::Connection);
        assert_eq!(tried(walk.next_step().unwrap()), (1, 3));
        let served = walk.served().unwrap();
        assert_eq!(served.served_by, "google/gemini-2.5-flash");
        assert_eq!((served.attempts, served.call_id.as_str()), (3, walk.call_id()));
        walk.failed(Failure::Status(500));
        assert_eq!(walk.next_step().unwrap(), Step::Exhausted);
        assert!(walk.served().is_none());
        assert!(walk.exhausted(Some("InternalServerError")).is_none(), "no skip: the last failure is raised");
    }

    #[test]
    fn a_target_failing_with_a_caller_error_ends_the_chain() {
        let mut walk = chain(Policy::default());
        walk.primary_failed(Failure::Status(429));
        walk.next_step().unwrap();
        walk.budget_skipped("over the cap");
        walk.next_step().unwrap();
        walk.failed(Failure::Status(401));
        // Not the budget's error: the target's own.
        assert_eq!(walk.next_step().unwrap(), Step::Exhausted);
        assert!(walk.exhausted(Some("AuthenticationError")).is_some());
        let mut walk = chain(Policy::default());
        walk.primary_failed(Failure::Status(429));
        walk.next_step().unwrap();
        walk.failed(Failure::Status(401));
        assert_eq!(walk.next_step().unwrap(), Step::RaiseLast);
        assert!(walk.exhausted(None).is_none());
    }

    #[test]
    fn retry_on_decides_which_failures_go_on() {
        let mut walk = chain(Policy::from_value(&json!({"retry_on": ["429"]})).unwrap());
        assert!(!walk.primary_failed(Failure::Status(503)));
        let mut walk = chain(Policy::from_value(&json!({"retry_on": ["429"]})).unwrap());
        assert!(walk.primary_failed(Failure::Status(429)));
        walk.next_step().unwrap();
        walk.failed(Failure::Timeout);
        assert_eq!(walk.next_step().unwrap(), Step::RaiseLast);
    }

    #[test]
    fn each_attempt_gets_what_the_deadline_leaves_and_none_starts_after_it() {
        let policy = Policy::from_value(&json!({"attempt_timeout_s": 10, "deadline_s": 25})).unwrap();
        let start = Instant::now();
        let mut walk = ChainWalk::new(policy, vec!["a/x".into(), "b/y".into()], start);
        walk.primary_failed(Failure::Timeout);
        let Step::Try { attempt, .. } = walk.next_step_at(start + Duration::from_secs(20)).unwrap() else {
            panic!("a target")
        };
        assert_eq!(attempt.timeout, Some(Duration::from_secs(5)));
        walk.failed(Failure::Timeout);
        let err = walk.next_step_at(start + Duration::from_secs(26)).unwrap_err();
        assert_eq!(err.code(), "fallback_deadline");
    }

    #[test]
    fn unsupported_targets_are_skipped_only_when_configured() {
        let mut walk = chain(Policy::default());
        walk.primary_failed(Failure::Status(503));
        walk.next_step().unwrap();
        assert!(!walk.unsupported());
        let mut walk = chain(Policy::from_value(&json!({"on_unsupported": "skip"})).unwrap());
        walk.primary_failed(Failure::Status(503));
        walk.next_step().unwrap();
        assert!(walk.unsupported());
        // The skipped target used its number; the next one is attempt 3.
        assert_eq!(tried(walk.next_step().unwrap()), (1, 3));
    }

    #[test]
    fn budget_skips_are_named_when_no_target_served() {
        let mut walk = chain(Policy::default());
        walk.primary_failed(Failure::Status(503));
        walk.next_step().unwrap();
        walk.budget_skipped("over the daily cap");
        // The primary's 503 still says go on.
        assert_eq!(tried(walk.next_step().unwrap()), (1, 3));
        walk.failed(Failure::Status(502));
        assert_eq!(walk.next_step().unwrap(), Step::Exhausted);
        let skips = walk.exhausted(Some("BadGatewayError")).unwrap();
        assert_eq!(
            skips.message,
            "no fallback target could serve within the budgets (skipped anthropic/claude-haiku-4-5: over the daily cap); the last failure: BadGatewayError"
        );
        assert_eq!(
            skips.skipped,
            [Skipped { target: "anthropic/claude-haiku-4-5".into(), reason: "over the daily cap".into() }]
        );
    }
}
