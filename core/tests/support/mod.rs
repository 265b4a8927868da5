//! Test scaffolding shared by the integration tests: valid events, and a tiny
//! HTTP collector on 127.0.0.1 that answers as each test scripts it.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use std::path::Path;

use costline_core::config::{Config, LedgerSetting};
use costline_core::event::{new_event_id, now_rfc3339, CostSource, Event, Sdk, Status, UsageSource};
use costline_core::pipeline::Pipeline;
use rust_decimal::Decimal;

/// A valid event costing `cost` (None: unpriced).
pub fn event_costing(cost: Option<&str>) -> Event {
    Event {
        event_id: new_event_id(),
        timestamp: now_rfc3339(),
        provider: "openai".into(),
        operation: "chat".into(),
        model: "gpt-4o".into(),
        resolved_model: Some("gpt-4o-2024-08-06".into()),
        input_tokens: 1000,
        output_tokens: 500,
        cached_input_tokens: 200,
        cache_write_input_tokens: 0,
        reasoning_tokens: 0,
        usage_source: UsageSource::Provider,
        cost_usd: cost.map(|c| Decimal::from_str(c).unwrap()),
        cost_source: if cost.is_some() { CostSource::Catalog } else { CostSource::Unknown },
        catalog_version: "test-1".into(),
        price_key: cost.map(|_| "gpt-4o".to_string()),
        latency_ms: 12,
        stream: false,
        status: Status::Ok,
        error_type: None,
        run_id: Some("run-1".into()),
        agent: Some("triage".into()),
        agent_path: vec!["triage".into()],
        tags: BTreeMap::from([("customer".to_string(), "acme".to_string())]),
        sdk: Sdk { lang: "python".into(), version: "0.1.0".into() },
        call_id: None,
        attempt: None,
    }
}

pub fn event() -> Event {
    event_costing(Some("0.00725"))
}

/// Queue `n` fresh events into `pipeline` (each must be accepted); their ids.
pub fn enqueue_all(pipeline: &Pipeline, n: usize) -> HashSet<String> {
    (0..n)
        .map(|_| {
            let e = event();
            let id = e.event_id.clone();
            assert!(pipeline.enqueue(e));
            id
        })
        .collect()
}

/// A ledger at `ledger` and a collector at `base_url` (API key "test-key"),
/// retried after each of `backoff_ms`.
pub fn with_collector(ledger: &Path, base_url: &str, backoff_ms: &[u64]) -> Config {
    Config {
        ledger: LedgerSetting::Path(ledger.to_path_buf()),
        base_url: Some(base_url.to_string()),
        api_key: Some("test-key".into()),
        backoff: backoff_ms.iter().map(|ms| Duration::from_millis(*ms)).collect(),
        ..Config::default()
    }
}

/// A base URL where nothing listens.
pub fn unreachable_base_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// How the test collector answers one request.
#[derive(Clone, Debug)]
pub enum Reply {
    Status(u16),
    StatusWithRetryAfter(u16, &'static str),
    /// Read the request, then never answer.
    Hang,
    /// A status with this JSON body.
    StatusWithBody(u16, String),
    /// A redirect (3xx) to this location.
    Redirect(u16, String),
    /// Hold the answer until this many requests are in flight at once (or
    /// `GATE_LIMIT` passed), then answer with the status.
    AfterConcurrent(usize, u16),
}

/// The longest an `AfterConcurrent` answer waits for company.
pub const GATE_LIMIT: Duration = Duration::from_secs(10);

#[derive(Clone, Debug)]
pub struct Received {
    pub at: Instant,
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub event_ids: Vec<String>,
    pub status: Option<u16>,
}

type Script = dyn Fn(usize, &[String]) -> Reply + Send + Sync;

/// Requests being answered right now, and the most seen at once.
#[derive(Default)]
pub struct InFlight {
    now: AtomicUsize,
    peak: AtomicUsize,
}

pub struct TestCollector {
    pub base_url: String,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
    in_flight: Arc<InFlight>,
}

impl TestCollector {
    /// Start a collector; `script(n)` says how to answer the n-th request (from 0).
    pub fn start(script: impl Fn(usize) -> Reply + Send + Sync + 'static) -> TestCollector {
        TestCollector::start_reading(move |n, _| script(n))
    }

    /// Start a collector whose `script(n, event_ids)` also sees the event ids
    /// of the n-th request.
    pub fn start_reading(
        script: impl Fn(usize, &[String]) -> Reply + Send + Sync + 'static,
    ) -> TestCollector {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let script: Arc<Script> = Arc::new(script);
        let count = Arc::new(AtomicUsize::new(0));
        let in_flight = Arc::new(InFlight::default());
        let (received2, stop2, in_flight2) =
            (Arc::clone(&received), Arc::clone(&stop), Arc::clone(&in_flight));
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let (script, count, received, stop, in_flight) = (
                    Arc::clone(&script),
                    Arc::clone(&count),
                    Arc::clone(&received2),
                    Arc::clone(&stop2),
                    Arc::clone(&in_flight2),
                );
                thread::spawn(move || serve(stream, &*script, &count, &received, &stop, &in_flight));
            }
        });
        TestCollector { base_url, received, stop, in_flight }
    }

    /// The most requests this collector was answering at once.
    pub fn peak_in_flight(&self) -> usize {
        self.in_flight.peak.load(Ordering::SeqCst)
    }

    pub fn always(status: u16) -> TestCollector {
        TestCollector::start(move |_| Reply::Status(status))
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Event ids the collector acknowledged (2xx), each once.
    pub fn delivered_ids(&self) -> HashSet<String> {
        self.received()
            .into_iter()
            .filter(|r| r.status.is_some_and(|s| (200..300).contains(&s)))
            .flat_map(|r| r.event_ids)
            .collect()
    }
}

impl Drop for TestCollector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Unblock the accept loop.
        let _ = TcpStream::connect(self.base_url.trim_start_matches("http://"));
    }
}

fn serve(
    stream: TcpStream,
    script: &Script,
    count: &AtomicUsize,
    received: &Mutex<Vec<Received>>,
    stop: &AtomicBool,
    in_flight: &InFlight,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let (mut length, mut authorization, mut content_type) = (0usize, None, None);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim().to_string();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse().unwrap_or(0),
                "authorization" => authorization = Some(value),
                "content-type" => content_type = Some(value),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let event_ids = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("events").and_then(|e| e.as_array()).cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e.get("event_id").and_then(|id| id.as_str()).map(String::from))
        .collect();
    let event_ids: Vec<String> = event_ids;
    let now = in_flight.now.fetch_add(1, Ordering::SeqCst) + 1;
    in_flight.peak.fetch_max(now, Ordering::SeqCst);
    let reply = script(count.fetch_add(1, Ordering::SeqCst), &event_ids);
    let status = match &reply {
        Reply::Status(s)
        | Reply::StatusWithRetryAfter(s, _)
        | Reply::StatusWithBody(s, _)
        | Reply::Redirect(s, _)
        | Reply::AfterConcurrent(_, s) => Some(*s),
        Reply::Hang => None,
    };
    received.lock().unwrap().push(Received {
        at: Instant::now(),
        method,
        path,
        authorization,
        content_type,
        event_ids,
        status,
    });
    let mut stream = stream;
    match reply {
        Reply::Hang => {
            while !stop.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(50));
            }
        }
        Reply::Status(status) => respond(&mut stream, status, "", "{}"),
        Reply::StatusWithRetryAfter(status, after) => {
            respond(&mut stream, status, &format!("Retry-After: {after}\r\n"), "{}")
        }
        Reply::StatusWithBody(status, body) => respond(&mut stream, status, "", &body),
        Reply::Redirect(status, location) => {
            respond(&mut stream, status, &format!("Location: {location}\r\n"), "")
        }
        Reply::AfterConcurrent(company, status) => {
            let deadline = Instant::now() + GATE_LIMIT;
            while in_flight.peak.load(Ordering::SeqCst) < company && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(5));
            }
            respond(&mut stream, status, "", "{}")
        }
    }
    in_flight.now.fetch_sub(1, Ordering::SeqCst);
}

fn respond(stream: &mut TcpStream, status: u16, extra_headers: &str, body: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status} Scripted\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra_headers}Connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
}

/// Poll `condition` until it holds or `timeout` passes; for outcomes that
/// background threads produce without a flush to wait on.
pub fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    condition()
}

/// Wait for a forked child's exit code; kill it and fail if it hangs (a
/// deadlock after fork is the bug these tests look for).
pub fn wait_for_child(child: libc::pid_t) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut status = 0;
        // SAFETY: waitpid on our own child with a valid status pointer.
        let done = unsafe { libc::waitpid(child, &mut status, libc::WNOHANG) };
        if done == child {
            assert!(libc::WIFEXITED(status), "child ended abnormally: status {status}");
            return libc::WEXITSTATUS(status);
        }
        if Instant::now() > deadline {
            // SAFETY: signalling our own child process.
            unsafe { libc::kill(child, libc::SIGKILL) };
            panic!("the child process hung (deadlock after fork?)");
        }
        thread::sleep(Duration::from_millis(20));
    }
}
