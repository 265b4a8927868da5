//! Budget alerts: a budget's spend reached one of its thresholds (75% and 90%
//! by default) in the current period, or a `warn` budget was passed. Each
//! fires once per period (the store arbitrates between processes), goes to
//! the language layer's hook (`on_budget_alert`) and is recorded in the
//! ledger's `budget_alerts` table.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use rust_decimal::Decimal;

#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub budget_name: String,
    pub scope: &'static str,
    pub period: &'static str,
    /// The period it fired in (`2026-11`, `2026-11-30`, `total`, ...).
    pub period_label: String,
    /// The threshold reached, in percent of the limit (100 for a passed `warn` budget).
    pub threshold_percent: u32,
    pub limit_usd: Decimal,
    pub spent_usd: Decimal,
    pub action: &'static str,
    pub agent: Option<String>,
    /// True when a `warn` budget let through a call that passed its limit.
    pub exceeded: bool,
}

impl std::fmt::Display for Alert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.exceeded {
            write!(
                f,
                "budget {} ({} {}) passed its limit of ${} (spent ${}); action=warn, the call went through",
                self.budget_name, self.scope, self.period_label, self.limit_usd, self.spent_usd
            )
        } else {
            write!(
                f,
                "budget {} ({} {}) reached {}% of ${}: spent ${}",
                self.budget_name,
                self.scope,
                self.period_label,
                self.threshold_percent,
                self.limit_usd,
                self.spent_usd
            )
        }
    }
}

pub type AlertHook = Box<dyn Fn(&Alert) + Send + Sync>;

static ALERT_HOOK: ArcSwapOption<AlertHook> = ArcSwapOption::const_empty();

pub fn set_alert_hook(hook: AlertHook) {
    ALERT_HOOK.store(Some(Arc::new(hook)));
}

pub fn clear_alert_hook() {
    ALERT_HOOK.store(None);
}

/// Log the alert and tell the hook. Callers hold no lock of their own (the
/// hook may wait for a language runtime's lock).
pub(crate) fn fire(alert: &Alert) {
    log::warn!("costline: {alert}");
    let Some(hook) = ALERT_HOOK.load_full() else {
        return;
    };
    if catch_unwind(AssertUnwindSafe(|| hook(alert))).is_err() {
        log::warn!("costline: the budget alert hook panicked");
    }
}
