//! `costline budgets [--json]`: each budget of `COSTLINE_BUDGETS` with its
//! current period's limit, spent, reserved and remaining, read from the store
//! the apps share (Redis with `COSTLINE_REDIS_URL`, else the ledger).

use std::io::Write;
use std::path::Path;

use rust_decimal::Decimal;

use super::Failure;
use crate::budget;
use crate::config::Config;
use crate::report::align;

pub(super) fn show(ledger: Option<&Path>, json: bool, out: &mut dyn Write) -> Result<(), Failure> {
    let ledger = match ledger {
        Some(p) => Some(p.to_path_buf()),
        None => Config::from_env().ledger.path(),
    };
    if budget::file::env_path().is_none() {
        return Err(Failure::Usage(
            "no budgets to show: set COSTLINE_BUDGETS to a budgets file (budgets set in code live in the \
             app: costline.budget_status())"
                .into(),
        ));
    }
    let rows = budget::status_with(budget::from_env(ledger)?)?;
    if json {
        let value = serde_json::to_value(&rows).expect("a status always serialises");
        writeln!(out, "{}", serde_json::to_string_pretty(&value).expect("JSON serialises"))?;
        return Ok(());
    }
    let money = |d: Option<Decimal>| d.map_or_else(|| "-".to_string(), |d| format!("${}", d.normalize()));
    let mut lines = vec![["budget", "scope", "period", "limit", "spent", "reserved", "remaining", "action"]
        .map(str::to_string)
        .to_vec()];
    for r in &rows {
        lines.push(vec![
            r.name.clone(),
            r.scope.to_string(),
            r.period_label.clone(),
            format!("${}", r.limit_usd.normalize()),
            money(r.spent_usd),
            money(r.reserved_usd),
            money(r.remaining_usd),
            r.action.to_string(),
        ]);
    }
    write!(out, "{}", align(&lines, 2))?;
    for r in rows.iter().filter(|r| r.error.is_some()) {
        writeln!(out, "{}: {}", r.name, r.error.as_deref().unwrap_or_default())?;
    }
    Ok(())
}
