//! Each candidate's worst-case cost: the prompt counted exactly (once per encoding, however
//! many candidates share it), priced at the input rate, plus the most output the call may
//! produce (the request's limit, else the catalog's maximum for the model) at the output rate.
//! The same estimate budgets reserve (`budget::estimate`), without counting again per model.

use std::sync::RwLock;

use once_cell::sync::Lazy;
use rustc_hash::FxHashMap;
use serde_json::Value;

use super::pool::Candidate;
use super::Row;
use crate::budget::estimate::{requested_max_output, FALLBACK_MAX_OUTPUT};
use crate::catalog;
use crate::cost::price_usage;
use crate::tokens::{self, encoding_for_model, Encoding};
use crate::usage::Usage;

/// The table's rows (not yet judged) and the prompt's token count the classifier uses
/// (o200k's when any candidate counts with it).
pub(super) fn price(pool: &[Candidate], request: &Value) -> (Vec<Row>, u64) {
    let pricing = catalog::current();
    let requested = requested_max_output(Some(request));
    let mut counts: [Option<u64>; 2] = [None, None];
    let mut count = |encoding: Encoding, model: &str| -> u64 {
        let slot = &mut counts[encoding.index()];
        *slot.get_or_insert_with(|| tokens::estimate_usage("openai", "chat", model, request, "").input_tokens)
    };
    let rows: Vec<Row> = pool
        .iter()
        .map(|candidate| {
            let prompt_tokens = count(encoding_of(candidate.model), candidate.model);
            let resolved = pricing.resolve(&candidate.provider, candidate.model);
            let max_output_tokens = requested
                .or_else(|| resolved.and_then(|r| r.price.max_output_tokens))
                .unwrap_or(FALLBACK_MAX_OUTPUT);
            let usage =
                Usage { input_tokens: prompt_tokens, output_tokens: max_output_tokens, ..Usage::default() };
            Row {
                model: candidate.model.to_string(),
                provider: candidate.provider.to_string(),
                price_key: resolved.map(|r| r.key.to_string()),
                prompt_tokens,
                max_output_tokens,
                cost_usd: resolved.map(|r| price_usage(r.price, &usage)),
                quality: candidate.quality.map(|(score, _)| score),
                quality_source: candidate.quality.map(|(_, source)| source),
                latency_ms: candidate.latency_ms,
                eligible: false,
                why_not: None,
            }
        })
        .collect();
    let classify_tokens =
        counts[Encoding::O200kBase.index()].or(counts[Encoding::Cl100kBase.index()]).unwrap_or(0);
    (rows, classify_tokens)
}

/// `encoding_for_model`, remembered: a pool names the same models decision after decision,
/// and tiktoken's name lookup costs more than the rest of a candidate's pricing.
fn encoding_of(model: &str) -> Encoding {
    static KNOWN: Lazy<RwLock<FxHashMap<Box<str>, Encoding>>> = Lazy::new(Default::default);
    const LIMIT: usize = 4096;
    if let Some(encoding) = KNOWN.read().unwrap_or_else(|p| p.into_inner()).get(model) {
        return *encoding;
    }
    let encoding = encoding_for_model(model);
    let mut known = KNOWN.write().unwrap_or_else(|p| p.into_inner());
    if known.len() >= LIMIT {
        known.clear();
    }
    known.insert(model.into(), encoding);
    encoding
}
