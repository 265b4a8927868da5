//! The candidate pool: the caller's candidates, else the shipped quality table's models;
//! pinned to `models` when given, kept to `providers` when given; each with its quality
//! (the caller's score first, then the table's) and latency (the caller's).

use std::borrow::Cow;

use super::quality;
use super::{CandidateSpec, RouteInput};
use crate::catalog;

/// Names borrow the input or the quality table: the table's rows copy them once.
#[derive(Debug, Clone)]
pub(super) struct Candidate<'a> {
    pub model: &'a str,
    pub provider: Cow<'a, str>,
    pub quality: Option<(f64, &'static str)>,
    pub latency_ms: Option<u64>,
}

pub(super) fn build(input: &RouteInput) -> Vec<Candidate<'_>> {
    let listed = |model: &str| input.candidates.iter().find(|c| c.model == model);
    let from_table = |entry: &'static quality::QualityEntry| Candidate {
        model: &entry.model,
        provider: Cow::Borrowed(&entry.provider),
        quality: None,
        latency_ms: None,
    };
    // Each pool entry with the caller's spec for it, if any (found once, not per lookup).
    let mut pool: Vec<(Candidate, Option<&CandidateSpec>)> = match &input.models {
        Some(models) => models
            .iter()
            .map(|name| match listed(name) {
                Some(spec) => (from_spec(spec), Some(spec)),
                None => match quality::shipped_score(name) {
                    Some(entry) => (from_table(entry), None),
                    None => (
                        Candidate {
                            model: name,
                            provider: Cow::Owned(catalog_provider(name).unwrap_or_default()),
                            quality: None,
                            latency_ms: None,
                        },
                        None,
                    ),
                },
            })
            .collect(),
        None if !input.candidates.is_empty() => {
            input.candidates.iter().map(|s| (from_spec(s), Some(s))).collect()
        }
        None => quality::table().models.iter().map(|e| (from_table(e), None)).collect(),
    };
    if let Some(providers) = &input.providers {
        pool.retain(|(c, _)| providers.iter().any(|p| *p == c.provider));
    }
    pool.into_iter()
        .map(|(mut candidate, spec)| {
            let user_score = match input.scores.is_empty() {
                true => None,
                false => input.scores.get(candidate.model),
            };
            candidate.quality = user_score
                .or_else(|| spec.and_then(|s| s.quality.as_ref()))
                .map(|score| (*score, "user"))
                .or_else(|| quality::shipped_score(candidate.model).map(|e| (e.score, "table")));
            if !input.latencies_ms.is_empty() {
                if let Some(ms) = input.latencies_ms.get(candidate.model) {
                    candidate.latency_ms = Some(*ms);
                }
            }
            candidate
        })
        .collect()
}

fn from_spec(spec: &CandidateSpec) -> Candidate<'_> {
    let provider = match &spec.provider {
        Some(provider) => Cow::Borrowed(provider.as_str()),
        None => match quality::shipped_score(&spec.model) {
            Some(entry) => Cow::Borrowed(entry.provider.as_str()),
            None => Cow::Owned(catalog_provider(&spec.model).unwrap_or_default()),
        },
    };
    Candidate { model: &spec.model, provider, quality: None, latency_ms: spec.latency_ms }
}

/// The provider a model is called through, from the catalog entry of that exact name
/// (the catalog says who bills it, in litellm's words; mapped to costline's providers).
fn catalog_provider(model: &str) -> Option<String> {
    let pricing = catalog::current();
    let billed_by = pricing.get(model)?.price.provider.clone()?;
    let provider = match billed_by.as_str() {
        "gemini" => "google",
        p if p.starts_with("vertex_ai") => "google",
        p if p.starts_with("bedrock") => "bedrock",
        p => p,
    };
    Some(provider.to_string())
}
