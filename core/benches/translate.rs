//! Fallback translation figures (issue 10): `cargo bench -p costline-core --bench translate`.
//!
//! Inputs are the shared vectors (tests/vectors/translate): per direction, the time to
//! translate a request (source → target) plus its response (target → source), which is the
//! time translation adds to one non-stream call, and the time per stream chunk. Medians of
//! a few rounds of the thread's CPU time (see support/clock.rs); targets: ≤ 20 µs per call,
//! ≤ 2 µs per chunk. Beside each pair, the raw figure: the same call between two clients of
//! the source's own API (no translation: the body passed on, as a same-provider fallback does).

use std::hint::black_box;

#[path = "support/clock.rs"]
mod clock;

use costline_core::translate::{
    translate_request, translate_response, Api, ResponseContext, StreamTranslator,
};
use serde_json::Value;

fn load(name: &str) -> Vec<Value> {
    let path = format!("{}/../tests/vectors/translate/{name}", env!("CARGO_MANIFEST_DIR"));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("vectors")).expect("JSON");
    doc["cases"].as_array().expect("cases").clone()
}

fn find<'a>(cases: &'a [Value], source: Api, target: Api, name_part: &str) -> &'a Value {
    cases
        .iter()
        .find(|c| {
            c["source"] == source.name()
                && c["target"] == target.name()
                && c["name"].as_str().unwrap().contains(name_part)
        })
        .expect("vector for the pair")
}

/// CPU µs per call of `f`, median of 7 rounds of `n` calls; the wall time goes to `walls`.
fn cpu_us(n: usize, walls: &mut Vec<f64>, f: impl FnMut()) -> f64 {
    let (cpu, wall) = clock::median_us(7, n, f);
    walls.push(wall / cpu);
    cpu
}

fn main() {
    let requests = load("requests.json");
    let responses = load("responses.json");
    let streams = load("streams.json");
    let n = 2_000;
    println!("fallback translation (release build; thread CPU time, median of 7 rounds)\n");
    println!(
        "{:<22} {:>9} {:>9} {:>9} {:>15} {:>15} {:>12}",
        "source <- target",
        "plain req",
        "rich req",
        "response",
        "rich call (raw)",
        "chunk (raw)",
        "out chunk"
    );
    let (mut worst_call, mut worst_chunk, mut worst_out, mut walls) = (0f64, 0f64, 0f64, Vec::new());
    for source in Api::ALL {
        for target in Api::ALL {
            if source == target {
                continue;
            }
            let plain = find(&requests, source, target, "plain");
            let plain_model = plain["options"]["model"].as_str().unwrap();
            let pq = cpu_us(n, &mut walls, || {
                black_box(
                    translate_request(source, target, black_box(&plain["input"]), plain_model).unwrap(),
                );
            });
            let request = find(&requests, source, target, "rich");
            let model = request["options"]["model"].as_str().unwrap();
            let rq = cpu_us(n, &mut walls, || {
                black_box(translate_request(source, target, black_box(&request["input"]), model).unwrap());
            });
            let response = find(&responses, source, target, "tool-call");
            let ctx = ResponseContext::from_value(&response["options"]).unwrap();
            let rs = cpu_us(n, &mut walls, || {
                black_box(translate_response(source, target, black_box(&response["input"]), &ctx).unwrap());
            });
            // Raw: the same request and the source-shaped response between two clients of the
            // source's API (no translation).
            let raw_call = cpu_us(n, &mut walls, || {
                black_box(translate_request(source, source, black_box(&request["input"]), model).unwrap());
                black_box(
                    translate_response(source, source, black_box(&response["expected"]), &ctx).unwrap(),
                );
            });
            let stream = find(&streams, source, target, "text stream");
            let events = stream["input"].as_array().unwrap();
            let sctx = ResponseContext::from_value(&stream["options"]).unwrap();
            let per_stream = |source: Api, target: Api, events: &[Value]| {
                let mut t = StreamTranslator::new(source, target, sctx.clone());
                for e in events {
                    black_box(t.push(black_box(e)).unwrap());
                }
                black_box(t.finish());
            };
            let whole = cpu_us(n / 4, &mut walls, || per_stream(source, target, events));
            let ch = whole / events.len() as f64;
            let source_chunks = stream["expected"].as_array().unwrap();
            // The same stream per chunk the caller receives: a Gemini event carries text, finish
            // and usage at once and becomes up to 3 chunks, so per target event it costs more.
            let out = whole / source_chunks.len() as f64;
            let raw_chunk = cpu_us(n / 4, &mut walls, || per_stream(source, source, source_chunks))
                / source_chunks.len() as f64;
            worst_call = worst_call.max(rq + rs);
            worst_chunk = worst_chunk.max(ch);
            worst_out = worst_out.max(out);
            let label = format!("{} <- {}", source.name(), target.name());
            let call = format!("{:.2} ({raw_call:.2})", rq + rs);
            let chunk = format!("{ch:.2} ({raw_chunk:.2})");
            println!("{label:<22} {pq:>9.2} {rq:>9.2} {rs:>9.2} {call:>15} {chunk:>15} {out:>12.2}");
        }
    }
    walls.sort_by(f64::total_cmp);
    println!(
        "\nµs of CPU. rich call: the rich request (system, image, tool call and result, tools, JSON schema,\n\
         sampling) plus a tool-call response; chunk: per target stream event, the stream's start and end\n\
         included; out chunk: the same stream per source chunk the caller receives.\n\
         raw: the same between two clients of the source's API (passed on untranslated).\n\
         worst pair: {worst_call:.2} µs per rich call (target ≤ 20), {worst_chunk:.2} µs per target event\n\
         (target ≤ 2 per chunk), {worst_out:.2} µs per source chunk.\n\
         Machine load: wall time was {:.1}x the CPU time (median).",
        walls[walls.len() / 2]
    );
}
