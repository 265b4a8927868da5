//! Judging the table: which rows the budget and the quality bar leave, which one `prefer`
//! takes, and the one-line reason.

use std::cmp::Ordering;

use rust_decimal::Decimal;
use serde_json::json;

use super::classify::Difficulty;
use super::quality::{level_name, DEFAULT_LEVEL_SCORES, LEVELS};
use super::{Decision, Prefer, RouteInput, RoutingError, Row};

pub(super) fn pick(
    input: &RouteInput,
    mut rows: Vec<Row>,
    difficulty: Difficulty,
    max_cost: Option<Decimal>,
) -> Result<Decision, RoutingError> {
    let level_raised = difficulty.confidence < input.min_confidence && difficulty.level < LEVELS;
    let required_level = if level_raised { difficulty.level + 1 } else { difficulty.level };
    let required_score = input.level_scores.unwrap_or(DEFAULT_LEVEL_SCORES)[required_level as usize - 1];

    // The budget first: a row without a price, or over max_cost_usd, is out in every mode.
    for row in &mut rows {
        row.why_not = match (row.cost_usd, max_cost) {
            (None, _) => Some("no price in the catalog".to_string()),
            (Some(cost), Some(max)) if cost > max => {
                Some(format!("worst case ${} > max ${}", money(cost), max))
            }
            _ => None,
        };
    }
    let affordable: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].why_not.is_none()).collect();
    if affordable.is_empty() {
        return Err(nothing_affordable(&rows, max_cost));
    }

    let meets = |row: &Row| row.quality.is_some_and(|q| q >= required_score);
    let bar = format!("{} bar (score >= {})", level_name(required_level), required_score);
    let mut note = String::new();
    let chosen: usize = match input.prefer {
        Prefer::LowestCost => *affordable.iter().min_by(|&&a, &&b| by_cost(&rows[a], &rows[b])).unwrap(),
        Prefer::LowestCostThatMeetsQuality => {
            let meeting: Vec<usize> = affordable.iter().copied().filter(|&i| meets(&rows[i])).collect();
            if meeting.is_empty() {
                note = format!("; no candidate meets the {bar}, took the best one");
                *affordable.iter().min_by(|&&a, &&b| by_quality(&rows[a], &rows[b])).unwrap()
            } else {
                for &i in &affordable {
                    if !meets(&rows[i]) {
                        rows[i].why_not = Some(match rows[i].quality {
                            Some(q) => format!("quality {q} below the {bar}"),
                            None => "no quality score".to_string(),
                        });
                    }
                }
                *meeting.iter().min_by(|&&a, &&b| by_cost(&rows[a], &rows[b])).unwrap()
            }
        }
        Prefer::HighestQuality => {
            *affordable.iter().min_by(|&&a, &&b| by_quality(&rows[a], &rows[b])).unwrap()
        }
        Prefer::LowestLatency => {
            *affordable.iter().min_by(|&&a, &&b| by_latency(&rows[a], &rows[b])).unwrap()
        }
    };
    let (picked_model, picked_cost) = (rows[chosen].model.clone(), rows[chosen].cost_usd.unwrap_or_default());
    // Eligible: within budget and, where the mode asks, meeting the bar; the pick is one of them.
    for row in &mut rows {
        row.eligible = row.why_not.is_none();
    }
    rows[chosen].eligible = true;
    // One text for every row passed over (formatted once: a pool holds dozens of rows).
    let passed_over = match input.prefer {
        Prefer::LowestCost | Prefer::LowestCostThatMeetsQuality => format!("costs more than {picked_model}"),
        Prefer::HighestQuality => format!("lower quality than {picked_model}"),
        Prefer::LowestLatency => format!("slower than {picked_model}"),
    };
    for &i in &affordable {
        if i != chosen && rows[i].why_not.is_none() {
            rows[i].why_not = Some(match (input.prefer, rows[i].latency_ms) {
                (Prefer::LowestLatency, None) => "no observed latency".to_string(),
                _ => passed_over.clone(),
            });
        }
    }
    let chosen_row = &rows[chosen];
    let count = affordable.len();
    let why = match input.prefer {
        Prefer::LowestCost => format!("cheapest of {count} candidates within budget"),
        Prefer::LowestCostThatMeetsQuality if note.is_empty() => {
            format!("cheapest candidate meeting the {bar}")
        }
        Prefer::LowestCostThatMeetsQuality => "highest quality within budget".to_string(),
        Prefer::HighestQuality => format!("highest quality of {count} candidates within budget"),
        Prefer::LowestLatency => match chosen_row.latency_ms {
            Some(ms) => format!("fastest of {count} candidates within budget (p50 {ms} ms)"),
            None => "no latency observed for any candidate: cheapest within budget".to_string(),
        },
    };
    let raised = if level_raised {
        format!(
            ", raised from {} as confidence {} < {}",
            difficulty.level, difficulty.confidence, input.min_confidence
        )
    } else {
        String::new()
    };
    let reason = format!(
        "{} ({}): {why}{note}; task level {} {} (confidence {}{raised}); worst case ${}",
        chosen_row.model,
        chosen_row.provider,
        required_level,
        level_name(required_level),
        difficulty.confidence,
        money(picked_cost),
    );
    Ok(Decision {
        model: chosen_row.model.clone(),
        provider: chosen_row.provider.clone(),
        reason,
        prefer: input.prefer,
        cost_usd: picked_cost,
        confidence: difficulty.confidence,
        difficulty,
        required_level,
        required_score,
        level_raised,
        candidates: rows,
    })
}

fn nothing_affordable(rows: &[Row], max_cost: Option<Decimal>) -> RoutingError {
    let cheapest = rows.iter().filter(|r| r.cost_usd.is_some()).min_by(|a, b| by_cost(a, b));
    match (cheapest, max_cost) {
        (Some(cheapest), Some(max)) => RoutingError {
            code: "over_max_cost",
            message: format!(
                "every candidate's worst case exceeds max_cost_usd {max}: the cheapest, {}, costs up to ${}",
                cheapest.model,
                money(cheapest.cost_usd.unwrap_or_default())
            ),
            details: json!({
                "max_cost_usd": max.to_string(),
                "cheapest_model": cheapest.model,
                "cheapest_cost_usd": cheapest.cost_usd.unwrap_or_default().to_string(),
                "candidates": rows.iter().map(|r| json!({"model": r.model, "cost_usd": r.cost_usd.map(|c| c.to_string())})).collect::<Vec<_>>(),
            }),
        },
        _ => RoutingError {
            code: "no_priced_candidate",
            message: "no candidate has a price in the catalog: its cost cannot be bounded".into(),
            details: json!({"models": rows.iter().map(|r| &r.model).collect::<Vec<_>>()}),
        },
    }
}

/// Cheaper first; then higher quality; then the name, so that ties are deterministic.
fn by_cost(a: &Row, b: &Row) -> Ordering {
    a.cost_usd.cmp(&b.cost_usd).then_with(|| quality_desc(a, b)).then_with(|| a.model.cmp(&b.model))
}

/// Higher quality first (unscored last); then cheaper.
fn by_quality(a: &Row, b: &Row) -> Ordering {
    quality_desc(a, b).then_with(|| by_cost(a, b))
}

/// Faster first (no latency last); then cheaper.
fn by_latency(a: &Row, b: &Row) -> Ordering {
    let key = |r: &Row| r.latency_ms.unwrap_or(u64::MAX);
    key(a).cmp(&key(b)).then_with(|| by_cost(a, b))
}

fn quality_desc(a: &Row, b: &Row) -> Ordering {
    let key = |r: &Row| r.quality.unwrap_or(f64::NEG_INFINITY);
    key(b).total_cmp(&key(a))
}

/// Dollars for people: at most 6 decimals, trailing zeros dropped.
pub fn money(amount: Decimal) -> String {
    amount.round_dp(6).normalize().to_string()
}
