//! `StreamObserver`: what metering needs from each item of a provider stream
//! (the usage objects, the model the provider answered with, the output text
//! for an estimate), read in Rust: it runs once per chunk, and the Python
//! version of this loop was the larger part of a stream's overhead.
//!
//! Which fields to read per provider and stream kind is shape knowledge of
//! the SDK objects, the same as the Python adapters had; the usage objects
//! themselves are normalised by the core when the call is recorded.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PySet, PyString};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// OpenAI chat / legacy completion chunks.
    Chat,
    /// OpenAI Responses API events.
    Responses,
    /// Anthropic message events.
    Messages,
}

#[pyclass(module = "costline._native")]
pub struct StreamObserver {
    kind: Kind,
    /// costline asked for the usage chunk itself: hide it from the caller.
    hide: bool,
    usage: Option<Py<PyAny>>,
    tier: Option<Py<PyAny>>,
    /// Anthropic: `message_start`'s usage (the last `message_delta`'s is `usage`).
    start: Option<Py<PyAny>>,
    #[pyo3(get)]
    resolved_model: Option<String>,
    text: String,
}

/// Output text kept for an estimate, bounded like the byte scanner's.
const MAX_TEXT: usize = costline_core::usage::body::MAX_KEPT_BYTES;

#[pymethods]
impl StreamObserver {
    #[new]
    fn new(provider: &str, operation: &str, hide: bool) -> StreamObserver {
        let kind = match (provider, operation) {
            ("anthropic", _) => Kind::Messages,
            (_, "responses") => Kind::Responses,
            _ => Kind::Chat,
        };
        StreamObserver {
            kind,
            hide,
            usage: None,
            tier: None,
            start: None,
            resolved_model: None,
            text: String::new(),
        }
    }

    /// Look at one stream item; True means "hide it from the caller".
    fn observe(&mut self, item: &Bound<'_, PyAny>) -> PyResult<bool> {
        match self.kind {
            Kind::Chat => self.chat(item),
            Kind::Responses => self.responses(item).map(|_| false),
            Kind::Messages => self.messages(item).map(|_| false),
        }
    }

    /// The usage payload parts seen so far, as `_native.record` takes them, or None.
    #[getter]
    fn parts<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyList>>> {
        let list = PyList::empty(py);
        for part in [&self.start, &self.usage].into_iter().flatten() {
            list.append(part.bind(py))?;
        }
        if list.is_empty() {
            return Ok(None);
        }
        if let Some(tier) = &self.tier {
            let extra = PyDict::new(py);
            extra.set_item("service_tier", tier.bind(py))?;
            list.append(extra)?;
        }
        Ok(Some(list))
    }

    /// The output text seen, for an estimate.
    #[getter]
    fn texts(&self) -> Vec<String> {
        vec![self.text.clone()]
    }
}

impl StreamObserver {
    /// The output text seen so far (a stream metered against a budget:
    /// `Reservation.stream_check` hands it to the core, which counts what is new).
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    fn chat(&mut self, chunk: &Bound<'_, PyAny>) -> PyResult<bool> {
        let py = chunk.py();
        if self.resolved_model.is_none() {
            self.resolved_model = non_empty_str(&chunk.getattr(intern!(py, "model"))?);
        }
        let usage = chunk.getattr(intern!(py, "usage"))?;
        let choices = chunk.getattr(intern!(py, "choices"))?;
        let choices = choices.cast::<PyList>().ok();
        if !usage.is_none() {
            let tier = chunk.getattr(intern!(py, "service_tier"))?;
            self.tier = (!tier.is_none()).then(|| tier.unbind());
            self.usage = Some(usage.unbind());
            if self.hide && choices.is_none_or(|c| c.is_empty()) {
                return Ok(true);
            }
        } else if self.hide {
            // The caller did not ask for usage: make the chunk look exactly as it
            // would have (no `usage` field set at all).
            if let Ok(fields_set) = chunk.getattr(intern!(py, "__pydantic_fields_set__")) {
                if let Ok(set) = fields_set.cast::<PySet>() {
                    set.discard(intern!(py, "usage"))?;
                }
            }
        }
        for choice in choices.iter().flat_map(|c| c.iter()) {
            let delta = choice.getattr(intern!(py, "delta"));
            let text = match delta {
                Ok(delta) if !delta.is_none() => delta.getattr(intern!(py, "content"))?,
                _ => choice.getattr(intern!(py, "text"))?,
            };
            self.push_text(&text);
        }
        Ok(false)
    }

    fn responses(&mut self, event: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = event.py();
        let kind = event.getattr(intern!(py, "type"))?;
        let Ok(kind) = kind.cast::<PyString>() else { return Ok(()) };
        match kind.to_cow()?.as_ref() {
            "response.output_text.delta" => self.push_text(&event.getattr(intern!(py, "delta"))?),
            "response.completed" | "response.incomplete" | "response.failed" | "response.created" => {
                let response = event.getattr(intern!(py, "response"))?;
                if response.is_none() {
                    return Ok(());
                }
                if let Some(model) = non_empty_str(&response.getattr(intern!(py, "model"))?) {
                    self.resolved_model = Some(model);
                }
                let usage = response.getattr(intern!(py, "usage"))?;
                if !usage.is_none() {
                    let tier = response.getattr(intern!(py, "service_tier"))?;
                    self.tier = (!tier.is_none()).then(|| tier.unbind());
                    self.usage = Some(usage.unbind());
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn messages(&mut self, event: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = event.py();
        let kind = event.getattr(intern!(py, "type"))?;
        let Ok(kind) = kind.cast::<PyString>() else { return Ok(()) };
        match kind.to_cow()?.as_ref() {
            "content_block_delta" => {
                let delta = event.getattr(intern!(py, "delta"))?;
                let is_text = delta
                    .getattr(intern!(py, "type"))
                    .ok()
                    .and_then(|t| t.extract::<String>().ok())
                    .is_some_and(|t| t == "text_delta");
                if is_text {
                    self.push_text(&delta.getattr(intern!(py, "text"))?);
                }
            }
            "message_start" => {
                let message = event.getattr(intern!(py, "message"))?;
                self.resolved_model = non_empty_str(&message.getattr(intern!(py, "model"))?);
                let usage = message.getattr(intern!(py, "usage"))?;
                self.start = (!usage.is_none()).then(|| usage.unbind());
            }
            "message_delta" => {
                let usage = event.getattr(intern!(py, "usage"))?;
                if !usage.is_none() {
                    self.usage = Some(usage.unbind());
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn push_text(&mut self, text: &Bound<'_, PyAny>) {
        if let Ok(text) = text.cast::<PyString>() {
            if let Ok(text) = text.to_cow() {
                if self.text.len() + text.len() <= MAX_TEXT {
                    self.text.push_str(&text);
                }
            }
        }
    }
}

fn non_empty_str(value: &Bound<'_, PyAny>) -> Option<String> {
    value
        .cast::<PyString>()
        .ok()
        .and_then(|s| s.to_cow().ok().filter(|s| !s.is_empty()).map(|s| s.into_owned()))
}
