//! What a budget is: a limit on spend over a period, for the calls it matches
//! (all of them, one agent's, those carrying some tags, or one run's), and what
//! happens when a call would pass it (block, or warn and let it through).

use std::collections::BTreeMap;
use std::str::FromStr;

use rust_decimal::Decimal;

use super::period::{Period, Zone};
use super::units;
use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The call raises `BudgetExceededError` before anything is sent.
    Block,
    /// The call goes through; an alert fires once per period.
    Warn,
}

impl Action {
    pub fn parse(text: &str) -> Result<Action> {
        match text.trim().to_ascii_lowercase().as_str() {
            "block" | "" => Ok(Action::Block),
            "warn" => Ok(Action::Warn),
            other => Err(Error::Config(format!("budget action must be block or warn, not {other:?}"))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Block => "block",
            Action::Warn => "warn",
        }
    }
}

/// The default alert thresholds: 75% and 90% of the limit.
pub const DEFAULT_ALERTS: [u32; 2] = [75, 90];

/// One budget as configured (code, or the `COSTLINE_BUDGETS` file).
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    /// Names the budget in errors, alerts and `costline budgets`; derived from
    /// its scope and period when not given. Two processes sharing a store share
    /// a budget's counters through this name, so it must be stable.
    pub name: String,
    pub limit_usd: Decimal,
    pub period: Period,
    pub zone: Zone,
    /// Only calls made by this agent (anywhere on their agent path).
    pub agent: Option<String>,
    /// Only calls carrying all of these tags (after merging process, client and run tags).
    pub tags: BTreeMap<String, String>,
    pub action: Action,
    /// Percentages of the limit at which `on_budget_alert` fires, once per period.
    pub alerts: Vec<u32>,
    /// Close a stream whose running cost would pass the limit.
    pub enforce_stream: bool,
}

impl Budget {
    /// A budget with the defaults (month, UTC, every call, block, 75% and 90%).
    pub fn new(limit_usd: Decimal, period: Period) -> Budget {
        Budget {
            name: String::new(),
            limit_usd,
            period,
            zone: Zone::utc(),
            agent: None,
            tags: BTreeMap::new(),
            action: Action::Block,
            alerts: DEFAULT_ALERTS.to_vec(),
            enforce_stream: false,
        }
    }

    /// Check the fields and fill in the derived name.
    pub fn validated(mut self) -> Result<Budget> {
        if self.limit_usd < Decimal::ZERO {
            return Err(Error::Config(format!(
                "budget limit_usd must not be negative, got {}",
                self.limit_usd
            )));
        }
        if units::to_nanos_ceil(self.limit_usd).is_none() {
            return Err(Error::Config(format!("budget limit_usd {} is too large", self.limit_usd)));
        }
        if let Some(bad) = self.alerts.iter().find(|a| **a == 0 || **a > 100) {
            return Err(Error::Config(format!("budget alerts are percentages from 1 to 100, got {bad}")));
        }
        self.alerts.sort_unstable();
        self.alerts.dedup();
        if self.agent.as_deref() == Some("") {
            self.agent = None;
        }
        if self.name.trim().is_empty() {
            self.name = self.derived_name();
        }
        Ok(self)
    }

    fn derived_name(&self) -> String {
        let mut parts = Vec::new();
        if let Some(agent) = &self.agent {
            parts.push(format!("agent={agent}"));
        }
        for (k, v) in &self.tags {
            parts.push(format!("{k}={v}"));
        }
        if parts.is_empty() {
            parts.push("global".to_string());
        }
        format!("{}/{}", parts.join(","), self.period.as_str())
    }

    /// What the budget covers: `global`, `agent`, `tags` or `run`.
    pub fn scope(&self) -> &'static str {
        if self.period == Period::Run {
            "run"
        } else if self.agent.is_some() {
            "agent"
        } else if !self.tags.is_empty() {
            "tags"
        } else {
            "global"
        }
    }

    /// True when a call with this attribution counts against the budget.
    pub fn matches<S: AsRef<str>>(&self, agent_path: &[S], tags: &BTreeMap<String, String>) -> bool {
        if let Some(agent) = &self.agent {
            if !agent_path.iter().any(|a| a.as_ref() == agent) {
                return false;
            }
        }
        self.tags.iter().all(|(k, v)| tags.get(k) == Some(v))
    }
}

/// A decimal amount of USD given as text ("50", "0.50"); floats are refused
/// upstream so that money is never a binary fraction.
pub fn parse_usd(field: &str, text: &str) -> Result<Decimal> {
    Decimal::from_str(text.trim()).map_err(|_| {
        Error::Config(format!(
            "{field} must be a decimal amount of USD such as \"5\" or \"0.50\", got {text:?}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn an_agent_budget_matches_the_agent_anywhere_on_the_path() {
        let b = Budget { agent: Some("researcher".into()), ..Budget::new(Decimal::ONE, Period::Day) };
        assert!(b.matches(&path(&["researcher"]), &BTreeMap::new()));
        assert!(b.matches(&path(&["planner", "researcher", "reader"]), &BTreeMap::new()));
        assert!(!b.matches(&path(&["writer"]), &BTreeMap::new()));
        assert!(!b.matches::<&str>(&[], &BTreeMap::new()));
    }

    #[test]
    fn a_tag_budget_needs_every_tag() {
        let tags: BTreeMap<String, String> = [("customer".to_string(), "acme".to_string())].into();
        let b = Budget { tags: tags.clone(), ..Budget::new(Decimal::ONE, Period::Month) };
        assert!(b.matches::<&str>(&[], &tags));
        let mut more = tags.clone();
        more.insert("phase".into(), "draft".into());
        assert!(b.matches::<&str>(&[], &more));
        assert!(!b.matches::<&str>(&[], &BTreeMap::new()));
        let other: BTreeMap<String, String> = [("customer".to_string(), "globex".to_string())].into();
        assert!(!b.matches::<&str>(&[], &other));
    }

    #[test]
    fn names_are_derived_from_scope_and_period_and_alerts_are_checked() {
        let b = Budget::new(Decimal::ONE, Period::Month).validated().unwrap();
        assert_eq!((b.name.as_str(), b.scope()), ("global/month", "global"));
        let b =
            Budget { agent: Some("r".into()), ..Budget::new(Decimal::ONE, Period::Day) }.validated().unwrap();
        assert_eq!((b.name.as_str(), b.scope()), ("agent=r/day", "agent"));
        let bad = Budget { alerts: vec![0], ..Budget::new(Decimal::ONE, Period::Day) };
        assert!(bad.validated().is_err());
        let negative = Budget::new(Decimal::NEGATIVE_ONE, Period::Day);
        assert!(negative.validated().is_err());
    }
}
