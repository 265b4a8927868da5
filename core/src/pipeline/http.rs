//! The collector sink: POST `{base_url}/v1/events` with `{"events": [...]}`.
//! Each attempt is bounded by the configured timeout. Nothing here logs an
//! event body, the API key or the URL (which may carry credentials).

use std::time::Duration;

use reqwest::header::{HeaderMap, AUTHORIZATION, RETRY_AFTER};
use reqwest::StatusCode;
use serde::Serialize;

use crate::event::Event;

/// How one export attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// 2xx, or 409 (the collector already has these event ids).
    Acknowledged,
    /// 408, 429, 5xx, or no answer: try again later; `after` is the server's
    /// Retry-After when it sent one.
    Retry { after: Option<Duration>, reason: String },
    /// Any other 4xx: retrying the same batch cannot succeed.
    Rejected { status: u16 },
}

#[derive(Serialize)]
struct Batch<'a> {
    events: &'a [Event],
}

pub(crate) struct Collector {
    client: Option<reqwest::blocking::Client>,
    url: String,
    api_key: Option<String>,
    timeout: Duration,
}

impl Collector {
    pub(crate) fn new(base_url: &str, api_key: Option<String>, timeout: Duration) -> Collector {
        Collector {
            client: None,
            url: format!("{}/v1/events", base_url.trim_end_matches('/')),
            api_key,
            timeout,
        }
    }

    pub(crate) fn post(&mut self, events: &[Event]) -> Delivery {
        let client = match self.client() {
            Ok(client) => client,
            Err(reason) => return Delivery::Retry { after: None, reason },
        };
        let mut request = client.post(&self.url).json(&Batch { events });
        if let Some(key) = &self.api_key {
            request = request.header(AUTHORIZATION, format!("Bearer {key}"));
        }
        match request.send() {
            Ok(response) => classify(response.status(), response.headers()),
            Err(e) => Delivery::Retry { after: None, reason: describe(&e.without_url()) },
        }
    }

    /// Built on first use, in the exporter thread (reqwest's blocking client
    /// runs its own runtime thread, which a process that never exports should
    /// not pay for).
    fn client(&mut self) -> Result<reqwest::blocking::Client, String> {
        if self.client.is_none() {
            let client = reqwest::blocking::Client::builder()
                .timeout(self.timeout)
                .connect_timeout(self.timeout)
                .user_agent(concat!("costline/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| format!("could not build the HTTP client: {}", describe(&e.without_url())))?;
            self.client = Some(client);
        }
        // A clone shares the connection pool.
        Ok(self.client.clone().expect("built above"))
    }
}

pub(crate) fn classify(status: StatusCode, headers: &HeaderMap) -> Delivery {
    if status.is_success() || status == StatusCode::CONFLICT {
        return Delivery::Acknowledged;
    }
    if status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
    {
        let after = headers.get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
        return Delivery::Retry { after, reason: format!("HTTP {}", status.as_u16()) };
    }
    Delivery::Rejected { status: status.as_u16() }
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

    fn with_retry_after(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn success_and_conflict_are_acknowledgements() {
        for code in [200, 201, 202, 204, 409] {
            assert_eq!(
                classify(StatusCode::from_u16(code).unwrap(), &HeaderMap::new()),
                Delivery::Acknowledged
            );
        }
    }

    #[test]
    fn throttling_timeouts_and_server_errors_are_retried() {
        for code in [408, 429, 500, 502, 503, 504] {
            assert!(matches!(
                classify(StatusCode::from_u16(code).unwrap(), &HeaderMap::new()),
                Delivery::Retry { after: None, .. }
            ));
        }
    }

    #[test]
    fn other_client_errors_reject_the_batch() {
        for code in [400, 401, 403, 404, 413, 422] {
            assert_eq!(
                classify(StatusCode::from_u16(code).unwrap(), &HeaderMap::new()),
                Delivery::Rejected { status: code }
            );
        }
    }

    #[test]
    fn retry_after_seconds_are_read() {
        let delivery = classify(StatusCode::TOO_MANY_REQUESTS, &with_retry_after("7"));
        assert!(matches!(delivery, Delivery::Retry { after: Some(d), .. } if d == Duration::from_secs(7)));
        let date =
            classify(StatusCode::SERVICE_UNAVAILABLE, &with_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"));
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
}
