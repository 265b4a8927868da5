//! The collector sink: POST `{base_url}/v1/events` with `{"events": [...]}`.
//! Each attempt is bounded by the configured timeout. Nothing here logs an
//! event body or the API key, and the URL is only ever shown masked (it may
//! carry credentials).
//!
//! The collector's answers, and what each means for the events of the batch:
//! - 2xx, 409: acknowledged. A 2xx body may name events it refused anyway,
//!   `{"rejected": [{"event_id": "...", "reason": "..."}]}`: those are
//!   dead-lettered, the rest acknowledged.
//! - 400 naming events in that same shape: those events are invalid and are
//!   dead-lettered; the collector stored none of the batch, so the rest is
//!   sent again at once.
//! - 408, 429, 5xx, no answer: kept, retried on the configured backoff.
//! - 413: the batch is split in halves and each is sent (down to one event;
//!   one event still too large is dead-lettered).
//! - Any other 4xx (401, 403, 404, a 400 naming nothing...) and redirects:
//!   a configuration problem only a person can fix. The events are kept and
//!   retried on a long backoff, and what to fix is logged once, loudly.

use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use reqwest::header::{HeaderMap, AUTHORIZATION, LOCATION, RETRY_AFTER};
use reqwest::{Certificate, StatusCode};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::event::Event;
use crate::secrets::mask_url;
use crate::{Error, Result};

/// The most of an answer's body read (to find refused event ids).
const MAX_BODY: u64 = 1 << 20;

/// How one export attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// 2xx, or 409 (the collector already has these event ids). `refused`:
    /// events a 2xx answer named as refused all the same.
    Acknowledged { refused: Vec<Refusal> },
    /// 408, 429, 5xx, or no answer: try again later; `after` is the server's
    /// Retry-After when it sent one.
    Retry { after: Option<Duration>, reason: String },
    /// 413: the batch is too large for the collector.
    TooLarge,
    /// 400 naming invalid events: they are refused, the rest was not stored.
    Invalid { refused: Vec<Refusal> },
    /// Any other 4xx, or a redirect: only a person can fix this. `fix` says what to check.
    Misconfigured { status: u16, fix: String },
}

/// One event the collector refused for good.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Refusal {
    pub event_id: String,
    #[serde(default)]
    pub reason: String,
}

#[derive(Serialize)]
struct Batch<'a> {
    events: &'a [&'a Event],
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    rejected: Vec<Refusal>,
}

/// An API key over plain http to another machine was warned about (once per process).
static CLEARTEXT_KEY_WARNED: AtomicBool = AtomicBool::new(false);

pub(crate) struct Collector {
    /// Built on first use (see `client`), then shared by the export workers:
    /// a clone shares the connection pool.
    client: OnceLock<reqwest::blocking::Client>,
    url: String,
    /// `url` with credentials masked: what logs and errors show.
    shown_url: String,
    api_key: Option<String>,
    timeout: Duration,
    ca_bundle: Option<std::path::PathBuf>,
}

impl Collector {
    pub(crate) fn new(config: &Config, base_url: &str) -> Collector {
        let url = format!("{}/v1/events", base_url.trim_end_matches('/'));
        if config.api_key.is_some()
            && sends_in_clear(&url)
            && !CLEARTEXT_KEY_WARNED.swap(true, Ordering::Relaxed)
        {
            log::warn!(
                "costline: the collector URL {} is plain http:// to a host that is not this machine: \
                 the API key (COSTLINE_API_KEY) travels unencrypted; use https://",
                mask_url(&url)
            );
        }
        Collector {
            client: OnceLock::new(),
            shown_url: mask_url(&url),
            url,
            api_key: config.api_key.clone(),
            timeout: config.timeout,
            ca_bundle: config.ca_bundle.clone(),
        }
    }

    /// Build the HTTP client now, in the exporter thread (reqwest's blocking
    /// client runs its own runtime thread, which a process that never exports
    /// should not pay for).
    pub(crate) fn ready(&self) -> std::result::Result<(), String> {
        if self.client.get().is_none() {
            let client = build_client(self.timeout, self.ca_bundle.as_deref())?;
            let _ = self.client.set(client);
        }
        Ok(())
    }

    /// Post one batch. Safe to call from several threads at once.
    pub(crate) fn post(&self, events: &[&Event]) -> Delivery {
        if let Err(reason) = self.ready() {
            return Delivery::Retry { after: None, reason };
        }
        let client = self.client.get().expect("built by ready()");
        let mut request = client.post(&self.url).json(&Batch { events });
        if let Some(key) = &self.api_key {
            request = request.header(AUTHORIZATION, format!("Bearer {key}"));
        }
        match request.send() {
            Ok(response) => {
                let (status, headers) = (response.status(), response.headers().clone());
                let mut body = Vec::new();
                // A body we cannot read only loses the names of refused events.
                let _ = response.take(MAX_BODY).read_to_end(&mut body);
                let ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
                classify(status, &headers, &body, &ids, &self.shown_url)
            }
            Err(e) => Delivery::Retry { after: None, reason: describe(&e.without_url()) },
        }
    }
}

fn build_client(
    timeout: Duration,
    ca_bundle: Option<&Path>,
) -> std::result::Result<reqwest::blocking::Client, String> {
    let mut builder = reqwest::blocking::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        // A redirect is a wrong base URL: following it could send the key
        // elsewhere, and a 301 on POST turns into a GET that "succeeds".
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("costline/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = ca_bundle {
        for cert in load_ca_bundle(path).map_err(|e| e.to_string())? {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().map_err(|e| format!("could not build the HTTP client: {}", describe(&e.without_url())))
}

/// Read a PEM file of CA certificates, refusing one that holds none or that
/// TLS cannot use (checked by building a client with it, which does no I/O).
pub(crate) fn load_ca_bundle(path: &Path) -> Result<Vec<Certificate>> {
    let fail = |why: String| Error::Config(format!("CA bundle {}: {why}", path.display()));
    let pem = std::fs::read(path).map_err(|e| fail(format!("cannot be read: {e}")))?;
    let certs = Certificate::from_pem_bundle(&pem).map_err(|e| fail(format!("is not valid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(fail("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into()));
    }
    let mut check = reqwest::Client::builder();
    for cert in &certs {
        check = check.add_root_certificate(cert.clone());
    }
    check.build().map_err(|e| fail(format!("holds a certificate TLS cannot use: {e}")))?;
    Ok(certs)
}

/// True when a request to `url` would cross the network unencrypted: plain
/// http to a host other than this machine.
fn sends_in_clear(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else {
        return false;
    };
    if url.scheme() != "http" {
        return false;
    }
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => !ip.is_loopback(),
        Err(_) => {
            let name = host.trim_end_matches('.').to_ascii_lowercase();
            name != "localhost" && !name.ends_with(".localhost")
        }
    }
}

pub(crate) fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    batch: &[&str],
    url: &str,
) -> Delivery {
    let named = || named_refusals(body, batch);
    if status.is_success() {
        return Delivery::Acknowledged { refused: named() };
    }
    if status == StatusCode::CONFLICT {
        return Delivery::Acknowledged { refused: Vec::new() };
    }
    if status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
    {
        let after = headers.get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
        return Delivery::Retry { after, reason: format!("HTTP {}", status.as_u16()) };
    }
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return Delivery::TooLarge;
    }
    if status == StatusCode::BAD_REQUEST {
        let refused = named();
        if !refused.is_empty() {
            return Delivery::Invalid { refused };
        }
    }
    let code = status.as_u16();
    let fix = match code {
        300..=399 => {
            let to = headers.get(LOCATION).and_then(|v| v.to_str().ok()).map(mask_url);
            format!(
                "the collector answered with a redirect (HTTP {code}{}); costline does not follow redirects: \
                 set COSTLINE_BASE_URL to the final address (events go to {url})",
                to.map(|to| format!(" to {to}")).unwrap_or_default()
            )
        }
        401 => "the collector answered 401 Unauthorized: check COSTLINE_API_KEY".to_string(),
        403 => "the collector answered 403 Forbidden: check that COSTLINE_API_KEY may post events".to_string(),
        404 => format!("the collector answered 404 Not Found: check COSTLINE_BASE_URL, events go to {url}"),
        400 => format!(
            "the collector answered 400 Bad Request without naming invalid events: check that COSTLINE_BASE_URL \
             is a costline collector (events go to {url})"
        ),
        _ => format!("the collector answered HTTP {code}: check COSTLINE_BASE_URL, events go to {url}"),
    };
    Delivery::Misconfigured { status: code, fix }
}

/// The events of `batch` a collector's answer names as refused (names of
/// events not in the batch are ignored: they cannot be ours to settle).
fn named_refusals(body: &[u8], batch: &[&str]) -> Vec<Refusal> {
    let Ok(answer) = serde_json::from_slice::<Answer>(body) else {
        return Vec::new();
    };
    let mut refused: Vec<Refusal> =
        answer.rejected.into_iter().filter(|r| batch.contains(&r.event_id.as_str())).collect();
    refused.sort_by(|a, b| a.event_id.cmp(&b.event_id));
    refused.dedup_by(|a, b| a.event_id == b.event_id);
    for r in &mut refused {
        if r.reason.is_empty() {
            r.reason = "refused by the collector (no reason given)".into();
        }
    }
    refused
}

/// Retry-After in seconds. (The HTTP-date form is rare from APIs and is
/// treated as absent: the configured backoff applies.)
fn parse_retry_after(value: &str) -> Option<Duration> {
    let seconds: f64 = value.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds))
}

/// The wait before the next attempt: the server's Retry-After when given,
/// else the configured backoff step; never more than the longest step.
pub(crate) fn retry_delay(backoff: &[Duration], failures: usize, retry_after: Option<Duration>) -> Duration {
    let longest = backoff.iter().max().copied().unwrap_or(Duration::from_secs(1));
    let step = backoff.get(failures.saturating_sub(1)).or(backoff.last()).copied().unwrap_or(longest);
    retry_after.unwrap_or(step).min(longest)
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        e.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    const URL: &str = "https://collector.example/v1/events";

    fn with_header(name: reqwest::header::HeaderName, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_str(value).unwrap());
        headers
    }

    fn status(code: u16) -> StatusCode {
        StatusCode::from_u16(code).unwrap()
    }

    fn plain(code: u16) -> Delivery {
        classify(status(code), &HeaderMap::new(), b"", &["a", "b"], URL)
    }

    #[test]
    fn success_and_conflict_are_acknowledgements() {
        for code in [200, 201, 202, 204, 409] {
            assert_eq!(plain(code), Delivery::Acknowledged { refused: vec![] });
        }
    }

    #[test]
    fn throttling_timeouts_and_server_errors_are_retried() {
        for code in [408, 429, 500, 502, 503, 504] {
            assert!(matches!(plain(code), Delivery::Retry { after: None, .. }));
        }
    }

    #[test]
    fn auth_path_and_other_client_errors_are_configuration_problems_not_rejections() {
        for code in [400, 401, 403, 404, 405, 415, 422] {
            assert!(
                matches!(plain(code), Delivery::Misconfigured { status, .. } if status == code),
                "HTTP {code}: {:?}",
                plain(code)
            );
        }
    }

    #[test]
    fn configuration_problems_say_what_to_fix() {
        let fix = |code| match plain(code) {
            Delivery::Misconfigured { fix, .. } => fix,
            other => panic!("{other:?}"),
        };
        assert!(fix(401).contains("check COSTLINE_API_KEY"), "{}", fix(401));
        assert!(fix(403).contains("COSTLINE_API_KEY"));
        assert!(fix(404).contains("check COSTLINE_BASE_URL") && fix(404).contains(URL), "{}", fix(404));
    }

    #[test]
    fn redirects_are_configuration_problems_with_the_target_masked() {
        let headers = with_header(LOCATION, "https://u:pw@elsewhere.example/v1/events?token=t0k");
        let delivery = classify(status(301), &headers, b"", &["a"], URL);
        let Delivery::Misconfigured { status: 301, fix } = delivery else { panic!("{delivery:?}") };
        assert!(fix.contains("redirect") && fix.contains("elsewhere.example"), "{fix}");
        assert!(!fix.contains("pw") && !fix.contains("t0k"), "{fix}");
    }

    #[test]
    fn payload_too_large_asks_for_a_split() {
        assert_eq!(plain(413), Delivery::TooLarge);
    }

    #[test]
    fn bad_request_naming_events_refuses_only_those_in_the_batch() {
        let body = br#"{"rejected": [{"event_id": "b", "reason": "tags: too many"}, {"event_id": "zzz"}]}"#;
        let delivery = classify(status(400), &HeaderMap::new(), body, &["a", "b"], URL);
        assert_eq!(
            delivery,
            Delivery::Invalid {
                refused: vec![Refusal { event_id: "b".into(), reason: "tags: too many".into() }]
            }
        );
        let only_strangers = br#"{"rejected": [{"event_id": "zzz", "reason": "x"}]}"#;
        assert!(matches!(
            classify(status(400), &HeaderMap::new(), only_strangers, &["a"], URL),
            Delivery::Misconfigured { status: 400, .. }
        ));
    }

    #[test]
    fn success_naming_events_acknowledges_the_rest() {
        let body = br#"{"accepted": 1, "rejected": [{"event_id": "a"}]}"#;
        let Delivery::Acknowledged { refused } =
            classify(status(200), &HeaderMap::new(), body, &["a", "b"], URL)
        else {
            panic!()
        };
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].event_id, "a");
        assert!(!refused[0].reason.is_empty());
    }

    #[test]
    fn retry_after_seconds_are_read() {
        let delivery = classify(status(429), &with_header(RETRY_AFTER, "7"), b"", &[], URL);
        assert!(matches!(delivery, Delivery::Retry { after: Some(d), .. } if d == Duration::from_secs(7)));
        let date =
            classify(status(503), &with_header(RETRY_AFTER, "Wed, 21 Oct 2015 07:28:00 GMT"), b"", &[], URL);
        assert!(matches!(date, Delivery::Retry { after: None, .. }));
    }

    #[test]
    fn retry_delay_follows_backoff_and_caps_retry_after() {
        let backoff: Vec<Duration> = [1, 2, 4].iter().map(|s| Duration::from_secs(*s)).collect();
        assert_eq!(retry_delay(&backoff, 1, None), Duration::from_secs(1));
        assert_eq!(retry_delay(&backoff, 2, None), Duration::from_secs(2));
        assert_eq!(retry_delay(&backoff, 9, None), Duration::from_secs(4));
        assert_eq!(retry_delay(&backoff, 1, Some(Duration::from_secs(3))), Duration::from_secs(3));
        assert_eq!(retry_delay(&backoff, 1, Some(Duration::from_secs(3600))), Duration::from_secs(4));
        assert_eq!(retry_delay(&[], 1, None), Duration::from_secs(1));
    }

    #[test]
    fn plain_http_is_flagged_only_off_this_machine() {
        for url in ["http://collector.example/v1/events", "http://10.0.0.5:8080/v1/events"] {
            assert!(sends_in_clear(url), "{url}");
        }
        for url in [
            "https://collector.example/v1/events",
            "http://127.0.0.1:9/v1/events",
            "http://[::1]:9/v1/events",
            "http://localhost:9/v1/events",
        ] {
            assert!(!sends_in_clear(url), "{url}");
        }
    }

    #[test]
    fn a_ca_bundle_without_certificates_is_a_clear_configuration_error() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("ca.pem");
        std::fs::write(&garbage, "not a certificate").unwrap();
        let error = load_ca_bundle(&garbage).unwrap_err().to_string();
        assert!(error.contains("ca.pem") && error.contains("no PEM certificate"), "{error}");
        let missing = load_ca_bundle(&dir.path().join("missing.pem")).unwrap_err().to_string();
        assert!(missing.contains("missing.pem") && missing.contains("cannot be read"), "{missing}");
    }
}
