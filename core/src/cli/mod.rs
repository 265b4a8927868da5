//! The `costline` command line: `report`, `export`, `status`, `prices`. The language
//! packages' entry points call [`main`] with their arguments.
//!
//! Exit codes: 0 success (also when the reader of stdout went away), 1 a
//! failure at run time (no ledger, unreadable ledger), 2 a usage error.

use std::io::{self, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand, ValueEnum};
use serde_json::Value;

use crate::catalog;
use crate::config::{self, Config};
use crate::event::Event;
use crate::ledger::Ledger;
use crate::report::{align, parse_since, thousands, GroupBy, Report};
use crate::Error;

mod budgets;
mod prices_view;
use prices_view as view;

#[derive(Parser, Debug)]
#[command(name = "costline", version, about = "Cost of every LLM call, metered at the call site.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Calls, errors, tokens and exact cost from the ledger, grouped.
    Report {
        /// The ledger file (default: COSTLINE_LEDGER, else the per-user data directory).
        #[arg(long, value_name = "PATH")]
        ledger: Option<PathBuf>,
        /// Group by any of agent, model, provider, run, operation, day, tag:KEY (comma-separated).
        #[arg(long, value_name = "KEYS", default_value = "model")]
        by: String,
        /// Only calls since then: 30m, 24h, 7d, 2w, a date (2026-11-01) or an RFC 3339 time.
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print the ledger's events: JSON lines in the wire format, or CSV.
    Export {
        #[arg(long, value_name = "PATH")]
        ledger: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
    },
    /// The ledger's state: events written, owed to the collector, exported,
    /// rejected, dead letters. (Drops and the last error are per process: see
    /// `costline.status()` in the app.)
    Status {
        #[arg(long, value_name = "PATH")]
        ledger: Option<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Each budget of COSTLINE_BUDGETS: period, limit, spent, reserved, remaining.
    Budgets {
        #[arg(long, value_name = "PATH")]
        ledger: Option<PathBuf>,
        /// Print JSON (amounts as decimal strings) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// What a model costs (USD per 1M tokens) and how its name resolves; without a
    /// model, a table of every model in the catalog.
    Prices {
        /// A model name as an application would pass it.
        model: Option<String>,
        /// With a model: the provider it is called through (default: try each known
        /// provider). Without: list only models billed by this provider (`google`
        /// covers gemini and vertex_ai, `azure` covers azure_ai).
        #[arg(long)]
        provider: Option<String>,
        /// List only models whose name contains TEXT (case-insensitive).
        #[arg(long, value_name = "TEXT", conflicts_with = "model")]
        search: Option<String>,
        /// Print JSON (rates as decimal strings) instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ExportFormat {
    Jsonl,
    Csv,
}

/// Why a command stopped early.
enum Failure {
    /// The user asked for something that cannot work (exit 2).
    Usage(String),
    /// It could not be done (exit 1).
    Runtime(String),
    Output(io::Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        match e {
            Error::Cli(message) | Error::Config(message) => Failure::Usage(message),
            other => Failure::Runtime(other.to_string()),
        }
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        Failure::Output(e)
    }
}

impl From<csv::Error> for Failure {
    fn from(e: csv::Error) -> Failure {
        match e.into_kind() {
            csv::ErrorKind::Io(e) => Failure::Output(e),
            other => Failure::Runtime(format!("CSV: {other:?}")),
        }
    }
}

/// Run the CLI with `args` (without the program name). Returns the exit code;
/// output goes to stdout, errors to stderr.
pub fn main(args: Vec<String>) -> i32 {
    // Buffered: an export writes one line per event. `run` flushes it.
    let mut stdout = io::BufWriter::new(io::stdout().lock());
    run(args, &mut stdout, &mut io::stderr().lock())
}

/// [`main`] with the output streams given (tests capture them).
pub fn run(args: Vec<String>, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let cli = match Cli::try_parse_from(std::iter::once("costline".to_string()).chain(args)) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and --version go to stdout with 0; real usage errors to stderr with 2.
            let target: &mut dyn Write = if e.use_stderr() { err } else { out };
            let _ = write!(target, "{}", e.render());
            return e.exit_code();
        }
    };
    let result = match cli.command {
        Command::Report { ledger, by, since, json } => {
            report(ledger.as_deref(), &by, since.as_deref(), json, out)
        }
        Command::Export { ledger, format, since } => export(ledger.as_deref(), format, since.as_deref(), out),
        Command::Status { ledger, json } => status(ledger.as_deref(), json, out),
        Command::Budgets { ledger, json } => budgets::show(ledger.as_deref(), json, out),
        Command::Prices { model, provider, search, json } => {
            prices(model.as_deref(), provider.as_deref(), search.as_deref(), json, out)
        }
    };
    let result = result.and_then(|()| out.flush().map_err(Failure::Output));
    match result {
        Ok(()) => 0,
        // `costline export | head`: the reader has what it wanted.
        Err(Failure::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(Failure::Output(e)) => {
            let _ = writeln!(err, "costline: could not write output: {e}");
            1
        }
        Err(Failure::Usage(message)) => {
            let _ = writeln!(err, "costline: {message}");
            2
        }
        Err(Failure::Runtime(message)) => {
            let _ = writeln!(err, "costline: {message}");
            1
        }
    }
}

fn report(
    ledger: Option<&Path>,
    by: &str,
    since: Option<&str>,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let by = GroupBy::parse_list(by)?;
    let since = since.map(|s| parse_since(s, chrono::Utc::now())).transpose()?;
    let ledger = open_ledger(ledger)?;
    let report = Report::from_ledger(&ledger, by, since)?;
    if json {
        let text = serde_json::to_string_pretty(&report.to_json()).expect("a report always serialises");
        writeln!(out, "{text}")?;
    } else {
        write!(out, "{}", report.render_table())?;
    }
    Ok(())
}

fn export(
    ledger: Option<&Path>,
    format: ExportFormat,
    since: Option<&str>,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let since_ms =
        since.map(|s| parse_since(s, chrono::Utc::now())).transpose()?.map(|t| t.timestamp_millis());
    let ledger = open_ledger(ledger)?;
    match format {
        ExportFormat::Jsonl => write_each(&ledger, since_ms, |event| writeln!(out, "{}", event.to_json()))?,
        ExportFormat::Csv => {
            let mut csv = csv::Writer::from_writer(out);
            csv.write_record(CSV_COLUMNS)?;
            write_each(&ledger, since_ms, |event| csv.write_record(csv_record(&event)))?;
            csv.flush()?;
        }
    }
    Ok(())
}

fn status(ledger: Option<&Path>, json: bool, out: &mut dyn Write) -> Result<(), Failure> {
    let summary = open_ledger(ledger)?.summary()?;
    if json {
        let value = serde_json::to_value(&summary).expect("a summary always serialises");
        writeln!(out, "{}", pretty_json(&value))?;
        return Ok(());
    }
    let mut lines = vec![
        vec!["ledger".to_string(), summary.ledger.clone()],
        vec!["written".into(), thousands(summary.written)],
        vec!["pending export".into(), thousands(summary.pending_export)],
        vec!["exported".into(), thousands(summary.exported)],
        vec!["rejected".into(), thousands(summary.rejected)],
    ];
    lines.push(vec!["dead letters".into(), thousands(summary.dead_letters)]);
    lines.push(vec!["last event".into(), summary.last_event_at.clone().unwrap_or_else(|| "-".into())]);
    write!(out, "{}", align(&lines, 2))?;
    if !summary.latest_dead_letters.is_empty() {
        writeln!(out, "\nlatest dead letters (the collector refused them; not sent again):")?;
        for letter in &summary.latest_dead_letters {
            writeln!(out, "  {}  {}  {}", letter.time, letter.event_id, letter.reason)?;
        }
    }
    Ok(())
}

/// Write each event with `write`, stopping at the first failure (a closed
/// pipe ends an export early).
fn write_each<E>(
    ledger: &Ledger,
    since_ms: Option<i64>,
    mut write: impl FnMut(Event) -> Result<(), E>,
) -> Result<(), Failure>
where
    Failure: From<E>,
{
    let mut failed = None;
    ledger.for_each_event(since_ms, |event| match write(event) {
        Ok(()) => ControlFlow::Continue(()),
        Err(e) => {
            failed = Some(e);
            ControlFlow::Break(())
        }
    })?;
    failed.map_or(Ok(()), |e| Err(Failure::from(e)))
}

/// The wire format's fields, in its documented order (DESIGN.md).
pub const CSV_COLUMNS: [&str; 27] = [
    "event_id",
    "timestamp",
    "provider",
    "operation",
    "model",
    "resolved_model",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_input_tokens",
    "reasoning_tokens",
    "usage_source",
    "cost_usd",
    "cost_source",
    "catalog_version",
    "price_key",
    "latency_ms",
    "stream",
    "status",
    "error_type",
    "run_id",
    "agent",
    "agent_path",
    "tags",
    "sdk",
    "call_id",
    "attempt",
];

/// One CSV row from the event's wire form: null is empty, lists and maps are
/// JSON text, so the CSV says exactly what the JSON says.
fn csv_record(event: &Event) -> Vec<String> {
    let wire = serde_json::to_value(event).expect("an event always serialises");
    CSV_COLUMNS
        .iter()
        .map(|column| match wire.get(*column) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        })
        .collect()
}

/// One model's price and how its name resolved, or the table of models
/// (`prices_view` renders both).
fn prices(
    model: Option<&str>,
    provider: Option<&str>,
    search: Option<&str>,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    // The answer is for the environment's price file as it is now: read it again
    // (the pricing read it at start-up), and fail naming what is wrong with it.
    if let Some(path) = config::env_prices_path() {
        catalog::set_price_file(Some(&path))?;
    }
    let pricing = catalog::current();
    match model {
        Some(model) => {
            let found =
                view::lookup(&pricing, model, provider).map_err(|e| Failure::Runtime(e.to_string()))?;
            if json {
                writeln!(out, "{}", pretty_json(&found.to_json()))?;
            } else {
                write!(out, "{}", found.to_text())?;
            }
        }
        None => {
            let entries = view::list(&pricing, view::ListFilter { provider, search });
            if json {
                writeln!(out, "{}", pretty_json(&view::list_json(&entries)))?;
            } else {
                write!(out, "{}", view::list_text(&entries, pricing.version()))?;
            }
        }
    }
    Ok(())
}

fn pretty_json(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("a JSON value always serialises")
}

/// The ledger to read: `--ledger`, else the configured one. Never creates one.
fn open_ledger(explicit: Option<&Path>) -> Result<Ledger, Failure> {
    let path = match explicit {
        Some(path) => path.to_path_buf(),
        None => Config::from_env().ledger.path().ok_or_else(|| {
            Failure::Usage("the ledger is off (COSTLINE_LEDGER=off); pass --ledger PATH to read one".into())
        })?,
    };
    Ok(Ledger::open_existing(&path)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
