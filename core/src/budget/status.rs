//! What `costline budgets` and `budget_status()` show: each configured
//! budget with its current period's spent, reserved and remaining.

use std::sync::Arc;

use rust_decimal::Decimal;

use super::engine::{build, Engine, Settings, ENGINE};
use super::period::Period;
use super::units;
use crate::Result;

/// One budget as `costline budgets` and `budget_status()` show it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BudgetStatus {
    pub name: String,
    pub scope: &'static str,
    pub period: &'static str,
    /// The current period (`2026-11`, `2026-11-30`, `total`; `per run` for run budgets).
    pub period_label: String,
    pub timezone: String,
    pub action: &'static str,
    pub agent: Option<String>,
    pub tags: std::collections::BTreeMap<String, String>,
    #[serde(with = "rust_decimal::serde::str")]
    pub limit_usd: Decimal,
    #[serde(with = "rust_decimal::serde::str_option")]
    pub spent_usd: Option<Decimal>,
    #[serde(with = "rust_decimal::serde::str_option")]
    pub reserved_usd: Option<Decimal>,
    #[serde(with = "rust_decimal::serde::str_option")]
    pub remaining_usd: Option<Decimal>,
    pub store: &'static str,
    /// Why the counters are missing (the store could not be read).
    pub error: Option<String>,
}

/// The configured budgets with their current period's counters, once the
/// settlements in flight are made (up to 5 s).
pub fn status() -> Vec<BudgetStatus> {
    super::background::wait_settled(std::time::Duration::from_secs(5));
    match ENGINE.load_full() {
        Some(engine) => status_of(&engine),
        None => Vec::new(),
    }
}

/// The status of `settings`' budgets without installing them (the CLI).
pub fn status_with(settings: Settings) -> Result<Vec<BudgetStatus>> {
    Ok(status_of(&build(settings)?))
}

fn status_of(engine: &Engine) -> Vec<BudgetStatus> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    engine
        .budgets
        .iter()
        .map(|b| {
            let mut row = BudgetStatus {
                name: b.name.clone(),
                scope: b.scope(),
                period: b.period.as_str(),
                period_label: "per run".into(),
                timezone: b.zone.label(),
                action: b.action.as_str(),
                agent: b.agent.clone(),
                tags: b.tags.clone(),
                limit_usd: b.limit_usd,
                spent_usd: None,
                reserved_usd: None,
                remaining_usd: None,
                store: "memory",
                error: None,
            };
            if b.period == Period::Run {
                return row;
            }
            let index = engine.budgets.iter().position(|x| Arc::ptr_eq(x, b)).unwrap_or(0);
            let target = engine.period_target(index, now_ms);
            row.period_label = target.label.to_string();
            row.store = engine.store.kind();
            match engine.store.read(&target.charge) {
                Ok((spent, reserved)) => {
                    let (spent, reserved) = (units::to_usd(spent), units::to_usd(reserved));
                    row.spent_usd = Some(spent);
                    row.reserved_usd = Some(reserved);
                    row.remaining_usd = Some((b.limit_usd - spent - reserved).max(Decimal::ZERO).normalize());
                }
                Err(e) => row.error = Some(e.to_string()),
            }
            row
        })
        .collect()
}
