//! The operators' budgets file (`COSTLINE_BUDGETS=budgets.toml`): the same
//! fields as `costline.Budget`, one `[[budget]]` table each:
//!
//! ```toml
//! [[budget]]
//! name = "researcher-daily"      # optional
//! limit_usd = "5"                # a string (exact) or a number
//! period = "day"                 # run | hour | day | month | total
//! timezone = "+02:00"            # optional, UTC by default
//! agent = "researcher"           # optional
//! tags = { customer = "acme" }   # optional
//! action = "warn"                # block (default) | warn
//! alerts = [50, 90]              # optional, percent of the limit
//! enforce_stream = true          # optional
//! ```
//!
//! A malformed entry is an error naming its line and is left out; the other
//! entries (and the app's own budgets) still apply. A file that is not TOML
//! at all is one error naming the line.

use std::collections::BTreeMap;
use std::path::Path;

use rust_decimal::Decimal;
use serde::Deserialize;
use toml::{Spanned, Table, Value};

use super::period::{Period, Zone};
use super::spec::{self, Action, Budget};
use crate::{Error, Result};

#[derive(Deserialize)]
struct FileShape {
    #[serde(default)]
    budget: Vec<Spanned<Table>>,
}

/// The budgets of `text` (named `source` in errors): the good entries, and
/// one error per bad one.
pub fn parse(source: &str, text: &str) -> (Vec<Budget>, Vec<Error>) {
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let shape: FileShape = match toml::from_str(text) {
        Ok(shape) => shape,
        Err(e) => {
            let line = e.span().map(|s| format!(" line {}", line_of(s.start))).unwrap_or_default();
            let message = e.message().trim().to_string();
            return (Vec::new(), vec![Error::Config(format!("budgets file {source}{line}: {message}"))]);
        }
    };
    let mut budgets = Vec::new();
    let mut errors = Vec::new();
    for entry in shape.budget {
        let line = line_of(entry.span().start);
        match budget_from_table(entry.get_ref()).and_then(Budget::validated) {
            Ok(b) => budgets.push(b),
            Err(e) => {
                let message = match e {
                    Error::Config(m) => m,
                    other => other.to_string(),
                };
                errors.push(Error::Config(format!(
                    "budgets file {source} line {line}: {message}; this budget is ignored, the others apply"
                )))
            }
        }
    }
    (budgets, errors)
}

/// Budgets given as JSON objects with the file's field names (the Node
/// layer's `configure({ budgets })`): the same checks as a file's entries; the
/// first bad one is the error, naming its position.
pub fn from_json(entries: &[serde_json::Value]) -> Result<Vec<Budget>> {
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let table = match toml::Value::try_from(entry) {
                Ok(Value::Table(table)) => table,
                Ok(_) | Err(_) => {
                    return Err(Error::Config(format!("budgets[{i}] must be an object of budget fields")));
                }
            };
            budget_from_table(&table).and_then(Budget::validated).map_err(|e| match e {
                Error::Config(m) => Error::Config(format!("budgets[{i}]: {m}")),
                other => other,
            })
        })
        .collect()
}

/// Read and parse a budgets file; an unreadable file is one error.
pub fn load(path: &Path) -> (Vec<Budget>, Vec<Error>) {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&path.display().to_string(), &text),
        Err(e) => (Vec::new(), vec![Error::Config(format!("budgets file {}: {e}", path.display()))]),
    }
}

/// The `COSTLINE_BUDGETS` file's path, if set.
pub fn env_path() -> Option<std::path::PathBuf> {
    std::env::var_os("COSTLINE_BUDGETS").filter(|v| !v.is_empty()).map(Into::into)
}

#[cfg(test)]
mod json_tests {
    use super::*;

    #[test]
    fn budgets_from_json_take_the_file_fields_and_name_a_bad_entry() {
        let ok = from_json(&[serde_json::json!({"limit_usd": "5", "period": "day", "agent": "researcher"})])
            .unwrap();
        assert_eq!(ok[0].agent.as_deref(), Some("researcher"));
        let err = from_json(&[serde_json::json!({"limit_usd": "5"}), serde_json::json!({"period": "day"})])
            .unwrap_err();
        assert!(err.to_string().contains("budgets[1]") && err.to_string().contains("limit_usd"), "{err}");
        let err = from_json(&[serde_json::json!({"limit_usd": "1", "perod": "day"})]).unwrap_err();
        assert!(err.to_string().contains("perod"), "{err}");
    }
}

fn text_field<'a>(table: &'a Table, name: &str) -> Result<Option<&'a str>> {
    match table.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(Error::Config(format!("{name} must be a string, got {}", other.type_str()))),
    }
}

/// A money amount from a string ("0.50") or a number written in the file.
fn usd(name: &str, value: &Value) -> Result<Decimal> {
    match value {
        Value::String(s) => spec::parse_usd(name, s),
        Value::Integer(n) => Ok(Decimal::from(*n)),
        Value::Float(f) => spec::parse_usd(name, &f.to_string()),
        other => Err(Error::Config(format!("{name} must be a decimal amount, got {}", other.type_str()))),
    }
}

/// Alert thresholds: percentages (75) or fractions of the limit (0.75).
pub fn alert_percents(values: &[f64]) -> Result<Vec<u32>> {
    values
        .iter()
        .map(|v| {
            let percent = if *v > 0.0 && *v <= 1.0 { v * 100.0 } else { *v };
            if (1.0..=100.0).contains(&percent) && percent.fract().abs() < 1e-9 {
                Ok(percent.round() as u32)
            } else {
                Err(Error::Config(format!(
                    "alerts are percentages (75) or fractions (0.75) of the limit, got {v}"
                )))
            }
        })
        .collect()
}

const FIELDS: [&str; 9] =
    ["name", "limit_usd", "period", "timezone", "agent", "tags", "action", "alerts", "enforce_stream"];

fn budget_from_table(table: &Table) -> Result<Budget> {
    if let Some(unknown) = table.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(Error::Config(format!("unknown field {unknown:?} (known: {})", FIELDS.join(", "))));
    }
    let limit = table.get("limit_usd").ok_or_else(|| Error::Config("limit_usd is required".into()))?;
    let period = Period::parse(text_field(table, "period")?.unwrap_or("month"))?;
    let mut budget = Budget::new(usd("limit_usd", limit)?, period);
    budget.name = text_field(table, "name")?.unwrap_or_default().to_string();
    if let Some(zone) = text_field(table, "timezone")? {
        budget.zone = Zone::parse(zone)?;
    }
    budget.agent = text_field(table, "agent")?.map(str::to_string);
    if let Some(action) = text_field(table, "action")? {
        budget.action = Action::parse(action)?;
    }
    match table.get("tags") {
        None => {}
        Some(Value::Table(t)) => {
            let mut tags = BTreeMap::new();
            for (k, v) in t {
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Integer(n) => n.to_string(),
                    Value::Float(f) => f.to_string(),
                    Value::Boolean(b) => b.to_string(),
                    other => {
                        return Err(Error::Config(format!(
                            "tag {k:?} must be a string, got {}",
                            other.type_str()
                        )))
                    }
                };
                tags.insert(k.clone(), v);
            }
            budget.tags = tags;
        }
        Some(other) => return Err(Error::Config(format!("tags must be a table, got {}", other.type_str()))),
    }
    match table.get("alerts") {
        None => {}
        Some(Value::Array(items)) => {
            let numbers = items
                .iter()
                .map(|v| match v {
                    Value::Integer(n) => Ok(*n as f64),
                    Value::Float(f) => Ok(*f),
                    other => Err(Error::Config(format!("alerts must be numbers, got {}", other.type_str()))),
                })
                .collect::<Result<Vec<_>>>()?;
            budget.alerts = alert_percents(&numbers)?;
        }
        Some(other) => return Err(Error::Config(format!("alerts must be a list, got {}", other.type_str()))),
    }
    match table.get("enforce_stream") {
        None => {}
        Some(Value::Boolean(b)) => budget.enforce_stream = *b,
        Some(other) => {
            return Err(Error::Config(format!(
                "enforce_stream must be true or false, got {}",
                other.type_str()
            )))
        }
    }
    Ok(budget)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_entry_is_an_error_naming_its_line_and_the_others_are_kept() {
        let text = "\
[[budget]]
limit_usd = \"50\"
period = \"month\"

[[budget]]
limit_usd = \"5\"
period = \"fortnight\"

[[budget]]
limit_usd = 0.5
period = \"day\"
agent = \"researcher\"
tags = { customer = \"acme\" }
action = \"warn\"
alerts = [50, 0.9]
timezone = \"+02:00\"
";
        let (budgets, errors) = parse("budgets.toml", text);
        assert_eq!(budgets.len(), 2);
        assert_eq!(budgets[0].name, "global/month");
        let b = &budgets[1];
        assert_eq!(b.limit_usd.to_string(), "0.5");
        assert_eq!(
            (b.agent.as_deref(), b.action, b.alerts.clone()),
            (Some("researcher"), Action::Warn, vec![50, 90])
        );
        assert_eq!(b.zone.label(), "+02:00");
        assert_eq!(errors.len(), 1);
        let message = errors[0].to_string();
        assert!(message.contains("budgets.toml line 5"), "{message}");
        assert!(message.contains("fortnight"), "{message}");
    }

    #[test]
    fn a_file_that_is_not_toml_is_one_error_naming_the_line() {
        let (budgets, errors) = parse("b.toml", "[[budget]]\nlimit_usd = \"5\"\nperiod = day\n");
        assert!(budgets.is_empty());
        assert_eq!(errors.len(), 1);
        assert!(errors[0].to_string().contains("b.toml line 3"), "{}", errors[0]);
    }

    #[test]
    fn unknown_fields_and_missing_limits_are_refused() {
        let (_, errors) = parse("b.toml", "[[budget]]\nlimit = \"5\"\n");
        assert!(errors[0].to_string().contains("unknown field \"limit\""), "{}", errors[0]);
        let (_, errors) = parse("b.toml", "[[budget]]\nperiod = \"day\"\n");
        assert!(errors[0].to_string().contains("limit_usd is required"), "{}", errors[0]);
    }
}
