//! Recording calls: `record` (the drop-ins' hot path), `track` (a call no
//! drop-in made) and `preview_event` (the event a call would produce).

use costline_core::catalog;
use costline_core::event::Status;
use costline_core::recorder::{self, Call, CallUsage};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::{convert, errors, guard, sdk};

fn status(name: &str) -> PyResult<Status> {
    match name {
        "ok" => Ok(Status::Ok),
        "error" => Ok(Status::Error),
        "blocked" => Ok(Status::Blocked),
        other => Err(errors::to_py(costline_core::Error::InvalidEvent(format!(
            "status must be ok, error or blocked, not {other:?}"
        )))),
    }
}

/// Record one metered call. Returns the cost as a decimal string, or None
/// when the model has no price or `need_cost` is false (then the writer
/// thread builds the event). Never blocks on I/O: the event is enqueued.
/// A malformed usage payload is sanitised by the core, never an error. Work
/// that can take milliseconds (the first catalog parse, tokenizing a request
/// for an estimate) runs with the GIL released.
#[pyfunction]
#[pyo3(signature = (provider, operation, model, resolved_model, usage_parts, latency_ms, stream, status_name,
                    error_type, run_id, agent, agent_path, tags, base_tags=None, estimate_request=None,
                    estimate_output=None, need_cost=true, reservation=None, call_id=None, attempt=None))]
#[allow(clippy::too_many_arguments)]
pub fn record(
    py: Python<'_>,
    provider: &Bound<'_, PyAny>,
    operation: &Bound<'_, PyAny>,
    model: &Bound<'_, PyAny>,
    resolved_model: Option<&Bound<'_, PyAny>>,
    usage_parts: Option<&Bound<'_, PyList>>,
    latency_ms: u64,
    stream: bool,
    status_name: &str,
    error_type: Option<String>,
    run_id: Option<&Bound<'_, PyAny>>,
    agent: Option<&Bound<'_, PyAny>>,
    agent_path: &Bound<'_, PyAny>,
    tags: Option<&Bound<'_, PyDict>>,
    base_tags: Option<&Bound<'_, PyDict>>,
    estimate_request: Option<&Bound<'_, PyAny>>,
    estimate_output: Option<String>,
    need_cost: bool,
    reservation: Option<PyRef<'_, crate::budget::Reservation>>,
    call_id: Option<String>,
    attempt: Option<u32>,
) -> PyResult<Option<String>> {
    guard::call(|| {
        let usage = match (usage_parts, estimate_request) {
            (Some(parts), _) if !parts.is_empty() => CallUsage::Raw(convert::json_parts(parts)),
            (_, Some(request)) => CallUsage::Estimate {
                request: convert::request_value(request),
                output_text: estimate_output.unwrap_or_default(),
            },
            _ => CallUsage::None,
        };
        let slow = matches!(usage, CallUsage::Estimate { .. }) || !catalog::is_loaded();
        let (provider, operation, model) =
            (convert::string(provider)?, convert::string(operation)?, convert::string(model)?);
        let call = Call {
            resolved_model: convert::opt_string(resolved_model)?,
            usage,
            latency_ms,
            stream,
            status: status(status_name)?,
            error_type,
            run_id: convert::opt_string(run_id)?,
            agent: convert::opt_string(agent)?,
            agent_path: convert::strings(agent_path)?,
            tags: convert::tags(tags)?,
            base_tags: convert::tags(base_tags)?,
            call_id,
            attempt,
            ..Call::new(provider, operation, model, sdk())
        };
        // A budget reservation settles with the cost, where the cost is known.
        let held = reservation.and_then(|r| r.take());
        if !need_cost {
            // Nobody waits for the cost (no enclosing run): the writer thread
            // builds the event, estimates included, off this thread.
            match held {
                Some(r) => recorder::record_deferred_then(call, r.settle_when_built()),
                None => recorder::record_deferred(call),
            };
            return Ok(None);
        }
        let recorded = if slow { py.detach(|| recorder::record(call)) } else { recorder::record(call) };
        if let Some(r) = held {
            r.settle_soon(recorded.cost_usd);
        }
        Ok(recorded.cost_usd.map(|c| c.to_string()))
    })
}

/// The event a call would produce, as wire-format JSON, without recording it
/// (used to replay the shared test vectors, and handy for dry runs).
#[pyfunction]
#[pyo3(signature = (provider, operation, model, resolved_model, usage_parts))]
pub fn preview_event(
    provider: &Bound<'_, PyAny>,
    operation: &Bound<'_, PyAny>,
    model: &Bound<'_, PyAny>,
    resolved_model: Option<&Bound<'_, PyAny>>,
    usage_parts: &Bound<'_, PyList>,
) -> PyResult<String> {
    guard::call(|| {
        let call = Call {
            resolved_model: convert::opt_string(resolved_model)?,
            usage: CallUsage::Raw(convert::json_parts(usage_parts)),
            ..Call::new(
                convert::string(provider)?,
                convert::string(operation)?,
                convert::string(model)?,
                sdk(),
            )
        };
        Ok(recorder::build_event(call).to_json())
    })
}

/// `costline.track(...)`: an event for a call no drop-in made. Returns
/// (event_id, cost or None). Bad numbers raise `InvalidEventError` (a
/// `ValueError`). The GIL is released while it prices (the first call may
/// parse the catalog).
#[pyfunction]
#[pyo3(signature = (provider, model, operation, input_tokens, output_tokens, cached_input_tokens,
                    cache_write_input_tokens, reasoning_tokens, latency_ms, stream, status_name, error_type,
                    resolved_model, run_id, agent, agent_path, tags, base_tags=None))]
#[allow(clippy::too_many_arguments)]
pub fn track(
    py: Python<'_>,
    provider: String,
    model: String,
    operation: String,
    input_tokens: &Bound<'_, PyAny>,
    output_tokens: &Bound<'_, PyAny>,
    cached_input_tokens: &Bound<'_, PyAny>,
    cache_write_input_tokens: &Bound<'_, PyAny>,
    reasoning_tokens: &Bound<'_, PyAny>,
    latency_ms: &Bound<'_, PyAny>,
    stream: bool,
    status_name: &str,
    error_type: Option<String>,
    resolved_model: Option<String>,
    run_id: Option<String>,
    agent: Option<String>,
    agent_path: Vec<String>,
    tags: Option<&Bound<'_, PyDict>>,
    base_tags: Option<&Bound<'_, PyDict>>,
) -> PyResult<(String, Option<String>)> {
    guard::call(|| {
        let counted = recorder::counted_usage(
            convert::integer("input_tokens", input_tokens)?,
            convert::integer("output_tokens", output_tokens)?,
            convert::integer("cached_input_tokens", cached_input_tokens)?,
            convert::integer("cache_write_input_tokens", cache_write_input_tokens)?,
            convert::integer("reasoning_tokens", reasoning_tokens)?,
        )
        .map_err(errors::to_py)?;
        let latency_ms =
            recorder::counted_latency(convert::integer("latency_ms", latency_ms)?).map_err(errors::to_py)?;
        let call = Call {
            resolved_model,
            usage: CallUsage::Counted(counted),
            latency_ms,
            stream,
            status: status(status_name)?,
            error_type,
            run_id,
            agent,
            agent_path,
            tags: convert::tags(tags)?,
            base_tags: convert::tags(base_tags)?,
            ..Call::new(provider, operation, model, sdk())
        };
        let recorded = py.detach(|| recorder::record(call));
        Ok((recorded.event_id, recorded.cost_usd.map(|c| c.to_string())))
    })
}

/// Merge tag layers (lowest precedence first) the way events merge them: for
/// `run()` frames, once per frame.
#[pyfunction]
#[pyo3(signature = (*layers))]
pub fn merge_tags<'py>(py: Python<'py>, layers: Vec<Bound<'py, PyDict>>) -> PyResult<Bound<'py, PyDict>> {
    guard::call(|| {
        let converted = layers.iter().map(|d| convert::tags(Some(d))).collect::<PyResult<Vec<_>>>()?;
        let merged = costline_core::attribution::merge_tags(converted.iter());
        let out = PyDict::new(py);
        for (k, v) in merged {
            out.set_item(k, v)?;
        }
        Ok(out)
    })
}
