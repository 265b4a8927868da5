//! The shipped quality table (`core/data/quality.json`, built by `scripts/build_quality.py`)
//! and the quality levels a task can require.
//!
//! Every score in the table carries the public source it was copied from and that source's
//! date; a model without such a score is never in the default pool (it is routed to only when
//! the caller lists it). Scores are on one scale (the table's `benchmark`, a percentage), so
//! that the level thresholds below mean the same thing for every model; a caller's own scores
//! must use the same scale, or pass their own thresholds (`level_scores`).

use once_cell::sync::Lazy;
use serde::Deserialize;

const EMBEDDED: &str = include_str!("../../data/quality.json");

#[derive(Debug, Clone, Deserialize)]
pub struct QualityTable {
    pub benchmark: String,
    pub retrieved: String,
    pub models: Vec<QualityEntry>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct QualityEntry {
    pub model: String,
    pub provider: String,
    pub score: f64,
    pub benchmark_label: String,
    pub source: String,
    pub source_date: String,
}

static TABLE: Lazy<QualityTable> =
    Lazy::new(|| serde_json::from_str(EMBEDDED).expect("core/data/quality.json is checked by a test"));

/// The embedded table.
pub fn table() -> &'static QualityTable {
    &TABLE
}

/// The shipped score of `model`, if the table has one.
pub fn shipped_score(model: &str) -> Option<&'static QualityEntry> {
    TABLE.models.iter().find(|e| e.model == model)
}

/// Difficulty levels, easiest first: 1 basic, 2 standard, 3 advanced, 4 expert.
pub const LEVELS: u8 = 4;

/// The lowest score that meets each level, on the table's scale (MMLU-Pro %): any scored
/// model handles a basic task; the other bars sit between the published scores of the
/// table's tiers (small open models in the 40s, 70B-class in the 50s, GPT-4-Turbo / Claude 3
/// Opus in the 60s, GPT-4o above 70). Callers with their own scale pass `level_scores`.
pub const DEFAULT_LEVEL_SCORES: [f64; LEVELS as usize] = [0.0, 50.0, 60.0, 70.0];

/// Name of a level, for reasons and tables.
pub fn level_name(level: u8) -> &'static str {
    match level {
        1 => "basic",
        2 => "standard",
        3 => "advanced",
        _ => "expert",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_score_has_a_source_and_a_date() {
        assert!(!table().models.is_empty());
        for entry in &table().models {
            assert!(entry.source.starts_with("https://"), "{}", entry.model);
            assert!(entry.source_date.len() >= 7, "{}", entry.model);
            assert!((0.0..=100.0).contains(&entry.score), "{}", entry.model);
        }
    }

    #[test]
    fn the_shipped_table_is_the_checked_in_source_table() {
        // scripts/build_quality.py builds the JSON from this CSV; a hand edit of one is caught here.
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/quality_sources.csv");
        let mut reader = csv::Reader::from_path(path).unwrap();
        let rows: Vec<Vec<String>> =
            reader.records().map(|r| r.unwrap().iter().map(str::to_string).collect()).collect();
        let shipped: Vec<Vec<String>> = table()
            .models
            .iter()
            .map(|e| {
                vec![
                    e.model.clone(),
                    e.provider.clone(),
                    format!("{:.2}", e.score),
                    e.benchmark_label.clone(),
                    e.source.clone(),
                    e.source_date.clone(),
                ]
            })
            .collect();
        assert_eq!(shipped, rows);
    }

    #[test]
    fn every_shipped_model_has_a_catalog_price_through_its_provider() {
        let pricing = crate::catalog::current();
        for entry in &table().models {
            assert!(pricing.resolve(&entry.provider, &entry.model).is_some(), "{} has no price", entry.model);
        }
    }
}
