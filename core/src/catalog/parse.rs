//! Reading a price table. The embedded catalog and user overrides go through the
//! same strict reader, so a typo in an override file is an error, not a silent 0.
//!
//! A table is a JSON object in one of two forms:
//!
//! - wrapped, as `core/data/prices.json`: `{"models": {NAME: ENTRY, ...}}`, optionally
//!   with `catalog_version`, `source`, `units` beside `models` (nothing else);
//! - flat: `{NAME: ENTRY, ...}`.
//!
//! An ENTRY is an object with:
//!
//! - rates, each USD per token (`input`, `output`, `cache_read`, `cache_write_5m`,
//!   `cache_write_1h`, `cache_write_12h`, `input_audio`, `output_audio`) or the same name with
//!   `_per_million` appended for USD per million tokens (`"input_per_million": "1.5"`);
//!   `input` and `output` (in either unit) are required at the top level of an entry;
//! - optional `provider`, `mode` (strings), `max_input_tokens`, `max_output_tokens`
//!   (non-negative integers), `cache_write_1h_derived` (boolean);
//! - optional `context_tiers`: a list of `{"above_input_tokens": N, <rates>}`, whose rates
//!   apply to a whole call whose input exceeds N tokens;
//! - optional `service_tiers`: `{"batch"|"flex"|"priority": {<rates>, "context_tiers": [...]}}`.
//!
//! A price is a decimal string (`"0.0000025"`, `"2.5e-6"`) or a JSON number. Strings are
//! read exactly. Numbers are read through their shortest round-trip text (the literal as
//! written, for up to 15 significant digits), because serde_json's `arbitrary_precision`
//! feature would change how every binding converts JSON numbers; write prices with more
//! digits as strings. Negative prices, prices above [`MAX_RATE_PER_TOKEN`], non-numeric
//! strings and unknown fields are errors.
//!
//! An error names the model and the field (`service_tiers.flex.context_tiers[0].input`)
//! and, for a table read from text (a price file), the line and column where that
//! field is written.

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::locate::{locate, Step};
use super::{ContextTier, Price, RateSet, Rates};
use crate::{Error, Result};

/// Highest accepted price per token (USD). Far above any real model; it bounds the
/// cost arithmetic so that no token count can overflow a Decimal.
pub const MAX_RATE_PER_TOKEN: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

const META_FIELDS: [&str; 4] = ["models", "catalog_version", "source", "units"];
const RATE_NAMES: [&str; 8] = [
    "input",
    "output",
    "cache_read",
    "cache_write_5m",
    "cache_write_1h",
    "cache_write_12h",
    "input_audio",
    "output_audio",
];
const PER_MILLION_SUFFIX: &str = "_per_million";

pub(crate) struct ParsedTable {
    pub catalog_version: Option<String>,
    pub models: Vec<(String, Price)>,
}

/// Parse a table written as JSON text (a price file, the embedded catalog); errors
/// say where in the text the problem is.
pub(crate) fn parse_text(source_name: &str, text: &str) -> Result<ParsedTable> {
    let fail = |message: String| Error::Prices { source_name: source_name.to_string(), message };
    let value: Value = serde_json::from_str(text).map_err(|e| {
        // serde_json says "... at line L column C"; the position goes first, as for field errors.
        let full = e.to_string();
        let what = full.rsplit_once(" at line ").map_or(full.as_str(), |(what, _)| what);
        fail(format!("line {}, column {}: invalid JSON: {what}", e.line(), e.column()))
    })?;
    parse_table(&value).map_err(|e| match locate(text, &e.path) {
        Some((line, column)) => fail(format!("line {line}, column {column}: {}", e.message)),
        None => fail(e.message),
    })
}

/// Parse a table given as a value (inline prices); `source_name` names it in errors.
pub(crate) fn parse_value(source_name: &str, value: &Value) -> Result<ParsedTable> {
    parse_table(value).map_err(|e| Error::Prices { source_name: source_name.to_string(), message: e.message })
}

/// A problem in a table: what is wrong, naming the model and field, and the path
/// to the member at fault (to find its line in the text).
struct TableError {
    message: String,
    path: Vec<Step>,
}

fn parse_table(value: &Value) -> std::result::Result<ParsedTable, TableError> {
    let top_level = |message: String, path: Vec<Step>| TableError { message, path };
    let top = value
        .as_object()
        .ok_or_else(|| top_level(format!("expected a JSON object, got {}", kind(value)), vec![]))?;

    let wrapped_models = match top.get("models") {
        Some(Value::Object(models)) if top.keys().all(|key| META_FIELDS.contains(&key.as_str())) => {
            Some(models)
        }
        _ => None,
    };
    let (models, catalog_version, prefix) = match wrapped_models {
        Some(models) => {
            let version = match top.get("catalog_version") {
                None => None,
                Some(Value::String(v)) => Some(v.clone()),
                Some(other) => {
                    return Err(top_level(
                        format!("catalog_version: expected a string, got {}", kind(other)),
                        vec![Step::Key("catalog_version".to_string())],
                    ))
                }
            };
            (models, version, vec![Step::Key("models".to_string())])
        }
        None => (top, None, vec![]),
    };

    let mut parsed = Vec::with_capacity(models.len());
    for (name, entry) in models {
        let path_of = |field: &str| {
            let mut path = prefix.clone();
            path.push(Step::Key(name.clone()));
            path.extend(field_steps(field));
            path
        };
        if name.trim().is_empty() {
            return Err(top_level("a model name is empty".to_string(), path_of("")));
        }
        let price = parse_entry(entry).map_err(|e| TableError {
            message: if e.field.is_empty() {
                format!("model {name:?}: {}", e.message)
            } else {
                format!("model {name:?}, field {}: {}", e.field, e.message)
            },
            path: path_of(&e.field),
        })?;
        parsed.push((name.clone(), price));
    }
    Ok(ParsedTable { catalog_version, models: parsed })
}

/// The steps of a field path as errors write it: `service_tiers.flex.context_tiers[0].input`.
fn field_steps(field: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    for part in field.split('.').filter(|part| !part.is_empty()) {
        let mut pieces = part.split('[');
        if let Some(key) = pieces.next().filter(|key| !key.is_empty()) {
            steps.push(Step::Key(key.to_string()));
        }
        steps.extend(pieces.filter_map(|index| index.trim_end_matches(']').parse().ok()).map(Step::Index));
    }
    steps
}

/// A problem inside one entry: the field's path in the entry (empty for the entry
/// as a whole) and what is wrong with it. `parse_table` adds the model.
struct FieldError {
    field: String,
    message: String,
}

fn at(field: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError { field: field.into(), message: message.into() }
}

type FieldResult<T> = std::result::Result<T, FieldError>;

fn parse_entry(entry: &Value) -> FieldResult<Price> {
    let object = as_object(entry, "")?;
    let mut price = Price::default();
    let mut rates_part = Map::new();
    for (field, value) in object {
        match field.as_str() {
            "provider" => price.provider = Some(as_string(value, field)?),
            "mode" => price.mode = Some(as_string(value, field)?),
            "max_input_tokens" => price.max_input_tokens = Some(as_count(value, field)?),
            "max_output_tokens" => price.max_output_tokens = Some(as_count(value, field)?),
            "service_tiers" => parse_service_tiers(value, &mut price)?,
            _ => {
                rates_part.insert(field.clone(), value.clone());
            }
        }
    }
    price.standard = parse_rate_set(&rates_part, "")?;
    if price.standard.rates.input.is_none() {
        return Err(at("", "no input price (give \"input\" or \"input_per_million\")"));
    }
    if price.standard.rates.output.is_none() {
        return Err(at(
            "",
            "no output price (give \"output\" or \"output_per_million\"; \"0\" for embeddings)",
        ));
    }
    Ok(price)
}

fn parse_service_tiers(value: &Value, price: &mut Price) -> FieldResult<()> {
    for (tier, set) in as_object(value, "service_tiers")? {
        let path = format!("service_tiers.{tier}.");
        let rate_set = parse_rate_set(as_object(set, &path[..path.len() - 1])?, &path)?;
        let slot = match tier.as_str() {
            "batch" => &mut price.batch,
            "flex" => &mut price.flex,
            "priority" => &mut price.priority,
            other => {
                return Err(at(
                    format!("service_tiers.{other}"),
                    "unknown tier (expected batch, flex or priority)",
                ))
            }
        };
        *slot = Some(rate_set);
    }
    Ok(())
}

/// Rates plus `context_tiers`; `path` prefixes field names in messages.
fn parse_rate_set(object: &Map<String, Value>, path: &str) -> FieldResult<RateSet> {
    let mut set = RateSet::default();
    let mut rates_part = Map::new();
    for (field, value) in object {
        if field == "context_tiers" {
            set.context_tiers = parse_context_tiers(value, &format!("{path}context_tiers"))?;
        } else {
            rates_part.insert(field.clone(), value.clone());
        }
    }
    set.rates = parse_rates(&rates_part, path, &[])?;
    Ok(set)
}

fn parse_context_tiers(value: &Value, path: &str) -> FieldResult<Vec<ContextTier>> {
    let list = value.as_array().ok_or_else(|| at(path, format!("expected a list, got {}", kind(value))))?;
    let mut tiers = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        let object = as_object(item, &item_path)?;
        let threshold = object
            .get("above_input_tokens")
            .ok_or_else(|| at(&item_path, "no above_input_tokens"))
            .and_then(|v| as_count(v, &format!("{item_path}.above_input_tokens")))?;
        let rates = parse_rates(object, &format!("{item_path}."), &["above_input_tokens"])?;
        tiers.push(ContextTier { above_input_tokens: threshold, rates });
    }
    tiers.sort_by_key(|tier| tier.above_input_tokens);
    if let Some(pair) = tiers.windows(2).find(|pair| pair[0].above_input_tokens == pair[1].above_input_tokens)
    {
        return Err(at(path, format!("two tiers above {} input tokens", pair[0].above_input_tokens)));
    }
    Ok(tiers)
}

/// The rate fields of one object; every other field is an error except `skip`.
fn parse_rates(object: &Map<String, Value>, path: &str, skip: &[&str]) -> FieldResult<Rates> {
    let mut rates = Rates::default();
    for (field, value) in object {
        if skip.contains(&field.as_str()) {
            continue;
        }
        if field == "cache_write_1h_derived" {
            rates.cache_write_1h_derived = value.as_bool().ok_or_else(|| {
                at(format!("{path}{field}"), format!("expected a boolean, got {}", kind(value)))
            })?;
            continue;
        }
        let (name, per_million) = match field.strip_suffix(PER_MILLION_SUFFIX) {
            Some(name) => (name, true),
            None => (field.as_str(), false),
        };
        let slot = match name {
            "input" => &mut rates.input,
            "output" => &mut rates.output,
            "cache_read" => &mut rates.cache_read,
            "cache_write_5m" => &mut rates.cache_write_5m,
            "cache_write_1h" => &mut rates.cache_write_1h,
            "cache_write_12h" => &mut rates.cache_write_12h,
            "input_audio" => &mut rates.input_audio,
            "output_audio" => &mut rates.output_audio,
            _ => {
                return Err(at(
                    format!("{path}{field}"),
                    format!(
                        "unknown field (rates are {}, per token or with {PER_MILLION_SUFFIX})",
                        RATE_NAMES.join(", ")
                    ),
                ))
            }
        };
        if slot.is_some() {
            return Err(at(
                format!("{path}{field}"),
                format!("{name} given twice (per token and per million)"),
            ));
        }
        let amount = parse_amount(value).map_err(|message| at(format!("{path}{field}"), message))?;
        let per_token = if per_million {
            amount
                .checked_div(Decimal::from(1_000_000))
                .ok_or_else(|| at(format!("{path}{field}"), "out of range"))?
        } else {
            amount
        };
        if per_token > MAX_RATE_PER_TOKEN {
            return Err(at(
                format!("{path}{field}"),
                format!("{amount} is above the limit of {MAX_RATE_PER_TOKEN} USD per token"),
            ));
        }
        *slot = Some(per_token.normalize());
    }
    Ok(rates)
}

/// A non-negative decimal amount from a decimal string or a JSON number; the error
/// is a message, the caller adds the field.
fn parse_amount(value: &Value) -> std::result::Result<Decimal, String> {
    let amount = match value {
        Value::String(text) => parse_decimal_text(text.trim())?,
        Value::Number(number) => {
            if let Some(i) = number.as_i64() {
                Decimal::from(i)
            } else if let Some(u) = number.as_u64() {
                Decimal::from(u)
            } else {
                // Display of an f64 is its shortest round-trip text, without exponent.
                let float = number.as_f64().ok_or_else(|| format!("{number} is not a usable number"))?;
                parse_decimal_text(&float.to_string())?
            }
        }
        other => return Err(format!("expected a decimal string or a number, got {}", kind(other))),
    };
    if amount.is_sign_negative() && !amount.is_zero() {
        return Err(format!("negative price {amount}"));
    }
    Ok(amount)
}

fn parse_decimal_text(text: &str) -> std::result::Result<Decimal, String> {
    let well_formed = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
        && text.bytes().any(|b| b.is_ascii_digit());
    if !well_formed {
        return Err(format!("{text:?} is not a decimal number"));
    }
    let parsed = if text.contains(['e', 'E']) {
        Decimal::from_scientific(text)
    } else {
        Decimal::from_str_exact(text)
    };
    parsed.map_err(|e| format!("{text:?} is not a usable decimal number ({e})"))
}

fn as_object<'a>(value: &'a Value, field: &str) -> FieldResult<&'a Map<String, Value>> {
    value.as_object().ok_or_else(|| at(field, format!("expected an object, got {}", kind(value))))
}

fn as_string(value: &Value, field: &str) -> FieldResult<String> {
    value
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| at(field, format!("expected a string, got {}", kind(value))))
}

fn as_count(value: &Value, field: &str) -> FieldResult<u64> {
    value.as_u64().ok_or_else(|| at(field, format!("expected a non-negative integer, got {value}")))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
