//! The routing decision's cost: `cargo bench -p costline-core --bench routing`.
//!
//! 50 candidates from the catalog (chat models of OpenAI, Anthropic, Gemini, Mistral), each
//! with a score, on a 2 KB prompt: prompt counted once per encoding, 50 worst cases priced,
//! the task classified, the pick and the table built. Target: <= 50 µs per decision.
//! Two pools: every model on o200k (today's models: one count), and one that also holds
//! cl100k models (gpt-4, gpt-3.5: a second count of the same prompt). Figures are the
//! thread's CPU time, median of 15 rounds (see support/clock.rs), with the wall time beside
//! them. `make bench` keeps the lines that start with `count` or `decide`.

use std::hint::black_box;

#[path = "support/clock.rs"]
mod clock;

use costline_core::catalog;
use costline_core::routing::{self, CandidateSpec, RouteInput};
use costline_core::tokens::{self, encoding_for_model, Encoding};
use serde_json::json;

fn prompt_2kb() -> String {
    let sentence = "The customer says the parcel arrived late and the box was damaged; they ask for a refund of the shipping fee and want to know whether the item can be exchanged. ";
    sentence.repeat(2048 / sentence.len() + 1)[..2048].to_string()
}

fn pool(with_cl100k: bool) -> Vec<CandidateSpec> {
    let pricing = catalog::current();
    let mut models: Vec<(String, String)> = pricing
        .entries()
        .filter(|e| e.price.mode.as_deref() == Some("chat") && !e.key.contains('/') && !e.key.contains(':'))
        .filter_map(|e| {
            let provider = match e.price.provider.as_deref()? {
                "openai" => "openai",
                "anthropic" => "anthropic",
                "gemini" => "google",
                "mistral" => "mistral",
                _ => return None,
            };
            Some((e.key.to_string(), provider.to_string()))
        })
        .filter(|(model, _)| with_cl100k || encoding_for_model(model) == Encoding::O200kBase)
        .collect();
    models.sort();
    if with_cl100k {
        // Put the cl100k models first so that 50 of them include some.
        models.sort_by_key(|(model, _)| encoding_for_model(model) != Encoding::Cl100kBase);
    }
    models
        .into_iter()
        .take(50)
        .enumerate()
        .map(|(i, (model, provider))| CandidateSpec {
            model,
            provider: Some(provider),
            quality: Some(40.0 + (i % 40) as f64),
            latency_ms: None,
        })
        .collect()
}

fn report(label: &str, iterations: usize, f: impl FnMut()) {
    let (cpu, wall) = clock::median_us(15, iterations, f);
    println!("{label:<52} {cpu:>7.1} µs CPU  (wall {wall:>6.1} µs)");
}

fn main() {
    let request = json!({
        "model": "auto",
        "max_tokens": 500,
        "messages": [
            {"role": "system", "content": "You are a support assistant."},
            {"role": "user", "content": prompt_2kb()},
        ],
    });
    // The floor: counting the prompt once, which every decision must do. Encoders built first.
    tokens::encoder(Encoding::O200kBase).expect("builds");
    tokens::encoder(Encoding::Cl100kBase).expect("builds");
    // Every iteration sends the same prompt: without this, its counts would come from the
    // memo of texts seen recently, and the figures would not be a first sight of a prompt.
    tokens::set_memo_enabled(false);
    report("count the 2 KB request once (o200k), for comparison", 400, || {
        black_box(tokens::estimate_usage("openai", "chat", "gpt-4o", black_box(&request), ""));
    });
    for (name, with_cl100k) in [("o200k only", false), ("o200k + cl100k", true)] {
        let input =
            RouteInput { request: request.clone(), candidates: pool(with_cl100k), ..Default::default() };
        assert_eq!(input.candidates.len(), 50, "the catalog has 50 candidates for {name}");
        // The catalog and the per-model caches warm outside the measurement.
        routing::decide(&input).expect("routes");
        report(&format!("decide: 50 candidates, 2 KB prompt, {name}"), 200, || {
            black_box(routing::decide(black_box(&input)).unwrap());
        });
    }
}
