//! Fallback translation figures (issue 10): `cargo bench -p costline-core --bench translate`.
//!
//! Inputs are the shared vectors (tests/vectors/translate): per direction, the time to
//! translate a request (source → target) plus its response (target → source), which is the
//! time translation adds to one non-stream call, and the time per stream chunk. Medians of
//! a few rounds; targets: ≤ 20 µs per call, ≤ 2 µs per chunk. Expect ±20% noise on a shared machine.

use std::hint::black_box;
use std::time::{Duration, Instant};

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

fn median(rounds: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[rounds / 2]
}

fn us(d: Duration, n: usize) -> f64 {
    d.as_secs_f64() * 1e6 / n as f64
}

fn main() {
    let requests = load("requests.json");
    let responses = load("responses.json");
    let streams = load("streams.json");
    let n = 2_000;
    println!("fallback translation (release build; median of 5 rounds)\n");
    println!(
        "{:<22} {:>11} {:>11} {:>12} {:>14} {:>10}",
        "source <- target", "plain req", "rich req", "response", "rich call", "chunk"
    );
    let (mut worst_call, mut worst_chunk) = (0f64, 0f64);
    for source in Api::ALL {
        for target in Api::ALL {
            if source == target {
                continue;
            }
            let plain = find(&requests, source, target, "plain");
            let plain_model = plain["options"]["model"].as_str().unwrap();
            let plain_time = median(5, || {
                for _ in 0..n {
                    black_box(
                        translate_request(source, target, black_box(&plain["input"]), plain_model).unwrap(),
                    );
                }
            });
            let request = find(&requests, source, target, "rich");
            let model = request["options"]["model"].as_str().unwrap();
            let req_time = median(5, || {
                for _ in 0..n {
                    black_box(
                        translate_request(source, target, black_box(&request["input"]), model).unwrap(),
                    );
                }
            });
            let response = find(&responses, source, target, "tool-call");
            let ctx = ResponseContext::from_value(&response["options"]).unwrap();
            let resp_time = median(5, || {
                for _ in 0..n {
                    black_box(
                        translate_response(source, target, black_box(&response["input"]), &ctx).unwrap(),
                    );
                }
            });
            let stream = find(&streams, source, target, "text stream");
            let events = stream["input"].as_array().unwrap();
            let sctx = ResponseContext::from_value(&stream["options"]).unwrap();
            let rounds = n / 4;
            let chunk_time = median(5, || {
                for _ in 0..rounds {
                    let mut t = StreamTranslator::new(source, target, sctx.clone());
                    for e in events {
                        black_box(t.push(black_box(e)).unwrap());
                    }
                    black_box(t.finish());
                }
            });
            let (pq, rq, rs, ch) =
                (us(plain_time, n), us(req_time, n), us(resp_time, n), us(chunk_time, rounds * events.len()));
            worst_call = worst_call.max(rq + rs);
            worst_chunk = worst_chunk.max(ch);
            let label = format!("{} <- {}", source.name(), target.name());
            println!("{label:<22} {pq:>11.2} {rq:>11.2} {rs:>12.2} {:>14.2} {ch:>10.2}", rq + rs);
        }
    }
    println!(
        "\nµs. rich call: the rich request (system, image, tool call and result, tools, JSON schema, sampling)\n\
         plus a tool-call response; chunk: per target stream event, the stream's end included.\n\
         worst pair: {worst_call:.2} µs per rich call (target ≤ 20), {worst_chunk:.2} µs per chunk (target ≤ 2)"
    );
}
