//! `costline route --explain FILE.json`: which model a request would be routed to, with the
//! whole table behind the pick. Nothing is sent.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::Failure;
use crate::config::Config;
use crate::ledger::Ledger;
use crate::routing::{self, quality::level_name, Decision, Prefer, RouteInput};

/// How far back, and how many calls per model, `lowest_latency` reads from the ledger.
const LATENCY_WINDOW_MS: i64 = 7 * 24 * 3600 * 1000;
const LATENCY_CALLS_PER_MODEL: usize = 100;

pub(super) struct Args {
    pub explain: PathBuf,
    pub prefer: Option<String>,
    pub max_cost_usd: Option<String>,
    pub models: Option<Vec<String>>,
    pub min_confidence: Option<f64>,
    pub ledger: Option<PathBuf>,
    pub json: bool,
}

pub(super) fn explain(args: Args, out: &mut dyn Write) -> Result<(), Failure> {
    let text = std::fs::read_to_string(&args.explain)
        .map_err(|e| Failure::Usage(format!("{}: {e}", args.explain.display())))?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| Failure::Usage(format!("{}: not JSON: {e}", args.explain.display())))?;
    // A bare chat request, or a whole routing input (request + candidates + options).
    let mut input: RouteInput = if value.get("request").is_some() {
        serde_json::from_value(value)
            .map_err(|e| Failure::Usage(format!("{}: {e}", args.explain.display())))?
    } else {
        RouteInput { request: value, ..RouteInput::default() }
    };
    if let Some(prefer) = &args.prefer {
        input.prefer = Prefer::parse(prefer).ok_or_else(|| {
            let known: Vec<&str> = Prefer::ALL.iter().map(|p| p.as_str()).collect();
            Failure::Usage(format!("--prefer {prefer}: one of {}", known.join(", ")))
        })?;
    }
    if args.max_cost_usd.is_some() {
        input.max_cost_usd = args.max_cost_usd;
    }
    if args.models.is_some() {
        input.models = args.models;
    }
    if let Some(min) = args.min_confidence {
        input.min_confidence = min;
    }
    if input.prefer == Prefer::LowestLatency && input.latencies_ms.is_empty() {
        input.latencies_ms = ledger_latencies(args.ledger.as_deref())?;
    }
    let decision = routing::decide(&input).map_err(|e| match e.code {
        "invalid_input" => Failure::Usage(e.message),
        code => Failure::Runtime(format!("cannot route ({code}): {}", e.message)),
    })?;
    if args.json {
        let value = serde_json::to_value(&decision).expect("a decision always serialises");
        writeln!(out, "{}", serde_json::to_string_pretty(&value).expect("JSON"))?;
    } else {
        write!(out, "{}", render(&decision, &input))?;
    }
    Ok(())
}

/// Observed p50 latencies from `--ledger`, else the configured ledger when it exists.
fn ledger_latencies(explicit: Option<&Path>) -> Result<std::collections::HashMap<String, u64>, Failure> {
    let path = match explicit {
        Some(path) => path.to_path_buf(),
        None => match Config::from_env().ledger.path() {
            Some(path) if path.exists() => path,
            _ => return Ok(Default::default()),
        },
    };
    let ledger = Ledger::open_existing(&path)?;
    let since = chrono::Utc::now().timestamp_millis() - LATENCY_WINDOW_MS;
    Ok(ledger.p50_latencies(Some(since), LATENCY_CALLS_PER_MODEL)?.into_iter().collect())
}

fn render(d: &Decision, input: &RouteInput) -> String {
    let mut text = String::new();
    let raised = if d.level_raised {
        format!(", raised to {} as confidence < {}", d.required_level, input.min_confidence)
    } else {
        String::new()
    };
    let signals =
        if d.difficulty.signals.is_empty() { "none".to_string() } else { d.difficulty.signals.join(", ") };
    text.push_str(&format!(
        "task: level {} {} (confidence {}{raised}); signals: {signals}\n",
        d.difficulty.level,
        level_name(d.difficulty.level),
        d.difficulty.confidence
    ));
    let max = input.max_cost_usd.as_deref().map(|m| format!("${m}")).unwrap_or_else(|| "none".into());
    text.push_str(&format!(
        "prefer: {}; quality bar: {} (score >= {}); max cost: {max}\n\n",
        d.prefer.as_str(),
        level_name(d.required_level),
        d.required_score
    ));
    let header = [
        "model",
        "provider",
        "prompt",
        "max out",
        "worst case $",
        "quality",
        "p50 ms",
        "eligible",
        "why not",
    ];
    let mut lines: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for row in &d.candidates {
        let mark = if row.model == d.model && row.provider == d.provider { "* " } else { "  " };
        lines.push(vec![
            format!("{mark}{}", row.model),
            row.provider.clone(),
            row.prompt_tokens.to_string(),
            row.max_output_tokens.to_string(),
            row.cost_usd.map(routing::money).unwrap_or_else(|| "-".into()),
            row.quality
                .map(|q| format!("{q}{}", if row.quality_source == Some("user") { " (user)" } else { "" }))
                .unwrap_or_else(|| "-".into()),
            row.latency_ms.map(|l| l.to_string()).unwrap_or_else(|| "-".into()),
            if row.eligible { "yes" } else { "no" }.to_string(),
            row.why_not.clone().unwrap_or_default(),
        ]);
    }
    lines[0][0] = format!("  {}", lines[0][0]);
    // Text columns left-aligned, numbers right-aligned.
    let right = [false, false, true, true, true, true, true, false, false];
    let widths: Vec<usize> =
        (0..header.len()).map(|c| lines.iter().map(|l| l[c].chars().count()).max().unwrap_or(0)).collect();
    for line in &lines {
        let cells: Vec<String> = line
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                if right[c] {
                    format!("{cell:>w$}", w = widths[c])
                } else {
                    format!("{cell:<w$}", w = widths[c])
                }
            })
            .collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    text.push_str(&format!("\npick: {}\n", d.reason));
    text
}
