//! Recording a drop-in's call. The common case, a JSON body the SDK reads
//! whole, is one call: `recordText`. A body read as a stream goes through a
//! meter (`meterOpen`): every chunk passes through `meterFeed` on its way to
//! the SDK (or the caller), and `meterFinish` records once when the body
//! ends, fails or is abandoned. Latency is timed by the npm layer from just before sending.
//! Usage is read from the bytes by the core (`usage::meter::BodyMeter`): the
//! TypeScript layer knows nothing of any provider's usage shape.

use std::collections::HashMap;

use costline_core::budget;
use costline_core::event::Status;
use costline_core::recorder::{self, Call, CallUsage};
use costline_core::usage::body::{self, Scanned};
use costline_core::usage::meter::{BodyMeter, KeptBody};
use napi::bindgen_prelude::{BufferSlice, Uint8ArraySlice, Unknown};
use napi::{Env, Result};
use napi_derive::napi;
use serde_json::Value;

use crate::handles::Handles;
use crate::{guard, sdk};

/// Who made a call: the run frames and agent in force, and the tag layers.
#[napi(object)]
#[derive(Default)]
pub struct Attribution {
    pub run_id: Option<String>,
    pub agent: Option<String>,
    pub agent_path: Option<Vec<String>>,
    /// The run frames' merged tags (and the call's own).
    pub tags: Option<HashMap<String, String>>,
    /// Beneath `tags`: the client's own tags (`new OpenAI({}, { tags })`).
    pub base_tags: Option<HashMap<String, String>>,
    /// A fallback chain's shared id (one logical call across its attempts).
    pub call_id: Option<String>,
    /// This attempt's number in its chain: 1 for the primary, 2, 3, ... for fallbacks.
    pub attempt: Option<u32>,
}

impl Attribution {
    pub fn apply(self, call: &mut Call) {
        call.run_id = self.run_id;
        call.agent = self.agent;
        call.agent_path = self.agent_path.unwrap_or_default();
        call.tags = self.tags.map(|t| t.into_iter().collect()).unwrap_or_default();
        call.base_tags = self.base_tags.map(|t| t.into_iter().collect()).unwrap_or_default();
        call.call_id = self.call_id;
        call.attempt = self.attempt;
    }
}

/// How one call ended, in the order the npm layer knows it.
pub(crate) struct Outcome<'a> {
    pub latency_ms: u32,
    pub error_type: Option<String>,
    pub attribution: Option<Attribution>,
    pub request: Option<Unknown<'a>>,
    pub need_cost: bool,
    /// The call's budget reservation: settled with its cost where the cost is known.
    pub reservation: Option<budget::Reservation>,
}

/// Record `call`; a reservation settles with its cost (on the writer thread
/// for a deferred call, which prices it there).
fn enqueue(call: Call, need_cost: bool, reservation: Option<budget::Reservation>) -> Option<String> {
    if !need_cost {
        match reservation {
            Some(r) => recorder::record_deferred_then(call, r.settle_when_built()),
            None => recorder::record_deferred(call),
        };
        return None;
    }
    let cost = recorder::record(call).cost_usd;
    if let Some(r) = reservation {
        r.settle_soon(cost);
    }
    cost.map(|c| c.to_string())
}

/// Record `call` with what its body yielded (`None`: no body was read). A
/// body without usage (a stream cut short, a server that sends none) is
/// estimated from the request and the output that passed: the tokens were
/// still spent. Returns the cost when the caller waits for it.
pub(crate) fn record(
    env: &Env,
    mut call: Call,
    scanned: Option<Scanned>,
    outcome: Outcome<'_>,
) -> Option<String> {
    call.latency_ms = u64::from(outcome.latency_ms);
    // An error event inside a stream: the SDK raised it from iteration, and
    // the npm layer only saw the stream cancelled.
    let error_type = outcome.error_type.or_else(|| scanned.as_ref().and_then(|s| s.error_type.clone()));
    if error_type.is_some() {
        call.status = Status::Error;
        call.error_type = error_type;
    }
    if let Some(attribution) = outcome.attribution {
        attribution.apply(&mut call);
    }
    call.usage = match scanned {
        Some(s) if !s.parts.is_empty() => {
            call.resolved_model = s.resolved_model;
            CallUsage::Raw(s.parts)
        }
        Some(s) => {
            call.resolved_model = s.resolved_model;
            let request: Value = match outcome.request {
                Some(r) => env.from_js_value(r).unwrap_or(Value::Null),
                None => Value::Null,
            };
            CallUsage::Estimate { request, output_text: s.output_text }
        }
        None => CallUsage::None,
    };
    enqueue(call, outcome.need_cost, outcome.reservation)
}

/// Hand a call whose body carries usage to the core's writer thread, which
/// reads the body there: on the caller's thread, only the bytes move.
fn defer(
    mut call: Call,
    kept: KeptBody,
    latency_ms: u32,
    attribution: Option<Attribution>,
    reservation: Option<budget::Reservation>,
) -> Option<String> {
    call.latency_ms = u64::from(latency_ms);
    if let Some(attribution) = attribution {
        attribution.apply(&mut call);
    }
    call.usage = CallUsage::Body { sse: call.stream, bytes: kept.bytes, parts: kept.parts };
    enqueue(call, false, reservation)
}

/// Record a call whose whole body was read as text (the SDK's
/// `response.json()`), or that failed before any body (`text` undefined):
/// one native call per call, no object kept.
#[napi]
#[allow(clippy::too_many_arguments)]
pub fn record_text(
    env: Env,
    provider: String,
    operation: String,
    model: String,
    stream: bool,
    latency_ms: u32,
    error_type: Option<String>,
    text: Option<String>,
    attribution: Option<Attribution>,
    request: Option<Unknown<'_>>,
    need_cost: bool,
    reservation: Option<u32>,
) -> Result<Option<String>> {
    guard::call(|| {
        let reservation = crate::budget::take(reservation);
        // The common case, a body that carries usage with nobody waiting for
        // the cost: the core reads it on its writer thread. Here, only a copy.
        if !need_cost
            && error_type.is_none()
            && text.as_deref().is_some_and(|t| body::has_usage_object(t.as_bytes()))
        {
            let kept =
                KeptBody { bytes: text.map(String::into_bytes).unwrap_or_default(), parts: Vec::new() };
            let call = Call { stream, ..Call::new(provider, operation, model, sdk()) };
            return Ok(defer(call, kept, latency_ms, attribution, reservation));
        }
        let scanned = text.map(|t| {
            let mut body = BodyMeter::new(&provider, stream, false);
            body.feed(t.as_bytes());
            body.finish()
        });
        let call = Call { stream, ..Call::new(provider, operation, model, sdk()) };
        let outcome = Outcome { latency_ms, error_type, attribution, request, need_cost, reservation };
        Ok(record(&env, call, scanned, outcome))
    })
}

/// A response body read chunk by chunk (an event stream, or a body the
/// caller reads itself): every chunk passes through `meterFeed` on its way.
/// JavaScript holds it by handle (`handles`).
struct Meter {
    call: Call,
    body: BodyMeter,
    /// The call's reservation, grown as output arrives (`enforceStream`).
    budget: Option<budget::StreamBudget>,
    /// The cap the stream reached: thrown by the next `feed` or `tail`, once
    /// the bytes before it have passed.
    stopped: Option<Box<budget::Exceeded>>,
}

/// The meters of bodies being read. Boxed: a feed takes its meter out of the
/// table and puts it back, and moves only the pointer.
static METERS: Handles<Box<Meter>> = Handles::new();

/// `f` of the meter under `handle` (None: it was finished or closed). Out of
/// the table meanwhile, so that a budget check inside `f` that waits for its
/// store holds no other meter.
fn with_meter<R>(handle: u32, f: impl FnOnce(&mut Meter) -> R) -> Option<R> {
    let mut meter = METERS.take(handle)?;
    let out = f(&mut meter);
    METERS.put_back(handle, meter);
    Some(out)
}

/// A meter for one body. `stream`: the body is an event stream. `hide_usage`:
/// costline asked for the stream's usage chunk itself, so it is removed before
/// the SDK sees it. The handle is given back by `meterFinish` or `meterClose`.
#[napi]
pub fn meter_open(provider: String, operation: String, model: String, stream: bool, hide_usage: bool) -> u32 {
    let body = BodyMeter::new(&provider, stream, hide_usage);
    let call = Call { stream, ..Call::new(provider, operation, model, sdk()) };
    METERS.hold(Box::new(Meter { call, body, budget: None, stopped: None }))
}

/// Drop a meter without recording (its call was refused before sending). A
/// reservation it held (`meterEnforce`) is released as it drops.
#[napi]
pub fn meter_close(handle: u32) {
    METERS.take(handle);
}

/// Meters held (tests: a call leaves none behind).
#[napi]
pub fn meters_open() -> u32 {
    u32::try_from(METERS.len()).unwrap_or(u32::MAX)
}

/// Meter this stream against its budgets as its output arrives, when they
/// ask for it (`enforceStream`): the meter then holds the reservation, and
/// `meterFeed` throws the budget error once the running cost would pass a
/// cap. False (the reservation stays where it is) otherwise.
#[napi]
pub fn meter_enforce(handle: u32, reservation: u32) -> bool {
    with_meter(handle, |meter| meter.enforce(reservation)).unwrap_or(false)
}

/// The bytes to pass on for `chunk`, or undefined to pass `chunk` itself.
/// The chunk is borrowed, not referenced, and bytes passed on instead are a
/// JavaScript-owned copy: per chunk, no handle and no finalizer (measured:
/// a referenced `Uint8Array` in and an external one out cost ~10 µs a chunk).
#[napi]
pub fn meter_feed<'e>(
    env: &'e Env,
    handle: u32,
    chunk: Uint8ArraySlice<'e>,
) -> Result<Option<BufferSlice<'e>>> {
    with_meter(handle, |meter| meter.feed(env, &chunk)).unwrap_or(Ok(None))
}

/// Bytes held back until the end of the body, if any.
#[napi]
pub fn meter_tail<'e>(env: &'e Env, handle: u32) -> Result<Option<BufferSlice<'e>>> {
    with_meter(handle, |meter| meter.tail(env)).unwrap_or(Ok(None))
}

/// The reader left before the body's end (the core decides what usage stands).
#[napi]
pub fn meter_abandon(handle: u32) {
    with_meter(handle, |meter| meter.body.abandon());
}

/// Record the call and give the handle back (later calls return undefined);
/// see `record_text`.
#[napi]
#[allow(clippy::too_many_arguments)]
pub fn meter_finish(
    env: Env,
    handle: u32,
    latency_ms: u32,
    error_type: Option<String>,
    attribution: Option<Attribution>,
    request: Option<Unknown<'_>>,
    need_cost: bool,
    reservation: Option<u32>,
) -> Result<Option<String>> {
    guard::call(|| {
        // (A reservation given with a meter already finished drops: released.)
        let reservation = crate::budget::take(reservation);
        let Some(meter) = METERS.take(handle) else {
            return Ok(None);
        };
        let Meter { call, mut body, budget, .. } = *meter;
        let reservation = reservation.or_else(|| budget.map(budget::StreamBudget::into_reservation));
        // A body that carries usage, with nobody waiting for the cost: the
        // core reads it on its writer thread, not here, chunk by chunk.
        if !need_cost && error_type.is_none() {
            if let Some(kept) = body.take_with_usage() {
                return Ok(defer(call, kept, latency_ms, attribution, reservation));
            }
        }
        let scanned = Some(body.finish());
        let outcome = Outcome { latency_ms, error_type, attribution, request, need_cost, reservation };
        Ok(record(&env, call, scanned, outcome))
    })
}

impl Meter {
    fn enforce(&mut self, reservation: u32) -> bool {
        let Some(held) = crate::budget::take(Some(reservation)) else {
            return false;
        };
        match budget::StreamBudget::new(held, &self.call.model) {
            Ok(guard) => {
                self.body.watch_output();
                self.budget = Some(guard);
                true
            }
            Err(held) => {
                crate::budget::put_back(reservation, held);
                false
            }
        }
    }

    fn feed<'e>(&mut self, env: &'e Env, chunk: &[u8]) -> Result<Option<BufferSlice<'e>>> {
        guard::call(|| {
            self.throw_if_stopped()?;
            let out = match self.budget.as_mut() {
                Some(guard) => {
                    let (out, refused) = self.body.feed_checked(chunk, |text| guard.check(text));
                    if let Some(refused) = refused {
                        self.stopped = Some(refused);
                        if out.as_ref().is_some_and(Vec::is_empty) {
                            self.throw_if_stopped()?;
                        }
                    }
                    out
                }
                None => self.body.feed(chunk),
            };
            match out {
                Some(out) => Ok(Some(BufferSlice::copy_from(env, out)?)),
                None => Ok(None),
            }
        })
    }

    fn tail<'e>(&mut self, env: &'e Env) -> Result<Option<BufferSlice<'e>>> {
        guard::call(|| {
            self.throw_if_stopped()?;
            let rest = self.body.tail();
            if rest.is_empty() {
                return Ok(None);
            }
            Ok(Some(BufferSlice::copy_from(env, rest)?))
        })
    }

    fn throw_if_stopped(&mut self) -> Result<()> {
        match self.stopped.take() {
            Some(refused) => Err(crate::budget::exceeded_error(&refused)),
            None => Ok(()),
        }
    }
}

/// `total + cost`, exact decimals, normalized; None when `cost` is not a
/// decimal (the call counts as unpriced). A run's running total is summed
/// here so that no money arithmetic happens in JavaScript floats; the total
/// itself is a string the run keeps (a native object per run cost a napi
/// class instance: see `handles`).
#[napi]
pub fn decimal_sum(total: String, cost: String) -> Option<String> {
    let cost = cost.parse::<rust_decimal::Decimal>().ok()?;
    let total = total.parse::<rust_decimal::Decimal>().unwrap_or_default();
    Some((total + cost).normalize().to_string())
}
