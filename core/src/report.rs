//! Reports over the ledger: calls, errors, tokens and exact cost, grouped by
//! any combination of attribution keys, with a totals row. Costs are summed as
//! decimals; calls without a price are counted apart ("unpriced") and a group
//! with no priced call shows its cost as unknown, never as $0.

use std::collections::HashMap;
use std::ops::ControlFlow;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};

use crate::event::{Event, Status};
use crate::ledger::Ledger;
use crate::{Error, Result};

/// One grouping key of a report.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GroupBy {
    Agent,
    Model,
    Provider,
    Run,
    Operation,
    /// The UTC calendar day of the call.
    Day,
    /// The value of one tag.
    Tag(String),
}

impl GroupBy {
    /// Parse a comma-separated list such as `agent,model` or `day,tag:customer`.
    pub fn parse_list(spec: &str) -> Result<Vec<GroupBy>> {
        let mut keys = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let key = GroupBy::parse(part)?;
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        Ok(keys)
    }

    pub fn parse(name: &str) -> Result<GroupBy> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "agent" => GroupBy::Agent,
            "model" => GroupBy::Model,
            "provider" => GroupBy::Provider,
            "run" | "run_id" => GroupBy::Run,
            "operation" => GroupBy::Operation,
            "day" => GroupBy::Day,
            _ => match name.split_once(':') {
                Some((prefix, key)) if prefix.eq_ignore_ascii_case("tag") && !key.is_empty() => {
                    GroupBy::Tag(key.to_owned())
                }
                _ => {
                    return Err(Error::Cli(format!(
                        "cannot group by {name:?}: use agent, model, provider, run, operation, day or tag:KEY"
                    )))
                }
            },
        })
    }

    /// The column name: `agent`, `tag:customer`.
    pub fn label(&self) -> String {
        match self {
            GroupBy::Agent => "agent".into(),
            GroupBy::Model => "model".into(),
            GroupBy::Provider => "provider".into(),
            GroupBy::Run => "run".into(),
            GroupBy::Operation => "operation".into(),
            GroupBy::Day => "day".into(),
            GroupBy::Tag(key) => format!("tag:{key}"),
        }
    }

    fn value_of(&self, event: &Event) -> Option<String> {
        match self {
            GroupBy::Agent => event.agent.clone(),
            GroupBy::Model => Some(event.model.clone()),
            GroupBy::Provider => Some(event.provider.clone()),
            GroupBy::Run => event.run_id.clone(),
            GroupBy::Operation => Some(event.operation.clone()),
            GroupBy::Day => Some(match DateTime::parse_from_rfc3339(&event.timestamp) {
                Ok(t) => t.with_timezone(&Utc).date_naive().to_string(),
                Err(_) => event.timestamp.chars().take(10).collect(),
            }),
            GroupBy::Tag(key) => event.tags.get(key).cloned(),
        }
    }
}

/// Parse `--since`: a duration back from `now` (`30m`, `24h`, `7d`, `2w`, `90s`),
/// a UTC date (`2026-11-01`, from its midnight), or an RFC 3339 time.
pub fn parse_since(spec: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let spec = spec.trim();
    let invalid = || {
        Error::Cli(format!(
            "--since {spec:?}: use a duration (30m, 24h, 7d, 2w), a date (2026-11-01) or an RFC 3339 time"
        ))
    };
    if let Some(unit) = spec.chars().last().filter(|c| c.is_ascii_alphabetic()) {
        let amount = &spec[..spec.len() - 1];
        if !amount.is_empty() && amount.bytes().all(|b| b.is_ascii_digit()) {
            let n: i64 = amount.parse().map_err(|_| invalid())?;
            let span = match unit.to_ascii_lowercase() {
                's' => chrono::Duration::try_seconds(n),
                'm' => chrono::Duration::try_minutes(n),
                'h' => chrono::Duration::try_hours(n),
                'd' => chrono::Duration::try_days(n),
                'w' => chrono::Duration::try_weeks(n),
                _ => None,
            };
            return span.and_then(|span| now.checked_sub_signed(span)).ok_or_else(invalid);
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(spec, "%Y-%m-%d") {
        return Ok(date.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
    }
    DateTime::parse_from_rfc3339(spec).map(|t| t.with_timezone(&Utc)).map_err(|_| invalid())
}

/// `parse_since` from the current time.
pub fn parse_since_now(spec: &str) -> Result<DateTime<Utc>> {
    parse_since(spec, Utc::now())
}

/// Sums over a set of calls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub calls: u64,
    pub errors: u64,
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub output_tokens: u64,
    /// Exact sum over the priced calls.
    pub priced_cost_usd: Decimal,
    pub priced_calls: u64,
    /// Calls whose cost is unknown (model not in the catalog).
    pub unpriced_calls: u64,
}

impl Totals {
    fn add(&mut self, event: &Event) {
        self.calls += 1;
        self.errors += u64::from(event.status == Status::Error);
        self.input_tokens += event.input_tokens;
        self.cached_input_tokens += event.cached_input_tokens;
        self.output_tokens += event.output_tokens;
        match event.cost_usd {
            Some(cost) => {
                self.priced_cost_usd += cost;
                self.priced_calls += 1;
            }
            None => self.unpriced_calls += 1,
        }
    }

    /// The cost of the priced calls; `None` when no call was priced (unknown, not zero).
    pub fn cost_usd(&self) -> Option<Decimal> {
        (self.priced_calls > 0 || self.unpriced_calls == 0).then(|| self.priced_cost_usd.normalize())
    }

    fn to_json(&self) -> Map<String, Value> {
        let mut map = Map::new();
        map.insert("calls".into(), json!(self.calls));
        map.insert("errors".into(), json!(self.errors));
        map.insert("input_tokens".into(), json!(self.input_tokens));
        map.insert("cached_input_tokens".into(), json!(self.cached_input_tokens));
        map.insert("output_tokens".into(), json!(self.output_tokens));
        map.insert("cost_usd".into(), self.cost_usd().map_or(Value::Null, |c| Value::String(c.to_string())));
        map.insert("unpriced_calls".into(), json!(self.unpriced_calls));
        map
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// One value per grouping key; `None` where the call had none (no agent, no such tag).
    pub key: Vec<Option<String>>,
    pub totals: Totals,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub by: Vec<GroupBy>,
    pub since: Option<DateTime<Utc>>,
    pub rows: Vec<Row>,
    pub totals: Totals,
}

impl Report {
    /// Group `events` (already filtered by `since`, which is only recorded).
    pub fn build(
        by: Vec<GroupBy>,
        since: Option<DateTime<Utc>>,
        events: impl IntoIterator<Item = Event>,
    ) -> Report {
        let mut builder = Builder::new(by, since);
        events.into_iter().for_each(|e| builder.add(&e));
        builder.finish()
    }

    /// Read the ledger's events at or after `since` and group them.
    pub fn from_ledger(ledger: &Ledger, by: Vec<GroupBy>, since: Option<DateTime<Utc>>) -> Result<Report> {
        let mut builder = Builder::new(by, since);
        ledger.for_each_event(since.map(|t| t.timestamp_millis()), |event| {
            builder.add(&event);
            ControlFlow::Continue(())
        })?;
        Ok(builder.finish())
    }

    pub fn to_json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                let group: Map<String, Value> = self
                    .by
                    .iter()
                    .zip(&row.key)
                    .map(|(by, value)| (by.label(), value.clone().map_or(Value::Null, Value::String)))
                    .collect();
                let mut map = Map::new();
                map.insert("group".into(), Value::Object(group));
                map.extend(row.totals.to_json());
                Value::Object(map)
            })
            .collect();
        json!({
            "by": self.by.iter().map(GroupBy::label).collect::<Vec<_>>(),
            "since": self.since.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            "rows": rows,
            "totals": Value::Object(self.totals.to_json()),
        })
    }

    /// An aligned text table: one line per group, then the totals.
    pub fn render_table(&self) -> String {
        if self.totals.calls == 0 {
            return match self.since {
                Some(since) => format!(
                    "No calls recorded since {}.\n",
                    since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
                None => "No calls recorded.\n".into(),
            };
        }
        let show_unpriced = self.totals.unpriced_calls > 0;
        // Without grouping there is one key column, holding only "total".
        let mut header: Vec<String> = self.by.iter().map(GroupBy::label).collect();
        if header.is_empty() {
            header.push(String::new());
        }
        let key_columns = header.len();
        header.extend(["calls", "errors", "input", "cached", "output", "cost (USD)"].map(String::from));
        if show_unpriced {
            header.push("unpriced".into());
        }
        let figures = |t: &Totals| {
            let mut cells = vec![
                thousands(t.calls),
                thousands(t.errors),
                thousands(t.input_tokens),
                thousands(t.cached_input_tokens),
                thousands(t.output_tokens),
                t.cost_usd().map_or_else(|| "unknown".into(), |c| format!("${c}")),
            ];
            if show_unpriced {
                cells.push(thousands(t.unpriced_calls));
            }
            cells
        };
        let mut lines: Vec<Vec<String>> = vec![header];
        if !self.by.is_empty() {
            for row in &self.rows {
                let mut cells: Vec<String> =
                    row.key.iter().map(|v| v.clone().unwrap_or_else(|| "-".into())).collect();
                cells.extend(figures(&row.totals));
                lines.push(cells);
            }
        }
        let mut total = vec![String::new(); key_columns];
        total[0] = "total".into();
        total.extend(figures(&self.totals));
        lines.push(total);
        align(&lines, key_columns)
    }
}

struct Builder {
    by: Vec<GroupBy>,
    since: Option<DateTime<Utc>>,
    groups: HashMap<Vec<Option<String>>, Totals>,
    totals: Totals,
}

impl Builder {
    fn new(by: Vec<GroupBy>, since: Option<DateTime<Utc>>) -> Builder {
        Builder { by, since, groups: HashMap::new(), totals: Totals::default() }
    }

    fn add(&mut self, event: &Event) {
        let key: Vec<Option<String>> = self.by.iter().map(|by| by.value_of(event)).collect();
        self.groups.entry(key).or_default().add(event);
        self.totals.add(event);
    }

    fn finish(self) -> Report {
        let mut rows: Vec<Row> = self.groups.into_iter().map(|(key, totals)| Row { key, totals }).collect();
        if self.by.first() == Some(&GroupBy::Day) {
            // A time series reads in time order.
            rows.sort_by(|a, b| a.key.cmp(&b.key));
        } else {
            rows.sort_by(|a, b| {
                b.totals
                    .priced_cost_usd
                    .cmp(&a.totals.priced_cost_usd)
                    .then(b.totals.calls.cmp(&a.totals.calls))
                    .then(a.key.cmp(&b.key))
            });
        }
        Report { by: self.by, since: self.since, rows, totals: self.totals }
    }
}

/// Pad cells into columns: text keys left-aligned, figures right-aligned.
pub(crate) fn align(lines: &[Vec<String>], key_columns: usize) -> String {
    let columns = lines.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| lines.iter().filter_map(|l| l.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for line in lines {
        let cells: Vec<String> = line
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                if c < key_columns {
                    format!("{cell:<width$}", width = widths[c])
                } else {
                    format!("{cell:>width$}", width = widths[c])
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let lead = match digits.len() % 3 {
        0 => 3.min(digits.len()),
        r => r,
    };
    let (head, rest) = digits.split_at(lead);
    let mut out = head.to_string();
    for group in rest.as_bytes().chunks(3) {
        out.push(',');
        out.push_str(std::str::from_utf8(group).expect("ASCII digits"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn since_accepts_durations_dates_and_rfc3339() {
        let now = DateTime::parse_from_rfc3339("2026-11-10T12:00:00Z").unwrap().with_timezone(&Utc);
        let at = |s: &str| parse_since(s, now).unwrap().to_rfc3339();
        assert_eq!(at("7d"), "2026-11-03T12:00:00+00:00");
        assert_eq!(at("24h"), "2026-11-09T12:00:00+00:00");
        assert_eq!(at("30m"), "2026-11-10T11:30:00+00:00");
        assert_eq!(at("2026-11-01"), "2026-11-01T00:00:00+00:00");
        assert_eq!(at("2026-11-01T08:00:00+02:00"), "2026-11-01T06:00:00+00:00");
        for bad in ["", "d", "7x", "-7d", "yesterday", "2026-13-01", "99999999999999999999d"] {
            assert!(matches!(parse_since(bad, now), Err(Error::Cli(_))), "{bad:?} must be rejected");
        }
    }

    #[test]
    fn group_keys_parse_and_reject_unknown_names() {
        assert_eq!(
            GroupBy::parse_list("agent, model,tag:customer,day").unwrap(),
            vec![GroupBy::Agent, GroupBy::Model, GroupBy::Tag("customer".into()), GroupBy::Day]
        );
        assert!(GroupBy::parse_list("agent,colour").is_err());
        assert!(GroupBy::parse_list("tag:").is_err());
    }
}
