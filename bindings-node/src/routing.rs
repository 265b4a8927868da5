//! The routing decision (issue 11) for the npm layer's `Costline` client: JSON
//! text in, JSON text out, over `costline_core::routing::decide_json` (the
//! function the Python binding calls too).

use costline_core::fallback::{Failure, Policy};
use costline_core::routing::{RouteInput, Walk};
use napi::{Error, Result, Status};
use napi_derive::napi;
use serde_json::Value;

use crate::guard;
use crate::translate::map_err;

/// The decision for a routing input (see docs/routing.md for its fields), as
/// JSON text. A `RoutingError` throws `costline:routing: {code, message, details}`.
#[napi]
pub fn decide(input: String) -> Result<String> {
    guard::call(|| {
        costline_core::routing::decide_json(&input)
            .map_err(|error| Error::new(Status::GenericFailure, format!("costline:routing: {error}")))
    })
}

fn routing_error(error: &costline_core::routing::RoutingError) -> Error {
    let json = serde_json::to_string(error).unwrap_or_default();
    Error::new(Status::GenericFailure, format!("costline:routing: {json}"))
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("routing values always serialise")
}

/// One attempt's number and timeout (ms; undefined: the SDK's own).
#[napi(object)]
pub struct FallbackAttempt {
    pub number: u32,
    pub timeout_ms: Option<f64>,
}

/// One call through the routed client (`routing::Walk`, as Python's
/// `RoutedWalk`): `next()` → the pick as JSON text (`{provider, model,
/// decision}`) or null, `choose(model)` for a user router's pick,
/// `unsupported()`, `beginAttempt()`, `failed(kind, status)`, `info()`,
/// `failure(errorType, message, status)`.
#[napi]
pub struct RoutedWalk {
    inner: Walk,
}

#[napi]
impl RoutedWalk {
    /// `input`: the routing input as JSON text (as `decide` takes). `policy`: the
    /// fallback policy's options in the core's names, null for one attempt.
    /// `provider` and `model`: the model the caller named (else "auto": decided
    /// now; throws `costline:routing: ...`).
    #[napi(constructor)]
    pub fn new(
        input: String,
        policy: Option<Value>,
        provider: Option<String>,
        model: Option<String>,
    ) -> Result<RoutedWalk> {
        guard::call(|| {
            let input: RouteInput = serde_json::from_str(&input).map_err(|e| {
                routing_error(&costline_core::routing::RoutingError {
                    code: "invalid_input",
                    message: format!("routing input: {e}"),
                    details: serde_json::json!({}),
                })
            })?;
            let policy = match policy {
                None | Some(Value::Null) => None,
                Some(options) => Some(Policy::from_value(&options).map_err(map_err)?),
            };
            let inner = match (provider, model) {
                (Some(provider), Some(model)) => Walk::named(input, &provider, &model, policy),
                _ => Walk::routed(input, policy).map_err(|e| routing_error(&e))?,
            };
            Ok(RoutedWalk { inner })
        })
    }

    /// The first decision as JSON text ("auto"), null for a model the caller named.
    #[napi(getter)]
    pub fn decision(&self) -> Option<String> {
        self.inner.decision().map(to_json)
    }

    #[napi(getter)]
    pub fn call_id(&self) -> String {
        self.inner.call_id().to_string()
    }

    #[napi(getter)]
    pub fn attempts(&self) -> u32 {
        self.inner.attempts()
    }

    #[napi(getter)]
    pub fn tried(&self) -> Vec<String> {
        self.inner.tried().to_vec()
    }

    /// The next candidate as JSON text `{provider, model, decision}`, or null: none is left.
    #[napi]
    pub fn next(&mut self) -> Result<Option<String>> {
        guard::call(|| Ok(self.inner.next_pick().map(to_json)))
    }

    /// The rows a user's router chooses among, as JSON text.
    #[napi]
    pub fn router_rows(&self) -> String {
        to_json(&self.inner.router_rows())
    }

    /// A user's router named `model`: the current pick becomes it (throws
    /// `costline:routing:` `invalid_router_pick` when it is not a priced
    /// candidate within maxCostUsd). The new pick as JSON text.
    #[napi]
    pub fn choose(&mut self, model: String) -> Result<String> {
        guard::call(|| self.inner.choose(&model).map(to_json).map_err(|e| routing_error(&e)))
    }

    /// The current candidate cannot express the request: true, try another.
    #[napi]
    pub fn unsupported(&mut self) -> bool {
        self.inner.unsupported()
    }

    /// The current candidate's attempt; throws `costline:fallback_deadline: ...`.
    #[napi]
    pub fn begin_attempt(&mut self) -> Result<FallbackAttempt> {
        guard::call(|| {
            let a = self.inner.begin_attempt().map_err(map_err)?;
            Ok(FallbackAttempt { number: a.number, timeout_ms: a.timeout.map(|t| t.as_secs_f64() * 1000.0) })
        })
    }

    /// `kind`: "status" (with `status`), "connection", "timeout" or anything else.
    #[napi]
    pub fn failed(&mut self, kind: String, status: Option<u32>) {
        let status = status.and_then(|s| u16::try_from(s).ok());
        self.inner.failed(Failure::parse(&kind, status));
    }

    /// `r.costline`'s fields but the cost (snake_case; money as a decimal string).
    #[napi]
    pub fn info(&self) -> Result<Value> {
        guard::call(|| Ok(serde_json::to_value(self.inner.info()).unwrap_or(Value::Null)))
    }

    /// `{message, details}` of the CostlineError a routed call throws when it failed.
    #[napi]
    pub fn failure(&self, error_type: String, message: String, status: Option<u32>) -> Result<Value> {
        let status = status.and_then(|s| u16::try_from(s).ok());
        guard::call(|| {
            Ok(serde_json::to_value(self.inner.failure(&error_type, &message, status)).unwrap_or(Value::Null))
        })
    }
}
