//! The policy of a fallback chain (issue 10): which failures move a call on to the next
//! target, the per-attempt timeout and the total deadline, and the `call_id` and attempt
//! numbers that link the events of one logical call. Pure data and clock arithmetic: the
//! language layers make the calls and map their SDKs' exceptions to a `Failure`.

use std::time::{Duration, Instant};

mod chain;
pub use chain::{BudgetSkips, ChainWalk, Served, Skipped, Step};

use serde_json::Value;

use crate::{Error, Result};

/// How an attempt failed, as the language layer saw it (after the SDK's own retries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The provider answered with this HTTP status.
    Status(u16),
    /// No answer: refused, reset, DNS, TLS.
    Connection,
    /// The attempt's timeout (or the SDK's) passed.
    Timeout,
    /// Anything else (a bug, a parse error): never retried elsewhere.
    Other,
}

impl Failure {
    /// From a status and a kind name as the bindings pass them
    /// (`"status"` with a status, `"connection"`, `"timeout"`, anything else: other).
    pub fn parse(kind: &str, status: Option<u16>) -> Failure {
        match (kind, status) {
            ("status", Some(s)) => Failure::Status(s),
            ("connection", _) => Failure::Connection,
            ("timeout", _) => Failure::Timeout,
            _ => Failure::Other,
        }
    }
}

/// Statuses that are the caller's fault: the same request fails on any provider, so it
/// never falls back, whatever the configuration says.
pub const NEVER_RETRIED: [u16; 3] = [400, 401, 404];

/// What to do with a target that cannot express the request (`FallbackUnsupported`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnUnsupported {
    /// Raise the error naming the feature (the default: never silent).
    Raise,
    /// Skip that target (the skip is reported on the call's result) and try the next.
    Skip,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    statuses: Vec<u16>,
    any_5xx: bool,
    connection: bool,
    timeout: bool,
    /// Longest one attempt may take; `None`: the SDK's own timeout.
    pub attempt_timeout: Option<Duration>,
    /// Longest the whole call may take across attempts; `None`: no bound.
    pub deadline: Option<Duration>,
    pub on_unsupported: OnUnsupported,
}

impl Default for Policy {
    /// 429, any 5xx, connection failures and timeouts fall back; no timeouts of our own.
    fn default() -> Policy {
        Policy {
            statuses: vec![429],
            any_5xx: true,
            connection: true,
            timeout: true,
            attempt_timeout: None,
            deadline: None,
            on_unsupported: OnUnsupported::Raise,
        }
    }
}

impl Policy {
    /// From the options of a fallback chain (all optional):
    /// `{"retry_on": ["429", "5xx", "connection", "timeout", "408", ...],
    ///   "attempt_timeout_s": 30, "deadline_s": 120, "on_unsupported": "raise" | "skip"}`.
    pub fn from_value(v: &Value) -> Result<Policy> {
        let mut p = Policy::default();
        if v.is_null() {
            return Ok(p);
        }
        let bad = |m: String| Error::Config(format!("fallback: {m}"));
        let m = v.as_object().ok_or_else(|| bad("options are not an object".into()))?;
        for key in m.keys() {
            if !["retry_on", "attempt_timeout_s", "deadline_s", "on_unsupported"].contains(&key.as_str()) {
                return Err(bad(format!(
                    "unknown option {key:?} (retry_on, attempt_timeout_s, deadline_s, on_unsupported)"
                )));
            }
        }
        if let Some(list) = m.get("retry_on").filter(|l| !l.is_null()) {
            let list = list.as_array().ok_or_else(|| bad("retry_on is not a list".into()))?;
            p = Policy { statuses: Vec::new(), any_5xx: false, connection: false, timeout: false, ..p };
            for item in list {
                let text = match item {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => return Err(bad(format!("retry_on entry {item} is not a string or status"))),
                };
                match text.as_str() {
                    "5xx" => p.any_5xx = true,
                    "connection" => p.connection = true,
                    "timeout" => p.timeout = true,
                    s => {
                        let status: u16 =
                            s.parse().ok().filter(|s| (100..600).contains(s)).ok_or_else(|| {
                                bad(format!(
                                    "retry_on entry {s:?}: expected a status, 5xx, connection or timeout"
                                ))
                            })?;
                        if NEVER_RETRIED.contains(&status) {
                            return Err(bad(format!("{status} is the caller's error: it never falls back")));
                        }
                        p.statuses.push(status);
                    }
                }
            }
        }
        let seconds = |key: &str| -> Result<Option<Duration>> {
            match m.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v
                    .as_f64()
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .map(|s| Some(Duration::from_secs_f64(s)))
                    .ok_or_else(|| bad(format!("{key} must be a positive number of seconds"))),
            }
        };
        p.attempt_timeout = seconds("attempt_timeout_s")?;
        p.deadline = seconds("deadline_s")?;
        p.on_unsupported = match m.get("on_unsupported").and_then(Value::as_str) {
            None | Some("raise") => OnUnsupported::Raise,
            Some("skip") => OnUnsupported::Skip,
            Some(other) => return Err(bad(format!("on_unsupported {other:?}: expected raise or skip"))),
        };
        Ok(p)
    }

    /// Does this failure move the call on to the next target?
    pub fn falls_back(&self, failure: Failure) -> bool {
        match failure {
            Failure::Status(s) if NEVER_RETRIED.contains(&s) => false,
            Failure::Status(s) => self.statuses.contains(&s) || (self.any_5xx && (500..600).contains(&s)),
            Failure::Connection => self.connection,
            Failure::Timeout => self.timeout,
            Failure::Other => false,
        }
    }
}

/// One logical call walking a chain: its id, its attempts, its clock.
#[derive(Debug, Clone)]
pub struct Call {
    pub call_id: String,
    attempts: u32,
    started: Instant,
    policy: Policy,
}

/// What the next attempt may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// 1 for the first (the primary), 2 for the first fallback, ...
    pub number: u32,
    /// The timeout to give this attempt: the per-attempt one, cut to what the deadline
    /// leaves; `None`: the SDK's own.
    pub timeout: Option<Duration>,
}

impl Call {
    pub fn new(policy: Policy) -> Call {
        Call::started_at(policy, Instant::now())
    }

    /// A call whose clock started at `started` (tests move the clock this way).
    pub fn started_at(policy: Policy, started: Instant) -> Call {
        Call { call_id: uuid::Uuid::now_v7().to_string(), attempts: 0, started, policy }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Start the next attempt, or fail with `FallbackDeadline` when the total deadline has
    /// passed (the first attempt always starts: the deadline bounds the fallbacks).
    pub fn begin_attempt(&mut self) -> Result<Attempt> {
        self.begin_attempt_at(Instant::now())
    }

    pub fn begin_attempt_at(&mut self, now: Instant) -> Result<Attempt> {
        let elapsed = now.saturating_duration_since(self.started);
        let left = self.policy.deadline.map(|d| d.saturating_sub(elapsed));
        if self.attempts > 0 && left == Some(Duration::ZERO) {
            return Err(Error::FallbackDeadline {
                attempts: self.attempts,
                deadline_ms: self.policy.deadline.unwrap_or_default().as_millis() as u64,
            });
        }
        self.attempts += 1;
        let timeout = match (self.policy.attempt_timeout, left) {
            (Some(a), Some(l)) => Some(a.min(l)),
            (a, l) => a.or(l),
        };
        Ok(Attempt { number: self.attempts, timeout })
    }

    /// After attempt `attempts()` failed: go on to another target (one is left and the
    /// policy says this failure falls back) or give the caller this error.
    pub fn should_fall_back(&self, failure: Failure, targets_left: bool) -> bool {
        targets_left && self.policy.falls_back(failure)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn by_default_429_5xx_connection_and_timeout_fall_back_and_caller_errors_do_not() {
        let p = Policy::default();
        for f in [
            Failure::Status(429),
            Failure::Status(500),
            Failure::Status(529),
            Failure::Connection,
            Failure::Timeout,
        ] {
            assert!(p.falls_back(f), "{f:?}");
        }
        for f in [
            Failure::Status(400),
            Failure::Status(401),
            Failure::Status(404),
            Failure::Status(403),
            Failure::Other,
        ] {
            assert!(!p.falls_back(f), "{f:?}");
        }
    }

    #[test]
    fn retry_on_replaces_the_defaults() {
        let p = Policy::from_value(&json!({"retry_on": ["408", 429]})).unwrap();
        assert!(p.falls_back(Failure::Status(408)) && p.falls_back(Failure::Status(429)));
        assert!(!p.falls_back(Failure::Status(503)) && !p.falls_back(Failure::Connection));
    }

    #[test]
    fn caller_errors_cannot_be_configured_to_fall_back() {
        for status in ["400", "401", "404"] {
            let err = Policy::from_value(&json!({"retry_on": [status]})).unwrap_err();
            assert!(err.to_string().contains("never falls back"), "{err}");
        }
        assert!(Policy::from_value(&json!({"retry_on": ["teapot"]})).is_err());
        assert!(Policy::from_value(&json!({"deadline_s": 0})).is_err());
        assert!(Policy::from_value(&json!({"retries": 3})).is_err());
    }

    #[test]
    fn each_attempt_gets_its_timeout_cut_to_what_the_deadline_leaves() {
        let p = Policy::from_value(&json!({"attempt_timeout_s": 10, "deadline_s": 25})).unwrap();
        let start = Instant::now();
        let mut call = Call::started_at(p, start);
        let first = call.begin_attempt_at(start).unwrap();
        assert_eq!(first, Attempt { number: 1, timeout: Some(Duration::from_secs(10)) });
        let second = call.begin_attempt_at(start + Duration::from_secs(20)).unwrap();
        assert_eq!(second, Attempt { number: 2, timeout: Some(Duration::from_secs(5)) });
    }

    #[test]
    fn no_attempt_starts_after_the_deadline() {
        let p = Policy::from_value(&json!({"deadline_s": 1})).unwrap();
        let start = Instant::now();
        let mut call = Call::started_at(p, start);
        call.begin_attempt_at(start).unwrap();
        let err = call.begin_attempt_at(start + Duration::from_secs(2)).unwrap_err();
        assert_eq!(err.code(), "fallback_deadline");
        assert_eq!(call.attempts(), 1);
    }

    #[test]
    fn the_last_target_does_not_fall_back_and_attempts_share_the_call_id() {
        let mut call = Call::new(Policy::default());
        let id = call.call_id.clone();
        assert_eq!(call.begin_attempt().unwrap().number, 1);
        assert!(call.should_fall_back(Failure::Status(503), true));
        assert!(!call.should_fall_back(Failure::Status(503), false));
        assert_eq!(call.begin_attempt().unwrap().number, 2);
        assert_eq!(call.call_id, id);
        assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 7);
    }

    #[test]
    fn unsupported_targets_raise_unless_configured_to_skip() {
        assert_eq!(Policy::default().on_unsupported, OnUnsupported::Raise);
        let p = Policy::from_value(&json!({"on_unsupported": "skip"})).unwrap();
        assert_eq!(p.on_unsupported, OnUnsupported::Skip);
    }
}
